/*
 * Passive decryption of a TLS 1.3 server's handshake flight, written by
 * hand over OpenSSL's TLS13-KDF and EVP AEAD ciphers: no library decrypts
 * a flight it is not an end of, from a key-log secret alone (OpenSSL,
 * GnuTLS and the rest only do so as the client or the server).
 *
 * The structures and the sections that define them:
 *   key-log lines           NSS's SSLKEYLOGFILE format
 *   HKDF-Expand-Label       RFC 8446 7.1
 *   traffic key and IV      RFC 8446 7.3
 *   TLSCiphertext           RFC 8446 5.2
 *   per-record nonce        RFC 8446 5.3
 *   TLSInnerPlaintext       RFC 8446 5.2, 5.4 (padding)
 *   ChangeCipherSpec        RFC 8446 5, D.4 (middlebox compatibility)
 *   server's flight order   RFC 8446 2, 4.3, 4.4
 *   Certificate             RFC 8446 4.4.2
 *   CompressedCertificate   RFC 8879 4
 *
 * As in engine/tls.c, every length read from the wire is checked against
 * the octets its enclosing structure holds before anything under it is
 * read.
 */
#include "engine/tls13.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/decode.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <zlib.h>

/* RFC 8446 5.1: content types. */
#define CT_CHANGE_CIPHER_SPEC 20
#define CT_ALERT              21
#define CT_HANDSHAKE          22
#define CT_APPLICATION_DATA   23

/* RFC 8446 4 and RFC 8879 4: the handshake types of the server's flight. */
#define HT_ENCRYPTED_EXTENSIONS   8
#define HT_CERTIFICATE           11
#define HT_CERTIFICATE_REQUEST   13
#define HT_FINISHED              20
#define HT_COMPRESSED_CERTIFICATE 25

#define REC_HDR_LEN 5
#define MSG_HDR_LEN 4

/*
 * The handshake bytes kept between records: a message of the largest
 * size we take, less its last octet, plus one record's content.
 */
#define HS_BUF_MAX (MSG_HDR_LEN + PW_TLS_MSG_MAX + PW_TLS_PLAIN_MAX)

/* Key-log lines */

typedef struct label_name {
  const char      *name;
  pw_tls13_label_t label;
} label_name_t;

static const label_name_t LABELS[] = {
  { "SERVER_HANDSHAKE_TRAFFIC_SECRET", PW_TLS13_SERVER_HANDSHAKE },
  { "CLIENT_HANDSHAKE_TRAFFIC_SECRET", PW_TLS13_CLIENT_HANDSHAKE },
  { "SERVER_TRAFFIC_SECRET_0", PW_TLS13_SERVER_TRAFFIC_0 },
  { "CLIENT_TRAFFIC_SECRET_0", PW_TLS13_CLIENT_TRAFFIC_0 },
  { "EXPORTER_SECRET", PW_TLS13_EXPORTER },
  { "CLIENT_EARLY_TRAFFIC_SECRET", PW_TLS13_CLIENT_EARLY },
  { "EARLY_EXPORTER_SECRET", PW_TLS13_EARLY_EXPORTER },
  { "CLIENT_RANDOM", PW_TLS13_CLIENT_RANDOM },
};

static int
hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes exactly 2 * n hex digits of s into out. */
static int
hex_decode(const char *s, size_t n, unsigned char *out)
{
  size_t i;
  int hi, lo;

  for (i = 0; i < n; i++) {
    hi = hex_digit(s[2 * i]);
    lo = hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (unsigned char) (hi << 4 | lo);
  }
  return 0;
}

