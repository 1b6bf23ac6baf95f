#include "engine/dcache.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/*
 * Entries sit in one doubly linked list, most recently used first, and
 * in a chained hash table keyed by the first bytes of the key's SHA-256
 * (already uniform, so no further hashing).
 */

typedef struct entry {
  pw_dcache_key_t key;
  int64_t         stored;
  pw_decision_t   d;
  char           *memo;          /* the user's text, or NULL */
  size_t          memo_len;
  struct entry   *prev, *next;   /* recency list */
  struct entry   *chain;         /* hash bucket */
} entry_t;

struct pw_dcache {
  entry_t **buckets;
  size_t    nbuckets;
  size_t    size;
  size_t    capacity;
  int64_t   ttl;
  entry_t  *head, *tail;
};

pw_dcache_t *
pw_dcache_new(size_t capacity, int64_t ttl_s)
{
  pw_dcache_t *c;
  size_t n = 16;

  if (capacity == 0)
    return NULL;
  while (n < capacity)
    n *= 2;

  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->buckets = calloc(n, sizeof(*c->buckets));
  if (c->buckets == NULL) {
    free(c);
    return NULL;
  }
  c->nbuckets = n;
  c->capacity = capacity;
  c->ttl = ttl_s;
  return c;
}

void
pw_dcache_free(pw_dcache_t *c)
{
  entry_t *e, *next;

  if (c == NULL)
    return;
  for (e = c->head; e != NULL; e = next) {
    next = e->next;
    pw_decision_clear(&e->d);
    free(e->memo);
    free(e);
  }
  free(c->buckets);
  free(c);
}

static size_t
bucket_of(const pw_dcache_t *c, const pw_dcache_key_t *key)
{
  uint64_t h;

  memcpy(&h, key->hash, sizeof(h));
  return (size_t) (h & (c->nbuckets - 1));
}

static void
list_unlink(pw_dcache_t *c, entry_t *e)
{
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    c->head = e->next;
  if (e->next != NULL)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void
list_push(pw_dcache_t *c, entry_t *e)
{
  e->prev = NULL;
  e->next = c->head;
  if (c->head != NULL)
    c->head->prev = e;
  c->head = e;
  if (c->tail == NULL)
    c->tail = e;
}

static entry_t *
find(pw_dcache_t *c, const pw_dcache_key_t *key, entry_t ***link)
{
  entry_t **p = &c->buckets[bucket_of(c, key)];

  for (; *p != NULL; p = &(*p)->chain) {
    if (memcmp((*p)->key.hash, key->hash, sizeof(key->hash)) == 0)
      break;
  }
  if (link != NULL)
    *link = p;
  return *p;
}

static void
drop(pw_dcache_t *c, entry_t *e)
{
  entry_t **link;

  find(c, &e->key, &link);
  *link = e->chain;
  list_unlink(c, e);
  pw_decision_clear(&e->d);
  free(e->memo);
  free(e);
  c->size--;
}

static int
hash_str(EVP_MD_CTX *md, const char *s)
{
  /* The terminating NUL keeps "ab"+"c" apart from "a"+"bc". */
  s = s != NULL ? s : "";
  return EVP_DigestUpdate(md, s, strlen(s) + 1);
}

/* Everything of a request but its chain, after the chain's DER. */
static int
key_finish(EVP_MD_CTX *md, pw_dcache_key_t *key, const pw_verifier_t *v,
           const pw_verify_req_t *req)
{
  uint16_t port = req->port;
  uint64_t revs[3];

  revs[0] = req->pins != NULL ? pw_policy_revision(req->pins) : 0;
  revs[1] = req->defaults != NULL ? pw_policy_revision(req->defaults) : 0;
  revs[2] = pw_verifier_revision(v);
  return hash_str(md, req->host) && hash_str(md, req->profile)
         && EVP_DigestUpdate(md, &port, sizeof(port))
         && EVP_DigestUpdate(md, &req->max_path, sizeof(req->max_path))
         && EVP_DigestUpdate(md, revs, sizeof(revs))
         && EVP_DigestFinal_ex(md, key->hash, NULL);
}

int
pw_dcache_key_der(pw_dcache_key_t *key, const pw_verifier_t *v,
                  const pw_verify_req_t *req,
                  const unsigned char *const *der, const int *len, size_t n)
{
  EVP_MD_CTX *md;
  size_t i;
  int ok;

  /* A decision for a given time is a question for the verifier alone. */
  if (req->at != 0)
    return PW_EINVAL;

  md = EVP_MD_CTX_new();
  if (md == NULL)
    return PW_ENOMEM;
  ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL);

  /* Each encoding's length first, so that no two chains run together. */
  for (i = 0; ok && i < n; i++)
    ok = len[i] > 0 && EVP_DigestUpdate(md, &len[i], sizeof(len[i]))
         && EVP_DigestUpdate(md, der[i], (size_t) len[i]);

  ok = ok && key_finish(md, key, v, req);
  EVP_MD_CTX_free(md);
  return ok ? PW_OK : PW_ECRYPTO;
}

