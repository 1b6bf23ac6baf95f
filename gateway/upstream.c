/*
 * The upstream connector: one libcurl multi handle per loop, driven by
 * the multi socket interface (a uv_poll_t per socket curl asks for, one
 * uv_timer_t for curl's timeouts), and an easy handle in connect-only
 * mode per attempt.
 *
 * Handing a socket over: when an attempt is done, its socket is dup'd,
 * the poll handle of curl's descriptor is stopped (epoll forgets it
 * now), and only then is the easy handle removed, which closes curl's
 * descriptor.  The order matters: epoll keeps a registration per
 * descriptor number and open file, and the dup keeps the file open, so
 * a registration left behind by a close would fire for the caller's
 * socket under a number that libuv may give to someone else.
 *
 * Isolation between profiles: every attempt gets a fresh connection
 * that is never reused, and a share object of its own for the DNS
 * cache, because libcurl would otherwise keep one profile's resolve
 * map (CURLOPT_RESOLVE) in the multi's cache for the next profile.
 *
 * An https upstream keeps its easy handle in the multi for as long as
 * the tunnel lasts (removing it would close the tunnel), and a bridge
 * moves the bytes (see bridge_t).
 *
 * Ownership with libuv: the connector holds two timers, the poll
 * handles of curl's sockets and two polls per bridge, so its memory is
 * freed in the last of their close callbacks; a bridge's in the last of
 * its own two.  Attempts hold no handle and are freed at once.
 */
#include "gateway/upstream_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int
pw_up_status_http(pw_up_status_t status)
{
  switch (status) {
  case PW_UP_OK:      return 200;
  case PW_UP_AUTH:    return 407;
  case PW_UP_TIMEOUT: return 504;
  default:            return 502;
  }
}

const char *
pw_up_status_name(pw_up_status_t status)
{
  switch (status) {
  case PW_UP_OK:          return "OK";
  case PW_UP_REFUSED:     return "REFUSED";
  case PW_UP_UNREACHABLE: return "UNREACHABLE";
  case PW_UP_TIMEOUT:     return "TIMEOUT";
  case PW_UP_AUTH:        return "AUTH";
  case PW_UP_DENIED:      return "DENIED";
  case PW_UP_NAME:        return "NAME";
  case PW_UP_PROTOCOL:    return "PROTOCOL";
  case PW_UP_CANCELLED:   return "CANCELLED";
  }
  return "UNKNOWN";
}

/* Lifetime of the connector */

static void
up_free(pw_up_t *up)
{
  void (*done)(void *) = up->done;
  void *data = up->done_data;

  free(up->roots);
  free(up);
  curl_global_cleanup();
  if (done != NULL)
    done(data);
}

/* One of up's handles is closed; the last one of a closing up frees it. */
void
pw_up__handle_gone(pw_up_t *up)
{
  if (--up->handles == 0 && up->closing)
    up_free(up);
}

static void
on_handle_closed(uv_handle_t *h)
{
  pw_up__handle_gone(h->data);
}

static void
on_sock_closed(uv_handle_t *h)
{
  sock_t *s = h->data;
  pw_up_t *up = s->up;

  free(s);
  pw_up__handle_gone(up);
}

/* Stops watching a socket of curl's; epoll forgets it in uv_poll_stop. */
static void
sock_close(sock_t *s)
{
  pw_up_t *up = s->up;

  uv_poll_stop(&s->poll);
  if (up->multi != NULL)
    curl_multi_assign(up->multi, s->fd, NULL);

  LIST_REMOVE(s, link);

  uv_close((uv_handle_t *) &s->poll, on_sock_closed);
}

static sock_t *
sock_find(pw_up_t *up, curl_socket_t fd)
{
  sock_t *s;

  LIST_FOREACH(s, &up->socks, link) {
    if (s->fd == fd)
      return s;
  }
  return NULL;
}

/* Attempts */

