/*
 * Reading a TLS 1.3 server's Certificate from its encrypted flight:
 * key-log lines, the RFC 8448 key schedule vectors, real handshakes of
 * OpenSSL in memory for each suite, and flights sealed here by hand (a
 * CompressedCertificate among them, which OpenSSL 3.0 cannot send) with
 * the error each broken one must give.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "cases.h"
#include "certgen.h"
#include "engine/tls.h"
#include "engine/tls13.h"
#include "tests/unit/wire.h"

static void
unhex(const char *s, unsigned char *out, size_t n)
{
  size_t i;
  unsigned int v;

  for (i = 0; i < n; i++) {
    cr_assert_eq(sscanf(s + 2 * i, "%2x", &v), 1, "bad hex in a vector");
    out[i] = (unsigned char) v;
  }
}

/* Key-log lines */

#define RND "000102030405060708090a0b0c0d0e0f" \
            "101112131415161718191a1b1c1d1e1f"
#define S32 "b67b7d690cc16c4e75e54213cb2d37b4" \
            "e9c912bcded9105d42befd59d391ad38"
#define S48 S32 "00112233445566778899aabbccddeeff"

typedef struct kcase {
  char             comment[64];
  char             line[200];
  int              long_line;   /* the line padded to 513 octets */
  int              code;
  pw_tls13_label_t label;
  int              wanted;
  size_t           secret_len;
  char             msg[40];     /* a part of err.msg */
} kcase_t;

static const kcase_t KEYLOG[] = {
  { "the server's handshake secret, SHA-256",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " " S32, 0, PW_OK,
    PW_TLS13_SERVER_HANDSHAKE, 1, 32, "" },
  { "the same, SHA-384", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " " S48, 0,
    PW_OK, PW_TLS13_SERVER_HANDSHAKE, 1, 48, "" },
  { "with \\n", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " " S32 "\n", 0,
    PW_OK, PW_TLS13_SERVER_HANDSHAKE, 1, 32, "" },
  { "with \\r\\n", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " " S32 "\r\n", 0,
    PW_OK, PW_TLS13_SERVER_HANDSHAKE, 1, 32, "" },
  { "upper-case hex", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND
    " B67B7D690CC16C4E75E54213CB2D37B4E9C912BCDED9105D42BEFD59D391AD38", 0,
    PW_OK, PW_TLS13_SERVER_HANDSHAKE, 1, 32, "" },
  /* Known labels: read, not wanted. */
  { "the client's handshake secret",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET " RND " " S32, 0, PW_OK,
    PW_TLS13_CLIENT_HANDSHAKE, 0, 32, "" },
  { "an application secret", "SERVER_TRAFFIC_SECRET_0 " RND " " S48, 0,
    PW_OK, PW_TLS13_SERVER_TRAFFIC_0, 0, 48, "" },
  { "the exporter secret", "EXPORTER_SECRET " RND " " S32, 0, PW_OK,
    PW_TLS13_EXPORTER, 0, 32, "" },
  { "TLS 1.2's master secret", "CLIENT_RANDOM " RND " " S48, 0, PW_OK,
    PW_TLS13_CLIENT_RANDOM, 0, 48, "" },
  { "a comment", "# SSL/TLS secrets log file", 0, PW_OK, PW_TLS13_COMMENT,
    0, 0, "" },
  { "a blank line", "\n", 0, PW_OK, PW_TLS13_COMMENT, 0, 0, "" },
  /* Bad lines. */
  { "an unknown label", "SERVER_SECRET " RND " " S32, 0, PW_EINVAL, 0, 0, 0,
    "unknown" },
  { "a label that is a prefix of one", "SERVER " RND " " S32, 0, PW_EINVAL,
    0, 0, 0, "unknown" },
  { "no space at all", "SERVER_HANDSHAKE_TRAFFIC_SECRET", 0, PW_EINVAL, 0, 0,
    0, "without a space" },
  { "no secret", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND, 0, PW_EINVAL, 0, 0,
    0, "without a secret" },
  { "a random of 62 digits", "SERVER_HANDSHAKE_TRAFFIC_SECRET "
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f " S32,
    0, PW_EINVAL, 0, 0, 0, "client random of 62" },
  { "bad hex in the random", "SERVER_HANDSHAKE_TRAFFIC_SECRET "
    "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f " S32,
    0, PW_EINVAL, 0, 0, 0, "random: bad hex" },
  { "a secret of 63 digits", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " "
    "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad3", 0,
    PW_EINVAL, 0, 0, 0, "63 hex digits" },
  { "a secret of 16 octets", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " "
    "b67b7d690cc16c4e75e54213cb2d37b4", 0, PW_EINVAL, 0, 0, 0,
    "32 hex digits" },
  { "bad hex in the secret", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " "
    "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391adxx", 0,
    PW_EINVAL, 0, 0, 0, "secret: bad hex" },
  { "a space after the secret", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " "
    S32 " ", 0, PW_EINVAL, 0, 0, 0, "65 hex digits" },
  { "two spaces after the label", "SERVER_HANDSHAKE_TRAFFIC_SECRET  " RND
    " " S32, 0, PW_EINVAL, 0, 0, 0, "client random of 0" },
  { "a line of 513 octets", "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " " S32,
    1, PW_ETOOBIG, 0, 0, 0, "over 512" },
};

