/*
 * The decision methods: verify.chain (and its cached path on the loop),
 * verify.url, decisions.list and pins.compute, with the cache of
 * compiled pin policies and verifiers they share.
 */
#include "ipc/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "engine/pins.h"
#include "engine/rfc3339.h"
#include "engine/secure.h"
#include "ipc/vscan.h"

#define HOST_MAX  1024

/* Base64 text of the largest certificate taken. */
#define CERT_B64_MAX (4 * ((PW_API_CERT_MAX + 2) / 3))

/* ---- compiled policies -------------------------------------------- */

static void
compiled_free(pw_api_compiled_t *c)
{
  pw_policy_free(c->pins);
  pw_verifier_free(c->verifier);
  free(c->name);
  free(c);
}

/* Under api->lock. */
static void
unref_locked(pw_api_compiled_t *c)
{
  if (c != NULL && --c->refs == 0)
    compiled_free(c);
}

static void
unref(pw_api_t *api, pw_api_compiled_t *c)
{
  if (c == NULL)
    return;
  uv_mutex_lock(&api->lock);
  unref_locked(c);
  uv_mutex_unlock(&api->lock);
}

/* Unlinks the entry of id, if any, and returns it; under api->lock. */
static pw_api_compiled_t *
unlink_locked(pw_api_t *api, const char *id)
{
  pw_api_compiled_t **link, *c;

  for (link = &api->compiled; *link != NULL; link = &(*link)->next) {
    c = *link;
    if (strcmp(c->id, id) == 0) {
      *link = c->next;
      c->next = NULL;
      api->ncompiled--;
      return c;
    }
  }
  return NULL;
}

/* Puts c first, as the most recently used; under api->lock. */
static void
link_locked(pw_api_t *api, pw_api_compiled_t *c)
{
  pw_api_compiled_t **link, *tail;

  c->next = api->compiled;
  api->compiled = c;
  api->ncompiled++;

  /* Over the cap, the least recently used goes. */
  while (api->ncompiled > PW_API_COMPILED_MAX) {
    for (link = &api->compiled; (*link)->next != NULL;
         link = &(*link)->next)
      ;
    tail = *link;
    *link = NULL;
    api->ncompiled--;
    unref_locked(tail);
  }
}

/*
 * The update ran on the pool while the profile's gateway, on the loop,
 * may still compile the copy it started with until the "_running" event
 * reaches it.  The floor left in the cache keeps that older copy out,
 * so that the cached paths, which find an entry by id alone, never
 * answer under the old policy.  Without memory for the floor, the entry
 * is only dropped.
 */
void
pw_api__invalidate(pw_api_t *api, const char *id, int64_t revision)
{
  pw_api_compiled_t *floor = NULL;

  if (revision > 0 && (floor = calloc(1, sizeof(*floor))) != NULL) {
    snprintf(floor->id, sizeof(floor->id), "%s", id);
    floor->revision = revision;
    floor->floor = true;
    floor->refs = 1;
  }

  uv_mutex_lock(&api->lock);
  unref_locked(unlink_locked(api, id));
  if (floor != NULL)
    link_locked(api, floor);
  uv_mutex_unlock(&api->lock);
}

void
pw_api__invalidate_defaults(pw_api_t *api)
{
  uv_mutex_lock(&api->lock);
  unref_locked(api->defaults);
  api->defaults = NULL;
  uv_mutex_unlock(&api->lock);
}

void
pw_api__compiled_free_all(pw_api_t *api)
{
  pw_api_compiled_t *c, *next;

  for (c = api->compiled; c != NULL; c = next) {
    next = c->next;
    unref_locked(c);
  }
  api->compiled = NULL;
  api->ncompiled = 0;
  unref_locked(api->defaults);
  api->defaults = NULL;
}

/* A compiled entry with one reference, the caller's. */
static int
compile(const char *id, const char *name, int64_t revision,
        const json_t *pins, const char *roots, pw_api_compiled_t **out,
        pw_err_t *e)
{
  pw_api_compiled_t *c;
  int ret = PW_OK;

  *out = NULL;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return pw_err_set(e, PW_ENOMEM, "out of memory");
  snprintf(c->id, sizeof(c->id), "%s", id);
  c->revision = revision;
  c->refs = 1;
  if (name != NULL && (c->name = strdup(name)) == NULL)
    ret = pw_err_set(e, PW_ENOMEM, "out of memory");

  if (ret == PW_OK && json_array_size(pins) > 0) {
    c->pins = pw_policy_new();
    ret = c->pins != NULL ? pw_policy_add_json(c->pins, pins, e)
                          : pw_err_set(e, PW_ENOMEM, "out of memory");
  }
  /*
   * A profile's roots add to the system store (DESIGN.md, "Chain
   * verification"); they do not replace it.
   */
  if (ret == PW_OK && roots != NULL)
    ret = pw_verifier_new_extra(&c->verifier,
                                (const unsigned char *) roots,
                                strlen(roots), e);

  if (ret != PW_OK) {
    compiled_free(c);
    return ret;
  }
  *out = c;
  return PW_OK;
}

