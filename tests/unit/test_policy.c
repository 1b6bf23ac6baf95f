/*
 * Pin policy: pin sets read from JSON, the lookup from a host to the set
 * that governs it, all-or-nothing adds, revisions and the JSON form.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/policy.h"

/* Three canonical pins, and one of them in curl's spelling. */
#define PIN_A "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define PIN_B "sha256/XaziidjrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi2fec="
#define PIN_C "sha256/mbNQajAbJ43qeDG+whIgjECZDhcvij2eTKW6kwJ3TT4="
#define PIN_B_CURL "sha256//XaziidjrKjNn5r7Niyk48LSNrZ6eomGH0G5nVxi2fec="

#define PINS_AB "\"pins\": [\"" PIN_A "\", \"" PIN_B "\"]"

/* 2027-06-01T00:00:00Z */
#define T_JUNE 1811808000LL

static json_t *
load_json(const char *text)
{
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);

  cr_assert_not_null(j, "test JSON does not parse: %s (line %d): %s",
                     jerr.text, jerr.line, text);
  return j;
}

/* The pin whose digest is the number i, big-endian, for generated sets. */
static void
pin_of(size_t i, pw_pin_t *pin)
{
  memset(pin, 0, sizeof(*pin));
  pin->hash[0] = 0x5a;
  pin->hash[28] = (unsigned char) (i >> 24);
  pin->hash[29] = (unsigned char) (i >> 16);
  pin->hash[30] = (unsigned char) (i >> 8);
  pin->hash[31] = (unsigned char) i;
}

static json_t *
gen_pins(size_t n)
{
  char text[PW_PIN_TEXT_MAX];
  json_t *arr = json_array();
  pw_pin_t pin;
  size_t i;

  for (i = 0; i < n; i++) {
    pin_of(i, &pin);
    pw_pins_format(&pin, text);
    json_array_append_new(arr, json_string(text));
  }
  return arr;
}

/* Pin sets from JSON */

/*
 * Criterion copies each parameter into a process of its own, where the
 * parent's pointers mean nothing: the strings live in the struct.
 */
typedef struct scase {
  char          comment[64];
  char          json[320];
  int           gen;          /* > 0: "pins" becomes that many pins */
  int           code;         /* PW_OK, or the error wanted */
  char          want[80];     /* the pattern text, or a part of err.msg */
  pw_pin_mode_t mode;
  int64_t       expires;
  size_t        npins;
} scase_t;

