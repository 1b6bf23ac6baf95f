/*
 * The decision cache: hits, misses for any change of what the key holds,
 * time-to-live, least-recently-used eviction and pin set expiry.  The
 * decisions are real ones, made by pw_verify_chain on chains made here.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "certgen.h"
#include "engine/dcache.h"

#define DAY 86400

/*
 * A root, an intermediate and two leaves for www.example.com and
 * example.com, valid around the real time: the cache's key wants a
 * request for "now" (at == 0).
 */
typedef struct fixture {
  int64_t        now;
  X509          *root, *inter, *leaf, *leaf2;
  EVP_PKEY      *root_key, *inter_key, *leaf_key, *leaf2_key;
  pw_verifier_t *v;
  pw_policy_t   *pins;
  STACK_OF(X509) *chain;  /* leaf, inter */
} fixture_t;

static X509 *
make_leaf(fixture_t *f, int64_t not_after, EVP_PKEY **key)
{
  certgen_spec_t spec = {
    .cn = "www.example.com", .dns = "www.example.com,example.com",
    .not_before = f->now - DAY, .not_after = not_after,
    .issuer = f->inter, .issuer_key = f->inter_key,
  };
  X509 *x = certgen_cert(&spec, key);

  cr_assert_not_null(x, "cannot make a leaf");
  return x;
}

static void
fixture_init(fixture_t *f)
{
  certgen_spec_t root = {
    .cn = "Cache Test Root", .ca = 1,
    .not_before = 0, .not_after = 0,
  };
  certgen_spec_t inter;
  unsigned char *der = NULL;
  pw_err_t err;
  int len;

  memset(f, 0, sizeof(*f));
  f->now = (int64_t) time(NULL);

  root.not_before = f->now - 30 * DAY;
  root.not_after = f->now + 365 * DAY;
  f->root = certgen_cert(&root, &f->root_key);
  cr_assert_not_null(f->root);

  inter = root;
  inter.cn = "Cache Test Intermediate";
  inter.issuer = f->root;
  inter.issuer_key = f->root_key;
  f->inter = certgen_cert(&inter, &f->inter_key);
  cr_assert_not_null(f->inter);

  f->leaf = make_leaf(f, f->now + 30 * DAY, &f->leaf_key);
  f->leaf2 = make_leaf(f, f->now + 30 * DAY, &f->leaf2_key);
  f->chain = certgen_stack(f->leaf, f->inter, NULL);

  len = i2d_X509(f->root, &der);
  cr_assert_gt(len, 0);
  cr_assert_eq(pw_verifier_new_roots(&f->v, der, (size_t) len, &err),
               PW_OK, "%s", err.msg);
  OPENSSL_free(der);

  f->pins = pw_policy_new();
  cr_assert_not_null(f->pins);
}

static void
fixture_free(fixture_t *f)
{
  sk_X509_pop_free(f->chain, X509_free);
  pw_policy_free(f->pins);
  pw_verifier_free(f->v);
  X509_free(f->root);
  X509_free(f->inter);
  X509_free(f->leaf);
  X509_free(f->leaf2);
  EVP_PKEY_free(f->root_key);
  EVP_PKEY_free(f->inter_key);
  EVP_PKEY_free(f->leaf_key);
  EVP_PKEY_free(f->leaf2_key);
}

/* The usual request: the fixture's chain for www.example.com:443. */
static pw_verify_req_t
base_req(const fixture_t *f)
{
  pw_verify_req_t req;

  memset(&req, 0, sizeof(req));
  req.profile = "p1";
  req.host = "www.example.com";
  req.port = 443;
  req.chain = f->chain;
  req.pins = f->pins;
  return req;
}

static void
decide(const fixture_t *f, const pw_verify_req_t *req, pw_decision_t *d)
{
  pw_err_t err;

  pw_decision_init(d);
  cr_assert_eq(pw_verify_chain(f->v, req, d, &err), PW_OK, "%s", err.msg);
}

static pw_dcache_key_t
key_of(const pw_verifier_t *v, const pw_verify_req_t *req)
{
  pw_dcache_key_t key;

  cr_assert_eq(pw_dcache_key(&key, v, req), PW_OK, "pw_dcache_key failed");
  return key;
}

static bool
key_eq(const pw_dcache_key_t *a, const pw_dcache_key_t *b)
{
  return memcmp(a->hash, b->hash, sizeof(a->hash)) == 0;
}

