/*
 * The gateway's insides, shared by gateway.c (the listener, the start
 * and stop, request heads, clear-text HTTP) and tunnel.c (the byte pump
 * and the inspection of TLS handshakes).  Loop thread only.
 */
#ifndef PW_GATEWAY_INT_H
#define PW_GATEWAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/keylog.h"
#include "engine/tls.h"
#include "engine/tls13.h"
#include "gateway/gateway.h"
#include "gateway/phead.h"

typedef struct gw_conn gw_conn_t;

enum gw_state {
  GW_HEAD = 0,      /* reading a request head from the client */
  GW_CONNECTING,    /* the upstream connection is being made */
  GW_HTTP,          /* a clear-text request and its response pass */
  GW_SNIFF,         /* tunnel open: waiting for the client's first bytes */
  GW_INSPECT,       /* tunnel: a pinned host's handshake is read */
  GW_PUMP,          /* tunnel: bytes pass untouched */
  GW_CLOSING
};

/* One direction of a connection: bytes read from src, written to dst. */
typedef struct gw_dir {
  unsigned      pending;      /* writes queued and not yet done */
  bool          eof;          /* src said EOF */
  bool          shut;         /* dst was shut down for writing */
  uv_shutdown_t shutdown;
} gw_dir_t;

struct gw_conn {
  pw_gw_t          *gw;
  gw_conn_t        *prev, *next;
  enum gw_state     state;
  unsigned          handles;       /* open uv handles (close waits) */
  uv_tcp_t          client;
  uv_tcp_t         *server;        /* NULL until connected; its own
                                      memory, so that a keep-alive
                                      connection can change origin */
  uv_timer_t        timer;         /* head and idle timeouts */
  uint64_t          last_active;   /* uv_now of the last byte */
  uint64_t          head_at;       /* uv_now when a head began, or 0 */
  bool              close_when_sent;  /* an answer of ours ends it */

  /* Where the current request goes. */
  char              host[PW_HOST_MAX];
  uint16_t          port;
  pw_up_conn_t     *up;            /* connecting, else NULL */

  /* Clear-text HTTP. */
  pw_phead_t       *head;          /* request reader, kept across requests */
  pw_phead_resp_t  *resp;          /* response tracker of this upstream */
  char             *ahead;         /* client bytes read past a request */
  size_t            ahead_len;
  bool              req_done;      /* the request was sent whole */
  bool              close_after;   /* no next request on this connection */

  /* The byte pump: c2s reads client, writes server; s2c the other. */
  gw_dir_t          c2s, s2c;

  /* Handshake inspection of a tunnel. */
  unsigned char     sniff[16];
  size_t            sniff_len;
  pw_tls_t         *tls_client, *tls_server;
  pw_tls13_reader_t *tls13;
  uint64_t          server_seen;   /* server bytes read so far */
  char             *held;          /* server bytes held back */
  size_t            held_len, held_cap;
  size_t            held_fed;      /* of held, given to tls13 */
  bool              waiting;       /* a key-log wait is out */
  uint64_t          wait_id;
  bool              pinned;
  bool              sa_tls;        /* Secure Access holds it to TLS */
  uint64_t          inspect_at;    /* uv_now when inspection began */
  char              name[PW_HOST_MAX];  /* the host the decision is for */
};

struct pw_gw {
  uv_loop_t        *loop;
  pw_up_t          *up;
  pw_gw_hooks_t     hooks;
  pw_profile_t      profile;
  pw_keylog_t      *keylog;
  char              keylog_path[4096];
  char              address[64];
  uint64_t          secret_wait_ms, head_timeout_ms, idle_timeout_ms;
  uint64_t          upstream_ms;

  uv_tcp_t          listener;
  bool              listening;
  pw_up_conn_t     *probe;
  bool              up_closing;
  pw_gw_start_cb    start_cb;
  void             *start_data;

  /*
   * Every read of every connection lands here: a read callback is done
   * with the bytes before it returns (what must wait is copied), so an
   * open tunnel costs no buffer of its own.
   */
  char             *rbuf;
  gw_conn_t        *conns;
  unsigned          alive;         /* connections not yet freed */
  pw_gw_stats_t     stats;

  /* Hosts ("host:port") whose full handshake passed under this policy. */
  char            (*passed)[PW_HOST_MAX + 8];
  size_t            npassed;

  bool              closing;
  unsigned          handles;       /* the listener's, while open */
  void            (*done)(void *data);
  void             *done_data;
};

/* gateway.c */
void gw_conn_close(gw_conn_t *c);
void gw_conn_fail(gw_conn_t *c, int status, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void gw_record(gw_conn_t *c, pw_action_t action, pw_reason_t reason,
               const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
void gw_http_server_data(gw_conn_t *c, const char *buf, size_t len);
void gw_http_client_data(gw_conn_t *c, const char *buf, size_t len);
void gw_http_sent(gw_conn_t *c);
void gw_http_server_eof(gw_conn_t *c);

/* tunnel.c */
void gw_tunnel_start(gw_conn_t *c);
void gw_read_client(gw_conn_t *c, bool on);
void gw_read_server(gw_conn_t *c, bool on);
int  gw_send(gw_conn_t *c, gw_dir_t *d, const char *buf, size_t len);
void gw_tunnel_client_data(gw_conn_t *c, const char *buf, size_t len);
void gw_tunnel_server_data(gw_conn_t *c, const char *buf, size_t len);
void gw_eof(gw_conn_t *c, gw_dir_t *d);
void gw_tunnel_free(gw_conn_t *c);
void gw_tunnel_tick(gw_conn_t *c, uint64_t now);
void gw_server_close(gw_conn_t *c);
bool gw_passed(pw_gw_t *gw, const char *host, uint16_t port);
void gw_pass(pw_gw_t *gw, const char *host, uint16_t port);

#endif
