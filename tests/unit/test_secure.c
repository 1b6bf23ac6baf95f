#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/alloc.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "engine/secure.h"
#include "tests/unit/cases.h"

#define NOW       INT64_C(1790000000)

/* Exceptions every URL case runs against. */
static void
sa_fixture(pw_sa_t *sa, bool enabled, pw_sa_on_http_t on_http)
{
  pw_sa_init(sa);
  sa->enabled = enabled;
  sa->on_http = on_http;

  cr_assert_eq(pw_sa_exception_add(sa, "intranet.example", 0, NOW, NULL),
               PW_OK);
  cr_assert_eq(pw_sa_exception_add(sa, "soon.example", 60, NOW, NULL),
               PW_OK);
  cr_assert_eq(pw_sa_exception_add(sa, "old.example", 60, NOW - 3600,
                                   NULL), PW_OK);
}

/* ---- URL decisions ---------------------------------------------------- */

struct url_case {
  const char     *name;
  bool            enabled;
  pw_sa_on_http_t on_http;
  const char     *url;
  int             rc;
  pw_action_t     action;
  pw_reason_t     reason;
  const char     *want_url;   /* for UPGRADE */
  const char     *host;
  uint16_t        port;
};

#define UP   true, PW_SA_UPGRADE
#define BL   true, PW_SA_BLOCK
#define OFF  false, PW_SA_UPGRADE
#define ERR(rc) rc, PW_ACTION_BLOCK, PW_REASON_BAD_INPUT, NULL, "", 0
#define UPGRADED PW_OK, PW_ACTION_UPGRADE, PW_REASON_SA_UPGRADE
#define ALLOWED(r) PW_OK, PW_ACTION_ALLOW, PW_REASON_SA_##r, NULL

