/*
 * Times as users write them: RFC 3339 text and Unix seconds, good and
 * bad, and the canonical form the engine writes back.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdint.h>
#include <string.h>

#include "engine/rfc3339.h"

/* 2026-12-03T16:00:00Z, the instant most good cases name. */
#define T_DEC3 1796313600LL

/*
 * Criterion copies each parameter into a process of its own, where the
 * parent's pointers mean nothing: the strings live in the struct.
 */
typedef struct tcase {
  char    comment[64];
  char    text[96];
  int     code;           /* PW_OK, or the error wanted */
  int64_t want;           /* the time, when code is PW_OK */
  char    msg[48];        /* a part of err.msg, when code is not PW_OK */
} tcase_t;

ParameterizedTestParameters(rfc3339, parse)
{
  static tcase_t cases[] = {
    /* Good. */
    { "the canonical form", "2026-12-03T16:00:00Z", PW_OK, T_DEC3, "" },
    { "lower-case t and z (RFC 3339 section 5.6 note)",
      "2026-12-03t16:00:00z", PW_OK, T_DEC3, "" },
    { "a space for the T (RFC 3339 section 5.6 note)",
      "2026-12-03 16:00:00Z", PW_OK, T_DEC3, "" },
    { "a fraction of a second is dropped",
      "2026-12-03T16:00:00.987654Z", PW_OK, T_DEC3, "" },
    { "a one-digit fraction", "2026-12-03T16:00:00.5Z", PW_OK, T_DEC3, "" },
    { "a positive offset", "2026-12-03T18:00:00+02:00", PW_OK, T_DEC3, "" },
    { "a negative offset with minutes", "2026-12-03T10:30:00-05:30", PW_OK,
      T_DEC3, "" },
    { "offset -00:00 (unknown local offset) is UTC",
      "2026-12-03T16:00:00-00:00", PW_OK, T_DEC3, "" },
    { "a fraction and an offset", "2026-12-03T18:00:00.25+02:00", PW_OK,
      T_DEC3, "" },
    { "leap day of a leap year", "2024-02-29T12:00:00Z", PW_OK,
      1709208000LL, "" },
    { "leap day of a 400-year leap year", "2000-02-29T00:00:00Z", PW_OK,
      951782400LL, "" },
    { "leap second reads as the second before",
      "2016-12-31T23:59:60Z", PW_OK, 1483228799LL, "" },
    { "the epoch", "1970-01-01T00:00:00Z", PW_OK, 0, "" },
    { "the epoch written with an offset", "1970-01-01T01:00:00+01:00",
      PW_OK, 0, "" },
    { "Unix seconds zero", "0", PW_OK, 0, "" },
    { "Unix seconds", "1796000000", PW_OK, 1796000000LL, "" },
    { "Unix seconds past 2038", "4102444800", PW_OK, 4102444800LL, "" },
    { "the last second of year 9999", "9999-12-31T23:59:59Z", PW_OK,
      253402300799LL, "" },

    /* Bad. */
    { "29 February of a common year", "2023-02-29T00:00:00Z", PW_EINVAL,
      0, "out of range" },
    { "29 February of a century not a leap year", "1900-02-29T00:00:00Z",
      PW_EINVAL, 0, "out of range" },
    { "30 February", "2024-02-30T00:00:00Z", PW_EINVAL, 0,
      "out of range" },
    { "31 April", "2026-04-31T00:00:00Z", PW_EINVAL, 0, "out of range" },
    { "month 13", "2026-13-01T00:00:00Z", PW_EINVAL, 0, "out of range" },
    { "month 0", "2026-00-01T00:00:00Z", PW_EINVAL, 0, "out of range" },
    { "day 0", "2026-12-00T00:00:00Z", PW_EINVAL, 0, "out of range" },
    { "hour 24", "2026-12-03T24:00:00Z", PW_EINVAL, 0, "out of range" },
    { "minute 60", "2026-12-03T16:60:00Z", PW_EINVAL, 0, "out of range" },
    { "second 61", "2026-12-03T16:00:61Z", PW_EINVAL, 0, "out of range" },
    { "offset hour 24", "2026-12-03T16:00:00+24:00", PW_EINVAL, 0,
      "out of range" },
    { "offset minute 60", "2026-12-03T16:00:00+01:60", PW_EINVAL, 0,
      "out of range" },
    { "missing Z", "2026-12-03T16:00:00", PW_EINVAL, 0, "neither RFC 3339" },
    { "an offset without its colon", "2026-12-03T16:00:00+0200", PW_EINVAL,
      0, "neither RFC 3339" },
    { "an offset of hours only", "2026-12-03T16:00:00+02", PW_EINVAL, 0,
      "neither RFC 3339" },
    { "trailing junk", "2026-12-03T16:00:00Zjunk", PW_EINVAL, 0,
      "neither RFC 3339" },
    { "a trailing space", "2026-12-03T16:00:00Z ", PW_EINVAL, 0,
      "neither RFC 3339" },
    { "a dot with no fraction", "2026-12-03T16:00:00.Z", PW_EINVAL, 0,
      "neither RFC 3339" },
    { "a date alone", "2026-12-03", PW_EINVAL, 0, "neither RFC 3339" },
    { "a date and hours and minutes only", "2026-12-03T16:00Z", PW_EINVAL,
      0, "neither RFC 3339" },
    { "a slash for a dash", "2026/12/03T16:00:00Z", PW_EINVAL, 0,
      "neither RFC 3339" },
    { "a one-digit month", "2026-1-03T16:00:00Z", PW_EINVAL, 0,
      "neither RFC 3339" },
    { "a T of another letter", "2026-12-03X16:00:00Z", PW_EINVAL, 0,
      "neither RFC 3339" },
    { "empty", "", PW_EINVAL, 0, "empty" },
    { "64 characters, at the cap",
      "2026-12-03T16:00:00.0000000000000000000000000000000000000000000Z",
      PW_OK, T_DEC3, "" },
    { "65 characters, over the cap",
      "2026-12-03T16:00:00.00000000000000000000000000000000000000000000Z",
      PW_ETOOBIG, 0, "too long" },
    { "negative Unix seconds", "-1", PW_EINVAL, 0, "neither RFC 3339" },
    { "Unix seconds with a sign", "+1796000000", PW_EINVAL, 0,
      "neither RFC 3339" },
    { "Unix seconds over 64 bits", "99999999999999999999", PW_EINVAL, 0,
      "not valid Unix seconds" },
    { "Unix seconds with a fraction", "1796000000.5", PW_EINVAL, 0,
      "neither RFC 3339" },
    { "the year before 1970", "1969-12-31T23:59:59Z", PW_EINVAL, 0,
      "out of range" },
    { "1970 by its date, before 1970 by its offset",
      "1970-01-01T00:30:00+01:00", PW_EINVAL, 0, "before 1970" },
  };

  return cr_make_param_array(tcase_t, cases,
                             sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(tcase_t *c, rfc3339, parse)
{
  int64_t t = -42;
  pw_err_t err;
  int rc;

  memset(&err, 0, sizeof(err));
  rc = pw_rfc3339_parse(c->text, &t, &err);

  cr_assert_eq(rc, c->code, "%s: '%s' gave %s, want %s (%s)", c->comment,
               c->text, pw_err_name(rc), pw_err_name(c->code), err.msg);
  if (c->code == PW_OK) {
    cr_expect_eq(t, c->want, "%s: '%s' is %lld, want %lld", c->comment,
                 c->text, (long long) t, (long long) c->want);
  } else {
    cr_expect_eq(t, -42, "%s: the output was written on failure: %lld",
                 c->comment, (long long) t);
    cr_expect_not_null(strstr(err.msg, c->msg),
                       "%s: err.msg '%s' does not hold '%s'", c->comment,
                       err.msg, c->msg);
  }
}

/* A missing text is an error, not a crash. */
Test(rfc3339, null)
{
  int64_t t;
  pw_err_t err;
  int rc = pw_rfc3339_parse(NULL, &t, &err);

  cr_expect_eq(rc, PW_EINVAL, "NULL gave %s, want EINVAL", pw_err_name(rc));
  cr_expect_not_null(strstr(err.msg, "missing"), "err.msg '%s'", err.msg);
}

/* A NULL err is allowed: the code alone tells the caller. */
Test(rfc3339, null_err)
{
  int64_t t;
  int rc = pw_rfc3339_parse("2026-02-30T00:00:00Z", &t, NULL);

  cr_expect_eq(rc, PW_EINVAL, "got %s, want EINVAL", pw_err_name(rc));
}

/* What the engine writes: UTC, second precision, upper-case T and Z. */
Test(rfc3339, format)
{
  static const struct {
    const char *comment;
    int64_t     t;
    const char *want;
  } cases[] = {
    { "the epoch", 0, "1970-01-01T00:00:00Z" },
    { "one second in", 1, "1970-01-01T00:00:01Z" },
    { "leap day of 2000", 951782400LL, "2000-02-29T00:00:00Z" },
    { "a 2026 afternoon", T_DEC3, "2026-12-03T16:00:00Z" },
    { "past 2038", 4102444800LL, "2100-01-01T00:00:00Z" },
    { "the last second of year 9999", 253402300799LL,
      "9999-12-31T23:59:59Z" },
  };
  char out[PW_RFC3339_LEN];
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    memset(out, 'x', sizeof(out));
    pw_rfc3339_format(cases[i].t, out);
    cr_expect_str_eq(out, cases[i].want, "%s: %lld formats as '%s', "
                     "want '%s'", cases[i].comment, (long long) cases[i].t,
                     out, cases[i].want);
  }
}

/* parse(format(t)) == t, and format(parse(s)) is the canonical text. */
Test(rfc3339, round_trip)
{
  static const int64_t times[] = {
    0, 1, 59, 86399, 951782400LL, 1483228799LL, 1709208000LL,
    1796000000LL, T_DEC3, 2147483647LL, 2147483648LL, 4102444800LL,
    253402300799LL,
  };
  static const struct {
    const char *in;
    const char *canon;
  } texts[] = {
    { "2026-12-03T16:00:00Z", "2026-12-03T16:00:00Z" },
    { "2026-12-03t18:00:00.5+02:00", "2026-12-03T16:00:00Z" },
    { "2026-12-03T10:30:00-05:30", "2026-12-03T16:00:00Z" },
    { "1796313600", "2026-12-03T16:00:00Z" },
    { "2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z" },
  };
  char out[PW_RFC3339_LEN];
  int64_t t;
  pw_err_t err;
  size_t i;
  int rc;

  for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
    pw_rfc3339_format(times[i], out);
    rc = pw_rfc3339_parse(out, &t, &err);
    cr_expect_eq(rc, PW_OK, "%lld -> '%s' does not parse: %s",
                 (long long) times[i], out, err.msg);
    cr_expect_eq(t, times[i], "%lld -> '%s' -> %lld", (long long) times[i],
                 out, (long long) t);
  }

  for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    rc = pw_rfc3339_parse(texts[i].in, &t, &err);
    cr_assert_eq(rc, PW_OK, "'%s' does not parse: %s", texts[i].in,
                 err.msg);
    pw_rfc3339_format(t, out);
    cr_expect_str_eq(out, texts[i].canon, "'%s' -> '%s', want '%s'",
                     texts[i].in, out, texts[i].canon);
  }
}
