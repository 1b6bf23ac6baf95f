/*
 * The API's state and sessions: creation, tokens, the session and event
 * methods, the reading of params, and the method table.
 */
#include "ipc/api_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "engine/rfc3339.h"

/* ---- creation ----------------------------------------------------- */

static int
make_token(char out[PW_API_TOKEN_LEN], pw_err_t *err)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char b[(PW_API_TOKEN_LEN - 1) / 2];
  size_t i;

  ERR_clear_error();
  if (RAND_bytes(b, sizeof(b)) != 1) {
    pw_err_set(err, PW_ECRYPTO, "RAND_bytes");
    pw_err_add_openssl(err);
    return PW_ECRYPTO;
  }

  for (i = 0; i < sizeof(b); i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 0xf];
  }
  out[2 * sizeof(b)] = '\0';
  OPENSSL_cleanse(b, sizeof(b));
  return PW_OK;
}

/*
 * The store has no count of its own, so the engine counts once here and
 * then keeps the figure as its methods create and delete.
 */
static int
count_profiles(pw_api_t *api, pw_store_t *s, long *out, pw_err_t *err)
{
  pw_store_query_t q = { .limit = PW_STORE_LIST_MAX };
  json_t *page = NULL, *p;
  char *cursor = NULL;
  const char *next;
  long n = 0;
  size_t i;
  int ret;

  do {
    q.cursor = cursor;
    ret = pw_store_profile_list(s, &q, &page, err);
    if (ret != PW_OK)
      break;

    json_array_foreach(json_object_get(page, "profiles"), i, p)
      pw_api__name_set(api, json_string_value(json_object_get(p, "id")),
                       json_string_value(json_object_get(p, "name")));
    n += (long) json_array_size(json_object_get(page, "profiles"));
    next = json_string_value(json_object_get(page, "next"));
    free(cursor);
    cursor = next != NULL ? strdup(next) : NULL;
    json_decref(page);
    page = NULL;
    if (next != NULL && cursor == NULL)
      ret = pw_err_set(err, PW_ENOMEM, "out of memory");
  } while (ret == PW_OK && cursor != NULL);

  free(cursor);
  *out = n;
  return ret;
}

