/*
 * What the Web PKI asks of a validated chain beyond what OpenSSL checks:
 * the CA/Browser Forum Baseline Requirements' rules for certificates
 * that a browser would refuse, each named in the problem it gives so
 * that a user, and the conformance run, can tell which one refused.
 */
#ifndef PW_WEBPKI_H
#define PW_WEBPKI_H

#include <openssl/x509.h>

#include "engine/decision.h"
#include "engine/host.h"

/*
 * The chain as OpenSSL validated it, leaf first and anchor last, for a
 * host of the given kind.  Returns NULL when it keeps every rule, or a
 * static sentence saying which rule it breaks, with *reason set to the
 * decision's reason code.  Thread-safe.
 */
const char *pw_webpki_problem(STACK_OF(X509) *chain, pw_host_kind_t kind,
                              pw_reason_t *reason);

#endif