int
pw_tls13_keylog_parse(const char *line, size_t len,
                      pw_tls13_keylog_t *entry, pw_err_t *err)
{
  const char *sp1, *sp2, *end;
  size_t i, name_len, secret_hex;

  memset(entry, 0, sizeof(*entry));
  if (len > PW_TLS13_KEYLOG_LINE_MAX)
    return pw_err_set(err, PW_ETOOBIG, "key-log line of %zu octets, over "
                      "%d", len, PW_TLS13_KEYLOG_LINE_MAX);

  if (len > 0 && line[len - 1] == '\n')
    len--;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  end = line + len;

  entry->label = PW_TLS13_COMMENT;
  if (len == 0 || line[0] == '#')
    return PW_OK;

  sp1 = memchr(line, ' ', len);
  if (sp1 == NULL)
    return pw_err_set(err, PW_EINVAL, "key-log line without a space");
  name_len = (size_t) (sp1 - line);
  for (i = 0; i < sizeof(LABELS) / sizeof(LABELS[0]); i++)
    if (strlen(LABELS[i].name) == name_len
        && memcmp(LABELS[i].name, line, name_len) == 0)
      break;
  if (i == sizeof(LABELS) / sizeof(LABELS[0]))
    return pw_err_set(err, PW_EINVAL, "key-log label '%.*s' unknown",
                      (int) (name_len < 40 ? name_len : 40), line);
  entry->label = LABELS[i].label;

  /* The client random: 32 octets, so 64 digits and then a space. */
  sp2 = memchr(sp1 + 1, ' ', (size_t) (end - sp1 - 1));
  if (sp2 == NULL)
    return pw_err_set(err, PW_EINVAL, "key-log line without a secret");
  if (sp2 - sp1 - 1 != 2 * PW_TLS_RANDOM_LEN)
    return pw_err_set(err, PW_EINVAL, "key-log client random of %zu hex "
                      "digits, want %d", (size_t) (sp2 - sp1 - 1),
                      2 * PW_TLS_RANDOM_LEN);
  if (hex_decode(sp1 + 1, PW_TLS_RANDOM_LEN, entry->client_random) != 0)
    return pw_err_set(err, PW_EINVAL, "key-log client random: bad hex");

  /* RFC 8446 7.1: a secret is Hash.length long, 32 or 48 octets. */
  secret_hex = (size_t) (end - sp2 - 1);
  if (secret_hex != 64 && secret_hex != 96)
    return pw_err_set(err, PW_EINVAL, "key-log secret of %zu hex digits, "
                      "want 64 or 96", secret_hex);
  if (hex_decode(sp2 + 1, secret_hex / 2, entry->secret) != 0) {
    OPENSSL_cleanse(entry->secret, sizeof(entry->secret));
    return pw_err_set(err, PW_EINVAL, "key-log secret: bad hex");
  }
  entry->secret_len = secret_hex / 2;

  entry->wanted = entry->label == PW_TLS13_SERVER_HANDSHAKE;
  return PW_OK;
}

/* Keys */

/* RFC 8446 B.4: the hash and the AEAD of a suite. */
static int
suite_params(uint16_t suite, const char **md, const EVP_CIPHER **cipher,
             size_t *key_len, size_t *hash_len)
{
  switch (suite) {
  case PW_TLS13_AES_128_GCM_SHA256:
    *md = "SHA256";
    *cipher = EVP_aes_128_gcm();
    *key_len = 16;
    *hash_len = 32;
    return 0;
  case PW_TLS13_AES_256_GCM_SHA384:
    *md = "SHA384";
    *cipher = EVP_aes_256_gcm();
    *key_len = 32;
    *hash_len = 48;
    return 0;
  case PW_TLS13_CHACHA20_POLY1305_SHA256:
    *md = "SHA256";
    *cipher = EVP_chacha20_poly1305();
    *key_len = 32;
    *hash_len = 32;
    return 0;
  }
  return -1;
}

