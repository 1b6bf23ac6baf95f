/*
 * The byte pump of a connection and the inspection of the TLS
 * handshakes of pinned hosts.
 *
 * The pump writes what it read at once (uv_try_write) and only when the
 * other side cannot take it all does it keep the rest and stop reading
 * the side it came from until the write is done: one pending write per
 * direction is the whole of the back-pressure, and a fast sender never
 * grows the engine's memory.  EOF on one side shuts down writing on the
 * other, so a half-closed connection keeps working the other way.
 *
 * Inspection (DESIGN.md, "Pin enforcement without a man-in-the-middle")
 * forwards the client's bytes untouched while reading its ClientHello,
 * and forwards the server's bytes up to the point where the server's
 * certificate begins to matter: the end of the ServerHello.  What the
 * server sends after that is held until the chain is judged.  TLS 1.2
 * shows the Certificate in clear; TLS 1.3 needs the server's handshake
 * secret, which the client writes to the profile's key-log file.
 */
#include "gateway/gateway_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "engine/secure.h"

/* ---- reading and writing ------------------------------------------ */

static void
alloc_read(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  gw_conn_t *c = h->data;

  buf->base = c->gw->rbuf;
  buf->len = PW_GW_READ_SIZE;
}

/*
 * What both read callbacks do first: nothing for an empty read or a
 * closing connection, close on an error; true when that was all.
 */
static bool
read_done(gw_conn_t *c, ssize_t n)
{
  if (n == 0 || c->state == GW_CLOSING)
    return true;
  if (n < 0 && n != UV_EOF) {
    gw_conn_close(c);
    return true;
  }
  if (n > 0)
    c->last_active = uv_now(c->gw->loop);
  return false;
}

static void
on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  gw_conn_t *c = s->data;

  if (read_done(c, n))
    return;
  if (n == UV_EOF) {
    gw_read_client(c, false);
    /* Between requests, a client that leaves ends the connection. */
    if (c->state == GW_HEAD)
      gw_conn_close(c);
    else
      gw_eof(c, &c->c2s);
    return;
  }

  switch (c->state) {
  case GW_HEAD:
  case GW_HTTP:
    gw_http_client_data(c, buf->base, (size_t) n);
    break;
  case GW_SNIFF:
  case GW_INSPECT:
  case GW_PUMP:
    gw_tunnel_client_data(c, buf->base, (size_t) n);
    break;
  default:
    break;
  }
}

static void
on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  gw_conn_t *c = s->data;

  if (read_done(c, n))
    return;
  if (n == UV_EOF) {
    gw_read_server(c, false);
    if (c->state == GW_HTTP) {
      gw_http_server_eof(c);
      return;
    }
    /* A handshake cut short is not passed on as if it were whole. */
    if (c->state == GW_INSPECT) {
      gw_conn_close(c);
      return;
    }
    gw_eof(c, &c->s2c);
    return;
  }

  switch (c->state) {
  case GW_HTTP:
    gw_http_server_data(c, buf->base, (size_t) n);
    break;
  case GW_SNIFF:
  case GW_INSPECT:
  case GW_PUMP:
    gw_tunnel_server_data(c, buf->base, (size_t) n);
    break;
  default:
    break;
  }
}

void
gw_read_client(gw_conn_t *c, bool on)
{
  if (on && !c->c2s.pending && !c->c2s.eof && c->state != GW_CLOSING)
    uv_read_start((uv_stream_t *) &c->client, alloc_read,
                  on_client_read);
  else
    uv_read_stop((uv_stream_t *) &c->client);
}

void
gw_read_server(gw_conn_t *c, bool on)
{
  if (c->server == NULL)
    return;
  if (on && !c->s2c.pending && !c->s2c.eof && c->state != GW_CLOSING)
    uv_read_start((uv_stream_t *) c->server, alloc_read,
                  on_server_read);
  else
    uv_read_stop((uv_stream_t *) c->server);
}

