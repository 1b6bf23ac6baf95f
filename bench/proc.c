#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <jansson.h>

#include "bench.h"
#include "proc_int.h"

#define CHILDREN_MAX 4

volatile sig_atomic_t bench_proc_interrupted;

/* What the atexit handler must not leave behind. */
static pid_t children[CHILDREN_MAX];
static char  dirs[CHILDREN_MAX][64];

static void
on_signal(int sig)
{
  size_t i;

  /* A second signal means the run is not leaving: stop at once. */
  if (bench_proc_interrupted) {
    for (i = 0; i < CHILDREN_MAX; i++) {
      if (children[i] > 0)
        kill(children[i], SIGKILL);
    }
    _exit(128 + sig);
  }
  bench_proc_interrupted = 1;
}

void
bench_proc_init(void)
{
  struct sigaction sa;

  /*
   * No SA_RESTART: a wait in poll or epoll returns EINTR, and the run
   * goes to its cleanup with the children still to stop.
   */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);

  /* A server that hangs up is an error from send, not a dead benchmark. */
  signal(SIGPIPE, SIG_IGN);
  atexit(bench_proc_stop_all);
}

static void
sleep_s(double s)
{
  struct timespec ts = { .tv_sec = (time_t) s,
                         .tv_nsec = (long) ((s - (double) (time_t) s)
                                            * 1e9) };

  nanosleep(&ts, NULL);
}

pid_t
bench_proc_fork(void)
{
  pid_t parent = getpid(), pid;
  size_t i;

  for (i = 0; i < CHILDREN_MAX && children[i] != 0; i++)
    ;
  if (i == CHILDREN_MAX) {
    errno = EAGAIN;
    return -1;
  }

  fflush(NULL);
  pid = fork();
  if (pid != 0) {
    if (pid > 0)
      children[i] = pid;
    return pid;
  }

  /* The child dies with the benchmark, however the benchmark dies. */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(127);
  return 0;
}

static void
forget(pid_t pid)
{
  size_t i;

  for (i = 0; i < CHILDREN_MAX; i++) {
    if (children[i] == pid)
      children[i] = 0;
  }
}

int
bench_proc_stop(pid_t pid, double timeout_s)
{
  double until = bench_now() + timeout_s;
  int status = 0;
  pid_t r;

  if (pid <= 0)
    return 0;

  kill(pid, SIGTERM);
  while ((r = waitpid(pid, &status, WNOHANG)) == 0 && bench_now() < until)
    sleep_s(0.01);

  if (r == 0) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
      ;
    status = -1;
  }
  forget(pid);
  return status;
}

static int
remove_one(const char *path, const struct stat *st, int flag,
           struct FTW *ftw)
{
  return remove(path) != 0 ? -1 : 0;
}

static void
remove_tree(const char *dir)
{
  size_t i;

  if (dir[0] == '\0')
    return;
  nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
  for (i = 0; i < CHILDREN_MAX; i++) {
    if (strcmp(dirs[i], dir) == 0)
      dirs[i][0] = '\0';
  }
}

void
bench_proc_stop_all(void)
{
  size_t i;

  for (i = 0; i < CHILDREN_MAX; i++) {
    if (children[i] > 0) {
      kill(children[i], SIGKILL);
      waitpid(children[i], NULL, 0);
      children[i] = 0;
    }
  }
  for (i = 0; i < CHILDREN_MAX; i++)
    remove_tree(dirs[i]);
}

/* A port no one listens on now; the daemon binds it a moment later. */
static int
free_port(uint16_t *port)
{
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = -1;

  if (fd < 0)
    return -1;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0
      && getsockname(fd, (struct sockaddr *) &sa, &len) == 0) {
    *port = ntohs(sa.sin_port);
    ret = 0;
  }
  close(fd);
  return ret;
}

/* The last lines of the daemon's log, for an error message. */
static void
log_tail(const char *path, char *out, size_t len)
{
  char buf[1024];
  FILE *f = fopen(path, "r");
  size_t n = 0;
  long size;

  out[0] = '\0';
  if (f == NULL)
    return;
  if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0) {
    fseek(f, size > (long) sizeof(buf) - 1 ? size - (long) sizeof(buf) + 1
                                           : 0, SEEK_SET);
    n = fread(buf, 1, sizeof(buf) - 1, f);
  }
  buf[n] = '\0';
  fclose(f);
  snprintf(out, len, "%s", buf);
}