/*
 * The entry of a profile at its revision, compiled when missing.  An
 * entry older than what the cache knows of the profile is compiled for
 * the caller alone and never cached (pw_api__invalidate() says why).
 */
static int
profile_entry(pw_api_t *api, const pw_profile_t *p, pw_api_compiled_t **out,
              pw_err_t *e)
{
  pw_api_compiled_t *c, *known;
  int ret;

  uv_mutex_lock(&api->lock);
  known = unlink_locked(api, p->id);
  if (known != NULL && !known->floor && known->revision == p->revision) {
    known->refs++;
    link_locked(api, known);
    uv_mutex_unlock(&api->lock);
    *out = known;
    return PW_OK;
  }
  if (known != NULL && known->revision > p->revision)
    link_locked(api, known);
  else
    unref_locked(known);
  uv_mutex_unlock(&api->lock);

  /* Compiling may take a while (roots, many sets): not under the lock. */
  ret = compile(p->id, p->name, p->revision, p->pins, p->roots, &c, e);
  if (ret != PW_OK)
    return ret;

  uv_mutex_lock(&api->lock);
  known = unlink_locked(api, p->id);
  if (known != NULL && known->revision > p->revision) {
    link_locked(api, known);
  } else {
    unref_locked(known);
    c->refs++;
    link_locked(api, c);
  }
  uv_mutex_unlock(&api->lock);

  *out = c;
  return PW_OK;
}

/*
 * The engine-wide default pins, compiled from the store when first
 * needed; pins.defaults.set forgets them.
 */
static int
defaults_entry(pw_api_t *api, pw_api_compiled_t **out, pw_err_t *e)
{
  pw_api_compiled_t *c;
  json_t *pins = NULL;
  int64_t revision = 0;
  int ret;

  uv_mutex_lock(&api->lock);
  c = api->defaults;
  if (c != NULL)
    c->refs++;
  uv_mutex_unlock(&api->lock);
  if (c != NULL) {
    *out = c;
    return PW_OK;
  }

  ret = pw_store_default_pins_get(api->store, &pins, &revision, e);
  if (ret == PW_OK)
    ret = compile("", NULL, revision, pins, NULL, &c, e);
  json_decref(pins);
  if (ret != PW_OK)
    return ret;

  uv_mutex_lock(&api->lock);
  unref_locked(api->defaults);
  api->defaults = c;
  c->refs++;
  uv_mutex_unlock(&api->lock);

  *out = c;
  return PW_OK;
}

/* ---- the request -------------------------------------------------- */

typedef struct vreq {
  const char     *ref;      /* the profile as named, or NULL */
  const char     *host;
  int64_t         port;
  int64_t         at;
  size_t          n;        /* certificates, leaf first */
  unsigned char  *der[PW_API_CHAIN_MAX];
  int             len[PW_API_CHAIN_MAX];
  STACK_OF(X509) *chain;    /* parsed from der by vreq_x509() */
} vreq_t;

/* Base64 of one DER certificate, b64[0..len), into r->der[i]. */
static int
der_decode(const char *b64, size_t len, size_t i, vreq_t *r,
           pw_rpc_error_t *err)
{
  size_t pad = 0;
  int n;

  if (b64 == NULL || len == 0 || len > CERT_B64_MAX || len % 4 != 0)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL, "chain[%zu]: "
                       "must be base64 of a DER certificate of at most %d "
                       "bytes", i, PW_API_CERT_MAX);

  r->der[i] = malloc(len / 4 * 3 + 1);
  if (r->der[i] == NULL)
    return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");

  /* EVP_DecodeBlock counts the padding as zero bytes of output. */
  n = EVP_DecodeBlock(r->der[i], (const unsigned char *) b64, (int) len);
  if (b64[len - 1] == '=')
    pad = b64[len - 2] == '=' ? 2 : 1;
  ERR_clear_error();
  if (n < 0 || (size_t) n <= pad)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "chain[%zu]: not base64 of one DER certificate", i);
  r->len[i] = n - (int) pad;
  return 0;
}

