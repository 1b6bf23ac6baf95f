/*
 * The running profiles.  Few run at once (a person's browsers, a batch
 * of automation), so a list is the table; a profile is found by its id.
 *
 * A profile's life: its lock is taken, its gateway starts (and checks
 * the upstream), then its browser when one is asked for; it is ready
 * once the browser's DevTools answer.  It ends when stopped (browser
 * first, then the gateway) or when its browser exits on its own (then
 * the gateway goes too).  The entry stays in the table until everything
 * is closed, so that a start in between cannot race the files.
 */
#include "launcher/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "launcher/launch.h"

#define PATH_MAX_ 4096

typedef struct waiter {
  struct waiter *next;
  pw_run_cb      cb;
  pw_run_stopped_cb stopped;
  void          *data;
} waiter_t;

enum state {
  ST_GATEWAY = 0,   /* the gateway starts */
  ST_BROWSER,       /* the browser starts */
  ST_READY,
  ST_STOPPING       /* closing: browser, then gateway */
};

typedef struct entry {
  struct entry *next;
  pw_run_t     *run;
  enum state    state;
  char          id[PW_PROFILE_ID_LEN];
  pw_run_opts_t opts;
  int           lock_fd;
  pw_gw_t      *gw;
  bool          gw_closed;
  pw_launch_t  *browser;      /* until its exit callback */
  int           pid;
  char          devtools[PW_LAUNCH_DEVTOOLS_MAX];
  uint64_t      started;      /* uv_now at ready */
  int64_t       started_at;   /* Unix seconds at ready */
  waiter_t     *starts;       /* starts to answer */
  waiter_t     *answers;      /* starts of a ready profile, next turn */
  waiter_t     *stops;        /* stops to tell when all is closed */
  uv_timer_t    later;
  bool          later_closed;
  const char   *ended;        /* why it stopped, for the event */
} entry_t;

struct pw_run {
  uv_loop_t      *loop;
  pw_gw_hooks_t   hooks;
  pw_run_config_t cfg;
  char           *data_dir;
  char           *chromium;
  char           *extension;
  char           *client_js;
  char           *engine;
  entry_t        *entries;
  unsigned        count;
  bool            closing;
  void          (*watch)(void *data, const char *id, bool on);
  void           *watch_data;
  void          (*done)(void *data);
  void           *done_data;
};

static void run_finish(pw_run_t *run);
static void entry_stop(entry_t *e, const char *why);

/* ---- the table ----------------------------------------------------- */

static entry_t *
find(const pw_run_t *run, const char *id)
{
  entry_t *e;

  for (e = run->entries; e != NULL; e = e->next)
    if (strcmp(e->id, id) == 0)
      return e;
  return NULL;
}

bool
pw_run_running(const pw_run_t *run, const char *id)
{
  return find(run, id) != NULL;
}

unsigned
pw_run_count(const pw_run_t *run)
{
  return run->count;
}

void
pw_run_watch(pw_run_t *run, void (*cb)(void *data, const char *id, bool on),
             void *data)
{
  run->watch = cb;
  run->watch_data = data;
}

static void
watch(entry_t *e, bool on)
{
  pw_run_t *run = e->run;

  if (run->watch != NULL)
    run->watch(run->watch_data, e->id, on);
}

static waiter_t *
waiter_new(pw_run_cb cb, pw_run_stopped_cb stopped, void *data)
{
  waiter_t *w = calloc(1, sizeof(*w));

  if (w != NULL) {
    w->cb = cb;
    w->stopped = stopped;
    w->data = data;
  }
  return w;
}

/* Takes the list, oldest first. */
static waiter_t *
take(waiter_t **list)
{
  waiter_t *w = *list, *next, *rev = NULL;

  *list = NULL;
  for (; w != NULL; w = next) {
    next = w->next;
    w->next = rev;
    rev = w;
  }
  return rev;
}