/* Takes the easy handle out of the multi; curl closes its socket. */
static void
conn_release(pw_up_conn_t *c)
{
  if (c->easy != NULL) {
    if (c->up->multi != NULL)
      curl_multi_remove_handle(c->up->multi, c->easy);
    curl_easy_cleanup(c->easy);
    c->easy = NULL;
  }
  curl_share_cleanup(c->share);
  c->share = NULL;
  curl_slist_free_all(c->resolve);
  c->resolve = NULL;
}

static void
conn_free(pw_up_conn_t *c)
{
  if (c == NULL)
    return;
  conn_release(c);
  if (c->fd >= 0)
    close(c->fd);
  free(c);
}

/* Hands every result that is ready to its callback. */
static void
deliver(pw_up_t *up)
{
  pw_up_conn_t *c;
  int fd;

  while (!up->closing) {
    LIST_FOREACH(c, &up->conns, link) {
      if (c->ready)
        break;
    }
    if (c == NULL)
      break;

    LIST_REMOVE(c, link);
    fd = c->fd;
    c->fd = -1;
    c->cb(c->data, c->status, fd, c->reason);
    conn_free(c);
  }
}

static void
on_defer(uv_timer_t *t)
{
  deliver(t->data);
}

/* Classifying a failure */

static void
say(pw_up_conn_t *c, pw_up_status_t status, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
say(pw_up_conn_t *c, pw_up_status_t status, const char *fmt, ...)
{
  char what[WHAT_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);

  c->status = status;
  if (c->probe)
    snprintf(c->reason, sizeof(c->reason), "probe of %s: %s", c->label,
             what);
  else
    snprintf(c->reason, sizeof(c->reason), "%s to %s: %s", c->label,
             c->target, what);
}

/* RFC 1928 section 6 replies and curl's own SOCKS failures. */
static void
classify_socks(pw_up_conn_t *c, long px)
{
  switch (px) {
  case CURLPX_USER_REJECTED:
    say(c, PW_UP_AUTH, "rejected the credentials (SOCKS5)");
    break;
  case CURLPX_NO_AUTH:
    say(c, PW_UP_AUTH, "accepts none of our authentication methods");
    break;
  case CURLPX_REPLY_CONNECTION_REFUSED:
    say(c, PW_UP_REFUSED, "SOCKS5 connection refused");
    break;
  case CURLPX_REPLY_HOST_UNREACHABLE:
    say(c, PW_UP_UNREACHABLE, "SOCKS5 host unreachable");
    break;
  case CURLPX_REPLY_NETWORK_UNREACHABLE:
    say(c, PW_UP_UNREACHABLE, "SOCKS5 network unreachable");
    break;
  case CURLPX_REPLY_TTL_EXPIRED:
    say(c, PW_UP_TIMEOUT, "SOCKS5 TTL expired");
    break;
  case CURLPX_REPLY_NOT_ALLOWED:
    say(c, PW_UP_DENIED, "SOCKS5 connection not allowed by ruleset");
    break;
  case CURLPX_REPLY_GENERAL_SERVER_FAILURE:
    say(c, PW_UP_DENIED, "SOCKS5 general server failure");
    break;
  case CURLPX_REPLY_COMMAND_NOT_SUPPORTED:
  case CURLPX_REPLY_ADDRESS_TYPE_NOT_SUPPORTED:
  case CURLPX_REPLY_UNASSIGNED:
    say(c, PW_UP_DENIED, "SOCKS5 request refused (code %ld)", px);
    break;
  case CURLPX_RESOLVE_HOST:
    say(c, PW_UP_NAME, "name not found");
    break;
  case CURLPX_CLOSED:
    say(c, PW_UP_PROTOCOL, "the upstream closed the connection");
    break;
  default:
    say(c, PW_UP_PROTOCOL, "SOCKS5 handshake failed: %s", c->errbuf);
    break;
  }
}

static void
classify_connect(pw_up_conn_t *c, long os_errno)
{
  switch (os_errno) {
  case ECONNREFUSED:
    say(c, PW_UP_REFUSED, "%s", c->proxied
        ? "the upstream refused the connection" : "connection refused");
    break;
  case ENETUNREACH:
  case EHOSTUNREACH:
  case ENETDOWN:
  case EHOSTDOWN:
    say(c, PW_UP_UNREACHABLE, "%s%s", c->proxied
        ? "the upstream is unreachable: " : "",
        strerror((int) os_errno));
    break;
  case ETIMEDOUT:
    say(c, PW_UP_TIMEOUT, "timed out after %llu ms",
        (unsigned long long) c->timeout_ms);
    break;
  default:
    say(c, PW_UP_UNREACHABLE, "could not connect: %s", c->errbuf);
    break;
  }
}

/*
 * The status and reason of a finished transfer.  The CONNECT status
 * comes first: curl reports a refused tunnel under several codes.
 */
static void
classify(pw_up_conn_t *c, CURLcode rc)
{
  long http = 0, px = 0, os_errno = 0;

  curl_easy_getinfo(c->easy, CURLINFO_HTTP_CONNECTCODE, &http);
  curl_easy_getinfo(c->easy, CURLINFO_PROXY_ERROR, &px);
  curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno);

  /*
   * Only the proxy can answer a CONNECT, so 401 is about our
   * credentials too: tinyproxy before 1.11.2 sends it (its issue 532).
   */
  if (rc != CURLE_OK && (http == 407 || http == 401)) {
    say(c, PW_UP_AUTH, "rejected the credentials (%ld)", http);
    return;
  }
  if (rc != CURLE_OK && http != 0 && (http < 200 || http > 299)) {
    say(c, PW_UP_DENIED, "answered CONNECT with %ld", http);
    return;
  }

  switch (rc) {
  case CURLE_OK:
    say(c, PW_UP_OK, "%s", c->probe ? "answers" : "connected");
    break;
  case CURLE_OPERATION_TIMEDOUT:
    say(c, PW_UP_TIMEOUT, "timed out after %llu ms",
        (unsigned long long) c->timeout_ms);
    break;
  case CURLE_COULDNT_RESOLVE_PROXY:
    say(c, PW_UP_NAME, "the upstream's name was not found");
    break;
  case CURLE_COULDNT_RESOLVE_HOST:
    say(c, PW_UP_NAME, "name not found");
    break;
  case CURLE_COULDNT_CONNECT:
    classify_connect(c, os_errno);
    break;
  case CURLE_PROXY:
    classify_socks(c, px);
    break;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CACERT_BADFILE:
    say(c, PW_UP_PROTOCOL, "TLS with the upstream failed: %s", c->errbuf);
    break;
  case CURLE_GOT_NOTHING:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
    say(c, PW_UP_PROTOCOL, "the upstream closed the connection");
    break;
  default:
    say(c, PW_UP_PROTOCOL, "%s", c->errbuf[0] != '\0' ? c->errbuf
        : curl_easy_strerror(rc));
    break;
  }
}