ParameterizedTestParameters(policy, pinset_from_json)
{
  static scase_t cases[] = {
    /* Patterns. */
    { "an exact name", "{\"pattern\": \"login.example.com\", " PINS_AB "}",
      0, PW_OK, "login.example.com", PW_MODE_ENFORCE, 0, 2 },
    { "one more label", "{\"pattern\": \"*.example.com\", " PINS_AB "}", 0,
      PW_OK, "*.example.com", PW_MODE_ENFORCE, 0, 2 },
    { "any number of labels", "{\"pattern\": \"**.example.com\", " PINS_AB
      "}", 0, PW_OK, "**.example.com", PW_MODE_ENFORCE, 0, 2 },
    { "include_subdomains on an exact name means **.",
      "{\"pattern\": \"example.com\", \"include_subdomains\": true, "
      PINS_AB "}", 0, PW_OK, "**.example.com", PW_MODE_ENFORCE, 0, 2 },
    { "include_subdomains on **. changes nothing",
      "{\"pattern\": \"**.example.com\", \"include_subdomains\": true, "
      PINS_AB "}", 0, PW_OK, "**.example.com", PW_MODE_ENFORCE, 0, 2 },
    { "include_subdomains false",
      "{\"pattern\": \"example.com\", \"include_subdomains\": false, "
      PINS_AB "}", 0, PW_OK, "example.com", PW_MODE_ENFORCE, 0, 2 },
    { "the pattern is normalised",
      "{\"pattern\": \"*.Login.EXAMPLE.com.\", " PINS_AB "}", 0, PW_OK,
      "*.login.example.com", PW_MODE_ENFORCE, 0, 2 },
    { "a U-label pattern becomes an A-label",
      "{\"pattern\": \"**.b\xc3\xbc" "cher.example\", " PINS_AB "}", 0,
      PW_OK, "**.xn--bcher-kva.example", PW_MODE_ENFORCE, 0, 2 },
    { "an IPv4 literal", "{\"pattern\": \"192.0.2.1\", " PINS_AB "}", 0,
      PW_OK, "192.0.2.1", PW_MODE_ENFORCE, 0, 2 },
    { "an IPv6 literal is canonicalised",
      "{\"pattern\": \"[2001:DB8:0::1]\", " PINS_AB "}", 0, PW_OK,
      "2001:db8::1", PW_MODE_ENFORCE, 0, 2 },

    /* Mode and expiry. */
    { "report mode", "{\"pattern\": \"a.example\", \"mode\": \"report\", "
      PINS_AB "}", 0, PW_OK, "a.example", PW_MODE_REPORT, 0, 2 },
    { "enforce mode written out", "{\"pattern\": \"a.example\", "
      "\"mode\": \"enforce\", " PINS_AB "}", 0, PW_OK, "a.example",
      PW_MODE_ENFORCE, 0, 2 },
    { "expires in RFC 3339", "{\"pattern\": \"a.example\", "
      "\"expires\": \"2027-06-01T00:00:00Z\", " PINS_AB "}", 0, PW_OK,
      "a.example", PW_MODE_ENFORCE, T_JUNE, 2 },
    { "expires in RFC 3339 with an offset", "{\"pattern\": \"a.example\", "
      "\"expires\": \"2027-06-01T02:00:00+02:00\", " PINS_AB "}", 0, PW_OK,
      "a.example", PW_MODE_ENFORCE, T_JUNE, 2 },
    { "expires as an integer", "{\"pattern\": \"a.example\", "
      "\"expires\": 1811808000, " PINS_AB "}", 0, PW_OK, "a.example",
      PW_MODE_ENFORCE, T_JUNE, 2 },
    { "expires as Unix seconds in a string", "{\"pattern\": \"a.example\", "
      "\"expires\": \"1811808000\", " PINS_AB "}", 0, PW_OK, "a.example",
      PW_MODE_ENFORCE, T_JUNE, 2 },
    { "expires null means never", "{\"pattern\": \"a.example\", "
      "\"expires\": null, " PINS_AB "}", 0, PW_OK, "a.example",
      PW_MODE_ENFORCE, 0, 2 },

    /* Pins. */
    { "one pin", "{\"pattern\": \"a.example\", \"pins\": [\"" PIN_A "\"]}",
      0, PW_OK, "a.example", PW_MODE_ENFORCE, 0, 1 },
    { "a repeated pin is kept once", "{\"pattern\": \"a.example\", "
      "\"pins\": [\"" PIN_A "\", \"" PIN_B "\", \"" PIN_A "\"]}", 0, PW_OK,
      "a.example", PW_MODE_ENFORCE, 0, 2 },
    { "curl's spelling of a pin already there", "{\"pattern\": "
      "\"a.example\", \"pins\": [\"" PIN_B "\", \"" PIN_B_CURL "\"]}", 0,
      PW_OK, "a.example", PW_MODE_ENFORCE, 0, 1 },
    { "64 pins, the cap", "{\"pattern\": \"a.example\", \"pins\": []}", 64,
      PW_OK, "a.example", PW_MODE_ENFORCE, 0, 64 },

    /* Bad patterns. */
    { "a wildcard as the second label too",
      "{\"pattern\": \"*.*.example.com\", " PINS_AB "}", 0, PW_EINVAL,
      "wildcard may only be a whole first label", 0, 0, 0 },
    { "a partial wildcard", "{\"pattern\": \"foo*.example.com\", " PINS_AB
      "}", 0, PW_EINVAL, "wildcard may only be a whole first label", 0, 0,
      0 },
    { "a wildcard after letters", "{\"pattern\": \"*foo.example.com\", "
      PINS_AB "}", 0, PW_EINVAL, "wildcard may only be", 0, 0, 0 },
    { "a wildcard in the middle", "{\"pattern\": \"www.*.example.com\", "
      PINS_AB "}", 0, PW_EINVAL, "wildcard may only be", 0, 0, 0 },
    { "three stars", "{\"pattern\": \"***.example.com\", " PINS_AB "}", 0,
      PW_EINVAL, "wildcard may only be", 0, 0, 0 },
    { "a star alone", "{\"pattern\": \"*\", " PINS_AB "}", 0, PW_EINVAL,
      "wildcard may only be", 0, 0, 0 },
    { "*. over nothing", "{\"pattern\": \"*.\", " PINS_AB "}", 0, PW_EINVAL,
      "pattern: host is empty", 0, 0, 0 },
    { "**. over nothing", "{\"pattern\": \"**.\", " PINS_AB "}", 0,
      PW_EINVAL, "pattern: host is empty", 0, 0, 0 },
    { "a wildcard over an IPv4 literal", "{\"pattern\": \"*.1.2.3.4\", "
      PINS_AB "}", 0, PW_EINVAL, "an IP address matches only itself", 0, 0,
      0 },
    { "**. over an IPv6 literal", "{\"pattern\": \"**.2001:db8::1\", "
      PINS_AB "}", 0, PW_EINVAL, "an IP address matches only itself", 0, 0,
      0 },
    { "include_subdomains on an IP literal", "{\"pattern\": \"192.0.2.1\", "
      "\"include_subdomains\": true, " PINS_AB "}", 0, PW_EINVAL,
      "an IP address matches only itself", 0, 0, 0 },
    { "include_subdomains with *.", "{\"pattern\": \"*.example.com\", "
      "\"include_subdomains\": true, " PINS_AB "}", 0, PW_EINVAL,
      "ambiguous", 0, 0, 0 },
    { "a wildcard over a name ending in a number",
      "{\"pattern\": \"*.1.2.3\", " PINS_AB "}", 0, PW_EINVAL,
      "ends in a number", 0, 0, 0 },
    { "a space in the name", "{\"pattern\": \"exa mple.com\", " PINS_AB
      "}", 0, PW_EINVAL, "pattern: host name holds a character", 0, 0, 0 },
    { "an empty label", "{\"pattern\": \"a..example\", " PINS_AB "}", 0,
      PW_EINVAL, "pattern: host name has an empty label", 0, 0, 0 },
    { "an empty pattern", "{\"pattern\": \"\", " PINS_AB "}", 0, PW_EINVAL,
      "pattern: host is empty", 0, 0, 0 },
    { "no pattern", "{" PINS_AB "}", 0, PW_EINVAL,
      "pattern must be a string", 0, 0, 0 },
    { "a pattern that is a number", "{\"pattern\": 7, " PINS_AB "}", 0,
      PW_EINVAL, "pattern must be a string", 0, 0, 0 },

    /* Bad keys and values. */
    { "not an object", "[\"a.example\"]", 0, PW_EINVAL,
      "must be an object", 0, 0, 0 },
    { "an unknown key", "{\"pattern\": \"a.example\", \"max_age\": 60, "
      PINS_AB "}", 0, PW_EINVAL, "unknown key 'max_age'", 0, 0, 0 },
    { "a key in the wrong case", "{\"pattern\": \"a.example\", "
      "\"includeSubdomains\": true, " PINS_AB "}", 0, PW_EINVAL,
      "unknown key 'includeSubdomains'", 0, 0, 0 },
    { "include_subdomains as text", "{\"pattern\": \"a.example\", "
      "\"include_subdomains\": \"yes\", " PINS_AB "}", 0, PW_EINVAL,
      "include_subdomains must be true or false", 0, 0, 0 },
    { "no pins", "{\"pattern\": \"a.example\"}", 0, PW_EINVAL,
      "non-empty array", 0, 0, 0 },
    { "an empty pin list", "{\"pattern\": \"a.example\", \"pins\": []}", 0,
      PW_EINVAL, "non-empty array", 0, 0, 0 },
    { "pins as one string", "{\"pattern\": \"a.example\", \"pins\": \""
      PIN_A "\"}", 0, PW_EINVAL, "non-empty array", 0, 0, 0 },
    { "65 pins, one over the cap", "{\"pattern\": \"a.example\", "
      "\"pins\": []}", 65, PW_ETOOBIG, "at most 64 pins", 0, 0, 0 },
    { "a pin that is a number", "{\"pattern\": \"a.example\", "
      "\"pins\": [\"" PIN_A "\", 7]}", 0, PW_EINVAL,
      "pins[1] must be a string", 0, 0, 0 },
    { "a bad pin names its index and its fault", "{\"pattern\": "
      "\"a.example\", \"pins\": [\"" PIN_A "\", \"sha1/"
      "AAAAAAAAAAAAAAAAAAAAAAAAAAA=\"]}", 0, PW_EINVAL,
      "pins[1]: pin hash 'sha1' is not supported", 0, 0, 0 },
    { "an unknown mode", "{\"pattern\": \"a.example\", \"mode\": \"block\", "
      PINS_AB "}", 0, PW_EINVAL, "mode must be", 0, 0, 0 },
    { "a mode in capitals", "{\"pattern\": \"a.example\", "
      "\"mode\": \"Enforce\", " PINS_AB "}", 0, PW_EINVAL, "mode must be", 0,
      0, 0 },
    { "a mode that is not text", "{\"pattern\": \"a.example\", "
      "\"mode\": true, " PINS_AB "}", 0, PW_EINVAL, "mode must be", 0, 0,
      0 },
    { "an expiry with month 13", "{\"pattern\": \"a.example\", "
      "\"expires\": \"2026-13-01T00:00:00Z\", " PINS_AB "}", 0, PW_EINVAL,
      "expires: time", 0, 0, 0 },
    { "an expiry in words", "{\"pattern\": \"a.example\", "
      "\"expires\": \"tomorrow\", " PINS_AB "}", 0, PW_EINVAL,
      "expires: time 'tomorrow'", 0, 0, 0 },
    { "a negative expiry", "{\"pattern\": \"a.example\", \"expires\": -1, "
      PINS_AB "}", 0, PW_EINVAL, "expires must be", 0, 0, 0 },
    { "a fractional expiry", "{\"pattern\": \"a.example\", "
      "\"expires\": 1.5, " PINS_AB "}", 0, PW_EINVAL, "expires must be", 0,
      0, 0 },
    { "an expiry that is a boolean", "{\"pattern\": \"a.example\", "
      "\"expires\": true, " PINS_AB "}", 0, PW_EINVAL, "expires must be", 0,
      0, 0 },
  };

  return cr_make_param_array(scase_t, cases,
                             sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(scase_t *c, policy, pinset_from_json)
{
  char pattern[PW_HOST_MAX_PATTERN];
  json_t *j = load_json(c->json);
  pw_pinset_t set;
  pw_err_t err;
  int rc;

  if (c->gen > 0)
    json_object_set_new(j, "pins", gen_pins((size_t) c->gen));

  memset(&err, 0, sizeof(err));
  rc = pw_pinset_from_json(&set, j, &err);

  cr_assert_eq(rc, c->code, "%s: got %s, want %s (%s)", c->comment,
               pw_err_name(rc), pw_err_name(c->code), err.msg);
  if (c->code == PW_OK) {
    pw_pinset_pattern(&set, pattern);
    cr_expect_str_eq(pattern, c->want, "%s: pattern '%s', want '%s'",
                     c->comment, pattern, c->want);
    cr_expect_eq(set.mode, c->mode, "%s: mode %d, want %d", c->comment,
                 (int) set.mode, (int) c->mode);
    cr_expect_eq(set.expires, c->expires, "%s: expires %lld, want %lld",
                 c->comment, (long long) set.expires,
                 (long long) c->expires);
    cr_expect_eq(set.npins, c->npins, "%s: %zu pins, want %zu", c->comment,
                 set.npins, c->npins);
  } else {
    cr_expect_not_null(strstr(err.msg, c->want),
                       "%s: err.msg '%s' does not hold '%s'", c->comment,
                       err.msg, c->want);
  }
  json_decref(j);
}

/* The pins come out in the order given, each parsed. */
Test(policy, pinset_pins)
{
  json_t *j = load_json("{\"pattern\": \"a.example\", \"pins\": [\""
                        PIN_C "\", \"" PIN_B_CURL "\", \"" PIN_C "\"]}");
  pw_pin_t b, c, other;
  pw_pinset_t set;
  pw_err_t err;

  cr_assert_eq(pw_pinset_from_json(&set, j, &err), PW_OK, "%s", err.msg);
  cr_assert_eq(pw_pins_parse(&b, PIN_B, NULL), PW_OK);
  cr_assert_eq(pw_pins_parse(&c, PIN_C, NULL), PW_OK);
  cr_assert_eq(pw_pins_parse(&other, PIN_A, NULL), PW_OK);

  cr_assert_eq(set.npins, 2, "%zu pins, want 2", set.npins);
  cr_expect(pw_pins_equal(&set.pins[0], &c), "pins[0] is not PIN_C");
  cr_expect(pw_pins_equal(&set.pins[1], &b), "pins[1] is not PIN_B");
  cr_expect(pw_pinset_has_pin(&set, &b), "has_pin(PIN_B) is false");
  cr_expect(!pw_pinset_has_pin(&set, &other), "has_pin(PIN_A) is true");
  json_decref(j);
}

/* Matching */

/*
 * One policy of several patterns; each comment says which rule the case
 * is about.  "**.login.example.com" and "*.example.com" overlap on
 * purpose, as do "example.com", "*.example.com" and "**.example.com".
 */
static const char MATCH_POLICY[] =
  "["
  "{\"pattern\": \"example.com\", " PINS_AB "},"
  "{\"pattern\": \"*.example.com\", " PINS_AB "},"
  "{\"pattern\": \"**.example.com\", " PINS_AB "},"
  "{\"pattern\": \"**.login.example.com\", " PINS_AB "},"
  "{\"pattern\": \"api.example.org\", \"include_subdomains\": true, "
  PINS_AB "},"
  "{\"pattern\": \"exact.example.net\", " PINS_AB "},"
  "{\"pattern\": \"*.wild.example.net\", " PINS_AB "},"
  "{\"pattern\": \"**.any.example.net\", " PINS_AB "},"
  "{\"pattern\": \"xn--bcher-kva.example\", " PINS_AB "},"
  "{\"pattern\": \"*.b\xc3\xbc" "cher.example\", " PINS_AB "},"
  "{\"pattern\": \"192.0.2.1\", " PINS_AB "},"
  "{\"pattern\": \"2001:db8::1\", " PINS_AB "}"
  "]";

typedef struct mcase {
  char comment[72];
  char host[64];       /* raw: normalised by the test, as callers do */
  char want[48];       /* the pattern that governs it, or "" for none */
} mcase_t;

ParameterizedTestParameters(policy, match)
{
  static mcase_t cases[] = {
    { "exact beats **. of the same name", "example.com", "example.com" },
    { "*. beats **. of the same base", "a.example.com", "*.example.com" },
    { "**. takes two more labels", "a.b.example.com", "**.example.com" },
    { "**. takes four more labels", "w.x.y.z.example.com",
      "**.example.com" },
    { "**. matches its own name (no more labels)", "login.example.com",
      "**.login.example.com" },
    { "longest base wins: **.login.example.com over *.example.com",
      "a.login.example.com", "**.login.example.com" },
    { "longest base wins deeper down", "a.b.login.example.com",
      "**.login.example.com" },
    { "include_subdomains: the name itself", "api.example.org",
      "**.api.example.org" },
    { "include_subdomains: a subdomain", "v1.api.example.org",
      "**.api.example.org" },
    { "include_subdomains: not the parent", "example.org", "" },
    { "exact: the name", "exact.example.net", "exact.example.net" },
    { "exact: not a subdomain", "a.exact.example.net", "" },
    { "*.: not the base itself", "wild.example.net", "" },
    { "*.: one more label", "a.wild.example.net", "*.wild.example.net" },
    { "*.: not two more labels", "a.b.wild.example.net", "" },
    { "**.: the base itself", "any.example.net", "**.any.example.net" },
    { "**.: many more labels", "a.b.c.any.example.net",
      "**.any.example.net" },
    { "**.: a label is whole, not a suffix of text", "xany.example.net",
      "" },
    { "a label is whole: notexample.com is not under example.com",
      "notexample.com", "" },
    { "the parent of an *. base", "example.net", "" },
    { "an IDN host against an A-label pattern", "b\xc3\xbc" "cher.example",
      "xn--bcher-kva.example" },
    { "an A-label host against an A-label pattern",
      "XN--BCHER-KVA.example", "xn--bcher-kva.example" },
    { "an IDN host against a U-label *. pattern",
      "www.b\xc3\xbc" "cher.example", "*.xn--bcher-kva.example" },
    { "a trailing dot and capitals", "EXAMPLE.COM.", "example.com" },
    { "a trailing dot on a subdomain", "a.Example.com.", "*.example.com" },
    { "an IPv4 literal, exact", "192.0.2.1", "192.0.2.1" },
    { "another IPv4 literal", "192.0.2.2", "" },
    { "an IPv6 literal in another spelling", "[2001:DB8:0:0::1]",
      "2001:db8::1" },
    { "another IPv6 literal", "2001:db8::2", "" },
    { "a top-level name alone", "com", "" },
    { "an unrelated name", "example.edu", "" },
  };

  return cr_make_param_array(mcase_t, cases,
                             sizeof(cases) / sizeof(cases[0]));
}

static pw_policy_t *
policy_of(const char *text)
{
  pw_policy_t *p = pw_policy_new();
  json_t *j = load_json(text);
  pw_err_t err;

  cr_assert_not_null(p);
  cr_assert_eq(pw_policy_add_json(p, j, &err), PW_OK,
               "test policy refused: %s", err.msg);
  json_decref(j);
  return p;
}

ParameterizedTest(mcase_t *c, policy, match)
{
  char host[PW_HOST_MAX], got[PW_HOST_MAX_PATTERN];
  pw_policy_t *p = policy_of(MATCH_POLICY);
  const pw_pinset_t *set;
  pw_err_t err;

  cr_assert_eq(pw_policy_count(p), 12, "the policy holds %zu sets",
               pw_policy_count(p));
  cr_assert_eq(pw_host_normalize(c->host, host, NULL, &err), PW_OK,
               "%s: host '%s': %s", c->comment, c->host, err.msg);

  set = pw_policy_lookup(p, host);
  got[0] = '\0';
  if (set != NULL)
    pw_pinset_pattern(set, got);
  cr_expect_str_eq(got, c->want, "%s: '%s' matched '%s', want '%s'",
                   c->comment, host, set != NULL ? got : "(none)",
                   c->want[0] != '\0' ? c->want : "(none)");
  pw_policy_free(p);
}

/* "**." alone covers its own name; "*." alone does not. */
Test(policy, match_alone)
{
  static const struct {
    const char *comment;
    const char *policy;
    const char *host;
    bool        hit;
  } cases[] = {
    { "**. matches the bare base",
      "[{\"pattern\": \"**.example.com\", " PINS_AB "}]", "example.com",
      true },
    { "*. does not match the bare base",
      "[{\"pattern\": \"*.example.com\", " PINS_AB "}]", "example.com",
      false },
    { "an exact name does not match a subdomain",
      "[{\"pattern\": \"example.com\", " PINS_AB "}]", "www.example.com",
      false },
    { "*. over a top-level name",
      "[{\"pattern\": \"*.test\", " PINS_AB "}]", "a.test", true },
    { "**. over a top-level name",
      "[{\"pattern\": \"**.test\", " PINS_AB "}]", "a.b.c.test", true },
  };
  const pw_pinset_t *set;
  pw_policy_t *p;
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    p = policy_of(cases[i].policy);
    set = pw_policy_lookup(p, cases[i].host);
    cr_expect_eq(set != NULL, cases[i].hit, "%s: '%s' %s, want %s",
                 cases[i].comment, cases[i].host, set ? "hit" : "missed",
                 cases[i].hit ? "a hit" : "a miss");
    pw_policy_free(p);
  }
}

/* An empty policy, and no policy at all, match nothing. */
Test(policy, match_empty)
{
  pw_policy_t *p = pw_policy_new();

  cr_expect_null(pw_policy_lookup(p, "example.com"), "empty policy hit");
  cr_expect_null(pw_policy_lookup(NULL, "example.com"), "NULL policy hit");
  cr_expect_eq(pw_policy_count(p), 0, "count %zu", pw_policy_count(p));
  pw_policy_free(p);
  pw_policy_free(NULL);
}

/* Adding */

static char *
dump(const pw_policy_t *p)
{
  json_t *j = pw_policy_to_json(p);
  char *s;

  cr_assert_not_null(j, "pw_policy_to_json failed");
  s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(j);
  cr_assert_not_null(s);
  return s;
}

/* A bad third set leaves the policy as it was, and names index 2. */
Test(policy, add_json_all_or_nothing)
{
  pw_policy_t *p = policy_of(
    "[{\"pattern\": \"old.example\", \"pins\": [\"" PIN_C "\"]}]");
  json_t *batch = load_json(
    "["
    "{\"pattern\": \"new1.example\", " PINS_AB "},"
    "{\"pattern\": \"old.example\", " PINS_AB "},"
    "{\"pattern\": \"*.*.example\", " PINS_AB "}"
    "]");
  char *before = dump(p), *after;
  uint64_t rev = pw_policy_revision(p);
  const pw_pinset_t *set;
  pw_pin_t c;
  pw_err_t err;
  int rc;

  memset(&err, 0, sizeof(err));
  rc = pw_policy_add_json(p, batch, &err);
  cr_expect_eq(rc, PW_EINVAL, "got %s, want EINVAL", pw_err_name(rc));
  cr_expect_not_null(strstr(err.msg, "pins[2]"),
                     "err.msg '%s' does not name index 2", err.msg);
  cr_expect_not_null(strstr(err.msg, "wildcard"),
                     "err.msg '%s' does not say what was wrong", err.msg);

  /* Nothing of the batch is in, the replaced set is the old one. */
  cr_expect_eq(pw_policy_count(p), 1, "count %zu, want 1",
               pw_policy_count(p));
  cr_expect_null(pw_policy_lookup(p, "new1.example"), "set 0 was added");
  set = pw_policy_lookup(p, "old.example");
  cr_assert_not_null(set, "the old set is gone");
  cr_assert_eq(pw_pins_parse(&c, PIN_C, NULL), PW_OK);
  cr_expect(set->npins == 1 && pw_pins_equal(&set->pins[0], &c),
            "set 1 replaced the old set (%zu pins)", set->npins);
  cr_expect_eq(pw_policy_revision(p), rev, "revision %llu, want %llu",
               (unsigned long long) pw_policy_revision(p),
               (unsigned long long) rev);
  after = dump(p);
  cr_expect_str_eq(after, before, "policy changed:\n%s\nwas\n%s", after,
                   before);

  free(before);
  free(after);
  json_decref(batch);
  pw_policy_free(p);
}

/* The first bad set decides the index, wherever it is. */
Test(policy, add_json_error_index)
{
  static const struct {
    const char *comment;
    const char *batch;
    const char *want;
  } cases[] = {
    { "the first set is bad",
      "[{\"pattern\": \"\", " PINS_AB "}, {\"pattern\": \"b.example\", "
      PINS_AB "}]", "pins[0]: pattern" },
    { "the second of two bad sets is not named",
      "[{\"pattern\": \"a.example\", " PINS_AB "},"
      " {\"pattern\": \"b.example\", \"mode\": \"x\", " PINS_AB "},"
      " {\"pattern\": \"c.example\"}]", "pins[1]: mode" },
    { "a set that is not an object",
      "[{\"pattern\": \"a.example\", " PINS_AB "}, 7]",
      "pins[1]: a pin set must be an object" },
  };
  pw_policy_t *p;
  json_t *j;
  pw_err_t err;
  size_t i;
  int rc;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    p = pw_policy_new();
    j = load_json(cases[i].batch);
    memset(&err, 0, sizeof(err));
    rc = pw_policy_add_json(p, j, &err);
    cr_expect_neq(rc, PW_OK, "%s: accepted", cases[i].comment);
    cr_expect_not_null(strstr(err.msg, cases[i].want),
                       "%s: err.msg '%s' does not hold '%s'",
                       cases[i].comment, err.msg, cases[i].want);
    cr_expect_eq(pw_policy_count(p), 0, "%s: %zu sets added",
                 cases[i].comment, pw_policy_count(p));
    json_decref(j);
    pw_policy_free(p);
  }
}

