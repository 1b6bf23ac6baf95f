/*
 * The daemon: lock the data folder, open the API (and so the store),
 * start the IPC listener on the loop, publish where it listens, run
 * until a signal, then stop in order: the listener (which lets calls
 * in flight finish), the store, the files that said we were running.
 */
#include "engine/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "launcher/runner.h"
#include "ipc/api.h"
#include "ipc/server.h"
#include "profiles/store.h"

typedef struct serve {
  uv_loop_t    loop;
  uv_signal_t  sigint, sigterm, sighup;
  bool         signals;    /* the three are initialised */
  pw_api_t    *api;
  pw_ipc_t    *ipc;
  pw_run_t    *run;       /* the running profiles' gateways */
  char        *dir;
  char        *token_path;
  char        *json_path;
  int          lock_fd;
  bool         running;    /* started, and said so in the log */
  bool         stopping;
  int          status;
} serve_t;

int
pw_serve_parse_listen(const char *text, char *host, size_t size,
                      uint16_t *port, pw_err_t *err)
{
  const char *colon, *h = text, *end;
  size_t hlen;
  char *stop;
  long v;

  /* "[v6]:port", else the last colon splits "host:port". */
  if (text[0] == '[') {
    end = strchr(text, ']');
    if (end == NULL || end[1] != ':')
      return pw_err_set(err, PW_EINVAL, "--listen '%s': expected "
                        "[ADDRESS]:PORT", text);
    h = text + 1;
    hlen = (size_t) (end - h);
    colon = end + 1;
  } else {
    colon = strrchr(text, ':');
    if (colon == NULL || strchr(text, ':') != colon)
      return pw_err_set(err, PW_EINVAL, "--listen '%s': expected HOST:PORT "
                        "(an IPv6 address goes in brackets)", text);
    hlen = (size_t) (colon - text);
  }
  if (hlen == 0 || hlen >= size)
    return pw_err_set(err, PW_EINVAL, "--listen '%s': bad host", text);

  errno = 0;
  v = strtol(colon + 1, &stop, 10);
  if (colon[1] == '\0' || *stop != '\0' || errno != 0 || v < 0 || v > 65535)
    return pw_err_set(err, PW_EINVAL, "--listen '%s': the port must be "
                      "0-65535", text);

  memcpy(host, h, hlen);
  host[hlen] = '\0';
  *port = (uint16_t) v;
  return PW_OK;
}

static char *
path_join(const char *dir, const char *name)
{
  size_t len = strlen(dir) + strlen(name) + 2;
  char *p = malloc(len);

  if (p != NULL)
    snprintf(p, len, "%s/%s", dir, name);
  return p;
}

/* Creates dir and its missing parents, mode 0700. */
static int
mkdirs(const char *dir, pw_err_t *err)
{
  char *p = strdup(dir), *s, c;
  struct stat st;
  int ret = PW_OK;

  if (p == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  for (s = p + 1; ; s++) {
    if (*s != '/' && *s != '\0')
      continue;
    if (*s == '/' && s[1] == '/')
      continue;

    c = *s;
    *s = '\0';
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
      ret = pw_err_set(err, PW_EIO, "mkdir %s: %s", p, strerror(errno));
      goto done;
    }
    *s = c;
    if (c == '\0')
      break;
  }
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    ret = pw_err_set(err, PW_EIO, "%s: not a folder", dir);

done:
  free(p);
  return ret;
}

/*
 * Takes <dir>/engine.lock.  The lock dies with the process, so a crash
 * leaves nothing to clean; the file holds the holder's pid for the
 * message a second engine prints.
 */
static int
lock_dir(serve_t *s, pw_err_t *err)
{
  char *path = path_join(s->dir, "engine.lock"), buf[32];
  ssize_t n;
  int ret = PW_OK;

  if (path == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (s->lock_fd < 0) {
    ret = pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
    goto done;
  }

  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      ret = pw_err_set(err, PW_EIO, "flock %s: %s", path, strerror(errno));
      goto done;
    }
    n = pread(s->lock_fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    ret = pw_err_set(err, PW_ECONFLICT, "another pinwarden serve runs on "
                     "%s (pid %s)", s->dir, buf[0] != '\0' ? buf : "?");
    goto done;
  }

  n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
  if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, buf, (size_t) n, 0)
                                         != n)
    ret = pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));

