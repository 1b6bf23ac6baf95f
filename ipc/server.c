/*
 * The IPC listener on libwebsockets 4.1 with its libuv event library,
 * joined to the daemon's own loop (a "foreign" loop to lws).
 *
 * lws quirks this file leans on:
 * - One protocol serves both plain HTTP and WebSocket: a client that
 *   names no subprotocol is bound to protocols[0].  On the upgrade lws
 *   binds the protocol again and gives the connection fresh, zeroed
 *   per-session data, so nothing set before the upgrade survives it.
 * - LWS_CALLBACK_HTTP_CONFIRM_UPGRADE is the one place where an upgrade
 *   can be refused with an HTTP status of our choosing; a refusal in
 *   LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION only drops the socket.  The
 *   checks run in both: the first answers 401/403, the second fills the
 *   session (and would still refuse, should lws skip the first).
 * - A nonzero return from LWS_CALLBACK_SERVER_WRITEABLE counts as a
 *   failed write: the socket is dropped without a close frame.  Closes
 *   of our own (1001, 1008) are therefore returned from a
 *   LWS_CALLBACK_TIMER, where lws sends the frame with our code.
 * - With a foreign loop lws_context_destroy() only closes lws's wsi and
 *   uv handles; once those closes have run on the loop, a second call
 *   frees the context and writes NULL through info.pcontext.  The stop
 *   makes that second call and watches for the NULL.
 */
#include "ipc/server_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define HEADER_MAX      256
#define STOP_TICK_MS    20
#define STOP_CLOSE_MS   3000   /* connections get this long to say bye */
#define CLOSE_KILL_S    3      /* a close frame that cannot leave */

/* lws's per-session data: freed by lws, so it only points at ours. */
struct pss {
  pw_ipc_conn_t    *conn;
  pw_api_session_t  session;   /* from the upgrade, until ESTABLISHED */
};

static pw_ipc_t *
ipc_of(struct lws *wsi)
{
  return lws_context_user(lws_get_context(wsi));
}

/* "ip:port" or "[ip]:port" of the connection's peer, or our own end. */
static void
sock_name(struct lws *wsi, bool local, char *buf, size_t size)
{
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  char ip[INET6_ADDRSTRLEN];
  int fd = lws_get_socket_fd(wsi), rc;

  snprintf(buf, size, "unknown");
  if (fd < 0)
    return;
  rc = local ? getsockname(fd, (struct sockaddr *) &ss, &sl)
             : getpeername(fd, (struct sockaddr *) &ss, &sl);
  if (rc != 0)
    return;

  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *) &ss;

    if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)) != NULL)
      snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

    if (inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)) != NULL)
      snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
  }
}

static void
peer_name(struct lws *wsi, char *buf, size_t size)
{
  sock_name(wsi, false, buf, size);
}

/* A header's value: its length, 0 when absent, -1 when over size. */
static int
header(struct lws *wsi, enum lws_token_indexes h, char *buf, size_t size)
{
  int len = lws_hdr_total_length(wsi, h);

  buf[0] = '\0';
  if (len <= 0)
    return 0;
  if ((size_t) len >= size || lws_hdr_copy(wsi, buf, (int) size, h) < 0) {
    buf[0] = '\0';
    return -1;
  }
  return len;
}

/*
 * Host (RFC 9110 section 7.2) must name us the way a client on this
 * machine does; names are case-insensitive.  Past loopback
 * (insecure_any), the address the client actually reached is allowed
 * too: a rebinding page names its own domain, never an address.
 */
static bool
host_allowed(const pw_ipc_t *ipc, struct lws *wsi, const char *host)
{
  char local[PW_IPC_NAME_MAX];
  unsigned i;

  for (i = 0; i < ipc->nhosts; i++)
    if (strcasecmp(host, ipc->hosts[i]) == 0)
      return true;
  if (!ipc->insecure_any)
    return false;
  sock_name(wsi, true, local, sizeof(local));
  return strcasecmp(host, local) == 0;
}

