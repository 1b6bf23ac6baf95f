#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>

#include "ipc/vscan.h"
#include "tests/unit/cases.h"

/* A call of the plain shape, with params P. */
#define CALL(P) "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"verify.chain\"," \
                "\"params\":" P "}"
#define PLAIN   "{\"host\":\"a.example\",\"chain\":[\"QUJD\"]}"

/* ---- what the reader takes ---------------------------------------- */

typedef struct good {
  const char *why;
  const char *msg;
  const char *id;       /* the id's JSON text */
  const char *ref;      /* NULL: absent */
  const char *host;
  int64_t     port;
  size_t      n;
  const char *last;     /* the last certificate's base64 */
} good_t;

static const good_t good[] = {
  { "the plain shape", CALL(PLAIN), "1", NULL, "a.example", 443, 1,
    "QUJD" },
  { "every param, another order",
    "{\"params\":{\"chain\":[\"QUJD\",\"REVG\"],\"port\":8443,"
    "\"id\":\"shop-1\",\"host\":\"b.example\"},\"id\":\"c-7\","
    "\"method\":\"verify.chain\",\"jsonrpc\":\"2.0\"}",
    "\"c-7\"", "shop-1", "b.example", 8443, 2, "REVG" },
  { "whitespace of all four kinds between tokens",
    " \t\r\n{ \"jsonrpc\" : \"2.0\" ,\n\"id\"\t:\r42 , \"method\":"
    "\"verify.chain\", \"params\" : { \"host\" : \"c\" , \"chain\" : "
    "[ \"QUJD\" , \"R0hJ\" ] } } \n",
    "42", NULL, "c", 443, 2, "R0hJ" },
  { "a negative id", "{\"jsonrpc\":\"2.0\",\"id\":-12,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}",
    "-12", NULL, "a.example", 443, 1, "QUJD" },
  { "id 0", "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"verify.chain\","
    "\"params\":" PLAIN "}", "0", NULL, "a.example", 443, 1, "QUJD" },
  { "an id of 15 digits", "{\"jsonrpc\":\"2.0\",\"id\":123456789012345,"
    "\"method\":\"verify.chain\",\"params\":" PLAIN "}",
    "123456789012345", NULL, "a.example", 443, 1, "QUJD" },
  { "an empty string id", "{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}",
    "\"\"", NULL, "a.example", 443, 1, "QUJD" },
  { "ports 1 and 65535 are the ends",
    CALL("{\"host\":\"a\",\"port\":65535,\"chain\":[\"QUJD\"]}"), "1",
    NULL, "a", 65535, 1, "QUJD" },
  { "16 certificates",
    CALL("{\"host\":\"a\",\"chain\":[\"A\",\"B\",\"C\",\"D\",\"E\",\"F\","
         "\"G\",\"H\",\"I\",\"J\",\"K\",\"L\",\"M\",\"N\",\"O\",\"P\"]}"),
    "1", NULL, "a", 443, 16, "P" },
  { "strings are not judged here (empty, not base64)",
    CALL("{\"host\":\"\",\"chain\":[\"not base64!\"]}"), "1", NULL, "",
    443, 1, "not base64!" },
};

ParameterizedTestParameters(vscan, good)
{
  return case_indices(NCASES(good));
}

static void
assert_span(pw_vscan_span_t s, const char *want, const char *what)
{
  if (want == NULL) {
    cr_assert_null(s.p, "%s: want absent, got %.*s", what, (int) s.len,
                   s.p);
    return;
  }
  cr_assert_not_null(s.p, "%s: want %s, got nothing", what, want);
  cr_assert(s.len == strlen(want) && memcmp(s.p, want, s.len) == 0,
            "%s: want %s, got %.*s", what, want, (int) s.len, s.p);
}

ParameterizedTest(size_t *i, vscan, good)
{
  const good_t *c = &good[*i];
  pw_vscan_t v;

  cr_assert(pw_vscan_read(c->msg, strlen(c->msg), &v), "%s: refused",
            c->why);
  assert_span(v.id, c->id, "id");
  assert_span(v.ref, c->ref, "params.id");
  assert_span(v.host, c->host, "host");
  cr_assert_eq(v.port, c->port, "%s: port %lld, want %lld", c->why,
               (long long) v.port, (long long) c->port);
  cr_assert_eq(v.n, c->n, "%s: %zu certificates, want %zu", c->why, v.n,
               c->n);
  assert_span(v.chain[v.n - 1], c->last, "last certificate");
}