ParameterizedTestParameters(tls13, keylog)
{
  return case_indices(NCASES(KEYLOG));
}

ParameterizedTest(size_t *i, tls13, keylog)
{
  const kcase_t *k = &KEYLOG[*i];
  unsigned char random[32], secret[48];
  pw_tls13_keylog_t e;
  pw_err_t err = { 0 };
  char line[600];
  size_t len = strlen(k->line);
  int rc;

  memcpy(line, k->line, len);
  if (k->long_line) {
    memset(line + len, '0', 513 - len);
    len = 513;
  }

  rc = pw_tls13_keylog_parse(line, len, &e, &err);
  cr_assert_eq(rc, k->code, "%s: %s, want %s (%s)", k->comment,
               pw_err_name(rc), pw_err_name(k->code), err.msg);
  if (rc != PW_OK) {
    cr_expect(strstr(err.msg, k->msg) != NULL, "%s: '%s' lacks '%s'",
              k->comment, err.msg, k->msg);
    return;
  }
  cr_expect_eq(e.label, k->label, "%s: label %d, want %d", k->comment,
               e.label, k->label);
  cr_expect_eq(e.wanted, k->wanted, "%s: wanted %d", k->comment, e.wanted);
  cr_expect_eq(e.secret_len, k->secret_len, "%s: secret of %zu octets, "
               "want %zu", k->comment, e.secret_len, k->secret_len);
  if (k->label == PW_TLS13_COMMENT)
    return;
  unhex(RND, random, 32);
  unhex(S48, secret, 48);
  cr_expect(memcmp(e.client_random, random, 32) == 0, "%s: client random",
            k->comment);
  cr_expect(memcmp(e.secret, secret, e.secret_len) == 0, "%s: secret",
            k->comment);
}

/* Keys */

/*
 * RFC 8448 3 ("Simple 1-RTT Handshake"), "{server} derive write traffic
 * keys for handshake data": the key and iv expanded from the server
 * handshake traffic secret, TLS_AES_128_GCM_SHA256.
 */
Test(tls13, rfc8448_server_handshake_keys)
{
  unsigned char secret[32], key[16], iv[12];
  pw_tls13_keys_t keys;
  pw_err_t err = { 0 };
  int rc;

  unhex(S32, secret, 32);
  unhex("3fce516009c21727d0f2e4e86ee403bc", key, 16);
  unhex("5d313eb2671276ee13000b30", iv, 12);

  rc = pw_tls13_keys(0x1301, secret, 32, &keys, &err);
  cr_assert_eq(rc, PW_OK, "%s (%s)", pw_err_name(rc), err.msg);
  cr_expect_eq(keys.key_len, 16, "key of %zu octets", keys.key_len);
  cr_expect(memcmp(keys.key, key, 16) == 0, "the key is not RFC 8448's");
  cr_expect(memcmp(keys.iv, iv, 12) == 0, "the iv is not RFC 8448's");
}

typedef struct skcase {
  char     comment[64];
  uint16_t suite;
  size_t   secret_len;
  int      code;
  size_t   key_len;
} skcase_t;

static const skcase_t SUITE_KEYS[] = {
  { "AES-256-GCM, SHA-384", 0x1302, 48, PW_OK, 32 },
  { "ChaCha20-Poly1305", 0x1303, 32, PW_OK, 32 },
  { "AES-128-CCM: not decrypted here", 0x1304, 32, PW_EINVAL, 0 },
  { "a TLS 1.2 suite", 0xc02f, 32, PW_EINVAL, 0 },
  { "a SHA-256 secret for a SHA-384 suite", 0x1302, 32, PW_EINVAL, 0 },
  { "a SHA-384 secret for a SHA-256 suite", 0x1301, 48, PW_EINVAL, 0 },
};

ParameterizedTestParameters(tls13, suite_keys)
{
  return case_indices(NCASES(SUITE_KEYS));
}