int
pw_api_new(pw_api_t **out, const char *data_dir, pw_err_t *err)
{
  pw_api_t *api;
  long n = 0;
  int ret;

  *out = NULL;
  api = calloc(1, sizeof(*api));
  if (api == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  if (uv_mutex_init(&api->lock) != 0) {
    free(api);
    return pw_err_set(err, PW_ENOMEM, "uv_mutex_init");
  }
  if (uv_mutex_init(&api->tokens_lock) != 0) {
    uv_mutex_destroy(&api->lock);
    free(api);
    return pw_err_set(err, PW_ENOMEM, "uv_mutex_init");
  }
  if (uv_mutex_init(&api->names_lock) != 0) {
    uv_mutex_destroy(&api->tokens_lock);
    uv_mutex_destroy(&api->lock);
    free(api);
    return pw_err_set(err, PW_ENOMEM, "uv_mutex_init");
  }
  api->by_name = json_object();
  api->by_id = json_object();
  api->running_ids = json_object();
  api->started = uv_hrtime();
  atomic_init(&api->nprofiles, 0);

  ret = make_token(api->token, err);
  if (ret != PW_OK)
    goto done;

  ret = pw_store_open(&api->store, data_dir, err);
  if (ret != PW_OK)
    goto done;

  ret = count_profiles(api, api->store, &n, err);
  if (ret != PW_OK)
    goto done;
  atomic_store(&api->nprofiles, n);

  ret = pw_verifier_new(&api->system, err);
  if (ret != PW_OK)
    goto done;

  api->dcache = pw_dcache_new(PW_API_DCACHE_SIZE, PW_API_DCACHE_TTL_S);
  if (api->dcache == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }

  *out = api;
  api = NULL;

done:
  pw_api_free(api);
  return ret;
}

void
pw_api_free(pw_api_t *api)
{
  if (api == NULL)
    return;

  pw_api__compiled_free_all(api);
  pw_dcache_free(api->dcache);
  pw_verifier_free(api->system);
  pw_store_close(api->store);

  OPENSSL_cleanse(api->token, sizeof(api->token));
  if (api->scoped != NULL)
    OPENSSL_cleanse(api->scoped, api->scoped_cap * sizeof(*api->scoped));
  free(api->scoped);

  json_decref(api->by_name);
  json_decref(api->by_id);
  json_decref(api->running_ids);
  uv_mutex_destroy(&api->names_lock);
  uv_mutex_destroy(&api->tokens_lock);
  uv_mutex_destroy(&api->lock);
  free(api);
}

/* ---- names -------------------------------------------------------- */

static void
lower(char *out, size_t size, const char *s)
{
  size_t i;

  for (i = 0; i + 1 < size && s[i] != '\0'; i++)
    out[i] = (char) tolower((unsigned char) s[i]);
  out[i] = '\0';
}

void
pw_api__name_set(pw_api_t *api, const char *id, const char *name)
{
  const char *old;
  char key[PW_API_REF_MAX + 1];

  if (id == NULL || api->by_name == NULL || api->by_id == NULL)
    return;

  uv_mutex_lock(&api->names_lock);

  old = json_string_value(json_object_get(api->by_id, id));
  if (old != NULL) {
    lower(key, sizeof(key), old);
    json_object_del(api->by_name, key);
    json_object_del(api->by_id, id);
  }

  if (name != NULL) {
    lower(key, sizeof(key), name);
    json_object_set_new(api->by_name, key, json_string(id));
    json_object_set_new(api->by_id, id, json_string(name));
  }

  uv_mutex_unlock(&api->names_lock);
}

bool
pw_api__name_find(pw_api_t *api, const char *ref,
                  char out[PW_PROFILE_ID_LEN])
{
  const char *id = NULL;
  char key[PW_API_REF_MAX + 1];

  uv_mutex_lock(&api->names_lock);

  if (json_object_get(api->by_id, ref) != NULL) {
    id = ref;
  } else {
    lower(key, sizeof(key), ref);
    id = json_string_value(json_object_get(api->by_name, key));
  }
  if (id != NULL)
    snprintf(out, PW_PROFILE_ID_LEN, "%s", id);

  uv_mutex_unlock(&api->names_lock);
  return id != NULL;
}

const char *
pw_api_token(const pw_api_t *api)
{
  return api->token;
}

void
pw_api_set_running(pw_api_t *api, int running)
{
  atomic_store(&api->nrunning, running);
}

/* ---- tokens ------------------------------------------------------- */

bool
pw_api_authenticate(pw_api_t *api, const char *token,
                    pw_api_session_t *session)
{
  const size_t len = PW_API_TOKEN_LEN - 1;
  char scope[PW_PROFILE_ID_LEN] = "";
  bool engine, found = false;
  uint64_t gen = 0;
  size_t i;

  if (token == NULL || strlen(token) != len)
    return false;

  /*
   * Every token is compared, whatever matched, so that the time taken
   * says nothing about which one did.
   */
  engine = CRYPTO_memcmp(token, api->token, len) == 0;
  uv_mutex_lock(&api->tokens_lock);
  for (i = 0; i < api->nscoped; i++) {
    if (CRYPTO_memcmp(token, api->scoped[i].token, len) == 0) {
      memcpy(scope, api->scoped[i].profile, sizeof(scope));
      gen = api->scoped[i].gen;
      found = true;
    }
  }
  uv_mutex_unlock(&api->tokens_lock);

  if (!engine && !found)
    return false;

  session->authed = true;
  session->token_gen = engine ? 0 : gen;
  if (engine)
    session->scope[0] = '\0';
  else
    memcpy(session->scope, scope, sizeof(session->scope));
  return true;
}

bool
pw_api_session_valid(pw_api_t *api, const pw_api_session_t *session)
{
  bool valid = false;
  size_t i;

  if (session == NULL || !session->authed)
    return false;
  if (session->scope[0] == '\0')
    return true;

  /* A scoped token lasts while it is the profile's current one. */
  uv_mutex_lock(&api->tokens_lock);
  for (i = 0; i < api->nscoped && !valid; i++)
    valid = api->scoped[i].gen == session->token_gen
            && strcmp(api->scoped[i].profile, session->scope) == 0;
  uv_mutex_unlock(&api->tokens_lock);
  return valid;
}

int
pw_api_token_scoped(pw_api_t *api, const char *profile_id,
                    pw_api_token_kind_t kind, char out[PW_API_TOKEN_LEN],
                    pw_err_t *err)
{
  pw_api_token_t *grown;
  size_t i, cap;
  int ret;

  if (!pw_profile_id_valid(profile_id))
    return pw_err_set(err, PW_EINVAL, "not a profile id");

  ret = make_token(out, err);
  if (ret != PW_OK)
    return ret;

  /*
   * One token per profile and kind: a profile runs at most once at a
   * time, so a new launch retires its browser's last token, and a new
   * client token the client token before.
   */
  uv_mutex_lock(&api->tokens_lock);
  for (i = 0; i < api->nscoped; i++) {
    if (strcmp(api->scoped[i].profile, profile_id) == 0
        && api->scoped[i].kind == kind)
      break;
  }
  if (i == api->nscoped && api->nscoped == api->scoped_cap) {
    cap = api->scoped_cap == 0 ? 16 : 2 * api->scoped_cap;
    grown = calloc(cap, sizeof(*grown));
    if (grown == NULL) {
      ret = pw_err_set(err, PW_ENOMEM, "out of memory");
      goto done;
    }
    if (api->scoped != NULL) {
      memcpy(grown, api->scoped, api->nscoped * sizeof(*grown));
      OPENSSL_cleanse(api->scoped, api->scoped_cap * sizeof(*grown));
    }
    free(api->scoped);
    api->scoped = grown;
    api->scoped_cap = cap;
  }
  memcpy(api->scoped[i].token, out, PW_API_TOKEN_LEN);
  memcpy(api->scoped[i].profile, profile_id, PW_PROFILE_ID_LEN);
  api->scoped[i].kind = kind;
  api->scoped[i].gen = ++api->next_gen;
  if (i == api->nscoped)
    api->nscoped++;

done:
  uv_mutex_unlock(&api->tokens_lock);
  return ret;
}

void
pw_api__revoke(pw_api_t *api, const char *id)
{
  size_t i;

  /* Every kind goes; the last entry fills each hole, so i stays. */
  uv_mutex_lock(&api->tokens_lock);
  for (i = 0; i < api->nscoped;) {
    if (strcmp(api->scoped[i].profile, id) != 0) {
      i++;
      continue;
    }
    api->scoped[i] = api->scoped[api->nscoped - 1];
    OPENSSL_cleanse(&api->scoped[api->nscoped - 1],
                    sizeof(api->scoped[0]));
    api->nscoped--;
  }
  uv_mutex_unlock(&api->tokens_lock);
}

bool
pw_api_wants(const pw_api_session_t *session, unsigned topic,
             const char *profile_id)
{
  const char *id = profile_id != NULL ? profile_id : "";

  if (!session->authed || (session->topics & topic) == 0)
    return false;

  /* A scoped session hears of its own profile only. */
  if (session->scope[0] != '\0' && strcmp(session->scope, id) != 0)
    return false;
  if (session->topic_profile[0] != '\0'
      && strcmp(session->topic_profile, id) != 0)
    return false;
  return true;
}

/* ---- params ------------------------------------------------------- */

int
pw_api__params(const json_t *params, const char *const *allowed,
               pw_rpc_error_t *err)
{
  const char *key;
  const json_t *v;
  size_t i;

  if (params == NULL || (json_is_array(params) && json_array_size(params)
                         == 0))
    return 0;
  if (!json_is_object(params))
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "params: must be an object of named params");

  json_object_foreach((json_t *) params, key, v) {
    for (i = 0; allowed[i] != NULL; i++) {
      if (strcmp(allowed[i], key) == 0)
        break;
    }
    if (allowed[i] == NULL)
      return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                         "params: unknown param %.40s", key);
  }
  return 0;
}

