/*
 * pw_tls13_keylog_parse and pw_tls13_reader_feed.  The first octet picks
 * the target and the suite:
 *   0 (mod 3)  the rest is a key-log line
 *   1          the rest is the server's stream, fed to a reader with a
 *              fixed key: garbage must fail cleanly, at the tag at the
 *              latest
 *   2          the rest is plaintext records, each a content type, a
 *              uint16 length and that many octets, sealed here with the
 *              fixed key so that the handshake parser behind the AEAD is
 *              reached
 * The stream is fed whole and cut in two; both must give one answer.
 */
#include "tests/fuzz/fuzz.h"

#include <openssl/evp.h>

#include "engine/tls13.h"

/* RFC 8448 3's server handshake traffic secret, then 16 more octets. */
static const unsigned char SECRET[48] = {
  0xb6, 0x7b, 0x7d, 0x69, 0x0c, 0xc1, 0x6c, 0x4e,
  0x75, 0xe5, 0x42, 0x13, 0xcb, 0x2d, 0x37, 0xb4,
  0xe9, 0xc9, 0x12, 0xbc, 0xde, 0xd9, 0x10, 0x5d,
  0x42, 0xbe, 0xfd, 0x59, 0xd3, 0x91, 0xad, 0x38,
  0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
};

static void
check_keylog(const uint8_t *data, size_t size)
{
  pw_tls13_keylog_t e;
  pw_err_t err = { 0 };
  int rc;

  rc = pw_tls13_keylog_parse((const char *) data, size, &e, &err);
  if (rc != PW_OK) {
    FUZZ_CHECK(rc == PW_EINVAL || rc == PW_ETOOBIG, "code %d", rc);
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    return;
  }
  FUZZ_CHECK(size <= PW_TLS13_KEYLOG_LINE_MAX, "a line of %zu taken", size);
  FUZZ_CHECK(e.wanted == (e.label == PW_TLS13_SERVER_HANDSHAKE),
             "wanted %d for label %d", e.wanted, e.label);
  FUZZ_CHECK(e.label == PW_TLS13_COMMENT ? e.secret_len == 0
             : e.secret_len == 32 || e.secret_len == 48,
             "secret of %zu octets", e.secret_len);
}

/* Seals one record as RFC 8446 5.2 says, with sequence number seq. */
static size_t
seal(const pw_tls13_keys_t *k, uint64_t seq, uint8_t type,
     const uint8_t *content, size_t n, unsigned char *out)
{
  const EVP_CIPHER *cipher = k->suite == 0x1301 ? EVP_aes_128_gcm()
                             : k->suite == 0x1302 ? EVP_aes_256_gcm()
                             : EVP_chacha20_poly1305();
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  unsigned char nonce[PW_TLS13_IV_LEN];
  size_t i, inner = n + 1;
  int len, fin;

  FUZZ_CHECK(ctx != NULL, "EVP_CIPHER_CTX_new");
  memcpy(nonce, k->iv, sizeof(nonce));
  for (i = 0; i < 8; i++)
    nonce[PW_TLS13_IV_LEN - 1 - i] ^= (unsigned char) (seq >> (8 * i));
  out[0] = 23;
  out[1] = 3;
  out[2] = 3;
  out[3] = (unsigned char) ((inner + PW_TLS13_TAG_LEN) >> 8);
  out[4] = (unsigned char) (inner + PW_TLS13_TAG_LEN);
  memcpy(out + 5, content, n);
  out[5 + n] = type;

  FUZZ_CHECK(EVP_EncryptInit_ex(ctx, cipher, NULL, k->key, nonce) == 1
             && EVP_EncryptUpdate(ctx, NULL, &len, out, 5) == 1
             && EVP_EncryptUpdate(ctx, out + 5, &len, out + 5,
                                  (int) inner) == 1
             && EVP_EncryptFinal_ex(ctx, out + 5 + len, &fin) == 1
             && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
                                    PW_TLS13_TAG_LEN, out + 5 + inner) == 1,
             "sealing a record");
  EVP_CIPHER_CTX_free(ctx);
  return 5 + inner + PW_TLS13_TAG_LEN;
}

