#include "ipc/client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "profiles/store.h"

/* engine.json and the token file are a few bytes; refuse anything big. */
#define CLIENT_SMALL_FILE_MAX (64 * 1024)

/* Events kept for a reader that is not asking for them. */
#define CLIENT_MAX_EVENTS     10000

#define CLIENT_CONNECT_MS     10000

/* Tokens are 64 hex digits; leave room for other forms. */
#define CLIENT_TOKEN_MAX      256

enum client_state {
  CLIENT_CONNECTING = 0,
  CLIENT_OPEN,
  CLIENT_CLOSED
};

struct pw_client {
  struct lws_context    *ctx;
  struct lws            *wsi;
  enum client_state      state;
  bool                   reached;     /* the upgrade request was sent */
  int                    http_status; /* of a refused upgrade, or 0 */
  char                   why[256];    /* why the connection ended */
  char                   host_hdr[80];
  char                   auth[16 + CLIENT_TOKEN_MAX];
  int                    timeout_ms;

  /* The message being sent, LWS_PRE bytes of room in front. */
  unsigned char         *tx;
  size_t                 txlen;

  /* The message being received, across frames and fragments. */
  char                  *rx;
  size_t                 rxlen;
  size_t                 rxcap;

  json_int_t             next_id;
  json_int_t             waiting_id;  /* the call in flight, or 0 */
  json_t                *answer;      /* its response once it came */
  json_t                *events;      /* array of event params */

  lws_sorted_usec_list_t sul;
  bool                   timed_out;
  bool                   stale;       /* a call timed out unanswered */
};

