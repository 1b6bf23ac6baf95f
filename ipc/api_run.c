/*
 * Running profiles over the IPC: profiles.start, profiles.stop and
 * profiles.status, and what keeps a running gateway on the profile's
 * current version.
 *
 * profiles.start has two halves.  The first runs on the thread pool
 * like every call that reads the store: it checks the caller, loads the
 * profile and compiles the engine-wide pins.  The second runs on the
 * loop, where the gateways live (pw_api_then), and answers once the
 * gateway listens or could not start.
 */
#include "ipc/api_int.h"

#include <stdlib.h>
#include <string.h>

#include "launcher/runner.h"

/* What the first half hands the second: never sent to a client. */
#define FIRST_KEY "profile"

/*
 * Kept on the loop as profiles start and stop, read by the pool.  A
 * failed insert (out of memory) leaves the profile deletable while it
 * runs; there is no answer to refuse at that point.
 */
void
pw_api_running_set(pw_api_t *api, const char *id, bool on)
{
  uv_mutex_lock(&api->names_lock);
  if (on)
    json_object_set_new(api->running_ids, id, json_true());
  else
    json_object_del(api->running_ids, id);
  uv_mutex_unlock(&api->names_lock);
  atomic_store(&api->nrunning,
               api->run != NULL ? (int) pw_run_count(api->run) : 0);
}

static void
on_live(void *data, const char *id, bool on)
{
  pw_api_running_set(data, id, on);
}

/*
 * A profile counts as running from the moment the runner takes its
 * start until its browser, gateway and lock are gone, which the runner
 * tells: a delete in between would remove the folder under Chromium.
 * Store calls run one at a time and the loop's half of a start begins
 * before the next one is queued, so a delete after a start sees it.
 */
void
pw_api_attach_runner(pw_api_t *api, pw_run_t *run)
{
  api->run = run;
  if (run != NULL)
    pw_run_watch(run, on_live, api);
}

bool
pw_api__is_running(pw_api_t *api, const char *id)
{
  bool on;

  uv_mutex_lock(&api->names_lock);
  on = json_object_get(api->running_ids, id) != NULL;
  uv_mutex_unlock(&api->names_lock);
  return on;
}

/* The gateway's hooks take the API as their data. */
static bool
hook_pinned(void *data, const pw_profile_t *p, const char *host)
{
  return pw_api_gateway_pinned(data, p, host);
}

static int
hook_decide(void *data, const pw_profile_t *p, const char *host,
            uint16_t port, const unsigned char *const *der, const int *len,
            size_t n, pw_decision_t *d, pw_err_t *err)
{
  return pw_api_gateway_decide(data, p, host, port, der, len, n, d, err);
}

void
pw_api_gateway_hooks(pw_api_t *api, pw_gw_hooks_t *hooks)
{
  hooks->pinned = hook_pinned;
  hooks->decide = hook_decide;
  hooks->data = api;
}

/* The pool's half: who asks, which profile, and the defaults ready. */
int
pw_api__profiles_start(void *vctx, const json_t *params, json_t **result,
                       pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", "browser", "headless",
                                         NULL };
  pw_api_ctx_t *ctx = vctx;
  pw_profile_t p;
  pw_err_t e = { 0 };
  json_t *full;
  bool browser = true, headless = false;
  int rc = -1, ret;

  pw_profile_init(&p);
  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__bool(params, "browser", false, &browser, err) != 0
      || pw_api__bool(params, "headless", false, &headless, err) != 0
      || pw_api__load(ctx, params, &p, err) != 0)
    goto done;
  if (ctx->api->run == NULL) {
    pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL,
                "this engine runs no gateways");
    goto done;
  }

  ret = pw_api_gateway_prepare(ctx->api, &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_POLICY);
    goto done;
  }

  full = pw_profile_to_json(&p, PW_PROFILE_SECRETS);
  *result = full != NULL ? json_pack("{s:o, s:b, s:b}", FIRST_KEY, full,
                                     "browser", browser, "headless",
                                     headless)
                         : NULL;
  rc = *result != NULL ? 0 : pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL,
                                         "out of memory");

done:
  pw_profile_clear(&p);
  return rc;
}

/*
 * The pool's half of profiles.stop: the caller may see the profile;
 * the loop's half stops it.
 */
int
pw_api__profiles_stop(void *vctx, const json_t *params, json_t **result,
                      pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", NULL };
  pw_api_ctx_t *ctx = vctx;
  pw_profile_t p;
  int rc = -1;

  pw_profile_init(&p);
  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__load(ctx, params, &p, err) != 0)
    goto done;
  *result = json_pack("{s:s}", "id", p.id);
  rc = *result != NULL ? 0 : pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL,
                                         "out of memory");

done:
  pw_profile_clear(&p);
  return rc;
}

/* A call's loop half waiting for the runner. */
typedef struct then_req {
  pw_api_t      *api;
  pw_api_done_cb done;
  void          *data;
} then_req_t;

static then_req_t *
then_req(pw_api_t *api, pw_api_done_cb done, void *data)
{
  then_req_t *t = calloc(1, sizeof(*t));

  if (t != NULL) {
    t->api = api;
    t->done = done;
    t->data = data;
  }
  return t;
}

static int
run_code(int status)
{
  switch (status) {
  case PW_ECONFLICT: return PW_RPC_CONFLICT;
  case PW_EIO:       return PW_RPC_UPSTREAM;
  case PW_ENOMEM:    return PW_RPC_INTERNAL_ERROR;
  default:           return PW_RPC_INTERNAL_ERROR;
  }
}

