/*
 * The proxy head reader and the response tracker, driven as the gateway
 * drives them: each input fed whole, one octet at a time and seven at a
 * time, as bytes would arrive from a socket, with what each feed
 * reported written down as a transcript that must not depend on how the
 * bytes were cut.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "gateway/phead.h"

#define TRANSCRIPT_MAX 4096

/* How each case is fed: whole (0), one octet, seven octets at a time. */
static const size_t STEPS[] = { 0, 1, 7 };

/* Inputs too big to write out, built at run time. */
typedef enum gen {
  G_NONE = 0,
  G_LINE_8192,     /* a request line of exactly the cap */
  G_LINE_8193,
  G_HEAD_65536,    /* a head of exactly the cap */
  G_HEAD_65537,
  G_FIELDS_100,
  G_FIELDS_101,
  G_HOST_253,
  G_HOST_254,
  G_NAME_257,
  G_VALUE_16385
} gen_t;

/* A buffer the generators write into; a test runs in its own process. */
static char *gen_buf;

static size_t
gen_fill(char *p, char c, size_t n)
{
  memset(p, c, n);
  return n;
}

static size_t
generate(gen_t g, const char **in)
{
  static const char line[] = "GET http://a/ HTTP/1.1\r\n";
  size_t n = 0, i, rest, each;
  char *p;

  gen_buf = realloc(gen_buf, 128 * 1024);
  cr_assert_not_null(gen_buf);
  p = gen_buf;

  switch (g) {
  case G_LINE_8192:
  case G_LINE_8193:
    /* "GET http://a/" and " HTTP/1.1" are 22 of the line's octets. */
    n += (size_t) sprintf(p, "GET http://a/");
    n += gen_fill(p + n, 'x', (g == G_LINE_8192 ? 8192 : 8193) - 22);
    n += (size_t) sprintf(p + n, " HTTP/1.1\r\n\r\n");
    break;
  case G_HEAD_65536:
  case G_HEAD_65537:
    /* Five "X-Pad-N: vvv\r\n" (11 octets and the value) fill it up. */
    n += (size_t) sprintf(p, "%s", line);
    rest = (g == G_HEAD_65536 ? 65536 : 65537) - n - 2;
    each = rest / 5;
    for (i = 0; i < 5; i++) {
      n += (size_t) sprintf(p + n, "X-Pad-%zu: ", i);
      n += gen_fill(p + n, 'v', (i < 4 ? each : rest - 4 * each) - 11);
      n += (size_t) sprintf(p + n, "\r\n");
    }
    n += (size_t) sprintf(p + n, "\r\n");
    break;
  case G_FIELDS_100:
  case G_FIELDS_101:
    n += (size_t) sprintf(p, "%s", line);
    for (i = 0; i < (g == G_FIELDS_100 ? 100u : 101u); i++)
      n += (size_t) sprintf(p + n, "X-F%03zu: v\r\n", i);
    n += (size_t) sprintf(p + n, "\r\n");
    break;
  case G_HOST_253:
  case G_HOST_254:
    n += (size_t) sprintf(p, "GET http://");
    n += gen_fill(p + n, 'a', g == G_HOST_253 ? 253 : 254);
    n += (size_t) sprintf(p + n, "/ HTTP/1.1\r\n\r\n");
    break;
  case G_NAME_257:
    n += (size_t) sprintf(p, "%s", line);
    n += gen_fill(p + n, 'X', 257);
    n += (size_t) sprintf(p + n, ": v\r\n\r\n");
    break;
  case G_VALUE_16385:
    n += (size_t) sprintf(p, "%sX: ", line);
    n += gen_fill(p + n, 'v', 16385);
    n += (size_t) sprintf(p + n, "\r\n\r\n");
    break;
  case G_NONE:
    break;
  }
  *in = gen_buf;
  return n;
}

/* Request reader: the driver */

typedef struct run {
  int    rc;
  int    status;
  char   msg[PW_ERR_MAX];
  char   log[TRANSCRIPT_MAX];   /* what the feeds reported */
  char   fwd[2][1024];          /* the first two forward heads */
  size_t n_heads;
} run_t;

