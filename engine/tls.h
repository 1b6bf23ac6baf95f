/*
 * A passive reader of TLS handshake bytes, one per direction of a
 * CONNECT tunnel.  It never terminates TLS: the gateway forwards the
 * bytes and asks the reader what they held.
 *
 * Client direction: the ClientHello (random, session id, cipher suites,
 * SNI, supported_versions, compress_certificate).  Server direction: the
 * ServerHello (or a HelloRetryRequest and then the ServerHello), and for
 * TLS 1.2 the Certificate message.  For TLS 1.3 the reader stops at the
 * ServerHello: what follows is encrypted.
 *
 * Feed the bytes in chunks of any size; each call consumes all of them.
 * Once the reader has reached a final stage it only counts what follows.
 * A reader that failed stays failed: every later feed returns the first
 * error's code.
 */
#ifndef PW_TLS_H
#define PW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

/* RFC 8446 5.1: plaintext fragments of 2^14, ciphertext 256 more. */
#define PW_TLS_PLAIN_MAX  16384
#define PW_TLS_RECORD_MAX (16384 + 256)

/* Caps of ours: a handshake message, a server's certificate list. */
#define PW_TLS_MSG_MAX         (64 * 1024)
#define PW_TLS_CERTS_MAX       16
#define PW_TLS_CERTS_BYTES_MAX (64 * 1024)

/* Lists kept from a ClientHello; longer ones are refused (ETOOBIG). */
#define PW_TLS_SUITES_MAX   256
#define PW_TLS_VERSIONS_MAX 127   /* RFC 8446 4.2.1: <2..254> octets */
#define PW_TLS_COMPRESS_MAX 127   /* RFC 8879 3: <2..2^8-2> octets */

/* RFC 1035: a name of 253 characters in text form, plus NUL. */
#define PW_TLS_SNI_MAX 254

#define PW_TLS_RANDOM_LEN     32
#define PW_TLS_SESSION_ID_MAX 32

/* Protocol versions as they appear on the wire. */
#define PW_TLS_V1_0 0x0301
#define PW_TLS_V1_1 0x0302
#define PW_TLS_V1_2 0x0303
#define PW_TLS_V1_3 0x0304

typedef enum pw_tls_dir {
  PW_TLS_FROM_CLIENT = 0,
  PW_TLS_FROM_SERVER
} pw_tls_dir_t;

/*
 * How far a reader has got.  The final stages are marked; after one of
 * them the reader looks at no more bytes.
 */
typedef enum pw_tls_stage {
  PW_TLS_NEED_MORE = 0,   /* nothing complete yet: feed more */
  PW_TLS_HELLO_RETRY,     /* server: a HelloRetryRequest was read; the
                             ServerHello follows the second ClientHello */
  PW_TLS_CLIENT_HELLO,    /* client, final: the ClientHello was read */
  PW_TLS_SERVER_HELLO,    /* server, TLS 1.2: the ServerHello was read,
                             the Certificate is awaited */
  PW_TLS_ENCRYPTED,       /* server, final, TLS 1.3: the ServerHello was
                             read, all that follows is encrypted */
  PW_TLS_CERTIFICATE,     /* server, final, TLS 1.2: the Certificate
                             was read */
  PW_TLS_NO_CERTIFICATE,  /* server, final, TLS 1.2: the server went on
                             without a Certificate (a resumed session,
                             an anonymous or PSK suite) */
  PW_TLS_ALERT            /* final: a plaintext alert came instead */
} pw_tls_stage_t;

typedef struct pw_tls_client_hello {
  uint16_t      legacy_version;
  unsigned char random[PW_TLS_RANDOM_LEN];
  unsigned char session_id[PW_TLS_SESSION_ID_MAX];
  size_t        session_id_len;
  uint16_t      suites[PW_TLS_SUITES_MAX];
  size_t        n_suites;

  /* RFC 6066 3: host_name as sent, NUL-terminated; "" when absent. */
  bool          has_sni;
  char          sni[PW_TLS_SNI_MAX];

  /* RFC 8446 4.2.1, in the client's order of preference. */
  bool          has_versions;
  uint16_t      versions[PW_TLS_VERSIONS_MAX];
  size_t        n_versions;

  /* RFC 8879 3: the algorithms, when the extension is offered. */
  bool          has_compress;
  uint16_t      compress[PW_TLS_COMPRESS_MAX];
  size_t        n_compress;
} pw_tls_client_hello_t;

typedef struct pw_tls_server_hello {
  uint16_t      legacy_version;
  unsigned char random[PW_TLS_RANDOM_LEN];
  unsigned char session_id[PW_TLS_SESSION_ID_MAX];
  size_t        session_id_len;
  uint16_t      suite;

  /* supported_versions' selected_version, else legacy_version. */
  uint16_t      version;
  bool          has_versions;

  /* RFC 8446 4.1.3: a HelloRetryRequest came before this ServerHello. */
  bool          retried;
} pw_tls_server_hello_t;

typedef enum pw_tls_probe {
  PW_TLS_PROBE_NO = 0,    /* not a TLS ClientHello */
  PW_TLS_PROBE_YES,       /* starts like one */
  PW_TLS_PROBE_MORE       /* too few bytes to tell */
} pw_tls_probe_t;

typedef struct pw_tls pw_tls_t;

/*
 * Decides from the first bytes of a tunnel whether a TLS ClientHello
 * starts there: a handshake record (0x16) of version 0x0301..0x0303 whose
 * first message is a ClientHello (type 1) of a plausible length.  Nine
 * bytes always decide; fewer say NO as soon as one of them rules it out.
 */
pw_tls_probe_t pw_tls_looks_like_client_hello(const void *buf, size_t len);

/* A reader for one direction, or NULL when memory is short. */
pw_tls_t *pw_tls_new(pw_tls_dir_t dir);
void pw_tls_free(pw_tls_t *r);

/*
 * Consumes len bytes.  Returns PW_OK (look at pw_tls_stage), or
 * PW_EINVAL for bytes that break the protocol and PW_ETOOBIG for bytes
 * over a cap, with a message in err.
 */
int pw_tls_feed(pw_tls_t *r, const void *buf, size_t len, pw_err_t *err);

pw_tls_stage_t pw_tls_stage(const pw_tls_t *r);

/* Bytes fed so far. */
uint64_t pw_tls_offset(const pw_tls_t *r);

/* NULL until the reader of that direction has read the hello. */
const pw_tls_client_hello_t *pw_tls_client_hello(const pw_tls_t *r);
const pw_tls_server_hello_t *pw_tls_server_hello(const pw_tls_t *r);

/*
 * Server: where to hold the stream, once the ServerHello was read.  The
 * gateway may forward the bytes before this offset and must hold the
 * rest.  It is the first record after the one that ends the ServerHello,
 * or that record itself when a TLS 1.2 server put more handshake
 * messages in it (a record cannot be split without re-framing).
 * UINT64_MAX before the ServerHello.
 */
uint64_t pw_tls_hold_offset(const pw_tls_t *r);

/* The alert of stage PW_TLS_ALERT (RFC 8446 6): level and description. */
int pw_tls_alert(const pw_tls_t *r, uint8_t *level, uint8_t *desc);

/*
 * TLS 1.2 Certificate: the DER certificates in the order sent, the
 * server's own first.  The bytes belong to the reader.
 */
size_t pw_tls_cert_count(const pw_tls_t *r);
const unsigned char *pw_tls_cert(const pw_tls_t *r, size_t i, size_t *len);

#endif