/* Adds a set for www.example.com that pins the key in pin. */
static void
pin_host(pw_policy_t *p, X509 *pinned, int64_t expires)
{
  pw_pinset_t set;
  pw_err_t err;

  memset(&set, 0, sizeof(set));
  strcpy(set.name, "www.example.com");
  set.expires = expires;
  cr_assert_eq(pw_pins_of_cert(&set.pins[0], pinned, NULL), PW_OK);
  set.npins = 1;
  cr_assert_eq(pw_policy_add(p, &set, &err), PW_OK, "%s", err.msg);
}

/* Put and get */

Test(dcache, put_get_hit)
{
  pw_dcache_t *c = pw_dcache_new(16, 300);
  pw_decision_t d, got;
  pw_verify_req_t req;
  pw_dcache_key_t key;
  fixture_t f;
  size_t i;

  fixture_init(&f);
  pin_host(f.pins, f.leaf, 0);
  req = base_req(&f);
  decide(&f, &req, &d);
  cr_assert_eq(d.reason, PW_REASON_OK, "the decision is %s (%s)",
               pw_reason_name(d.reason), d.detail);

  key = key_of(f.v, &req);
  cr_assert_eq(pw_dcache_put(c, &key, f.now, &d), PW_OK);
  cr_expect_eq(pw_dcache_size(c), 1, "size %zu", pw_dcache_size(c));

  /* The cache holds its own copy: the original may go. */
  pw_decision_clear(&d);
  decide(&f, &req, &d);

  pw_decision_init(&got);
  cr_assert_eq(pw_dcache_get(c, &key, f.now + 10, &got), 1, "a miss");
  cr_expect_eq(got.action, d.action, "action %s, want %s",
               pw_action_name(got.action), pw_action_name(d.action));
  cr_expect_eq(got.reason, d.reason, "reason %s, want %s",
               pw_reason_name(got.reason), pw_reason_name(d.reason));
  cr_expect_str_eq(got.host, d.host, "host %s, want %s", got.host, d.host);
  cr_expect_str_eq(got.profile, d.profile, "profile %s, want %s",
                   got.profile, d.profile);
  cr_expect_str_eq(got.pattern, d.pattern, "pattern %s, want %s",
                   got.pattern, d.pattern);
  cr_expect_eq(got.matched, d.matched, "matched %d, want %d", got.matched,
               d.matched);
  cr_assert_eq(got.nchain, d.nchain, "nchain %zu, want %zu", got.nchain,
               d.nchain);
  for (i = 0; i < d.nchain; i++) {
    cr_expect_str_eq(got.subjects[i], d.subjects[i], "subject %zu: %s, "
                     "want %s", i, got.subjects[i], d.subjects[i]);
    cr_expect(got.subjects[i] != d.subjects[i], "subject %zu is shared", i);
    cr_expect(pw_pins_equal(&got.chain_pins[i], &d.chain_pins[i]),
              "chain pin %zu differs", i);
  }
  /* The copy speaks for the time it was asked at. */
  cr_expect_eq(got.at, f.now + 10, "at %lld, want %lld",
               (long long) got.at, (long long) (f.now + 10));

  /* What get returned is the caller's: freeing it leaves the entry. */
  pw_decision_clear(&got);
  pw_decision_init(&got);
  cr_expect_eq(pw_dcache_get(c, &key, f.now + 11, &got), 1,
               "a second get missed");
  cr_expect_eq(got.nchain, d.nchain, "second get: nchain %zu", got.nchain);

  pw_decision_clear(&got);
  pw_decision_clear(&d);
  pw_dcache_free(c);
  fixture_free(&f);
}

