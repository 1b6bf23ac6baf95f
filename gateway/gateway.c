/*
 * The gateway: its start (the upstream check, then the listener), its
 * stop, and each client connection up to the point where it becomes a
 * tunnel (tunnel.c): the request head, Secure Access on clear text, the
 * upstream connection, and clear-text requests with keep-alive.
 */
#include "gateway/gateway_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/secure.h"

/* The clock of the records: Unix seconds. */
static int64_t
now_s(void)
{
  return (int64_t) time(NULL);
}

static uint64_t
or_default(uint64_t v, uint64_t dflt)
{
  return v != 0 ? v : dflt;
}

/* ---- closing ------------------------------------------------------- */

static void gw_finish(pw_gw_t *gw);

/* One handle of c is closed; the last one frees c. */
static void
conn_unref(gw_conn_t *c)
{
  pw_gw_t *gw = c->gw;

  if (--c->handles > 0)
    return;
  free(c);
  gw->alive--;
  if (gw->closing)
    gw_finish(gw);
}

static void
conn_closed(uv_handle_t *h)
{
  conn_unref(h->data);
}

static void
server_closed(uv_handle_t *h)
{
  gw_conn_t *c = h->data;

  free(h);
  conn_unref(c);
}

void
gw_conn_close(gw_conn_t *c)
{
  pw_gw_t *gw = c->gw;

  if (c->state == GW_CLOSING)
    return;
  c->state = GW_CLOSING;

  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    gw->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  gw->stats.open--;

  pw_up_cancel(c->up);
  c->up = NULL;
  gw_tunnel_free(c);
  pw_phead_free(c->head);
  pw_phead_resp_free(c->resp);
  free(c->ahead);
  c->head = NULL;
  c->resp = NULL;
  c->ahead = NULL;

  uv_close((uv_handle_t *) &c->timer, conn_closed);
  uv_close((uv_handle_t *) &c->client, conn_closed);
  gw_server_close(c);
}

/* The upstream connection closes on its own; the client's may go on. */
void
gw_server_close(gw_conn_t *c)
{
  if (c->server == NULL)
    return;
  uv_close((uv_handle_t *) c->server, server_closed);
  c->server = NULL;
  pw_phead_resp_free(c->resp);
  c->resp = NULL;
}

/* ---- answers of the gateway's own --------------------------------- */

static const char *
status_text(int status)
{
  switch (status) {
  case 200: return "Connection Established";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 405: return "Method Not Allowed";
  case 407: return "Proxy Authentication Required";
  case 408: return "Request Timeout";
  case 414: return "URI Too Long";
  case 431: return "Request Header Fields Too Large";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 504: return "Gateway Timeout";
  default:  return "Error";
  }
}

/*
 * Writes a whole answer of the gateway's own.  close: the connection
 * ends once it is sent (every error, and answers to requests whose body
 * the gateway does not read).
 */
static void
respond(gw_conn_t *c, int status, const char *location, const char *body,
        bool close)
{
  char head[8192 + 512];
  int n;

  n = snprintf(head, sizeof(head),
               "HTTP/1.1 %d %s\r\n"
               "%s%s%s"
               "Content-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: %zu\r\n"
               "Cache-Control: no-store\r\n"
               "Connection: %s\r\n\r\n",
               status, status_text(status),
               location != NULL ? "Location: " : "",
               location != NULL ? location : "",
               location != NULL ? "\r\n" : "",
               strlen(body), close ? "close" : "keep-alive");
  if (n < 0 || (size_t) n >= sizeof(head)) {
    gw_conn_close(c);
    return;
  }
  if (close)
    c->close_when_sent = true;
  if (gw_send(c, &c->s2c, head, (size_t) n) != 0
      || gw_send(c, &c->s2c, body, strlen(body)) != 0) {
    gw_conn_close(c);
    return;
  }
  if (close && c->s2c.pending == 0)
    gw_conn_close(c);
}

