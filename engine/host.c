#include "engine/host.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <idn2.h>

/* A label holds at most 63 octets (RFC 1035 section 2.3.4). */
#define PW_LABEL_MAX 63

/* Longest input considered: a U-label name can be longer than its
 * A-label form, but not by more than a factor of four in UTF-8. */
#define PW_HOST_INPUT_MAX (PW_HOST_MAX * 4)

static int
host_ip(const char *in, size_t len, char out[PW_HOST_MAX],
        pw_host_kind_t *kind)
{
  char buf[INET6_ADDRSTRLEN + 2];
  unsigned char addr[16];

  if (len >= sizeof(buf))
    return 0;

  /* "[::1]" is how URLs and Host headers write IPv6 literals. */
  if (len > 2 && in[0] == '[' && in[len - 1] == ']') {
    memcpy(buf, in + 1, len - 2);
    buf[len - 2] = '\0';
  } else {
    memcpy(buf, in, len);
    buf[len] = '\0';
  }

  /* Brackets hold IPv6 only (RFC 3986 section 3.2.2). */
  if (in[0] != '[' && inet_pton(AF_INET, buf, addr) == 1) {
    inet_ntop(AF_INET, addr, out, PW_HOST_MAX);
    *kind = PW_HOST_IPV4;
    return 1;
  }

  if (inet_pton(AF_INET6, buf, addr) == 1) {
    inet_ntop(AF_INET6, addr, out, PW_HOST_MAX);
    *kind = PW_HOST_IPV6;
    return 1;
  }

  return 0;
}

/*
 * Checks an ASCII name label by label and lower-cases it into out.
 * Underscores pass: browsers resolve such names even though RFC 952
 * forbids them, and a pin for one must be expressible.
 */
static int
host_ascii(const char *in, size_t len, char out[PW_HOST_MAX], pw_err_t *err)
{
  size_t i, label = 0;
  int numeric = 1;
  unsigned char c;

  if (len >= PW_HOST_MAX)
    return pw_err_set(err, PW_EINVAL, "host name is longer than 253");

  for (i = 0; i < len; i++) {
    c = (unsigned char) in[i];

    if (c == '.') {
      if (label == 0)
        return pw_err_set(err, PW_EINVAL, "host name has an empty label");
      label = 0;
      numeric = 1;
      out[i] = '.';
      continue;
    }

    if (c >= 'A' && c <= 'Z')
      c = (unsigned char) (c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_'))
      return pw_err_set(err, PW_EINVAL,
                        "host name holds a character not allowed: 0x%02x",
                        (unsigned) c);
    if (c < '0' || c > '9')
      numeric = 0;

    if (++label > PW_LABEL_MAX)
      return pw_err_set(err, PW_EINVAL, "host name label is over 63 octets");
    out[i] = (char) c;
  }
  out[len] = '\0';

  if (label == 0)
    return pw_err_set(err, PW_EINVAL, "host name has an empty label");

  /*
   * A name whose last label is all digits is read as an IPv4 address by
   * browsers (WHATWG URL, "ends in a number"); one that is not a valid
   * address is neither a name nor an address, so refuse it.
   */
  if (numeric)
    return pw_err_set(err, PW_EINVAL,
                      "host ends in a number but is not an IPv4 address");

  return PW_OK;
}

int
pw_host_normalize(const char *in, char out[PW_HOST_MAX],
                  pw_host_kind_t *kind, pw_err_t *err)
{
  pw_host_kind_t k = PW_HOST_NAME;
  char *alabel = NULL;
  size_t len, i;
  int ascii = 1, rc, ret;

  if (in == NULL)
    return pw_err_set(err, PW_EINVAL, "host is missing");

  len = strnlen(in, PW_HOST_INPUT_MAX + 1);
  if (len > PW_HOST_INPUT_MAX)
    return pw_err_set(err, PW_ETOOBIG, "host is too long");
  if (len == 0)
    return pw_err_set(err, PW_EINVAL, "host is empty");

  /* "1.2.3.4." is read as 1.2.3.4 by browsers, so it is here too. */
  if (host_ip(in, len, out, &k)
      || (len > 1 && in[len - 1] == '.' && in[len - 2] != '.'
          && host_ip(in, len - 1, out, &k) && k == PW_HOST_IPV4)) {
    if (kind != NULL)
      *kind = k;
    return PW_OK;
  }

  /* One trailing dot names the root; it does not change the host. */
  if (in[len - 1] == '.')
    len--;
  if (len == 0)
    return pw_err_set(err, PW_EINVAL, "host is empty");

  for (i = 0; i < len; i++) {
    if ((unsigned char) in[i] >= 0x80)
      ascii = 0;
    else if (in[i] == '\0')
      break;
  }

  if (ascii) {
    ret = host_ascii(in, len, out, err);
    goto done;
  }

  /*
   * IDNA 2008 with UTS 46 mapping, non-transitional, as current browsers
   * do; libidn2 also checks bidi and contextual rules.
   */
  {
    char tmp[PW_HOST_INPUT_MAX + 1];

    memcpy(tmp, in, len);
    tmp[len] = '\0';
    rc = idn2_lookup_u8((const uint8_t *) tmp, (uint8_t **) &alabel,
                        IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  }
  if (rc != IDN2_OK) {
    ret = pw_err_set(err, PW_EINVAL, "host is not a valid IDN: %s",
                     idn2_strerror(rc));
    goto done;
  }

  ret = host_ascii(alabel, strlen(alabel), out, err);

done:
  if (ret == PW_OK && kind != NULL)
    *kind = PW_HOST_NAME;
  idn2_free(alabel);
  return ret;
}

bool
pw_host_is_loopback(const char *host)
{
  struct in_addr a4;
  size_t len = strlen(host);

  if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
    return true;

  /* RFC 6761 section 6.3: every name under "localhost." is loopback. */
  if (len > 10 && strcmp(host + len - 10, ".localhost") == 0)
    return true;

  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;

  return false;
}

bool
pw_host_is_ip(const char *host)
{
  unsigned char addr[16];

  return inet_pton(AF_INET, host, addr) == 1
         || inet_pton(AF_INET6, host, addr) == 1;
}