/* One pattern twice in one batch is refused, however it is spelt. */
Test(policy, add_json_duplicate)
{
  static const struct {
    const char *comment;
    const char *batch;
  } cases[] = {
    { "the same text twice",
      "[{\"pattern\": \"a.example\", " PINS_AB "},"
      " {\"pattern\": \"a.example\", " PINS_AB "}]" },
    { "the same name in other case and with a dot",
      "[{\"pattern\": \"a.example\", " PINS_AB "},"
      " {\"pattern\": \"A.Example.\", " PINS_AB "}]" },
    { "a U-label and its A-label",
      "[{\"pattern\": \"b\xc3\xbc" "cher.example\", " PINS_AB "},"
      " {\"pattern\": \"xn--bcher-kva.example\", " PINS_AB "}]" },
    { "include_subdomains and **. of the same name",
      "[{\"pattern\": \"a.example\", \"include_subdomains\": true, "
      PINS_AB "}, {\"pattern\": \"**.a.example\", " PINS_AB "}]" },
  };
  pw_policy_t *p;
  json_t *j;
  pw_err_t err;
  size_t i;
  int rc;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    p = pw_policy_new();
    j = load_json(cases[i].batch);
    memset(&err, 0, sizeof(err));
    rc = pw_policy_add_json(p, j, &err);
    cr_expect_eq(rc, PW_EINVAL, "%s: got %s, want EINVAL", cases[i].comment,
                 pw_err_name(rc));
    cr_expect_not_null(strstr(err.msg, "pins[1]: pattern appears twice"),
                       "%s: err.msg '%s'", cases[i].comment, err.msg);
    cr_expect_eq(pw_policy_count(p), 0, "%s: %zu sets added",
                 cases[i].comment, pw_policy_count(p));
    json_decref(j);
    pw_policy_free(p);
  }
}

