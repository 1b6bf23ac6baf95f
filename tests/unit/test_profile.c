#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/alloc.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <openssl/pem.h>

#include "profiles/profile.h"
#include "tests/unit/certgen.h"
#include "tests/unit/cases.h"

/* Two well-formed pins (SHA-256 of nothing in particular). */
#define PIN_A "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define PIN_B "sha256/BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA="

/* ---- profile documents ------------------------------------------------ */

struct doc_case {
  const char *doc;
  int         rc;
  const char *msg;    /* substring of the error, or NULL when rc is OK */
};

static const struct doc_case doc_cases[] = {
  /* The least a profile needs: a name. */
  { "{\"name\":\"a\"}", PW_OK, NULL },

  /* Every field at once. */
  { "{\"name\":\"shop-eu-1\",\"tags\":[\"eu\",\"shop\"],"
    "\"proxy\":\"socks5h://u:p@10.0.0.8:1080\","
    "\"secure_access\":{\"enabled\":true,\"on_http\":\"block\"},"
    "\"pins\":[{\"pattern\":\"login.example.com\",\"pins\":[\"" PIN_A
    "\",\"" PIN_B "\"]}],"
    "\"resolve\":{\"API.Example.com\":\"203.0.113.7\"},"
    "\"browser\":{\"user_agent\":\"UA/1\",\"language\":\"de-DE\","
    "\"timezone\":\"Europe/Berlin\",\"window\":{\"width\":1280,"
    "\"height\":800},\"args\":[\"--force-dark-mode\"]},\"roots\":null}",
    PW_OK, NULL },

  /* 128 characters of two bytes each is still 128 characters. */
  { "{\"name\":\""
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\"}", PW_OK, NULL },

  /* "none" is a direct connection, like null. */
  { "{\"name\":\"a\",\"proxy\":\"none\"}", PW_OK, NULL },

  /* The name is required. */
  { "{\"tags\":[]}", PW_EINVAL, "name: is required" },

  /* An empty name is no name. */
  { "{\"name\":\"\"}", PW_EINVAL, "name: must not be empty" },

  /* 129 characters. */
  { "{\"name\":\"0123456789012345678901234567890123456789012345678901234567"
    "89012345678901234567890123456789012345678901234567890123456789012345"
    "678\"}", PW_EINVAL, "name: longer than 128" },

  /* A name that reads as an id would name two profiles. */
  { "{\"name\":\"9b2f0c1e-1111-4222-8333-444455556666\"}", PW_EINVAL,
    "name: must not be a UUID" },
  { "{\"name\":\"9B2F0C1E-1111-4222-8333-444455556666\"}", PW_EINVAL,
    "name: must not be a UUID" },
  { "{\"name\":\"9b2f0c1e-1111-4222-8333-44445555666\"}", PW_OK, NULL },

  /* A line break in a name would forge lines in a log. */
  { "{\"name\":\"a\\nb\"}", PW_EINVAL, "name: holds a control" },

  /* An escaped NUL would cut the name short in C: jansson refuses it. */
  { "{\"name\":\"a\\u0000b\"}", PW_EINVAL, "not JSON" },

  /* A C1 control (U+0085) is a control too. */
  { "{\"name\":\"a\\u0085b\"}", PW_EINVAL, "name: holds a control" },

  /* A number is not a name. */
  { "{\"name\":7}", PW_EINVAL, "name: must be a string" },

  /* Unknown keys are errors, not ignored. */
  { "{\"name\":\"a\",\"colour\":\"red\"}", PW_EINVAL,
    "colour: unknown key" },

  /* The id is the store's to give. */
  { "{\"name\":\"a\",\"id\":\"9b2f0c1e-1111-4222-8333-444455556666\"}",
    PW_EINVAL, "id: is set by the store" },

  /* So is the revision. */
  { "{\"name\":\"a\",\"revision\":3}", PW_EINVAL,
    "revision: is set by the store" },

  /* A document must be an object. */
  { "[1,2]", PW_EINVAL, "must be a JSON object" },

  /* Broken JSON says where. */
  { "{\"name\":", PW_EINVAL, "not JSON: line 1" },

  /* A key given twice is ambiguous. */
  { "{\"name\":\"a\",\"name\":\"b\"}", PW_EINVAL, "duplicate" },

  /* Tags are strings. */
  { "{\"name\":\"a\",\"tags\":[\"x\",3]}", PW_EINVAL,
    "tags[1]: must be a string" },

  /* Tags are an array. */
  { "{\"name\":\"a\",\"tags\":\"x\"}", PW_EINVAL, "tags: must be an array" },

  /* A tag twice. */
  { "{\"name\":\"a\",\"tags\":[\"x\",\"x\"]}", PW_EINVAL,
    "tags[1]: same as tags[0]" },

  /* 33 tags. */
  { "{\"name\":\"a\",\"tags\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
    "\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\","
    "\"18\",\"19\",\"20\",\"21\",\"22\",\"23\",\"24\",\"25\",\"26\",\"27\","
    "\"28\",\"29\",\"30\",\"31\",\"32\",\"33\"]}", PW_EINVAL,
    "tags: more than 32" },

  /* The proxy error names the field and the scheme. */
  { "{\"name\":\"a\",\"proxy\":\"ftp://h:21\"}", PW_EINVAL,
    "proxy: scheme 'ftp' is not one of http, https, socks5, socks5h" },

  /* A proxy is a string or null. */
  { "{\"name\":\"a\",\"proxy\":5}", PW_EINVAL, "proxy: must be a URL" },

  /* Secure Access errors carry the field name. */
  { "{\"name\":\"a\",\"secure_access\":{\"on\":true}}", PW_EINVAL,
    "secure_access: " },

  /* Secure Access is an object. */
  { "{\"name\":\"a\",\"secure_access\":true}", PW_EINVAL,
    "secure_access: must be an object" },

  /* A bad pin is found by the policy and named by index. */
  { "{\"name\":\"a\",\"pins\":[{\"pattern\":\"a.example\","
    "\"pins\":[\"md5/xx\"]}]}", PW_EINVAL, "pins[0]: " },

  /* Pins are an array. */
  { "{\"name\":\"a\",\"pins\":{}}", PW_EINVAL, "pins: must be an array" },

  /* The resolve map takes only IP literals: no look-up on this machine. */
  { "{\"name\":\"a\",\"resolve\":{\"a.example\":\"b.example\"}}",
    PW_EINVAL, "resolve: 'a.example': address is not an IP literal" },

  /* A host that is not a host name. */
  { "{\"name\":\"a\",\"resolve\":{\"a b\":\"192.0.2.1\"}}", PW_EINVAL,
    "resolve: 'a b': " },

  /* Mapping an address to an address means nothing. */
  { "{\"name\":\"a\",\"resolve\":{\"192.0.2.9\":\"192.0.2.1\"}}",
    PW_EINVAL, "is an IP literal, not a name" },

  /* Two spellings of one host. */
  { "{\"name\":\"a\",\"resolve\":{\"A.example\":\"192.0.2.1\","
    "\"a.example.\":\"192.0.2.2\"}}", PW_EINVAL,
    "resolve: 'a.example': given twice" },

  /* Browser settings are checked key by key. */
  { "{\"name\":\"a\",\"browser\":{\"colour\":1}}", PW_EINVAL,
    "browser.colour: unknown key" },

  /* A window needs both sides. */
  { "{\"name\":\"a\",\"browser\":{\"window\":{\"width\":800}}}", PW_EINVAL,
    "browser.window: needs both" },

  /* A window too small to use. */
  { "{\"name\":\"a\",\"browser\":{\"window\":{\"width\":10,"
    "\"height\":800}}}", PW_EINVAL, "browser.window.width: must be 100" },

  /* A language that is not a tag. */
  { "{\"name\":\"a\",\"browser\":{\"language\":\"de_DE;x\"}}", PW_EINVAL,
    "browser.language: not a language tag" },

  /* A time zone that climbs out of the zone folder. */
  { "{\"name\":\"a\",\"browser\":{\"timezone\":\"../../etc/passwd\"}}",
    PW_EINVAL, "browser.timezone: not a zone name" },

  /* A switch that would take the browser around its gateway. */
  { "{\"name\":\"a\",\"browser\":{\"args\":[\"--ok\","
    "\"--proxy-server=direct://\"]}}", PW_EINVAL,
    "browser.args[1]: --proxy-server is set by the launcher" },

  /* Case does not get a switch past the list. */
  { "{\"name\":\"a\",\"browser\":{\"args\":[\"--SSL-Key-Log-File=/tmp/k\"]}}",
    PW_EINVAL, "browser.args[0]: --ssl-key-log-file" },

  /* Chromium reads a single dash too, and opens bare words as URLs. */
  { "{\"name\":\"a\",\"browser\":{\"args\":[\"-proxy-server=x\"]}}",
    PW_EINVAL, "browser.args[0]: must look like --name" },

  /* Roots must be PEM certificates. */
  { "{\"name\":\"a\",\"roots\":\"hello\"}", PW_EINVAL,
    "roots: must be PEM text" },

  /* A PEM block that does not decode. */
  { "{\"name\":\"a\",\"roots\":\"-----BEGIN CERTIFICATE-----\\nAAAA\\n"
    "-----END CERTIFICATE-----\\n\"}", PW_EINVAL, "roots: " },
};