void
gw_conn_fail(gw_conn_t *c, int status, const char *fmt, ...)
{
  char msg[1024], body[1400];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(body, sizeof(body), "pinwarden: profile \"%s\": %s\n",
           c->gw->profile.name != NULL ? c->gw->profile.name : "", msg);
  c->state = GW_HEAD;
  gw_read_client(c, false);
  respond(c, status, NULL, body, true);
}

void
gw_record(gw_conn_t *c, pw_action_t action, pw_reason_t reason,
          const char *fmt, ...)
{
  pw_gw_t *gw = c->gw;
  pw_decision_t d;
  va_list ap;

  pw_decision_init(&d);
  d.action = action;
  d.reason = reason;
  va_start(ap, fmt);
  vsnprintf(d.detail, sizeof(d.detail), fmt, ap);
  va_end(ap);
  snprintf(d.profile, sizeof(d.profile), "%s", gw->profile.id);
  snprintf(d.host, sizeof(d.host), "%s", c->name[0] ? c->name : c->host);
  d.port = c->port;
  d.at = now_s();
  gw->hooks.record(gw->hooks.record_data, &d);
  pw_decision_clear(&d);
}

/* ---- the upstream connection --------------------------------------- */

static void http_begin(gw_conn_t *c);

static void
on_upstream(void *data, pw_up_status_t status, int fd, const char *reason)
{
  gw_conn_t *c = data;
  static const char established[] =
    "HTTP/1.1 200 Connection Established\r\n\r\n";
  int rc;

  c->up = NULL;
  if (status != PW_UP_OK) {
    c->gw->stats.upstream_errors++;
    gw_conn_fail(c, pw_up_status_http(status), "%s", reason);
    return;
  }

  c->server = malloc(sizeof(*c->server));
  rc = c->server != NULL ? uv_tcp_init(c->gw->loop, c->server) : UV_ENOMEM;
  if (rc == 0) {
    c->server->data = c;
    c->handles++;
    rc = uv_tcp_open(c->server, fd);
  } else {
    free(c->server);
    c->server = NULL;
    close(fd);
  }
  if (rc != 0) {
    gw_conn_fail(c, 502, "the upstream socket could not be used: %s",
                 uv_strerror(rc));
    return;
  }
  uv_tcp_nodelay(c->server, 1);
  /* A new upstream connection: its own EOF and shutdown to come. */
  c->s2c.eof = false;
  c->c2s.shut = false;

  if (pw_phead_request(c->head)->kind == PW_PHEAD_CONNECT) {
    if (gw_send(c, &c->s2c, established, sizeof(established) - 1) != 0) {
      gw_conn_close(c);
      return;
    }
    gw_tunnel_start(c);
    /* A client that did not wait for the 200 already sent its hello. */
    if (c->ahead_len > 0 && c->state != GW_CLOSING) {
      char *ahead = c->ahead;
      size_t len = c->ahead_len;

      c->ahead = NULL;
      c->ahead_len = 0;
      gw_tunnel_client_data(c, ahead, len);
      free(ahead);
    }
    return;
  }
  http_begin(c);
}

static void
connect_upstream(gw_conn_t *c)
{
  pw_gw_t *gw = c->gw;
  pw_up_req_t req;
  pw_err_t e = { 0, "" };

  memset(&req, 0, sizeof(req));
  req.proxy = &gw->profile.proxy;
  req.host = c->host;
  req.port = c->port;
  req.resolve = gw->profile.resolve;
  req.nresolve = gw->profile.nresolve;
  req.timeout_ms = gw->upstream_ms;

  c->state = GW_CONNECTING;
  gw_read_client(c, false);
  if (pw_up_connect(gw->up, &req, on_upstream, c, &c->up, &e) != PW_OK)
    gw_conn_fail(c, 502, "%s", e.msg);
}

