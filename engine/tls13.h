/*
 * Reads a TLS 1.3 server's Certificate from its encrypted handshake
 * records, given the SERVER_HANDSHAKE_TRAFFIC_SECRET the browser wrote to
 * its key-log file (DESIGN.md, "Pin enforcement without a
 * man-in-the-middle", step 4).  Nothing here takes part in the
 * handshake: the records are decrypted on the side and forwarded as they
 * came.
 *
 * Three layers, each usable alone:
 *   pw_tls13_keylog_parse  one line of an NSS key-log file
 *   pw_tls13_keys          the server's handshake key and IV
 *   pw_tls13_open          one decrypted TLSCiphertext record
 * and a reader that takes the server's bytes from pw_tls_hold_offset on
 * (engine/tls.h) and yields the certificate list.
 */
#ifndef PW_TLS13_H
#define PW_TLS13_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"
#include "engine/tls.h"

/* Our cap on a key-log line, its end of line included. */
#define PW_TLS13_KEYLOG_LINE_MAX 512

/* RFC 8446 7.1: a secret is one hash long; SHA-384 is the longest. */
#define PW_TLS13_SECRET_MAX 48

/* RFC 8446 5.3: every suite of B.4 has a 12-octet IV and 16-octet tag. */
#define PW_TLS13_KEY_MAX 32
#define PW_TLS13_IV_LEN  12
#define PW_TLS13_TAG_LEN 16

/* RFC 8446 B.4: the suites whose keys this module derives. */
#define PW_TLS13_AES_128_GCM_SHA256       0x1301
#define PW_TLS13_AES_256_GCM_SHA384       0x1302
#define PW_TLS13_CHACHA20_POLY1305_SHA256 0x1303

/* RFC 8879 3: certificate compression algorithms. */
#define PW_TLS13_COMPRESS_ZLIB   1
#define PW_TLS13_COMPRESS_BROTLI 2

/* Our cap on records a reader decrypts before the Certificate. */
#define PW_TLS13_RECORDS_MAX 1024

/*
 * The labels of the NSS key-log format (the TLS 1.3 ones are RFC 8446
 * 7.1's secrets; CLIENT_RANDOM is TLS 1.2's master secret).
 */
typedef enum pw_tls13_label {
  PW_TLS13_SERVER_HANDSHAKE = 0,  /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
  PW_TLS13_CLIENT_HANDSHAKE,      /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
  PW_TLS13_SERVER_TRAFFIC_0,      /* SERVER_TRAFFIC_SECRET_0 */
  PW_TLS13_CLIENT_TRAFFIC_0,      /* CLIENT_TRAFFIC_SECRET_0 */
  PW_TLS13_EXPORTER,              /* EXPORTER_SECRET */
  PW_TLS13_CLIENT_EARLY,          /* CLIENT_EARLY_TRAFFIC_SECRET */
  PW_TLS13_EARLY_EXPORTER,        /* EARLY_EXPORTER_SECRET */
  PW_TLS13_CLIENT_RANDOM,         /* CLIENT_RANDOM (TLS 1.2) */
  PW_TLS13_COMMENT                /* a blank line or a '#' comment */
} pw_tls13_label_t;

typedef struct pw_tls13_keylog {
  pw_tls13_label_t label;
  bool             wanted;        /* label is PW_TLS13_SERVER_HANDSHAKE */
  unsigned char    client_random[PW_TLS_RANDOM_LEN];
  unsigned char    secret[PW_TLS13_SECRET_MAX];
  size_t           secret_len;    /* 32 or 48 */
} pw_tls13_keylog_t;

/*
 * Parses one line of len octets (a trailing "\n" or "\r\n" allowed):
 * LABEL, a space, 64 hex digits of client random, a space, the secret in
 * hex.  PW_OK with entry->wanted set only for the server's handshake
 * secret; other labels parse as well and come back not wanted, comments
 * and blank lines with label PW_TLS13_COMMENT.  PW_EINVAL for an unknown
 * label, bad hex or a wrong length, PW_ETOOBIG for a line over
 * PW_TLS13_KEYLOG_LINE_MAX.
 */
int pw_tls13_keylog_parse(const char *line, size_t len,
                          pw_tls13_keylog_t *entry, pw_err_t *err);

/* The server's handshake write keys of one suite (RFC 8446 7.3). */
typedef struct pw_tls13_keys {
  uint16_t      suite;
  unsigned char key[PW_TLS13_KEY_MAX];
  size_t        key_len;
  unsigned char iv[PW_TLS13_IV_LEN];
} pw_tls13_keys_t;

/*
 * Derives the key and IV from a traffic secret for one of the three
 * suites above.  PW_EINVAL for another suite or a secret that is not one
 * hash long; PW_ECRYPTO when OpenSSL fails.
 */
int pw_tls13_keys(uint16_t suite, const unsigned char *secret,
                  size_t secret_len, pw_tls13_keys_t *keys, pw_err_t *err);

/*
 * Decrypts one whole TLSCiphertext record of len octets, header
 * included, protected with sequence number seq (RFC 8446 5.2, 5.3).  out
 * must hold len octets; on PW_OK it holds *outlen octets of content with
 * the padding stripped, and *inner_type is the real content type.
 * PW_EINVAL for a malformed record or a tag that does not verify.
 */
int pw_tls13_open(const pw_tls13_keys_t *keys, uint64_t seq,
                  const unsigned char *record, size_t len,
                  unsigned char *out, size_t *outlen, uint8_t *inner_type,
                  pw_err_t *err);

typedef enum pw_tls13_stage {
  PW_TLS13_NEED_MORE = 0,   /* feed more records */
  PW_TLS13_CERTIFICATE,     /* final: the certificate list was read */
  PW_TLS13_NO_CERTIFICATE,  /* final: Finished came first (a PSK
                               handshake, RFC 8446 2.2) */
  PW_TLS13_ALERT            /* final: an encrypted alert came */
} pw_tls13_stage_t;

typedef struct pw_tls13_reader pw_tls13_reader_t;

/* A reader with its own copy of keys, or NULL when memory is short. */
pw_tls13_reader_t *pw_tls13_reader_new(const pw_tls13_keys_t *keys);
void pw_tls13_reader_free(pw_tls13_reader_t *r);

/*
 * Consumes len octets of the server's stream, which begins at the
 * record pw_tls_hold_offset points to.  Chunks of any size; after a
 * final stage the bytes are only counted.  PW_EINVAL for bytes that
 * break the protocol (a tag that fails included: a wrong secret looks
 * the same), PW_ETOOBIG over a cap, PW_ENOMEM; a reader that failed
 * keeps returning the first error's code.
 */
int pw_tls13_reader_feed(pw_tls13_reader_t *r, const void *buf, size_t len,
                         pw_err_t *err);

pw_tls13_stage_t pw_tls13_reader_stage(const pw_tls13_reader_t *r);

/* The compression algorithm of the certificate read, 0 for none. */
uint16_t pw_tls13_reader_compression(const pw_tls13_reader_t *r);

/* The alert of stage PW_TLS13_ALERT (RFC 8446 6). */
int pw_tls13_reader_alert(const pw_tls13_reader_t *r, uint8_t *level,
                          uint8_t *desc);

/*
 * The DER certificates in the order sent, the server's own first.  The
 * bytes belong to the reader.
 */
size_t pw_tls13_cert_count(const pw_tls13_reader_t *r);
const unsigned char *pw_tls13_cert(const pw_tls13_reader_t *r, size_t i,
                                   size_t *len);

#endif