static void
started(void *data, int status, const char *message,
        const pw_run_info_t *info)
{
  then_req_t *t = data;
  pw_rpc_error_t err;
  json_t *result = NULL;

  memset(&err, 0, sizeof(err));
  if (status != PW_OK) {
    pw_rpc_fail(&err, run_code(status), NULL, "%s", message);
  } else {
    result = json_pack("{s:s, s:s}", "gateway", info->gateway, "keylog",
                       info->keylog);
    if (result != NULL && info->devtools != NULL) {
      json_object_set_new(result, "devtools", json_string(info->devtools));
      json_object_set_new(result, "pid", json_integer(info->pid));
    }
    if (result == NULL)
      pw_rpc_fail(&err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");
  }
  t->done(t->data, result, &err);
  json_decref(result);
  json_decref(err.data);
  free(t);
}

static void
stopped(void *data)
{
  then_req_t *t = data;
  json_t *result = json_object();
  pw_rpc_error_t err;

  memset(&err, 0, sizeof(err));
  if (result == NULL)
    pw_rpc_fail(&err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");
  t->done(t->data, result, &err);
  json_decref(result);
  free(t);
}

static void
then_start(pw_api_t *api, const json_t *first, then_req_t *t,
           pw_rpc_error_t *err)
{
  pw_run_opts_t opts;
  pw_profile_t p;
  pw_err_t e = { 0 };

  pw_profile_init(&p);
  memset(&opts, 0, sizeof(opts));
  opts.browser = json_is_true(json_object_get(first, "browser"));
  opts.headless = json_is_true(json_object_get(first, "headless"));
  if (pw_profile_from_json(&p, json_object_get(first, FIRST_KEY),
                           PW_PROFILE_STORED, &e) != PW_OK)
    pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "%s", e.msg);
  else if (pw_run_start(api->run, &p, &opts, started, t, &e) != PW_OK)
    pw_rpc_fail(err, run_code(e.code), NULL, "%s", e.msg);
  pw_profile_clear(&p);
}

static void
then_stop(pw_api_t *api, const json_t *first, then_req_t *t,
          pw_rpc_error_t *err)
{
  const char *id = json_string_value(json_object_get(first, "id"));

  /* Still running until stopped() is called: the runner clears it. */
  if (id == NULL || pw_run_stop(api->run, id, stopped, t) != PW_OK)
    pw_rpc_fail(err, PW_RPC_NOT_FOUND, NULL, "the profile does not run");
}

void
pw_api_then(pw_api_t *api, const pw_api_session_t *session,
            const char *method, const json_t *first, pw_api_done_cb done,
            void *data)
{
  pw_rpc_error_t err;
  then_req_t *t;

  memset(&err, 0, sizeof(err));
  t = then_req(api, done, data);
  if (t == NULL)
    pw_rpc_fail(&err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");
  else if (api->run == NULL)
    pw_rpc_fail(&err, PW_RPC_INTERNAL_ERROR, NULL, "the engine stops");
  else if (strcmp(method, "profiles.start") == 0)
    then_start(api, first, t, &err);
  else if (strcmp(method, "profiles.stop") == 0)
    then_stop(api, first, t, &err);
  else
    pw_rpc_fail(&err, PW_RPC_INTERNAL_ERROR, NULL, "no second half");

  if (err.code != 0) {
    free(t);
    done(data, NULL, &err);
    json_decref(err.data);
  }
}

int
pw_api__profiles_status(void *vctx, const json_t *params, json_t **result,
                        pw_rpc_error_t *err)
{
  static const char *const allowed[] = { NULL };
  pw_api_ctx_t *ctx = vctx;
  const char *scope = ctx->session->scope;
  json_t *list;

  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0)
    return -1;
  list = ctx->api->run != NULL
         ? pw_run_status(ctx->api->run, scope[0] != '\0' ? scope : NULL)
         : json_array();
  *result = list != NULL ? json_pack("{s:o}", "running", list) : NULL;
  return *result != NULL ? 0 : pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR,
                                           NULL, "out of memory");
}

/*
 * The methods that change a running profile tell its gateway, through
 * an event the loop reads and no client sees.
 */
void
pw_api__running_changed(pw_api_ctx_t *ctx, const pw_profile_t *p)
{
  json_t *full;

  if (atomic_load(&ctx->api->nrunning) == 0)
    return;
  full = pw_profile_to_json(p, PW_PROFILE_SECRETS);
  if (full != NULL)
    pw_api__event(ctx, "_running", p->id, full);
}

bool
pw_api_internal_event(pw_api_t *api, const json_t *ev)
{
  const char *topic = json_string_value(json_object_get(ev, "topic"));
  pw_profile_t p;

  if (topic == NULL || topic[0] != '_')
    return false;
  if (api->run == NULL)
    return true;

  if (strcmp(topic, "_policy") == 0) {
    pw_run_policy_changed(api->run);
  } else if (strcmp(topic, "_running") == 0) {
    pw_profile_init(&p);
    if (pw_profile_from_json(&p, json_object_get(ev, "data"),
                             PW_PROFILE_STORED, NULL) == PW_OK)
      pw_run_update(api->run, &p);
    pw_profile_clear(&p);
  }
  return true;
}

int
pw_api_record(pw_api_t *api, const json_t *record, pw_err_t *err)
{
  return pw_store_decision_add(api->store, record, err);
}

void
pw_api_decision_fix(json_t *decision)
{
  pw_api__decision_fix(decision);
}
