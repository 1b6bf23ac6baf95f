/*
 * Host names as the decision core compares them: lower-case A-labels
 * without a trailing dot, IP literals in inet_ntop's canonical text.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <string.h>

#include "engine/host.h"

/* Labels of exact lengths. */
#define L10 "abcdefghij"
#define L60 L10 L10 L10 L10 L10 L10
#define L63 L60 "abc"
#define L64 L60 "abcd"

/*
 * Criterion copies each parameter into a process of its own, where the
 * parent's pointers mean nothing: the strings live in the struct.  The
 * input is pre, then rep written nrep times, then post, so that long
 * names need no long literals.
 */
typedef struct hcase {
  char           comment[64];
  char           pre[160];
  char           rep[12];
  int            nrep;
  char           post[80];
  int            code;          /* PW_OK, or the error wanted */
  char           want[160];     /* the output, or a part of err.msg */
  pw_host_kind_t kind;
} hcase_t;

ParameterizedTestParameters(host, normalize)
{
  static hcase_t cases[] = {
    /* Names. */
    { "a plain name", "example.com", "", 0, "", PW_OK, "example.com",
      PW_HOST_NAME },
    { "upper case is lowered", "WWW.Example.COM", "", 0, "", PW_OK,
      "www.example.com", PW_HOST_NAME },
    { "one trailing dot is dropped", "example.com.", "", 0, "", PW_OK,
      "example.com", PW_HOST_NAME },
    { "upper case and a trailing dot", "EXAMPLE.COM.", "", 0, "", PW_OK,
      "example.com", PW_HOST_NAME },
    { "one label", "localhost", "", 0, "", PW_OK, "localhost",
      PW_HOST_NAME },
    { "digits in a label that is not the last", "123.example", "", 0, "",
      PW_OK, "123.example", PW_HOST_NAME },
    { "a last label of digits and letters", "example.123a", "", 0, "",
      PW_OK, "example.123a", PW_HOST_NAME },
    { "an underscore, as browsers allow", "_dmarc.Example.com", "", 0, "",
      PW_OK, "_dmarc.example.com", PW_HOST_NAME },
    { "a hyphen inside a label", "a-b.example", "", 0, "", PW_OK,
      "a-b.example", PW_HOST_NAME },

    /* IDN. */
    { "a U-label becomes an A-label", "b\xc3\xbc" "cher.example", "", 0, "",
      PW_OK, "xn--bcher-kva.example", PW_HOST_NAME },
    { "an upper-case U-label is mapped first",
      "B\xc3\x9c" "CHER.example", "", 0, "", PW_OK, "xn--bcher-kva.example",
      PW_HOST_NAME },
    { "a U-label with a trailing dot", "b\xc3\xbc" "cher.example.", "", 0,
      "", PW_OK, "xn--bcher-kva.example", PW_HOST_NAME },
    { "sharp s is kept (non-transitional, as browsers)",
      "fa\xc3\x9f.de", "", 0, "", PW_OK, "xn--fa-hia.de", PW_HOST_NAME },
    { "an ideographic full stop separates labels (UTS 46)",
      "b\xc3\xbc" "cher\xe3\x80\x82" "example", "", 0, "", PW_OK,
      "xn--bcher-kva.example", PW_HOST_NAME },
    { "a compatibility character is mapped (UTS 46)",
      "\xe2\x85\xa8.example", "", 0, "", PW_OK, "ix.example", PW_HOST_NAME },
    { "an A-label is kept", "xn--bcher-kva.example", "", 0, "", PW_OK,
      "xn--bcher-kva.example", PW_HOST_NAME },
    { "an upper-case A-label is lowered", "XN--BCHER-KVA.EXAMPLE", "", 0, "",
      PW_OK, "xn--bcher-kva.example", PW_HOST_NAME },

    /* IP literals. */
    { "IPv4", "192.0.2.1", "", 0, "", PW_OK, "192.0.2.1", PW_HOST_IPV4 },
    { "IPv4 loopback", "127.0.0.1", "", 0, "", PW_OK, "127.0.0.1",
      PW_HOST_IPV4 },
    { "IPv6 loopback", "::1", "", 0, "", PW_OK, "::1", PW_HOST_IPV6 },
    { "IPv6 in brackets", "[::1]", "", 0, "", PW_OK, "::1", PW_HOST_IPV6 },
    { "IPv6 is canonicalised", "2001:DB8:0:0::1", "", 0, "", PW_OK,
      "2001:db8::1", PW_HOST_IPV6 },
    { "IPv6 written out in full, in brackets",
      "[2001:0DB8:0000:0000:0000:0000:0000:0001]", "", 0, "", PW_OK,
      "2001:db8::1", PW_HOST_IPV6 },
    { "IPv6 with an IPv4 tail", "::FFFF:192.0.2.1", "", 0, "", PW_OK,
      "::ffff:192.0.2.1", PW_HOST_IPV6 },

    /* Lengths at the limits. */
    { "a label of 63 octets", L63 ".example", "", 0, "", PW_OK,
      L63 ".example", PW_HOST_NAME },
    { "a name of 253 characters", "", L10 ".", 22, L10 "k", PW_OK, "",
      PW_HOST_NAME },
    { "a name of 253 characters and a trailing dot", "", L10 ".", 22,
      L10 "k.", PW_OK, "", PW_HOST_NAME },

    /* Bad. */
    { "empty", "", "", 0, "", PW_EINVAL, "empty", 0 },
    { "a dot alone", ".", "", 0, "", PW_EINVAL, "empty", 0 },
    { "two dots", "..", "", 0, "", PW_EINVAL, "empty label", 0 },
    { "an empty label inside", "a..b", "", 0, "", PW_EINVAL, "empty label",
      0 },
    { "an empty first label", ".example.com", "", 0, "", PW_EINVAL,
      "empty label", 0 },
    { "two trailing dots", "example.com..", "", 0, "", PW_EINVAL,
      "empty label", 0 },
    { "an empty label inside a U-label name", "b\xc3\xbc" "cher..example",
      "", 0, "", PW_EINVAL, "empty label", 0 },
    { "a label of 64 octets", L64 ".example", "", 0, "", PW_EINVAL,
      "over 63", 0 },
    { "a name of 254 characters", "", L10 ".", 22, L10 "kl", PW_EINVAL,
      "longer than 253", 0 },
    { "a U-label too long for an A-label", "", "\xc3\xbc", 60, ".example",
      PW_EINVAL, "not a valid IDN", 0 },
    { "1016 characters: read, then refused for length", "", "a.", 508, "",
      PW_EINVAL, "longer than 253", 0 },
    { "1018 characters: not read at all", "", "a.", 509, "", PW_ETOOBIG,
      "too long", 0 },
    { "a space inside", "exa mple.com", "", 0, "", PW_EINVAL,
      "not allowed: 0x20", 0 },
    { "a space in front", " example.com", "", 0, "", PW_EINVAL,
      "not allowed: 0x20", 0 },
    { "a tab", "exa\tmple.com", "", 0, "", PW_EINVAL, "not allowed: 0x09",
      0 },
    { "a control character", "exa\x01mple.com", "", 0, "", PW_EINVAL,
      "not allowed: 0x01", 0 },
    { "DEL", "example.com\x7f", "", 0, "", PW_EINVAL, "not allowed: 0x7f",
      0 },
    { "a CR LF (header injection)", "example.com\r\nX: y", "", 0, "",
      PW_EINVAL, "not allowed: 0x0d", 0 },
    { "a port", "example.com:443", "", 0, "", PW_EINVAL,
      "not allowed: 0x3a", 0 },
    { "a wildcard", "*.example.com", "", 0, "", PW_EINVAL,
      "not allowed: 0x2a", 0 },
    { "a slash", "example.com/x", "", 0, "", PW_EINVAL, "not allowed: 0x2f",
      0 },
    { "user info", "user@example.com", "", 0, "", PW_EINVAL,
      "not allowed: 0x40", 0 },
    { "a name in brackets", "[example.com]", "", 0, "", PW_EINVAL,
      "not allowed: 0x5b", 0 },
    /* Brackets are IPv6 syntax (RFC 3986 section 3.2.2). */
    { "IPv4 in brackets", "[192.0.2.1]", "", 0, "", PW_EINVAL,
      "not allowed", 0 },
    { "an unclosed bracket", "[::1", "", 0, "", PW_EINVAL, "not allowed",
      0 },
    { "an IPv6 zone", "fe80::1%eth0", "", 0, "", PW_EINVAL, "not allowed",
      0 },
    { "three parts of digits", "1.2.3", "", 0, "", PW_EINVAL,
      "ends in a number", 0 },
    { "an octet over 255", "256.1.1.1", "", 0, "", PW_EINVAL,
      "ends in a number", 0 },
    { "five parts of digits", "1.2.3.4.5", "", 0, "", PW_EINVAL,
      "ends in a number", 0 },
    { "a name ending in a number", "example.123", "", 0, "", PW_EINVAL,
      "ends in a number", 0 },
    { "a lone number", "2130706433", "", 0, "", PW_EINVAL,
      "ends in a number", 0 },
    { "octal-looking IPv4 is not IPv4", "0177.0.0.1", "", 0, "", PW_EINVAL,
      "ends in a number", 0 },
    { "UTF-8 cut short", "a\xc3", "", 0, "", PW_EINVAL, "not a valid IDN",
      0 },
    { "a symbol IDNA 2008 disallows", "\xe2\x98\x83.net", "", 0, "",
      PW_EINVAL, "not a valid IDN", 0 },
  };

  return cr_make_param_array(hcase_t, cases,
                             sizeof(cases) / sizeof(cases[0]));
}

