#include "tests/unit/api_fixture.h"

#include "engine/rfc3339.h"
#include "ipc/api_int.h"

TestSuite(api_verify, .init = fx_init, .fini = fx_fini);

/* ---- verify.url --------------------------------------------------- */

Test(api_verify, verify_url)
{
  const json_t *ev;
  json_t *r;
  char *id;

  id = create("{\"name\": \"web\", \"secure_access\": {\"enabled\": true, "
              "\"exceptions\": [{\"host\": \"printer.lan\"}]}}");

  r = ok("verify.url", "{\"id\": \"web\", \"url\": "
         "\"http://shop.example/cart?x=1\"}");
  cr_assert_str_eq(str(r, "action"), "upgrade");
  cr_assert_str_eq(str(r, "reason"), "sa_upgrade");
  cr_assert_str_eq(str(r, "url"), "https://shop.example/cart?x=1");
  ev = last_event("decision");
  cr_assert_str_eq(str(ev, "profile"), id);
  cr_assert_str_eq(str(json_object_get(ev, "data"), "id"), id);
  cr_assert_str_eq(str(json_object_get(ev, "data"), "host"),
                   "shop.example");
  cr_assert_not_null(json_object_get(json_object_get(ev, "data"), "time"));
  json_decref(r);

  r = ok("verify.url", "{\"id\": \"web\", \"url\": \"http://printer.lan/\"}");
  cr_assert_str_eq(str(r, "action"), "allow");
  cr_assert_str_eq(str(r, "reason"), "sa_exception");
  cr_assert_null(json_object_get(r, "url"));
  json_decref(r);

  /* What cannot be read is blocked, never allowed. */
  r = ok("verify.url", "{\"id\": \"web\", \"url\": \"gopher://x\"}");
  cr_assert_str_eq(str(r, "action"), "block");
  cr_assert_str_eq(str(r, "reason"), "bad_input");
  json_decref(r);

  /* All three are in the record, newest first, in the API's shape. */
  r = ok("decisions.list", "{\"id\": \"web\"}");
  cr_assert_eq(json_array_size(json_object_get(r, "decisions")), 3);
  cr_assert_str_eq(str(json_array_get(json_object_get(r, "decisions"), 2),
                       "id"), id);
  cr_assert_not_null(json_object_get(json_array_get(
    json_object_get(r, "decisions"), 0), "time"));
  json_decref(r);

  r = ok("decisions.list", "{\"action\": \"upgrade\", \"host\": "
         "\"shop.example\"}");
  cr_assert_eq(json_array_size(json_object_get(r, "decisions")), 1);
  json_decref(r);
  free(id);
}

/* ---- verify.chain ------------------------------------------------- */

