/* pw_rfc3339_parse: expiries and verification times. */
#include "tests/fuzz/fuzz.h"

#include "engine/rfc3339.h"

/* 10000-01-01T00:00:00Z: the format has four digits of year. */
#define YEAR_10000 INT64_C(253402300800)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *in = fuzz_cstr(data, size);
  char text[PW_RFC3339_LEN];
  pw_err_t err = { 0 };
  int64_t t, again;
  int rc;

  rc = pw_rfc3339_parse(in, &t, &err);
  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    goto done;
  }

  /* What is formatted reads back as the same second. */
  if (t >= 0 && t < YEAR_10000) {
    pw_rfc3339_format(t, text);
    rc = pw_rfc3339_parse(text, &again, &err);
    FUZZ_CHECK(rc == 0, "'%s' does not parse: %s", text, err.msg);
    FUZZ_CHECK(again == t, "'%s' is %lld, not %lld", text,
               (long long) again, (long long) t);
  }

done:
  free(in);
  return 0;
}
