#include "ipc/rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The messages of section 5.1; the details go into "data". */
static const char *
standard_message(int code)
{
  switch (code) {
  case PW_RPC_PARSE_ERROR:
    return "Parse error";
  case PW_RPC_INVALID_REQUEST:
    return "Invalid Request";
  case PW_RPC_METHOD_NOT_FOUND:
    return "Method not found";
  case PW_RPC_INVALID_PARAMS:
    return "Invalid params";
  default:
    break;
  }
  return "Internal error";
}

/*
 * Cuts s back to its last complete UTF-8 sequence.  A message cut to
 * its buffer by bytes may end inside a character, and jansson refuses
 * to pack such a string: the response would be lost.
 */
static void
utf8_trim(char *s)
{
  size_t len = strlen(s), i, need;
  unsigned char c;

  /* Find where the last sequence starts, at most 4 bytes back. */
  for (i = len; i > 0 && len - i < 4; i--) {
    c = (unsigned char) s[i - 1];
    if ((c & 0xc0) == 0x80)
      continue;
    if (c < 0x80)
      return;
    need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (len - (i - 1) < need)
      s[i - 1] = '\0';
    return;
  }
}

int
pw_rpc_fail(pw_rpc_error_t *err, int code, json_t *data, const char *fmt,
            ...)
{
  va_list ap;

  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  utf8_trim(err->message);

  json_decref(err->data);
  err->data = data;
  return -1;
}

/*
 * An error of the protocol itself: the standard message, so that clients
 * can match it, and what exactly was wrong as a string in "data".
 */
static void
protocol_error(pw_rpc_error_t *err, int code, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
protocol_error(pw_rpc_error_t *err, int code, const char *fmt, ...)
{
  char detail[256];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  utf8_trim(detail);

  pw_rpc_fail(err, code, json_string(detail), "%s", standard_message(code));
}

/*
 * Ids are copied, never shared: a response may be built on a pool thread
 * while the message that holds the id lives on the loop.
 */
static json_t *
id_copy(const json_t *id)
{
  return id != NULL ? json_deep_copy(id) : json_null();
}

json_t *
pw_rpc_result(const json_t *id, json_t *result)
{
  json_t *resp;

  resp = json_pack("{s:s, s:o, s:o}", "jsonrpc", "2.0",
                   "result", result != NULL ? result : json_null(),
                   "id", id_copy(id));
  return resp;
}

json_t *
pw_rpc_error(const json_t *id, const pw_rpc_error_t *err)
{
  json_t *error;

  error = json_pack("{s:i, s:s}", "code", err->code, "message",
                    err->message);
  if (error != NULL && err->data != NULL
      && json_object_set_new(error, "data",
                             json_deep_copy(err->data)) != 0) {
    json_decref(error);
    error = NULL;
  }

  /* A message jansson refuses still gets the code its answer owes. */
  if (error == NULL)
    error = json_pack("{s:i, s:s}", "code", err->code, "message",
                      standard_message(err->code));
  if (error == NULL)
    return NULL;

  return json_pack("{s:s, s:o, s:o}", "jsonrpc", "2.0", "error", error,
                   "id", id_copy(id));
}

/*
 * The nesting depth, counted before the parser runs so that a deep
 * document costs neither its recursion nor its allocations.  Brackets in
 * strings do not count; the scan does not judge the JSON otherwise.
 */
static bool
too_deep(const char *buf, size_t len)
{
  bool in_string = false, escaped = false;
  size_t i, depth = 0;

  for (i = 0; i < len; i++) {
    char c = buf[i];

    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }

    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > PW_RPC_MAX_DEPTH)
        return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return false;
}

static const pw_rpc_method_t *
lookup(const pw_rpc_method_t *table, const char *name)
{
  for (; table != NULL && table->name != NULL; table++) {
    if (strcmp(table->name, name) == 0)
      return table;
  }
  return NULL;
}

/* Section 4: a Request object has these members and no others. */
static bool
known_member(const char *key)
{
  return strcmp(key, "jsonrpc") == 0 || strcmp(key, "method") == 0
         || strcmp(key, "params") == 0 || strcmp(key, "id") == 0;
}