/*
 * Origin (RFC 6454) must be a page the engine served, if any, or a
 * browser extension: the engine's own runs in every profile it starts,
 * and an extension is no web page that a site could make connect.  It
 * still needs a token, which only the engine gives it.
 */
static bool
origin_allowed(const pw_ipc_t *ipc, struct lws *wsi, const char *origin)
{
  char local[PW_IPC_NAME_MAX];
  unsigned i;

  for (i = 0; i < ipc->nhosts; i++)
    if (strcasecmp(origin, ipc->origins[i]) == 0)
      return true;
  if (strncmp(origin, "chrome-extension://", 19) == 0
      && strspn(origin + 19, "abcdefghijklmnop") == 32
      && origin[19 + 32] == '\0')
    return true;
  if (!ipc->insecure_any || strncasecmp(origin, "http://", 7) != 0)
    return false;
  sock_name(wsi, true, local, sizeof(local));
  return strcasecmp(origin + 7, local) == 0;
}

/*
 * The checks before anything is served: Host (DNS rebinding), Origin
 * (cross-site WebSocket hijacking) and, with want_token, a bearer token
 * that goes into session.  Returns 0, or the HTTP status to refuse
 * with.  Refusals are logged here, once, with the peer and the value at
 * fault; a token is never logged.
 */
static unsigned
check_request(pw_ipc_t *ipc, struct lws *wsi, bool want_token,
              pw_api_session_t *session)
{
  char value[HEADER_MAX], q[HEADER_MAX + 8], peer[64];
  const char *token;
  unsigned status = 0;
  int n;

  peer_name(wsi, peer, sizeof(peer));

  n = header(wsi, WSI_TOKEN_HOST, value, sizeof(value));
  if (n <= 0 || !host_allowed(ipc, wsi, value)) {
    pw_log(PW_LOG_WARN, "ipc", "peer=%s msg=\"host refused\" host=%s",
           peer, n < 0 ? "\"(too long)\"" : pw_log_q(q, sizeof(q), value));
    return HTTP_STATUS_FORBIDDEN;
  }

  n = header(wsi, WSI_TOKEN_ORIGIN, value, sizeof(value));
  if (n < 0 || (n > 0 && !origin_allowed(ipc, wsi, value))) {
    pw_log(PW_LOG_WARN, "ipc", "peer=%s msg=\"origin refused\" origin=%s",
           peer, n < 0 ? "\"(too long)\"" : pw_log_q(q, sizeof(q), value));
    return HTTP_STATUS_FORBIDDEN;
  }

  if (!want_token)
    return 0;

  /* No header: the session starts unauthenticated (session.hello). */
  n = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, value, sizeof(value));
  if (n == 0)
    return 0;

  if (n < 0 || strncasecmp(value, "Bearer ", 7) != 0) {
    pw_log(PW_LOG_WARN, "ipc", "peer=%s msg=\"token refused\" "
           "reason=\"not a bearer token\"", peer);
    status = HTTP_STATUS_UNAUTHORIZED;
    goto done;
  }
  token = value + 7;
  while (*token == ' ')
    token++;
  if (!pw_api_authenticate(ipc->api, token, session)) {
    pw_log(PW_LOG_WARN, "ipc", "peer=%s msg=\"token refused\" "
           "reason=\"unknown token\" length=%zu", peer, strlen(token));
    status = HTTP_STATUS_UNAUTHORIZED;
  }

done:
  explicit_bzero(value, sizeof(value));
  return status;
}

/*
 * Writes a whole small response: headers, then the body at once (it is
 * far under what one send takes; lws buffers any rest itself).
 */
