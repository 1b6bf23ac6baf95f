/* pw_host_normalize: host names from URLs, Host headers, policies. */
#include "tests/fuzz/fuzz.h"

#include "engine/host.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *in = fuzz_cstr(data, size);
  char out[PW_HOST_MAX], again[PW_HOST_MAX];
  pw_host_kind_t kind, kind2;
  pw_err_t err = { 0 };
  int rc;

  rc = pw_host_normalize(in, out, &kind, &err);
  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    goto done;
  }

  FUZZ_CHECK(strlen(out) < PW_HOST_MAX, "output of %zu", strlen(out));
  (void) pw_host_is_loopback(out);

  /* A normalised host is its own normal form. */
  rc = pw_host_normalize(out, again, &kind2, &err);
  FUZZ_CHECK(rc == 0, "'%s' does not normalise again: %s", out, err.msg);
  FUZZ_CHECK(strcmp(out, again) == 0, "'%s' became '%s'", out, again);
  FUZZ_CHECK(kind == kind2, "'%s' changed kind", out);

done:
  free(in);
  return 0;
}