/*
 * A probe of a SOCKS5 upstream passes when the proxy answered the
 * request: only then have the greeting and the login gone through.
 */
static bool
probe_answered(pw_up_conn_t *c, CURLcode rc)
{
  long px = 0;

  if (rc != CURLE_PROXY)
    return false;
  curl_easy_getinfo(c->easy, CURLINFO_PROXY_ERROR, &px);
  switch (px) {
  case CURLPX_REPLY_CONNECTION_REFUSED:
  case CURLPX_REPLY_HOST_UNREACHABLE:
  case CURLPX_REPLY_NETWORK_UNREACHABLE:
  case CURLPX_REPLY_NOT_ALLOWED:
  case CURLPX_REPLY_GENERAL_SERVER_FAILURE:
  case CURLPX_REPLY_TTL_EXPIRED:
  case CURLPX_REPLY_COMMAND_NOT_SUPPORTED:
  case CURLPX_REPLY_ADDRESS_TYPE_NOT_SUPPORTED:
  case CURLPX_REPLY_UNASSIGNED:
    return true;
  }
  return false;
}

/* Takes the socket of a finished transfer and lets curl go. */
static void
finish(pw_up_conn_t *c, CURLcode rc)
{
  curl_socket_t s = CURL_SOCKET_BAD;
  sock_t *watch;
  int ret;

  if (c->probe && probe_answered(c, rc))
    rc = CURLE_OK;
  classify(c, rc);

  if (rc == CURLE_OK)
    curl_easy_getinfo(c->easy, CURLINFO_ACTIVESOCKET, &s);
  if (s != CURL_SOCKET_BAD && (watch = sock_find(c->up, s)) != NULL)
    sock_close(watch);

  if (rc == CURLE_OK && !c->probe && s == CURL_SOCKET_BAD)
    say(c, PW_UP_PROTOCOL, "curl kept no socket");
  if (rc == CURLE_OK && !c->probe && s != CURL_SOCKET_BAD && !c->tls) {
    c->fd = fcntl(s, F_DUPFD_CLOEXEC, 0);
    if (c->fd < 0)
      say(c, PW_UP_PROTOCOL, "dup: %s", strerror(errno));
  }
  if (rc == CURLE_OK && !c->probe && s != CURL_SOCKET_BAD && c->tls) {
    ret = pw_up__bridge_start(c, s);
    if (ret != PW_OK)
      say(c, PW_UP_PROTOCOL, "could not bridge the TLS session: %s",
          pw_err_name(ret));
  }

  conn_release(c);
  c->ready = true;
}