/* Distinct kinds over one name are distinct patterns, not duplicates. */
Test(policy, add_json_same_name_other_kind)
{
  pw_policy_t *p = policy_of(
    "[{\"pattern\": \"a.example\", " PINS_AB "},"
    " {\"pattern\": \"*.a.example\", " PINS_AB "},"
    " {\"pattern\": \"**.a.example\", " PINS_AB "}]");

  cr_expect_eq(pw_policy_count(p), 3, "count %zu, want 3",
               pw_policy_count(p));
  pw_policy_free(p);
}

Test(policy, add_json_not_array)
{
  pw_policy_t *p = pw_policy_new();
  json_t *j = load_json("{\"pattern\": \"a.example\", " PINS_AB "}");
  pw_err_t err;
  int rc;

  rc = pw_policy_add_json(p, j, &err);
  cr_expect_eq(rc, PW_EINVAL, "got %s, want EINVAL", pw_err_name(rc));
  cr_expect_not_null(strstr(err.msg, "array"), "err.msg '%s'", err.msg);
  json_decref(j);
  pw_policy_free(p);
}

/* A set for a pattern already in the policy replaces it. */
Test(policy, add_json_replaces)
{
  pw_policy_t *p = policy_of(
    "[{\"pattern\": \"a.example\", \"pins\": [\"" PIN_C "\"]}]");
  json_t *j = load_json(
    "[{\"pattern\": \"A.EXAMPLE\", \"mode\": \"report\", " PINS_AB "}]");
  const pw_pinset_t *set;
  pw_err_t err;

  cr_assert_eq(pw_policy_add_json(p, j, &err), PW_OK, "%s", err.msg);
  cr_expect_eq(pw_policy_count(p), 1, "count %zu, want 1",
               pw_policy_count(p));
  set = pw_policy_lookup(p, "a.example");
  cr_assert_not_null(set);
  cr_expect_eq(set->npins, 2, "%zu pins, want the new 2", set->npins);
  cr_expect_eq(set->mode, PW_MODE_REPORT, "mode %d, want report",
               (int) set->mode);
  json_decref(j);
  pw_policy_free(p);
}

