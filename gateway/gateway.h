/*
 * A profile's gateway: an HTTP/1.1 proxy on a loopback port that the
 * profile's browser uses for everything.  It reaches sites through the
 * profile's upstream (gateway/upstream.h), answers clear-text requests
 * as Secure Access says, and inspects the TLS handshakes of pinned
 * hosts as they pass, without terminating them (DESIGN.md, "Pin
 * enforcement without a man-in-the-middle").
 *
 * Everything runs on the loop's thread.  What the gateway cannot know
 * by itself (which hosts are pinned, what a chain is worth, where
 * decisions go) it asks of its hooks, so that the policy it enforces
 * is always the engine's current one.
 */
#ifndef PW_GATEWAY_H
#define PW_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "engine/decision.h"
#include "engine/err.h"
#include "gateway/upstream.h"
#include "profiles/profile.h"

/* Bounds, in milliseconds, each overridable in pw_gw_config_t. */
#define PW_GW_SECRET_WAIT_MS    2000     /* key-log secret after hello */
#define PW_GW_HEAD_TIMEOUT_MS   10000    /* a request head, once begun */
#define PW_GW_IDLE_TIMEOUT_MS   300000   /* no byte either way */
#define PW_GW_UPSTREAM_MS       10000    /* connecting through upstream */
#define PW_GW_PROBE_MS          3000     /* the upstream check at start */

/* Bytes read at once from one side of a connection. */
#define PW_GW_READ_SIZE  (64 * 1024)
/* Server bytes held back while a handshake is decided. */
#define PW_GW_HOLD_MAX   (256 * 1024)
/* Connections open at once on one gateway; more wait in the backlog. */
#define PW_GW_CONNS_MAX  4096
/* Hosts whose full handshake passed, for resumed sessions. */
#define PW_GW_PASSED_MAX 1024

typedef struct pw_gw pw_gw_t;

/*
 * What the gateway asks of the engine, on the loop.  pinned says
 * whether a host (normalised) has an enforcing or reporting pin set,
 * the profile's or the defaults'; decide judges the n DER certificates
 * the server sent (leaf first) with the decision core, which may answer
 * from its cache of recent decisions; record keeps and announces a
 * decision the gateway acted on (blocks, upgrades, reports).
 */
typedef struct pw_gw_hooks {
  bool (*pinned)(void *data, const pw_profile_t *p, const char *host);
  int  (*decide)(void *data, const pw_profile_t *p, const char *host,
                 uint16_t port, const unsigned char *const *der,
                 const int *len, size_t n, pw_decision_t *d,
                 pw_err_t *err);
  void  *data;
  void (*record)(void *record_data, const pw_decision_t *d);
  void  *record_data;
} pw_gw_hooks_t;

typedef struct pw_gw_config {
  const pw_profile_t *profile;     /* copied */
  const char         *keylog;      /* the key-log file to create */
  /* 0 takes the PW_GW_* default. */
  uint64_t            secret_wait_ms;
  uint64_t            head_timeout_ms;
  uint64_t            idle_timeout_ms;
  uint64_t            upstream_ms;
  uint64_t            probe_ms;
} pw_gw_config_t;

typedef struct pw_gw_stats {
  uint64_t accepted;       /* client connections */
  uint64_t open;           /* client connections open now */
  uint64_t tunnels;        /* CONNECT tunnels opened */
  uint64_t inspected;      /* handshakes read */
  uint64_t blocked;        /* handshakes refused */
  uint64_t upstream_errors;
} pw_gw_stats_t;

/*
 * Called once when a start ends: status PW_OK and the gateway listens,
 * or an error code with a message for the caller, after which the
 * gateway only waits for pw_gw_close.
 */
typedef void (*pw_gw_start_cb)(void *data, pw_gw_t *gw, int status,
                               const char *message);

/*
 * Creates the key-log file (mode 0600), checks that the profile's
 * upstream answers within cfg->probe_ms, and only then listens on a
 * free loopback port.  Each gateway has its own upstream connector, so
 * that nothing one profile resolved or trusted reaches another; the
 * profile's roots are trusted for an https upstream's certificate too.
 * *out is set at once; cb follows from the loop.  A direct profile
 * skips the check.  Errors before the check are
 * returned here and cb is never called; the caller still closes *out
 * when it was set.
 */
int pw_gw_start(pw_gw_t **out, uv_loop_t *loop, const pw_gw_config_t *cfg,
                const pw_gw_hooks_t *hooks, pw_gw_start_cb cb, void *data,
                pw_err_t *err);

/* "127.0.0.1:PORT" once listening, else "". */
const char *pw_gw_address(const pw_gw_t *gw);
const char *pw_gw_keylog(const pw_gw_t *gw);
const pw_profile_t *pw_gw_profile(const pw_gw_t *gw);
void pw_gw_stats(const pw_gw_t *gw, pw_gw_stats_t *stats);

/*
 * A new version of the profile: new connections and handshakes not yet
 * decided follow it; tunnels already passed stay open.  The upstream of
 * a running gateway does not change (it was checked at start).  A new
 * policy forgets which hosts passed a full handshake.
 */
int pw_gw_update(pw_gw_t *gw, const pw_profile_t *p, pw_err_t *err);

/* The engine-wide pins changed: forget which hosts passed. */
void pw_gw_policy_changed(pw_gw_t *gw);

/*
 * Stops listening, closes every connection, removes the key-log file,
 * and calls done (may be NULL) from the loop once every handle is
 * closed and gw is freed.
 */
void pw_gw_close(pw_gw_t *gw, void (*done)(void *data), void *data);

#endif
