/*
 * Runs the verifier over the x509-limbo suite (server-auth cases) and
 * sets its answers beside plain OpenSSL 3.0's.
 *
 *   limbo LIMBO.json.gz BASELINE.json.gz [--list]
 *
 * Prints how many cases each accepts that the suite expects to fail
 * (wrong accepts) and rejects that should pass (wrong rejects), and
 * which rule turned away each of OpenSSL's wrong accepts.  Fails when
 * the verifier accepts a case that plain OpenSSL rejects: the engine
 * may be stricter than OpenSSL, never looser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "engine/rfc3339.h"
#include "engine/verify.h"

/* The suite is about 40 MB of JSON; refuse anything wildly larger. */
#define LIMBO_MAX (512 * 1024 * 1024)

typedef struct tally {
  int run, accepts, wrong_accepts, wrong_rejects;
} tally_t;

typedef struct rule_count {
  char name[96];
  int  count;
} rule_count_t;

static json_t *
load_gz(const char *path)
{
  size_t len = 0, cap = 1 << 20;
  char *buf = malloc(cap), *grown;
  json_error_t jerr;
  json_t *j = NULL;
  gzFile gz;
  int n;

  gz = gzopen(path, "rb");
  if (gz == NULL || buf == NULL) {
    fprintf(stderr, "limbo: cannot open %s\n", path);
    goto done;
  }
  while ((n = gzread(gz, buf + len, (unsigned) (cap - len))) > 0) {
    len += (size_t) n;
    if (len == cap) {
      if (cap >= LIMBO_MAX) {
        fprintf(stderr, "limbo: %s is over %d bytes\n", path, LIMBO_MAX);
        goto done;
      }
      cap *= 2;
      grown = realloc(buf, cap);
      if (grown == NULL)
        goto done;
      buf = grown;
    }
  }
  if (n < 0) {
    fprintf(stderr, "limbo: %s: read error\n", path);
    goto done;
  }

  j = json_loadb(buf, len, 0, &jerr);
  if (j == NULL)
    fprintf(stderr, "limbo: %s:%d: %s\n", path, jerr.line, jerr.text);

done:
  if (gz != NULL)
    gzclose(gz);
  free(buf);
  return j;
}

/* Concatenates the PEM strings of a JSON array into one buffer. */
static char *
join_pem(const json_t *arr, size_t *len)
{
  const json_t *v;
  size_t i, total = 0;
  char *out;

  json_array_foreach(arr, i, v)
    total += json_string_length(v) + 1;
  out = malloc(total + 1);
  if (out == NULL)
    return NULL;

  total = 0;
  json_array_foreach(arr, i, v) {
    memcpy(out + total, json_string_value(v), json_string_length(v));
    total += json_string_length(v);
    out[total++] = '\n';
  }
  out[total] = '\0';
  *len = total;
  return out;
}

static void
count_rule(rule_count_t *rules, size_t *nrules, const pw_decision_t *d)
{
  char name[96];
  size_t i;

  /* Web PKI rules name themselves; OpenSSL's by the reason code. */
  if (strncmp(d->detail, "webpki: ", 8) == 0)
    snprintf(name, sizeof(name), "%.95s", d->detail);
  else
    snprintf(name, sizeof(name), "openssl: %s", pw_reason_name(d->reason));

  for (i = 0; i < *nrules; i++) {
    if (strcmp(rules[i].name, name) == 0) {
      rules[i].count++;
      return;
    }
  }
  if (*nrules < 64) {
    snprintf(rules[*nrules].name, sizeof(rules[0].name), "%s", name);
    rules[(*nrules)++].count = 1;
  }
}

/*
 * Verifies one case.  Returns 1 for an accept, 0 for a reject, -1 when
 * the case is outside what the engine checks (skip).
 */
static int
run_case(const json_t *tc, pw_decision_t *d, const char **skip)
{
  STACK_OF(X509) *chain = NULL, *inter = NULL;
  const json_t *name, *feat;
  pw_verifier_t *v = NULL;
  pw_verify_req_t req;
  const char *s;
  char *pem = NULL;
  size_t len, i;
  int ret = 0;

  /* Client-auth and revocation are not what the engine decides. */
  if (strcmp(json_string_value(json_object_get(tc, "validation_kind")),
             "SERVER") != 0) {
    *skip = "client";
    return -1;
  }
  json_array_foreach(json_object_get(tc, "features"), i, feat) {
    if (strcmp(json_string_value(feat), "has-crl") == 0) {
      *skip = "crl";
      return -1;
    }
  }
  name = json_object_get(tc, "expected_peer_name");
  if (!json_is_object(name)) {
    *skip = "no peer name";
    return -1;
  }

  memset(&req, 0, sizeof(req));
  req.host = json_string_value(json_object_get(name, "value"));
  s = json_string_value(json_object_get(tc, "validation_time"));
  if (s != NULL && pw_rfc3339_parse(s, &req.at, NULL) != PW_OK)
    goto done;
  if (json_is_integer(json_object_get(tc, "max_chain_depth")))
    req.max_path = 2 + (int) json_integer_value(
                         json_object_get(tc, "max_chain_depth"));

  pem = join_pem(json_object_get(tc, "trusted_certs"), &len);
  if (pem == NULL || pw_verifier_new_roots(&v, (unsigned char *) pem, len,
                                           NULL) != PW_OK)
    goto done;
  free(pem);

  s = json_string_value(json_object_get(tc, "peer_certificate"));
  if (pw_pins_load_certs((const unsigned char *) s, strlen(s), &chain, NULL)
      != PW_OK)
    goto done;

  pem = join_pem(json_object_get(tc, "untrusted_intermediates"), &len);
  if (pem == NULL)
    goto done;
  if (len > 0 && pw_pins_load_certs((unsigned char *) pem, len, &inter,
                                    NULL) != PW_OK)
    goto done;
  for (i = 0; inter != NULL && i < (size_t) sk_X509_num(inter); i++) {
    X509 *x = sk_X509_value(inter, (int) i);

    X509_up_ref(x);
    sk_X509_push(chain, x);
  }

  req.chain = chain;
  if (pw_verify_chain(v, &req, d, NULL) == PW_OK)
    ret = d->action == PW_ACTION_ALLOW;

done:
  free(pem);
  sk_X509_pop_free(chain, X509_free);
  sk_X509_pop_free(inter, X509_free);
  pw_verifier_free(v);
  return ret;
}

