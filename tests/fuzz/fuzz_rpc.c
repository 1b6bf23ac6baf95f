/*
 * pw_rpc_handle with the engine's own methods: any bytes a client sends
 * in a WebSocket frame, as a session that presented the engine's token,
 * against a store in a temporary data folder.  The verify.chain calls of
 * a message also go through the loop's cached path.
 */
#include "tests/fuzz/fuzz.h"

#include <ftw.h>
#include <sys/stat.h>

#include <openssl/err.h>

#include "ipc/api.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static pw_api_t *api;
static char      dir[256];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(path);
}

static void
cleanup(void)
{
  pw_api_free(api);
  api = NULL;
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  const char *base = getenv("TMPDIR");
  char data[300];
  pw_err_t err = { 0 };

  snprintf(dir, sizeof(dir), "%s/pw-fuzz-rpc-XXXXXX",
           base != NULL && base[0] != '\0' ? base : "/tmp");
  FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
  snprintf(data, sizeof(data), "%s/data", dir);

  FUZZ_CHECK(pw_api_new(&api, data, &err) == PW_OK, "pw_api_new: %s",
             err.msg);
  atexit(cleanup);
  return 0;
}

/* Section 5: every response has exactly one of result and error. */
static void
check_response(const json_t *r)
{
  const json_t *error = json_object_get(r, "error");

  FUZZ_CHECK(json_is_object(r), "a response that is not an object");
  FUZZ_CHECK(json_is_string(json_object_get(r, "jsonrpc")),
             "no jsonrpc member");
  FUZZ_CHECK(json_object_get(r, "id") != NULL, "no id member");
  FUZZ_CHECK((error == NULL) != (json_object_get(r, "result") == NULL),
             "not exactly one of result and error");
  if (error == NULL)
    return;

  FUZZ_CHECK(json_is_integer(json_object_get(error, "code")),
             "an error without a code");
  FUZZ_CHECK(json_is_string(json_object_get(error, "message")),
             "an error without a message");
}

static void
check_events(const json_t *events)
{
  const json_t *ev;
  size_t i;

  json_array_foreach(events, i, ev) {
    FUZZ_CHECK(json_is_string(json_object_get(ev, "topic")),
               "an event without a topic");
    FUZZ_CHECK(json_is_string(json_object_get(ev, "profile")),
               "an event without a profile");
    FUZZ_CHECK(json_object_get(ev, "data") != NULL,
               "an event without data");
  }
}

/* What the server tries on the loop before it sends verify.chain away. */
static void
try_cached(const pw_api_session_t *session, const uint8_t *data,
           size_t size)
{
  pw_rpc_msg_t msg;
  json_t *result;
  char *answer;
  size_t i;

  /* The text path answers only what is cached, as a whole response. */
  if (pw_api_verify_text(api, session, (const char *) data, size,
                         &answer)) {
    result = json_loads(answer, 0, NULL);
    FUZZ_CHECK(json_is_string(json_object_get(json_object_get(result,
                                                              "result"),
                                              "action")),
               "a text answer without an action: %s", answer);
    json_decref(result);
    free(answer);
  }

  pw_rpc_parse(pw_api_methods(), (const char *) data, size, &msg);
  for (i = 0; i < msg.ncalls; i++) {
    if (msg.calls[i].method == NULL
        || strcmp(msg.calls[i].name, "verify.chain") != 0)
      continue;
    result = NULL;
    if (pw_api_verify_cached(api, session, msg.calls[i].params, &result))
      FUZZ_CHECK(json_is_string(json_object_get(result, "action")),
                 "a cached answer without an action");
    json_decref(result);
  }
  pw_rpc_msg_free(&msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  pw_api_session_t session;
  pw_api_ctx_t ctx;
  json_t *resp, *r;
  size_t i;

  memset(&session, 0, sizeof(session));
  FUZZ_CHECK(pw_api_authenticate(api, pw_api_token(api), &session),
             "the engine's own token refused");
  ctx.api = api;
  ctx.session = &session;
  ctx.events = json_array();

  try_cached(&session, data, size);

  resp = pw_rpc_handle(pw_api_methods(), &ctx, (const char *) data, size);
  if (json_is_array(resp)) {
    FUZZ_CHECK(json_array_size(resp) > 0, "an empty batch response");
    json_array_foreach(resp, i, r)
      check_response(r);
  } else if (resp != NULL) {
    check_response(resp);
  }
  check_events(ctx.events);

  json_decref(resp);
  json_decref(ctx.events);
  ERR_clear_error();
  return 0;
}
