#include "tests/unit/api_fixture.h"

TestSuite(api, .init = fx_init, .fini = fx_fini);

/* ---- authentication ----------------------------------------------- */

/* Every method but session.hello needs a token first. */
Test(api, unauthed_session_refused)
{
  const pw_rpc_method_t *m;
  pw_api_session_t none = { 0 };
  size_t n = 0;

  for (m = pw_api_methods(); m->name != NULL; m++) {
    if (strcmp(m->name, "session.hello") == 0)
      continue;
    as_fails(&none, -32003, m->name, "{}");
    n++;
  }
  cr_assert_eq(n, 23, "the table has %zu methods besides hello", n);
}

Test(api, session_hello)
{
  pw_api_session_t s = { 0 };
  json_t *r;

  as_fails(&s, -32003, "session.hello", "{\"token\": \"%064d\"}", 0);
  as_fails(&s, -32003, "session.hello", "{\"token\": \"short\"}");
  as_fails(&s, -32602, "session.hello", "{}");
  as_fails(&s, -32602, "session.hello", "{\"token\": 5}");
  cr_assert(!s.authed);

  r = as_ok(&s, "session.hello", "{\"token\": \"%s\"}",
            pw_api_token(fx.api));
  cr_assert_str_eq(str(r, "version"), PW_API_VERSION);
  cr_assert(json_is_null(json_object_get(r, "scope")));
  cr_assert(s.authed);
  json_decref(r);
}

Test(api, token_shape)
{
  const char *t = pw_api_token(fx.api);
  pw_api_session_t s = { 0 };
  char wrong[PW_API_TOKEN_LEN];
  size_t i;

  cr_assert_eq(strlen(t), PW_API_TOKEN_LEN - 1);
  for (i = 0; t[i] != '\0'; i++)
    cr_assert(strchr("0123456789abcdef", t[i]) != NULL);

  memcpy(wrong, t, sizeof(wrong));
  wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
  cr_assert(!pw_api_authenticate(fx.api, wrong, &s));
  cr_assert(!pw_api_authenticate(fx.api, NULL, &s));
  cr_assert(!pw_api_authenticate(fx.api, "", &s));
  cr_assert(!s.authed);
}

/* ---- engine.status ------------------------------------------------ */

Test(api, engine_status)
{
  json_t *r;
  char *id;

  id = create("{\"name\": \"one\"}");
  free(create("{\"name\": \"two\"}"));
  pw_api_set_running(fx.api, 1);

  r = ok("engine.status", "{}");
  cr_assert_str_eq(str(r, "version"), PW_API_VERSION);
  cr_assert_eq(num(r, "profiles"), 2);
  cr_assert_eq(num(r, "running"), 1);
  cr_assert_geq(num(r, "uptime_s"), 0);
  json_decref(r);

  json_decref(ok("profiles.delete", "{\"id\": \"%s\"}", id));
  r = ok("engine.status", "[]");
  cr_assert_eq(num(r, "profiles"), 1);
  json_decref(r);
  fails(-32602, "engine.status", "{\"verbose\": true}");
  free(id);
}

/* A fresh engine on a folder with profiles counts them. */
Test(api, status_counts_existing)
{
  pw_api_t *again = NULL;
  char *data = NULL;
  pw_api_ctx_t ctx = fx.ctx;
  const char *status = "{\"jsonrpc\": \"2.0\", \"id\": 1, "
                       "\"method\": \"engine.status\"}";
  json_t *r;

  free(create("{\"name\": \"kept\"}"));
  cr_assert(asprintf(&data, "%s/data", fx.dir) > 0);
  cr_assert_eq(pw_api_new(&again, data, NULL), PW_OK);
  ctx.api = again;
  r = pw_rpc_handle(pw_api_methods(), &ctx, status, strlen(status));
  cr_assert_eq(num(json_object_get(r, "result"), "profiles"), 1);
  cr_assert_str_neq(pw_api_token(again), pw_api_token(fx.api));

  json_decref(r);
  pw_api_free(again);
  free(data);
}

/* ---- profiles ----------------------------------------------------- */

