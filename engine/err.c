#include "engine/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

int
pw_err_set(pw_err_t *err, int code, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL)
    return code;

  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  return code;
}

void
pw_err_add_openssl(pw_err_t *err)
{
  unsigned long e;
  char buf[160];
  size_t len;

  while ((e = ERR_get_error()) != 0) {
    if (err == NULL)
      continue;
    ERR_error_string_n(e, buf, sizeof(buf));
    len = strlen(err->msg);
    if (len + 3 < sizeof(err->msg))
      snprintf(err->msg + len, sizeof(err->msg) - len, "%s%s",
               len > 0 ? ": " : "", buf);
  }
}

const char *
pw_err_name(int code)
{
  switch (code) {
  case PW_OK:        return "OK";
  case PW_EINVAL:    return "EINVAL";
  case PW_ENOMEM:    return "ENOMEM";
  case PW_ENOTFOUND: return "ENOTFOUND";
  case PW_ECONFLICT: return "ECONFLICT";
  case PW_EIO:       return "EIO";
  case PW_ETOOBIG:   return "ETOOBIG";
  case PW_ECRYPTO:   return "ECRYPTO";
  }
  return "EUNKNOWN";
}
