/*
 * The profile methods: listing, reading, creating, changing, deleting,
 * export and import, Secure Access and the engine-wide default pins.
 */
#include "ipc/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/rfc3339.h"

/* A host as a user may write it (a U-label name, brackets). */
#define HOST_MAX  1024

/* ---- shapes ------------------------------------------------------- */

static int
sa_fix(json_t *sa)
{
  char when[PW_RFC3339_LEN];
  json_t *list, *e, *v, *until;
  size_t i;
  int bad = 0;

  list = json_object_get(sa, "exceptions");
  json_array_foreach(list, i, e) {
    v = json_object_get(e, "expires");
    until = json_null();
    if (json_is_integer(v)) {
      pw_rfc3339_format((int64_t) json_integer_value(v), when);
      json_decref(until);
      until = json_string(when);
    }
    bad |= json_object_set_new(e, "until", until);
    json_object_del(e, "expires");
  }
  return bad ? -1 : 0;
}

json_t *
pw_api__sa_json(const pw_sa_t *sa)
{
  json_t *o = pw_sa_to_json(sa);

  if (o != NULL && sa_fix(o) != 0) {
    json_decref(o);
    o = NULL;
  }
  return o;
}

int
pw_api__profile_fix(json_t *profile)
{
  return sa_fix(json_object_get(profile, "secure_access"));
}

json_t *
pw_api__profile_json(const pw_profile_t *p)
{
  json_t *o = pw_profile_to_json(p, PW_PROFILE_REDACT);

  if (o != NULL && pw_api__profile_fix(o) != 0) {
    json_decref(o);
    o = NULL;
  }
  return o;
}

void
pw_api__sa_input(json_t *sa)
{
  json_t *list, *e, *until;
  size_t i;

  list = json_object_get(sa, "exceptions");
  json_array_foreach(list, i, e) {
    until = json_object_get(e, "until");
    if (until == NULL || json_object_get(e, "expires") != NULL)
      continue;
    if (!json_is_null(until))
      json_object_set(e, "expires", until);
    json_object_del(e, "until");
  }
}

/* ---- loading ------------------------------------------------------ */

static int
get_ref(pw_store_t *s, const char *ref, pw_profile_t *p, pw_err_t *e)
{
  int ret = PW_ENOTFOUND;

  if (pw_profile_id_valid(ref))
    ret = pw_store_profile_get(s, ref, p, e);
  if (ret == PW_ENOTFOUND) {
    pw_profile_clear(p);
    ret = pw_store_profile_get_by_name(s, ref, p, e);
  }
  if (ret != PW_OK)
    pw_profile_clear(p);
  return ret;
}

int
pw_api__load_ref(pw_api_ctx_t *ctx, const char *ref, pw_profile_t *p,
                 pw_rpc_error_t *err)
{
  const char *scope = ctx->session->scope;
  pw_err_t e = { 0 };
  int ret;

  ret = get_ref(ctx->api->store, ref, p, &e);

  if (scope[0] != '\0' && !(ret == PW_OK && strcmp(p->id, scope) == 0)
      && !(ret == PW_ENOTFOUND && strcmp(ref, scope) == 0)) {
    pw_profile_clear(p);
    return pw_rpc_fail(err, PW_RPC_UNAUTHORIZED, NULL,
                       "this session is scoped to another profile");
  }
  if (ret != PW_OK)
    return pw_api__fail(err, ret, &e, PW_RPC_INVALID_PARAMS);
  return 0;
}

int
pw_api__load(pw_api_ctx_t *ctx, const json_t *params, pw_profile_t *p,
             pw_rpc_error_t *err)
{
  const char *ref = NULL;
  bool scoped = ctx->session->scope[0] != '\0';

  if (pw_api__str(params, "id", !scoped, PW_API_REF_MAX, &ref, err) != 0)
    return -1;
  return pw_api__load_ref(ctx, ref != NULL ? ref : ctx->session->scope, p,
                          err);
}

/* ---- events ------------------------------------------------------- */

