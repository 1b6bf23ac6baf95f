/*
 * Host names as the decision core compares them: lower-case A-labels
 * (IDNA 2008 through libidn2), no trailing dot; IP literals in the
 * canonical text of inet_ntop, without brackets.
 */
#ifndef PW_HOST_H
#define PW_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/err.h"

/* RFC 1035 caps a name at 253 characters in text form. */
#define PW_HOST_MAX 254

/* A pattern adds at most "**." in front of a name. */
#define PW_HOST_MAX_PATTERN (PW_HOST_MAX + 3)

typedef enum pw_host_kind {
  PW_HOST_NAME = 0,
  PW_HOST_IPV4,
  PW_HOST_IPV6
} pw_host_kind_t;

/*
 * Normalises `in` into out[PW_HOST_MAX].  Accepts U-labels and A-labels,
 * upper case, one trailing dot, and IP literals (IPv6 with or without
 * brackets).  Rejects empty labels, labels over 63 octets, names over 253,
 * and characters a host name cannot hold.  `kind` may be NULL.
 */
int pw_host_normalize(const char *in, char out[PW_HOST_MAX],
                      pw_host_kind_t *kind, pw_err_t *err);

/* True when `host` (normalised) is an IPv4 or IPv6 literal. */
bool pw_host_is_ip(const char *host);

/* True when `host` (normalised) is 127.0.0.0/8, ::1 or "localhost". */
bool pw_host_is_loopback(const char *host);

#endif