/* A param, or NULL when absent (null counts as absent). */
static const json_t *
param(const json_t *params, const char *name)
{
  const json_t *v;

  if (!json_is_object(params))
    return NULL;
  v = json_object_get(params, name);
  return json_is_null(v) ? NULL : v;
}

static int
missing(const char *name, bool required, pw_rpc_error_t *err)
{
  if (required)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "%s: is required", name);
  return 0;
}

int
pw_api__str(const json_t *params, const char *name, bool required,
            size_t max, const char **out, pw_rpc_error_t *err)
{
  const json_t *v = param(params, name);

  if (v == NULL)
    return missing(name, required, err);
  if (!json_is_string(v))
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "%s: must be a string", name);
  if (json_string_length(v) > max
      || strlen(json_string_value(v)) != json_string_length(v))
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "%s: must be at most %zu bytes, without NUL", name,
                       max);
  *out = json_string_value(v);
  return 0;
}

int
pw_api__int(const json_t *params, const char *name, bool required,
            int64_t min, int64_t max, int64_t *out, pw_rpc_error_t *err)
{
  const json_t *v = param(params, name);
  json_int_t i;

  if (v == NULL)
    return missing(name, required, err);
  if (!json_is_integer(v))
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "%s: must be an integer", name);
  i = json_integer_value(v);
  if (i < min || i > max)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "%s: must be from %lld to %lld", name,
                       (long long) min, (long long) max);
  *out = (int64_t) i;
  return 0;
}

