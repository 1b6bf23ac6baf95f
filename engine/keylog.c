/*
 * The key-log watcher: an fs event and a timer on the loop, an offset
 * into the file, a line splitter with a capped buffer, a table of
 * secrets and a list of waits.
 *
 * Ownership with libuv: the watcher holds two handles, so its memory is
 * freed only in the last of their close callbacks.  Waits hold no
 * handle: one timer serves them all, armed for the nearest of the next
 * poll, the earliest deadline and the oldest secret's expiry.
 *
 * Tables are scanned from end to end: they hold at most
 * PW_KEYLOG_ENTRIES_MAX secrets and a handful of waits (the handshakes
 * in flight), and a scan is cheaper to get right than an index.
 */
#include "engine/keylog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "engine/tls.h"
#include "engine/tls13.h"

/* What one pread takes; the appends of a handshake are a few lines. */
#define READ_CHUNK 4096

typedef struct entry {
  bool          live;
  uint64_t      added;   /* uv_now when read: for the TTL and eviction */
  uint64_t      seq;     /* order of arrival, for eviction among equals */
  unsigned char client_random[PW_TLS_RANDOM_LEN];
  unsigned char secret[PW_TLS13_SECRET_MAX];
  size_t        secret_len;
} entry_t;

typedef struct waiter {
  struct waiter *prev, *next;
  uint64_t       id;
  uint64_t       deadline;
  unsigned char  client_random[PW_TLS_RANDOM_LEN];
  pw_keylog_cb   cb;
  void          *data;
} waiter_t;

struct pw_keylog {
  uv_loop_t        *loop;
  uv_fs_event_t     event;
  uv_timer_t        timer;
  int               fd;
  char             *path;

  /* The line splitter: offset read so far, the partial line. */
  uint64_t          offset;
  char              line[PW_TLS13_KEYLOG_LINE_MAX];
  size_t            line_len;
  bool              skipping;   /* inside a line over the cap */

  entry_t           table[PW_KEYLOG_ENTRIES_MAX];
  size_t            count;
  uint64_t          seq;

  waiter_t         *waits;
  uint64_t          next_id;

  pw_keylog_stats_t stats;

  bool              closing;
  int               handles;    /* open handles left to close */
  pw_keylog_done_cb done_cb;
  void             *done_data;
};

static void on_timer(uv_timer_t *timer);

/* Table */

static entry_t *
find(pw_keylog_t *kl, const unsigned char *client_random)
{
  size_t i;

  for (i = 0; i < PW_KEYLOG_ENTRIES_MAX; i++) {
    if (kl->table[i].live
        && memcmp(kl->table[i].client_random, client_random,
                  PW_TLS_RANDOM_LEN) == 0)
      return &kl->table[i];
  }
  return NULL;
}

static void
drop(pw_keylog_t *kl, entry_t *e)
{
  OPENSSL_cleanse(e, sizeof(*e));
  kl->count--;
}

/* The oldest live entry, NULL when the table is empty. */
static entry_t *
oldest(pw_keylog_t *kl)
{
  entry_t *old = NULL;
  size_t i;

  for (i = 0; i < PW_KEYLOG_ENTRIES_MAX; i++) {
    if (kl->table[i].live && (old == NULL || kl->table[i].seq < old->seq))
      old = &kl->table[i];
  }
  return old;
}

/*
 * Keeps a secret.  A second line for one client random replaces the
 * first: the browser writes one per handshake, and the newer is the one
 * a tunnel waits for.
 */
static void
keep(pw_keylog_t *kl, const pw_tls13_keylog_t *k)
{
  entry_t *e = find(kl, k->client_random);
  size_t i;

  if (e != NULL)
    drop(kl, e);

  if (kl->count == PW_KEYLOG_ENTRIES_MAX) {
    drop(kl, oldest(kl));
    kl->stats.evicted++;
  }

  for (i = 0; kl->table[i].live; i++)
    ;
  e = &kl->table[i];
  e->live = true;
  e->added = uv_now(kl->loop);
  e->seq = kl->seq++;
  memcpy(e->client_random, k->client_random, PW_TLS_RANDOM_LEN);
  memcpy(e->secret, k->secret, k->secret_len);
  e->secret_len = k->secret_len;
  kl->count++;
  kl->stats.secrets++;
}