/*
 * Parses the DER of every certificate, which the cached path never
 * needs: a certificate's decoding costs more than the rest of a cached
 * answer together.
 */
static int
vreq_x509(vreq_t *r, pw_rpc_error_t *err)
{
  const unsigned char *p;
  X509 *x;
  size_t i;

  r->chain = sk_X509_new_null();
  if (r->chain == NULL)
    return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");

  for (i = 0; i < r->n; i++) {
    p = r->der[i];
    x = d2i_X509(NULL, &p, r->len[i]);
    ERR_clear_error();

    /* One certificate, nothing before or after it. */
    if (x == NULL || p != r->der[i] + r->len[i]) {
      X509_free(x);
      return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                         "chain[%zu]: not base64 of one DER certificate",
                         i);
    }
    if (!sk_X509_push(r->chain, x)) {
      X509_free(x);
      return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL,
                         "out of memory");
    }
  }
  return 0;
}

static void
vreq_clear(vreq_t *r)
{
  size_t i;

  for (i = 0; i < r->n; i++)
    free(r->der[i]);
  sk_X509_pop_free(r->chain, X509_free);
  memset(r, 0, sizeof(*r));
}

/* Reads the params and decodes the chain's base64 (not its DER). */
static int
vreq_parse(const json_t *params, vreq_t *r, pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", "host", "port", "chain",
                                         "at", NULL };
  const json_t *list, *v;
  size_t i;

  memset(r, 0, sizeof(*r));
  r->port = 443;
  if (pw_api__params(params, allowed, err) != 0
      || pw_api__str(params, "id", false, PW_API_REF_MAX, &r->ref, err) != 0
      || pw_api__str(params, "host", true, HOST_MAX, &r->host, err) != 0
      || pw_api__int(params, "port", false, 1, 65535, &r->port, err) != 0
      || pw_api__time(params, "at", &r->at, err) != 0)
    return -1;

  list = json_object_get(params, "chain");
  if (!json_is_array(list) || json_array_size(list) == 0
      || json_array_size(list) > PW_API_CHAIN_MAX)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "chain: must be a list of 1 to %d certificates, "
                       "leaf first", PW_API_CHAIN_MAX);

  json_array_foreach(list, i, v) {
    r->n = i + 1;
    if (der_decode(json_string_value(v), json_string_length(v), i, r, err)
        != 0)
      return -1;
  }
  return 0;
}

static void
vreq_init(pw_verify_req_t *req, const vreq_t *r, const char *profile,
          const pw_api_compiled_t *pc, const pw_api_compiled_t *dc)
{
  memset(req, 0, sizeof(*req));
  req->profile = profile;
  req->host = r->host;
  req->port = (uint16_t) r->port;
  req->chain = r->chain;
  req->at = r->at;
  req->pins = pc != NULL ? pc->pins : NULL;
  req->defaults = dc != NULL ? dc->pins : NULL;
}

/* ---- shapes ------------------------------------------------------- */

static void
rename_key(json_t *o, const char *from, const char *to)
{
  json_t *v = json_object_get(o, from);

  if (v == NULL)
    return;
  json_object_set(o, to, v);
  json_object_del(o, from);
}

void
pw_api__decision_fix(json_t *decision)
{
  rename_key(decision, "profile", "id");
  rename_key(decision, "at", "time");
}

json_t *
pw_api__decision_json(const pw_decision_t *d)
{
  json_t *o = pw_decision_to_json(d);

  if (o != NULL)
    pw_api__decision_fix(o);
  return o;
}

/*
 * Records a decision and tells every UI; the answer is the decision.
 * The store's record keeps the library's names.
 */
static int
publish(pw_api_ctx_t *ctx, const pw_decision_t *d, pw_rpc_error_t *err)
{
  json_t *record;
  pw_err_t e = { 0 };
  int ret;

  record = pw_decision_to_json(d);
  if (record == NULL)
    return pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL, "out of memory");
  ret = pw_store_decision_add(ctx->api->store, record, &e);
  json_decref(record);
  if (ret != PW_OK)
    return pw_api__fail(err, ret, &e, PW_RPC_INTERNAL_ERROR);

  pw_api__event(ctx, "decision", d->profile, pw_api__decision_json(d));
  return 0;
}

/* ---- verify.chain ------------------------------------------------- */