Test(api, create_get)
{
  const json_t *ev, *exc;
  json_t *p, *g;

  p = ok("profiles.create", "{\"name\": \"shop-eu-1\", \"tags\": [\"eu\"], "
         "\"proxy\": \"socks5h://user:secret@10.0.0.8:1080\", "
         "\"secure_access\": {\"enabled\": true, \"exceptions\": "
         "[{\"host\": \"printer.lan\"}, {\"host\": \"a.example\", "
         "\"until\": \"2030-01-01T00:00:00Z\"}]}}");
  cr_assert(pw_profile_id_valid(str(p, "id")));
  cr_assert_str_eq(str(p, "name"), "shop-eu-1");
  cr_assert_eq(num(p, "revision"), 1);
  cr_assert_str_eq(str(p, "proxy"), "socks5h://user:***@10.0.0.8:1080");

  /* Exceptions say "until", RFC 3339, null when they never expire. */
  exc = json_object_get(json_object_get(p, "secure_access"), "exceptions");
  cr_assert_eq(json_array_size(exc), 2);
  json_t *e0 = json_array_get(exc, 0), *e1 = json_array_get(exc, 1);
  if (strcmp(str(e0, "host"), "a.example") != 0) {
    json_t *t = e0;
    e0 = e1;
    e1 = t;
  }
  cr_assert_str_eq(str(e0, "until"), "2030-01-01T00:00:00Z");
  cr_assert(json_is_null(json_object_get(e1, "until")));
  cr_assert_null(json_object_get(e0, "expires"));

  ev = last_event("profile");
  cr_assert_str_eq(str(ev, "profile"), str(p, "id"));
  cr_assert_str_eq(str(json_object_get(ev, "data"), "action"), "created");
  cr_assert(json_equal(json_object_get(json_object_get(ev, "data"),
                                       "profile"), p));

  /* By id and by name (any ASCII case), the same profile. */
  g = ok("profiles.get", "{\"id\": \"%s\"}", str(p, "id"));
  cr_assert(json_equal(g, p));
  json_decref(g);
  g = ok("profiles.get", "{\"id\": \"SHOP-eu-1\"}");
  cr_assert(json_equal(g, p));
  json_decref(g);

  json_decref(p);
}

struct error_case {
  const char *name;
  const char *method;
  const char *params;
  int         code;
};

/*
 * Every method's failures against an engine holding "alpha" (Secure
 * Access on, exception for printer.lan) at revision 1; "%s" in params
 * is alpha's id.
 */