static const struct url_case url_cases[] = {
  /* The plain case: only the scheme changes. */
  { "http to https", UP, "http://example.com/",
    UPGRADED, "https://example.com/", "example.com", 443 },

  /* WebSocket is treated like HTTP (the design's Secure Access). */
  { "ws to wss", UP, "ws://example.com/chat",
    UPGRADED, "wss://example.com/chat", "example.com", 443 },

  /* Port 80 is http's default; it maps to https's. */
  { "port 80 to 443", UP, "http://example.com:80/a",
    UPGRADED, "https://example.com/a", "example.com", 443 },

  /* The same for ws. */
  { "ws port 80 to 443", UP, "ws://example.com:80/",
    UPGRADED, "wss://example.com/", "example.com", 443 },

  /* Any other port is where the site said it listens. */
  { "port 8080 kept", UP, "http://example.com:8080/a",
    UPGRADED, "https://example.com:8080/a", "example.com", 8080 },

  /* An explicit 443 is https's default, so it is not written. */
  { "http on 443", UP, "http://example.com:443/",
    UPGRADED, "https://example.com/", "example.com", 443 },

  /* Path and query pass byte for byte, escapes included. */
  { "path and query kept", UP, "http://example.com/a/b.html?x=1&y=%20z",
    UPGRADED, "https://example.com/a/b.html?x=1&y=%20z", "example.com",
    443 },

  /* Dot segments are the browser's to resolve, not ours. */
  { "dot segments kept", UP, "http://example.com/a/../b",
    UPGRADED, "https://example.com/a/../b", "example.com", 443 },

  /* No path at all becomes "/". */
  { "empty path", UP, "http://example.com",
    UPGRADED, "https://example.com/", "example.com", 443 },

  /* A fragment stays with the URL it was written in. */
  { "fragment kept", UP, "http://example.com/p?q#sec-2",
    UPGRADED, "https://example.com/p?q#sec-2", "example.com", 443 },

  /* A U-label host is written as its A-label. */
  { "IDN host", UP, "http://b\xc3\xbc" "cher.example/",
    UPGRADED, "https://xn--bcher-kva.example/", "xn--bcher-kva.example",
    443 },

  /* Scheme and host are case-insensitive; the path is not. */
  { "uppercase host", UP, "HTTP://EXAMPLE.COM/Path",
    UPGRADED, "https://example.com/Path", "example.com", 443 },

  /* "example.com." is an origin of its own in browsers: keep the dot. */
  { "trailing dot", UP, "http://example.com./",
    UPGRADED, "https://example.com./", "example.com", 443 },

  /* IPv6 literals come back canonical and bracketed. */
  { "IPv6 literal", UP, "http://[2001:DB8:0::1]:8080/",
    UPGRADED, "https://[2001:db8::1]:8080/", "2001:db8::1", 8080 },

  /* IPv4 literal. */
  { "IPv4 literal", UP, "http://192.0.2.1/x",
    UPGRADED, "https://192.0.2.1/x", "192.0.2.1", 443 },

  /* Hex IPv4 forms are the same address (WHATWG URL). */
  { "hex IPv4", UP, "http://0xc0.0.2.1/",
    UPGRADED, "https://192.0.2.1/", "192.0.2.1", 443 },

  /* User and password never reach the upgraded URL (RFC 9110 4.2.4). */
  { "userinfo dropped", UP, "http://user:secret@example.com/",
    UPGRADED, "https://example.com/", "example.com", 443 },

  /* A percent-encoded host is decoded before it is compared. */
  { "escaped host", UP, "http://ex%61mple.com/",
    UPGRADED, "https://example.com/", "example.com", 443 },

  /* A query on a WebSocket URL (tokens) passes unchanged. */
  { "ws query kept", UP, "ws://example.com/s?token=abc",
    UPGRADED, "wss://example.com/s?token=abc", "example.com", 443 },

  /* Loopback: all of 127.0.0.0/8 is exempt. */
  { "loopback 127.0.0.5", UP, "http://127.0.0.5/",
    ALLOWED(LOOPBACK), "127.0.0.5", 80 },

  /* Loopback: IPv6. */
  { "loopback ::1", UP, "http://[::1]:3000/",
    ALLOWED(LOOPBACK), "::1", 3000 },

  /* Loopback: the name. */
  { "loopback localhost", UP, "http://localhost:8080/",
    ALLOWED(LOOPBACK), "localhost", 8080 },

  /* Loopback: the name in any case. */
  { "loopback LOCALHOST", UP, "ws://LOCALHOST/",
    ALLOWED(LOOPBACK), "localhost", 80 },

  /* Loopback: a decimal IPv4 form of 127.0.0.1. */
  { "loopback decimal", UP, "http://2130706433/",
    ALLOWED(LOOPBACK), "127.0.0.1", 80 },

  /* Loopback is exempt in block mode too. */
  { "loopback in block mode", BL, "http://127.0.0.1:9222/json",
    ALLOWED(LOOPBACK), "127.0.0.1", 9222 },

  /* An exception without expiry. */
  { "exception active", UP, "http://intranet.example/",
    ALLOWED(EXCEPTION), "intranet.example", 80 },

  /* Exceptions compare normalised hosts. */
  { "exception, other case", UP, "http://INTRANET.example./",
    ALLOWED(EXCEPTION), "intranet.example", 80 },

  /* An exception with time left. */
  { "exception ttl active", UP, "http://soon.example/",
    ALLOWED(EXCEPTION), "soon.example", 80 },

  /* An exception is for its host only, not the names below it. */
  { "exception exact host", UP, "http://www.intranet.example/",
    UPGRADED, "https://www.intranet.example/", "www.intranet.example",
    443 },

  /* An expired exception no longer applies. */
  { "exception expired", UP, "http://old.example/",
    UPGRADED, "https://old.example/", "old.example", 443 },

  /* Block mode: refused, no URL. */
  { "block mode", BL, "http://example.com/",
    PW_OK, PW_ACTION_BLOCK, PW_REASON_SA_BLOCK, NULL, "example.com", 80 },

  /* Block mode: ws too. */
  { "block mode ws", BL, "ws://example.com:8080/",
    PW_OK, PW_ACTION_BLOCK, PW_REASON_SA_BLOCK, NULL, "example.com",
    8080 },

  /* Block mode still honours exceptions. */
  { "block mode exception", BL, "http://intranet.example/",
    ALLOWED(EXCEPTION), "intranet.example", 80 },

  /* Already encrypted. */
  { "https allowed", UP, "https://example.com/",
    ALLOWED(SECURE), "example.com", 443 },

  /* Already encrypted, WebSocket, own port. */
  { "wss allowed", BL, "wss://example.com:8443/",
    ALLOWED(SECURE), "example.com", 8443 },

  /* Off: everything passes and says why. */
  { "off http", OFF, "http://example.com/",
    ALLOWED(OFF), "example.com", 80 },

  /* Off: https says off too. */
  { "off https", OFF, "https://example.com/",
    ALLOWED(OFF), "example.com", 443 },

  /* Off does not make a bad URL good. */
  { "off garbage", OFF, "not a url", ERR(PW_EINVAL) },

  /* Off does not make an unknown scheme good. */
  { "off ftp", OFF, "ftp://example.com/", ERR(PW_EINVAL) },

  /* Other schemes are an error, never an allow. */
  { "ftp error", UP, "ftp://example.com/file", ERR(PW_EINVAL) },

  /* file: has no host to decide on. */
  { "file error", UP, "file:///etc/passwd", ERR(PW_EINVAL) },

  /* javascript: is not a navigation to a host. */
  { "javascript error", UP, "javascript:alert(1)", ERR(PW_EINVAL) },

  /* data: likewise. */
  { "data error", UP, "data:text/html,hi", ERR(PW_EINVAL) },

  /* Not a URL. */
  { "garbage error", UP, "not a url", ERR(PW_EINVAL) },

  /* No scheme. */
  { "no scheme", UP, "example.com/path", ERR(PW_EINVAL) },

  /* Empty. */
  { "empty", UP, "", ERR(PW_EINVAL) },

  /* Scheme and nothing else. */
  { "missing host", UP, "http://", ERR(PW_EINVAL) },

  /* Userinfo and port but no host. */
  { "missing host with port", UP, "http://user@:80/", ERR(PW_EINVAL) },

  /* ws with no host. */
  { "ws missing host", UP, "ws:///", ERR(PW_EINVAL) },

  /* Port 0 is no port to connect to. */
  { "port 0", UP, "http://example.com:0/", ERR(PW_EINVAL) },

  /* Over 65535. */
  { "port too big", UP, "http://example.com:65536/", ERR(PW_EINVAL) },

  /* A port that is not a number. */
  { "port not numeric", UP, "http://example.com:http/", ERR(PW_EINVAL) },

  /* An interface zone means nothing past this machine. */
  { "IPv6 zone", UP, "http://[fe80::1%25eth0]/", ERR(PW_EINVAL) },

  /* An empty label is no host name. */
  { "empty label", UP, "http://a..example/", ERR(PW_EINVAL) },

  /* A space cannot be in a host. */
  { "space in host", UP, "http://exa mple.com/", ERR(PW_EINVAL) },

  /* CR LF would split the Location header the upgrade becomes. */
  { "CRLF", UP, "http://example.com/\r\nSet-Cookie: a=b", ERR(PW_EINVAL) },

  /* An unclosed IPv6 literal. */
  { "broken IPv6", UP, "http://[::1/", ERR(PW_EINVAL) },
};

