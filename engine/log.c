#include "engine/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/rfc3339.h"

#define LOG_LINE_MAX 2048

/*
 * One log per process.  The lock is there because lws and a future
 * worker may log from a thread other than the loop's; a line is
 * written with one write(2) on an O_APPEND descriptor, so two
 * processes appending to one file do not interleave within a line.
 */
static struct {
  pthread_mutex_t lock;
  int             fd;      /* -1: stderr */
  char           *path;    /* NULL: stderr */
  pw_log_level_t  min;
} log_state = { PTHREAD_MUTEX_INITIALIZER, -1, NULL, PW_LOG_INFO };

static const char *const level_names[] = { "debug", "info", "warn", "error" };

static int
open_file(const char *path, int *fd, pw_err_t *err)
{
  *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
             0600);
  if (*fd < 0)
    return pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  return PW_OK;
}

int
pw_log_open(const char *path, pw_log_level_t min, pw_err_t *err)
{
  char *copy = NULL;
  int fd = -1, ret;

  if (path != NULL) {
    copy = strdup(path);
    if (copy == NULL)
      return pw_err_set(err, PW_ENOMEM, "out of memory");
    ret = open_file(path, &fd, err);
    if (ret != PW_OK) {
      free(copy);
      return ret;
    }
  }

  pthread_mutex_lock(&log_state.lock);
  if (log_state.fd >= 0)
    close(log_state.fd);
  free(log_state.path);
  log_state.fd = fd;
  log_state.path = copy;
  log_state.min = min;
  pthread_mutex_unlock(&log_state.lock);
  return PW_OK;
}

int
pw_log_reopen(pw_err_t *err)
{
  int fd, ret = PW_OK;

  pthread_mutex_lock(&log_state.lock);
  if (log_state.path == NULL)
    goto done;

  /* On failure the old descriptor stays: losing lines is worse. */
  ret = open_file(log_state.path, &fd, err);
  if (ret != PW_OK)
    goto done;
  close(log_state.fd);
  log_state.fd = fd;

done:
  pthread_mutex_unlock(&log_state.lock);
  return ret;
}

void
pw_log_close(void)
{
  pthread_mutex_lock(&log_state.lock);
  if (log_state.fd >= 0)
    close(log_state.fd);
  free(log_state.path);
  log_state.fd = -1;
  log_state.path = NULL;
  log_state.min = PW_LOG_INFO;
  pthread_mutex_unlock(&log_state.lock);
}

int
pw_log_level_parse(const char *name, pw_log_level_t *out)
{
  size_t i;

  for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (pw_log_level_t) i;
      return PW_OK;
    }
  }
  if (strcmp(name, "warning") == 0) {
    *out = PW_LOG_WARN;
    return PW_OK;
  }
  return PW_EINVAL;
}

static void
write_all(int fd, const char *buf, size_t len)
{
  ssize_t n;

  while (len > 0) {
    n = write(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;   /* nowhere left to report a failing log */
    buf += n;
    len -= (size_t) n;
  }
}

void
pw_log(pw_log_level_t level, const char *mod, const char *fmt, ...)
{
  char line[LOG_LINE_MAX], when[PW_RFC3339_LEN];
  size_t len, i;
  va_list ap;
  int n;

  if (level < log_state.min || level > PW_LOG_ERROR)
    return;

  pw_rfc3339_format((int64_t) time(NULL), when);
  n = snprintf(line, sizeof(line), "%s level=%s mod=%s ", when,
               level_names[level], mod);
  len = n < 0 ? 0 : (size_t) n;

  va_start(ap, fmt);
  n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
  va_end(ap);
  if (n > 0)
    len += (size_t) n;

  /* Cut to the cap, keeping room for the newline. */
  if (len > sizeof(line) - 2)
    len = sizeof(line) - 2;

  /* One event, one line: a stray newline in a value must not forge one. */
  for (i = 0; i < len; i++)
    if (line[i] == '\n' || line[i] == '\r')
      line[i] = ' ';
  line[len++] = '\n';

  pthread_mutex_lock(&log_state.lock);
  write_all(log_state.fd >= 0 ? log_state.fd : STDERR_FILENO, line, len);
  pthread_mutex_unlock(&log_state.lock);
}

const char *
pw_log_q(char *buf, size_t size, const char *s)
{
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  unsigned char c;

  if (size < 3) {
    if (size > 0)
      buf[0] = '\0';
    return buf;
  }
  if (s == NULL)
    s = "";

  /* Leave room for the closing quote and the NUL. */
  buf[o++] = '"';
  for (; *s != '\0'; s++) {
    c = (unsigned char) *s;
    if (c == '"' || c == '\\') {
      if (o + 2 > size - 2)
        break;
      buf[o++] = '\\';
      buf[o++] = (char) c;
    } else if (c < 0x20 || c == 0x7f) {
      if (o + 4 > size - 2)
        break;
      buf[o++] = '\\';
      buf[o++] = 'x';
      buf[o++] = hex[c >> 4];
      buf[o++] = hex[c & 0xf];
    } else {
      if (o + 1 > size - 2)
        break;
      buf[o++] = (char) c;
    }
  }
  buf[o++] = '"';
  buf[o] = '\0';
  return buf;
}
