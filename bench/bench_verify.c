/*
 * Decisions per second for one chain, three ways:
 *
 *   bare X509_verify_cert      the limit: OpenSSL alone, a plain store
 *                              that holds the root, a new context per
 *                              call, nothing else checked or recorded
 *   pinwarden cold verify      pw_verify_chain: the same path building
 *                              and signatures, plus the Web PKI checks,
 *                              the decision record and the pin rule
 *   pinwarden cached decision  pw_dcache_key and a pw_dcache_get hit: a
 *                              connection that repeats one already
 *                              decided, the chain's DER hashed again
 *
 * The chain is root, intermediate and leaf from the test PKI; the peer
 * sends leaf and intermediate, and only the root is trusted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "bench.h"
#include "certgen.h"
#include "engine/dcache.h"
#include "engine/verify.h"

/* A name the leaf of certgen_pki() holds. */
#define BENCH_HOST    "www.example.com"
#define WARMUP_S      0.2

/*
 * The cache holds this many decisions for the one chain, on as many
 * ports, and the cached row asks for each in turn: lookups walk a full
 * table and move entries in the recency list, as a busy daemon's do.
 */
#define CACHE_ENTRIES 1024
#define CACHE_TTL_S   3600

typedef struct fixture {
  certgen_pki_t    pki;
  STACK_OF(X509)  *chain;       /* leaf, intermediate: what a peer sends */
  STACK_OF(X509)  *untrusted;   /* the intermediate alone */
  X509_STORE      *store;       /* the bare loop's: the root alone */
  pw_verifier_t   *verifier;    /* trusts the root alone */
  pw_policy_t     *pins;        /* one set for the host: the leaf's key */
  pw_dcache_t     *cache;
  pw_verify_req_t  cold;        /* at the fixed time of the test PKI */
  pw_verify_req_t  cached;      /* at 0 (now), as the cache requires */
  unsigned         next_port;
} fixture_t;

/*
 * Replaces a certificate with one read from its DER, as a peer's chain
 * arrives.  A certificate built in memory keeps no encoding, so each
 * i2d_X509 (which the cache key and signature checks do) would encode
 * it anew: several microseconds the daemon never spends.
 */
static int
reparse(X509 **x)
{
  unsigned char *der = NULL;
  const unsigned char *p;
  X509 *parsed = NULL;
  int len;

  len = i2d_X509(*x, &der);
  if (len <= 0)
    goto done;
  p = der;
  parsed = d2i_X509(NULL, &p, len);
  if (parsed == NULL)
    goto done;

  X509_free(*x);
  *x = parsed;

done:
  OPENSSL_free(der);
  return parsed != NULL ? 0 : -1;
}