int
pw_api__bool(const json_t *params, const char *name, bool required,
             bool *out, pw_rpc_error_t *err)
{
  const json_t *v = param(params, name);

  if (v == NULL)
    return missing(name, required, err);
  if (!json_is_boolean(v))
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "%s: must be true or false", name);
  *out = json_is_true(v);
  return 0;
}

int
pw_api__time(const json_t *params, const char *name, int64_t *out,
             pw_rpc_error_t *err)
{
  const json_t *v = param(params, name);
  pw_err_t e = { 0 };

  if (v == NULL)
    return 0;
  if (json_is_integer(v) && json_integer_value(v) > 0
      && json_integer_value(v) <= PW_RFC3339_LAST) {
    *out = (int64_t) json_integer_value(v);
    return 0;
  }
  if (!json_is_string(v) || json_string_length(v) > PW_RFC3339_MAX)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "%s: must be RFC 3339 text or Unix seconds", name);
  if (pw_rfc3339_parse(json_string_value(v), out, &e) != PW_OK)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL, "%s: %s", name,
                       e.msg);
  return 0;
}

/* ---- errors ------------------------------------------------------- */

int
pw_api__fail(pw_rpc_error_t *err, int ret, const pw_err_t *e, int invalid)
{
  const char *msg = e != NULL && e->msg[0] != '\0' ? e->msg
                                                   : pw_err_name(ret);

  switch (ret) {
  case PW_ENOTFOUND:
    return pw_rpc_fail(err, PW_RPC_NOT_FOUND, NULL, "%s", msg);
  case PW_ECONFLICT:
    return pw_rpc_fail(err, PW_RPC_CONFLICT, NULL, "%s", msg);
  case PW_EINVAL:
  case PW_ETOOBIG:
    return pw_rpc_fail(err, invalid, NULL, "%s", msg);
  default:
    break;
  }
  return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "%s", msg);
}

int
pw_api__authed(pw_api_ctx_t *ctx, pw_rpc_error_t *err)
{
  if (ctx->session == NULL || !ctx->session->authed)
    return pw_rpc_fail(err, PW_RPC_UNAUTHORIZED, NULL,
                       "present a token first (session.hello)");
  if (!pw_api_session_valid(ctx->api, ctx->session))
    return pw_rpc_fail(err, PW_RPC_UNAUTHORIZED, NULL,
                       "this session's token was revoked: its profile was "
                       "deleted or given a new token");
  return 0;
}

int
pw_api__engine_wide(pw_api_ctx_t *ctx, pw_rpc_error_t *err)
{
  if (pw_api__authed(ctx, err) != 0)
    return -1;
  if (ctx->session->scope[0] != '\0')
    return pw_rpc_fail(err, PW_RPC_UNAUTHORIZED, NULL,
                       "this session is scoped to one profile");
  return 0;
}

