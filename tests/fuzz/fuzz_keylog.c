/*
 * pw_keylog_feed: the input is what a browser appended to the key-log
 * file.  It is fed to one watcher whole and to another cut in two (at a
 * point the last octet picks); both must count the same lines, every
 * line must be counted once as a secret, an ignored one or a bad one,
 * and a wait for the RFC 8448 client random must be answered exactly
 * once, on the loop.
 */
#include "tests/fuzz/fuzz.h"

#include <unistd.h>

#include <uv.h>

#include "engine/keylog.h"

/* The client random of the seeds. */
static const unsigned char RANDOM[32] = {
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
  0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static char dir[] = "/tmp/fuzz_keylog-XXXXXX";

/* Each watcher removes its file on close; the folder goes at exit. */
static void
remove_dir(void)
{
  rmdir(dir);
}

static void
on_answer(void *data, int status, const unsigned char *secret, size_t len)
{
  int *calls = data;

  FUZZ_CHECK(status == PW_KEYLOG_SECRET || status == PW_KEYLOG_TIMEOUT,
             "status %d", status);
  FUZZ_CHECK(status != PW_KEYLOG_SECRET || len == 32 || len == 48,
             "a secret of %zu octets", len);
  (*calls)++;
}

static void
feed(uv_loop_t *loop, const char *name, const uint8_t *data, size_t size,
     size_t cut, pw_keylog_stats_t *st)
{
  char path[sizeof(dir) + 8];
  pw_keylog_t *kl;
  pw_err_t err = { 0 };
  int rc, calls = 0;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  rc = pw_keylog_open(&kl, loop, path, &err);
  FUZZ_CHECK(rc == PW_OK, "pw_keylog_open: %s", err.msg);

  pw_keylog_feed(kl, data, cut);
  pw_keylog_feed(kl, data + cut, size - cut);
  pw_keylog_stats(kl, st);
  FUZZ_CHECK(st->lines == st->secrets + st->ignored + st->bad,
             "%llu lines, %llu + %llu + %llu counted",
             (unsigned long long) st->lines,
             (unsigned long long) st->secrets,
             (unsigned long long) st->ignored,
             (unsigned long long) st->bad);

  rc = pw_keylog_wait(kl, RANDOM, 0, on_answer, &calls, NULL, &err);
  FUZZ_CHECK(rc == PW_OK, "pw_keylog_wait: %s", err.msg);
  FUZZ_CHECK(calls == 0, "answered from inside the wait");

  /*
   * Not UV_RUN_ONCE: the answer comes from a timer run before the poll,
   * and the watch on the file would then keep the poll waiting.
   */
  while (calls == 0)
    uv_run(loop, UV_RUN_NOWAIT);

  pw_keylog_close(kl, NULL, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  FUZZ_CHECK(calls == 1, "%d answers", calls);
  FUZZ_CHECK(access(path, F_OK) != 0, "%s left behind", path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static uv_loop_t loop;
  static int ready;
  pw_keylog_stats_t whole, split;
  size_t cut;

  if (!ready) {
    FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    atexit(remove_dir);
    FUZZ_CHECK(uv_loop_init(&loop) == 0, "uv_loop_init");
    ready = 1;
  }

  cut = size > 0 ? (size_t) data[size - 1] * size / 256 : 0;
  feed(&loop, "whole", data, size, size, &whole);
  feed(&loop, "split", data, size, cut, &split);

  FUZZ_CHECK(whole.lines == split.lines && whole.bad == split.bad
             && whole.secrets == split.secrets
             && whole.ignored == split.ignored,
             "whole and cut at %zu differ", cut);
  return 0;
}