/* A decision for now is looked up in the cache first and kept there. */
static int
decide(pw_api_t *api, const pw_verifier_t *v, const pw_verify_req_t *req,
       const vreq_t *r, pw_decision_t *d, pw_err_t *e)
{
  pw_dcache_key_t key;
  int64_t now = (int64_t) time(NULL);
  bool keyed;
  int hit = 0, ret;

  /* Keyed on the DER as sent, as pw_api_verify_cached keys it. */
  keyed = req->at == 0
          && pw_dcache_key_der(&key, v, req,
                               (const unsigned char *const *) r->der,
                               r->len, r->n) == PW_OK;
  if (keyed) {
    uv_mutex_lock(&api->lock);
    hit = pw_dcache_get(api->dcache, &key, now, d);
    uv_mutex_unlock(&api->lock);
  }
  if (hit)
    return PW_OK;

  ret = pw_verify_chain(v, req, d, e);
  if (ret == PW_OK && keyed) {
    uv_mutex_lock(&api->lock);
    pw_dcache_put(api->dcache, &key, now, d);
    uv_mutex_unlock(&api->lock);
  }
  return ret;
}

int
pw_api__verify_chain(void *vctx, const json_t *params, json_t **result,
                     pw_rpc_error_t *err)
{
  pw_api_ctx_t *ctx = vctx;
  pw_api_t *api = ctx->api;
  pw_api_compiled_t *pc = NULL, *dc = NULL;
  const char *ref;
  pw_verify_req_t req;
  pw_decision_t d;
  pw_profile_t p;
  pw_err_t e = { 0 };
  vreq_t r = { 0 };
  int ret, rc = -1;

  pw_profile_init(&p);
  pw_decision_init(&d);
  if (pw_api__authed(ctx, err) != 0 || vreq_parse(params, &r, err) != 0
      || vreq_x509(&r, err) != 0)
    goto done;

  /* A scoped session verifies for its profile, named or not. */
  ref = r.ref != NULL ? r.ref
        : ctx->session->scope[0] != '\0' ? ctx->session->scope : NULL;
  if (ref != NULL && pw_api__load_ref(ctx, ref, &p, err) != 0)
    goto done;

  ret = ref != NULL ? profile_entry(api, &p, &pc, &e) : PW_OK;
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_POLICY);
    goto done;
  }
  ret = defaults_entry(api, &dc, &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INTERNAL_ERROR);
    goto done;
  }

  vreq_init(&req, &r, ref != NULL ? p.id : NULL, pc, dc);
  ret = decide(api, pc != NULL && pc->verifier != NULL ? pc->verifier
                                                        : api->system,
               &req, &r, &d, &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INTERNAL_ERROR);
    goto done;
  }

  if (publish(ctx, &d, err) != 0)
    goto done;
  *result = pw_api__decision_json(&d);
  rc = *result != NULL ? 0 : pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL,
                                         "out of memory");

done:
  unref(api, pc);
  unref(api, dc);
  vreq_clear(&r);
  pw_decision_clear(&d);
  pw_profile_clear(&p);
  return rc;
}

/* The compiled entry a reference names, by id or name; under the lock. */
static pw_api_compiled_t *
find_locked(pw_api_t *api, const char *ref)
{
  pw_api_compiled_t *c;

  for (c = api->compiled; c != NULL; c = c->next) {
    if (strcmp(c->id, ref) == 0
        || (c->name != NULL && strcasecmp(c->name, ref) == 0))
      return c->floor ? NULL : c;
  }
  return NULL;
}

/*
 * The cache's key for r; false when the cache cannot answer r here: what
 * is not compiled yet, or is out of the session's scope, is the pool's
 * to say, and so is a question about a given time.
 */
static bool
cache_key(pw_api_t *api, const pw_api_session_t *session, const vreq_t *r,
          pw_dcache_key_t *key)
{
  pw_api_compiled_t *pc = NULL, *dc = NULL;
  pw_verify_req_t req;
  const char *ref;
  bool ok = false;

  if (!pw_api_session_valid(api, session) || r->at != 0)
    return false;
  ref = r->ref != NULL ? r->ref
        : session->scope[0] != '\0' ? session->scope : NULL;

  uv_mutex_lock(&api->lock);
  pc = ref != NULL ? find_locked(api, ref) : NULL;
  dc = api->defaults;
  if ((ref != NULL && pc == NULL) || dc == NULL
      || (pc != NULL && session->scope[0] != '\0'
          && strcmp(pc->id, session->scope) != 0)) {
    pc = dc = NULL;
  } else {
    if (pc != NULL)
      pc->refs++;
    dc->refs++;
  }
  uv_mutex_unlock(&api->lock);

  if (dc != NULL) {
    vreq_init(&req, r, pc != NULL ? pc->id : NULL, pc, dc);
    ok = pw_dcache_key_der(key, pc != NULL && pc->verifier != NULL
                                ? pc->verifier : api->system, &req,
                           (const unsigned char *const *) r->der, r->len,
                           r->n) == PW_OK;
  }
  unref(api, pc);
  unref(api, dc);
  return ok;
}