static void
expire(pw_keylog_t *kl, uint64_t now)
{
  size_t i;

  for (i = 0; i < PW_KEYLOG_ENTRIES_MAX; i++) {
    if (kl->table[i].live && now - kl->table[i].added >= PW_KEYLOG_TTL_MS) {
      drop(kl, &kl->table[i]);
      kl->stats.expired++;
    }
  }
}

/* Lines */

/* One complete line, its end of line included. */
static void
take_line(pw_keylog_t *kl, const char *line, size_t len)
{
  pw_tls13_keylog_t k;
  int rc;

  kl->stats.lines++;

  rc = pw_tls13_keylog_parse(line, len, &k, NULL);
  if (rc != PW_OK)
    kl->stats.bad++;
  else if (k.wanted)
    keep(kl, &k);
  else
    kl->stats.ignored++;

  OPENSSL_cleanse(&k, sizeof(k));
}

void
pw_keylog_feed(pw_keylog_t *kl, const void *buf, size_t len)
{
  const char *p = buf, *nl;
  size_t n, room;

  /* The table was cleansed for good. */
  if (kl->closing)
    return;

  while (len > 0) {
    nl = memchr(p, '\n', len);
    n = nl != NULL ? (size_t) (nl - p) + 1 : len;

    /* The rest of a line over the cap goes unread, up to its end. */
    if (kl->skipping) {
      if (nl != NULL)
        kl->skipping = false;
      p += n;
      len -= n;
      continue;
    }

    /* Over the cap: counted once, when that becomes plain. */
    room = sizeof(kl->line) - kl->line_len;
    if (n > room) {
      kl->stats.lines++;
      kl->stats.bad++;
      OPENSSL_cleanse(kl->line, kl->line_len);
      kl->line_len = 0;
      kl->skipping = nl == NULL;
      p += n;
      len -= n;
      continue;
    }

    memcpy(kl->line + kl->line_len, p, n);
    kl->line_len += n;
    p += n;
    len -= n;

    if (nl != NULL) {
      take_line(kl, kl->line, kl->line_len);
      OPENSSL_cleanse(kl->line, kl->line_len);
      kl->line_len = 0;
    }
  }

  /* Answered on the loop, never from inside the caller's call. */
  if (!kl->closing && kl->waits != NULL)
    uv_timer_start(&kl->timer, on_timer, 0, 0);
}

/*
 * Reads what was appended since the last read.  A file shorter than the
 * offset was truncated under us: it is read again from the start.  The
 * octets read hold secrets in hex, so the buffer is cleansed after use.
 */
static void
read_file(pw_keylog_t *kl)
{
  unsigned char buf[READ_CHUNK];
  struct stat st;
  ssize_t n;

  if (fstat(kl->fd, &st) != 0) {
    kl->stats.read_errors++;
    return;
  }

  if ((uint64_t) st.st_size < kl->offset) {
    kl->offset = 0;
    OPENSSL_cleanse(kl->line, kl->line_len);
    kl->line_len = 0;
    kl->skipping = false;
  }

  for (;;) {
    n = pread(kl->fd, buf, sizeof(buf), (off_t) kl->offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      kl->stats.read_errors++;
      break;
    }
    if (n == 0)
      break;

    kl->offset += (uint64_t) n;
    pw_keylog_feed(kl, buf, (size_t) n);
    OPENSSL_cleanse(buf, (size_t) n);
  }
}

/* Waits */

static void
unlink_wait(pw_keylog_t *kl, waiter_t *w)
{
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    kl->waits = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  w->prev = w->next = NULL;
}

/*
 * Answers one wait, already out of the list.  The secret is copied out
 * of the table and the entry cleansed before the callback runs, so that
 * a callback that closes the watcher or waits again sees it gone.
 */