/* The plaintext records of the input, sealed; the caller frees *out. */
static size_t
seal_all(const pw_tls13_keys_t *k, const uint8_t *data, size_t size,
         unsigned char **out)
{
  size_t pos = 0, n, total = 0;
  uint64_t seq = 0;
  unsigned char *buf;

  /* Each record grows by at most its header and tag over its input. */
  buf = malloc(size / 3 * (5 + 1 + PW_TLS13_TAG_LEN) + size + 1);
  FUZZ_CHECK(buf != NULL, "malloc");
  while (size - pos >= 3) {
    n = (size_t) data[pos + 1] << 8 | data[pos + 2];
    if (n > size - pos - 3)
      n = size - pos - 3;
    if (n > PW_TLS_PLAIN_MAX)
      n = PW_TLS_PLAIN_MAX;
    total += seal(k, seq++, data[pos], data + pos + 3, n, buf + total);
    pos += 3 + n;
  }
  *out = buf;
  return total;
}

static int
run(const pw_tls13_keys_t *k, const unsigned char *p, size_t n, size_t cut,
    pw_tls13_reader_t **out, pw_err_t *err)
{
  pw_tls13_reader_t *r = pw_tls13_reader_new(k);
  int rc;

  FUZZ_CHECK(r != NULL, "pw_tls13_reader_new");
  rc = pw_tls13_reader_feed(r, p, cut, err);
  if (rc == PW_OK)
    rc = pw_tls13_reader_feed(r, p + cut, n - cut, err);
  *out = r;
  return rc;
}

static void
check_reader(uint16_t suite, int sealed, const uint8_t *data, size_t size)
{
  pw_tls13_reader_t *whole = NULL, *split = NULL;
  pw_err_t err = { 0 }, err1 = { 0 };
  pw_tls13_keys_t keys;
  unsigned char *stream = NULL;
  const unsigned char *der;
  size_t n, cut, i, len, total = 0;
  int rc, rc1;

  rc = pw_tls13_keys(suite, SECRET, suite == 0x1302 ? 48 : 32, &keys,
                     &err);
  FUZZ_CHECK(rc == PW_OK, "pw_tls13_keys: %s", err.msg);

  if (sealed) {
    n = seal_all(&keys, data, size, &stream);
  } else {
    stream = malloc(size + 1);
    FUZZ_CHECK(stream != NULL, "malloc");
    memcpy(stream, data, size);
    n = size;
  }
  cut = n > 0 ? (size_t) (size > 0 ? data[size - 1] : 0) * (n - 1) / 255
        : 0;

  rc = run(&keys, stream, n, n, &whole, &err);
  rc1 = run(&keys, stream, n, cut, &split, &err1);
  FUZZ_CHECK(rc == rc1, "whole %d (%s), cut at %zu %d (%s)", rc, err.msg,
             cut, rc1, err1.msg);
  if (rc != PW_OK) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    FUZZ_CHECK(pw_tls13_cert_count(whole) == 0, "certificates on error");
    FUZZ_CHECK(pw_tls13_reader_feed(whole, stream, n, &err) == rc,
               "a failed reader took more bytes");
    goto done;
  }

  FUZZ_CHECK(pw_tls13_reader_stage(whole) == pw_tls13_reader_stage(split),
             "stage %d whole, %d cut", pw_tls13_reader_stage(whole),
             pw_tls13_reader_stage(split));
  FUZZ_CHECK(pw_tls13_cert_count(whole) == pw_tls13_cert_count(split),
             "certificate counts differ");
  FUZZ_CHECK(pw_tls13_cert_count(whole) <= PW_TLS_CERTS_MAX, "too many");
  FUZZ_CHECK(pw_tls13_reader_stage(whole) == PW_TLS13_CERTIFICATE
             || pw_tls13_cert_count(whole) == 0,
             "certificates in stage %d", pw_tls13_reader_stage(whole));
  for (i = 0; i < pw_tls13_cert_count(whole); i++) {
    der = pw_tls13_cert(whole, i, &len);
    FUZZ_CHECK(der != NULL && len > 0, "certificate %zu empty", i);
    total += len;
  }
  FUZZ_CHECK(total <= PW_TLS_CERTS_BYTES_MAX, "%zu octets", total);

done:
  pw_tls13_reader_free(whole);
  pw_tls13_reader_free(split);
  free(stream);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303 };
  uint8_t pick;

  if (size == 0)
    return 0;
  pick = data[0];
  data++;
  size--;

  switch (pick % 3) {
  case 0:
    check_keylog(data, size);
    break;
  case 1:
    check_reader(suites[pick / 3 % 3], 0, data, size);
    break;
  default:
    check_reader(suites[pick / 3 % 3], 1, data, size);
    break;
  }
  return 0;
}
