/*
 * The gateway's upstream connector (DESIGN.md, "The gateway"): given a
 * profile's upstream proxy, a connected byte stream to host:port
 * through it, as a plain socket the gateway then pumps with uv_tcp_t.
 *
 * libcurl does the connecting, in connect-only mode on the daemon's
 * libuv loop (the multi socket interface): the TCP connection, the HTTP
 * CONNECT tunnel with Basic proxy authentication, or the SOCKS5
 * greeting, RFC 1929 authentication and request.  Nothing here blocks
 * the loop: names are resolved by curl's threaded resolver, and
 * pw_up_new refuses a libcurl built without one.
 *
 * Where names are resolved: with an http, https or socks5h upstream
 * the name goes to the upstream and is never looked up here; with
 * socks5 (that is what the scheme means) and with a direct connection
 * it is looked up here, the profile's resolve map first.  There is
 * never a fallback to a direct connection when the upstream fails.
 *
 * libcurl never reads the proxy environment variables here: a direct
 * connection sets an empty proxy, which turns http_proxy, ALL_PROXY
 * and the rest off, and an upstream sets an empty no-proxy list, so
 * that NO_PROXY cannot send a name around the upstream either.
 *
 * Passwords go to libcurl as options of their own, never inside a URL,
 * and no reason this module writes holds one.
 *
 * An https upstream: the TLS session to the proxy belongs to libcurl,
 * so the caller gets one end of a socket pair, and a bridge on the
 * loop moves bytes between its other end and that session, reading
 * neither side while the other cannot take more.  The proxy's end of
 * the tunnel reaches the caller as a half-close; the caller's
 * half-close is not passed on (libcurl cannot close one direction of
 * its TLS session), so a tunnel the caller half-closed lasts until the
 * proxy ends it or sends more, or pw_up_close; one the caller closes
 * ends at once.  The proxy's certificate is checked against the system
 * store and the roots given to pw_up_set_proxy_roots.
 */
#ifndef PW_UPSTREAM_H
#define PW_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "engine/err.h"
#include "profiles/profile.h"

/* The connect timeout when a request gives 0, and the cap on one. */
#define PW_UP_TIMEOUT_DEFAULT_MS 10000
#define PW_UP_TIMEOUT_MAX_MS     120000

/* One per loop: libcurl's multi handle and the libuv handles it drives. */
typedef struct pw_up pw_up_t;

/* One connection attempt or probe, from its start to its callback. */
typedef struct pw_up_conn pw_up_conn_t;

/* What became of an attempt; pw_up_status_http maps it for the client. */
typedef enum pw_up_status {
  PW_UP_OK = 0,
  PW_UP_REFUSED,      /* a connection was refused (upstream or target) */
  PW_UP_UNREACHABLE,  /* no route, host or network unreachable */
  PW_UP_TIMEOUT,      /* nothing within the request's timeout */
  PW_UP_AUTH,         /* the upstream rejected our credentials */
  PW_UP_DENIED,       /* the upstream said no for another reason */
  PW_UP_NAME,         /* a name was not found (here or upstream) */
  PW_UP_PROTOCOL,     /* the upstream broke its protocol, TLS failed */
  PW_UP_CANCELLED     /* pw_up_close came first */
} pw_up_status_t;

/*
 * The status code a proxy answers its client with: 200 for PW_UP_OK,
 * 407 for PW_UP_AUTH, 504 for PW_UP_TIMEOUT, 502 for every other.
 */
int pw_up_status_http(pw_up_status_t status);

/* The constant's name ("REFUSED"), for logs and tests. */
const char *pw_up_status_name(pw_up_status_t status);

typedef struct pw_up_req {
  const pw_proxy_t   *proxy;      /* NULL or scheme "" for direct */
  const char         *host;       /* a name or an IP literal, no [] */
  uint16_t            port;       /* 1..65535 */
  const pw_resolve_t *resolve;    /* the profile's map: direct, socks5 */
  size_t              nresolve;
  uint64_t            timeout_ms; /* 0: PW_UP_TIMEOUT_DEFAULT_MS */
} pw_up_req_t;

/*
 * An attempt's answer, called exactly once on the loop (unless the
 * attempt was cancelled), never from inside the call that started it.
 * With PW_UP_OK, fd is a connected, non-blocking stream socket that the
 * callback now owns (uv_tcp_open it, or close it); otherwise fd is -1.
 * A probe's fd is always -1.  reason is one line for a log or an error
 * page, naming the upstream as scheme://host:port (never a password)
 * and what happened; it lives until the callback returns.  The
 * attempt's pw_up_conn_t is gone once the callback runs.  The callback
 * may start attempts, cancel others, or close the connector.
 */
typedef void (*pw_up_cb)(void *data, pw_up_status_t status, int fd,
                         const char *reason);

/*
 * A connector on loop.  PW_EINVAL when libcurl lacks its asynchronous
 * resolver (it would block the loop), PW_ENOMEM, PW_EIO.
 */
int pw_up_new(pw_up_t **out, uv_loop_t *loop, pw_err_t *err);

/*
 * Starts connecting to req->host:req->port through req->proxy.  The
 * request is copied: nothing it points to needs to outlive this call.
 * *conn (may be NULL) names the attempt for pw_up_cancel until its
 * callback runs.  PW_EINVAL for a bad host or port, an unknown scheme
 * or a closing connector; PW_ENOMEM.  No callback follows a failure.
 */
int pw_up_connect(pw_up_t *up, const pw_up_req_t *req, pw_up_cb cb,
                  void *data, pw_up_conn_t **conn, pw_err_t *err);

/*
 * Checks, before a gateway listens, that the upstream answers within
 * timeout_ms (0: the default).  http: the proxy accepts a TCP
 * connection.  https: it also completes a TLS handshake with a
 * certificate that verifies for the proxy's name.  socks5, socks5h:
 * the greeting and, with a user, RFC 1929 authentication succeed; to
 * get there a CONNECT to 127.0.0.1:9 (the discard port, on the proxy's
 * own machine) is asked for, and any reply the proxy gives to that
 * request, success or refusal, counts as an answer, while a refused
 * login is PW_UP_AUTH.  Direct: PW_UP_OK on the loop's next turn.
 * Errors and callback as pw_up_connect.
 */
int pw_up_probe(pw_up_t *up, const pw_proxy_t *proxy, uint64_t timeout_ms,
                pw_up_cb cb, void *data, pw_up_conn_t **conn,
                pw_err_t *err);

/*
 * Extra trust anchors (PEM, at most PW_PROFILE_ROOTS_MAX bytes) for the
 * certificates of https upstreams, on top of the system store, for
 * attempts started after this call; NULL drops them.  PW_ETOOBIG,
 * PW_ENOMEM.
 */
int pw_up_set_proxy_roots(pw_up_t *up, const char *pem, pw_err_t *err);

/*
 * Abandons an attempt whose callback has not run yet: the callback is
 * never called, and a socket or connection it made is closed.  Accepts
 * NULL.
 */
void pw_up_cancel(pw_up_conn_t *conn);

/*
 * Ends the connector: attempts still running get PW_UP_CANCELLED (from
 * inside this call, fd -1); the memory is freed after libuv's close
 * callbacks, and then done (may be NULL) is called with data.  A second
 * call does nothing.  Sockets already handed to callbacks stay open,
 * but the tunnels of https upstreams end here: their bridges are part
 * of the connector.
 */
void pw_up_close(pw_up_t *up, void (*done)(void *), void *data);

#endif