/* Appends an event to a transcript, " | " between events. */
static void
say(char *log, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static void
say(char *log, const char *fmt, ...)
{
  size_t n = strlen(log);
  va_list ap;

  if (n > 0 && n + 3 < TRANSCRIPT_MAX)
    n += (size_t) snprintf(log + n, TRANSCRIPT_MAX - n, " | ");
  va_start(ap, fmt);
  vsnprintf(log + n, TRANSCRIPT_MAX - n, fmt, ap);
  va_end(ap);
}

static void
say_head(run_t *o, const pw_phead_t *r)
{
  const pw_phead_request_t *q = pw_phead_request(r);
  const char *fwd;
  size_t len;

  cr_assert_not_null(q, "HEAD without a request");
  say(o->log, "H:%c %s %.40s:%u %.40s 1.%u %s%s%s%s",
      q->kind == PW_PHEAD_CONNECT ? 'C' : 'A', q->method, q->host,
      q->port, q->target != NULL ? q->target : "-", q->http_minor,
      q->keep_alive ? "k" : "", q->has_body ? "b" : "",
      q->chunked ? "c" : "", q->upgrade ? "u" : "");

  fwd = pw_phead_forward(r, &len);
  cr_assert_eq(fwd == NULL, q->kind == PW_PHEAD_CONNECT,
               "a forward head for %s", q->method);
  if (fwd != NULL && o->n_heads < 2)
    snprintf(o->fwd[o->n_heads], sizeof(o->fwd[0]), "%.*s", (int) len,
             fwd);
  o->n_heads++;
}

/*
 * Feeds in as a socket would deliver it, step octets more at a time (0:
 * all at once), feeding again after each event as the gateway does.
 */
static void
drive(const char *in, size_t len, size_t step, run_t *o)
{
  pw_phead_t *r = pw_phead_new();
  size_t off = 0, have, c, body = 0, loops = 0;
  pw_err_t err = { 0 };
  pw_phead_stage_t st;

  cr_assert_not_null(r);
  memset(o, 0, sizeof(*o));
  have = step == 0 ? len : (len < step ? len : step);

  for (;;) {
    cr_assert_lt(loops++, 4 * len + 64, "the driver does not advance");
    o->rc = pw_phead_feed(r, in + off, have - off, &c, &err);
    cr_assert_leq(c, have - off, "consumed %zu of %zu", c, have - off);
    off += c;
    st = pw_phead_stage(r);
    if (o->rc != PW_OK) {
      cr_assert_eq(st, PW_PHEAD_ERROR);
      cr_assert_eq(c, 0, "a failing feed consumed %zu", c);
      say(o->log, "X:%s %d", pw_err_name(o->rc), pw_phead_status(r));
      snprintf(o->msg, sizeof(o->msg), "%s", err.msg);
      o->status = pw_phead_status(r);
      break;
    }

    if (st == PW_PHEAD_HEAD) {
      say_head(o, r);
      continue;
    }
    if (st == PW_PHEAD_BODY || st == PW_PHEAD_MESSAGE_END)
      body += c;
    if (st == PW_PHEAD_MESSAGE_END) {
      say(o->log, "E:%zu", body);
      body = 0;
    }
    if (st == PW_PHEAD_TUNNEL) {
      say(o->log, "T:%zu", len - off);
      break;
    }
    if (st == PW_PHEAD_NEED_MORE || st == PW_PHEAD_BODY)
      cr_assert_eq(off, have, "stage %d left octets", st);

    if (off < have)
      continue;
    if (have == len) {
      if (st == PW_PHEAD_NEED_MORE)
        say(o->log, "N");
      if (st == PW_PHEAD_BODY)
        say(o->log, "B:%zu", body);
      break;
    }
    have = step == 0 || len - have < step ? len : have + step;
  }

  /* A failed reader stays failed, with the same message. */
  if (o->rc != PW_OK) {
    memset(&err, 0, sizeof(err));
    cr_expect_eq(pw_phead_feed(r, "GET", 3, &c, &err), o->rc);
    cr_expect_str_eq(err.msg, o->msg);
  }
  pw_phead_free(r);
}

/* Request reader: what must pass */

typedef struct good {
  const char *comment;
  const char *in;
  gen_t       gen;
  const char *want;    /* the transcript; NULL: a head, then E:0 */
  const char *fwd;     /* the first forward head; NULL: not checked */
} good_t;

#define GET_A "GET http://a/ HTTP/1.1\r\n"

static const good_t GOOD[] = {
  { "CONNECT with a port",
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 0,
    "H:C CONNECT example.com:443 - 1.1 k | T:0", NULL },
  { "CONNECT and the ClientHello right behind it: left to the tunnel",
    "CONNECT a.test:443 HTTP/1.1\r\n\r\n\x16\x03\x01\x02", 0,
    "H:C CONNECT a.test:443 - 1.1 k | T:4", NULL },
  { "CONNECT to an IPv6 literal: no brackets",
    "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", 0,
    "H:C CONNECT ::1:443 - 1.1 k | T:0", NULL },
  { "CONNECT: the host lower-cased",
    "CONNECT WWW.Example.COM:8443 HTTP/1.1\r\n\r\n", 0,
    "H:C CONNECT www.example.com:8443 - 1.1 k | T:0", NULL },
  { "absolute-form with path and query, Host kept",
    "GET http://example.com/x/y?q=1&r HTTP/1.1\r\nHost: example.com\r\n"
    "Accept: */*\r\n\r\n", 0,
    "H:A GET example.com:80 /x/y?q=1&r 1.1 k | E:0",
    "GET /x/y?q=1&r HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n" },
  { "absolute-form with a port and no path: Host added first",
    "GET http://a.test:8080 HTTP/1.1\r\nAccept: */*\r\n\r\n", 0,
    "H:A GET a.test:8080 / 1.1 k | E:0",
    "GET / HTTP/1.1\r\nHost: a.test:8080\r\nAccept: */*\r\n\r\n" },
  { "query without a path",
    "HEAD http://a.test?x=1 HTTP/1.1\r\n\r\n", 0,
    "H:A HEAD a.test:80 /?x=1 1.1 k | E:0",
    "HEAD /?x=1 HTTP/1.1\r\nHost: a.test\r\n\r\n" },
  { "a Host that disagrees with the URL is replaced where it stood",
    "GET http://a.test/ HTTP/1.1\r\nAccept: */*\r\nHost: evil.test\r\n"
    "X-B: 1\r\n\r\n", 0,
    "H:A GET a.test:80 / 1.1 k | E:0",
    "GET / HTTP/1.1\r\nAccept: */*\r\nHost: a.test\r\nX-B: 1\r\n\r\n" },
  { "a Host that agrees but for case is kept as sent",
    "GET http://a.test:81/ HTTP/1.1\r\nhost: A.Test:81\r\n\r\n", 0,
    "H:A GET a.test:81 / 1.1 k | E:0",
    "GET / HTTP/1.1\r\nhost: A.Test:81\r\n\r\n" },
  { "Proxy-*, Keep-Alive, Connection and what it names removed",
    "GET http://a/ HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\n"
    "X-Hop: 1\r\nProxy-Connection: keep-alive\r\n"
    "Proxy-Authorization: Basic eDp5\r\nKeep-Alive: 300\r\nTE: trailers\r\n"
    "Upgrade: h2c\r\nX-Keep: 2\r\n\r\n", 0,
    "H:A GET a:80 / 1.1 k | E:0",
    "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nX-Keep: 2\r\n\r\n" },
  { "trailing whitespace of a value trimmed, names as sent",
    GET_A "x-CASE: a b \t\r\nEmpty:\r\n\r\n", 0,
    "H:A GET a:80 / 1.1 k | E:0",
    "GET / HTTP/1.1\r\nHost: a\r\nx-CASE: a b\r\nEmpty: \r\n\r\n" },
  { "the fragment is not sent",
    "GET http://a/p#frag HTTP/1.1\r\n\r\n", 0,
    "H:A GET a:80 /p 1.1 k | E:0", NULL },
  { "an IPv6 literal in absolute-form",
    "GET http://[2001:DB8::1]:8080/ HTTP/1.1\r\n\r\n", 0,
    "H:A GET 2001:db8::1:8080 / 1.1 k | E:0",
    "GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n" },
  { "POST with a Content-Length body",
    "POST http://a/p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"
    "hello world", 0, "H:A POST a:80 /p 1.1 kb | E:11", NULL },
  { "Content-Length: 0 is no body",
    "POST http://a/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0,
    "H:A POST a:80 / 1.1 k | E:0", NULL },
  { "a chunked body with an extension and trailers: framing forwarded",
    "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;x=y\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", 0,
    "H:A POST a:80 / 1.1 kbc | E:33",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" },
  { "gzip then chunked is chunked",
    "PUT http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    "0\r\n\r\n", 0, "H:A PUT a:80 / 1.1 kbc | E:5", NULL },
  { "two requests in one feed",
    "GET http://a/1 HTTP/1.1\r\n\r\nGET http://b:81/2 HTTP/1.1\r\n\r\n", 0,
    "H:A GET a:80 /1 1.1 k | E:0 | H:A GET b:81 /2 1.1 k | E:0", NULL },
  { "a body, then the next request",
    "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
    "DELETE http://a/x HTTP/1.1\r\n\r\n", 0,
    "H:A POST a:80 / 1.1 kb | E:3 | H:A DELETE a:80 /x 1.1 k | E:0",
    NULL },
  { "a body cut short: BODY, all taken",
    "POST http://a/ HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 0,
    "H:A POST a:80 / 1.1 kb | B:3", NULL },
  { "CRLF before a request is skipped (RFC 9112 2.2)",
    "\r\n" GET_A "\r\n", 0, "H:A GET a:80 / 1.1 k | E:0", NULL },
  { "bare LF line ends (RFC 9112 2.2)",
    "GET http://a/ HTTP/1.1\nX: 1\n\n", 0, "H:A GET a:80 / 1.1 k | E:0",
    "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n" },
  { "HTTP/1.1 with Connection: close",
    GET_A "Connection: close\r\n\r\n", 0, "H:A GET a:80 / 1.1  | E:0",
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n" },
  { "HTTP/1.0: not kept alive, forwarded as HTTP/1.1",
    "GET http://a/ HTTP/1.0\r\n\r\n", 0, "H:A GET a:80 / 1.0  | E:0",
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n" },
  { "HTTP/1.0 with Connection: keep-alive",
    "GET http://a/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    "GET http://a/2 HTTP/1.0\r\n\r\n", 0,
    "H:A GET a:80 / 1.0 k | E:0 | H:A GET a:80 /2 1.0  | E:0", NULL },
  { "an Upgrade request keeps Upgrade and says Connection: Upgrade",
    "GET http://a/ws HTTP/1.1\r\nHost: a\r\n"
    "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
    "Sec-WebSocket-Key: x\r\n\r\n", 0,
    "H:A GET a:80 /ws 1.1 ku | E:0",
    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
    "Upgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n" },
  { "HTTP/1.0 Upgrade is ignored (RFC 9110 7.8)",
    "GET http://a/ HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n",
    0, "H:A GET a:80 / 1.0  | E:0", "GET / HTTP/1.1\r\nHost: a\r\n\r\n" },
  { "a request line of exactly 8192 octets", NULL, G_LINE_8192, NULL,
    NULL },
  { "a head of exactly 65536 octets", NULL, G_HEAD_65536, NULL, NULL },
  { "exactly 100 fields", NULL, G_FIELDS_100, NULL, NULL },
  { "a host of 253 octets", NULL, G_HOST_253, NULL, NULL },
};

ParameterizedTestParameters(phead, good)
{
  return case_indices(NCASES(GOOD));
}

ParameterizedTest(size_t *i, phead, good)
{
  const good_t *g = &GOOD[*i];
  const char *in = g->in;
  size_t len, k;
  run_t o;

  len = g->gen != G_NONE ? generate(g->gen, &in) : strlen(in);
  for (k = 0; k < NCASES(STEPS); k++) {
    drive(in, len, STEPS[k], &o);
    cr_expect_eq(o.rc, PW_OK, "%s (step %zu): %s %s", g->comment,
                 STEPS[k], pw_err_name(o.rc), o.msg);
    if (g->want != NULL)
      cr_expect_str_eq(o.log, g->want, "%s (step %zu): got %s",
                       g->comment, STEPS[k], o.log);
    else
      cr_expect(strncmp(o.log, "H:A GET ", 8) == 0
                && strstr(o.log, " | E:0") != NULL,
                "%s (step %zu): %s", g->comment, STEPS[k], o.log);
    if (g->fwd != NULL)
      cr_expect_str_eq(o.fwd[0], g->fwd, "%s (step %zu): got %s",
                       g->comment, STEPS[k], o.fwd[0]);
  }
}

/* Request reader: heads not complete yet */

static const char *const TRUNCATED[] = {
  "",
  "\r\n",
  "GET http://a/ HT",
  "CONNECT a:443 HTTP/1.1\r\n",
  GET_A "Host: a\r\n",
  GET_A "Host: a\r\n\r",
};

ParameterizedTestParameters(phead, truncated)
{
  return case_indices(NCASES(TRUNCATED));
}

ParameterizedTest(size_t *i, phead, truncated)
{
  size_t k;
  run_t o;

  for (k = 0; k < NCASES(STEPS); k++) {
    drive(TRUNCATED[*i], strlen(TRUNCATED[*i]), STEPS[k], &o);
    cr_expect_str_eq(o.log, "N", "\"%s\" (step %zu): got %s",
                     TRUNCATED[*i], STEPS[k], o.log);
  }
}

/* Request reader: what must be refused */

typedef struct bad {
  const char *comment;
  const char *in;
  size_t      len;       /* 0: strlen(in) */
  gen_t       gen;
  int         code;
  int         status;
  const char *msg;       /* part of the message */
} bad_t;

static const bad_t BAD[] = {
  { "junk after CONNECT's version", "CONNECT a:443 HTTP/1.1 junk\r\n\r\n",
    0, 0, PW_EINVAL, 400, "invalid HTTP version" },
  { "binary after the CONNECT line",
    "CONNECT a:443 HTTP/1.1\r\n\x01\x02\x03\r\n\r\n", 0, 0, PW_EINVAL,
    400, "invalid character in header" },
  { "CONNECT without a port", "CONNECT a.test HTTP/1.1\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "host:port" },
  { "CONNECT to port 0", "CONNECT a.test:0 HTTP/1.1\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "port 0" },
  { "CONNECT to port 65536", "CONNECT a.test:65536 HTTP/1.1\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "host:port" },
  { "CONNECT to a bad IPv6 literal",
    "CONNECT [1:2:3:4:5:6:7:8:9]:443 HTTP/1.1\r\n\r\n", 0, 0, PW_EINVAL,
    400, "IPv6" },
  { "origin-form: this is a proxy", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n",
    0, 0, PW_EINVAL, 400, "not absolute-form" },
  { "asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "not absolute-form" },
  { "https:// in absolute-form", "GET https://a/ HTTP/1.1\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "CONNECT" },
  { "ftp://", "GET ftp://a/ HTTP/1.1\r\n\r\n", 0, 0, PW_EINVAL, 400,
    "only http://" },
  { "user information in the URL", "GET http://u:p@a/ HTTP/1.1\r\n\r\n", 0,
    0, PW_EINVAL, 400, "user information" },
  { "a request line of 8193 octets", NULL, 0, G_LINE_8193, PW_ETOOBIG, 414,
    "request line over 8192" },
  { "a head of 65537 octets", NULL, 0, G_HEAD_65537, PW_ETOOBIG, 431,
    "request head over 65536" },
  { "101 fields", NULL, 0, G_FIELDS_101, PW_ETOOBIG, 431,
    "over 100 header fields" },
  { "a field name of 257 octets", NULL, 0, G_NAME_257, PW_ETOOBIG, 431,
    "name over 256" },
  { "a field value of 16385 octets", NULL, 0, G_VALUE_16385, PW_ETOOBIG,
    431, "over 16384" },
  { "NUL in a field value", GET_A "X: a\0b\r\n\r\n", 24 + 10, 0, PW_EINVAL,
    400, "invalid character in header" },
  { "NUL first in a field value: http-parser lets it through",
    GET_A "X: \0b\r\n\r\n", 24 + 9, 0, PW_EINVAL, 400,
    "octet 0x00 in a header field value" },
  { "NUL in a field name", GET_A "X\0: a\r\n\r\n", 24 + 9, 0, PW_EINVAL,
    400, "invalid character in header" },
  { "obs-fold", GET_A "X: a\r\n b\r\n\r\n", 0, 0, PW_EINVAL, 400,
    "obs-fold" },
  { "whitespace before the first field", GET_A " X: a\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "obs-fold" },
  { "a space in a field name", GET_A "Foo Bar: x\r\n\r\n", 0, 0, PW_EINVAL,
    400, "octet 0x20 in a header field name" },
  { "a bare CR", GET_A "X: a\rY: b\r\n\r\n", 0, 0, PW_EINVAL, 400,
    "LF character expected" },
  { "a bad chunk size",
    "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    0, 0, PW_EINVAL, 400, "chunk size" },
  { "Content-Length twice, different",
    "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
    "\r\nabcd", 0, 0, PW_EINVAL, 400, "Content-Length twice" },
  { "Content-Length and chunked: request smuggling",
    "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\n"
    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 0, PW_EINVAL, 400,
    "Content-Length twice or with Transfer-Encoding" },
  { "Transfer-Encoding without chunked last",
    "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    0, 0, PW_EINVAL, 400, "end with chunked" },
  { "chunked twice",
    "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
    "Transfer-Encoding: chunked\r\n\r\n", 0, 0, PW_EINVAL, 400,
    "end with chunked" },
  { "an unknown transfer coding",
    "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: br, chunked\r\n\r\n", 0,
    0, PW_EINVAL, 501, "transfer coding \"br\"" },
  { "Transfer-Encoding in HTTP/1.0",
    "POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "HTTP/1.0" },
  { "Connection naming Content-Length: the origin would lose the length",
    "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\n"
    "Connection: Content-Length\r\n\r\nabc", 0, 0, PW_EINVAL, 400,
    "Connection names content-length" },
  { "two Host fields", GET_A "Host: a\r\nHost: b\r\n\r\n", 0, 0, PW_EINVAL,
    400, "2 Host fields" },
  { "a non-ASCII host", "GET http://\xc3\xa9.test/ HTTP/1.1\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "invalid URL" },
  { "a non-ASCII CONNECT host", "CONNECT \xc3\xa9.test:443 HTTP/1.1\r\n\r\n",
    0, 0, PW_EINVAL, 400, "invalid URL" },
  { "a host of 254 octets", NULL, 0, G_HOST_254, PW_EINVAL, 400,
    "host over 253" },
  { "an unknown method", "BREW http://pot/ HTTP/1.1\r\n\r\n", 0, 0,
    PW_EINVAL, 501, "unknown request method" },
  { "a TLS ClientHello sent to the proxy", "\x16\x03\x01\x02\x00\x01", 0, 0,
    PW_EINVAL, 400, "not an HTTP request" },
  { "HTTP/2.0", "GET http://a/ HTTP/2.0\r\n\r\n", 0, 0, PW_EINVAL, 505,
    "only HTTP/1.x" },
  { "a version not spelt HTTP", "GET http://a/ HXXP/1.1\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "does not end in HTTP/1.x" },
  { "a version in lower case", "GET http://a/ http/1.1\r\n\r\n", 0, 0,
    PW_EINVAL, 400, "invalid constant" },
  { "a request after Connection: close",
    GET_A "Connection: close\r\n\r\n" GET_A "\r\n", 0, 0, PW_EINVAL, 400,
    "closes the connection" },
};

ParameterizedTestParameters(phead, bad)
{
  return case_indices(NCASES(BAD));
}

ParameterizedTest(size_t *i, phead, bad)
{
  const bad_t *b = &BAD[*i];
  const char *in = b->in;
  size_t len, k;
  run_t o;

  if (b->gen != G_NONE)
    len = generate(b->gen, &in);
  else
    len = b->len != 0 ? b->len : strlen(in);

  for (k = 0; k < NCASES(STEPS); k++) {
    drive(in, len, STEPS[k], &o);
    cr_expect_eq(o.rc, b->code, "%s (step %zu): %s, want %s (%s)",
                 b->comment, STEPS[k], pw_err_name(o.rc),
                 pw_err_name(b->code), o.log);
    cr_expect_eq(o.status, b->status, "%s (step %zu): status %d, want %d",
                 b->comment, STEPS[k], o.status, b->status);
    cr_expect_not_null(strstr(o.msg, b->msg),
                       "%s (step %zu): '%s' does not hold '%s'",
                       b->comment, STEPS[k], o.msg, b->msg);
  }
}

/* Request reader: the API's edges */

Test(phead, edges)
{
  pw_phead_t *r = pw_phead_new();
  const char *fwd;
  pw_err_t err = { 0 };
  size_t c, len = 99;

  cr_assert_not_null(r);
  cr_expect_null(pw_phead_request(r));
  cr_expect_null(pw_phead_forward(r, &len));
  cr_expect_eq(len, 0);
  cr_expect_eq(pw_phead_status(r), 0);
  cr_expect_eq(pw_phead_stage(r), PW_PHEAD_NEED_MORE);

  /* A CONNECT has nothing to forward, and the tunnel takes nothing. */
  cr_assert_eq(pw_phead_feed(r, "CONNECT a:1 HTTP/1.1\r\n\r\nxy", 26, &c,
                             &err), PW_OK, "%s", err.msg);
  cr_expect_eq(c, 24);
  fwd = pw_phead_forward(r, &len);
  cr_expect_null(fwd);
  cr_expect_eq(pw_phead_feed(r, "xy", 2, &c, &err), PW_OK);
  cr_expect_eq(pw_phead_stage(r), PW_PHEAD_TUNNEL);
  cr_expect_eq(c, 0);
  cr_expect_eq(pw_phead_feed(r, "xy", 2, &c, &err), PW_OK);
  cr_expect_eq(c, 0);

  pw_phead_free(r);
  pw_phead_free(NULL);
  pw_phead_resp_free(NULL);
}

/* Response tracker */

typedef struct rcase {
  const char *comment;
  const char *expect;   /* the requests: G GET, H HEAD, C CONNECT, U GET
                           with Upgrade */
  const char *in;
  bool        eof;      /* then the origin closes */
  const char *want;
} rcase_t;

static const rcase_t RESP[] = {
  { "Content-Length", "G",
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", true, "E200:3 | eof" },
  { "chunked, with a trailer", "G",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
    "0\r\nX: 1\r\n\r\n", false, "E200:3" },
  { "HEAD: the Content-Length is not a body", "HG",
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false,
    "E200:0 | E200:1" },
  { "204 with a Content-Length anyway", "GG",
    "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false,
    "E204:0 | E404:0" },
  { "304 with chunked anyway", "GG",
    "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab", false,
    "E304:0 | E200:2" },
  { "100 and 103, then 200", "G",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n"
    "\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab", false, "E200:2" },
  { "101 to an Upgrade request: a tunnel", "U",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\n\r\n\x81\x05hello", true, "T101+7 | eof" },
  { "2xx to CONNECT: a tunnel", "C",
    "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03", false,
    "T200+3" },
  { "407 to CONNECT: a response with a body", "C",
    "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\nno", false,
    "E407:2" },
  { "a 2xx to an Upgrade request is no tunnel", "UG",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false,
    "E200:1 | E200:0" },
  { "no length: until the close", "G",
    "HTTP/1.1 200 OK\r\n\r\nall of it", true, "Bu:9 | eof | E200c:9" },
  { "an unknown coding: until the close", "G",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", true,
    "Bu:2 | eof | E200c:2" },
  { "Connection: close", "G",
    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    false, "E200c:0" },
  { "HTTP/1.0: closes", "G",
    "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, "E200c:1" },
  { "HTTP/1.0 with keep-alive", "GG",
    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n"
    "xHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", false,
    "E200:1 | E500:0" },
  { "two pipelined responses", "GG",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"
    "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
    "1\r\nx\r\n0\r\n\r\n", true, "E200:2 | E404:1 | eof" },
  { "a head cut short", "G", "HTTP/1.1 200 OK\r\nContent-", true,
    "N | eof:EINVAL" },
  { "a body of known length cut short", "G",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true,
    "B:2 | eof:EINVAL" },
  { "101 to a request that did not ask", "G",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
    "Connection: upgrade\r\n\r\n", false, "X:EINVAL" },
  { "a response with no request", "",
    "HTTP/1.1 408 Request Timeout\r\n\r\n", false, "X:EINVAL" },
  { "bytes after a response that closes", "GG",
    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    "HTTP/1.1 200 OK\r\n\r\n", false, "E200c:0 | X:EINVAL" },
  { "not a status line", "G", "ICY 200 OK\r\n\r\n", false,
    "X:EINVAL" },
  { "Content-Length and chunked", "G",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n"
    "\r\n", false, "X:EINVAL" },
};

static void
say_end(char *log, const pw_phead_resp_t *t)
{
  say(log, "E%d%s:%llu", pw_phead_resp_status(t),
       pw_phead_resp_close(t) ? "c" : "",
       (unsigned long long) pw_phead_resp_body_len(t));
}

static void
rdrive(const rcase_t *rc, const char *in, size_t len, size_t step,
       char *log)
{
  pw_phead_resp_t *t = pw_phead_resp_new();
  size_t off = 0, have, c, k, loops = 0;
  pw_err_t err = { 0 };
  pw_phead_stage_t st;
  int code;

  cr_assert_not_null(t);
  log[0] = '\0';
  for (k = 0; rc->expect[k] != '\0'; k++)
    cr_assert_eq(pw_phead_resp_expect(t, rc->expect[k] == 'H' ? "HEAD"
                                      : rc->expect[k] == 'C' ? "CONNECT"
                                      : "GET", rc->expect[k] == 'U', &err),
                 PW_OK);
  have = step == 0 || len < step ? len : step;

  for (;;) {
    cr_assert_lt(loops++, 4 * len + 64, "the driver does not advance");
    code = pw_phead_resp_feed(t, in + off, have - off, &c, &err);
    off += c;
    st = pw_phead_resp_stage(t);
    if (code != PW_OK) {
      say(log, "X:%s", pw_err_name(code));
      cr_expect(err.msg[0] != '\0', "an error without a message");
      goto done;
    }
    if (st == PW_PHEAD_MESSAGE_END)
      say_end(log, t);
    if (st == PW_PHEAD_TUNNEL) {
      say(log, "T%d+%zu", pw_phead_resp_status(t), len - off);
      break;
    }
    if (off < have)
      continue;
    if (have == len)
      break;
    have = step == 0 || len - have < step ? len : have + step;
  }

  if (st == PW_PHEAD_NEED_MORE)
    say(log, "N");
  if (st == PW_PHEAD_BODY)
    say(log, "B%s:%llu", pw_phead_resp_until_close(t) ? "u" : "",
         (unsigned long long) pw_phead_resp_body_len(t));

  if (rc->eof) {
    code = pw_phead_resp_eof(t, &err);
    if (code != PW_OK)
      say(log, "eof:%s", pw_err_name(code));
    else
      say(log, "eof");
    if (code == PW_OK && st == PW_PHEAD_BODY)
      say_end(log, t);
  }

done:
  pw_phead_resp_free(t);
}

ParameterizedTestParameters(phead, response)
{
  return case_indices(NCASES(RESP));
}

ParameterizedTest(size_t *i, phead, response)
{
  const rcase_t *rc = &RESP[*i];
  char log[TRANSCRIPT_MAX];
  size_t k;

  for (k = 0; k < NCASES(STEPS); k++) {
    rdrive(rc, rc->in, strlen(rc->in), STEPS[k], log);
    cr_expect_str_eq(log, rc->want, "%s (step %zu): got %s", rc->comment,
                     STEPS[k], log);
  }
}

Test(phead, response_caps)
{
  pw_phead_resp_t *t = pw_phead_resp_new();
  pw_err_t err = { 0 };
  char *big;
  size_t c, k, n;

  cr_assert_not_null(t);
  for (k = 0; k < PW_PHEAD_RESP_QUEUE_MAX; k++)
    cr_assert_eq(pw_phead_resp_expect(t, "GET", false, &err), PW_OK);
  cr_expect_eq(pw_phead_resp_expect(t, "GET", false, &err), PW_ETOOBIG);
  cr_expect_eq(pw_phead_resp_expect(t, NULL, false, &err), PW_EINVAL);

  /* A head of one octet over the cap, in one feed. */
  big = malloc(PW_PHEAD_RESP_HEAD_MAX + 64);
  cr_assert_not_null(big);
  n = (size_t) sprintf(big, "HTTP/1.1 200 OK\r\nX: ");
  memset(big + n, 'v', PW_PHEAD_RESP_HEAD_MAX - n - 3);
  n = PW_PHEAD_RESP_HEAD_MAX - 3;
  memcpy(big + n, "\r\n\r\n", 4);
  n += 4;

  cr_expect_eq(pw_phead_resp_feed(t, big, n, &c, &err), PW_ETOOBIG,
               "%s", err.msg);
  cr_expect_eq(pw_phead_resp_stage(t), PW_PHEAD_ERROR);
  cr_expect_eq(pw_phead_resp_feed(t, "x", 1, &c, &err), PW_ETOOBIG);
  free(big);
  pw_phead_resp_free(t);
}