/* ---- clear-text HTTP ----------------------------------------------- */

/* Keeps client bytes read past the current request for later. */
static int
keep_ahead(gw_conn_t *c, const char *buf, size_t len)
{
  char *p;

  if (len == 0)
    return 0;
  p = realloc(c->ahead, c->ahead_len + len);
  if (p == NULL)
    return -1;
  memcpy(p + c->ahead_len, buf, len);
  c->ahead = p;
  c->ahead_len += len;
  return 0;
}

/*
 * Body bytes of the request in flight go to the server as they come;
 * what follows its end waits in ahead for the next turn.  Called with
 * no bytes right after the head: a request without a body ends there.
 */
static void
http_body(gw_conn_t *c, const char *buf, size_t len)
{
  pw_err_t e = { 0, "" };
  size_t used = 0;

  if (!c->req_done) {
    if (pw_phead_feed(c->head, buf, len, &used, &e) != PW_OK
        || gw_send(c, &c->c2s, buf, used) != 0) {
      gw_conn_close(c);
      return;
    }
    if (pw_phead_stage(c->head) == PW_PHEAD_MESSAGE_END)
      c->req_done = true;
  }
  if (keep_ahead(c, buf + used, len - used) != 0) {
    gw_conn_close(c);
    return;
  }
  gw_read_client(c, !c->req_done);
}

/* The upstream is connected: send the rewritten head, then the body. */
static void
http_begin(gw_conn_t *c)
{
  const pw_phead_request_t *r = pw_phead_request(c->head);
  char *ahead = c->ahead;
  size_t len = c->ahead_len;
  const char *head;
  size_t head_len;
  pw_err_t e = { 0, "" };

  c->state = GW_HTTP;
  c->req_done = false;
  head = pw_phead_forward(c->head, &head_len);
  if (c->resp == NULL)
    c->resp = pw_phead_resp_new();
  if (c->resp == NULL
      || pw_phead_resp_expect(c->resp, r->method, r->upgrade, &e) != PW_OK
      || gw_send(c, &c->c2s, head, head_len) != 0) {
    gw_conn_close(c);
    return;
  }

  c->ahead = NULL;
  c->ahead_len = 0;
  http_body(c, ahead != NULL ? ahead : "", len);
  free(ahead);
  if (c->state == GW_HTTP)
    gw_read_server(c, true);
}

/* What Secure Access made of a clear-text request. */
enum sa_outcome {
  SA_PASS = 0,     /* the request goes on */
  SA_ANSWERED,     /* answered here; the next request may follow */
  SA_ENDS          /* answered here (or refused); the connection ends */
};

/* Secure Access on a clear-text request: 308, 403, or on it goes. */
static enum sa_outcome
secure_access(gw_conn_t *c, const pw_phead_request_t *r)
{
  pw_gw_t *gw = c->gw;
  pw_sa_result_t res;
  pw_err_t e = { 0, "" };
  char url[PW_SA_URL_MAX + 1], body[PW_SA_URL_MAX + 512];
  bool v6 = strchr(r->host, ':') != NULL;
  bool close = r->has_body || !r->keep_alive;
  int n;

  if (!gw->profile.sa.enabled)
    return SA_PASS;

  n = snprintf(url, sizeof(url), "http://%s%s%s:%u%s", v6 ? "[" : "",
               r->host, v6 ? "]" : "", (unsigned) r->port, r->target);
  if (n < 0 || (size_t) n >= sizeof(url)) {
    gw_conn_fail(c, 414, "the URL is too long");
    return SA_ENDS;
  }
  memset(&res, 0, sizeof(res));
  if (pw_sa_decide_url(&gw->profile.sa, url, now_s(), &res, &e) != PW_OK) {
    gw_conn_fail(c, 400, "%s", e.msg);
    return SA_ENDS;
  }
  if (res.action == PW_ACTION_ALLOW) {
    free(res.url);
    return SA_PASS;
  }

  snprintf(c->name, sizeof(c->name), "%s", res.host);
  c->port = r->port;
  if (res.action == PW_ACTION_UPGRADE) {
    gw_record(c, PW_ACTION_UPGRADE, res.reason, "%s upgraded to %s", url,
              res.url);
    snprintf(body, sizeof(body), "Secure Access: %s moved to %s\n", url,
             res.url);
    respond(c, 308, res.url, body, close);
  } else {
    gw_record(c, PW_ACTION_BLOCK, res.reason,
              "clear-text request to %s refused", url);
    snprintf(body, sizeof(body),
             "pinwarden: profile \"%s\" has Secure Access on and refuses "
             "clear-text HTTP: %s was not sent.  Use https://, or add an "
             "exception for %s.\n",
             gw->profile.name, url, res.host);
    respond(c, 403, NULL, body, close);
  }
  c->name[0] = '\0';
  free(res.url);
  return close || c->state == GW_CLOSING ? SA_ENDS : SA_ANSWERED;
}