static void
shut_cb(uv_shutdown_t *req, int status)
{
  gw_conn_t *c = req->data;
  gw_dir_t *d = req == &c->c2s.shutdown ? &c->c2s : &c->s2c;

  d->shut = true;
  if (status != 0 || (c->c2s.shut && c->s2c.shut))
    gw_conn_close(c);
}

/* Both ways ended: close.  One way: shut the other side's writing. */
static void
shut_if_done(gw_conn_t *c, gw_dir_t *d)
{
  uv_stream_t *dst;

  if (!d->eof || d->pending > 0 || d->shut || c->state == GW_CLOSING)
    return;
  dst = d == &c->c2s ? (uv_stream_t *) c->server
                     : (uv_stream_t *) &c->client;
  if (d == &c->c2s && c->server == NULL) {
    gw_conn_close(c);
    return;
  }
  d->shutdown.data = c;
  if (uv_shutdown(&d->shutdown, dst, shut_cb) != 0)
    gw_conn_close(c);
}

void
gw_eof(gw_conn_t *c, gw_dir_t *d)
{
  d->eof = true;
  shut_if_done(c, d);
}

/* A write the socket did not take at once, with its bytes. */
typedef struct gw_write {
  uv_write_t req;
  gw_conn_t *conn;
  gw_dir_t  *dir;
  char       data[];
} gw_write_t;

static void
write_cb(uv_write_t *req, int status)
{
  gw_write_t *w = (gw_write_t *) req;
  gw_conn_t *c = w->conn;
  gw_dir_t *d = w->dir;
  uv_stream_t *dst = req->handle;

  free(w);
  d->pending--;
  /* A write to an upstream connection that was let go. */
  if (d == &c->c2s && dst != (uv_stream_t *) c->server)
    return;
  if (c->state == GW_CLOSING || d->pending > 0)
    return;
  if (status != 0 || (d == &c->s2c && c->close_when_sent)) {
    gw_conn_close(c);
    return;
  }

  if (d == &c->s2c && c->state == GW_HTTP)
    gw_http_sent(c);
  if (c->state == GW_CLOSING)
    return;
  shut_if_done(c, d);

  /* The side this direction reads from may go on. */
  if (d == &c->c2s)
    gw_read_client(c, c->state != GW_CONNECTING
                      && (c->state != GW_HTTP || !c->req_done));
  else
    gw_read_server(c, c->state != GW_INSPECT
                      || c->held_len < PW_GW_HOLD_MAX);
}

/*
 * Writes len bytes in direction d: what the socket takes now, and the
 * rest through a queued write, during which d's source is not read.
 * Returns 0, or a libuv error after which the caller closes.
 */
int
gw_send(gw_conn_t *c, gw_dir_t *d, const char *buf, size_t len)
{
  uv_stream_t *dst;
  gw_write_t *w;
  uv_buf_t b;
  int n;

  if (len == 0)
    return 0;
  dst = d == &c->c2s ? (uv_stream_t *) c->server
                     : (uv_stream_t *) &c->client;

  /* Behind a queued write, bytes queue too, to keep their order. */
  if (d->pending == 0) {
    b = uv_buf_init((char *) buf, (unsigned) len);
    n = uv_try_write(dst, &b, 1);
    if (n == UV_EAGAIN)
      n = 0;
    if (n < 0)
      return n;
    if ((size_t) n == len)
      return 0;
    buf += n;
    len -= (size_t) n;
  }

  w = malloc(sizeof(*w) + len);
  if (w == NULL)
    return UV_ENOMEM;
  memcpy(w->data, buf, len);
  w->conn = c;
  w->dir = d;
  b = uv_buf_init(w->data, (unsigned) len);
  n = uv_write(&w->req, dst, &b, 1, write_cb);
  if (n != 0) {
    free(w);
    return n;
  }
  d->pending++;

  if (d == &c->c2s)
    gw_read_client(c, false);
  else
    gw_read_server(c, false);
  return 0;
}

static void
forward(gw_conn_t *c, gw_dir_t *d, const char *buf, size_t len)
{
  if (gw_send(c, d, buf, len) != 0)
    gw_conn_close(c);
}