ParameterizedTest(size_t *i, tls13, suite_keys)
{
  const skcase_t *s = &SUITE_KEYS[*i];
  unsigned char secret[48];
  pw_tls13_keys_t keys;
  pw_err_t err = { 0 };
  int rc;

  unhex(S48, secret, 48);
  rc = pw_tls13_keys(s->suite, secret, s->secret_len, &keys, &err);
  cr_assert_eq(rc, s->code, "%s: %s, want %s (%s)", s->comment,
               pw_err_name(rc), pw_err_name(s->code), err.msg);
  if (rc == PW_OK)
    cr_expect_eq(keys.key_len, s->key_len, "%s: key of %zu octets",
                 s->comment, keys.key_len);
  else
    cr_expect_neq(err.msg[0], '\0', "%s: no message", s->comment);
}

/* Feeds in chunks of chunk octets (0: all at once); stops at an error. */
static int
feed(pw_tls13_reader_t *r, const unsigned char *p, size_t n, size_t chunk,
     pw_err_t *err)
{
  size_t off = 0, k;
  int rc = PW_OK;

  if (chunk == 0)
    chunk = n > 0 ? n : 1;
  while (off < n && rc == PW_OK) {
    k = n - off < chunk ? n - off : chunk;
    rc = pw_tls13_reader_feed(r, p + off, k, err);
    off += k;
  }
  return rc;
}

static void
check_chain(const char *what, const pw_tls13_reader_t *r,
            const certgen_chain_t *c)
{
  const unsigned char *der;
  size_t i, len;

  cr_assert_eq(pw_tls13_cert_count(r), 2, "%s: %zu certificates, want 2",
               what, pw_tls13_cert_count(r));
  for (i = 0; i < 2; i++) {
    der = pw_tls13_cert(r, i, &len);
    cr_expect(len == c->len[i] && memcmp(der, c->der[i], len) == 0,
              "%s: certificate %zu of %zu octets is not the one sent "
              "(%zu)", what, i, len, c->len[i]);
  }
}

/* A real handshake */

/* The client's key-log line for the server's handshake secret. */
static char keylog_line[PW_TLS13_KEYLOG_LINE_MAX];

static void
keylog_cb(const SSL *ssl, const char *line)
{
  if (strncmp(line, "SERVER_HANDSHAKE_TRAFFIC_SECRET ", 32) == 0)
    snprintf(keylog_line, sizeof(keylog_line), "%s", line);
}

/* Moves what one BIO holds into another, and a copy into log. */
static void
pump(BIO *from, BIO *to, bb_t *log)
{
  char *mem;
  long len = BIO_get_mem_data(from, &mem);

  if (len <= 0)
    return;
  if (log != NULL)
    put(log, mem, (size_t) len);
  cr_assert_eq(BIO_write(to, mem, (int) len), len, "BIO_write");
  cr_assert_eq(BIO_reset(from), 1, "BIO_reset");
}

/*
 * An OpenSSL client and server of one suite through memory BIOs; *out
 * gets every octet the server wrote, *random the client's random.
 */
static void
handshake(const char *suite, const certgen_chain_t *c, bb_t *out,
          unsigned char *random)
{
  SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
  BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
  BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
  SSL *cl, *sv;
  int round, c_done = 0, s_done = 0;

  cr_assert(cctx != NULL && sctx != NULL && c_in != NULL && c_out != NULL
            && s_in != NULL && s_out != NULL);
  keylog_line[0] = '\0';
  SSL_CTX_set_keylog_callback(cctx, keylog_cb);
  cr_assert(SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION));
  cr_assert(SSL_CTX_set_ciphersuites(cctx, suite), "client: %s", suite);
  cr_assert(SSL_CTX_set_ciphersuites(sctx, suite), "server: %s", suite);
  cr_assert(SSL_CTX_use_certificate(sctx, c->pki.leaf));
  cr_assert(SSL_CTX_use_PrivateKey(sctx, c->pki.leaf_key));
  cr_assert(SSL_CTX_add1_chain_cert(sctx, c->pki.inter));

  cl = SSL_new(cctx);
  sv = SSL_new(sctx);
  cr_assert(cl != NULL && sv != NULL);
  SSL_set_bio(cl, c_in, c_out);
  SSL_set_bio(sv, s_in, s_out);
  SSL_set_connect_state(cl);
  SSL_set_accept_state(sv);

  for (round = 0; round < 10 && !(c_done && s_done); round++) {
    if (!c_done)
      c_done = SSL_do_handshake(cl) == 1;
    pump(c_out, s_in, NULL);
    if (!s_done)
      s_done = SSL_do_handshake(sv) == 1;
    pump(s_out, c_in, out);
  }
  cr_assert(c_done && s_done, "%s: no handshake in 10 rounds", suite);
  cr_assert_neq(keylog_line[0], '\0', "%s: no key-log line", suite);
  cr_assert_eq(SSL_get_client_random(cl, random, 32), 32);

  SSL_free(cl);
  SSL_free(sv);
  SSL_CTX_free(cctx);
  SSL_CTX_free(sctx);
}

