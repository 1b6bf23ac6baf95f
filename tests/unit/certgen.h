/*
 * Certificates for tests, made in memory with OpenSSL: a root, an
 * intermediate and a leaf by default, each property adjustable so a
 * table of cases can say what is wrong with its chain.
 */
#ifndef PW_CERTGEN_H
#define PW_CERTGEN_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef enum certgen_key {
  CERTGEN_EC_P256 = 0,
  CERTGEN_RSA_2048,
  CERTGEN_RSA_1024
} certgen_key_t;

typedef struct certgen_spec {
  const char     *cn;
  const char     *dns;         /* comma-separated SAN DNS names, or NULL */
  const char     *ip;          /* one SAN IP address, or NULL */
  int             ca;          /* basicConstraints CA:TRUE */
  certgen_key_t   key;
  int64_t         not_before;  /* Unix seconds */
  int64_t         not_after;
  const char     *md;          /* "SHA256" unless set, e.g. "SHA1" */
  const char     *eku;         /* a leaf's EKU, "serverAuth" unless set */
  int             san_critical;
  const char     *aia;         /* an authorityInfoAccess, as openssl.cnf */
  X509           *issuer;      /* NULL: self-signed */
  EVP_PKEY       *issuer_key;
} certgen_spec_t;

/* The time every generated certificate is valid around: 2026-01-01. */
#define CERTGEN_NOW 1767225600

EVP_PKEY *certgen_key(certgen_key_t kind);

/* Signs a certificate per spec with a new key, returned in *key. */
X509 *certgen_cert(const certgen_spec_t *spec, EVP_PKEY **key);

/*
 * A ready chain: root (CA), intermediate (CA) and a leaf for
 * "www.example.com" and "example.com", valid one year either side of
 * CERTGEN_NOW.  Tests adjust copies of the specs to break one thing.
 */
typedef struct certgen_pki {
  X509     *root, *inter, *leaf;
  EVP_PKEY *root_key, *inter_key, *leaf_key;
} certgen_pki_t;

int certgen_pki(certgen_pki_t *pki);

/* The same chain with every key of the given kind. */
int certgen_pki_key(certgen_pki_t *pki, certgen_key_t kind);
void certgen_pki_free(certgen_pki_t *pki);

/* certgen_pki() with the DER of the chain a server sends: leaf, inter. */
typedef struct certgen_chain {
  certgen_pki_t  pki;
  unsigned char *der[3];     /* the third stays NULL */
  size_t         len[3];
} certgen_chain_t;

/* 0, or -1 (certgen_chain_free still cleans up). */
int certgen_chain_make(certgen_chain_t *c);
void certgen_chain_free(certgen_chain_t *c);

/* A stack of the given certificates, NULL-terminated; up-refs each. */
STACK_OF(X509) *certgen_stack(X509 *first, ...);

#endif
