#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/alloc.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ipc/rpc.h"
#include "tests/unit/cases.h"

/* ---- the methods of the specification's examples ------------------ */

static int
number_at(const json_t *params, size_t i, const char *name, json_int_t *out)
{
  const json_t *v = json_is_array(params) ? json_array_get(params, i)
                                          : json_object_get(params, name);

  if (!json_is_integer(v))
    return -1;
  *out = json_integer_value(v);
  return 0;
}

static int
subtract(void *ctx, const json_t *params, json_t **result,
         pw_rpc_error_t *err)
{
  json_int_t a, b;

  if (number_at(params, 0, "minuend", &a) != 0
      || number_at(params, 1, "subtrahend", &b) != 0)
    return pw_rpc_fail(err, PW_RPC_INVALID_PARAMS, NULL,
                       "two integers, minuend and subtrahend");
  *result = json_integer(a - b);
  return 0;
}

static int
sum(void *ctx, const json_t *params, json_t **result, pw_rpc_error_t *err)
{
  const json_t *v;
  json_int_t total = 0;
  size_t i;

  json_array_foreach(params, i, v)
    total += json_integer_value(v);
  *result = json_integer(total);
  return 0;
}

/* Counts the calls that ran, notifications included. */
static int ran;

static int
notify(void *ctx, const json_t *params, json_t **result,
       pw_rpc_error_t *err)
{
  ran++;
  *result = json_string("nobody reads this");
  return 0;
}

static int
get_data(void *ctx, const json_t *params, json_t **result,
         pw_rpc_error_t *err)
{
  *result = json_pack("[s, i]", "hello", 5);
  return 0;
}

/* A method that fails without saying how. */
static int
broken(void *ctx, const json_t *params, json_t **result,
       pw_rpc_error_t *err)
{
  return -1;
}

static const pw_rpc_method_t table[] = {
  { "subtract",     subtract, 0 },
  { "sum",          sum,      0 },
  { "update",       notify,   0 },
  { "notify_hello", notify,   0 },
  { "notify_sum",   notify,   0 },
  { "get_data",     get_data, 0 },
  { "broken",       broken,   0 },
  { NULL, NULL, 0 }
};

static json_t *
handle(const char *text, size_t len)
{
  return pw_rpc_handle(table, NULL, text, len);
}

/* ---- comparing responses ------------------------------------------ */

/*
 * The specification's responses carry no "data"; ours carry the detail
 * there, so it is left out of the comparison.
 */
static void
strip_data(json_t *resp)
{
  json_t *error = json_object_get(resp, "error");

  if (error != NULL)
    json_object_del(error, "data");
}

static int
by_id(const void *a, const void *b)
{
  json_t *const *x = a, *const *y = b;
  char *sx = json_dumps(json_object_get(*x, "id"), JSON_ENCODE_ANY);
  char *sy = json_dumps(json_object_get(*y, "id"), JSON_ENCODE_ANY);
  int c = strcmp(sx, sy);

  free(sx);
  free(sy);
  return c;
}

/* A batch's responses may come in any order (section 6): sort by id. */
static json_t *
normalized(json_t *resp)
{
  json_t *items[PW_RPC_MAX_BATCH], *out;
  size_t i, n;

  if (!json_is_array(resp)) {
    strip_data(resp);
    return json_incref(resp);
  }

  n = json_array_size(resp);
  cr_assert_leq(n, PW_RPC_MAX_BATCH);
  for (i = 0; i < n; i++) {
    items[i] = json_array_get(resp, i);
    strip_data(items[i]);
  }
  qsort(items, n, sizeof(items[0]), by_id);

  out = json_array();
  for (i = 0; i < n; i++)
    json_array_append(out, items[i]);
  return out;
}

static void
assert_same(json_t *got, const char *want_text, const char *what)
{
  json_t *want = NULL, *g, *w;
  char *gs, *ws;

  if (want_text == NULL) {
    gs = got != NULL ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
    cr_assert_null(got, "%s: expected no response, got %s", what, gs);
    return;
  }
  want = json_loads(want_text, JSON_DECODE_ANY, NULL);
  cr_assert_not_null(want, "%s: the expected response is not JSON", what);
  cr_assert_not_null(got, "%s: expected %s, got no response", what,
                     want_text);

  g = normalized(got);
  w = normalized(want);
  gs = json_dumps(g, JSON_ENCODE_ANY | JSON_SORT_KEYS);
  ws = json_dumps(w, JSON_ENCODE_ANY | JSON_SORT_KEYS);
  cr_assert(json_equal(g, w), "%s:\n  got  %s\n  want %s", what, gs, ws);

  free(gs);
  free(ws);
  json_decref(g);
  json_decref(w);
  json_decref(want);
}