/* An enforcing set for the host: the leaf's key and an offline backup. */
static int
make_pins(fixture_t *f, pw_err_t *err)
{
  pw_pinset_t set;
  int ret;

  memset(&set, 0, sizeof(set));
  set.match = PW_MATCH_EXACT;
  snprintf(set.name, sizeof(set.name), "%s", BENCH_HOST);
  set.mode = PW_MODE_ENFORCE;

  ret = pw_pins_of_cert(&set.pins[0], f->pki.leaf, err);
  if (ret != PW_OK)
    return ret;
  memset(&set.pins[1], 0xb5, sizeof(set.pins[1]));
  set.npins = 2;

  f->pins = pw_policy_new();
  if (f->pins == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  return pw_policy_add(f->pins, &set, err);
}

static int
make_verifier(fixture_t *f, pw_err_t *err)
{
  unsigned char *der = NULL;
  int len, ret;

  len = i2d_X509(f->pki.root, &der);
  if (len <= 0)
    return pw_err_set(err, PW_ECRYPTO, "i2d_X509 of the root failed");
  ret = pw_verifier_new_roots(&f->verifier, der, (size_t) len, err);
  OPENSSL_free(der);
  return ret;
}

/* The decision the cached row answers, stored under every port. */
static int
warm_cache(fixture_t *f, pw_err_t *err)
{
  pw_dcache_key_t key;
  pw_decision_t d;
  int64_t now = (int64_t) time(NULL);
  unsigned port;
  int ret;

  f->cache = pw_dcache_new(CACHE_ENTRIES, CACHE_TTL_S);
  if (f->cache == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  pw_decision_init(&d);
  ret = pw_verify_chain(f->verifier, &f->cold, &d, err);
  if (ret != PW_OK)
    goto done;
  if (d.reason != PW_REASON_OK) {
    ret = pw_err_set(err, PW_EINVAL, "the chain was refused: %s: %s",
                     pw_reason_name(d.reason), d.detail);
    goto done;
  }

  for (port = 1; port <= CACHE_ENTRIES; port++) {
    f->cached.port = (uint16_t) port;
    d.port = (uint16_t) port;

    ret = pw_dcache_key(&key, f->verifier, &f->cached);
    if (ret == PW_OK)
      ret = pw_dcache_put(f->cache, &key, now, &d);
    if (ret != PW_OK) {
      pw_err_set(err, ret, "cannot fill the decision cache");
      goto done;
    }
  }

done:
  pw_decision_clear(&d);
  return ret;
}

static int
fixture_init(fixture_t *f, certgen_key_t kind, pw_err_t *err)
{
  int ret;

  memset(f, 0, sizeof(*f));
  if (certgen_pki_key(&f->pki, kind) != 0 || reparse(&f->pki.root) != 0
      || reparse(&f->pki.inter) != 0 || reparse(&f->pki.leaf) != 0)
    return pw_err_set(err, PW_ECRYPTO, "cannot make the test chain");

  f->chain = certgen_stack(f->pki.leaf, f->pki.inter, NULL);
  f->untrusted = certgen_stack(f->pki.inter, NULL);
  f->store = X509_STORE_new();
  if (f->chain == NULL || f->untrusted == NULL || f->store == NULL
      || !X509_STORE_add_cert(f->store, f->pki.root))
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  if ((ret = make_pins(f, err)) != PW_OK)
    return ret;
  if ((ret = make_verifier(f, err)) != PW_OK)
    return ret;

  /*
   * The test PKI is valid around CERTGEN_NOW: verifying at that time
   * keeps the numbers comparable whatever day the run is.  The cache
   * keys only requests made for now; its hits never verify, so the
   * date does not matter there.
   */
  f->cold.profile = "bench";
  f->cold.host = BENCH_HOST;
  f->cold.port = 443;
  f->cold.chain = f->chain;
  f->cold.at = CERTGEN_NOW;
  f->cold.pins = f->pins;
  f->cached = f->cold;
  f->cached.at = 0;

  return warm_cache(f, err);
}

static void
fixture_free(fixture_t *f)
{
  pw_dcache_free(f->cache);
  pw_verifier_free(f->verifier);
  pw_policy_free(f->pins);
  X509_STORE_free(f->store);
  sk_X509_pop_free(f->untrusted, X509_free);
  sk_X509_pop_free(f->chain, X509_free);
  certgen_pki_free(&f->pki);
}

static int
op_bare(void *data)
{
  fixture_t *f = data;
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  int ok = 0;

  if (ctx != NULL
      && X509_STORE_CTX_init(ctx, f->store, f->pki.leaf, f->untrusted)) {
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
                               (time_t) CERTGEN_NOW);
    ok = X509_verify_cert(ctx) == 1;
  }

  X509_STORE_CTX_free(ctx);
  return ok ? 0 : -1;
}

static int
op_cold(void *data)
{
  fixture_t *f = data;
  pw_decision_t d;
  pw_err_t err;
  int ok;

  pw_decision_init(&d);
  ok = pw_verify_chain(f->verifier, &f->cold, &d, &err) == PW_OK
       && d.action == PW_ACTION_ALLOW && d.reason == PW_REASON_OK
       && d.matched == 0;

  pw_decision_clear(&d);
  return ok ? 0 : -1;
}

static int
op_cached(void *data)
{
  fixture_t *f = data;
  pw_dcache_key_t key;
  pw_decision_t d;
  int ok;

  f->cached.port = (uint16_t) (1 + f->next_port++ % CACHE_ENTRIES);

  pw_decision_init(&d);
  ok = pw_dcache_key(&key, f->verifier, &f->cached) == PW_OK
       && pw_dcache_get(f->cache, &key, (int64_t) time(NULL), &d) == 1
       && d.reason == PW_REASON_OK && d.port == f->cached.port;

  pw_decision_clear(&d);
  return ok ? 0 : -1;
}

int
main(int argc, char **argv)
{
  static const char *const names[] = {
    "bare X509_verify_cert", "pinwarden cold verify",
    "pinwarden cached decision",
  };
  bench_case_t rows[] = {
    { .op = op_bare }, { .op = op_cold }, { .op = op_cached },
  };
  double seconds = 1, base, rate;
  int rsa = 0, ret = 1;
  bench_flag_t flags[] = { { "--rsa", &rsa } };
  fixture_t f;
  pw_err_t err;
  size_t i, n = sizeof(rows) / sizeof(rows[0]);

  memset(&f, 0, sizeof(f));
  if (bench_options(argc, argv, &seconds, flags, 1,
                    "[--seconds N] [--rsa]") != 0)
    return 2;

  if (fixture_init(&f, rsa ? CERTGEN_RSA_2048 : CERTGEN_EC_P256, &err)
      != PW_OK) {
    fprintf(stderr, "bench_verify: %s\n", err.msg);
    goto done;
  }

  bench_print_machine(stdout, "pinwarden bench_verify: decisions per second");
  printf("openssl: %s\n", OpenSSL_version(OPENSSL_VERSION));
  printf("chain:   %s keys; leaf and intermediate sent, root trusted; "
         "the pin set\n         pins the leaf; cache of %d decisions\n",
         rsa ? "RSA-2048" : "EC P-256", CACHE_ENTRIES);
  printf("timing:  %.3g s per row after %.1f s of warm-up; the median of "
         "%d slices,\n         the rows taking turns\n\n", seconds,
         WARMUP_S, BENCH_SLICES);
  fflush(stdout);

  for (i = 0; i < n; i++)
    rows[i].data = &f;
  if (bench_run(rows, n, WARMUP_S, seconds) != 0) {
    for (i = 0; i < n; i++) {
      if (rows[i].failed)
        fprintf(stderr, "bench_verify: %s gave a wrong answer\n",
                names[i]);
    }
    goto done;
  }

  /* The ratio is ops/s over the bare loop's: above 1 is faster. */
  base = 1e9 / bench_ns_per_op(&rows[0].r);
  printf("%-27s %12s %10s %9s\n", "", "ops/s", "\xc2\xb5s/op", "vs bare");
  for (i = 0; i < n; i++) {
    rate = 1e9 / bench_ns_per_op(&rows[i].r);
    printf("%-27s %12.0f %9.2f %8.2fx\n", names[i], rate,
           bench_ns_per_op(&rows[i].r) / 1000, rate / base);
  }
  ret = 0;

done:
  fixture_free(&f);
  return ret;
}
