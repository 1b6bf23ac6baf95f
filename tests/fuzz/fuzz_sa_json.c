/* pw_sa_from_json: Secure Access settings from the store and IPC calls. */
#include "tests/fuzz/fuzz.h"

#include "engine/secure.h"

static void
check_same(const pw_sa_t *a, const pw_sa_t *b, const char *what)
{
  size_t i;

  FUZZ_CHECK(a->enabled == b->enabled && a->on_http == b->on_http,
             "%s: switch changed", what);
  FUZZ_CHECK(a->nexceptions == b->nexceptions, "%s: %zu exceptions "
             "became %zu", what, a->nexceptions, b->nexceptions);
  for (i = 0; i < a->nexceptions; i++) {
    FUZZ_CHECK(strcmp(a->exceptions[i].host, b->exceptions[i].host) == 0,
               "%s: host '%s' became '%s'", what, a->exceptions[i].host,
               b->exceptions[i].host);
    FUZZ_CHECK(a->exceptions[i].expires == b->exceptions[i].expires,
               "%s: expiry of '%s' changed", what, a->exceptions[i].host);
  }
}

/* An exception in force lets plain http to its host through. */
static void
check_exceptions_apply(pw_sa_t *sa)
{
  char url[PW_HOST_MAX + 16];
  pw_sa_result_t res;
  pw_err_t err = { 0 };
  size_t i;
  int rc;

  sa->enabled = true;
  for (i = 0; i < sa->nexceptions; i++) {
    if (sa->exceptions[i].expires != 0)
      continue;
    if (strchr(sa->exceptions[i].host, ':') != NULL)
      snprintf(url, sizeof(url), "http://[%s]/", sa->exceptions[i].host);
    else
      snprintf(url, sizeof(url), "http://%s/", sa->exceptions[i].host);

    rc = pw_sa_decide_url(sa, url, 0, &res, &err);
    FUZZ_CHECK(rc == 0, "'%s' refused: %s", url, err.msg);
    FUZZ_CHECK(res.reason == PW_REASON_SA_EXCEPTION
               || res.reason == PW_REASON_SA_LOOPBACK,
               "'%s' is an exception, yet reason %d", url, (int) res.reason);
    free(res.url);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  pw_sa_t sa, back, cp;
  pw_err_t err = { 0 };
  json_error_t jerr;
  json_t *in, *out = NULL;
  int rc;

  pw_sa_init(&back);
  pw_sa_init(&cp);

  in = json_loadb((const char *) data, size, JSON_DECODE_ANY, &jerr);
  if (in == NULL)
    return 0;

  rc = pw_sa_from_json(&sa, in, &err);
  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    FUZZ_CHECK(sa.nexceptions == 0 && sa.exceptions == NULL,
               "a failed parse left exceptions");
    goto done;
  }
  FUZZ_CHECK(sa.nexceptions <= PW_SA_MAX_EXCEPTIONS, "%zu exceptions",
             sa.nexceptions);

  /* The JSON form reads back as the same setting; so does a copy. */
  out = pw_sa_to_json(&sa);
  FUZZ_CHECK(out != NULL, "to_json failed");
  rc = pw_sa_from_json(&back, out, &err);
  FUZZ_CHECK(rc == 0, "own JSON refused: %s", err.msg);
  check_same(&sa, &back, "round trip");

  rc = pw_sa_copy(&cp, &sa, &err);
  FUZZ_CHECK(rc == 0, "copy failed: %s", err.msg);
  check_same(&sa, &cp, "copy");

  check_exceptions_apply(&sa);

done:
  json_decref(out);
  json_decref(in);
  pw_sa_clear(&cp);
  pw_sa_clear(&back);
  pw_sa_clear(&sa);
  return 0;
}