/* ---- section 7 of the specification, every example ---------------- */

struct transcript {
  const char *name;
  const char *request;
  const char *response;   /* NULL: nothing is sent back */
};

static const struct transcript transcripts[] = {
  { "positional params",
    "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42, 23], "
    "\"id\": 1}",
    "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 1}" },

  { "positional params, the other way round",
    "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [23, 42], "
    "\"id\": 2}",
    "{\"jsonrpc\": \"2.0\", \"result\": -19, \"id\": 2}" },

  { "named params",
    "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": "
    "{\"subtrahend\": 23, \"minuend\": 42}, \"id\": 3}",
    "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 3}" },

  { "named params in another order",
    "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": "
    "{\"minuend\": 42, \"subtrahend\": 23}, \"id\": 4}",
    "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 4}" },

  { "a notification",
    "{\"jsonrpc\": \"2.0\", \"method\": \"update\", \"params\": "
    "[1,2,3,4,5]}",
    NULL },

  { "a notification of a method that does not exist",
    "{\"jsonrpc\": \"2.0\", \"method\": \"foobar\"}",
    NULL },

  { "a method that does not exist",
    "{\"jsonrpc\": \"2.0\", \"method\": \"foobar\", \"id\": \"1\"}",
    "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, \"message\": "
    "\"Method not found\"}, \"id\": \"1\"}" },

  { "invalid JSON",
    "{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", "
    "\"baz]",
    "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32700, \"message\": "
    "\"Parse error\"}, \"id\": null}" },

  { "an invalid Request object",
    "{\"jsonrpc\": \"2.0\", \"method\": 1, \"params\": \"bar\"}",
    "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
    "\"Invalid Request\"}, \"id\": null}" },

  { "a batch that is invalid JSON",
    "[\n  {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], "
    "\"id\": \"1\"},\n  {\"jsonrpc\": \"2.0\", \"method\"\n]",
    "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32700, \"message\": "
    "\"Parse error\"}, \"id\": null}" },

  { "an empty array",
    "[]",
    "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
    "\"Invalid Request\"}, \"id\": null}" },

  { "a batch of one that is not a request",
    "[1]",
    "[{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
    "\"Invalid Request\"}, \"id\": null}]" },

  { "a batch of three that are not requests",
    "[1,2,3]",
    "[{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
    "\"Invalid Request\"}, \"id\": null},"
    " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
    "\"Invalid Request\"}, \"id\": null},"
    " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
    "\"Invalid Request\"}, \"id\": null}]" },

  { "a mixed batch",
    "[\n"
    " {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], "
    "\"id\": \"1\"},\n"
    " {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": "
    "[7]},\n"
    " {\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": "
    "[42,23], \"id\": \"2\"},\n"
    " {\"foo\": \"boo\"},\n"
    " {\"jsonrpc\": \"2.0\", \"method\": \"foo.get\", \"params\": "
    "{\"name\": \"myself\"}, \"id\": \"5\"},\n"
    " {\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": \"9\"}\n"
    "]",
    "[\n"
    " {\"jsonrpc\": \"2.0\", \"result\": 7, \"id\": \"1\"},\n"
    " {\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": \"2\"},\n"
    " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
    "\"Invalid Request\"}, \"id\": null},\n"
    " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, \"message\": "
    "\"Method not found\"}, \"id\": \"5\"},\n"
    " {\"jsonrpc\": \"2.0\", \"result\": [\"hello\", 5], \"id\": \"9\"}\n"
    "]" },

  { "a batch of notifications only",
    "[\n"
    " {\"jsonrpc\": \"2.0\", \"method\": \"notify_sum\", \"params\": "
    "[1,2,4]},\n"
    " {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": "
    "[7]}\n"
    "]",
    NULL },
};

ParameterizedTestParameters(rpc, spec_examples)
{
  return case_indices(NCASES(transcripts));
}

