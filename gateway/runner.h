/*
 * The profiles that run: one gateway each, started once and shared by
 * every caller that asks for the profile while it runs.  Loop thread
 * only.  The key-log file of a profile is <run_dir>/<id>.keylog, made
 * anew at each start and removed at each stop.
 */
#ifndef PW_RUNNER_H
#define PW_RUNNER_H

#include <jansson.h>
#include <uv.h>

#include "engine/err.h"
#include "gateway/gateway.h"
#include "profiles/profile.h"

typedef struct pw_run pw_run_t;

/*
 * A start's outcome: PW_OK and the running gateway, or an error code
 * and a message for the caller (gw NULL).
 */
typedef void (*pw_run_cb)(void *data, int status, const char *message,
                          const pw_gw_t *gw);

/* run_dir must exist, mode 0700: the key-log files are secrets. */
int pw_run_new(pw_run_t **out, uv_loop_t *loop, const char *run_dir,
               const pw_gw_hooks_t *hooks, pw_err_t *err);

/*
 * The bounds every gateway started from now on gets (timeouts, the
 * secret's wait); profile and keylog are ignored.
 */
void pw_run_tune(pw_run_t *run, const pw_gw_config_t *tune);

/*
 * Starts p's gateway, joins a start of p already under way, or answers
 * with the running one.  cb is called once, from the loop, never from
 * inside this call.  PW_ENOMEM, or PW_EINVAL while closing.
 */
int pw_run_start(pw_run_t *run, const pw_profile_t *p, pw_run_cb cb,
                 void *data, pw_err_t *err);

/*
 * Stops a profile: its gateway closes, its tunnels end, its key-log
 * file goes.  Starts still waiting are answered with an error.
 * PW_ENOTFOUND when the profile does not run.
 */
int pw_run_stop(pw_run_t *run, const char *id);

/* The running gateway of a profile id, or NULL. */
const pw_gw_t *pw_run_find(const pw_run_t *run, const char *id);

/* How many profiles run (or start). */
unsigned pw_run_count(const pw_run_t *run);

/*
 * What runs: [{"id", "name", "gateway", "keylog", "started", "uptime_s",
 * "connections"}], only profile `id` when it is not NULL.
 */
json_t *pw_run_status(const pw_run_t *run, const char *id);

/* A running profile changed: its gateway follows the new version. */
void pw_run_update(pw_run_t *run, const pw_profile_t *p);

/* The engine-wide pins changed. */
void pw_run_policy_changed(pw_run_t *run);

/* Stops every profile, then frees run and calls done (may be NULL). */
void pw_run_close(pw_run_t *run, void (*done)(void *data), void *data);

#endif