static const struct error_case error_cases[] = {
  /* Params are named: an array of values is refused. */
  { "positional params", "profiles.get", "[\"alpha\"]", -32602 },
  { "unknown param", "profiles.get", "{\"id\": \"alpha\", \"x\": 1}",
    -32602 },

  /* profiles.get */
  { "get without id", "profiles.get", "{}", -32602 },
  { "get id not a string", "profiles.get", "{\"id\": 5}", -32602 },
  { "get unknown name", "profiles.get", "{\"id\": \"nobody\"}", -32001 },
  { "get unknown uuid", "profiles.get",
    "{\"id\": \"00000000-0000-4000-8000-000000000000\"}", -32001 },

  /* profiles.create: missing name, bad documents, a taken name. */
  { "create without name", "profiles.create", "{\"tags\": []}", -32602 },
  { "create name not a string", "profiles.create", "{\"name\": 1}",
    -32602 },
  { "create unknown field", "profiles.create",
    "{\"name\": \"b\", \"colour\": \"red\"}", -32602 },
  { "create bad proxy", "profiles.create",
    "{\"name\": \"b\", \"proxy\": \"ftp://x\"}", -32004 },
  { "create bad pins", "profiles.create",
    "{\"name\": \"b\", \"pins\": [{\"pattern\": \"a.b\", "
    "\"pins\": [\"sha256/xx\"]}]}", -32004 },
  { "create bad secure access", "profiles.create",
    "{\"name\": \"b\", \"secure_access\": {\"on_http\": \"upgrade\"}}",
    -32004 },
  { "create bad tags", "profiles.create",
    "{\"name\": \"b\", \"tags\": \"eu\"}", -32004 },
  { "create taken name", "profiles.create", "{\"name\": \"ALPHA\"}",
    -32002 },

  /* profiles.update */
  { "update stale revision", "profiles.update",
    "{\"id\": \"alpha\", \"revision\": 7, \"patch\": {}}", -32002 },
  { "update without revision", "profiles.update",
    "{\"id\": \"alpha\", \"patch\": {}}", -32602 },
  { "update revision a string", "profiles.update",
    "{\"id\": \"alpha\", \"revision\": \"1\", \"patch\": {}}", -32602 },
  { "update patch not an object", "profiles.update",
    "{\"id\": \"alpha\", \"revision\": 1, \"patch\": []}", -32602 },
  { "update bad pins", "profiles.update",
    "{\"id\": \"alpha\", \"revision\": 1, \"patch\": {\"pins\": 3}}",
    -32004 },
  { "update store keys", "profiles.update",
    "{\"id\": \"alpha\", \"revision\": 1, \"patch\": {\"revision\": 9}}",
    -32004 },
  { "update unknown", "profiles.update",
    "{\"id\": \"zed\", \"revision\": 1, \"patch\": {}}", -32001 },

  /* profiles.delete */
  { "delete unknown", "profiles.delete", "{\"id\": \"zed\"}", -32001 },
  { "delete stale revision", "profiles.delete",
    "{\"id\": \"alpha\", \"revision\": 4}", -32002 },
  { "delete purge not a bool", "profiles.delete",
    "{\"id\": \"alpha\", \"purge\": 1}", -32602 },

  /* profiles.list */
  { "list limit zero", "profiles.list", "{\"limit\": 0}", -32602 },
  { "list limit huge", "profiles.list", "{\"limit\": 100000}", -32602 },
  { "list bad cursor", "profiles.list", "{\"cursor\": \"zzz\"}", -32602 },

  /* export, import */
  { "export unknown", "profiles.export", "{\"ids\": [\"zed\"]}", -32001 },
  { "export ids not a list", "profiles.export", "{\"ids\": \"alpha\"}",
    -32602 },
  { "import nothing", "profiles.import", "{\"profiles\": []}", -32602 },
  { "import bad version", "profiles.import",
    "{\"version\": 2, \"profiles\": [{\"name\": \"b\"}]}", -32602 },
  { "import bad profile", "profiles.import",
    "{\"profiles\": [{\"name\": \"b\", \"proxy\": 5}]}", -32004 },
  { "import taken name", "profiles.import",
    "{\"profiles\": [{\"name\": \"alpha\"}]}", -32002 },

  /* pins */
  { "compute not PEM", "pins.compute", "{\"pem\": \"hello\"}", -32602 },
  { "compute without pem", "pins.compute", "{}", -32602 },
  { "defaults bad pins", "pins.defaults.set",
    "{\"pins\": [{\"pattern\": \"*.*.x\", \"pins\": [\"" PIN_A "\"]}]}",
    -32004 },
  { "defaults not a list", "pins.defaults.set", "{\"pins\": {}}", -32602 },
  { "defaults stale revision", "pins.defaults.set",
    "{\"pins\": [], \"revision\": 5}", -32002 },

  /* Secure Access */
  { "sa without enabled", "secure_access.set", "{\"id\": \"alpha\"}",
    -32602 },
  { "sa bad on_http", "secure_access.set",
    "{\"id\": \"alpha\", \"enabled\": true, \"on_http\": \"drop\"}",
    -32602 },
  { "sa unknown profile", "secure_access.set",
    "{\"id\": \"zed\", \"enabled\": true}", -32001 },
  { "exception bad host", "secure_access.exception.add",
    "{\"id\": \"alpha\", \"host\": \"a b\"}", -32004 },
  { "exception negative ttl", "secure_access.exception.add",
    "{\"id\": \"alpha\", \"host\": \"a.example\", \"ttl_s\": -1}", -32602 },
  { "exception remove unknown", "secure_access.exception.remove",
    "{\"id\": \"alpha\", \"host\": \"nothere.example\"}", -32001 },

  /* verify */
  { "chain not base64", "verify.chain",
    "{\"host\": \"a.example\", \"chain\": [\"!!!!\"]}", -32602 },
  { "chain not DER", "verify.chain",
    "{\"host\": \"a.example\", \"chain\": [\"aGVsbG8=\"]}", -32602 },
  { "chain empty", "verify.chain", "{\"host\": \"a.example\", "
    "\"chain\": []}", -32602 },
  { "chain too long", "verify.chain", "{\"host\": \"a.example\", "
    "\"chain\": [\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
    "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}", -32602 },
  { "chain without host", "verify.chain", "{\"chain\": [\"aGVsbG8=\"]}",
    -32602 },
  { "chain bad port", "verify.chain", "{\"host\": \"a.example\", "
    "\"port\": 70000, \"chain\": [\"aGVsbG8=\"]}", -32602 },
  { "chain bad time", "verify.chain", "{\"host\": \"a.example\", "
    "\"at\": \"yesterday\", \"chain\": [\"aGVsbG8=\"]}", -32602 },
  { "url without url", "verify.url", "{\"id\": \"alpha\"}", -32602 },
  { "url unknown profile", "verify.url",
    "{\"id\": \"zed\", \"url\": \"http://a.example/\"}", -32001 },
  { "url without id", "verify.url", "{\"url\": \"http://a.example/\"}",
    -32602 },

  /* decisions.list */
  { "decisions bad action", "decisions.list", "{\"action\": \"maybe\"}",
    -32602 },
  { "decisions unknown name", "decisions.list", "{\"id\": \"zed\"}",
    -32001 },

  /* events */
  { "subscribe no topics", "events.subscribe", "{}", -32602 },
  { "subscribe bad topic", "events.subscribe",
    "{\"topics\": [\"weather\"]}", -32602 },
  { "subscribe to an unknown profile", "events.subscribe",
    "{\"topics\": [\"profile\"], \"id\": \"zed\"}", -32001 },

  /* tokens */
  { "token unknown profile", "tokens.create", "{\"id\": \"zed\"}",
    -32001 },
};

ParameterizedTestParameters(api, errors)
{
  return case_indices(NCASES(error_cases));
}

ParameterizedTest(size_t *i, api, errors)
{
  const struct error_case *c = &error_cases[*i];
  size_t before;

  free(create("{\"name\": \"alpha\", \"secure_access\": {\"enabled\": "
              "true, \"exceptions\": [{\"host\": \"printer.lan\"}]}}"));
  before = json_array_size(fx.ctx.events);

  fails(c->code, c->method, "%s", c->params);

  /* A call that failed changed nothing anyone hears of. */
  cr_assert_eq(json_array_size(fx.ctx.events), before, "%s", c->name);
}

