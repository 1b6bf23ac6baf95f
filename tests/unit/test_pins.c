/*
 * Pins: the text form good and bad, the pin of a certificate against
 * what the openssl command line computes, and reading certificate files.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "certgen.h"
#include "engine/pins.h"

/* Runs of base64 to build pins of exact lengths. */
#define A10 "AAAAAAAAAA"
#define A40 A10 A10 A10 A10
#define ZERO_B64 A40 "AAA="     /* 32 zero octets: 43 + "=" */

/*
 * A self-signed P-256 certificate and its pin, computed outside the
 * engine with
 *   openssl x509 -pubkey -noout | openssl pkey -pubin -outform der
 *     | openssl dgst -sha256 -binary | base64
 */
static const char CERT_PEM[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBgDCCASegAwIBAgIUWrPTOJ6IJ4zD7LfvhUwu5xYNo0IwCgYIKoZIzj0EAwIw\n"
  "FjEUMBIGA1UEAwwLcGluLmV4YW1wbGUwHhcNMjYxMjAzMTY0NjUyWhcNMzYxMTMw\n"
  "MTY0NjUyWjAWMRQwEgYDVQQDDAtwaW4uZXhhbXBsZTBZMBMGByqGSM49AgEGCCqG\n"
  "SM49AwEHA0IABLB+W7ZKUGhoeHV4e6w/cHCZKBI1VX1PBK5nPXJ3EcTRZQEixWkV\n"
  "ONtnAtD1cFEV3nw9IKjLGzqWjw94nASEPsujUzBRMB0GA1UdDgQWBBQVRSyXp+57\n"
  "JfH12uV44Dhre/lbPDAfBgNVHSMEGDAWgBQVRSyXp+57JfH12uV44Dhre/lbPDAP\n"
  "BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIHUqcNFfGIRjbabeWTht\n"
  "UNoeX8/BsI526N4thML1/iLcAiB8PlNzpoa4t+evNwNaBoD2pgR0duunRLu8p4nE\n"
  "a47G5w==\n"
  "-----END CERTIFICATE-----\n";

static const char CERT_PIN[] =
  "sha256/XaziidjrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi2fec=";

#define CERT_PIN_HEX \
  "5dace289d8eb2a3367e6becd8b2938f0b48dad9e9ea26187d06e675718b67de7"

static void
hex(const unsigned char *p, size_t n, char *out)
{
  size_t i;

  for (i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", p[i]);
  out[2 * n] = '\0';
}

/* Parsing */

/*
 * Criterion copies each parameter into a process of its own, where the
 * parent's pointers mean nothing: the strings live in the struct.
 */
typedef struct pcase {
  char comment[64];
  char text[200];
  int  null;        /* pass NULL instead of text */
  int  code;        /* PW_OK, or the error wanted */
  char want[80];    /* the digest in hex, or a part of err.msg */
} pcase_t;

ParameterizedTestParameters(pins, parse)
{
  static pcase_t cases[] = {
    /* Good. */
    { "a zero digest", "sha256/" ZERO_B64, 0, PW_OK,
      "0000000000000000000000000000000000000000000000000000000000000000" },
    { "a real pin", "sha256/XaziidjrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi2fec=",
      0, PW_OK, CERT_PIN_HEX },
    { "curl's two slashes",
      "sha256//XaziidjrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi2fec=", 0, PW_OK,
      CERT_PIN_HEX },
    { "a digest whose base64 starts with a slash",
      "sha256///////////////////////////////////////////8=", 0, PW_OK,
      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" },
    { "the same in curl's form",
      "sha256////////////////////////////////////////////8=", 0, PW_OK,
      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" },
    { "plus signs and a slash inside",
      "sha256/++++AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0, PW_OK,
      "fbefbe0000000000000000000000000000000000000000000000000000000000" },

    /* Bad: the prefix. */
    { "sha1 is not supported", "sha1/" "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0,
      PW_EINVAL, "pin hash 'sha1' is not supported" },
    { "sha384 is not supported", "sha384/" A40 A10 A10 "AAAA", 0,
      PW_EINVAL, "pin hash 'sha384' is not supported" },
    { "upper-case hash name", "SHA256/" ZERO_B64, 0, PW_EINVAL,
      "'SHA256' is not supported" },
    { "a colon for the slash", "sha256:" ZERO_B64, 0, PW_EINVAL,
      "sha256/<base64>" },
    { "missing prefix", "XaziidjrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi2fec=", 0,
      PW_EINVAL, "sha256/<base64>" },
    { "missing prefix, base64 starting with a slash",
      "///////////////////////////////////////////8=", 0, PW_EINVAL,
      "sha256/<base64>" },
    /*
     * A bare base64 pin that holds a "/" is not a pin of an unknown hash
     * named "EjRf": about half of all pins hold one.
     */
    { "missing prefix, base64 holding a slash",
      "EjRf/w" A10 A10 A10 "AAAAAAA=", 0, PW_EINVAL, "sha256/<base64>" },
    { "a space before the prefix", " sha256/" ZERO_B64, 0, PW_EINVAL,
      "not supported" },
    { "empty", "", 0, PW_EINVAL, "sha256/<base64>" },
    { "NULL", "", 1, PW_EINVAL, "missing" },

    /* Bad: the base64. */
    { "a character not base64", "sha256/Xazi!djrKjNn5r7Niyk48LSNrZ6eomGH0G"
      "5nVxi2fec=", 0, PW_EINVAL, "not base64 at offset 4" },
    { "base64url's minus", "sha256/Xazi-djrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi"
      "2fec=", 0, PW_EINVAL, "not base64 at offset 4" },
    { "base64url's underscore", "sha256/Xazi_djrKjNn5r7Niyk48LSNrZ6eomGH0G"
      "5nVxi2fec=", 0, PW_EINVAL, "not base64 at offset 4" },
    { "an embedded space", "sha256/Xazi djrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi"
      "2fec=", 0, PW_EINVAL, "not base64 at offset 4" },
    { "a trailing newline", "sha256/" ZERO_B64 "\n", 0, PW_EINVAL,
      "not base64 at offset 44" },
    { "a non-ASCII octet", "sha256/\xc3\xa9" A40 "A=", 0, PW_EINVAL,
      "not base64 at offset 0" },
    { "an embedded NUL ends the text early",
      "sha256/Xazi\0djrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi2fec=", 0, PW_EINVAL,
      "is 4 base64 characters" },
    { "43 characters: the padding dropped", "sha256/" A40 "AAA", 0,
      PW_EINVAL, "is 43 base64 characters" },
    { "45 characters", "sha256/" ZERO_B64 "A", 0, PW_EINVAL,
      "is 45 base64 characters" },
    { "a 20-octet digest (SHA-1 size)",
      "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0, PW_EINVAL,
      "is 28 base64 characters" },
    { "a 48-octet digest (SHA-384 size)", "sha256/" A40 A10 A10 "AAAA", 0,
      PW_EINVAL, "is 64 base64 characters" },
    { "nothing after the prefix", "sha256/", 0, PW_EINVAL,
      "is 0 base64 characters" },
    { "nothing after curl's prefix", "sha256//", 0, PW_EINVAL,
      "is 1 base64 characters" },
    { "44 characters with no padding", "sha256/" A40 "AAAA", 0, PW_EINVAL,
      "not valid base64 of a 32-octet digest" },
    { "two padding characters", "sha256/" A40 "AA==", 0, PW_EINVAL,
      "not valid base64 of a 32-octet digest" },
    { "stray padding bits (d for c)",
      "sha256/XaziidjrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi2fed=", 0, PW_EINVAL,
      "not canonical" },
    { "stray padding bits (B for A)", "sha256/" A40 "AAB=", 0, PW_EINVAL,
      "not canonical" },
    { "padding in the middle", "sha256/AAAA=" A10 A10 A10 "AAAAAAAA=", 0,
      PW_EINVAL, "not canonical" },
    { "128 characters, at the cap", "sha256/" A40 A40 A40 "A", 0, PW_EINVAL,
      "is 121 base64 characters" },
    { "129 characters, over the cap", "sha256/" A40 A40 A40 "AA", 0,
      PW_ETOOBIG, "too long" },
  };

  return cr_make_param_array(pcase_t, cases,
                             sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(pcase_t *c, pins, parse)
{
  pw_pin_t pin, before;
  char got[2 * PW_PIN_LEN + 1];
  pw_err_t err;
  int rc;

  memset(&pin, 0xab, sizeof(pin));
  before = pin;
  memset(&err, 0, sizeof(err));
  rc = pw_pins_parse(&pin, c->null ? NULL : c->text, &err);

  cr_assert_eq(rc, c->code, "%s: '%s' gave %s, want %s (%s)", c->comment,
               c->text, pw_err_name(rc), pw_err_name(c->code), err.msg);
  if (c->code == PW_OK) {
    hex(pin.hash, PW_PIN_LEN, got);
    cr_expect_str_eq(got, c->want, "%s: digest %s, want %s", c->comment,
                     got, c->want);
  } else {
    cr_expect_not_null(strstr(err.msg, c->want),
                       "%s: err.msg '%s' does not hold '%s'", c->comment,
                       err.msg, c->want);
    cr_expect(memcmp(&pin, &before, sizeof(pin)) == 0,
              "%s: the pin was written on failure", c->comment);
  }
}

/* A NULL err is allowed: the code alone tells the caller. */
Test(pins, parse_null_err)
{
  pw_pin_t pin;
  int rc = pw_pins_parse(&pin, "sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA=", NULL);

  cr_expect_eq(rc, PW_EINVAL, "got %s, want EINVAL", pw_err_name(rc));
}

/* Format and parse */

static void
round_trip(const pw_pin_t *pin, const char *what)
{
  char text[PW_PIN_TEXT_MAX], curl[PW_PIN_TEXT_MAX + 1], h[65];
  pw_pin_t back;
  pw_err_t err;
  int rc;

  hex(pin->hash, PW_PIN_LEN, h);
  memset(text, 'x', sizeof(text));
  pw_pins_format(pin, text);
  cr_assert_eq(strnlen(text, sizeof(text)), PW_PIN_TEXT_MAX - 1,
               "%s %s: formatted length %zu, want %d", what, h,
               strnlen(text, sizeof(text)), PW_PIN_TEXT_MAX - 1);
  cr_expect_eq(strncmp(text, "sha256/", 7), 0, "%s %s: '%s'", what, h, text);

  rc = pw_pins_parse(&back, text, &err);
  cr_expect_eq(rc, PW_OK, "%s %s: '%s' does not parse: %s", what, h, text,
               err.msg);
  cr_expect(rc != PW_OK || pw_pins_equal(pin, &back),
            "%s %s: '%s' parses to another digest", what, h, text);

  /* curl's form of the same pin. */
  snprintf(curl, sizeof(curl), "sha256//%s", text + 7);
  rc = pw_pins_parse(&back, curl, &err);
  cr_expect_eq(rc, PW_OK, "%s %s: '%s' does not parse: %s", what, h, curl,
               err.msg);
  cr_expect(rc != PW_OK || pw_pins_equal(pin, &back),
            "%s %s: '%s' parses to another digest", what, h, curl);
}

/* Every digest survives format then parse, in both spellings. */
Test(pins, round_trip)
{
  static const unsigned char fill[] = { 0x00, 0xff, 0xfc, 0x03, 0x80 };
  pw_pin_t pin;
  uint32_t x = 2463534242u;
  size_t i, j;

  for (i = 0; i < sizeof(fill); i++) {
    memset(pin.hash, fill[i], sizeof(pin.hash));
    round_trip(&pin, "fill");
  }

  /* A first octet of 0xfc.. starts the base64 with "/". */
  memset(pin.hash, 0, sizeof(pin.hash));
  pin.hash[0] = 0xfc;
  round_trip(&pin, "leading slash");

  /* xorshift32: many digests, the same on every run. */
  for (i = 0; i < 2000; i++) {
    for (j = 0; j < PW_PIN_LEN; j++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      pin.hash[j] = (unsigned char) x;
    }
    round_trip(&pin, "random");
  }
}

Test(pins, equal)
{
  pw_pin_t a, b;

  memset(&a, 0x11, sizeof(a));
  b = a;
  cr_expect(pw_pins_equal(&a, &b), "equal digests compare unequal");
  b.hash[PW_PIN_LEN - 1] ^= 1;
  cr_expect(!pw_pins_equal(&a, &b), "the last octet is not compared");
  b = a;
  b.hash[0] ^= 0x80;
  cr_expect(!pw_pins_equal(&a, &b), "the first octet is not compared");
}

/* The pin of a certificate */

static STACK_OF(X509) *
load(const void *buf, size_t len)
{
  STACK_OF(X509) *sk = NULL;
  pw_err_t err;
  int rc;

  rc = pw_pins_load_certs(buf, len, &sk, &err);
  cr_assert_eq(rc, PW_OK, "cannot load test certificates: %s", err.msg);
  return sk;
}

/* The value the openssl command line gives. */
Test(pins, of_cert_known)
{
  STACK_OF(X509) *sk = load(CERT_PEM, strlen(CERT_PEM));
  char text[PW_PIN_TEXT_MAX];
  pw_pin_t pin;
  pw_err_t err;
  int rc;

  rc = pw_pins_of_cert(&pin, sk_X509_value(sk, 0), &err);
  cr_assert_eq(rc, PW_OK, "pw_pins_of_cert: %s", err.msg);
  pw_pins_format(&pin, text);
  cr_expect_str_eq(text, CERT_PIN, "pin %s, want %s", text, CERT_PIN);

  sk_X509_pop_free(sk, X509_free);
}

/* The hash of the DER SubjectPublicKeyInfo, for every kind of key. */
Test(pins, of_cert_computed)
{
  static const struct {
    const char   *comment;
    certgen_key_t key;
  } kinds[] = {
    { "EC P-256", CERTGEN_EC_P256 },
    { "RSA 2048", CERTGEN_RSA_2048 },
  };
  certgen_spec_t spec = {
    .cn = "pin.example", .dns = "pin.example",
    .not_before = CERTGEN_NOW - 86400, .not_after = CERTGEN_NOW + 86400,
  };
  unsigned char *der = NULL, want[PW_PIN_LEN];
  char got_hex[65], want_hex[65];
  unsigned int mdlen;
  EVP_PKEY *key;
  pw_pin_t pin;
  pw_err_t err;
  X509 *x;
  size_t i;
  int len;

  for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    spec.key = kinds[i].key;
    x = certgen_cert(&spec, &key);
    cr_assert_not_null(x, "%s: cannot make a certificate", kinds[i].comment);

    der = NULL;
    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    cr_assert_gt(len, 0, "%s: i2d_X509_PUBKEY", kinds[i].comment);
    cr_assert(EVP_Digest(der, (size_t) len, want, &mdlen, EVP_sha256(),
                         NULL), "%s: EVP_Digest", kinds[i].comment);

    cr_assert_eq(pw_pins_of_cert(&pin, x, &err), PW_OK, "%s: %s",
                 kinds[i].comment, err.msg);
    hex(pin.hash, PW_PIN_LEN, got_hex);
    hex(want, PW_PIN_LEN, want_hex);
    cr_expect_str_eq(got_hex, want_hex, "%s: pin %s, want %s",
                     kinds[i].comment, got_hex, want_hex);

    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
  }
}

/* Two certificates for one key share a pin; that is what pins are for. */
Test(pins, of_cert_same_key)
{
  certgen_pki_t pki;
  certgen_spec_t spec = {
    .cn = "Test Intermediate, reissued", .ca = 1,
    .not_before = CERTGEN_NOW - 86400, .not_after = CERTGEN_NOW + 86400,
  };
  pw_pin_t a, b, c;
  EVP_PKEY *key;
  X509 *x;

  cr_assert_eq(certgen_pki(&pki), 0);
  spec.issuer = pki.root;
  spec.issuer_key = pki.root_key;
  x = certgen_cert(&spec, &key);
  cr_assert_not_null(x);

  /* certgen makes a new key each time: swap in the intermediate's. */
  cr_assert(X509_set_pubkey(x, pki.inter_key));
  cr_assert(X509_sign(x, pki.root_key, EVP_sha256()));

  cr_assert_eq(pw_pins_of_cert(&a, pki.inter, NULL), PW_OK);
  cr_assert_eq(pw_pins_of_cert(&b, x, NULL), PW_OK);
  cr_assert_eq(pw_pins_of_cert(&c, pki.leaf, NULL), PW_OK);
  cr_expect(pw_pins_equal(&a, &b), "one key, two pins");
  cr_expect(!pw_pins_equal(&a, &c), "two keys, one pin");

  X509_free(x);
  EVP_PKEY_free(key);
  certgen_pki_free(&pki);
}

/* Reading certificate files */

typedef enum input {
  IN_PEM_ONE = 0,
  IN_PEM_CHAIN,          /* leaf, intermediate, root */
  IN_PEM_TEXT,           /* openssl x509 -text style words around blocks */
  IN_PEM_CRLF,           /* a chain with CR LF line ends */
  IN_PEM_KEY_BETWEEN,    /* a private key block between two certificates */
  IN_PEM_LEADING_ZERO,   /* text before the first block starts with '0' */
  IN_DER_ONE,
  IN_DER_CHAIN,          /* three DER certificates back to back */
  IN_DER_TRAILING,       /* a DER certificate, then junk */
  IN_DER_TRUNCATED,      /* a DER certificate cut short */
  IN_GARBAGE_TEXT,
  IN_GARBAGE_SEQ,        /* binary junk that starts with 0x30 */
  IN_EMPTY,
  IN_KEY_ONLY,           /* a PEM private key and no certificate */
  IN_PEM_BAD_BASE64_2,   /* the second block holds a '!' */
  IN_PEM_NO_END_2,       /* the second block has no END line */
  IN_PEM_BAD_DER_2,      /* the second block is base64 of junk */
  IN_PEM_BAD_BASE64_1,   /* the first block holds a '!' */
  IN_OVERSIZED           /* a chain padded past 4 MiB */
} input_t;

typedef struct lcase {
  char    comment[64];
  input_t input;
  int     code;
  int     count;       /* certificates, when code is PW_OK */
  char    msg[48];     /* a part of err.msg, when code is not PW_OK */
} lcase_t;

ParameterizedTestParameters(pins, load_certs)
{
  static lcase_t cases[] = {
    { "one PEM certificate", IN_PEM_ONE, PW_OK, 1, "" },
    { "a PEM chain of three, in order", IN_PEM_CHAIN, PW_OK, 3, "" },
    { "PEM blocks with words around them", IN_PEM_TEXT, PW_OK, 3, "" },
    { "PEM with CR LF line ends", IN_PEM_CRLF, PW_OK, 3, "" },
    { "a key block between certificates is skipped", IN_PEM_KEY_BETWEEN,
      PW_OK, 2, "" },
    /* '0' is 0x30, a DER SEQUENCE tag; the file is still PEM. */
    { "PEM after text that starts with '0'", IN_PEM_LEADING_ZERO, PW_OK, 3,
      "" },
    { "one DER certificate", IN_DER_ONE, PW_OK, 1, "" },
    { "three DER certificates concatenated", IN_DER_CHAIN, PW_OK, 3, "" },
    { "DER with junk after it", IN_DER_TRAILING, PW_EINVAL, 0,
      "DER certificate 2 does not parse" },
    { "DER cut short", IN_DER_TRUNCATED, PW_EINVAL, 0,
      "DER certificate 1 does not parse" },
    { "text that is no certificate", IN_GARBAGE_TEXT, PW_EINVAL, 0,
      "no certificate found" },
    { "binary junk that looks like a SEQUENCE", IN_GARBAGE_SEQ, PW_EINVAL,
      0, "DER certificate 1 does not parse" },
    { "empty", IN_EMPTY, PW_EINVAL, 0, "empty" },
    { "a private key alone", IN_KEY_ONLY, PW_EINVAL, 0,
      "no certificate found" },
    { "PEM, second block has bad base64", IN_PEM_BAD_BASE64_2, PW_EINVAL,
      0, "PEM certificate 2 does not parse" },
    { "PEM, second block has no END line", IN_PEM_NO_END_2, PW_EINVAL, 0,
      "PEM certificate 2 does not parse" },
    { "PEM, second block is not DER", IN_PEM_BAD_DER_2, PW_EINVAL, 0,
      "PEM certificate 2 does not parse" },
    { "PEM, first block has bad base64", IN_PEM_BAD_BASE64_1, PW_EINVAL, 0,
      "PEM certificate 1 does not parse" },
    { "over 4 MiB", IN_OVERSIZED, PW_ETOOBIG, 0, "over" },
  };

  return cr_make_param_array(lcase_t, cases,
                             sizeof(cases) / sizeof(cases[0]));
}

static void
put_pem(BIO *b, X509 *x)
{
  cr_assert(PEM_write_bio_X509(b, x), "PEM_write_bio_X509");
}

static void
put_der(BIO *b, X509 *x)
{
  cr_assert(i2d_X509_bio(b, x), "i2d_X509_bio");
}

/* A private key in PEM, to sit between or instead of certificates. */
static void
put_key(BIO *b, EVP_PKEY *key)
{
  cr_assert(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));
}

/* Replaces the 100th character of the n-th PEM block's body by c. */
static void
corrupt_block(char *buf, int n, char c)
{
  char *p = buf;
  int i;

  for (i = 0; i < n; i++) {
    p = strstr(p, "-----BEGIN CERTIFICATE-----\n");
    cr_assert_not_null(p, "block %d not found", n);
    p += 28;
  }
  p[100] = c;
}

static size_t
build_input(input_t in, const certgen_pki_t *pki, char **out)
{
  BIO *b = BIO_new(BIO_s_mem());
  char *mem, *p, *q;
  long len;

  cr_assert_not_null(b);

  switch (in) {
  case IN_PEM_ONE:
  case IN_PEM_BAD_BASE64_1:
    put_pem(b, pki->leaf);
    break;
  case IN_PEM_CHAIN:
  case IN_PEM_CRLF:
  case IN_PEM_BAD_BASE64_2:
  case IN_PEM_NO_END_2:
  case IN_OVERSIZED:
    put_pem(b, pki->leaf);
    put_pem(b, pki->inter);
    put_pem(b, pki->root);
    break;
  case IN_PEM_TEXT:
    BIO_puts(b, "Certificate chain\n subject=CN = www.example.com\n");
    put_pem(b, pki->leaf);
    BIO_puts(b, " subject=CN = Test Intermediate\n");
    put_pem(b, pki->inter);
    BIO_puts(b, "\n\n subject=CN = Test Root\n");
    put_pem(b, pki->root);
    BIO_puts(b, "---\n");
    break;
  case IN_PEM_KEY_BETWEEN:
    put_pem(b, pki->leaf);
    put_key(b, pki->leaf_key);
    put_pem(b, pki->inter);
    break;
  case IN_PEM_LEADING_ZERO:
    BIO_puts(b, "0 s:CN = www.example.com\n");
    put_pem(b, pki->leaf);
    put_pem(b, pki->inter);
    put_pem(b, pki->root);
    break;
  case IN_DER_ONE:
  case IN_DER_TRUNCATED:
    put_der(b, pki->leaf);
    break;
  case IN_DER_CHAIN:
    put_der(b, pki->leaf);
    put_der(b, pki->inter);
    put_der(b, pki->root);
    break;
  case IN_DER_TRAILING:
    put_der(b, pki->leaf);
    BIO_puts(b, "junk");
    break;
  case IN_GARBAGE_TEXT:
    BIO_puts(b, "this is not a certificate\n");
    break;
  case IN_GARBAGE_SEQ:
    BIO_write(b, "\x30\x82\xff\xff\x01\x02\x03", 7);
    break;
  case IN_EMPTY:
    break;
  case IN_KEY_ONLY:
    put_key(b, pki->leaf_key);
    break;
  case IN_PEM_BAD_DER_2:
    put_pem(b, pki->leaf);
    BIO_puts(b, "-----BEGIN CERTIFICATE-----\n"
             "MIIBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
             "-----END CERTIFICATE-----\n");
    put_pem(b, pki->root);
    break;
  }

  len = BIO_get_mem_data(b, &mem);
  cr_assert_geq(len, 0);

  /* Room for CR LF doubling and for the 4 MiB padding. */
  *out = malloc(in == IN_OVERSIZED ? 4 * 1024 * 1024 + (size_t) len + 1
                                   : 2 * (size_t) len + 1);
  cr_assert_not_null(*out);
  if (len > 0)
    memcpy(*out, mem, (size_t) len);
  (*out)[len] = '\0';
  BIO_free(b);

  switch (in) {
  case IN_DER_TRUNCATED:
    len /= 2;
    break;
  case IN_PEM_CRLF:
    for (p = *out, q = mem = malloc(2 * (size_t) len + 1); *p != '\0'; p++) {
      if (*p == '\n')
        *q++ = '\r';
      *q++ = *p;
    }
    *q = '\0';
    len = q - mem;
    memcpy(*out, mem, (size_t) len + 1);
    free(mem);
    break;
  case IN_PEM_BAD_BASE64_1:
    corrupt_block(*out, 1, '!');
    break;
  case IN_PEM_BAD_BASE64_2:
    corrupt_block(*out, 2, '!');
    break;
  case IN_PEM_NO_END_2:
    /* Drop the END line of the second block and all after it. */
    p = strstr(*out, "-----END CERTIFICATE-----");
    cr_assert_not_null(p);
    p = strstr(p + 1, "-----END CERTIFICATE-----");
    cr_assert_not_null(p);
    len = p - *out;
    break;
  case IN_OVERSIZED:
    /* Blank lines are legal between PEM blocks; the size alone is bad. */
    memset(*out + len, '\n', 4 * 1024 * 1024 + 1 - (size_t) len);
    len = 4 * 1024 * 1024 + 1;
    break;
  default:
    break;
  }
  return (size_t) len;
}

ParameterizedTest(lcase_t *c, pins, load_certs)
{
  static int unset;
  STACK_OF(X509) *sk = (void *) &unset;   /* must become NULL on failure */
  X509 *order[3];
  certgen_pki_t pki;
  pw_err_t err;
  char *buf;
  size_t len;
  int rc, i;

  cr_assert_eq(certgen_pki(&pki), 0);
  order[0] = pki.leaf;
  order[1] = pki.inter;
  order[2] = pki.root;
  len = build_input(c->input, &pki, &buf);

  memset(&err, 0, sizeof(err));
  rc = pw_pins_load_certs((unsigned char *) buf, len, &sk, &err);

  cr_assert_eq(rc, c->code, "%s: got %s, want %s (%s)", c->comment,
               pw_err_name(rc), pw_err_name(c->code), err.msg);
  if (c->code == PW_OK) {
    cr_assert_not_null(sk, "%s: no stack", c->comment);
    cr_expect_eq(sk_X509_num(sk), c->count, "%s: %d certificates, want %d",
                 c->comment, sk_X509_num(sk), c->count);
    for (i = 0; i < sk_X509_num(sk) && i < c->count; i++)
      cr_expect_eq(X509_cmp(sk_X509_value(sk, i), order[i]), 0,
                   "%s: certificate %d is not the one written there",
                   c->comment, i);
  } else {
    cr_expect_null(sk, "%s: *out is not NULL on failure", c->comment);
    sk = NULL;
    cr_expect_not_null(strstr(err.msg, c->msg),
                       "%s: err.msg '%s' does not hold '%s'", c->comment,
                       err.msg, c->msg);
  }

  sk_X509_pop_free(sk, X509_free);
  free(buf);
  certgen_pki_free(&pki);
}
