/*
 * The daemon from outside, over its WebSocket IPC, beside a bare
 * libwebsockets echo server driven by the same client:
 *
 *   1. verify.chain's cached path, closed loop with 1 and 8 clients:
 *      calls/s and latency, against the echo of a message as large
 *   2. the same call paced at half of pinwarden's 8-client rate, open
 *      loop: the latency a client sees when the engine is not saturated
 *   3. profiles.list over 10,000 profiles, every page and one page
 *   4. the engine's resident memory with those 10,000 profiles
 *
 * The benchmark starts `pinwarden serve` itself on a temporary data
 * folder and stops it at the end, however the run ends.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <uv.h>

#include "bench.h"
#include "certgen.h"
#include "engine/pins.h"
#include "load.h"
#include "proc.h"
#include "ws.h"

#define BENCH_HOST      "www.example.com"
#define CLIENTS         BENCH_LOAD_CLIENTS_MAX
#define START_TIMEOUT_S 20
#define STOP_TIMEOUT_S  10

/* Table 3: the verify profile and the imported ones make this many. */
#define PROFILES        10000
#define IMPORT_BATCH    500
#define LIST_PAGE       1000   /* PW_STORE_LIST_MAX */
#define LIST_RUNS       5
#define PAGE_RUNS       20

/* The goals the tables say met or missed. */
#define GOAL_ECHO_RATIO 0.40
#define GOAL_P99_US     1000.0
#define GOAL_LIST_MS    100.0
#define GOAL_RSS_MIB    64.0

#define MIB(kib) ((double) (kib) / 1024.0)

typedef struct fixture {
  certgen_pki_t pki;
  char          leaf_pin[PW_PIN_TEXT_MAX];
  char          backup_pin[PW_PIN_TEXT_MAX];
  char         *leaf_b64;
  char         *inter_b64;
  char         *root_pem;
  int           regenerated;  /* certgen_pki's chain was not valid now */
} fixture_t;

typedef struct bench {
  fixture_t       f;
  bench_daemon_t  daemon;
  pid_t           echo_pid;
  uint16_t        echo_port;
  bench_ws_t     *pw[CLIENTS];
  bench_ws_t     *echo[CLIENTS];
  bench_load_t   *pw_load;
  bench_load_t   *echo_load;
  char            profile_id[64];
  char           *call_pre;     /* verify.chain up to its id */
  char           *call_post;    /* and after */
  uint64_t        rpc_id;
  double          seconds;
  char            err[2048];
} bench_t;

