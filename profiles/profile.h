/*
 * The profile model: one isolated browsing identity with its own upstream
 * proxy, pin sets, Secure Access switch, name overrides, extra trust
 * anchors and browser settings.
 *
 * The JSON form, used by the IPC, the store and export:
 *
 *   { "id": "9b2f...", "name": "shop-eu-1", "tags": ["eu", "shop"],
 *     "revision": 3, "created": 1796000000, "updated": 1796000500,
 *     "proxy": "socks5h://user:secret@10.0.0.8:1080" | null,
 *     "secure_access": { ... see engine/secure.h ... },
 *     "pins": [ { ... see engine/policy.h ... } ],
 *     "resolve": { "api.example.com": "203.0.113.7" },
 *     "browser": { "user_agent": "...", "language": "de-DE",
 *                  "timezone": "Europe/Berlin",
 *                  "window": { "width": 1280, "height": 800 },
 *                  "args": ["--force-dark-mode"] },
 *     "roots": "-----BEGIN CERTIFICATE-----\n..." | null }
 *
 * Parsing is strict: an unknown key, a wrong type or a value that breaks
 * a rule is an error, and the message names the field.  "id", "revision",
 * "created" and "updated" belong to the store; they are read only from
 * documents the store wrote (PW_PROFILE_STORED), such as an export.
 */
#ifndef PW_PROFILE_H
#define PW_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/err.h"
#include "engine/host.h"
#include "engine/secure.h"

/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" and a NUL. */
#define PW_PROFILE_ID_LEN        37

/* Caps on what one profile may hold; names and tags count characters. */
#define PW_PROFILE_NAME_MAX      128
#define PW_PROFILE_MAX_TAGS      32
#define PW_PROFILE_TAG_MAX       64
#define PW_PROFILE_PROXY_MAX     2048    /* bytes of the proxy URL */
#define PW_PROFILE_MAX_PINSETS   10000
#define PW_PROFILE_MAX_RESOLVE   256
#define PW_PROFILE_ROOTS_MAX     (256 * 1024)
#define PW_PROFILE_UA_MAX        512
#define PW_PROFILE_MAX_ARGS      64
#define PW_PROFILE_ARG_MAX       1024
#define PW_PROFILE_WINDOW_MIN    100
#define PW_PROFILE_WINDOW_MAX    16384

/* Documents are refused by size before the JSON parser sees them. */
#define PW_PROFILE_JSON_MAX      (1024 * 1024)
#define PW_PROFILE_IMPORT_MAX    (64 * 1024 * 1024)
#define PW_PROFILE_IMPORT_VERSION 1
#define PW_PROFILE_IMPORT_MAX_PROFILES 100000

/* Flags of pw_profile_to_json and pw_profile_proxy_url. */
enum {
  /*
   * The proxy password is written as "***".  This is also what happens
   * without PW_PROFILE_SECRETS; the name exists so that listings say it.
   */
  PW_PROFILE_REDACT  = 1 << 0,

  /*
   * The proxy password is written in clear.  Only export asks for it,
   * because an export moves profiles to another machine whole; never
   * pass it for listings, events or logs.  PW_PROFILE_REDACT wins when
   * both are given.
   */
  PW_PROFILE_SECRETS = 1 << 1
};

/* Flags of the parsers. */
enum {
  /*
   * The document was written by the store (an export): "id",
   * "revision", "created" and "updated" are read instead of refused.
   */
  PW_PROFILE_STORED = 1 << 0
};

/* The upstream proxy; scheme[0] == '\0' means a direct connection. */
typedef struct pw_proxy {
  char     scheme[8];         /* "http", "https", "socks5", "socks5h" */
  char    *user;              /* decoded, or NULL */
  char    *password;          /* decoded, or NULL; a secret */
  char     host[PW_HOST_MAX]; /* normalised, IPv6 without brackets */
  uint16_t port;              /* always set: the scheme's default if none */
} pw_proxy_t;

typedef struct pw_resolve {
  char host[PW_HOST_MAX];     /* normalised name */
  char addr[46];              /* canonical IP literal (inet_ntop) */
} pw_resolve_t;

