#include "engine/verify.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "engine/webpki.h"

struct pw_verifier {
  X509_STORE *store;
  bool        partial;   /* any given root may be an anchor */
  uint64_t    revision;
};

static atomic_uint_fast64_t verifier_revisions = 1;

int
pw_verifier_new(pw_verifier_t **out, pw_err_t *err)
{
  pw_verifier_t *v;

  *out = NULL;
  v = calloc(1, sizeof(*v));
  if (v == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  v->revision = atomic_fetch_add(&verifier_revisions, 1);

  ERR_clear_error();
  v->store = X509_STORE_new();
  if (v->store == NULL || !X509_STORE_set_default_paths(v->store)) {
    pw_err_set(err, PW_ECRYPTO, "cannot load the system trust store");
    pw_err_add_openssl(err);
    pw_verifier_free(v);
    return PW_ECRYPTO;
  }

  *out = v;
  return PW_OK;
}

static int
verifier_with_roots(pw_verifier_t **out, const unsigned char *buf,
                    size_t len, bool system, pw_err_t *err)
{
  STACK_OF(X509) *roots = NULL;
  pw_verifier_t *v = NULL;
  int i, ret;

  *out = NULL;
  ret = pw_pins_load_certs(buf, len, &roots, err);
  if (ret != PW_OK)
    goto done;

  v = calloc(1, sizeof(*v));
  if (v == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  v->partial = true;
  v->revision = atomic_fetch_add(&verifier_revisions, 1);

  ERR_clear_error();
  v->store = X509_STORE_new();
  if (v->store == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  if (system && !X509_STORE_set_default_paths(v->store)) {
    ret = pw_err_set(err, PW_ECRYPTO, "cannot load the system trust store");
    pw_err_add_openssl(err);
    goto done;
  }
  for (i = 0; i < sk_X509_num(roots); i++) {
    if (!X509_STORE_add_cert(v->store, sk_X509_value(roots, i))) {
      ret = pw_err_set(err, PW_ECRYPTO, "cannot add root %d", i + 1);
      pw_err_add_openssl(err);
      goto done;
    }
  }

  *out = v;
  v = NULL;

done:
  pw_verifier_free(v);
  sk_X509_pop_free(roots, X509_free);
  return ret;
}

int
pw_verifier_new_roots(pw_verifier_t **out, const unsigned char *buf,
                      size_t len, pw_err_t *err)
{
  return verifier_with_roots(out, buf, len, false, err);
}

int
pw_verifier_new_extra(pw_verifier_t **out, const unsigned char *buf,
                      size_t len, pw_err_t *err)
{
  return verifier_with_roots(out, buf, len, true, err);
}

uint64_t
pw_verifier_revision(const pw_verifier_t *v)
{
  return v->revision;
}

void
pw_verifier_free(pw_verifier_t *v)
{
  if (v == NULL)
    return;
  X509_STORE_free(v->store);
  free(v);
}

static pw_reason_t
reason_of(int code)
{
  switch (code) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CRL_HAS_EXPIRED:
    return PW_REASON_EXPIRED;

  case X509_V_ERR_CERT_NOT_YET_VALID:
  case X509_V_ERR_CRL_NOT_YET_VALID:
    return PW_REASON_NOT_YET_VALID;

  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return PW_REASON_HOSTNAME_MISMATCH;

  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_CERT_UNTRUSTED:
  case X509_V_ERR_CERT_REJECTED:
    return PW_REASON_UNTRUSTED;

  case X509_V_ERR_EE_KEY_TOO_SMALL:
  case X509_V_ERR_CA_KEY_TOO_SMALL:
    return PW_REASON_WEAK_KEY;

  case X509_V_ERR_CA_MD_TOO_WEAK:
    return PW_REASON_WEAK_SIGNATURE;

  case X509_V_ERR_INVALID_PURPOSE:
    return PW_REASON_BAD_PURPOSE;

  case X509_V_ERR_PERMITTED_VIOLATION:
  case X509_V_ERR_EXCLUDED_VIOLATION:
  case X509_V_ERR_SUBTREE_MINMAX:
  case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
  case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
  case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
    return PW_REASON_NAME_CONSTRAINTS;
  }
  return PW_REASON_BAD_CHAIN;
}

static void
block(pw_decision_t *d, pw_reason_t reason, const char *prefix,
      const char *msg)
{
  d->action = PW_ACTION_BLOCK;
  d->reason = reason;
  snprintf(d->detail, sizeof(d->detail), "%s%s", prefix, msg);
}

static int
record_chain(pw_decision_t *d, STACK_OF(X509) *chain, pw_err_t *err)
{
  char *subject;
  int i, n;

  for (i = 0; (size_t) i < d->nchain; i++)
    free(d->subjects[i]);
  d->nchain = 0;

  n = sk_X509_num(chain);
  for (i = 0; i < n && i < PW_DECISION_MAX_CHAIN; i++) {
    X509 *x = sk_X509_value(chain, i);

    subject = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
    if (subject == NULL)
      return pw_err_set(err, PW_ENOMEM, "out of memory");
    d->subjects[i] = strdup(subject);
    OPENSSL_free(subject);
    if (d->subjects[i] == NULL)
      return pw_err_set(err, PW_ENOMEM, "out of memory");
    d->nchain++;

    /* A key that cannot be hashed is reported, as a zero pin. */
    if (pw_pins_of_cert(&d->chain_pins[i], x, NULL) != PW_OK)
      memset(&d->chain_pins[i], 0, sizeof(d->chain_pins[i]));
  }
  return PW_OK;
}

/* The first moment a certificate of the chain is no longer valid. */
static int64_t
chain_valid_until(STACK_OF(X509) *chain)
{
  int64_t t, until = 0;
  struct tm tm;
  int i;

  for (i = 0; i < sk_X509_num(chain); i++) {
    if (!ASN1_TIME_to_tm(X509_get0_notAfter(sk_X509_value(chain, i)), &tm))
      continue;
    t = (int64_t) timegm(&tm);
    if (until == 0 || t < until)
      until = t;
  }
  return until;
}

static void
openssl_detail(pw_decision_t *d, X509_STORE_CTX *ctx)
{
  int code = X509_STORE_CTX_get_error(ctx);
  unsigned long e;
  size_t len;

  snprintf(d->detail, sizeof(d->detail), "%s (depth %d)",
           X509_verify_cert_error_string(code),
           X509_STORE_CTX_get_error_depth(ctx));

  /* What OpenSSL queued says more than the code, when it queued. */
  while ((e = ERR_get_error()) != 0) {
    len = strlen(d->detail);
    if (len + 4 < sizeof(d->detail)) {
      d->detail[len++] = ';';
      d->detail[len++] = ' ';
      ERR_error_string_n(e, d->detail + len, sizeof(d->detail) - len);
    }
  }
}

static void
apply_pins(pw_decision_t *d, const pw_verify_req_t *req, pw_err_t *err)
{
  const pw_pinset_t *set = NULL;
  size_t i;

  if (req->pins != NULL)
    set = pw_policy_lookup(req->pins, d->host);
  if (set == NULL && req->defaults != NULL)
    set = pw_policy_lookup(req->defaults, d->host);

  d->action = PW_ACTION_ALLOW;
  if (set == NULL) {
    d->reason = PW_REASON_NO_POLICY;
    snprintf(d->detail, sizeof(d->detail),
             "chain is valid; no pin set applies to the host");
    return;
  }

  pw_pinset_pattern(set, d->pattern);
  d->pinset_mode = (int) set->mode;
  d->pinset_expires = set->expires;
  d->warning = pw_pinset_warning(set);

  if (set->expires != 0 && d->at >= set->expires) {
    d->reason = PW_REASON_PINSET_EXPIRED;
    snprintf(d->detail, sizeof(d->detail),
             "chain is valid; the pin set for %s has expired and is not "
             "enforced", d->pattern);
    return;
  }

  /* The HPKP rule (RFC 7469 section 2.6): any key of the valid chain. */
  for (i = 0; i < d->nchain; i++) {
    if (pw_pinset_has_pin(set, &d->chain_pins[i])) {
      d->matched = (int) i;
      d->reason = PW_REASON_OK;
      snprintf(d->detail, sizeof(d->detail),
               "chain is valid and certificate %zu has a pinned key", i);
      return;
    }
  }

  d->reason = PW_REASON_PIN_MISMATCH;
  d->expected = malloc(set->npins * sizeof(*d->expected));
  if (d->expected != NULL) {
    memcpy(d->expected, set->pins, set->npins * sizeof(*d->expected));
    d->nexpected = set->npins;
  } else {
    pw_err_set(err, PW_ENOMEM, "out of memory");
  }

  if (set->mode == PW_MODE_REPORT) {
    d->action = PW_ACTION_REPORT;
    snprintf(d->detail, sizeof(d->detail),
             "no key of the chain is pinned for %s (report only)",
             d->pattern);
  } else {
    d->action = PW_ACTION_BLOCK;
    snprintf(d->detail, sizeof(d->detail),
             "no key of the chain is pinned for %s", d->pattern);
  }
}

int
pw_verify_chain(const pw_verifier_t *v, const pw_verify_req_t *req,
                pw_decision_t *d, pw_err_t *err)
{
  STACK_OF(X509) *untrusted = NULL;
  X509_STORE_CTX *ctx = NULL;
  X509_VERIFY_PARAM *param;
  const char *problem;
  pw_host_kind_t kind;
  pw_reason_t reason;
  pw_err_t e;
  int n, i, ret = PW_OK;

  d->port = req->port != 0 ? req->port : 443;
  d->at = req->at != 0 ? req->at : (int64_t) time(NULL);
  if (req->profile != NULL)
    snprintf(d->profile, sizeof(d->profile), "%s", req->profile);

  if (pw_host_normalize(req->host, d->host, &kind, &e) != PW_OK) {
    snprintf(d->host, sizeof(d->host), "%.*s", 200,
             req->host != NULL ? req->host : "");
    block(d, PW_REASON_BAD_INPUT, "", e.msg);
    goto done;
  }

  n = req->chain != NULL ? sk_X509_num(req->chain) : 0;
  if (n == 0) {
    block(d, PW_REASON_BAD_INPUT, "", "the chain is empty");
    goto done;
  }
  if (n > PW_VERIFY_MAX_CHAIN) {
    block(d, PW_REASON_BAD_CHAIN, "", "the chain is longer than 16");
    goto done;
  }

  /* Until a path is built, the record shows the chain as sent. */
  if ((ret = record_chain(d, req->chain, err)) != PW_OK)
    goto done;

  ctx = X509_STORE_CTX_new();
  untrusted = sk_X509_new_null();
  if (ctx == NULL || untrusted == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  for (i = 1; i < n; i++) {
    if (!sk_X509_push(untrusted, sk_X509_value(req->chain, i))) {
      ret = pw_err_set(err, PW_ENOMEM, "out of memory");
      goto done;
    }
  }

  ERR_clear_error();
  if (!X509_STORE_CTX_init(ctx, v->store, sk_X509_value(req->chain, 0),
                           untrusted)) {
    ret = pw_err_set(err, PW_ECRYPTO, "X509_STORE_CTX_init failed");
    pw_err_add_openssl(err);
    goto done;
  }

  /*
   * The Web PKI profile: TLS server purpose, strict X.509, auth level 2,
   * names from subjectAltName only, wildcards only as a whole label.
   */
  param = X509_STORE_CTX_get0_param(ctx);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_auth_level(param, 2);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  if (v->partial)
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  /* OpenSSL's depth counts intermediates only. */
  if (req->max_path >= 2)
    X509_VERIFY_PARAM_set_depth(param, req->max_path - 2);
  else if (req->max_path == 1)
    X509_VERIFY_PARAM_set_depth(param, 0);
  X509_VERIFY_PARAM_set_time(param, (time_t) d->at);
  /*
   * OpenSSL reads the subject CN only when the leaf has no DNS name in
   * its subjectAltName; pw_webpki_problem() refuses such a leaf, so the CN
   * never names the host.  X509_CHECK_FLAG_NEVER_CHECK_SUBJECT would do
   * that too, but it also stops OpenSSL from holding the CN to the CAs'
   * name constraints, and a CN outside them is a mis-issued certificate.
   */
  X509_VERIFY_PARAM_set_hostflags(param,
                                  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (kind == PW_HOST_NAME)
    i = X509_VERIFY_PARAM_set1_host(param, d->host, 0);
  else
    i = X509_VERIFY_PARAM_set1_ip_asc(param, d->host);
  if (!i) {
    ret = pw_err_set(err, PW_ECRYPTO, "cannot set the host to check");
    pw_err_add_openssl(err);
    goto done;
  }

  if (X509_verify_cert(ctx) <= 0) {
    d->action = PW_ACTION_BLOCK;
    d->reason = reason_of(X509_STORE_CTX_get_error(ctx));
    openssl_detail(d, ctx);
    goto done;
  }
  ERR_clear_error();

  /* From here on the record shows the validated chain, root included. */
  if ((ret = record_chain(d, X509_STORE_CTX_get0_chain(ctx), err))
      != PW_OK)
    goto done;

  d->valid_until = chain_valid_until(X509_STORE_CTX_get0_chain(ctx));

  problem = pw_webpki_problem(X509_STORE_CTX_get0_chain(ctx), kind,
                              &reason);
  if (problem != NULL) {
    block(d, reason, "webpki: ", problem);
    goto done;
  }

  apply_pins(d, req, err);

done:
  sk_X509_free(untrusted);
  X509_STORE_CTX_free(ctx);
  return ret;
}