/* certgen's chain at its own time: allowed by pin, blocked without. */
Test(api_verify, verify_chain_at)
{
  char pin[PW_PIN_TEXT_MAX], *id, *leaf, *inter;
  certgen_pki_t pki;
  const json_t *ev;
  json_t *r;

  cr_assert_eq(certgen_pki(&pki), 0);
  pin_of(pki.inter, pin);
  id = pinned_profile("pinned", pki.root, pin);
  leaf = b64_der(pki.leaf);
  inter = b64_der(pki.inter);

  r = ok("verify.chain", "{\"id\": \"pinned\", \"host\": "
         "\"www.example.com\", \"chain\": [\"%s\", \"%s\"], \"at\": %lld}",
         leaf, inter, (long long) CERTGEN_NOW);
  cr_assert_str_eq(str(r, "action"), "allow", "%s", json_dumps(r, 0));
  cr_assert_str_eq(str(r, "reason"), "ok");
  cr_assert_str_eq(str(r, "id"), id);
  cr_assert_str_eq(str(r, "matched_pin"), pin);
  cr_assert_str_eq(str(r, "time"), "2026-01-01T00:00:00Z");
  cr_assert_eq(num(r, "port"), 443);
  cr_assert_eq(json_array_size(json_object_get(r, "chain")), 3);
  cr_assert_null(json_object_get(r, "profile"));
  cr_assert_null(json_object_get(r, "at"));
  ev = last_event("decision");
  cr_assert(json_equal(json_object_get(ev, "data"), r));
  json_decref(r);

  /* Another host of the profile: no pin set, still a valid chain. */
  r = ok("verify.chain", "{\"id\": \"pinned\", \"host\": \"example.com\", "
         "\"port\": 8443, \"chain\": [\"%s\", \"%s\"], "
         "\"at\": \"2026-01-01T00:00:00Z\"}", leaf, inter);
  cr_assert_str_eq(str(r, "action"), "allow");
  cr_assert_str_eq(str(r, "reason"), "no_policy");
  cr_assert_eq(num(r, "port"), 8443);
  json_decref(r);

  /* Without the profile, the system store does not know the root. */
  r = ok("verify.chain", "{\"host\": \"www.example.com\", \"chain\": "
         "[\"%s\", \"%s\"], \"at\": %lld}", leaf, inter,
         (long long) CERTGEN_NOW);
  cr_assert_str_eq(str(r, "action"), "block");
  cr_assert_str_eq(str(r, "reason"), "untrusted");
  cr_assert(json_is_null(json_object_get(r, "id")));
  json_decref(r);

  /* A key-replaced profile: the pin no longer matches. */
  json_decref(ok("profiles.update", "{\"id\": \"pinned\", \"revision\": 1, "
                 "\"patch\": {\"pins\": [{\"pattern\": \"www.example.com\", "
                 "\"pins\": [\"" PIN_A "\", \"" PIN_B "\"]}]}}"));
  r = ok("verify.chain", "{\"id\": \"pinned\", \"host\": "
         "\"www.example.com\", \"chain\": [\"%s\", \"%s\"], \"at\": %lld}",
         leaf, inter, (long long) CERTGEN_NOW);
  cr_assert_str_eq(str(r, "action"), "block");
  cr_assert_str_eq(str(r, "reason"), "pin_mismatch");
  cr_assert_eq(json_array_size(json_object_get(r, "expected_pins")), 2);
  json_decref(r);

  free(leaf);
  free(inter);
  free(id);
  certgen_pki_free(&pki);
}

/* The engine's default pins apply unless the profile overrides them. */
Test(api_verify, verify_chain_defaults)
{
  char *id, *leaf, *pem, *text;
  certgen_pki_t pki;
  json_t *r, *params;

  cr_assert_eq(certgen_pki(&pki), 0);
  pem = pem_of(pki.root);
  params = json_pack("{s:s, s:s}", "name", "plain", "roots", pem);
  text = json_dumps(params, 0);
  id = create(text);
  leaf = b64_der(pki.leaf);
  json_decref(ok("pins.defaults.set", "{\"pins\": [{\"pattern\": "
                 "\"**.example.com\", \"pins\": [\"" PIN_A "\", \"" PIN_B
                 "\"]}]}"));

  r = ok("verify.chain", "{\"id\": \"plain\", \"host\": "
         "\"www.example.com\", \"chain\": [\"%s\", \"%s\"], \"at\": %lld}",
         leaf, keep(b64_der(pki.inter)), (long long) CERTGEN_NOW);
  cr_assert_str_eq(str(r, "reason"), "pin_mismatch", "%s",
                   json_dumps(r, 0));
  json_decref(r);

  free(text);
  free(pem);
  free(leaf);
  free(id);
  json_decref(params);
  certgen_pki_free(&pki);
}