/* Revisions */

Test(policy, revision)
{
  pw_policy_t *p = pw_policy_new(), *q = pw_policy_new();
  json_t *good = load_json("[{\"pattern\": \"b.example\", " PINS_AB "}]");
  json_t *bad = load_json("[{\"pattern\": \"c.example\", " PINS_AB "},"
                          " {\"pattern\": \"*.*\", " PINS_AB "}]");
  pw_pinset_t set;
  uint64_t r0, r1, r2, r3, r4;

  r0 = pw_policy_revision(p);
  cr_expect_neq(r0, pw_policy_revision(q),
                "two fresh policies share revision %llu",
                (unsigned long long) r0);

  memset(&set, 0, sizeof(set));
  strcpy(set.name, "a.example");
  set.npins = 1;
  cr_assert_eq(pw_policy_add(p, &set, NULL), PW_OK);
  r1 = pw_policy_revision(p);
  cr_expect_gt(r1, r0, "add: %llu, was %llu", (unsigned long long) r1,
               (unsigned long long) r0);

  /* A replacement is a change too. */
  set.mode = PW_MODE_REPORT;
  cr_assert_eq(pw_policy_add(p, &set, NULL), PW_OK);
  r2 = pw_policy_revision(p);
  cr_expect_gt(r2, r1, "replace: %llu, was %llu", (unsigned long long) r2,
               (unsigned long long) r1);

  cr_assert_eq(pw_policy_add_json(p, good, NULL), PW_OK);
  r3 = pw_policy_revision(p);
  cr_expect_gt(r3, r2, "add_json: %llu, was %llu", (unsigned long long) r3,
               (unsigned long long) r2);

  /* A refused batch is no change. */
  cr_assert_neq(pw_policy_add_json(p, bad, NULL), PW_OK);
  r4 = pw_policy_revision(p);
  cr_expect_eq(r4, r3, "refused add_json: %llu, was %llu",
               (unsigned long long) r4, (unsigned long long) r3);

  /* Reading is no change. */
  (void) pw_policy_lookup(p, "a.example");
  json_decref(pw_policy_to_json(p));
  cr_expect_eq(pw_policy_revision(p), r4, "read: %llu, was %llu",
               (unsigned long long) pw_policy_revision(p),
               (unsigned long long) r4);

  /* A policy made later never reuses a number an older one had. */
  pw_policy_free(q);
  q = pw_policy_new();
  cr_expect_gt(pw_policy_revision(q), r4, "new policy %llu, old at %llu",
               (unsigned long long) pw_policy_revision(q),
               (unsigned long long) r4);

  json_decref(good);
  json_decref(bad);
  pw_policy_free(p);
  pw_policy_free(q);
}

