#include "load.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/epoll.h>
#include <unistd.h>

#include "proc.h"

/*
 * Calls in flight are found by id in a ring this large: far more than
 * the server lets 8 connections have (64 each, PW_IPC_MAX_IN_FLIGHT).
 */
#define RING      65536
#define RING_MASK (RING - 1)

/* Latencies kept per row; a longer run keeps the first this many. */
#define LAT_MAX   (16u * 1024 * 1024)

typedef struct slot {
  uint64_t id;
  double   sent;     /* when it was sent, or was due to be */
} slot_t;

typedef struct client {
  bench_ws_t   *ws;
  bench_load_t *load;
} client_t;

struct bench_load {
  client_t             c[BENCH_LOAD_CLIENTS_MAX];
  size_t               n;
  int                  epfd;

  char                *pre;
  size_t               pre_len;
  char                *post;
  size_t               post_len;
  char                *req;         /* room for pre, an id and post */
  bench_load_check_fn  check;
  void                *check_data;

  bench_load_row_t    *row;         /* the row running */
  int                  closed;      /* closed loop: answer, then send */
  int                  stopping;    /* the slice is over: send no more */
  uint64_t             next_id;
  size_t               in_flight;
  slot_t               ring[RING];
  char                 err[512];
};

static int
fail(bench_load_t *l, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static int
fail(bench_load_t *l, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(l->err, sizeof(l->err), fmt, ap);
  va_end(ap);
  return -1;
}

int
bench_load_new(bench_load_t **out, bench_ws_t *const *conns, size_t n,
               const char *pre, const char *post,
               bench_load_check_fn check, void *data)
{
  struct epoll_event ev;
  bench_load_t *l;
  size_t i;

  *out = NULL;
  if (n == 0 || n > BENCH_LOAD_CLIENTS_MAX)
    return -1;
  l = calloc(1, sizeof(*l));
  if (l == NULL)
    return -1;
  l->epfd = -1;

  l->pre = strdup(pre);
  l->post = strdup(post);
  l->pre_len = strlen(pre);
  l->post_len = strlen(post);
  l->req = malloc(l->pre_len + 24 + l->post_len);
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (l->pre == NULL || l->post == NULL || l->req == NULL || l->epfd < 0)
    goto fail;
  memcpy(l->req, pre, l->pre_len);
  l->check = check;
  l->check_data = data;

  l->n = n;
  for (i = 0; i < n; i++) {
    l->c[i].ws = conns[i];
    l->c[i].load = l;
    ev.events = EPOLLIN;
    ev.data.ptr = &l->c[i];
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, bench_ws_fd(conns[i]), &ev) != 0)
      goto fail;
  }
  *out = l;
  return 0;

fail:
  bench_load_free(l);
  return -1;
}

void
bench_load_free(bench_load_t *l)
{
  if (l == NULL)
    return;
  if (l->epfd >= 0)
    close(l->epfd);
  free(l->pre);
  free(l->post);
  free(l->req);
  free(l);
}

const char *
bench_load_error(const bench_load_t *l)
{
  return l->err;
}

static int
send_call(bench_load_t *l, client_t *c, double due)
{
  uint64_t id = l->next_id++;
  slot_t *s = &l->ring[id & RING_MASK];
  size_t len = l->pre_len;
  int n;

  if (s->id != 0)
    return fail(l, "over %d calls in flight", RING);

  n = snprintf(l->req + len, 24, "%llu", (unsigned long long) id);
  len += (size_t) n;
  memcpy(l->req + len, l->post, l->post_len);
  len += l->post_len;

  s->id = id;
  s->sent = due;
  l->in_flight++;
  if (bench_ws_send(c->ws, l->req, len) != 0)
    return fail(l, "%s", bench_ws_error(c->ws));
  return 0;
}

/*
 * The id of an answer: the echo puts `"id":N` first, as the call had
 * it; the daemon's encoder puts it after the result, last.  0 if none.
 */
static uint64_t
answer_id(const char *msg, size_t len)
{
  static const char key[] = "\"id\":";
  const char *p, *start = msg + (len > 40 ? len - 40 : 0);
  uint64_t id = 0;

  p = len > 40 ? memmem(msg, 40, key, 5) : NULL;
  if (p == NULL) {
    for (p = msg + len - 5; p >= start; p--) {
      if (memcmp(p, key, 5) == 0)
        break;
    }
    if (p < start)
      return 0;
  }
  for (p += 5; p < msg + len && *p >= '0' && *p <= '9'; p++)
    id = id * 10 + (uint64_t) (*p - '0');
  return id;
}

static void
record(bench_load_row_t *row, double seconds)
{
  uint32_t *p;
  double ns = seconds * 1e9;
  size_t cap;

  if (row->nlat == row->cap) {
    if (row->cap >= LAT_MAX)
      return;
    cap = row->cap > 0 ? row->cap * 2 : 65536;
    p = realloc(row->lat_ns, cap * sizeof(*p));
    if (p == NULL)
      return;
    row->lat_ns = p;
    row->cap = cap;
  }
  row->lat_ns[row->nlat++] = ns < 4e9 ? (uint32_t) ns : UINT32_MAX;
}