/* ---- the hosts that passed, for resumed sessions -------------------- */

static void
passed_key(char *out, size_t size, const char *host, uint16_t port)
{
  snprintf(out, size, "%s:%u", host, (unsigned) port);
}

bool
gw_passed(pw_gw_t *gw, const char *host, uint16_t port)
{
  char key[PW_HOST_MAX + 8];
  size_t i;

  passed_key(key, sizeof(key), host, port);
  for (i = 0; i < gw->npassed; i++)
    if (strcmp(gw->passed[i], key) == 0)
      return true;
  return false;
}

void
gw_pass(pw_gw_t *gw, const char *host, uint16_t port)
{
  if (gw_passed(gw, host, port))
    return;
  if (gw->passed == NULL) {
    gw->passed = calloc(PW_GW_PASSED_MAX, sizeof(*gw->passed));
    if (gw->passed == NULL)
      return;   /* resumed sessions are then refused: the safe side */
  }
  /* Full: the oldest half goes, which costs only a fresh handshake. */
  if (gw->npassed == PW_GW_PASSED_MAX) {
    memmove(gw->passed, gw->passed + PW_GW_PASSED_MAX / 2,
            (PW_GW_PASSED_MAX / 2) * sizeof(*gw->passed));
    gw->npassed = PW_GW_PASSED_MAX / 2;
  }
  passed_key(gw->passed[gw->npassed++], sizeof(*gw->passed), host, port);
}

/* ---- inspection ---------------------------------------------------- */

static void
inspect_free(gw_conn_t *c)
{
  if (c->waiting && c->gw->keylog != NULL)
    pw_keylog_cancel(c->gw->keylog, c->wait_id);
  c->waiting = false;
  pw_tls_free(c->tls_client);
  pw_tls_free(c->tls_server);
  pw_tls13_reader_free(c->tls13);
  free(c->held);
  c->tls_client = c->tls_server = NULL;
  c->tls13 = NULL;
  c->held = NULL;
  c->held_len = c->held_cap = c->held_fed = 0;
}

/* The handshake passed: what was held goes out, then bytes just pass. */
static void
release(gw_conn_t *c)
{
  char *held = c->held;
  size_t len = c->held_len;

  c->held = NULL;
  c->held_len = 0;
  inspect_free(c);
  c->state = GW_PUMP;

  if (gw_send(c, &c->s2c, held, len) != 0) {
    free(held);
    gw_conn_close(c);
    return;
  }
  free(held);
  gw_read_client(c, true);
  gw_read_server(c, true);
}

static void
refuse(gw_conn_t *c, pw_reason_t reason, const char *what)
{
  c->gw->stats.blocked++;
  gw_record(c, PW_ACTION_BLOCK, reason, "%s", what);
  gw_conn_close(c);
}

/* A handshake without a certificate: a resumed session (or a PSK). */
static void
resumed(gw_conn_t *c)
{
  if (gw_passed(c->gw, c->name, c->port)) {
    release(c);
    return;
  }
  refuse(c, PW_REASON_RESUMED,
         "a resumed TLS session carries no certificate, and no full "
         "handshake with this host passed in this gateway under the "
         "current pins");
}