static void
profile_event(pw_api_ctx_t *ctx, const char *action, const pw_profile_t *p)
{
  json_t *shown = pw_api__profile_json(p);

  /* Every change of a profile passes here: keep the name map with it. */
  pw_api__name_set(ctx->api, p->id,
                   strcmp(action, "deleted") == 0 ? NULL : p->name);

  if (strcmp(action, "updated") == 0)
    pw_api__running_changed(ctx, p);
  if (shown == NULL)
    return;
  pw_api__event(ctx, "profile", p->id,
                json_pack("{s:s, s:o}", "action", action, "profile",
                          shown));
}

/* ---- list, get ---------------------------------------------------- */

static bool
scoped_matches(const pw_profile_t *p, const char *tag, const char *q)
{
  size_t i;

  if (q != NULL && strcasestr(p->name, q) == NULL)
    return false;
  if (tag == NULL)
    return true;
  for (i = 0; i < p->ntags; i++) {
    if (strcmp(p->tags[i], tag) == 0)
      return true;
  }
  return false;
}

/* A scoped session lists its own profile, if the filters let it. */
static int
list_scoped(pw_api_ctx_t *ctx, const char *tag, const char *q,
            json_t **result, pw_rpc_error_t *err)
{
  json_t *list;
  pw_profile_t p;
  int rc = -1;

  pw_profile_init(&p);
  if (pw_api__load_ref(ctx, ctx->session->scope, &p, err) != 0)
    goto done;

  list = json_array();
  if (list != NULL && scoped_matches(&p, tag, q))
    json_array_append_new(list, pw_api__profile_json(&p));
  *result = json_pack("{s:o, s:n}", "profiles", list, "next");
  rc = 0;

done:
  pw_profile_clear(&p);
  return rc;
}

int
pw_api__profiles_list(void *vctx, const json_t *params, json_t **result,
                      pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "tag", "q", "limit", "cursor",
                                         NULL };
  pw_api_ctx_t *ctx = vctx;
  pw_store_query_t q = { 0 };
  pw_err_t e = { 0 };
  json_t *out = NULL, *v;
  char *text = NULL;
  int64_t limit = 0;
  size_t i;
  int ret;

  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__str(params, "tag", false, PW_API_REF_MAX, &q.tag, err) != 0
      || pw_api__str(params, "q", false, PW_API_REF_MAX, &q.q, err) != 0
      || pw_api__int(params, "limit", false, 1, PW_STORE_LIST_MAX, &limit,
                     err) != 0
      || pw_api__str(params, "cursor", false, 4096, &q.cursor, err) != 0)
    return -1;
  q.limit = (size_t) limit;

  if (ctx->session->scope[0] != '\0')
    return list_scoped(ctx, q.tag, q.q, result, err);

  ret = pw_store_profile_list_text(ctx->api->store, &q, &text, &e);
  if (ret != PW_OK)
    return pw_api__fail(err, ret, &e, PW_RPC_INVALID_PARAMS);

  /*
   * The store's documents are the API's shape but for Secure Access
   * exceptions ("expires" shown as "until"): a page without any goes
   * out as the store wrote it, unparsed.
   */
  if (strstr(text, "\"exceptions\":[{") == NULL) {
    *result = pw_rpc_raw(text);
    return *result != NULL ? 0 : pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR,
                                              NULL, "out of memory");
  }

  out = json_loads(text, 0, NULL);
  free(text);
  if (out == NULL)
    return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL,
                       "a stored profile does not parse");
  json_array_foreach(json_object_get(out, "profiles"), i, v)
    pw_api__profile_fix(v);
  *result = out;
  return 0;
}

int
pw_api__profiles_get(void *vctx, const json_t *params, json_t **result,
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

  *result = pw_api__profile_json(&p);
  rc = *result != NULL ? 0 : pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL,
                                         "out of memory");

done:
  pw_profile_clear(&p);
  return rc;
}

/* ---- create, update, delete --------------------------------------- */

