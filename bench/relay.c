/*
 * A bare TCP relay: the least any proxy in user space does for a byte,
 * as a limit for the gateway's throughput in bench/gateway.mjs.
 *
 *   relay TARGET_PORT
 *
 * It listens on a free port of 127.0.0.1, prints that port on a line of
 * its own, and joins each connection it accepts to 127.0.0.1:TARGET_PORT:
 * no proxy protocol, no timers, no inspection, one thread, edge-triggered
 * epoll, non-blocking read(2) and write(2) of up to 64 KiB at a time
 * (the gateway's PW_GW_READ_SIZE) from one buffer per direction.  It runs
 * until it is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE   (64 * 1024)
#define EVENTS_MAX 64

/* Bytes read from `from` and not yet written to `to`. */
typedef struct dir {
  int    from, to;
  char   buf[BUF_SIZE];
  size_t off, len;
  int    eof;
} dir_t;

typedef struct pair {
  dir_t up, down;   /* client to target, target to client */
  int   client, target;
  int   closed;     /* freed once the batch of events is done */
} pair_t;

/* Moves what it can: 0 to wait for more, 1 at EOF, -1 on an error. */
static int
pump(dir_t *d)
{
  ssize_t n;

  for (;;) {
    while (d->len > 0) {
      n = write(d->to, d->buf + d->off, d->len);
      if (n < 0)
        return errno == EAGAIN ? 0 : -1;
      d->off += (size_t) n;
      d->len -= (size_t) n;
    }
    if (d->eof)
      return 1;
    n = read(d->from, d->buf, sizeof(d->buf));
    if (n == 0) {
      d->eof = 1;
      shutdown(d->to, SHUT_WR);
      return 1;
    }
    if (n < 0)
      return errno == EAGAIN ? 0 : -1;
    d->off = 0;
    d->len = (size_t) n;
  }
}

static void
pair_close(pair_t *p)
{
  close(p->client);
  close(p->target);
  p->closed = 1;
}

static int
nonblocking(int fd)
{
  int one = 1;

  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void
accept_one(int ep, int ls, int port)
{
  struct sockaddr_in to = { .sin_family = AF_INET,
                            .sin_port = htons((uint16_t) port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };
  pair_t *p;
  int c, t;

  c = accept(ls, NULL, NULL);
  if (c < 0)
    return;
  t = socket(AF_INET, SOCK_STREAM, 0);
  p = calloc(1, sizeof(*p));

  /* The connect is blocking: on loopback it is done at once. */
  if (t < 0 || p == NULL
      || connect(t, (struct sockaddr *) &to, sizeof(to)) != 0
      || nonblocking(c) != 0 || nonblocking(t) != 0) {
    close(c);
    if (t >= 0)
      close(t);
    free(p);
    return;
  }
  p->client = c;
  p->target = t;
  p->up.from = c;
  p->up.to = t;
  p->down.from = t;
  p->down.to = c;

  ev.data.ptr = p;
  epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
  epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
}

int
main(int argc, char **argv)
{
  struct sockaddr_in addr = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  struct epoll_event ev = { .events = EPOLLIN }, evs[EVENTS_MAX];
  socklen_t len = sizeof(addr);
  pair_t *p, *dead[EVENTS_MAX];
  int ls, ep, port, n, i, a, b, ndead;

  if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
    fprintf(stderr, "usage: relay TARGET_PORT\n");
    return 2;
  }

  ls = socket(AF_INET, SOCK_STREAM, 0);
  ep = epoll_create1(0);
  if (ls < 0 || ep < 0
      || bind(ls, (struct sockaddr *) &addr, sizeof(addr)) != 0
      || listen(ls, 128) != 0
      || getsockname(ls, (struct sockaddr *) &addr, &len) != 0) {
    perror("relay");
    return 1;
  }
  ev.data.ptr = NULL;
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  printf("%u\n", ntohs(addr.sin_port));
  fflush(stdout);

  /*
   * Whatever woke, both directions of the pair get their turn.  A pair
   * may have two events in one batch, so it is freed after the batch.
   */
  for (;;) {
    n = epoll_wait(ep, evs, EVENTS_MAX, -1);
    ndead = 0;
    for (i = 0; i < n; i++) {
      p = evs[i].data.ptr;
      if (p == NULL) {
        accept_one(ep, ls, port);
        continue;
      }
      if (p->closed)
        continue;
      a = pump(&p->up);
      b = pump(&p->down);
      if (a < 0 || b < 0 || (a == 1 && b == 1)) {
        pair_close(p);
        dead[ndead++] = p;
      }
    }
    for (i = 0; i < ndead; i++)
      free(dead[i]);
  }
}