ParameterizedTestParameters(secure, url)
{
  return case_indices(NCASES(url_cases));
}

ParameterizedTest(size_t *ip, secure, url)
{
  size_t i = *ip;
  const struct url_case *c = &url_cases[i];
  pw_sa_result_t res, again;
  pw_err_t err = { 0 };
  pw_sa_t sa;
  int rc;

  sa_fixture(&sa, c->enabled, c->on_http);

  rc = pw_sa_decide_url(&sa, c->url, NOW, &res, &err);
  cr_assert_eq(rc, c->rc, "case %zu (%s): rc %s, want %s: %s", i, c->name,
               pw_err_name(rc), pw_err_name(c->rc), err.msg);
  cr_assert_eq(res.action, c->action, "case %zu (%s): action %s, want %s",
               i, c->name, pw_action_name(res.action),
               pw_action_name(c->action));
  cr_assert_eq(res.reason, c->reason, "case %zu (%s): reason %s, want %s",
               i, c->name, pw_reason_name(res.reason),
               pw_reason_name(c->reason));

  if (c->rc != PW_OK) {
    cr_assert_null(res.url, "case %zu (%s): url %s on an error", i, c->name,
                   res.url);
    cr_assert_neq(err.msg[0], '\0', "case %zu (%s): no message", i,
                  c->name);
    goto done;
  }

  cr_assert_str_eq(res.host, c->host, "case %zu (%s): host %s, want %s", i,
                   c->name, res.host, c->host);
  cr_assert_eq(res.port, c->port, "case %zu (%s): port %u, want %u", i,
               c->name, (unsigned) res.port, (unsigned) c->port);

  if (c->want_url == NULL) {
    cr_assert_null(res.url, "case %zu (%s): url %s, want none", i, c->name,
                   res.url);
    goto done;
  }
  cr_assert_not_null(res.url, "case %zu (%s): no url, want %s", i, c->name,
                     c->want_url);
  cr_assert_str_eq(res.url, c->want_url, "case %zu (%s): url %s, want %s",
                   i, c->name, res.url, c->want_url);

  /* An upgraded URL is one the same profile lets through as it is. */
  rc = pw_sa_decide_url(&sa, res.url, NOW, &again, &err);
  cr_assert_eq(rc, PW_OK, "case %zu (%s): %s: %s", i, c->name, res.url,
               err.msg);
  cr_assert_eq(again.reason, PW_REASON_SA_SECURE,
               "case %zu (%s): upgraded reason %s", i, c->name,
               pw_reason_name(again.reason));
  cr_assert_str_eq(again.host, res.host, "case %zu (%s): host %s, want %s",
                   i, c->name, again.host, res.host);
  cr_assert_eq(again.port, res.port, "case %zu (%s): port %u, want %u", i,
               c->name, (unsigned) again.port, (unsigned) res.port);

done:
  free(res.url);
  pw_sa_clear(&sa);
}