Test(api, list_filters_and_pages)
{
  const json_t *list;
  json_t *r, *r2;

  free(create("{\"name\": \"a-eu\", \"tags\": [\"eu\"]}"));
  free(create("{\"name\": \"b-us\", \"tags\": [\"us\"]}"));
  free(create("{\"name\": \"c-eu\", \"tags\": [\"eu\", \"shop\"], "
              "\"proxy\": \"http://u:pw@proxy.example:3128\"}"));

  r = ok("profiles.list", "{}");
  list = json_object_get(r, "profiles");
  cr_assert_eq(json_array_size(list), 3);
  cr_assert_str_eq(str(json_array_get(list, 2), "proxy"),
                   "http://u:***@proxy.example:3128");
  json_decref(r);

  r = ok("profiles.list", "{\"tag\": \"eu\"}");
  cr_assert_eq(json_array_size(json_object_get(r, "profiles")), 2);
  json_decref(r);

  r = ok("profiles.list", "{\"q\": \"US\"}");
  list = json_object_get(r, "profiles");
  cr_assert_eq(json_array_size(list), 1);
  cr_assert_str_eq(str(json_array_get(list, 0), "name"), "b-us");
  json_decref(r);

  /* Two pages of two and one. */
  r = ok("profiles.list", "{\"limit\": 2}");
  cr_assert_eq(json_array_size(json_object_get(r, "profiles")), 2);
  r2 = ok("profiles.list", "{\"limit\": 2, \"cursor\": \"%s\"}",
          str(r, "next"));
  list = json_object_get(r2, "profiles");
  cr_assert_eq(json_array_size(list), 1);
  cr_assert_str_eq(str(json_array_get(list, 0), "name"), "c-eu");
  cr_assert(json_is_null(json_object_get(r2, "next")));
  json_decref(r);
  json_decref(r2);
}

Test(api, update)
{
  const json_t *ev;
  json_t *p, *u;
  char *id;

  id = create("{\"name\": \"edit-me\"}");
  json_array_clear(fx.ctx.events);

  u = ok("profiles.update", "{\"id\": \"%s\", \"revision\": 1, \"patch\": "
         "{\"name\": \"edited\", \"tags\": [\"x\"], \"secure_access\": "
         "{\"enabled\": true, \"on_http\": \"block\", \"exceptions\": "
         "[{\"host\": \"b.example\", \"until\": 1900000000}]}}}", id);
  cr_assert_eq(num(u, "revision"), 2);
  cr_assert_str_eq(str(u, "name"), "edited");
  ev = last_event("profile");
  cr_assert_str_eq(str(json_object_get(ev, "data"), "action"), "updated");

  /* What get shows, update takes back: "until" included. */
  p = ok("profiles.get", "{\"id\": \"edited\"}");
  cr_assert(json_equal(p, u));
  cr_assert_str_eq(str(json_array_get(json_object_get(
    json_object_get(p, "secure_access"), "exceptions"), 0), "until"),
    "2030-03-17T17:46:40Z");
  json_decref(u);
  u = ok("profiles.update", "{\"id\": \"%s\", \"revision\": 2, "
         "\"patch\": {\"secure_access\": %s}}", id,
         keep(json_dumps(json_object_get(p, "secure_access"), 0)));
  cr_assert_eq(num(u, "revision"), 3);
  cr_assert(json_equal(json_object_get(u, "secure_access"),
                       json_object_get(p, "secure_access")));

  /* The revision the client had is now stale. */
  fails(-32002, "profiles.update", "{\"id\": \"%s\", \"revision\": 2, "
        "\"patch\": {}}", id);

  json_decref(p);
  json_decref(u);
  free(id);
}

Test(api, delete)
{
  const json_t *ev;
  json_t *r;
  char *id, *path = NULL;
  struct stat st;

  id = create("{\"name\": \"gone\"}");
  cr_assert(asprintf(&path, "%s/data/profiles/%s", fx.dir, id) > 0);
  cr_assert_eq(stat(path, &st), 0, "no data folder %s", path);

  r = ok("profiles.delete", "{\"id\": \"gone\", \"purge\": true, "
         "\"revision\": 1}");
  cr_assert(json_is_object(r) && json_object_size(r) == 0);
  json_decref(r);

  ev = last_event("profile");
  cr_assert_str_eq(str(ev, "profile"), id);
  cr_assert_str_eq(str(json_object_get(ev, "data"), "action"), "deleted");
  cr_assert_neq(stat(path, &st), 0, "the data folder stayed");
  fails(-32001, "profiles.get", "{\"id\": \"%s\"}", id);

  free(path);
  free(id);
}

