/*
 * The Web PKI's rules that OpenSSL 3.0 does not keep, as the CA/Browser
 * Forum Baseline Requirements (BR) state them for subscriber
 * certificates.  Rules that hold the trust anchor itself to the BR
 * (a root's extended key usage, its key identifiers) are left out: an
 * anchor is trusted as the user or the system installed it.  So is the
 * BR's rule that a subject CN repeat one of the subjectAltName entries:
 * it binds CAs at issuance, browsers do not hold a chain to it, and the
 * CN is never read as a name here anyway.
 */
#include "engine/webpki.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <libpsl.h>
#include <openssl/x509v3.h>

/* Serial numbers are at most 20 octets (RFC 5280 section 4.1.2.2). */
#define SERIAL_MAX 20

/*
 * RFC 1034 preferred name syntax with an optional "*." first label: what
 * the BR allow in a dNSName.
 */
static bool
san_dns_valid(const ASN1_IA5STRING *s)
{
  const unsigned char *p = s->data;
  int i, n = s->length, label = 0;

  if (n >= 2 && p[0] == '*' && p[1] == '.') {
    p += 2;
    n -= 2;
  }
  if (n == 0 || n > 253)
    return false;

  for (i = 0; i < n; i++) {
    if (p[i] == '.') {
      if (label == 0 || p[i - 1] == '-')
        return false;
      label = 0;
      continue;
    }
    if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
          || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
      return false;
    if (label == 0 && p[i] == '-')
      return false;
    if (++label > 63)
      return false;
  }
  return label > 0 && p[n - 1] != '-';
}

/*
 * Key types and sizes the Web PKI allows: RSA with a modulus that is a
 * whole number of octets, EC on P-256, P-384 or P-521, Ed25519.  DSA
 * left the Web PKI long ago.  OpenSSL's auth level already refuses RSA
 * under 2048 bits.
 */
static const char *
key_problem(X509 *x)
{
  EVP_PKEY *pk = X509_get0_pubkey(x);
  char curve[64];
  size_t len;

  if (pk == NULL)
    return "a certificate's public key does not parse";

  switch (EVP_PKEY_get_base_id(pk)) {
  case EVP_PKEY_RSA:
    if (EVP_PKEY_get_bits(pk) % 8 != 0)
      return "an RSA modulus is not a whole number of octets";
    return NULL;

  case EVP_PKEY_EC:
    if (!EVP_PKEY_get_utf8_string_param(pk, "group", curve, sizeof(curve),
                                        &len))
      return "an EC key has no named curve";
    if (strcmp(curve, "prime256v1") != 0 && strcmp(curve, "secp384r1") != 0
        && strcmp(curve, "secp521r1") != 0)
      return "an EC key is not on P-256, P-384 or P-521";
    return NULL;

  case EVP_PKEY_ED25519:
    return NULL;

  case EVP_PKEY_DSA:
    return "a DSA key is not allowed on the Web PKI";
  }
  return "a public key type is not allowed on the Web PKI";
}

/* ---- the public suffix list ----------------------------------------- */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl;

/*
 * The newer of libpsl's built-in list and the system's (Debian's
 * publicsuffix package), loaded once and kept for the process's life:
 * it is read-only, so every thread may share it.
 */
static void
psl_load(void)
{
  psl = psl_latest(NULL);
  if (psl == NULL)
    psl = psl_builtin();
}

/*
 * BR 3.2.2.6: no wildcard right above a registry-controlled suffix
 * ("*.co.uk").  The ICANN part of the list only, as browsers do: a
 * private suffix's owner may hold a wildcard for its own namespace
 * ("*.s3.amazonaws.com" is Amazon's to have).  The list's implicit "*"
 * rule is not applied either, so that "*.corp" of a private root stays
 * a matter for that root.  Without a list, no wildcard is refused here.
 */
static bool
wildcard_on_suffix(const ASN1_IA5STRING *s)
{
  char name[254];
  int i, n = s->length - 2;

  if (s->length < 3 || s->data[0] != '*' || s->data[1] != '.'
      || n >= (int) sizeof(name))
    return false;
  for (i = 0; i < n; i++) {
    name[i] = (char) s->data[i + 2];
    if (name[i] >= 'A' && name[i] <= 'Z')
      name[i] = (char) (name[i] - 'A' + 'a');
  }
  name[n] = '\0';

  pthread_once(&psl_once, psl_load);
  return psl != NULL
         && psl_is_public_suffix2(psl, name, PSL_TYPE_ICANN
                                             | PSL_TYPE_NO_STAR_RULE) == 1;
}

