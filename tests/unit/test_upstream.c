/*
 * The upstream connector against real programs on loopback: tinyproxy
 * (HTTP CONNECT, Basic auth), microsocks (SOCKS5, RFC 1929 auth), a TLS
 * front of the test's own before tinyproxy (an https upstream), an echo
 * server and a greeter that says hello and hangs up as targets, a port
 * nobody listens on, and a listener that never answers.  Every good
 * connection must carry a megabyte both ways at once (the https bridge
 * must hold back rather than buffer without end) and pass the target's
 * hang-up on; every failure must map to the status code the gateway
 * answers with and name the upstream in its reason.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cases.h"
#include "gateway/upstream.h"
#include "upstream_servers.h"

TestSuite(upstream, .init = servers_start, .fini = servers_stop,
          .timeout = 60);

/* Which upstream a case goes through, and which of its ports. */
enum { UP_DIRECT, UP_HTTP, UP_HTTPS, UP_SOCKS5, UP_SOCKS5H };
enum { AT_LIVE, AT_CLOSED, AT_SILENT, AT_PLAIN /* the echo server */ };

/* Where the case connects to. */
enum { TO_ECHO, TO_HELLO, TO_SITE, TO_CLOSED, TO_UNKNOWN, TO_PORT9 };

static void
make_proxy(pw_proxy_t *p, int kind, int at, const char *user,
           const char *pass)
{
  static const char *schemes[] = { "", "http", "https", "socks5",
                                   "socks5h" };
  static const uint16_t *ports[] = { NULL, &srv.http_port, &srv.tls_port,
                                     &srv.socks_port, &srv.socks_port };

  memset(p, 0, sizeof(*p));
  snprintf(p->scheme, sizeof(p->scheme), "%s", schemes[kind]);
  if (kind == UP_DIRECT)
    return;
  snprintf(p->host, sizeof(p->host), "127.0.0.1");
  p->user = (char *) user;
  p->password = (char *) pass;
  if (at == AT_CLOSED)
    p->port = srv.closed_port;
  else if (at == AT_SILENT)
    p->port = srv.silent_port;
  else if (at == AT_PLAIN)
    p->port = srv.echo_port;
  else
    p->port = *ports[kind];
}

static uint64_t
now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/*
 * The bytes a good connection must carry, checked in threads of their
 * own while the loop runs (the https bridge pumps on the loop).  A
 * writer sends IO_BYTES while the reader takes them back, so neither
 * side's buffers can hide a bridge that stops moving.
 */
#define IO_BYTES (1024 * 1024)

typedef struct io {
  int         fd;
  int         to;          /* TO_HELLO, or an echo */
  char        error[256];  /* empty when all went well */
  uv_async_t  done;
  pthread_t   thread;
} io_t;

static unsigned char
pattern(size_t i)
{
  return (unsigned char) (i * 7 + i / 4093);
}

static void *
io_writer(void *arg)
{
  io_t *io = arg;
  unsigned char buf[8192];
  size_t sent = 0, i, n;

  while (sent < IO_BYTES) {
    n = IO_BYTES - sent < sizeof(buf) ? IO_BYTES - sent : sizeof(buf);
    for (i = 0; i < n; i++)
      buf[i] = pattern(sent + i);
    if (write_all(io->fd, buf, n) != 0)
      break;
    sent += n;
  }
  return NULL;
}

static void
io_echo(io_t *io)
{
  unsigned char buf[8192];
  size_t got = 0, i;
  pthread_t w;
  ssize_t n;

  pthread_create(&w, NULL, io_writer, io);
  while (got < IO_BYTES && io->error[0] == '\0') {
    n = read(io->fd, buf, sizeof(buf));
    if (n <= 0) {
      snprintf(io->error, sizeof(io->error), "read after %zu bytes: %s",
               got, n == 0 ? "EOF" : strerror(errno));
      break;
    }
    for (i = 0; i < (size_t) n; i++)
      if (buf[i] != pattern(got + i))
        snprintf(io->error, sizeof(io->error), "byte %zu differs",
                 got + i);
    got += (size_t) n;
  }
  shutdown(io->fd, SHUT_RDWR);
  pthread_join(w, NULL);
}

