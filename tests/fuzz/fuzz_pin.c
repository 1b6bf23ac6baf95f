/* pw_pins_parse: pins typed by users and read from policies. */
#include "tests/fuzz/fuzz.h"

#include "engine/pins.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *in = fuzz_cstr(data, size);
  char text[PW_PIN_TEXT_MAX];
  pw_pin_t pin, again;
  pw_err_t err = { 0 };
  int rc;

  rc = pw_pins_parse(&pin, in, &err);
  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    goto done;
  }

  /* The canonical form reads back as the same pin. */
  pw_pins_format(&pin, text);
  FUZZ_CHECK(strlen(text) < PW_PIN_TEXT_MAX, "format of %zu", strlen(text));
  rc = pw_pins_parse(&again, text, &err);
  FUZZ_CHECK(rc == 0, "'%s' does not parse: %s", text, err.msg);
  FUZZ_CHECK(pw_pins_equal(&pin, &again), "'%s' changed", text);

done:
  free(in);
  return 0;
}
