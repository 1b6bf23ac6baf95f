/*
 * The upstream connector's insides, shared by upstream.c (the multi
 * handle, attempts, probes) and upstream_bridge.c (https upstreams).
 * Loop thread only.
 */
#ifndef PW_UPSTREAM_INT_H
#define PW_UPSTREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <curl/curl.h>

#include "gateway/upstream.h"

/* "socks5h://[v6 literal]:65535", a target and what happened fit. */
#define LABEL_MAX  (PW_HOST_MAX + 32)
#define TARGET_MAX (PW_HOST_MAX + 16)
#define WHAT_MAX   (CURL_ERROR_SIZE + 64)
#define REASON_MAX (LABEL_MAX + TARGET_MAX + WHAT_MAX + 16)

/* The probe's SOCKS5 request: the discard port of the proxy's host. */
#define PROBE_URL "http://127.0.0.1:9/"

/* What an https bridge holds per direction before it stops reading. */
#define BRIDGE_BUF 16384

/* A socket curl asked us to watch. */
typedef struct sock {
  LIST_ENTRY(sock) link;
  pw_up_t         *up;
  curl_socket_t    fd;
  uv_poll_t        poll;
} sock_t;

struct pw_up_conn {
  LIST_ENTRY(pw_up_conn) link;
  pw_up_t                *up;
  CURL                   *easy;
  CURLSH                 *share;
  struct curl_slist      *resolve;
  bool                    probe;
  bool                    proxied;
  bool                    tls;      /* an https upstream: bridge it */
  bool                    ready;    /* the result waits for delivery */
  uint64_t                timeout_ms;
  pw_up_status_t          status;
  int                     fd;       /* the caller's, once ready */
  pw_up_cb                cb;
  void                   *data;
  char                    label[LABEL_MAX];   /* "socks5h://h:p" */
  char                    target[TARGET_MAX]; /* "host:port" */
  char                    reason[REASON_MAX];
  char                    errbuf[CURL_ERROR_SIZE];
};

/*
 * An https upstream's tunnel: the TLS session to the proxy is curl's,
 * so the caller gets one end of a socket pair and the bridge moves
 * bytes between the other end and curl_easy_send/curl_easy_recv.  Each
 * direction has one buffer; while it holds bytes, its source is not
 * read (back-pressure).
 */
typedef struct bridge {
  LIST_ENTRY(bridge) link;
  pw_up_t           *up;
  CURL              *easy;
  CURLSH            *share;
  int                pair_fd;     /* our end of the pair */
  uv_poll_t          tls_poll;    /* curl's socket to the proxy */
  uv_poll_t          pair_poll;
  int                open;        /* poll handles not yet closed */
  bool               proxy_eof;   /* curl_easy_recv: the tunnel ended */
  bool               client_eof;  /* the caller shut its end for writing */
  bool               pair_shut;   /* we shut ours, after proxy_eof */
  unsigned char      down[BRIDGE_BUF];   /* proxy to caller */
  size_t             down_off, down_len;
  unsigned char      up_buf[BRIDGE_BUF]; /* caller to proxy */
  size_t             up_off, up_len;
} bridge_t;

struct pw_up {
  uv_loop_t               *loop;
  CURLM                   *multi;
  uv_timer_t               timer;    /* curl's timeout */
  uv_timer_t               defer;    /* results waiting for a turn */
  LIST_HEAD(, sock)        socks;
  LIST_HEAD(, pw_up_conn)  conns;
  LIST_HEAD(, bridge)      bridges;
  char                    *roots;    /* trust anchors, https upstreams */
  bool                     closing;
  int                      handles;  /* open handles left to close */
  void                   (*done)(void *);
  void                    *done_data;
};

/* upstream.c: one of up's handles is closed. */
void pw_up__handle_gone(pw_up_t *up);

/* upstream_bridge.c */
int  pw_up__bridge_start(pw_up_conn_t *c, curl_socket_t s);
void pw_up__bridge_end(bridge_t *b);

#endif
