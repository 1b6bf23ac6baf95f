/*
 * The engine's methods, behind JSON-RPC: profiles, pins, Secure Access,
 * verification, decisions, sessions and event subscriptions.
 *
 * Params are named (an object).  A profile is named by "id": its UUID or
 * its name (ASCII case ignored); a session scoped to one profile may
 * leave "id" out to mean its own, and gets UNAUTHORIZED for any other.
 * Only events.subscribe wants the UUID, as it runs on the loop.
 *
 * The methods are synchronous and know nothing of WebSockets.  The
 * server runs the PW_RPC_LOOP methods on the event loop and the others,
 * which touch the store, on the libuv thread pool one at a time (so the
 * store's connection is never used by two threads at once); a method
 * never publishes an event itself but appends it to ctx->events, which
 * the server publishes on the loop once the call is done.
 *
 * Threads: pw_api_t's store is used only by the call that runs; its
 * compiled-policy cache has a lock of its own, because the loop reads it
 * for verify.chain's cached path (pw_api_verify_cached).
 */
#ifndef PW_API_H
#define PW_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/err.h"
#include "ipc/rpc.h"
#include "profiles/profile.h"
#include "profiles/store.h"

#define PW_API_TOKEN_LEN 65        /* 64 hex digits (256 bits) + NUL */
#define PW_API_VERSION   "0.1.0"

/* Event topics, as bits of a subscription. */
#define PW_TOPIC_PROFILE       0x1u
#define PW_TOPIC_SECURE_ACCESS 0x2u
#define PW_TOPIC_DECISION      0x4u
#define PW_TOPIC_BROWSER       0x8u

typedef struct pw_api pw_api_t;

/* What a connection is allowed, and what it listens to. */
typedef struct pw_api_session {
  bool     authed;
  char     scope[PW_PROFILE_ID_LEN];   /* "" for the engine-wide token */
  uint64_t token_gen;                   /* which scoped token it showed */
  unsigned topics;                      /* PW_TOPIC_* */
  char     topic_profile[PW_PROFILE_ID_LEN];  /* "" for every profile */
} pw_api_session_t;

typedef struct pw_api_ctx {
  pw_api_t         *api;
  pw_api_session_t *session;
  json_t           *events;  /* array of {topic, profile, data} to send */
} pw_api_ctx_t;

/*
 * Opens the store in data_dir and makes a fresh engine-wide token (256
 * random bits).  Writing the token file is the daemon's business.
 */
int pw_api_new(pw_api_t **out, const char *data_dir, pw_err_t *err);
void pw_api_free(pw_api_t *api);

/*
 * The method table, ending with a {NULL} entry.  The PW_RPC_LOOP ones
 * (session.hello, engine.status, events.subscribe, events.unsubscribe,
 * pins.compute) never touch the store.  A pool call reads its session's
 * scope: the server should not let the loop change that session
 * (session.hello) while the session has calls in the pool.
 */
const pw_rpc_method_t *pw_api_methods(void);

/* The engine-wide token, hex. */
const char *pw_api_token(const pw_api_t *api);

/*
 * Checks a presented token in constant time.  On success fills the
 * session's scope (empty for the engine-wide token) and marks it authed.
 */
bool pw_api_authenticate(pw_api_t *api, const char *token,
                         pw_api_session_t *session);

/*
 * Whether a session's token still holds: always for the engine-wide
 * token; for a scoped one, while it is its profile's current token of
 * its kind (a new token of that kind for the profile, or the profile's
 * deletion, revokes it, and sessions already open with it lose their
 * rights at their next call).
 */
bool pw_api_session_valid(pw_api_t *api, const pw_api_session_t *session);

/*
 * Who a scoped token is for.  A profile has at most one of each kind at
 * a time, so that a client's token (tokens.create) and the one of the
 * browser the engine launched (its extension's) never retire each
 * other.
 */
typedef enum pw_api_token_kind {
  PW_API_TOKEN_CLIENT,    /* tokens.create: a script, a UI */
  PW_API_TOKEN_BROWSER,   /* the extension of the profile's browser */
} pw_api_token_kind_t;

/*
 * Mints a token scoped to one profile, retiring the profile's token of
 * the same kind.  Scoped tokens live as long as the engine.
 */
int pw_api_token_scoped(pw_api_t *api, const char *profile_id,
                        pw_api_token_kind_t kind,
                        char out[PW_API_TOKEN_LEN], pw_err_t *err);

/* Whether an event (topic bit, profile id or "") goes to a session. */
bool pw_api_wants(const pw_api_session_t *session, unsigned topic,
                  const char *profile_id);

/*
 * verify.chain's fast path, on the loop: when the answer for params is
 * in the decision cache, sets *result and returns true; the server then
 * answers without leaving the loop.  Otherwise false, and the call goes
 * to the thread pool like any other: a call with "at", bad params, a
 * profile not compiled since its last change, or one out of the
 * session's scope.  The store is not touched, so a cached answer is not
 * recorded or published again; it was when the pool first made it.
 */
bool pw_api_verify_cached(pw_api_t *api, const pw_api_session_t *session,
                          const json_t *params, json_t **result);

/*
 * The same, a step earlier: msg is a whole JSON-RPC message as it came.
 * When it is one verify.chain call in the plain shape of ipc/vscan.h
 * and its answer is in the cache, sets *answer to the whole response
 * (the caller frees it) and returns true, without building a JSON tree
 * of the message.  Otherwise false: parse it and go on as usual.
 */
bool pw_api_verify_text(pw_api_t *api, const pw_api_session_t *session,
                        const char *msg, size_t len, char **answer);

/* engine.status's figures the loop keeps. */
void pw_api_set_running(pw_api_t *api, int running);

/* ---- running profiles (ipc/api_run.c) -------------------------------- */

struct pw_run;
struct pw_gw_hooks;

/* The runner of the engine's gateways; until set, none start. */
void pw_api_attach_runner(pw_api_t *api, struct pw_run *run);

/*
 * Whether a profile runs, as the pool's methods see it (profiles.delete
 * refuses a running one); the loop keeps it as profiles start and end.
 */
void pw_api_running_set(pw_api_t *api, const char *id, bool on);

/* Fills the hooks' pinned, decide and data; record is the caller's. */
void pw_api_gateway_hooks(pw_api_t *api, struct pw_gw_hooks *hooks);

/*
 * The answer of a PW_RPC_THEN method's second half: result (borrowed)
 * on success, else err (borrowed) says why.
 */
typedef void (*pw_api_done_cb)(void *data, json_t *result,
                               const pw_rpc_error_t *err);

/*
 * The second half of a PW_RPC_THEN method, on the loop: first is what
 * the pool's half returned.  done is called once, maybe before this
 * returns.
 */
void pw_api_then(pw_api_t *api, const pw_api_session_t *session,
                 const char *method, const json_t *first,
                 pw_api_done_cb done, void *data);

/*
 * An event a method left for the loop rather than for clients (its
 * topic starts with '_'): acts on it and returns true; false for the
 * events clients see.
 */
bool pw_api_internal_event(pw_api_t *api, const json_t *ev);

/* Stores a decision record (pw_decision_to_json); on the pool. */
int pw_api_record(pw_api_t *api, const json_t *record, pw_err_t *err);

/* Renames a record's keys to the IPC's ("profile" is "id" ...). */
void pw_api_decision_fix(json_t *decision);

#endif