/* Driving curl from the loop */

static void
check_multi(pw_up_t *up)
{
  pw_up_conn_t *c;
  CURLMsg *msg;
  CURLcode rc;
  int left;

  while (!up->closing
         && (msg = curl_multi_info_read(up->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    rc = msg->data.result;
    c = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &c);
    finish(c, rc);
  }

  deliver(up);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
  sock_t *s = h->data;
  pw_up_t *up = s->up;
  int flags = 0, running;

  if (status < 0)
    flags |= CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;

  curl_multi_socket_action(up->multi, s->fd, flags, &running);
  check_multi(up);
}

static void
on_timeout(uv_timer_t *t)
{
  pw_up_t *up = t->data;
  int running;

  curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi(up);
}

/* CURLMOPT_SOCKETFUNCTION: what curl wants to hear about a socket. */
static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
               void *socketp)
{
  pw_up_t *up = userp;
  sock_t *s = socketp;
  int events = 0;

  if (what == CURL_POLL_REMOVE) {
    if (s != NULL)
      sock_close(s);
    return 0;
  }

  if (s == NULL) {
    s = calloc(1, sizeof(*s));
    if (s == NULL)
      return -1;
    if (uv_poll_init_socket(up->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->up = up;
    s->fd = fd;
    s->poll.data = s;
    LIST_INSERT_HEAD(&up->socks, s, link);
    up->handles++;
    curl_multi_assign(up->multi, fd, s);
  }

  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION; the action runs from the loop, never here. */
static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
  pw_up_t *up = userp;

  if (up->closing)
    return 0;
  if (timeout_ms < 0)
    uv_timer_stop(&up->timer);
  else
    uv_timer_start(&up->timer, on_timeout, (uint64_t) timeout_ms, 0);
  return 0;
}

/* The connector */

int
pw_up_new(pw_up_t **out, uv_loop_t *loop, pw_err_t *err)
{
  const curl_version_info_data *v;
  pw_up_t *up = NULL;
  int rc = PW_OK;

  *out = NULL;

  v = curl_version_info(CURLVERSION_NOW);
  if (!(v->features & CURL_VERSION_ASYNCHDNS)) {
    rc = pw_err_set(err, PW_EINVAL, "libcurl %s resolves names "
                    "synchronously, which would block the loop",
                    v->version);
    goto done;
  }

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    rc = pw_err_set(err, PW_EIO, "curl_global_init failed");
    goto done;
  }

  up = calloc(1, sizeof(*up));
  if (up == NULL) {
    curl_global_cleanup();
    rc = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  up->loop = loop;

  up->multi = curl_multi_init();
  if (up->multi == NULL) {
    free(up);
    up = NULL;
    curl_global_cleanup();
    rc = pw_err_set(err, PW_ENOMEM, "curl_multi_init failed");
    goto done;
  }
  curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
  curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);

  /* Both timers are initialised on a loop that cannot fail them. */
  uv_timer_init(loop, &up->timer);
  uv_timer_init(loop, &up->defer);
  up->timer.data = up;
  up->defer.data = up;
  up->handles = 2;

  *out = up;

done:
  return rc;
}

/* "host:port" with brackets around an IPv6 literal. */
static void
hostport(char *out, size_t size, const char *host, uint16_t port)
{
  if (strchr(host, ':') != NULL)
    snprintf(out, size, "[%s]:%u", host, (unsigned) port);
  else
    snprintf(out, size, "%s:%u", host, (unsigned) port);
}

/*
 * The target goes into a URL, so only a DNS name (letters, digits,
 * '-', '_' and dots) or an IP literal is let through.
 */
static bool
host_ok(const char *host)
{
  unsigned char a6[16];
  size_t i, len = strlen(host);

  if (len == 0 || len >= PW_HOST_MAX)
    return false;
  if (strchr(host, ':') != NULL)
    return inet_pton(AF_INET6, host, a6) == 1;
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char) host[i];

    if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z')
        && !(ch >= '0' && ch <= '9') && ch != '-' && ch != '_'
        && ch != '.')
      return false;
  }
  return true;
}

