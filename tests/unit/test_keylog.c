/*
 * The key-log watcher on a loop of each test's own: lines a "browser"
 * appends to the file before a wait or from a timer after it, in one
 * piece or two, lines that must not answer, the three ways a wait ends
 * without a secret, the file's mode and removal, and the table's cap.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "cases.h"
#include "engine/keylog.h"

#define RND_A "000102030405060708090a0b0c0d0e0f" \
              "101112131415161718191a1b1c1d1e1f"
#define RND_B "ff0102030405060708090a0b0c0d0e0f" \
              "101112131415161718191a1b1c1d1e1f"
#define S32   "b67b7d690cc16c4e75e54213cb2d37b4" \
              "e9c912bcded9105d42befd59d391ad38"
#define S48   S32 "00112233445566778899aabbccddeeff"

#define SH    "SERVER_HANDSHAKE_TRAFFIC_SECRET "
#define LINE_A SH RND_A " " S32 "\n"

/* A fresh folder and the key-log path in it. */
typedef struct tmp {
  char dir[PATH_MAX - 32];
  char path[PATH_MAX];
} tmp_t;

static void
tmp_make(tmp_t *t)
{
  const char *base = getenv("PW_TEST_TMP");

  snprintf(t->dir, sizeof(t->dir), "%s/keylog-XXXXXX",
           base != NULL ? base : "/tmp");
  cr_assert_not_null(mkdtemp(t->dir), "mkdtemp %s", t->dir);
  snprintf(t->path, sizeof(t->path), "%s/keylog.txt", t->dir);
}

static void
tmp_remove(tmp_t *t)
{
  unlink(t->path);
  rmdir(t->dir);
}

static void
unhex(const char *s, unsigned char *out, size_t n)
{
  size_t i;
  unsigned int v;

  for (i = 0; i < n; i++) {
    cr_assert_eq(sscanf(s + 2 * i, "%2x", &v), 1, "bad hex in a vector");
    out[i] = (unsigned char) v;
  }
}

static void
append(const char *path, const char *text, size_t len)
{
  int fd = open(path, O_WRONLY | O_APPEND);

  cr_assert_geq(fd, 0, "open %s for appending", path);
  cr_assert_eq(write(fd, text, len), (ssize_t) len, "write");
  close(fd);
}

/* Scenarios */

enum { NONE = 0, CANCEL, CLOSE };
enum { NO_LONG = 0, LONG_JUNK, LONG_WANTED };

typedef struct scase {
  char        comment[64];
  const char *before;      /* appended before the wait */
  int         long_line;   /* a 600-octet line first, junk or a secret */
  const char *after;       /* appended 20 ms after the wait */
  size_t      split;       /* 0, or: after[0..split) at 20, rest at 40 */
  const char *random;      /* the wait's client random */
  uint64_t    timeout_ms;
  int         action;      /* at 10 ms, before anything is appended */
  int         again;       /* wait again, 100 ms, from the callback */
  int         calls;       /* want: callbacks */
  int         status;
  const char *secret;      /* want, in hex: S32 or S48 */
  uint64_t    bad, ignored;
} scase_t;

