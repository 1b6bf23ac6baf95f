/*
 * The limit for bench_ipc: a libwebsockets server that does nothing but
 * send each text message back.  It runs the way the daemon runs its
 * listener (libwebsockets 4.1 on a libuv loop of our own, through the
 * libuv event library, one thread), so the gap between the two is what
 * the daemon does with a message, not how it reads one.
 */
#include "proc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <uv.h>

#include "proc_int.h"

/* Messages a connection may have waiting to go back, and their size. */
#define ECHO_QUEUE       64
#define ECHO_MAX_MESSAGE (1024 * 1024)

typedef struct echo_msg {
  unsigned char *buf;   /* LWS_PRE bytes of room, then the message */
  size_t         cap;
  size_t         len;
} echo_msg_t;

/*
 * One per connection, zeroed by libwebsockets.  A ring of messages: the
 * one at (head + count) is being received, those before it wait to go.
 * Buffers are kept for the next message, so a steady load allocates
 * nothing.
 */
typedef struct echo_conn {
  echo_msg_t q[ECHO_QUEUE];
  unsigned   head;
  unsigned   count;
} echo_conn_t;

static int
echo_receive(struct lws *wsi, echo_conn_t *c, const void *in, size_t len)
{
  echo_msg_t *m;
  unsigned char *p;
  size_t need;

  if (c->count == ECHO_QUEUE)
    return -1;
  m = &c->q[(c->head + c->count) % ECHO_QUEUE];

  need = LWS_PRE + m->len + len;
  if (m->len + len > ECHO_MAX_MESSAGE)
    return -1;
  if (need > m->cap) {
    p = realloc(m->buf, need * 2);
    if (p == NULL)
      return -1;
    m->buf = p;
    m->cap = need * 2;
  }
  memcpy(m->buf + LWS_PRE + m->len, in, len);
  m->len += len;

  if (!lws_is_final_fragment(wsi))
    return 0;
  c->count++;
  lws_callback_on_writable(wsi);
  return 0;
}

static int
echo_writeable(struct lws *wsi, echo_conn_t *c)
{
  echo_msg_t *m;
  int n;

  if (c->count == 0)
    return 0;
  m = &c->q[c->head];

  n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
  if (n < 0 || (size_t) n < m->len)
    return -1;

  m->len = 0;
  c->head = (c->head + 1) % ECHO_QUEUE;
  c->count--;
  if (c->count > 0)
    lws_callback_on_writable(wsi);
  return 0;
}

static int
echo_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
        void *in, size_t len)
{
  echo_conn_t *c = user;
  unsigned i;

  switch (reason) {
  case LWS_CALLBACK_RECEIVE:
    return echo_receive(wsi, c, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return echo_writeable(wsi, c);
  case LWS_CALLBACK_CLOSED:
    for (i = 0; i < ECHO_QUEUE; i++)
      free(c->q[i].buf);
    memset(c, 0, sizeof(*c));
    return 0;
  default:
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

/*
 * The child: listens, writes the port to wfd, and serves until SIGTERM
 * (its default action ends it; the kernel closes every socket).
 */
static void
echo_main(int wfd)
{
  static const struct lws_protocols protocols[] = {
    { "echo", echo_cb, sizeof(echo_conn_t), 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
  };
  struct lws_context_creation_info info;
  struct lws_context *cx;
  struct lws_vhost *vh;
  uv_loop_t loop;
  void *loops[1] = { &loop };
  uint16_t port;

  lws_set_log_level(LLL_ERR, NULL);
  if (uv_loop_init(&loop) != 0)
    _exit(1);

  memset(&info, 0, sizeof(info));
  info.options = LWS_SERVER_OPTION_LIBUV
                 | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  info.foreign_loops = loops;
  cx = lws_create_context(&info);
  if (cx == NULL)
    _exit(1);

  /* Port 0: the kernel picks a free one, and no one can take it first. */
  info.port = 0;
  info.iface = "127.0.0.1";
  info.protocols = protocols;
  info.vhost_name = "echo";
  vh = lws_create_vhost(cx, &info);
  if (vh == NULL || lws_get_vhost_listen_port(vh) <= 0)
    _exit(1);

  port = (uint16_t) lws_get_vhost_listen_port(vh);
  if (write(wfd, &port, sizeof(port)) != sizeof(port))
    _exit(1);
  close(wfd);

  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(0);
}

int
bench_echo_start(pid_t *pid, uint16_t *port, char *err, size_t errlen)
{
  struct pollfd pfd;
  int fds[2], ret = -1;
  ssize_t n;

  *pid = 0;
  if (pipe(fds) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return -1;
  }

  *pid = bench_proc_fork();
  if (*pid == 0) {
    close(fds[0]);
    echo_main(fds[1]);
  }
  close(fds[1]);
  if (*pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    *pid = 0;
    goto done;
  }

  /* The port, or end of file when the child could not listen. */
  pfd.fd = fds[0];
  pfd.events = POLLIN;
  if (poll(&pfd, 1, 10000) != 1
      || (n = read(fds[0], port, sizeof(*port))) != sizeof(*port)) {
    snprintf(err, errlen, "the libwebsockets echo server did not start "
             "(is libwebsockets-evlib-uv installed?)");
    bench_proc_stop(*pid, 1);
    *pid = 0;
    goto done;
  }
  ret = 0;

done:
  close(fds[0]);
  return ret;
}
