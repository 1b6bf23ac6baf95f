/* pw_pins_load_certs: PEM or DER from files, imports and IPC calls. */
#include "tests/fuzz/fuzz.h"

#include <openssl/err.h>

#include "engine/pins.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  STACK_OF(X509) *sk = NULL;
  char text[PW_PIN_TEXT_MAX];
  pw_err_t err = { 0 };
  pw_pin_t pin;
  int rc, i;

  rc = pw_pins_load_certs(data, size, &sk, &err);
  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    goto done;
  }

  FUZZ_CHECK(sk != NULL && sk_X509_num(sk) > 0, "success without a cert");

  /* A certificate that parsed has a key to pin, or says why not. */
  for (i = 0; i < sk_X509_num(sk); i++) {
    memset(&err, 0, sizeof(err));
    if (pw_pins_of_cert(&pin, sk_X509_value(sk, i), &err) == 0)
      pw_pins_format(&pin, text);
    else
      FUZZ_CHECK(err.msg[0] != '\0', "pin error without a message");
  }

done:
  sk_X509_pop_free(sk, X509_free);
  ERR_clear_error();
  return 0;
}