Test(api, export_import)
{
  json_t *doc, *r, *ids, *p;
  char *text, *id;

  id = create("{\"name\": \"moving\", \"proxy\": "
              "\"http://u:secret@proxy.example:3128\"}");
  free(create("{\"name\": \"staying\"}"));

  /* An export moves profiles whole: the password is there. */
  doc = ok("profiles.export", "{\"ids\": [\"moving\"]}");
  cr_assert_eq(num(doc, "version"), 1);
  cr_assert_eq(json_array_size(json_object_get(doc, "profiles")), 1);
  cr_assert_str_eq(str(json_array_get(json_object_get(doc, "profiles"), 0),
                       "proxy"), "http://u:secret@proxy.example:3128");
  r = ok("profiles.export", "{}");
  cr_assert_eq(json_array_size(json_object_get(r, "profiles")), 2);
  json_decref(r);

  /* Deleted, then imported back with its id. */
  json_decref(ok("profiles.delete", "{\"id\": \"moving\"}"));
  json_array_clear(fx.ctx.events);
  text = json_dumps(doc, 0);
  r = ok("profiles.import", "%s", text);
  ids = json_object_get(r, "ids");
  cr_assert_eq(json_array_size(ids), 1);
  cr_assert_str_eq(json_string_value(json_array_get(ids, 0)), id);
  cr_assert_str_eq(str(json_object_get(last_event("profile"), "data"),
                       "action"), "created");
  json_decref(r);

  /* A profile without an id gets one, and the answer names it. */
  r = ok("profiles.import", "{\"profiles\": [{\"name\": \"new-one\"}]}");
  ids = json_object_get(r, "ids");
  cr_assert(pw_profile_id_valid(json_string_value(json_array_get(ids, 0))));
  p = ok("profiles.get", "{\"id\": \"%s\"}",
         json_string_value(json_array_get(ids, 0)));
  cr_assert_str_eq(str(p, "name"), "new-one");
  json_decref(p);
  json_decref(r);

  r = ok("engine.status", "{}");
  cr_assert_eq(num(r, "profiles"), 3);
  json_decref(r);

  free(text);
  free(id);
  json_decref(doc);
}

/* ---- pins --------------------------------------------------------- */

Test(api, pins_compute)
{
  certgen_pki_t pki;
  char *pem, *pem2, *both, want[PW_PIN_TEXT_MAX];
  json_t *params, *r, *pins;

  cr_assert_eq(certgen_pki(&pki), 0);
  pem = pem_of(pki.leaf);
  pem2 = pem_of(pki.root);
  cr_assert(asprintf(&both, "%s%s", pem, pem2) > 0);
  params = json_pack("{s:s}", "pem", both);

  r = ok("pins.compute", "%s", keep(json_dumps(params, 0)));
  pins = json_object_get(r, "pins");
  cr_assert_eq(json_array_size(pins), 2);
  pin_of(pki.leaf, want);
  cr_assert_str_eq(str(json_array_get(pins, 0), "pin"), want);
  cr_assert(strstr(str(json_array_get(pins, 0), "subject"),
                   "www.example.com") != NULL);
  pin_of(pki.root, want);
  cr_assert_str_eq(str(json_array_get(pins, 1), "pin"), want);

  json_decref(r);
  json_decref(params);
  free(both);
  free(pem);
  free(pem2);
  certgen_pki_free(&pki);
}

Test(api, default_pins)
{
  json_t *r;

  r = ok("pins.defaults.get", "{}");
  cr_assert_eq(json_array_size(json_object_get(r, "pins")), 0);
  cr_assert_eq(num(r, "revision"), 0);
  json_decref(r);

  r = ok("pins.defaults.set", "{\"revision\": 0, \"pins\": [{\"pattern\": "
         "\"**.bank.example\", \"pins\": [\"" PIN_A "\", \"" PIN_B "\"]}]}");
  cr_assert_eq(num(r, "revision"), 1);
  cr_assert_str_eq(str(json_array_get(json_object_get(r, "pins"), 0),
                       "pattern"), "**.bank.example");
  json_decref(r);

  r = ok("pins.defaults.get", "{}");
  cr_assert_eq(num(r, "revision"), 1);
  cr_assert_eq(json_array_size(json_object_get(r, "pins")), 1);
  json_decref(r);
}

/* ---- Secure Access ------------------------------------------------ */

Test(api, secure_access)
{
  const json_t *ev, *exc;
  json_t *r;
  char *id;

  id = create("{\"name\": \"sa\"}");

  r = ok("secure_access.set", "{\"id\": \"sa\", \"enabled\": true, "
         "\"on_http\": \"block\"}");
  cr_assert(json_is_true(json_object_get(r, "enabled")));
  cr_assert_str_eq(str(r, "on_http"), "block");
  ev = last_event("secure_access");
  cr_assert_str_eq(str(ev, "profile"), id);
  cr_assert(json_equal(json_object_get(ev, "data"), r));
  json_decref(r);

  /* The revision moved: a "profile" event carries the new one. */
  ev = json_object_get(last_event("profile"), "data");
  cr_assert_str_eq(str(ev, "action"), "updated");
  cr_assert_eq(num(json_object_get(ev, "profile"), "revision"), 2);

  r = ok("secure_access.exception.add", "{\"id\": \"%s\", \"host\": "
         "\"Intranet.Example\", \"ttl_s\": 3600}", id);
  exc = json_object_get(r, "exceptions");
  cr_assert_eq(json_array_size(exc), 1);
  cr_assert_str_eq(str(json_array_get(exc, 0), "host"), "intranet.example");
  cr_assert_eq(strlen(str(json_array_get(exc, 0), "until")), 20);
  json_decref(r);

  r = ok("secure_access.exception.add", "{\"id\": \"sa\", \"host\": "
         "\"printer.lan\"}");
  cr_assert_eq(json_array_size(json_object_get(r, "exceptions")), 2);
  json_decref(r);

  r = ok("secure_access.exception.remove", "{\"id\": \"sa\", \"host\": "
         "\"intranet.example\"}");
  exc = json_object_get(r, "exceptions");
  cr_assert_eq(json_array_size(exc), 1);
  cr_assert(json_is_null(json_object_get(json_array_get(exc, 0), "until")));
  json_decref(r);

  /* Each change is stored: the profile moved on by four revisions. */
  r = ok("profiles.get", "{\"id\": \"sa\"}");
  cr_assert_eq(num(r, "revision"), 5);
  cr_assert_str_eq(str(json_object_get(r, "secure_access"), "on_http"),
                   "block");
  json_decref(r);
  free(id);
}