ParameterizedTestParameters(profile, doc)
{
  return case_indices(NCASES(doc_cases));
}

ParameterizedTest(size_t *i, profile, doc)
{
  const struct doc_case *c = &doc_cases[*i];
  pw_profile_t p;
  pw_err_t err = { 0 };
  int rc;

  pw_profile_init(&p);
  rc = pw_profile_parse(&p, c->doc, strlen(c->doc), 0, &err);
  cr_assert_eq(rc, c->rc, "case %zu: got %s (%s) want %s", *i,
               pw_err_name(rc), err.msg, pw_err_name(c->rc));
  if (c->msg != NULL)
    cr_assert(strstr(err.msg, c->msg) != NULL,
              "case %zu: got '%s' want '%s'", *i, err.msg, c->msg);
  else
    cr_assert_str_not_empty(p.name, "case %zu: no name", *i);
  pw_profile_clear(&p);
}

/* ---- proxy URLs ------------------------------------------------------- */

struct proxy_case {
  const char *in;
  int         rc;
  const char *want;     /* the URL with secrets, or the error substring */
  const char *shown;    /* the redacted URL */
};

static const struct proxy_case proxy_cases[] = {
  /* The default port of the scheme is written out. */
  { "http://proxy.example", PW_OK, "http://proxy.example:80",
    "http://proxy.example:80" },

  /* Scheme and host in lower case; the port kept. */
  { "HTTP://Proxy.Example:3128", PW_OK, "http://proxy.example:3128",
    "http://proxy.example:3128" },

  /* A lone "/" path is no path. */
  { "https://p.example:8443/", PW_OK, "https://p.example:8443",
    "https://p.example:8443" },

  /* SOCKS5 defaults to 1080; the password is hidden when shown. */
  { "socks5://user:secret@10.0.0.8", PW_OK,
    "socks5://user:secret@10.0.0.8:1080",
    "socks5://user:***@10.0.0.8:1080" },

  /* socks5h, IPv6 host in canonical form, user without password. */
  { "socks5h://bob@[2001:DB8:0::1]:9050", PW_OK,
    "socks5h://bob@[2001:db8::1]:9050", "socks5h://bob@[2001:db8::1]:9050" },

  /* Escapes in credentials are decoded, then written back escaped. */
  { "http://us%40er:p%3Ass@h.example:8080", PW_OK,
    "http://us%40er:p%3Ass@h.example:8080",
    "http://us%40er:***@h.example:8080" },

  /* An IDN host becomes its A-label. */
  { "http://b\xc3\xbc" "cher.example:1", PW_OK,
    "http://xn--bcher-kva.example:1", "http://xn--bcher-kva.example:1" },

  /* Not one of the four schemes. */
  { "ftp://h.example", PW_EINVAL,
    "proxy: scheme 'ftp' is not one of http, https, socks5, socks5h", NULL },

  /* SOCKS4 cannot carry names or passwords: not offered. */
  { "socks4://h.example", PW_EINVAL, "scheme 'socks4'", NULL },

  /* No scheme at all. */
  { "h.example:3128", PW_EINVAL, "proxy: ", NULL },

  /* No host. */
  { "http://:3128", PW_EINVAL, "proxy: ", NULL },

  /* A path means the user pasted something else. */
  { "http://h.example/pac.js", PW_EINVAL, "proxy: a path is not allowed",
    NULL },

  /* A query too. */
  { "http://h.example/?a=1", PW_EINVAL, "proxy: a query is not allowed",
    NULL },

  /* And a fragment. */
  { "http://h.example#x", PW_EINVAL, "proxy: a fragment is not allowed",
    NULL },

  /* Port out of range. */
  { "http://h.example:65536", PW_EINVAL, "port", NULL },

  /* Port zero is no port. */
  { "http://h.example:0", PW_EINVAL, "proxy: port must be 1..65535", NULL },

  /* A port that is not a number. */
  { "http://h.example:ab", PW_EINVAL, "proxy: ", NULL },

  /* A password without a user. */
  { "http://:pw@h.example", PW_EINVAL, "proxy: a password needs a user",
    NULL },

  /* A decoded line break in a credential. */
  { "http://a%0d%0a:b@h.example", PW_EINVAL, "control character", NULL },
};

