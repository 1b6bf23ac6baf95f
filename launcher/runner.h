/*
 * The profiles that run: a gateway each, and a browser behind it when
 * asked for, started once and shared by every caller that asks for the
 * profile while it runs.  Loop thread only.
 *
 * Files: the key-log file of a profile is <data>/run/<id>.keylog, made
 * anew at each start and removed at each stop; <data>/profiles/<id>/
 * holds the browser's data and a lock that two engines on one machine
 * cannot both hold.
 */
#ifndef PW_RUNNER_H
#define PW_RUNNER_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "engine/err.h"
#include "gateway/gateway.h"
#include "profiles/profile.h"

typedef struct pw_run pw_run_t;

typedef struct pw_run_config {
  const char     *data_dir;    /* the engine's data folder */
  const char     *chromium;    /* NULL: the launcher's default */
  /*
   * The engine's extension, copied into every browser's profile with
   * client_js beside it and a config.json naming the engine and holding
   * a token scoped to the profile (from token); NULL for none.
   */
  const char     *extension;
  const char     *client_js;
  const char     *engine;      /* "127.0.0.1:PORT", which browsers reach
                                  directly */
  int           (*token)(void *data, const char *id, char *out,
                         size_t size);
  void           *token_data;
  bool            no_sandbox;  /* Chromium's, when running as root */
  pw_gw_config_t  tune;        /* every gateway's bounds; profile and
                                  keylog are ignored */
  /*
   * A "browser" event of a profile (its data is taken): how a browser
   * ended, on its own or when stopped.
   */
  void          (*event)(void *data, const char *id, json_t *event);
  void           *event_data;
} pw_run_config_t;

/* What a start answers with; the strings live until the callback ends. */
typedef struct pw_run_info {
  const char *id;
  const char *gateway;   /* "127.0.0.1:PORT" */
  const char *keylog;
  const char *devtools;  /* "ws://127.0.0.1:PORT/devtools/browser/..."
                            or NULL without a browser */
  int         pid;       /* the browser's, or 0 */
} pw_run_info_t;

/* A start's outcome: PW_OK and what runs, or an error and a message. */
typedef void (*pw_run_cb)(void *data, int status, const char *message,
                          const pw_run_info_t *info);

/* A stop's end: the browser and the gateway are gone. */
typedef void (*pw_run_stopped_cb)(void *data);

typedef struct pw_run_opts {
  bool browser;    /* start Chromium behind the gateway */
  bool headless;
} pw_run_opts_t;

int pw_run_new(pw_run_t **out, uv_loop_t *loop, const pw_run_config_t *cfg,
               const pw_gw_hooks_t *hooks, pw_err_t *err);

/*
 * Starts p: its gateway, then its browser when opts ask for one.  Joins
 * a start of p under way, or answers with the running one (whatever it
 * was started with).  cb is called once, from the loop, never from
 * inside this call.  PW_ENOMEM, PW_EINVAL while closing.
 */
int pw_run_start(pw_run_t *run, const pw_profile_t *p,
                 const pw_run_opts_t *opts, pw_run_cb cb, void *data,
                 pw_err_t *err);

/*
 * Stops a profile: its browser is asked to close (and killed after a
 * bound), then its gateway closes, its tunnels end and its key-log file
 * goes; then cb (may be NULL) is called from the loop.  Starts still
 * waiting are answered with an error.  PW_ENOTFOUND when the profile
 * does not run (cb is not called).
 */
int pw_run_stop(pw_run_t *run, const char *id, pw_run_stopped_cb cb,
                void *data);

/*
 * Tells cb when a profile's entry begins (on true: a start was taken,
 * before its answer) and when it is gone (on false: its browser has
 * exited, its gateway is closed and its lock released, before the
 * stops' callbacks).  In between, the profile's folder is in use and
 * must not be removed.  One watcher; NULL for none.
 */
void pw_run_watch(pw_run_t *run,
                  void (*cb)(void *data, const char *id, bool on),
                  void *data);

/* Whether a profile runs or starts. */
bool pw_run_running(const pw_run_t *run, const char *id);

/* How many profiles run (or start). */
unsigned pw_run_count(const pw_run_t *run);

/*
 * What runs: [{"id", "name", "gateway", "keylog", "devtools"?, "pid"?,
 * "started", "uptime_s", "connections"}], only profile `id` when it is
 * not NULL.
 */
json_t *pw_run_status(const pw_run_t *run, const char *id);

/* A running profile changed: its gateway follows the new version. */
void pw_run_update(pw_run_t *run, const pw_profile_t *p);

/* The engine-wide pins changed. */
void pw_run_policy_changed(pw_run_t *run);

/* Stops every profile, then frees run and calls done (may be NULL). */
void pw_run_close(pw_run_t *run, void (*done)(void *data), void *data);

#endif