/* ---- events ------------------------------------------------------- */

Test(api, events_subscribe)
{
  pw_api_session_t *s = &fx.session;
  char *id = create("{\"name\": \"Watched\"}");
  json_t *r;

  cr_assert(!pw_api_wants(s, PW_TOPIC_PROFILE, id));

  r = ok("events.subscribe", "{\"topics\": [\"profile\", \"decision\"]}");
  cr_assert_eq(json_array_size(json_object_get(r, "topics")), 2);
  json_decref(r);
  cr_assert(pw_api_wants(s, PW_TOPIC_PROFILE, id));
  cr_assert(pw_api_wants(s, PW_TOPIC_DECISION, ""));
  cr_assert(!pw_api_wants(s, PW_TOPIC_SECURE_ACCESS, id));

  /* Narrowed to one profile. */
  r = ok("events.subscribe", "{\"topics\": [\"browser\"], \"id\": \"%s\"}",
         id);
  cr_assert_eq(json_array_size(json_object_get(r, "topics")), 3);
  json_decref(r);
  cr_assert(pw_api_wants(s, PW_TOPIC_BROWSER, id));
  cr_assert(!pw_api_wants(s, PW_TOPIC_PROFILE,
                          "00000000-0000-4000-8000-000000000000"));

  r = ok("events.unsubscribe", "{\"topics\": [\"profile\", \"decision\", "
         "\"browser\"]}");
  cr_assert_eq(json_array_size(json_object_get(r, "topics")), 0);
  json_decref(r);
  cr_assert(!pw_api_wants(s, PW_TOPIC_PROFILE, id));
  cr_assert_str_eq(s->topic_profile, "");

  /* By name, in any case: the filter holds the UUID. */
  json_decref(ok("events.subscribe", "{\"topics\": [\"profile\"], "
                 "\"id\": \"watched\"}"));
  cr_assert_str_eq(s->topic_profile, id);

  /* A renamed profile is found by its new name only. */
  json_decref(ok("profiles.update", "{\"id\": \"%s\", \"revision\": 1, "
                 "\"patch\": {\"name\": \"Renamed\"}}", id));
  json_decref(ok("events.subscribe", "{\"topics\": [\"profile\"], "
                 "\"id\": \"renamed\"}"));
  fails(-32001, "events.subscribe", "{\"topics\": [\"profile\"], "
        "\"id\": \"watched\"}");

  /* A deleted one is gone from the map. */
  json_decref(ok("profiles.delete", "{\"id\": \"%s\"}", id));
  fails(-32001, "events.subscribe", "{\"topics\": [\"profile\"], "
        "\"id\": \"%s\"}", id);
  free(id);
}

/* ---- scoped sessions ---------------------------------------------- */

/* A scoped session's calls on another profile, and the engine's. */
static const struct error_case scoped_cases[] = {
  { "get other", "profiles.get", "{\"id\": \"%s\"}", -32003 },
  { "get other by name", "profiles.get", "{\"id\": \"other\"}", -32003 },
  { "get one that does not exist", "profiles.get", "{\"id\": \"zed\"}",
    -32003 },
  { "update other", "profiles.update",
    "{\"id\": \"%s\", \"revision\": 1, \"patch\": {}}", -32003 },
  { "delete other", "profiles.delete", "{\"id\": \"%s\"}", -32003 },
  { "export other", "profiles.export", "{\"ids\": [\"%s\"]}", -32003 },
  { "sa other", "secure_access.set",
    "{\"id\": \"%s\", \"enabled\": false}", -32003 },
  { "exception other", "secure_access.exception.add",
    "{\"id\": \"%s\", \"host\": \"a.example\"}", -32003 },
  { "exception remove other", "secure_access.exception.remove",
    "{\"id\": \"%s\", \"host\": \"a.example\"}", -32003 },
  { "verify url other", "verify.url",
    "{\"id\": \"%s\", \"url\": \"http://a.example/\"}", -32003 },
  { "decisions other", "decisions.list", "{\"id\": \"%s\"}", -32003 },
  { "subscribe other", "events.subscribe",
    "{\"topics\": [\"profile\"], \"id\": \"%s\"}", -32003 },
  { "create", "profiles.create", "{\"name\": \"x%s\"}", -32003 },
  { "import", "profiles.import",
    "{\"profiles\": [{\"name\": \"x%s\"}]}", -32003 },
  { "defaults set", "pins.defaults.set", "{\"pins\": [], \"x\": \"%s\"}",
    -32003 },
  { "token", "tokens.create", "{\"id\": \"%s\"}", -32003 },
  { "start other", "profiles.start",
    "{\"id\": \"%s\", \"browser\": false}", -32003 },
  { "stop other", "profiles.stop", "{\"id\": \"%s\"}", -32003 },
};