int
pw_api__profiles_create(void *vctx, const json_t *params, json_t **result,
                        pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "name", "tags", "proxy",
                                         "secure_access", "pins",
                                         "resolve", "browser", "roots",
                                         NULL };
  pw_api_ctx_t *ctx = vctx;
  const char *name = NULL;
  json_t *doc = NULL;
  pw_profile_t p;
  pw_err_t e = { 0 };
  int ret, rc = -1;

  pw_profile_init(&p);
  if (pw_api__engine_wide(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__str(params, "name", true, PW_API_REF_MAX, &name, err) != 0)
    goto done;

  /* The params are the profile document, in the API's own shape. */
  doc = json_deep_copy(params);
  if (doc == NULL) {
    pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");
    goto done;
  }
  pw_api__sa_input(json_object_get(doc, "secure_access"));

  ret = pw_profile_from_json(&p, doc, 0, &e);
  if (ret == PW_OK)
    ret = pw_store_profile_create(ctx->api->store, &p, &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_POLICY);
    goto done;
  }
  atomic_fetch_add(&ctx->api->nprofiles, 1);

  profile_event(ctx, "created", &p);
  *result = pw_api__profile_json(&p);
  rc = 0;

done:
  json_decref(doc);
  pw_profile_clear(&p);
  return rc;
}

int
pw_api__profiles_update(void *vctx, const json_t *params, json_t **result,
                        pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", "revision", "patch", NULL };
  pw_api_ctx_t *ctx = vctx;
  const json_t *patch;
  json_t *copy = NULL;
  int64_t revision = 0;
  pw_profile_t p;
  pw_err_t e = { 0 };
  int ret, rc = -1;

  pw_profile_init(&p);
  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__int(params, "revision", true, 1, INT64_MAX, &revision,
                     err) != 0)
    goto done;
  patch = json_object_get(params, "patch");
  if (!json_is_object(patch)) {
    pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                "patch: must be an object of the fields to change");
    goto done;
  }
  if (pw_api__load(ctx, params, &p, err) != 0)
    goto done;

  /* The store checks again, in the same statement as the write. */
  if (p.revision != revision) {
    pw_rpc_fail(err, PW_RPC_CONFLICT, NULL, "revision: the profile is at "
                "revision %lld, not %lld", (long long) p.revision,
                (long long) revision);
    goto done;
  }

  copy = json_deep_copy(patch);
  if (copy == NULL) {
    pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");
    goto done;
  }
  pw_api__sa_input(json_object_get(copy, "secure_access"));

  ret = pw_profile_apply_json(&p, copy, &e);
  if (ret == PW_OK)
    ret = pw_store_profile_update(ctx->api->store, &p, &e);
  pw_api__invalidate(ctx->api, p.id, p.revision);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_POLICY);
    goto done;
  }

  profile_event(ctx, "updated", &p);
  *result = pw_api__profile_json(&p);
  rc = 0;

done:
  json_decref(copy);
  pw_profile_clear(&p);
  return rc;
}

int
pw_api__profiles_delete(void *vctx, const json_t *params, json_t **result,
                        pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", "purge", "revision", NULL };
  pw_api_ctx_t *ctx = vctx;
  int64_t revision = PW_STORE_ANY_REVISION;
  bool purge = false;
  pw_profile_t p;
  pw_err_t e = { 0 };
  int ret, rc = -1;

  pw_profile_init(&p);
  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__bool(params, "purge", false, &purge, err) != 0
      || pw_api__int(params, "revision", false, 1, INT64_MAX, &revision,
                     err) != 0
      || pw_api__load(ctx, params, &p, err) != 0)
    goto done;
  /* Starting and stopping count: the folder is in use until stopped. */
  if (pw_api__is_running(ctx->api, p.id)) {
    pw_rpc_fail(err, PW_RPC_CONFLICT, NULL,
                "profile '%s' runs: stop it first (profiles.stop) and "
                "wait for the stop's answer", p.name);
    goto done;
  }

  ret = pw_store_profile_delete(ctx->api->store, p.id, revision,
                                purge ? PW_STORE_PURGE : 0, &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_PARAMS);
    goto done;
  }
  atomic_fetch_sub(&ctx->api->nprofiles, 1);

  /* What the profile was allowed goes with it. */
  pw_api__invalidate(ctx->api, p.id, 0);
  pw_api__revoke(ctx->api, p.id);

  profile_event(ctx, "deleted", &p);
  *result = json_object();
  rc = 0;