static const scase_t SCASES[] = {
  /* The browser wrote before the tunnel asked: answered at once. */
  { "written before the wait", LINE_A, NO_LONG, NULL, 0, RND_A, 1000,
    NONE, 0, 1, PW_KEYLOG_SECRET, S32, 0, 0 },
  /* The usual order: the wait comes first, the line a moment later. */
  { "written 20 ms after the wait", NULL, NO_LONG, LINE_A, 0, RND_A, 1000,
    NONE, 0, 1, PW_KEYLOG_SECRET, S32, 0, 0 },
  /* A partial line is kept until the rest comes. */
  { "written in two pieces", NULL, NO_LONG, LINE_A, 40, RND_A, 1000, NONE,
    0, 1, PW_KEYLOG_SECRET, S32, 0, 0 },
  /* A SHA-384 suite's secret, ended with \r\n. */
  { "a SHA-384 secret, \\r\\n", NULL, NO_LONG, SH RND_A " " S48 "\r\n", 0,
    RND_A, 1000, NONE, 0, 1, PW_KEYLOG_SECRET, S48, 0, 0 },
  /* Other secrets of the same handshake must not answer. */
  { "other labels ignored",
    "# SSL/TLS secrets log file\n"
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET " RND_A " " S32 "\n"
    "SERVER_TRAFFIC_SECRET_0 " RND_A " " S32 "\n"
    "CLIENT_RANDOM " RND_A " " S48 "\n", NO_LONG, NULL, 0, RND_A, 100,
    NONE, 0, 1, PW_KEYLOG_TIMEOUT, NULL, 0, 4 },
  /* Another handshake's secret. */
  { "another client random", SH RND_B " " S32 "\n", NO_LONG, NULL, 0,
    RND_A, 100, NONE, 0, 1, PW_KEYLOG_TIMEOUT, NULL, 0, 0 },
  /* A broken line costs nothing but itself. */
  { "a bad line counted and skipped", "SERVER_SECRET garbage\n" LINE_A,
    NO_LONG, NULL, 0, RND_A, 1000, NONE, 0, 1, PW_KEYLOG_SECRET, S32, 1,
    0 },
  /* A line over the cap is skipped up to its newline, not beyond. */
  { "an over-long line skipped", LINE_A, LONG_JUNK, NULL, 0, RND_A, 1000,
    NONE, 0, 1, PW_KEYLOG_SECRET, S32, 1, 0 },
  /* Even a wanted one: its head is not taken. */
  { "an over-long secret line not taken", NULL, LONG_WANTED, NULL, 0,
    RND_A, 100, NONE, 0, 1, PW_KEYLOG_TIMEOUT, NULL, 1, 0 },
  /* DESIGN step 6: no secret, fail closed. */
  { "timeout when nothing arrives", NULL, NO_LONG, NULL, 0, RND_A, 100,
    NONE, 0, 1, PW_KEYLOG_TIMEOUT, NULL, 0, 0 },
  /* The tunnel closed first: its callback never runs. */
  { "cancel before arrival", NULL, NO_LONG, LINE_A, 0, RND_A, 1000, CANCEL,
    0, 0, 0, NULL, 0, 0 },
  /* The profile stopped first. */
  { "close with a pending wait", NULL, NO_LONG, LINE_A, 0, RND_A, 1000,
    CLOSE, 0, 1, PW_KEYLOG_CLOSED, NULL, 0, 0 },
  /* "Lines are dropped once used": a second wait finds nothing. */
  { "a used secret is dropped", LINE_A, NO_LONG, NULL, 0, RND_A, 1000,
    NONE, 1, 2, PW_KEYLOG_SECRET, S32, 0, 0 },
};

typedef struct srun {
  const scase_t *c;
  tmp_t          tmp;
  uv_loop_t      loop;
  pw_keylog_t   *kl;
  uv_timer_t     piece1, piece2, action, finish;
  uint64_t       id, started, answered;
  int            calls, status, again_status, cancel_rc, done;
  unsigned char  secret[48];
  size_t         secret_len;
  pw_keylog_stats_t stats;
} srun_t;

static void
on_answer(void *data, int status, const unsigned char *secret, size_t len)
{
  srun_t *r = data;
  pw_err_t err = { 0 };
  unsigned char random[32];
  int rc;

  r->calls++;

  /* The second wait of "again" reports here too, as call 2. */
  if (r->calls == 2) {
    r->again_status = status;
    return;
  }

  r->status = status;
  r->answered = uv_now(&r->loop);
  cr_assert_leq(len, sizeof(r->secret), "a secret of %zu octets", len);
  cr_assert((secret == NULL) == (len == 0), "secret %p, len %zu",
            (const void *) secret, len);
  if (len > 0)
    memcpy(r->secret, secret, len);
  r->secret_len = len;

  if (r->c->again) {
    unhex(r->c->random, random, 32);
    rc = pw_keylog_wait(r->kl, random, 100, on_answer, r, NULL, &err);
    cr_assert_eq(rc, PW_OK, "wait again: %s", err.msg);
  }
}

static void
on_done(void *data)
{
  srun_t *r = data;

  r->done++;
}

static void
close_kl(srun_t *r)
{
  if (r->kl == NULL)
    return;
  pw_keylog_stats(r->kl, &r->stats);
  pw_keylog_close(r->kl, on_done, r);
  r->kl = NULL;
}

static void
on_piece1(uv_timer_t *t)
{
  srun_t *r = t->data;
  size_t n = r->c->split > 0 ? r->c->split : strlen(r->c->after);

  /* After a close the file is gone, as a browser would find it. */
  if (r->kl == NULL)
    return;
  append(r->tmp.path, r->c->after, n);
}