typedef struct rcase {
  char        comment[64];
  const char *suite;
  uint16_t    id;
  size_t      chunk;     /* 0: all at once */
  int         bad;       /* 1: a tag flipped, 2: a wrong secret */
  int         code;
  char        msg[40];
} rcase_t;

static const rcase_t REAL[] = {
  { "AES-128-GCM", "TLS_AES_128_GCM_SHA256", 0x1301, 0, 0, PW_OK, "" },
  { "AES-256-GCM", "TLS_AES_256_GCM_SHA384", 0x1302, 0, 0, PW_OK, "" },
  { "ChaCha20-Poly1305", "TLS_CHACHA20_POLY1305_SHA256", 0x1303, 0, 0,
    PW_OK, "" },
  { "AES-128-GCM one octet at a time", "TLS_AES_128_GCM_SHA256", 0x1301, 1,
    0, PW_OK, "" },
  { "AES-256-GCM 1000 octets at a time", "TLS_AES_256_GCM_SHA384", 0x1302,
    1000, 0, PW_OK, "" },
  { "a flipped tag octet", "TLS_AES_128_GCM_SHA256", 0x1301, 0, 1,
    PW_EINVAL, "tag does not verify" },
  { "a wrong secret", "TLS_CHACHA20_POLY1305_SHA256", 0x1303, 0, 2,
    PW_EINVAL, "tag does not verify" },
};

ParameterizedTestParameters(tls13, real_handshake)
{
  return case_indices(NCASES(REAL));
}

ParameterizedTest(size_t *i, tls13, real_handshake)
{
  const rcase_t *t = &REAL[*i];
  const pw_tls_server_hello_t *sh;
  unsigned char random[32];
  pw_tls13_keylog_t e;
  pw_tls13_keys_t keys;
  pw_tls13_reader_t *r;
  pw_err_t err = { 0 };
  pw_tls_t *tls;
  uint64_t hold;
  bb_t out = { 0 };
  certgen_chain_t c;
  size_t at;
  int rc;

  cr_assert_eq(certgen_chain_make(&c), 0, "certgen_chain_make");
  handshake(t->suite, &c, &out, random);

  /* The secret, for this connection's client random. */
  rc = pw_tls13_keylog_parse(keylog_line, strlen(keylog_line), &e, &err);
  cr_assert_eq(rc, PW_OK, "%s: %s", t->comment, err.msg);
  cr_assert(e.wanted, "%s: the line is not wanted", t->comment);
  cr_expect(memcmp(e.client_random, random, 32) == 0,
            "%s: another connection's client random", t->comment);

  /* The ServerHello, in clear: the suite and where to hold. */
  tls = pw_tls_new(PW_TLS_FROM_SERVER);
  cr_assert_not_null(tls);
  rc = pw_tls_feed(tls, out.p, out.n, &err);
  cr_assert_eq(rc, PW_OK, "%s: pw_tls_feed: %s", t->comment, err.msg);
  cr_assert_eq(pw_tls_stage(tls), PW_TLS_ENCRYPTED, "%s: stage %d",
               t->comment, pw_tls_stage(tls));
  sh = pw_tls_server_hello(tls);
  cr_assert_eq(sh->suite, t->id, "%s: suite 0x%04x", t->comment, sh->suite);
  hold = pw_tls_hold_offset(tls);
  cr_assert_lt(hold, out.n, "%s: hold at %llu of %zu", t->comment,
               (unsigned long long) hold, out.n);

  if (t->bad == 2)
    e.secret[0] ^= 1;
  rc = pw_tls13_keys(sh->suite, e.secret, e.secret_len, &keys, &err);
  cr_assert_eq(rc, PW_OK, "%s: pw_tls13_keys: %s", t->comment, err.msg);

  /* The last octet of the first protected record: its tag's. */
  if (t->bad == 1) {
    at = (size_t) hold;
    if (out.p[at] == 20)
      at += 5 + ((size_t) out.p[at + 3] << 8 | out.p[at + 4]);
    cr_assert_eq(out.p[at], 23, "%s: no application_data record",
                 t->comment);
    at += 5 + ((size_t) out.p[at + 3] << 8 | out.p[at + 4]);
    out.p[at - 1] ^= 0x80;
  }

  r = pw_tls13_reader_new(&keys);
  cr_assert_not_null(r);
  rc = feed(r, out.p + hold, out.n - (size_t) hold, t->chunk, &err);
  cr_assert_eq(rc, t->code, "%s: %s, want %s (%s)", t->comment,
               pw_err_name(rc), pw_err_name(t->code), err.msg);
  if (rc == PW_OK) {
    cr_expect_eq(pw_tls13_reader_stage(r), PW_TLS13_CERTIFICATE,
                 "%s: stage %d", t->comment, pw_tls13_reader_stage(r));
    cr_expect_eq(pw_tls13_reader_compression(r), 0, "%s: compressed",
                 t->comment);
    check_chain(t->comment, r, &c);
  } else {
    cr_expect(strstr(err.msg, t->msg) != NULL, "%s: '%s' lacks '%s'",
              t->comment, err.msg, t->msg);
    cr_expect_eq(pw_tls13_cert_count(r), 0, "%s: certificates after an "
                 "error", t->comment);
    cr_expect_eq(pw_tls13_reader_feed(r, "x", 1, &err), rc,
                 "%s: a failed reader took more", t->comment);
  }

  pw_tls13_reader_free(r);
  pw_tls_free(tls);
  free(out.p);
  certgen_chain_free(&c);
}