ParameterizedTest(size_t *i, rpc, spec_examples)
{
  const struct transcript *t = &transcripts[*i];
  json_t *got;

  got = handle(t->request, strlen(t->request));
  assert_same(got, t->response, t->name);
  json_decref(got);
}

/* ---- malformed messages ------------------------------------------- */

enum shape {
  TEXT = 0,   /* the text as it is */
  DEEP,       /* the text inside PW_RPC_MAX_DEPTH arrays */
  LARGE,      /* the text padded with spaces past PW_RPC_MAX_MESSAGE */
  BATCH_MAX   /* a batch of PW_RPC_MAX_BATCH + 1 copies of the text */
};

struct bad_case {
  const char *name;
  enum shape  shape;
  const char *text;
  size_t      len;       /* 0: strlen(text) */
  int         code;
  size_t      nbatch;    /* 0: a single error object is expected */
  const char *id;        /* the id expected, as JSON */
};

#define REQ(rest) "{\"jsonrpc\": \"2.0\", " rest "}"
#define WITH_NUL "{\"jsonrpc\": \"2.0\"\0, \"method\": \"sum\"}"

static const struct bad_case bad_cases[] = {
  /* Not JSON at all. */
  { "not JSON", TEXT, "hello", 0, PW_RPC_PARSE_ERROR, 0, "null" },

  /* Cut off halfway. */
  { "truncated", TEXT, REQ("\"method\": \"sum\", \"id\": 1") "", 20,
    PW_RPC_PARSE_ERROR, 0, "null" },

  /* Nothing but whitespace. */
  { "empty", TEXT, "  ", 0, PW_RPC_PARSE_ERROR, 0, "null" },

  /* One level deeper than the cap, refused before parsing. */
  { "too deep", DEEP, "[1]", 0, PW_RPC_INVALID_REQUEST, 0, "null" },

  /* Over the size cap, refused before parsing. */
  { "too large", LARGE, REQ("\"method\": \"sum\", \"id\": 1"), 0,
    PW_RPC_INVALID_REQUEST, 0, "null" },

  /* More calls than a batch may hold. */
  { "batch too long", BATCH_MAX, REQ("\"method\": \"sum\", \"id\": 1"), 0,
    PW_RPC_INVALID_REQUEST, 0, "null" },

  /* Section 4: "jsonrpc" must be exactly "2.0"; the id is echoed. */
  { "version 1.0", TEXT,
    "{\"jsonrpc\": \"1.0\", \"method\": \"sum\", \"id\": 7}", 0,
    PW_RPC_INVALID_REQUEST, 0, "7" },
  { "version as a number", TEXT,
    "{\"jsonrpc\": 2.0, \"method\": \"sum\", \"id\": 7}", 0,
    PW_RPC_INVALID_REQUEST, 0, "7" },
  { "no version", TEXT, "{\"method\": \"sum\", \"id\": 7}", 0,
    PW_RPC_INVALID_REQUEST, 0, "7" },

  { "no method", TEXT, REQ("\"id\": \"a\""), 0, PW_RPC_INVALID_REQUEST, 0,
    "\"a\"" },
  { "method a number", TEXT, REQ("\"method\": 5, \"id\": 1"), 0,
    PW_RPC_INVALID_REQUEST, 0, "1" },
  { "method null", TEXT, REQ("\"method\": null, \"id\": 1"), 0,
    PW_RPC_INVALID_REQUEST, 0, "1" },

  /* Section 4.2: params are structured, an object or an array. */
  { "params a string", TEXT,
    REQ("\"method\": \"sum\", \"params\": \"1,2\", \"id\": 1"), 0,
    PW_RPC_INVALID_REQUEST, 0, "1" },
  { "params a number", TEXT,
    REQ("\"method\": \"sum\", \"params\": 3, \"id\": 1"), 0,
    PW_RPC_INVALID_REQUEST, 0, "1" },

  /* An id of another type than string, number or null: id null. */
  { "id an object", TEXT,
    REQ("\"method\": \"sum\", \"id\": {\"a\": 1}"), 0,
    PW_RPC_INVALID_REQUEST, 0, "null" },
  { "id an array", TEXT, REQ("\"method\": \"sum\", \"id\": [1]"), 0,
    PW_RPC_INVALID_REQUEST, 0, "null" },
  { "id a boolean", TEXT, REQ("\"method\": \"sum\", \"id\": true"), 0,
    PW_RPC_INVALID_REQUEST, 0, "null" },

  /* Members the specification does not define. */
  { "unknown member", TEXT,
    REQ("\"method\": \"sum\", \"id\": 1, \"param\": [1]"), 0,
    PW_RPC_INVALID_REQUEST, 0, "1" },

  /* Section 6: an empty batch is one error, not an array. */
  { "empty batch", TEXT, "[ ]", 0, PW_RPC_INVALID_REQUEST, 0, "null" },

  /* Each member that is not an object gets its own error. */
  { "batch of non-objects", TEXT, "[1, \"a\", null, []]", 0,
    PW_RPC_INVALID_REQUEST, 4, "null" },

  /* A value that is JSON but not a request. */
  { "a bare number", TEXT, "1", 0, PW_RPC_INVALID_REQUEST, 0, "null" },
  { "a bare string", TEXT, "\"sum\"", 0, PW_RPC_INVALID_REQUEST, 0,
    "null" },

  /* jansson refuses invalid UTF-8 anywhere in the text. */
  { "invalid UTF-8", TEXT, REQ("\"method\": \"s\xff\", \"id\": 1"), 0,
    PW_RPC_PARSE_ERROR, 0, "null" },
  { "overlong UTF-8", TEXT, REQ("\"method\": \"\xc0\xaf\", \"id\": 1"), 0,
    PW_RPC_PARSE_ERROR, 0, "null" },

  /* Which "method" would count is a matter of taste: refused. */
  { "duplicate keys", TEXT,
    REQ("\"method\": \"sum\", \"method\": \"subtract\", \"id\": 1"), 0,
    PW_RPC_PARSE_ERROR, 0, "null" },

  /* A NUL byte inside the frame. */
  { "embedded NUL", TEXT, WITH_NUL, sizeof(WITH_NUL) - 1,
    PW_RPC_PARSE_ERROR, 0, "null" },

  /* Two documents in one frame. */
  { "two documents", TEXT, "{} {}", 0, PW_RPC_PARSE_ERROR, 0, "null" },

  /* Brackets inside strings do not count towards the depth. */
  { "brackets in a string", TEXT,
    REQ("\"method\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\", "
        "\"id\": 1"), 0,
    PW_RPC_METHOD_NOT_FOUND, 0, "1" },

  /* A method that exists, with params it cannot use. */
  { "invalid params", TEXT,
    REQ("\"method\": \"subtract\", \"params\": [\"a\"], \"id\": 2"), 0,
    PW_RPC_INVALID_PARAMS, 0, "2" },

  /* A method that fails without a code is an internal error. */
  { "method gives no reason", TEXT, REQ("\"method\": \"broken\", \"id\": 3"),
    0, PW_RPC_INTERNAL_ERROR, 0, "3" },
};

