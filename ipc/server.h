/*
 * The IPC listener: WebSocket (JSON-RPC text frames) and plain HTTP on
 * one loopback address, on the daemon's libuv loop through
 * libwebsockets' libuv event library.
 *
 * Before any method runs, a connection must pass: a Host that is
 * 127.0.0.1, [::1] or localhost with the listener's port (DNS
 * rebinding), an Origin that is absent or the engine's own
 * (cross-site WebSocket hijacking), and a token, either as
 * "Authorization: Bearer TOKEN" on the upgrade or as the first call,
 * session.hello.  Each connection has caps on message size, calls in
 * flight and bytes queued to it; a client that does not read its
 * events is disconnected.
 */
#ifndef PW_SERVER_H
#define PW_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "engine/err.h"
#include "ipc/api.h"

#define PW_IPC_DEFAULT_PORT    7460
#define PW_IPC_MAX_IN_FLIGHT   64               /* calls per connection */
#define PW_IPC_MAX_QUEUED      (4 * 1024 * 1024) /* bytes per connection */

typedef struct pw_ipc pw_ipc_t;

typedef struct pw_ipc_config {
  const char *host;          /* "127.0.0.1", "::1" */
  uint16_t    port;          /* 0 picks a free port */
  int         insecure_any;  /* allow a non-loopback address */
  size_t      max_message;   /* 0: PW_RPC_MAX_MESSAGE */
  size_t      max_queued;    /* 0: PW_IPC_MAX_QUEUED */
  unsigned    max_in_flight; /* 0: PW_IPC_MAX_IN_FLIGHT */
  const char *ui_dir;        /* web/ and client/ served over HTTP, or
                                NULL for none */
} pw_ipc_config_t;

/* Starts listening on loop; the api is borrowed and outlives the ipc. */
int pw_ipc_start(pw_ipc_t **out, uv_loop_t *loop, pw_api_t *api,
                 const pw_ipc_config_t *cfg, pw_err_t *err);

/* The port bound (useful when cfg->port was 0). */
uint16_t pw_ipc_port(const pw_ipc_t *ipc);

/*
 * The address bound, as a client writes it: "127.0.0.1:7460",
 * "[::1]:7460" ("localhost" is bound as 127.0.0.1).
 */
const char *pw_ipc_listen(const pw_ipc_t *ipc);

/*
 * Sends an event to every authenticated session that subscribed to it,
 * as the notification {"jsonrpc": "2.0", "method": "event", "params":
 * {"topic": NAME, "profile": ID or null, "data": DATA}}, NAME being
 * "profile", "secure_access", "decision" or "browser".  profile_id may
 * be NULL; data is borrowed.  On the loop's thread only.
 */
void pw_ipc_publish(pw_ipc_t *ipc, unsigned topic, const char *profile_id,
                    json_t *data);

/*
 * Stops accepting, lets calls in flight finish, closes connections, and
 * calls done(data) once every handle is closed.  Frees the ipc then.
 */
/*
 * A decision a gateway acted on: published to subscribers of
 * "decision" at once, and stored through the store's queue.
 */
struct pw_decision;
void pw_ipc_record(pw_ipc_t *ipc, const struct pw_decision *d);

void pw_ipc_stop(pw_ipc_t *ipc, void (*done)(void *data), void *data);

#endif