static void
judge(gw_conn_t *c, size_t n,
      const unsigned char *(*cert)(gw_conn_t *, size_t, size_t *))
{
  pw_gw_t *gw = c->gw;
  const unsigned char *der[PW_DECISION_MAX_CHAIN];
  int len[PW_DECISION_MAX_CHAIN];
  pw_decision_t d;
  pw_err_t e = { 0, "" };
  size_t i, l;

  gw->stats.inspected++;
  if (n > PW_DECISION_MAX_CHAIN) {
    refuse(c, PW_REASON_BAD_CHAIN, "the server sent too many certificates");
    return;
  }
  for (i = 0; i < n; i++) {
    der[i] = cert(c, i, &l);
    len[i] = (int) l;
  }

  pw_decision_init(&d);
  if (gw->hooks.decide(gw->hooks.data, &gw->profile, c->name, c->port, der,
                       len, n, &d, &e) != PW_OK) {
    refuse(c, e.code == PW_EINVAL ? PW_REASON_BAD_CHAIN
                                  : PW_REASON_BAD_INPUT, e.msg);
    goto done;
  }

  snprintf(d.profile, sizeof(d.profile), "%s", gw->profile.id);
  d.port = c->port;
  if (d.action == PW_ACTION_BLOCK) {
    gw->stats.blocked++;
    gw->hooks.record(gw->hooks.record_data, &d);
    gw_conn_close(c);
    goto done;
  }
  if (d.action == PW_ACTION_REPORT)
    gw->hooks.record(gw->hooks.record_data, &d);
  gw_pass(gw, c->name, c->port);
  release(c);

done:
  pw_decision_clear(&d);
}

static const unsigned char *
cert12(gw_conn_t *c, size_t i, size_t *len)
{
  return pw_tls_cert(c->tls_server, i, len);
}

static const unsigned char *
cert13(gw_conn_t *c, size_t i, size_t *len)
{
  return pw_tls13_cert(c->tls13, i, len);
}

/* Gives the TLS 1.3 reader what it has not seen of the held bytes. */
static void
feed13(gw_conn_t *c)
{
  pw_err_t e = { 0, "" };

  if (c->tls13 == NULL || c->held_fed == c->held_len)
    return;
  if (pw_tls13_reader_feed(c->tls13, c->held + c->held_fed,
                           c->held_len - c->held_fed, &e) != PW_OK) {
    refuse(c, PW_REASON_BAD_INPUT, e.msg);
    return;
  }
  c->held_fed = c->held_len;

  switch (pw_tls13_reader_stage(c->tls13)) {
  case PW_TLS13_CERTIFICATE:
    judge(c, pw_tls13_cert_count(c->tls13), cert13);
    break;
  case PW_TLS13_NO_CERTIFICATE:
    resumed(c);
    break;
  case PW_TLS13_ALERT:
    /* The server gave up on its own; the client hears why. */
    release(c);
    break;
  default:
    break;
  }
}

static void
on_secret(void *data, int status, const unsigned char *secret,
          size_t secret_len)
{
  gw_conn_t *c = data;
  const pw_tls_server_hello_t *sh;
  pw_tls13_keys_t keys;
  pw_err_t e = { 0, "" };

  c->waiting = false;
  if (c->state != GW_INSPECT)
    return;
  if (status == PW_KEYLOG_CLOSED) {
    gw_conn_close(c);
    return;
  }
  if (status == PW_KEYLOG_TIMEOUT) {
    refuse(c, PW_REASON_NO_SECRET,
           "the client wrote no handshake secret to the key-log file "
           "in time");
    return;
  }

  sh = pw_tls_server_hello(c->tls_server);
  if (pw_tls13_keys(sh->suite, secret, secret_len, &keys, &e) != PW_OK
      || (c->tls13 = pw_tls13_reader_new(&keys)) == NULL) {
    OPENSSL_cleanse(&keys, sizeof(keys));
    refuse(c, PW_REASON_BAD_INPUT, e.msg[0] ? e.msg : "out of memory");
    return;
  }
  OPENSSL_cleanse(&keys, sizeof(keys));
  feed13(c);
}

/* TLS 1.3: both hellos are known; ask for the secret once. */
static void
want_secret(gw_conn_t *c)
{
  const pw_tls_client_hello_t *ch = pw_tls_client_hello(c->tls_client);
  pw_err_t e = { 0, "" };

  if (c->waiting || c->tls13 != NULL || ch == NULL)
    return;
  if (pw_keylog_wait(c->gw->keylog, ch->random, c->gw->secret_wait_ms,
                     on_secret, c, &c->wait_id, &e) != PW_OK) {
    refuse(c, PW_REASON_NO_SECRET, e.msg);
    return;
  }
  c->waiting = true;
}