static int
read_small(const char *path, char **out, pw_err_t *err)
{
  struct stat st;
  size_t n;
  FILE *f;
  int ret;

  *out = NULL;
  f = fopen(path, "rb");
  if (f == NULL)
    return pw_err_set(err, errno == ENOENT ? PW_ENOTFOUND : PW_EIO,
                      "%s: %s", path, strerror(errno));

  if (fstat(fileno(f), &st) != 0 || st.st_size > CLIENT_SMALL_FILE_MAX) {
    ret = pw_err_set(err, PW_ETOOBIG, "%s: larger than %d bytes", path,
                     CLIENT_SMALL_FILE_MAX);
    goto done;
  }

  *out = malloc((size_t) st.st_size + 1);
  if (*out == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  n = fread(*out, 1, (size_t) st.st_size, f);
  if (ferror(f)) {
    ret = pw_err_set(err, PW_EIO, "%s: read failed", path);
    goto done;
  }
  (*out)[n] = '\0';
  ret = PW_OK;

done:
  if (ret != PW_OK) {
    free(*out);
    *out = NULL;
  }
  fclose(f);
  return ret;
}

/*
 * Splits engine.json's "listen" into an address and a port.  Accepts
 * "127.0.0.1:7460", "[::1]:7460" and the same behind "ws://".
 */
static int
parse_listen(const char *listen, char *host, size_t hostsize,
             uint16_t *port, pw_err_t *err)
{
  const char *p = listen, *colon, *end;
  char *stop;
  size_t n;
  long v;

  if (strncmp(p, "ws://", 5) == 0)
    p += 5;
  else if (strncmp(p, "http://", 7) == 0)
    p += 7;

  if (*p == '[') {
    end = strchr(p, ']');
    if (end == NULL || end[1] != ':')
      goto bad;
    colon = end + 1;
    p++;
  } else {
    colon = strrchr(p, ':');
    if (colon == NULL)
      goto bad;
    end = colon;
  }

  n = (size_t) (end - p);
  if (n == 0 || n >= hostsize)
    goto bad;
  memcpy(host, p, n);
  host[n] = '\0';

  errno = 0;
  v = strtol(colon + 1, &stop, 10);
  if (errno != 0 || v < 1 || v > 65535 || (*stop != '\0' && *stop != '/'))
    goto bad;
  *port = (uint16_t) v;
  return PW_OK;

bad:
  return pw_err_set(err, PW_EINVAL, "engine.json: listen '%s' is not "
                    "ADDRESS:PORT", listen);
}

static void
client_closed(pw_client_t *c, const char *why)
{
  if (c->state != CLIENT_CLOSED && c->why[0] == '\0' && why != NULL)
    snprintf(c->why, sizeof(c->why), "%s", why);
  c->state = CLIENT_CLOSED;
  c->wsi = NULL;
}

/* A whole message came in: the answer we wait for, or an event. */
static void
client_message(pw_client_t *c)
{
  json_t *msg, *id, *method, *params;

  msg = json_loadb(c->rx, c->rxlen, JSON_REJECT_DUPLICATES, NULL);
  c->rxlen = 0;
  if (msg == NULL)
    return;

  method = json_object_get(msg, "method");
  if (json_is_string(method) && json_object_get(msg, "id") == NULL) {
    params = json_object_get(msg, "params");
    if (strcmp(json_string_value(method), "event") == 0
        && json_is_object(params)
        && json_array_size(c->events) < CLIENT_MAX_EVENTS)
      json_array_append(c->events, params);
    json_decref(msg);
    return;
  }

  /*
   * One call is in flight at a time, so an answer with a null id (the
   * engine could not read ours) is its answer too, unless an earlier
   * call timed out: the null might be that one's.  An answer to a call
   * that timed out earlier is dropped.
   */
  id = json_object_get(msg, "id");
  if (c->waiting_id != 0 && c->answer == NULL
      && ((json_is_null(id) && !c->stale)
          || (json_is_integer(id)
              && json_integer_value(id) == c->waiting_id))) {
    c->answer = msg;
    return;
  }
  json_decref(msg);
}

static int
client_receive(pw_client_t *c, struct lws *wsi, const void *in, size_t len)
{
  size_t want;
  char *p;

  if (c->rxlen + len > PW_CLIENT_MAX_MESSAGE) {
    snprintf(c->why, sizeof(c->why), "a message from the engine is "
             "larger than %d bytes", PW_CLIENT_MAX_MESSAGE);
    return -1;
  }
  if (c->rxlen + len + 1 > c->rxcap) {
    want = c->rxcap == 0 ? 4096 : c->rxcap;
    while (want < c->rxlen + len + 1)
      want *= 2;
    p = realloc(c->rx, want);
    if (p == NULL) {
      snprintf(c->why, sizeof(c->why), "out of memory");
      return -1;
    }
    c->rx = p;
    c->rxcap = want;
  }
  memcpy(c->rx + c->rxlen, in, len);
  c->rxlen += len;

  if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0)
    client_message(c);
  return 0;
}

static int
client_writeable(pw_client_t *c, struct lws *wsi)
{
  int n;

  if (c->tx == NULL)
    return 0;

  /* A partial write is kept by lws and finished before the next one. */
  n = lws_write(wsi, c->tx + LWS_PRE, c->txlen, LWS_WRITE_TEXT);
  free(c->tx);
  c->tx = NULL;
  c->txlen = 0;
  if (n < 0) {
    snprintf(c->why, sizeof(c->why), "sending to the engine failed");
    return -1;
  }
  return 0;
}

static int
client_callback(struct lws *wsi, enum lws_callback_reasons reason,
                void *user, void *in, size_t len)
{
  pw_client_t *c = NULL;
  unsigned char **p, *end;
  char why[200];

  if (wsi != NULL)
    c = lws_context_user(lws_get_context(wsi));
  if (c == NULL)
    return 0;

  switch (reason) {
  case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
    c->reached = true;
    p = in;
    end = *p + len;
    if (lws_add_http_header_by_name(wsi,
                                    (const unsigned char *) "authorization:",
                                    (const unsigned char *) c->auth,
                                    (int) strlen(c->auth), p, end) != 0)
      return -1;
    break;

  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    c->state = CLIENT_OPEN;
    break;

  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    c->http_status = (int) lws_http_client_http_response(wsi);
    snprintf(why, sizeof(why), "%.*s", in != NULL ? (int) len : 0,
             in != NULL ? (const char *) in : "");
    client_closed(c, why[0] != '\0' ? why : "connection failed");
    break;

  case LWS_CALLBACK_CLIENT_RECEIVE:
    return client_receive(c, wsi, in, len);

  case LWS_CALLBACK_CLIENT_WRITEABLE:
    return client_writeable(c, wsi);

  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    /* RFC 6455 section 5.5.1: a 2-byte status code, then a reason. */
    if (len >= 2)
      snprintf(c->why, sizeof(c->why), "the engine closed the connection "
               "(%u%s%.*s)",
               ((unsigned) ((unsigned char *) in)[0] << 8)
               | ((unsigned char *) in)[1], len > 2 ? ": " : "",
               (int) (len - 2), (const char *) in + 2);
    break;

  case LWS_CALLBACK_CLIENT_CLOSED:
    client_closed(c, "the engine closed the connection");
    break;

  case LWS_CALLBACK_WSI_DESTROY:
    if (c->wsi == wsi || c->wsi == NULL)
      client_closed(c, "the engine closed the connection");
    break;

  default:
    break;
  }
  return 0;
}