ParameterizedTestParameters(profile, proxy)
{
  return case_indices(NCASES(proxy_cases));
}

ParameterizedTest(size_t *i, profile, proxy)
{
  const struct proxy_case *c = &proxy_cases[*i];
  pw_proxy_t p = { 0 };
  pw_err_t err = { 0 };
  char *full = NULL, *shown = NULL;
  int rc;

  rc = pw_profile_proxy_parse(&p, c->in, &err);
  cr_assert_eq(rc, c->rc, "case %zu: got %s (%s) want %s", *i,
               pw_err_name(rc), err.msg, pw_err_name(c->rc));
  if (rc != PW_OK) {
    cr_assert(strstr(err.msg, c->want) != NULL,
              "case %zu: got '%s' want '%s'", *i, err.msg, c->want);
    cr_assert_eq(p.scheme[0], '\0', "case %zu: left a proxy behind", *i);
    return;
  }

  cr_assert_eq(pw_profile_proxy_url(&p, PW_PROFILE_SECRETS, &full, NULL),
               PW_OK);
  cr_assert_eq(pw_profile_proxy_url(&p, PW_PROFILE_REDACT, &shown, NULL),
               PW_OK);
  cr_assert_str_eq(full, c->want, "case %zu: got %s want %s", *i, full,
                   c->want);
  cr_assert_str_eq(shown, c->shown, "case %zu: got %s want %s", *i, shown,
                   c->shown);

  free(full);
  free(shown);
  pw_profile_proxy_clear(&p);
}