bool
pw_api_verify_cached(pw_api_t *api, const pw_api_session_t *session,
                     const json_t *params, json_t **result)
{
  pw_rpc_error_t err = { 0 };
  pw_dcache_key_t key;
  pw_decision_t d;
  vreq_t r = { 0 };
  bool hit = false;

  pw_decision_init(&d);
  if (pw_api_session_valid(api, session) && vreq_parse(params, &r, &err)
      == 0 && cache_key(api, session, &r, &key)) {
    uv_mutex_lock(&api->lock);
    hit = pw_dcache_get(api->dcache, &key, (int64_t) time(NULL), &d) == 1;
    uv_mutex_unlock(&api->lock);
  }
  if (hit) {
    *result = pw_api__decision_json(&d);
    hit = *result != NULL;
  }

  vreq_clear(&r);
  json_decref(err.data);
  pw_decision_clear(&d);
  return hit;
}

/* ---- verify.chain's answer as text -------------------------------- */

#define ENVELOPE_HEAD "{\"jsonrpc\":\"2.0\",\"result\":"
#define ENVELOPE_ID   ",\"id\":"
#define TIME_KEY      "\"time\":\""
#define TIME_LEN      (PW_RFC3339_LEN - 1)

/*
 * Where the time's value starts in a decision's text, or NULL.  The key
 * cannot occur inside a string value, where every quote is escaped, so
 * the first occurrence is the member's; a text with a second one (some
 * later shape with a nested "time") is not kept as a memo.
 */
static const char *
time_in(const char *text, size_t len)
{
  const char *t = memmem(text, len, TIME_KEY, strlen(TIME_KEY));
  size_t off;

  if (t == NULL)
    return NULL;
  off = (size_t) (t - text) + strlen(TIME_KEY);
  if (off + TIME_LEN + 1 > len || text[off + TIME_LEN] != '"'
      || memmem(text + off, len - off, TIME_KEY, strlen(TIME_KEY)) != NULL)
    return NULL;
  return text + off;
}

/*
 * The whole response: the envelope that pw_rpc_result and pw_rpc_dumps
 * write, byte for byte, around the decision's text with its time set
 * to when.
 */
static char *
envelope(const char *result, size_t len, const char *when,
         const pw_vscan_span_t *id)
{
  size_t head = strlen(ENVELOPE_HEAD), mid = strlen(ENVELOPE_ID);
  const char *t = time_in(result, len);
  char *out, *p;

  out = malloc(head + len + mid + id->len + 2);
  if (out == NULL)
    return NULL;
  p = out;
  memcpy(p, ENVELOPE_HEAD, head);
  p += head;
  memcpy(p, result, len);
  if (t != NULL)
    memcpy(p + (t - result), when, TIME_LEN);
  p += len;
  memcpy(p, ENVELOPE_ID, mid);
  p += mid;
  memcpy(p, id->p, id->len);
  p += id->len;
  *p++ = '}';
  *p = '\0';
  return out;
}

/*
 * A cached decision as the response's text: from the entry's memo, with
 * only the time rewritten, or made from the decision and kept as its
 * memo.  Under api->lock throughout, so that the memo is made from the
 * decision of the entry it is kept with.
 */
static char *
answer_locked(pw_api_t *api, const pw_dcache_key_t *key,
              const pw_vscan_span_t *id)
{
  char when[PW_RFC3339_LEN], *text = NULL, *out = NULL;
  int64_t now = (int64_t) time(NULL);
  json_t *result = NULL;
  const char *memo;
  pw_decision_t d;
  size_t len;

  pw_rfc3339_format(now, when);
  if (pw_dcache_memo_get(api->dcache, key, now, &memo, &len) == 1)
    return envelope(memo, len, when, id);

  pw_decision_init(&d);
  if (pw_dcache_get(api->dcache, key, now, &d) != 1
      || (result = pw_api__decision_json(&d)) == NULL
      || (text = json_dumps(result, JSON_COMPACT)) == NULL)
    goto done;

  len = strlen(text);
  out = envelope(text, len, when, id);
  if (out != NULL && time_in(text, len) != NULL)
    (void) pw_dcache_memo_set(api->dcache, key, text, len);

done:
  free(text);
  json_decref(result);
  pw_decision_clear(&d);
  return out;
}