/* Flights sealed here */

/* RFC 8446 5.2: one TLSCiphertext of content and type, padded. */
static void
seal(const pw_tls13_keys_t *k, uint64_t seq, uint8_t type,
     const unsigned char *content, size_t n, size_t pad, bb_t *out)
{
  const EVP_CIPHER *cipher = k->suite == 0x1301 ? EVP_aes_128_gcm()
                             : k->suite == 0x1302 ? EVP_aes_256_gcm()
                             : EVP_chacha20_poly1305();
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  unsigned char nonce[12], hdr[5], *inner, *ct;
  size_t inner_len = n + 1 + pad, i;
  int len, fin;

  inner = calloc(1, inner_len);
  ct = malloc(inner_len + 16);
  cr_assert(ctx != NULL && inner != NULL && ct != NULL);
  if (n > 0)
    memcpy(inner, content, n);
  inner[n] = type;

  memcpy(nonce, k->iv, 12);
  for (i = 0; i < 8; i++)
    nonce[11 - i] ^= (unsigned char) (seq >> (8 * i));
  hdr[0] = 23;
  hdr[1] = 3;
  hdr[2] = 3;
  hdr[3] = (unsigned char) ((inner_len + 16) >> 8);
  hdr[4] = (unsigned char) (inner_len + 16);

  cr_assert(EVP_EncryptInit_ex(ctx, cipher, NULL, k->key, nonce));
  cr_assert(EVP_EncryptUpdate(ctx, NULL, &len, hdr, 5));
  cr_assert(EVP_EncryptUpdate(ctx, ct, &len, inner, (int) inner_len));
  cr_assert(EVP_EncryptFinal_ex(ctx, ct + len, &fin));
  cr_assert(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16,
                                ct + inner_len));
  put(out, hdr, 5);
  put(out, ct, inner_len + 16);

  EVP_CIPHER_CTX_free(ctx);
  free(inner);
  free(ct);
}

typedef enum comp {
  COMP_NONE = 0,
  COMP_ZLIB,
  COMP_BROTLI,
  COMP_ALG_3,           /* zstd's number: not supported */
  COMP_BROTLI_GARBAGE   /* brotli, but the zlib stream */
} comp_t;

typedef struct fopt {
  comp_t   comp;
  int      ulen_delta;   /* added to uncompressed_length */
  uint32_t ulen;         /* uncompressed_length outright, if set */
  int      context;      /* certificate_request_context octets */
  int      list_delta;   /* added to certificate_list's length */
  int      no_ee;        /* the Certificate first */
  int      cert_req;     /* a CertificateRequest before it */
  int      psk;          /* Finished instead of a Certificate */
  int      alert;        /* a protected alert instead of the flight */
  int      ccs;          /* a ChangeCipherSpec record first */
  int      ee_bad;       /* EncryptedExtensions one octet short */
  int      cr_bad;       /* CertificateRequest's extensions too long */
  int      app_data;     /* protected application data first */
  size_t   frag;         /* the handshake octets per record; 0: all */
  size_t   pad;          /* padding zeros per record */
} fopt_t;

/* A handshake message: type, uint24 length, body. */
static void
put_msg(bb_t *out, uint8_t type, const bb_t *body)
{
  put_uint(out, type, 1);
  put_uint(out, (uint32_t) body->n, 3);
  put(out, body->p, body->n);
}

/* RFC 8446 4.4.2: a Certificate body of the chain, extensions empty. */
static void
certificate_body(const certgen_chain_t *c, const fopt_t *o, bb_t *b)
{
  size_t i;
  int k;

  put_uint(b, (uint32_t) o->context, 1);
  for (k = 0; k < o->context; k++)
    put_uint(b, 0xcc, 1);
  put_uint(b, (uint32_t) (c->len[0] + c->len[1] + 2 * 5
                          + (size_t) (long) o->list_delta), 3);
  for (i = 0; i < 2; i++) {
    put_uint(b, (uint32_t) c->len[i], 3);
    put(b, c->der[i], c->len[i]);
    put_uint(b, 0, 2);
  }
}