/* RFC 8446 7.1: HKDF-Expand-Label(secret, label, "", out_len). */
static int
expand_label(const char *md, const unsigned char *secret, size_t secret_len,
             const char *label, unsigned char *out, size_t out_len,
             pw_err_t *err)
{
  EVP_KDF *kdf = NULL;
  EVP_KDF_CTX *kctx = NULL;
  OSSL_PARAM params[7], *p = params;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  int rc = PW_ECRYPTO;

  ERR_clear_error();
  kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
  if (kdf == NULL) {
    pw_err_set(err, PW_ECRYPTO, "EVP_KDF_fetch TLS13-KDF");
    goto done;
  }
  kctx = EVP_KDF_CTX_new(kdf);
  if (kctx == NULL) {
    pw_err_set(err, PW_ECRYPTO, "EVP_KDF_CTX_new");
    goto done;
  }

  *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                          (char *) md, 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                           (void *) secret, secret_len);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX,
                                           (void *) "tls13 ", 6);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL,
                                           (void *) label, strlen(label));
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA,
                                           (void *) "", 0);
  *p = OSSL_PARAM_construct_end();

  if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
    pw_err_set(err, PW_ECRYPTO, "EVP_KDF_derive '%s'", label);
    pw_err_add_openssl(err);
    goto done;
  }
  rc = PW_OK;

done:
  EVP_KDF_CTX_free(kctx);
  EVP_KDF_free(kdf);
  return rc;
}

int
pw_tls13_keys(uint16_t suite, const unsigned char *secret,
              size_t secret_len, pw_tls13_keys_t *keys, pw_err_t *err)
{
  const EVP_CIPHER *cipher;
  const char *md;
  size_t key_len, hash_len;
  int rc;

  memset(keys, 0, sizeof(*keys));
  if (suite_params(suite, &md, &cipher, &key_len, &hash_len) != 0)
    return pw_err_set(err, PW_EINVAL, "cipher suite 0x%04x is not a TLS "
                      "1.3 suite we decrypt", suite);
  if (secret_len != hash_len)
    return pw_err_set(err, PW_EINVAL, "a secret of %zu octets for suite "
                      "0x%04x, want %zu", secret_len, suite, hash_len);

  /* RFC 8446 7.3: [sender]_write_key and [sender]_write_iv. */
  rc = expand_label(md, secret, secret_len, "key", keys->key, key_len, err);
  if (rc == PW_OK)
    rc = expand_label(md, secret, secret_len, "iv", keys->iv,
                      PW_TLS13_IV_LEN, err);
  if (rc != PW_OK) {
    OPENSSL_cleanse(keys, sizeof(*keys));
    return rc;
  }
  keys->suite = suite;
  keys->key_len = key_len;
  return PW_OK;
}

/* Records */