int
pw_dcache_key(pw_dcache_key_t *key, const pw_verifier_t *v,
              const pw_verify_req_t *req)
{
  unsigned char *der[PW_VERIFY_MAX_CHAIN] = { NULL };
  int len[PW_VERIFY_MAX_CHAIN];
  size_t i, n;
  int ret = PW_OK;

  n = req->chain != NULL ? (size_t) sk_X509_num(req->chain) : 0;
  if (n > PW_VERIFY_MAX_CHAIN)
    return PW_EINVAL;

  /* A certificate read from DER keeps its encoding: no re-encoding. */
  for (i = 0; ret == PW_OK && i < n; i++) {
    len[i] = i2d_X509(sk_X509_value(req->chain, (int) i), &der[i]);
    if (len[i] <= 0)
      ret = PW_ECRYPTO;
  }

  if (ret == PW_OK)
    ret = pw_dcache_key_der(key, v, req, (const unsigned char *const *) der,
                            len, n);

  for (i = 0; i < n; i++)
    OPENSSL_free(der[i]);
  return ret;
}

/*
 * The entry of key if it may still answer, moved to the front; a stale
 * one is dropped.
 */
static entry_t *
fresh(pw_dcache_t *c, const pw_dcache_key_t *key, int64_t now)
{
  entry_t *e = find(c, key, NULL);

  if (e == NULL)
    return NULL;

  /*
   * A certificate's or a pin set's expiry must be seen the moment it
   * passes, whatever the time-to-live.
   */
  if (now - e->stored >= c->ttl
      || (e->d.valid_until != 0 && now > e->d.valid_until)
      || (e->d.pinset_expires != 0 && now >= e->d.pinset_expires
          && e->d.reason != PW_REASON_PINSET_EXPIRED)) {
    drop(c, e);
    return NULL;
  }

  list_unlink(c, e);
  list_push(c, e);
  return e;
}

int
pw_dcache_get(pw_dcache_t *c, const pw_dcache_key_t *key, int64_t now,
              pw_decision_t *d)
{
  entry_t *e = fresh(c, key, now);

  if (e == NULL || pw_decision_copy(d, &e->d) != 0)
    return 0;
  d->at = now;
  return 1;
}

int
pw_dcache_memo_get(pw_dcache_t *c, const pw_dcache_key_t *key, int64_t now,
                   const char **memo, size_t *len)
{
  entry_t *e = fresh(c, key, now);

  if (e == NULL || e->memo == NULL)
    return 0;
  *memo = e->memo;
  *len = e->memo_len;
  return 1;
}

int
pw_dcache_memo_set(pw_dcache_t *c, const pw_dcache_key_t *key,
                   const char *memo, size_t len)
{
  entry_t *e = find(c, key, NULL);
  char *copy;

  if (e == NULL)
    return PW_EINVAL;
  copy = malloc(len > 0 ? len : 1);
  if (copy == NULL)
    return PW_ENOMEM;
  memcpy(copy, memo, len);
  free(e->memo);
  e->memo = copy;
  e->memo_len = len;
  return PW_OK;
}

int
pw_dcache_put(pw_dcache_t *c, const pw_dcache_key_t *key, int64_t now,
              const pw_decision_t *d)
{
  entry_t *e, **link;

  e = find(c, key, &link);
  if (e != NULL)
    drop(c, e);
  if (c->size >= c->capacity)
    drop(c, c->tail);

  e = calloc(1, sizeof(*e));
  if (e == NULL)
    return PW_ENOMEM;
  if (pw_decision_copy(&e->d, d) != 0) {
    free(e);
    return PW_ENOMEM;
  }
  e->key = *key;
  e->stored = now;

  find(c, key, &link);
  *link = e;
  list_push(c, e);
  c->size++;
  return PW_OK;
}

size_t
pw_dcache_size(const pw_dcache_t *c)
{
  return c->size;
}
