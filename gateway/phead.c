/*
 * Proxy request heads and response framing over http-parser 2.9.
 *
 * http-parser frames the messages; this file adds what a proxy must
 * check that the parser lets through or leaves to its caller:
 *   request-target forms        RFC 9112 3.2 (origin, absolute,
 *                               authority forms)
 *   Host and absolute-form      RFC 9112 3.2.2
 *   field names and obs-fold    RFC 9112 5.1, 5.2
 *   bare CR                     RFC 9112 2.2
 *   Transfer-Encoding           RFC 9112 6.1, 6.3
 *   Connection, hop-by-hop      RFC 9110 7.6.1
 *   Upgrade                     RFC 9110 7.8
 *   responses without content   RFC 9110 6.4.1, 9.3.6 (CONNECT)
 *
 * This file holds the request reader; phead_resp.c the response
 * tracker.  The request reader pauses the parser in on_headers_complete.  The
 * parser then stops on the head's last octet without taking it; the
 * reader takes it (so that the head's bytes are all consumed) and feeds
 * it to the parser at the start of the next feed, where it ends the
 * head and, for a message without a body, the message.
 */
#include "gateway/phead.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Records a refusal and the status the gateway should answer with. */
#define REFUSE(r, status_, code, ...) \
  ((r)->status = (status_), pw_err_set(&(r)->err, (code), __VA_ARGS__))

/* A buffer grown on demand; its callers bound what goes in. */
typedef struct buf {
  char  *p;
  size_t n, cap;
} buf_t;

/* A header field: where its name and value lie in the reader's raw. */
typedef struct field {
  size_t name_off, name_len;
  size_t value_off, value_len;
} field_t;

/* A list element (RFC 9110 5.6.1). */
typedef struct tok {
  const char *p;
  size_t      n;
} tok_t;

/* The last data callback, to tell a new field from more of the last. */
enum { CB_NONE = 0, CB_FIELD, CB_VALUE };

struct pw_phead {
  http_parser        parser;
  pw_phead_stage_t   stage;
  int                failed;      /* the first error's code, or PW_OK */
  int                cb_rc;       /* an error a callback refused with */
  int                status;
  pw_err_t           err;

  size_t             head_seen;   /* octets of the head being read */
  char               held;        /* its last octet, not yet parsed */

  /* The scan of head octets for what http-parser lets through. */
  bool               started;     /* past the CRLFs between messages */
  unsigned char      first;       /* the message's first octet */
  bool               cr, bol;
  size_t             lines, col;
  char               tail[9];     /* the request line's last octets */

  /* The URL, then field names and values, as the parser hands them. */
  buf_t              raw;
  size_t             url_len;
  field_t            fields[PW_PHEAD_FIELDS_MAX];
  size_t             n_fields;
  int                last_cb;

  bool               has_req;
  pw_phead_request_t req;
  buf_t              target;
  buf_t              fwd;
};


static int
buf_add(buf_t *b, const void *p, size_t n)
{
  size_t cap;
  char *np;

  if (b->cap - b->n <= n) {
    cap = b->cap != 0 ? b->cap : 256;
    while (cap - b->n <= n)
      cap *= 2;
    np = realloc(b->p, cap);
    if (np == NULL)
      return PW_ENOMEM;
    b->p = np;
    b->cap = cap;
  }

  memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = '\0';    /* room kept above: strings stay terminated */
  return PW_OK;
}

static int
buf_str(buf_t *b, const char *s)
{
  return buf_add(b, s, strlen(s));
}

/* Case-insensitive equality of p[0..n) and the literal lit. */
static bool
eq(const char *p, size_t n, const char *lit)
{
  return n == strlen(lit) && strncasecmp(p, lit, n) == 0;
}

static bool
is_ows(char c)
{
  return c == ' ' || c == '\t';
}

