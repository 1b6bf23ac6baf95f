/*
 * Pin set lookup: pw_policy_lookup against a linear scan of the same
 * sets, with 100, 1,000 and 10,000 sets.
 *
 * Set i has the base name "host<i>.example<i mod 1000>.com" and is, in
 * turn, an exact name, a "*." pattern or a "**." pattern.  Four kinds of
 * query, each cycling over every set of its kind (at most QUERIES_MAX):
 *
 *   exact hit      "host00003.example003.com"
 *   one-label hit  "www.host00004.example004.com"       ("*.")
 *   any-label hit  "a.b.host00005.example005.com"       ("**.")
 *   miss           "www.miss00006.example006.com"
 *
 * The scan is the limit: it keeps the patterns in one compact array
 * (kind, length, name) and must look at all of them to find the most
 * specific.  pw_policy_lookup probes its hash table once or twice per
 * label of the host, so its time should not move with the count.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "engine/policy.h"

#define WARMUP_S     0.1
#define QUERIES_MAX  4096

enum { Q_EXACT = 0, Q_ONE, Q_ANY, Q_MISS, Q__COUNT };

/* A set's own kind of query is indexed by its pw_match_t. */
_Static_assert((int) Q_EXACT == (int) PW_MATCH_EXACT
               && (int) Q_ONE == (int) PW_MATCH_ONE
               && (int) Q_ANY == (int) PW_MATCH_ANY,
               "query kinds follow pw_match_t");

static const char *const query_names[Q__COUNT] = {
  "exact hit", "one-label hit (*.)", "any-label hit (**.)", "miss",
};

static const size_t set_counts[] = { 100, 1000, 10000 };
#define NCOUNTS (sizeof(set_counts) / sizeof(set_counts[0]))

/* One pattern of the scan; name points into the scan's own pool. */
typedef struct ref_entry {
  pw_match_t  match;
  size_t      len;
  const char *name;
} ref_entry_t;

typedef struct ref_table {
  ref_entry_t *entries;
  size_t       n;
  char        *pool;
} ref_table_t;

/* What a row looks up with, and in what. */
typedef struct lookup_run {
  const pw_policy_t  *policy;
  const ref_table_t  *ref;
  char              **queries;
  size_t              nqueries;
  size_t              next;
  bool                want_hit;
  volatile size_t     sink;      /* keeps the answers alive */
} lookup_run_t;

/* The base name of set i, and the query of kind q that goes with it. */
static void
set_name(char *out, size_t len, size_t i)
{
  snprintf(out, len, "host%05zu.example%03zu.com", i, i % 1000);
}

static void
query_name(char *out, size_t len, int q, size_t i)
{
  static const char *const prefixes[Q__COUNT] = {
    [Q_EXACT] = "host", [Q_ONE] = "www.host", [Q_ANY] = "a.b.host",
    [Q_MISS] = "www.miss",
  };

  snprintf(out, len, "%s%05zu.example%03zu.com", prefixes[q], i, i % 1000);
}

/*
 * The policy's own rules (see policy.h), written the obvious way: an
 * exact name matches itself, "*." one more label, "**." itself or any
 * number more.  host is normalised and holds no IP literal.
 */
static bool
ref_matches(const ref_entry_t *e, const char *host, size_t hlen)
{
  size_t extra;

  if (hlen == e->len)
    return e->match != PW_MATCH_ONE && memcmp(host, e->name, hlen) == 0;

  /* A longer host needs at least one label and a dot in front. */
  if (e->match == PW_MATCH_EXACT || hlen < e->len + 2)
    return false;
  extra = hlen - e->len;
  if (host[extra - 1] != '.' || memcmp(host + extra, e->name, e->len) != 0)
    return false;

  return e->match == PW_MATCH_ANY || memchr(host, '.', extra - 1) == NULL;
}

/* The longest base name wins; on a tie exact, then "*.", then "**.". */
static const ref_entry_t *
ref_lookup(const ref_table_t *t, const char *host)
{
  const ref_entry_t *best = NULL, *e;
  size_t hlen = strlen(host), i;

  for (i = 0; i < t->n; i++) {
    e = &t->entries[i];
    if (!ref_matches(e, host, hlen))
      continue;
    if (best == NULL || e->len > best->len
        || (e->len == best->len && e->match < best->match))
      best = e;
  }
  return best;
}

