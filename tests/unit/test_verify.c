/*
 * Chain verification and the pin rule, on certificates made here.  Each
 * case takes the standard root -> intermediate -> leaf chain, breaks one
 * thing, and names the decision it must get.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <string.h>

#include "certgen.h"
#include "engine/verify.h"

typedef enum breakage {
  B_NONE = 0,
  B_WRONG_HOST,        /* verify for a name the leaf does not hold */
  B_EXPIRED,           /* verify after the leaf's notAfter */
  B_NOT_YET_VALID,     /* verify before the leaf's notBefore */
  B_SELF_SIGNED,       /* the leaf signs itself */
  B_UNKNOWN_ROOT,      /* the chain leads to a root not trusted */
  B_NO_INTERMEDIATE,   /* the server sent the leaf alone */
  B_RSA1024_LEAF,      /* the leaf has an RSA-1024 key */
  B_SHA1_LEAF,         /* the leaf is signed with SHA-1 */
  B_CN_ONLY,           /* the name is in the subject CN, not the SAN */
  B_IP_SAN,            /* the leaf names 192.0.2.7 as an IP SAN */
  B_PARTIAL_WILDCARD,  /* the leaf holds "w*.example.com" */
  B_SUFFIX_WILDCARD,   /* the leaf holds "*.co.uk" */
  B_PRIVATE_WILDCARD,  /* "*.github.io": a private suffix's own */
  B_ANY_EKU,           /* the leaf's EKU adds anyExtendedKeyUsage */
  B_CRITICAL_EKU,      /* the leaf's EKU is critical */
  B_CRITICAL_SAN,      /* a critical SAN beside a subject */
  B_EMPTY_AIA          /* an authorityInfoAccess with no entry */
} breakage_t;

typedef enum pinning {
  P_NONE = 0,
  P_LEAF,              /* the set pins the leaf's key */
  P_INTER,             /* ... the intermediate's */
  P_ROOT,              /* ... the root's */
  P_OTHER,             /* ... a key not on the chain */
  P_BACKUP,            /* an unknown pin first, the leaf's second */
  P_OTHER_REPORT,      /* a key not on the chain, report mode */
  P_OTHER_EXPIRED,     /* a key not on the chain, set expired */
  P_DEFAULTS_OTHER,    /* engine defaults pin another key */
  P_OVERRIDE           /* defaults pin another key; profile the leaf */
} pinning_t;

/*
 * Criterion runs each parameter in a fresh process of its own, where the
 * parent's pointers mean nothing: so the strings live in the struct.
 */
typedef struct vcase {
  char         comment[64];
  breakage_t   breakage;
  pinning_t    pinning;
  char         host[32];
  pw_action_t  action;
  pw_reason_t  reason;
  int          matched;
} vcase_t;

static const char OTHER_PIN[] =
  "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