done:
  pw_profile_clear(&p);
  return rc;
}

/* ---- export, import ----------------------------------------------- */

/* The ids of the params' "ids", each resolved and allowed. */
static int
export_ids(pw_api_ctx_t *ctx, const json_t *list,
           char (**ids)[PW_PROFILE_ID_LEN], size_t *n, pw_rpc_error_t *err)
{
  pw_profile_t p;
  const json_t *v;
  size_t i;

  *n = json_array_size(list);
  if (!json_is_array(list) || *n == 0
      || *n > PW_PROFILE_IMPORT_MAX_PROFILES)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "ids: must be a list of profiles, not empty");
  *ids = calloc(*n, sizeof(**ids));
  if (*ids == NULL)
    return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");

  pw_profile_init(&p);
  json_array_foreach(list, i, v) {
    if (!json_is_string(v))
      return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                         "ids[%zu]: must be a string", i);
    if (pw_api__load_ref(ctx, json_string_value(v), &p, err) != 0)
      return -1;
    memcpy((*ids)[i], p.id, PW_PROFILE_ID_LEN);
    pw_profile_clear(&p);
  }
  return 0;
}

/*
 * The export document, which import takes back.  It keeps the proxy
 * passwords, since an export moves profiles whole, except for a scoped
 * session: a browser's extension has no business with its password.
 */
int
pw_api__profiles_export(void *vctx, const json_t *params, json_t **result,
                        pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "ids", NULL };
  pw_api_ctx_t *ctx = vctx;
  bool scoped = ctx->session->scope[0] != '\0';
  char (*ids)[PW_PROFILE_ID_LEN] = NULL;
  const char **refs = NULL;
  const json_t *list;
  json_t *own = NULL;
  pw_err_t e = { 0 };
  size_t i, n = 0;
  int ret, rc = -1;

  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0)
    goto done;

  /*
   * The params belong to the loop's message: read, never referenced,
   * from the pool.
   */
  list = json_object_get(params, "ids");
  if (list == NULL && scoped)
    list = own = json_pack("[s]", ctx->session->scope);
  if (list != NULL && export_ids(ctx, list, &ids, &n, err) != 0)
    goto done;

  refs = calloc(n > 0 ? n : 1, sizeof(*refs));
  if (refs == NULL) {
    pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");
    goto done;
  }
  for (i = 0; i < n; i++)
    refs[i] = ids[i];

  ret = pw_store_export(ctx->api->store, refs, n,
                        scoped ? PW_PROFILE_REDACT : PW_PROFILE_SECRETS,
                        result, &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_PARAMS);
    goto done;
  }
  rc = 0;

done:
  json_decref(own);
  free(refs);
  free(ids);
  return rc;
}

/*
 * Import gives each profile without an id one first, so that the answer
 * can name every profile it made.
 */
static int
import_doc(const json_t *list, json_t **doc, pw_rpc_error_t *err)
{
  char id[PW_PROFILE_ID_LEN];
  json_t *copy, *v;
  pw_err_t e = { 0 };
  size_t i;

  copy = json_deep_copy(list);
  if (copy == NULL)
    return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");

  json_array_foreach(copy, i, v) {
    if (!json_is_object(v))
      continue;
    pw_api__sa_input(json_object_get(v, "secure_access"));
    if (json_object_get(v, "id") != NULL)
      continue;
    if (pw_profile_new_id(id, &e) != PW_OK
        || json_object_set_new(v, "id", json_string(id)) != 0) {
      json_decref(copy);
      return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "%s", e.msg);
    }
  }

  *doc = json_pack("{s:i, s:o}", "version", PW_PROFILE_IMPORT_VERSION,
                   "profiles", copy);
  if (*doc == NULL)
    return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");
  return 0;
}

