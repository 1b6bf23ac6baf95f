/*
 * The servers bench_ipc measures, each in a process of its own: the
 * daemon (`pinwarden serve` on a temporary data folder) and a bare
 * libwebsockets echo server, the limit it is compared with.
 *
 * Nothing may outlive the benchmark.  Every child is recorded, asks the
 * kernel for SIGKILL when the benchmark dies (PR_SET_PDEATHSIG), and is
 * stopped by bench_proc_stop_all, which an atexit handler also runs.
 * SIGINT, SIGTERM and SIGHUP only set bench_proc_interrupted, so that
 * the waits return and the run leaves through its one cleanup path.
 */
#ifndef PW_BENCH_PROC_H
#define PW_BENCH_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

extern volatile sig_atomic_t bench_proc_interrupted;

/* Installs the signal handlers and the atexit handler. */
void bench_proc_init(void);

typedef struct bench_daemon {
  pid_t    pid;          /* 0 when not running */
  char     dir[64];      /* the temporary data folder */
  char     log[96];      /* its stdout and stderr */
  uint16_t port;
  char     token[256];
} bench_daemon_t;

/*
 * Starts `exe serve --data-dir DIR --listen 127.0.0.1:PORT` on a new
 * temporary folder and a free port, waits (up to timeout_s) for
 * DIR/engine.json, and reads DIR/token.  On failure err says why, with
 * the end of the daemon's log, and what was started is stopped.
 */
int bench_daemon_start(bench_daemon_t *d, const char *exe, double timeout_s,
                       char *err, size_t errlen);

/*
 * SIGTERM, then up to timeout_s for the daemon to exit before SIGKILL;
 * removes the data folder.  Returns the exit status as waitpid gives it,
 * or -1 when it had to be killed.  Accepts a daemon never started.
 */
int bench_daemon_stop(bench_daemon_t *d, double timeout_s);

/* The resident memory of a process in KiB (VmRSS), or -1. */
long bench_proc_rss_kib(pid_t pid);

/*
 * Forks a bare libwebsockets echo server on 127.0.0.1 and a free port:
 * one thread, the libuv event library as the daemon uses it, each text
 * message sent back as it came.
 */
int bench_echo_start(pid_t *pid, uint16_t *port, char *err, size_t errlen);

/* SIGTERM, then SIGKILL after timeout_s; forgets the child.  pid 0: no-op. */
int bench_proc_stop(pid_t pid, double timeout_s);

/* Kills every child still recorded, at once (the atexit path). */
void bench_proc_stop_all(void);

#endif