/* The loop's path answers a repeated call from the caches alone. */
Test(api_verify, verify_cached)
{
  char pin[PW_PIN_TEXT_MAX], *id, *leaf, *text;
  certgen_pki_t pki;
  json_t *params, *r, *cached = NULL;
  pw_api_session_t other;
  char *other_id;

  pki_now(&pki);
  pin_of(pki.leaf, pin);
  id = pinned_profile("now", pki.root, pin);
  other_id = create("{\"name\": \"other\"}");
  leaf = b64_der(pki.leaf);
  params = json_pack("{s:s, s:s, s:[s]}", "id", "now", "host",
                     "www.example.com", "chain", leaf);
  text = json_dumps(params, 0);

  /* Nothing compiled yet: the pool must answer. */
  cr_assert(!pw_api_verify_cached(fx.api, &fx.session, params, &cached));

  r = ok("verify.chain", "%s", text);
  cr_assert_str_eq(str(r, "action"), "allow", "%s", json_dumps(r, 0));
  cr_assert_str_eq(str(r, "reason"), "ok");

  cr_assert(pw_api_verify_cached(fx.api, &fx.session, params, &cached));
  cr_assert_str_eq(str(cached, "action"), "allow");
  cr_assert_str_eq(str(cached, "reason"), "ok");
  cr_assert_str_eq(str(cached, "id"), id);
  cr_assert_str_eq(str(cached, "matched_pin"), pin);
  json_decref(cached);
  cached = NULL;

  /* The pool's decision is in the record; the loop's answer adds none. */
  json_decref(r);
  r = ok("decisions.list", "{\"id\": \"now\"}");
  cr_assert_eq(json_array_size(json_object_get(r, "decisions")), 1);
  cr_assert_str_eq(str(json_array_get(json_object_get(r, "decisions"), 0),
                       "reason"), "ok");

  /* By UUID too: the compiled entry knows both names. */
  json_object_set_new(params, "id", json_string(id));
  cr_assert(pw_api_verify_cached(fx.api, &fx.session, params, &cached));
  json_decref(cached);
  cached = NULL;

  /* Not for a session without a token, nor one scoped elsewhere. */
  memset(&other, 0, sizeof(other));
  cr_assert(!pw_api_verify_cached(fx.api, &other, params, &cached));
  scoped_session(other_id, &other);
  cr_assert(!pw_api_verify_cached(fx.api, &other, params, &cached));

  /* A question about a given time is never the cache's. */
  json_object_set_new(params, "at", json_integer(time(NULL)));
  cr_assert(!pw_api_verify_cached(fx.api, &fx.session, params, &cached));
  json_object_del(params, "at");

  /* A changed profile forgets what was compiled for it. */
  json_decref(ok("profiles.update", "{\"id\": \"now\", \"revision\": 1, "
                 "\"patch\": {\"tags\": [\"t\"]}}"));
  cr_assert(!pw_api_verify_cached(fx.api, &fx.session, params, &cached));
  json_decref(r);
  r = ok("verify.chain", "%s", text);
  cr_assert(pw_api_verify_cached(fx.api, &fx.session, params, &cached));
  json_decref(cached);
  cached = NULL;

  /* Malformed params are the pool's to refuse. */
  json_object_set_new(params, "chain", json_string("x"));
  cr_assert(!pw_api_verify_cached(fx.api, &fx.session, params, &cached));
  cr_assert(!pw_api_verify_cached(fx.api, &fx.session, NULL, &cached));

  json_decref(r);
  json_decref(params);
  free(text);
  free(leaf);
  free(id);
  free(other_id);
  certgen_pki_free(&pki);
}

/* What a running gateway decides for leaf with its copy of a profile. */
static void
gateway_decide(const pw_profile_t *p, X509 *leaf, const char *reason)
{
  const unsigned char *der[1];
  unsigned char *buf = NULL;
  pw_decision_t d;
  pw_err_t e = { 0 };
  int len[1];

  len[0] = i2d_X509(leaf, &buf);
  cr_assert_gt(len[0], 0);
  der[0] = buf;
  pw_decision_init(&d);
  cr_assert_eq(pw_api_gateway_decide(fx.api, p, "www.example.com", 443,
                                     der, len, 1, &d, &e), PW_OK, "%s",
               e.msg);
  cr_assert_str_eq(pw_reason_name(d.reason), reason, "%s", d.detail);
  pw_decision_clear(&d);
  OPENSSL_free(buf);
}

/*
 * A running gateway holds the profile as it started until the engine
 * tells it of an update; what it compiles from that older copy in the
 * meantime must not become what the cached paths answer with.
 */