/* The JSON form */

/* Policy -> JSON -> policy -> JSON gives the same text. */
Test(policy, to_json_round_trip)
{
  pw_policy_t *p = policy_of(
    "["
    "{\"pattern\": \"z.example\", \"pins\": [\"" PIN_C "\"]},"
    "{\"pattern\": \"a.example\", \"include_subdomains\": true, "
    "\"mode\": \"report\", \"expires\": 1811808000, " PINS_AB "},"
    "{\"pattern\": \"*.a.example\", " PINS_AB "},"
    "{\"pattern\": \"a.example\", \"expires\": \"2027-06-01T02:00:00+02:00\","
    " " PINS_AB "},"
    "{\"pattern\": \"b\xc3\xbc" "cher.example\", " PINS_AB "},"
    "{\"pattern\": \"2001:DB8::1\", " PINS_AB "}"
    "]");
  pw_policy_t *q = pw_policy_new();
  char *first = dump(p), *second;
  json_t *j = pw_policy_to_json(p);
  pw_err_t err;

  cr_assert_eq(pw_policy_add_json(q, j, &err), PW_OK,
               "the policy's own JSON is refused: %s\n%s", err.msg, first);
  second = dump(q);
  cr_expect_str_eq(second, first, "round trip:\n%s\nwas\n%s", second, first);
  cr_expect_eq(pw_policy_count(q), pw_policy_count(p), "count %zu, was %zu",
               pw_policy_count(q), pw_policy_count(p));

  free(first);
  free(second);
  json_decref(j);
  pw_policy_free(p);
  pw_policy_free(q);
}

