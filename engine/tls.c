/*
 * A passive TLS handshake reader, written by hand: OpenSSL, GnuTLS and
 * the other libraries Debian ships parse a handshake only as one end of
 * it, terminating TLS, and the gateway must not (DESIGN.md, "Pin
 * enforcement without a man-in-the-middle").  Nothing here decrypts.
 *
 * The structures and the sections that define them:
 *   records             RFC 8446 5.1 (TLSPlaintext), RFC 5246 6.2.1
 *   handshake messages  RFC 8446 4, RFC 5246 7.4
 *   ClientHello         RFC 8446 4.1.2, RFC 5246 7.4.1.2
 *   ServerHello, HRR    RFC 8446 4.1.3 and 4.1.4, RFC 5246 7.4.1.3
 *   extensions          RFC 8446 4.2
 *   server_name         RFC 6066 3
 *   supported_versions  RFC 8446 4.2.1
 *   compress_certificate  RFC 8879 3
 *   Certificate (1.2)   RFC 5246 7.4.2
 *   ChangeCipherSpec    RFC 5246 7.1, RFC 8446 D.4
 *   Alert               RFC 8446 6, RFC 5246 7.2
 *
 * Every length read from the wire is checked against the bytes its
 * enclosing structure holds before anything is read under it: the
 * cursor below refuses to move past its end.
 */
#include "engine/tls.h"

#include <stdlib.h>
#include <string.h>

/* RFC 8446 5.1: content types. */
#define CT_CHANGE_CIPHER_SPEC 20
#define CT_ALERT              21
#define CT_HANDSHAKE          22
#define CT_APPLICATION_DATA   23

/* RFC 8446 4 and RFC 5246 7.4: handshake types this reader meets. */
#define HT_CLIENT_HELLO        1
#define HT_SERVER_HELLO        2
#define HT_NEW_SESSION_TICKET  4
#define HT_CERTIFICATE        11
#define HT_SERVER_KEY_EXCHANGE 12
#define HT_SERVER_HELLO_DONE  14

/* RFC 8446 4.2: extension types read. */
#define EXT_SERVER_NAME          0
#define EXT_COMPRESS_CERTIFICATE 27
#define EXT_SUPPORTED_VERSIONS   43

#define REC_HDR_LEN 5
#define MSG_HDR_LEN 4

/* RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest. */
static const unsigned char HRR_RANDOM[PW_TLS_RANDOM_LEN] = {
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
  0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
  0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

struct pw_tls {
  pw_tls_dir_t   dir;
  pw_tls_stage_t stage;
  int            failed;      /* the first error's code, or PW_OK */
  uint64_t       pos;         /* bytes consumed */
  uint64_t       hold;
  unsigned long  records;     /* complete records read */
  bool           retried;     /* a HelloRetryRequest was read */

  /* The record being read: its header, then its fragment. */
  unsigned char  hdr[REC_HDR_LEN];
  size_t         hdr_have;
  uint8_t        rec_type;
  size_t         rec_len, rec_have;
  uint64_t       rec_start;
  unsigned char  rec[PW_TLS_RECORD_MAX];

  /* The handshake message being assembled across records. */
  unsigned char  mhdr[MSG_HDR_LEN];
  size_t         mhdr_have;
  unsigned char *msg;
  size_t         msg_len, msg_have;

  bool                  has_ch, has_sh;
  pw_tls_client_hello_t ch;
  pw_tls_server_hello_t sh;
  uint8_t               alert_level, alert_desc;

  /* The TLS 1.2 certificate_list, and where each DER lies in it. */
  unsigned char *certs;
  size_t         cert_off[PW_TLS_CERTS_MAX], cert_len[PW_TLS_CERTS_MAX];
  size_t         n_certs;
};

/* A cursor over bytes that cannot move past its end. */
typedef struct cur {
  const unsigned char *p;
  size_t               left;
} cur_t;

static bool
final_stage(pw_tls_stage_t s)
{
  return s == PW_TLS_CLIENT_HELLO || s == PW_TLS_ENCRYPTED
         || s == PW_TLS_CERTIFICATE || s == PW_TLS_NO_CERTIFICATE
         || s == PW_TLS_ALERT;
}

static int
take(cur_t *c, size_t n, const unsigned char **out, const char *what,
     pw_err_t *err)
{
  if (c->left < n)
    return pw_err_set(err, PW_EINVAL, "%s: %zu octets needed, %zu left",
                      what, n, c->left);
  *out = c->p;
  c->p += n;
  c->left -= n;
  return PW_OK;
}

/* A big-endian integer of width octets (1, 2 or 3). */
static int
take_uint(cur_t *c, size_t width, uint32_t *v, const char *what,
          pw_err_t *err)
{
  const unsigned char *p = NULL;
  size_t i;
  int rc;

  rc = take(c, width, &p, what, err);
  if (rc != PW_OK)
    return rc;

  *v = 0;
  for (i = 0; i < width; i++)
    *v = (*v << 8) | p[i];
  return PW_OK;
}

/*
 * A vector with a length prefix of width octets (RFC 8446 3.4): sub
 * covers its contents.  The length must fit in what c has left.
 */
static int
take_vec(cur_t *c, size_t width, cur_t *sub, const char *what,
         pw_err_t *err)
{
  uint32_t len;
  int rc;

  rc = take_uint(c, width, &len, what, err);
  if (rc != PW_OK)
    return rc;

  if (len > c->left)
    return pw_err_set(err, PW_EINVAL,
                      "%s: length %u runs past the %zu octets left", what,
                      (unsigned) len, c->left);
  sub->p = c->p;
  sub->left = len;
  c->p += len;
  c->left -= len;
  return PW_OK;
}

pw_tls_probe_t
pw_tls_looks_like_client_hello(const void *buf, size_t len)
{
  const unsigned char *p = buf;
  size_t rec_len, msg_len;

  /* RFC 8446 5.1: a handshake record of a TLS 1.0..1.2 record version. */
  if (len >= 1 && p[0] != CT_HANDSHAKE)
    return PW_TLS_PROBE_NO;
  if (len >= 2 && p[1] != 0x03)
    return PW_TLS_PROBE_NO;
  if (len >= 3 && (p[2] < 0x01 || p[2] > 0x03))
    return PW_TLS_PROBE_NO;
  if (len < REC_HDR_LEN)
    return PW_TLS_PROBE_MORE;

  rec_len = (size_t) p[3] << 8 | p[4];
  if (rec_len == 0 || rec_len > PW_TLS_PLAIN_MAX)
    return PW_TLS_PROBE_NO;
  if (len < 6)
    return PW_TLS_PROBE_MORE;
  if (p[5] != HT_CLIENT_HELLO)
    return PW_TLS_PROBE_NO;

  /*
   * The message length follows only when the record holds the whole
   * message header; a header split across records is legal, if odd.
   * 41 octets is the smallest ClientHello: version, random, an empty
   * session id, one suite and one compression method.
   */
  if (rec_len < MSG_HDR_LEN)
    return PW_TLS_PROBE_YES;
  if (len < REC_HDR_LEN + MSG_HDR_LEN)
    return PW_TLS_PROBE_MORE;
  msg_len = (size_t) p[6] << 16 | (size_t) p[7] << 8 | p[8];
  if (msg_len < 41 || msg_len > PW_TLS_MSG_MAX)
    return PW_TLS_PROBE_NO;
  return PW_TLS_PROBE_YES;
}

pw_tls_t *
pw_tls_new(pw_tls_dir_t dir)
{
  pw_tls_t *r = calloc(1, sizeof(*r));

  if (r == NULL)
    return NULL;
  r->dir = dir;
  r->stage = PW_TLS_NEED_MORE;
  r->hold = UINT64_MAX;
  return r;
}

void
pw_tls_free(pw_tls_t *r)
{
  if (r == NULL)
    return;
  free(r->msg);
  free(r->certs);
  free(r);
}

/* ClientHello */

/* RFC 6066 3: a ServerNameList holding at most one host_name. */
static int
parse_sni(pw_tls_client_hello_t *ch, cur_t ext, pw_err_t *err)
{
  cur_t list, name;
  uint32_t type;
  size_t i;
  int rc;

  rc = take_vec(&ext, 2, &list, "server_name list", err);
  if (rc != PW_OK)
    return rc;
  if (ext.left != 0)
    return pw_err_set(err, PW_EINVAL,
                      "server_name: list length %zu, the extension holds "
                      "%zu", list.left, list.left + ext.left);
  if (list.left == 0)
    return pw_err_set(err, PW_EINVAL, "server_name: the list is empty");

  while (list.left > 0) {
    rc = take_uint(&list, 1, &type, "server_name type", err);
    if (rc == PW_OK)
      rc = take_vec(&list, 2, &name, "server_name name", err);
    if (rc != PW_OK)
      return rc;

    /* Other name types were never defined; their names are skipped. */
    if (type != 0)
      continue;
    if (ch->has_sni)
      return pw_err_set(err, PW_EINVAL, "server_name: two host_names");
    if (name.left == 0)
      return pw_err_set(err, PW_EINVAL, "server_name: host_name is empty");
    if (name.left >= PW_TLS_SNI_MAX)
      return pw_err_set(err, PW_EINVAL,
                        "server_name: host_name of %zu octets is over %d",
                        name.left, PW_TLS_SNI_MAX - 1);

    /*
     * A host name is ASCII with no spaces or controls; a NUL would end
     * the name early for whoever reads it as a C string.
     */
    for (i = 0; i < name.left; i++)
      if (name.p[i] <= 0x20 || name.p[i] >= 0x7f)
        return pw_err_set(err, PW_EINVAL,
                          "server_name: host_name has octet 0x%02x at "
                          "offset %zu", name.p[i], i);
    memcpy(ch->sni, name.p, name.left);
    ch->sni[name.left] = '\0';
    ch->has_sni = true;
  }

  if (!ch->has_sni)
    return pw_err_set(err, PW_EINVAL, "server_name: no host_name");
  return PW_OK;
}

/*
 * A list of 16-bit values with a one-octet length: supported_versions
 * (RFC 8446 4.2.1) and compress_certificate (RFC 8879 3) share the shape.
 */
static int
parse_u16_list8(cur_t ext, uint16_t *out, size_t *n, const char *what,
                pw_err_t *err)
{
  uint32_t v;
  cur_t list;
  int rc;

  rc = take_vec(&ext, 1, &list, what, err);
  if (rc != PW_OK)
    return rc;
  if (ext.left != 0)
    return pw_err_set(err, PW_EINVAL, "%s: list length %zu, the extension "
                      "holds %zu", what, list.left, list.left + ext.left);
  if (list.left < 2 || list.left % 2 != 0)
    return pw_err_set(err, PW_EINVAL, "%s: list of %zu octets is not "
                      "2..254 and even", what, list.left);

  /* 254 octets at most: the arrays hold 127 values. */
  *n = 0;
  while (list.left > 0) {
    rc = take_uint(&list, 2, &v, what, err);
    if (rc != PW_OK)
      return rc;
    out[(*n)++] = (uint16_t) v;
  }
  return PW_OK;
}

/*
 * RFC 8446 4.2: extensions fill the rest of the hello, and no type may
 * appear twice.  seen is a bitmap of the 65536 types.
 */
static int
next_ext(cur_t *exts, unsigned char seen[8192], uint32_t *type,
         cur_t *data, pw_err_t *err)
{
  int rc;

  rc = take_uint(exts, 2, type, "extension type", err);
  if (rc != PW_OK)
    return rc;
  if (exts->left < 2)
    return pw_err_set(err, PW_EINVAL, "extension %u: no length",
                      (unsigned) *type);
  if (((size_t) exts->p[0] << 8 | exts->p[1]) > exts->left - 2)
    return pw_err_set(err, PW_EINVAL,
                      "extension %u: length %zu runs past the %zu octets "
                      "left in the extensions", (unsigned) *type,
                      (size_t) exts->p[0] << 8 | exts->p[1],
                      exts->left - 2);
  rc = take_vec(exts, 2, data, "extension", err);
  if (rc != PW_OK)
    return rc;

  if (seen[*type >> 3] & (1u << (*type & 7)))
    return pw_err_set(err, PW_EINVAL, "extension %u appears twice",
                      (unsigned) *type);
  seen[*type >> 3] |= (unsigned char) (1u << (*type & 7));
  return PW_OK;
}

/*
 * The extensions block that ends a hello.  It may be absent in TLS 1.2
 * (RFC 5246 7.4.1.2); when present it must end the message exactly.
 */
static int
take_exts(cur_t *body, cur_t *exts, const char *hello, pw_err_t *err)
{
  int rc;

  exts->p = body->p;
  exts->left = 0;
  if (body->left == 0)
    return PW_OK;

  rc = take_vec(body, 2, exts, "extensions", err);
  if (rc != PW_OK)
    return rc;
  if (body->left != 0)
    return pw_err_set(err, PW_EINVAL, "%s: %zu octets after the "
                      "extensions", hello, body->left);
  return PW_OK;
}

static int
parse_client_hello(pw_tls_client_hello_t *ch, cur_t body, pw_err_t *err)
{
  unsigned char seen[8192];
  const unsigned char *p = NULL;
  cur_t sid, suites, comp, exts, data;
  uint32_t v, type;
  int rc;

  memset(ch, 0, sizeof(*ch));
  memset(seen, 0, sizeof(seen));

  rc = take_uint(&body, 2, &v, "ClientHello legacy_version", err);
  if (rc == PW_OK)
    rc = take(&body, PW_TLS_RANDOM_LEN, &p, "ClientHello random", err);
  if (rc != PW_OK)
    return rc;
  if (v >> 8 != 0x03)
    return pw_err_set(err, PW_EINVAL, "ClientHello legacy_version 0x%04x "
                      "is not TLS", (unsigned) v);
  ch->legacy_version = (uint16_t) v;
  memcpy(ch->random, p, PW_TLS_RANDOM_LEN);

  rc = take_vec(&body, 1, &sid, "ClientHello legacy_session_id", err);
  if (rc != PW_OK)
    return rc;
  if (sid.left > PW_TLS_SESSION_ID_MAX)
    return pw_err_set(err, PW_EINVAL, "ClientHello legacy_session_id of "
                      "%zu octets is over 32", sid.left);
  memcpy(ch->session_id, sid.p, sid.left);
  ch->session_id_len = sid.left;

  /* RFC 8446 4.1.2: cipher_suites<2..2^16-2>, two octets each. */
  rc = take_vec(&body, 2, &suites, "ClientHello cipher_suites", err);
  if (rc != PW_OK)
    return rc;
  if (suites.left < 2 || suites.left % 2 != 0)
    return pw_err_set(err, PW_EINVAL, "ClientHello cipher_suites of %zu "
                      "octets is not a list of suites", suites.left);
  if (suites.left / 2 > PW_TLS_SUITES_MAX)
    return pw_err_set(err, PW_ETOOBIG, "ClientHello offers %zu cipher "
                      "suites, over the cap of %d", suites.left / 2,
                      PW_TLS_SUITES_MAX);
  while (suites.left > 0) {
    take_uint(&suites, 2, &v, "cipher suite", err);
    ch->suites[ch->n_suites++] = (uint16_t) v;
  }

  rc = take_vec(&body, 1, &comp, "ClientHello compression_methods", err);
  if (rc != PW_OK)
    return rc;
  if (comp.left == 0)
    return pw_err_set(err, PW_EINVAL, "ClientHello offers no compression "
                      "method");

  rc = take_exts(&body, &exts, "ClientHello", err);
  if (rc != PW_OK)
    return rc;

  while (exts.left > 0) {
    rc = next_ext(&exts, seen, &type, &data, err);
    if (rc != PW_OK)
      return rc;

    switch (type) {
    case EXT_SERVER_NAME:
      rc = parse_sni(ch, data, err);
      break;
    case EXT_SUPPORTED_VERSIONS:
      rc = parse_u16_list8(data, ch->versions, &ch->n_versions,
                           "supported_versions", err);
      ch->has_versions = true;
      break;
    case EXT_COMPRESS_CERTIFICATE:
      rc = parse_u16_list8(data, ch->compress, &ch->n_compress,
                           "compress_certificate", err);
      ch->has_compress = true;
      break;
    default:
      break;
    }
    if (rc != PW_OK)
      return rc;
  }
  return PW_OK;
}

/* ServerHello */

static int
parse_server_hello(pw_tls_server_hello_t *sh, cur_t body, bool *hrr,
                   pw_err_t *err)
{
  unsigned char seen[8192];
  const unsigned char *p = NULL;
  cur_t sid, exts, data;
  uint32_t v, type;
  int rc;

  memset(sh, 0, sizeof(*sh));
  memset(seen, 0, sizeof(seen));

  rc = take_uint(&body, 2, &v, "ServerHello legacy_version", err);
  if (rc == PW_OK)
    rc = take(&body, PW_TLS_RANDOM_LEN, &p, "ServerHello random", err);
  if (rc != PW_OK)
    return rc;
  sh->legacy_version = (uint16_t) v;
  memcpy(sh->random, p, PW_TLS_RANDOM_LEN);
  *hrr = memcmp(p, HRR_RANDOM, PW_TLS_RANDOM_LEN) == 0;

  rc = take_vec(&body, 1, &sid, "ServerHello legacy_session_id_echo", err);
  if (rc != PW_OK)
    return rc;
  if (sid.left > PW_TLS_SESSION_ID_MAX)
    return pw_err_set(err, PW_EINVAL, "ServerHello legacy_session_id_echo "
                      "of %zu octets is over 32", sid.left);
  memcpy(sh->session_id, sid.p, sid.left);
  sh->session_id_len = sid.left;

  rc = take_uint(&body, 2, &v, "ServerHello cipher_suite", err);
  if (rc != PW_OK)
    return rc;
  sh->suite = (uint16_t) v;

  /*
   * A compressed TLS 1.2 handshake would hide the Certificate from this
   * reader; RFC 8446 4.1.3 allows only null compression in TLS 1.3.
   */
  rc = take_uint(&body, 1, &v, "ServerHello compression_method", err);
  if (rc != PW_OK)
    return rc;
  if (v != 0)
    return pw_err_set(err, PW_EINVAL, "ServerHello compression_method %u "
                      "is not null", (unsigned) v);

  rc = take_exts(&body, &exts, "ServerHello", err);
  if (rc != PW_OK)
    return rc;

  while (exts.left > 0) {
    rc = next_ext(&exts, seen, &type, &data, err);
    if (rc != PW_OK)
      return rc;
    if (type != EXT_SUPPORTED_VERSIONS)
      continue;

    /* RFC 8446 4.2.1: the server's form is one selected_version. */
    if (data.left != 2)
      return pw_err_set(err, PW_EINVAL, "ServerHello supported_versions "
                        "of %zu octets, not 2", data.left);
    sh->version = (uint16_t) (data.p[0] << 8 | data.p[1]);
    sh->has_versions = true;
  }

  /*
   * RFC 8446 4.2.1: the extension negotiates TLS 1.3 only, and then
   * legacy_version is 0x0303; without it legacy_version is the version.
   */
  if (sh->has_versions) {
    if (sh->version != PW_TLS_V1_3)
      return pw_err_set(err, PW_EINVAL, "ServerHello selected_version "
                        "0x%04x is not TLS 1.3", sh->version);
    if (sh->legacy_version != PW_TLS_V1_2)
      return pw_err_set(err, PW_EINVAL, "TLS 1.3 ServerHello has "
                        "legacy_version 0x%04x, not 0x0303",
                        sh->legacy_version);
  } else {
    if (sh->legacy_version < 0x0300 || sh->legacy_version > PW_TLS_V1_2)
      return pw_err_set(err, PW_EINVAL, "ServerHello legacy_version "
                        "0x%04x is not SSL 3.0 to TLS 1.2",
                        sh->legacy_version);
    sh->version = sh->legacy_version;
  }

  /* RFC 8446 4.1.4: a HelloRetryRequest always carries the extension. */
  if (*hrr && !sh->has_versions)
    return pw_err_set(err, PW_EINVAL, "HelloRetryRequest without "
                      "supported_versions");
  return PW_OK;
}

/* Certificate, TLS 1.2 */

/* RFC 5246 7.4.2: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>. */
static int
parse_certificate(pw_tls_t *r, cur_t body, pw_err_t *err)
{
  const unsigned char *start;
  cur_t list, cert;
  size_t n = 0;
  int rc;

  rc = take_vec(&body, 3, &list, "Certificate certificate_list", err);
  if (rc != PW_OK)
    return rc;
  if (body.left != 0)
    return pw_err_set(err, PW_EINVAL, "Certificate: certificate_list "
                      "length %zu, the message holds %zu", list.left,
                      list.left + body.left + 3);
  if (list.left == 0)
    return pw_err_set(err, PW_EINVAL, "Certificate holds no certificate");
  if (list.left > PW_TLS_CERTS_BYTES_MAX)
    return pw_err_set(err, PW_ETOOBIG, "Certificate list of %zu octets is "
                      "over the cap of %d", list.left,
                      PW_TLS_CERTS_BYTES_MAX);

  start = list.p;
  r->certs = malloc(list.left);
  if (r->certs == NULL)
    return pw_err_set(err, PW_ENOMEM, "no memory for %zu octets of "
                      "certificates", list.left);
  memcpy(r->certs, list.p, list.left);

  while (list.left > 0) {
    if (n == PW_TLS_CERTS_MAX)
      return pw_err_set(err, PW_ETOOBIG, "Certificate holds more than %d "
                        "certificates", PW_TLS_CERTS_MAX);
    rc = take_vec(&list, 3, &cert, "Certificate entry", err);
    if (rc != PW_OK)
      return rc;
    if (cert.left == 0)
      return pw_err_set(err, PW_EINVAL, "Certificate: certificate %zu is "
                        "empty", n + 1);
    r->cert_off[n] = (size_t) (cert.p - start);
    r->cert_len[n] = cert.left;
    n++;
  }

  r->n_certs = n;
  return PW_OK;
}

/* Handshake messages */

static int
on_client_message(pw_tls_t *r, uint8_t type, cur_t body, size_t rest,
                  pw_err_t *err)
{
  int rc;

  if (type != HT_CLIENT_HELLO)
    return pw_err_set(err, PW_EINVAL, "first handshake message is type "
                      "%u, not a ClientHello", type);

  rc = parse_client_hello(&r->ch, body, err);
  if (rc != PW_OK)
    return rc;

  /*
   * Nothing follows a ClientHello in its flight: a client waits for the
   * server (RFC 5246 7.3), or changes keys first (RFC 8446 5.1).
   */
  if (rest != 0)
    return pw_err_set(err, PW_EINVAL, "ClientHello is followed by %zu "
                      "octets in its record", rest);

  r->has_ch = true;
  r->stage = PW_TLS_CLIENT_HELLO;
  return PW_OK;
}

static int
on_server_hello(pw_tls_t *r, cur_t body, size_t rest, pw_err_t *err)
{
  uint64_t rec_end = r->rec_start + REC_HDR_LEN + r->rec_len;
  bool hrr;
  int rc;

  rc = parse_server_hello(&r->sh, body, &hrr, err);
  if (rc != PW_OK)
    return rc;

  if (hrr) {
    if (r->retried)
      return pw_err_set(err, PW_EINVAL, "a second HelloRetryRequest "
                        "(RFC 8446 4.1.4)");
    r->retried = true;
    r->stage = PW_TLS_HELLO_RETRY;
    return PW_OK;
  }

  r->sh.retried = r->retried;
  r->has_sh = true;
  if (r->retried && r->sh.version != PW_TLS_V1_3)
    return pw_err_set(err, PW_EINVAL, "ServerHello after a "
                      "HelloRetryRequest is not TLS 1.3");

  /* RFC 8446 5.1: handshake data may not span a change of keys. */
  if (r->sh.version == PW_TLS_V1_3) {
    if (rest != 0)
      return pw_err_set(err, PW_EINVAL, "TLS 1.3 ServerHello shares its "
                        "record with %zu more octets", rest);
    r->hold = rec_end;
    r->stage = PW_TLS_ENCRYPTED;
    return PW_OK;
  }

  r->hold = rest != 0 ? r->rec_start : rec_end;
  r->stage = PW_TLS_SERVER_HELLO;
  return PW_OK;
}

static int
on_server_message(pw_tls_t *r, uint8_t type, cur_t body, size_t rest,
                  pw_err_t *err)
{
  int rc;

  if (r->stage != PW_TLS_SERVER_HELLO) {
    if (type != HT_SERVER_HELLO)
      return pw_err_set(err, PW_EINVAL, "handshake message type %u before "
                        "the ServerHello", type);
    return on_server_hello(r, body, rest, err);
  }

  /*
   * RFC 5246 7.3: in TLS 1.2 the Certificate comes right after the
   * ServerHello when the suite uses one.  A ServerKeyExchange or
   * ServerHelloDone means an anonymous or PSK suite, a NewSessionTicket
   * a resumed session (RFC 5077 3.1).
   */
  switch (type) {
  case HT_CERTIFICATE:
    rc = parse_certificate(r, body, err);
    if (rc != PW_OK)
      return rc;
    r->stage = PW_TLS_CERTIFICATE;
    return PW_OK;
  case HT_SERVER_KEY_EXCHANGE:
  case HT_SERVER_HELLO_DONE:
  case HT_NEW_SESSION_TICKET:
    r->stage = PW_TLS_NO_CERTIFICATE;
    return PW_OK;
  default:
    return pw_err_set(err, PW_EINVAL, "handshake message type %u cannot "
                      "follow a TLS 1.2 ServerHello", type);
  }
}

/*
 * Feeds a handshake record's fragment into the message being assembled;
 * RFC 8446 5.1 lets a message span records and a record hold several.
 */
static int
on_handshake_record(pw_tls_t *r, pw_err_t *err)
{
  size_t off = 0, n;
  cur_t body;
  uint8_t type;
  int rc;

  while (off < r->rec_len && !final_stage(r->stage)) {
    if (r->mhdr_have < MSG_HDR_LEN) {
      n = MSG_HDR_LEN - r->mhdr_have;
      if (n > r->rec_len - off)
        n = r->rec_len - off;
      memcpy(r->mhdr + r->mhdr_have, r->rec + off, n);
      r->mhdr_have += n;
      off += n;
      if (r->mhdr_have < MSG_HDR_LEN)
        break;

      r->msg_len = (size_t) r->mhdr[1] << 16 | (size_t) r->mhdr[2] << 8
                   | r->mhdr[3];
      if (r->msg_len > PW_TLS_MSG_MAX)
        return pw_err_set(err, PW_ETOOBIG, "handshake message of %zu "
                          "octets is over the cap of %d", r->msg_len,
                          PW_TLS_MSG_MAX);
      r->msg = malloc(r->msg_len > 0 ? r->msg_len : 1);
      if (r->msg == NULL)
        return pw_err_set(err, PW_ENOMEM, "no memory for a handshake "
                          "message of %zu octets", r->msg_len);
      r->msg_have = 0;
    }

    n = r->msg_len - r->msg_have;
    if (n > r->rec_len - off)
      n = r->rec_len - off;
    memcpy(r->msg + r->msg_have, r->rec + off, n);
    r->msg_have += n;
    off += n;
    if (r->msg_have < r->msg_len)
      break;

    type = r->mhdr[0];
    body.p = r->msg;
    body.left = r->msg_len;
    if (r->dir == PW_TLS_FROM_CLIENT)
      rc = on_client_message(r, type, body, r->rec_len - off, err);
    else
      rc = on_server_message(r, type, body, r->rec_len - off, err);
    if (rc != PW_OK)
      return rc;

    free(r->msg);
    r->msg = NULL;
    r->mhdr_have = 0;
  }
  return PW_OK;
}

/* Records */

static const char *
type_name(uint8_t type)
{
  switch (type) {
  case CT_CHANGE_CIPHER_SPEC: return "change_cipher_spec";
  case CT_ALERT:              return "alert";
  case CT_HANDSHAKE:          return "handshake";
  default:                    return "application_data";
  }
}

/* RFC 8446 5.1: the record header, checked before its fragment is read. */
static int
check_header(pw_tls_t *r, pw_err_t *err)
{
  uint16_t version = (uint16_t) (r->hdr[1] << 8 | r->hdr[2]);

  r->rec_type = r->hdr[0];
  r->rec_len = (size_t) r->hdr[3] << 8 | r->hdr[4];
  r->rec_have = 0;

  if (r->rec_type < CT_CHANGE_CIPHER_SPEC
      || r->rec_type > CT_APPLICATION_DATA)
    return pw_err_set(err, PW_EINVAL, "record content type %u is not "
                      "one of TLS's (20..23)", r->rec_type);
  if (version >> 8 != 0x03 || (version & 0xff) > 0x03)
    return pw_err_set(err, PW_EINVAL, "record version 0x%04x is not "
                      "0x0300..0x0303", version);
  if (r->rec_len > PW_TLS_RECORD_MAX)
    return pw_err_set(err, PW_ETOOBIG, "record of %zu octets is over the "
                      "cap of %d", r->rec_len, PW_TLS_RECORD_MAX);
  if (r->rec_len > PW_TLS_PLAIN_MAX && r->rec_type != CT_APPLICATION_DATA)
    return pw_err_set(err, PW_ETOOBIG, "%s record of %zu octets is over "
                      "the plaintext cap of %d", type_name(r->rec_type),
                      r->rec_len, PW_TLS_PLAIN_MAX);

  /* RFC 8446 5.1: no empty fragments and no interleaving. */
  if (r->rec_len == 0 && r->rec_type != CT_APPLICATION_DATA)
    return pw_err_set(err, PW_EINVAL, "empty %s record",
                      type_name(r->rec_type));
  if (r->mhdr_have > 0 && r->rec_type != CT_HANDSHAKE)
    return pw_err_set(err, PW_EINVAL, "%s record inside a handshake "
                      "message", type_name(r->rec_type));

  if (r->records == 0 && r->dir == PW_TLS_FROM_CLIENT
      && r->rec_type != CT_HANDSHAKE)
    return pw_err_set(err, PW_EINVAL, "first record is %s (content type "
                      "%u), not a handshake", type_name(r->rec_type),
                      r->rec_type);
  if (r->rec_type == CT_APPLICATION_DATA)
    return pw_err_set(err, PW_EINVAL, "application_data record before the "
                      "handshake was read");
  return PW_OK;
}

static int
on_record(pw_tls_t *r, pw_err_t *err)
{
  switch (r->rec_type) {
  case CT_HANDSHAKE:
    return on_handshake_record(r, err);

  case CT_ALERT:
    /* RFC 8446 5.1: alerts are neither fragmented nor coalesced. */
    if (r->rec_len != 2)
      return pw_err_set(err, PW_EINVAL, "alert record of %zu octets, not "
                        "2", r->rec_len);
    r->alert_level = r->rec[0];
    r->alert_desc = r->rec[1];
    r->stage = PW_TLS_ALERT;
    return PW_OK;

  default:
    /* RFC 5246 7.1: one octet of value 1. */
    if (r->rec_len != 1 || r->rec[0] != 1)
      return pw_err_set(err, PW_EINVAL, "change_cipher_spec record is not "
                        "the single octet 1");

    /*
     * RFC 8446 D.4: a TLS 1.3 server may send one after a
     * HelloRetryRequest, for middleboxes.  In TLS 1.2 one right after
     * the ServerHello is a resumed session (RFC 5246 7.3).
     */
    if (r->dir == PW_TLS_FROM_SERVER && r->stage == PW_TLS_HELLO_RETRY)
      return PW_OK;
    if (r->dir == PW_TLS_FROM_SERVER && r->stage == PW_TLS_SERVER_HELLO) {
      r->stage = PW_TLS_NO_CERTIFICATE;
      return PW_OK;
    }
    return pw_err_set(err, PW_EINVAL, "change_cipher_spec record before "
                      "the %s", r->dir == PW_TLS_FROM_CLIENT
                                ? "ClientHello" : "ServerHello");
  }
}

int
pw_tls_feed(pw_tls_t *r, const void *buf, size_t len, pw_err_t *err)
{
  const unsigned char *p = buf;
  size_t n;
  int rc = PW_OK;

  if (r->failed != PW_OK)
    return pw_err_set(err, r->failed, "the TLS reader failed before");

  while (len > 0 && !final_stage(r->stage)) {
    if (r->hdr_have < REC_HDR_LEN) {
      if (r->hdr_have == 0)
        r->rec_start = r->pos;
      n = REC_HDR_LEN - r->hdr_have;
      if (n > len)
        n = len;
      memcpy(r->hdr + r->hdr_have, p, n);
      r->hdr_have += n;
      r->pos += n;
      p += n;
      len -= n;
      if (r->hdr_have < REC_HDR_LEN)
        break;

      rc = check_header(r, err);
      if (rc != PW_OK)
        goto done;
    }

    n = r->rec_len - r->rec_have;
    if (n > len)
      n = len;
    memcpy(r->rec + r->rec_have, p, n);
    r->rec_have += n;
    r->pos += n;
    p += n;
    len -= n;
    if (r->rec_have < r->rec_len)
      break;

    rc = on_record(r, err);
    if (rc != PW_OK)
      goto done;
    r->records++;
    r->hdr_have = 0;
  }

  /* After a final stage the bytes are the gateway's to pass on. */
  r->pos += len;

done:
  if (rc != PW_OK)
    r->failed = rc;
  return rc;
}

pw_tls_stage_t
pw_tls_stage(const pw_tls_t *r)
{
  return r->stage;
}

uint64_t
pw_tls_offset(const pw_tls_t *r)
{
  return r->pos;
}

const pw_tls_client_hello_t *
pw_tls_client_hello(const pw_tls_t *r)
{
  return r->has_ch ? &r->ch : NULL;
}

const pw_tls_server_hello_t *
pw_tls_server_hello(const pw_tls_t *r)
{
  return r->has_sh ? &r->sh : NULL;
}

uint64_t
pw_tls_hold_offset(const pw_tls_t *r)
{
  return r->hold;
}

int
pw_tls_alert(const pw_tls_t *r, uint8_t *level, uint8_t *desc)
{
  if (r->stage != PW_TLS_ALERT)
    return PW_ENOTFOUND;
  *level = r->alert_level;
  *desc = r->alert_desc;
  return PW_OK;
}

size_t
pw_tls_cert_count(const pw_tls_t *r)
{
  return r->stage == PW_TLS_CERTIFICATE ? r->n_certs : 0;
}

const unsigned char *
pw_tls_cert(const pw_tls_t *r, size_t i, size_t *len)
{
  if (r->stage != PW_TLS_CERTIFICATE || i >= r->n_certs)
    return NULL;
  *len = r->cert_len[i];
  return r->certs + r->cert_off[i];
}