static void
on_piece2(uv_timer_t *t)
{
  srun_t *r = t->data;

  if (r->kl == NULL)
    return;
  append(r->tmp.path, r->c->after + r->c->split,
         strlen(r->c->after) - r->c->split);
}

static void
on_action(uv_timer_t *t)
{
  srun_t *r = t->data;

  if (r->c->action == CANCEL)
    r->cancel_rc = pw_keylog_cancel(r->kl, r->id);
  else
    close_kl(r);
}

static void
on_finish(uv_timer_t *t)
{
  srun_t *r = t->data;

  close_kl(r);
  uv_close((uv_handle_t *) &r->piece1, NULL);
  uv_close((uv_handle_t *) &r->piece2, NULL);
  uv_close((uv_handle_t *) &r->action, NULL);
  uv_close((uv_handle_t *) &r->finish, NULL);
}

static void
start(srun_t *r, uv_timer_t *t, uv_timer_cb cb, uint64_t ms)
{
  uv_timer_init(&r->loop, t);
  t->data = r;
  if (cb != NULL)
    uv_timer_start(t, cb, ms, 0);
}

static void
append_long(const char *path, int kind)
{
  char line[601];
  size_t len = strlen(LINE_A) - 1;

  memset(line, kind == LONG_JUNK ? 'x' : '0', 600);
  if (kind == LONG_WANTED)
    memcpy(line, LINE_A, len);
  line[599] = '\n';
  append(path, line, 600);
}

ParameterizedTestParameters(keylog, scenario)
{
  return case_indices(NCASES(SCASES));
}