/* A URL of exactly PW_SA_URL_MAX passes; one byte more is too big. */
Test(secure, url_length_cap)
{
  static const char prefix[] = "http://example.com/";
  char *url = malloc(PW_SA_URL_MAX + 2);
  pw_sa_result_t res;
  pw_err_t err = { 0 };
  pw_sa_t sa;
  int rc;

  cr_assert_not_null(url);
  sa_fixture(&sa, true, PW_SA_UPGRADE);

  memcpy(url, prefix, sizeof(prefix) - 1);
  memset(url + sizeof(prefix) - 1, 'a', PW_SA_URL_MAX - sizeof(prefix) + 1);
  url[PW_SA_URL_MAX] = '\0';

  rc = pw_sa_decide_url(&sa, url, NOW, &res, &err);
  cr_assert_eq(rc, PW_OK, "rc %s: %s", pw_err_name(rc), err.msg);
  cr_assert_eq(res.action, PW_ACTION_UPGRADE, "action %s",
               pw_action_name(res.action));
  cr_assert_eq(strlen(res.url), (size_t) PW_SA_URL_MAX + 1,
               "upgraded length %zu, want %d", strlen(res.url),
               PW_SA_URL_MAX + 1);
  free(res.url);

  url[PW_SA_URL_MAX] = 'a';
  url[PW_SA_URL_MAX + 1] = '\0';
  rc = pw_sa_decide_url(&sa, url, NOW, &res, &err);
  cr_assert_eq(rc, PW_ETOOBIG, "rc %s, want ETOOBIG", pw_err_name(rc));
  cr_assert_null(res.url);
  cr_assert_eq(res.action, PW_ACTION_BLOCK, "action %s",
               pw_action_name(res.action));

  free(url);
  pw_sa_clear(&sa);
}

/* NULL is a missing URL, not a crash. */
Test(secure, url_null)
{
  pw_sa_result_t res;
  pw_err_t err = { 0 };
  pw_sa_t sa;
  int rc;

  pw_sa_init(&sa);
  sa.enabled = true;

  rc = pw_sa_decide_url(&sa, NULL, NOW, &res, &err);
  cr_assert_eq(rc, PW_EINVAL, "rc %s, want EINVAL", pw_err_name(rc));
  cr_assert_str_eq(err.msg, "URL is missing", "message %s", err.msg);
}

/* ---- JSON ------------------------------------------------------------- */

struct json_case {
  const char *name;
  const char *in;
  int         rc;
  const char *out;   /* pw_sa_to_json, compact, when rc is PW_OK */
};

