/*
 * pw_tls_feed: the bytes of a tunnel, both directions.  The first octet
 * picks where the rest is cut in two feeds; the same bytes fed whole must
 * give the same answer, since the network may cut them anywhere.
 */
#include "tests/fuzz/fuzz.h"

#include "engine/tls.h"

/* Feeds data in two parts cut at `cut` (size: in one). */
static int
run(pw_tls_t *r, const uint8_t *data, size_t size, size_t cut,
    pw_err_t *err)
{
  int rc;

  rc = pw_tls_feed(r, data, cut, err);
  if (rc == 0)
    rc = pw_tls_feed(r, data + cut, size - cut, err);
  return rc;
}

static void
check_dir(pw_tls_dir_t dir, const uint8_t *data, size_t size, size_t cut)
{
  const pw_tls_client_hello_t *ch, *ch1;
  const pw_tls_server_hello_t *sh;
  pw_tls_t *whole = pw_tls_new(dir), *split = pw_tls_new(dir);
  pw_err_t err = { 0 }, err1 = { 0 };
  const unsigned char *der;
  size_t i, len, total = 0;
  int rc, rc1;

  FUZZ_CHECK(whole != NULL && split != NULL, "pw_tls_new");

  rc = run(whole, data, size, size, &err);
  rc1 = run(split, data, size, cut, &err1);
  FUZZ_CHECK(rc == rc1, "dir %d: whole %d (%s), cut at %zu %d (%s)", dir,
             rc, err.msg, cut, rc1, err1.msg);
  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0' && err1.msg[0] != '\0',
               "error %d without a message", rc);
    FUZZ_CHECK(pw_tls_feed(whole, data, size, &err) == rc,
               "a failed reader took more bytes");
    goto done;
  }

  FUZZ_CHECK(pw_tls_stage(whole) == pw_tls_stage(split),
             "dir %d: stage %d whole, %d cut at %zu", dir,
             pw_tls_stage(whole), pw_tls_stage(split), cut);
  FUZZ_CHECK(pw_tls_offset(whole) == size, "offset %llu of %zu",
             (unsigned long long) pw_tls_offset(whole), size);
  FUZZ_CHECK(pw_tls_hold_offset(whole) == pw_tls_hold_offset(split),
             "hold offsets differ");
  FUZZ_CHECK(pw_tls_hold_offset(whole) == UINT64_MAX
             || pw_tls_hold_offset(whole) <= size, "hold past the input");

  ch = pw_tls_client_hello(whole);
  ch1 = pw_tls_client_hello(split);
  FUZZ_CHECK((ch == NULL) == (ch1 == NULL), "one ClientHello of two");
  if (ch != NULL) {
    FUZZ_CHECK(strcmp(ch->sni, ch1->sni) == 0, "SNI differs");
    FUZZ_CHECK(strlen(ch->sni) < PW_TLS_SNI_MAX, "SNI unterminated");
    FUZZ_CHECK(ch->n_suites <= PW_TLS_SUITES_MAX, "suites");

    /* A reader that took a ClientHello agrees with the probe. */
    FUZZ_CHECK(size < 3 || data[2] == 0x00
               || pw_tls_looks_like_client_hello(data, size)
                  == PW_TLS_PROBE_YES, "the probe refuses a ClientHello");
  }

  sh = pw_tls_server_hello(whole);
  if (sh != NULL)
    FUZZ_CHECK(sh->version >= 0x0300 && sh->version <= PW_TLS_V1_3,
               "version 0x%04x", sh->version);

  FUZZ_CHECK(pw_tls_cert_count(whole) == pw_tls_cert_count(split),
             "certificate counts differ");
  FUZZ_CHECK(pw_tls_cert_count(whole) <= PW_TLS_CERTS_MAX, "too many");
  for (i = 0; i < pw_tls_cert_count(whole); i++) {
    der = pw_tls_cert(whole, i, &len);
    FUZZ_CHECK(der != NULL && len > 0, "certificate %zu empty", i);
    total += len;
  }
  FUZZ_CHECK(total <= PW_TLS_CERTS_BYTES_MAX, "%zu octets", total);

done:
  pw_tls_free(whole);
  pw_tls_free(split);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t cut;

  if (size == 0)
    return 0;

  /* 0..255 spread over the whole input, so long inputs are cut late. */
  cut = (size_t) data[0] * (size - 1) / 255;
  data++;
  size--;

  (void) pw_tls_looks_like_client_hello(data, size);
  check_dir(PW_TLS_FROM_CLIENT, data, size, cut);
  check_dir(PW_TLS_FROM_SERVER, data, size, cut);
  return 0;
}
