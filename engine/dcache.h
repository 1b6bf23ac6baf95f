/*
 * A bounded cache of recent chain decisions, least recently used out
 * first.  The key is the SHA-256 of the chain's DER, the host, the port,
 * the profile and the revisions of the policies that applied; entries
 * also expire after a time-to-live so that a certificate's expiry is
 * never answered from memory.  Not thread-safe: one loop owns it.
 */
#ifndef PW_DCACHE_H
#define PW_DCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/decision.h"
#include "engine/verify.h"

typedef struct pw_dcache pw_dcache_t;

typedef struct pw_dcache_key {
  unsigned char hash[32];
} pw_dcache_key_t;

pw_dcache_t *pw_dcache_new(size_t capacity, int64_t ttl_s);
void pw_dcache_free(pw_dcache_t *c);

/*
 * The key of a request verified by v; the request's `at` must be 0
 * (now), or PW_EINVAL.
 */
int pw_dcache_key(pw_dcache_key_t *key, const pw_verifier_t *v,
                  const pw_verify_req_t *req);

/*
 * The same key from the chain's DER encodings (leaf first, n of them)
 * as the peer sent them; req->chain is not read.  A repeated chain is
 * then answered without decoding any certificate, which costs far more
 * than the rest of a cached answer.
 */
int pw_dcache_key_der(pw_dcache_key_t *key, const pw_verifier_t *v,
                      const pw_verify_req_t *req,
                      const unsigned char *const *der, const int *len,
                      size_t n);

/* Copies a fresh entry into d (initialised by the caller): 1, else 0. */
int pw_dcache_get(pw_dcache_t *c, const pw_dcache_key_t *key, int64_t now,
                  pw_decision_t *d);

int pw_dcache_put(pw_dcache_t *c, const pw_dcache_key_t *key, int64_t now,
                  const pw_decision_t *d);

/*
 * A memo is text the cache's user keeps beside a decision (the IPC keeps
 * its answer), dropped with the entry, so that a replaced or expired
 * decision never answers through an old memo.  memo_get gives a fresh
 * entry's memo, valid until the next call on the cache: 1, or 0 when
 * the entry is gone, stale or has no memo.  memo_set keeps a copy with
 * the entry of key: PW_OK, PW_EINVAL when there is no such entry,
 * PW_ENOMEM.
 */
int pw_dcache_memo_get(pw_dcache_t *c, const pw_dcache_key_t *key,
                       int64_t now, const char **memo, size_t *len);
int pw_dcache_memo_set(pw_dcache_t *c, const pw_dcache_key_t *key,
                       const char *memo, size_t len);

size_t pw_dcache_size(const pw_dcache_t *c);

#endif