static const struct lws_protocols client_protocols[] = {
  { "pinwarden-client", client_callback, 0, 0, 0, NULL, 0 },
  { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void
client_timer(lws_sorted_usec_list_t *sul)
{
  pw_client_t *c = lws_container_of(sul, pw_client_t, sul);

  c->timed_out = true;
}

/*
 * Runs the loop until done(c) holds, the connection is gone or
 * timeout_ms passed.  Returns whether done(c) holds.
 */
static bool
client_run(pw_client_t *c, int timeout_ms, bool (*done)(pw_client_t *))
{
  c->timed_out = false;
  lws_sul_schedule(c->ctx, 0, &c->sul, client_timer,
                   (lws_usec_t) (timeout_ms > 0 ? timeout_ms : 1) * 1000);

  while (!done(c) && c->state != CLIENT_CLOSED && !c->timed_out)
    if (lws_service(c->ctx, 0) < 0)
      break;

  lws_sul_cancel(&c->sul);
  return done(c);
}

static bool
client_is_open(pw_client_t *c)
{
  return c->state == CLIENT_OPEN;
}

static bool
client_has_answer(pw_client_t *c)
{
  return c->answer != NULL;
}

static bool
client_has_event(pw_client_t *c)
{
  return json_array_size(c->events) > 0;
}

int
pw_client_connect(pw_client_t **out, const char *host, uint16_t port,
                  const char *token, pw_err_t *err)
{
  struct lws_context_creation_info info;
  struct lws_client_connect_info ci;
  pw_client_t *c;
  int ret;

  *out = NULL;
  if (strlen(token) >= CLIENT_TOKEN_MAX)
    return pw_err_set(err, PW_EINVAL, "the token is too long");

  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  c->events = json_array();
  c->timeout_ms = PW_CLIENT_TIMEOUT_MS;
  c->next_id = 1;
  snprintf(c->auth, sizeof(c->auth), "Bearer %s", token);

  /* The engine checks Host against a loopback name and its own port. */
  if (strchr(host, ':') != NULL)
    snprintf(c->host_hdr, sizeof(c->host_hdr), "[%s]:%u", host,
             (unsigned) port);
  else
    snprintf(c->host_hdr, sizeof(c->host_hdr), "%s:%u", host,
             (unsigned) port);
  if (c->events == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }

  /* lws logs to stderr; what went wrong is told through err instead. */
  lws_set_log_level(0, NULL);

  memset(&info, 0, sizeof(info));
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = client_protocols;
  info.gid = -1;
  info.uid = -1;
  info.user = c;
  c->ctx = lws_create_context(&info);
  if (c->ctx == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "lws_create_context failed");
    goto done;
  }

  memset(&ci, 0, sizeof(ci));
  ci.context = c->ctx;
  ci.address = host;
  ci.port = port;
  ci.path = "/";
  ci.host = c->host_hdr;
  ci.ietf_version_or_minus_one = -1;
  ci.local_protocol_name = client_protocols[0].name;
  ci.pwsi = &c->wsi;
  if (lws_client_connect_via_info(&ci) == NULL && c->state != CLIENT_CLOSED)
    client_closed(c, "connection failed");

  if (!client_run(c, CLIENT_CONNECT_MS, client_is_open)) {
    /* Nothing answered at all: no engine runs there any more. */
    if (!c->reached)
      ret = pw_err_set(err, PW_ENOTFOUND, "cannot connect to %s: %s",
                       c->host_hdr, c->timed_out ? "timed out" : c->why);
    else if (c->http_status != 0)
      ret = pw_err_set(err, PW_EIO, "the engine at %s refused the "
                       "connection (HTTP %d): is the token current?",
                       c->host_hdr, c->http_status);
    else
      ret = pw_err_set(err, PW_EIO, "the engine at %s refused the "
                       "connection: %s", c->host_hdr,
                       c->timed_out ? "timed out" : c->why);
    goto done;
  }
  ret = PW_OK;

done:
  if (ret != PW_OK)
    pw_client_close(c);
  else
    *out = c;
  return ret;
}

int
pw_client_locate(const char *data_dir, pw_client_where_t *where,
                 pw_err_t *err)
{
  char *dir = NULL, *path = NULL, *text = NULL, *token = NULL;
  const char *listen;
  json_t *info = NULL;
  int ret;

  memset(where, 0, sizeof(*where));
  ret = pw_store_data_dir(data_dir, &dir, err);
  if (ret != PW_OK)
    goto done;

  /* Where it listens.  No file: no engine was started here. */
  if (asprintf(&path, "%s/%s", dir, PW_CLIENT_ENGINE_FILE) < 0) {
    path = NULL;
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  ret = read_small(path, &text, err);
  if (ret != PW_OK)
    goto done;
  info = json_loads(text, 0, NULL);
  listen = json_string_value(json_object_get(info, "listen"));
  if (listen == NULL || strlen(listen) >= sizeof(where->listen)) {
    ret = pw_err_set(err, PW_EINVAL, "%s: no \"listen\" address", path);
    goto done;
  }
  snprintf(where->listen, sizeof(where->listen), "%s", listen);
  ret = parse_listen(listen, where->host, sizeof(where->host),
                     &where->port, err);
  if (ret != PW_OK)
    goto done;

  /* The engine-wide token, one line of hex. */
  free(path);
  if (asprintf(&path, "%s/%s", dir, PW_CLIENT_TOKEN_FILE) < 0) {
    path = NULL;
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  ret = read_small(path, &token, err);
  if (ret == PW_ENOTFOUND)
    ret = pw_err_set(err, PW_EIO, "%s: missing, though engine.json is "
                     "there", path);
  if (ret != PW_OK)
    goto done;
  token[strcspn(token, " \t\r\n")] = '\0';
  if (strlen(token) >= sizeof(where->token)) {
    ret = pw_err_set(err, PW_EINVAL, "%s: not a token", path);
    goto done;
  }
  snprintf(where->token, sizeof(where->token), "%s", token);

done:
  if (token != NULL)
    explicit_bzero(token, strlen(token));
  free(token);
  json_decref(info);
  free(text);
  free(path);
  free(dir);
  return ret;
}

int
pw_client_open(pw_client_t **out, const char *data_dir, pw_err_t *err)
{
  pw_client_where_t where;
  int ret;

  *out = NULL;
  ret = pw_client_locate(data_dir, &where, err);
  if (ret == PW_OK)
    ret = pw_client_connect(out, where.host, where.port, where.token, err);
  explicit_bzero(&where, sizeof(where));
  return ret;
}

void
pw_client_close(pw_client_t *c)
{
  if (c == NULL)
    return;

  /* Destroying the context closes the connection with it. */
  if (c->ctx != NULL)
    lws_context_destroy(c->ctx);
  memset(c->auth, 0, sizeof(c->auth));
  json_decref(c->answer);
  json_decref(c->events);
  free(c->tx);
  free(c->rx);
  free(c);
}

void
pw_client_set_timeout(pw_client_t *c, int timeout_ms)
{
  c->timeout_ms = timeout_ms > 0 ? timeout_ms : PW_CLIENT_TIMEOUT_MS;
}

static int
client_send(pw_client_t *c, json_t *msg, pw_err_t *err)
{
  char *text;
  size_t len;

  /* A call that timed out before it was written still holds the slot. */
  if (c->tx != NULL)
    return pw_err_set(err, PW_EIO, "an earlier call is still unsent");

  text = json_dumps(msg, JSON_COMPACT);
  if (text == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  len = strlen(text);

  c->tx = malloc(LWS_PRE + len);
  if (c->tx == NULL) {
    free(text);
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  }
  memcpy(c->tx + LWS_PRE, text, len);
  c->txlen = len;
  free(text);

  lws_callback_on_writable(c->wsi);
  return PW_OK;
}

static void
rpc_error_set(pw_rpc_error_t *err, int code, const char *msg)
{
  if (err == NULL)
    return;
  err->code = code;
  snprintf(err->message, sizeof(err->message), "%s", msg);
  err->data = NULL;
}

int
pw_client_call(pw_client_t *c, const char *method, const json_t *params,
               json_t **result, pw_rpc_error_t *err)
{
  json_t *msg = NULL, *e;
  pw_err_t perr;
  int ret;

  *result = NULL;
  rpc_error_set(err, 0, "");
  if (c->state != CLIENT_OPEN) {
    rpc_error_set(err, 0, c->why[0] != '\0' ? c->why
                  : "the connection is closed");
    return PW_EIO;
  }

  msg = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id",
                  (json_int_t) c->next_id, "method", method);
  if (msg == NULL
      || (params != NULL
          && json_object_set(msg, "params", (json_t *) params) != 0)) {
    rpc_error_set(err, 0, "out of memory");
    ret = PW_ENOMEM;
    goto done;
  }
  c->waiting_id = c->next_id++;

  ret = client_send(c, msg, &perr);
  if (ret != PW_OK) {
    rpc_error_set(err, 0, perr.msg);
    goto done;
  }

  if (!client_run(c, c->timeout_ms, client_has_answer)) {
    c->stale = c->stale || c->timed_out;
    if (c->timed_out)
      rpc_error_set(err, 0, "no answer from the engine in time");
    else
      rpc_error_set(err, 0, c->why[0] != '\0' ? c->why
                    : "the engine closed the connection");
    ret = PW_EIO;
    goto done;
  }

  /* Section 5: exactly one of result and error. */
  e = json_object_get(c->answer, "error");
  if (e != NULL) {
    rpc_error_set(err, (int) json_integer_value(json_object_get(e, "code")),
                  json_string_value(json_object_get(e, "message")) != NULL
                  ? json_string_value(json_object_get(e, "message"))
                  : "error without a message");
    if (err != NULL) {
      err->data = json_object_get(e, "data");
      json_incref(err->data);
    }
    ret = PW_CLIENT_EREMOTE;
    goto done;
  }
  *result = json_object_get(c->answer, "result");
  if (*result == NULL) {
    rpc_error_set(err, 0, "the engine's answer has no result");
    ret = PW_EIO;
    goto done;
  }
  json_incref(*result);
  ret = PW_OK;

done:
  c->waiting_id = 0;
  json_decref(c->answer);
  c->answer = NULL;
  json_decref(msg);
  return ret;
}

int
pw_client_next_event(pw_client_t *c, int timeout_ms, json_t **event,
                     pw_err_t *err)
{
  *event = NULL;

  if (!client_has_event(c) && c->state == CLIENT_OPEN)
    client_run(c, timeout_ms, client_has_event);

  /* Events that came before the connection ended are still given. */
  if (client_has_event(c)) {
    *event = json_array_get(c->events, 0);
    json_incref(*event);
    json_array_remove(c->events, 0);
    return PW_OK;
  }
  if (c->state != CLIENT_OPEN)
    return pw_err_set(err, PW_EIO, "%s", c->why[0] != '\0' ? c->why
                      : "the engine closed the connection");
  return PW_OK;
}

void
pw_client_error_clear(pw_rpc_error_t *err)
{
  if (err == NULL)
    return;
  json_decref(err->data);
  err->data = NULL;
}
