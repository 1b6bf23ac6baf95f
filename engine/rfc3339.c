#include "engine/rfc3339.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Written by hand because neither libc (strptime has no offsets and
 * accepts loose input) nor the project's libraries parse RFC 3339 with
 * the strictness wanted for policy expiries and verification times.
 */

static int
digits(const char *s, int n, int *out)
{
  int i, v = 0;

  for (i = 0; i < n; i++) {
    if (!isdigit((unsigned char) s[i]))
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

static int
days_in_month(int year, int month)
{
  static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

  return month == 2 && leap ? 29 : dm[month - 1];
}

static int
parse_unix(const char *text, int64_t *out, pw_err_t *err)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > PW_RFC3339_LAST)
    return pw_err_set(err, PW_EINVAL, "time '%s' is not valid Unix seconds",
                      text);
  *out = (int64_t) v;
  return PW_OK;
}

int
pw_rfc3339_parse(const char *text, int64_t *out, pw_err_t *err)
{
  int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
  const char *p;
  struct tm tm;
  size_t len, i;
  int64_t t;

  if (text == NULL)
    return pw_err_set(err, PW_EINVAL, "time is missing");
  len = strnlen(text, PW_RFC3339_MAX + 1);
  if (len > PW_RFC3339_MAX)
    return pw_err_set(err, PW_ETOOBIG, "time is too long");
  if (len == 0)
    return pw_err_set(err, PW_EINVAL, "time is empty");

  for (i = 0; i < len && isdigit((unsigned char) text[i]); i++)
    ;
  if (i == len)
    return parse_unix(text, out, err);

  /* RFC 3339 section 5.6: full-date "T" partial-time time-offset. */
  if (len < 20 || digits(text, 4, &y) || text[4] != '-'
      || digits(text + 5, 2, &mo) || text[7] != '-'
      || digits(text + 8, 2, &d) || (text[10] != 'T' && text[10] != 't'
                                     && text[10] != ' ')
      || digits(text + 11, 2, &h) || text[13] != ':'
      || digits(text + 14, 2, &mi) || text[16] != ':'
      || digits(text + 17, 2, &s))
    goto bad;

  p = text + 19;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char) *p))
      goto bad;
    while (isdigit((unsigned char) *p))
      p++;
  }

  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    sign = *p == '-' ? -1 : 1;
    if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
      goto bad;
    p += 6;
  } else {
    goto bad;
  }
  if (*p != '\0')
    goto bad;

  /* A leap second (60) is read as the second before it. */
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)
      || h > 23 || mi > 59 || s > 60 || oh > 23 || om > 59)
    return pw_err_set(err, PW_EINVAL, "time '%s' is out of range", text);
  if (s == 60)
    s = 59;

  memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  t = (int64_t) timegm(&tm);
  t -= sign * (int64_t) (oh * 3600 + om * 60);
  if (t < 0)
    return pw_err_set(err, PW_EINVAL, "time '%s' is before 1970", text);

  *out = t;
  return PW_OK;

bad:
  return pw_err_set(err, PW_EINVAL,
                    "time '%s' is neither RFC 3339 "
                    "(2026-12-03T16:00:00Z) nor Unix seconds", text);
}

void
pw_rfc3339_format(int64_t t, char out[PW_RFC3339_LEN])
{
  time_t tt = (time_t) t;
  struct tm tm;

  if (gmtime_r(&tt, &tm) == NULL
      || strftime(out, PW_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    strcpy(out, "1970-01-01T00:00:00Z");
}