int
pw_tls13_open(const pw_tls13_keys_t *keys, uint64_t seq,
              const unsigned char *record, size_t len,
              unsigned char *out, size_t *outlen, uint8_t *inner_type,
              pw_err_t *err)
{
  EVP_CIPHER_CTX *ctx = NULL;
  const EVP_CIPHER *cipher;
  const char *md;
  unsigned char nonce[PW_TLS13_IV_LEN], tag[PW_TLS13_TAG_LEN];
  size_t key_len, hash_len, frag_len, ct_len = 0, n, i;
  int rc = PW_EINVAL, got, fin;

  *outlen = 0;
  *inner_type = 0;
  if (suite_params(keys->suite, &md, &cipher, &key_len, &hash_len) != 0
      || keys->key_len != key_len)
    return pw_err_set(err, PW_EINVAL, "keys for no suite we decrypt");

  /* RFC 8446 5.2: opaque_type 23, legacy_record_version 0x0303. */
  if (len < REC_HDR_LEN)
    return pw_err_set(err, PW_EINVAL, "record of %zu octets", len);
  frag_len = (size_t) record[3] << 8 | record[4];
  if (record[0] != CT_APPLICATION_DATA || record[1] != 0x03
      || record[2] != 0x03)
    return pw_err_set(err, PW_EINVAL, "record header %02x %02x%02x is "
                      "not TLSCiphertext's", record[0], record[1],
                      record[2]);
  if (frag_len > PW_TLS_RECORD_MAX)
    return pw_err_set(err, PW_ETOOBIG, "encrypted record of %zu octets, "
                      "over 2^14 + 256", frag_len);
  if (frag_len != len - REC_HDR_LEN)
    return pw_err_set(err, PW_EINVAL, "record length %zu, %zu octets "
                      "given", frag_len, len - REC_HDR_LEN);
  if (frag_len < PW_TLS13_TAG_LEN + 1)
    return pw_err_set(err, PW_EINVAL, "encrypted record of %zu octets is "
                      "shorter than its tag and content type", frag_len);
  ct_len = frag_len - PW_TLS13_TAG_LEN;

  /* RFC 8446 5.3: the sequence number, left-padded, XORed into the IV. */
  memcpy(nonce, keys->iv, sizeof(nonce));
  for (i = 0; i < 8; i++)
    nonce[PW_TLS13_IV_LEN - 1 - i] ^= (unsigned char) (seq >> (8 * i));
  memcpy(tag, record + REC_HDR_LEN + ct_len, PW_TLS13_TAG_LEN);

  ERR_clear_error();
  ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) {
    rc = pw_err_set(err, PW_ENOMEM, "EVP_CIPHER_CTX_new");
    goto done;
  }
  if (EVP_DecryptInit_ex(ctx, cipher, NULL, NULL, NULL) != 1
      || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN,
                             PW_TLS13_IV_LEN, NULL) != 1
      || EVP_DecryptInit_ex(ctx, NULL, NULL, keys->key, nonce) != 1
      || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, PW_TLS13_TAG_LEN,
                             tag) != 1) {
    rc = pw_err_set(err, PW_ECRYPTO, "EVP_DecryptInit_ex");
    pw_err_add_openssl(err);
    goto done;
  }

  /* RFC 8446 5.2: the additional data is the record header. */
  if (EVP_DecryptUpdate(ctx, NULL, &got, record, REC_HDR_LEN) != 1
      || EVP_DecryptUpdate(ctx, out, &got, record + REC_HDR_LEN,
                           (int) ct_len) != 1) {
    rc = pw_err_set(err, PW_ECRYPTO, "EVP_DecryptUpdate");
    pw_err_add_openssl(err);
    goto done;
  }
  if (EVP_DecryptFinal_ex(ctx, out + got, &fin) != 1) {
    ERR_clear_error();
    rc = pw_err_set(err, PW_EINVAL, "record %llu: the tag does not verify "
                    "(a wrong secret or altered bytes)",
                    (unsigned long long) seq);
    goto done;
  }
  n = (size_t) got + (size_t) fin;

  /* RFC 8446 5.4: strip the zeros; the last octet left is the type. */
  while (n > 0 && out[n - 1] == 0)
    n--;
  if (n == 0) {
    rc = pw_err_set(err, PW_EINVAL, "record %llu: no content type, only "
                    "padding", (unsigned long long) seq);
    goto done;
  }
  n--;
  if (n > PW_TLS_PLAIN_MAX) {
    rc = pw_err_set(err, PW_ETOOBIG, "record %llu: %zu octets of content, "
                    "over 2^14", (unsigned long long) seq, n);
    goto done;
  }
  *inner_type = out[n];
  *outlen = n;
  rc = PW_OK;

done:
  if (rc != PW_OK)
    OPENSSL_cleanse(out, ct_len);
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

/* The reader */

typedef enum hs_state {
  WANT_EE = 0,       /* RFC 8446 4.3.1: EncryptedExtensions comes first */
  WANT_CERT          /* then CertificateRequest, Certificate or Finished */
} hs_state_t;

struct pw_tls13_reader {
  pw_tls13_keys_t  keys;
  pw_tls13_stage_t stage;
  int              failed;
  hs_state_t       hs_state;
  uint64_t         seq;
  unsigned long    records;
  uint8_t          alert[2];
  uint16_t         compression;

  /* The record being read: its header, then its fragment. */
  unsigned char    rec[REC_HDR_LEN + PW_TLS_RECORD_MAX];
  size_t           rec_have;
  unsigned char    plain[REC_HDR_LEN + PW_TLS_RECORD_MAX];

  /* Handshake octets not yet read as whole messages. */
  unsigned char   *hs;
  size_t           hs_have;