static const struct json_case json_cases[] = {
  /* The least a policy can say. */
  { "enabled only", "{\"enabled\":true}", PW_OK,
    "{\"enabled\":true,\"on_http\":\"upgrade\",\"exceptions\":[]}" },

  /* Off, block, no exceptions. */
  { "off block", "{\"enabled\":false,\"on_http\":\"block\","
    "\"exceptions\":[]}", PW_OK,
    "{\"enabled\":false,\"on_http\":\"block\",\"exceptions\":[]}" },

  /* The header's example. */
  { "full", "{\"enabled\":true,\"on_http\":\"upgrade\",\"exceptions\":"
    "[{\"host\":\"intranet.example\",\"expires\":1798000000},"
    "{\"host\":\"printer.lan\"}]}", PW_OK,
    "{\"enabled\":true,\"on_http\":\"upgrade\",\"exceptions\":"
    "[{\"host\":\"intranet.example\",\"expires\":1798000000},"
    "{\"host\":\"printer.lan\"}]}" },

  /* Keys in any order. */
  { "key order", "{\"exceptions\":[],\"on_http\":\"block\","
    "\"enabled\":true}", PW_OK,
    "{\"enabled\":true,\"on_http\":\"block\",\"exceptions\":[]}" },

  /* RFC 3339 expiry in UTC. */
  { "rfc3339 expiry", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"expires\":\"2027-01-15T08:00:00Z\"}]}", PW_OK,
    "{\"enabled\":true,\"on_http\":\"upgrade\",\"exceptions\":"
    "[{\"host\":\"a.example\",\"expires\":1800000000}]}" },

  /* RFC 3339 expiry with an offset: the same instant. */
  { "rfc3339 offset", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"expires\":\"2027-01-15T10:00:00+02:00\"}]}", PW_OK,
    "{\"enabled\":true,\"on_http\":\"upgrade\",\"exceptions\":"
    "[{\"host\":\"a.example\",\"expires\":1800000000}]}" },

  /* Integer 0 means never, and is not written back. */
  { "expires 0", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"expires\":0}]}", PW_OK,
    "{\"enabled\":true,\"on_http\":\"upgrade\",\"exceptions\":"
    "[{\"host\":\"a.example\"}]}" },

  /* Hosts are stored normalised. */
  { "host normalised", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"Intranet.Example.\"},{\"host\":\"b\xc3\xbc" "cher.example\"},"
    "{\"host\":\"[::1]\"}]}", PW_OK,
    "{\"enabled\":true,\"on_http\":\"upgrade\",\"exceptions\":"
    "[{\"host\":\"intranet.example\"},{\"host\":\"xn--bcher-kva.example\"},"
    "{\"host\":\"::1\"}]}" },

  /* Not an object. */
  { "array", "[]", PW_EINVAL, NULL },

  /* Not an object. */
  { "scalar", "true", PW_EINVAL, NULL },

  /* The switch must be said. */
  { "enabled missing", "{}", PW_EINVAL, NULL },

  /* The switch must be said, even with other keys. */
  { "enabled missing, on_http", "{\"on_http\":\"block\"}", PW_EINVAL, NULL },

  /* 1 is not true. */
  { "enabled integer", "{\"enabled\":1}", PW_EINVAL, NULL },

  /* "true" is not true. */
  { "enabled string", "{\"enabled\":\"true\"}", PW_EINVAL, NULL },

  /* null is not false. */
  { "enabled null", "{\"enabled\":null}", PW_EINVAL, NULL },

  /* Unknown top-level key. */
  { "unknown key", "{\"enabled\":true,\"mode\":\"strict\"}", PW_EINVAL,
    NULL },

  /* Unknown on_http value. */
  { "on_http redirect", "{\"enabled\":true,\"on_http\":\"redirect\"}",
    PW_EINVAL, NULL },

  /* on_http values are case-sensitive. */
  { "on_http upper", "{\"enabled\":true,\"on_http\":\"BLOCK\"}",
    PW_EINVAL, NULL },

  /* on_http of the wrong type. */
  { "on_http bool", "{\"enabled\":true,\"on_http\":true}", PW_EINVAL,
    NULL },

  /* exceptions of the wrong type. */
  { "exceptions object", "{\"enabled\":true,\"exceptions\":{}}", PW_EINVAL,
    NULL },

  /* A bare host string is not an exception object. */
  { "exception string", "{\"enabled\":true,\"exceptions\":[\"a.example\"]}",
    PW_EINVAL, NULL },

  /* Unknown key in an exception. */
  { "exception unknown key", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"ttl\":60}]}", PW_EINVAL, NULL },

  /* An exception needs a host. */
  { "exception no host", "{\"enabled\":true,\"exceptions\":[{\"expires\":"
    "1800000000}]}", PW_EINVAL, NULL },

  /* Host of the wrong type. */
  { "host integer", "{\"enabled\":true,\"exceptions\":[{\"host\":5}]}",
    PW_EINVAL, NULL },

  /* Empty host. */
  { "host empty", "{\"enabled\":true,\"exceptions\":[{\"host\":\"\"}]}",
    PW_EINVAL, NULL },

  /* Host with an empty label. */
  { "host empty label", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a..example\"}]}", PW_EINVAL, NULL },

  /* A URL is not a host. */
  { "host is a URL", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"http://a.example/\"}]}", PW_EINVAL, NULL },

  /* Negative expiry. */
  { "expires negative", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"expires\":-1}]}", PW_EINVAL, NULL },

  /* Fractional seconds as a number. */
  { "expires real", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"expires\":1.5}]}", PW_EINVAL, NULL },

  /* An expiry that is no time. */
  { "expires words", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"expires\":\"tomorrow\"}]}", PW_EINVAL, NULL },

  /* An expiry of the wrong type. */
  { "expires bool", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"expires\":true}]}", PW_EINVAL, NULL },

  /* null is not "never": leave the key out for that. */
  { "expires null", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"expires\":null}]}", PW_EINVAL, NULL },

  /* A written time of the epoch would read back as "never". */
  { "expires epoch", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\",\"expires\":\"1970-01-01T00:00:00Z\"}]}", PW_EINVAL,
    NULL },

  /* One host twice, after normalisation. */
  { "duplicate host", "{\"enabled\":true,\"exceptions\":[{\"host\":"
    "\"a.example\"},{\"host\":\"A.EXAMPLE.\"}]}", PW_EINVAL, NULL },
};

ParameterizedTestParameters(secure, json)
{
  return case_indices(NCASES(json_cases));
}

ParameterizedTest(size_t *ip, secure, json)
{
  size_t i = *ip;
  const struct json_case *c = &json_cases[i];
  json_error_t jerr;
  pw_err_t err = { 0 };
  json_t *in, *out;
  char *text;
  pw_sa_t sa;
  int rc;

  in = json_loads(c->in, JSON_DECODE_ANY, &jerr);
  cr_assert_not_null(in, "case %zu (%s): test input: %s", i, c->name,
                     jerr.text);

  rc = pw_sa_from_json(&sa, in, &err);
  cr_assert_eq(rc, c->rc, "case %zu (%s): rc %s, want %s: %s", i, c->name,
               pw_err_name(rc), pw_err_name(c->rc), err.msg);

  if (rc != PW_OK) {
    cr_assert_neq(err.msg[0], '\0', "case %zu (%s): no message", i,
                  c->name);
    cr_assert_eq(sa.nexceptions, 0, "case %zu (%s): %zu exceptions left",
                 i, c->name, sa.nexceptions);
    cr_assert_null(sa.exceptions, "case %zu (%s)", i, c->name);
    cr_assert(!sa.enabled, "case %zu (%s): left enabled", i, c->name);
    json_decref(in);
    return;
  }

  out = pw_sa_to_json(&sa);
  cr_assert_not_null(out, "case %zu (%s)", i, c->name);
  text = json_dumps(out, JSON_COMPACT);
  cr_assert_str_eq(text, c->out, "case %zu (%s): got %s, want %s", i,
                   c->name, text, c->out);

  free(text);
  json_decref(out);
  json_decref(in);
  pw_sa_clear(&sa);
}

