#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

double
bench_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
run_for(bench_op_fn op, void *data, double seconds, unsigned long batch,
        bench_result_t *r)
{
  double start, now;
  unsigned long i;

  r->ops = 0;
  start = now = bench_now();
  while (now - start < seconds) {
    for (i = 0; i < batch; i++) {
      if (op(data) != 0) {
        r->seconds = bench_now() - start;
        return -1;
      }
    }
    r->ops += (double) batch;
    now = bench_now();
  }
  r->seconds = now - start;
  return 0;
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

int
bench_run(bench_case_t *cases, size_t n, double warmup, double seconds)
{
  double ns[BENCH_SLICES][BENCH_CASES_MAX], col[BENCH_SLICES], rate;
  bench_result_t slice;
  bench_case_t *c;
  size_t i;
  int s;

  if (n > BENCH_CASES_MAX)
    return -1;

  /* The warm-up fills caches and branch predictors, and sizes a batch. */
  for (i = 0; i < n; i++) {
    c = &cases[i];
    memset(&c->r, 0, sizeof(c->r));
    c->failed = run_for(c->op, c->data, warmup, 1, &slice) != 0;
    if (c->failed)
      return -1;

    /* A clock read costs some 20 ns: one per millisecond of work. */
    rate = slice.seconds > 0 ? slice.ops / slice.seconds : 0;
    c->batch = rate > 1000 ? (unsigned long) (rate / 1000) : 1;
  }

  for (s = 0; s < BENCH_SLICES; s++) {
    for (i = 0; i < n; i++) {
      c = &cases[i];
      c->failed = run_for(c->op, c->data, seconds / BENCH_SLICES, c->batch,
                          &slice) != 0;
      if (c->failed)
        return -1;

      c->r.ops += slice.ops;
      c->r.seconds += slice.seconds;
      ns[s][i] = slice.ops > 0 ? slice.seconds * 1e9 / slice.ops : 0;
    }
  }

  for (i = 0; i < n; i++) {
    for (s = 0; s < BENCH_SLICES; s++)
      col[s] = ns[s][i];
    qsort(col, BENCH_SLICES, sizeof(col[0]), cmp_double);
    cases[i].r.median_ns = (col[(BENCH_SLICES - 1) / 2]
                            + col[BENCH_SLICES / 2]) / 2;
  }
  return 0;
}

double
bench_ns_per_op(const bench_result_t *r)
{
  return r->median_ns;
}

int
bench_options(int argc, char **argv, double *seconds,
              const bench_flag_t *flags, size_t nflags, const char *usage)
{
  char *end;
  size_t j;
  int i;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      *seconds = strtod(argv[++i], &end);
      if (*end != '\0' || !(*seconds > 0 && *seconds <= 3600))
        goto usage;
      continue;
    }

    for (j = 0; j < nflags; j++) {
      if (strcmp(argv[i], flags[j].name) == 0) {
        *flags[j].value = 1;
        break;
      }
    }
    if (j == nflags)
      goto usage;
  }
  return 0;

usage:
  fprintf(stderr, "usage: %s %s\n", argv[0], usage);
  return -1;
}

/* The CPU's name as /proc/cpuinfo gives it; x86 and arm word it apart. */
static void
cpu_model(char *out, size_t len)
{
  static const char *const keys[] = { "model name", "Model", "cpu model" };
  char line[512], *colon;
  FILE *f = fopen("/proc/cpuinfo", "r");
  size_t k;

  snprintf(out, len, "unknown");
  if (f == NULL)
    return;

  while (fgets(line, sizeof(line), f) != NULL) {
    colon = strchr(line, ':');
    if (colon == NULL)
      continue;
    for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
      if (strncmp(line, keys[k], strlen(keys[k])) == 0)
        break;
    }
    if (k == sizeof(keys) / sizeof(keys[0]))
      continue;

    colon += strspn(colon + 1, " \t") + 1;
    colon[strcspn(colon, "\n")] = '\0';
    snprintf(out, len, "%s", colon);
    break;
  }
  fclose(f);
}

void
bench_print_machine(FILE *out, const char *title)
{
  double load[3] = { -1, -1, -1 };
  struct utsname u;
  char cpu[256], date[64];
  time_t now = time(NULL);
  struct tm tm;

  cpu_model(cpu, sizeof(cpu));
  if (uname(&u) != 0)
    snprintf(u.machine, sizeof(u.machine), "unknown");
  gmtime_r(&now, &tm);
  strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
  getloadavg(load, 3);

  fprintf(out, "%s\n", title);
  fprintf(out, "machine: %s, %s, %ld CPUs online\n", u.machine, cpu,
          sysconf(_SC_NPROCESSORS_ONLN));
  fprintf(out, "date:    %s, load average %.2f %.2f %.2f\n", date,
          load[0], load[1], load[2]);

  /* Numbers from an unoptimised build say nothing about the product. */
#ifdef __OPTIMIZE__
  fprintf(out, "build:   optimised, %s\n", __VERSION__);
#else
  fprintf(out, "build:   NOT OPTIMISED (use --buildtype=release), %s\n",
          __VERSION__);
#endif
}
