/*
 * The running profiles.  Few run at once (a person's browsers, a batch
 * of automation), so a list is the table; a profile is found by its id.
 */
#include "gateway/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct waiter {
  struct waiter *next;
  pw_run_cb      cb;
  void          *data;
} waiter_t;

typedef struct entry {
  struct entry *next;
  pw_run_t     *run;
  char          id[PW_PROFILE_ID_LEN];
  pw_gw_t      *gw;
  bool          ready;       /* the gateway listens */
  uint64_t      started;     /* uv_now at ready */
  int64_t       started_at;  /* Unix seconds at ready */
  waiter_t     *waiters;     /* starts to answer */
  uv_timer_t    later;       /* answers a start of a running profile */
  waiter_t     *answers;     /* what later answers */
  bool          later_open;
} entry_t;

struct pw_run {
  uv_loop_t     *loop;
  pw_gw_hooks_t  hooks;
  pw_gw_config_t tune;
  char          *dir;
  entry_t       *entries;
  unsigned       count;
  unsigned       closing_gws;   /* gateways and timers still closing */
  bool           closing;
  void         (*done)(void *data);
  void          *done_data;
};

static void run_finish(pw_run_t *run);

int
pw_run_new(pw_run_t **out, uv_loop_t *loop, const char *run_dir,
           const pw_gw_hooks_t *hooks, pw_err_t *err)
{
  pw_run_t *run;

  *out = NULL;
  run = calloc(1, sizeof(*run));
  if (run == NULL || (run->dir = strdup(run_dir)) == NULL) {
    free(run);
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  }
  run->loop = loop;
  run->hooks = *hooks;
  *out = run;
  return PW_OK;
}

static entry_t *
find(const pw_run_t *run, const char *id)
{
  entry_t *e;

  for (e = run->entries; e != NULL; e = e->next)
    if (strcmp(e->id, id) == 0)
      return e;
  return NULL;
}

const pw_gw_t *
pw_run_find(const pw_run_t *run, const char *id)
{
  entry_t *e = find(run, id);

  return e != NULL && e->ready ? e->gw : NULL;
}

unsigned
pw_run_count(const pw_run_t *run)
{
  return run->count;
}

/* Answers every waiter of w, in the order they came. */
static void
answer_all(waiter_t *w, int status, const char *message, const pw_gw_t *gw)
{
  waiter_t *next, *rev = NULL;

  for (; w != NULL; w = next) {
    next = w->next;
    w->next = rev;
    rev = w;
  }
  for (w = rev; w != NULL; w = next) {
    next = w->next;
    w->cb(w->data, status, message, gw);
    free(w);
  }
}

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

static void
gw_closed(void *data)
{
  pw_run_t *run = data;

  run->closing_gws--;
  run_finish(run);
}

static void
later_closed(uv_handle_t *h)
{
  entry_t *e = h->data;
  pw_run_t *run = e->run;

  free(e);
  run->closing_gws--;
  run_finish(run);
}

/* Takes e out of the table and lets its gateway and timer close. */
static void
drop(pw_run_t *run, entry_t *e)
{
  unlink_entry(run, e);
  run->closing_gws += 2;
  pw_gw_close(e->gw, gw_closed, run);
  e->gw = NULL;
  uv_close((uv_handle_t *) &e->later, later_closed);
}

static void
started(void *data, pw_gw_t *gw, int status, const char *message)
{
  entry_t *e = data;
  pw_run_t *run = e->run;
  waiter_t *w = e->waiters;

  e->waiters = NULL;
  if (status != PW_OK) {
    drop(run, e);
    answer_all(w, status, message, NULL);
    return;
  }
  e->ready = true;
  e->started = uv_now(run->loop);
  e->started_at = (int64_t) time(NULL);
  answer_all(w, PW_OK, "", gw);
}

static void
on_later(uv_timer_t *t)
{
  entry_t *e = t->data;
  waiter_t *w = e->answers;

  e->answers = NULL;
  answer_all(w, PW_OK, "", e->gw);
}

void
pw_run_tune(pw_run_t *run, const pw_gw_config_t *tune)
{
  run->tune = *tune;
}

int
pw_run_start(pw_run_t *run, const pw_profile_t *p, pw_run_cb cb,
             void *data, pw_err_t *err)
{
  pw_gw_config_t cfg;
  char path[4096];
  waiter_t *w;
  entry_t *e;
  int ret;

  if (run->closing)
    return pw_err_set(err, PW_EINVAL, "the engine is stopping");
  w = calloc(1, sizeof(*w));
  if (w == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  w->cb = cb;
  w->data = data;

  /* Running: answer on the loop's next turn.  Starting: wait with it. */
  e = find(run, p->id);
  if (e != NULL) {
    if (e->ready) {
      w->next = e->answers;
      e->answers = w;
      uv_timer_start(&e->later, on_later, 0, 0);
    } else {
      w->next = e->waiters;
      e->waiters = w;
    }
    return PW_OK;
  }

  e = calloc(1, sizeof(*e));
  if (e == NULL) {
    free(w);
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  }
  e->run = run;
  snprintf(e->id, sizeof(e->id), "%s", p->id);
  e->waiters = w;
  uv_timer_init(run->loop, &e->later);
  e->later.data = e;
  e->next = run->entries;
  run->entries = e;
  run->count++;

  /*
   * One engine owns the data folder (serve.c locks it), so a key-log
   * file already there is a leftover of one that was killed.
   */
  snprintf(path, sizeof(path), "%s/%s.keylog", run->dir, p->id);
  unlink(path);

  cfg = run->tune;
  cfg.profile = p;
  cfg.keylog = path;
  ret = pw_gw_start(&e->gw, run->loop, &cfg, &run->hooks, started, e, err);
  if (ret != PW_OK) {
    e->waiters = NULL;
    free(w);
    if (e->gw != NULL) {
      drop(run, e);
    } else {
      unlink_entry(run, e);
      run->closing_gws++;
      uv_close((uv_handle_t *) &e->later, later_closed);
    }
    return ret;
  }
  return PW_OK;
}

int
pw_run_stop(pw_run_t *run, const char *id)
{
  entry_t *e = find(run, id);
  waiter_t *w, *a;

  if (e == NULL)
    return PW_ENOTFOUND;
  w = e->waiters;
  a = e->answers;
  e->waiters = e->answers = NULL;
  drop(run, e);
  answer_all(w, PW_EINVAL, "the profile was stopped while it started",
             NULL);
  answer_all(a, PW_EINVAL, "the profile was stopped", NULL);
  return PW_OK;
}

json_t *
pw_run_status(const pw_run_t *run, const char *id)
{
  json_t *list = json_array(), *item;
  pw_gw_stats_t st;
  entry_t *e;

  for (e = run->entries; list != NULL && e != NULL; e = e->next) {
    if (!e->ready || (id != NULL && strcmp(e->id, id) != 0))
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

static void
run_finish(pw_run_t *run)
{
  void (*done)(void *);
  void *data;

  if (!run->closing || run->closing_gws > 0)
    return;
  done = run->done;
  data = run->done_data;
  free(run->dir);
  free(run);
  if (done != NULL)
    done(data);
}

void
pw_run_close(pw_run_t *run, void (*done)(void *data), void *data)
{
  if (run == NULL || run->closing)
    return;
  run->closing = true;
  run->done = done;
  run->done_data = data;
  while (run->entries != NULL)
    pw_run_stop(run, run->entries->id);
  run_finish(run);
}