static void
ref_free(ref_table_t *t)
{
  free(t->entries);
  free(t->pool);
  memset(t, 0, sizeof(*t));
}

static void
queries_free(char **q, size_t n)
{
  size_t i;

  for (i = 0; q != NULL && i < n; i++)
    free(q[i]);
  free(q);
}

/*
 * Builds the policy and the scan's table from the same sets, and the
 * queries of each kind.  Returns 0, or -1 with a message printed.
 */
static int
add_query(char **queries[Q__COUNT], size_t nqueries[Q__COUNT], int q,
          size_t i)
{
  char name[PW_HOST_MAX];

  if (nqueries[q] == QUERIES_MAX)
    return 0;
  query_name(name, sizeof(name), q, i);
  queries[q][nqueries[q]] = strdup(name);
  if (queries[q][nqueries[q]] == NULL)
    return -1;
  nqueries[q]++;
  return 0;
}

/*
 * Builds the policy and the scan's table from the same sets, and the
 * queries of each kind.  Returns 0, or -1 with a message printed.
 */
static int
build(size_t nsets, pw_policy_t **policy, ref_table_t *ref,
      char **queries[Q__COUNT], size_t nqueries[Q__COUNT])
{
  pw_pinset_t *set = NULL;
  size_t i, off = 0;
  pw_err_t err;
  int q, ret = -1;

  *policy = pw_policy_new();
  ref->entries = calloc(nsets, sizeof(*ref->entries));
  ref->pool = malloc(nsets * PW_HOST_MAX);
  set = calloc(1, sizeof(*set));
  if (*policy == NULL || ref->entries == NULL || ref->pool == NULL
      || set == NULL)
    goto nomem;
  for (q = 0; q < Q__COUNT; q++) {
    nqueries[q] = 0;
    queries[q] = calloc(QUERIES_MAX, sizeof(*queries[q]));
    if (queries[q] == NULL)
      goto nomem;
  }

  /* One pin each: lookup never reads them, the scan never sees them. */
  set->mode = PW_MODE_ENFORCE;
  set->npins = 1;
  memset(&set->pins[0], 0x5a, sizeof(set->pins[0]));

  for (i = 0; i < nsets; i++) {
    set->match = (pw_match_t) (i % 3);
    set_name(set->name, sizeof(set->name), i);
    if (pw_policy_add(*policy, set, &err) != PW_OK) {
      fprintf(stderr, "bench_lookup: pw_policy_add: %s\n", err.msg);
      goto done;
    }

    ref->entries[i].match = set->match;
    ref->entries[i].len = strlen(set->name);
    ref->entries[i].name = ref->pool + off;
    memcpy(ref->pool + off, set->name, ref->entries[i].len + 1);
    off += ref->entries[i].len + 1;
    ref->n++;

    /* Q_EXACT, Q_ONE and Q_ANY follow the order of pw_match_t. */
    if (add_query(queries, nqueries, (int) set->match, i) != 0
        || add_query(queries, nqueries, Q_MISS, i) != 0)
      goto nomem;
  }
  ret = 0;
  goto done;

nomem:
  fprintf(stderr, "bench_lookup: out of memory\n");

done:
  free(set);
  return ret;
}

/*
 * Both lookups must agree on every query before either is timed, and
 * each kind of query must hit or miss as its name says.
 */
static int
check(const pw_policy_t *policy, const ref_table_t *ref, char **queries,
      size_t n, bool want_hit)
{
  const pw_pinset_t *ours;
  const ref_entry_t *theirs;
  size_t i;

  for (i = 0; i < n; i++) {
    ours = pw_policy_lookup(policy, queries[i]);
    theirs = ref_lookup(ref, queries[i]);

    if ((ours != NULL) != want_hit || (theirs != NULL) != want_hit
        || (ours != NULL
            && (ours->match != theirs->match
                || strcmp(ours->name, theirs->name) != 0))) {
      fprintf(stderr, "bench_lookup: %s: pw_policy_lookup says %s (%d), "
              "the scan says %s (%d)\n", queries[i],
              ours != NULL ? ours->name : "none",
              ours != NULL ? (int) ours->match : -1,
              theirs != NULL ? theirs->name : "none",
              theirs != NULL ? (int) theirs->match : -1);
      return -1;
    }
  }
  return 0;
}