/* ---- events ------------------------------------------------------- */

void
pw_api__event(pw_api_ctx_t *ctx, const char *topic, const char *profile,
              json_t *data)
{
  json_t *ev;

  if (ctx->events == NULL || data == NULL) {
    json_decref(data);
    return;
  }

  ev = json_pack("{s:s, s:s, s:o}", "topic", topic, "profile",
                 profile != NULL ? profile : "", "data", data);
  if (ev != NULL)
    json_array_append_new(ctx->events, ev);
}

static const struct {
  const char *name;
  unsigned    bit;
} topics[] = {
  { "profile",       PW_TOPIC_PROFILE },
  { "secure_access", PW_TOPIC_SECURE_ACCESS },
  { "decision",      PW_TOPIC_DECISION },
  { "browser",       PW_TOPIC_BROWSER },
};

#define NTOPICS (sizeof(topics) / sizeof(topics[0]))

static int
topic_bits(const json_t *params, unsigned *out, pw_rpc_error_t *err)
{
  const json_t *list = json_object_get(params, "topics"), *v;
  unsigned bits = 0;
  size_t i, j;

  if (!json_is_array(list) || json_array_size(list) == 0)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "topics: must be a list of profile, "
                       "secure_access, decision or browser");

  json_array_foreach(list, i, v) {
    for (j = 0; j < NTOPICS; j++) {
      if (json_is_string(v)
          && strcmp(json_string_value(v), topics[j].name) == 0)
        break;
    }
    if (j == NTOPICS)
      return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                         "topics[%zu]: must be profile, secure_access, "
                         "decision or browser", i);
    bits |= topics[j].bit;
  }

  *out = bits;
  return 0;
}

static json_t *
topic_names(unsigned bits)
{
  json_t *list = json_array();
  size_t i;

  for (i = 0; list != NULL && i < NTOPICS; i++) {
    if (bits & topics[i].bit)
      json_array_append_new(list, json_string(topics[i].name));
  }
  return json_pack("{s:o}", "topics", list);
}

/*
 * The loop cannot look names up in the store, so a subscription's name
 * is read from the map the profile methods keep.
 */
static int
events_subscribe(void *vctx, const json_t *params, json_t **result,
                 pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "topics", "id", NULL };
  pw_api_ctx_t *ctx = vctx;
  pw_api_session_t *s = ctx->session;
  char uuid[PW_PROFILE_ID_LEN] = "";
  const char *ref = NULL;
  unsigned bits;

  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || topic_bits(params, &bits, err) != 0
      || pw_api__str(params, "id", false, PW_API_REF_MAX, &ref, err) != 0)
    return -1;

  /* A scoped session learns nothing of other profiles, not even names. */
  if (ref != NULL && !pw_api__name_find(ctx->api, ref, uuid))
    return pw_rpc_fail(err, s->scope[0] != '\0' ? PW_RPC_UNAUTHORIZED
                                                : PW_RPC_NOT_FOUND, NULL,
                       s->scope[0] != '\0'
                       ? "this session is scoped to another profile"
                       : "id: no such profile");
  if (s->scope[0] != '\0' && ref != NULL && strcmp(uuid, s->scope) != 0)
    return pw_rpc_fail(err, PW_RPC_UNAUTHORIZED, NULL,
                       "this session is scoped to another profile");

  s->topics |= bits;
  snprintf(s->topic_profile, sizeof(s->topic_profile), "%s", uuid);
  *result = topic_names(s->topics);
  return 0;
}

static int
events_unsubscribe(void *vctx, const json_t *params, json_t **result,
                   pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "topics", "id", NULL };
  pw_api_ctx_t *ctx = vctx;
  pw_api_session_t *s = ctx->session;
  unsigned bits;

  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || topic_bits(params, &bits, err) != 0)
    return -1;

  s->topics &= ~bits;
  if (s->topics == 0)
    s->topic_profile[0] = '\0';
  *result = topic_names(s->topics);
  return 0;
}

/* ---- session and engine ------------------------------------------- */