/*
 * The same answer as the cached path with jansson, for a message that
 * pw_vscan_read takes: the params are copied out of the message with the
 * caps vreq_parse applies, and what vreq_parse would refuse is left to
 * it, so that its error is the one the client gets.
 */
bool
pw_api_verify_text(pw_api_t *api, const pw_api_session_t *session,
                   const char *msg, size_t len, char **answer)
{
  char host[HOST_MAX + 1], ref[PW_API_REF_MAX + 1];
  pw_rpc_error_t err = { 0 };
  pw_dcache_key_t key;
  vreq_t r = { 0 };
  pw_vscan_t v;
  size_t i;

  *answer = NULL;
  if (!pw_api_session_valid(api, session) || !pw_vscan_read(msg, len, &v)
      || v.host.len > HOST_MAX || v.ref.len > PW_API_REF_MAX
      || v.n > PW_API_CHAIN_MAX)
    goto out;

  memcpy(host, v.host.p, v.host.len);
  host[v.host.len] = '\0';
  r.host = host;
  if (v.ref.p != NULL) {
    memcpy(ref, v.ref.p, v.ref.len);
    ref[v.ref.len] = '\0';
    r.ref = ref;
  }
  r.port = v.port;
  for (i = 0; i < v.n; i++) {
    r.n = i + 1;
    if (der_decode(v.chain[i].p, v.chain[i].len, i, &r, &err) != 0)
      goto out;
  }

  if (cache_key(api, session, &r, &key)) {
    uv_mutex_lock(&api->lock);
    *answer = answer_locked(api, &key, &v.id);
    uv_mutex_unlock(&api->lock);
  }

out:
  vreq_clear(&r);
  json_decref(err.data);
  return *answer != NULL;
}

/* ---- verify.url --------------------------------------------------- */

/* The rule's words for the record. */
static const char *
sa_detail(pw_reason_t reason)
{
  switch (reason) {
  case PW_REASON_SA_UPGRADE:
    return "Secure Access: clear text upgraded";
  case PW_REASON_SA_BLOCK:
    return "Secure Access: clear text refused";
  case PW_REASON_SA_EXCEPTION:
    return "Secure Access: the host is an exception";
  case PW_REASON_SA_LOOPBACK:
    return "Secure Access: loopback is exempt";
  case PW_REASON_SA_OFF:
    return "Secure Access is off";
  case PW_REASON_SA_SECURE:
    return "the URL is already encrypted";
  default:
    break;
  }
  return "";
}

/*
 * A URL that cannot be read is a decision too, a block: Secure Access
 * never lets through what it could not judge.
 */
int
pw_api__verify_url(void *vctx, const json_t *params, json_t **result,
                   pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", "url", NULL };
  pw_api_ctx_t *ctx = vctx;
  const char *url = NULL;
  pw_sa_result_t res;
  pw_decision_t d;
  pw_profile_t p;
  pw_err_t e = { 0 };
  int rc = -1;

  pw_profile_init(&p);
  pw_decision_init(&d);
  memset(&res, 0, sizeof(res));
  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__str(params, "url", true, 4 * PW_SA_URL_MAX, &url, err)
         != 0
      || pw_api__load(ctx, params, &p, err) != 0)
    goto done;

  d.at = (int64_t) time(NULL);
  if (pw_sa_decide_url(&p.sa, url, d.at, &res, &e) != PW_OK)
    snprintf(d.detail, sizeof(d.detail), "%s", e.msg);
  else
    snprintf(d.detail, sizeof(d.detail), "%s", sa_detail(res.reason));
  d.action = res.action;
  d.reason = res.reason;
  d.port = res.port;
  snprintf(d.profile, sizeof(d.profile), "%s", p.id);
  snprintf(d.host, sizeof(d.host), "%s", res.host);

  if (publish(ctx, &d, err) != 0)
    goto done;
  *result = json_pack("{s:s, s:s, s:s?}", "action",
                      pw_action_name(res.action), "reason",
                      pw_reason_name(res.reason), "url", res.url);
  if (*result != NULL && res.url == NULL)
    json_object_del(*result, "url");
  rc = 0;