/* The greeter's hang-up must arrive as the end of the stream. */
static void
io_hello(io_t *io)
{
  char buf[64];
  size_t got = 0;
  ssize_t n;

  while ((n = read(io->fd, buf + got, sizeof(buf) - 1 - got)) > 0)
    got += (size_t) n;
  buf[got] = '\0';
  if (n < 0)
    snprintf(io->error, sizeof(io->error), "read: %s", strerror(errno));
  else if (strcmp(buf, "hello\n") != 0)
    snprintf(io->error, sizeof(io->error), "read \"%s\"", buf);
}

static void *
io_main(void *arg)
{
  io_t *io = arg;
  struct timeval tv = { .tv_sec = 5 };

  fcntl(io->fd, F_SETFL, fcntl(io->fd, F_GETFL) & ~O_NONBLOCK);
  setsockopt(io->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(io->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (io->to == TO_HELLO)
    io_hello(io);
  else
    io_echo(io);
  close(io->fd);
  uv_async_send(&io->done);
  return NULL;
}

/* Running one attempt on a loop of the test's own */

typedef struct result {
  int            calls;
  pw_up_status_t status;
  int            fd;
  char           reason[1024];
  pw_up_t       *up;
  uv_loop_t     *loop;
  int            to;
  bool           io_ran;
  io_t           io;
  uv_timer_t     wait;        /* for the echo's end, after the io */
  int            waited_ms;
  bool           echo_ended;
} result_t;

/*
 * The caller closed its socket: the connection to the echo must end
 * without pw_up_close (through the bridge too), within a second.
 */
static void
on_wait(uv_timer_t *t)
{
  result_t *r = t->data;

  r->waited_ms += 10;
  r->echo_ended = __atomic_load_n(&echo_open, __ATOMIC_SEQ_CST) == 0;
  if (!r->echo_ended && r->waited_ms < 1000)
    return;
  uv_close((uv_handle_t *) t, NULL);
  pw_up_close(r->up, NULL, NULL);
}

static void
on_io_done(uv_async_t *a)
{
  result_t *r = a->data;

  pthread_join(r->io.thread, NULL);
  uv_close((uv_handle_t *) a, NULL);
  uv_timer_init(r->loop, &r->wait);
  r->wait.data = r;
  uv_timer_start(&r->wait, on_wait, 10, 10);
}

/* A good socket is exercised before the connector closes. */
static void
on_result(void *data, pw_up_status_t status, int fd, const char *reason)
{
  result_t *r = data;

  r->calls++;
  r->status = status;
  r->fd = fd;
  snprintf(r->reason, sizeof(r->reason), "%s", reason);
  if (fd < 0) {
    pw_up_close(r->up, NULL, NULL);
    return;
  }

  r->io_ran = true;
  r->io.fd = fd;
  r->io.to = r->to;
  uv_async_init(r->loop, &r->io.done, on_io_done);
  r->io.done.data = r;
  pthread_create(&r->io.thread, NULL, io_main, &r->io);
}

/* Set by a test that must run without the test CA. */
static bool no_roots;

static void
run_connect(const pw_up_req_t *req, int to, result_t *r)
{
  uv_loop_t loop;
  pw_err_t err = { 0 };
  int rc;

  memset(r, 0, sizeof(*r));
  r->fd = -1;
  r->to = to;
  r->loop = &loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  rc = pw_up_new(&r->up, &loop, &err);
  cr_assert_eq(rc, PW_OK, "pw_up_new: %s", err.msg);
  rc = pw_up_set_proxy_roots(r->up, no_roots ? NULL : srv.roots, &err);
  cr_assert_eq(rc, PW_OK, "pw_up_set_proxy_roots: %s", err.msg);

  rc = pw_up_connect(r->up, req, on_result, r, NULL, &err);
  cr_assert_eq(rc, PW_OK, "pw_up_connect: %s", err.msg);
  cr_assert_eq(r->calls, 0, "called from inside pw_up_connect");

  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(r->calls, 1, "callback ran %d times", r->calls);
  cr_assert_eq(uv_loop_close(&loop), 0, "handles left on the loop");
}

static const pw_resolve_t site_map[] = {
  { "site.test", "127.0.0.1" },
};

/* Connections */

typedef struct conn_case {
  const char    *what;
  int            kind, at;
  const char    *user, *pass;
  int            to;
  int            map;        /* pass the resolve map */
  uint64_t       timeout_ms;
  pw_up_status_t want;
  int            http;
  const char    *says;       /* in the reason, besides the upstream */
} conn_case_t;

static const conn_case_t conn_cases[] = {
  /* Direct to an IP literal. */
  { "direct", UP_DIRECT, AT_LIVE, NULL, NULL, TO_ECHO, 0, 2000,
    PW_UP_OK, 200, "connected" },
  /* Direct, the name found in the profile's resolve map. */
  { "direct via map", UP_DIRECT, AT_LIVE, NULL, NULL, TO_SITE, 1, 2000,
    PW_UP_OK, 200, "connected" },
  /* Direct to a port nobody listens on. */
  { "direct refused", UP_DIRECT, AT_LIVE, NULL, NULL, TO_CLOSED, 0, 2000,
    PW_UP_REFUSED, 502, "connection refused" },
  /* HTTP CONNECT with the right password. */
  { "http", UP_HTTP, AT_LIVE, USER, PASS, TO_ECHO, 0, 2000,
    PW_UP_OK, 200, "connected" },
  /* HTTP CONNECT with a wrong password. */
  { "http bad password", UP_HTTP, AT_LIVE, USER, "nope", TO_ECHO, 0,
    2000, PW_UP_AUTH, 407, "rejected the credentials (40" },
  /* HTTP CONNECT without credentials. */
  { "http no user", UP_HTTP, AT_LIVE, NULL, NULL, TO_ECHO, 0, 2000,
    PW_UP_AUTH, 407, "rejected the credentials (40" },
  /* The HTTP upstream's port is closed. */
  { "http upstream closed", UP_HTTP, AT_CLOSED, USER, PASS, TO_ECHO, 0,
    2000, PW_UP_REFUSED, 502, "the upstream refused the connection" },
  /* The HTTP upstream accepts and never answers. */
  { "http upstream silent", UP_HTTP, AT_SILENT, USER, PASS, TO_ECHO, 0,
    500, PW_UP_TIMEOUT, 504, "timed out after 500 ms" },
  /* The target behind the HTTP upstream refuses. */
  { "http target refused", UP_HTTP, AT_LIVE, USER, PASS, TO_CLOSED, 0,
    2000, PW_UP_DENIED, 502, "answered CONNECT with" },
  /* tinyproxy forbids CONNECT to a port not on its list. */
  { "http port forbidden", UP_HTTP, AT_LIVE, USER, PASS, TO_PORT9, 0,
    2000, PW_UP_DENIED, 502, "answered CONNECT with 403" },
  /* An HTTP upstream never gets the map: the name goes to it. */
  { "http ignores map", UP_HTTP, AT_LIVE, USER, PASS, TO_SITE, 1, 5000,
    PW_UP_DENIED, 502, "answered CONNECT with" },
  /* SOCKS5h with the right password. */
  { "socks5h", UP_SOCKS5H, AT_LIVE, USER, PASS, TO_ECHO, 0, 2000,
    PW_UP_OK, 200, "connected" },
  /* SOCKS5h with a wrong password (RFC 1929 status not 0). */
  { "socks5h bad password", UP_SOCKS5H, AT_LIVE, USER, "nope", TO_ECHO,
    0, 2000, PW_UP_AUTH, 407, "rejected the credentials" },
  /* SOCKS5h without credentials: microsocks wants them. */
  { "socks5h no user", UP_SOCKS5H, AT_LIVE, NULL, NULL, TO_ECHO, 0, 2000,
    PW_UP_AUTH, 407, "authentication" },
  /* SOCKS5 resolves here, from the map. */
  { "socks5 via map", UP_SOCKS5, AT_LIVE, USER, PASS, TO_SITE, 1, 2000,
    PW_UP_OK, 200, "connected" },
  /* SOCKS5h sends the name, so the map is not used. */
  { "socks5h ignores map", UP_SOCKS5H, AT_LIVE, USER, PASS, TO_SITE, 1,
    5000, PW_UP_DENIED, 502, "SOCKS5" },
  /* The SOCKS upstream's port is closed. */
  { "socks5h upstream closed", UP_SOCKS5H, AT_CLOSED, USER, PASS,
    TO_ECHO, 0, 2000, PW_UP_REFUSED, 502,
    "the upstream refused the connection" },
  /* The SOCKS upstream accepts and never answers. */
  { "socks5h upstream silent", UP_SOCKS5H, AT_SILENT, USER, PASS,
    TO_ECHO, 0, 500, PW_UP_TIMEOUT, 504, "timed out after 500 ms" },
  /* The target behind the SOCKS upstream refuses. */
  { "socks5h target refused", UP_SOCKS5H, AT_LIVE, USER, PASS,
    TO_CLOSED, 0, 2000, PW_UP_REFUSED, 502, "SOCKS5 connection refused" },
  /* The SOCKS upstream cannot find the name. */
  { "socks5h unknown name", UP_SOCKS5H, AT_LIVE, USER, PASS, TO_UNKNOWN,
    0, 5000, PW_UP_DENIED, 502, "SOCKS5" },
  /* HTTP CONNECT inside TLS to the proxy, through the bridge. */
  { "https", UP_HTTPS, AT_LIVE, USER, PASS, TO_ECHO, 0, 2000,
    PW_UP_OK, 200, "connected" },
  /* The same with a wrong password. */
  { "https bad password", UP_HTTPS, AT_LIVE, USER, "nope", TO_ECHO, 0,
    2000, PW_UP_AUTH, 407, "rejected the credentials (40" },
  /* The HTTPS upstream's port is closed. */
  { "https upstream closed", UP_HTTPS, AT_CLOSED, USER, PASS, TO_ECHO, 0,
    2000, PW_UP_REFUSED, 502, "the upstream refused the connection" },
  /* The HTTPS upstream accepts and never starts TLS. */
  { "https upstream silent", UP_HTTPS, AT_SILENT, USER, PASS, TO_ECHO, 0,
    500, PW_UP_TIMEOUT, 504, "timed out after 500 ms" },
  /* The target's hang-up reaches the caller through each kind. */
  { "direct hang-up", UP_DIRECT, AT_LIVE, NULL, NULL, TO_HELLO, 0, 2000,
    PW_UP_OK, 200, "connected" },
  { "http hang-up", UP_HTTP, AT_LIVE, USER, PASS, TO_HELLO, 0, 2000,
    PW_UP_OK, 200, "connected" },
  { "socks5h hang-up", UP_SOCKS5H, AT_LIVE, USER, PASS, TO_HELLO, 0,
    2000, PW_UP_OK, 200, "connected" },
  { "https hang-up", UP_HTTPS, AT_LIVE, USER, PASS, TO_HELLO, 0, 2000,
    PW_UP_OK, 200, "connected" },
};

static void
target(const conn_case_t *c, pw_up_req_t *req)
{
  switch (c->to) {
  case TO_ECHO:    req->host = "127.0.0.1"; req->port = srv.echo_port;
                   break;
  case TO_HELLO:   req->host = "127.0.0.1"; req->port = srv.hello_port;
                   break;
  case TO_SITE:    req->host = "site.test"; req->port = srv.echo_port;
                   break;
  case TO_CLOSED:  req->host = "127.0.0.1"; req->port = srv.closed_port;
                   break;
  case TO_UNKNOWN: req->host = "nowhere.invalid"; req->port = 80;
                   break;
  case TO_PORT9:   req->host = "127.0.0.1"; req->port = 9;
                   break;
  }
}

ParameterizedTestParameters(upstream, connect)
{
  return case_indices(NCASES(conn_cases));
}

ParameterizedTest(size_t *i, upstream, connect)
{
  const conn_case_t *c = &conn_cases[*i];
  pw_proxy_t proxy;
  pw_up_req_t req = { 0 };
  result_t r;
  uint64_t start;

  make_proxy(&proxy, c->kind, c->at, c->user, c->pass);
  req.proxy = &proxy;
  target(c, &req);
  if (c->map) {
    req.resolve = site_map;
    req.nresolve = NCASES(site_map);
  }
  req.timeout_ms = c->timeout_ms;

  start = now_ms();
  run_connect(&req, c->to, &r);
  cr_log_info("%s: %s, %s", c->what, pw_up_status_name(r.status),
              r.reason);

  cr_assert_eq(r.status, c->want, "%s: status %s, want %s (%s)", c->what,
               pw_up_status_name(r.status), pw_up_status_name(c->want),
               r.reason);
  cr_assert_eq(pw_up_status_http(r.status), c->http, "%s: http %d",
               c->what, pw_up_status_http(r.status));
  cr_assert_not_null(strstr(r.reason, c->says), "%s: reason \"%s\" "
                     "lacks \"%s\"", c->what, r.reason, c->says);
  cr_assert_lt(now_ms() - start, c->timeout_ms + 1500,
               "%s: took %llu ms", c->what,
               (unsigned long long) (now_ms() - start));
  if (c->kind != UP_DIRECT)
    cr_assert_not_null(strstr(r.reason, "://127.0.0.1:"),
                       "%s: reason \"%s\" names no upstream", c->what,
                       r.reason);
  cr_assert_null(strstr(r.reason, "nope"), "a password in the reason");

  cr_assert_eq(r.io_ran, c->want == PW_UP_OK, "%s: socket %d",
               c->what, r.fd);
  cr_assert_str_empty(r.io.error, "%s: %s", c->what, r.io.error);
  cr_assert(!r.io_ran || r.echo_ended, "%s: the tunnel outlived the "
            "caller's socket", c->what);
}

/* Probes */

typedef struct probe_case {
  const char    *what;
  int            kind, at;
  const char    *user, *pass;
  pw_up_status_t want;
  int            untrusted;  /* the test CA not given */
} probe_case_t;

static const probe_case_t probe_cases[] = {
  /* Direct: nothing to ask. */
  { "direct", UP_DIRECT, AT_LIVE, NULL, NULL, PW_UP_OK, 0 },
  /* tinyproxy accepts the connection. */
  { "http", UP_HTTP, AT_LIVE, USER, PASS, PW_UP_OK, 0 },
  /* Nothing listens where the HTTP upstream should be. */
  { "http dead", UP_HTTP, AT_CLOSED, USER, PASS, PW_UP_REFUSED, 0 },
  /* microsocks takes the login and answers the request. */
  { "socks5h", UP_SOCKS5H, AT_LIVE, USER, PASS, PW_UP_OK, 0 },
  /* The same for socks5 (the probe's target is an IP literal). */
  { "socks5", UP_SOCKS5, AT_LIVE, USER, PASS, PW_UP_OK, 0 },
  /* microsocks refuses the login. */
  { "socks5h bad password", UP_SOCKS5H, AT_LIVE, USER, "nope",
    PW_UP_AUTH, 0 },
  /* Nothing listens where the SOCKS upstream should be. */
  { "socks5 dead", UP_SOCKS5, AT_CLOSED, USER, PASS, PW_UP_REFUSED, 0 },
  /* A SOCKS upstream that accepts and never greets. */
  { "socks5h silent", UP_SOCKS5H, AT_SILENT, USER, PASS, PW_UP_TIMEOUT,
    0 },
  /* The TLS front completes a handshake that verifies. */
  { "https", UP_HTTPS, AT_LIVE, USER, PASS, PW_UP_OK, 0 },
  /* A TCP listener that never speaks TLS. */
  { "https silent", UP_HTTPS, AT_SILENT, USER, PASS, PW_UP_TIMEOUT, 0 },
  /* Something not TLS: it echoes our ClientHello. */
  { "https to echo", UP_HTTPS, AT_PLAIN, USER, PASS, PW_UP_PROTOCOL, 0 },
  /* A certificate no trusted root signed. */
  { "https untrusted", UP_HTTPS, AT_LIVE, USER, PASS, PW_UP_PROTOCOL, 1 },
};

ParameterizedTestParameters(upstream, probe)
{
  return case_indices(NCASES(probe_cases));
}

ParameterizedTest(size_t *i, upstream, probe)
{
  const probe_case_t *c = &probe_cases[*i];
  pw_proxy_t proxy;
  pw_err_t err = { 0 };
  uv_loop_t loop;
  result_t r = { .fd = -1 };
  int rc;

  make_proxy(&proxy, c->kind, c->at, c->user, c->pass);
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(pw_up_new(&r.up, &loop, &err), PW_OK, "%s", err.msg);
  if (!c->untrusted)
    cr_assert_eq(pw_up_set_proxy_roots(r.up, srv.roots, &err), PW_OK,
                 "%s", err.msg);

  rc = pw_up_probe(r.up, &proxy, 500, on_result, &r, NULL, &err);
  cr_assert_eq(rc, PW_OK, "%s: pw_up_probe: %s", c->what, err.msg);
  cr_assert_eq(r.calls, 0, "%s: called from inside pw_up_probe",
               c->what);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_log_info("probe %s: %s, %s", c->what, pw_up_status_name(r.status),
              r.reason);

  cr_assert_eq(r.calls, 1, "%s: callback ran %d times", c->what,
               r.calls);
  cr_assert_eq(r.status, c->want, "%s: status %s, want %s (%s)", c->what,
               pw_up_status_name(r.status), pw_up_status_name(c->want),
               r.reason);
  cr_assert_eq(r.fd, -1, "%s: a probe handed a socket over", c->what);
  cr_assert(c->want != PW_UP_PROTOCOL || strstr(r.reason, "TLS") != NULL,
            "%s: \"%s\" does not say TLS", c->what, r.reason);
  cr_assert_eq(uv_loop_close(&loop), 0, "handles left on the loop");
}

/* Requests refused before anything starts */

typedef struct bad_case {
  const char *what;
  const char *scheme;
  const char *host;
  uint16_t    port;
  const char *says;
} bad_case_t;

static const bad_case_t bad_cases[] = {
  /* A target that would change the URL curl is given. */
  { "slash in host", "", "a/b@127.0.0.1", 80, "bad target" },
  { "empty host", "", "", 80, "bad target" },
  { "port 0", "", "127.0.0.1", 0, "bad target" },
  { "bad v6 literal", "", "::g", 80, "bad target" },
  { "name too long", "", NULL, 80, "bad target" },
  /* A scheme the profile parser would never let through. */
  { "ftp upstream", "ftp", "127.0.0.1", 80, "unknown upstream scheme" },
};

ParameterizedTestParameters(upstream, bad_request)
{
  return case_indices(NCASES(bad_cases));
}

ParameterizedTest(size_t *i, upstream, bad_request)
{
  const bad_case_t *c = &bad_cases[*i];
  char longname[PW_HOST_MAX + 2];
  pw_proxy_t proxy = { 0 };
  pw_up_req_t req = { 0 };
  pw_err_t err = { 0 };
  uv_loop_t loop;
  result_t r = { .fd = -1 };
  int rc;

  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  snprintf(proxy.scheme, sizeof(proxy.scheme), "%s", c->scheme);
  snprintf(proxy.host, sizeof(proxy.host), "127.0.0.1");
  proxy.port = srv.http_port;
  req.proxy = &proxy;
  req.host = c->host != NULL ? c->host : longname;
  req.port = c->port;

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(pw_up_new(&r.up, &loop, &err), PW_OK, "%s", err.msg);
  rc = pw_up_connect(r.up, &req, on_result, &r, NULL, &err);
  cr_assert_eq(rc, PW_EINVAL, "%s: rc %s", c->what, pw_err_name(rc));
  cr_assert_not_null(strstr(err.msg, c->says), "%s: \"%s\"", c->what,
                     err.msg);
  if (c->scheme[0] != '\0') {
    rc = pw_up_probe(r.up, &proxy, 0, on_result, &r, NULL, &err);
    cr_assert_eq(rc, PW_EINVAL, "%s: probe rc %s", c->what,
                 pw_err_name(rc));
  }

  pw_up_close(r.up, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(r.calls, 0, "%s: a callback after a refusal", c->what);
  cr_assert_eq(uv_loop_close(&loop), 0, "handles left on the loop");
}

/* The environment's proxy variables */

/* No proxy variable turns a direct connection into a proxied one. */
Test(upstream, env_proxy_ignored_direct)
{
  static const char *vars[] = { "http_proxy", "HTTP_PROXY",
                                "https_proxy", "HTTPS_PROXY",
                                "ALL_PROXY", "all_proxy" };
  char dead[64];
  pw_up_req_t req = { 0 };
  result_t r;
  size_t k;

  snprintf(dead, sizeof(dead), "http://127.0.0.1:%u",
           (unsigned) srv.closed_port);
  for (k = 0; k < NCASES(vars); k++)
    setenv(vars[k], dead, 1);

  req.host = "127.0.0.1";
  req.port = srv.echo_port;
  req.timeout_ms = 2000;
  run_connect(&req, TO_ECHO, &r);
  cr_assert_eq(r.status, PW_UP_OK, "status %s (%s)",
               pw_up_status_name(r.status), r.reason);
  cr_assert_str_empty(r.io.error, "%s", r.io.error);
}

/* NO_PROXY cannot send a name around the upstream. */
Test(upstream, env_no_proxy_ignored)
{
  pw_proxy_t proxy;
  pw_up_req_t req = { 0 };
  result_t r;

  setenv("NO_PROXY", "*", 1);
  setenv("no_proxy", "*", 1);
  make_proxy(&proxy, UP_HTTP, AT_LIVE, USER, "nope");
  req.proxy = &proxy;
  req.host = "127.0.0.1";
  req.port = srv.echo_port;
  req.timeout_ms = 2000;
  run_connect(&req, TO_ECHO, &r);
  cr_assert_eq(r.status, PW_UP_AUTH, "status %s (%s): the upstream was "
               "bypassed", pw_up_status_name(r.status), r.reason);
}

/* A tunnel through an https upstream checks the proxy's certificate. */
Test(upstream, https_untrusted)
{
  pw_proxy_t proxy;
  pw_up_req_t req = { 0 };
  result_t r;

  no_roots = true;
  make_proxy(&proxy, UP_HTTPS, AT_LIVE, USER, PASS);
  req.proxy = &proxy;
  req.host = "127.0.0.1";
  req.port = srv.echo_port;
  req.timeout_ms = 2000;
  run_connect(&req, TO_ECHO, &r);
  cr_assert_eq(r.status, PW_UP_PROTOCOL, "status %s (%s)",
               pw_up_status_name(r.status), r.reason);
  cr_assert_not_null(strstr(r.reason, "certificate"), "%s", r.reason);
}

/* Cancelling and closing */

typedef struct cancel_ctx {
  uv_timer_t    timer;
  pw_up_conn_t *conn;
  result_t      r;
  int           close_instead;
} cancel_ctx_t;

static void
on_cancel(uv_timer_t *t)
{
  cancel_ctx_t *x = t->data;

  if (!x->close_instead)
    pw_up_cancel(x->conn);
  pw_up_close(x->r.up, NULL, NULL);
  uv_close((uv_handle_t *) t, NULL);
}

static void
run_cancel(int kind, int close_instead, cancel_ctx_t *x)
{
  pw_proxy_t proxy;
  pw_up_req_t req = { 0 };
  pw_err_t err = { 0 };
  uv_loop_t loop;
  uint64_t start = now_ms();

  memset(x, 0, sizeof(*x));
  x->close_instead = close_instead;
  make_proxy(&proxy, kind, AT_SILENT, USER, PASS);
  req.proxy = &proxy;
  req.host = "127.0.0.1";
  req.port = srv.echo_port;
  req.timeout_ms = 3000;

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(pw_up_new(&x->r.up, &loop, &err), PW_OK, "%s", err.msg);
  cr_assert_eq(pw_up_connect(x->r.up, &req, on_result, &x->r, &x->conn,
                             &err), PW_OK, "%s", err.msg);
  cr_assert_not_null(x->conn);
  uv_timer_init(&loop, &x->timer);
  x->timer.data = x;
  uv_timer_start(&x->timer, on_cancel, 100, 0);

  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_lt(now_ms() - start, 1500, "the attempt outlived its cancel");
  cr_assert_eq(uv_loop_close(&loop), 0, "handles left on the loop");
}

/* A cancelled attempt never calls back; nothing is left on the loop. */
Test(upstream, cancel_http)
{
  cancel_ctx_t x;

  run_cancel(UP_HTTP, 0, &x);
  cr_assert_eq(x.r.calls, 0, "a cancelled attempt called back");
}

Test(upstream, cancel_socks)
{
  cancel_ctx_t x;

  run_cancel(UP_SOCKS5H, 0, &x);
  cr_assert_eq(x.r.calls, 0, "a cancelled attempt called back");
}

/* Closing the connector answers a running attempt with CANCELLED. */
Test(upstream, close_cancels)
{
  cancel_ctx_t x;

  run_cancel(UP_HTTP, 1, &x);
  cr_assert_eq(x.r.calls, 1, "callback ran %d times", x.r.calls);
  cr_assert_eq(x.r.status, PW_UP_CANCELLED, "status %s",
               pw_up_status_name(x.r.status));
  cr_assert_eq(x.r.fd, -1);
}

/* A short echo on a plain socket, from inside a callback. */
static void
echo_check(int fd)
{
  static const char ping[] = "ping through the upstream\n";
  char buf[sizeof(ping)];

  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  cr_assert_eq(write_all(fd, ping, sizeof(ping) - 1), 0, "write");
  cr_assert_eq(recv(fd, buf, sizeof(ping) - 1, MSG_WAITALL),
               (ssize_t) sizeof(ping) - 1, "read: %s", strerror(errno));
  cr_assert_arr_eq(buf, ping, sizeof(ping) - 1, "the echo differs");
  close(fd);
}

/* Many attempts on one connector, each with its own answer. */
typedef struct many {
  int      left;
  int      ok;
  pw_up_t *up;
} many_t;

static void
on_many(void *data, pw_up_status_t status, int fd, const char *reason)
{
  many_t *m = data;

  if (status == PW_UP_OK) {
    m->ok++;
    echo_check(fd);
  }
  if (--m->left == 0)
    pw_up_close(m->up, NULL, NULL);
}

Test(upstream, many_at_once)
{
  pw_proxy_t proxies[4];
  pw_up_req_t req = { 0 };
  pw_err_t err = { 0 };
  uv_loop_t loop;
  many_t m = { 0 };
  int k;

  make_proxy(&proxies[0], UP_DIRECT, AT_LIVE, NULL, NULL);
  make_proxy(&proxies[1], UP_HTTP, AT_LIVE, USER, PASS);
  make_proxy(&proxies[2], UP_SOCKS5, AT_LIVE, USER, PASS);
  make_proxy(&proxies[3], UP_SOCKS5H, AT_LIVE, USER, PASS);
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(pw_up_new(&m.up, &loop, &err), PW_OK, "%s", err.msg);

  req.host = "127.0.0.1";
  req.port = srv.echo_port;
  req.timeout_ms = 3000;
  for (k = 0; k < 16; k++) {
    req.proxy = &proxies[k % 4];
    cr_assert_eq(pw_up_connect(m.up, &req, on_many, &m, NULL, &err),
                 PW_OK, "%s", err.msg);
    m.left++;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(m.ok, 16, "%d of 16 connected", m.ok);
  cr_assert_eq(uv_loop_close(&loop), 0, "handles left on the loop");
}