/* RFC 8879 4: the body of a CompressedCertificate. */
static void
compressed_body(const bb_t *cert, const fopt_t *o, bb_t *b)
{
  uLongf zlen = compressBound((uLong) cert->n);
  size_t blen = BrotliEncoderMaxCompressedSize(cert->n);
  unsigned char *z = malloc(zlen + blen);
  uint16_t alg = o->comp == COMP_ALG_3 ? 3
                 : o->comp == COMP_ZLIB ? 1 : 2;
  uint32_t ulen = (uint32_t) (cert->n + (size_t) (long) o->ulen_delta);

  cr_assert_not_null(z);
  if (o->comp == COMP_BROTLI) {
    cr_assert(BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY,
                                    BROTLI_DEFAULT_WINDOW,
                                    BROTLI_MODE_GENERIC, cert->n, cert->p,
                                    &blen, z), "BrotliEncoderCompress");
    zlen = (uLongf) blen;
  } else {
    cr_assert_eq(compress2(z, &zlen, cert->p, (uLong) cert->n, 9), Z_OK,
                 "compress2");
  }

  put_uint(b, alg, 2);
  put_uint(b, o->ulen != 0 ? o->ulen : ulen, 3);
  put_uint(b, (uint32_t) zlen, 3);
  put(b, z, zlen);
  free(z);
}

/* The server's flight after the ServerHello, sealed with k. */
static void
flight(const pw_tls13_keys_t *k, const certgen_chain_t *c, const fopt_t *o,
       bb_t *out)
{
  static const unsigned char alert[] = { 2, 42 };
  static const unsigned char ee[] = { 0, 0 }, ee_bad[] = { 0, 1 };
  static const unsigned char creq[] = { 0, 0, 4, 0, 13, 0, 0 };
  static const unsigned char creq_bad[] = { 0, 0, 5, 0, 13, 0, 0 };
  bb_t hs = { 0 }, body = { 0 }, cert = { 0 }, tmp = { 0 };
  uint64_t seq = 0;
  size_t at, n;

  if (o->ccs)
    put(out, "\x14\x03\x03\x00\x01\x01", 6);
  if (o->app_data)
    seal(k, seq++, 23, (const unsigned char *) "GET", 3, 0, out);
  if (o->alert) {
    seal(k, seq++, 21, alert, sizeof(alert), o->pad, out);
    return;
  }

  if (!o->no_ee) {
    put(&tmp, o->ee_bad ? ee_bad : ee, sizeof(ee));
    put_msg(&hs, 8, &tmp);
  }
  if (o->cert_req) {
    tmp.n = 0;
    put(&tmp, o->cr_bad ? creq_bad : creq, sizeof(creq));
    put_msg(&hs, 13, &tmp);
  }
  if (o->psk) {
    tmp.n = 0;
    put(&tmp, c->der[0], 32);
    put_msg(&hs, 20, &tmp);
  } else {
    certificate_body(c, o, &cert);
    if (o->comp == COMP_NONE) {
      put_msg(&hs, 11, &cert);
    } else {
      compressed_body(&cert, o, &body);
      if (o->comp == COMP_BROTLI_GARBAGE)
        body.p[1] = 2;
      put_msg(&hs, 25, &body);
    }
  }

  for (at = 0; at < hs.n; at += n) {
    n = o->frag != 0 && hs.n - at > o->frag ? o->frag : hs.n - at;
    seal(k, seq++, 22, hs.p + at, n, o->pad, out);
  }

  free(hs.p);
  free(body.p);
  free(cert.p);
  free(tmp.p);
}

typedef struct fcase {
  char             comment[64];
  fopt_t           opt;
  uint16_t         suite;
  size_t           chunk;
  int              code;
  pw_tls13_stage_t stage;
  char             msg[48];
} fcase_t;

#define A128 0x1301
#define A256 0x1302
#define CHA  0x1303