static void
answer(pw_keylog_t *kl, waiter_t *w, entry_t *e, int status)
{
  unsigned char secret[PW_TLS13_SECRET_MAX];
  size_t len = 0;

  if (e != NULL) {
    len = e->secret_len;
    memcpy(secret, e->secret, len);
    drop(kl, e);
    kl->stats.used++;
  }

  w->cb(w->data, status, e != NULL ? secret : NULL, len);

  OPENSSL_cleanse(secret, sizeof(secret));
  free(w);
}

/*
 * Arms the one timer for the nearest of: the next poll while anyone
 * waits, the earliest deadline, the oldest secret's expiry.  Nothing to
 * come: the timer stops, and the fs event alone wakes us.
 */
static void
schedule(pw_keylog_t *kl)
{
  uint64_t now = uv_now(kl->loop), delay = UINT64_MAX, at;
  entry_t *old;
  waiter_t *w;

  if (kl->closing)
    return;

  if (kl->waits != NULL)
    delay = PW_KEYLOG_POLL_MS;
  for (w = kl->waits; w != NULL; w = w->next) {
    at = w->deadline > now ? w->deadline - now : 0;
    if (at < delay)
      delay = at;
  }

  old = oldest(kl);
  if (old != NULL) {
    at = old->added + PW_KEYLOG_TTL_MS;
    at = at > now ? at - now : 0;
    if (at < delay)
      delay = at;
  }

  if (delay == UINT64_MAX)
    uv_timer_stop(&kl->timer);
  else
    uv_timer_start(&kl->timer, on_timer, delay, 0);
}

/*
 * Answers every wait whose secret is there or whose time is up.  A
 * callback may cancel or add waits or close the watcher, so the list is
 * scanned again from its head after each answer; the watcher's memory
 * stays valid until the close callbacks, which run after this returns.
 */
static void
run(pw_keylog_t *kl)
{
  uint64_t now = uv_now(kl->loop);
  waiter_t *w;
  entry_t *e = NULL;

  expire(kl, now);

  while (!kl->closing) {
    for (w = kl->waits; w != NULL; w = w->next) {
      e = find(kl, w->client_random);
      if (e != NULL || w->deadline <= now)
        break;
    }
    if (w == NULL)
      break;

    unlink_wait(kl, w);
    answer(kl, w, e, e != NULL ? PW_KEYLOG_SECRET : PW_KEYLOG_TIMEOUT);
  }

  schedule(kl);
}

static void
on_timer(uv_timer_t *timer)
{
  pw_keylog_t *kl = timer->data;

  read_file(kl);
  run(kl);
}

/* The change itself does not matter: what was appended is read. */
static void
on_event(uv_fs_event_t *event, const char *filename, int events,
         int status)
{
  pw_keylog_t *kl = event->data;

  if (status < 0)
    kl->stats.read_errors++;

  read_file(kl);
  run(kl);
}

/* API */

int
pw_keylog_open(pw_keylog_t **out, uv_loop_t *loop, const char *path,
               pw_err_t *err)
{
  pw_keylog_t *kl = NULL;
  int rc = PW_OK;

  *out = NULL;

  kl = calloc(1, sizeof(*kl));
  if (kl == NULL) {
    rc = pw_err_set(err, PW_ENOMEM, "key-log watcher: out of memory");
    goto err;
  }
  kl->fd = -1;
  kl->loop = loop;
  kl->next_id = 1;

  kl->path = strdup(path);
  if (kl->path == NULL) {
    rc = pw_err_set(err, PW_ENOMEM, "key-log watcher: out of memory");
    goto err;
  }

  /*
   * O_EXCL refuses any existing path, symbolic links included; fchmod
   * because a umask could have taken the owner's bits away.
   */
  kl->fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                S_IRUSR | S_IWUSR);
  if (kl->fd < 0) {
    rc = pw_err_set(err, errno == EEXIST ? PW_ECONFLICT : PW_EIO,
                    "key-log file %s: %s", path, strerror(errno));
    goto err;
  }

  if (fchmod(kl->fd, S_IRUSR | S_IWUSR) != 0) {
    rc = pw_err_set(err, PW_EIO, "key-log file %s: fchmod: %s", path,
                    strerror(errno));
    unlink(path);
    goto err;
  }

  /*
   * Neither init fails on Linux; once they ran, only the close
   * callbacks may free kl, so nothing after them can fail.  inotify
   * refusing a watch (out of watches) leaves the poll to read alone.
   */
  uv_timer_init(loop, &kl->timer);
  kl->timer.data = kl;
  uv_fs_event_init(loop, &kl->event);
  kl->event.data = kl;
  kl->handles = 2;
  kl->stats.watching = uv_fs_event_start(&kl->event, on_event, path, 0) == 0;

  *out = kl;
  goto done;