/* ---- the leaf's names ----------------------------------------------- */

/* The extension of nid in x is there and critical. */
static bool
critical(X509 *x, int nid)
{
  int at = X509_get_ext_by_NID(x, nid, -1);

  return at >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, at));
}

/* The BR: an authorityInfoAccess holds one or more AccessDescriptions. */
static bool
aia_empty(X509 *x)
{
  AUTHORITY_INFO_ACCESS *aia;
  int crit = 0;
  bool empty;

  if (X509_get_ext_by_NID(x, NID_info_access, -1) < 0)
    return false;
  aia = X509_get_ext_d2i(x, NID_info_access, &crit, NULL);
  empty = aia == NULL || sk_ACCESS_DESCRIPTION_num(aia) == 0;
  AUTHORITY_INFO_ACCESS_free(aia);
  return empty;
}

static const char *
leaf_names(X509 *leaf, pw_host_kind_t kind, pw_reason_t *reason)
{
  const char *problem = NULL;
  GENERAL_NAMES *sans;
  int i, dns = 0;

  sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
  *reason = PW_REASON_BAD_CHAIN;
  for (i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
    GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

    if (gn->type != GEN_DNS)
      continue;
    dns++;
    if (!san_dns_valid(gn->d.dNSName)) {
      problem = "a subjectAltName DNS name is not a valid host name";
      goto done;
    }
    if (wildcard_on_suffix(gn->d.dNSName)) {
      problem = "a subjectAltName wildcard stands right above a public "
                "suffix";
      goto done;
    }
  }

  /* A name matched, yet the leaf has no DNS name: it was the CN. */
  if (kind == PW_HOST_NAME && dns == 0) {
    *reason = PW_REASON_HOSTNAME_MISMATCH;
    problem = "the leaf names hosts in its subject CN only, never read";
    goto done;
  }

  /* The BR: a subjectAltName is critical only when the subject is empty. */
  if (critical(leaf, NID_subject_alt_name)
      && X509_NAME_entry_count(X509_get_subject_name(leaf)) > 0) {
    problem = "the leaf's subjectAltName is critical beside a subject";
    goto done;
  }

done:
  GENERAL_NAMES_free(sans);
  return problem;
}

/* ---- the chain ------------------------------------------------------ */

const char *
pw_webpki_problem(STACK_OF(X509) *chain, pw_host_kind_t kind,
                  pw_reason_t *reason)
{
  X509 *leaf = sk_X509_value(chain, 0);
  const ASN1_INTEGER *serial;
  const char *problem;
  uint32_t xku;
  int i, n = sk_X509_num(chain);

  for (i = 0; i < n; i++) {
    X509 *x = sk_X509_value(chain, i);

    *reason = PW_REASON_BAD_CHAIN;
    if (X509_get_version(x) != X509_VERSION_3)
      return "a certificate is not v3";
    *reason = PW_REASON_WEAK_KEY;
    if ((problem = key_problem(x)) != NULL)
      return problem;
    *reason = PW_REASON_BAD_CHAIN;
    if (i < n - 1 && aia_empty(x))
      return "a certificate's authority information access is empty";
  }

  *reason = PW_REASON_BAD_PURPOSE;
  if (X509_get_extension_flags(leaf) & EXFLAG_CA)
    return "the leaf is a CA certificate";

  /*
   * BR 7.1.2.7.10: serverAuth named, anyExtendedKeyUsage not; and the
   * extension is never critical.
   */
  xku = X509_get_extended_key_usage(leaf);
  if (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE)
      || !(xku & XKU_SSL_SERVER))
    return "the leaf's extended key usage does not name serverAuth";
  if (xku & XKU_ANYEKU)
    return "the leaf's extended key usage names anyExtendedKeyUsage";
  *reason = PW_REASON_BAD_CHAIN;
  if (critical(leaf, NID_ext_key_usage))
    return "the leaf's extended key usage is critical";

  serial = X509_get0_serialNumber(leaf);
  if (serial->type == V_ASN1_NEG_INTEGER || serial->length > SERIAL_MAX
      || ASN1_INTEGER_get(serial) == 0)
    return "the leaf's serial number is not a positive 20-octet integer";

  return leaf_names(leaf, kind, reason);
}