/* ---- redaction -------------------------------------------------------- */

struct redact_case {
  unsigned flags;
  bool     secret_shown;
};

static const struct redact_case redact_cases[] = {
  /* Listings ask for redaction by name. */
  { PW_PROFILE_REDACT, false },
  /* No flag is the same as redaction: the safe default. */
  { 0, false },
  /* Export asks for the secret explicitly. */
  { PW_PROFILE_SECRETS, true },
  /* Redaction wins over a request for secrets. */
  { PW_PROFILE_SECRETS | PW_PROFILE_REDACT, false },
};

Test(profile, redaction)
{
  static const char doc[] =
    "{\"name\":\"a\",\"proxy\":\"socks5://alice:S3cr3tPw@10.0.0.8:1080\"}";
  pw_profile_t p;
  json_t *o;
  char *text;
  size_t i;

  pw_profile_init(&p);
  cr_assert_eq(pw_profile_parse(&p, doc, strlen(doc), 0, NULL), PW_OK);

  for (i = 0; i < NCASES(redact_cases); i++) {
    o = pw_profile_to_json(&p, redact_cases[i].flags);
    text = json_dumps(o, 0);
    cr_assert_eq(strstr(text, "S3cr3tPw") != NULL,
                 redact_cases[i].secret_shown, "case %zu: %s", i, text);
    cr_assert_eq(strstr(text, "alice:***@") != NULL,
                 !redact_cases[i].secret_shown, "case %zu: %s", i, text);
    free(text);
    json_decref(o);
  }
  pw_profile_clear(&p);
}

/* ---- round trips, patches, ids ---------------------------------------- */

static char *
root_pem(void)
{
  certgen_pki_t pki;
  BIO *bio = BIO_new(BIO_s_mem());
  char *data, *pem;
  long len;

  cr_assert_eq(certgen_pki(&pki), 0);
  cr_assert_eq(PEM_write_bio_X509(bio, pki.root), 1);
  len = BIO_get_mem_data(bio, &data);
  pem = strndup(data, (size_t) len);
  BIO_free(bio);
  certgen_pki_free(&pki);
  return pem;
}

