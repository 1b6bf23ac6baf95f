/*
 * Times as users write them: RFC 3339 ("2026-12-03T16:00:00Z", with an
 * optional fraction and a numeric offset) or Unix seconds ("1796000000").
 */
#ifndef PW_RFC3339_H
#define PW_RFC3339_H

#include <stdint.h>

#include "engine/err.h"

#define PW_RFC3339_MAX 64   /* longest input looked at */
#define PW_RFC3339_LEN 21   /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */

/* The last second RFC 3339 can write: 9999-12-31T23:59:59Z. */
#define PW_RFC3339_LAST 253402300799LL

int pw_rfc3339_parse(const char *text, int64_t *out, pw_err_t *err);

/* Writes t in UTC as "YYYY-MM-DDTHH:MM:SSZ". */
void pw_rfc3339_format(int64_t t, char out[PW_RFC3339_LEN]);

#endif