Test(api_verify, stale_copy_not_cached)
{
  char pin[PW_PIN_TEXT_MAX], *id, *leaf, *text;
  json_t *params, *r, *cached = NULL;
  pw_rpc_error_t rerr;
  certgen_pki_t pki;
  pw_profile_t old;

  pki_now(&pki);
  pin_of(pki.leaf, pin);
  id = pinned_profile("stale", pki.root, PIN_A);
  leaf = b64_der(pki.leaf);
  params = json_pack("{s:s, s:s, s:[s]}", "id", "stale", "host",
                     "www.example.com", "chain", leaf);
  text = json_dumps(params, 0);

  pw_profile_init(&old);
  memset(&rerr, 0, sizeof(rerr));
  cr_assert_eq(pw_api__load_ref(&fx.ctx, "stale", &old, &rerr), 0);

  r = ok("verify.chain", "%s", text);
  cr_assert_str_eq(str(r, "reason"), "pin_mismatch");
  json_decref(r);

  json_decref(ok("profiles.update", "{\"id\": \"stale\", \"revision\": 1, "
                 "\"patch\": {\"pins\": [{\"pattern\": \"www.example.com\", "
                 "\"pins\": [\"%s\", \"" PIN_B "\"]}]}}", pin));

  /* The gateway, not told yet, decides with its copy of revision 1. */
  gateway_decide(&old, pki.leaf, "pin_mismatch");
  cr_assert(!pw_api_verify_cached(fx.api, &fx.session, params, &cached),
            "the cache answers under the revision the update replaced");

  r = ok("verify.chain", "%s", text);
  cr_assert_str_eq(str(r, "reason"), "ok", "%s", json_dumps(r, 0));
  json_decref(r);
  cr_assert(pw_api_verify_cached(fx.api, &fx.session, params, &cached));
  cr_assert_str_eq(str(cached, "reason"), "ok");

  /* Its older copy still decides, for the gateway alone. */
  gateway_decide(&old, pki.leaf, "pin_mismatch");
  json_decref(cached);
  cached = NULL;
  cr_assert(pw_api_verify_cached(fx.api, &fx.session, params, &cached));
  cr_assert_str_eq(str(cached, "reason"), "ok");

  json_decref(cached);
  json_decref(params);
  pw_profile_clear(&old);
  free(text);
  free(leaf);
  free(id);
  certgen_pki_free(&pki);
}

/* ---- verify.chain's answer as text -------------------------------- */

/* The loop's answer from the cache and jansson, as the server sends it. */
static char *
jansson_answer(const char *id_text, const json_t *params)
{
  json_t *result = NULL, *id, *resp;
  char *text;

  if (!pw_api_verify_cached(fx.api, &fx.session, params, &result))
    return NULL;
  id = json_loads(id_text, JSON_DECODE_ANY, NULL);
  resp = pw_rpc_result(id, result);
  text = pw_rpc_dumps(resp);
  json_decref(resp);
  json_decref(id);
  return text;
}

/* Both ways of answering from the cache within one second, for `id`. */
static void
assert_same_answer(const char *msg, const char *id_text,
                   const json_t *params)
{
  char *fast = NULL, *slow = NULL;
  int tries;

  /* A second's edge may pass between the two; they agree within one. */
  for (tries = 0; tries < 3; tries++) {
    free(fast);
    free(slow);
    cr_assert(pw_api_verify_text(fx.api, &fx.session, msg, strlen(msg),
                                 &fast), "%s: not answered", msg);
    slow = jansson_answer(id_text, params);
    cr_assert_not_null(slow);
    if (strcmp(fast, slow) == 0)
      break;
  }
  cr_assert_str_eq(fast, slow);
  free(fast);
  free(slow);
}

