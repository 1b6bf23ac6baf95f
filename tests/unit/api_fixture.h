/*
 * The fixture of the API tests: one engine per test on a fresh data
 * folder, calls through the JSON-RPC dispatcher as a session, and
 * certificates to verify.  Each test runs in a process of its own, so
 * the fixture is the test's.
 */
#ifndef PW_TEST_API_FIXTURE_H
#define PW_TEST_API_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/alloc.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "engine/pins.h"
#include "ipc/api.h"
#include "tests/unit/cases.h"
#include "tests/unit/certgen.h"

#define PIN_A "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define PIN_B "sha256/BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA="

/* ---- the fixture -------------------------------------------------- */

/*
 * One engine per test on a fresh data folder; each test runs in a
 * process of its own, so these are the test's, and the suite's fini
 * removes the folder.
 */
static struct {
  char            *dir;
  pw_api_t        *api;
  pw_api_session_t session;
  pw_api_ctx_t     ctx;
  char            *kept[16];   /* texts built inline, freed at the end */
} fx;

/* Keeps s until the test ends, for a text built inside a call. */
static inline char *
keep(char *s)
{
  size_t i;

  for (i = 0; i < sizeof(fx.kept) / sizeof(fx.kept[0]); i++) {
    if (fx.kept[i] == NULL) {
      fx.kept[i] = s;
      return s;
    }
  }
  cr_assert_fail("more kept texts than the fixture holds");
  return s;
}

static inline int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(path);
}

static inline void
fx_fini(void)
{
  size_t i;

  for (i = 0; i < sizeof(fx.kept) / sizeof(fx.kept[0]); i++)
    free(fx.kept[i]);
  pw_api_free(fx.api);
  json_decref(fx.ctx.events);
  if (fx.dir != NULL)
    nftw(fx.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(fx.dir);
  memset(&fx, 0, sizeof(fx));
}

static inline void
fx_init(void)
{
  const char *base = getenv("PW_TEST_TMP");
  pw_err_t err = { 0 };
  char *data = NULL;
  int rc;

  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  cr_assert(asprintf(&fx.dir, "%s/pw-api-XXXXXX", base) > 0);
  cr_assert_not_null(mkdtemp(fx.dir), "mkdtemp: %s", strerror(errno));
  cr_assert(asprintf(&data, "%s/data", fx.dir) > 0);

  rc = pw_api_new(&fx.api, data, &err);
  cr_assert_eq(rc, PW_OK, "pw_api_new: %s %s", pw_err_name(rc), err.msg);
  free(data);

  cr_assert(pw_api_authenticate(fx.api, pw_api_token(fx.api),
                                &fx.session));
  fx.ctx.api = fx.api;
  fx.ctx.session = &fx.session;
  fx.ctx.events = json_array();
}

/* ---- calling ------------------------------------------------------ */

/* Runs method with params (JSON text, printf-style) as the session. */
static inline json_t *
vcall(pw_api_session_t *s, const char *method, const char *fmt, va_list ap)
{
  pw_api_ctx_t ctx = fx.ctx;
  char *params = NULL, *msg = NULL;
  json_t *resp;

  cr_assert(vasprintf(&params, fmt, ap) >= 0);
  cr_assert(asprintf(&msg, "{\"jsonrpc\": \"2.0\", \"id\": 1, "
                     "\"method\": \"%s\", \"params\": %s}", method,
                     params) > 0);
  ctx.session = s;
  resp = pw_rpc_handle(pw_api_methods(), &ctx, msg, strlen(msg));
  cr_assert_not_null(resp, "%s: no response", msg);

  free(params);
  free(msg);
  return resp;
}

static inline json_t *
as_ok(pw_api_session_t *s, const char *method, const char *fmt, ...)
{
  json_t *resp, *result;
  va_list ap;
  char *text;

  va_start(ap, fmt);
  resp = vcall(s, method, fmt, ap);
  va_end(ap);

  result = json_object_get(resp, "result");
  text = json_dumps(resp, 0);
  cr_assert_not_null(result, "%s: %s", method, text);
  free(text);

  json_incref(result);
  json_decref(resp);
  return result;
}

static inline void
as_fails(pw_api_session_t *s, int code, const char *method,
         const char *fmt, ...)
{
  json_t *resp, *error;
  va_list ap;
  char *text;

  va_start(ap, fmt);
  resp = vcall(s, method, fmt, ap);
  va_end(ap);

  error = json_object_get(resp, "error");
  text = json_dumps(resp, 0);
  cr_assert_eq(json_integer_value(json_object_get(error, "code")), code,
               "%s: want %d, got %s", method, code, text);
  cr_assert(json_string_length(json_object_get(error, "message")) > 0,
            "%s: no message in %s", method, text);
  free(text);
  json_decref(resp);
}

#define ok(...)        as_ok(&fx.session, __VA_ARGS__)
#define fails(...)     as_fails(&fx.session, __VA_ARGS__)

static inline const char *
str(const json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));

  cr_assert_not_null(s, "no string %s", key);
  return s;
}