static const fcase_t FLIGHTS[] = {
  { "EncryptedExtensions, Certificate in one record", { 0 }, A128, 0,
    PW_OK, PW_TLS13_CERTIFICATE, "" },
  { "CCS first, records of 100 octets, padded",
    { .ccs = 1, .frag = 100, .pad = 7 }, CHA, 0, PW_OK,
    PW_TLS13_CERTIFICATE, "" },
  { "the same fed three octets at a time",
    { .ccs = 1, .frag = 100, .pad = 7 }, A256, 3, PW_OK,
    PW_TLS13_CERTIFICATE, "" },
  { "a CertificateRequest before the Certificate", { .cert_req = 1 },
    A128, 0, PW_OK, PW_TLS13_CERTIFICATE, "" },
  { "CompressedCertificate, zlib", { .comp = COMP_ZLIB }, A128, 0, PW_OK,
    PW_TLS13_CERTIFICATE, "" },
  { "CompressedCertificate, zlib, across records",
    { .comp = COMP_ZLIB, .frag = 50, .ccs = 1 }, CHA, 7, PW_OK,
    PW_TLS13_CERTIFICATE, "" },
  { "CompressedCertificate, brotli", { .comp = COMP_BROTLI }, A256, 0,
    PW_OK, PW_TLS13_CERTIFICATE, "" },
  { "a PSK handshake: Finished, no Certificate", { .psk = 1 }, A128, 0,
    PW_OK, PW_TLS13_NO_CERTIFICATE, "" },
  { "a protected alert", { .alert = 1, .pad = 3 }, A128, 0, PW_OK,
    PW_TLS13_ALERT, "" },
  /* Broken flights. */
  { "uncompressed_length one more than the data",
    { .comp = COMP_ZLIB, .ulen_delta = 1 }, A128, 0, PW_EINVAL, 0,
    "uncompressed_length says" },
  { "uncompressed_length one less than the data",
    { .comp = COMP_ZLIB, .ulen_delta = -1 }, A128, 0, PW_EINVAL, 0,
    "longer than uncompressed_length" },
  { "brotli: one less", { .comp = COMP_BROTLI, .ulen_delta = -1 }, A128, 0,
    PW_EINVAL, 0, "brotli" },
  { "brotli: one more", { .comp = COMP_BROTLI, .ulen_delta = 1 }, A128, 0,
    PW_EINVAL, 0, "uncompressed_length says" },
  { "uncompressed_length over 64 KiB",
    { .comp = COMP_ZLIB, .ulen = 65537 }, A128, 0, PW_ETOOBIG, 0,
    "over 65536" },
  { "an unknown compression algorithm", { .comp = COMP_ALG_3 }, A128, 0,
    PW_EINVAL, 0, "algorithm 3" },
  { "zlib data said to be brotli", { .comp = COMP_BROTLI_GARBAGE }, A128,
    0, PW_EINVAL, 0, "brotli data corrupt" },
  { "a certificate_request_context", { .context = 2 }, A128, 0, PW_EINVAL,
    0, "must be empty" },
  { "certificate_list one too long", { .list_delta = 1 }, A128, 0,
    PW_EINVAL, 0, "Certificate: list of" },
  { "certificate_list one too short", { .list_delta = -1 }, A128, 0,
    PW_EINVAL, 0, "Certificate: list of" },
  { "the Certificate before EncryptedExtensions", { .no_ee = 1 }, A128, 0,
    PW_EINVAL, 0, "EncryptedExtensions must be" },
  { "EncryptedExtensions' extensions past its end", { .ee_bad = 1 },
    A128, 0, PW_EINVAL, 0, "EncryptedExtensions: extensions" },
  { "CertificateRequest's extensions past its end",
    { .cert_req = 1, .cr_bad = 1 }, A128, 0, PW_EINVAL, 0,
    "CertificateRequest: lengths" },
  { "application data before the Certificate", { .app_data = 1 }, A128,
    0, PW_EINVAL, 0, "protected content type 23" },
};

ParameterizedTestParameters(tls13, flights)
{
  return case_indices(NCASES(FLIGHTS));
}

ParameterizedTest(size_t *i, tls13, flights)
{
  const fcase_t *f = &FLIGHTS[*i];
  unsigned char secret[48];
  pw_tls13_keys_t keys;
  pw_tls13_reader_t *r;
  pw_err_t err = { 0 };
  uint8_t level, desc;
  bb_t out = { 0 };
  certgen_chain_t c;
  int rc;

  cr_assert_eq(certgen_chain_make(&c), 0, "certgen_chain_make");
  unhex(S48, secret, 48);
  rc = pw_tls13_keys(f->suite, secret, f->suite == A256 ? 48 : 32, &keys,
                     &err);
  cr_assert_eq(rc, PW_OK, "%s: %s", f->comment, err.msg);
  flight(&keys, &c, &f->opt, &out);

  r = pw_tls13_reader_new(&keys);
  cr_assert_not_null(r);
  rc = feed(r, out.p, out.n, f->chunk, &err);
  cr_assert_eq(rc, f->code, "%s: %s, want %s (%s)", f->comment,
               pw_err_name(rc), pw_err_name(f->code), err.msg);
  if (rc != PW_OK) {
    cr_expect(strstr(err.msg, f->msg) != NULL, "%s: '%s' lacks '%s'",
              f->comment, err.msg, f->msg);
    cr_expect_eq(pw_tls13_cert_count(r), 0, "%s: certificates after an "
                 "error", f->comment);
    goto done;
  }

  cr_expect_eq(pw_tls13_reader_stage(r), f->stage, "%s: stage %d, want %d",
               f->comment, pw_tls13_reader_stage(r), f->stage);
  if (f->stage == PW_TLS13_CERTIFICATE) {
    check_chain(f->comment, r, &c);
    cr_expect_eq(pw_tls13_reader_compression(r),
                 f->opt.comp == COMP_ZLIB ? 1
                 : f->opt.comp == COMP_BROTLI ? 2 : 0,
                 "%s: compression %u", f->comment,
                 pw_tls13_reader_compression(r));
  } else {
    cr_expect_eq(pw_tls13_cert_count(r), 0, "%s: certificates",
                 f->comment);
  }
  if (f->stage == PW_TLS13_ALERT) {
    cr_expect_eq(pw_tls13_reader_alert(r, &level, &desc), PW_OK);
    cr_expect(level == 2 && desc == 42, "%s: alert %u %u", f->comment,
              level, desc);
  }

  /* After a final stage the bytes are only counted. */
  cr_expect_eq(pw_tls13_reader_feed(r, "garbage", 7, &err), PW_OK,
               "%s: bytes after the end: %s", f->comment, err.msg);

done:
  pw_tls13_reader_free(r);
  free(out.p);
  certgen_chain_free(&c);
}

