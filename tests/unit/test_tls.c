/*
 * The passive TLS reader: hellos and certificates built here byte by
 * byte, fed whole, split and one octet at a time; broken ones with the
 * error each must give; and a real ClientHello written by OpenSSL.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "cases.h"
#include "certgen.h"
#include "engine/tls.h"
#include "tests/unit/wire.h"

/* msg as records of type, cut after each offset in cuts (0 ends). */
static void
put_records(bb_t *out, uint8_t type, const bb_t *msg, const size_t *cuts)
{
  size_t from = 0, to, i = 0;

  do {
    to = cuts != NULL && cuts[i] != 0 ? cuts[i++] : msg->n;
    put_uint(out, type, 1);
    put_uint(out, 0x0303, 2);
    put_uint(out, (uint32_t) (to - from), 2);
    put(out, msg->p + from, to - from);
    from = to;
  } while (from < msg->n);
}

/* Hellos */

typedef struct chopt {
  const char *host;        /* NULL: no server_name */
  size_t      host_len;    /* 0: strlen(host) */
  int         sni_delta;   /* added to the ServerNameList length */
  int         versions;    /* offer TLS 1.3 and 1.2 */
  int         compress;    /* offer brotli and zlib (RFC 8879) */
  int         no_exts;     /* no extensions block at all */
  int         exts_delta;  /* added to the extensions length */
  int         ext_delta;   /* added to the last extension's length */
  int         dup;         /* server_name twice */
  int         sid_len;     /* legacy_session_id octets */
  int         trailing;    /* a handshake message after the hello */
} chopt_t;

static void
client_hello(bb_t *m, const chopt_t *o)
{
  size_t hs, exts, ext, list, name, i;
  unsigned char random[32];

  for (i = 0; i < sizeof(random); i++)
    random[i] = (unsigned char) i;

  put_uint(m, 1, 1);
  hs = open_vec(m, 3);
  put_uint(m, 0x0303, 2);
  put(m, random, sizeof(random));
  put_uint(m, (uint32_t) o->sid_len, 1);
  for (i = 0; i < (size_t) o->sid_len; i++)
    put_uint(m, 0xaa, 1);
  put_uint(m, 6, 2);
  put_uint(m, 0x1301, 2);
  put_uint(m, 0x1302, 2);
  put_uint(m, 0xc02f, 2);
  put_uint(m, 0x0100, 2);             /* one method: null */

  if (!o->no_exts) {
    exts = open_vec(m, 2);
    ext = 0;
    if (o->host != NULL) {
      for (i = 0; i < (o->dup ? 2u : 1u); i++) {
        put_uint(m, 0, 2);
        ext = open_vec(m, 2);
        list = open_vec(m, 2);
        put_uint(m, 0, 1);
        name = open_vec(m, 2);
        put(m, o->host, o->host_len ? o->host_len : strlen(o->host));
        close_vec(m, name, 2, 0);
        close_vec(m, list, 2, o->sni_delta);
        close_vec(m, ext, 2, 0);
      }
    }
    if (o->versions) {
      put_uint(m, 43, 2);
      ext = open_vec(m, 2);
      put(m, "\x04\x03\x04\x03\x03", 5);
      close_vec(m, ext, 2, 0);
    }
    if (o->compress) {
      put_uint(m, 27, 2);
      ext = open_vec(m, 2);
      put(m, "\x04\x00\x02\x00\x01", 5);
      close_vec(m, ext, 2, 0);
    }
    /* Padding (RFC 7685), read past: its length is the one broken. */
    put_uint(m, 21, 2);
    ext = open_vec(m, 2);
    put(m, "\0\0\0\0", 4);
    close_vec(m, ext, 2, o->ext_delta);
    close_vec(m, exts, 2, o->exts_delta);
  }
  close_vec(m, hs, 3, 0);

  if (o->trailing)
    put(m, "\x0e\x00\x00\x00", 4);
}

typedef struct shopt {
  int      v13;       /* supported_versions: 0x0304 */
  int      hrr;       /* the HelloRetryRequest random */
  uint16_t selected;  /* selected_version; 0: 0x0304 */
  int      comp;      /* compression method */
} shopt_t;