static void
answer(entry_t *e, waiter_t **list, int status, const char *message)
{
  const pw_gw_t *gw = e->gw;
  pw_run_info_t info;
  waiter_t *w, *next;

  memset(&info, 0, sizeof(info));
  info.id = e->id;
  if (status == PW_OK) {
    info.gateway = pw_gw_address(gw);
    info.keylog = pw_gw_keylog(gw);
    info.devtools = e->devtools[0] != '\0' ? e->devtools : NULL;
    info.pid = e->pid;
  }
  for (w = take(list); w != NULL; w = next) {
    next = w->next;
    w->cb(w->data, status, message, status == PW_OK ? &info : NULL);
    free(w);
  }
}

static void
event(entry_t *e, const char *state, json_t *extra)
{
  pw_run_t *run = e->run;
  json_t *ev;

  ev = json_pack("{s:s, s:s}", "id", e->id, "state", state);
  if (ev != NULL && extra != NULL)
    json_object_update(ev, extra);
  json_decref(extra);
  if (ev != NULL && run->cfg.event != NULL)
    run->cfg.event(run->cfg.event_data, e->id, ev);
  else
    json_decref(ev);
}

/* ---- the end of an entry ------------------------------------------- */

static void
unlink_entry(pw_run_t *run, entry_t *e)
{
  entry_t **link;

  for (link = &run->entries; *link != NULL; link = &(*link)->next) {
    if (*link == e) {
      *link = e->next;
      run->count--;
      return;
    }
  }
}

/* Everything of e is closed: tell who waits, and let it go. */
static void
entry_free(entry_t *e)
{
  pw_run_t *run = e->run;
  waiter_t *w, *next;

  if (!e->gw_closed || e->browser != NULL || !e->later_closed)
    return;
  unlink_entry(run, e);
  if (e->lock_fd >= 0)
    close(e->lock_fd);

  /* Each start is answered once, whichever way the entry ended. */
  answer(e, &e->starts, PW_EIO, "the profile ended before it was ready");
  answer(e, &e->answers, PW_EIO, "the profile ended before the answer");

  /* Only now may the profile's folder go (profiles.delete). */
  watch(e, false);
  for (w = take(&e->stops); w != NULL; w = next) {
    next = w->next;
    if (w->stopped != NULL)
      w->stopped(w->data);
    free(w);
  }
  free(e);
  run_finish(run);
}

static void
later_closed(uv_handle_t *h)
{
  entry_t *e = h->data;

  e->later_closed = true;
  entry_free(e);
}

static void
gw_closed(void *data)
{
  entry_t *e = data;

  e->gw_closed = true;
  e->gw = NULL;
  entry_free(e);
}

/* The browser is gone (or never was): the gateway and the timer go. */
static void
close_rest(entry_t *e)
{
  if (!uv_is_closing((uv_handle_t *) &e->later))
    uv_close((uv_handle_t *) &e->later, later_closed);
  if (e->gw != NULL && !e->gw_closed) {
    pw_gw_t *gw = e->gw;

    e->gw = NULL;
    pw_gw_close(gw, gw_closed, e);
  } else {
    e->gw_closed = true;
    entry_free(e);
  }
}

/* ---- the browser --------------------------------------------------- */

static void
on_browser_ready(void *data, int status, const char *devtools,
                 const char *message)
{
  entry_t *e = data;

  if (e->state != ST_BROWSER)
    return;
  if (status != PW_OK) {
    /* The exit callback follows and closes the rest. */
    answer(e, &e->starts, status, message);
    e->state = ST_STOPPING;
    e->ended = "failed";
    return;
  }
  snprintf(e->devtools, sizeof(e->devtools), "%s", devtools);
  e->pid = pw_launch_pid(e->browser);
  e->state = ST_READY;
  e->started = uv_now(e->run->loop);
  e->started_at = (int64_t) time(NULL);
  event(e, "started", json_pack("{s:s, s:b, s:i, s:s}", "gateway",
                                pw_gw_address(e->gw), "browser", 1, "pid",
                                e->pid, "devtools", e->devtools));
  answer(e, &e->starts, PW_OK, "");
}