/* The CURLOPT_RESOLVE entry of host, if the map has one. */
static int
resolve_list(pw_up_conn_t *c, const pw_up_req_t *req)
{
  char entry[TARGET_MAX + 64];
  size_t i;

  for (i = 0; i < req->nresolve; i++) {
    const pw_resolve_t *r = &req->resolve[i];

    if (strcasecmp(r->host, req->host) != 0)
      continue;
    if (strchr(r->addr, ':') != NULL)
      snprintf(entry, sizeof(entry), "%s:%u:[%s]", req->host,
               (unsigned) req->port, r->addr);
    else
      snprintf(entry, sizeof(entry), "%s:%u:%s", req->host,
               (unsigned) req->port, r->addr);
    c->resolve = curl_slist_append(NULL, entry);
    return c->resolve != NULL ? PW_OK : PW_ENOMEM;
  }
  return PW_OK;
}

static long
proxy_type(const char *scheme)
{
  if (strcmp(scheme, "socks5") == 0)
    return CURLPROXY_SOCKS5;
  if (strcmp(scheme, "socks5h") == 0)
    return CURLPROXY_SOCKS5_HOSTNAME;
  if (strcmp(scheme, "https") == 0)
    return CURLPROXY_HTTPS;
  return CURLPROXY_HTTP;
}

/*
 * The easy handle of an attempt.  url is what curl connects to; with an
 * upstream, curl reaches it through the proxy.
 */
static int
conn_setup(pw_up_conn_t *c, const pw_proxy_t *proxy, const char *url,
           bool through)
{
  struct curl_blob roots;
  CURL *e;

  c->easy = e = curl_easy_init();
  c->share = curl_share_init();
  if (e == NULL || c->share == NULL)
    return PW_ENOMEM;
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);

  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *) c);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(e, CURLOPT_SHARE, c->share);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) c->timeout_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) c->timeout_ms);
  if (c->resolve != NULL)
    curl_easy_setopt(e, CURLOPT_RESOLVE, c->resolve);

  /* libcurl adds a blob to its default CA file; it copies it. */
  if (c->up->roots != NULL) {
    roots.data = c->up->roots;
    roots.len = strlen(c->up->roots);
    roots.flags = CURL_BLOB_COPY;
    curl_easy_setopt(e, through ? CURLOPT_PROXY_CAINFO_BLOB
                     : CURLOPT_CAINFO_BLOB, &roots);
  }

  /*
   * An empty proxy turns the environment's proxies off; an empty
   * no-proxy list keeps NO_PROXY from sending a name around ours.
   */
  if (!through) {
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    return PW_OK;
  }
  curl_easy_setopt(e, CURLOPT_PROXY, c->label);
  curl_easy_setopt(e, CURLOPT_PROXYTYPE, proxy_type(proxy->scheme));
  curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
  curl_easy_setopt(e, CURLOPT_PROXYAUTH, (long) CURLAUTH_BASIC);
  curl_easy_setopt(e, CURLOPT_SOCKS5_AUTH, (long) CURLAUTH_BASIC);
  if (proxy->user != NULL) {
    curl_easy_setopt(e, CURLOPT_PROXYUSERNAME, proxy->user);
    curl_easy_setopt(e, CURLOPT_PROXYPASSWORD,
                     proxy->password != NULL ? proxy->password : "");
  }
  return PW_OK;
}