Test(api_verify, verify_text)
{
  char pin[PW_PIN_TEXT_MAX], *id, *leaf, *msg, *answer, *other_id;
  certgen_pki_t pki;
  pw_api_session_t other;
  json_t *params, *r, *resp;
  size_t i;

  pki_now(&pki);
  pin_of(pki.leaf, pin);
  id = pinned_profile("now", pki.root, pin);
  other_id = create("{\"name\": \"other\"}");
  leaf = b64_der(pki.leaf);
  params = json_pack("{s:s, s:s, s:[s]}", "id", "now", "host",
                     "www.example.com", "chain", leaf);
  cr_assert(asprintf(&msg, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
                     "\"verify.chain\",\"params\":{\"id\":\"now\","
                     "\"host\":\"www.example.com\",\"chain\":[\"%s\"]}}",
                     leaf) > 0);

  /* Nothing compiled or cached yet: the ordinary path must answer. */
  cr_assert(!pw_api_verify_text(fx.api, &fx.session, msg, strlen(msg),
                                &answer));
  cr_assert_null(answer);
  resp = pw_rpc_handle(pw_api_methods(), &fx.ctx, msg, strlen(msg));
  r = json_object_get(resp, "result");
  cr_assert_str_eq(str(r, "action"), "allow");
  json_decref(resp);

  /* Made from the decision, then from its memo: the same bytes. */
  for (i = 0; i < 3; i++)
    assert_same_answer(msg, "7", params);

  /* The parsed answer is the decision, with the call's id. */
  cr_assert(pw_api_verify_text(fx.api, &fx.session, msg, strlen(msg),
                               &answer));
  resp = json_loads(answer, 0, NULL);
  cr_assert_not_null(resp, "%s", answer);
  cr_assert_eq(json_integer_value(json_object_get(resp, "id")), 7);
  r = json_object_get(resp, "result");
  cr_assert_str_eq(str(r, "reason"), "ok");
  cr_assert_str_eq(str(r, "id"), id);
  cr_assert_str_eq(str(r, "matched_pin"), pin);
  cr_assert_eq(strlen(str(r, "time")), PW_RFC3339_LEN - 1);
  json_decref(resp);
  free(answer);
  free(msg);

  /* A string id, and the profile by UUID. */
  cr_assert(asprintf(&msg, "{\"jsonrpc\":\"2.0\",\"id\":\"q-1\",\"method\":"
                     "\"verify.chain\",\"params\":{\"id\":\"%s\","
                     "\"host\":\"www.example.com\",\"chain\":[\"%s\"]}}",
                     id, leaf) > 0);
  json_object_set_new(params, "id", json_string(id));
  assert_same_answer(msg, "\"q-1\"", params);

  /* Not for a session without a token, nor one scoped elsewhere. */
  memset(&other, 0, sizeof(other));
  cr_assert(!pw_api_verify_text(fx.api, &other, msg, strlen(msg),
                                &answer));
  scoped_session(other_id, &other);
  cr_assert(!pw_api_verify_text(fx.api, &other, msg, strlen(msg),
                                &answer));
  free(msg);

  /* Base64 that vreq_parse refuses is left to it, to say why. */
  msg = strdup("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"verify.chain\","
               "\"params\":{\"id\":\"now\",\"host\":\"www.example.com\","
               "\"chain\":[\"QUJ\"]}}");
  cr_assert(!pw_api_verify_text(fx.api, &fx.session, msg, strlen(msg),
                                &answer));
  free(msg);

  /* A changed profile's memo goes with its old decisions. */
  cr_assert(asprintf(&msg, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
                     "\"verify.chain\",\"params\":{\"id\":\"now\","
                     "\"host\":\"www.example.com\",\"chain\":[\"%s\"]}}",
                     leaf) > 0);
  json_decref(ok("profiles.update", "{\"id\": \"now\", \"revision\": 1, "
                 "\"patch\": {\"pins\": []}}"));
  cr_assert(!pw_api_verify_text(fx.api, &fx.session, msg, strlen(msg),
                                &answer));
  resp = pw_rpc_handle(pw_api_methods(), &fx.ctx, msg, strlen(msg));
  cr_assert_str_eq(str(json_object_get(resp, "result"), "reason"),
                   "no_policy", "%s", json_dumps(resp, 0));
  json_decref(resp);
  cr_assert(pw_api_verify_text(fx.api, &fx.session, msg, strlen(msg),
                               &answer));
  cr_assert(strstr(answer, "\"reason\":\"no_policy\"") != NULL, "%s",
            answer);
  free(answer);

  free(msg);
  json_decref(params);
  free(leaf);
  free(id);
  free(other_id);
  certgen_pki_free(&pki);
}