static const char *
kind_name(pw_host_kind_t k)
{
  switch (k) {
  case PW_HOST_NAME: return "name";
  case PW_HOST_IPV4: return "IPv4";
  case PW_HOST_IPV6: return "IPv6";
  }
  return "?";
}

ParameterizedTest(hcase_t *c, host, normalize)
{
  char in[2048], want[2048], out[PW_HOST_MAX];
  pw_host_kind_t kind = (pw_host_kind_t) -1;
  size_t len;
  pw_err_t err;
  int i, rc;

  len = (size_t) snprintf(in, sizeof(in), "%s", c->pre);
  for (i = 0; i < c->nrep; i++)
    len += (size_t) snprintf(in + len, sizeof(in) - len, "%s", c->rep);
  snprintf(in + len, sizeof(in) - len, "%s", c->post);

  /* A generated name is its own output, less a trailing dot. */
  snprintf(want, sizeof(want), "%s", c->want[0] != '\0' ? c->want : in);
  len = strlen(want);
  if (c->want[0] == '\0' && len > 0 && want[len - 1] == '.')
    want[len - 1] = '\0';

  memset(&err, 0, sizeof(err));
  rc = pw_host_normalize(in, out, &kind, &err);

  cr_assert_eq(rc, c->code, "%s: '%s' gave %s, want %s (%s)", c->comment,
               in, pw_err_name(rc), pw_err_name(c->code), err.msg);
  if (c->code == PW_OK) {
    cr_expect_str_eq(out, want, "%s: '%s' -> '%s', want '%s'", c->comment,
                     in, out, want);
    cr_expect_eq(kind, c->kind, "%s: kind %s, want %s", c->comment,
                 kind_name(kind), kind_name(c->kind));
  } else {
    cr_expect_not_null(strstr(err.msg, want),
                       "%s: err.msg '%s' does not hold '%s'", c->comment,
                       err.msg, want);
  }
}

