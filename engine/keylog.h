/*
 * The per-profile key-log file watcher (DESIGN.md, "Pin enforcement
 * without a man-in-the-middle", steps 1, 4 and 6).  The browser appends
 * NSS key-log lines to a file this module creates; the watcher reads
 * what was appended, keeps only the servers' handshake traffic secrets,
 * and hands one to the tunnel that waits for its client random.
 *
 * Everything runs on the daemon's libuv loop and nothing here logs: the
 * counters of pw_keylog_stats say what went wrong, and secrets go
 * nowhere but to the callback that asked for them.
 *
 * Secrets do not outlive their use: one handed to a callback is removed
 * from the table and its bytes cleansed when the callback returns; one
 * nobody asks for is dropped after PW_KEYLOG_TTL_MS or when
 * PW_KEYLOG_ENTRIES_MAX newer ones came; the file is removed on close.
 */
#ifndef PW_KEYLOG_H
#define PW_KEYLOG_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "engine/err.h"

/* Our caps: secrets held at once, and how long one is held. */
#define PW_KEYLOG_ENTRIES_MAX 1024
#define PW_KEYLOG_TTL_MS      30000

/*
 * inotify can coalesce or miss changes on some file systems (network
 * and FUSE ones), so the file is also polled this often while anyone
 * waits.
 */
#define PW_KEYLOG_POLL_MS 50

/* The status a wait's callback gets. */
enum {
  PW_KEYLOG_SECRET  = 0,  /* the secret arrived */
  PW_KEYLOG_TIMEOUT = 1,  /* it did not within the wait: fail closed */
  PW_KEYLOG_CLOSED  = 2   /* the watcher was closed first */
};

typedef struct pw_keylog pw_keylog_t;

/*
 * One wait's answer, called once on the loop.  secret and secret_len
 * are set only with PW_KEYLOG_SECRET (NULL and 0 otherwise); the bytes
 * are cleansed when the callback returns, so a caller copies what it
 * keeps.  The callback may wait, cancel or close the watcher.
 */
typedef void (*pw_keylog_cb)(void *data, int status,
                             const unsigned char *secret, size_t secret_len);

/* Called once the watcher is gone; kl must not be used any more. */
typedef void (*pw_keylog_done_cb)(void *data);

typedef struct pw_keylog_stats {
  uint64_t lines;        /* complete lines read */
  uint64_t secrets;      /* servers' handshake secrets kept */
  uint64_t ignored;      /* other labels, comments and blank lines */
  uint64_t bad;          /* lines that did not parse or were too long */
  uint64_t used;         /* secrets handed to a wait */
  uint64_t evicted;      /* dropped for a newer one over the cap */
  uint64_t expired;      /* dropped after PW_KEYLOG_TTL_MS */
  uint64_t read_errors;  /* pread or fstat failures */
  int      watching;     /* 0: inotify refused, the poll alone reads */
} pw_keylog_stats_t;

/*
 * Creates path with mode 0600 and watches it on loop.  A path that
 * exists already, of any type and owner, is refused with PW_ECONFLICT:
 * a file left over or planted by someone else could hold lines we did
 * not see written, or be readable by others, and the engine's runtime
 * folder gives each profile a fresh name anyway.  PW_EIO when the file
 * cannot be created, PW_ENOMEM.  On success *kl is the watcher, which
 * only pw_keylog_close ends.
 */
int pw_keylog_open(pw_keylog_t **kl, uv_loop_t *loop, const char *path,
                   pw_err_t *err);

/*
 * Asks for the server's handshake traffic secret of client_random (32
 * octets).  cb is called once, on the loop and never from inside this
 * call: on the loop's next turn if the secret is already there, when it
 * arrives, or with PW_KEYLOG_TIMEOUT after timeout_ms.  *id (may be
 * NULL) names the wait for pw_keylog_cancel.  PW_EINVAL on a closing
 * watcher, PW_ENOMEM.
 */
int pw_keylog_wait(pw_keylog_t *kl, const unsigned char *client_random,
                   uint64_t timeout_ms, pw_keylog_cb cb, void *data,
                   uint64_t *id, pw_err_t *err);

/*
 * Withdraws a wait whose tunnel closed first; its callback is never
 * called.  PW_ENOTFOUND when it was answered already (ids are never
 * reused, so a stale one is harmless).
 */
int pw_keylog_cancel(pw_keylog_t *kl, uint64_t id);

void pw_keylog_stats(const pw_keylog_t *kl, pw_keylog_stats_t *stats);

/*
 * Feeds len octets as if the browser had appended them, through the
 * same line splitter; for the tests and the fuzz target.  Waits are
 * answered on the loop's next turn, not from inside this call.
 */
void pw_keylog_feed(pw_keylog_t *kl, const void *buf, size_t len);

/*
 * Ends the watcher: pending waits get PW_KEYLOG_CLOSED (from inside
 * this call), the file is removed and the table cleansed at once; the
 * memory is freed after libuv's close callbacks, and then done_cb (may
 * be NULL) is called.  A second call does nothing.
 */
void pw_keylog_close(pw_keylog_t *kl, pw_keylog_done_cb done_cb,
                     void *data);

#endif