done:
  free(res.url);
  pw_decision_clear(&d);
  pw_profile_clear(&p);
  return rc;
}

/* ---- decisions.list ----------------------------------------------- */

/*
 * A UUID is taken as it is, so that the decisions of a deleted profile
 * stay readable; a name must name a profile.
 */
static int
decisions_profile(pw_api_ctx_t *ctx, const char *ref,
                  char id[PW_PROFILE_ID_LEN], pw_rpc_error_t *err)
{
  const char *scope = ctx->session->scope;
  pw_profile_t p;
  int rc;

  if (ref == NULL && scope[0] == '\0') {
    id[0] = '\0';
    return 0;
  }
  if (ref == NULL || (pw_profile_id_valid(ref) && scope[0] == '\0')
      || strcmp(ref, scope) == 0) {
    snprintf(id, PW_PROFILE_ID_LEN, "%s", ref != NULL ? ref : scope);
    return 0;
  }

  pw_profile_init(&p);
  rc = pw_api__load_ref(ctx, ref, &p, err);
  if (rc == 0)
    snprintf(id, PW_PROFILE_ID_LEN, "%s", p.id);
  pw_profile_clear(&p);
  return rc;
}

int
pw_api__decisions_list(void *vctx, const json_t *params, json_t **result,
                       pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "id", "host", "action", "since",
                                         "limit", NULL };
  pw_api_ctx_t *ctx = vctx;
  pw_decision_query_t q = { 0 };
  char id[PW_PROFILE_ID_LEN];
  const char *ref = NULL;
  json_t *list = NULL, *v;
  int64_t limit = 0;
  pw_err_t e = { 0 };
  size_t i;
  int ret;

  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__str(params, "id", false, PW_API_REF_MAX, &ref, err) != 0
      || pw_api__str(params, "host", false, HOST_MAX, &q.host, err) != 0
      || pw_api__str(params, "action", false, 16, &q.action, err) != 0
      || pw_api__time(params, "since", &q.since, err) != 0
      || pw_api__int(params, "limit", false, 1, PW_STORE_LIST_MAX, &limit,
                     err) != 0
      || decisions_profile(ctx, ref, id, err) != 0)
    return -1;
  q.profile = id[0] != '\0' ? id : NULL;
  q.limit = (size_t) limit;

  ret = pw_store_decision_query(ctx->api->store, &q, &list, &e);
  if (ret != PW_OK)
    return pw_api__fail(err, ret, &e, PW_RPC_INVALID_PARAMS);

  json_array_foreach(list, i, v)
    pw_api__decision_fix(v);
  *result = json_pack("{s:o}", "decisions", list);
  return 0;
}

/* ---- pins.compute ------------------------------------------------- */

int
pw_api__pins_compute(void *vctx, const json_t *params, json_t **result,
                     pw_rpc_error_t *err)
{
  static const char *const allowed[] = { "pem", NULL };
  pw_api_ctx_t *ctx = vctx;
  STACK_OF(X509) *certs = NULL;
  char text[PW_PIN_TEXT_MAX], *subject;
  const char *pem = NULL;
  json_t *list = NULL;
  pw_pin_t pin;
  pw_err_t e = { 0 };
  int i, ret, rc = -1;

  if (pw_api__authed(ctx, err) != 0
      || pw_api__params(params, allowed, err) != 0
      || pw_api__str(params, "pem", true, PW_PROFILE_ROOTS_MAX, &pem, err)
         != 0)
    goto done;

  ret = pw_pins_load_certs((const unsigned char *) pem, strlen(pem), &certs,
                           &e);
  if (ret != PW_OK) {
    pw_api__fail(err, ret, &e, PW_RPC_INVALID_PARAMS);
    goto done;
  }

  list = json_array();
  for (i = 0; list != NULL && i < sk_X509_num(certs); i++) {
    ret = pw_pins_of_cert(&pin, sk_X509_value(certs, i), &e);
    if (ret != PW_OK) {
      pw_api__fail(err, ret, &e, PW_RPC_INVALID_PARAMS);
      goto done;
    }
    pw_pins_format(&pin, text);

    /* The same form as a decision's chain. */
    subject = X509_NAME_oneline(X509_get_subject_name(sk_X509_value(certs,
                                                                    i)),
                                NULL, 0);
    json_array_append_new(list, json_pack("{s:s, s:s?}", "pin", text,
                                          "subject", subject));
    OPENSSL_free(subject);
  }

  *result = json_pack("{s:O}", "pins", list);
  rc = *result != NULL ? 0 : pw_rpc_fail(err, PW_RPC_INTERNAL_ERROR, NULL,
                                         "out of memory");

done:
  json_decref(list);
  sk_X509_pop_free(certs, X509_free);
  ERR_clear_error();
  return rc;
}