/* NULL input is an error; a NULL kind and a NULL err are allowed. */
Test(host, null_arguments)
{
  char out[PW_HOST_MAX];
  pw_err_t err;
  int rc;

  rc = pw_host_normalize(NULL, out, NULL, &err);
  cr_expect_eq(rc, PW_EINVAL, "NULL host gave %s", pw_err_name(rc));
  cr_expect_not_null(strstr(err.msg, "missing"), "err.msg '%s'", err.msg);

  rc = pw_host_normalize("Example.COM", out, NULL, NULL);
  cr_expect_eq(rc, PW_OK, "NULL kind and err gave %s", pw_err_name(rc));
  cr_expect_str_eq(out, "example.com", "got '%s'", out);

  rc = pw_host_normalize("a..b", out, NULL, NULL);
  cr_expect_eq(rc, PW_EINVAL, "NULL err on a bad name gave %s",
               pw_err_name(rc));
}

/* Normalising twice changes nothing. */
Test(host, idempotent)
{
  static const char *const hosts[] = {
    "WWW.Example.COM.", "b\xc3\xbc" "cher.example", "[2001:DB8::0:1]",
    "192.0.2.1", "xn--fa-hia.de", "_sip._tcp.Example.com",
  };
  char once[PW_HOST_MAX], twice[PW_HOST_MAX];
  size_t i;

  for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
    cr_assert_eq(pw_host_normalize(hosts[i], once, NULL, NULL), PW_OK,
                 "'%s' does not normalise", hosts[i]);
    cr_assert_eq(pw_host_normalize(once, twice, NULL, NULL), PW_OK,
                 "'%s' -> '%s' does not normalise again", hosts[i], once);
    cr_expect_str_eq(once, twice, "'%s' -> '%s' -> '%s'", hosts[i], once,
                     twice);
  }
}

