/*
 * `pinwarden serve`: the daemon's lifecycle.  One process per data
 * folder (an flock on <data>/engine.lock), one libuv loop, the IPC
 * listener on it.  While it runs the data folder holds
 *
 *   <data>/token        the engine-wide token and a newline, mode 0600
 *   <data>/engine.json  {"listen": "127.0.0.1:PORT", "pid": N,
 *                        "version": "..."}, mode 0600
 *
 * both written whole (a temporary file, then rename) once the listener
 * is up, and removed on a clean stop.  engine.json appearing means the
 * engine is ready; a client reads the port there when it was 0.
 *
 * SIGINT and SIGTERM stop it gracefully, SIGHUP reopens the log.
 */
#ifndef PW_SERVE_H
#define PW_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"
#include "engine/log.h"

#define PW_SERVE_DEFAULT_LISTEN "127.0.0.1:7460"

typedef struct pw_serve_opts {
  const char     *data_dir;      /* NULL: pw_store_data_dir's default */
  const char     *listen;        /* "HOST:PORT"; NULL: the default */
  int             insecure_any;  /* allow a non-loopback listen address */
  const char     *log_path;      /* NULL: stderr */
  pw_log_level_t  log_level;
  uint64_t        secret_wait_ms;  /* gateways' key-log wait; 0: 2000 */
  uint64_t        head_timeout_ms; /* gateways' bounds; 0: the default */
  uint64_t        idle_timeout_ms;
  uint64_t        upstream_ms;
  const char     *chromium;        /* the browser; NULL: /usr/bin/chromium */
  const char     *ui_dir;          /* web UI files; NULL: PW_UI_DIR */
} pw_serve_opts_t;

/*
 * Splits "127.0.0.1:7460", "[::1]:0" or "localhost:7460" into host
 * (brackets removed) and port (0 allowed: a free port).
 */
int pw_serve_parse_listen(const char *text, char *host, size_t size,
                          uint16_t *port, pw_err_t *err);

/*
 * Runs the daemon until it is stopped.  Returns the process's exit
 * status: 0 after a clean stop, 1 when it could not start or stopped
 * on an error.  Failures to start are printed on stderr as well as
 * logged.
 */
int pw_serve(const pw_serve_opts_t *opts);

#endif
