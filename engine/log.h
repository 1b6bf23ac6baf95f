/*
 * The daemon's log: one line per event, a level, the module and the
 * facts as key=value pairs, e.g.
 *
 *   2026-12-03T17:00:00Z level=warn mod=ipc peer=127.0.0.1:51234
 *     msg="origin refused" origin=https://evil.example
 *
 * (one line in the file).  Only the daemon's top layer logs; library
 * modules return codes and messages.  Secrets (tokens, proxy passwords,
 * key-log lines) are never passed here.
 */
#ifndef PW_LOG_H
#define PW_LOG_H

#include "engine/err.h"

typedef enum pw_log_level {
  PW_LOG_DEBUG = 0,
  PW_LOG_INFO,
  PW_LOG_WARN,
  PW_LOG_ERROR
} pw_log_level_t;

/* Logs to path (appending, created 0600), or to stderr when NULL. */
int pw_log_open(const char *path, pw_log_level_t min, pw_err_t *err);

/* Reopens the file after a rotation (SIGHUP); stderr stays. */
int pw_log_reopen(pw_err_t *err);

void pw_log_close(void);

int pw_log_level_parse(const char *name, pw_log_level_t *out);

/*
 * Writes one line: the time, "level=", "mod=", then fmt, which holds the
 * key=value facts.  Values that may hold spaces or quotes go through
 * pw_log_q().  Lines are cut at 2 KiB.
 */
void pw_log(pw_log_level_t level, const char *mod, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/*
 * Quotes s for a log value ("..." with \" and \\ escaped, control
 * characters as \xNN) into buf, and returns buf.
 */
const char *pw_log_q(char *buf, size_t size, const char *s);

#endif