/* RFC 9110 5.6.2: tchar. */
static bool
is_tchar(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || (c != '\0' && strchr(
           "!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * The next non-empty element of a comma-separated list, OWS trimmed,
 * starting at *p; false at the end.
 */
static bool
next_tok(const char **p, const char *end, tok_t *t)
{
  const char *s, *e;

  while (*p < end) {
    s = *p;
    e = memchr(s, ',', (size_t) (end - s));
    if (e == NULL)
      e = end;
    *p = e < end ? e + 1 : end;

    while (s < e && is_ows(*s))
      s++;
    while (e > s && is_ows(e[-1]))
      e--;
    if (e > s) {
      t->p = s;
      t->n = (size_t) (e - s);
      return true;
    }
  }
  return false;
}

static bool
list_has(const char *v, size_t n, const char *name, size_t name_len)
{
  const char *p = v;
  tok_t t;

  while (next_tok(&p, v + n, &t))
    if (t.n == name_len && strncasecmp(t.p, name, name_len) == 0)
      return true;
  return false;
}

/* Request reader: callbacks */

static const char *
fname(const pw_phead_t *r, const field_t *f)
{
  return r->raw.p + f->name_off;
}

static const char *
fvalue(const pw_phead_t *r, const field_t *f)
{
  return r->raw.p + f->value_off;
}

static int
req_message_begin(http_parser *p)
{
  pw_phead_t *r = p->data;

  r->raw.n = 0;
  r->url_len = 0;
  r->n_fields = 0;
  r->last_cb = CB_NONE;
  r->has_req = false;
  memset(&r->req, 0, sizeof(r->req));
  r->target.n = 0;
  r->fwd.n = 0;
  return 0;
}

/*
 * Appends a piece of the URL, a name or a value, whose octets so far are
 * *have; what names it in the refusal past max.
 */
static int
add_piece(pw_phead_t *r, size_t *have, size_t max, int status,
          const char *what, const char *at, size_t n)
{
  if (*have + n > max) {
    r->cb_rc = REFUSE(r, status, PW_ETOOBIG, "%s over %zu octets", what,
                      max);
    return -1;
  }

  *have += n;
  r->cb_rc = buf_add(&r->raw, at, n);
  return r->cb_rc == PW_OK ? 0 : -1;
}

static int
req_url(http_parser *p, const char *at, size_t n)
{
  pw_phead_t *r = p->data;

  /* The scan of the line says so too, but only after the parser ran. */
  return add_piece(r, &r->url_len, PW_PHEAD_LINE_MAX, 414, "request line",
                   at, n);
}

static int
req_field(http_parser *p, const char *at, size_t n)
{
  pw_phead_t *r = p->data;
  field_t *f;
  size_t i;

  /* Trailers of a chunked body: forwarded with it, not read. */
  if (r->stage != PW_PHEAD_NEED_MORE)
    return 0;

  if (r->last_cb != CB_FIELD) {
    if (r->n_fields == PW_PHEAD_FIELDS_MAX) {
      r->cb_rc = REFUSE(r, 431, PW_ETOOBIG, "over %d header fields",
                        PW_PHEAD_FIELDS_MAX);
      return -1;
    }
    f = &r->fields[r->n_fields++];
    memset(f, 0, sizeof(*f));
    f->name_off = r->raw.n;
    r->last_cb = CB_FIELD;
  }
  f = &r->fields[r->n_fields - 1];

  /* http-parser lets a space through in a name; RFC 9112 5.1 does not. */
  for (i = 0; i < n; i++) {
    if (!is_tchar((unsigned char) at[i])) {
      r->cb_rc = REFUSE(r, 400, PW_EINVAL,
                        "octet 0x%02x in a header field name",
                        (unsigned char) at[i]);
      return -1;
    }
  }
  return add_piece(r, &f->name_len, PW_PHEAD_NAME_MAX, 431,
                   "header field name", at, n);
}

static int
req_value(http_parser *p, const char *at, size_t n)
{
  pw_phead_t *r = p->data;
  unsigned char c;
  field_t *f;
  size_t i;

  if (r->stage != PW_PHEAD_NEED_MORE)
    return 0;

  f = &r->fields[r->n_fields - 1];
  if (r->last_cb != CB_VALUE) {
    f->value_off = r->raw.n;
    r->last_cb = CB_VALUE;
  }

  /*
   * RFC 9110 5.5: no CTL but HTAB.  http-parser checks the octets after
   * a value's first but lets a NUL through as the first.
   */
  for (i = 0; i < n; i++) {
    c = (unsigned char) at[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      r->cb_rc = REFUSE(r, 400, PW_EINVAL,
                        "octet 0x%02x in a header field value", c);
      return -1;
    }
  }

  return add_piece(r, &f->value_len, PW_PHEAD_VALUE_MAX, 431,
                   "header field value", at, n);
}

/* Request reader: the head */

/*
 * The URL's host, lower-cased, into req.host.  http-parser checked its
 * characters loosely (it lets '_' and, in a CONNECT, almost anything
 * through); names get the LDH rule plus '_', IPv6 must parse.
 */
static int
take_host(pw_phead_t *r, const struct http_parser_url *u)
{
  const char *h = r->raw.p + u->field_data[UF_HOST].off;
  size_t n = u->field_data[UF_HOST].len, i;
  bool v6 = u->field_data[UF_HOST].off > 0 && h[-1] == '[';
  unsigned char a6[16];
  char c;

  if (n == 0)
    return REFUSE(r, 400, PW_EINVAL, "empty host in the request target");
  if (n > PW_PHEAD_HOST_MAX)
    return REFUSE(r, 400, PW_EINVAL, "host over %d octets",
                  PW_PHEAD_HOST_MAX);

  for (i = 0; i < n; i++) {
    c = h[i];
    if (c >= 'A' && c <= 'Z')
      c = (char) (c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
          || c == '-' || c == '_' || (v6 && c == ':')))
      return REFUSE(r, 400, PW_EINVAL, "octet 0x%02x in the host",
                    (unsigned char) h[i]);
    r->req.host[i] = c;
  }
  r->req.host[n] = '\0';

  if (v6 && inet_pton(AF_INET6, r->req.host, a6) != 1)
    return REFUSE(r, 400, PW_EINVAL, "bad IPv6 address [%s]",
                  r->req.host);
  return PW_OK;
}

/* The request-target: CONNECT's authority or an http:// URL. */
static int
take_target(pw_phead_t *r, struct http_parser_url *u)
{
  const char *url = r->raw.p;
  bool connect = r->parser.method == HTTP_CONNECT;
  int rc;

  http_parser_url_init(u);
  if (connect) {
    if (http_parser_parse_url(url, r->url_len, 1, u) != 0)
      return REFUSE(r, 400, PW_EINVAL,
                    "CONNECT needs host:port, got \"%.*s\"",
                    (int) MIN(r->url_len, 128), url);
  } else {
    if (r->url_len == 0 || url[0] == '/' || url[0] == '*')
      return REFUSE(r, 400, PW_EINVAL,
                    "request target \"%.*s\" is not absolute-form: this "
                    "is a proxy", (int) MIN(r->url_len, 128), url);
    if (http_parser_parse_url(url, r->url_len, 0, u) != 0
        || !(u->field_set & (1 << UF_SCHEMA))
        || !(u->field_set & (1 << UF_HOST)))
      return REFUSE(r, 400, PW_EINVAL, "malformed URL \"%.*s\"",
                    (int) MIN(r->url_len, 128), url);
    if (eq(url + u->field_data[UF_SCHEMA].off,
           u->field_data[UF_SCHEMA].len, "https"))
      return REFUSE(r, 400, PW_EINVAL,
                    "https:// in absolute-form: ask with CONNECT");
    if (!eq(url + u->field_data[UF_SCHEMA].off,
            u->field_data[UF_SCHEMA].len, "http"))
      return REFUSE(r, 400, PW_EINVAL, "scheme %.*s: only http://",
                    (int) MIN(u->field_data[UF_SCHEMA].len, 32),
                    url + u->field_data[UF_SCHEMA].off);
    if (u->field_set & (1 << UF_USERINFO))
      return REFUSE(r, 400, PW_EINVAL,
                    "user information in the URL (RFC 9110 4.2.4)");
  }

  rc = take_host(r, u);
  if (rc != PW_OK)
    return rc;

  r->req.port = (u->field_set & (1 << UF_PORT)) ? u->port : 80;
  if (r->req.port == 0)
    return REFUSE(r, 400, PW_EINVAL, "port 0");
  return PW_OK;
}

/*
 * RFC 9112 6.1 and 6.3: the codings of every Transfer-Encoding field,
 * in order.  chunked must be the last and only once; a coding we do not
 * know is 501.  The parser's own reading must agree, or the framing is
 * ambiguous.
 */
static int
check_codings(pw_phead_t *r)
{
  static const char *const known[] = {
    "chunked", "gzip", "x-gzip", "deflate", "compress", "x-compress",
  };
  const field_t *f;
  const char *p, *semi;
  bool any = false, last_chunked = false, ok;
  size_t i, k, n_chunked = 0;
  tok_t t;

  for (i = 0; i < r->n_fields; i++) {
    f = &r->fields[i];
    if (!eq(fname(r, f), f->name_len, "transfer-encoding"))
      continue;
    any = true;
    p = fvalue(r, f);
    while (next_tok(&p, fvalue(r, f) + f->value_len, &t)) {
      semi = memchr(t.p, ';', t.n);
      if (semi != NULL)
        t.n = (size_t) (semi - t.p);
      while (t.n > 0 && is_ows(t.p[t.n - 1]))
        t.n--;

      ok = false;
      for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
        ok = ok || eq(t.p, t.n, known[k]);
      if (!ok)
        return REFUSE(r, 501, PW_EINVAL, "transfer coding \"%.*s\" not "
                      "supported", (int) MIN(t.n, 64), t.p);
      last_chunked = eq(t.p, t.n, "chunked");
      n_chunked += last_chunked;
    }
  }
  if (!any)
    return PW_OK;

  if (r->parser.http_minor == 0)
    return REFUSE(r, 400, PW_EINVAL,
                  "Transfer-Encoding in an HTTP/1.0 request");
  if (!last_chunked || n_chunked != 1
      || !(r->parser.flags & F_CHUNKED))
    return REFUSE(r, 400, PW_EINVAL,
                  "Transfer-Encoding must end with chunked, once");
  return PW_OK;
}

/*
 * Connection options that name fields every recipient needs: dropping
 * them would change the framing the origin sees (request smuggling) or
 * where the request goes.
 */
static int
check_connection(pw_phead_t *r, size_t *n_host)
{
  static const char *const vital[] = {
    "host", "content-length", "transfer-encoding",
  };
  const field_t *f;
  size_t i, k;

  *n_host = 0;
  for (i = 0; i < r->n_fields; i++) {
    f = &r->fields[i];
    if (eq(fname(r, f), f->name_len, "host"))
      (*n_host)++;
    if (!eq(fname(r, f), f->name_len, "connection"))
      continue;
    for (k = 0; k < sizeof(vital) / sizeof(vital[0]); k++)
      if (list_has(fvalue(r, f), f->value_len, vital[k],
                   strlen(vital[k])))
        return REFUSE(r, 400, PW_EINVAL,
                      "Connection names %s, which the origin needs",
                      vital[k]);
  }

  /* RFC 9112 3.2: one Host at most. */
  if (*n_host > 1)
    return REFUSE(r, 400, PW_EINVAL, "%zu Host fields", *n_host);
  return PW_OK;
}

static bool
named_in_connection(const pw_phead_t *r, const field_t *f)
{
  const field_t *c;
  size_t i;

  for (i = 0; i < r->n_fields; i++) {
    c = &r->fields[i];
    if (eq(fname(r, c), c->name_len, "connection")
        && list_has(fvalue(r, c), c->value_len, fname(r, f), f->name_len))
      return true;
  }
  return false;
}

static bool
has_field(const pw_phead_t *r, const char *name)
{
  size_t i;

  for (i = 0; i < r->n_fields; i++)
    if (eq(fname(r, &r->fields[i]), r->fields[i].name_len, name))
      return true;
  return false;
}

/* "/path?query" of the URL, "/" for an empty path; no fragment. */
static int
build_target(pw_phead_t *r, const struct http_parser_url *u)
{
  const char *url = r->raw.p;
  int rc = PW_OK;

  if (u->field_set & (1 << UF_PATH))
    rc = buf_add(&r->target, url + u->field_data[UF_PATH].off,
                 u->field_data[UF_PATH].len);
  else
    rc = buf_str(&r->target, "/");

  if (rc == PW_OK && (u->field_set & (1 << UF_QUERY)))
    rc = buf_add(&r->target, url + u->field_data[UF_QUERY].off - 1,
                 u->field_data[UF_QUERY].len + 1);
  return rc;
}

static int
add_field(buf_t *b, const char *name, size_t name_len, const char *value,
          size_t value_len)
{
  int rc;

  rc = buf_add(b, name, name_len);
  if (rc == PW_OK)
    rc = buf_str(b, ": ");
  if (rc == PW_OK)
    rc = buf_add(b, value, value_len);
  if (rc == PW_OK)
    rc = buf_str(b, "\r\n");
  return rc;
}

/* The head for the origin; see pw_phead_forward. */
static int
build_forward(pw_phead_t *r, const struct http_parser_url *u,
              size_t n_host)
{
  const char *url = r->raw.p, *auth;
  size_t auth_len, i, end;
  bool v6, conn_done = false;
  const field_t *f;
  int rc;

  /* The authority as sent: host (bracketed for IPv6) and any port. */
  v6 = url[u->field_data[UF_HOST].off - 1] == '[';
  auth = url + u->field_data[UF_HOST].off - (v6 ? 1 : 0);
  end = (u->field_set & (1 << UF_PORT))
        ? (size_t) u->field_data[UF_PORT].off + u->field_data[UF_PORT].len
        : (size_t) u->field_data[UF_HOST].off + u->field_data[UF_HOST].len
          + (v6 ? 1 : 0);
  auth_len = (size_t) (url + end - auth);

  rc = buf_str(&r->fwd, r->req.method);
  if (rc == PW_OK)
    rc = buf_str(&r->fwd, " ");
  if (rc == PW_OK)
    rc = buf_add(&r->fwd, r->target.p, r->target.n);
  if (rc == PW_OK)
    rc = buf_str(&r->fwd, " HTTP/1.1\r\n");

  /* RFC 9110 7.2: Host goes first when a user agent sends it. */
  if (rc == PW_OK && n_host == 0)
    rc = add_field(&r->fwd, "Host", 4, auth, auth_len);

  for (i = 0; rc == PW_OK && i < r->n_fields; i++) {
    f = &r->fields[i];
    if (eq(fname(r, f), f->name_len, "proxy-connection")
        || eq(fname(r, f), f->name_len, "proxy-authorization")
        || eq(fname(r, f), f->name_len, "keep-alive"))
      continue;

    if (eq(fname(r, f), f->name_len, "connection")) {
      if (r->req.upgrade && !conn_done)
        rc = buf_str(&r->fwd, "Connection: Upgrade\r\n");
      conn_done = true;
      continue;
    }

    if (eq(fname(r, f), f->name_len, "upgrade")) {
      if (r->req.upgrade)
        rc = add_field(&r->fwd, fname(r, f), f->name_len, fvalue(r, f),
                       f->value_len);
      continue;
    }

    if (named_in_connection(r, f))
      continue;

    /* RFC 9112 3.2.2: the URL's authority wins over Host. */
    if (eq(fname(r, f), f->name_len, "host")
        && !(f->value_len == auth_len
             && strncasecmp(fvalue(r, f), auth, auth_len) == 0)) {
      rc = add_field(&r->fwd, fname(r, f), f->name_len, auth, auth_len);
      continue;
    }

    rc = add_field(&r->fwd, fname(r, f), f->name_len, fvalue(r, f),
                   f->value_len);
  }

  if (rc == PW_OK)
    rc = buf_str(&r->fwd, "\r\n");
  return rc;
}

static int
finish_head(pw_phead_t *r)
{
  http_parser *p = &r->parser;
  struct http_parser_url u;
  size_t i, n_host = 0;
  field_t *f;
  int rc;

  if (p->http_major != 1)
    return REFUSE(r, 505, PW_EINVAL, "HTTP/%u.%u: only HTTP/1.x",
                  p->http_major, p->http_minor);

  /* http-parser drops leading OWS of a value; the trailing is ours. */
  for (i = 0; i < r->n_fields; i++) {
    f = &r->fields[i];
    while (f->value_len > 0 && is_ows(fvalue(r, f)[f->value_len - 1]))
      f->value_len--;
  }

  r->req.method = http_method_str((enum http_method) p->method);
  r->req.http_minor = p->http_minor;
  r->req.keep_alive = http_should_keep_alive(p) != 0;

  rc = take_target(r, &u);
  if (rc != PW_OK)
    return rc;

  if (p->method == HTTP_CONNECT) {
    r->req.kind = PW_PHEAD_CONNECT;
    r->has_req = true;
    return PW_OK;
  }
  r->req.kind = PW_PHEAD_ABSOLUTE;

  rc = check_connection(r, &n_host);
  if (rc == PW_OK)
    rc = check_codings(r);
  if (rc != PW_OK)
    return rc;

  r->req.chunked = (p->flags & F_CHUNKED) != 0;
  r->req.has_body = r->req.chunked
                    || ((p->flags & F_CONTENTLENGTH)
                        && p->content_length > 0);

  /* RFC 9110 7.8: an HTTP/1.0 request's Upgrade is ignored. */
  for (i = 0; i < r->n_fields && p->http_minor > 0; i++) {
    f = &r->fields[i];
    if (eq(fname(r, f), f->name_len, "connection")
        && list_has(fvalue(r, f), f->value_len, "upgrade", 7)
        && has_field(r, "upgrade"))
      r->req.upgrade = true;
  }

  rc = build_target(r, &u);
  if (rc == PW_OK)
    rc = build_forward(r, &u, n_host);
  if (rc != PW_OK)
    return rc;

  r->req.target = r->target.p;
  r->has_req = true;
  return PW_OK;
}

static int
req_headers_complete(http_parser *p)
{
  pw_phead_t *r = p->data;

  r->cb_rc = finish_head(r);
  if (r->cb_rc != PW_OK)
    return -1;

  r->stage = PW_PHEAD_HEAD;
  http_parser_pause(p, 1);
  return 0;
}

static int
req_message_complete(http_parser *p)
{
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings req_settings = {
  .on_message_begin    = req_message_begin,
  .on_url              = req_url,
  .on_header_field     = req_field,
  .on_header_value     = req_value,
  .on_headers_complete = req_headers_complete,
  .on_message_complete = req_message_complete,
};

/* Request reader: feeding */

/* Ready for a new message: its head is counted and scanned afresh. */
static void
new_message(pw_phead_t *r)
{
  r->stage = PW_PHEAD_NEED_MORE;
  r->head_seen = 0;
  r->started = false;
  r->cr = false;
  r->bol = false;
  r->lines = 0;
  r->col = 0;
}

pw_phead_t *
pw_phead_new(void)
{
  pw_phead_t *r = calloc(1, sizeof(*r));

  if (r == NULL)
    return NULL;

  http_parser_init(&r->parser, HTTP_REQUEST);
  r->parser.data = r;
  new_message(r);
  return r;
}

void
pw_phead_free(pw_phead_t *r)
{
  if (r == NULL)
    return;
  free(r->raw.p);
  free(r->target.p);
  free(r->fwd.p);
  free(r);
}

/*
 * What http-parser lets through in a head: a bare CR (RFC 9112 2.2), a
 * line that starts with whitespace (obs-fold, RFC 9112 5.2), a version
 * not spelt HTTP (RFC 9112 2.3), and it has no cap of its own on the
 * request line.
 */
static int
scan_head(pw_phead_t *r, const unsigned char *p, size_t n)
{
  unsigned char b;
  size_t i;

  for (i = 0; i < n; i++) {
    b = p[i];
    if (!r->started) {
      if (b == '\r' || b == '\n')
        continue;
      r->started = true;
      r->first = b;
    }

    if (r->cr && b != '\n')
      return REFUSE(r, 400, PW_EINVAL, "bare CR in the request head");
    r->cr = b == '\r';
    if (b == '\n') {
      /* Debian builds http-parser lenient: "HXXP/1.1" gets through. */
      if (r->lines == 0 && (r->col < sizeof(r->tail)
                            || memcmp(r->tail, " HTTP/", 6) != 0))
        return REFUSE(r, 400, PW_EINVAL,
                      "the request line does not end in HTTP/1.x");
      r->lines++;
      r->col = 0;
      r->bol = true;
      continue;
    }
    if (b == '\r')
      continue;

    if (r->bol && is_ows((char) b))
      return REFUSE(r, 400, PW_EINVAL,
                    "a header line starts with whitespace (obs-fold)");
    r->bol = false;

    if (r->lines > 0)
      continue;
    if (++r->col > PW_PHEAD_LINE_MAX)
      return REFUSE(r, 414, PW_ETOOBIG, "request line over %d octets",
                    PW_PHEAD_LINE_MAX);
    memmove(r->tail, r->tail + 1, sizeof(r->tail) - 1);
    r->tail[sizeof(r->tail) - 1] = (char) b;
  }
  return PW_OK;
}

/* The code and status for the parser's error; at is the octet. */
static int
req_parser_error(pw_phead_t *r, int at)
{
  enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
  unsigned char first;

  if (r->cb_rc != PW_OK)
    return r->cb_rc;

  switch (e) {
  case HPE_INVALID_METHOD:
    /* A method-like token is a method we do not know; else garbage. */
    first = r->started ? r->first : (unsigned char) at;
    if (first >= 'A' && first <= 'Z')
      return REFUSE(r, 501, PW_EINVAL, "unknown request method");
    return REFUSE(r, 400, PW_EINVAL, "not an HTTP request");
  case HPE_HEADER_OVERFLOW:
    return REFUSE(r, 431, PW_ETOOBIG, "trailer fields over %d octets",
                  HTTP_MAX_HEADER_SIZE);
  case HPE_UNEXPECTED_CONTENT_LENGTH:
    return REFUSE(r, 400, PW_EINVAL, "Content-Length twice or with "
                  "Transfer-Encoding: the length is ambiguous");
  default:
    return REFUSE(r, 400, PW_EINVAL, "malformed request: %s",
                  http_errno_description(e));
  }
}

/* Feeds head octets until the head ends; *off moves past them. */
static int
feed_head(pw_phead_t *r, const char *buf, size_t len, size_t *off)
{
  enum http_errno e;
  size_t n, c;
  int rc;

  while (*off < len) {
    if (r->head_seen == PW_PHEAD_HEAD_MAX)
      return REFUSE(r, 431, PW_ETOOBIG, "request head over %d octets",
                    PW_PHEAD_HEAD_MAX);

    n = MIN(len - *off, PW_PHEAD_HEAD_MAX - r->head_seen);
    c = http_parser_execute(&r->parser, &req_settings, buf + *off, n);
    e = HTTP_PARSER_ERRNO(&r->parser);

    /* Paused on the head's last octet: taken, parsed next feed. */
    if (e == HPE_PAUSED) {
      r->held = buf[*off + c];
      c++;
    }

    rc = scan_head(r, (const unsigned char *) buf + *off, c);
    r->head_seen += c;
    *off += c;
    if (rc != PW_OK)
      return rc;

    if (e == HPE_PAUSED)
      return PW_OK;
    if (e != HPE_OK)
      return req_parser_error(r, c < n ? (unsigned char) buf[*off] : 0);
  }
  return PW_OK;
}

/* Body octets: all of them, or up to the end of the message. */
static int
feed_body(pw_phead_t *r, const char *buf, size_t len, size_t *off)
{
  enum http_errno e;
  size_t c;

  /* A length of 0 would tell http-parser the stream ended. */
  if (len == 0)
    return PW_OK;

  c = http_parser_execute(&r->parser, &req_settings, buf, len);
  e = HTTP_PARSER_ERRNO(&r->parser);
  *off = c;
  if (e == HPE_PAUSED) {
    r->stage = PW_PHEAD_MESSAGE_END;
    return PW_OK;
  }
  if (e != HPE_OK)
    return req_parser_error(r, 0);
  return PW_OK;
}

/* After HEAD: the held octet ends the head, and maybe the message. */
static int
end_head(pw_phead_t *r)
{
  enum http_errno e;

  http_parser_execute(&r->parser, &req_settings, &r->held, 1);
  e = HTTP_PARSER_ERRNO(&r->parser);
  if (e == HPE_PAUSED) {
    r->stage = r->req.kind == PW_PHEAD_CONNECT ? PW_PHEAD_TUNNEL
                                               : PW_PHEAD_MESSAGE_END;
    return PW_OK;
  }
  if (e != HPE_OK)
    return req_parser_error(r, 0);

  r->stage = PW_PHEAD_BODY;
  return PW_OK;
}

int
pw_phead_feed(pw_phead_t *r, const void *buf, size_t len, size_t *consumed,
              pw_err_t *err)
{
  size_t off = 0;
  int rc = PW_OK;

  *consumed = 0;
  if (r->failed != PW_OK)
    goto done;

  if (r->stage == PW_PHEAD_TUNNEL)
    return PW_OK;
  if (r->stage == PW_PHEAD_MESSAGE_END) {
    if (len == 0)
      return PW_OK;
    if (!r->req.keep_alive) {
      rc = REFUSE(r, 400, PW_EINVAL,
                  "bytes after a request that closes the connection");
      goto done;
    }
    new_message(r);
  }

  http_parser_pause(&r->parser, 0);
  if (r->stage == PW_PHEAD_HEAD) {
    rc = end_head(r);
    if (rc != PW_OK || r->stage != PW_PHEAD_BODY)
      goto done;
  }

  if (r->stage == PW_PHEAD_NEED_MORE)
    rc = feed_head(r, buf, len, &off);
  else
    rc = feed_body(r, buf, len, &off);

done:
  if (rc == PW_ENOMEM)
    REFUSE(r, 500, PW_ENOMEM, "out of memory");
  if (rc != PW_OK && r->failed == PW_OK) {
    r->failed = rc;
    r->stage = PW_PHEAD_ERROR;
  }
  if (r->failed != PW_OK) {
    if (err != NULL)
      *err = r->err;
    return r->failed;
  }
  *consumed = off;
  return PW_OK;
}

pw_phead_stage_t
pw_phead_stage(const pw_phead_t *r)
{
  return r->stage;
}

const pw_phead_request_t *
pw_phead_request(const pw_phead_t *r)
{
  return r->has_req ? &r->req : NULL;
}

const char *
pw_phead_forward(const pw_phead_t *r, size_t *len)
{
  if (!r->has_req || r->req.kind != PW_PHEAD_ABSOLUTE) {
    *len = 0;
    return NULL;
  }
  *len = r->fwd.n;
  return r->fwd.p;
}

int
pw_phead_status(const pw_phead_t *r)
{
  return r->failed != PW_OK ? r->status : 0;
}
