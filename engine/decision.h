/*
 * The decision record: one shape for every decision, wherever it was made
 * (an IPC call, a gateway connection, the command line).
 */
#ifndef PW_DECISION_H
#define PW_DECISION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/host.h"
#include "engine/pins.h"

typedef enum pw_action {
  PW_ACTION_ALLOW = 0,
  PW_ACTION_BLOCK,
  PW_ACTION_UPGRADE,
  PW_ACTION_REPORT       /* allowed, and a pin violation recorded */
} pw_action_t;

/*
 * Stable reason codes.  Their text form is part of the IPC contract:
 * append new codes, never renumber or rename.
 */
typedef enum pw_reason {
  PW_REASON_OK = 0,            /* a pin of the set is on the chain */
  PW_REASON_NO_POLICY,         /* valid chain, no pin set for the host */
  PW_REASON_PIN_MISMATCH,      /* no key of the chain is pinned */
  PW_REASON_PINSET_EXPIRED,    /* the set's expiry has passed */
  PW_REASON_UNTRUSTED,         /* no path to a trusted root */
  PW_REASON_HOSTNAME_MISMATCH, /* the leaf does not name the host */
  PW_REASON_EXPIRED,           /* a certificate's notAfter has passed */
  PW_REASON_NOT_YET_VALID,     /* a certificate's notBefore is ahead */
  PW_REASON_WEAK_KEY,          /* RSA under 2048 bits, DSA, small EC */
  PW_REASON_BAD_CHAIN,         /* malformed or misused certificates */
  PW_REASON_WEAK_SIGNATURE,    /* MD5 or SHA-1 signatures */
  PW_REASON_BAD_PURPOSE,       /* the leaf is not for TLS servers */
  PW_REASON_NAME_CONSTRAINTS,  /* a CA's name constraints forbid the name */
  PW_REASON_BAD_INPUT,         /* the request itself could not be read */
  PW_REASON_SA_UPGRADE,        /* Secure Access: clear text upgraded */
  PW_REASON_SA_BLOCK,          /* Secure Access: clear text refused */
  PW_REASON_SA_EXCEPTION,      /* Secure Access: host is an exception */
  PW_REASON_SA_LOOPBACK,       /* Secure Access: loopback is exempt */
  PW_REASON_SA_OFF,            /* Secure Access is off for the profile */
  PW_REASON_SA_SECURE,         /* the URL is already https or wss */
  PW_REASON_NO_SECRET,         /* gateway: no key-log secret in time */
  PW_REASON_RESUMED,           /* gateway: a resumed session, and no full
                                  handshake with the host passed */
  PW_REASON__COUNT
} pw_reason_t;

#define PW_DECISION_MAX_CHAIN 16

typedef struct pw_decision {
  pw_action_t action;
  pw_reason_t reason;
  char        detail[512];        /* OpenSSL's words, or the rule's */
  char        profile[64];        /* profile id, or "" */
  char        host[256];
  uint16_t    port;
  int64_t     at;                 /* the time the decision speaks for */

  size_t      nchain;             /* certificates, leaf first */
  char       *subjects[PW_DECISION_MAX_CHAIN];
  pw_pin_t    chain_pins[PW_DECISION_MAX_CHAIN];

  char        pattern[PW_HOST_MAX_PATTERN];  /* the pin set's, or "" */
  int         pinset_mode;        /* pw_pin_mode_t, or -1 without a set */
  int64_t     pinset_expires;
  int         matched;            /* index into chain, or -1 */
  size_t      nexpected;
  pw_pin_t   *expected;           /* the set's pins when none matched */
  const char *warning;            /* static text, or NULL */
  int64_t     valid_until;        /* earliest notAfter of a valid chain */
} pw_decision_t;

void pw_decision_init(pw_decision_t *d);
void pw_decision_clear(pw_decision_t *d);   /* frees what d owns */
int  pw_decision_copy(pw_decision_t *dst, const pw_decision_t *src);

const char *pw_action_name(pw_action_t action);
const char *pw_reason_name(pw_reason_t reason);
int pw_reason_from_name(const char *name, pw_reason_t *out);
int pw_action_from_name(const char *name, pw_action_t *out);

/*
 * The JSON form:
 *   { "action", "reason", "detail", "profile", "host", "port", "at",
 *     "chain": [{"subject", "pin"}], "pinset": {"pattern", "mode",
 *     "expires"} | null, "matched_pin" | null, "expected_pins": [],
 *     "warning" | absent }
 */
json_t *pw_decision_to_json(const pw_decision_t *d);

#endif