ParameterizedTestParameters(verify, cases)
{
  static vcase_t cases[] = {
    { "good chain, no pins", B_NONE, P_NONE, "www.example.com",
      PW_ACTION_ALLOW, PW_REASON_NO_POLICY, -1 },
    { "host in upper case with a trailing dot", B_NONE, P_NONE,
      "WWW.Example.COM.", PW_ACTION_ALLOW, PW_REASON_NO_POLICY, -1 },
    { "wrong host", B_WRONG_HOST, P_NONE, "evil.example.net",
      PW_ACTION_BLOCK, PW_REASON_HOSTNAME_MISMATCH, -1 },
    { "expired leaf", B_EXPIRED, P_NONE, "www.example.com",
      PW_ACTION_BLOCK, PW_REASON_EXPIRED, -1 },
    { "leaf not yet valid", B_NOT_YET_VALID, P_NONE, "www.example.com",
      PW_ACTION_BLOCK, PW_REASON_NOT_YET_VALID, -1 },
    { "self-signed leaf", B_SELF_SIGNED, P_NONE, "www.example.com",
      PW_ACTION_BLOCK, PW_REASON_UNTRUSTED, -1 },
    { "unknown root", B_UNKNOWN_ROOT, P_NONE, "www.example.com",
      PW_ACTION_BLOCK, PW_REASON_UNTRUSTED, -1 },
    { "missing intermediate", B_NO_INTERMEDIATE, P_NONE, "www.example.com",
      PW_ACTION_BLOCK, PW_REASON_UNTRUSTED, -1 },
    { "RSA-1024 leaf", B_RSA1024_LEAF, P_NONE, "www.example.com",
      PW_ACTION_BLOCK, PW_REASON_WEAK_KEY, -1 },
    { "SHA-1 signature on the leaf", B_SHA1_LEAF, P_NONE, "www.example.com",
      PW_ACTION_BLOCK, PW_REASON_WEAK_SIGNATURE, -1 },
    { "name only in the CN: never used", B_CN_ONLY, P_NONE,
      "www.example.com", PW_ACTION_BLOCK, PW_REASON_HOSTNAME_MISMATCH, -1 },
    { "IP literal against an IP SAN", B_IP_SAN, P_NONE, "192.0.2.7",
      PW_ACTION_ALLOW, PW_REASON_NO_POLICY, -1 },
    { "IP literal not in the SAN", B_NONE, P_NONE, "192.0.2.7",
      PW_ACTION_BLOCK, PW_REASON_HOSTNAME_MISMATCH, -1 },
    { "partial wildcard is not a wildcard", B_PARTIAL_WILDCARD, P_NONE,
      "www.example.com", PW_ACTION_BLOCK, PW_REASON_HOSTNAME_MISMATCH, -1 },
    { "wildcard above a public suffix", B_SUFFIX_WILDCARD, P_NONE,
      "www.co.uk", PW_ACTION_BLOCK, PW_REASON_BAD_CHAIN, -1 },
    { "wildcard in a private suffix", B_PRIVATE_WILDCARD, P_NONE,
      "pages.github.io", PW_ACTION_ALLOW, PW_REASON_NO_POLICY, -1 },
    { "anyExtendedKeyUsage beside serverAuth", B_ANY_EKU, P_NONE,
      "www.example.com", PW_ACTION_BLOCK, PW_REASON_BAD_PURPOSE, -1 },
    { "critical extended key usage", B_CRITICAL_EKU, P_NONE,
      "www.example.com", PW_ACTION_BLOCK, PW_REASON_BAD_CHAIN, -1 },
    { "critical SAN beside a subject", B_CRITICAL_SAN, P_NONE,
      "www.example.com", PW_ACTION_BLOCK, PW_REASON_BAD_CHAIN, -1 },
    { "empty authority information access", B_EMPTY_AIA, P_NONE,
      "www.example.com", PW_ACTION_BLOCK, PW_REASON_BAD_CHAIN, -1 },
    { "pin on the leaf", B_NONE, P_LEAF, "www.example.com",
      PW_ACTION_ALLOW, PW_REASON_OK, 0 },
    { "pin on the intermediate", B_NONE, P_INTER, "www.example.com",
      PW_ACTION_ALLOW, PW_REASON_OK, 1 },
    { "pin on the root", B_NONE, P_ROOT, "www.example.com",
      PW_ACTION_ALLOW, PW_REASON_OK, 2 },
    { "pin mismatch", B_NONE, P_OTHER, "www.example.com",
      PW_ACTION_BLOCK, PW_REASON_PIN_MISMATCH, -1 },
    { "backup pin matches", B_NONE, P_BACKUP, "www.example.com",
      PW_ACTION_ALLOW, PW_REASON_OK, 0 },
    { "mismatch in report mode", B_NONE, P_OTHER_REPORT, "www.example.com",
      PW_ACTION_REPORT, PW_REASON_PIN_MISMATCH, -1 },
    { "mismatch, set expired", B_NONE, P_OTHER_EXPIRED, "www.example.com",
      PW_ACTION_ALLOW, PW_REASON_PINSET_EXPIRED, -1 },
    { "engine default pins apply", B_NONE, P_DEFAULTS_OTHER,
      "www.example.com", PW_ACTION_BLOCK, PW_REASON_PIN_MISMATCH, -1 },
    { "the profile's set overrides the default", B_NONE, P_OVERRIDE,
      "www.example.com", PW_ACTION_ALLOW, PW_REASON_OK, 0 },
    { "pins do not rescue an invalid chain", B_EXPIRED, P_LEAF,
      "www.example.com", PW_ACTION_BLOCK, PW_REASON_EXPIRED, -1 },
    { "pins for another host do not apply", B_NONE, P_OTHER,
      "example.com", PW_ACTION_ALLOW, PW_REASON_NO_POLICY, -1 },
  };

  return cr_make_param_array(vcase_t, cases,
                             sizeof(cases) / sizeof(cases[0]));
}