static int
fail(bench_t *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static int
fail(bench_t *b, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(b->err, sizeof(b->err), fmt, ap);
  va_end(ap);
  return -1;
}

/* ---- the chain ---------------------------------------------------- */

static int
valid_now(X509 *x)
{
  return X509_cmp_current_time(X509_get0_notBefore(x)) < 0
         && X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
}

/*
 * certgen_pki's chain is valid around CERTGEN_NOW (the leaf until
 * 2027-01-01), and the cached path verifies at the current time.  Past
 * that, the same three certificates are made valid around today.
 */
static int
make_pki(fixture_t *f)
{
  certgen_spec_t root = {
    .cn = "Test Root", .ca = 1, .key = CERTGEN_EC_P256,
  };
  certgen_spec_t inter, leaf;
  int64_t now = (int64_t) time(NULL);

  if (certgen_pki(&f->pki) != 0)
    return -1;
  if (valid_now(f->pki.root) && valid_now(f->pki.inter)
      && valid_now(f->pki.leaf))
    return 0;

  certgen_pki_free(&f->pki);
  f->regenerated = 1;
  root.not_before = now - 86400 * 30;
  root.not_after = now + 86400 * 365;
  f->pki.root = certgen_cert(&root, &f->pki.root_key);
  if (f->pki.root == NULL)
    return -1;

  inter = root;
  inter.cn = "Test Intermediate";
  inter.issuer = f->pki.root;
  inter.issuer_key = f->pki.root_key;
  f->pki.inter = certgen_cert(&inter, &f->pki.inter_key);
  if (f->pki.inter == NULL)
    return -1;

  leaf = inter;
  leaf.cn = BENCH_HOST;
  leaf.dns = BENCH_HOST ",example.com";
  leaf.ca = 0;
  leaf.issuer = f->pki.inter;
  leaf.issuer_key = f->pki.inter_key;
  f->pki.leaf = certgen_cert(&leaf, &f->pki.leaf_key);
  return f->pki.leaf != NULL ? 0 : -1;
}

/* The DER of x in base64 without line breaks, as verify.chain takes it. */
static char *
der_b64(X509 *x)
{
  unsigned char *der = NULL;
  char *out = NULL;
  int len = i2d_X509(x, &der);

  if (len > 0)
    out = malloc(4 * ((size_t) len / 3 + 1) + 1);
  if (out != NULL)
    EVP_EncodeBlock((unsigned char *) out, der, len);
  OPENSSL_free(der);
  return out;
}

static char *
pem(X509 *x)
{
  BIO *bio = BIO_new(BIO_s_mem());
  char *data, *out = NULL;
  long len;

  if (bio != NULL && PEM_write_bio_X509(bio, x)) {
    len = BIO_get_mem_data(bio, &data);
    out = strndup(data, (size_t) len);
  }
  BIO_free(bio);
  return out;
}

static int
fixture_init(fixture_t *f, char *err, size_t errlen)
{
  pw_pin_t backup;
  pw_pin_t pin;
  pw_err_t e;

  memset(f, 0, sizeof(*f));
  if (make_pki(f) != 0) {
    snprintf(err, errlen, "cannot make the test chain");
    return -1;
  }

  if (pw_pins_of_cert(&pin, f->pki.leaf, &e) != PW_OK) {
    snprintf(err, errlen, "the leaf's pin: %s", e.msg);
    return -1;
  }
  pw_pins_format(&pin, f->leaf_pin);

  /* An offline backup key: pinned, never seen in a chain. */
  memset(&backup, 0xb5, sizeof(backup));
  pw_pins_format(&backup, f->backup_pin);

  f->leaf_b64 = der_b64(f->pki.leaf);
  f->inter_b64 = der_b64(f->pki.inter);
  f->root_pem = pem(f->pki.root);
  if (f->leaf_b64 == NULL || f->inter_b64 == NULL || f->root_pem == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

static void
fixture_free(fixture_t *f)
{
  certgen_pki_free(&f->pki);
  free(f->leaf_b64);
  free(f->inter_b64);
  free(f->root_pem);
}

/* ---- one call at a time ------------------------------------------- */

typedef struct answer {
  uint64_t id;
  double   at;     /* when the answer was read, before it was parsed */
  json_t  *msg;
} answer_t;

static int
on_rpc_answer(void *data, const char *msg, size_t len)
{
  answer_t *a = data;
  double at = bench_now();
  json_t *j = json_loadb(msg, len, 0, NULL);

  /* Anything but our answer (an event, say) is not waited for. */
  if (j == NULL || !json_is_integer(json_object_get(j, "id"))
      || (uint64_t) json_integer_value(json_object_get(j, "id")) != a->id) {
    json_decref(j);
    return 0;
  }
  a->msg = j;
  a->at = at;
  return 0;
}

/*
 * Calls method with params (taken) on ws and waits for the answer: its
 * result in *result (the caller's), and the time from the send to the
 * whole answer read in *rtt (may be NULL).
 */
static int
rpc_call(bench_t *b, bench_ws_t *ws, const char *method, json_t *params,
         json_t **result, double *rtt)
{
  double start, until;
  answer_t a = { 0 };
  json_t *req, *error;
  char *text = NULL;
  int ret = -1;

  *result = NULL;
  a.id = ++b->rpc_id;
  req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id",
                  (json_int_t) a.id, "method", method, "params", params);
  text = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
  if (text == NULL) {
    fail(b, "%s: out of memory", method);
    goto done;
  }

  start = bench_now();
  until = start + 120;
  if (bench_ws_send(ws, text, strlen(text)) != 0) {
    fail(b, "%s: %s", method, bench_ws_error(ws));
    goto done;
  }
  while (a.msg == NULL) {
    if (bench_proc_interrupted || bench_now() > until) {
      fail(b, "%s: %s", method, bench_proc_interrupted ? "interrupted"
                                                       : "no answer");
      goto done;
    }
    if (bench_ws_wait(ws, 1000, on_rpc_answer, &a) != 0) {
      fail(b, "%s: %s", method, bench_ws_error(ws));
      goto done;
    }
  }
  if (rtt != NULL)
    *rtt = a.at - start;

  error = json_object_get(a.msg, "error");
  if (error != NULL) {
    fail(b, "%s: error %lld: %s", method,
         (long long) json_integer_value(json_object_get(error, "code")),
         json_string_value(json_object_get(error, "message")));
    goto done;
  }
  *result = json_incref(json_object_get(a.msg, "result"));
  ret = *result != NULL ? 0 : fail(b, "%s: an answer with no result",
                                   method);

done:
  json_decref(req);
  json_decref(a.msg);
  free(text);
  return ret;
}

/* ---- setting up --------------------------------------------------- */

/* BUILD/pinwarden beside BUILD/bench/bench_ipc, where meson puts it. */
static int
find_pinwarden(const char *given, char *out, size_t len)
{
  char self[2048], *slash;
  ssize_t n;

  if (given != NULL) {
    snprintf(out, len, "%s", given);
    return access(out, X_OK);
  }
  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return -1;
  self[n] = '\0';
  if ((slash = strrchr(self, '/')) != NULL)
    *slash = '\0';
  if ((slash = strrchr(self, '/')) != NULL)
    *slash = '\0';
  snprintf(out, len, "%s/pinwarden", self);
  return access(out, X_OK);
}

static int
connect_all(bench_t *b)
{
  size_t i;

  for (i = 0; i < CLIENTS; i++) {
    if (bench_ws_connect(&b->pw[i], b->daemon.port, b->daemon.token) != 0)
      return fail(b, "pinwarden: %s", bench_ws_error(b->pw[i]));
    if (bench_ws_connect(&b->echo[i], b->echo_port, NULL) != 0)
      return fail(b, "echo: %s", bench_ws_error(b->echo[i]));
  }
  return 0;
}

static int
create_profile(bench_t *b)
{
  const fixture_t *f = &b->f;
  json_t *params, *result = NULL;
  const char *id;
  int ret;

  params = json_pack("{s:s, s:[{s:s, s:[s, s]}], s:s}",
                     "name", "bench-verify",
                     "pins", "pattern", BENCH_HOST,
                     "pins", f->leaf_pin, f->backup_pin,
                     "roots", f->root_pem);
  ret = rpc_call(b, b->pw[0], "profiles.create", params, &result, NULL);
  if (ret != 0)
    return -1;

  id = json_string_value(json_object_get(result, "id"));
  if (id == NULL || strlen(id) >= sizeof(b->profile_id))
    ret = fail(b, "profiles.create: no id in the answer");
  else
    snprintf(b->profile_id, sizeof(b->profile_id), "%s", id);
  json_decref(result);
  return ret;
}

/*
 * The call the tables time, cut around its id.  The first call runs
 * cold (on the thread pool) and leaves the decision in the cache.
 */
static int
make_call(bench_t *b)
{
  json_t *params, *result = NULL;
  const char *action, *reason;
  char *text;
  int ret = -1;

  params = json_pack("{s:s, s:s, s:[s, s]}", "id", b->profile_id,
                     "host", BENCH_HOST, "chain", b->f.leaf_b64,
                     b->f.inter_b64);
  text = params != NULL ? json_dumps(params, JSON_COMPACT) : NULL;
  if (text == NULL)
    goto done;
  b->call_pre = strdup("{\"jsonrpc\":\"2.0\",\"id\":");
  if (asprintf(&b->call_post, ",\"method\":\"verify.chain\","
               "\"params\":%s}", text) < 0)
    b->call_post = NULL;
  if (b->call_pre == NULL || b->call_post == NULL) {
    fail(b, "out of memory");
    goto done;
  }

  if (rpc_call(b, b->pw[0], "verify.chain", json_incref(params), &result,
               NULL) != 0)
    goto done;
  action = json_string_value(json_object_get(result, "action"));
  reason = json_string_value(json_object_get(result, "reason"));
  if (action == NULL || reason == NULL || strcmp(action, "allow") != 0
      || strcmp(reason, "ok") != 0) {
    fail(b, "verify.chain: %s/%s, not allow/ok: %s", action, reason,
         json_string_value(json_object_get(result, "detail")));
    goto done;
  }
  ret = 0;

done:
  json_decref(params);
  json_decref(result);
  free(text);
  return ret;
}

/* A decision that allows the chain, and no error. */
static int
check_verify(void *data, const char *msg, size_t len)
{
  return memmem(msg, len, "\"result\":{", 10) != NULL
         && memmem(msg, len, "\"action\":\"allow\"", 16) != NULL
         && memmem(msg, len, "\"reason\":\"ok\"", 13) != NULL ? 0 : -1;
}

/* The call itself, back as it went. */
static int
check_echo(void *data, const char *msg, size_t len)
{
  const bench_t *b = data;
  size_t pre = strlen(b->call_pre), post = strlen(b->call_post);

  return len > pre + post && memcmp(msg, b->call_pre, pre) == 0
         && memcmp(msg + len - post, b->call_post, post) == 0 ? 0 : -1;
}

static int
make_loads(bench_t *b)
{
  if (bench_load_new(&b->pw_load, b->pw, CLIENTS, b->call_pre,
                     b->call_post, check_verify, b) != 0
      || bench_load_new(&b->echo_load, b->echo, CLIENTS, b->call_pre,
                        b->call_post, check_echo, b) != 0)
    return fail(b, "out of memory");
  return 0;
}

/* ---- tables 1 and 2: verify.chain --------------------------------- */

/* The rows take turns slice by slice, as bench_run's cases do. */
static int
run_rows(bench_t *b, bench_load_row_t *rows, size_t n)
{
  int s;
  size_t i;

  for (s = 0; s < BENCH_SLICES; s++) {
    for (i = 0; i < n; i++) {
      if (bench_load_slice(&rows[i], s, b->seconds / BENCH_SLICES) != 0)
        return fail(b, "%s: %s", rows[i].load == b->pw_load
                    ? "pinwarden" : "echo", bench_load_error(rows[i].load));
    }
  }
  return 0;
}

static const char *
met(int ok)
{
  return ok ? "met" : "MISSED";
}

/* Closed loop: 1 and 8 clients on each server.  *pw8 gets that rate. */
static int
table_rate(bench_t *b, double *pw8)
{
  static const char *const names[] = {
    "lws echo (the limit)", "pinwarden verify.chain",
  };
  bench_load_row_t rows[4];
  double rate[4], ratio[2];
  int ret = -1;
  size_t i;

  memset(rows, 0, sizeof(rows));
  for (i = 0; i < 4; i++) {
    rows[i].load = i % 2 == 0 ? b->echo_load : b->pw_load;
    rows[i].clients = i < 2 ? 1 : CLIENTS;
  }

  /* A short run first: connections, caches and the CPU's clock settle. */
  for (i = 0; i < 4; i++) {
    if (bench_load_slice(&rows[i], 0, 0.2) != 0) {
      fail(b, "warm-up: %s", bench_load_error(rows[i].load));
      goto done;
    }
    bench_load_row_clear(&rows[i]);
    rows[i].calls = 0;
  }
  if (run_rows(b, rows, 4) != 0)
    goto done;

  printf("verify.chain, closed loop   clients      ops/s    p50 \xc2\xb5s"
         "    p99 \xc2\xb5s   vs echo\n");
  for (i = 0; i < 4; i++) {
    rate[i] = bench_load_rate(&rows[i]);
    printf("%-27s %7zu %10.0f %9.1f %9.1f %8.2fx\n", names[i % 2],
           rows[i].clients, rate[i], bench_load_quantile(&rows[i], 0.50),
           bench_load_quantile(&rows[i], 0.99), rate[i] / rate[i - i % 2]);
  }
  ratio[0] = rate[1] / rate[0];
  ratio[1] = rate[3] / rate[2];
  printf("goal: at least %.2fx the echo rate: 1 client %.2fx %s, "
         "%d clients %.2fx %s\n\n", GOAL_ECHO_RATIO, ratio[0],
         met(ratio[0] >= GOAL_ECHO_RATIO), CLIENTS, ratio[1],
         met(ratio[1] >= GOAL_ECHO_RATIO));
  *pw8 = rate[3];
  ret = 0;

done:
  for (i = 0; i < 4; i++)
    bench_load_row_clear(&rows[i]);
  return ret;
}

/* Open loop at half the closed-loop rate, both servers at that pace. */
static int
table_latency(bench_t *b, double pw8)
{
  static const char *const names[] = {
    "lws echo (the limit)", "pinwarden verify.chain",
  };
  bench_load_row_t rows[2];
  double rate = pw8 / 2, p99 = 0;
  int ret = -1;
  size_t i;

  memset(rows, 0, sizeof(rows));
  for (i = 0; i < 2; i++) {
    rows[i].load = i == 0 ? b->echo_load : b->pw_load;
    rows[i].clients = CLIENTS;
    rows[i].rate = rate;
  }
  if (run_rows(b, rows, 2) != 0)
    goto done;

  printf("open loop, %d clients, %.0f calls/s (half of pinwarden's "
         "closed-loop rate)\n", CLIENTS, rate);
  printf("%-27s %9s %9s %9s %9s\n", "", "calls", "p50 \xc2\xb5s",
         "p99 \xc2\xb5s", "max \xc2\xb5s");
  for (i = 0; i < 2; i++) {
    printf("%-27s %9llu %9.1f %9.1f %9.1f\n", names[i],
           (unsigned long long) rows[i].calls,
           bench_load_quantile(&rows[i], 0.50),
           bench_load_quantile(&rows[i], 0.99),
           bench_load_quantile(&rows[i], 1.0));
  }
  p99 = bench_load_quantile(&rows[1], 0.99);
  printf("goal: pinwarden p99 under %.0f \xc2\xb5s: %.1f \xc2\xb5s, %s\n",
         GOAL_P99_US, p99, met(p99 < GOAL_P99_US));

  /* A client that could not keep the pace would make the figures lie. */
  for (i = 0; i < 2; i++) {
    if (rows[i].max_lag_s > 100e-6)
      printf("note: the %s client sent up to %.0f \xc2\xb5s late (counted "
             "in its latency)\n", i == 0 ? "echo" : "pinwarden",
             rows[i].max_lag_s * 1e6);
  }
  printf("\n");
  ret = 0;

done:
  for (i = 0; i < 2; i++)
    bench_load_row_clear(&rows[i]);
  return ret;
}

/* ---- tables 3 and 4: 10,000 profiles ------------------------------ */

/* Profiles as an automation script makes them: a proxy, tags, a pin set. */
static json_t *
import_batch(const fixture_t *f, size_t first, size_t n)
{
  json_t *list = json_array(), *p;
  char name[32], proxy[80], pattern[64];
  size_t i, k;

  for (i = 0; list != NULL && i < n; i++) {
    k = first + i;
    snprintf(name, sizeof(name), "bench-%05zu", k);
    snprintf(proxy, sizeof(proxy), "socks5h://user%zu:secret@10.%zu.%zu.1:"
             "1080", k, k / 256 % 256, k % 256);
    snprintf(pattern, sizeof(pattern), "**.shop%05zu.example", k);
    p = json_pack("{s:s, s:[s, s], s:s, s:[{s:s, s:[s, s]}]}",
                  "name", name, "tags", "bench", k % 2 ? "odd" : "even",
                  "proxy", proxy, "pins", "pattern", pattern,
                  "pins", f->leaf_pin, f->backup_pin);
    if (p == NULL || json_array_append_new(list, p) != 0) {
      json_decref(list);
      return NULL;
    }
  }
  return json_pack("{s:i, s:o}", "version", 1, "profiles", list);
}

static int
import_profiles(bench_t *b, size_t total, double *seconds)
{
  json_t *params, *result;
  double start = bench_now();
  size_t done = 0, n;

  while (done < total) {
    n = total - done < IMPORT_BATCH ? total - done : IMPORT_BATCH;
    params = import_batch(&b->f, done, n);
    if (params == NULL)
      return fail(b, "out of memory");
    if (rpc_call(b, b->pw[0], "profiles.import", params, &result, NULL)
        != 0)
      return -1;

    if (json_array_size(json_object_get(result, "ids")) != n) {
      json_decref(result);
      return fail(b, "profiles.import: %zu ids for %zu profiles",
                  json_array_size(json_object_get(result, "ids")), n);
    }
    json_decref(result);
    done += n;
  }
  *seconds = bench_now() - start;
  return 0;
}

/*
 * Pages through every profile: the time is the sum of the calls' round
 * trips (send to answer read), not our parsing of the pages between
 * them.  limit 0 leaves the server's default.  *count gets the
 * profiles listed.
 */
static int
list_all(bench_t *b, size_t limit, int pages_max, double *seconds,
         size_t *count, int *pages)
{
  json_t *params, *result = NULL, *next;
  char *cursor = NULL;
  double rtt;
  int ret = -1;

  *seconds = 0;
  *count = 0;
  for (*pages = 0; *pages < pages_max; (*pages)++) {
    params = limit > 0 ? json_pack("{s:I}", "limit", (json_int_t) limit)
                       : json_object();
    if (params == NULL || (cursor != NULL
        && json_object_set_new(params, "cursor", json_string(cursor)) != 0))
      goto done;
    if (rpc_call(b, b->pw[0], "profiles.list", params, &result, &rtt) != 0)
      goto done;
    *seconds += rtt;
    *count += json_array_size(json_object_get(result, "profiles"));

    next = json_object_get(result, "next");
    free(cursor);
    cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
    json_decref(result);
    result = NULL;
    if (cursor == NULL) {
      (*pages)++;
      break;
    }
  }
  ret = 0;

done:
  free(cursor);
  json_decref(result);
  return ret;
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
  qsort(v, n, sizeof(v[0]), cmp_double);
  return (v[(n - 1) / 2] + v[n / 2]) / 2;
}

static int
table_list(bench_t *b, long rss_start, long rss_load)
{
  double import_s = 0, all[LIST_RUNS], one[PAGE_RUNS], all_ms;
  long rss, echo_rss;
  size_t count;
  char label[64];
  int pages = 0, all_pages = 0, i;

  /* The verify profile is one of the PROFILES. */
  if (import_profiles(b, PROFILES - 1, &import_s) != 0)
    return -1;

  for (i = 0; i < LIST_RUNS; i++) {
    if (list_all(b, LIST_PAGE, PROFILES, &all[i], &count, &pages) != 0)
      return -1;
    if (count != PROFILES)
      return fail(b, "profiles.list: %zu profiles listed, not %d", count,
                  PROFILES);
    all_pages = pages;
  }
  for (i = 0; i < PAGE_RUNS; i++) {
    if (list_all(b, 0, 1, &one[i], &count, &pages) != 0)
      return -1;
  }
  all_ms = median(all, LIST_RUNS) * 1e3;

  printf("%-44s %9s   %s\n", "profiles.list, 10,000 profiles", "ms",
         "goal");
  snprintf(label, sizeof(label), "all: %d pages of %d (median of %d runs)",
           all_pages, LIST_PAGE, LIST_RUNS);
  printf("%-44s %9.1f   under %.0f ms: %s\n", label, all_ms, GOAL_LIST_MS,
         met(all_ms < GOAL_LIST_MS));
  printf("%-44s %9.2f\n", "one page, the default limit (median of 20)",
         median(one, PAGE_RUNS) * 1e3);
  printf("(%zu profiles a page by default; profiles.import took %.2f s "
         "for %d profiles\n in calls of %d, %.0f profiles/s)\n\n", count,
         import_s, PROFILES - 1, IMPORT_BATCH, (PROFILES - 1) / import_s);

  /* Table 4. */
  rss = bench_proc_rss_kib(b->daemon.pid);
  echo_rss = bench_proc_rss_kib(b->echo_pid);
  printf("%-44s %9s   %s\n", "engine resident memory (VmRSS)", "MiB",
         "goal");
  printf("%-44s %9.1f\n", "after start: 1 profile, 1 decision cached",
         MIB(rss_start));
  printf("%-44s %9.1f\n", "after the verify.chain load", MIB(rss_load));
  printf("%-44s %9.1f   under %.0f MiB: %s\n", "10,000 profiles, after "
         "the listing", MIB(rss), GOAL_RSS_MIB,
         met(rss > 0 && MIB(rss) < GOAL_RSS_MIB));
  printf("%-44s %9.1f\n\n", "(the lws echo server after its load)",
         MIB(echo_rss));
  return 0;
}

/* ---- the run ------------------------------------------------------ */

static int
options(int argc, char **argv, double *seconds, const char **exe)
{
  char *rest[8];
  int i, n = 0;

  /* bench_options knows --seconds; --pinwarden PATH is ours. */
  rest[n++] = argv[0];
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--pinwarden") == 0 && i + 1 < argc)
      *exe = argv[++i];
    else if (n < 7)
      rest[n++] = argv[i];
    else
      n = 8;
  }
  if (n == 8) {
    fprintf(stderr, "usage: %s [--seconds N] [--pinwarden PATH]\n",
            argv[0]);
    return -1;
  }
  rest[n] = NULL;
  return bench_options(n, rest, seconds, NULL, 0,
                       "[--seconds N] [--pinwarden PATH]");
}

static void
print_header(bench_t *b, const char *exe)
{
  bench_print_machine(stdout, "pinwarden bench_ipc: the daemon over "
                      "WebSocket JSON-RPC");
  printf("libs:    libwebsockets %s, libuv %s, jansson %s\n",
         lws_get_library_version(), uv_version_string(), JANSSON_VERSION);
  printf("daemon:  %s serve, 127.0.0.1:%u\n", exe, b->daemon.port);
  printf("limit:   a bare libwebsockets echo server (libuv event lib, one "
         "thread,\n         its own process) sent the same message, %zu "
         "bytes\n", strlen(b->call_pre) + strlen(b->call_post) + 2);
  printf("client:  one thread, epoll, plain-socket WebSocket, the same "
         "for both\n");
  printf("chain:   EC P-256 leaf and intermediate, root in the profile%s\n",
         b->f.regenerated ? " (remade around today: certgen's has "
         "expired)" : "");
  printf("timing:  %.3g s per row in %d slices, the rows taking turns; "
         "ops/s is the\n         median slice, latencies are over every "
         "call\n\n", b->seconds, BENCH_SLICES);
  fflush(stdout);
}

int
main(int argc, char **argv)
{
  const char *given = NULL;
  char exe[4096];
  double pw8 = 0;
  long rss_start, rss_load;
  int ret = 1, status;
  bench_t b;
  size_t i;

  memset(&b, 0, sizeof(b));
  b.seconds = 2;
  if (options(argc, argv, &b.seconds, &given) != 0)
    return 2;
  bench_proc_init();

  /* The open loop's pacing asks for wake-ups to the microsecond. */
  prctl(PR_SET_TIMERSLACK, 1UL);
  lws_set_log_level(LLL_ERR, NULL);

  if (find_pinwarden(given, exe, sizeof(exe)) != 0) {
    fail(&b, "no pinwarden at %s: build it, or pass --pinwarden PATH", exe);
    goto done;
  }
  if (fixture_init(&b.f, b.err, sizeof(b.err)) != 0)
    goto done;

  if (bench_daemon_start(&b.daemon, exe, START_TIMEOUT_S, b.err,
                         sizeof(b.err)) != 0
      || bench_echo_start(&b.echo_pid, &b.echo_port, b.err,
                          sizeof(b.err)) != 0)
    goto done;
  if (connect_all(&b) != 0 || create_profile(&b) != 0 || make_call(&b) != 0
      || make_loads(&b) != 0)
    goto done;

  print_header(&b, exe);
  rss_start = bench_proc_rss_kib(b.daemon.pid);
  if (table_rate(&b, &pw8) != 0 || table_latency(&b, pw8) != 0)
    goto done;
  rss_load = bench_proc_rss_kib(b.daemon.pid);
  if (table_list(&b, rss_start, rss_load) != 0)
    goto done;

  /* The daemon's own shutdown is part of what the run checks. */
  for (i = 0; i < CLIENTS; i++) {
    bench_ws_free(b.pw[i]);
    b.pw[i] = NULL;
  }
  status = bench_daemon_stop(&b.daemon, STOP_TIMEOUT_S);
  if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fail(&b, "pinwarden serve did not exit 0 on SIGTERM (%s %d)",
         status < 0 ? "killed after" : "status", status < 0
         ? STOP_TIMEOUT_S : status);
    goto done;
  }
  printf("pinwarden serve exited 0 on SIGTERM\n");
  ret = 0;

done:
  if (ret != 0)
    fprintf(stderr, "bench_ipc: %s\n", b.err);
  bench_load_free(b.pw_load);
  bench_load_free(b.echo_load);
  for (i = 0; i < CLIENTS; i++) {
    bench_ws_free(b.pw[i]);
    bench_ws_free(b.echo[i]);
  }
  bench_daemon_stop(&b.daemon, 2);
  bench_proc_stop(b.echo_pid, 2);
  free(b.call_pre);
  free(b.call_post);
  fixture_free(&b.f);
  return ret;
}