static int
op_ours(void *data)
{
  lookup_run_t *r = data;
  const pw_pinset_t *set;

  set = pw_policy_lookup(r->policy, r->queries[r->next]);
  r->next = r->next + 1 == r->nqueries ? 0 : r->next + 1;
  r->sink += (size_t) set;
  return (set != NULL) == r->want_hit ? 0 : -1;
}

static int
op_linear(void *data)
{
  lookup_run_t *r = data;
  const ref_entry_t *e;

  e = ref_lookup(r->ref, r->queries[r->next]);
  r->next = r->next + 1 == r->nqueries ? 0 : r->next + 1;
  r->sink += (size_t) e;
  return (e != NULL) == r->want_hit ? 0 : -1;
}

int
main(int argc, char **argv)
{
  double seconds = 0.5, ours[NCOUNTS][Q__COUNT], linear;
  char **queries[Q__COUNT] = { NULL };
  size_t nqueries[Q__COUNT] = { 0 };
  pw_policy_t *policy = NULL;
  lookup_run_t runs[2];
  bench_case_t cases[2];
  ref_table_t ref;
  size_t c, q, k;
  int ret = 1;

  memset(&ref, 0, sizeof(ref));
  if (bench_options(argc, argv, &seconds, NULL, 0, "[--seconds N]") != 0)
    return 2;

  bench_print_machine(stdout, "pinwarden bench_lookup: pin set lookup");
  printf("sets:    host%%05d.example%%03d.com as exact, \"*.\" and \"**.\" "
         "in turn\n");
  printf("timing:  %.3g s per cell after %.1f s of warm-up; the median of "
         "%d slices,\n         the two lookups taking turns\n\n", seconds,
         WARMUP_S, BENCH_SLICES);
  printf("%6s  %-20s %12s %13s %12s %10s\n", "sets", "query",
         "pinwarden ns", "linear ns", "linear/ours", "vs 100");

  for (c = 0; c < NCOUNTS; c++) {
    if (build(set_counts[c], &policy, &ref, queries, nqueries) != 0)
      goto done;

    for (q = 0; q < Q__COUNT; q++) {
      if (check(policy, &ref, queries[q], nqueries[q], q != Q_MISS) != 0)
        goto done;

      memset(runs, 0, sizeof(runs));
      memset(cases, 0, sizeof(cases));
      for (k = 0; k < 2; k++) {
        runs[k].policy = policy;
        runs[k].ref = &ref;
        runs[k].queries = queries[q];
        runs[k].nqueries = nqueries[q];
        runs[k].want_hit = q != Q_MISS;
        cases[k].data = &runs[k];
      }
      cases[0].op = op_ours;
      cases[1].op = op_linear;

      if (bench_run(cases, 2, WARMUP_S, seconds) != 0) {
        fprintf(stderr, "bench_lookup: %s gave a wrong answer\n",
                cases[0].failed ? "pw_policy_lookup" : "the scan");
        goto done;
      }
      ours[c][q] = bench_ns_per_op(&cases[0].r);
      linear = bench_ns_per_op(&cases[1].r);

      /* "vs 100": our time over ours with 100 sets; flat is the goal. */
      printf("%6zu  %-20s %12.1f %13.1f %11.1fx %9.2fx\n", set_counts[c],
             query_names[q], ours[c][q], linear, linear / ours[c][q],
             ours[c][q] / ours[0][q]);
      fflush(stdout);
    }
    if (c + 1 < NCOUNTS)
      printf("\n");

    pw_policy_free(policy);
    policy = NULL;
    ref_free(&ref);
    for (q = 0; q < Q__COUNT; q++) {
      queries_free(queries[q], nqueries[q]);
      queries[q] = NULL;
    }
  }
  ret = 0;

done:
  pw_policy_free(policy);
  ref_free(&ref);
  for (q = 0; q < Q__COUNT; q++)
    queries_free(queries[q], nqueries[q]);
  return ret;
}