static int
on_answer(void *data, const char *msg, size_t len)
{
  client_t *c = data;
  bench_load_t *l = c->load;
  double now = bench_now();
  uint64_t id = answer_id(msg, len);
  slot_t *s = &l->ring[id & RING_MASK];

  if (id == 0 || s->id != id)
    return fail(l, "an answer to no call in flight: %.*s",
                (int) (len < 300 ? len : 300), msg);
  if (l->check(l->check_data, msg, len) != 0)
    return fail(l, "a wrong answer: %.*s", (int) (len < 300 ? len : 300),
                msg);

  record(l->row, now - s->sent);
  l->row->calls++;
  s->id = 0;
  l->in_flight--;

  if (l->closed && !l->stopping)
    return send_call(l, c, bench_now());
  return 0;
}

/* Reads every connection that is ready, waiting until `until` at most. */
static int
wait_until(bench_load_t *l, double until)
{
  struct epoll_event ev[BENCH_LOAD_CLIENTS_MAX];
  double left = until - bench_now();
  struct timespec ts;
  client_t *c;
  int n, i;

  if (left < 0)
    left = 0;
  ts.tv_sec = (time_t) left;
  ts.tv_nsec = (long) ((left - (double) ts.tv_sec) * 1e9);

  /* epoll_pwait2: the open loop's pacing needs better than 1 ms. */
  n = epoll_pwait2(l->epfd, ev, BENCH_LOAD_CLIENTS_MAX, &ts, NULL);
  if (n < 0 && errno != EINTR)
    return fail(l, "epoll_pwait2: %s", strerror(errno));
  if (bench_proc_interrupted)
    return fail(l, "interrupted");

  for (i = 0; i < n; i++) {
    c = ev[i].data.ptr;
    if (bench_ws_read(c->ws, on_answer, c) != 0) {
      if (l->err[0] == '\0')
        fail(l, "%s", bench_ws_error(c->ws));
      return -1;
    }
  }
  return 0;
}

/* The open loop's sends that are due by now, spread over the clients. */
static int
send_due(bench_load_t *l, bench_load_row_t *row, double *next,
         double interval, double end, size_t *turn)
{
  double now = bench_now();

  while (*next <= now && *next < end) {
    if (now - *next > row->max_lag_s)
      row->max_lag_s = now - *next;
    if (send_call(l, &l->c[*turn % row->clients], *next) != 0)
      return -1;
    (*turn)++;
    *next += interval;
  }
  return 0;
}

int
bench_load_slice(bench_load_row_t *row, int slice, double seconds)
{
  bench_load_t *l = row->load;
  double start, end, next, drain, interval = 0;
  uint64_t calls0 = row->calls;
  size_t i, turn = 0;

  l->err[0] = '\0';
  if (row->clients == 0 || row->clients > l->n || slice < 0
      || slice >= BENCH_SLICES)
    return fail(l, "bad row");
  if (l->next_id == 0)
    l->next_id = 1;
  l->row = row;
  l->closed = row->rate <= 0;
  l->stopping = 0;

  start = next = bench_now();
  end = start + seconds;
  if (l->closed) {
    for (i = 0; i < row->clients; i++) {
      if (send_call(l, &l->c[i], start) != 0)
        return -1;
    }
  } else {
    interval = 1 / row->rate;
  }

  while (bench_now() < end) {
    if (!l->closed && send_due(l, row, &next, interval, end, &turn) != 0)
      return -1;
    if (wait_until(l, l->closed || next >= end ? end : next) != 0)
      return -1;
  }

  /* Calls due before the end go out, however late the wake-up was. */
  if (!l->closed && send_due(l, row, &next, interval, end, &turn) != 0)
    return -1;
  row->slice_rate[slice] = (double) (row->calls - calls0)
                           / (bench_now() - start);

  /* What is still in flight is answered before the next row runs. */
  l->stopping = 1;
  drain = bench_now() + BENCH_WS_TIMEOUT_S;
  while (l->in_flight > 0) {
    if (bench_now() > drain)
      return fail(l, "%zu calls unanswered after %d s", l->in_flight,
                  BENCH_WS_TIMEOUT_S);
    if (wait_until(l, drain) != 0)
      return -1;
  }
  return 0;
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

double
bench_load_rate(const bench_load_row_t *row)
{
  double r[BENCH_SLICES];

  memcpy(r, row->slice_rate, sizeof(r));
  qsort(r, BENCH_SLICES, sizeof(r[0]), cmp_double);
  return (r[(BENCH_SLICES - 1) / 2] + r[BENCH_SLICES / 2]) / 2;
}

static int
cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

  return (x > y) - (x < y);
}

double
bench_load_quantile(bench_load_row_t *row, double p)
{
  size_t k;

  if (row->nlat == 0)
    return 0;
  qsort(row->lat_ns, row->nlat, sizeof(row->lat_ns[0]), cmp_u32);

  /* The nearest rank: the smallest value with p of them at or below. */
  k = (size_t) (p * (double) row->nlat + 0.999999);
  k = k > 0 ? k - 1 : 0;
  if (k >= row->nlat)
    k = row->nlat - 1;
  return row->lat_ns[k] / 1000.0;
}

void
bench_load_row_clear(bench_load_row_t *row)
{
  free(row->lat_ns);
  row->lat_ns = NULL;
  row->nlat = row->cap = 0;
}
