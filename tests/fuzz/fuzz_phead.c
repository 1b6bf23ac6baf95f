/*
 * pw_phead_feed and pw_phead_resp_feed: a client's and an origin's
 * bytes.  The first octet picks where the rest is cut in two; the reader
 * must report the same events however the network cut the bytes.
 */
#include "tests/fuzz/fuzz.h"

#include "gateway/phead.h"

/* A digest of what a reader reported: events, heads and body sizes. */
typedef struct sum {
  int           rc;
  unsigned long events;
  unsigned long hash;
  size_t        body;
} sum_t;

static void
mix(sum_t *s, const void *p, size_t n)
{
  const unsigned char *b = p;
  size_t i;

  for (i = 0; i < n; i++)
    s->hash = s->hash * 31 + b[i];
}

static void
note_head(sum_t *s, const pw_phead_t *r)
{
  const pw_phead_request_t *q = pw_phead_request(r);
  const char *fwd;
  size_t len;

  FUZZ_CHECK(q != NULL, "HEAD without a request");
  FUZZ_CHECK(strlen(q->host) > 0 && strlen(q->host) <= PW_PHEAD_HOST_MAX,
             "host of %zu octets", strlen(q->host));
  FUZZ_CHECK(q->port != 0, "port 0");
  mix(s, q->host, strlen(q->host));
  mix(s, &q->port, sizeof(q->port));

  fwd = pw_phead_forward(r, &len);
  FUZZ_CHECK((fwd == NULL) == (q->kind == PW_PHEAD_CONNECT),
             "forward head and kind disagree");
  if (fwd != NULL) {
    FUZZ_CHECK(q->target != NULL && q->target[0] == '/', "target");
    FUZZ_CHECK(len >= 4 && memcmp(fwd + len - 4, "\r\n\r\n", 4) == 0,
               "the forward head does not end the head");
    FUZZ_CHECK(memchr(fwd, '\0', len) == NULL, "NUL in the forward head");
    mix(s, fwd, len);
  }
}

/* Feeds data[0..size) as pieces arrive: up to cut, then the rest. */
static sum_t
run_req(const uint8_t *data, size_t size, size_t cut)
{
  pw_phead_t *r = pw_phead_new();
  size_t off = 0, have = cut, c, loops = 0;
  pw_err_t err = { 0 };
  pw_phead_stage_t st;
  sum_t s = { 0 };

  FUZZ_CHECK(r != NULL, "pw_phead_new");
  for (;;) {
    FUZZ_CHECK(loops++ < 4 * size + 16, "no progress");
    s.rc = pw_phead_feed(r, data + off, have - off, &c, &err);
    FUZZ_CHECK(c <= have - off, "consumed past the input");
    off += c;
    st = pw_phead_stage(r);
    if (s.rc != 0) {
      FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", s.rc);
      FUZZ_CHECK(pw_phead_status(r) >= 400, "status %d",
                 pw_phead_status(r));
      break;
    }
    if (st == PW_PHEAD_HEAD)
      note_head(&s, r);
    if (st == PW_PHEAD_BODY || st == PW_PHEAD_MESSAGE_END)
      s.body += c;
    if (st != PW_PHEAD_NEED_MORE && st != PW_PHEAD_BODY)
      s.events = s.events * 7 + (unsigned long) st;
    if (st == PW_PHEAD_TUNNEL)
      break;
    if (st == PW_PHEAD_HEAD || off < have)
      continue;
    if (have == size)
      break;
    have = size;
  }
  pw_phead_free(r);
  return s;
}

static sum_t
run_resp(const uint8_t *data, size_t size, size_t cut, const char *method)
{
  pw_phead_resp_t *t = pw_phead_resp_new();
  size_t off = 0, have = cut, c, loops = 0, i;
  pw_err_t err = { 0 };
  pw_phead_stage_t st;
  sum_t s = { 0 };

  FUZZ_CHECK(t != NULL, "pw_phead_resp_new");
  for (i = 0; i < 4; i++)
    FUZZ_CHECK(pw_phead_resp_expect(t, method, i == 0, &err) == 0,
               "expect");

  for (;;) {
    FUZZ_CHECK(loops++ < 4 * size + 16, "no progress");
    s.rc = pw_phead_resp_feed(t, data + off, have - off, &c, &err);
    FUZZ_CHECK(c <= have - off, "consumed past the input");
    off += c;
    st = pw_phead_resp_stage(t);
    if (s.rc != 0) {
      FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", s.rc);
      break;
    }
    if (st == PW_PHEAD_MESSAGE_END || st == PW_PHEAD_TUNNEL) {
      s.events = s.events * 7 + (unsigned long) st;
      s.hash = s.hash * 31 + (unsigned long) pw_phead_resp_status(t);
      s.body += pw_phead_resp_body_len(t);
    }
    if (st == PW_PHEAD_TUNNEL)
      break;
    if (off < have)
      continue;
    if (have == size)
      break;
    have = size;
  }

  if (s.rc == 0) {
    s.rc = pw_phead_resp_eof(t, &err);
    s.events = s.events * 7 + (unsigned long) pw_phead_resp_stage(t);
  }
  pw_phead_resp_free(t);
  return s;
}

static void
same(sum_t a, sum_t b, const char *what, size_t cut)
{
  FUZZ_CHECK(a.rc == b.rc, "%s: rc %d whole, %d cut at %zu", what, a.rc,
             b.rc, cut);
  FUZZ_CHECK(a.events == b.events && a.hash == b.hash,
             "%s: events differ when cut at %zu", what, cut);

  /* Body octets before an error were forwarded only if fed apart. */
  FUZZ_CHECK(a.rc != 0 || a.body == b.body,
             "%s: %zu body octets whole, %zu cut at %zu", what, a.body,
             b.body, cut);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const methods[] = { "GET", "HEAD", "CONNECT" };
  size_t cut, i;

  if (size == 0)
    return 0;

  cut = (size_t) data[0] * (size - 1) / 255;
  data++;
  size--;

  same(run_req(data, size, size), run_req(data, size, cut), "request",
       cut);
  for (i = 0; i < 3; i++)
    same(run_resp(data, size, size, methods[i]),
         run_resp(data, size, cut, methods[i]), methods[i], cut);
  return 0;
}