/* Builds {"enabled":true,"exceptions":[n distinct hosts]}. */
static json_t *
json_with_exceptions(size_t n)
{
  json_t *obj = json_pack("{s:b, s:[]}", "enabled", 1, "exceptions");
  json_t *arr = json_object_get(obj, "exceptions");
  char host[32];
  size_t i;

  for (i = 0; i < n; i++) {
    snprintf(host, sizeof(host), "h%zu.example", i);
    json_array_append_new(arr, json_pack("{s:s}", "host", host));
  }
  return obj;
}

/* PW_SA_MAX_EXCEPTIONS fit; one more is too big. */
Test(secure, json_cap)
{
  pw_err_t err = { 0 };
  json_t *obj;
  pw_sa_t sa;
  int rc;

  obj = json_with_exceptions(PW_SA_MAX_EXCEPTIONS);
  rc = pw_sa_from_json(&sa, obj, &err);
  cr_assert_eq(rc, PW_OK, "rc %s: %s", pw_err_name(rc), err.msg);
  cr_assert_eq(sa.nexceptions, PW_SA_MAX_EXCEPTIONS, "%zu exceptions",
               sa.nexceptions);
  cr_assert(pw_sa_is_exception(&sa, "h1023.example", NOW));
  pw_sa_clear(&sa);
  json_decref(obj);

  obj = json_with_exceptions(PW_SA_MAX_EXCEPTIONS + 1);
  rc = pw_sa_from_json(&sa, obj, &err);
  cr_assert_eq(rc, PW_ETOOBIG, "rc %s, want ETOOBIG", pw_err_name(rc));
  json_decref(obj);
}

/* to_json then from_json gives back the same policy. */
Test(secure, json_round_trip)
{
  pw_sa_t sa, back;
  pw_err_t err = { 0 };
  json_t *obj;
  size_t i;

  sa_fixture(&sa, true, PW_SA_BLOCK);
  obj = pw_sa_to_json(&sa);
  cr_assert_not_null(obj);

  cr_assert_eq(pw_sa_from_json(&back, obj, &err), PW_OK, "%s", err.msg);
  cr_assert_eq(back.enabled, sa.enabled);
  cr_assert_eq(back.on_http, sa.on_http);
  cr_assert_eq(back.nexceptions, sa.nexceptions, "%zu, want %zu",
               back.nexceptions, sa.nexceptions);
  for (i = 0; i < sa.nexceptions; i++) {
    cr_assert_str_eq(back.exceptions[i].host, sa.exceptions[i].host,
                     "%zu: %s, want %s", i, back.exceptions[i].host,
                     sa.exceptions[i].host);
    cr_assert_eq(back.exceptions[i].expires, sa.exceptions[i].expires,
                 "%zu: %lld, want %lld", i,
                 (long long) back.exceptions[i].expires,
                 (long long) sa.exceptions[i].expires);
  }

  json_decref(obj);
  pw_sa_clear(&back);
  pw_sa_clear(&sa);
}

/* ---- exceptions ------------------------------------------------------- */

/* A new policy is off, upgrades, and has no exceptions; clear takes NULL. */
Test(secure, init_defaults)
{
  pw_sa_t sa;

  pw_sa_init(&sa);
  cr_assert(!sa.enabled);
  cr_assert_eq(sa.on_http, PW_SA_UPGRADE);
  cr_assert_eq(sa.nexceptions, 0);
  cr_assert_null(sa.exceptions);
  pw_sa_clear(&sa);
  pw_sa_clear(NULL);
}

/* Without a ttl an exception never expires, and it is stored normalised. */
Test(secure, exception_add_forever)
{
  pw_err_t err = { 0 };
  pw_sa_t sa;
  int rc;

  pw_sa_init(&sa);
  rc = pw_sa_exception_add(&sa, "Intranet.Example.", 0, NOW, &err);
  cr_assert_eq(rc, PW_OK, "rc %s: %s", pw_err_name(rc), err.msg);
  cr_assert_eq(sa.nexceptions, 1);
  cr_assert_str_eq(sa.exceptions[0].host, "intranet.example", "host %s",
                   sa.exceptions[0].host);
  cr_assert_eq(sa.exceptions[0].expires, 0);
  cr_assert(pw_sa_is_exception(&sa, "intranet.example", NOW));
  cr_assert(pw_sa_is_exception(&sa, "intranet.example", INT64_MAX));
  cr_assert(!pw_sa_is_exception(&sa, "other.example", NOW));
  pw_sa_clear(&sa);
}

