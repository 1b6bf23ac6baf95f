/*
 * The response tracker of gateway/phead.h: where each response of an
 * origin ends, so that a kept-alive client connection knows when the
 * next request may go, and when a response makes the connection a
 * tunnel (RFC 9110 6.4.1, 7.8, 9.3.6; RFC 9112 6.3).  It counts the
 * body and never copies it.
 */
#include "gateway/phead.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* What a forwarded request promised about its response. */
enum {
  EXP_HEAD    = 1 << 0,
  EXP_CONNECT = 1 << 1,
  EXP_UPGRADE = 1 << 2
};

struct pw_phead_resp {
  http_parser        parser;
  pw_phead_stage_t   stage;
  int                failed;
  int                cb_rc;
  pw_err_t           err;

  size_t             head_seen;
  bool               in_message;  /* a response has begun */
  bool               interim;     /* it is a 1xx */
  bool               tunnel;
  int                status;
  bool               close, until_close;
  uint64_t           body_len;

  uint8_t            queue[PW_PHEAD_RESP_QUEUE_MAX];
  size_t             q_first, q_n;
};


static int
resp_message_begin(http_parser *p)
{
  pw_phead_resp_t *t = p->data;

  t->in_message = true;
  t->interim = false;
  t->close = false;
  t->until_close = false;
  t->body_len = 0;
  return 0;
}

/*
 * Returns what http-parser takes from on_headers_complete: 0, 1 for no
 * body, 2 for no body and nothing more in HTTP (a tunnel).
 */
static int
resp_headers_complete(http_parser *p)
{
  pw_phead_resp_t *t = p->data;
  uint8_t exp = t->queue[t->q_first];
  unsigned code = p->status_code;
  bool v10 = p->http_major == 1 && p->http_minor == 0;

  if (code == 101) {
    if (!(exp & EXP_UPGRADE)) {
      t->cb_rc = pw_err_set(&t->err, PW_EINVAL, "101 Switching "
                            "Protocols to a request that did not ask");
      return -1;
    }
    t->status = 101;
    t->tunnel = true;
    return 2;
  }

  /* RFC 9110 15.2: interim, the real response follows; no content. */
  if (code / 100 == 1) {
    t->interim = true;
    return 1;
  }

  t->status = (int) code;
  t->stage = PW_PHEAD_BODY;
  t->close = v10 ? !(p->flags & F_CONNECTION_KEEP_ALIVE)
                 : (p->flags & F_CONNECTION_CLOSE) != 0;

  /* RFC 9110 9.3.6: a 2xx to CONNECT starts a tunnel. */
  if ((exp & EXP_CONNECT) && code / 100 == 2) {
    t->tunnel = true;
    return 2;
  }

  /* RFC 9110 6.4.1: no content, whatever the length fields say. */
  if ((exp & EXP_HEAD) || code == 204 || code == 304)
    return 1;

  /* RFC 9112 6.3: no chunked, no Content-Length: up to the close. */
  if (!(p->flags & F_CHUNKED) && !(p->flags & F_CONTENTLENGTH)) {
    t->until_close = true;
    t->close = true;
  }
  return 0;
}

static int
resp_body(http_parser *p, const char *at, size_t n)
{
  pw_phead_resp_t *t = p->data;

  t->body_len += n;
  return 0;
}