  /* The Certificate body the entries point into. */
  unsigned char   *cert_msg;
  size_t           n_certs;
  size_t           cert_off[PW_TLS_CERTS_MAX];
  size_t           cert_len[PW_TLS_CERTS_MAX];
};

pw_tls13_reader_t *
pw_tls13_reader_new(const pw_tls13_keys_t *keys)
{
  pw_tls13_reader_t *r = calloc(1, sizeof(*r));

  if (r == NULL)
    return NULL;
  r->hs = malloc(HS_BUF_MAX);
  if (r->hs == NULL) {
    free(r);
    return NULL;
  }
  r->keys = *keys;
  return r;
}

void
pw_tls13_reader_free(pw_tls13_reader_t *r)
{
  if (r == NULL)
    return;
  OPENSSL_cleanse(&r->keys, sizeof(r->keys));
  OPENSSL_cleanse(r->plain, sizeof(r->plain));
  OPENSSL_cleanse(r->hs, HS_BUF_MAX);
  free(r->hs);
  free(r->cert_msg);
  free(r);
}

pw_tls13_stage_t
pw_tls13_reader_stage(const pw_tls13_reader_t *r)
{
  return r->stage;
}

uint16_t
pw_tls13_reader_compression(const pw_tls13_reader_t *r)
{
  return r->compression;
}

int
pw_tls13_reader_alert(const pw_tls13_reader_t *r, uint8_t *level,
                      uint8_t *desc)
{
  if (r->stage != PW_TLS13_ALERT)
    return PW_ENOTFOUND;
  *level = r->alert[0];
  *desc = r->alert[1];
  return PW_OK;
}

size_t
pw_tls13_cert_count(const pw_tls13_reader_t *r)
{
  return r->stage == PW_TLS13_CERTIFICATE ? r->n_certs : 0;
}

const unsigned char *
pw_tls13_cert(const pw_tls13_reader_t *r, size_t i, size_t *len)
{
  if (i >= pw_tls13_cert_count(r)) {
    *len = 0;
    return NULL;
  }
  *len = r->cert_len[i];
  return r->cert_msg + r->cert_off[i];
}

static size_t
get_u16(const unsigned char *p)
{
  return (size_t) p[0] << 8 | p[1];
}

static size_t
get_u24(const unsigned char *p)
{
  return (size_t) p[0] << 16 | (size_t) p[1] << 8 | p[2];
}

/*
 * RFC 8446 4.4.2: the body of a Certificate message, which the reader
 * now owns.  The entries' extensions (OCSP, SCT) are passed over.
 */
static int
read_certificate(pw_tls13_reader_t *r, unsigned char *body, size_t len,
                 pw_err_t *err)
{
  size_t pos, list_len, list_end, cert_len, ext_len, total = 0;

  r->cert_msg = body;
  if (len < 1)
    return pw_err_set(err, PW_EINVAL, "Certificate: empty");
  if (body[0] != 0)
    return pw_err_set(err, PW_EINVAL, "Certificate: a server's "
                      "certificate_request_context of %u octets, must be "
                      "empty", body[0]);
  if (len < 4)
    return pw_err_set(err, PW_EINVAL, "Certificate: no certificate_list");
  list_len = get_u24(body + 1);
  if (list_len != len - 4)
    return pw_err_set(err, PW_EINVAL, "Certificate: list of %zu octets in "
                      "%zu", list_len, len - 4);
  if (list_len == 0)
    return pw_err_set(err, PW_EINVAL, "Certificate: the server sent no "
                      "certificate");

  pos = 4;
  list_end = len;
  while (pos < list_end) {
    if (list_end - pos < 3)
      return pw_err_set(err, PW_EINVAL, "Certificate: entry %zu has no "
                        "length", r->n_certs);
    cert_len = get_u24(body + pos);
    pos += 3;
    if (cert_len == 0 || cert_len > list_end - pos)
      return pw_err_set(err, PW_EINVAL, "Certificate: entry %zu of %zu "
                        "octets, %zu left", r->n_certs, cert_len,
                        list_end - pos);
    if (r->n_certs == PW_TLS_CERTS_MAX)
      return pw_err_set(err, PW_ETOOBIG, "Certificate: over %d "
                        "certificates", PW_TLS_CERTS_MAX);
    total += cert_len;
    if (total > PW_TLS_CERTS_BYTES_MAX)
      return pw_err_set(err, PW_ETOOBIG, "Certificate: over %d octets of "
                        "certificates", PW_TLS_CERTS_BYTES_MAX);
    r->cert_off[r->n_certs] = pos;
    r->cert_len[r->n_certs] = cert_len;
    pos += cert_len;

    if (list_end - pos < 2)
      return pw_err_set(err, PW_EINVAL, "Certificate: entry %zu has no "
                        "extensions", r->n_certs);
    ext_len = get_u16(body + pos);
    pos += 2;
    if (ext_len > list_end - pos)
      return pw_err_set(err, PW_EINVAL, "Certificate: entry %zu's "
                        "extensions of %zu octets, %zu left", r->n_certs,
                        ext_len, list_end - pos);
    pos += ext_len;
    r->n_certs++;
  }

  r->stage = PW_TLS13_CERTIFICATE;
  return PW_OK;
}