/* A ttl of 60 is in force for 60 seconds, up to but not at now + 60. */
Test(secure, exception_ttl)
{
  pw_sa_t sa;

  pw_sa_init(&sa);
  cr_assert_eq(pw_sa_exception_add(&sa, "a.example", 60, NOW, NULL), PW_OK);
  cr_assert_eq(sa.exceptions[0].expires, NOW + 60, "expires %lld",
               (long long) sa.exceptions[0].expires);
  cr_assert(pw_sa_is_exception(&sa, "a.example", NOW));
  cr_assert(pw_sa_is_exception(&sa, "a.example", NOW + 59));
  cr_assert(!pw_sa_is_exception(&sa, "a.example", NOW + 60));
  cr_assert(!pw_sa_is_exception(&sa, "a.example", NOW + 3600));
  pw_sa_clear(&sa);
}

/* Adding a host again replaces its expiry; it is not listed twice. */
Test(secure, exception_replace)
{
  pw_sa_t sa;

  pw_sa_init(&sa);
  cr_assert_eq(pw_sa_exception_add(&sa, "a.example", 60, NOW, NULL), PW_OK);
  cr_assert_eq(pw_sa_exception_add(&sa, "A.EXAMPLE", 0, NOW, NULL), PW_OK);
  cr_assert_eq(sa.nexceptions, 1, "%zu exceptions", sa.nexceptions);
  cr_assert_eq(sa.exceptions[0].expires, 0);
  cr_assert(pw_sa_is_exception(&sa, "a.example", NOW + 3600));

  cr_assert_eq(pw_sa_exception_add(&sa, "a.example", 10, NOW, NULL), PW_OK);
  cr_assert_eq(sa.nexceptions, 1, "%zu exceptions", sa.nexceptions);
  cr_assert(!pw_sa_is_exception(&sa, "a.example", NOW + 10));
  pw_sa_clear(&sa);
}

/* Bad hosts and ttls change nothing. */
Test(secure, exception_add_bad)
{
  static const struct {
    const char *host;
    int64_t     ttl;
    int64_t     now;
    int         rc;
  } cases[] = {
    { "", 0, NOW, PW_EINVAL },                 /* empty host */
    { "a..example", 0, NOW, PW_EINVAL },       /* empty label */
    { "a example", 0, NOW, PW_EINVAL },        /* space */
    { NULL, 0, NOW, PW_EINVAL },               /* no host */
    { "a.example", -1, NOW, PW_EINVAL },       /* negative ttl */
    { "a.example", INT64_MAX, NOW, PW_EINVAL } /* now + ttl overflows */
  };
  pw_err_t err;
  pw_sa_t sa;
  size_t i;
  int rc;

  pw_sa_init(&sa);
  for (i = 0; i < NCASES(cases); i++) {
    memset(&err, 0, sizeof(err));
    rc = pw_sa_exception_add(&sa, cases[i].host, cases[i].ttl, cases[i].now,
                             &err);
    cr_assert_eq(rc, cases[i].rc, "case %zu (%s): rc %s, want %s", i,
                 cases[i].host ? cases[i].host : "NULL", pw_err_name(rc),
                 pw_err_name(cases[i].rc));
    cr_assert_neq(err.msg[0], '\0', "case %zu: no message", i);
    cr_assert_eq(sa.nexceptions, 0, "case %zu: %zu exceptions", i,
                 sa.nexceptions);
  }
  pw_sa_clear(&sa);
}

/* Remove takes the host in any form, keeps the others, and says when
 * there was nothing to remove. */
Test(secure, exception_remove)
{
  pw_err_t err = { 0 };
  pw_sa_t sa;
  int rc;

  pw_sa_init(&sa);
  cr_assert_eq(pw_sa_exception_add(&sa, "a.example", 0, NOW, NULL), PW_OK);
  cr_assert_eq(pw_sa_exception_add(&sa, "b.example", 0, NOW, NULL), PW_OK);
  cr_assert_eq(pw_sa_exception_add(&sa, "c.example", 0, NOW, NULL), PW_OK);

  rc = pw_sa_exception_remove(&sa, "B.Example.", &err);
  cr_assert_eq(rc, PW_OK, "rc %s: %s", pw_err_name(rc), err.msg);
  cr_assert_eq(sa.nexceptions, 2, "%zu exceptions", sa.nexceptions);
  cr_assert(!pw_sa_is_exception(&sa, "b.example", NOW));
  cr_assert(pw_sa_is_exception(&sa, "a.example", NOW));
  cr_assert(pw_sa_is_exception(&sa, "c.example", NOW));

  rc = pw_sa_exception_remove(&sa, "b.example", &err);
  cr_assert_eq(rc, PW_ENOTFOUND, "rc %s, want ENOTFOUND", pw_err_name(rc));

  rc = pw_sa_exception_remove(&sa, "a..example", &err);
  cr_assert_eq(rc, PW_EINVAL, "rc %s, want EINVAL", pw_err_name(rc));
  cr_assert_eq(sa.nexceptions, 2, "%zu exceptions", sa.nexceptions);
  pw_sa_clear(&sa);
}