typedef struct bcase {
  const char *comment;
  const char *host;
  bool        want;
} bcase_t;

static void
check_bool(bool (*fn)(const char *), const char *fn_name,
           const bcase_t *cases, size_t n)
{
  size_t i;
  bool got;

  for (i = 0; i < n; i++) {
    got = fn(cases[i].host);
    cr_expect_eq(got, cases[i].want, "%s: %s(\"%s\") is %s, want %s",
                 cases[i].comment, fn_name, cases[i].host,
                 got ? "true" : "false", cases[i].want ? "true" : "false");
  }
}

Test(host, is_loopback)
{
  static const bcase_t cases[] = {
    { "the name", "localhost", true },
    /* RFC 6761 section 6.3. */
    { "a name under localhost", "app.localhost", true },
    { "a deeper name under localhost", "a.b.localhost", true },
    { "localhost as a first label only", "localhost.example.com", false },
    { "a name that merely ends in localhost", "mylocalhost", false },
    { "the usual IPv4 loopback", "127.0.0.1", true },
    { "anywhere in 127/8", "127.1.2.3", true },
    { "the top of 127/8", "127.255.255.255", true },
    { "just under 127/8", "126.255.255.255", false },
    { "just over 127/8", "128.0.0.0", false },
    { "IPv6 loopback", "::1", true },
    { "the IPv6 unspecified address", "::", false },
    { "the IPv4 unspecified address", "0.0.0.0", false },
    { "a private address", "10.0.0.1", false },
    { "a public name", "example.com", false },
    { "empty", "", false },
  };

  check_bool(pw_host_is_loopback, "pw_host_is_loopback", cases,
             sizeof(cases) / sizeof(cases[0]));
}

/* What a raw host becomes decides whether it is loopback. */
Test(host, is_loopback_after_normalize)
{
  static const bcase_t cases[] = {
    { "IPv6 loopback in brackets", "[::1]", true },
    { "IPv6 loopback written out", "0:0:0:0:0:0:0:1", true },
    { "localhost in capitals with a dot", "LOCALHOST.", true },
    { "a name under localhost in capitals", "App.LocalHost", true },
    { "IPv4 loopback", "127.0.0.53", true },
    { "a public name", "Example.COM.", false },
  };
  char out[PW_HOST_MAX];
  size_t i;
  bool got;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cr_assert_eq(pw_host_normalize(cases[i].host, out, NULL, NULL), PW_OK,
                 "%s: '%s' does not normalise", cases[i].comment,
                 cases[i].host);
    got = pw_host_is_loopback(out);
    cr_expect_eq(got, cases[i].want, "%s: '%s' -> '%s' loopback %s, want %s",
                 cases[i].comment, cases[i].host, out,
                 got ? "true" : "false", cases[i].want ? "true" : "false");
  }
}

Test(host, is_ip)
{
  static const bcase_t cases[] = {
    { "IPv4", "192.0.2.1", true },
    { "IPv6", "2001:db8::1", true },
    { "IPv6 loopback", "::1", true },
    { "IPv6 with an IPv4 tail", "::ffff:192.0.2.1", true },
    { "a name", "example.com", false },
    { "localhost is a name", "localhost", false },
    { "three parts are not IPv4", "1.2.3", false },
    { "an octet over 255", "256.1.1.1", false },
    { "brackets are not normalised text", "[::1]", false },
    { "a name of hex digits", "dead.beef", false },
    { "empty", "", false },
  };

  check_bool(pw_host_is_ip, "pw_host_is_ip", cases,
             sizeof(cases) / sizeof(cases[0]));
}