ParameterizedTestParameters(api, scoped_refused)
{
  return case_indices(NCASES(scoped_cases));
}

ParameterizedTest(size_t *i, api, scoped_refused)
{
  const struct error_case *c = &scoped_cases[*i];
  pw_api_session_t s;
  char *mine, *other;

  mine = create("{\"name\": \"mine\"}");
  other = create("{\"name\": \"other\"}");
  scoped_session(mine, &s);

  as_fails(&s, c->code, c->method, c->params, other);

  free(mine);
  free(other);
}

Test(api, scoped_own_profile)
{
  char pin[PW_PIN_TEXT_MAX], *mine, *other, *leaf, *old_token = NULL;
  certgen_pki_t pki;
  pw_api_session_t s, again;
  json_t *r, *t;

  cr_assert_eq(certgen_pki(&pki), 0);
  pin_of(pki.leaf, pin);
  mine = pinned_profile("mine", pki.root, pin);
  json_decref(ok("profiles.update", "{\"id\": \"mine\", \"revision\": 1, "
                 "\"patch\": {\"tags\": [\"t\"], \"proxy\": "
                 "\"http://u:pw@proxy.example:3128\"}}"));
  other = create("{\"name\": \"other\"}");
  scoped_session(mine, &s);
  leaf = b64_der(pki.leaf);

  /* It lists, reads and changes its own profile, "id" or not. */
  r = as_ok(&s, "profiles.list", "{}");
  cr_assert_eq(json_array_size(json_object_get(r, "profiles")), 1);
  cr_assert_str_eq(str(json_array_get(json_object_get(r, "profiles"), 0),
                       "id"), mine);
  json_decref(r);
  r = as_ok(&s, "profiles.list", "{\"tag\": \"nope\"}");
  cr_assert_eq(json_array_size(json_object_get(r, "profiles")), 0);
  json_decref(r);
  r = as_ok(&s, "profiles.get", "{}");
  cr_assert_str_eq(str(r, "id"), mine);
  json_decref(r);
  r = as_ok(&s, "profiles.get", "{\"id\": \"MINE\"}");
  cr_assert_str_eq(str(r, "id"), mine);
  json_decref(r);
  json_decref(as_ok(&s, "secure_access.set", "{\"enabled\": true}"));
  json_decref(as_ok(&s, "verify.url", "{\"url\": \"http://a.example/\"}"));
  json_decref(as_ok(&s, "pins.defaults.get", "{}"));

  /* It reads its own decisions only. */
  json_decref(ok("verify.url", "{\"id\": \"other\", \"url\": \"http://x/\"}"));
  r = as_ok(&s, "decisions.list", "{}");
  cr_assert_eq(json_array_size(json_object_get(r, "decisions")), 1);
  json_decref(r);

  /* Its verifications are its profile's. */
  r = as_ok(&s, "verify.chain", "{\"host\": \"www.example.com\", "
            "\"chain\": [\"%s\", \"%s\"], \"at\": %lld}", leaf,
            keep(b64_der(pki.inter)), (long long) CERTGEN_NOW);
  cr_assert_str_eq(str(r, "id"), mine);
  cr_assert_str_eq(str(r, "reason"), "ok");
  json_decref(r);
  as_fails(&s, -32003, "verify.chain", "{\"id\": \"other\", \"host\": "
           "\"www.example.com\", \"chain\": [\"%s\"]}", leaf);

  /* Its export keeps the password back. */
  r = as_ok(&s, "profiles.export", "{}");
  cr_assert_str_eq(str(json_array_get(json_object_get(r, "profiles"), 0),
                       "proxy"), "http://u:***@proxy.example:3128");
  json_decref(r);

  /* It hears of its own profile only. */
  json_decref(as_ok(&s, "events.subscribe", "{\"topics\": [\"profile\"]}"));
  cr_assert(pw_api_wants(&s, PW_TOPIC_PROFILE, mine));
  cr_assert(!pw_api_wants(&s, PW_TOPIC_PROFILE, other));
  cr_assert(!pw_api_wants(&s, PW_TOPIC_PROFILE, ""));

  /* A new token for the profile retires the one before. */
  t = ok("tokens.create", "{\"id\": \"mine\"}");
  old_token = strdup(str(t, "token"));
  json_decref(t);
  t = ok("tokens.create", "{\"id\": \"mine\"}");
  memset(&again, 0, sizeof(again));
  cr_assert(!pw_api_authenticate(fx.api, old_token, &again));
  free(old_token);
  old_token = strdup(str(t, "token"));
  json_decref(t);
  cr_assert(pw_api_authenticate(fx.api, old_token, &again));
  cr_assert_str_eq(again.scope, mine);

  /* A session already open with a retired token loses its rights too. */
  as_fails(&s, -32003, "profiles.get", "{}");
  as_fails(&s, -32003, "engine.status", "{}");
  cr_assert(!pw_api_session_valid(fx.api, &s));

  /* It may delete its profile, and the token goes with it. */
  json_decref(as_ok(&again, "profiles.delete", "{}"));
  as_fails(&again, -32003, "profiles.get", "{}");
  cr_assert(!pw_api_session_valid(fx.api, &again));
  memset(&again, 0, sizeof(again));
  cr_assert(!pw_api_authenticate(fx.api, old_token, &again));

  free(old_token);
  free(leaf);
  free(mine);
  free(other);
  certgen_pki_free(&pki);
}