static void
parse_call(const pw_rpc_method_t *table, json_t *req, pw_rpc_call_t *call)
{
  json_t *id, *version, *method, *params, *v;
  const char *key;

  if (!json_is_object(req)) {
    protocol_error(&call->error, PW_RPC_INVALID_REQUEST,
                   "a request must be an object");
    return;
  }

  /*
   * Section 4: an id is a string, a number or null.  One of another type
   * cannot be echoed, so the error goes out with id null (section 5).
   */
  id = json_object_get(req, "id");
  if (id != NULL && !json_is_string(id) && !json_is_number(id)
      && !json_is_null(id)) {
    protocol_error(&call->error, PW_RPC_INVALID_REQUEST,
                   "id: must be a string, a number or null");
    return;
  }
  call->id = id;

  version = json_object_get(req, "jsonrpc");
  if (!json_is_string(version) || strcmp(json_string_value(version), "2.0")
      != 0) {
    protocol_error(&call->error, PW_RPC_INVALID_REQUEST,
                   "jsonrpc: must be \"2.0\"");
    return;
  }

  method = json_object_get(req, "method");
  if (!json_is_string(method)) {
    protocol_error(&call->error, PW_RPC_INVALID_REQUEST,
                   "method: must be a string");
    return;
  }
  call->name = json_string_value(method);

  params = json_object_get(req, "params");
  if (params != NULL && !json_is_object(params) && !json_is_array(params)) {
    protocol_error(&call->error, PW_RPC_INVALID_REQUEST,
                   "params: must be an object or an array");
    return;
  }
  call->params = params;

  json_object_foreach(req, key, v) {
    if (!known_member(key)) {
      protocol_error(&call->error, PW_RPC_INVALID_REQUEST,
                     "a request has only jsonrpc, method, params and id");
      return;
    }
  }

  call->method = lookup(table, call->name);
  if (call->method == NULL)
    protocol_error(&call->error, PW_RPC_METHOD_NOT_FOUND,
                   "no method of that name");
}

/* The message as a whole failed: one error response, id null. */
static void
whole_error(pw_rpc_msg_t *msg, int code, const char *detail)
{
  pw_rpc_error_t err = { 0 };

  protocol_error(&err, code, "%s", detail);
  msg->response = pw_rpc_error(NULL, &err);
  json_decref(err.data);
}

void
pw_rpc_parse(const pw_rpc_method_t *table, const char *buf, size_t len,
             pw_rpc_msg_t *msg)
{
  json_error_t jerr;
  char detail[256];
  size_t i, n;

  memset(msg, 0, sizeof(*msg));

  if (len > PW_RPC_MAX_MESSAGE) {
    snprintf(detail, sizeof(detail), "the message is over %d bytes",
             PW_RPC_MAX_MESSAGE);
    whole_error(msg, PW_RPC_INVALID_REQUEST, detail);
    return;
  }
  if (too_deep(buf, len)) {
    snprintf(detail, sizeof(detail), "the message nests deeper than %d",
             PW_RPC_MAX_DEPTH);
    whole_error(msg, PW_RPC_INVALID_REQUEST, detail);
    return;
  }

  /*
   * Any value decodes, so that "1" is an Invalid Request rather than a
   * Parse error; jansson refuses invalid UTF-8 and, asked to, duplicate
   * keys, which would otherwise make a member's value a matter of taste.
   */
  msg->root = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                         &jerr);
  if (msg->root == NULL) {
    snprintf(detail, sizeof(detail), "line %d column %d: %s", jerr.line,
             jerr.column, jerr.text);
    whole_error(msg, PW_RPC_PARSE_ERROR, detail);
    return;
  }

  /* Section 6: an empty batch is one Invalid Request, not an array. */
  msg->batch = json_is_array(msg->root);
  n = msg->batch ? json_array_size(msg->root) : 1;
  if (msg->batch && n == 0) {
    whole_error(msg, PW_RPC_INVALID_REQUEST, "an empty batch");
    return;
  }
  if (n > PW_RPC_MAX_BATCH) {
    snprintf(detail, sizeof(detail), "a batch holds at most %d calls",
             PW_RPC_MAX_BATCH);
    whole_error(msg, PW_RPC_INVALID_REQUEST, detail);
    return;
  }

  msg->calls = calloc(n, sizeof(*msg->calls));
  if (msg->calls == NULL) {
    whole_error(msg, PW_RPC_INTERNAL_ERROR, "out of memory");
    return;
  }
  msg->ncalls = n;

  for (i = 0; i < n; i++)
    parse_call(table, msg->batch ? json_array_get(msg->root, i) : msg->root,
               &msg->calls[i]);
}

void
pw_rpc_msg_free(pw_rpc_msg_t *msg)
{
  size_t i;

  if (msg == NULL)
    return;
  for (i = 0; i < msg->ncalls; i++)
    json_decref(msg->calls[i].error.data);
  free(msg->calls);
  json_decref(msg->root);
  json_decref(msg->response);
  memset(msg, 0, sizeof(*msg));
}

json_t *
pw_rpc_run(const pw_rpc_call_t *call, void *ctx)
{
  pw_rpc_error_t err = { 0 };
  json_t *result = NULL, *resp;
  int rc;

  /*
   * An invalid Request is answered even without an id (section 5: id
   * null); a notification of an unknown method is not (section 4.1).
   */
  if (call->method == NULL) {
    if (call->id == NULL && call->error.code != PW_RPC_INVALID_REQUEST)
      return NULL;
    return pw_rpc_error(call->id, &call->error);
  }

  rc = call->method->fn(ctx, call->params, &result, &err);

  if (call->id == NULL) {
    resp = NULL;
  } else if (rc == 0) {
    resp = pw_rpc_result(call->id, result);
    result = NULL;
  } else {
    if (err.code == 0)
      pw_rpc_fail(&err, PW_RPC_INTERNAL_ERROR, NULL,
                  "Internal error: the method gave no reason");
    resp = pw_rpc_error(call->id, &err);
  }

  /*
   * A request is always answered (section 5), even when its answer could
   * not be built (a result jansson refused, memory short).
   */
  if (call->id != NULL && resp == NULL) {
    pw_rpc_fail(&err, PW_RPC_INTERNAL_ERROR, NULL, "Internal error");
    resp = pw_rpc_error(call->id, &err);
  }

  json_decref(result);
  json_decref(err.data);
  return resp;
}

