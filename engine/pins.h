/*
 * Pins: the SHA-256 of a certificate's DER SubjectPublicKeyInfo, written
 * "sha256/<base64>".  curl's "sha256//<base64>" is accepted on input.
 */
#ifndef PW_PINS_H
#define PW_PINS_H

#include <stddef.h>

#include <openssl/x509.h>

#include "engine/err.h"

#define PW_PIN_LEN      32   /* SHA-256 output */
#define PW_PIN_TEXT_MAX 52   /* "sha256/" + 44 base64 characters + NUL */

/* Longest text the parser looks at before it calls the input too long. */
#define PW_PIN_INPUT_MAX 128

typedef struct pw_pin {
  unsigned char hash[PW_PIN_LEN];
} pw_pin_t;

/*
 * Parses `text`.  On failure err says what was wrong: an unknown hash
 * name, bad base64, or a digest of the wrong length.
 */
int pw_pins_parse(pw_pin_t *pin, const char *text, pw_err_t *err);

/* Writes the canonical "sha256/<base64>" form into out. */
void pw_pins_format(const pw_pin_t *pin, char out[PW_PIN_TEXT_MAX]);

/* The pin of a certificate's public key. */
int pw_pins_of_cert(pw_pin_t *pin, X509 *cert, pw_err_t *err);

int pw_pins_equal(const pw_pin_t *a, const pw_pin_t *b);

/*
 * Reads every certificate in a PEM or DER buffer, in order.  The caller
 * frees the stack with sk_X509_pop_free(sk, X509_free).  A buffer that
 * holds no certificate is an error.
 */
int pw_pins_load_certs(const unsigned char *buf, size_t len,
                       STACK_OF(X509) **out, pw_err_t *err);

#endif