/* A mismatch decision keeps its expected pins through the cache. */
Test(dcache, expected_pins_copied)
{
  pw_dcache_t *c = pw_dcache_new(16, 300);
  pw_decision_t d, got;
  pw_verify_req_t req;
  pw_dcache_key_t key;
  fixture_t f;

  fixture_init(&f);
  pin_host(f.pins, f.leaf2, 0);     /* a key not on the chain */
  req = base_req(&f);
  decide(&f, &req, &d);
  cr_assert_eq(d.reason, PW_REASON_PIN_MISMATCH, "the decision is %s",
               pw_reason_name(d.reason));
  cr_assert_eq(d.nexpected, 1);

  key = key_of(f.v, &req);
  cr_assert_eq(pw_dcache_put(c, &key, f.now, &d), PW_OK);
  pw_decision_init(&got);
  cr_assert_eq(pw_dcache_get(c, &key, f.now, &got), 1, "a miss");
  cr_expect_eq(got.action, PW_ACTION_BLOCK, "action %s",
               pw_action_name(got.action));
  cr_assert_eq(got.nexpected, 1, "nexpected %zu, want 1", got.nexpected);
  cr_expect(got.expected != d.expected, "expected pins are shared");
  cr_expect(pw_pins_equal(&got.expected[0], &d.expected[0]),
            "expected pin differs");

  pw_decision_clear(&got);
  pw_decision_clear(&d);
  pw_dcache_free(c);
  fixture_free(&f);
}

/* Keys */

typedef enum change {
  CH_NONE = 0,
  CH_SAME_CHAIN_REBUILT,  /* another stack of the same certificates */
  CH_HOST,                /* example.com, also on the leaf */
  CH_PORT,
  CH_PROFILE,
  CH_PROFILE_NULL,
  CH_CHAIN_OTHER_LEAF,    /* another leaf for the same names */
  CH_CHAIN_LEAF_ONLY,     /* the intermediate left out */
  CH_CHAIN_WITH_ROOT,     /* the root sent too */
  CH_CHAIN_ORDER,         /* intermediate first */
  CH_POLICY_REVISION,     /* the same policy, changed since */
  CH_POLICY_OTHER,        /* another policy object, same content */
  CH_POLICY_NONE,         /* no profile policy at all */
  CH_DEFAULTS,            /* engine defaults added */
  CH_POLICY_AS_DEFAULTS,  /* the same policy, passed as the defaults */
  CH_MAX_PATH             /* a path length limit that blocks the chain */
} change_t;

typedef struct kcase {
  char     comment[64];
  change_t change;
  int      same;          /* 1: the same key, a hit; 0: a miss */
} kcase_t;