/* After the import: the ids, and an event for each new profile. */
static json_t *
import_result(pw_api_ctx_t *ctx, const json_t *list)
{
  json_t *ids = json_array(), *v;
  pw_profile_t p;
  const char *id;
  size_t i;

  pw_profile_init(&p);
  json_array_foreach(list, i, v) {
    id = json_string_value(json_object_get(v, "id"));
    json_array_append_new(ids, json_string(id));
    if (pw_store_profile_get(ctx->api->store, id, &p, NULL) == PW_OK)
      profile_event(ctx, "created", &p);
    pw_profile_clear(&p);
  }
  return json_pack("{s:o}", "ids", ids);
}

int
pw_api__profiles_import(void *vctx, const json_t *params, json_t **result,
                        pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "profiles", "version", NULL };
  pw_api_ctx_t *ctx = vctx;
  const json_t *list;
  json_t *doc = NULL;
  char *text = NULL;
  int64_t version = PW_PROFILE_IMPORT_VERSION;
  pw_err_t e = { 0 };
  size_t n = 0;
  int ret, rc = -1;

  if (pw_api__engine_wide(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__int(params, "version", false, PW_PROFILE_IMPORT_VERSION,
                     PW_PROFILE_IMPORT_VERSION, &version, err) != 0)
    goto done;
  list = json_object_get(params, "profiles");
  if (!json_is_array(list) || json_array_size(list) == 0) {
    pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                "profiles: must be a list of profiles, not empty");
    goto done;
  }

  if (import_doc(list, &doc, err) != 0)
    goto done;
  text = json_dumps(doc, JSON_COMPACT);
  if (text == NULL) {
    pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");
    goto done;
  }

  ret = pw_store_import(ctx->api->store, text, strlen(text), &n, &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_POLICY);
    goto done;
  }
  atomic_fetch_add(&ctx->api->nprofiles, (long) n);

  *result = import_result(ctx, json_object_get(doc, "profiles"));
  rc = 0;

done:
  free(text);
  json_decref(doc);
  return rc;
}

/* ---- default pins ------------------------------------------------- */

static int
defaults_result(pw_api_ctx_t *ctx, json_t **result, pw_rpc_error_t *err)
{
  json_t *pins = NULL;
  int64_t revision = 0;
  pw_err_t e = { 0 };
  int ret;

  ret = pw_store_default_pins_get(ctx->api->store, &pins, &revision, &e);
  if (ret != PW_OK)
    return pw_api__fail(err, ret, &e, PW_RPC_INTERNAL_ERROR);

  *result = json_pack("{s:o, s:I}", "pins", pins, "revision",
                      (json_int_t) revision);
  return 0;
}

int
pw_api__defaults_get(void *vctx, const json_t *params, json_t **result,
                     pw_rpc_error_t *err)
{
  static const char *const allowed[] = { NULL };
  pw_api_ctx_t *ctx = vctx;

  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0)
    return -1;
  return defaults_result(ctx, result, err);
}

int
pw_api__defaults_set(void *vctx, const json_t *params, json_t **result,
                     pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "pins", "revision", NULL };
  pw_api_ctx_t *ctx = vctx;
  int64_t revision = PW_STORE_ANY_REVISION;
  const json_t *pins;
  pw_err_t e = { 0 };
  int ret;

  if (pw_api__engine_wide(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__int(params, "revision", false, 0, INT64_MAX, &revision,
                     err) != 0)
    return -1;
  pins = json_object_get(params, "pins");
  if (!json_is_array(pins))
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "pins: must be a list of pin sets");

  ret = pw_store_default_pins_set(ctx->api->store, pins, revision, NULL,
                                  &e);
  if (ret != PW_OK)
    return pw_api__fail(err, ret, &e, PW_RPC_INVALID_POLICY);
  pw_api__invalidate_defaults(ctx->api);
  /* Running gateways read the defaults on the loop: compile them now. */
  pw_api_gateway_prepare(ctx->api, &e);
  pw_api__event(ctx, "_policy", NULL, json_object());

  return defaults_result(ctx, result, err);
}