static bool
is_direct(const pw_proxy_t *proxy)
{
  return proxy == NULL || proxy->scheme[0] == '\0';
}

/* The common start of an attempt and a probe. */
static int
conn_new(pw_up_conn_t **out, pw_up_t *up, const pw_proxy_t *proxy,
         uint64_t timeout_ms, pw_up_cb cb, void *data, pw_err_t *err)
{
  pw_up_conn_t *c;
  char hp[TARGET_MAX];

  *out = NULL;
  if (up->closing)
    return pw_err_set(err, PW_EINVAL, "the upstream connector is closing");
  if (!is_direct(proxy) && strcmp(proxy->scheme, "http") != 0
      && strcmp(proxy->scheme, "https") != 0
      && strcmp(proxy->scheme, "socks5") != 0
      && strcmp(proxy->scheme, "socks5h") != 0)
    return pw_err_set(err, PW_EINVAL, "unknown upstream scheme \"%s\"",
                      proxy->scheme);
  if (!is_direct(proxy) && (!host_ok(proxy->host) || proxy->port == 0))
    return pw_err_set(err, PW_EINVAL, "bad upstream host or port");

  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  c->up = up;
  c->fd = -1;
  c->cb = cb;
  c->data = data;
  c->proxied = !is_direct(proxy);
  c->tls = c->proxied && strcmp(proxy->scheme, "https") == 0;
  c->timeout_ms = timeout_ms == 0 ? PW_UP_TIMEOUT_DEFAULT_MS : timeout_ms;
  if (c->timeout_ms > PW_UP_TIMEOUT_MAX_MS)
    c->timeout_ms = PW_UP_TIMEOUT_MAX_MS;

  if (c->proxied) {
    hostport(hp, sizeof(hp), proxy->host, proxy->port);
    snprintf(c->label, sizeof(c->label), "%s://%s", proxy->scheme, hp);
  } else {
    snprintf(c->label, sizeof(c->label), "direct connection");
  }

  *out = c;
  return PW_OK;
}

/* Puts an attempt on the list and, for curl's part, on the multi. */
static int
conn_start(pw_up_conn_t *c, pw_err_t *err)
{
  pw_up_t *up = c->up;

  if (c->easy != NULL && curl_multi_add_handle(up->multi, c->easy)
      != CURLM_OK)
    return pw_err_set(err, PW_ENOMEM, "curl_multi_add_handle failed");
  if (c->easy == NULL)
    uv_timer_start(&up->defer, on_defer, 0, 0);

  LIST_INSERT_HEAD(&up->conns, c, link);
  return PW_OK;
}

static int
conn_launch(pw_up_conn_t *c, const pw_proxy_t *proxy, const char *url,
            bool through, pw_err_t *err)
{
  int rc = conn_setup(c, proxy, url, through);

  if (rc != PW_OK)
    return pw_err_set(err, rc, "curl_easy_init failed");
  return conn_start(c, err);
}

/* The end of a start: the attempt to the caller, or freed on failure. */
static int
conn_hand(pw_up_conn_t *c, int rc, pw_up_conn_t **conn)
{
  if (rc != PW_OK) {
    conn_free(c);
    c = NULL;
  }
  if (conn != NULL)
    *conn = c;
  return rc;
}