static char *
shaped(const struct bad_case *c, size_t *len)
{
  size_t n = c->len != 0 ? c->len : strlen(c->text), i, total;
  char *buf;

  switch (c->shape) {
  case DEEP:
    total = 2 * PW_RPC_MAX_DEPTH + n;
    buf = malloc(total + 1);
    cr_assert_not_null(buf);
    memset(buf, '[', PW_RPC_MAX_DEPTH);
    memcpy(buf + PW_RPC_MAX_DEPTH, c->text, n);
    memset(buf + PW_RPC_MAX_DEPTH + n, ']', PW_RPC_MAX_DEPTH);
    break;

  case LARGE:
    total = PW_RPC_MAX_MESSAGE + 1;
    buf = malloc(total + 1);
    cr_assert_not_null(buf);
    memset(buf, ' ', total);
    memcpy(buf, c->text, n);
    break;

  case BATCH_MAX:
    total = 2 + (PW_RPC_MAX_BATCH + 1) * (n + 1);
    buf = malloc(total + 1);
    cr_assert_not_null(buf);
    buf[0] = '[';
    for (i = 0; i <= PW_RPC_MAX_BATCH; i++) {
      memcpy(buf + 1 + i * (n + 1), c->text, n);
      buf[1 + i * (n + 1) + n] = i < PW_RPC_MAX_BATCH ? ',' : ' ';
    }
    buf[total - 1] = ']';
    break;

  default:
    total = n;
    buf = malloc(total + 1);
    cr_assert_not_null(buf);
    memcpy(buf, c->text, n);
    break;
  }

  buf[total] = '\0';
  *len = total;
  return buf;
}

