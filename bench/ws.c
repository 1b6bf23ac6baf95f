#include "ws.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* RFC 6455 section 1.3: the server proves it read the key with this. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#define WS_OP_CONT  0x0
#define WS_OP_TEXT  0x1
#define WS_OP_CLOSE 0x8
#define WS_OP_PING  0x9
#define WS_OP_PONG  0xa

/* A frame header is at most 2 + 8 bytes, and 4 more for the mask. */
#define WS_HEADER_MAX 14

#define WS_RESPONSE_MAX 16384

struct bench_ws {
  int            fd;
  char           err[256];

  unsigned char *in;         /* bytes read and not yet parsed */
  size_t         in_len;
  size_t         in_cap;

  char          *msg;        /* a message that came in several frames */
  size_t         msg_len;
  size_t         msg_cap;
  int            msg_open;

  unsigned char *out;        /* the frame being sent */
  size_t         out_cap;
  uint32_t       mask;       /* xorshift state for masking keys */
};

static int
fail(bench_ws_t *ws, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(ws->err, sizeof(ws->err), fmt, ap);
  va_end(ap);
  return -1;
}

/*
 * A buffer of at least need bytes: buf itself when it is large enough,
 * else a larger copy.  NULL when out of memory; buf is then untouched.
 */
static void *
grow(void *buf, size_t *cap, size_t need)
{
  size_t n = *cap > 0 ? *cap : 4096;
  void *p;

  if (need <= *cap)
    return buf;
  while (n < need)
    n *= 2;
  p = realloc(buf, n);
  if (p != NULL)
    *cap = n;
  return p;
}

static int
write_all(bench_ws_t *ws, const void *buf, size_t len)
{
  const char *p = buf;
  ssize_t n;

  while (len > 0) {
    n = send(ws->fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail(ws, "send: %s", strerror(errno));
    p += n;
    len -= (size_t) n;
  }
  return 0;
}

/* base64 of SHA-1(key GUID), what Sec-WebSocket-Accept must hold. */
static void
expected_accept(const char *key, char out[32])
{
  unsigned char md[SHA_DIGEST_LENGTH];
  char buf[128];

  snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
  SHA1((const unsigned char *) buf, strlen(buf), md);
  EVP_EncodeBlock((unsigned char *) out, md, SHA_DIGEST_LENGTH);
}

/* The value of a response header, or NULL; names ignore case. */
static const char *
header_value(const char *head, const char *name, size_t *len)
{
  const char *line = strstr(head, "\r\n"), *v;
  size_t n = strlen(name);

  while (line != NULL && line[2] != '\r') {
    line += 2;
    if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
      v = line + n + 1;
      v += strspn(v, " \t");
      *len = strcspn(v, " \t\r");
      return v;
    }
    line = strstr(line, "\r\n");
  }
  return NULL;
}