json_t *
pw_rpc_handle(const pw_rpc_method_t *table, void *ctx, const char *buf,
              size_t len)
{
  pw_rpc_msg_t msg;
  json_t *out = NULL, *resp;
  size_t i;

  pw_rpc_parse(table, buf, len, &msg);
  if (msg.response != NULL) {
    out = msg.response;
    msg.response = NULL;
    goto done;
  }

  if (!msg.batch) {
    out = pw_rpc_run(&msg.calls[0], ctx);
    goto done;
  }

  /* Section 6: only the answered calls, and nothing when none is. */
  out = json_array();
  for (i = 0; out != NULL && i < msg.ncalls; i++) {
    resp = pw_rpc_run(&msg.calls[i], ctx);
    if (resp != NULL && json_array_append_new(out, resp) != 0) {
      json_decref(out);
      out = NULL;
    }
  }
  if (out != NULL && json_array_size(out) == 0) {
    json_decref(out);
    out = NULL;
  }

done:
  pw_rpc_msg_free(&msg);
  return pw_rpc_unraw(out);
}

/*
 * A raw result is an object with one member under a key no JSON-RPC
 * client can send (it starts with a control character), holding the
 * text as a string.  Only pw_rpc_dumps and pw_rpc_unraw look inside.
 */
#define RAW_KEY "\001raw"

json_t *
pw_rpc_raw(char *text)
{
  json_t *o = NULL, *s;

  if (text == NULL)
    return NULL;
  s = json_stringn_nocheck(text, strlen(text));
  free(text);
  if (s != NULL && (o = json_object()) != NULL
      && json_object_set_new_nocheck(o, RAW_KEY, s) == 0)
    return o;
  json_decref(o);
  return NULL;
}

static const char *
raw_text(const json_t *v)
{
  if (!json_is_object(v) || json_object_size(v) != 1)
    return NULL;
  return json_string_value(json_object_get(v, RAW_KEY));
}

/* One response object: the rest by jansson, the raw result as it is. */
static char *
dumps_one(const json_t *resp)
{
  const char *raw = raw_text(json_object_get(resp, "result"));
  json_t *rest;
  char *text, *out;
  size_t len;

  if (raw == NULL)
    return json_dumps(resp, JSON_COMPACT);

  rest = json_copy((json_t *) resp);
  if (rest == NULL)
    return NULL;
  json_object_del(rest, "result");
  text = json_dumps(rest, JSON_COMPACT);
  json_decref(rest);
  if (text == NULL)
    return NULL;

  /* "{...}" becomes "{...,"result":RAW}". */
  len = strlen(text);
  if (len < 2 || asprintf(&out, "%.*s,\"result\":%s}", (int) (len - 1),
                          text, raw) < 0)
    out = NULL;
  free(text);
  return out;
}

char *
pw_rpc_dumps(const json_t *msg)
{
  char *out, *one, *grown;
  size_t len, n, i;

  if (!json_is_array(msg))
    return dumps_one(msg);

  out = strdup("[");
  len = 1;
  for (i = 0; out != NULL && i < json_array_size(msg); i++) {
    one = dumps_one(json_array_get(msg, i));
    n = one != NULL ? strlen(one) : 0;
    grown = one != NULL ? realloc(out, len + n + 2) : NULL;
    if (grown == NULL) {
      free(one);
      free(out);
      return NULL;
    }
    out = grown;
    if (i > 0)
      out[len++] = ',';
    memcpy(out + len, one, n);
    len += n;
    out[len] = '\0';
    free(one);
  }
  if (out != NULL && (grown = realloc(out, len + 2)) != NULL) {
    out = grown;
    memcpy(out + len, "]", 2);
    return out;
  }
  free(out);
  return NULL;
}

static void
unraw_one(json_t *resp)
{
  const char *raw = raw_text(json_object_get(resp, "result"));
  json_t *v;

  if (raw == NULL)
    return;
  v = json_loads(raw, JSON_DECODE_ANY, NULL);
  json_object_set_new(resp, "result", v != NULL ? v : json_null());
}

json_t *
pw_rpc_unraw(json_t *msg)
{
  json_t *v;
  size_t i;

  if (json_is_array(msg)) {
    json_array_foreach(msg, i, v)
      unraw_one(v);
  } else if (msg != NULL) {
    unraw_one(msg);
  }
  return msg;
}