static inline json_int_t
num(const json_t *o, const char *key)
{
  const json_t *v = json_object_get(o, key);

  cr_assert(json_is_integer(v), "no integer %s", key);
  return json_integer_value(v);
}

/* Creates a profile and returns its id (the caller frees). */
static inline char *
create(const char *params)
{
  json_t *p = ok("profiles.create", "%s", params);
  char *id = strdup(str(p, "id"));

  json_decref(p);
  return id;
}

/* The last event appended with the topic; there must be one. */
static inline const json_t *
last_event(const char *topic)
{
  size_t n = json_array_size(fx.ctx.events);
  const json_t *ev;

  while (n-- > 0) {
    ev = json_array_get(fx.ctx.events, n);
    if (strcmp(json_string_value(json_object_get(ev, "topic")), topic)
        == 0)
      return ev;
  }
  cr_assert_fail("no %s event", topic);
  return NULL;
}

/* A session holding a token scoped to profile id. */
static inline void
scoped_session(const char *id, pw_api_session_t *s)
{
  json_t *t = ok("tokens.create", "{\"id\": \"%s\"}", id);

  memset(s, 0, sizeof(*s));
  cr_assert(pw_api_authenticate(fx.api, str(t, "token"), s));
  cr_assert_str_eq(s->scope, id);
  json_decref(t);
}

/* ---- certificates ------------------------------------------------- */

static inline char *
pem_of(X509 *x)
{
  BIO *b = BIO_new(BIO_s_mem());
  char *data, *out;
  long n;

  cr_assert(PEM_write_bio_X509(b, x));
  n = BIO_get_mem_data(b, &data);
  out = strndup(data, (size_t) n);
  BIO_free(b);
  return out;
}

static inline char *
b64_der(X509 *x)
{
  unsigned char *der = NULL;
  char *out;
  int n;

  n = i2d_X509(x, &der);
  cr_assert_gt(n, 0);
  out = malloc(4 * ((size_t) n + 2) / 3 + 1);
  EVP_EncodeBlock((unsigned char *) out, der, n);
  OPENSSL_free(der);
  return out;
}

static inline void
pin_of(X509 *x, char out[PW_PIN_TEXT_MAX])
{
  pw_pin_t pin;

  cr_assert_eq(pw_pins_of_cert(&pin, x, NULL), PW_OK);
  pw_pins_format(&pin, out);
}

/*
 * A root and a leaf for www.example.com valid around the real time, for
 * the paths that verify "now" (certgen_pki is valid around
 * CERTGEN_NOW, which the calls with "at" use).
 */
static inline void
pki_now(certgen_pki_t *pki)
{
  int64_t now = (int64_t) time(NULL);
  certgen_spec_t root = {
    .cn = "Now Root", .ca = 1, .not_before = now - 86400,
    .not_after = now + 86400 * 30,
  };
  certgen_spec_t leaf = root;

  memset(pki, 0, sizeof(*pki));
  pki->root = certgen_cert(&root, &pki->root_key);
  cr_assert_not_null(pki->root);
  leaf.cn = "www.example.com";
  leaf.dns = "www.example.com";
  leaf.ca = 0;
  leaf.issuer = pki->root;
  leaf.issuer_key = pki->root_key;
  pki->leaf = certgen_cert(&leaf, &pki->leaf_key);
  cr_assert_not_null(pki->leaf);
}

/* A profile trusting pki's root, pinned to `pin` for www.example.com. */
static inline char *
pinned_profile(const char *name, X509 *root, const char *pin)
{
  json_t *params;
  char *pem = pem_of(root), *text, *id;

  params = json_pack("{s:s, s:s, s:[{s:s, s:[s,s]}]}", "name", name,
                     "roots", pem, "pins", "pattern", "www.example.com",
                     "pins", pin, PIN_B);
  text = json_dumps(params, 0);
  id = create(text);

  free(text);
  free(pem);
  json_decref(params);
  return id;
}

#endif
