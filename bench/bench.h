/*
 * What every benchmark shares: a monotonic clock, a loop that runs an
 * operation for a fixed time after a warm-up, the options they all take,
 * and a header that says which machine the numbers came from.
 *
 * Benchmarks print tables and never pass or fail on a number: a table
 * compares pinwarden with a limit measured in the same run, because a
 * ratio travels between machines and an absolute time does not.
 */
#ifndef PW_BENCH_H
#define PW_BENCH_H

#include <stdio.h>

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);

/*
 * One operation; 0 when it did what the benchmark expects.  A wrong
 * answer stops the run: a fast wrong answer measures nothing.
 */
typedef int (*bench_op_fn)(void *data);

/*
 * The timed part is cut into this many equal slices.  Short slices that
 * take turns keep the ratios steady on a machine busy with other work.
 */
#define BENCH_SLICES 50

typedef struct bench_result {
  double ops;        /* operations completed in the timed part */
  double seconds;    /* the timed part, measured */
  double median_ns;  /* the median slice's time per operation */
} bench_result_t;

/* The most cases one bench_run compares. */
#define BENCH_CASES_MAX 8

/* One row of a table: what to run, and what came of it. */
typedef struct bench_case {
  bench_op_fn     op;
  void           *data;
  bench_result_t  r;
  int             failed;   /* op gave a wrong answer */
  unsigned long   batch;    /* operations between clock reads */
} bench_case_t;

/*
 * Runs each case for `warmup` seconds, then for `seconds` in BENCH_SLICES
 * equal slices, the cases taking turns slice by slice: what else the
 * machine does then falls on all of them alike, and their ratio holds.
 * Operations run in batches sized from the warm-up so that reading the
 * clock costs under a thousandth of the time.  Returns 0, or -1 when an
 * op failed (that case's `failed` is set) or n is over BENCH_CASES_MAX.
 */
int bench_run(bench_case_t *cases, size_t n, double warmup, double seconds);

/*
 * Time per operation: the median slice's, so that a burst of other work
 * on the machine during one slice moves the figure less than a mean.
 */
double bench_ns_per_op(const bench_result_t *r);

/*
 * Reads "--seconds N" (N > 0) and the flags named in `flags` (each set
 * to 1 when present).  Prints usage and returns -1 on anything else.
 */
typedef struct bench_flag {
  const char *name;   /* "--rsa" */
  int        *value;
} bench_flag_t;

int bench_options(int argc, char **argv, double *seconds,
                  const bench_flag_t *flags, size_t nflags,
                  const char *usage);

/*
 * A title, then the machine, the date with the load average (a loaded
 * machine gives slower, noisier figures), and the build.
 */
void bench_print_machine(FILE *out, const char *title);

#endif