static void
on_browser_exit(void *data, int64_t status, int signal, bool asked)
{
  entry_t *e = data;
  const char *state;

  pw_launch_free(e->browser);
  e->browser = NULL;

  state = asked ? "stopped" : signal != 0 ? "crashed" : "exited";
  if (e->ended != NULL && strcmp(e->ended, "failed") == 0)
    state = "failed";
  event(e, state, json_pack("{s:i, s:I, s:i}", "pid", e->pid, "status",
                            (json_int_t) status, "signal", signal));

  /*
   * On its own: what waits to start hears why, a start of the ready
   * profile still waiting for its turn too (its timer closes below),
   * and the rest closes.
   */
  if (e->state != ST_STOPPING) {
    answer(e, &e->starts, PW_EIO, "the browser exited before it was "
           "ready");
    answer(e, &e->answers, PW_EIO, "the browser ended; start the "
           "profile again");
    e->state = ST_STOPPING;
  }
  close_rest(e);
}

static int
profile_dir(const pw_run_t *run, const char *id, char *out, size_t size)
{
  int n = snprintf(out, size, "%s/profiles/%s", run->data_dir, id);

  return n < 0 || (size_t) n >= size ? -1 : 0;
}

/*
 * What the profile's extension reads: where the engine is and a token
 * that sees this profile alone.  NULL without an extension, or when no
 * token could be made (the browser then starts without one).
 */
static char *
extension_config(pw_run_t *run, const pw_profile_t *p)
{
  char token[128], *text = NULL;
  json_t *doc;

  if (run->extension == NULL || run->cfg.token == NULL
      || run->cfg.token(run->cfg.token_data, p->id, token, sizeof(token))
         != PW_OK)
    return NULL;
  doc = json_pack("{s:o, s:s, s:s, s:s?}", "engine",
                  json_sprintf("ws://%s/", run->engine != NULL
                                           ? run->engine : ""),
                  "token", token, "profile", p->id, "name", p->name);
  text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;
  json_decref(doc);
  explicit_bzero(token, sizeof(token));
  return text;
}

static void
launch(entry_t *e)
{
  pw_run_t *run = e->run;
  const pw_profile_t *p = pw_gw_profile(e->gw);
  pw_launch_opts_t o;
  char dir[PATH_MAX_], *config;
  pw_err_t err = { 0, "" };
  int ret;

  memset(&o, 0, sizeof(o));
  profile_dir(run, e->id, dir, sizeof(dir));
  o.chromium = run->chromium;
  o.profile_dir = dir;
  o.gateway = pw_gw_address(e->gw);
  o.keylog = pw_gw_keylog(e->gw);
  o.headless = e->opts.headless;
  o.https_only = p->sa.enabled;
  o.browser = &p->browser;
  o.roots = p->roots;
  o.no_sandbox = run->cfg.no_sandbox;
  o.engine = run->engine;
  config = extension_config(run, p);
  if (config != NULL) {
    o.extension_src = run->extension;
    o.extension_client = run->client_js;
    o.extension_config = config;
  }

  e->state = ST_BROWSER;
  ret = pw_launch_start(&e->browser, run->loop, &o, on_browser_ready,
                        on_browser_exit, e, &err);
  if (config != NULL) {
    explicit_bzero(config, strlen(config));
    free(config);
  }
  if (ret != PW_OK) {
    pw_launch_free(e->browser);
    e->browser = NULL;
    answer(e, &e->starts, err.code, err.msg);
    e->state = ST_STOPPING;
    close_rest(e);
  }
}

/* ---- starting ------------------------------------------------------ */

static void
on_gateway(void *data, pw_gw_t *gw, int status, const char *message)
{
  entry_t *e = data;

  if (e->state != ST_GATEWAY)
    return;
  if (status != PW_OK) {
    answer(e, &e->starts, status, message);
    e->state = ST_STOPPING;
    close_rest(e);
    return;
  }
  if (e->opts.browser) {
    launch(e);
    return;
  }
  e->state = ST_READY;
  e->started = uv_now(e->run->loop);
  e->started_at = (int64_t) time(NULL);
  event(e, "started", json_pack("{s:s, s:b}", "gateway", pw_gw_address(gw),
                                "browser", 0));
  answer(e, &e->starts, PW_OK, "");
}

static void
on_later(uv_timer_t *t)
{
  entry_t *e = t->data;

  answer(e, &e->answers, PW_OK, "");
}

