/*
 * Chain verification for TLS servers on the Web PKI, then the pin rule.
 *
 * OpenSSL builds the path and checks signatures.  A verifier adds what
 * the Web PKI asks beyond that: the host name is checked against the
 * subjectAltName only (never the subject CN), wildcards only as a whole
 * left-most label, IP literals against IP-address names, auth level 2
 * (no RSA or DH under 2048 bits, no MD5 or SHA-1 signatures), strict
 * X.509 parsing, and the leaf must be a v3 end-entity certificate for
 * serverAuth.  Then a chain passes its pin set when any certificate of
 * the validated chain, leaf to root, has a pinned key.
 */
#ifndef PW_VERIFY_H
#define PW_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "engine/decision.h"
#include "engine/err.h"
#include "engine/policy.h"

/* The longest chain a peer may send; TLS stacks use about ten. */
#define PW_VERIFY_MAX_CHAIN  PW_DECISION_MAX_CHAIN

typedef struct pw_verifier pw_verifier_t;

/*
 * A verifier trusts the system store (OpenSSL's default paths) until
 * roots are set.  It is immutable once built and may be shared by
 * threads.
 */
int pw_verifier_new(pw_verifier_t **out, pw_err_t *err);

/*
 * A verifier that trusts only the certificates of a PEM or DER buffer.
 * Any of them may be an anchor, intermediates included (what a profile's
 * extra roots mean).
 */
int pw_verifier_new_roots(pw_verifier_t **out, const unsigned char *buf,
                          size_t len, pw_err_t *err);

/*
 * A verifier that trusts the system store and, besides it, the
 * certificates of a PEM or DER buffer, any of which may be an anchor:
 * a profile's extra roots.
 */
int pw_verifier_new_extra(pw_verifier_t **out, const unsigned char *buf,
                          size_t len, pw_err_t *err);

void pw_verifier_free(pw_verifier_t *v);

/*
 * A number no other verifier of the process has, so that a cache keyed
 * on it never answers for another set of roots.
 */
uint64_t pw_verifier_revision(const pw_verifier_t *v);

typedef struct pw_verify_req {
  const char     *profile;   /* id for the record, or NULL */
  const char     *host;      /* as given: normalised here */
  uint16_t        port;      /* for the record; 443 when 0 */
  STACK_OF(X509) *chain;     /* leaf first, then what the peer sent */
  int64_t         at;        /* verification time; 0 means now */
  /*
   * The most certificates a path may hold, leaf and anchor included
   * (a leaf under its root is 2); 0 keeps OpenSSL's limit of 100
   * intermediates.
   */
  int             max_path;

  /* The profile's sets override the defaults for any host they match. */
  const pw_policy_t *pins;
  const pw_policy_t *defaults;
} pw_verify_req_t;

/*
 * Verifies and fills d (which the caller initialised).  Returns PW_OK
 * whenever a decision was made, an allow or a block; a negative code
 * only when no decision could be made (out of memory), with err set.
 */
int pw_verify_chain(const pw_verifier_t *v, const pw_verify_req_t *req,
                    pw_decision_t *d, pw_err_t *err);

#endif