/* ---- running profiles, in an engine that runs no gateways ------------ */

/*
 * The unit fixture has no loop and no runner: what it can show is the
 * checks of the pool's half of profiles.start and .stop;
 * tests/integration/gateway.test.mjs starts and stops real ones.
 */
static const struct error_case run_cases[] = {
  { "start, headless not a boolean", "profiles.start",
    "{\"id\": \"%s\", \"headless\": \"yes\"}", -32602 },
  { "start, browser not a boolean", "profiles.start",
    "{\"id\": \"%s\", \"browser\": 0}", -32602 },
  { "start, an unknown key", "profiles.start",
    "{\"id\": \"%s\", \"browser\": false, \"x\": 1}", -32602 },
  { "start of nobody", "profiles.start",
    "{\"id\": \"nobody%s\", \"browser\": false}", -32001 },
  { "start without a runner", "profiles.start",
    "{\"id\": \"%s\", \"browser\": false}", -32603 },
  { "stop of nobody", "profiles.stop", "{\"id\": \"nobody%s\"}",
    -32001 },
  { "stop without id", "profiles.stop", "{\"x\": \"%s\"}", -32602 },
  { "status with params", "profiles.status", "{\"id\": \"%s\"}",
    -32602 },
};

ParameterizedTestParameters(api, run_refused)
{
  return case_indices(NCASES(run_cases));
}

ParameterizedTest(size_t *i, api, run_refused)
{
  const struct error_case *c = &run_cases[*i];
  char *id = create("{\"name\": \"runs\"}");

  fails(c->code, c->method, c->params, id);
  free(id);
}

Test(api, status_without_runner)
{
  json_t *r = ok("profiles.status", "{}");

  cr_assert(json_is_array(json_object_get(r, "running")));
  cr_assert_eq(json_array_size(json_object_get(r, "running")), 0);
  json_decref(r);
}

/* A client's token and the launched browser's never retire each other. */
Test(api, token_kinds)
{
  char browser[PW_API_TOKEN_LEN], browser2[PW_API_TOKEN_LEN], *mine;
  pw_api_session_t b, c;
  pw_err_t err;
  json_t *t;

  mine = create("{\"name\": \"kinds\"}");
  cr_assert_eq(pw_api_token_scoped(fx.api, mine, PW_API_TOKEN_BROWSER,
                                   browser, &err), PW_OK, "%s", err.msg);
  memset(&b, 0, sizeof(b));
  cr_assert(pw_api_authenticate(fx.api, browser, &b));

  /* tokens.create for a running profile leaves its browser's token. */
  scoped_session(mine, &c);
  scoped_session(mine, &c);
  cr_assert(pw_api_session_valid(fx.api, &b), "the browser's token went");
  json_decref(as_ok(&b, "profiles.get", "{}"));

  /* A new launch retires the browser's token, not the client's. */
  cr_assert_eq(pw_api_token_scoped(fx.api, mine, PW_API_TOKEN_BROWSER,
                                   browser2, &err), PW_OK, "%s", err.msg);
  cr_assert(!pw_api_session_valid(fx.api, &b), "a retired launch token");
  as_fails(&b, -32003, "profiles.get", "{}");
  cr_assert(pw_api_session_valid(fx.api, &c), "the client's token went");
  memset(&b, 0, sizeof(b));
  cr_assert(!pw_api_authenticate(fx.api, browser, &b));
  cr_assert(pw_api_authenticate(fx.api, browser2, &b));

  /* The profile's deletion takes every kind. */
  t = ok("profiles.delete", "{\"id\": \"%s\"}", mine);
  json_decref(t);
  cr_assert(!pw_api_session_valid(fx.api, &b));
  cr_assert(!pw_api_session_valid(fx.api, &c));
  memset(&b, 0, sizeof(b));
  cr_assert(!pw_api_authenticate(fx.api, browser2, &b));

  explicit_bzero(browser, sizeof(browser));
  explicit_bzero(browser2, sizeof(browser2));
  free(mine);
}