int
main(int argc, char **argv)
{
  static rule_count_t rules[64];
  static const char *skip_names[] = { "client", "crl", "no peer name" };
  json_t *limbo = NULL, *base = NULL, *results, *tc, *r;
  tally_t ours = { 0 }, plain = { 0 };
  int skipped[3] = { 0 }, looser = 0, list, ours_ok, plain_ok, want_ok;
  size_t i, nrules = 0;
  const char *skip, *id;
  pw_decision_t d;

  if (argc < 3) {
    fprintf(stderr, "usage: limbo LIMBO.json.gz BASELINE.json.gz [--list]\n");
    return 2;
  }
  list = argc > 3 && strcmp(argv[3], "--list") == 0;

  limbo = load_gz(argv[1]);
  base = load_gz(argv[2]);
  if (limbo == NULL || base == NULL)
    return 2;
  results = json_object();

  json_array_foreach(json_object_get(base, "results"), i, r)
    json_object_set(results, json_string_value(json_object_get(r, "id")),
                    json_object_get(r, "actual_result"));

  json_array_foreach(json_object_get(limbo, "testcases"), i, tc) {
    id = json_string_value(json_object_get(tc, "id"));
    want_ok = strcmp(json_string_value(json_object_get(tc,
                     "expected_result")), "SUCCESS") == 0;

    pw_decision_init(&d);
    skip = NULL;
    ours_ok = run_case(tc, &d, &skip);
    if (ours_ok < 0) {
      size_t k;

      for (k = 0; k < 3; k++)
        if (strcmp(skip, skip_names[k]) == 0)
          skipped[k]++;
      pw_decision_clear(&d);
      continue;
    }

    r = json_object_get(results, id);
    plain_ok = r != NULL && strcmp(json_string_value(r), "SUCCESS") == 0;

    ours.run++;
    plain.run++;
    ours.accepts += ours_ok;
    plain.accepts += plain_ok;
    ours.wrong_accepts += ours_ok && !want_ok;
    ours.wrong_rejects += !ours_ok && want_ok;
    plain.wrong_accepts += plain_ok && !want_ok;
    plain.wrong_rejects += !plain_ok && want_ok;

    if (plain_ok && !want_ok && !ours_ok)
      count_rule(rules, &nrules, &d);
    if (ours_ok && !plain_ok) {
      looser++;
      printf("LOOSER than OpenSSL: %s\n", id);
    }
    if (list && ours_ok != want_ok)
      printf("%s %s: %s %s\n", ours_ok ? "wrong-accept" : "wrong-reject",
             id, pw_reason_name(d.reason), d.detail);
    pw_decision_clear(&d);
  }

  printf("x509-limbo, server-auth cases run: %d (skipped: %d client, "
         "%d with CRLs, %d without a peer name)\n\n",
         ours.run, skipped[0], skipped[1], skipped[2]);
  printf("%-22s %8s %14s %14s\n", "verifier", "accepts", "wrong accepts",
         "wrong rejects");
  printf("%-22s %8d %14d %14d\n", "plain OpenSSL 3.0", plain.accepts,
         plain.wrong_accepts, plain.wrong_rejects);
  printf("%-22s %8d %14d %14d\n", "pinwarden", ours.accepts,
         ours.wrong_accepts, ours.wrong_rejects);
  printf("%-22s %8.2f %14.2f %14.2f\n\n", "ratio",
         (double) ours.accepts / plain.accepts,
         (double) ours.wrong_accepts / plain.wrong_accepts,
         (double) ours.wrong_rejects / plain.wrong_rejects);

  printf("OpenSSL's wrong accepts that pinwarden rejects, by rule:\n");
  for (i = 0; i < nrules; i++)
    printf("  %4d  %s\n", rules[i].count, rules[i].name);
  printf("\ncases pinwarden accepts that plain OpenSSL rejects: %d\n",
         looser);

  json_decref(results);
  json_decref(limbo);
  json_decref(base);
  return looser == 0 && ours.wrong_accepts < plain.wrong_accepts ? 0 : 1;
}