/* Every field is optional: NULL or 0 leaves the browser's own choice. */
typedef struct pw_browser {
  char   *user_agent;
  char   *language;           /* "de-DE" */
  char   *timezone;           /* IANA name, "Europe/Berlin" */
  int     width;              /* window size; both set or both 0 */
  int     height;
  size_t  nargs;
  char  **args;               /* extra command-line switches, "--x[=y]" */
} pw_browser_t;

typedef struct pw_profile {
  char          id[PW_PROFILE_ID_LEN];  /* "" until stored */
  char         *name;
  size_t        ntags;
  char        **tags;
  int64_t       revision;               /* 0 until stored */
  int64_t       created;                /* Unix seconds */
  int64_t       updated;
  pw_proxy_t    proxy;
  pw_sa_t       sa;
  json_t       *pins;       /* validated array of pin sets, or NULL */
  size_t        nresolve;
  pw_resolve_t *resolve;
  pw_browser_t  browser;
  char         *roots;      /* PEM of extra trust anchors, or NULL */
} pw_profile_t;

/* An empty profile: no name, direct, Secure Access off. */
void pw_profile_init(pw_profile_t *p);

/* Frees what p owns and leaves it initialised.  Accepts NULL. */
void pw_profile_clear(pw_profile_t *p);

int pw_profile_copy(pw_profile_t *dst, const pw_profile_t *src,
                    pw_err_t *err);

/*
 * Fills p (which the caller initialised and later clears) from a JSON
 * object.  "name" is required.  On failure p is left empty.
 */
int pw_profile_from_json(pw_profile_t *p, const json_t *obj, unsigned flags,
                         pw_err_t *err);

/*
 * Applies a partial document to p: each key present replaces that field,
 * and null clears "proxy", "roots" and "browser".  All or nothing: on
 * failure p is as it was.  The store's keys ("id", "revision",
 * "created", "updated") are refused.
 */
int pw_profile_apply_json(pw_profile_t *p, const json_t *patch,
                          pw_err_t *err);

/*
 * pw_profile_from_json on text, refused with PW_ETOOBIG over
 * PW_PROFILE_JSON_MAX bytes before parsing; duplicate keys are errors.
 */
int pw_profile_parse(pw_profile_t *p, const char *buf, size_t len,
                     unsigned flags, pw_err_t *err);

/* The JSON form, keys in the order above.  NULL only when out of memory. */
json_t *pw_profile_to_json(const pw_profile_t *p, unsigned flags);

/*
 * Checks and normalises an upstream proxy URL with libcurl's URL parser:
 * the scheme must be http, https, socks5 or socks5h; a host is required;
 * a path, query or fragment is refused; the port must be 1..65535 and
 * defaults to the scheme's.  On failure proxy is left direct.
 */
int pw_profile_proxy_parse(pw_proxy_t *proxy, const char *url,
                           pw_err_t *err);

/*
 * The normalised URL of proxy into *out (caller frees with free()), or
 * NULL for a direct connection.  The password is "***" unless flags
 * hold PW_PROFILE_SECRETS.
 */
int pw_profile_proxy_url(const pw_proxy_t *proxy, unsigned flags,
                         char **out, pw_err_t *err);

/* Frees user and password, and leaves proxy direct.  Accepts NULL. */
void pw_profile_proxy_clear(pw_proxy_t *proxy);

/* A random version 4 UUID in lower case, from OpenSSL's RAND_bytes. */
int pw_profile_new_id(char out[PW_PROFILE_ID_LEN], pw_err_t *err);

/* True when id is a lower-case UUID as pw_profile_new_id writes. */
bool pw_profile_id_valid(const char *id);

/*
 * Parses an export document, {"version": 1, "profiles": [...]}, under
 * PW_PROFILE_IMPORT_MAX bytes.  Each profile is checked as on creation;
 * "id", "revision", "created" and "updated" may be present.  Two
 * profiles of the document with the same name or id are an error.  On
 * success *out holds *n profiles that the caller frees with
 * pw_profile_array_free; on failure err names the index of the bad one.
 */
int pw_profile_import_parse(const char *buf, size_t len, pw_profile_t **out,
                            size_t *n, pw_err_t *err);

/* Clears and frees an array of n profiles.  Accepts NULL. */
void pw_profile_array_free(pw_profile_t *arr, size_t n);

#endif