/* What the JSON form looks like: pattern order, "**." for subdomains. */
Test(policy, to_json_form)
{
  static const char want[] =
    "[{\"mode\":\"enforce\",\"pattern\":\"2001:db8::1\",\"pins\":[\"" PIN_A
    "\"]},"
    "{\"expires\":\"2027-06-01T00:00:00Z\",\"mode\":\"report\","
    "\"pattern\":\"a.example\",\"pins\":[\"" PIN_A "\"]},"
    "{\"mode\":\"enforce\",\"pattern\":\"**.a.example\",\"pins\":[\"" PIN_B
    "\",\"" PIN_A "\"]},"
    "{\"mode\":\"enforce\",\"pattern\":\"*.xn--bcher-kva.example\","
    "\"pins\":[\"" PIN_C "\"]}]";
  pw_policy_t *p = policy_of(
    "["
    "{\"pattern\": \"*.b\xc3\xbc" "cher.example\", \"pins\": [\"" PIN_C
    "\"]},"
    "{\"pattern\": \"a.example\", \"include_subdomains\": true, "
    "\"pins\": [\"" PIN_B_CURL "\", \"" PIN_A "\"]},"
    "{\"pattern\": \"A.example\", \"mode\": \"report\", "
    "\"expires\": \"1811808000\", \"pins\": [\"" PIN_A "\"]},"
    "{\"pattern\": \"[2001:DB8::1]\", \"pins\": [\"" PIN_A "\"]}"
    "]");
  char *got = dump(p);

  cr_expect_str_eq(got, want, "JSON form:\n%s\nwant\n%s", got, want);
  free(got);
  pw_policy_free(p);
}

/* The same expiry, written three ways, reads and writes the same. */
Test(policy, expiry_representation)
{
  static const char *const forms[] = {
    "\"2027-06-01T00:00:00Z\"", "\"2027-06-01T02:00:00+02:00\"",
    "\"2027-05-31t19:00:00.999-05:00\"", "1811808000", "\"1811808000\"",
  };
  char text[256];
  const char *out;
  pw_pinset_t set;
  json_t *j, *back;
  pw_err_t err;
  size_t i;

  for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    snprintf(text, sizeof(text), "{\"pattern\": \"a.example\", "
             "\"expires\": %s, " PINS_AB "}", forms[i]);
    j = load_json(text);
    cr_assert_eq(pw_pinset_from_json(&set, j, &err), PW_OK, "%s: %s",
                 forms[i], err.msg);
    cr_expect_eq(set.expires, T_JUNE, "%s: expires %lld, want %lld",
                 forms[i], (long long) set.expires, (long long) T_JUNE);

    back = pw_pinset_to_json(&set);
    cr_assert_not_null(back);
    out = json_string_value(json_object_get(back, "expires"));
    cr_expect_str_eq(out != NULL ? out : "(none)", "2027-06-01T00:00:00Z",
                     "%s: written as %s", forms[i], out ? out : "(none)");
    json_decref(back);
    json_decref(j);
  }

  /* No expiry: no key. */
  j = load_json("{\"pattern\": \"a.example\", " PINS_AB "}");
  cr_assert_eq(pw_pinset_from_json(&set, j, &err), PW_OK, "%s", err.msg);
  back = pw_pinset_to_json(&set);
  cr_expect_null(json_object_get(back, "expires"),
                 "a set that never expires has an \"expires\" key");
  json_decref(back);
  json_decref(j);
}

/*
 * RFC 3339 ends at 9999-12-31T23:59:59Z.  An expiry past it must be
 * refused on input, or written back as something that reads as the same
 * time: never as "1970-01-01T00:00:00Z", which says the set expired long
 * ago and reads back as "never".
 */
Test(policy, expiry_past_year_9999)
{
  static const char *const forms[] = {
    "253402300800", "\"253402300800\"", "9223372036854775807",
  };
  char text[256];
  const char *out;
  pw_pinset_t set, back_set;
  json_t *j, *back;
  pw_err_t err;
  size_t i;
  int rc;

  for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    snprintf(text, sizeof(text), "{\"pattern\": \"a.example\", "
             "\"expires\": %s, " PINS_AB "}", forms[i]);
    j = load_json(text);
    rc = pw_pinset_from_json(&set, j, &err);
    json_decref(j);
    if (rc != PW_OK)
      continue;   /* refused: fine */

    back = pw_pinset_to_json(&set);
    cr_assert_not_null(back);
    out = json_string_value(json_object_get(back, "expires"));
    cr_expect(out == NULL || strcmp(out, "1970-01-01T00:00:00Z") != 0,
              "expires %s (%lld) is written as %s", forms[i],
              (long long) set.expires, out);
    rc = pw_pinset_from_json(&back_set, back, &err);
    cr_expect_eq(rc, PW_OK, "expires %s: own JSON refused: %s", forms[i],
                 err.msg);
    cr_expect(rc != PW_OK || back_set.expires == set.expires,
              "expires %s: %lld comes back as %lld", forms[i],
              (long long) set.expires, (long long) back_set.expires);
    json_decref(back);
  }
}

/* One set through its JSON form and back is the same set. */
Test(policy, pinset_round_trip)
{
  static const char *const sets[] = {
    "{\"pattern\": \"a.example\", " PINS_AB "}",
    "{\"pattern\": \"a.example\", \"include_subdomains\": true, " PINS_AB
    "}",
    "{\"pattern\": \"*.a.example\", \"mode\": \"report\", " PINS_AB "}",
    "{\"pattern\": \"**.a.example\", \"expires\": 1, " PINS_AB "}",
    "{\"pattern\": \"192.0.2.1\", \"pins\": [\"" PIN_C "\"]}",
  };
  pw_pinset_t a, b;
  json_t *j, *back;
  pw_err_t err;
  size_t i, k;

  for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
    j = load_json(sets[i]);
    cr_assert_eq(pw_pinset_from_json(&a, j, &err), PW_OK, "%s", err.msg);
    back = pw_pinset_to_json(&a);
    cr_assert_not_null(back);
    cr_assert_eq(pw_pinset_from_json(&b, back, &err), PW_OK,
                 "%s: own JSON refused: %s", sets[i], err.msg);
    cr_expect_eq(a.match, b.match, "%s: match %d -> %d", sets[i],
                 (int) a.match, (int) b.match);
    cr_expect_str_eq(a.name, b.name, "%s: name %s -> %s", sets[i], a.name,
                     b.name);
    cr_expect_eq(a.mode, b.mode, "%s: mode %d -> %d", sets[i], (int) a.mode,
                 (int) b.mode);
    cr_expect_eq(a.expires, b.expires, "%s: expires %lld -> %lld", sets[i],
                 (long long) a.expires, (long long) b.expires);
    cr_assert_eq(a.npins, b.npins, "%s: %zu pins -> %zu", sets[i], a.npins,
                 b.npins);
    for (k = 0; k < a.npins; k++)
      cr_expect(pw_pins_equal(&a.pins[k], &b.pins[k]), "%s: pins[%zu]",
                sets[i], k);
    json_decref(back);
    json_decref(j);
  }
}

