/*
 * Result codes and error messages shared by every library layer.
 *
 * Library functions return PW_OK (zero) or a negative PW_E* code and, when
 * the caller passes a pw_err_t, leave a one-line message there that says
 * what was wrong with the input.  Nothing below the command line and the
 * daemon's top layer logs; they decide what to print.
 */
#ifndef PW_ERR_H
#define PW_ERR_H

#include <stddef.h>

enum {
  PW_OK        =  0,
  PW_EINVAL    = -1,   /* input is malformed or breaks a rule */
  PW_ENOMEM    = -2,
  PW_ENOTFOUND = -3,
  PW_ECONFLICT = -4,   /* stale revision, duplicate name */
  PW_EIO       = -5,   /* file or database failure */
  PW_ETOOBIG   = -6,   /* input over a size cap */
  PW_ECRYPTO   = -7    /* OpenSSL failed for a reason not of the input */
};

#define PW_ERR_MAX 256

typedef struct pw_err {
  int  code;
  char msg[PW_ERR_MAX];
} pw_err_t;

/*
 * Records code and a printf-style message in err (which may be NULL) and
 * returns code, so that a failing path reads `return pw_err_set(...)`.
 */
int pw_err_set(pw_err_t *err, int code, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Appends the OpenSSL error queue, oldest first, to err's message. */
void pw_err_add_openssl(pw_err_t *err);

/* The constant name of a code ("EINVAL"), for logs and tests. */
const char *pw_err_name(int code);

#endif