/* ---- Secure Access ------------------------------------------------ */

/* Stores p's changed Secure Access and tells every UI. */
static int
sa_commit(pw_api_ctx_t *ctx, pw_profile_t *p, json_t **result,
          pw_rpc_error_t *err)
{
  pw_err_t e = { 0 };
  int ret;

  ret = pw_store_profile_update(ctx->api->store, p, &e);
  pw_api__invalidate(ctx->api, p->id, p->revision);
  if (ret != PW_OK)
    return pw_api__fail(err, ret, &e, PW_RPC_INVALID_POLICY);

  /* The profile's revision moved too: its "updated" event says so. */
  pw_api__event(ctx, "secure_access", p->id, pw_api__sa_json(&p->sa));
  profile_event(ctx, "updated", p);
  *result = pw_api__sa_json(&p->sa);
  return 0;
}

int
pw_api__sa_set(void *vctx, const json_t *params, json_t **result,
               pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", "enabled", "on_http", NULL };
  pw_api_ctx_t *ctx = vctx;
  const char *on_http = NULL;
  bool enabled = false;
  pw_profile_t p;
  int rc = -1;

  pw_profile_init(&p);
  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__bool(params, "enabled", true, &enabled, err) != 0
      || pw_api__str(params, "on_http", false, 16, &on_http, err) != 0)
    goto done;
  if (on_http != NULL && strcmp(on_http, "upgrade") != 0
      && strcmp(on_http, "block") != 0) {
    pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                "on_http: must be upgrade or block");
    goto done;
  }
  if (pw_api__load(ctx, params, &p, err) != 0)
    goto done;

  p.sa.enabled = enabled;
  if (on_http != NULL)
    p.sa.on_http = strcmp(on_http, "block") == 0 ? PW_SA_BLOCK
                                                 : PW_SA_UPGRADE;
  rc = sa_commit(ctx, &p, result, err);

done:
  pw_profile_clear(&p);
  return rc;
}

int
pw_api__sa_exception_add(void *vctx, const json_t *params, json_t **result,
                         pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", "host", "ttl_s", NULL };
  pw_api_ctx_t *ctx = vctx;
  const char *host = NULL;
  int64_t ttl = 0;
  pw_profile_t p;
  pw_err_t e = { 0 };
  int ret, rc = -1;

  pw_profile_init(&p);
  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__str(params, "host", true, HOST_MAX, &host, err) != 0
      || pw_api__int(params, "ttl_s", false, 0, PW_RFC3339_LAST / 2, &ttl,
                     err) != 0
      || pw_api__load(ctx, params, &p, err) != 0)
    goto done;

  ret = pw_sa_exception_add(&p.sa, host, ttl, (int64_t) time(NULL), &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_POLICY);
    goto done;
  }
  rc = sa_commit(ctx, &p, result, err);

done:
  pw_profile_clear(&p);
  return rc;
}

int
pw_api__sa_exception_remove(void *vctx, const json_t *params,
                            json_t **result, pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", "host", NULL };
  pw_api_ctx_t *ctx = vctx;
  const char *host = NULL;
  pw_profile_t p;
  pw_err_t e = { 0 };
  int ret, rc = -1;

  pw_profile_init(&p);
  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__str(params, "host", true, HOST_MAX, &host, err) != 0
      || pw_api__load(ctx, params, &p, err) != 0)
    goto done;

  ret = pw_sa_exception_remove(&p.sa, host, &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_POLICY);
    goto done;
  }
  rc = sa_commit(ctx, &p, result, err);

done:
  pw_profile_clear(&p);
  return rc;
}
