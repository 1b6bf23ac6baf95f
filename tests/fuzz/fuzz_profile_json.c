/*
 * pw_profile_parse and pw_profile_import_parse: profile documents from
 * IPC calls and export files, the same bytes fed to both.
 */
#include "tests/fuzz/fuzz.h"

#include <openssl/err.h>

#include "profiles/profile.h"

/*
 * What the writer emits, the stored reader takes back unchanged, and the
 * redacted form never holds the proxy password.
 */
static void
check_profile(const pw_profile_t *p)
{
  pw_profile_t again;
  pw_err_t err = { 0 };
  json_t *o1, *o2;
  char *shown = NULL, *needle = NULL;
  int rc;

  o1 = pw_profile_to_json(p, PW_PROFILE_SECRETS);
  FUZZ_CHECK(o1 != NULL, "no JSON for a parsed profile");

  pw_profile_init(&again);
  rc = pw_profile_from_json(&again, o1, PW_PROFILE_STORED, &err);
  FUZZ_CHECK(rc == 0, "own output refused: %s", err.msg);
  o2 = pw_profile_to_json(&again, PW_PROFILE_SECRETS);
  FUZZ_CHECK(json_equal(o1, o2), "output changed on a second pass");

  if (p->proxy.password != NULL && strcmp(p->proxy.password, "***") != 0) {
    rc = pw_profile_proxy_url(&p->proxy, PW_PROFILE_REDACT, &shown, &err);
    FUZZ_CHECK(rc == 0 && shown != NULL, "no redacted URL: %s", err.msg);
    FUZZ_CHECK(strstr(shown, ":***@") != NULL, "password not redacted");
    rc = pw_profile_proxy_url(&p->proxy, PW_PROFILE_SECRETS, &needle,
                              &err);
    FUZZ_CHECK(rc == 0 && strcmp(shown, needle) != 0,
               "redacted URL equals the one with the secret");
  }

  free(shown);
  free(needle);
  json_decref(o1);
  json_decref(o2);
  pw_profile_clear(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  pw_profile_t p, *arr = NULL;
  pw_err_t err = { 0 };
  size_t i, n = 0;
  unsigned flags;
  int rc;

  for (flags = 0; flags <= PW_PROFILE_STORED; flags += PW_PROFILE_STORED) {
    memset(&err, 0, sizeof(err));
    pw_profile_init(&p);
    rc = pw_profile_parse(&p, (const char *) data, size, flags, &err);
    if (rc != 0)
      FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    else
      check_profile(&p);
    pw_profile_clear(&p);
  }

  memset(&err, 0, sizeof(err));
  rc = pw_profile_import_parse((const char *) data, size, &arr, &n, &err);
  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    FUZZ_CHECK(arr == NULL && n == 0, "failure left profiles behind");
  } else {
    for (i = 0; i < n; i++)
      check_profile(&arr[i]);
  }
  pw_profile_array_free(arr, n);

  ERR_clear_error();
  return 0;
}