/* A complete request head that goes on: where it goes. */
static void
head_done(gw_conn_t *c)
{
  const pw_phead_request_t *r = pw_phead_request(c->head);
  bool same;

  same = c->server != NULL && strcmp(c->host, r->host) == 0
         && c->port == r->port && r->kind == PW_PHEAD_ABSOLUTE;
  snprintf(c->host, sizeof(c->host), "%s", r->host);
  c->port = r->port;

  /* A kept upstream connection to the same origin serves the next. */
  if (same && !c->s2c.eof) {
    http_begin(c);
    return;
  }
  gw_server_close(c);
  connect_upstream(c);
}

/*
 * Client bytes while a head is read, or while a request is in flight.
 * Requests the gateway answers itself (Secure Access) are taken one
 * after another in a loop, never by recursion: a client may pipeline
 * thousands of them in one read.
 */
void
gw_http_client_data(gw_conn_t *c, const char *buf, size_t len)
{
  const pw_phead_request_t *r;
  pw_err_t e = { 0, "" };
  size_t used;

  if (c->state == GW_HTTP) {
    http_body(c, buf, len);
    return;
  }

  for (;;) {
    if (c->head_at == 0)
      c->head_at = uv_now(c->gw->loop);
    used = 0;
    if (pw_phead_feed(c->head, buf, len, &used, &e) != PW_OK) {
      gw_conn_fail(c, pw_phead_status(c->head), "%s", e.msg);
      return;
    }
    /* Anything but a whole new head waits for more bytes. */
    if (pw_phead_stage(c->head) != PW_PHEAD_HEAD)
      return;
    buf += used;
    len -= used;
    c->head_at = 0;

    r = pw_phead_request(c->head);
    switch (r->kind == PW_PHEAD_ABSOLUTE ? secure_access(c, r) : SA_PASS) {
    case SA_PASS:
      break;
    case SA_ENDS:
      gw_read_client(c, false);
      return;
    case SA_ANSWERED:
      /* The request had no body: an empty feed ends it. */
      if (pw_phead_feed(c->head, "", 0, &used, &e) != PW_OK
          || pw_phead_stage(c->head) != PW_PHEAD_MESSAGE_END) {
        gw_conn_close(c);
        return;
      }
      continue;
    }

    if (keep_ahead(c, buf, len) != 0) {
      gw_conn_close(c);
      return;
    }
    gw_read_client(c, false);
    head_done(c);
    return;
  }
}

