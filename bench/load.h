/*
 * Load over WebSocket connections: the same call sent again and again,
 * each answer checked and timed, either closed loop (each client sends
 * its next call when the answer to its last arrives: the rate the
 * server can give) or open loop (calls paced at a fixed rate, whatever
 * the answers do: the latency a client sees at that rate).
 *
 * A row runs in slices, so that the rows of a table can take turns and
 * share whatever else the machine is doing.  Each slice ends by waiting
 * for the calls still in flight, so one row's calls never wait behind
 * another's.
 */
#ifndef PW_BENCH_LOAD_H
#define PW_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "ws.h"

#define BENCH_LOAD_CLIENTS_MAX 8

/*
 * Whether an answer is the one expected: 0 when it is.  The id was
 * matched to a call in flight already.
 */
typedef int (*bench_load_check_fn)(void *data, const char *msg, size_t len);

typedef struct bench_load bench_load_t;

/*
 * Calls are the text pre, a decimal id, then post; each connection of
 * conns (borrowed, at most BENCH_LOAD_CLIENTS_MAX) is one client.
 */
int bench_load_new(bench_load_t **out, bench_ws_t *const *conns, size_t n,
                   const char *pre, const char *post,
                   bench_load_check_fn check, void *data);
void bench_load_free(bench_load_t *l);

/* Why the last slice failed. */
const char *bench_load_error(const bench_load_t *l);

/* One row of a table: how it loads the server, and what came of it. */
typedef struct bench_load_row {
  bench_load_t *load;
  size_t        clients;      /* the first `clients` connections */
  double        rate;         /* calls/s in all, paced; 0: closed loop */

  double        slice_rate[BENCH_SLICES];   /* answers/s in each slice */
  uint32_t     *lat_ns;       /* every call's latency */
  size_t        nlat;
  size_t        cap;
  uint64_t      calls;        /* answered */
  double        max_lag_s;    /* open loop: the sender's worst delay */
} bench_load_row_t;

/*
 * Runs slice number `slice` of row for `seconds`, then waits for the
 * calls in flight.  Latency runs from the time a call was sent (open
 * loop: was due to be sent, so a stall is not hidden by sending late)
 * to the time its whole answer was read.  -1 on a wrong answer, a
 * socket error, no answer within BENCH_WS_TIMEOUT_S, or an interrupt.
 */
int bench_load_slice(bench_load_row_t *row, int slice, double seconds);

/* The median slice's answers per second. */
double bench_load_rate(const bench_load_row_t *row);

/* The p-th quantile (0..1) of the latencies, in microseconds. */
double bench_load_quantile(bench_load_row_t *row, double p);

void bench_load_row_clear(bench_load_row_t *row);

#endif