static void
hold(gw_conn_t *c, const char *buf, size_t len)
{
  size_t cap;
  char *p;

  if (c->held_len + len > PW_GW_HOLD_MAX) {
    refuse(c, PW_REASON_BAD_INPUT,
           "the server's handshake is larger than the gateway holds");
    return;
  }
  if (c->held_len + len > c->held_cap) {
    cap = c->held_cap ? c->held_cap : 16 * 1024;
    while (cap < c->held_len + len)
      cap *= 2;
    if (cap > PW_GW_HOLD_MAX)
      cap = PW_GW_HOLD_MAX;
    p = realloc(c->held, cap);
    if (p == NULL) {
      refuse(c, PW_REASON_BAD_INPUT, "out of memory");
      return;
    }
    c->held = p;
    c->held_cap = cap;
  }
  memcpy(c->held + c->held_len, buf, len);
  c->held_len += len;
  if (c->held_len == PW_GW_HOLD_MAX)
    gw_read_server(c, false);
}

static void
inspect_server(gw_conn_t *c, const char *buf, size_t len)
{
  pw_err_t e = { 0, "" };
  uint64_t start = c->server_seen, at;
  size_t pass;

  c->server_seen += len;

  /* TLS 1.3 past the ServerHello: held, and read once decrypted. */
  if (c->tls13 != NULL || c->waiting) {
    hold(c, buf, len);
    if (c->state == GW_INSPECT)
      feed13(c);
    return;
  }

  /*
   * The plain reader sees every byte until it knows the outcome: a TLS
   * 1.2 flight past the hold point reaches the gateway over as many
   * reads as the network cuts it into, and the Certificate is whole
   * only at the end of one of them.
   */
  if (pw_tls_feed(c->tls_server, buf, len, &e) != PW_OK) {
    refuse(c, PW_REASON_BAD_INPUT, e.msg);
    return;
  }

  /* The bytes before the hold point pass; the rest is held. */
  at = pw_tls_hold_offset(c->tls_server);
  pass = at == UINT64_MAX || at >= start + len ? len : (size_t) (at - start);
  if (at != UINT64_MAX && at < start)
    pass = 0;
  if (pass > 0 && gw_send(c, &c->s2c, buf, pass) != 0) {
    gw_conn_close(c);
    return;
  }
  if (pass < len)
    hold(c, buf + pass, len - pass);
  if (c->state != GW_INSPECT)
    return;

  switch (pw_tls_stage(c->tls_server)) {
  case PW_TLS_CERTIFICATE:
    judge(c, pw_tls_cert_count(c->tls_server), cert12);
    break;
  case PW_TLS_NO_CERTIFICATE:
    resumed(c);
    break;
  case PW_TLS_ALERT:
    release(c);
    break;
  case PW_TLS_ENCRYPTED:
    want_secret(c);
    break;
  default:
    break;
  }
}

static void
inspect_client(gw_conn_t *c, const char *buf, size_t len)
{
  pw_err_t e = { 0, "" };

  if (pw_tls_stage(c->tls_client) != PW_TLS_CLIENT_HELLO) {
    if (pw_tls_feed(c->tls_client, buf, len, &e) != PW_OK) {
      refuse(c, PW_REASON_BAD_INPUT, e.msg);
      return;
    }
  }
  forward(c, &c->c2s, buf, len);
  if (c->state == GW_INSPECT
      && pw_tls_stage(c->tls_server) == PW_TLS_ENCRYPTED)
    want_secret(c);
}

/* ---- the tunnel ---------------------------------------------------- */

/*
 * Whether Secure Access wants this tunnel to carry TLS: what it exempts
 * passes as a clear-text request would (pw_sa_exempt); a host that does
 * not normalise is held to TLS, the safe side.
 */
static bool
sa_wants_tls(const gw_conn_t *c)
{
  const pw_sa_t *sa = &c->gw->profile.sa;
  char host[PW_HOST_MAX];
  pw_err_t e = { 0, "" };

  if (!sa->enabled)
    return false;
  if (pw_host_normalize(c->host, host, NULL, &e) != PW_OK)
    return true;
  return !pw_sa_exempt(sa, host, (int64_t) time(NULL), NULL);
}

