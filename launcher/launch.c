/*
 * The browser launcher: the command line and environment, then a
 * preparation on the thread pool (launch_prep.c), the spawn, a timer
 * that polls for DevToolsActivePort, and the process's end.
 *
 * Ownership with libuv: a launch holds two timers from its start to its
 * free, the process handle from the spawn, and the preparation while it
 * runs on the pool.  `refs` counts them; the memory goes when the last
 * one is done, which is always on the loop after pw_launch_free, never
 * inside a call of the owner's.
 */
#include "launcher/launch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POLL_MS 50

/*
 * Switches the launcher sets, or that would undo what it sets (another
 * proxy, no proxy, names mapped past the gateway, certificate errors
 * ignored, a second DevTools channel, files written outside the
 * profile's folder): an extra argument may set none of them.  A name
 * ending in '*' stands for every switch it begins, so that a proxy or
 * DevTools switch of a later Chromium is refused too.
 */
static const char *const OWNED[] = {
  "user-data-dir", "proxy-*", "ssl-key-log-file", "host-resolver-rules",
  "host-rules", "webrtc-ip-handling-policy",
  "force-webrtc-ip-handling-policy", "remote-debugging-*",
  "no-first-run", "no-default-browser-check",
  "disable-background-networking", "disable-sync",
  "disable-component-update", "password-store", "use-mock-keychain",
  "headless", "no-sandbox", "lang", "accept-lang", "user-agent",
  "window-size", "load-extension", "disable-extensions-except",
  "no-proxy-server", "ignore-certificate-errors",
  "ignore-certificate-errors-spki-list", "disk-cache-dir",
  "log-net-log", "crash-dumps-dir",
};

/* What the browser keeps of the engine's environment: the display. */
static const char *const KEPT_ENV[] = {
  "PATH", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "XDG_RUNTIME_DIR",
};

typedef enum { ST_PREP, ST_RUNNING, ST_EXITED } state_t;

struct pw_launch {
  uv_loop_t         *loop;
  pw_launch_ready_cb ready_cb;
  pw_launch_exit_cb  exit_cb;
  void              *data;

  char             **argv;
  char             **env;
  char              *profile_dir;
  char              *roots;
  char              *ext_src, *ext_client, *ext_config;
  char              *log_path;
  char              *port_path;
  bool               https_only;
  uint64_t           ready_ms;

  uv_work_t          work;
  int                prep_rc;
  pw_err_t           prep_err;
  int                log_fd;

  uv_process_t       proc;
  uv_timer_t         poll;       /* DevToolsActivePort and the deadline */
  uv_timer_t         grace;      /* SIGKILL after a stop; then the
                                    wait for the browser's helpers */
  uint64_t           deadline;   /* of DevTools, then of the helpers */
  pw_err_t           port_err;   /* why the file did not read yet */
  char               devtools[PW_LAUNCH_DEVTOOLS_MAX];
  int                pid;
  int64_t            exit_status;  /* kept while its helpers end */
  int                exit_sig;

  state_t            state;
  bool               ready_done;
  bool               exit_done;
  bool               asked;      /* pw_launch_stop was called */
  bool               freed;      /* pw_launch_free was called */
  int                refs;
};

/* String vectors */

typedef struct strv {
  char  **v;
  size_t  n, cap;
  bool    failed;
} strv_t;