err:
  if (kl != NULL) {
    if (kl->fd >= 0)
      close(kl->fd);
    free(kl->path);
    free(kl);
  }
done:
  return rc;
}

int
pw_keylog_wait(pw_keylog_t *kl, const unsigned char *client_random,
               uint64_t timeout_ms, pw_keylog_cb cb, void *data,
               uint64_t *id, pw_err_t *err)
{
  uint64_t now = uv_now(kl->loop);
  waiter_t *w;

  if (kl->closing)
    return pw_err_set(err, PW_EINVAL, "key-log watcher is closing");

  w = calloc(1, sizeof(*w));
  if (w == NULL)
    return pw_err_set(err, PW_ENOMEM, "key-log wait: out of memory");

  w->id = kl->next_id++;
  w->deadline = timeout_ms > UINT64_MAX - now ? UINT64_MAX
                : now + timeout_ms;
  memcpy(w->client_random, client_random, PW_TLS_RANDOM_LEN);
  w->cb = cb;
  w->data = data;

  w->next = kl->waits;
  if (kl->waits != NULL)
    kl->waits->prev = w;
  kl->waits = w;

  if (id != NULL)
    *id = w->id;

  /* Read and answer on the loop's next turn, never from in here. */
  uv_timer_start(&kl->timer, on_timer, 0, 0);
  return PW_OK;
}

int
pw_keylog_cancel(pw_keylog_t *kl, uint64_t id)
{
  waiter_t *w;

  for (w = kl->waits; w != NULL; w = w->next) {
    if (w->id == id) {
      unlink_wait(kl, w);
      free(w);
      return PW_OK;
    }
  }
  return PW_ENOTFOUND;
}

void
pw_keylog_stats(const pw_keylog_t *kl, pw_keylog_stats_t *stats)
{
  *stats = kl->stats;
}

/* The last close callback frees the watcher, then tells the owner. */
static void
on_close(uv_handle_t *handle)
{
  pw_keylog_t *kl = handle->data;
  pw_keylog_done_cb done_cb = kl->done_cb;
  void *data = kl->done_data;

  if (--kl->handles > 0)
    return;

  free(kl->path);
  OPENSSL_cleanse(kl, sizeof(*kl));
  free(kl);

  if (done_cb != NULL)
    done_cb(data);
}

void
pw_keylog_close(pw_keylog_t *kl, pw_keylog_done_cb done_cb, void *data)
{
  waiter_t *w;

  if (kl->closing)
    return;
  kl->closing = true;
  kl->done_cb = done_cb;
  kl->done_data = data;

  uv_timer_stop(&kl->timer);
  uv_fs_event_stop(&kl->event);

  /* A callback may cancel another wait: take them one at a time. */
  while ((w = kl->waits) != NULL) {
    unlink_wait(kl, w);
    answer(kl, w, NULL, PW_KEYLOG_CLOSED);
  }

  uv_close((uv_handle_t *) &kl->timer, on_close);
  uv_close((uv_handle_t *) &kl->event, on_close);

  close(kl->fd);
  kl->fd = -1;
  unlink(kl->path);

  OPENSSL_cleanse(kl->table, sizeof(kl->table));
  OPENSSL_cleanse(kl->line, sizeof(kl->line));
  kl->count = 0;
}