done:
  free(path);
  return ret;
}

/* Writes path whole, mode 0600: a reader sees the old file or this. */
static int
write_file(const char *path, const char *text, pw_err_t *err)
{
  size_t len = strlen(text), off = 0;
  char *tmp;
  ssize_t n;
  int fd = -1, ret = PW_OK;

  tmp = malloc(strlen(path) + 32);
  if (tmp == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  sprintf(tmp, "%s.%ld.tmp", path, (long) getpid());

  unlink(tmp);
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    ret = pw_err_set(err, PW_EIO, "%s: %s", tmp, strerror(errno));
    goto done;
  }
  while (off < len) {
    n = write(fd, text + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ret = pw_err_set(err, PW_EIO, "%s: %s", tmp, strerror(errno));
      goto done;
    }
    off += (size_t) n;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    fd = -1;
    ret = pw_err_set(err, PW_EIO, "%s: %s", tmp, strerror(errno));
    goto done;
  }
  fd = -1;

  if (rename(tmp, path) != 0)
    ret = pw_err_set(err, PW_EIO, "rename %s: %s", path, strerror(errno));

done:
  if (fd >= 0)
    close(fd);
  if (ret != PW_OK)
    unlink(tmp);
  free(tmp);
  return ret;
}

/* Appends a newline to a malloc'd string, or frees it and says NULL. */
static char *
with_newline(char *text)
{
  size_t len = strlen(text);
  char *line = realloc(text, len + 2);

  if (line == NULL) {
    free(text);
    return NULL;
  }
  memcpy(line + len, "\n", 2);
  return line;
}