static void
strv_add(strv_t *s, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* Appends a formatted string; a failure is kept for the end. */
static void
strv_add(strv_t *s, const char *fmt, ...)
{
  va_list ap;
  char **v, *str;
  int n;

  if (s->failed)
    return;

  if (s->n + 2 > s->cap) {
    v = realloc(s->v, (s->cap * 2 + 16) * sizeof(*v));
    if (v == NULL) {
      s->failed = true;
      return;
    }
    s->v = v;
    s->cap = s->cap * 2 + 16;
  }

  va_start(ap, fmt);
  n = vasprintf(&str, fmt, ap);
  va_end(ap);
  if (n < 0) {
    s->failed = true;
    return;
  }

  s->v[s->n++] = str;
  s->v[s->n] = NULL;
}

void
pw_launch_argv_free(char **argv)
{
  size_t i;

  if (argv == NULL)
    return;
  for (i = 0; argv[i] != NULL; i++)
    free(argv[i]);
  free(argv);
}

/* Hands the vector over, or frees it and says why. */
static int
strv_finish(strv_t *s, char ***out, pw_err_t *err)
{
  if (s->failed || s->v == NULL) {
    pw_launch_argv_free(s->v);
    return pw_err_set(err, PW_ENOMEM, "launch: out of memory");
  }
  *out = s->v;
  return PW_OK;
}

/* Checks */

/*
 * The switch an argument sets, "--x=y" and "-x" alike (Chromium reads
 * both prefixes on POSIX), and its length; NULL for a plain argument.
 */
static const char *
switch_name(const char *arg, size_t *len)
{
  if (strncmp(arg, "--", 2) == 0)
    arg += 2;
  else if (arg[0] == '-')
    arg++;
  else
    return NULL;
  *len = strcspn(arg, "=");
  return arg;
}

/* Whether name (len bytes, no dashes) is own, or begins it for "x-*". */
static bool
owned_match(const char *own, const char *name, size_t len)
{
  size_t n = strlen(own);

  if (n > 0 && own[n - 1] == '*')
    return len >= n - 1 && memcmp(own, name, n - 1) == 0;
  return n == len && memcmp(own, name, len) == 0;
}

static int
check_extra(const char *arg, pw_err_t *err)
{
  const char *name;
  size_t len, i;

  name = switch_name(arg, &len);
  if (name == NULL)
    return PW_OK;

  for (i = 0; i < sizeof(OWNED) / sizeof(OWNED[0]); i++) {
    if (owned_match(OWNED[i], name, len))
      return pw_err_set(err, PW_EINVAL,
                        "browser argument --%.*s: the launcher sets it "
                        "or it would undo what the launcher sets",
                        (int) len, name);
  }
  return PW_OK;
}

/*
 * "host:port", an IPv6 host in brackets; *host_len is the host's length
 * with its brackets, which is how the resolver rules name it.
 */
static int
check_gateway(const char *gw, size_t *host_len, pw_err_t *err)
{
  const char *colon;

  if (gw == NULL || gw[0] == '\0'
      || strspn(gw, "0123456789abcdefABCDEF.:[]-"
                    "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ")
         != strlen(gw))
    goto bad;

  colon = strrchr(gw, ':');
  if (colon == NULL || colon == gw || colon[1] == '\0'
      || strspn(colon + 1, "0123456789") != strlen(colon + 1))
    goto bad;

  *host_len = (size_t) (colon - gw);
  return PW_OK;

bad:
  return pw_err_set(err, PW_EINVAL, "gateway \"%s\": not host:port",
                    gw != NULL ? gw : "");
}

/* Argv */

int
pw_launch_argv(const pw_launch_opts_t *o, char ***argv, pw_err_t *err)
{
  const pw_browser_t *b = o->browser;
  strv_t s = { 0 };
  size_t host_len = 0, i;
  int rc;

  *argv = NULL;

  if (o->profile_dir == NULL || o->profile_dir[0] == '\0'
      || o->keylog == NULL || o->keylog[0] == '\0')
    return pw_err_set(err, PW_EINVAL, "launch: profile folder and key-log "
                      "file are required");

  rc = check_gateway(o->gateway, &host_len, err);
  if (rc != PW_OK)
    return rc;

  /*
   * The list of --disable-extensions-except is comma-separated; the
   * engine's extension is loaded from inside the profile's folder, so
   * that folder's path must have none either.
   */
  if (o->extension_src != NULL && strchr(o->profile_dir, ',') != NULL)
    return pw_err_set(err, PW_EINVAL, "extension folder %s/extension: "
                      "has a comma (move the engine's data folder)",
                      o->profile_dir);
  if (o->extension != NULL && strchr(o->extension, ',') != NULL)
    return pw_err_set(err, PW_EINVAL, "extension folder %s: has a comma",
                      o->extension);

  for (i = 0; b != NULL && i < b->nargs; i++) {
    rc = check_extra(b->args[i], err);
    if (rc != PW_OK)
      return rc;
  }

  strv_add(&s, "%s", o->chromium != NULL ? o->chromium : PW_LAUNCH_CHROMIUM);
  strv_add(&s, "--user-data-dir=%s/browser", o->profile_dir);

  /*
   * Every scheme through the gateway; <-loopback> takes away the
   * implicit bypass of localhost, so that nothing reaches this machine's
   * servers but through it.
   */
  strv_add(&s, "--proxy-server=http://%s", o->gateway);
  if (o->engine != NULL)
    strv_add(&s, "--proxy-bypass-list=<-loopback>;%s", o->engine);
  else
    strv_add(&s, "--proxy-bypass-list=<-loopback>");
  strv_add(&s, "--ssl-key-log-file=%s", o->keylog);

  /*
   * Behind a proxy Chromium resolves no names for pages; the rules stop
   * what else would (prefetch, DNS-over-HTTPS probes).  The gateway's
   * host is excluded so that it stays reachable.
   */
  strv_add(&s, "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE %.*s",
           (int) host_len, o->gateway);

  /*
   * Chromium 156 knows this switch (it sets the preference of the same
   * name, which the preparation writes too); the older
   * --force-webrtc-ip-handling-policy is gone.
   */
  strv_add(&s, "--webrtc-ip-handling-policy=disable_non_proxied_udp");

  /*
   * Port 0: Chromium picks one and writes DevToolsActivePort.  It binds
   * 127.0.0.1 on its own; --remote-debugging-address is gone from 156.
   */
  strv_add(&s, "--remote-debugging-port=0");

  strv_add(&s, "--no-first-run");
  strv_add(&s, "--no-default-browser-check");
  strv_add(&s, "--disable-background-networking");
  strv_add(&s, "--disable-sync");
  strv_add(&s, "--disable-component-update");
  strv_add(&s, "--password-store=basic");

  if (o->headless)
    strv_add(&s, "--headless=new");
  if (o->no_sandbox)
    strv_add(&s, "--no-sandbox");

  if (b != NULL && b->language != NULL) {
    strv_add(&s, "--lang=%s", b->language);
    strv_add(&s, "--accept-lang=%s", b->language);
  }
  if (b != NULL && b->user_agent != NULL)
    strv_add(&s, "--user-agent=%s", b->user_agent);
  if (b != NULL && b->width > 0 && b->height > 0)
    strv_add(&s, "--window-size=%d,%d", b->width, b->height);

  if (o->extension_src != NULL) {
    strv_add(&s, "--load-extension=%s/extension", o->profile_dir);
    strv_add(&s, "--disable-extensions-except=%s/extension",
             o->profile_dir);
  } else if (o->extension != NULL) {
    strv_add(&s, "--load-extension=%s", o->extension);
    strv_add(&s, "--disable-extensions-except=%s", o->extension);
  }

  for (i = 0; b != NULL && i < b->nargs; i++)
    strv_add(&s, "%s", b->args[i]);

  return strv_finish(&s, argv, err);
}

/*
 * The environment: a HOME of the profile's own (Chromium's NSS database
 * lives under it), the time zone, the display; nothing else of the
 * engine's, no *_proxy and no SSLKEYLOGFILE above all.
 */
static int
build_env(const pw_launch_opts_t *o, char ***env, pw_err_t *err)
{
  const char *v;
  strv_t s = { 0 };
  size_t i;

  for (i = 0; i < sizeof(KEPT_ENV) / sizeof(KEPT_ENV[0]); i++) {
    v = getenv(KEPT_ENV[i]);
    if (v != NULL)
      strv_add(&s, "%s=%s", KEPT_ENV[i], v);
  }

  strv_add(&s, "HOME=%s/home", o->profile_dir);
  strv_add(&s, "XDG_CONFIG_HOME=%s/home/.config", o->profile_dir);
  strv_add(&s, "XDG_CACHE_HOME=%s/home/.cache", o->profile_dir);

  if (o->browser != NULL && o->browser->timezone != NULL)
    strv_add(&s, "TZ=%s", o->browser->timezone);

  return strv_finish(&s, env, err);
}

/* Lifecycle */

static void
release(pw_launch_t *l)
{
  pw_launch_argv_free(l->argv);
  pw_launch_argv_free(l->env);
  free(l->profile_dir);
  free(l->roots);
  free(l->ext_src);
  free(l->ext_client);
  if (l->ext_config != NULL)
    explicit_bzero(l->ext_config, strlen(l->ext_config));
  free(l->ext_config);
  free(l->log_path);
  free(l->port_path);
  free(l);
}

static void
unref(pw_launch_t *l)
{
  if (--l->refs == 0)
    release(l);
}

static void
on_close(uv_handle_t *handle)
{
  unref(handle->data);
}

/*
 * The ready callback, once; then, when the browser never ran or is
 * gone, the exit callback.  The owner may free the launch in either:
 * what follows a callback checks `freed`.
 */
static void
say_ready(pw_launch_t *l, int status, const char *message)
{
  if (l->ready_done || l->freed)
    return;
  l->ready_done = true;
  uv_timer_stop(&l->poll);
  l->ready_cb(l->data, status, status == PW_OK ? l->devtools : NULL,
              message);
}

static void
say_exit(pw_launch_t *l, int64_t status, int sig)
{
  if (l->exit_done || l->freed)
    return;
  l->exit_done = true;
  uv_timer_stop(&l->poll);
  uv_timer_stop(&l->grace);
  l->exit_cb(l->data, status, sig, l->asked);
}

/* The browser never ran. */
static void
fail_early(pw_launch_t *l, int status, const char *message)
{
  l->state = ST_EXITED;
  say_ready(l, status, message);
  say_exit(l, -1, 0);
}

/*
 * The crash handlers whose database lies in dir; with sig, each is sent
 * it.  Chromium's crash handler leaves the browser's process group (it
 * runs in a session of its own) and outlives the browser by a moment,
 * writing into the database it was given under the profile's HOME:
 * until it is gone the profile's folder is in use.  No library lists
 * processes by their arguments; /proc is the interface.
 */
static int
lingering(const char *dir, int sig)
{
  char path[64], cmd[8192], want[PATH_MAX + 16];
  struct dirent *de;
  size_t wlen;
  ssize_t n;
  DIR *proc;
  int fd, count = 0;
  long pid;

  wlen = (size_t) snprintf(want, sizeof(want), "--database=%s/", dir);
  proc = wlen < sizeof(want) ? opendir("/proc") : NULL;
  if (proc == NULL)
    return 0;
  while ((de = readdir(proc)) != NULL) {
    pid = strtol(de->d_name, NULL, 10);
    if (pid <= 0 || pid == (long) getpid())
      continue;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    n = read(fd, cmd, sizeof(cmd));
    close(fd);
    if (n <= 0 || memmem(cmd, (size_t) n, want, wlen) == NULL)
      continue;
    count++;
    if (sig != 0)
      kill((pid_t) pid, sig);
  }
  closedir(proc);
  return count;
}

/* The browser is gone; its exit is told once its helpers are too. */
static void
on_linger(uv_timer_t *timer)
{
  pw_launch_t *l = timer->data;
  bool late = uv_now(l->loop) >= l->deadline;

  if (lingering(l->profile_dir, late ? SIGKILL : 0) > 0 && !late)
    return;
  say_exit(l, l->exit_status, l->exit_sig);
}

static void
on_proc_exit(uv_process_t *proc, int64_t status, int sig)
{
  pw_launch_t *l = proc->data;
  char msg[PW_ERR_MAX + PATH_MAX];

  l->state = ST_EXITED;
  uv_close((uv_handle_t *) proc, on_close);

  /* What the browser left behind of its group goes with it. */
  if (l->pid > 0)
    kill(-l->pid, SIGKILL);

  if (l->asked)
    snprintf(msg, sizeof(msg), "the browser was stopped before DevTools "
             "answered");
  else if (sig != 0)
    snprintf(msg, sizeof(msg), "the browser was killed by signal %d before "
             "DevTools answered; see %s", sig, l->log_path);
  else
    snprintf(msg, sizeof(msg), "the browser exited with status %lld before "
             "DevTools answered; see %s", (long long) status, l->log_path);

  say_ready(l, PW_EIO, msg);
  if (l->freed || l->exit_done)
    return;

  /* The grace timer has nothing left to kill: it waits for helpers. */
  l->exit_status = status;
  l->exit_sig = sig;
  l->deadline = uv_now(l->loop) + PW_LAUNCH_LINGER_MS;
  uv_timer_start(&l->grace, on_linger, 0, 50);
}

/* Reads DevToolsActivePort, at most the cap and one octet more. */
static int
read_port(pw_launch_t *l)
{
  char buf[PW_LAUNCH_PORT_FILE_MAX + 1];
  ssize_t n;
  int fd;

  fd = open(l->port_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return pw_err_set(&l->port_err, PW_ENOTFOUND,
                      "no DevToolsActivePort yet");

  do
    n = read(fd, buf, sizeof(buf));
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n < 0)
    return pw_err_set(&l->port_err, PW_EIO, "%s: %s", l->port_path,
                      strerror(errno));

  return pw_launch_port_parse(buf, (size_t) n, l->devtools, &l->port_err);
}

static void
on_poll(uv_timer_t *timer)
{
  pw_launch_t *l = timer->data;
  char msg[PW_ERR_MAX * 2];

  if (l->state != ST_RUNNING || l->ready_done)
    return;

  if (read_port(l) == PW_OK) {
    say_ready(l, PW_OK, NULL);
    return;
  }

  if (uv_now(l->loop) < l->deadline)
    return;

  /* Killed, not stopped: asked stays false, and the exit says signal 9. */
  uv_process_kill(&l->proc, SIGKILL);
  snprintf(msg, sizeof(msg), "timed out: DevTools did not answer within "
           "%llu ms (%s); the browser was killed",
           (unsigned long long) l->ready_ms, l->port_err.msg);
  say_ready(l, PW_EIO, msg);
}

static void
on_grace(uv_timer_t *timer)
{
  pw_launch_t *l = timer->data;

  if (l->state == ST_RUNNING)
    uv_process_kill(&l->proc, SIGKILL);
}

static void
prep_work(uv_work_t *req)
{
  pw_launch_t *l = req->data;

  l->prep_rc = pw_launch_prepare(l->profile_dir, l->https_only, l->roots,
                                 &l->prep_err);
  if (l->prep_rc == PW_OK && l->ext_src != NULL)
    l->prep_rc = pw_launch_extension(l->profile_dir, l->ext_src,
                                     l->ext_client, l->ext_config,
                                     &l->prep_err);
  if (l->prep_rc != PW_OK)
    return;

  /* A crash can be read afterwards: the browser's output is kept. */
  l->log_fd = open(l->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC
                   | O_NOFOLLOW, S_IRUSR | S_IWUSR);
  if (l->log_fd < 0 || fchmod(l->log_fd, S_IRUSR | S_IWUSR) != 0)
    l->prep_rc = pw_err_set(&l->prep_err, PW_EIO, "%s: %s", l->log_path,
                            strerror(errno));
}

static void
spawn(pw_launch_t *l)
{
  uv_process_options_t o;
  uv_stdio_container_t stdio[3];
  char msg[PW_ERR_MAX + PATH_MAX];
  int rc;

  memset(&o, 0, sizeof(o));
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = l->log_fd;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = l->log_fd;
  o.file = l->argv[0];
  o.args = l->argv;
  o.env = l->env;
  o.exit_cb = on_proc_exit;
  o.stdio = stdio;
  o.stdio_count = 3;
  /*
   * A process group of its own (setsid in the child), so that what the
   * browser started, its zygotes, renderers and crash handler, ends
   * with it and writes nothing into the profile's folder afterwards.
   */
  o.flags = UV_PROCESS_DETACHED;

  /* A failed spawn leaves the handle initialised: it is closed too. */
  l->proc.data = l;
  l->refs++;
  rc = uv_spawn(l->loop, &l->proc, &o);
  if (rc != 0) {
    uv_close((uv_handle_t *) &l->proc, on_close);
    snprintf(msg, sizeof(msg), "cannot start %s: %s", l->argv[0],
             uv_strerror(rc));
    fail_early(l, PW_EIO, msg);
    return;
  }

  l->pid = l->proc.pid;
  l->state = ST_RUNNING;
  l->deadline = uv_now(l->loop) + l->ready_ms;
  uv_timer_start(&l->poll, on_poll, POLL_MS, POLL_MS);
}

static void
prep_done(uv_work_t *req, int status)
{
  pw_launch_t *l = req->data;

  if (!l->freed) {
    if (l->prep_rc != PW_OK)
      fail_early(l, l->prep_rc, l->prep_err.msg);
    else if (l->asked)
      fail_early(l, PW_EIO, "the browser was stopped before it started");
    else
      spawn(l);
  }

  if (l->log_fd >= 0)
    close(l->log_fd);
  l->log_fd = -1;
  unref(l);
}

/* API */

int
pw_launch_start(pw_launch_t **out, uv_loop_t *loop,
                const pw_launch_opts_t *opts, pw_launch_ready_cb ready,
                pw_launch_exit_cb exit, void *data, pw_err_t *err)
{
  pw_launch_t *l = NULL;
  int rc;

  *out = NULL;

  l = calloc(1, sizeof(*l));
  if (l == NULL)
    return pw_err_set(err, PW_ENOMEM, "launch: out of memory");
  l->loop = loop;
  l->ready_cb = ready;
  l->exit_cb = exit;
  l->data = data;
  l->log_fd = -1;
  l->https_only = opts->https_only;
  l->ready_ms = opts->ready_ms != 0 ? opts->ready_ms : PW_LAUNCH_READY_MS;

  rc = pw_launch_argv(opts, &l->argv, err);
  if (rc != PW_OK)
    goto err;

  rc = build_env(opts, &l->env, err);
  if (rc != PW_OK)
    goto err;

  /* What exec would say later, said now while the caller can hear it. */
  if (access(l->argv[0], X_OK) != 0) {
    rc = pw_err_set(err, PW_ENOTFOUND, "browser %s: %s", l->argv[0],
                    strerror(errno));
    goto err;
  }

  l->profile_dir = strdup(opts->profile_dir);
  if (opts->roots != NULL)
    l->roots = strdup(opts->roots);
  if (opts->extension_src != NULL
      && ((l->ext_src = strdup(opts->extension_src)) == NULL
          || (opts->extension_client != NULL
              && (l->ext_client = strdup(opts->extension_client)) == NULL)
          || (opts->extension_config != NULL
              && (l->ext_config = strdup(opts->extension_config))
                 == NULL))) {
    rc = pw_err_set(err, PW_ENOMEM, "launch: out of memory");
    goto err;
  }
  if (asprintf(&l->log_path, "%s/browser.log", opts->profile_dir) < 0)
    l->log_path = NULL;
  if (asprintf(&l->port_path, "%s/browser/DevToolsActivePort",
               opts->profile_dir) < 0)
    l->port_path = NULL;
  if (l->profile_dir == NULL || (opts->roots != NULL && l->roots == NULL)
      || l->log_path == NULL || l->port_path == NULL) {
    rc = pw_err_set(err, PW_ENOMEM, "launch: out of memory");
    goto err;
  }

  /* From here on only the loop frees l. */
  uv_timer_init(loop, &l->poll);
  uv_timer_init(loop, &l->grace);
  l->poll.data = l;
  l->grace.data = l;
  l->work.data = l;
  l->refs = 3;

  rc = uv_queue_work(loop, &l->work, prep_work, prep_done);
  if (rc != 0) {
    l->refs--;
    pw_launch_free(l);
    return pw_err_set(err, PW_EIO, "launch: uv_queue_work: %s",
                      uv_strerror(rc));
  }

  *out = l;
  return PW_OK;

err:
  release(l);
  return rc;
}

int
pw_launch_pid(const pw_launch_t *l)
{
  return l->pid;
}

const char *
pw_launch_devtools(const pw_launch_t *l)
{
  return l->devtools[0] != '\0' ? l->devtools : NULL;
}

void
pw_launch_stop(pw_launch_t *l, uint64_t grace_ms)
{
  if (l->freed || l->exit_done || l->asked)
    return;
  l->asked = true;

  /* Still preparing: prep_done sees `asked` and spawns nothing. */
  if (l->state != ST_RUNNING)
    return;

  uv_process_kill(&l->proc, SIGTERM);
  uv_timer_start(&l->grace, on_grace,
                 grace_ms != 0 ? grace_ms : PW_LAUNCH_STOP_MS, 0);
}

void
pw_launch_free(pw_launch_t *l)
{
  if (l == NULL || l->freed)
    return;
  l->freed = true;

  if (l->state == ST_RUNNING)
    uv_process_kill(&l->proc, SIGKILL);

  uv_close((uv_handle_t *) &l->poll, on_close);
  uv_close((uv_handle_t *) &l->grace, on_close);
}