/* What the reader takes, jansson reads with the same values. */
ParameterizedTestParameters(vscan, good_as_jansson_reads)
{
  return case_indices(NCASES(good));
}

ParameterizedTest(size_t *i, vscan, good_as_jansson_reads)
{
  const good_t *c = &good[*i];
  json_t *root, *params, *list;
  json_error_t jerr;
  char *id;

  root = json_loads(c->msg, JSON_REJECT_DUPLICATES, &jerr);
  cr_assert_not_null(root, "%s: jansson: %s", c->why, jerr.text);
  id = json_dumps(json_object_get(root, "id"), JSON_ENCODE_ANY
                                               | JSON_COMPACT);
  cr_assert_str_eq(id, c->id, "%s: jansson writes the id %s", c->why, id);
  params = json_object_get(root, "params");
  cr_assert_str_eq(json_string_value(json_object_get(params, "host")),
                   c->host);
  list = json_object_get(params, "chain");
  cr_assert_eq(json_array_size(list), c->n);
  cr_assert_str_eq(json_string_value(json_array_get(list, c->n - 1)),
                   c->last);
  free(id);
  json_decref(root);
}

/* ---- what it leaves to jansson ------------------------------------ */

typedef struct bad {
  const char *why;
  const char *msg;
} bad_t;