/* RFC 1950 through zlib: exactly ulen octets, all of the input used. */
static int
inflate_zlib(const unsigned char *in, size_t in_len, unsigned char *out,
             size_t ulen, pw_err_t *err)
{
  uLongf out_len = (uLongf) ulen;
  uLong used = (uLong) in_len;
  int zrc;

  zrc = uncompress2(out, &out_len, in, &used);
  if (zrc == Z_BUF_ERROR && out_len == ulen)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: zlib data "
                      "longer than uncompressed_length %zu, or cut short",
                      ulen);
  if (zrc != Z_OK)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: zlib: %s",
                      zrc == Z_DATA_ERROR ? "corrupt data" : "failed");
  if (out_len != ulen)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: %lu octets "
                      "uncompressed, uncompressed_length says %zu",
                      (unsigned long) out_len, ulen);
  if (used != in_len)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: %zu octets "
                      "after the zlib stream", in_len - (size_t) used);
  return PW_OK;
}

/* RFC 7932 through libbrotlidec: exactly ulen octets. */
static int
inflate_brotli(const unsigned char *in, size_t in_len, unsigned char *out,
               size_t ulen, pw_err_t *err)
{
  size_t out_len = ulen;

  if (BrotliDecoderDecompress(in_len, in, &out_len, out)
      != BROTLI_DECODER_RESULT_SUCCESS)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: brotli data "
                      "corrupt or longer than uncompressed_length %zu",
                      ulen);
  if (out_len != ulen)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: %zu octets "
                      "uncompressed, uncompressed_length says %zu",
                      out_len, ulen);
  return PW_OK;
}

/*
 * RFC 8879 4: a CompressedCertificate, whose compressed_certificate_
 * message is the body of a Certificate message.
 */
static int
read_compressed(pw_tls13_reader_t *r, const unsigned char *body, size_t len,
                pw_err_t *err)
{
  unsigned char *plain;
  size_t alg, ulen, clen;
  int rc;

  if (len < 8)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate of %zu "
                      "octets", len);
  alg = get_u16(body);
  ulen = get_u24(body + 2);
  clen = get_u24(body + 5);
  if (clen != len - 8)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: %zu octets "
                      "of data in %zu", clen, len - 8);
  if (clen == 0)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: no data");
  if (alg != PW_TLS13_COMPRESS_ZLIB && alg != PW_TLS13_COMPRESS_BROTLI)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: algorithm "
                      "%zu is not zlib (1) or brotli (2)", alg);
  if (ulen == 0)
    return pw_err_set(err, PW_EINVAL, "CompressedCertificate: "
                      "uncompressed_length 0");
  if (ulen > PW_TLS_MSG_MAX)
    return pw_err_set(err, PW_ETOOBIG, "CompressedCertificate: "
                      "uncompressed_length %zu, over %d", ulen,
                      PW_TLS_MSG_MAX);

  plain = malloc(ulen);
  if (plain == NULL)
    return pw_err_set(err, PW_ENOMEM, "CompressedCertificate: %zu octets",
                      ulen);
  if (alg == PW_TLS13_COMPRESS_ZLIB)
    rc = inflate_zlib(body + 8, clen, plain, ulen, err);
  else
    rc = inflate_brotli(body + 8, clen, plain, ulen, err);
  if (rc != PW_OK) {
    free(plain);
    return rc;
  }

  r->compression = (uint16_t) alg;
  return read_certificate(r, plain, ulen, err);
}