static int
read_token(bench_daemon_t *d, char *err, size_t errlen)
{
  char path[128];
  FILE *f;
  size_t n;

  snprintf(path, sizeof(path), "%s/token", d->dir);
  f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  n = fread(d->token, 1, sizeof(d->token) - 1, f);
  fclose(f);

  d->token[n] = '\0';
  d->token[strcspn(d->token, " \t\r\n")] = '\0';
  if (d->token[0] == '\0' || n == sizeof(d->token) - 1) {
    snprintf(err, errlen, "%s holds no token of under %zu bytes", path,
             sizeof(d->token) - 1);
    return -1;
  }
  return 0;
}

/*
 * engine.json once the daemon wrote it whole: until it parses, the
 * daemon is still starting.  A "port" there wins over the one we asked.
 */
static int
read_engine_json(bench_daemon_t *d)
{
  char path[128];
  json_t *j, *port;

  snprintf(path, sizeof(path), "%s/engine.json", d->dir);
  j = json_load_file(path, 0, NULL);
  if (j == NULL)
    return -1;

  port = json_object_get(j, "port");
  if (json_is_integer(port) && json_integer_value(port) > 0
      && json_integer_value(port) < 65536)
    d->port = (uint16_t) json_integer_value(port);
  json_decref(j);
  return 0;
}

static void
run_daemon(const bench_daemon_t *d, const char *exe)
{
  char listen[32];
  int fd;

  snprintf(listen, sizeof(listen), "127.0.0.1:%u", d->port);
  fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
  }
  fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    dup2(fd, STDIN_FILENO);

  execl(exe, exe, "serve", "--data-dir", d->dir, "--listen", listen,
        (char *) NULL);
  fprintf(stderr, "bench_ipc: exec %s: %s\n", exe, strerror(errno));
  _exit(127);
}

int
bench_daemon_start(bench_daemon_t *d, const char *exe, double timeout_s,
                   char *err, size_t errlen)
{
  double until = bench_now() + timeout_s;
  char tail[1024];
  int status;
  size_t i;

  memset(d, 0, sizeof(*d));
  snprintf(d->dir, sizeof(d->dir), "/tmp/pinwarden-bench-XXXXXX");
  if (mkdtemp(d->dir) == NULL) {
    snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
    d->dir[0] = '\0';
    return -1;
  }
  for (i = 0; i < CHILDREN_MAX && dirs[i][0] != '\0'; i++)
    ;
  if (i < CHILDREN_MAX)
    snprintf(dirs[i], sizeof(dirs[i]), "%s", d->dir);
  snprintf(d->log, sizeof(d->log), "%s/serve.log", d->dir);

  if (free_port(&d->port) != 0) {
    snprintf(err, errlen, "no free port on 127.0.0.1: %s", strerror(errno));
    goto fail;
  }

  d->pid = bench_proc_fork();
  if (d->pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    d->pid = 0;
    goto fail;
  }
  if (d->pid == 0)
    run_daemon(d, exe);

  while (read_engine_json(d) != 0) {
    if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
      forget(d->pid);
      d->pid = 0;
      log_tail(d->log, tail, sizeof(tail));
      snprintf(err, errlen, "%s serve exited (status %d) before it wrote "
               "engine.json; its log ends:\n%s", exe,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1, tail);
      goto fail;
    }
    if (bench_proc_interrupted || bench_now() > until) {
      log_tail(d->log, tail, sizeof(tail));
      snprintf(err, errlen, "%s: no engine.json after %.0f s; its log "
               "ends:\n%s", bench_proc_interrupted ? "interrupted" : exe,
               timeout_s, tail);
      goto fail;
    }
    sleep_s(0.02);
  }

  if (read_token(d, err, errlen) != 0)
    goto fail;
  return 0;

fail:
  bench_daemon_stop(d, 2);
  return -1;
}

int
bench_daemon_stop(bench_daemon_t *d, double timeout_s)
{
  int status = bench_proc_stop(d->pid, timeout_s);

  d->pid = 0;
  remove_tree(d->dir);
  d->dir[0] = '\0';
  return status;
}

long
bench_proc_rss_kib(pid_t pid)
{
  char path[64], line[256];
  long kib = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%ld/status", (long) pid);
  f = fopen(path, "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  }
  fclose(f);
  return kib;
}