ParameterizedTest(size_t *i, keylog, scenario, .timeout = 10)
{
  const scase_t *c = &SCASES[*i];
  srun_t r = { .c = c };
  pw_err_t err = { 0 };
  unsigned char random[32], want[48];
  struct stat st;
  int rc;

  tmp_make(&r.tmp);
  cr_assert_eq(uv_loop_init(&r.loop), 0);
  rc = pw_keylog_open(&r.kl, &r.loop, r.tmp.path, &err);
  cr_assert_eq(rc, PW_OK, "%s: open: %s", c->comment, err.msg);

  if (c->long_line != NO_LONG)
    append_long(r.tmp.path, c->long_line);
  if (c->before != NULL)
    append(r.tmp.path, c->before, strlen(c->before));

  unhex(c->random, random, 32);
  r.started = uv_now(&r.loop);
  rc = pw_keylog_wait(r.kl, random, c->timeout_ms, on_answer, &r, &r.id,
                      &err);
  cr_assert_eq(rc, PW_OK, "%s: wait: %s", c->comment, err.msg);
  cr_assert_eq(r.calls, 0, "%s: answered from inside the wait",
               c->comment);

  start(&r, &r.piece1, c->after != NULL ? on_piece1 : NULL, 20);
  start(&r, &r.piece2, c->split > 0 ? on_piece2 : NULL, 40);
  start(&r, &r.action, c->action != NONE ? on_action : NULL, 10);
  start(&r, &r.finish, on_finish, 300);

  cr_assert_eq(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(uv_loop_close(&r.loop), 0, "%s: handles left open",
               c->comment);

  cr_expect_eq(r.done, 1, "%s: done called %d times", c->comment, r.done);
  cr_expect_neq(stat(r.tmp.path, &st), 0, "%s: the file is still there",
                c->comment);
  cr_expect_eq(r.calls, c->calls, "%s: %d callbacks, want %d", c->comment,
               r.calls, c->calls);
  cr_expect_eq(r.stats.bad, c->bad, "%s: %llu bad lines, want %llu",
               c->comment, (unsigned long long) r.stats.bad,
               (unsigned long long) c->bad);
  cr_expect_eq(r.stats.ignored, c->ignored, "%s: %llu ignored, want %llu",
               c->comment, (unsigned long long) r.stats.ignored,
               (unsigned long long) c->ignored);

  if (c->action == CANCEL)
    cr_expect_eq(r.cancel_rc, PW_OK, "%s: cancel gave %s", c->comment,
                 pw_err_name(r.cancel_rc));
  if (c->again)
    cr_expect_eq(r.again_status, PW_KEYLOG_TIMEOUT, "%s: second wait got "
                 "%d", c->comment, r.again_status);
  if (c->calls == 0)
    goto done;

  cr_expect_eq(r.status, c->status, "%s: status %d, want %d", c->comment,
               r.status, c->status);
  if (c->status == PW_KEYLOG_TIMEOUT)
    cr_expect_geq(r.answered - r.started, c->timeout_ms, "%s: timed out "
                  "after %llu ms", c->comment,
                  (unsigned long long) (r.answered - r.started));
  if (c->secret != NULL) {
    unhex(c->secret, want, strlen(c->secret) / 2);
    cr_expect_eq(r.secret_len, strlen(c->secret) / 2, "%s: %zu octets",
                 c->comment, r.secret_len);
    cr_expect(memcmp(r.secret, want, r.secret_len) == 0, "%s: secret",
              c->comment);
  }

done:
  tmp_remove(&r.tmp);
}

/* The file */

static void
count_done(void *data)
{
  (*(int *) data)++;
}

/* 0600 whatever the umask, and a path that exists is never taken over. */
Test(keylog, file_mode_and_existing_path)
{
  tmp_t t;
  uv_loop_t loop;
  pw_keylog_t *kl, *kl2;
  pw_err_t err = { 0 };
  struct stat st;
  int rc, done = 0;
  mode_t old;

  tmp_make(&t);
  cr_assert_eq(uv_loop_init(&loop), 0);

  old = umask(0);
  rc = pw_keylog_open(&kl, &loop, t.path, &err);
  umask(old);
  cr_assert_eq(rc, PW_OK, "open: %s", err.msg);
  cr_assert_eq(lstat(t.path, &st), 0);
  cr_expect(S_ISREG(st.st_mode), "not a regular file");
  cr_expect_eq(st.st_mode & 07777, 0600, "mode %o, want 600",
               (unsigned) (st.st_mode & 07777));

  rc = pw_keylog_open(&kl2, &loop, t.path, &err);
  cr_expect_eq(rc, PW_ECONFLICT, "a second open gave %s",
               pw_err_name(rc));
  cr_expect_null(kl2);

  pw_keylog_close(kl, count_done, &done);
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
  cr_expect_eq(done, 1);
  cr_expect_neq(lstat(t.path, &st), 0, "the file is still there");

  /* A symbolic link in its place is refused, not followed. */
  cr_assert_eq(symlink("/dev/null", t.path), 0);
  cr_assert_eq(uv_loop_init(&loop), 0);
  rc = pw_keylog_open(&kl2, &loop, t.path, &err);
  cr_expect_eq(rc, PW_ECONFLICT, "a symbolic link gave %s",
               pw_err_name(rc));
  cr_assert_eq(uv_loop_close(&loop), 0);

  tmp_remove(&t);
}

/* The table and the splitter, fed directly */

typedef struct answers {
  int n;
  int status[4];
} answers_t;

static void
on_count(void *data, int status, const unsigned char *secret, size_t len)
{
  answers_t *a = data;

  if (a->n < 4)
    a->status[a->n] = status;
  a->n++;
}

static void
random_line(char *line, size_t size, unsigned k)
{
  snprintf(line, size, SH "%08x%056d " S32 "\n", k, 0);
}

/* One secret over the cap pushes out the oldest, and only that one. */
Test(keylog, eviction_beyond_the_cap, .timeout = 10)
{
  tmp_t t;
  uv_loop_t loop;
  pw_keylog_t *kl;
  pw_keylog_stats_t st;
  pw_err_t err = { 0 };
  answers_t first = { 0 }, second = { 0 }, last = { 0 };
  unsigned char random[32] = { 0 };
  char line[200];
  unsigned k;
  int rc;

  tmp_make(&t);
  cr_assert_eq(uv_loop_init(&loop), 0);
  rc = pw_keylog_open(&kl, &loop, t.path, &err);
  cr_assert_eq(rc, PW_OK, "open: %s", err.msg);

  for (k = 0; k <= PW_KEYLOG_ENTRIES_MAX; k++) {
    random_line(line, sizeof(line), k);
    pw_keylog_feed(kl, line, strlen(line));
  }
  pw_keylog_stats(kl, &st);
  cr_expect_eq(st.secrets, PW_KEYLOG_ENTRIES_MAX + 1);
  cr_expect_eq(st.evicted, 1, "%llu evicted",
               (unsigned long long) st.evicted);

  /* Client randoms 0, 1 and 1024 (big-endian in the first octets). */
  rc = pw_keylog_wait(kl, random, 50, on_count, &first, NULL, &err);
  cr_assert_eq(rc, PW_OK, "%s", err.msg);
  random[3] = 1;
  rc = pw_keylog_wait(kl, random, 50, on_count, &second, NULL, &err);
  cr_assert_eq(rc, PW_OK, "%s", err.msg);
  random[3] = 0;
  random[2] = 4;
  rc = pw_keylog_wait(kl, random, 50, on_count, &last, NULL, &err);
  cr_assert_eq(rc, PW_OK, "%s", err.msg);

  while (first.n == 0 || second.n == 0 || last.n == 0)
    uv_run(&loop, UV_RUN_ONCE);
  cr_expect_eq(first.status[0], PW_KEYLOG_TIMEOUT, "the oldest: %d",
               first.status[0]);
  cr_expect_eq(second.status[0], PW_KEYLOG_SECRET, "the second: %d",
               second.status[0]);
  cr_expect_eq(last.status[0], PW_KEYLOG_SECRET, "the newest: %d",
               last.status[0]);

  pw_keylog_close(kl, NULL, NULL);
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
  cr_expect_eq(first.n + second.n + last.n, 3, "answered twice");
  tmp_remove(&t);
}

/*
 * The splitter's edges, octet by octet: a line of exactly the cap is
 * read, one octet more is not, and the line after is.
 */
Test(keylog, line_cap_edges, .timeout = 10)
{
  tmp_t t;
  uv_loop_t loop;
  pw_keylog_t *kl;
  pw_keylog_stats_t st;
  pw_err_t err = { 0 };
  char line[800];
  size_t len, i;
  int rc;

  tmp_make(&t);
  cr_assert_eq(uv_loop_init(&loop), 0);
  rc = pw_keylog_open(&kl, &loop, t.path, &err);
  cr_assert_eq(rc, PW_OK, "open: %s", err.msg);

  /* A comment of 512 octets, its newline included, fed one at a time. */
  len = 512;
  memset(line, ' ', len);
  line[0] = '#';
  line[len - 1] = '\n';
  for (i = 0; i < len; i++)
    pw_keylog_feed(kl, line + i, 1);

  /* 513 octets, then a good line in the same chunk. */
  memset(line, ' ', 513);
  line[0] = '#';
  line[512] = '\n';
  memcpy(line + 513, LINE_A, strlen(LINE_A));
  pw_keylog_feed(kl, line, 513 + strlen(LINE_A));

  pw_keylog_stats(kl, &st);
  cr_expect_eq(st.lines, 3, "%llu lines", (unsigned long long) st.lines);
  cr_expect_eq(st.ignored, 1, "%llu ignored",
               (unsigned long long) st.ignored);
  cr_expect_eq(st.bad, 1, "%llu bad", (unsigned long long) st.bad);
  cr_expect_eq(st.secrets, 1, "%llu secrets",
               (unsigned long long) st.secrets);

  pw_keylog_close(kl, NULL, NULL);
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
  tmp_remove(&t);
}

/* A wait answered or cancelled cannot be cancelled again. */
Test(keylog, cancel_twice)
{
  tmp_t t;
  uv_loop_t loop;
  pw_keylog_t *kl;
  pw_err_t err = { 0 };
  answers_t a = { 0 };
  unsigned char random[32] = { 0 };
  uint64_t id;
  int rc;

  tmp_make(&t);
  cr_assert_eq(uv_loop_init(&loop), 0);
  rc = pw_keylog_open(&kl, &loop, t.path, &err);
  cr_assert_eq(rc, PW_OK, "open: %s", err.msg);

  rc = pw_keylog_wait(kl, random, 1000, on_count, &a, &id, &err);
  cr_assert_eq(rc, PW_OK, "%s", err.msg);
  cr_expect_eq(pw_keylog_cancel(kl, id), PW_OK);
  cr_expect_eq(pw_keylog_cancel(kl, id), PW_ENOTFOUND);

  pw_keylog_close(kl, NULL, NULL);
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
  cr_expect_eq(a.n, 0, "a cancelled wait was answered");
  tmp_remove(&t);
}