static int
publish_files(serve_t *s, pw_err_t *err)
{
  char token[PW_API_TOKEN_LEN + 1];
  json_t *info;
  char *text;
  int ret;

  s->token_path = path_join(s->dir, "token");
  s->json_path = path_join(s->dir, "engine.json");
  if (s->token_path == NULL || s->json_path == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  /* The token first: engine.json appearing says everything is ready. */
  snprintf(token, sizeof(token), "%s\n", pw_api_token(s->api));
  ret = write_file(s->token_path, token, err);
  explicit_bzero(token, sizeof(token));
  if (ret != PW_OK)
    return ret;

  info = json_pack("{s:s, s:I, s:s}", "listen", pw_ipc_listen(s->ipc),
                   "pid", (json_int_t) getpid(), "version", PW_API_VERSION);
  text = info != NULL ? json_dumps(info, JSON_INDENT(2)) : NULL;
  json_decref(info);
  text = text != NULL ? with_newline(text) : NULL;
  if (text == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  ret = write_file(s->json_path, text, err);
  free(text);
  return ret;
}

static void
unpublish_files(serve_t *s)
{
  if (s->json_path != NULL)
    unlink(s->json_path);
  if (s->token_path != NULL)
    unlink(s->token_path);
}

/* The listener is down and its calls are done: the rest goes in order. */
static void
ipc_stopped(void *data)
{
  serve_t *s = data;

  s->ipc = NULL;
  pw_api_free(s->api);
  s->api = NULL;
  unpublish_files(s);

  /* The signal handles live in s, which outlives uv_run: no close cb. */
  if (s->signals) {
    uv_close((uv_handle_t *) &s->sigint, NULL);
    uv_close((uv_handle_t *) &s->sigterm, NULL);
    uv_close((uv_handle_t *) &s->sighup, NULL);
  }
  if (s->running)
    pw_log(PW_LOG_INFO, "engine", "msg=stopped status=%d", s->status);
}

/* The gateways are closed: the listener goes next. */
static void
run_stopped(void *data)
{
  serve_t *s = data;

  s->run = NULL;
  if (s->api != NULL)
    pw_api_attach_runner(s->api, NULL);
  if (s->ipc != NULL)
    pw_ipc_stop(s->ipc, ipc_stopped, s);
  else
    ipc_stopped(s);
}

static void
begin_stop(serve_t *s, const char *why)
{
  if (s->stopping)
    return;
  s->stopping = true;
  if (s->running)
    pw_log(PW_LOG_INFO, "engine", "msg=stopping reason=%s", why);
  if (s->run != NULL)
    pw_run_close(s->run, run_stopped, s);
  else
    run_stopped(s);
}

/*
 * A browser started or ended: logged and announced.  Whether its
 * profile still runs is the runner's to say (pw_api_attach_runner):
 * the gateway and the lock outlive the browser's end.
 */
static void
on_browser(void *data, const char *id, json_t *ev)
{
  serve_t *s = data;
  const char *state = json_string_value(json_object_get(ev, "state"));

  pw_log(PW_LOG_INFO, "launcher", "msg=browser profile=%s state=%s "
         "pid=%lld status=%lld signal=%lld", id, state,
         (long long) json_integer_value(json_object_get(ev, "pid")),
         (long long) json_integer_value(json_object_get(ev, "status")),
         (long long) json_integer_value(json_object_get(ev, "signal")));
  if (s->ipc != NULL)
    pw_ipc_publish(s->ipc, PW_TOPIC_BROWSER, id, ev);
  json_decref(ev);
}

/* A gateway's decision: logged, stored and announced. */
static void
on_decision(void *data, const pw_decision_t *d)
{
  serve_t *s = data;

  pw_log(d->action == PW_ACTION_BLOCK ? PW_LOG_WARN : PW_LOG_INFO,
         "gateway", "msg=decision profile=%s host=%s port=%u action=%s "
         "reason=%s", d->profile, d->host, (unsigned) d->port,
         pw_action_name(d->action), pw_reason_name(d->reason));
  if (s->ipc != NULL)
    pw_ipc_record(s->ipc, d);
}

/* A token for a profile's extension: it sees that profile alone. */
static int
scoped_token(void *data, const char *id, char *out, size_t size)
{
  serve_t *s = data;
  char token[PW_API_TOKEN_LEN];
  pw_err_t err;
  int ret;

  ret = pw_api_token_scoped(s->api, id, PW_API_TOKEN_BROWSER, token, &err);
  if (ret == PW_OK)
    snprintf(out, size, "%s", token);
  explicit_bzero(token, sizeof(token));
  return ret;
}

/* The runtime folder holds the key-log files: secrets, 0700. */
static int
start_runner(serve_t *s, const pw_serve_opts_t *opts, pw_err_t *err)
{
  const char *ui = opts->ui_dir != NULL ? opts->ui_dir : PW_UI_DIR;
  char path[4096], ext[4096], client[4096];
  pw_run_config_t cfg;
  pw_gw_hooks_t hooks;
  int ret;

  snprintf(path, sizeof(path), "%s/run", s->dir);
  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    return pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  if (chmod(path, 0700) != 0)
    return pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));

  memset(&hooks, 0, sizeof(hooks));
  pw_api_gateway_hooks(s->api, &hooks);
  hooks.record = on_decision;
  hooks.record_data = s;
  /* Chromium refuses to run as root with its sandbox. */
  memset(&cfg, 0, sizeof(cfg));
  cfg.data_dir = s->dir;
  cfg.chromium = opts->chromium;
  cfg.no_sandbox = geteuid() == 0;
  cfg.tune.secret_wait_ms = opts->secret_wait_ms;
  cfg.tune.head_timeout_ms = opts->head_timeout_ms;
  cfg.tune.idle_timeout_ms = opts->idle_timeout_ms;
  cfg.tune.upstream_ms = opts->upstream_ms;
  cfg.event = on_browser;
  cfg.event_data = s;

  /* The extension goes into every browser when the UI folder has one. */
  snprintf(ext, sizeof(ext), "%s/extension", ui);
  snprintf(client, sizeof(client), "%s/client/pinwarden.js", ui);
  if (access(ext, R_OK | X_OK) == 0 && access(client, R_OK) == 0) {
    cfg.extension = ext;
    cfg.client_js = client;
    cfg.token = scoped_token;
    cfg.token_data = s;
  }
  cfg.engine = pw_ipc_listen(s->ipc);
  ret = pw_run_new(&s->run, &s->loop, &cfg, &hooks, err);
  if (ret != PW_OK)
    return ret;
  pw_api_attach_runner(s->api, s->run);
  return PW_OK;
}

