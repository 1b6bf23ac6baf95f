/*
 * The engine's client, as the command line uses it: one WebSocket
 * connection to a running `pinwarden serve`, JSON-RPC calls made one at
 * a time and waited for, and the event notifications that arrive in
 * between kept in order for whoever asks for them.
 *
 * The engine is found through its data folder: <data>/engine.json says
 * where it listens, <data>/token holds the engine-wide token, sent as
 * "Authorization: Bearer TOKEN" on the upgrade.  libwebsockets runs on
 * its own default event loop, driven only inside the calls below, so a
 * handle is used by one thread at a time and nothing happens between
 * calls.
 */
#ifndef PW_CLIENT_H
#define PW_CLIENT_H

#include <stdint.h>

#include <jansson.h>

#include "engine/err.h"
#include "ipc/rpc.h"

#define PW_CLIENT_ENGINE_FILE "engine.json"
#define PW_CLIENT_TOKEN_FILE  "token"

/* The longest message taken from the engine (an export of a big store). */
#define PW_CLIENT_MAX_MESSAGE (96 * 1024 * 1024)

/* How long a call waits for its answer unless told otherwise. */
#define PW_CLIENT_TIMEOUT_MS  30000

/*
 * The engine answered a call with a JSON-RPC error; its code, message
 * and data are in the caller's pw_rpc_error_t.  The other failures are
 * the PW_E* codes of engine/err.h, with err->code 0.
 */
#define PW_CLIENT_EREMOTE     (-100)

typedef struct pw_client pw_client_t;

/* Where the engine of a data folder listens, and its token. */
typedef struct pw_client_where {
  char     listen[80];     /* as engine.json says: "127.0.0.1:7460" */
  char     host[64];       /* the address alone, IPv6 without [] */
  uint16_t port;
  char     token[128];     /* a secret: the caller wipes it */
} pw_client_where_t;

/*
 * Reads <data>/engine.json and <data>/token.  PW_ENOTFOUND when no
 * engine was started there; it does not check that one answers.
 */
int pw_client_locate(const char *data_dir, pw_client_where_t *where,
                     pw_err_t *err);

/*
 * Connects to the engine of data_dir (resolved as pw_store_data_dir
 * does).  PW_ENOTFOUND when no engine runs there: no engine.json, or
 * nothing accepts connections at its address.  PW_EIO when the engine
 * refused the connection (a wrong token, for one).
 */
int pw_client_open(pw_client_t **out, const char *data_dir,
                   pw_err_t *err);

/*
 * Connects to host:port (an IP literal; IPv6 without brackets) and
 * authenticates with token.  Errors as pw_client_open.
 */
int pw_client_connect(pw_client_t **out, const char *host, uint16_t port,
                      const char *token, pw_err_t *err);

/* Closes the connection and frees c.  Accepts NULL. */
void pw_client_close(pw_client_t *c);

/* How long pw_client_call waits; 0 restores PW_CLIENT_TIMEOUT_MS. */
void pw_client_set_timeout(pw_client_t *c, int timeout_ms);

/*
 * Calls method with params (borrowed; NULL sends none) and waits for
 * the answer.  PW_OK with *result set (the caller's), PW_CLIENT_EREMOTE
 * with err holding the engine's error, or a PW_E* code when the
 * connection failed (PW_EIO) or the wait ran out (PW_EIO as well, with
 * a message that says so).
 */
int pw_client_call(pw_client_t *c, const char *method, const json_t *params,
                   json_t **result, pw_rpc_error_t *err);

/*
 * The next event notification's params ({"topic", "data"}, the
 * caller's), waiting up to timeout_ms (0: only what has arrived).
 * PW_OK with *event NULL when none came in time; PW_EIO once the
 * connection is gone.
 */
int pw_client_next_event(pw_client_t *c, int timeout_ms, json_t **event,
                         pw_err_t *err);

/* Frees what err->data holds.  Accepts NULL. */
void pw_client_error_clear(pw_rpc_error_t *err);

#endif