static int
http_reply(struct lws *wsi, unsigned status, const char *body)
{
  unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start;
  unsigned char *end = buf + sizeof(buf) - 1;
  size_t len = strlen(body);

  if (lws_add_http_common_headers(wsi, status, "text/plain; charset=utf-8",
                                  len, &p, end) != 0
      || lws_add_http_header_by_name(wsi,
           (const unsigned char *) "cache-control:",
           (const unsigned char *) "no-store", 8, &p, end) != 0
      || lws_add_http_header_by_name(wsi,
           (const unsigned char *) "x-content-type-options:",
           (const unsigned char *) "nosniff", 7, &p, end) != 0)
    return -1;
  if (status == HTTP_STATUS_UNAUTHORIZED
      && lws_add_http_header_by_name(wsi,
           (const unsigned char *) "www-authenticate:",
           (const unsigned char *) "Bearer", 6, &p, end) != 0)
    return -1;
  if (lws_finalize_write_http_header(wsi, start, &p, end) != 0)
    return -1;

  if (len > sizeof(buf) - LWS_PRE)
    return -1;
  memcpy(start, body, len);
  if (lws_write(wsi, start, len, LWS_WRITE_HTTP_FINAL) != (int) len)
    return -1;
  return 0;
}

static const char *
status_body(unsigned status)
{
  switch (status) {
  case HTTP_STATUS_UNAUTHORIZED:        return "unauthorized\n";
  case HTTP_STATUS_FORBIDDEN:           return "forbidden\n";
  case HTTP_STATUS_SERVICE_UNAVAILABLE: return "stopping\n";
  default:                              return "not found\n";
  }
}

/*
 * Plain HTTP: the web UI's files, else at "/" a line that says where
 * the JSON-RPC lives.
 */