Test(profile, round_trip)
{
  pw_profile_t p, q;
  json_t *in, *o1, *o2;
  char *pem = root_pem();
  pw_err_t err = { 0 };

  in = json_pack("{s:s,s:[s],s:s,s:{s:b,s:s},s:[{s:s,s:[s,s]}],s:{s:s},"
                 "s:{s:s,s:[s]},s:s}",
                 "name", "rt", "tags", "t1",
                 "proxy", "http://u:p%20w@h.example:3128",
                 "secure_access", "enabled", 1, "on_http", "upgrade",
                 "pins", "pattern", "**.example.com", "pins", PIN_A, PIN_B,
                 "resolve", "h.example", "2001:db8:0::7",
                 "browser", "timezone", "Etc/GMT+5", "args", "--x=1",
                 "roots", pem);
  pw_profile_init(&p);
  pw_profile_init(&q);
  cr_assert_eq(pw_profile_from_json(&p, in, 0, &err), PW_OK, "%s", err.msg);
  cr_assert_str_eq(p.resolve[0].addr, "2001:db8::7");

  /* What export writes, the stored reader reads back the same. */
  strcpy(p.id, "9b2f0c1e-1111-4222-8333-444455556666");
  p.revision = 4;
  p.created = 100;
  p.updated = 200;
  o1 = pw_profile_to_json(&p, PW_PROFILE_SECRETS);
  cr_assert_eq(pw_profile_from_json(&q, o1, PW_PROFILE_STORED, &err), PW_OK,
               "%s", err.msg);
  o2 = pw_profile_to_json(&q, PW_PROFILE_SECRETS);
  cr_assert(json_equal(o1, o2), "got %s want %s", json_dumps(o2, 0),
            json_dumps(o1, 0));

  json_decref(in);
  json_decref(o1);
  json_decref(o2);
  pw_profile_clear(&p);
  pw_profile_clear(&q);
  free(pem);
}

Test(profile, patch_is_all_or_nothing)
{
  static const char doc[] =
    "{\"name\":\"a\",\"tags\":[\"x\"],\"proxy\":\"http://h.example:1\"}";
  pw_profile_t p;
  json_t *bad, *good;
  pw_err_t err = { 0 };
  char *url = NULL;

  pw_profile_init(&p);
  cr_assert_eq(pw_profile_parse(&p, doc, strlen(doc), 0, NULL), PW_OK);

  /* A good key then a bad one: nothing of the patch is applied. */
  bad = json_pack("{s:s,s:s}", "name", "b", "proxy", "gopher://x");
  cr_assert_eq(pw_profile_apply_json(&p, bad, &err), PW_EINVAL);
  cr_assert(strstr(err.msg, "proxy: scheme 'gopher'") != NULL, "%s",
            err.msg);
  cr_assert_str_eq(p.name, "a");

  /* null clears the proxy; keys not named stay. */
  good = json_pack("{s:s,s:n}", "name", "b", "proxy");
  cr_assert_eq(pw_profile_apply_json(&p, good, &err), PW_OK, "%s", err.msg);
  cr_assert_str_eq(p.name, "b");
  cr_assert_eq(p.ntags, 1);
  cr_assert_eq(pw_profile_proxy_url(&p.proxy, 0, &url, NULL), PW_OK);
  cr_assert_null(url, "got %s", url);

  json_decref(bad);
  json_decref(good);
  pw_profile_clear(&p);
}

Test(profile, nul_in_built_json)
{
  json_t *o = json_pack("{s:s%}", "name", "a\0b", (size_t) 3);
  pw_profile_t p;
  pw_err_t err = { 0 };
  int rc;

  /* A caller's json_t may hold a NUL that text JSON could not. */
  pw_profile_init(&p);
  rc = pw_profile_from_json(&p, o, 0, &err);
  cr_assert_eq(rc, PW_EINVAL, "got %s want EINVAL", pw_err_name(rc));
  cr_assert(strstr(err.msg, "name: holds a control") != NULL, "%s",
            err.msg);
  json_decref(o);
}

Test(profile, size_cap)
{
  size_t len = PW_PROFILE_JSON_MAX + 1;
  char *big = malloc(len);
  pw_profile_t p;
  pw_err_t err = { 0 };
  int rc;

  /* Refused by its size: the parser never sees the bytes. */
  memset(big, ' ', len);
  pw_profile_init(&p);
  rc = pw_profile_parse(&p, big, len, 0, &err);
  cr_assert_eq(rc, PW_ETOOBIG, "got %s want ETOOBIG", pw_err_name(rc));
  free(big);
}