static int
resp_message_complete(http_parser *p)
{
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings resp_settings = {
  .on_message_begin    = resp_message_begin,
  .on_headers_complete = resp_headers_complete,
  .on_body             = resp_body,
  .on_message_complete = resp_message_complete,
};

pw_phead_resp_t *
pw_phead_resp_new(void)
{
  pw_phead_resp_t *t = calloc(1, sizeof(*t));

  if (t == NULL)
    return NULL;

  http_parser_init(&t->parser, HTTP_RESPONSE);
  t->parser.data = t;
  t->stage = PW_PHEAD_NEED_MORE;
  return t;
}

void
pw_phead_resp_free(pw_phead_resp_t *t)
{
  free(t);
}

int
pw_phead_resp_expect(pw_phead_resp_t *t, const char *method, bool upgrade,
                     pw_err_t *err)
{
  uint8_t exp = 0;

  if (method == NULL || method[0] == '\0')
    return pw_err_set(err, PW_EINVAL, "no request method");
  if (t->q_n == PW_PHEAD_RESP_QUEUE_MAX)
    return pw_err_set(err, PW_ETOOBIG, "over %d requests unanswered",
                      PW_PHEAD_RESP_QUEUE_MAX);

  if (strcmp(method, "HEAD") == 0)
    exp |= EXP_HEAD;
  if (strcmp(method, "CONNECT") == 0)
    exp |= EXP_CONNECT;
  if (upgrade)
    exp |= EXP_UPGRADE;

  t->queue[(t->q_first + t->q_n) % PW_PHEAD_RESP_QUEUE_MAX] = exp;
  t->q_n++;
  return PW_OK;
}

/* A final response ended: its request is answered. */
static void
resp_answered(pw_phead_resp_t *t)
{
  t->q_first = (t->q_first + 1) % PW_PHEAD_RESP_QUEUE_MAX;
  t->q_n--;
  t->stage = t->tunnel ? PW_PHEAD_TUNNEL : PW_PHEAD_MESSAGE_END;
}

static int
resp_parser_error(pw_phead_resp_t *t)
{
  enum http_errno e = HTTP_PARSER_ERRNO(&t->parser);

  if (t->cb_rc != PW_OK)
    return t->cb_rc;
  return pw_err_set(&t->err, PW_EINVAL, "malformed response: %s",
                    http_errno_description(e));
}

/* One run of the parser over what the stage allows of buf[off..len). */
static int
resp_step(pw_phead_resp_t *t, const char *buf, size_t len, size_t *off)
{
  bool in_head = t->stage == PW_PHEAD_NEED_MORE;
  enum http_errno e;
  size_t n = len - *off, c;

  if (in_head && t->q_n == 0)
    return pw_err_set(&t->err, PW_EINVAL,
                      "response bytes with no request outstanding");
  if (in_head && t->head_seen == PW_PHEAD_RESP_HEAD_MAX)
    return pw_err_set(&t->err, PW_ETOOBIG, "response head over %d octets",
                      PW_PHEAD_RESP_HEAD_MAX);
  if (in_head)
    n = MIN(n, PW_PHEAD_RESP_HEAD_MAX - t->head_seen);

  c = http_parser_execute(&t->parser, &resp_settings, buf + *off, n);
  e = HTTP_PARSER_ERRNO(&t->parser);
  *off += c;
  if (t->stage == PW_PHEAD_NEED_MORE)
    t->head_seen += c;

  if (e == HPE_PAUSED) {
    http_parser_pause(&t->parser, 0);
    if (t->interim) {
      /* The next head is counted from here. */
      t->interim = false;
      t->head_seen = 0;
      return PW_OK;
    }
    resp_answered(t);
    return PW_OK;
  }
  if (e != HPE_OK)
    return resp_parser_error(t);
  return PW_OK;
}

static int
resp_fail(pw_phead_resp_t *t, int rc, pw_err_t *err)
{
  if (t->failed == PW_OK) {
    t->failed = rc;
    t->stage = PW_PHEAD_ERROR;
  }
  if (err != NULL)
    *err = t->err;
  return t->failed;
}

int
pw_phead_resp_feed(pw_phead_resp_t *t, const void *buf, size_t len,
                   size_t *consumed, pw_err_t *err)
{
  size_t off = 0;
  int rc = PW_OK;

  *consumed = 0;
  if (t->failed != PW_OK)
    return resp_fail(t, t->failed, err);
  if (t->stage == PW_PHEAD_TUNNEL || len == 0)
    return PW_OK;

  if (t->stage == PW_PHEAD_MESSAGE_END) {
    if (t->close) {
      rc = pw_err_set(&t->err, PW_EINVAL,
                      "bytes after a response that closes the connection");
      return resp_fail(t, rc, err);
    }
    t->stage = PW_PHEAD_NEED_MORE;
    t->head_seen = 0;
    t->in_message = false;
  }

  while (rc == PW_OK && off < len && (t->stage == PW_PHEAD_NEED_MORE
                                      || t->stage == PW_PHEAD_BODY))
    rc = resp_step(t, buf, len, &off);
  if (rc != PW_OK)
    return resp_fail(t, rc, err);

  *consumed = off;
  return PW_OK;
}

int
pw_phead_resp_eof(pw_phead_resp_t *t, pw_err_t *err)
{
  enum http_errno e;
  int rc;

  if (t->failed != PW_OK)
    return resp_fail(t, t->failed, err);

  switch (t->stage) {
  case PW_PHEAD_NEED_MORE:
    if (!t->in_message)
      return PW_OK;
    rc = pw_err_set(&t->err, PW_EINVAL,
                    "the origin closed in the middle of a response head");
    return resp_fail(t, rc, err);
  case PW_PHEAD_BODY:
    if (!t->until_close) {
      rc = pw_err_set(&t->err, PW_EINVAL, "the origin closed after %llu "
                      "octets of a body of known length",
                      (unsigned long long) t->body_len);
      return resp_fail(t, rc, err);
    }
    break;
  default:
    return PW_OK;
  }

  /* http-parser takes a length of 0 as the close. */
  http_parser_execute(&t->parser, &resp_settings, NULL, 0);
  e = HTTP_PARSER_ERRNO(&t->parser);
  if (e != HPE_PAUSED && e != HPE_OK)
    return resp_fail(t, resp_parser_error(t), err);

  http_parser_pause(&t->parser, 0);
  resp_answered(t);
  return PW_OK;
}

pw_phead_stage_t
pw_phead_resp_stage(const pw_phead_resp_t *t)
{
  return t->stage;
}

int
pw_phead_resp_status(const pw_phead_resp_t *t)
{
  return t->status;
}

bool
pw_phead_resp_close(const pw_phead_resp_t *t)
{
  return t->close;
}

bool
pw_phead_resp_until_close(const pw_phead_resp_t *t)
{
  return t->until_close;
}

uint64_t
pw_phead_resp_body_len(const pw_phead_resp_t *t)
{
  return t->body_len;
}
