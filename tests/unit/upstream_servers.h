/*
 * The real servers test_upstream runs on loopback, each test afresh:
 * tinyproxy (HTTP CONNECT with Basic auth), microsocks (SOCKS5 with RFC
 * 1929 auth), a TLS front before tinyproxy (an https upstream, its
 * certificate from a CA of its own), an echo server and a greeter that
 * says hello and hangs up (the targets), a listener that never answers,
 * and a port nobody listens on.  servers_start and servers_stop are the
 * suite's init and fini.
 *
 * The functions are static and defined here: the unit build compiles
 * one source file per test, and only test_upstream includes this.
 */
#ifndef PW_TEST_UPSTREAM_SERVERS_H
#define PW_TEST_UPSTREAM_SERVERS_H

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "certgen.h"

#define USER "user"
#define PASS "pass"

static struct {
  char     dir[PATH_MAX - 64];
  pid_t    tinyproxy;
  pid_t    microsocks;
  int      echo_fd;      /* listening; a thread echoes what it reads */
  int      silent_fd;    /* listening; never accepted from */
  int      hello_fd;     /* listening; says hello and hangs up */
  int      tls_fd;       /* listening; TLS in front of tinyproxy */
  SSL_CTX *tls_ctx;
  char     roots[4096];  /* PEM of the CA of the front's certificate */
  uint16_t http_port;
  uint16_t tls_port;
  uint16_t hello_port;
  uint16_t socks_port;
  uint16_t echo_port;
  uint16_t silent_port;
  uint16_t closed_port;  /* was free when picked; nothing listens */
} srv = { .echo_fd = -1, .silent_fd = -1, .hello_fd = -1,
        .tls_fd = -1 };

static int
listen_on(uint16_t *port)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0, "bind");
  cr_assert_eq(listen(fd, 16), 0, "listen");
  cr_assert_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

/* A port that was free a moment ago. */
static uint16_t
free_port(void)
{
  uint16_t port;

  close(listen_on(&port));
  return port;
}

/* Echo connections open now: a closed tunnel must bring it to 0. */
static int echo_open;

/* One thread per connection: a test may hold several open at once. */
static void *
echo_one(void *arg)
{
  int c = (int) (intptr_t) arg;
  char buf[4096];
  ssize_t n;

  __atomic_add_fetch(&echo_open, 1, __ATOMIC_SEQ_CST);
  while ((n = read(c, buf, sizeof(buf))) > 0)
    if (write(c, buf, (size_t) n) != n)
      break;
  close(c);
  __atomic_sub_fetch(&echo_open, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

/*
 * Accepts on fd until teardown shuts it, one detached thread of one()
 * per connection, given the connection's descriptor.
 */
static void
serve(int fd, void *(*one)(void *))
{
  pthread_t t;
  int c;

  while ((c = accept(fd, NULL, NULL)) >= 0) {
    if (pthread_create(&t, NULL, one, (void *) (intptr_t) c) != 0)
      close(c);
    else
      pthread_detach(t);
  }
}

static void *
echo_main(void *arg)
{
  serve(srv.echo_fd, echo_one);
  return arg;
}

static void *
hello_main(void *arg)
{
  static const char hello[] = "hello\n";
  int c;

  while ((c = accept(srv.hello_fd, NULL, NULL)) >= 0) {
    if (write(c, hello, sizeof(hello) - 1) < 0)
      break;
    close(c);
  }
  return arg;
}

static int
connect_to(uint16_t port)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (fd >= 0 && connect(fd, (struct sockaddr *) &a, sizeof(a)) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

static int
write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  ssize_t n;

  while (len > 0) {
    n = write(fd, p, len);
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t) n;
  }
  return 0;
}

/* One TLS client of the front: relays its bytes to tinyproxy. */
static void *
front_one(void *arg)
{
  int c = (int) (intptr_t) arg, p = -1, n;
  SSL *ssl = SSL_new(srv.tls_ctx);
  struct pollfd fds[2];
  char buf[16384];

  if (ssl == NULL || SSL_set_fd(ssl, c) != 1 || SSL_accept(ssl) != 1)
    goto done;
  p = connect_to(srv.http_port);
  if (p < 0)
    goto done;

  for (;;) {
    fds[0] = (struct pollfd) { .fd = c, .events = POLLIN };
    fds[1] = (struct pollfd) { .fd = p, .events = POLLIN };
    if (SSL_pending(ssl) == 0 && poll(fds, 2, -1) < 0)
      break;
    if (SSL_pending(ssl) > 0 || fds[0].revents != 0) {
      n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0 || write_all(p, buf, (size_t) n) != 0)
        break;
    }
    if (fds[1].revents != 0) {
      n = (int) read(p, buf, sizeof(buf));
      if (n <= 0 || SSL_write(ssl, buf, n) <= 0)
        break;
    }
  }
  SSL_shutdown(ssl);

done:
  SSL_free(ssl);
  if (p >= 0)
    close(p);
  close(c);
  return NULL;
}

static void *
front_main(void *arg)
{
  serve(srv.tls_fd, front_one);
  return arg;
}

