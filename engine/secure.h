/*
 * Secure Access: with it on, nothing leaves a profile in clear text.  An
 * http:// or ws:// URL is upgraded to https:// or wss:// (same host, path
 * and query; port 80 becomes 443, other ports stay) or blocked, as the
 * profile chose.  Per-host exceptions, with an optional expiry, and
 * loopback hosts pass.  A URL that cannot be parsed is an error, never an
 * allow.
 *
 * The JSON form, stored with the profile and sent over the IPC:
 *
 *   { "enabled": true, "on_http": "upgrade" | "block",
 *     "exceptions": [ { "host": "intranet.example", "expires": 1798000000 },
 *                     { "host": "printer.lan" } ] }
 *
 * "enabled" is required; "on_http" defaults to "upgrade" and "exceptions"
 * to none.  "expires" in output is Unix seconds, absent when the exception
 * never expires; on input an RFC 3339 string is accepted too, and an
 * integer 0 means never.
 */
#ifndef PW_SECURE_H
#define PW_SECURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/decision.h"
#include "engine/err.h"
#include "engine/host.h"

#define PW_SA_MAX_EXCEPTIONS 1024
#define PW_SA_URL_MAX        8192    /* longest URL looked at */

typedef enum pw_sa_on_http {
  PW_SA_UPGRADE = 0,
  PW_SA_BLOCK
} pw_sa_on_http_t;

typedef struct pw_sa_exception {
  char    host[PW_HOST_MAX];   /* normalised */
  int64_t expires;             /* Unix seconds; 0 means never */
} pw_sa_exception_t;

typedef struct pw_sa {
  bool              enabled;
  pw_sa_on_http_t   on_http;
  size_t             nexceptions;
  pw_sa_exception_t *exceptions;   /* owned; freed by pw_sa_clear */
} pw_sa_t;

/* Off, upgrade, no exceptions. */
void pw_sa_init(pw_sa_t *sa);

/* Frees the exceptions and returns sa to its initial state. */
void pw_sa_clear(pw_sa_t *sa);

/*
 * pw_sa_copy and pw_sa_from_json treat their output as uninitialised
 * storage: clear one that holds exceptions first.  On failure it is left
 * initialised (empty).
 */
int pw_sa_copy(pw_sa_t *dst, const pw_sa_t *src, pw_err_t *err);

/*
 * Strict: unknown keys, values of the wrong type, a missing "enabled", a
 * bad host, a bad expiry, a host listed twice are PW_EINVAL; more than
 * PW_SA_MAX_EXCEPTIONS exceptions is PW_ETOOBIG.
 */
int pw_sa_from_json(pw_sa_t *sa, const json_t *obj, pw_err_t *err);

/* NULL when out of memory. */
json_t *pw_sa_to_json(const pw_sa_t *sa);

/*
 * Adds or replaces the exception for host (normalised here); ttl_s of 0
 * means no expiry, otherwise it expires at now + ttl_s.  Exceptions
 * expired at `now` are dropped first.  PW_ETOOBIG at the cap.
 */
int pw_sa_exception_add(pw_sa_t *sa, const char *host, int64_t ttl_s,
                        int64_t now, pw_err_t *err);

/* PW_ENOTFOUND when host has no exception. */
int pw_sa_exception_remove(pw_sa_t *sa, const char *host, pw_err_t *err);

/*
 * True when host (normalised) has an exception in force at `now`: one
 * without expiry, or one whose expiry is later than now.
 */
bool pw_sa_is_exception(const pw_sa_t *sa, const char *host, int64_t now);

/*
 * True when Secure Access lets host (normalised) go in the clear at
 * `now`: a loopback host, or one with an exception in force; *why (when
 * not NULL) says which, PW_REASON_SA_LOOPBACK or PW_REASON_SA_EXCEPTION.
 * The one rule for a navigation and for a tunnel alike.
 */
bool pw_sa_exempt(const pw_sa_t *sa, const char *host, int64_t now,
                  pw_reason_t *why);

typedef struct pw_sa_result {
  pw_action_t action;      /* ALLOW, UPGRADE or BLOCK */
  pw_reason_t reason;      /* one of the PW_REASON_SA_* codes */
  char       *url;         /* the https/wss URL for UPGRADE; caller frees */
  char        host[PW_HOST_MAX];   /* normalised */
  uint16_t    port;        /* where the navigation goes: after UPGRADE,
                              the upgraded URL's port */
} pw_sa_result_t;

/*
 * Decides what happens to a navigation to `url` at time `now`.  Schemes
 * other than http, https, ws and wss, a URL without a host, a host
 * pw_host_normalize refuses, port 0 and an IPv6 zone are PW_EINVAL; a URL
 * over PW_SA_URL_MAX is PW_ETOOBIG.  Checks run in this order: off
 * (ALLOW, SA_OFF), https or wss (ALLOW, SA_SECURE), loopback host (ALLOW,
 * SA_LOOPBACK), exception in force (ALLOW, SA_EXCEPTION), then BLOCK or
 * UPGRADE as on_http says.
 *
 * An upgraded URL keeps host, path (as written), query and fragment; it
 * never keeps a user or password (RFC 9110 section 4.2.4: userinfo must
 * not be sent in an http(s) URI), and its host is written in A-label
 * form.  On success the caller frees res->url with free(); on failure
 * res says BLOCK with PW_REASON_BAD_INPUT and res->url is NULL.
 */
int pw_sa_decide_url(const pw_sa_t *sa, const char *url, int64_t now,
                     pw_sa_result_t *res, pw_err_t *err);

#endif