/*
 * The tunnel is open (the client heard 200).  A host that is pinned, or
 * one Secure Access holds to TLS, has its first client bytes looked at;
 * any other tunnel is a plain pump from the first byte.
 */
void
gw_tunnel_start(gw_conn_t *c)
{
  pw_gw_t *gw = c->gw;

  gw->stats.tunnels++;
  snprintf(c->name, sizeof(c->name), "%s", c->host);
  c->pinned = gw->hooks.pinned(gw->hooks.data, &gw->profile, c->host);
  c->sa_tls = sa_wants_tls(c);
  c->state = c->pinned || c->sa_tls ? GW_SNIFF : GW_PUMP;
  gw_read_client(c, true);
  gw_read_server(c, true);
}

void
gw_tunnel_client_data(gw_conn_t *c, const char *buf, size_t len)
{
  pw_tls_probe_t probe;
  size_t take;

  if (c->state == GW_PUMP) {
    forward(c, &c->c2s, buf, len);
    return;
  }
  if (c->state == GW_INSPECT) {
    inspect_client(c, buf, len);
    return;
  }

  /* GW_SNIFF: a few bytes tell whether a ClientHello begins. */
  take = sizeof(c->sniff) - c->sniff_len;
  if (take > len)
    take = len;
  memcpy(c->sniff + c->sniff_len, buf, take);
  c->sniff_len += take;
  probe = pw_tls_looks_like_client_hello(c->sniff, c->sniff_len);
  if (probe == PW_TLS_PROBE_MORE)
    return;
  if (probe == PW_TLS_PROBE_NO) {
    if (c->sa_tls)
      refuse(c, PW_REASON_SA_BLOCK,
             "Secure Access: the tunnel did not begin with a TLS "
             "ClientHello");
    else
      refuse(c, PW_REASON_BAD_INPUT,
             "the tunnel to a pinned host did not begin with a TLS "
             "ClientHello");
    return;
  }

  c->state = GW_PUMP;
  if (c->pinned) {
    c->tls_client = pw_tls_new(PW_TLS_FROM_CLIENT);
    c->tls_server = pw_tls_new(PW_TLS_FROM_SERVER);
    if (c->tls_client == NULL || c->tls_server == NULL) {
      refuse(c, PW_REASON_BAD_INPUT, "out of memory");
      return;
    }
    c->state = GW_INSPECT;
    c->inspect_at = uv_now(c->gw->loop);
  }

  /* Bytes of earlier reads kept in sniff go first, then this read. */
  if (c->sniff_len > take)
    gw_tunnel_client_data(c, (const char *) c->sniff, c->sniff_len - take);
  if (c->state != GW_CLOSING)
    gw_tunnel_client_data(c, buf, len);
}

void
gw_tunnel_server_data(gw_conn_t *c, const char *buf, size_t len)
{
  if (c->state == GW_INSPECT) {
    inspect_server(c, buf, len);
    return;
  }
  /* A server that speaks first, before the client's bytes decided. */
  if (c->state == GW_SNIFF && c->pinned) {
    refuse(c, PW_REASON_BAD_INPUT,
           "the server of a pinned host spoke before the client");
    return;
  }
  forward(c, &c->s2c, buf, len);
}

/*
 * A handshake that drags on holds a server flight and a client that
 * waits: past the head timeout plus the secret's wait, it fails closed.
 */
void
gw_tunnel_tick(gw_conn_t *c, uint64_t now)
{
  pw_gw_t *gw = c->gw;

  if (c->state == GW_INSPECT
      && now - c->inspect_at > gw->head_timeout_ms + gw->secret_wait_ms)
    refuse(c, PW_REASON_BAD_INPUT, "the TLS handshake did not end in time");
}

void
gw_tunnel_free(gw_conn_t *c)
{
  inspect_free(c);
}