static X509 *
remake_leaf(certgen_pki_t *pki, const certgen_spec_t *changes)
{
  EVP_PKEY *key;
  X509 *x = certgen_cert(changes, &key);

  cr_assert_not_null(x, "cannot make the test leaf");
  X509_free(pki->leaf);
  EVP_PKEY_free(pki->leaf_key);
  pki->leaf = x;
  pki->leaf_key = key;
  return x;
}

static void
add_set(pw_policy_t *policy, const char *pattern, pw_pin_mode_t mode,
        int64_t expires, const pw_pin_t *pins, size_t npins)
{
  pw_pinset_t set;
  pw_err_t err;

  memset(&set, 0, sizeof(set));
  strcpy(set.name, pattern);
  set.mode = mode;
  set.expires = expires;
  memcpy(set.pins, pins, npins * sizeof(*pins));
  set.npins = npins;
  cr_assert_eq(pw_policy_add(policy, &set, &err), PW_OK, "%s", err.msg);
}

ParameterizedTest(vcase_t *c, verify, cases)
{
  certgen_spec_t leaf = {
    .cn = "www.example.com", .dns = "www.example.com,example.com",
    .not_before = CERTGEN_NOW - 86400, .not_after = CERTGEN_NOW + 86400,
  };
  pw_policy_t *pins = pw_policy_new(), *defaults = pw_policy_new();
  certgen_pki_t pki, other;
  pw_pin_t p[3], other_pin;
  pw_verifier_t *v = NULL;
  pw_verify_req_t req;
  pw_decision_t d;
  unsigned char *der = NULL;
  X509 *root;
  pw_err_t err;
  int len;

  cr_assert_eq(certgen_pki(&pki), 0);
  memset(&other, 0, sizeof(other));
  root = pki.root;
  leaf.issuer = pki.inter;
  leaf.issuer_key = pki.inter_key;

  switch (c->breakage) {
  case B_NONE:
  case B_WRONG_HOST:
  case B_NO_INTERMEDIATE:
    break;
  case B_EXPIRED:
  case B_NOT_YET_VALID:
    remake_leaf(&pki, &leaf);
    break;
  case B_SELF_SIGNED:
    leaf.issuer = NULL;
    leaf.issuer_key = NULL;
    remake_leaf(&pki, &leaf);
    break;
  case B_UNKNOWN_ROOT:
    cr_assert_eq(certgen_pki(&other), 0);
    root = other.root;
    break;
  case B_RSA1024_LEAF:
    leaf.key = CERTGEN_RSA_1024;
    remake_leaf(&pki, &leaf);
    break;
  case B_SHA1_LEAF:
    leaf.md = "SHA1";
    remake_leaf(&pki, &leaf);
    break;
  case B_CN_ONLY:
    leaf.dns = NULL;
    remake_leaf(&pki, &leaf);
    break;
  case B_IP_SAN:
    leaf.ip = "192.0.2.7";
    remake_leaf(&pki, &leaf);
    break;
  case B_PARTIAL_WILDCARD:
    leaf.dns = "w*.example.com";
    remake_leaf(&pki, &leaf);
    break;
  case B_SUFFIX_WILDCARD:
    leaf.dns = "*.co.uk";
    remake_leaf(&pki, &leaf);
    break;
  case B_PRIVATE_WILDCARD:
    leaf.dns = "*.github.io";
    remake_leaf(&pki, &leaf);
    break;
  case B_ANY_EKU:
    leaf.eku = "serverAuth,anyExtendedKeyUsage";
    remake_leaf(&pki, &leaf);
    break;
  case B_CRITICAL_EKU:
    leaf.eku = "critical,serverAuth";
    remake_leaf(&pki, &leaf);
    break;
  case B_CRITICAL_SAN:
    leaf.san_critical = 1;
    remake_leaf(&pki, &leaf);
    break;
  case B_EMPTY_AIA:
    leaf.aia = "DER:30:00";
    remake_leaf(&pki, &leaf);
    break;
  }

  cr_assert_eq(pw_pins_of_cert(&p[0], pki.leaf, NULL), PW_OK);
  cr_assert_eq(pw_pins_of_cert(&p[1], pki.inter, NULL), PW_OK);
  cr_assert_eq(pw_pins_of_cert(&p[2], pki.root, NULL), PW_OK);
  cr_assert_eq(pw_pins_parse(&other_pin, OTHER_PIN, NULL), PW_OK);

  switch (c->pinning) {
  case P_NONE:
    break;
  case P_LEAF:
  case P_INTER:
  case P_ROOT:
    add_set(pins, "www.example.com", PW_MODE_ENFORCE, 0,
            &p[c->pinning - P_LEAF], 1);
    break;
  case P_OTHER:
    add_set(pins, "www.example.com", PW_MODE_ENFORCE, 0, &other_pin, 1);
    break;
  case P_BACKUP: {
    pw_pin_t two[2] = { other_pin, p[0] };

    add_set(pins, "www.example.com", PW_MODE_ENFORCE, 0, two, 2);
    break;
  }
  case P_OTHER_REPORT:
    add_set(pins, "www.example.com", PW_MODE_REPORT, 0, &other_pin, 1);
    break;
  case P_OTHER_EXPIRED:
    add_set(pins, "www.example.com", PW_MODE_ENFORCE, CERTGEN_NOW - 1,
            &other_pin, 1);
    break;
  case P_DEFAULTS_OTHER:
    add_set(defaults, "www.example.com", PW_MODE_ENFORCE, 0, &other_pin, 1);
    break;
  case P_OVERRIDE:
    add_set(defaults, "www.example.com", PW_MODE_ENFORCE, 0, &other_pin, 1);
    add_set(pins, "www.example.com", PW_MODE_ENFORCE, 0, &p[0], 1);
    break;
  }

  len = i2d_X509(root, &der);
  cr_assert_gt(len, 0);
  cr_assert_eq(pw_verifier_new_roots(&v, der, (size_t) len, &err), PW_OK,
               "%s", err.msg);

  memset(&req, 0, sizeof(req));
  req.host = c->host;
  req.at = CERTGEN_NOW;
  if (c->breakage == B_EXPIRED)
    req.at = CERTGEN_NOW + 2 * 86400;
  if (c->breakage == B_NOT_YET_VALID)
    req.at = CERTGEN_NOW - 2 * 86400;
  req.chain = c->breakage == B_NO_INTERMEDIATE
              ? certgen_stack(pki.leaf, NULL)
              : certgen_stack(pki.leaf, pki.inter, NULL);
  req.pins = pins;
  req.defaults = defaults;

  pw_decision_init(&d);
  cr_assert_eq(pw_verify_chain(v, &req, &d, &err), PW_OK, "%s", err.msg);

  cr_expect_str_eq(pw_action_name(d.action), pw_action_name(c->action),
                   "%s: action %s, want %s (%s)", c->comment,
                   pw_action_name(d.action), pw_action_name(c->action),
                   d.detail);
  cr_expect_str_eq(pw_reason_name(d.reason), pw_reason_name(c->reason),
                   "%s: reason %s, want %s (%s)", c->comment,
                   pw_reason_name(d.reason), pw_reason_name(c->reason),
                   d.detail);
  cr_expect_eq(d.matched, c->matched, "%s: matched %d, want %d", c->comment,
               d.matched, c->matched);

  /* A mismatch names the pins that were expected. */
  if (c->reason == PW_REASON_PIN_MISMATCH)
    cr_expect_gt(d.nexpected, 0, "%s: no expected pins", c->comment);
  if (c->action == PW_ACTION_ALLOW && c->breakage == B_NONE)
    cr_expect_eq(d.nchain, 3, "%s: validated chain has %zu certificates",
                 c->comment, d.nchain);

  pw_decision_clear(&d);
  sk_X509_pop_free(req.chain, X509_free);
  OPENSSL_free(der);
  pw_verifier_free(v);
  pw_policy_free(pins);
  pw_policy_free(defaults);
  certgen_pki_free(&pki);
  certgen_pki_free(&other);
}