static int
handshake(bench_ws_t *ws, uint16_t port, const char *token)
{
  unsigned char nonce[16];
  char key[32], accept[32], req[1024], head[WS_RESPONSE_MAX + 1], *end;
  unsigned char *p;
  const char *v;
  size_t got = 0, len;
  ssize_t n;
  int reqlen;

  if (RAND_bytes(nonce, sizeof(nonce)) != 1)
    return fail(ws, "RAND_bytes failed");
  EVP_EncodeBlock((unsigned char *) key, nonce, sizeof(nonce));
  expected_accept(key, accept);

  reqlen = snprintf(req, sizeof(req),
                    "GET / HTTP/1.1\r\n"
                    "Host: 127.0.0.1:%u\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Key: %s\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "%s%s%s"
                    "\r\n", port, key,
                    token != NULL ? "Authorization: Bearer " : "",
                    token != NULL ? token : "", token != NULL ? "\r\n" : "");
  if (reqlen < 0 || (size_t) reqlen >= sizeof(req))
    return fail(ws, "the token is too long");
  if (write_all(ws, req, (size_t) reqlen) != 0)
    return -1;

  /* The response ends at the blank line; frames may follow in the read. */
  end = NULL;
  while (end == NULL) {
    if (got == WS_RESPONSE_MAX)
      return fail(ws, "the upgrade response is over %d bytes",
                  WS_RESPONSE_MAX);
    n = recv(ws->fd, head + got, WS_RESPONSE_MAX - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fail(ws, "the server closed during the upgrade%s%s",
                  n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
    got += (size_t) n;
    head[got] = '\0';
    end = strstr(head, "\r\n\r\n");
  }

  if (strncmp(head, "HTTP/1.1 101", 12) != 0)
    return fail(ws, "the upgrade was refused: %.*s", (int) strcspn(head,
                "\r\n"), head);
  v = header_value(head, "Sec-WebSocket-Accept", &len);
  if (v == NULL || len != strlen(accept) || memcmp(v, accept, len) != 0)
    return fail(ws, "the upgrade response has a wrong "
                "Sec-WebSocket-Accept");

  end += 4;
  len = got - (size_t) (end - head);
  p = grow(ws->in, &ws->in_cap, 65536);
  if (p == NULL)
    return fail(ws, "out of memory");
  ws->in = p;
  memcpy(ws->in, end, len);
  ws->in_len = len;
  return 0;
}

int
bench_ws_connect(bench_ws_t **out, uint16_t port, const char *token)
{
  struct timeval tv = { .tv_sec = BENCH_WS_TIMEOUT_S };
  struct sockaddr_in sa;
  bench_ws_t *ws;
  int one = 1;

  *out = ws = calloc(1, sizeof(*ws));
  if (ws == NULL)
    return -1;
  ws->mask = 0x9e3779b9u ^ (uint32_t) port;

  ws->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ws->fd < 0)
    return fail(ws, "socket: %s", strerror(errno));

  /* Small messages both ways: Nagle would hold each one back. */
  setsockopt(ws->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(ws->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  setsockopt(ws->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(ws->fd, (struct sockaddr *) &sa, sizeof(sa)) != 0)
    return fail(ws, "connect to 127.0.0.1:%u: %s", port, strerror(errno));

  return handshake(ws, port, token);
}

void
bench_ws_free(bench_ws_t *ws)
{
  if (ws == NULL)
    return;
  if (ws->fd >= 0)
    close(ws->fd);
  free(ws->in);
  free(ws->msg);
  free(ws->out);
  free(ws);
}

int
bench_ws_fd(const bench_ws_t *ws)
{
  return ws->fd;
}

const char *
bench_ws_error(const bench_ws_t *ws)
{
  return ws != NULL ? ws->err : "out of memory";
}

static int
send_frame(bench_ws_t *ws, int op, const char *buf, size_t len)
{
  unsigned char *f, key[4];
  size_t h = 0, i;

  f = grow(ws->out, &ws->out_cap, len + WS_HEADER_MAX);
  if (f == NULL)
    return fail(ws, "out of memory");
  ws->out = f;

  /* Section 5.2: FIN, the opcode, then the length in 7, 16 or 64 bits. */
  f[h++] = (unsigned char) (0x80 | op);
  if (len < 126) {
    f[h++] = (unsigned char) (0x80 | len);
  } else if (len < 65536) {
    f[h++] = 0x80 | 126;
    f[h++] = (unsigned char) (len >> 8);
    f[h++] = (unsigned char) len;
  } else {
    f[h++] = 0x80 | 127;
    for (i = 0; i < 8; i++)
      f[h++] = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
  }

  /*
   * Section 5.3 wants a masking key no one can predict, against proxies
   * that cache; on loopback to our own server a xorshift does.
   */
  ws->mask ^= ws->mask << 13;
  ws->mask ^= ws->mask >> 17;
  ws->mask ^= ws->mask << 5;
  memcpy(key, &ws->mask, 4);
  memcpy(f + h, key, 4);
  h += 4;

  for (i = 0; i < len; i++)
    f[h + i] = (unsigned char) buf[i] ^ key[i & 3];

  return write_all(ws, f, h + len);
}

int
bench_ws_send(bench_ws_t *ws, const char *buf, size_t len)
{
  return send_frame(ws, WS_OP_TEXT, buf, len);
}

/*
 * Handles one whole frame.  A text frame with FIN and nothing open is
 * passed straight from the read buffer, the common case, with no copy.
 */
static int
frame(bench_ws_t *ws, int fin, int op, const unsigned char *p, size_t len,
      bench_ws_message_fn fn, void *data)
{
  char *m;

  switch (op) {
  case WS_OP_TEXT:
  case WS_OP_CONT:
    if ((op == WS_OP_TEXT) == (ws->msg_open != 0))
      return fail(ws, "the server broke a message's frames (opcode %d)",
                  op);
    if (fin && op == WS_OP_TEXT)
      return fn(data, (const char *) p, len);

    if (ws->msg_len + len > BENCH_WS_MAX_MESSAGE)
      return fail(ws, "a message is over %d bytes", BENCH_WS_MAX_MESSAGE);
    m = grow(ws->msg, &ws->msg_cap, ws->msg_len + len);
    if (m == NULL)
      return fail(ws, "out of memory");
    ws->msg = m;
    memcpy(ws->msg + ws->msg_len, p, len);
    ws->msg_len += len;
    ws->msg_open = !fin;
    if (!fin)
      return 0;

    len = ws->msg_len;
    ws->msg_len = 0;
    return fn(data, ws->msg, len);
  case WS_OP_PING:
    return send_frame(ws, WS_OP_PONG, (const char *) p, len);
  case WS_OP_PONG:
    return 0;
  case WS_OP_CLOSE:
    return fail(ws, "the server closed the connection (code %u)",
                len >= 2 ? (unsigned) (p[0] << 8 | p[1]) : 0);
  default:
    return fail(ws, "the server sent opcode %d", op);
  }
}

/*
 * The size of the frame that starts at p, header included, or 0 when
 * not even its header is here.
 */
static uint64_t
frame_size(const unsigned char *p, size_t left, size_t *header)
{
  uint64_t len;
  size_t h = 2, i;

  if (left < 2)
    return 0;
  len = p[1] & 0x7f;
  if (len == 126)
    h += 2;
  else if (len == 127)
    h += 8;
  if (left < h)
    return 0;

  if (len == 126)
    len = (uint64_t) p[2] << 8 | p[3];
  else if (len == 127)
    for (len = 0, i = 0; i < 8; i++)
      len = len << 8 | p[2 + i];
  *header = h;
  return h + len;
}

/* Parses the whole frames in ws->in and keeps what is left of the next. */
static int
parse(bench_ws_t *ws, bench_ws_message_fn fn, void *data)
{
  const unsigned char *p = ws->in;
  size_t left = ws->in_len, h = 0;
  uint64_t size;
  int ret = 0;

  while (ret == 0 && (size = frame_size(p, left, &h)) > 0) {
    if (p[1] & 0x80) {
      ret = fail(ws, "the server masked a frame (RFC 6455 section 5.1)");
      break;
    }
    if (size - h > BENCH_WS_MAX_MESSAGE) {
      ret = fail(ws, "a frame is over %d bytes", BENCH_WS_MAX_MESSAGE);
      break;
    }
    if (left < size)
      break;

    ret = frame(ws, p[0] & 0x80, p[0] & 0x0f, p + h, (size_t) (size - h),
                fn, data);
    p += size;
    left -= (size_t) size;
  }

  memmove(ws->in, p, left);
  ws->in_len = left;
  return ret;
}

int
bench_ws_read(bench_ws_t *ws, bench_ws_message_fn fn, void *data)
{
  unsigned char *p;
  uint64_t size;
  size_t h;
  ssize_t n;

  /*
   * Room for the frame that is partly here (its size was checked), or
   * for a good read when none is.
   */
  size = frame_size(ws->in, ws->in_len, &h);
  p = grow(ws->in, &ws->in_cap, size > 0 ? (size_t) size
                                         : ws->in_len + 65536);
  if (p == NULL)
    return fail(ws, "out of memory");
  ws->in = p;

  n = recv(ws->fd, ws->in + ws->in_len, ws->in_cap - ws->in_len,
           MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return 0;
  if (n < 0)
    return fail(ws, "recv: %s", strerror(errno));
  if (n == 0)
    return fail(ws, "the server closed the connection");
  ws->in_len += (size_t) n;

  /* Polling is level-triggered: what is left is read on the next call. */
  return parse(ws, fn, data);
}

int
bench_ws_wait(bench_ws_t *ws, int timeout_ms, bench_ws_message_fn fn,
              void *data)
{
  struct pollfd pfd = { .fd = ws->fd, .events = POLLIN };
  int n;

  n = poll(&pfd, 1, timeout_ms);
  if (n < 0 && errno == EINTR)
    return 0;
  if (n < 0)
    return fail(ws, "poll: %s", strerror(errno));
  if (n == 0)
    return 0;
  return bench_ws_read(ws, fn, data);
}