static int
on_http(pw_ipc_t *ipc, struct lws *wsi, const char *uri)
{
  char body[HEADER_MAX + 64], host[HEADER_MAX];
  unsigned status;
  bool get;
  int served;

  /* The URL names us as the client did: Host has just been checked. */
  status = check_request(ipc, wsi, false, NULL);
  if (status == 0) {
    get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 && uri != NULL
          && header(wsi, WSI_TOKEN_HOST, host, sizeof(host)) > 0;
    served = get ? pw_ipc__serve_file(ipc, wsi, uri, host) : 1;
    if (served < 0)
      return -1;
    if (served == 0)
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    if (get && strcmp(uri, "/") == 0) {
      status = HTTP_STATUS_OK;
      snprintf(body, sizeof(body),
               "pinwarden %s: WebSocket JSON-RPC at ws://%s/\n",
               PW_API_VERSION, host);
    } else {
      status = HTTP_STATUS_NOT_FOUND;
    }
  }
  if (status != HTTP_STATUS_OK)
    snprintf(body, sizeof(body), "%s", status_body(status));

  if (http_reply(wsi, status, body) != 0)
    return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void
out_free(pw_ipc_conn_t *conn)
{
  pw_ipc_out_t *m;

  while ((m = conn->out_head) != NULL) {
    conn->out_head = m->next;
    free(m);
  }
  conn->out_tail = NULL;
  conn->out_bytes = 0;
}

void
pw_ipc__conn_unref(pw_ipc_conn_t *conn)
{
  if (conn == NULL || --conn->refs > 0)
    return;
  out_free(conn);
  free(conn->rx);
  free(conn);
}

static pw_ipc_conn_t *
conn_new(pw_ipc_t *ipc, struct lws *wsi, const pw_api_session_t *session)
{
  pw_ipc_conn_t *conn;

  conn = calloc(1, sizeof(*conn));
  if (conn == NULL)
    return NULL;
  conn->ipc = ipc;
  conn->wsi = wsi;
  conn->refs = 1;
  conn->session = *session;
  peer_name(wsi, conn->peer, sizeof(conn->peer));

  conn->next = ipc->conns;
  if (ipc->conns != NULL)
    ipc->conns->prev = conn;
  ipc->conns = conn;
  ipc->nconns++;

  pw_log(PW_LOG_DEBUG, "ipc", "peer=%s msg=connected authed=%d", conn->peer,
         (int) conn->session.authed);
  return conn;
}

/*
 * The wsi is gone (or going): unlink, drop what was queued to it, and
 * give up the wsi's reference.  Safe to call twice.
 */
static void
conn_detach(struct pss *pss)
{
  pw_ipc_conn_t *conn = pss->conn;
  pw_ipc_t *ipc;

  if (conn == NULL)
    return;
  pss->conn = NULL;
  ipc = conn->ipc;

  if (conn->prev != NULL)
    conn->prev->next = conn->next;
  else
    ipc->conns = conn->next;
  if (conn->next != NULL)
    conn->next->prev = conn->prev;
  conn->prev = conn->next = NULL;
  ipc->nconns--;

  pw_log(PW_LOG_DEBUG, "ipc", "peer=%s msg=closed in_flight=%u", conn->peer,
         conn->in_flight);
  conn->wsi = NULL;
  out_free(conn);
  pw_ipc__conn_unref(conn);
}

/*
 * Asks lws to close the connection with code at its next writeable.
 * Nothing here calls back into lws synchronously, so it is safe while
 * walking ipc->conns.  A close frame that cannot leave (a peer that
 * reads nothing) is cut by the timeout.
 */
static void
conn_close(pw_ipc_conn_t *conn, int code, bool drop_queue)
{
  if (conn->wsi == NULL || conn->close_code != 0)
    return;
  conn->close_code = code;
  if (drop_queue)
    out_free(conn);
  lws_set_timeout(conn->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_KILL_S);
  lws_callback_on_writable(conn->wsi);
}

void
pw_ipc__send(pw_ipc_conn_t *conn, const char *text, size_t len)
{
  pw_ipc_t *ipc = conn->ipc;
  pw_ipc_out_t *m;

  if (conn->wsi == NULL || conn->close_code != 0)
    return;

  /* A lone message always goes: its size says nothing of the peer. */
  if (conn->out_bytes > 0 && conn->out_bytes + len > ipc->max_queued) {
    pw_log(PW_LOG_INFO, "ipc", "peer=%s msg=\"client too slow, closing\" "
           "queued=%zu max=%zu", conn->peer, conn->out_bytes,
           ipc->max_queued);
    conn_close(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, true);
    return;
  }

  m = malloc(sizeof(*m) + LWS_PRE + len);
  if (m == NULL) {
    pw_log(PW_LOG_ERROR, "ipc", "peer=%s msg=\"out of memory\"", conn->peer);
    conn_close(conn, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, true);
    return;
  }
  m->next = NULL;
  m->len = len;
  memcpy(m->buf + LWS_PRE, text, len);

  if (conn->out_tail != NULL)
    conn->out_tail->next = m;
  else
    conn->out_head = m;
  conn->out_tail = m;
  conn->out_bytes += len;
  lws_callback_on_writable(conn->wsi);
}

void
pw_ipc__send_json(pw_ipc_conn_t *conn, json_t *msg)
{
  char *text;

  if (conn->wsi == NULL || conn->close_code != 0)
    return;
  text = pw_rpc_dumps(msg);
  if (text == NULL) {
    pw_log(PW_LOG_ERROR, "ipc", "peer=%s msg=\"response not encoded\"",
           conn->peer);
    return;
  }
  pw_ipc__send(conn, text, strlen(text));
  free(text);
}

/*
 * One lws_write per writeable, as lws asks; then ask again.  When the
 * queue is empty and a close is wanted, the close is left to a timer
 * callback: lws 4.1 takes a nonzero return from a writeable callback as
 * a failed write and drops the socket without the close frame.
 */
static int
on_writeable(pw_ipc_conn_t *conn)
{
  pw_ipc_out_t *m = conn->out_head;
  int n;

  if (m == NULL) {
    if (conn->close_code != 0)
      lws_set_timer_usecs(conn->wsi, 1);
    return 0;
  }

  conn->out_head = m->next;
  if (conn->out_head == NULL)
    conn->out_tail = NULL;
  conn->out_bytes -= m->len;

  n = lws_write(conn->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
  free(m);
  if (n < 0)
    return -1;
  if (conn->out_head != NULL || conn->close_code != 0)
    lws_callback_on_writable(conn->wsi);
  return 0;
}

/* The close conn_close asked for: lws sends the frame with our code. */
static int
on_timer(pw_ipc_conn_t *conn)
{
  static unsigned char bye[] = "going away";
  bool going = conn->close_code == LWS_CLOSE_STATUS_GOINGAWAY;

  if (conn->close_code == 0)
    return 0;
  lws_close_reason(conn->wsi, (enum lws_close_status) conn->close_code,
                   going ? bye : NULL, going ? sizeof(bye) - 1 : 0);
  return -1;
}

/* Reassembles fragments and frames into one message under the cap. */
static int
on_receive(pw_ipc_conn_t *conn, struct lws *wsi, const char *in, size_t len)
{
  pw_ipc_t *ipc = conn->ipc;
  size_t cap;
  char *p;

  if (lws_frame_is_binary(wsi)) {
    pw_log(PW_LOG_INFO, "ipc", "peer=%s msg=\"binary frame, closing\"",
           conn->peer);
    lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, NULL, 0);
    return -1;
  }

  if (!conn->rx_active) {
    conn->rx_active = true;
    conn->rx_len = 0;
  }
  if (len > ipc->max_message - conn->rx_len) {
    pw_log(PW_LOG_INFO, "ipc", "peer=%s msg=\"message too large, closing\" "
           "max=%zu", conn->peer, ipc->max_message);
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
    return -1;
  }

  if (conn->rx_len + len + 1 > conn->rx_cap) {
    cap = conn->rx_cap > 0 ? conn->rx_cap : 4096;
    while (cap < conn->rx_len + len + 1)
      cap *= 2;
    if (cap > ipc->max_message + 1)
      cap = ipc->max_message + 1;
    p = realloc(conn->rx, cap);
    if (p == NULL) {
      pw_log(PW_LOG_ERROR, "ipc", "peer=%s msg=\"out of memory\"",
             conn->peer);
      lws_close_reason(wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, NULL, 0);
      return -1;
    }
    conn->rx = p;
    conn->rx_cap = cap;
  }
  memcpy(conn->rx + conn->rx_len, in, len);
  conn->rx_len += len;

  if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
    return 0;

  conn->rx_active = false;
  conn->rx[conn->rx_len] = '\0';

  /* Stopping or closing: nothing more is taken on. */
  if (ipc->phase != PW_IPC_RUNNING || conn->close_code != 0)
    return 0;
  pw_ipc__message(conn, conn->rx, conn->rx_len);

  /* A large buffer is not kept for a connection that may idle. */
  if (conn->rx_cap > 65536) {
    free(conn->rx);
    conn->rx = NULL;
    conn->rx_cap = 0;
  }
  return 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
         void *in, size_t len)
{
  struct pss *pss = user;
  pw_api_session_t scratch;
  pw_ipc_t *ipc;
  unsigned status;

  switch (reason) {
  case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
    /* wsi is the listener here; a stopping server takes no one new. */
    ipc = ipc_of(wsi);
    return ipc->phase != PW_IPC_RUNNING;

  case LWS_CALLBACK_HTTP:
    return on_http(ipc_of(wsi), wsi, in);

  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    ipc = ipc_of(wsi);
    memset(&scratch, 0, sizeof(scratch));
    status = ipc->phase != PW_IPC_RUNNING
               ? HTTP_STATUS_SERVICE_UNAVAILABLE
               : check_request(ipc, wsi, true, &scratch);
    explicit_bzero(&scratch, sizeof(scratch));
    if (status == 0)
      return 0;
    return http_reply(wsi, status, status_body(status)) != 0 ? -1 : 1;

  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    ipc = ipc_of(wsi);
    if (pss == NULL)
      return 1;
    memset(&pss->session, 0, sizeof(pss->session));
    if (ipc->phase != PW_IPC_RUNNING)
      return 1;
    return check_request(ipc, wsi, true, &pss->session) != 0;

  case LWS_CALLBACK_ESTABLISHED:
    if (pss == NULL)
      return -1;
    pss->conn = conn_new(ipc_of(wsi), wsi, &pss->session);
    explicit_bzero(&pss->session, sizeof(pss->session));
    return pss->conn != NULL ? 0 : -1;

  case LWS_CALLBACK_RECEIVE:
    if (pss == NULL || pss->conn == NULL)
      return -1;
    return on_receive(pss->conn, wsi, in, len);

  case LWS_CALLBACK_SERVER_WRITEABLE:
    if (pss == NULL || pss->conn == NULL)
      return -1;
    return on_writeable(pss->conn);

  case LWS_CALLBACK_TIMER:
    if (pss == NULL || pss->conn == NULL)
      return -1;
    return on_timer(pss->conn);

  case LWS_CALLBACK_CLOSED:
  case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
    if (pss != NULL)
      conn_detach(pss);
    return 0;

  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
  { "pinwarden-jsonrpc", callback, sizeof(struct pss), 16384, 0, NULL, 0 },
  { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* lws's own lines, at our levels: its errors are mostly a peer's. */
static void
lws_emit(int level, const char *line)
{
  char buf[1024], q[1100];
  size_t len;

  snprintf(buf, sizeof(buf), "%s", line);
  len = strlen(buf);
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
    buf[--len] = '\0';

  pw_log(level == LLL_ERR ? PW_LOG_WARN
         : level == LLL_WARN ? PW_LOG_INFO : PW_LOG_DEBUG,
         "lws", "msg=%s", pw_log_q(q, sizeof(q), buf));
}

static void
lws_signal_ignored(void *handle, int signum)
{
  /* Signals are the daemon's; lws must not stop itself on SIGINT. */
}

/*
 * Resolves the address to bind: a loopback literal, "localhost" (as
 * 127.0.0.1: a name could resolve elsewhere), or with insecure_any
 * any literal.
 */
static int
bind_address(const pw_ipc_config_t *cfg, char *out, size_t size,
             bool *v6, pw_err_t *err)
{
  unsigned char a[sizeof(struct in6_addr)];
  const char *host = cfg->host != NULL ? cfg->host : "127.0.0.1";
  bool loopback;

  if (strcasecmp(host, "localhost") == 0)
    host = "127.0.0.1";

  if (inet_pton(AF_INET, host, a) == 1) {
    *v6 = false;
    loopback = a[0] == 127;
  } else if (inet_pton(AF_INET6, host, a) == 1) {
    *v6 = true;
    loopback = memcmp(a, &in6addr_loopback, sizeof(in6addr_loopback)) == 0;
  } else {
    return pw_err_set(err, PW_EINVAL, "listen address '%s' is not an IP "
                      "address or localhost", host);
  }

  if (!loopback && !cfg->insecure_any)
    return pw_err_set(err, PW_EINVAL, "listen address %s is not loopback; "
                      "the IPC would be reachable from other machines "
                      "(--listen-insecure-any allows it)", host);
  if (strlen(host) >= size)
    return pw_err_set(err, PW_EINVAL, "listen address too long");
  strcpy(out, host);
  return PW_OK;
}

/* The names a client on this machine may use for us, with our port. */
static void
allowed_names(pw_ipc_t *ipc, bool v6)
{
  static const char *const names[PW_IPC_HOSTS_MAX] = {
    "127.0.0.1", "[::1]", "localhost"
  };
  unsigned i;

  for (i = 0; i < PW_IPC_HOSTS_MAX; i++) {
    snprintf(ipc->hosts[i], sizeof(ipc->hosts[i]), "%s:%u", names[i],
             (unsigned) ipc->port);
    snprintf(ipc->origins[i], sizeof(ipc->origins[i]), "http://%s:%u",
             names[i], (unsigned) ipc->port);
  }
  ipc->nhosts = PW_IPC_HOSTS_MAX;
  snprintf(ipc->listen, sizeof(ipc->listen), v6 ? "[%s]:%u" : "%s:%u",
           ipc->host, (unsigned) ipc->port);
}

int
pw_ipc_start(pw_ipc_t **out, uv_loop_t *loop, pw_api_t *api,
             const pw_ipc_config_t *cfg, pw_err_t *err)
{
  struct lws_context_creation_info info;
  void *loops[1] = { loop };
  pw_ipc_t *ipc;
  bool v6 = false;
  int ret;

  *out = NULL;
  ipc = calloc(1, sizeof(*ipc));
  if (ipc == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  ret = bind_address(cfg, ipc->host, sizeof(ipc->host), &v6, err);
  if (ret != PW_OK)
    goto fail;
  ipc->ctxp = calloc(1, sizeof(*ipc->ctxp));
  if (ipc->ctxp == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto fail;
  }
  ipc->loop = loop;
  ipc->api = api;
  ipc->max_message = cfg->max_message > 0 ? cfg->max_message
                                          : PW_RPC_MAX_MESSAGE;
  ipc->max_queued = cfg->max_queued > 0 ? cfg->max_queued
                                        : PW_IPC_MAX_QUEUED;
  ipc->max_in_flight = cfg->max_in_flight > 0 ? cfg->max_in_flight
                                              : PW_IPC_MAX_IN_FLIGHT;
  ipc->insecure_any = cfg->insecure_any != 0;
  if (cfg->ui_dir != NULL)
    snprintf(ipc->ui_dir, sizeof(ipc->ui_dir), "%s", cfg->ui_dir);
  if (cfg->insecure_any)
    pw_log(PW_LOG_WARN, "ipc", "msg=\"listening beyond loopback: "
           "insecure\" host=%s", ipc->host);

  lws_set_log_level(LLL_ERR | LLL_WARN | LLL_NOTICE, lws_emit);

  /*
   * The context: libuv on our loop, vhosts made below.  foreign_loops
   * is read only during lws_create_context.  signal_cb keeps lws's
   * own signal watchers from acting on the daemon's signals.
   */
  memset(&info, 0, sizeof(info));
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS
                 | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
  if (!v6)
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.foreign_loops = loops;
  info.signal_cb = lws_signal_ignored;
  info.pcontext = ipc->ctxp;
  info.user = ipc;
  info.server_string = "pinwarden";
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.gid = -1;
  info.uid = -1;

  ipc->ctx = lws_create_context(&info);
  if (ipc->ctx == NULL) {
    ret = pw_err_set(err, PW_EIO, "libwebsockets: creating the context "
                     "failed (is libwebsockets-evlib-uv installed?)");
    goto fail;
  }
  *ipc->ctxp = ipc->ctx;

  /* The vhost: port 0 has the kernel pick a free port. */
  info.port = cfg->port;
  info.iface = ipc->host;
  info.protocols = protocols;
  info.vhost_name = "pinwarden";
  info.options |= LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
  if (v6)
    info.options |= LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY
                    | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE;
  info.keepalive_timeout = 5;

  ipc->vhost = lws_create_vhost(ipc->ctx, &info);
  if (ipc->vhost == NULL || lws_get_vhost_listen_port(ipc->vhost) <= 0) {
    ret = pw_err_set(err, PW_EIO, "cannot listen on %s port %u (in use?)",
                     ipc->host, (unsigned) cfg->port);
    goto fail;
  }
  ipc->port = (uint16_t) lws_get_vhost_listen_port(ipc->vhost);
  allowed_names(ipc, v6);

  uv_timer_init(loop, &ipc->timer);
  ipc->timer.data = ipc;
  *out = ipc;
  return PW_OK;

fail:
  /*
   * lws finishes tearing down as the loop runs and calls us back with
   * no reason that reads ipc, so ipc may go now; but it writes NULL
   * through ctxp at the very end, so that cell is left to it (a failed
   * start ends the daemon).
   */
  if (ipc->ctx != NULL)
    lws_context_destroy(ipc->ctx);
  else
    free(ipc->ctxp);
  free(ipc);
  return ret;
}

uint16_t
pw_ipc_port(const pw_ipc_t *ipc)
{
  return ipc->port;
}

const char *
pw_ipc_listen(const pw_ipc_t *ipc)
{
  return ipc->listen;
}

static void
timer_closed(uv_handle_t *handle)
{
  pw_ipc_t *ipc = handle->data;
  void (*done)(void *) = ipc->done;
  void *data = ipc->done_data;

  /*
   * Every handle of ours and of lws is closed: ipc may go.  If lws did
   * not finish in time it may still call back into ipc, so ipc is left
   * to the process's end rather than freed under it.
   */
  if (*ipc->ctxp == NULL) {
    free(ipc->ctxp);
    free(ipc);
  }
  if (done != NULL)
    done(data);
}

static void
closing_cb(uv_handle_t *h, void *arg)
{
  if (uv_is_closing(h))
    *(bool *) arg = true;
}

/* Whether a handle on the loop still waits for its close callback. */
static bool
loop_closing(uv_loop_t *loop)
{
  bool closing = false;

  uv_walk(loop, closing_cb, &closing);
  return closing;
}

/*
 * The stop, one step per tick: wait for store jobs, tell connections
 * 1001 and give them a moment, destroy the lws context, wait for lws to
 * say it is gone, then close the timer and report.
 */
static void
stop_tick(uv_timer_t *timer)
{
  pw_ipc_t *ipc = timer->data;
  pw_ipc_conn_t *conn;
  uint64_t now = uv_now(ipc->loop);

  switch (ipc->phase) {
  case PW_IPC_DRAINING:
    if (!pw_ipc__jobs_idle(ipc))
      return;
    for (conn = ipc->conns; conn != NULL; conn = conn->next)
      conn_close(conn, LWS_CLOSE_STATUS_GOINGAWAY, false);
    ipc->deadline = now + STOP_CLOSE_MS;
    ipc->phase = PW_IPC_CLOSING;
    return;

  case PW_IPC_CLOSING:
    if (ipc->nconns > 0 && now < ipc->deadline)
      return;
    if (ipc->nconns > 0)
      pw_log(PW_LOG_INFO, "ipc", "msg=\"closing connections that did not "
             "say bye\" count=%u", ipc->nconns);
    ipc->phase = PW_IPC_DESTROYING;
    ipc->deadline = now + STOP_CLOSE_MS;
    lws_context_destroy(ipc->ctx);
    return;

  case PW_IPC_DESTROYING:
    /*
     * lws 4.1 with a foreign loop: the first lws_context_destroy() closed
     * every wsi and uv handle of lws; once those closes have completed
     * (a tick later), a second call frees the context and writes NULL
     * through ctxp.
     */
    if (*ipc->ctxp != NULL && !loop_closing(ipc->loop))
      lws_context_destroy(ipc->ctx);
    if (*ipc->ctxp != NULL && now < ipc->deadline)
      return;
    if (*ipc->ctxp != NULL)
      pw_log(PW_LOG_WARN, "ipc", "msg=\"libwebsockets did not finish its "
             "teardown in time\"");
    ipc->phase = PW_IPC_DONE;
    uv_timer_stop(timer);
    uv_close((uv_handle_t *) timer, timer_closed);
    return;

  default:
    return;
  }
}

void
pw_ipc_stop(pw_ipc_t *ipc, void (*done)(void *data), void *data)
{
  if (ipc->phase != PW_IPC_RUNNING)
    return;

  pw_log(PW_LOG_INFO, "ipc", "msg=stopping connections=%u", ipc->nconns);
  ipc->done = done;
  ipc->done_data = data;
  ipc->phase = PW_IPC_DRAINING;
  uv_timer_start(&ipc->timer, stop_tick, 0, STOP_TICK_MS);
}