static int
session_hello(void *vctx, const json_t *params, json_t **result,
              pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "token", NULL };
  pw_api_ctx_t *ctx = vctx;
  const char *token = NULL;

  if (pw_api__params(params, allowed, err) != 0
      || pw_api__str(params, "token", true, 256, &token, err) != 0)
    return -1;

  if (ctx->session == NULL
      || !pw_api_authenticate(ctx->api, token, ctx->session))
    return pw_rpc_fail(err, PW_RPC_UNAUTHORIZED, NULL,
                       "the token is not one this engine gave");

  *result = json_pack("{s:s, s:s?}", "version", PW_API_VERSION, "scope",
                      ctx->session->scope[0] != '\0' ? ctx->session->scope
                                                     : NULL);
  return 0;
}

static int
engine_status(void *vctx, const json_t *params, json_t **result,
              pw_rpc_error_t *err)
{
  static const char *const allowed[] = { NULL };
  pw_api_ctx_t *ctx = vctx;
  pw_api_t *api = ctx->api;

  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0)
    return -1;

  *result = json_pack("{s:s, s:I, s:I, s:i}", "version", PW_API_VERSION,
                      "uptime_s",
                      (json_int_t) ((uv_hrtime() - api->started)
                                    / 1000000000u),
                      "profiles", (json_int_t) atomic_load(&api->nprofiles),
                      "running", atomic_load(&api->nrunning));
  return 0;
}

static int
tokens_create(void *vctx, const json_t *params, json_t **result,
              pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", NULL };
  pw_api_ctx_t *ctx = vctx;
  char token[PW_API_TOKEN_LEN];
  pw_profile_t p;
  pw_err_t e = { 0 };
  int ret, rc = -1;

  pw_profile_init(&p);
  if (pw_api__engine_wide(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__load(ctx, params, &p, err) != 0)
    goto done;

  ret = pw_api_token_scoped(ctx->api, p.id, PW_API_TOKEN_CLIENT, token,
                            &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_PARAMS);
    goto done;
  }

  *result = json_pack("{s:s, s:s}", "token", token, "id", p.id);
  OPENSSL_cleanse(token, sizeof(token));
  rc = 0;

done:
  pw_profile_clear(&p);
  return rc;
}

/* ---- the table ---------------------------------------------------- */

static const pw_rpc_method_t methods[] = {
  { "session.hello",                session_hello,   PW_RPC_LOOP },
  { "engine.status",                engine_status,   PW_RPC_LOOP },
  { "events.subscribe",             events_subscribe, PW_RPC_LOOP },
  { "events.unsubscribe",           events_unsubscribe, PW_RPC_LOOP },
  { "pins.compute",                 pw_api__pins_compute, PW_RPC_LOOP },
  { "profiles.list",                pw_api__profiles_list, 0 },
  { "profiles.get",                 pw_api__profiles_get, 0 },
  { "profiles.create",              pw_api__profiles_create, 0 },
  { "profiles.update",              pw_api__profiles_update, 0 },
  { "profiles.delete",              pw_api__profiles_delete, 0 },
  { "profiles.export",              pw_api__profiles_export, 0 },
  { "profiles.import",              pw_api__profiles_import, 0 },
  { "pins.defaults.get",            pw_api__defaults_get, 0 },
  { "pins.defaults.set",            pw_api__defaults_set, 0 },
  { "secure_access.set",            pw_api__sa_set, 0 },
  { "secure_access.exception.add",  pw_api__sa_exception_add, 0 },
  { "secure_access.exception.remove", pw_api__sa_exception_remove, 0 },
  { "verify.chain",                 pw_api__verify_chain, 0 },
  { "verify.url",                   pw_api__verify_url, 0 },
  { "decisions.list",               pw_api__decisions_list, 0 },
  { "profiles.start",               pw_api__profiles_start, PW_RPC_THEN },
  { "profiles.stop",                pw_api__profiles_stop, PW_RPC_THEN },
  { "profiles.status",              pw_api__profiles_status, PW_RPC_LOOP },
  { "tokens.create",                tokens_create, 0 },
  { NULL, NULL, 0 }
};

const pw_rpc_method_t *
pw_api_methods(void)
{
  return methods;
}