static void
assert_error(const json_t *resp, const struct bad_case *c)
{
  const json_t *error = json_object_get(resp, "error");
  json_t *want_id = json_loads(c->id, JSON_DECODE_ANY, NULL);
  char *text = json_dumps(resp, JSON_ENCODE_ANY);

  cr_assert_str_eq(json_string_value(json_object_get(resp, "jsonrpc")),
                   "2.0", "%s: %s", c->name, text);
  cr_assert_eq(json_integer_value(json_object_get(error, "code")),
               c->code, "%s: want code %d, got %s", c->name, c->code, text);
  cr_assert(json_is_string(json_object_get(error, "message")),
            "%s: no message in %s", c->name, text);
  cr_assert(json_equal(json_object_get(resp, "id"), want_id),
            "%s: want id %s, got %s", c->name, c->id, text);
  cr_assert_null(json_object_get(resp, "result"), "%s: %s", c->name, text);

  json_decref(want_id);
  free(text);
}

ParameterizedTestParameters(rpc, malformed)
{
  return case_indices(NCASES(bad_cases));
}

ParameterizedTest(size_t *i, rpc, malformed)
{
  const struct bad_case *c = &bad_cases[*i];
  json_t *resp;
  char *buf;
  size_t len, k;

  buf = shaped(c, &len);
  resp = handle(buf, len);
  cr_assert_not_null(resp, "%s: no response", c->name);

  if (c->nbatch == 0) {
    cr_assert(json_is_object(resp), "%s: want one object", c->name);
    assert_error(resp, c);
  } else {
    cr_assert(json_is_array(resp), "%s: want an array", c->name);
    cr_assert_eq(json_array_size(resp), c->nbatch,
                 "%s: want %zu responses, got %zu", c->name, c->nbatch,
                 json_array_size(resp));
    for (k = 0; k < c->nbatch; k++)
      assert_error(json_array_get(resp, k), c);
  }

  json_decref(resp);
  free(buf);
}

/* ---- the rest of the contract ------------------------------------- */

/* At the depth cap exactly, a message is read. */
Test(rpc, depth_at_the_cap)
{
  char buf[256];
  json_t *resp;
  size_t n = 0, i;

  n += (size_t) snprintf(buf, sizeof(buf), REQ("\"method\": \"sum\", "
                                               "\"id\": 1, \"params\": "));
  buf[n - 1] = '\0';
  n--;
  for (i = 0; i < PW_RPC_MAX_DEPTH - 1; i++)
    buf[n++] = '[';
  for (i = 0; i < PW_RPC_MAX_DEPTH - 1; i++)
    buf[n++] = ']';
  buf[n++] = '}';

  resp = handle(buf, n);
  cr_assert_eq(json_integer_value(json_object_get(resp, "result")), 0,
               "%.*s", (int) n, buf);
  json_decref(resp);
}

/* Notifications run, and are never answered, not even with an error. */
Test(rpc, notifications_run_silently)
{
  const char *msgs[] = {
    REQ("\"method\": \"notify_hello\", \"params\": [7]"),
    REQ("\"method\": \"subtract\", \"params\": [\"a\"]"),
    REQ("\"method\": \"broken\""),
    REQ("\"method\": \"nothing.here\""),
  };
  size_t i;

  ran = 0;
  for (i = 0; i < NCASES(msgs); i++)
    cr_assert_null(handle(msgs[i], strlen(msgs[i])), "%s", msgs[i]);
  cr_assert_eq(ran, 1);
}

/* An id of null is answered (it is not a notification); so are reals. */
Test(rpc, ids_echoed)
{
  const char *null_id = REQ("\"method\": \"get_data\", \"id\": null");
  const char *real_id = REQ("\"method\": \"get_data\", \"id\": 1.5");
  json_t *r;

  r = handle(null_id, strlen(null_id));
  cr_assert(json_is_null(json_object_get(r, "id")));
  cr_assert_not_null(json_object_get(r, "result"));
  json_decref(r);

  r = handle(real_id, strlen(real_id));
  cr_assert_float_eq(json_real_value(json_object_get(r, "id")), 1.5, 1e-9);
  json_decref(r);
}