/* The response ended, or became a tunnel: what comes next. */
static void
http_turn(gw_conn_t *c, const char *rest, size_t rest_len)
{
  if (pw_phead_resp_stage(c->resp) == PW_PHEAD_TUNNEL) {
    /* 101 Switching Protocols: from here on, bytes just pass. */
    c->state = GW_PUMP;
    if (gw_send(c, &c->s2c, rest, rest_len) != 0
        || gw_send(c, &c->c2s, c->ahead, c->ahead_len) != 0) {
      gw_conn_close(c);
      return;
    }
    free(c->ahead);
    c->ahead = NULL;
    c->ahead_len = 0;
    gw_read_client(c, true);
    gw_read_server(c, true);
    return;
  }
  gw_read_server(c, false);
  if (c->s2c.pending == 0)
    gw_http_sent(c);
}

/* Server bytes of a clear-text response: counted, then passed on. */
void
gw_http_server_data(gw_conn_t *c, const char *buf, size_t len)
{
  pw_err_t e = { 0, "" };
  size_t used = 0;

  if (pw_phead_resp_feed(c->resp, buf, len, &used, &e) != PW_OK
      || gw_send(c, &c->s2c, buf, used) != 0) {
    gw_conn_close(c);
    return;
  }
  switch (pw_phead_resp_stage(c->resp)) {
  case PW_PHEAD_TUNNEL:
  case PW_PHEAD_MESSAGE_END:
    http_turn(c, buf + used, len - used);
    break;
  default:
    break;
  }
}

/*
 * The origin closed in GW_HTTP: the end of a response that runs until
 * close, an idle keep-alive connection let go, or a response cut short.
 */
void
gw_http_server_eof(gw_conn_t *c)
{
  pw_err_t e = { 0, "" };

  gw_server_close(c);
  if (c->resp != NULL && pw_phead_resp_eof(c->resp, &e) == PW_OK
      && pw_phead_resp_stage(c->resp) == PW_PHEAD_MESSAGE_END) {
    c->close_when_sent = true;
    if (c->s2c.pending == 0)
      gw_conn_close(c);
    return;
  }
  gw_conn_close(c);
}

/*
 * A write to the client finished in GW_HTTP: when the response is
 * whole, the connection serves the next request (or ends).
 */
void
gw_http_sent(gw_conn_t *c)
{
  char *ahead;
  size_t len;

  if (c->resp == NULL
      || pw_phead_resp_stage(c->resp) != PW_PHEAD_MESSAGE_END
      || !c->req_done)
    return;
  if (pw_phead_resp_close(c->resp)
      || !pw_phead_request(c->head)->keep_alive) {
    gw_conn_close(c);
    return;
  }

  c->state = GW_HEAD;
  ahead = c->ahead;
  len = c->ahead_len;
  c->ahead = NULL;
  c->ahead_len = 0;
  if (len > 0)
    gw_http_client_data(c, ahead, len);
  free(ahead);
  if (c->state == GW_HEAD)
    gw_read_client(c, true);
}

/* ---- accepting ----------------------------------------------------- */

static void
on_tick(uv_timer_t *t)
{
  gw_conn_t *c = t->data;
  pw_gw_t *gw = c->gw;
  uint64_t now = uv_now(gw->loop);

  if (c->state == GW_HEAD && c->head_at != 0
      && now - c->head_at > gw->head_timeout_ms) {
    gw_conn_fail(c, 408, "the request head did not come in %llu ms",
                 (unsigned long long) gw->head_timeout_ms);
    return;
  }
  if (c->state == GW_INSPECT) {
    gw_tunnel_tick(c, now);
    return;
  }
  if (now - c->last_active > gw->idle_timeout_ms)
    gw_conn_close(c);
}