/* The decision's JSON form carries every field of the record. */
Test(verify, json_record)
{
  static const char *const keys[] = {
    "action", "reason", "detail", "profile", "host", "port", "at", "chain",
    "pinset", "matched_pin", "expected_pins",
  };
  pw_verify_req_t req;
  pw_decision_t d;
  certgen_pki_t pki;
  pw_verifier_t *v;
  unsigned char *der = NULL;
  json_t *j;
  size_t i;
  int len;

  cr_assert_eq(certgen_pki(&pki), 0);
  len = i2d_X509(pki.root, &der);
  cr_assert_eq(pw_verifier_new_roots(&v, der, (size_t) len, NULL), PW_OK);

  memset(&req, 0, sizeof(req));
  req.host = "example.com";
  req.profile = "p1";
  req.port = 8443;
  req.at = CERTGEN_NOW;
  req.chain = certgen_stack(pki.leaf, pki.inter, NULL);
  pw_decision_init(&d);
  cr_assert_eq(pw_verify_chain(v, &req, &d, NULL), PW_OK);

  j = pw_decision_to_json(&d);
  cr_assert_not_null(j);
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    cr_expect_not_null(json_object_get(j, keys[i]), "missing key %s",
                       keys[i]);
  cr_expect_eq(json_integer_value(json_object_get(j, "port")), 8443);
  cr_expect_str_eq(json_string_value(json_object_get(j, "at")),
                   "2026-01-01T00:00:00Z");
  cr_expect_eq(json_array_size(json_object_get(j, "chain")), 3);

  json_decref(j);
  pw_decision_clear(&d);
  sk_X509_pop_free(req.chain, X509_free);
  OPENSSL_free(der);
  pw_verifier_free(v);
  certgen_pki_free(&pki);
}

