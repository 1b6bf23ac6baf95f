/*
 * The IPC listener's insides, shared by server.c (libwebsockets: the
 * listener, the checks before a connection is let in, frames in and
 * out, the stop) and server_call.c (running calls: on the loop or on
 * the thread pool one at a time, collecting batches, events).
 *
 * Everything here is touched on the loop's thread only, except a
 * job's own fields while its work runs on the pool.
 */
#ifndef PW_SERVER_INT_H
#define PW_SERVER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "engine/log.h"
#include "ipc/server.h"

#define PW_IPC_HOSTS_MAX 3
#define PW_IPC_NAME_MAX  80

typedef struct pw_ipc_out pw_ipc_out_t;
typedef struct pw_ipc_conn pw_ipc_conn_t;
typedef struct pw_ipc_job pw_ipc_job_t;

/* One outgoing text message, with the headroom lws_write wants. */
struct pw_ipc_out {
  pw_ipc_out_t *next;
  size_t        len;
  unsigned char buf[];   /* LWS_PRE + len */
};

/*
 * A WebSocket connection.  lws owns the wsi and its per-session data,
 * which only points here; this is ours, counted: one reference while
 * the wsi lives, one per message whose calls are not all answered.
 * When lws closes the wsi, wsi becomes NULL and answers still to come
 * are dropped; the last reference frees it.
 */
struct pw_ipc_conn {
  pw_ipc_t         *ipc;
  struct lws       *wsi;         /* NULL once closed */
  unsigned          refs;
  pw_ipc_conn_t    *prev, *next; /* ipc->conns, while wsi is set */
  pw_api_session_t  session;
  char              peer[64];

  char             *rx;          /* a message being reassembled */
  size_t            rx_len, rx_cap;
  bool              rx_active;

  pw_ipc_out_t     *out_head, *out_tail;
  size_t            out_bytes;

  unsigned          in_flight;   /* calls sent to the thread pool */
  int               close_code;  /* nonzero: close at next writeable */
};

enum pw_ipc_phase {
  PW_IPC_RUNNING = 0,
  PW_IPC_DRAINING,     /* store jobs still running */
  PW_IPC_CLOSING,      /* connections told 1001 */
  PW_IPC_DESTROYING,   /* lws_context_destroy called, handles closing */
  PW_IPC_DONE
};

struct pw_ipc {
  uv_loop_t          *loop;
  pw_api_t           *api;
  struct lws_context *ctx;
  struct lws_context **ctxp;    /* lws writes NULL here once destroyed */
  struct lws_vhost   *vhost;

  char                host[PW_IPC_NAME_MAX];    /* bound, "127.0.0.1" */
  char                listen[PW_IPC_NAME_MAX];  /* "127.0.0.1:7460" */
  uint16_t            port;
  size_t              max_message;
  size_t              max_queued;
  unsigned            max_in_flight;
  bool                insecure_any;
  char                ui_dir[4096];   /* "" when no files are served */

  /* What Host and Origin may say (DNS rebinding, CSWSH). */
  char                hosts[PW_IPC_HOSTS_MAX][PW_IPC_NAME_MAX];
  char                origins[PW_IPC_HOSTS_MAX][PW_IPC_NAME_MAX + 8];
  unsigned            nhosts;

  pw_ipc_conn_t      *conns;
  unsigned            nconns;

  /* Store jobs: one on the pool at a time, the rest wait in order. */
  pw_ipc_job_t       *queue_head, *queue_tail;
  pw_ipc_job_t       *running;

  /* Stopping. */
  enum pw_ipc_phase   phase;
  uv_timer_t          timer;
  uint64_t            deadline;
  void              (*done)(void *data);
  void               *done_data;
};

/* server.c */
void pw_ipc__send(pw_ipc_conn_t *conn, const char *text, size_t len);
void pw_ipc__send_json(pw_ipc_conn_t *conn, json_t *msg);
void pw_ipc__conn_unref(pw_ipc_conn_t *conn);

/* server_files.c */
int pw_ipc__serve_file(pw_ipc_t *ipc, struct lws *wsi, const char *uri,
                       const char *host);

/* server_call.c */
void pw_ipc__message(pw_ipc_conn_t *conn, const char *buf, size_t len);
bool pw_ipc__jobs_idle(const pw_ipc_t *ipc);

#endif
