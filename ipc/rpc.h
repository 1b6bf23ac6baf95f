/*
 * JSON-RPC 2.0 (https://www.jsonrpc.org/specification), independent of
 * the transport and of the engine's methods: parsing a message into its
 * calls, running a call against a method table, and building responses.
 *
 * A message is parsed once into calls; the transport then runs each call
 * where it likes (the loop, or the thread pool for calls that touch the
 * store) and collects the responses: one object for a single request,
 * an array for a batch (section 6), nothing for notifications.
 */
#ifndef PW_RPC_H
#define PW_RPC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Section 5.1 codes, then the engine's own (-32000 to -32099). */
#define PW_RPC_PARSE_ERROR      -32700
#define PW_RPC_INVALID_REQUEST  -32600
#define PW_RPC_METHOD_NOT_FOUND -32601
#define PW_RPC_INVALID_PARAMS   -32602
#define PW_RPC_INTERNAL_ERROR   -32603
#define PW_RPC_NOT_FOUND        -32001  /* no such profile, exception … */
#define PW_RPC_CONFLICT         -32002  /* stale revision, taken name */
#define PW_RPC_UNAUTHORIZED     -32003  /* no session, or out of scope */
#define PW_RPC_INVALID_POLICY   -32004  /* a pin set, proxy or rule */
#define PW_RPC_BUSY             -32005  /* too many calls in flight */
#define PW_RPC_UPSTREAM         -32006  /* a gateway's upstream failed */

/* Caps on what one message may hold. */
#define PW_RPC_MAX_MESSAGE (1024 * 1024)
#define PW_RPC_MAX_DEPTH   32
#define PW_RPC_MAX_BATCH   100

/*
 * The protocol's own errors (-32700 to -32600) carry the message of
 * section 5.1 ("Parse error" ...), which clients may match, and what
 * exactly was wrong as a string in data.  A method's errors carry its
 * own message.
 */
typedef struct pw_rpc_error {
  int     code;
  char    message[256];
  json_t *data;            /* owned; NULL when there is none */
} pw_rpc_error_t;

/*
 * A method: returns 0 with *result set (owned by the caller; NULL reads
 * as null), or -1 with err filled (err starts zeroed; a -1 that left it
 * so is an Internal error).  ctx is the transport's per-call context.
 * params are borrowed from the message and only read: a method may run
 * on another thread than the one that owns them.
 */
typedef int (*pw_rpc_fn)(void *ctx, const json_t *params, json_t **result,
                         pw_rpc_error_t *err);

/* Runs on the event loop (touches session state, never blocks). */
#define PW_RPC_LOOP   0x1u
/*
 * Runs on the pool, then its result goes to the transport's second
 * half on the event loop (ipc/api.h, pw_api_then), which answers.
 */
#define PW_RPC_THEN   0x2u

typedef struct pw_rpc_method {
  const char *name;
  pw_rpc_fn   fn;
  unsigned    flags;
} pw_rpc_method_t;

typedef struct pw_rpc_call {
  json_t                *id;      /* borrowed; NULL when absent or of
                                     a type an id cannot have */
  const char            *name;    /* borrowed from the message */
  json_t                *params;  /* borrowed; NULL when absent */
  const pw_rpc_method_t *method;  /* NULL: invalid or unknown */
  pw_rpc_error_t         error;   /* set when method is NULL */
} pw_rpc_call_t;

typedef struct pw_rpc_msg {
  json_t        *root;      /* owns everything the calls borrow */
  bool           batch;
  size_t         ncalls;
  pw_rpc_call_t *calls;
  json_t        *response;  /* set when the message as a whole failed */
} pw_rpc_msg_t;

/*
 * Parses buf (a WebSocket text frame).  Never fails as a function: a
 * message that is not JSON (invalid UTF-8 and duplicate keys included)
 * gets a Parse error; one over PW_RPC_MAX_MESSAGE bytes, nested deeper
 * than PW_RPC_MAX_DEPTH (counted before parsing), an empty batch or one
 * over PW_RPC_MAX_BATCH calls gets an Invalid Request.  Either is
 * msg->response (the one response to send, id null) with no calls.
 * Each call is looked up in table; an invalid or unknown one carries its
 * error.  A request object has only jsonrpc ("2.0"), method (a string),
 * params (an object or an array) and id (a string, a number or null).
 */
void pw_rpc_parse(const pw_rpc_method_t *table, const char *buf,
                  size_t len, pw_rpc_msg_t *msg);

void pw_rpc_msg_free(pw_rpc_msg_t *msg);

/*
 * Runs one call and returns its response object, or NULL for a
 * notification (section 4.1: never answered, not even with an error).
 * An Invalid Request is answered even when it has no id (with id null,
 * as section 7's examples show).  Safe on any thread: the response
 * shares nothing with the message.
 */
json_t *pw_rpc_run(const pw_rpc_call_t *call, void *ctx);

/* Response objects (section 5). */
json_t *pw_rpc_result(const json_t *id, json_t *result);   /* takes it */
json_t *pw_rpc_error(const json_t *id, const pw_rpc_error_t *err);

/* Sets err, freeing data set before; data may be NULL and is taken. */
int pw_rpc_fail(pw_rpc_error_t *err, int code, json_t *data,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * A result that is JSON text already, for pw_rpc_dumps to splice into
 * the response as it is: a listing built from stored documents is not
 * parsed only to be written out again.  Takes text (malloc'd), which
 * the method vouches is one JSON value.
 */
json_t *pw_rpc_raw(char *text);

/*
 * The text of a response (an object, or a batch's array) with raw
 * results spliced in; the caller frees it.  NULL when out of memory.
 */
char *pw_rpc_dumps(const json_t *msg);

/*
 * A response with every raw result parsed back into JSON, for callers
 * in the same process (pw_rpc_handle does it).  Takes msg.
 */
json_t *pw_rpc_unraw(json_t *msg);

/*
 * Parses and runs a whole message synchronously: the response to send
 * (object or array, owned by the caller, raw results parsed), or NULL
 * when there is none.
 */
json_t *pw_rpc_handle(const pw_rpc_method_t *table, void *ctx,
                      const char *buf, size_t len);

#endif