/* One whole handshake message of the server's encrypted flight. */
static int
read_message(pw_tls13_reader_t *r, uint8_t type, const unsigned char *body,
             size_t len, pw_err_t *err)
{
  unsigned char *copy;

  /* RFC 8446 4.3.1: extensions<0..2^16-1>, passed over. */
  if (r->hs_state == WANT_EE) {
    if (type != HT_ENCRYPTED_EXTENSIONS)
      return pw_err_set(err, PW_EINVAL, "handshake message %u where "
                        "EncryptedExtensions must be", type);
    if (len < 2 || get_u16(body) != len - 2)
      return pw_err_set(err, PW_EINVAL, "EncryptedExtensions: extensions "
                        "do not fill its %zu octets", len);
    r->hs_state = WANT_CERT;
    return PW_OK;
  }

  /*
   * RFC 8446 4.3.2: a CertificateRequest (context<0..2^8-1>, then
   * extensions<2..2^16-1>) may come before the Certificate.
   */
  switch (type) {
  case HT_CERTIFICATE_REQUEST:
    if (len < 3 || len - 3 < body[0]
        || get_u16(body + 1 + body[0]) != len - 3 - body[0])
      return pw_err_set(err, PW_EINVAL, "CertificateRequest: lengths do "
                        "not fill its %zu octets", len);
    return PW_OK;
  case HT_FINISHED:
    r->stage = PW_TLS13_NO_CERTIFICATE;
    return PW_OK;
  case HT_COMPRESSED_CERTIFICATE:
    return read_compressed(r, body, len, err);
  case HT_CERTIFICATE:
    copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
      return pw_err_set(err, PW_ENOMEM, "Certificate: %zu octets", len);
    if (len > 0)
      memcpy(copy, body, len);
    return read_certificate(r, copy, len, err);
  }
  return pw_err_set(err, PW_EINVAL, "handshake message %u where a "
                    "Certificate must be", type);
}

/* Reads every whole message in the handshake buffer, keeps the rest. */
static int
read_messages(pw_tls13_reader_t *r, pw_err_t *err)
{
  size_t pos = 0, len;
  int rc = PW_OK;

  while (r->stage == PW_TLS13_NEED_MORE && r->hs_have - pos >= MSG_HDR_LEN) {
    len = get_u24(r->hs + pos + 1);
    if (len > PW_TLS_MSG_MAX)
      return pw_err_set(err, PW_ETOOBIG, "handshake message %u of %zu "
                        "octets, over %d", r->hs[pos], len, PW_TLS_MSG_MAX);
    if (r->hs_have - pos - MSG_HDR_LEN < len)
      break;
    rc = read_message(r, r->hs[pos], r->hs + pos + MSG_HDR_LEN, len, err);
    if (rc != PW_OK)
      return rc;
    pos += MSG_HDR_LEN + len;
  }

  memmove(r->hs, r->hs + pos, r->hs_have - pos);
  r->hs_have -= pos;
  return PW_OK;
}

