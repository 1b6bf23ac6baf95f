#include "engine/pins.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

/* base64 of 32 octets: 44 characters, the last one "=". */
#define PW_PIN_B64_LEN 44

#define B64_CHARS \
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

/* A certificate file of more than this is not a certificate file. */
#define PW_CERTS_INPUT_MAX (4 * 1024 * 1024)

int
pw_pins_parse(pw_pin_t *pin, const char *text, pw_err_t *err)
{
  unsigned char raw[PW_PIN_B64_LEN];
  const char *b64;
  size_t len, i;
  int n;

  if (text == NULL)
    return pw_err_set(err, PW_EINVAL, "pin is missing");
  len = strnlen(text, PW_PIN_INPUT_MAX + 1);
  if (len > PW_PIN_INPUT_MAX)
    return pw_err_set(err, PW_ETOOBIG, "pin is too long");

  /*
   * curl writes "sha256//<base64>"; HPKP and OkHttp write one slash.  A
   * digest's base64 may itself start with "/", so the two forms are told
   * apart by length, not by the second slash.
   */
  if (strncmp(text, "sha256//", 8) == 0 && len == 8 + PW_PIN_B64_LEN)
    b64 = text + 8;
  else if (strncmp(text, "sha256/", 7) == 0)
    b64 = text + 7;
  else if (len == PW_PIN_B64_LEN && strspn(text, B64_CHARS) == len)
    return pw_err_set(err, PW_EINVAL,
                      "pin must be written sha256/<base64>: the prefix is "
                      "missing");
  else if (strchr(text, '/') != NULL && strchr(text, '/') != text)
    return pw_err_set(err, PW_EINVAL,
                      "pin hash '%.*s' is not supported: only sha256",
                      (int) (strchr(text, '/') - text), text);
  else
    return pw_err_set(err, PW_EINVAL,
                      "pin must be written sha256/<base64>");

  len = strlen(b64);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char) b64[i];

    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
          || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
      return pw_err_set(err, PW_EINVAL,
                        "pin has a character that is not base64 at "
                        "offset %zu", i);
  }

  if (len != PW_PIN_B64_LEN)
    return pw_err_set(err, PW_EINVAL,
                      "pin is %zu base64 characters; a SHA-256 pin has %d",
                      len, PW_PIN_B64_LEN);

  /* EVP_DecodeBlock keeps the padding's zero octets: 44 -> 33. */
  n = EVP_DecodeBlock(raw, (const unsigned char *) b64, (int) len);
  if (n != PW_PIN_LEN + 1 || b64[43] != '=' || b64[42] == '=')
    return pw_err_set(err, PW_EINVAL,
                      "pin is not valid base64 of a 32-octet digest");

  /*
   * The last character before "=" carries 4 bits of digest and 2 bits of
   * padding; a non-zero pad means the text was not made by encoding a
   * digest, so it is refused rather than silently matched.
   */
  {
    char canon[PW_PIN_B64_LEN + 1];

    EVP_EncodeBlock((unsigned char *) canon, raw, PW_PIN_LEN);
    if (memcmp(canon, b64, PW_PIN_B64_LEN) != 0)
      return pw_err_set(err, PW_EINVAL,
                        "pin is not canonical base64 (stray bits at the "
                        "end)");
  }

  memcpy(pin->hash, raw, PW_PIN_LEN);
  return PW_OK;
}

void
pw_pins_format(const pw_pin_t *pin, char out[PW_PIN_TEXT_MAX])
{
  memcpy(out, "sha256/", 7);
  EVP_EncodeBlock((unsigned char *) out + 7, pin->hash, PW_PIN_LEN);
}

int
pw_pins_of_cert(pw_pin_t *pin, X509 *cert, pw_err_t *err)
{
  unsigned char *der = NULL;
  unsigned int mdlen = 0;
  int len, ret = PW_OK;

  ERR_clear_error();

  len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) {
    ret = pw_err_set(err, PW_EINVAL,
                     "certificate has no encodable public key");
    pw_err_add_openssl(err);
    goto done;
  }

  if (!EVP_Digest(der, (size_t) len, pin->hash, &mdlen, EVP_sha256(), NULL)
      || mdlen != PW_PIN_LEN) {
    ret = pw_err_set(err, PW_ECRYPTO, "SHA-256 failed");
    pw_err_add_openssl(err);
    goto done;
  }

done:
  OPENSSL_free(der);
  return ret;
}

int
pw_pins_equal(const pw_pin_t *a, const pw_pin_t *b)
{
  return memcmp(a->hash, b->hash, PW_PIN_LEN) == 0;
}

static int
load_der(const unsigned char *buf, size_t len, STACK_OF(X509) *sk,
         pw_err_t *err)
{
  const unsigned char *p = buf, *end = buf + len;
  X509 *x;

  /* Several DER certificates may be concatenated, as a chain file. */
  while (p < end) {
    x = d2i_X509(NULL, &p, end - p);
    if (x == NULL) {
      pw_err_set(err, PW_EINVAL, "DER certificate %d does not parse",
                 sk_X509_num(sk) + 1);
      pw_err_add_openssl(err);
      return PW_EINVAL;
    }
    if (!sk_X509_push(sk, x)) {
      X509_free(x);
      return pw_err_set(err, PW_ENOMEM, "out of memory");
    }
  }
  return PW_OK;
}

static int
load_pem(const unsigned char *buf, size_t len, STACK_OF(X509) *sk,
         pw_err_t *err)
{
  BIO *bio;
  X509 *x;
  int ret = PW_OK;

  bio = BIO_new_mem_buf(buf, (int) len);
  if (bio == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  for (;;) {
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (x == NULL)
      break;
    if (!sk_X509_push(sk, x)) {
      X509_free(x);
      ret = pw_err_set(err, PW_ENOMEM, "out of memory");
      goto done;
    }
  }

  /* The loop ends at the end of the input, or at a broken block. */
  if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
    ret = pw_err_set(err, PW_EINVAL, "PEM certificate %d does not parse",
                     sk_X509_num(sk) + 1);
    pw_err_add_openssl(err);
    goto done;
  }
  ERR_clear_error();

done:
  BIO_free(bio);
  return ret;
}

int
pw_pins_load_certs(const unsigned char *buf, size_t len,
                   STACK_OF(X509) **out, pw_err_t *err)
{
  STACK_OF(X509) *sk;
  int ret;

  *out = NULL;
  if (len > PW_CERTS_INPUT_MAX)
    return pw_err_set(err, PW_ETOOBIG, "certificate input is over %d bytes",
                      PW_CERTS_INPUT_MAX);
  if (len == 0)
    return pw_err_set(err, PW_EINVAL, "certificate input is empty");

  sk = sk_X509_new_null();
  if (sk == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  ERR_clear_error();

  /*
   * DER starts with a SEQUENCE tag and, a certificate being longer than
   * 127 octets, a long-form length; anything else is read as PEM (whose
   * text before the first block may well start with "0").
   */
  if (len > 1 && buf[0] == 0x30 && buf[1] >= 0x81 && buf[1] <= 0x84)
    ret = load_der(buf, len, sk, err);
  else
    ret = load_pem(buf, len, sk, err);
  if (ret != PW_OK)
    goto done;

  if (sk_X509_num(sk) == 0) {
    ret = pw_err_set(err, PW_EINVAL, "no certificate found");
    goto done;
  }

  *out = sk;
  sk = NULL;

done:
  sk_X509_pop_free(sk, X509_free);
  return ret;
}