/* A removed exception stops deciding at once. */
Test(secure, exception_remove_decides)
{
  pw_sa_result_t res;
  pw_sa_t sa;

  pw_sa_init(&sa);
  sa.enabled = true;
  cr_assert_eq(pw_sa_exception_add(&sa, "a.example", 0, NOW, NULL), PW_OK);

  cr_assert_eq(pw_sa_decide_url(&sa, "http://a.example/", NOW, &res, NULL),
               PW_OK);
  cr_assert_eq(res.reason, PW_REASON_SA_EXCEPTION, "reason %s",
               pw_reason_name(res.reason));

  cr_assert_eq(pw_sa_exception_remove(&sa, "a.example", NULL), PW_OK);
  cr_assert_eq(pw_sa_decide_url(&sa, "http://a.example/", NOW, &res, NULL),
               PW_OK);
  cr_assert_eq(res.reason, PW_REASON_SA_UPGRADE, "reason %s",
               pw_reason_name(res.reason));
  free(res.url);
  pw_sa_clear(&sa);
}

/* An add drops exceptions that have expired, so that they do not fill
 * the list. */
Test(secure, exception_add_prunes)
{
  pw_sa_t sa;

  pw_sa_init(&sa);
  cr_assert_eq(pw_sa_exception_add(&sa, "a.example", 10, NOW, NULL), PW_OK);
  cr_assert_eq(pw_sa_exception_add(&sa, "b.example", 0, NOW, NULL), PW_OK);
  cr_assert_eq(pw_sa_exception_add(&sa, "c.example", 0, NOW + 10, NULL),
               PW_OK);
  cr_assert_eq(sa.nexceptions, 2, "%zu exceptions", sa.nexceptions);
  cr_assert_str_eq(sa.exceptions[0].host, "b.example", "%s",
                   sa.exceptions[0].host);
  cr_assert_str_eq(sa.exceptions[1].host, "c.example", "%s",
                   sa.exceptions[1].host);
  pw_sa_clear(&sa);
}

/* Adds stop at PW_SA_MAX_EXCEPTIONS. */
Test(secure, exception_cap)
{
  pw_err_t err = { 0 };
  char host[32];
  pw_sa_t sa;
  size_t i;
  int rc;

  pw_sa_init(&sa);
  for (i = 0; i < PW_SA_MAX_EXCEPTIONS; i++) {
    snprintf(host, sizeof(host), "h%zu.example", i);
    rc = pw_sa_exception_add(&sa, host, 0, NOW, &err);
    cr_assert_eq(rc, PW_OK, "%zu: rc %s: %s", i, pw_err_name(rc), err.msg);
  }

  rc = pw_sa_exception_add(&sa, "one-more.example", 0, NOW, &err);
  cr_assert_eq(rc, PW_ETOOBIG, "rc %s, want ETOOBIG", pw_err_name(rc));

  /* Replacing one already listed is still allowed at the cap. */
  rc = pw_sa_exception_add(&sa, "h5.example", 60, NOW, &err);
  cr_assert_eq(rc, PW_OK, "rc %s: %s", pw_err_name(rc), err.msg);
  cr_assert_eq(sa.nexceptions, PW_SA_MAX_EXCEPTIONS);
  pw_sa_clear(&sa);
}

/* A copy owns its exceptions: changing one leaves the other alone. */
Test(secure, copy)
{
  pw_sa_t sa, cp;

  sa_fixture(&sa, true, PW_SA_BLOCK);
  cr_assert_eq(pw_sa_copy(&cp, &sa, NULL), PW_OK);
  cr_assert_eq(cp.enabled, true);
  cr_assert_eq(cp.on_http, PW_SA_BLOCK);
  cr_assert_eq(cp.nexceptions, sa.nexceptions);
  cr_assert_neq(cp.exceptions, sa.exceptions);

  cr_assert_eq(pw_sa_exception_remove(&cp, "intranet.example", NULL), PW_OK);
  cr_assert(pw_sa_is_exception(&sa, "intranet.example", NOW));
  cr_assert(!pw_sa_is_exception(&cp, "intranet.example", NOW));

  pw_sa_clear(&cp);
  pw_sa_clear(&sa);

  /* An empty policy copies to an empty one. */
  pw_sa_init(&sa);
  cr_assert_eq(pw_sa_copy(&cp, &sa, NULL), PW_OK);
  cr_assert_eq(cp.nexceptions, 0);
  cr_assert_null(cp.exceptions);
}