/* ---- the gateway's questions ---------------------------------------- */

/*
 * Both run on the loop for a running profile's gateway.  The profile's
 * entry may be compiled here (its pins and roots, once per revision);
 * the defaults never are, since that reads the store: profiles.start
 * and pins.defaults.set compile them on the pool first.
 */
bool
pw_api_gateway_pinned(pw_api_t *api, const pw_profile_t *p,
                      const char *host)
{
  pw_api_compiled_t *pc = NULL, *dc;
  char norm[PW_HOST_MAX];
  const pw_pinset_t *set = NULL;
  pw_host_kind_t kind;
  pw_err_t e = { 0 };
  bool pinned;

  if (pw_host_normalize(host, norm, &kind, &e) != PW_OK)
    return true;   /* a name that does not read is inspected, not waved */
  if (profile_entry(api, p, &pc, &e) != PW_OK)
    return true;

  if (pc->pins != NULL)
    set = pw_policy_lookup(pc->pins, norm);
  uv_mutex_lock(&api->lock);
  dc = api->defaults;
  if (set == NULL && dc != NULL && dc->pins != NULL)
    set = pw_policy_lookup(dc->pins, norm);
  pinned = set != NULL;
  uv_mutex_unlock(&api->lock);
  unref(api, pc);
  return pinned;
}

int
pw_api_gateway_decide(pw_api_t *api, const pw_profile_t *p,
                      const char *host, uint16_t port,
                      const unsigned char *const *der, const int *len,
                      size_t n, pw_decision_t *d, pw_err_t *e)
{
  pw_api_compiled_t *pc = NULL, *dc = NULL;
  const pw_verifier_t *v;
  const unsigned char *q;
  pw_dcache_key_t key;
  pw_verify_req_t req;
  int64_t now = (int64_t) time(NULL);
  bool keyed, hit = false;
  size_t i;
  X509 *x;
  int ret;

  ret = profile_entry(api, p, &pc, e);
  if (ret != PW_OK)
    return ret;
  uv_mutex_lock(&api->lock);
  dc = api->defaults;
  if (dc != NULL)
    dc->refs++;
  uv_mutex_unlock(&api->lock);

  memset(&req, 0, sizeof(req));
  req.profile = p->id;
  req.host = host;
  req.port = port;
  req.pins = pc->pins;
  req.defaults = dc != NULL ? dc->pins : NULL;
  v = pc->verifier != NULL ? pc->verifier : api->system;

  /* A server sends the same chain to every handshake: ask the cache. */
  keyed = pw_dcache_key_der(&key, v, &req, der, len, n) == PW_OK;
  if (keyed) {
    uv_mutex_lock(&api->lock);
    hit = pw_dcache_get(api->dcache, &key, now, d);
    uv_mutex_unlock(&api->lock);
  }
  if (hit)
    goto done;

  req.chain = sk_X509_new_null();
  if (req.chain == NULL) {
    ret = pw_err_set(e, PW_ENOMEM, "out of memory");
    goto done;
  }
  for (i = 0; i < n; i++) {
    q = der[i];
    x = d2i_X509(NULL, &q, len[i]);
    ERR_clear_error();
    if (x == NULL || q != der[i] + len[i] || !sk_X509_push(req.chain, x)) {
      X509_free(x);
      ret = pw_err_set(e, PW_EINVAL, "certificate %zu of the server's "
                       "chain does not parse", i);
      goto done;
    }
  }
  ret = pw_verify_chain(v, &req, d, e);
  if (ret == PW_OK && keyed) {
    uv_mutex_lock(&api->lock);
    pw_dcache_put(api->dcache, &key, now, d);
    uv_mutex_unlock(&api->lock);
  }

done:
  sk_X509_pop_free(req.chain, X509_free);
  unref(api, pc);
  unref(api, dc);
  return ret;
}

int
pw_api_gateway_prepare(pw_api_t *api, pw_err_t *e)
{
  pw_api_compiled_t *dc = NULL;
  int ret;

  ret = defaults_entry(api, &dc, e);
  unref(api, dc);
  return ret;
}