/* A CA and a certificate for 127.0.0.1 it signed, valid now. */
static void
start_front(void)
{
  int64_t now = (int64_t) time(NULL);
  certgen_spec_t ca = { .cn = "upstream test CA", .ca = 1,
                        .not_before = now - 3600,
                        .not_after = now + 86400 };
  certgen_spec_t leaf = { .cn = "127.0.0.1", .ip = "127.0.0.1",
                          .not_before = now - 3600,
                          .not_after = now + 86400 };
  EVP_PKEY *ca_key = NULL, *leaf_key = NULL;
  X509 *ca_cert, *leaf_cert;
  BIO *bio = BIO_new(BIO_s_mem());
  pthread_t t;
  char *pem;
  long len;

  ca_cert = certgen_cert(&ca, &ca_key);
  leaf.issuer = ca_cert;
  leaf.issuer_key = ca_key;
  leaf_cert = certgen_cert(&leaf, &leaf_key);
  cr_assert(ca_cert != NULL && leaf_cert != NULL && bio != NULL);

  cr_assert_eq(PEM_write_bio_X509(bio, ca_cert), 1);
  len = BIO_get_mem_data(bio, &pem);
  cr_assert_lt(len, (long) sizeof(srv.roots));
  memcpy(srv.roots, pem, (size_t) len);

  srv.tls_ctx = SSL_CTX_new(TLS_server_method());
  cr_assert_not_null(srv.tls_ctx);
  cr_assert_eq(SSL_CTX_use_certificate(srv.tls_ctx, leaf_cert), 1);
  cr_assert_eq(SSL_CTX_use_PrivateKey(srv.tls_ctx, leaf_key), 1);
  BIO_free(bio);
  X509_free(ca_cert);
  X509_free(leaf_cert);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(leaf_key);

  srv.tls_fd = listen_on(&srv.tls_port);
  cr_assert_eq(pthread_create(&t, NULL, front_main, NULL), 0);
  pthread_detach(t);
}

static pid_t
spawn(char *const argv[], const char *log)
{
  pid_t pid = fork();
  int fd;

  cr_assert_geq(pid, 0, "fork");
  if (pid > 0)
    return pid;

  /* A test that crashes must not leave its servers behind. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  execvp(argv[0], argv);
  _exit(127);
}

static void
wait_port(uint16_t port, const char *who)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  int i, fd, ok = 0;

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  for (i = 0; i < 250 && !ok; i++) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ok = connect(fd, (struct sockaddr *) &a, sizeof(a)) == 0;
    close(fd);
    if (!ok)
      usleep(20000);
  }
  cr_assert(ok, "%s never listened on %u", who, (unsigned) port);
}

static void
start_tinyproxy(void)
{
  char conf[PATH_MAX], log[PATH_MAX];
  char *argv[] = { "tinyproxy", "-d", "-c", conf, NULL };
  FILE *f;

  snprintf(conf, sizeof(conf), "%s/tinyproxy.conf", srv.dir);
  snprintf(log, sizeof(log), "%s/tinyproxy.log", srv.dir);
  srv.http_port = free_port();
  f = fopen(conf, "w");
  cr_assert_not_null(f, "fopen %s", conf);
  fprintf(f, "Port %u\nListen 127.0.0.1\nTimeout 30\nMaxClients 32\n"
          "LogLevel Error\nBasicAuth " USER " " PASS "\n"
          "Allow 127.0.0.1\nConnectPort %u\nConnectPort %u\n"
          "ConnectPort %u\n", (unsigned) srv.http_port,
          (unsigned) srv.echo_port, (unsigned) srv.closed_port,
          (unsigned) srv.hello_port);
  fclose(f);

  srv.tinyproxy = spawn(argv, log);
  wait_port(srv.http_port, "tinyproxy");
}

static void
start_microsocks(void)
{
  char port[8], log[PATH_MAX];
  char *argv[] = { "microsocks", "-i", "127.0.0.1", "-p", port,
                   "-u", USER, "-P", PASS, NULL };

  snprintf(log, sizeof(log), "%s/microsocks.log", srv.dir);
  srv.socks_port = free_port();
  snprintf(port, sizeof(port), "%u", (unsigned) srv.socks_port);
  srv.microsocks = spawn(argv, log);
  wait_port(srv.socks_port, "microsocks");
}

static void
servers_start(void)
{
  const char *base = getenv("PW_TEST_TMP");
  pthread_t t;

  signal(SIGPIPE, SIG_IGN);
  snprintf(srv.dir, sizeof(srv.dir), "%s/upstream-XXXXXX",
           base != NULL ? base : "/tmp");
  cr_assert_not_null(mkdtemp(srv.dir), "mkdtemp %s", srv.dir);

  srv.echo_fd = listen_on(&srv.echo_port);
  cr_assert_eq(pthread_create(&t, NULL, echo_main, NULL), 0);
  pthread_detach(t);
  srv.hello_fd = listen_on(&srv.hello_port);
  cr_assert_eq(pthread_create(&t, NULL, hello_main, NULL), 0);
  pthread_detach(t);
  srv.silent_fd = listen_on(&srv.silent_port);
  srv.closed_port = free_port();

  start_tinyproxy();
  start_microsocks();
  start_front();
}

static void
stop(pid_t *pid)
{
  if (*pid <= 0)
    return;
  kill(*pid, SIGKILL);
  waitpid(*pid, NULL, 0);
  *pid = 0;
}

static void
servers_stop(void)
{
  char cmd[PATH_MAX + 16];

  stop(&srv.tinyproxy);
  stop(&srv.microsocks);
  if (srv.silent_fd >= 0)
    close(srv.silent_fd);
  if (srv.echo_fd >= 0)
    shutdown(srv.echo_fd, SHUT_RDWR);
  if (srv.hello_fd >= 0)
    shutdown(srv.hello_fd, SHUT_RDWR);
  if (srv.tls_fd >= 0)
    shutdown(srv.tls_fd, SHUT_RDWR);
  if (srv.dir[0] != '\0') {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
  }
}

#endif
