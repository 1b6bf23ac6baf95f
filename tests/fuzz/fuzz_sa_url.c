/*
 * pw_sa_decide_url: URLs from navigations, proxy request lines and IPC
 * calls, decided under each setting of a profile.
 */
#include "tests/fuzz/fuzz.h"

#include <curl/curl.h>

#include "engine/secure.h"

#define NOW INT64_C(1790000000)

/* The upgraded URL carries no user or password. */
static void
check_no_userinfo(const char *url)
{
  CURLU *h = curl_url();
  char *user = NULL, *password = NULL;
  CURLUcode uc;

  FUZZ_CHECK(h != NULL, "out of memory");
  uc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
  FUZZ_CHECK(uc == CURLUE_OK, "'%s' does not parse: %d", url, (int) uc);
  FUZZ_CHECK(curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_NO_USER,
             "'%s' has a user", url);
  FUZZ_CHECK(curl_url_get(h, CURLUPART_PASSWORD, &password, 0)
             == CURLUE_NO_PASSWORD, "'%s' has a password", url);
  curl_free(user);
  curl_free(password);
  curl_url_cleanup(h);
}

static void
check(const pw_sa_t *sa, const char *url, int want_rc)
{
  pw_sa_result_t res, again;
  pw_err_t err = { 0 };
  int rc;

  rc = pw_sa_decide_url(sa, url, NOW, &res, &err);
  FUZZ_CHECK(rc == want_rc, "rc %d, %d with another setting", rc, want_rc);

  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    FUZZ_CHECK(res.url == NULL, "a URL on an error");
    FUZZ_CHECK(res.action == PW_ACTION_BLOCK, "error without a block");
    return;
  }

  FUZZ_CHECK(res.host[0] != '\0' && res.port != 0, "no host or port");
  FUZZ_CHECK((res.action == PW_ACTION_UPGRADE) == (res.url != NULL),
             "action %d with url %p", (int) res.action, (void *) res.url);
  if (!sa->enabled)
    FUZZ_CHECK(res.reason == PW_REASON_SA_OFF, "off, reason %d",
               (int) res.reason);
  if (res.url == NULL)
    return;

  /* An upgrade leads to a URL the same profile lets through as it is. */
  FUZZ_CHECK(strncmp(res.url, "https://", 8) == 0
             || strncmp(res.url, "wss://", 6) == 0, "upgraded to '%s'",
             res.url);
  check_no_userinfo(res.url);

  rc = pw_sa_decide_url(sa, res.url, NOW, &again, &err);
  FUZZ_CHECK(rc == 0, "'%s' refused: %s", res.url, err.msg);
  FUZZ_CHECK(again.reason == PW_REASON_SA_SECURE, "'%s' reason %d",
             res.url, (int) again.reason);
  FUZZ_CHECK(strcmp(again.host, res.host) == 0, "host '%s' became '%s'",
             res.host, again.host);
  FUZZ_CHECK(again.port == res.port, "port %u became %u",
             (unsigned) res.port, (unsigned) again.port);

  free(res.url);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *url = fuzz_cstr(data, size);
  pw_sa_result_t res;
  pw_sa_t sa;
  int rc;

  pw_sa_init(&sa);
  if (pw_sa_exception_add(&sa, "intranet.example", 0, NOW, NULL) != 0
      || pw_sa_exception_add(&sa, "old.example", 1, NOW - 10, NULL) != 0)
    abort();

  /* Off first: whether a URL is an error does not depend on the setting. */
  rc = pw_sa_decide_url(&sa, url, NOW, &res, NULL);
  free(res.url);
  check(&sa, url, rc);

  sa.enabled = true;
  check(&sa, url, rc);

  sa.on_http = PW_SA_BLOCK;
  check(&sa, url, rc);

  pw_sa_clear(&sa);
  free(url);
  return 0;
}