/*
 * The profile's folder and its lock.  flock is per open file, so an
 * engine that holds it refuses another engine (and itself) a second
 * run of the profile until the first one is closed.
 */
static int
lock_profile(pw_run_t *run, entry_t *e, pw_err_t *err)
{
  char dir[PATH_MAX_], path[PATH_MAX_ + 8];

  if (profile_dir(run, e->id, dir, sizeof(dir)) != 0)
    return pw_err_set(err, PW_ETOOBIG, "data folder path too long");
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return pw_err_set(err, PW_EIO, "%s: %s", dir, strerror(errno));
  snprintf(path, sizeof(path), "%s/lock", dir);
  e->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (e->lock_fd < 0)
    return pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  if (flock(e->lock_fd, LOCK_EX | LOCK_NB) != 0)
    return pw_err_set(err, PW_ECONFLICT, "the profile runs in another "
                      "engine (%s is locked)", path);
  return PW_OK;
}

int
pw_run_start(pw_run_t *run, const pw_profile_t *p,
             const pw_run_opts_t *opts, pw_run_cb cb, void *data,
             pw_err_t *err)
{
  pw_gw_config_t cfg;
  char path[PATH_MAX_];
  waiter_t *w;
  entry_t *e;
  int ret;

  if (run->closing)
    return pw_err_set(err, PW_EINVAL, "the engine is stopping");
  e = find(run, p->id);
  if (e != NULL && e->state == ST_STOPPING)
    return pw_err_set(err, PW_ECONFLICT, "the profile is stopping; start "
                      "it again once it stopped");
  w = waiter_new(cb, NULL, data);
  if (w == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  /* Ready: answer on the loop's next turn.  Starting: wait with it. */
  if (e != NULL) {
    if (e->state == ST_READY) {
      w->next = e->answers;
      e->answers = w;
      uv_timer_start(&e->later, on_later, 0, 0);
    } else {
      w->next = e->starts;
      e->starts = w;
    }
    return PW_OK;
  }

  e = calloc(1, sizeof(*e));
  if (e == NULL) {
    free(w);
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  }
  e->run = run;
  e->lock_fd = -1;
  e->opts = *opts;
  snprintf(e->id, sizeof(e->id), "%s", p->id);
  e->starts = w;
  uv_timer_init(run->loop, &e->later);
  e->later.data = e;
  e->next = run->entries;
  run->entries = e;
  run->count++;
  watch(e, true);

  ret = lock_profile(run, e, err);
  if (ret == PW_OK) {
    /*
     * The lock is ours, so a key-log file already there is a leftover
     * of an engine that was killed.
     */
    snprintf(path, sizeof(path), "%s/run/%s.keylog", run->data_dir, p->id);
    unlink(path);
    cfg = run->cfg.tune;
    cfg.profile = p;
    cfg.keylog = path;
    ret = pw_gw_start(&e->gw, run->loop, &cfg, &run->hooks, on_gateway, e,
                      err);
  }
  if (ret != PW_OK) {
    free(take(&e->starts));
    e->state = ST_STOPPING;
    close_rest(e);
    return ret;
  }
  return PW_OK;
}

/* ---- stopping ------------------------------------------------------ */

static void
entry_stop(entry_t *e, const char *why)
{
  enum state was = e->state;

  e->state = ST_STOPPING;
  if (e->ended == NULL)
    e->ended = why;
  answer(e, &e->starts, PW_EINVAL, "the profile was stopped while it "
         "started");
  answer(e, &e->answers, PW_EINVAL, "the profile was stopped");

  if (e->browser != NULL) {
    pw_launch_stop(e->browser, 0);
    return;
  }
  /* A gateway alone: its end is an event of its own. */
  if (was == ST_READY)
    event(e, "stopped", json_pack("{s:b}", "browser", 0));
  if (was != ST_STOPPING)
    close_rest(e);
}

int
pw_run_stop(pw_run_t *run, const char *id, pw_run_stopped_cb cb,
            void *data)
{
  entry_t *e = find(run, id);
  waiter_t *w;

  if (e == NULL)
    return PW_ENOTFOUND;
  w = waiter_new(NULL, cb, data);
  if (w != NULL) {
    w->next = e->stops;
    e->stops = w;
  }
  if (e->state != ST_STOPPING)
    entry_stop(e, "stopped");
  return PW_OK;
}

/* ---- what runs ----------------------------------------------------- */

json_t *
pw_run_status(const pw_run_t *run, const char *id)
{
  json_t *list = json_array(), *item;
  pw_gw_stats_t st;
  entry_t *e;

  for (e = run->entries; list != NULL && e != NULL; e = e->next) {
    if (e->state != ST_READY || (id != NULL && strcmp(e->id, id) != 0))
      continue;
    pw_gw_stats(e->gw, &st);
    item = json_pack("{s:s, s:s?, s:s, s:s, s:I, s:I, s:I}",
                     "id", e->id,
                     "name", pw_gw_profile(e->gw)->name,
                     "gateway", pw_gw_address(e->gw),
                     "keylog", pw_gw_keylog(e->gw),
                     "started", (json_int_t) e->started_at,
                     "uptime_s", (json_int_t)
                       ((uv_now(run->loop) - e->started) / 1000),
                     "connections", (json_int_t) st.open);
    if (item != NULL && e->devtools[0] != '\0') {
      json_object_set_new(item, "devtools", json_string(e->devtools));
      json_object_set_new(item, "pid", json_integer(e->pid));
    }
    if (item == NULL || json_array_append_new(list, item) != 0) {
      json_decref(list);
      return NULL;
    }
  }
  return list;
}

void
pw_run_update(pw_run_t *run, const pw_profile_t *p)
{
  entry_t *e = find(run, p->id);

  /* Out of memory keeps the old version: the next start has the new. */
  if (e != NULL && e->gw != NULL)
    pw_gw_update(e->gw, p, NULL);
}

void
pw_run_policy_changed(pw_run_t *run)
{
  entry_t *e;

  for (e = run->entries; e != NULL; e = e->next)
    if (e->gw != NULL)
      pw_gw_policy_changed(e->gw);
}

/* ---- the runner ---------------------------------------------------- */

static char *
dup_or_null(const char *s, bool *failed)
{
  char *d = s != NULL ? strdup(s) : NULL;

  if (s != NULL && d == NULL)
    *failed = true;
  return d;
}

static void
run_free(pw_run_t *run)
{
  free(run->data_dir);
  free(run->chromium);
  free(run->extension);
  free(run->client_js);
  free(run->engine);
  free(run);
}

int
pw_run_new(pw_run_t **out, uv_loop_t *loop, const pw_run_config_t *cfg,
           const pw_gw_hooks_t *hooks, pw_err_t *err)
{
  bool failed = false;
  pw_run_t *run;

  *out = NULL;
  run = calloc(1, sizeof(*run));
  if (run == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  run->loop = loop;
  run->hooks = *hooks;
  run->cfg = *cfg;
  run->data_dir = dup_or_null(cfg->data_dir, &failed);
  run->chromium = dup_or_null(cfg->chromium, &failed);
  run->extension = dup_or_null(cfg->extension, &failed);
  run->client_js = dup_or_null(cfg->client_js, &failed);
  run->engine = dup_or_null(cfg->engine, &failed);
  if (failed || run->data_dir == NULL) {
    run_free(run);
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  }
  run->cfg.data_dir = run->data_dir;
  run->cfg.chromium = run->chromium;
  run->cfg.extension = run->extension;
  run->cfg.client_js = run->client_js;
  run->cfg.engine = run->engine;
  *out = run;
  return PW_OK;
}

static void
run_finish(pw_run_t *run)
{
  void (*done)(void *);
  void *data;

  if (!run->closing || run->entries != NULL)
    return;
  done = run->done;
  data = run->done_data;
  run_free(run);
  if (done != NULL)
    done(data);
}

void
pw_run_close(pw_run_t *run, void (*done)(void *data), void *data)
{
  entry_t *e, *next;

  if (run == NULL || run->closing)
    return;
  run->closing = true;
  run->done = done;
  run->done_data = data;
  for (e = run->entries; e != NULL; e = next) {
    next = e->next;
    if (e->state != ST_STOPPING)
      entry_stop(e, "engine stopping");
  }
  run_finish(run);
}