static void
on_connection(uv_stream_t *server, int status)
{
  pw_gw_t *gw = server->data;
  gw_conn_t *c;
  uint64_t tick;

  if (status != 0 || gw->closing)
    return;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->gw = gw;
  c->head = pw_phead_new();
  uv_tcp_init(gw->loop, &c->client);
  uv_timer_init(gw->loop, &c->timer);
  c->client.data = c;
  c->timer.data = c;
  c->handles = 2;
  c->next = gw->conns;
  if (gw->conns != NULL)
    gw->conns->prev = c;
  gw->conns = c;
  gw->alive++;
  gw->stats.accepted++;
  gw->stats.open++;

  if (c->head == NULL || uv_accept(server, (uv_stream_t *) &c->client) != 0
      || gw->stats.open > PW_GW_CONNS_MAX) {
    gw_conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->client, 1);
  c->last_active = uv_now(gw->loop);
  tick = gw->head_timeout_ms < gw->idle_timeout_ms ? gw->head_timeout_ms
                                                   : gw->idle_timeout_ms;
  tick = tick / 4 > 0 ? tick / 4 : 1;
  uv_timer_start(&c->timer, on_tick, tick, tick);
  c->state = GW_HEAD;
  gw_read_client(c, true);
}

static int
listen_loopback(pw_gw_t *gw, pw_err_t *e)
{
  struct sockaddr_in sin;
  struct sockaddr_storage ss;
  int len = sizeof(ss), rc;

  uv_ip4_addr("127.0.0.1", 0, &sin);
  rc = uv_tcp_init(gw->loop, &gw->listener);
  if (rc != 0)
    return pw_err_set(e, PW_EIO, "listener: %s", uv_strerror(rc));
  gw->listener.data = gw;
  gw->handles++;
  gw->listening = true;

  rc = uv_tcp_bind(&gw->listener, (const struct sockaddr *) &sin, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *) &gw->listener, 511, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&gw->listener, (struct sockaddr *) &ss, &len);
  if (rc != 0)
    return pw_err_set(e, PW_EIO, "listen on 127.0.0.1: %s",
                      uv_strerror(rc));
  snprintf(gw->address, sizeof(gw->address), "127.0.0.1:%u",
           (unsigned) ntohs(((struct sockaddr_in *) &ss)->sin_port));
  return PW_OK;
}

static void
on_probe(void *data, pw_up_status_t status, int fd, const char *reason)
{
  pw_gw_t *gw = data;
  pw_err_t e = { 0, "" };
  int ret;

  gw->probe = NULL;
  if (gw->closing)
    return;
  if (status != PW_UP_OK) {
    gw->start_cb(gw->start_data, gw, PW_EIO, reason);
    return;
  }
  ret = listen_loopback(gw, &e);
  gw->start_cb(gw->start_data, gw, ret, ret == PW_OK ? "" : e.msg);
}