int
pw_up_connect(pw_up_t *up, const pw_up_req_t *req, pw_up_cb cb,
              void *data, pw_up_conn_t **conn, pw_err_t *err)
{
  pw_up_conn_t *c = NULL;
  char url[TARGET_MAX + 16];
  bool local;
  int rc;

  if (req->host == NULL || !host_ok(req->host) || req->port == 0) {
    rc = pw_err_set(err, PW_EINVAL, "bad target host or port");
    goto done;
  }

  rc = conn_new(&c, up, req->proxy, req->timeout_ms, cb, data, err);
  if (rc != PW_OK)
    goto done;
  hostport(c->target, sizeof(c->target), req->host, req->port);
  snprintf(url, sizeof(url), "http://%s/", c->target);

  /* The map applies where the name is looked up here. */
  local = !c->proxied || strcmp(req->proxy->scheme, "socks5") == 0;
  if (local && resolve_list(c, req) != PW_OK) {
    rc = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }

  rc = conn_launch(c, req->proxy, url, c->proxied, err);

done:
  return conn_hand(c, rc, conn);
}

int
pw_up_probe(pw_up_t *up, const pw_proxy_t *proxy, uint64_t timeout_ms,
            pw_up_cb cb, void *data, pw_up_conn_t **conn, pw_err_t *err)
{
  pw_up_conn_t *c = NULL;
  char url[LABEL_MAX];
  int rc;

  rc = conn_new(&c, up, proxy, timeout_ms, cb, data, err);
  if (rc != PW_OK)
    goto done;
  c->probe = true;

  /* Direct: nothing to ask, the answer waits for the next turn. */
  if (!c->proxied) {
    say(c, PW_UP_OK, "nothing to probe");
    c->ready = true;
    rc = conn_start(c, err);
    goto done;
  }

  /* http, https: the proxy itself, reached without one. */
  if (strncmp(proxy->scheme, "http", 4) == 0) {
    hostport(c->target, sizeof(c->target), proxy->host, proxy->port);
    snprintf(url, sizeof(url), "%s://%s/", proxy->scheme, c->target);
    rc = conn_launch(c, proxy, url, false, err);
  } else {
    snprintf(c->target, sizeof(c->target), "127.0.0.1:9");
    rc = conn_launch(c, proxy, PROBE_URL, true, err);
  }

done:
  return conn_hand(c, rc, conn);
}

int
pw_up_set_proxy_roots(pw_up_t *up, const char *pem, pw_err_t *err)
{
  char *copy = NULL;

  if (pem != NULL && strlen(pem) > PW_PROFILE_ROOTS_MAX)
    return pw_err_set(err, PW_ETOOBIG, "proxy roots over %d bytes",
                      PW_PROFILE_ROOTS_MAX);
  if (pem != NULL && (copy = strdup(pem)) == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  free(up->roots);
  up->roots = copy;
  return PW_OK;
}

void
pw_up_cancel(pw_up_conn_t *conn)
{
  if (conn == NULL)
    return;
  LIST_REMOVE(conn, link);
  conn_free(conn);
}

void
pw_up_close(pw_up_t *up, void (*done)(void *), void *data)
{
  pw_up_conn_t *c;
  sock_t *s;

  if (up == NULL || up->closing)
    return;
  up->closing = true;
  up->done = done;
  up->done_data = data;

  /* A callback may cancel others; take the head each time. */
  while ((c = LIST_FIRST(&up->conns)) != NULL) {
    LIST_REMOVE(c, link);
    conn_release(c);
    if (c->fd >= 0)
      close(c->fd);
    c->fd = -1;
    say(c, PW_UP_CANCELLED, "the gateway is closing");
    c->cb(c->data, PW_UP_CANCELLED, -1, c->reason);
    conn_free(c);
  }

  while (!LIST_EMPTY(&up->bridges))
    pw_up__bridge_end(LIST_FIRST(&up->bridges));

  curl_multi_cleanup(up->multi);
  up->multi = NULL;
  while ((s = LIST_FIRST(&up->socks)) != NULL)
    sock_close(s);

  uv_close((uv_handle_t *) &up->timer, on_handle_closed);
  uv_close((uv_handle_t *) &up->defer, on_handle_closed);
}