/* Records that fail before any key is used. */

typedef struct hcase {
  char          comment[64];
  unsigned char bytes[8];
  size_t        n;
  int           code;
  char          msg[40];
} hcase_t;

static const hcase_t HEADERS[] = {
  { "a record of 2^14 + 257", { 23, 3, 3, 0x41, 0x01 }, 5, PW_ETOOBIG,
    "over 2^14 + 256" },
  { "record version 0x0301", { 23, 3, 1, 0, 20 }, 5, PW_EINVAL,
    "record version" },
  { "an empty record", { 23, 3, 3, 0, 0 }, 5, PW_EINVAL, "empty record" },
  { "a CCS of value 2", { 20, 3, 3, 0, 1, 2 }, 6, PW_EINVAL,
    "ChangeCipherSpec" },
  { "an unprotected alert", { 21, 3, 3, 0, 2, 2, 40 }, 7, PW_EINVAL,
    "unprotected alert" },
  { "a handshake record", { 22, 3, 3, 0, 1, 8 }, 6, PW_EINVAL,
    "record type 22" },
  { "shorter than a tag", { 23, 3, 3, 0, 2, 1, 2 }, 7, PW_EINVAL,
    "shorter than its tag" },
};

ParameterizedTestParameters(tls13, headers)
{
  return case_indices(NCASES(HEADERS));
}

ParameterizedTest(size_t *i, tls13, headers)
{
  const hcase_t *h = &HEADERS[*i];
  unsigned char secret[32];
  pw_tls13_keys_t keys;
  pw_tls13_reader_t *r;
  pw_err_t err = { 0 };
  int rc;

  unhex(S32, secret, 32);
  cr_assert_eq(pw_tls13_keys(A128, secret, 32, &keys, &err), PW_OK);
  r = pw_tls13_reader_new(&keys);
  cr_assert_not_null(r);

  rc = pw_tls13_reader_feed(r, h->bytes, h->n, &err);
  cr_expect_eq(rc, h->code, "%s: %s, want %s (%s)", h->comment,
               pw_err_name(rc), pw_err_name(h->code), err.msg);
  cr_expect(strstr(err.msg, h->msg) != NULL, "%s: '%s' lacks '%s'",
            h->comment, err.msg, h->msg);
  pw_tls13_reader_free(r);
}

/* pw_tls13_open alone: a record that is only padding has no type. */
Test(tls13, open_only_padding)
{
  unsigned char secret[32], plain[64];
  pw_tls13_keys_t keys;
  pw_err_t err = { 0 };
  bb_t rec = { 0 };
  uint8_t type;
  size_t n;
  int rc;

  unhex(S32, secret, 32);
  cr_assert_eq(pw_tls13_keys(A128, secret, 32, &keys, &err), PW_OK);
  seal(&keys, 5, 0, NULL, 0, 4, &rec);

  rc = pw_tls13_open(&keys, 5, rec.p, rec.n, plain, &n, &type, &err);
  cr_expect_eq(rc, PW_EINVAL, "%s (%s)", pw_err_name(rc), err.msg);
  cr_expect(strstr(err.msg, "only padding") != NULL, "'%s'", err.msg);

  /* The same record under another sequence number: the nonce differs. */
  rc = pw_tls13_open(&keys, 4, rec.p, rec.n, plain, &n, &type, &err);
  cr_expect_eq(rc, PW_EINVAL, "%s (%s)", pw_err_name(rc), err.msg);
  cr_expect(strstr(err.msg, "tag does not verify") != NULL, "'%s'",
            err.msg);
  pw_tls13_reader_free(NULL);
  free(rec.p);
}
