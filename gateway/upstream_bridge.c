/*
 * An https upstream's tunnel: the TLS session to the proxy is curl's,
 * so the caller gets one end of a socket pair, and this bridge moves
 * bytes between the other end and curl_easy_send/curl_easy_recv on the
 * loop, reading neither side while the other cannot take more.
 */
#include "gateway/upstream_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void
on_bridge_closed(uv_handle_t *h)
{
  bridge_t *b = h->data;
  pw_up_t *up = b->up;

  if (--b->open == 0)
    free(b);
  pw_up__handle_gone(up);
}

/*
 * Ends a tunnel.  The poll of curl's socket stops before curl closes
 * it, for the reason the top of upstream.c gives.
 */
void
pw_up__bridge_end(bridge_t *b)
{
  pw_up_t *up = b->up;

  uv_poll_stop(&b->tls_poll);
  uv_poll_stop(&b->pair_poll);
  if (up->multi != NULL)
    curl_multi_remove_handle(up->multi, b->easy);
  curl_easy_cleanup(b->easy);
  curl_share_cleanup(b->share);
  close(b->pair_fd);

  LIST_REMOVE(b, link);

  uv_close((uv_handle_t *) &b->tls_poll, on_bridge_closed);
  uv_close((uv_handle_t *) &b->pair_poll, on_bridge_closed);
}

static void on_bridge_poll(uv_poll_t *h, int status, int events);

static void
bridge_watch(uv_poll_t *h, bool r, bool w)
{
  int events = (r ? UV_READABLE : 0) | (w ? UV_WRITABLE : 0);

  if (events == 0)
    uv_poll_stop(h);
  else
    uv_poll_start(h, events, on_bridge_poll);
}

/* Proxy to caller; false when the tunnel is broken. */
static bool
bridge_down(bridge_t *b, bool *progress, bool *want_tls, bool *want_pair)
{
  CURLcode rc;
  ssize_t w;
  size_t n = 0;

  if (b->down_len == 0 && !b->proxy_eof) {
    rc = curl_easy_recv(b->easy, b->down, sizeof(b->down), &n);
    if (rc == CURLE_AGAIN) {
      *want_tls = true;
    } else if (rc != CURLE_OK) {
      return false;
    } else {
      b->proxy_eof = n == 0;
      b->down_off = 0;
      b->down_len = n;
      *progress = true;
    }
  }

  if (b->down_len > 0) {
    w = write(b->pair_fd, b->down + b->down_off, b->down_len);
    if (w < 0 && errno != EAGAIN && errno != EINTR)
      return false;
    if (w < 0) {
      *want_pair = true;
    } else {
      b->down_off += (size_t) w;
      b->down_len -= (size_t) w;
      *progress = true;
    }
  }

  /* The proxy's end of the tunnel reaches the caller as a half-close. */
  if (b->proxy_eof && b->down_len == 0 && !b->pair_shut) {
    shutdown(b->pair_fd, SHUT_WR);
    b->pair_shut = true;
  }
  return true;
}

/*
 * At the caller's EOF: a closed socket, unlike a half-closed one, sets
 * POLLHUP on our end of the pair, and then nothing can reach the caller
 * any more, so the tunnel ends now rather than when the proxy next
 * sends something.
 */
static bool
caller_gone(bridge_t *b)
{
  struct pollfd p = { .fd = b->pair_fd };

  return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0;
}

/* Caller to proxy; false when the tunnel is broken. */
static bool
bridge_up(bridge_t *b, bool *progress, bool *want_tls, bool *want_pair)
{
  CURLcode rc;
  ssize_t r;
  size_t n = 0;

  if (b->up_len == 0 && !b->client_eof) {
    r = read(b->pair_fd, b->up_buf, sizeof(b->up_buf));
    if (r < 0 && errno != EAGAIN && errno != EINTR)
      return false;
    if (r == 0 && caller_gone(b))
      return false;
    if (r < 0) {
      *want_pair = true;
    } else {
      b->client_eof = r == 0;
      b->up_off = 0;
      b->up_len = (size_t) r;
      *progress = true;
    }
  }

  if (b->up_len > 0) {
    rc = curl_easy_send(b->easy, b->up_buf + b->up_off, b->up_len, &n);
    if (rc == CURLE_AGAIN) {
      *want_tls = true;
    } else if (rc != CURLE_OK) {
      return false;
    } else {
      b->up_off += n;
      b->up_len -= n;
      *progress = n > 0 || *progress;
      *want_tls = *want_tls || n == 0;
    }
  }
  return true;
}

/*
 * Moves what can move, then waits for what it needs.  TLS may hold
 * decrypted bytes that no poll will announce, so curl_easy_recv is
 * tried again whenever the caller took the last buffer, not only when
 * the socket is readable.
 */
static void
bridge_pump(bridge_t *b)
{
  bool progress = true, ok = true;
  bool tls_r = false, tls_w = false, pair_r = false, pair_w = false;

  while (progress && ok) {
    progress = tls_r = tls_w = pair_r = pair_w = false;
    ok = bridge_down(b, &progress, &tls_r, &pair_w)
         && bridge_up(b, &progress, &tls_w, &pair_r);
  }

  /*
   * Done when both ends ended.  The caller's half-close cannot be
   * passed on: curl has no call that closes one direction of its TLS
   * session, so the tunnel waits for the proxy to end it.
   */
  if (!ok || (b->pair_shut && b->client_eof && b->up_len == 0)) {
    pw_up__bridge_end(b);
    return;
  }
  bridge_watch(&b->tls_poll, tls_r, tls_w);
  bridge_watch(&b->pair_poll, pair_r, pair_w);
}

static void
on_bridge_poll(uv_poll_t *h, int status, int events)
{
  bridge_pump(h->data);
}

/*
 * Keeps c's easy handle in the multi (removing it would close the
 * tunnel) and gives c the caller's end of a socket pair.
 */
int
pw_up__bridge_start(pw_up_conn_t *c, curl_socket_t s)
{
  pw_up_t *up = c->up;
  bridge_t *b;
  int sv[2];

  b = calloc(1, sizeof(*b));
  if (b == NULL)
    return PW_ENOMEM;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                 sv) != 0) {
    free(b);
    return PW_EIO;
  }
  if (uv_poll_init_socket(up->loop, &b->tls_poll, s) != 0) {
    close(sv[0]);
    close(sv[1]);
    free(b);
    return PW_EIO;
  }
  b->up = up;
  b->tls_poll.data = b;
  b->open = 1;
  up->handles++;
  if (uv_poll_init_socket(up->loop, &b->pair_poll, sv[1]) != 0) {
    close(sv[0]);
    close(sv[1]);
    uv_close((uv_handle_t *) &b->tls_poll, on_bridge_closed);
    return PW_EIO;
  }
  b->open = 2;
  up->handles++;

  b->easy = c->easy;
  b->share = c->share;
  c->easy = NULL;
  c->share = NULL;
  b->pair_fd = sv[1];
  b->pair_poll.data = b;
  LIST_INSERT_HEAD(&up->bridges, b, link);

  c->fd = sv[0];
  bridge_pump(b);
  return PW_OK;
}