ParameterizedTestParameters(dcache, key)
{
  static kcase_t cases[] = {
    { "the same request", CH_NONE, 1 },
    { "the same certificates in a new stack", CH_SAME_CHAIN_REBUILT, 1 },
    { "another host", CH_HOST, 0 },
    { "another port", CH_PORT, 0 },
    { "another profile", CH_PROFILE, 0 },
    { "no profile", CH_PROFILE_NULL, 0 },
    { "another leaf", CH_CHAIN_OTHER_LEAF, 0 },
    { "the leaf alone", CH_CHAIN_LEAF_ONLY, 0 },
    { "the root sent too", CH_CHAIN_WITH_ROOT, 0 },
    { "the same certificates in another order", CH_CHAIN_ORDER, 0 },
    { "the policy changed", CH_POLICY_REVISION, 0 },
    { "another policy with the same sets", CH_POLICY_OTHER, 0 },
    { "no profile policy", CH_POLICY_NONE, 0 },
    { "engine defaults added", CH_DEFAULTS, 0 },
    { "the policy moved to the defaults", CH_POLICY_AS_DEFAULTS, 0 },
    /* max_path changes the decision, so it must change the key. */
    { "another path length limit", CH_MAX_PATH, 0 },
  };

  return cr_make_param_array(kcase_t, cases,
                             sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(kcase_t *kc, dcache, key)
{
  pw_dcache_t *c = pw_dcache_new(16, 300);
  pw_policy_t *other = NULL;
  STACK_OF(X509) *chain = NULL;
  pw_verify_req_t req, req2;
  pw_dcache_key_t k1, k2;
  pw_decision_t d, d2, got;
  fixture_t f;
  int hit;

  fixture_init(&f);
  pin_host(f.pins, f.leaf, 0);
  req = base_req(&f);
  decide(&f, &req, &d);
  k1 = key_of(f.v, &req);
  cr_assert_eq(pw_dcache_put(c, &k1, f.now, &d), PW_OK);

  req2 = req;
  switch (kc->change) {
  case CH_NONE:
    break;
  case CH_SAME_CHAIN_REBUILT:
    chain = certgen_stack(f.leaf, f.inter, NULL);
    break;
  case CH_HOST:
    req2.host = "example.com";
    break;
  case CH_PORT:
    req2.port = 8443;
    break;
  case CH_PROFILE:
    req2.profile = "p2";
    break;
  case CH_PROFILE_NULL:
    req2.profile = NULL;
    break;
  case CH_CHAIN_OTHER_LEAF:
    chain = certgen_stack(f.leaf2, f.inter, NULL);
    break;
  case CH_CHAIN_LEAF_ONLY:
    chain = certgen_stack(f.leaf, NULL);
    break;
  case CH_CHAIN_WITH_ROOT:
    chain = certgen_stack(f.leaf, f.inter, f.root, NULL);
    break;
  case CH_CHAIN_ORDER:
    chain = certgen_stack(f.inter, f.leaf, NULL);
    break;
  case CH_POLICY_REVISION:
    pin_host(f.pins, f.leaf2, 0);
    break;
  case CH_POLICY_OTHER:
    other = pw_policy_new();
    pin_host(other, f.leaf, 0);
    req2.pins = other;
    break;
  case CH_POLICY_NONE:
    req2.pins = NULL;
    break;
  case CH_DEFAULTS:
    other = pw_policy_new();
    pin_host(other, f.leaf2, 0);
    req2.defaults = other;
    break;
  case CH_POLICY_AS_DEFAULTS:
    req2.pins = NULL;
    req2.defaults = f.pins;
    break;
  case CH_MAX_PATH:
    req2.max_path = 2;
    break;
  }
  if (chain != NULL)
    req2.chain = chain;

  /* Where the change matters, show that it does. */
  if (kc->change == CH_MAX_PATH || kc->change == CH_POLICY_REVISION) {
    decide(&f, &req2, &d2);
    cr_assert_neq(d2.action, d.action, "%s: the decision did not change "
                  "(%s, %s)", kc->comment, pw_action_name(d2.action),
                  d2.detail);
    pw_decision_clear(&d2);
  }

  k2 = key_of(f.v, &req2);
  cr_expect_eq(key_eq(&k1, &k2), kc->same, "%s: keys %s, want %s",
               kc->comment, key_eq(&k1, &k2) ? "equal" : "differ",
               kc->same ? "equal" : "different");

  pw_decision_init(&got);
  hit = pw_dcache_get(c, &k2, f.now + 1, &got);
  cr_expect_eq(hit, kc->same, "%s: get gave %s, want %s", kc->comment,
               hit ? "a hit" : "a miss", kc->same ? "a hit" : "a miss");

  pw_decision_clear(&got);
  pw_decision_clear(&d);
  sk_X509_pop_free(chain, X509_free);
  pw_policy_free(other);
  pw_dcache_free(c);
  fixture_free(&f);
}

/* Time */

/* An entry lives ttl seconds: a hit at ttl - 1, a miss (and gone) at ttl. */
Test(dcache, ttl)
{
  pw_dcache_t *c = pw_dcache_new(16, 60);
  pw_decision_t d, got;
  pw_verify_req_t req;
  pw_dcache_key_t key;
  fixture_t f;

  fixture_init(&f);
  req = base_req(&f);
  decide(&f, &req, &d);
  key = key_of(f.v, &req);
  cr_assert_eq(pw_dcache_put(c, &key, f.now, &d), PW_OK);

  pw_decision_init(&got);
  cr_expect_eq(pw_dcache_get(c, &key, f.now + 59, &got), 1,
               "a miss at ttl - 1");
  pw_decision_clear(&got);

  /* A get does not renew the entry's life. */
  cr_expect_eq(pw_dcache_get(c, &key, f.now + 60, &got), 0,
               "a hit at ttl");
  cr_expect_eq(pw_dcache_size(c), 0, "the stale entry is kept: size %zu",
               pw_dcache_size(c));

  /* A put renews it. */
  cr_assert_eq(pw_dcache_put(c, &key, f.now + 60, &d), PW_OK);
  cr_expect_eq(pw_dcache_get(c, &key, f.now + 119, &got), 1,
               "a miss after a fresh put");
  pw_decision_clear(&got);

  pw_decision_clear(&d);
  pw_dcache_free(c);
  fixture_free(&f);
}

/* A pin set's expiry drops an entry that still enforced it. */
Test(dcache, pinset_expiry)
{
  pw_dcache_t *c = pw_dcache_new(16, 7 * DAY);
  pw_decision_t d, got;
  pw_verify_req_t req;
  pw_dcache_key_t key;
  int64_t expires;
  fixture_t f;

  fixture_init(&f);
  expires = f.now + 3600;
  pin_host(f.pins, f.leaf, expires);
  req = base_req(&f);
  decide(&f, &req, &d);
  cr_assert_eq(d.reason, PW_REASON_OK, "the decision is %s",
               pw_reason_name(d.reason));
  cr_assert_eq(d.pinset_expires, expires);

  key = key_of(f.v, &req);
  cr_assert_eq(pw_dcache_put(c, &key, f.now, &d), PW_OK);

  pw_decision_init(&got);
  cr_expect_eq(pw_dcache_get(c, &key, expires - 1, &got), 1,
               "a miss a second before the set expires");
  pw_decision_clear(&got);
  cr_expect_eq(pw_dcache_get(c, &key, expires, &got), 0,
               "a hit the second the set expires");
  cr_expect_eq(pw_dcache_size(c), 0, "the entry is kept: size %zu",
               pw_dcache_size(c));

  pw_decision_clear(&d);
  pw_dcache_free(c);
  fixture_free(&f);
}

/* A decision that already says the set expired stays true: kept. */
Test(dcache, pinset_expired_kept)
{
  pw_dcache_t *c = pw_dcache_new(16, 7 * DAY);
  pw_decision_t d, got;
  pw_verify_req_t req;
  pw_dcache_key_t key;
  fixture_t f;

  fixture_init(&f);
  pin_host(f.pins, f.leaf2, f.now - 10);
  req = base_req(&f);
  decide(&f, &req, &d);
  cr_assert_eq(d.reason, PW_REASON_PINSET_EXPIRED, "the decision is %s",
               pw_reason_name(d.reason));

  key = key_of(f.v, &req);
  cr_assert_eq(pw_dcache_put(c, &key, f.now, &d), PW_OK);
  pw_decision_init(&got);
  cr_expect_eq(pw_dcache_get(c, &key, f.now + 3600, &got), 1,
               "an expired-set decision was dropped");
  cr_expect_eq(got.reason, PW_REASON_PINSET_EXPIRED, "reason %s",
               pw_reason_name(got.reason));

  pw_decision_clear(&got);
  pw_decision_clear(&d);
  pw_dcache_free(c);
  fixture_free(&f);
}

/*
 * The header promises that "a certificate's expiry is never answered
 * from memory".  A leaf that expires inside the time-to-live must not be
 * allowed from the cache after its notAfter.
 */
Test(dcache, leaf_expiry_within_ttl)
{
  pw_dcache_t *c = pw_dcache_new(16, 3600);
  pw_decision_t d, got;
  pw_verify_req_t req;
  pw_dcache_key_t key;
  STACK_OF(X509) *chain;
  EVP_PKEY *key_short;
  X509 *leaf_short;
  fixture_t f;
  int hit;

  fixture_init(&f);
  leaf_short = make_leaf(&f, f.now + 60, &key_short);
  chain = certgen_stack(leaf_short, f.inter, NULL);
  req = base_req(&f);
  req.chain = chain;
  decide(&f, &req, &d);
  cr_assert_eq(d.action, PW_ACTION_ALLOW, "the decision is %s (%s)",
               pw_action_name(d.action), d.detail);

  key = key_of(f.v, &req);
  cr_assert_eq(pw_dcache_put(c, &key, f.now, &d), PW_OK);

  /* Ten minutes on, the leaf has expired; the entry is well in its TTL. */
  pw_decision_init(&got);
  hit = pw_dcache_get(c, &key, f.now + 600, &got);
  cr_expect_eq(hit, 0, "an expired leaf answered from the cache: %s, %s",
               pw_action_name(got.action), pw_reason_name(got.reason));

  pw_decision_clear(&got);
  pw_decision_clear(&d);
  sk_X509_pop_free(chain, X509_free);
  X509_free(leaf_short);
  EVP_PKEY_free(key_short);
  pw_dcache_free(c);
  fixture_free(&f);
}

/* Capacity */

/* Requests that differ only in port: one chain, distinct keys. */
static pw_dcache_key_t
port_key(const fixture_t *f, uint16_t port, pw_decision_t *d)
{
  pw_verify_req_t req = base_req(f);

  req.port = port;
  decide(f, &req, d);
  return key_of(f->v, &req);
}

/* At capacity the least recently used entry goes; a get counts as use. */
Test(dcache, lru_eviction)
{
  pw_dcache_t *c = pw_dcache_new(3, 300);
  pw_dcache_key_t k[5];
  pw_decision_t d[5], got;
  fixture_t f;
  int i;

  fixture_init(&f);
  for (i = 0; i < 5; i++)
    k[i] = port_key(&f, (uint16_t) (1000 + i), &d[i]);

  for (i = 0; i < 3; i++)
    cr_assert_eq(pw_dcache_put(c, &k[i], f.now + i, &d[i]), PW_OK);
  cr_expect_eq(pw_dcache_size(c), 3, "size %zu", pw_dcache_size(c));

  /* k0 is the oldest put, but a get makes it the most recent. */
  pw_decision_init(&got);
  cr_assert_eq(pw_dcache_get(c, &k[0], f.now + 3, &got), 1, "k0 missed");
  pw_decision_clear(&got);

  /* Full: k1 is now the least recently used. */
  cr_assert_eq(pw_dcache_put(c, &k[3], f.now + 4, &d[3]), PW_OK);
  cr_expect_eq(pw_dcache_size(c), 3, "size %zu, want 3", pw_dcache_size(c));
  cr_expect_eq(pw_dcache_get(c, &k[1], f.now + 5, &got), 0,
               "k1, least recently used, was kept");
  cr_expect_eq(pw_dcache_get(c, &k[0], f.now + 5, &got), 1,
               "k0, recently got, was dropped");
  pw_decision_clear(&got);

  /* Order now, oldest first: k2, k3, k0.  One more put drops k2. */
  cr_assert_eq(pw_dcache_put(c, &k[4], f.now + 6, &d[4]), PW_OK);
  cr_expect_eq(pw_dcache_get(c, &k[2], f.now + 7, &got), 0,
               "k2, least recently used, was kept");
  for (i = 3; i < 5; i++) {
    cr_expect_eq(pw_dcache_get(c, &k[i], f.now + 7, &got), 1,
                 "k%d was dropped", i);
    cr_expect_eq(got.port, 1000 + i, "k%d: port %u, want %d", i,
                 (unsigned) got.port, 1000 + i);
    pw_decision_clear(&got);
  }
  cr_expect_eq(pw_dcache_size(c), 3, "size %zu, want 3", pw_dcache_size(c));

  for (i = 0; i < 5; i++)
    pw_decision_clear(&d[i]);
  pw_dcache_free(c);
  fixture_free(&f);
}

/* A second put for a key replaces the entry, without growing the cache. */
Test(dcache, put_replaces)
{
  pw_dcache_t *c = pw_dcache_new(4, 300);
  pw_decision_t d, d2, got;
  pw_dcache_key_t key;
  fixture_t f;

  fixture_init(&f);
  key = port_key(&f, 443, &d);
  cr_assert_eq(pw_dcache_put(c, &key, f.now, &d), PW_OK);

  /* Pretend the second decision differs, to tell the two apart. */
  pw_decision_copy(&d2, &d);
  d2.action = PW_ACTION_BLOCK;
  cr_assert_eq(pw_dcache_put(c, &key, f.now + 1, &d2), PW_OK);
  cr_expect_eq(pw_dcache_size(c), 1, "size %zu, want 1", pw_dcache_size(c));

  pw_decision_init(&got);
  cr_assert_eq(pw_dcache_get(c, &key, f.now + 2, &got), 1, "a miss");
  cr_expect_eq(got.action, PW_ACTION_BLOCK, "action %s, want block",
               pw_action_name(got.action));

  pw_decision_clear(&got);
  pw_decision_clear(&d2);
  pw_decision_clear(&d);
  pw_dcache_free(c);
  fixture_free(&f);
}

/* Memos */

/* A memo lives with its entry: kept, replaced, and gone with it. */
Test(dcache, memo)
{
  pw_dcache_t *c = pw_dcache_new(4, 60);
  pw_dcache_key_t key, other;
  pw_decision_t d, d2;
  const char *memo;
  fixture_t f;
  size_t len;

  fixture_init(&f);
  key = port_key(&f, 443, &d);
  other = port_key(&f, 8443, &d2);

  /* No entry, no memo to keep. */
  cr_expect_eq(pw_dcache_memo_set(c, &key, "a", 1), PW_EINVAL);
  cr_assert_eq(pw_dcache_put(c, &key, f.now, &d), PW_OK);
  cr_expect_eq(pw_dcache_memo_get(c, &key, f.now, &memo, &len), 0,
               "a memo before one was set");

  cr_assert_eq(pw_dcache_memo_set(c, &key, "first", 5), PW_OK);
  cr_assert_eq(pw_dcache_memo_set(c, &key, "second", 6), PW_OK);
  cr_assert_eq(pw_dcache_memo_get(c, &key, f.now + 1, &memo, &len), 1);
  cr_expect(len == 6 && memcmp(memo, "second", 6) == 0, "memo %.*s",
            (int) len, memo);
  cr_expect_eq(pw_dcache_memo_get(c, &other, f.now, &memo, &len), 0,
               "a memo for a key never put");

  /* A new decision for the key starts without the old one's memo. */
  cr_assert_eq(pw_dcache_put(c, &key, f.now + 2, &d), PW_OK);
  cr_expect_eq(pw_dcache_memo_get(c, &key, f.now + 2, &memo, &len), 0,
               "the replaced entry's memo answered");

  /* A stale entry answers through no memo, and is dropped. */
  cr_assert_eq(pw_dcache_memo_set(c, &key, "third", 5), PW_OK);
  cr_expect_eq(pw_dcache_memo_get(c, &key, f.now + 62, &memo, &len), 0,
               "a memo past the entry's time-to-live");
  cr_expect_eq(pw_dcache_size(c), 0, "size %zu", pw_dcache_size(c));

  pw_decision_clear(&d2);
  pw_decision_clear(&d);
  pw_dcache_free(c);
  fixture_free(&f);
}

/* A full cache of many entries: each found, then the oldest evicted. */
Test(dcache, many_entries)
{
  enum { N = 1000 };
  pw_dcache_t *c = pw_dcache_new(N, 300);
  static pw_dcache_key_t k[N + 100];
  pw_decision_t d, got;
  pw_verify_req_t req;
  fixture_t f;
  int i;

  fixture_init(&f);
  req = base_req(&f);
  decide(&f, &req, &d);

  /* One decision stored under many keys: the keys are what is tested. */
  for (i = 0; i < N + 100; i++) {
    req.port = (uint16_t) (2000 + i);
    k[i] = key_of(f.v, &req);
    cr_assert_eq(pw_dcache_put(c, &k[i], f.now, &d), PW_OK);
  }
  cr_expect_eq(pw_dcache_size(c), N, "size %zu, want %d",
               pw_dcache_size(c), N);

  pw_decision_init(&got);
  for (i = 0; i < N + 100; i++) {
    cr_expect_eq(pw_dcache_get(c, &k[i], f.now + 1, &got), i >= 100,
                 "key %d: %s", i, i >= 100 ? "missed" : "kept");
    pw_decision_clear(&got);
  }

  pw_decision_clear(&d);
  pw_dcache_free(c);
  fixture_free(&f);
}

Test(dcache, new_and_free)
{
  pw_dcache_t *c;

  cr_expect_null(pw_dcache_new(0, 300), "a cache of capacity 0");
  c = pw_dcache_new(1, 300);
  cr_assert_not_null(c);
  cr_expect_eq(pw_dcache_size(c), 0, "a new cache holds %zu",
               pw_dcache_size(c));
  pw_dcache_free(c);
  pw_dcache_free(NULL);
}

/* The key from the DER as sent is the key from the parsed chain. */
Test(dcache, key_from_der)
{
  unsigned char *der[2] = { NULL, NULL };
  pw_dcache_key_t k1, k2;
  pw_verify_req_t req;
  fixture_t f;
  int len[2];

  fixture_init(&f);
  req = base_req(&f);
  k1 = key_of(f.v, &req);

  len[0] = i2d_X509(f.leaf, &der[0]);
  len[1] = i2d_X509(f.inter, &der[1]);
  cr_assert_eq(pw_dcache_key_der(&k2, f.v, &req,
                                 (const unsigned char *const *) der, len, 2),
               PW_OK);
  cr_expect(key_eq(&k1, &k2), "the two keys differ");

  /* One certificate fewer is another chain. */
  cr_assert_eq(pw_dcache_key_der(&k2, f.v, &req,
                                 (const unsigned char *const *) der, len, 1),
               PW_OK);
  cr_expect(!key_eq(&k1, &k2), "a shorter chain has the same key");

  OPENSSL_free(der[0]);
  OPENSSL_free(der[1]);
  fixture_free(&f);
}
