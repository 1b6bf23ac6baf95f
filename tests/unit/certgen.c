#include "certgen.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rsa.h>
#include <openssl/x509v3.h>

EVP_PKEY *
certgen_key(certgen_key_t kind)
{
  switch (kind) {
  case CERTGEN_RSA_2048:
    return EVP_RSA_gen(2048);
  case CERTGEN_RSA_1024:
    return EVP_RSA_gen(1024);
  case CERTGEN_EC_P256:
    break;
  }
  return EVP_EC_gen("P-256");
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509_EXTENSION *ext;
  int ok;

  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (ext == NULL)
    return 0;
  ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

X509 *
certgen_cert(const certgen_spec_t *spec, EVP_PKEY **key)
{
  static long serial = 1000;
  char san[1024];
  X509 *x = X509_new(), *issuer;
  EVP_PKEY *k = certgen_key(spec->key), *ikey;
  X509_NAME *name;
  const char *p, *comma;
  size_t len, start;

  if (x == NULL || k == NULL)
    goto fail;
  issuer = spec->issuer != NULL ? spec->issuer : x;
  ikey = spec->issuer_key != NULL ? spec->issuer_key : k;

  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  ASN1_TIME_set(X509_getm_notBefore(x), (time_t) spec->not_before);
  ASN1_TIME_set(X509_getm_notAfter(x), (time_t) spec->not_after);
  X509_set_pubkey(x, k);

  name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *) spec->cn, -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(issuer));

  add_ext(x, issuer, NID_subject_key_identifier, "hash");
  if (spec->issuer != NULL)
    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");

  if (spec->ca) {
    add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
    add_ext(x, issuer, NID_ext_key_usage,
            spec->eku != NULL ? spec->eku : "serverAuth");
  }
  if (spec->aia != NULL && !add_ext(x, issuer, NID_info_access, spec->aia))
    goto fail;

  len = start = (size_t) snprintf(san, sizeof(san), "%s",
                                  spec->san_critical ? "critical," : "");
  for (p = spec->dns; p != NULL && *p != '\0'; p = comma + 1) {
    comma = strchr(p, ',');
    len += (size_t) snprintf(san + len, sizeof(san) - len, "%sDNS:%.*s",
                             len > start ? "," : "",
                             (int) (comma ? (size_t) (comma - p)
                                          : strlen(p)), p);
    if (comma == NULL)
      break;
  }
  if (spec->ip != NULL)
    len += (size_t) snprintf(san + len, sizeof(san) - len, "%sIP:%s",
                             len > start ? "," : "", spec->ip);
  if ((spec->dns != NULL || spec->ip != NULL)
      && !add_ext(x, issuer, NID_subject_alt_name, san))
    goto fail;

  if (!X509_sign(x, ikey, EVP_get_digestbyname(spec->md ? spec->md
                                                         : "SHA256")))
    goto fail;

  *key = k;
  return x;

fail:
  X509_free(x);
  EVP_PKEY_free(k);
  return NULL;
}

int
certgen_pki(certgen_pki_t *pki)
{
  return certgen_pki_key(pki, CERTGEN_EC_P256);
}

int
certgen_pki_key(certgen_pki_t *pki, certgen_key_t kind)
{
  certgen_spec_t root = {
    .cn = "Test Root", .ca = 1, .key = kind,
    .not_before = CERTGEN_NOW - 86400 * 365,
    .not_after = CERTGEN_NOW + 86400 * 3650,
  };
  certgen_spec_t inter = root, leaf = root;

  memset(pki, 0, sizeof(*pki));
  pki->root = certgen_cert(&root, &pki->root_key);
  if (pki->root == NULL)
    return -1;

  inter.cn = "Test Intermediate";
  inter.issuer = pki->root;
  inter.issuer_key = pki->root_key;
  pki->inter = certgen_cert(&inter, &pki->inter_key);
  if (pki->inter == NULL)
    return -1;

  leaf.cn = "www.example.com";
  leaf.dns = "www.example.com,example.com";
  leaf.ca = 0;
  leaf.not_after = CERTGEN_NOW + 86400 * 365;
  leaf.issuer = pki->inter;
  leaf.issuer_key = pki->inter_key;
  pki->leaf = certgen_cert(&leaf, &pki->leaf_key);
  return pki->leaf != NULL ? 0 : -1;
}

void
certgen_pki_free(certgen_pki_t *pki)
{
  X509_free(pki->root);
  X509_free(pki->inter);
  X509_free(pki->leaf);
  EVP_PKEY_free(pki->root_key);
  EVP_PKEY_free(pki->inter_key);
  EVP_PKEY_free(pki->leaf_key);
  memset(pki, 0, sizeof(*pki));
}

STACK_OF(X509) *
certgen_stack(X509 *first, ...)
{
  STACK_OF(X509) *sk = sk_X509_new_null();
  va_list ap;
  X509 *x;

  va_start(ap, first);
  for (x = first; x != NULL; x = va_arg(ap, X509 *)) {
    X509_up_ref(x);
    sk_X509_push(sk, x);
  }
  va_end(ap);
  return sk;
}

int
certgen_chain_make(certgen_chain_t *c)
{
  int n;

  memset(c, 0, sizeof(*c));
  if (certgen_pki(&c->pki) != 0)
    return -1;

  n = i2d_X509(c->pki.leaf, &c->der[0]);
  if (n <= 0)
    return -1;
  c->len[0] = (size_t) n;

  n = i2d_X509(c->pki.inter, &c->der[1]);
  if (n <= 0)
    return -1;
  c->len[1] = (size_t) n;
  return 0;
}

void
certgen_chain_free(certgen_chain_t *c)
{
  OPENSSL_free(c->der[0]);
  OPENSSL_free(c->der[1]);
  certgen_pki_free(&c->pki);
}