/* One whole record in r->rec. */
static int
read_record(pw_tls13_reader_t *r, pw_err_t *err)
{
  size_t frag_len = r->rec_have - REC_HDR_LEN, n;
  uint8_t type;
  int rc;

  if (++r->records > PW_TLS13_RECORDS_MAX)
    return pw_err_set(err, PW_ETOOBIG, "over %d records before the "
                      "Certificate", PW_TLS13_RECORDS_MAX);

  /* RFC 8446 5, D.4: one change_cipher_spec of value 1, unprotected. */
  if (r->rec[0] == CT_CHANGE_CIPHER_SPEC) {
    if (frag_len != 1 || r->rec[REC_HDR_LEN] != 1)
      return pw_err_set(err, PW_EINVAL, "a ChangeCipherSpec record that "
                        "is not the one octet 1");
    return PW_OK;
  }
  if (r->rec[0] == CT_ALERT)
    return pw_err_set(err, PW_EINVAL, "an unprotected alert after the "
                      "ServerHello");
  if (r->rec[0] != CT_APPLICATION_DATA)
    return pw_err_set(err, PW_EINVAL, "record type %u after a TLS 1.3 "
                      "ServerHello", r->rec[0]);

  rc = pw_tls13_open(&r->keys, r->seq, r->rec, r->rec_have, r->plain, &n,
                     &type, err);
  if (rc != PW_OK)
    return rc;
  r->seq++;

  switch (type) {
  case CT_ALERT:
    /* RFC 8446 6: level and description, nothing more. */
    if (n != 2)
      return pw_err_set(err, PW_EINVAL, "an alert of %zu octets", n);
    r->alert[0] = r->plain[0];
    r->alert[1] = r->plain[1];
    r->stage = PW_TLS13_ALERT;
    return PW_OK;
  case CT_HANDSHAKE:
    /* RFC 8446 5.1: no zero-length handshake fragments. */
    if (n == 0)
      return pw_err_set(err, PW_EINVAL, "an empty handshake record");
    assert(r->hs_have + n <= HS_BUF_MAX);
    memcpy(r->hs + r->hs_have, r->plain, n);
    r->hs_have += n;
    return read_messages(r, err);
  }
  return pw_err_set(err, PW_EINVAL, "protected content type %u before the "
                    "Certificate", type);
}

int
pw_tls13_reader_feed(pw_tls13_reader_t *r, const void *buf, size_t len,
                     pw_err_t *err)
{
  const unsigned char *p = buf;
  size_t want, n, frag_len;
  int rc;

  if (r->failed != PW_OK)
    return pw_err_set(err, r->failed, "the reader failed before");

  while (len > 0 && r->stage == PW_TLS13_NEED_MORE) {
    want = REC_HDR_LEN;
    if (r->rec_have >= REC_HDR_LEN) {
      frag_len = get_u16(r->rec + 3);
      want = REC_HDR_LEN + frag_len;
    }
    n = want - r->rec_have < len ? want - r->rec_have : len;
    memcpy(r->rec + r->rec_have, p, n);
    r->rec_have += n;
    p += n;
    len -= n;

    /* A header: check it before waiting for its fragment. */
    if (r->rec_have == REC_HDR_LEN) {
      frag_len = get_u16(r->rec + 3);
      if (frag_len > PW_TLS_RECORD_MAX) {
        rc = pw_err_set(err, PW_ETOOBIG, "a record of %zu octets, over "
                        "2^14 + 256", frag_len);
        goto fail;
      }
      if (r->rec[1] != 0x03 || r->rec[2] != 0x03) {
        rc = pw_err_set(err, PW_EINVAL, "record version 0x%02x%02x, want "
                        "0x0303", r->rec[1], r->rec[2]);
        goto fail;
      }
      if (frag_len == 0) {
        rc = pw_err_set(err, PW_EINVAL, "an empty record");
        goto fail;
      }
      continue;
    }
    if (r->rec_have < REC_HDR_LEN
        || r->rec_have < REC_HDR_LEN + get_u16(r->rec + 3))
      continue;

    rc = read_record(r, err);
    r->rec_have = 0;
    if (rc != PW_OK)
      goto fail;
  }
  return PW_OK;

fail:
  r->failed = rc;
  return rc;
}