Test(profile, ids)
{
  char a[PW_PROFILE_ID_LEN], b[PW_PROFILE_ID_LEN];

  cr_assert_eq(pw_profile_new_id(a, NULL), PW_OK);
  cr_assert_eq(pw_profile_new_id(b, NULL), PW_OK);
  cr_assert(pw_profile_id_valid(a), "%s", a);
  cr_assert_str_neq(a, b);
  cr_assert_eq(a[14], '4', "version nibble of %s", a);
  cr_assert(strchr("89ab", a[19]) != NULL, "variant nibble of %s", a);

  cr_assert_not(pw_profile_id_valid("../../etc"));
  cr_assert_not(pw_profile_id_valid("9B2F0C1E-1111-4222-8333-444455556666"));
}

/* ---- export documents ------------------------------------------------- */

static const struct doc_case import_cases[] = {
  /* An empty export is fine. */
  { "{\"version\":1,\"profiles\":[]}", PW_OK, NULL },

  /* Two profiles, one with the store's keys. */
  { "{\"version\":1,\"profiles\":[{\"name\":\"a\"},{\"name\":\"b\","
    "\"id\":\"9b2f0c1e-1111-4222-8333-444455556666\",\"revision\":7,"
    "\"created\":\"2026-01-01T00:00:00Z\",\"updated\":1767225600}]}",
    PW_OK, NULL },

  /* A version this code does not know. */
  { "{\"version\":2,\"profiles\":[]}", PW_EINVAL, "version: must be 1" },

  /* No version. */
  { "{\"profiles\":[]}", PW_EINVAL, "version: must be 1" },

  /* Unknown top-level key. */
  { "{\"version\":1,\"profiles\":[],\"x\":1}", PW_EINVAL,
    "x: unknown key" },

  /* The bad profile is named by its index. */
  { "{\"version\":1,\"profiles\":[{\"name\":\"a\"},{\"name\":\"b\","
    "\"proxy\":\"ftp://x\"}]}", PW_EINVAL,
    "profiles[1]: proxy: scheme 'ftp'" },

  /* Names clash regardless of case. */
  { "{\"version\":1,\"profiles\":[{\"name\":\"Shop\"},{\"name\":\"c\"},"
    "{\"name\":\"shop\"}]}", PW_ECONFLICT,
    "profiles[2]: name: same as profiles[0]" },

  /* Ids clash. */
  { "{\"version\":1,\"profiles\":["
    "{\"name\":\"a\",\"id\":\"9b2f0c1e-1111-4222-8333-444455556666\"},"
    "{\"name\":\"b\",\"id\":\"9b2f0c1e-1111-4222-8333-444455556666\"}]}",
    PW_ECONFLICT, "profiles[1]: id: same as profiles[0]" },

  /* An id that is not ours could become a path. */
  { "{\"version\":1,\"profiles\":[{\"name\":\"a\",\"id\":\"../x\"}]}",
    PW_EINVAL, "profiles[0]: id: must be a lower-case UUID" },

  /* Profiles are an array. */
  { "{\"version\":1,\"profiles\":{}}", PW_EINVAL,
    "profiles: must be an array" },
};

ParameterizedTestParameters(profile, import_doc)
{
  return case_indices(NCASES(import_cases));
}

ParameterizedTest(size_t *i, profile, import_doc)
{
  const struct doc_case *c = &import_cases[*i];
  pw_profile_t *arr = NULL;
  pw_err_t err = { 0 };
  size_t n = 99;
  int rc;

  rc = pw_profile_import_parse(c->doc, strlen(c->doc), &arr, &n, &err);
  cr_assert_eq(rc, c->rc, "case %zu: got %s (%s) want %s", *i,
               pw_err_name(rc), err.msg, pw_err_name(c->rc));
  if (c->msg != NULL) {
    cr_assert(strstr(err.msg, c->msg) != NULL,
              "case %zu: got '%s' want '%s'", *i, err.msg, c->msg);
    cr_assert_null(arr, "case %zu", *i);
    cr_assert_eq(n, 0, "case %zu: got %zu", *i, n);
  }
  pw_profile_array_free(arr, n);
}