int
pw_gw_start(pw_gw_t **out, uv_loop_t *loop, const pw_gw_config_t *cfg,
            const pw_gw_hooks_t *hooks, pw_gw_start_cb cb, void *data,
            pw_err_t *err)
{
  pw_gw_t *gw;
  int ret;

  *out = NULL;
  gw = calloc(1, sizeof(*gw));
  if (gw == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  *out = gw;
  gw->loop = loop;
  gw->hooks = *hooks;
  gw->start_cb = cb;
  gw->start_data = data;
  gw->secret_wait_ms = or_default(cfg->secret_wait_ms,
                                  PW_GW_SECRET_WAIT_MS);
  gw->head_timeout_ms = or_default(cfg->head_timeout_ms,
                                   PW_GW_HEAD_TIMEOUT_MS);
  gw->idle_timeout_ms = or_default(cfg->idle_timeout_ms,
                                   PW_GW_IDLE_TIMEOUT_MS);
  gw->upstream_ms = or_default(cfg->upstream_ms, PW_GW_UPSTREAM_MS);
  pw_profile_init(&gw->profile);

  gw->rbuf = malloc(PW_GW_READ_SIZE);
  if (gw->rbuf == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  ret = pw_profile_copy(&gw->profile, cfg->profile, err);
  if (ret != PW_OK)
    return ret;
  if (strlen(cfg->keylog) >= sizeof(gw->keylog_path))
    return pw_err_set(err, PW_ETOOBIG, "key-log path too long");
  snprintf(gw->keylog_path, sizeof(gw->keylog_path), "%s", cfg->keylog);
  ret = pw_keylog_open(&gw->keylog, loop, cfg->keylog, err);
  if (ret == PW_OK)
    ret = pw_up_new(&gw->up, loop, err);
  if (ret == PW_OK && gw->profile.roots != NULL)
    ret = pw_up_set_proxy_roots(gw->up, gw->profile.roots, err);
  if (ret != PW_OK)
    return ret;

  return pw_up_probe(gw->up, &gw->profile.proxy,
                     or_default(cfg->probe_ms, PW_GW_PROBE_MS), on_probe, gw,
                     &gw->probe, err);
}

const char *
pw_gw_address(const pw_gw_t *gw)
{
  return gw->address;
}

const char *
pw_gw_keylog(const pw_gw_t *gw)
{
  return gw->keylog_path;
}

const pw_profile_t *
pw_gw_profile(const pw_gw_t *gw)
{
  return &gw->profile;
}

void
pw_gw_stats(const pw_gw_t *gw, pw_gw_stats_t *stats)
{
  *stats = gw->stats;
}

void
pw_gw_policy_changed(pw_gw_t *gw)
{
  gw->npassed = 0;
}

int
pw_gw_update(pw_gw_t *gw, const pw_profile_t *p, pw_err_t *err)
{
  pw_profile_t copy;
  pw_proxy_t proxy;
  int ret;

  pw_profile_init(&copy);
  ret = pw_profile_copy(&copy, p, err);
  if (ret != PW_OK)
    return ret;

  /* The upstream stays the one checked at start. */
  proxy = copy.proxy;
  copy.proxy = gw->profile.proxy;
  gw->profile.proxy = proxy;
  pw_profile_clear(&gw->profile);
  gw->profile = copy;
  pw_gw_policy_changed(gw);
  return PW_OK;
}

/* ---- stopping ------------------------------------------------------ */

static void
listener_closed(uv_handle_t *h)
{
  pw_gw_t *gw = h->data;

  gw->handles--;
  gw_finish(gw);
}

static void
keylog_closed(void *data)
{
  pw_gw_t *gw = data;

  gw->keylog = NULL;
  gw_finish(gw);
}

static void
up_closed(void *data)
{
  pw_gw_t *gw = data;

  gw->up = NULL;
  gw->up_closing = false;
  gw_finish(gw);
}

/* Frees the gateway once its listener, connections and watcher are. */
static void
gw_finish(pw_gw_t *gw)
{
  void (*done)(void *);
  void *data;

  if (!gw->closing || gw->handles > 0 || gw->conns != NULL
      || gw->keylog != NULL || gw->up != NULL || gw->up_closing)
    return;
  /* Connections still closing hold their memory until their callbacks. */
  if (gw->alive > 0)
    return;

  done = gw->done;
  data = gw->done_data;
  pw_profile_clear(&gw->profile);
  free(gw->passed);
  free(gw->rbuf);
  free(gw);
  if (done != NULL)
    done(data);
}

void
pw_gw_close(pw_gw_t *gw, void (*done)(void *data), void *data)
{
  pw_keylog_t *kl;

  if (gw == NULL || gw->closing)
    return;
  gw->closing = true;
  gw->done = done;
  gw->done_data = data;

  pw_up_cancel(gw->probe);
  gw->probe = NULL;
  while (gw->conns != NULL)
    gw_conn_close(gw->conns);
  if (gw->listening)
    uv_close((uv_handle_t *) &gw->listener, listener_closed);
  gw->listening = false;

  /* Connections are closed: their attempts were cancelled first. */
  if (gw->up != NULL) {
    gw->up_closing = true;
    pw_up_close(gw->up, up_closed, gw);
  }
  kl = gw->keylog;
  if (kl != NULL)
    pw_keylog_close(kl, keylog_closed, gw);
  else
    gw_finish(gw);
}