/* Bad requests get a decision that says so, never an allow. */
Test(verify, bad_input)
{
  static const char *const hosts[] = { "", "exa mple.com", "a..b", NULL };
  pw_verify_req_t req;
  pw_decision_t d;
  certgen_pki_t pki;
  pw_verifier_t *v;
  unsigned char *der = NULL;
  size_t i;
  int len;

  cr_assert_eq(certgen_pki(&pki), 0);
  len = i2d_X509(pki.root, &der);
  cr_assert_eq(pw_verifier_new_roots(&v, der, (size_t) len, NULL), PW_OK);

  for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
    memset(&req, 0, sizeof(req));
    req.host = hosts[i];
    req.chain = certgen_stack(pki.leaf, pki.inter, NULL);
    pw_decision_init(&d);
    cr_assert_eq(pw_verify_chain(v, &req, &d, NULL), PW_OK);
    cr_expect_eq(d.action, PW_ACTION_BLOCK, "host %zu allowed", i);
    cr_expect_eq(d.reason, PW_REASON_BAD_INPUT, "host %zu: reason %s", i,
                 pw_reason_name(d.reason));
    pw_decision_clear(&d);
    sk_X509_pop_free(req.chain, X509_free);
  }

  /* An empty chain. */
  memset(&req, 0, sizeof(req));
  req.host = "example.com";
  pw_decision_init(&d);
  cr_assert_eq(pw_verify_chain(v, &req, &d, NULL), PW_OK);
  cr_expect_eq(d.reason, PW_REASON_BAD_INPUT);
  pw_decision_clear(&d);

  OPENSSL_free(der);
  pw_verifier_free(v);
  certgen_pki_free(&pki);
}

/* Extra roots add to the system store: the test root anchors the chain. */
Test(verify, extra_roots)
{
  pw_verify_req_t req;
  pw_decision_t d;
  certgen_pki_t pki;
  pw_verifier_t *v;
  unsigned char *der = NULL;
  pw_err_t err;
  int len;

  cr_assert_eq(certgen_pki(&pki), 0);
  len = i2d_X509(pki.root, &der);
  cr_assert_eq(pw_verifier_new_extra(&v, der, (size_t) len, &err), PW_OK,
               "%s", err.msg);

  memset(&req, 0, sizeof(req));
  req.host = "www.example.com";
  req.at = CERTGEN_NOW;
  req.chain = certgen_stack(pki.leaf, pki.inter, NULL);
  pw_decision_init(&d);
  cr_assert_eq(pw_verify_chain(v, &req, &d, NULL), PW_OK);
  cr_expect_eq(d.action, PW_ACTION_ALLOW, "%s: %s",
               pw_reason_name(d.reason), d.detail);

  pw_decision_clear(&d);
  sk_X509_pop_free(req.chain, X509_free);
  OPENSSL_free(der);
  pw_verifier_free(v);
  certgen_pki_free(&pki);
}