static const bad_t bad[] = {
  /* Not the call's shape, or not JSON at all. */
  { "empty", "" },
  { "whitespace only", " \n" },
  { "a batch", "[" CALL(PLAIN) "]" },
  { "cut short", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"verify.chain\","
    "\"params\":{\"host\":\"a\",\"chain\":[\"QUJD\"]" },
  { "bytes after the object", CALL(PLAIN) "x" },
  { "two objects", CALL(PLAIN) CALL(PLAIN) },
  { "a trailing comma", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN ",}" },
  { "a missing colon", "{\"jsonrpc\" \"2.0\",\"id\":1,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "single quotes", "{'jsonrpc':'2.0'}" },
  { "a NUL byte after the object", CALL(PLAIN) "\0" },
  /* The envelope. */
  { "another method", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
    "\"verify.url\",\"params\":" PLAIN "}" },
  { "jsonrpc 1.0", "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "no jsonrpc", "{\"id\":1,\"method\":\"verify.chain\",\"params\":"
    PLAIN "}" },
  { "a notification (no id)", "{\"jsonrpc\":\"2.0\",\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "no params", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
    "\"verify.chain\"}" },
  { "an unknown member", "{\"jsonrpc\":\"2.0\",\"id\":1,\"x\":1,"
    "\"method\":\"verify.chain\",\"params\":" PLAIN "}" },
  { "a duplicate method", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
    "\"verify.url\",\"method\":\"verify.chain\",\"params\":" PLAIN "}" },
  { "a duplicate id", "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "an escaped method name", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
    "\"verify\\u002echain\",\"params\":" PLAIN "}" },
  { "an escaped key", "{\"json\\u0072pc\":\"2.0\",\"id\":1,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  /* The id. */
  { "id null", "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "id -0", "{\"jsonrpc\":\"2.0\",\"id\":-0,\"method\":\"verify.chain\","
    "\"params\":" PLAIN "}" },
  { "id with a fraction", "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "id with an exponent", "{\"jsonrpc\":\"2.0\",\"id\":1e3,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "id with a leading zero", "{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "id of 16 digits", "{\"jsonrpc\":\"2.0\",\"id\":1234567890123456,"
    "\"method\":\"verify.chain\",\"params\":" PLAIN "}" },
  { "id with a plus", "{\"jsonrpc\":\"2.0\",\"id\":+1,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "a lone minus", "{\"jsonrpc\":\"2.0\",\"id\":-,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "id true", "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "id an object", "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":"
    "\"verify.chain\",\"params\":" PLAIN "}" },
  { "an id with an escape", "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\","
    "\"method\":\"verify.chain\",\"params\":" PLAIN "}" },
  { "an id with UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":\"caf\xc3\xa9\","
    "\"method\":\"verify.chain\",\"params\":" PLAIN "}" },
  { "an id with a tab", "{\"jsonrpc\":\"2.0\",\"id\":\"a\tb\","
    "\"method\":\"verify.chain\",\"params\":" PLAIN "}" },
  { "an id with invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":\"\xff\","
    "\"method\":\"verify.chain\",\"params\":" PLAIN "}" },
  /* The params. */
  { "params a list", CALL("[\"a\"]") },
  { "params empty", CALL("{}") },
  { "no host", CALL("{\"chain\":[\"QUJD\"]}") },
  { "no chain", CALL("{\"host\":\"a\"}") },
  { "an empty chain", CALL("{\"host\":\"a\",\"chain\":[]}") },
  { "17 certificates",
    CALL("{\"host\":\"a\",\"chain\":[\"A\",\"B\",\"C\",\"D\",\"E\",\"F\","
         "\"G\",\"H\",\"I\",\"J\",\"K\",\"L\",\"M\",\"N\",\"O\",\"P\","
         "\"Q\"]}") },
  { "a chain that is a string", CALL("{\"host\":\"a\",\"chain\":\"QUJD\"}") },
  { "a certificate that is a number",
    CALL("{\"host\":\"a\",\"chain\":[1]}") },
  { "an escaped slash in base64",
    CALL("{\"host\":\"a\",\"chain\":[\"QU\\/D\"]}") },
  { "a time (the pool's question)",
    CALL("{\"host\":\"a\",\"chain\":[\"QUJD\"],\"at\":1}") },
  { "an unknown param", CALL("{\"host\":\"a\",\"chain\":[\"QUJD\"],"
                             "\"x\":1}") },
  { "a duplicate host", CALL("{\"host\":\"a\",\"host\":\"b\","
                             "\"chain\":[\"QUJD\"]}") },
  { "a duplicate chain", CALL("{\"host\":\"a\",\"chain\":[\"QUJD\"],"
                              "\"chain\":[\"QUJD\"]}") },
  { "a host that is null", CALL("{\"host\":null,\"chain\":[\"QUJD\"]}") },
  { "a profile id that is null",
    CALL("{\"id\":null,\"host\":\"a\",\"chain\":[\"QUJD\"]}") },
  { "a host with UTF-8", CALL("{\"host\":\"b\xc3\xbc\",\"chain\":"
                              "[\"QUJD\"]}") },
  { "a host with an escape", CALL("{\"host\":\"a\\u0041\",\"chain\":"
                                  "[\"QUJD\"]}") },
  { "port 0", CALL("{\"host\":\"a\",\"port\":0,\"chain\":[\"QUJD\"]}") },
  { "port 65536", CALL("{\"host\":\"a\",\"port\":65536,\"chain\":"
                       "[\"QUJD\"]}") },
  { "a negative port", CALL("{\"host\":\"a\",\"port\":-1,\"chain\":"
                            "[\"QUJD\"]}") },
  { "a port with a fraction", CALL("{\"host\":\"a\",\"port\":443.0,"
                                   "\"chain\":[\"QUJD\"]}") },
  { "a port that is a string", CALL("{\"host\":\"a\",\"port\":\"443\","
                                    "\"chain\":[\"QUJD\"]}") },
  { "a port of 16 digits", CALL("{\"host\":\"a\",\"port\":"
                                "1000000000000000,\"chain\":[\"QUJD\"]}") },
  { "a string cut at the end", "{\"jsonrpc\":\"2.0\",\"id\":\"abc" },
};

ParameterizedTestParameters(vscan, bad)
{
  return case_indices(NCASES(bad));
}

ParameterizedTest(size_t *i, vscan, bad)
{
  const bad_t *c = &bad[*i];
  size_t len = strlen(c->msg);
  pw_vscan_t v;

  /* The NUL case counts its NUL. */
  if (strcmp(c->why, "a NUL byte after the object") == 0)
    len++;
  cr_assert(!pw_vscan_read(c->msg, len, &v), "%s: taken", c->why);
}

/* Over the size cap: refused before a byte is read. */
Test(vscan, size_cap)
{
  size_t len = PW_VSCAN_MESSAGE_MAX + 1;
  char *big = malloc(len);
  pw_vscan_t v;

  cr_assert_not_null(big);
  memset(big, ' ', len);
  memcpy(big, CALL(PLAIN), strlen(CALL(PLAIN)));
  cr_assert(!pw_vscan_read(big, len, &v));
  cr_assert(pw_vscan_read(big, PW_VSCAN_MESSAGE_MAX, &v),
            "spaces to the cap are whitespace");
  cr_assert(!pw_vscan_read(NULL, 0, &v));
  free(big);
}