static void
on_signal(uv_signal_t *h, int signum)
{
  serve_t *s = h->data;
  char q[PW_ERR_MAX + 8];
  pw_err_t err;

  if (signum == SIGHUP) {
    if (pw_log_reopen(&err) != PW_OK)
      pw_log(PW_LOG_ERROR, "engine", "msg=\"log reopen failed\" err=%s",
             pw_log_q(q, sizeof(q), err.msg));
    else
      pw_log(PW_LOG_INFO, "engine", "msg=\"log reopened\"");
    return;
  }
  begin_stop(s, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static int
start_signals(serve_t *s, pw_err_t *err)
{
  struct { uv_signal_t *h; int signum; } sigs[] = {
    { &s->sigint, SIGINT }, { &s->sigterm, SIGTERM }, { &s->sighup, SIGHUP },
  };
  size_t i;
  int rc;

  for (i = 0; i < 3; i++) {
    uv_signal_init(&s->loop, sigs[i].h);
    sigs[i].h->data = s;
  }
  s->signals = true;

  for (i = 0; i < 3; i++) {
    rc = uv_signal_start(sigs[i].h, on_signal, sigs[i].signum);
    if (rc != 0)
      return pw_err_set(err, PW_EIO, "uv_signal_start: %s", uv_strerror(rc));
  }
  return PW_OK;
}

static void
walk_report(uv_handle_t *h, void *arg)
{
  pw_log(PW_LOG_WARN, "engine", "msg=\"handle left on the loop\" type=%s",
         uv_handle_type_name(uv_handle_get_type(h)));
}

int
pw_serve(const pw_serve_opts_t *opts)
{
  pw_ipc_config_t cfg;
  char host[64], q[PW_ERR_MAX + 8];
  serve_t s;
  pw_err_t err;
  int rc;
  bool started = false;

  memset(&s, 0, sizeof(s));
  s.lock_fd = -1;
  s.status = 1;
  memset(&cfg, 0, sizeof(cfg));
  err.msg[0] = '\0';

  /* A peer that hangs up must not kill the daemon. */
  signal(SIGPIPE, SIG_IGN);

  if (pw_log_open(opts->log_path, opts->log_level, &err) != PW_OK) {
    fprintf(stderr, "pinwarden: serve: --log: %s\n", err.msg);
    return 1;
  }

  if (pw_serve_parse_listen(opts->listen != NULL ? opts->listen
                              : PW_SERVE_DEFAULT_LISTEN,
                            host, sizeof(host), &cfg.port, &err) != PW_OK
      || pw_store_data_dir(opts->data_dir, &s.dir, &err) != PW_OK
      || mkdirs(s.dir, &err) != PW_OK
      || lock_dir(&s, &err) != PW_OK)
    goto done;
  cfg.host = host;
  cfg.insecure_any = opts->insecure_any;
  cfg.ui_dir = opts->ui_dir != NULL ? opts->ui_dir : PW_UI_DIR;

  rc = uv_loop_init(&s.loop);
  if (rc != 0) {
    pw_err_set(&err, PW_EIO, "uv_loop_init: %s", uv_strerror(rc));
    goto done;
  }
  started = true;

  if (pw_api_new(&s.api, s.dir, &err) != PW_OK)
    goto done;
  if (pw_ipc_start(&s.ipc, &s.loop, s.api, &cfg, &err) != PW_OK)
    goto done;
  if (start_runner(&s, opts, &err) != PW_OK)
    goto done;

  if (start_signals(&s, &err) != PW_OK || publish_files(&s, &err) != PW_OK)
    goto done;

  pw_log(PW_LOG_INFO, "engine", "msg=listening listen=%s pid=%ld "
         "version=%s data=%s", pw_ipc_listen(s.ipc), (long) getpid(),
         PW_API_VERSION, s.dir);
  s.running = true;
  s.status = 0;
  err.msg[0] = '\0';

done:
  /* On stderr always; in the log too when the log is a file. */
  if (err.msg[0] != '\0') {
    fprintf(stderr, "pinwarden: serve: %s\n", err.msg);
    if (opts->log_path != NULL)
      pw_log(PW_LOG_ERROR, "engine", "msg=\"cannot start\" err=%s",
             pw_log_q(q, sizeof(q), err.msg));
  }

  /*
   * Once the loop exists it runs to the end even after a failed start:
   * lws and the listener close their handles on it.
   */
  if (started) {
    if (s.status != 0)
      begin_stop(&s, "failed start");
    uv_run(&s.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s.loop) != 0)
      uv_walk(&s.loop, walk_report, NULL);
  }

  if (s.lock_fd >= 0)
    close(s.lock_fd);
  free(s.token_path);
  free(s.json_path);
  free(s.dir);
  pw_log_close();
  return s.status;
}