/* Parsing once and running each call, as the server does. */
Test(rpc, parse_then_run)
{
  const char *text = "[" REQ("\"method\": \"sum\", \"params\": [1, 2], "
                             "\"id\": 1") ", "
                     REQ("\"method\": \"foo\", \"id\": 2") ", "
                     REQ("\"method\": \"notify_sum\"") "]";
  pw_rpc_msg_t msg;
  json_t *r;

  pw_rpc_parse(table, text, strlen(text), &msg);
  cr_assert_null(msg.response);
  cr_assert(msg.batch);
  cr_assert_eq(msg.ncalls, 3);

  cr_assert_str_eq(msg.calls[0].name, "sum");
  cr_assert_not_null(msg.calls[0].method);
  r = pw_rpc_run(&msg.calls[0], NULL);
  cr_assert_eq(json_integer_value(json_object_get(r, "result")), 3);
  json_decref(r);

  cr_assert_null(msg.calls[1].method);
  cr_assert_eq(msg.calls[1].error.code, PW_RPC_METHOD_NOT_FOUND);
  r = pw_rpc_run(&msg.calls[1], NULL);
  cr_assert_eq(json_integer_value(json_object_get(r, "id")), 2);
  json_decref(r);

  cr_assert_null(msg.calls[2].id);
  cr_assert_null(pw_rpc_run(&msg.calls[2], NULL));

  pw_rpc_msg_free(&msg);
  pw_rpc_msg_free(&msg);
}

/* A message that failed as a whole has a response and no calls. */
Test(rpc, whole_failure)
{
  pw_rpc_msg_t msg;

  pw_rpc_parse(table, "[]", 2, &msg);
  cr_assert_not_null(msg.response);
  cr_assert_eq(msg.ncalls, 0);
  pw_rpc_msg_free(&msg);
}

/* pw_rpc_fail keeps the data it was given, and a second call frees it. */
Test(rpc, fail_and_data)
{
  pw_rpc_error_t err = { 0 };
  json_t *r;

  cr_assert_eq(pw_rpc_fail(&err, PW_RPC_CONFLICT, json_string("a"),
                           "stale %d", 3), -1);
  cr_assert_eq(pw_rpc_fail(&err, PW_RPC_CONFLICT, json_string("b"),
                           "stale %d", 4), -1);
  r = pw_rpc_error(NULL, &err);
  cr_assert_str_eq(json_string_value(json_object_get(
                     json_object_get(r, "error"), "message")), "stale 4");
  cr_assert_str_eq(json_string_value(json_object_get(
                     json_object_get(r, "error"), "data")), "b");
  json_decref(r);
  json_decref(err.data);
}

/* ---- messages cut inside a character ------------------------------ */

static int
fail_euros(void *ctx, const json_t *params, json_t **result,
           pw_rpc_error_t *err)
{
  char text[400];
  size_t i;

  /* 3-byte characters, so that the 256-byte message ends inside one. */
  for (i = 0; i + 3 < sizeof(text); i += 3)
    memcpy(text + i, "\xe2\x82\xac", 3);
  text[i] = '\0';
  return pw_rpc_fail(err, PW_RPC_CONFLICT, NULL, "x%s", text);
}

static const pw_rpc_method_t euro_table[] = {
  { "euros", fail_euros, 0 },
  { NULL, NULL, 0 },
};

/* A request is answered even when its message was cut mid-character. */
Test(rpc, message_cut_inside_a_character)
{
  static const char msg[] =
    "{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": \"euros\"}";
  json_t *r = pw_rpc_handle(euro_table, NULL, msg, strlen(msg));
  const char *m;

  cr_assert_not_null(r, "no answer");
  cr_expect_eq(json_integer_value(json_object_get(r, "id")), 7);
  cr_expect_eq(json_integer_value(json_object_get(json_object_get(r,
               "error"), "code")), PW_RPC_CONFLICT);
  m = json_string_value(json_object_get(json_object_get(r, "error"),
                                        "message"));
  cr_assert_not_null(m, "no message");
  cr_expect_eq(strlen(m) % 3, 1, "message of %zu bytes ends inside a "
               "character", strlen(m));
  json_decref(r);
}
