/*
 * The plain verify.chain call, read in one pass over the message.  The
 * grammar is RFC 8259's, cut down (vscan.h says to what); every rule
 * that is cut answers false rather than guessing.
 */
#include "ipc/vscan.h"

#include <string.h>

/* Integers up to 15 digits: exactly a double, and well inside jansson's
 * json_int_t, so that both readers hold the same number. */
#define DIGITS_MAX 15

typedef struct scan {
  const char *p;
  const char *end;
} scan_t;

/* RFC 8259 section 2: space, tab, line feed, carriage return. */
static void
skip_ws(scan_t *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'
                           || *s->p == '\r'))
    s->p++;
}

/* The next token is c: consumed, with the whitespace before it. */
static bool
take(scan_t *s, char c)
{
  skip_ws(s);
  if (s->p == s->end || *s->p != c)
    return false;
  s->p++;
  return true;
}

/*
 * A string of printable ASCII without escapes; *out spans what is
 * between the quotes.  A backslash, a control character or any byte
 * past 0x7e is for jansson to read.
 */
static bool
plain_string(scan_t *s, pw_vscan_span_t *out)
{
  const char *start;

  if (!take(s, '"'))
    return false;
  start = s->p;
  while (s->p < s->end && *s->p != '"') {
    if (*s->p < 0x20 || *s->p > 0x7e || *s->p == '\\')
      return false;
    s->p++;
  }
  if (s->p == s->end)
    return false;
  out->p = start;
  out->len = (size_t) (s->p - start);
  s->p++;
  return true;
}

/* The string is exactly word. */
static bool
string_is(scan_t *s, const char *word)
{
  pw_vscan_span_t v;

  return plain_string(s, &v) && v.len == strlen(word)
         && memcmp(v.p, word, v.len) == 0;
}

/*
 * An integer without fraction or exponent: "0", or a nonzero digit and
 * up to DIGITS_MAX - 1 more, after a "-" when negative is allowed ("-0"
 * is not: jansson would write it back as 0).  *span covers its text.
 */
static bool
integer(scan_t *s, bool negative, int64_t *out, pw_vscan_span_t *span)
{
  const char *start;
  int64_t v = 0;
  bool minus;
  size_t n = 0;

  skip_ws(s);
  start = s->p;
  minus = negative && s->p < s->end && *s->p == '-';
  if (minus)
    s->p++;
  if (s->p == s->end || *s->p < '0' || *s->p > '9'
      || (*s->p == '0' && minus))
    return false;
  if (*s->p == '0') {
    s->p++;
  } else {
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
      if (++n > DIGITS_MAX)
        return false;
      v = v * 10 + (*s->p++ - '0');
    }
  }

  /* "1.5" and "1e3" are numbers too, but not integers of this subset. */
  if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
    return false;
  *out = minus ? -v : v;
  if (span != NULL) {
    span->p = start;
    span->len = (size_t) (s->p - start);
  }
  return true;
}

/* The key of the next member, then its colon. */
static bool
key(scan_t *s, pw_vscan_span_t *k)
{
  return plain_string(s, k) && take(s, ':');
}

static bool
key_is(const pw_vscan_span_t *k, const char *word)
{
  return k->len == strlen(word) && memcmp(k->p, word, k->len) == 0;
}

/*
 * After a member: "," and another (true, *more set) or the object's end
 * (true, *more clear).
 */
static bool
next_member(scan_t *s, char close, bool *more)
{
  skip_ws(s);
  if (s->p == s->end)
    return false;
  if (*s->p == ',') {
    s->p++;
    *more = true;
    return true;
  }
  if (*s->p == close) {
    s->p++;
    *more = false;
    return true;
  }
  return false;
}

/* ["...", ...]: 1 to PW_VSCAN_CHAIN_MAX plain strings. */
static bool
chain(scan_t *s, pw_vscan_t *out)
{
  bool more = true;

  if (!take(s, '['))
    return false;
  out->n = 0;
  while (more) {
    if (out->n == PW_VSCAN_CHAIN_MAX
        || !plain_string(s, &out->chain[out->n]))
      return false;
    out->n++;
    if (!next_member(s, ']', &more))
      return false;
  }
  return true;
}

enum {
  SEEN_ID      = 1u << 0,
  SEEN_HOST    = 1u << 1,
  SEEN_PORT    = 1u << 2,
  SEEN_CHAIN   = 1u << 3,
  SEEN_JSONRPC = 1u << 4,
  SEEN_METHOD  = 1u << 5,
  SEEN_PARAMS  = 1u << 6,
};

/* A member seen twice is a duplicate key: jansson's to refuse. */
static bool
first_time(unsigned *seen, unsigned bit)
{
  if (*seen & bit)
    return false;
  *seen |= bit;
  return true;
}

static bool
params(scan_t *s, pw_vscan_t *out)
{
  pw_vscan_span_t k;
  unsigned seen = 0;
  bool more = true, ok;

  if (!take(s, '{'))
    return false;
  while (more) {
    if (!key(s, &k))
      return false;
    if (key_is(&k, "host"))
      ok = first_time(&seen, SEEN_HOST) && plain_string(s, &out->host);
    else if (key_is(&k, "id"))
      ok = first_time(&seen, SEEN_ID) && plain_string(s, &out->ref);
    else if (key_is(&k, "port"))
      ok = first_time(&seen, SEEN_PORT) && integer(s, false, &out->port,
                                                   NULL)
           && out->port >= 1 && out->port <= 65535;
    else if (key_is(&k, "chain"))
      ok = first_time(&seen, SEEN_CHAIN) && chain(s, out);
    else
      ok = false;
    if (!ok || !next_member(s, '}', &more))
      return false;
  }
  return (seen & (SEEN_HOST | SEEN_CHAIN)) == (SEEN_HOST | SEEN_CHAIN);
}

/* The call's id: an integer, or a string kept with its quotes. */
static bool
call_id(scan_t *s, pw_vscan_span_t *out)
{
  pw_vscan_span_t v;
  int64_t ignored;

  skip_ws(s);
  if (s->p < s->end && *s->p == '"') {
    if (!plain_string(s, &v))
      return false;
    out->p = v.p - 1;
    out->len = v.len + 2;
    return true;
  }
  return integer(s, true, &ignored, out);
}

bool
pw_vscan_read(const char *buf, size_t len, pw_vscan_t *out)
{
  scan_t s = { buf, buf + len };
  pw_vscan_span_t k;
  unsigned seen = 0;
  bool more = true, ok;

  if (buf == NULL || len > PW_VSCAN_MESSAGE_MAX)
    return false;
  memset(out, 0, sizeof(*out));
  out->port = 443;

  if (!take(&s, '{'))
    return false;
  while (more) {
    if (!key(&s, &k))
      return false;
    if (key_is(&k, "jsonrpc"))
      ok = first_time(&seen, SEEN_JSONRPC) && string_is(&s, "2.0");
    else if (key_is(&k, "method"))
      ok = first_time(&seen, SEEN_METHOD) && string_is(&s, "verify.chain");
    else if (key_is(&k, "id"))
      ok = first_time(&seen, SEEN_ID) && call_id(&s, &out->id);
    else if (key_is(&k, "params"))
      ok = first_time(&seen, SEEN_PARAMS) && params(&s, out);
    else
      ok = false;
    if (!ok || !next_member(&s, '}', &more))
      return false;
  }

  /* A notification has no answer to send: the ordinary path runs it. */
  if (seen != (SEEN_JSONRPC | SEEN_METHOD | SEEN_ID | SEEN_PARAMS))
    return false;
  skip_ws(&s);
  return s.p == s.end;
}