/* Warnings */

Test(policy, warning)
{
  static const struct {
    const char *comment;
    const char *json;
    bool        warns;
  } cases[] = {
    { "enforce with one pin: no backup",
      "{\"pattern\": \"a.example\", \"pins\": [\"" PIN_A "\"]}", true },
    { "enforce with two pins",
      "{\"pattern\": \"a.example\", " PINS_AB "}", false },
    { "report with one pin: nothing is blocked",
      "{\"pattern\": \"a.example\", \"mode\": \"report\", \"pins\": [\""
      PIN_A "\"]}", false },
    { "enforce with one pin written twice",
      "{\"pattern\": \"a.example\", \"pins\": [\"" PIN_B "\", \""
      PIN_B_CURL "\"]}", true },
  };
  const char *w;
  pw_pinset_t set;
  json_t *j;
  pw_err_t err;
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    j = load_json(cases[i].json);
    cr_assert_eq(pw_pinset_from_json(&set, j, &err), PW_OK, "%s: %s",
                 cases[i].comment, err.msg);
    w = pw_pinset_warning(&set);
    cr_expect_eq(w != NULL, cases[i].warns, "%s: warning %s, want %s",
                 cases[i].comment, w != NULL ? w : "(none)",
                 cases[i].warns ? "one" : "none");
    if (w != NULL)
      cr_expect_not_null(strstr(w, "backup"), "%s: warning '%s'",
                         cases[i].comment, w);
    json_decref(j);
  }
}

/* Scale */

/*
 * 10,000 sets, a third of each kind: every one found by its own hosts,
 * and near misses missed.
 */
Test(policy, ten_thousand_sets)
{
  static const char *const prefix[] = { "", "*.", "**." };
  char host[PW_HOST_MAX], want[PW_HOST_MAX_PATTERN];
  char got[PW_HOST_MAX_PATTERN];
  const pw_pinset_t *set;
  pw_policy_t *p = pw_policy_new();
  pw_pinset_t s;
  pw_pin_t pin;
  pw_err_t err;
  size_t i;

  for (i = 0; i < 10000; i++) {
    memset(&s, 0, sizeof(s));
    s.match = (pw_match_t) (i % 3);
    snprintf(s.name, sizeof(s.name), "h%zu.example", i);
    pin_of(i, &s.pins[0]);
    s.npins = 1;
    cr_assert_eq(pw_policy_add(p, &s, &err), PW_OK, "set %zu: %s", i,
                 err.msg);
  }
  cr_assert_eq(pw_policy_count(p), 10000, "count %zu",
               pw_policy_count(p));

  for (i = 0; i < 10000; i++) {
    /* The name itself for exact and "**.", one label more for "*.". */
    snprintf(host, sizeof(host), "%sh%zu.example", i % 3 == 1 ? "x." : "",
             i);
    snprintf(want, sizeof(want), "%sh%zu.example", prefix[i % 3], i);
    set = pw_policy_lookup(p, host);
    got[0] = '\0';
    if (set != NULL)
      pw_pinset_pattern(set, got);
    cr_assert_str_eq(got, want, "'%s' matched '%s', want '%s'", host,
                     got, want);
    pin_of(i, &pin);
    cr_assert(pw_pins_equal(&set->pins[0], &pin), "'%s': another set's pin",
              host);

    /* Two more labels: only "**." still matches. */
    snprintf(host, sizeof(host), "a.b.h%zu.example", i);
    set = pw_policy_lookup(p, host);
    cr_assert_eq(set != NULL, i % 3 == 2, "'%s' %s", host,
                 set != NULL ? "hit" : "missed");
  }

  cr_expect_null(pw_policy_lookup(p, "h10000.example"), "a name not added");
  cr_expect_null(pw_policy_lookup(p, "example"), "the common parent");
  cr_expect_null(pw_policy_lookup(p, "h1.example"), "*. over its own base");
  pw_policy_free(p);
}

/* The same through one JSON batch, the way an import arrives. */
Test(policy, ten_thousand_sets_json)
{
  char pattern[64], text[PW_PIN_TEXT_MAX];
  json_t *arr = json_array(), *pins;
  pw_policy_t *p = pw_policy_new();
  const pw_pinset_t *set;
  pw_pin_t pin;
  pw_err_t err;
  size_t i;

  for (i = 0; i < 10000; i++) {
    snprintf(pattern, sizeof(pattern), "**.s%zu.example", i);
    pin_of(i, &pin);
    pw_pins_format(&pin, text);
    pins = json_pack("[s]", text);
    json_array_append_new(arr, json_pack("{s:s, s:o}", "pattern", pattern,
                                         "pins", pins));
  }
  cr_assert_eq(pw_policy_add_json(p, arr, &err), PW_OK, "%s", err.msg);
  cr_assert_eq(pw_policy_count(p), 10000, "count %zu",
               pw_policy_count(p));

  set = pw_policy_lookup(p, "deep.down.s9999.example");
  cr_assert_not_null(set, "the last set is not found");
  pin_of(9999, &pin);
  cr_expect(pw_pins_equal(&set->pins[0], &pin), "another set's pin");
  cr_expect_null(pw_policy_lookup(p, "s10000.example"), "a set not added");

  json_decref(arr);
  pw_policy_free(p);
}