static const unsigned char HRR[32] = {
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
  0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
  0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static void
server_hello(bb_t *m, const shopt_t *o)
{
  size_t hs, exts, ext, i;
  unsigned char random[32];

  for (i = 0; i < sizeof(random); i++)
    random[i] = (unsigned char) (0x40 + i);

  put_uint(m, 2, 1);
  hs = open_vec(m, 3);
  put_uint(m, 0x0303, 2);
  put(m, o->hrr ? HRR : random, 32);
  put_uint(m, 32, 1);
  for (i = 0; i < 32; i++)
    put_uint(m, 0xaa, 1);
  put_uint(m, o->v13 ? 0x1301 : 0xc02f, 2);
  put_uint(m, (uint32_t) o->comp, 1);

  exts = open_vec(m, 2);
  if (o->v13) {
    put_uint(m, 43, 2);
    ext = open_vec(m, 2);
    put_uint(m, o->selected ? o->selected : 0x0304, 2);
    close_vec(m, ext, 2, 0);
  }
  /* key_share or, for TLS 1.2, renegotiation_info: skipped over. */
  put_uint(m, o->v13 ? 51 : 0xff01, 2);
  ext = open_vec(m, 2);
  put(m, "\0\0", o->v13 ? 2 : 1);
  close_vec(m, ext, 2, 0);
  close_vec(m, exts, 2, 0);
  close_vec(m, hs, 3, 0);
}

/* A TLS 1.2 Certificate of the DER in ders; lens[i] 0 ends the list. */
static void
certificate(bb_t *m, unsigned char **ders, const size_t *lens,
            int list_delta)
{
  size_t hs, list, i;

  put_uint(m, 11, 1);
  hs = open_vec(m, 3);
  list = open_vec(m, 3);
  for (i = 0; lens[i] != 0 || ders[i] != NULL; i++) {
    put_uint(m, (uint32_t) lens[i], 3);
    put(m, ders[i], lens[i]);
  }
  close_vec(m, list, 3, list_delta);
  close_vec(m, hs, 3, 0);
}

/* Inputs */

typedef enum input {
  /* Client. */
  IN_CH = 0,            /* SNI www.example.com, versions, one record */
  IN_CH_TWO_RECORDS,    /* the same cut in the middle */
  IN_CH_HDR_SPLIT,      /* cut inside the handshake header */
  IN_CH_COMPRESS,       /* compress_certificate, no SNI */
  IN_CH_NO_EXTS,        /* a TLS 1.2 hello without extensions */
  IN_CH_TRUNCATED,      /* the last octet missing */
  IN_EMPTY,
  IN_CH_SNI_NUL,
  IN_CH_SNI_LIST,       /* ServerNameList length one short */
  IN_CH_EXT_PAST,       /* an extension longer than the extensions */
  IN_CH_EXTS_SHORT,     /* octets after the extensions */
  IN_CH_DUP,            /* server_name twice */
  IN_CH_SID_33,
  IN_CH_TRAILING,       /* another message after it in the record */
  IN_CH_HS_PAST,        /* message longer than its record, then alert */
  IN_CH_HS_64K,         /* a message length over 64 KiB */
  IN_CH_SUITES_PAST,    /* cipher_suites length past the message */
  IN_REC_OVER,          /* a record of 2^14 + 257 */
  IN_REC_PLAIN_OVER,    /* a handshake record of 2^14 + 1 */
  IN_REC_TYPE_24,       /* heartbeat: not in RFC 8446 */
  IN_REC_VERSION,       /* record version 0x0200 */
  IN_REC_EMPTY,         /* an empty handshake record */
  IN_FIRST_ALERT,       /* client: an alert first */
  IN_SERVER_HELLO_FIRST,/* client: a ServerHello first */
  /* Server. */
  IN_SH12_CERT,         /* ServerHello, Certificate of two: one record */
  IN_SH12_THEN_CERT,    /* each in a record of its own */
  IN_SH13,              /* ServerHello, CCS, encrypted records */
  IN_HRR,
  IN_HRR_CCS_SH13,      /* HelloRetryRequest, CCS, ServerHello */
  IN_SH12_RESUMED,      /* ServerHello, then CCS */
  IN_SH12_ANON,         /* ServerHello, ServerKeyExchange */
  IN_ALERT,             /* handshake_failure instead of a hello */
  IN_CERT_EMPTY_ENTRY,  /* second certificate of length zero */
  IN_CERT_LIST_PAST,    /* list length one more than the message */
  IN_CERT_LIST_SHORT,   /* list length one less than the message */
  IN_CERT_17,           /* seventeen certificates */
  IN_CERT_NONE,         /* an empty list */
  IN_SH_SELECTED_12,    /* selected_version 0x0303 */
  IN_SH_COMPRESSED,     /* compression method 1 */
  IN_HRR_TWICE,
  IN_SH13_SHARED,       /* TLS 1.3 ServerHello with more in its record */
  IN_APPDATA_FIRST,
  IN_CCS_FIRST,         /* server: CCS with no HelloRetryRequest */
  IN_ALERT_LONG,        /* an alert record of three octets */
  IN_CERT_AFTER_HELLO_13 /* server: a second message in 1.3: shared */
} input_t;

static const chopt_t CH_GOOD = {
  .host = "www.example.com", .versions = 1, .sid_len = 32,
};

/*
 * Builds the bytes of an input.  *hold is the offset pw_tls_hold_offset
 * must give, UINT64_MAX when none.
 */
static void
build(input_t in, const certgen_chain_t *c, bb_t *out, uint64_t *hold)
{
  chopt_t co = CH_GOOD;
  shopt_t so = { 0 };
  bb_t m = { 0 };
  unsigned char *ders[20] = { 0 };
  size_t lens[20] = { 0 }, cuts[3] = { 0 }, i;
  static const unsigned char tiny[] = { 0x30, 0x00 };

  *hold = UINT64_MAX;

  switch (in) {
  case IN_CH:
  case IN_CH_TRUNCATED:
    client_hello(&m, &co);
    put_records(out, 22, &m, NULL);
    if (in == IN_CH_TRUNCATED)
      out->n--;
    break;
  case IN_CH_TWO_RECORDS:
  case IN_CH_HDR_SPLIT:
    client_hello(&m, &co);
    cuts[0] = in == IN_CH_HDR_SPLIT ? 2 : m.n / 2;
    put_records(out, 22, &m, cuts);
    break;
  case IN_CH_COMPRESS:
    co.host = NULL;
    co.compress = 1;
    co.sid_len = 0;
    client_hello(&m, &co);
    put_records(out, 22, &m, NULL);
    break;
  case IN_CH_NO_EXTS:
    co.no_exts = 1;
    client_hello(&m, &co);
    put_records(out, 22, &m, NULL);
    break;
  case IN_EMPTY:
    break;
  case IN_CH_SNI_NUL:
  case IN_CH_SNI_LIST:
  case IN_CH_EXT_PAST:
  case IN_CH_EXTS_SHORT:
  case IN_CH_DUP:
  case IN_CH_SID_33:
  case IN_CH_TRAILING:
    if (in == IN_CH_SNI_NUL) {
      co.host = "www.example.com\0.evil";
      co.host_len = 21;
    }
    co.sni_delta = in == IN_CH_SNI_LIST ? -1 : 0;
    co.ext_delta = in == IN_CH_EXT_PAST ? 1 : 0;
    co.exts_delta = in == IN_CH_EXTS_SHORT ? -8 : 0;
    co.dup = in == IN_CH_DUP;
    co.sid_len = in == IN_CH_SID_33 ? 33 : 32;
    co.trailing = in == IN_CH_TRAILING;
    client_hello(&m, &co);
    put_records(out, 22, &m, NULL);
    break;
  case IN_CH_HS_PAST:
    client_hello(&m, &co);
    m.n -= 10;
    put_records(out, 22, &m, NULL);
    put(out, "\x15\x03\x03\x00\x02\x02\x28", 7);
    break;
  case IN_CH_HS_64K:
    put(out, "\x16\x03\x01\x00\x04\x01\x01\x00\x01", 9);
    break;
  case IN_CH_SUITES_PAST:
    client_hello(&m, &co);
    /* type, length, version, random, session id: then the suites. */
    m.p[4 + 2 + 32 + 1 + 32] = 0xff;
    put_records(out, 22, &m, NULL);
    break;
  case IN_REC_OVER:
    put(out, "\x17\x03\x03\x41\x01", 5);
    break;
  case IN_REC_PLAIN_OVER:
    put(out, "\x16\x03\x03\x40\x01", 5);
    break;
  case IN_REC_TYPE_24:
    put(out, "\x18\x03\x03\x00\x03\x01\x00\x00", 8);
    break;
  case IN_REC_VERSION:
    put(out, "\x16\x02\x00\x00\x04\x01\x00\x00\x00", 9);
    break;
  case IN_REC_EMPTY:
    put(out, "\x16\x03\x01\x00\x00", 5);
    break;
  case IN_FIRST_ALERT:
  case IN_ALERT:
    put(out, "\x15\x03\x03\x00\x02\x02\x28", 7);
    break;
  case IN_ALERT_LONG:
    put(out, "\x15\x03\x03\x00\x03\x02\x28\x00", 8);
    break;
  case IN_SERVER_HELLO_FIRST:
    server_hello(&m, &so);
    put_records(out, 22, &m, NULL);
    break;

  case IN_SH12_CERT:
  case IN_CERT_EMPTY_ENTRY:
  case IN_CERT_LIST_PAST:
  case IN_CERT_LIST_SHORT:
  case IN_CERT_NONE:
    server_hello(&m, &so);
    ders[0] = c->der[0];
    lens[0] = c->len[0];
    ders[1] = c->der[1];
    lens[1] = in == IN_CERT_EMPTY_ENTRY ? 0 : c->len[1];
    if (in == IN_CERT_NONE)
      ders[0] = NULL, lens[0] = 0;
    certificate(&m, ders, lens, in == IN_CERT_LIST_PAST ? 1
                : in == IN_CERT_LIST_SHORT ? -1 : 0);
    put(&m, "\x0e\x00\x00\x00", 4);
    put_records(out, 22, &m, NULL);
    *hold = 0;
    break;
  case IN_SH12_THEN_CERT:
    server_hello(&m, &so);
    put_records(out, 22, &m, NULL);
    *hold = out->n;
    m.n = 0;
    certificate(&m, (unsigned char **) c->der, c->len, 0);
    put_records(out, 22, &m, NULL);
    break;
  case IN_CERT_17:
    server_hello(&m, &so);
    for (i = 0; i < 17; i++) {
      ders[i] = (unsigned char *) tiny;
      lens[i] = sizeof(tiny);
    }
    certificate(&m, ders, lens, 0);
    put_records(out, 22, &m, NULL);
    break;
  case IN_SH13:
  case IN_SH_SELECTED_12:
  case IN_SH13_SHARED:
  case IN_CERT_AFTER_HELLO_13:
    so.v13 = 1;
    so.selected = in == IN_SH_SELECTED_12 ? 0x0303 : 0;
    server_hello(&m, &so);
    if (in == IN_SH13_SHARED)
      put(&m, "\x08\x00\x00\x02\x00\x00", 6);
    if (in == IN_CERT_AFTER_HELLO_13) {
      /* Not encrypted, but after the ServerHello: never looked at. */
      put_records(out, 22, &m, NULL);
      *hold = out->n;
      put(out, "\x16\x03\x03\x00\x04\x0b\x00\x00\x00", 9);
      break;
    }
    put_records(out, 22, &m, NULL);
    *hold = out->n;
    put(out, "\x14\x03\x03\x00\x01\x01", 6);
    put(out, "\x17\x03\x03\x00\x05" "ABCDE", 10);
    break;
  case IN_HRR:
  case IN_HRR_TWICE:
  case IN_HRR_CCS_SH13:
    so.v13 = 1;
    so.hrr = 1;
    server_hello(&m, &so);
    put_records(out, 22, &m, NULL);
    if (in == IN_HRR_TWICE)
      put_records(out, 22, &m, NULL);
    if (in == IN_HRR_CCS_SH13) {
      put(out, "\x14\x03\x03\x00\x01\x01", 6);
      so.hrr = 0;
      m.n = 0;
      server_hello(&m, &so);
      put_records(out, 22, &m, NULL);
      *hold = out->n;
      put(out, "\x17\x03\x03\x00\x05" "ABCDE", 10);
    }
    break;
  case IN_SH12_RESUMED:
  case IN_SH12_ANON:
    server_hello(&m, &so);
    put_records(out, 22, &m, NULL);
    *hold = out->n;
    if (in == IN_SH12_RESUMED)
      put(out, "\x14\x03\x03\x00\x01\x01", 6);
    else
      put(out, "\x16\x03\x03\x00\x06\x0c\x00\x00\x02\x00\x00", 11);
    break;
  case IN_SH_COMPRESSED:
    so.comp = 1;
    server_hello(&m, &so);
    put_records(out, 22, &m, NULL);
    break;
  case IN_APPDATA_FIRST:
    put(out, "\x17\x03\x03\x00\x05" "ABCDE", 10);
    break;
  case IN_CCS_FIRST:
    put(out, "\x14\x03\x03\x00\x01\x01", 6);
    break;
  }
  free(m.p);
}

/* Feeds in chunks of chunk octets (0: all at once); stops at an error. */
static int
feed(pw_tls_t *r, const bb_t *in, size_t chunk, pw_err_t *err)
{
  size_t off = 0, n;
  int rc = PW_OK;

  if (chunk == 0)
    chunk = in->n > 0 ? in->n : 1;
  while (off < in->n && rc == PW_OK) {
    n = in->n - off < chunk ? in->n - off : chunk;
    rc = pw_tls_feed(r, in->p + off, n, err);
    off += n;
  }
  return rc;
}

/* Good inputs */

typedef struct gcase {
  char           comment[64];
  input_t        input;
  pw_tls_dir_t   dir;
  size_t         chunk;      /* 0: all at once */
  pw_tls_stage_t stage;
  char           sni[32];    /* client: the SNI, "" for none */
  int            v13;        /* client: offers TLS 1.3; server: chose it */
  int            compress;   /* client: compress_certificate offered */
  int            certs;      /* server: certificates read */
} gcase_t;

#define C PW_TLS_FROM_CLIENT
#define S PW_TLS_FROM_SERVER

static const gcase_t GOOD[] = {
  { "ClientHello with SNI and supported_versions", IN_CH, C, 0,
    PW_TLS_CLIENT_HELLO, "www.example.com", 1, 0, 0 },
  { "the same across two records", IN_CH_TWO_RECORDS, C, 0,
    PW_TLS_CLIENT_HELLO, "www.example.com", 1, 0, 0 },
  { "the handshake header cut across records", IN_CH_HDR_SPLIT, C, 0,
    PW_TLS_CLIENT_HELLO, "www.example.com", 1, 0, 0 },
  { "the same fed one octet at a time", IN_CH, C, 1,
    PW_TLS_CLIENT_HELLO, "www.example.com", 1, 0, 0 },
  { "two records fed three octets at a time", IN_CH_TWO_RECORDS, C, 3,
    PW_TLS_CLIENT_HELLO, "www.example.com", 1, 0, 0 },
  { "compress_certificate offered, no SNI", IN_CH_COMPRESS, C, 0,
    PW_TLS_CLIENT_HELLO, "", 1, 1, 0 },
  { "a TLS 1.2 ClientHello with no extensions", IN_CH_NO_EXTS, C, 0,
    PW_TLS_CLIENT_HELLO, "", 0, 0, 0 },
  /* Truncation is no error: the rest may come in the next read. */
  { "a ClientHello one octet short", IN_CH_TRUNCATED, C, 0,
    PW_TLS_NEED_MORE, "", 0, 0, 0 },
  { "nothing yet", IN_EMPTY, C, 0, PW_TLS_NEED_MORE, "", 0, 0, 0 },

  { "TLS 1.2 ServerHello and Certificate of two in one record",
    IN_SH12_CERT, S, 0, PW_TLS_CERTIFICATE, "", 0, 0, 2 },
  { "the same fed one octet at a time", IN_SH12_CERT, S, 1,
    PW_TLS_CERTIFICATE, "", 0, 0, 2 },
  { "TLS 1.2 ServerHello and Certificate in records of their own",
    IN_SH12_THEN_CERT, S, 0, PW_TLS_CERTIFICATE, "", 0, 0, 2 },
  { "TLS 1.3 ServerHello, then encrypted records", IN_SH13, S, 0,
    PW_TLS_ENCRYPTED, "", 1, 0, 0 },
  { "the same fed seven octets at a time", IN_SH13, S, 7,
    PW_TLS_ENCRYPTED, "", 1, 0, 0 },
  { "a HelloRetryRequest", IN_HRR, S, 0, PW_TLS_HELLO_RETRY, "", 0, 0, 0 },
  { "HelloRetryRequest, CCS, ServerHello", IN_HRR_CCS_SH13, S, 0,
    PW_TLS_ENCRYPTED, "", 1, 0, 0 },
  { "TLS 1.3: a Certificate record after the ServerHello's own",
    IN_CERT_AFTER_HELLO_13, S, 0, PW_TLS_ENCRYPTED, "", 1, 0, 0 },
  { "TLS 1.2 resumed: CCS after the ServerHello", IN_SH12_RESUMED, S, 0,
    PW_TLS_NO_CERTIFICATE, "", 0, 0, 0 },
  { "TLS 1.2 anonymous: ServerKeyExchange after the ServerHello",
    IN_SH12_ANON, S, 0, PW_TLS_NO_CERTIFICATE, "", 0, 0, 0 },
  { "an alert instead of a ServerHello", IN_ALERT, S, 0, PW_TLS_ALERT, "",
    0, 0, 0 },
};

ParameterizedTestParameters(tls, good)
{
  return case_indices(NCASES(GOOD));
}

static void
check_client(const gcase_t *g, const pw_tls_t *r)
{
  const pw_tls_client_hello_t *ch = pw_tls_client_hello(r);
  size_t i;
  int v13 = 0;

  if (g->stage != PW_TLS_CLIENT_HELLO) {
    cr_expect_null(ch, "%s: a ClientHello before one was read", g->comment);
    return;
  }
  cr_assert_not_null(ch, "%s: no ClientHello", g->comment);
  cr_expect_str_eq(ch->sni, g->sni, "%s: SNI '%s', want '%s'", g->comment,
                   ch->sni, g->sni);
  cr_expect_eq(ch->has_sni, g->sni[0] != '\0', "%s: has_sni %d",
               g->comment, ch->has_sni);
  for (i = 0; i < PW_TLS_RANDOM_LEN; i++)
    cr_expect_eq(ch->random[i], i, "%s: random[%zu] %u", g->comment, i,
                 ch->random[i]);
  cr_expect_eq(ch->n_suites, 3, "%s: %zu suites, want 3", g->comment,
               ch->n_suites);
  cr_expect_eq(ch->suites[2], 0xc02f, "%s: suite 0x%04x", g->comment,
               ch->suites[2]);
  for (i = 0; i < ch->n_versions; i++)
    v13 |= ch->versions[i] == PW_TLS_V1_3;
  cr_expect_eq(v13, g->v13, "%s: TLS 1.3 offered %d, want %d", g->comment,
               v13, g->v13);
  cr_expect_eq(ch->has_compress, g->compress, "%s: compress %d, want %d",
               g->comment, ch->has_compress, g->compress);
  if (g->compress) {
    cr_expect_eq(ch->n_compress, 2, "%s: %zu algorithms", g->comment,
                 ch->n_compress);
    cr_expect(ch->compress[0] == 2 && ch->compress[1] == 1,
              "%s: algorithms %u %u, want brotli 2, zlib 1", g->comment,
              ch->compress[0], ch->compress[1]);
  }
}

static void
check_server(const gcase_t *g, const pw_tls_t *r, const certgen_chain_t *c,
             uint64_t hold)
{
  const pw_tls_server_hello_t *sh = pw_tls_server_hello(r);
  const unsigned char *der;
  size_t i, len;

  cr_expect_eq(pw_tls_hold_offset(r), hold, "%s: hold at %llu, want %llu",
               g->comment, (unsigned long long) pw_tls_hold_offset(r),
               (unsigned long long) hold);
  cr_expect_eq(pw_tls_cert_count(r), (size_t) g->certs,
               "%s: %zu certificates, want %d", g->comment,
               pw_tls_cert_count(r), g->certs);
  for (i = 0; i < (size_t) g->certs && i < pw_tls_cert_count(r); i++) {
    der = pw_tls_cert(r, i, &len);
    cr_expect(len == c->len[i] && memcmp(der, c->der[i], len) == 0,
              "%s: certificate %zu of %zu octets is not the one sent "
              "(%zu)", g->comment, i, len, c->len[i]);
  }

  if (g->stage == PW_TLS_ALERT) {
    uint8_t level = 0, desc = 0;

    cr_expect_eq(pw_tls_alert(r, &level, &desc), PW_OK, "%s: no alert",
                 g->comment);
    cr_expect(level == 2 && desc == 40, "%s: alert %u %u, want 2 40",
              g->comment, level, desc);
  }
  if (g->stage == PW_TLS_HELLO_RETRY || g->stage == PW_TLS_ALERT) {
    cr_expect_null(sh, "%s: a ServerHello where none was", g->comment);
    return;
  }
  cr_assert_not_null(sh, "%s: no ServerHello", g->comment);
  cr_expect_eq(sh->version, g->v13 ? PW_TLS_V1_3 : PW_TLS_V1_2,
               "%s: version 0x%04x", g->comment, sh->version);
  cr_expect_eq(sh->random[31], 0x40 + 31, "%s: random[31] 0x%02x",
               g->comment, sh->random[31]);
  cr_expect_eq(sh->suite, g->v13 ? 0x1301 : 0xc02f, "%s: suite 0x%04x",
               g->comment, sh->suite);
  cr_expect_eq(sh->retried, g->input == IN_HRR_CCS_SH13,
               "%s: retried %d", g->comment, sh->retried);
}

ParameterizedTest(size_t *i, tls, good)
{
  const gcase_t *g = &GOOD[*i];
  pw_tls_t *r = pw_tls_new(g->dir);
  pw_err_t err = { 0 };
  uint64_t hold;
  bb_t in = { 0 };
  certgen_chain_t c;
  int rc;

  cr_assert_not_null(r);
  cr_assert_eq(certgen_chain_make(&c), 0, "certgen_chain_make");
  build(g->input, &c, &in, &hold);

  rc = feed(r, &in, g->chunk, &err);
  cr_assert_eq(rc, PW_OK, "%s: %s (%s)", g->comment, pw_err_name(rc),
               err.msg);
  cr_expect_eq(pw_tls_stage(r), g->stage, "%s: stage %d, want %d",
               g->comment, pw_tls_stage(r), g->stage);
  cr_expect_eq(pw_tls_offset(r), in.n, "%s: offset %llu, want %zu",
               g->comment, (unsigned long long) pw_tls_offset(r), in.n);
  if (g->dir == C)
    check_client(g, r);
  else
    check_server(g, r, &c, hold);

  free(in.p);
  certgen_chain_free(&c);
  pw_tls_free(r);
}

/* Bad inputs */

typedef struct bcase {
  char         comment[64];
  input_t      input;
  pw_tls_dir_t dir;
  int          code;
  char         msg[64];    /* a part of err.msg */
} bcase_t;

static const bcase_t BAD[] = {
  /* Records. */
  { "a record over 2^14 + 256", IN_REC_OVER, S, PW_ETOOBIG,
    "record of 16641 octets is over the cap of 16640" },
  { "a handshake record over 2^14", IN_REC_PLAIN_OVER, C, PW_ETOOBIG,
    "handshake record of 16385 octets is over the plaintext cap" },
  { "content type 24", IN_REC_TYPE_24, C, PW_EINVAL,
    "content type 24 is not one of TLS's" },
  { "record version 0x0200", IN_REC_VERSION, C, PW_EINVAL,
    "record version 0x0200" },
  { "an empty handshake record", IN_REC_EMPTY, C, PW_EINVAL,
    "empty handshake record" },
  { "client: an alert as the first record", IN_FIRST_ALERT, C, PW_EINVAL,
    "first record is alert (content type 21), not a handshake" },
  { "server: application data first", IN_APPDATA_FIRST, S, PW_EINVAL,
    "application_data record before the handshake" },
  { "server: CCS with no HelloRetryRequest", IN_CCS_FIRST, S, PW_EINVAL,
    "change_cipher_spec record before the ServerHello" },
  { "an alert record of three octets", IN_ALERT_LONG, S, PW_EINVAL,
    "alert record of 3 octets" },

  /* Handshake framing. */
  /* RFC 8446 5.1 lets a message span records, but not an alert's. */
  { "handshake length past its record, then an alert", IN_CH_HS_PAST, C,
    PW_EINVAL, "alert record inside a handshake message" },
  { "a handshake message over 64 KiB", IN_CH_HS_64K, C, PW_ETOOBIG,
    "handshake message of 65537 octets is over the cap" },
  { "client: a ServerHello first", IN_SERVER_HELLO_FIRST, C, PW_EINVAL,
    "first handshake message is type 2, not a ClientHello" },

  /* ClientHello. */
  { "cipher_suites length past the message", IN_CH_SUITES_PAST, C,
    PW_EINVAL, "ClientHello cipher_suites: length 65286 runs past" },
  { "extension length past the extensions", IN_CH_EXT_PAST, C, PW_EINVAL,
    "extension 21: length 5 runs past the 4 octets left" },
  { "octets after the extensions", IN_CH_EXTS_SHORT, C, PW_EINVAL,
    "ClientHello: 8 octets after the extensions" },
  { "SNI list length one short", IN_CH_SNI_LIST, C, PW_EINVAL,
    "server_name: list length 17, the extension holds 18" },
  { "SNI host_name with a NUL", IN_CH_SNI_NUL, C, PW_EINVAL,
    "host_name has octet 0x00 at offset 15" },
  { "server_name twice", IN_CH_DUP, C, PW_EINVAL,
    "extension 0 appears twice" },
  { "a session id of 33 octets", IN_CH_SID_33, C, PW_EINVAL,
    "legacy_session_id of 33 octets is over 32" },
  { "a message after the ClientHello in its record", IN_CH_TRAILING, C,
    PW_EINVAL, "ClientHello is followed by 4 octets" },

  /* ServerHello. */
  { "supported_versions selecting TLS 1.2", IN_SH_SELECTED_12, S,
    PW_EINVAL, "selected_version 0x0303 is not TLS 1.3" },
  { "compression method 1", IN_SH_COMPRESSED, S, PW_EINVAL,
    "compression_method 1 is not null" },
  { "a second HelloRetryRequest", IN_HRR_TWICE, S, PW_EINVAL,
    "a second HelloRetryRequest" },
  { "TLS 1.3 ServerHello sharing its record", IN_SH13_SHARED, S,
    PW_EINVAL, "shares its record with 6 more octets" },

  /* Certificate. */
  { "a zero-length certificate", IN_CERT_EMPTY_ENTRY, S, PW_EINVAL,
    "certificate 2 is empty" },
  { "certificate_list one longer than the message", IN_CERT_LIST_PAST, S,
    PW_EINVAL, "certificate_list: length" },
  { "certificate_list one shorter than the message", IN_CERT_LIST_SHORT,
    S, PW_EINVAL, "certificate_list length" },
  { "seventeen certificates", IN_CERT_17, S, PW_ETOOBIG,
    "more than 16 certificates" },
  { "an empty certificate_list", IN_CERT_NONE, S, PW_EINVAL,
    "holds no certificate" },
};

ParameterizedTestParameters(tls, bad)
{
  return case_indices(NCASES(BAD));
}

ParameterizedTest(size_t *i, tls, bad)
{
  const bcase_t *b = &BAD[*i];
  size_t chunks[] = { 0, 1 };
  pw_err_t err;
  uint64_t hold;
  bb_t in = { 0 };
  pw_tls_t *r;
  certgen_chain_t c;
  size_t k;
  int rc;

  cr_assert_eq(certgen_chain_make(&c), 0, "certgen_chain_make");
  build(b->input, &c, &in, &hold);

  /* Whole and one octet at a time: the same error either way. */
  for (k = 0; k < NCASES(chunks); k++) {
    r = pw_tls_new(b->dir);
    cr_assert_not_null(r);
    memset(&err, 0, sizeof(err));
    rc = feed(r, &in, chunks[k], &err);
    cr_expect_eq(rc, b->code, "%s (chunk %zu): %s, want %s (%s)",
                 b->comment, chunks[k], pw_err_name(rc),
                 pw_err_name(b->code), err.msg);
    cr_expect_not_null(strstr(err.msg, b->msg),
                       "%s (chunk %zu): err.msg '%s' does not hold '%s'",
                       b->comment, chunks[k], err.msg, b->msg);

    /* A failed reader stays failed. */
    rc = pw_tls_feed(r, "\x16", 1, &err);
    cr_expect_eq(rc, b->code, "%s: a later feed gave %s", b->comment,
                 pw_err_name(rc));
    pw_tls_free(r);
  }

  free(in.p);
  certgen_chain_free(&c);
}

/* The first bytes of a tunnel */

typedef struct probe {
  char           comment[48];
  unsigned char  bytes[9];
  size_t         len;
  pw_tls_probe_t want;
} probe_t;

static const probe_t PROBES[] = {
  { "a ClientHello, TLS 1.0 record", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc",
    9, PW_TLS_PROBE_YES },
  { "a ClientHello, TLS 1.2 record", "\x16\x03\x03\x00\x80\x01\x00\x00\x7c",
    9, PW_TLS_PROBE_YES },
  { "six octets: the length unread", "\x16\x03\x01\x02\x00\x01", 6,
    PW_TLS_PROBE_MORE },
  { "nothing", "", 0, PW_TLS_PROBE_MORE },
  { "HTTP", "GET / HTT", 9, PW_TLS_PROBE_NO },
  { "one octet of HTTP", "G", 1, PW_TLS_PROBE_NO },
  { "SSL 2.0 record version", "\x16\x02\x00", 3, PW_TLS_PROBE_NO },
  { "record version 0x0304", "\x16\x03\x04\x00\x80\x01", 6,
    PW_TLS_PROBE_NO },
  { "a ServerHello", "\x16\x03\x03\x00\x80\x02\x00\x00\x7c", 9,
    PW_TLS_PROBE_NO },
  { "an alert", "\x15\x03\x03\x00\x02\x02\x28", 7, PW_TLS_PROBE_NO },
  { "an empty record", "\x16\x03\x01\x00\x00\x01", 6, PW_TLS_PROBE_NO },
  { "a record over 2^14", "\x16\x03\x01\x40\x01\x01", 6, PW_TLS_PROBE_NO },
  { "a ClientHello of 10 octets", "\x16\x03\x01\x00\x0e\x01\x00\x00\x0a",
    9, PW_TLS_PROBE_NO },
  { "a ClientHello over 64 KiB", "\x16\x03\x01\x40\x00\x01\x01\x00\x01", 9,
    PW_TLS_PROBE_NO },
  { "a record of 2 octets: the header is split",
    "\x16\x03\x01\x00\x02\x01\x00", 7, PW_TLS_PROBE_YES },
};

ParameterizedTestParameters(tls, looks_like_client_hello)
{
  return case_indices(NCASES(PROBES));
}

ParameterizedTest(size_t *i, tls, looks_like_client_hello)
{
  const probe_t *p = &PROBES[*i];
  pw_tls_probe_t got = pw_tls_looks_like_client_hello(p->bytes, p->len);

  cr_expect_eq(got, p->want, "%s: %d, want %d", p->comment, got, p->want);
}

/* A real ClientHello */

/*
 * What OpenSSL's client writes first, through memory BIOs: SSL_connect
 * returns wanting to read, and the write BIO holds the ClientHello.
 */
static bb_t
openssl_client_hello(void)
{
  BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  bb_t out = { 0 };
  char *mem;
  long len;
  SSL *ssl;
  int rc;

  cr_assert(rbio != NULL && wbio != NULL && ctx != NULL);
  ssl = SSL_new(ctx);
  cr_assert_not_null(ssl);
  cr_assert(SSL_set_tlsext_host_name(ssl, "www.example.com"));
  SSL_set_bio(ssl, rbio, wbio);

  rc = SSL_connect(ssl);
  cr_assert_eq(SSL_get_error(ssl, rc), SSL_ERROR_WANT_READ,
               "SSL_connect: %d", SSL_get_error(ssl, rc));
  len = BIO_get_mem_data(wbio, &mem);
  cr_assert_gt(len, 0, "no ClientHello written");
  put(&out, mem, (size_t) len);

  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

Test(tls, openssl_client_hello)
{
  const pw_tls_client_hello_t *ch;
  bb_t in = openssl_client_hello();
  size_t chunks[] = { 0, 1, 100 }, k, i;
  pw_err_t err = { 0 };
  pw_tls_t *r;
  int v13;

  cr_expect_eq(pw_tls_looks_like_client_hello(in.p, in.n), PW_TLS_PROBE_YES,
               "the probe does not see a ClientHello");

  for (k = 0; k < NCASES(chunks); k++) {
    r = pw_tls_new(PW_TLS_FROM_CLIENT);
    cr_assert_not_null(r);
    cr_assert_eq(feed(r, &in, chunks[k], &err), PW_OK, "chunk %zu: %s",
                 chunks[k], err.msg);
    cr_assert_eq(pw_tls_stage(r), PW_TLS_CLIENT_HELLO, "chunk %zu: stage %d",
                 chunks[k], pw_tls_stage(r));

    ch = pw_tls_client_hello(r);
    cr_expect_str_eq(ch->sni, "www.example.com", "SNI '%s'", ch->sni);
    cr_expect_eq(sizeof(ch->random), 32, "random of %zu octets",
                 sizeof(ch->random));
    cr_expect_gt(ch->n_suites, 0, "no cipher suites");
    for (v13 = 0, i = 0; i < ch->n_versions; i++)
      v13 |= ch->versions[i] == PW_TLS_V1_3;
    cr_expect(ch->has_versions && v13, "TLS 1.3 is not offered");
    pw_tls_free(r);
  }

  /* The random is the one OpenSSL wrote after the headers (9 octets). */
  r = pw_tls_new(PW_TLS_FROM_CLIENT);
  cr_assert_eq(pw_tls_feed(r, in.p, in.n, &err), PW_OK, "%s", err.msg);
  cr_expect(memcmp(pw_tls_client_hello(r)->random, in.p + 11, 32) == 0,
            "client_random is not the octets sent");
  pw_tls_free(r);
  free(in.p);
}

/* The offsets: bytes after a final stage are counted, never looked at. */
Test(tls, bytes_after_final_stage)
{
  static const char junk[] = "not TLS at all";
  pw_err_t err = { 0 };
  uint64_t hold;
  bb_t in = { 0 };
  pw_tls_t *r;
  certgen_chain_t c;

  cr_assert_eq(certgen_chain_make(&c), 0, "certgen_chain_make");
  build(IN_SH13, &c, &in, &hold);
  r = pw_tls_new(PW_TLS_FROM_SERVER);
  cr_assert_eq(pw_tls_feed(r, in.p, in.n, &err), PW_OK, "%s", err.msg);
  cr_assert_eq(pw_tls_feed(r, junk, sizeof(junk), &err), PW_OK, "%s",
               err.msg);
  cr_expect_eq(pw_tls_offset(r), in.n + sizeof(junk), "offset %llu",
               (unsigned long long) pw_tls_offset(r));
  cr_expect_eq(pw_tls_hold_offset(r), hold, "hold %llu, want %llu",
               (unsigned long long) pw_tls_hold_offset(r),
               (unsigned long long) hold);

  pw_tls_free(r);
  pw_tls_free(NULL);
  free(in.p);
  certgen_chain_free(&c);
}
