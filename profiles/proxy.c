/*
 * The upstream proxy of a profile: checked with libcurl's URL parser,
 * kept in parts, written back in one normal form.
 */
#include "profiles/profile_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* RFC 1929 gives SOCKS5 user names and passwords one length octet. */
#define CRED_MAX 255

static const struct {
  const char *name;
  uint16_t    port;
} schemes[] = {
  { "http", 80 }, { "https", 443 }, { "socks5", 1080 }, { "socks5h", 1080 },
};

static bool
has_control(const char *s)
{
  for (; *s != '\0'; s++) {
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      return true;
  }
  return false;
}

void
pw_profile_proxy_clear(pw_proxy_t *proxy)
{
  if (proxy == NULL)
    return;
  free(proxy->user);
  if (proxy->password != NULL) {
    /* A secret: do not leave it in freed memory. */
    memset(proxy->password, 0, strlen(proxy->password));
    free(proxy->password);
  }
  memset(proxy, 0, sizeof(*proxy));
}

int
pw_profile__proxy_copy(pw_proxy_t *dst, const pw_proxy_t *src)
{
  pw_proxy_t p = *src;

  p.user = NULL;
  p.password = NULL;
  if ((src->user != NULL && (p.user = strdup(src->user)) == NULL) ||
      (src->password != NULL &&
       (p.password = strdup(src->password)) == NULL)) {
    pw_profile_proxy_clear(&p);
    return PW_ENOMEM;
  }

  *dst = p;
  return PW_OK;
}

/* The user or the password, decoded; NULL when the URL has none. */
static int
credential(CURLU *u, CURLUPart part, const char *what, char **out,
           pw_err_t *err)
{
  char *s = NULL;
  CURLUcode rc;

  *out = NULL;
  rc = curl_url_get(u, part, &s, CURLU_URLDECODE);
  if (rc == CURLUE_NO_USER || rc == CURLUE_NO_PASSWORD)
    return PW_OK;
  if (rc == CURLUE_OUT_OF_MEMORY)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  /* curl refuses to decode an escape into a control character. */
  if (rc == CURLUE_URLDECODE)
    return pw_err_set(err, PW_EINVAL,
                      "proxy: %s holds a control character", what);
  if (rc != CURLUE_OK)
    return pw_err_set(err, PW_EINVAL, "proxy: %s cannot be read", what);

  /* Decoding may bring back a %00 or a line break. */
  if (strlen(s) > CRED_MAX || has_control(s)) {
    curl_free(s);
    return pw_err_set(err, PW_EINVAL,
                      "proxy: %s is over %d bytes or holds a control "
                      "character", what, CRED_MAX);
  }

  *out = strdup(s);
  curl_free(s);
  if (*out == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  return PW_OK;
}

static int
check_scheme(CURLU *u, pw_proxy_t *p, pw_err_t *err)
{
  char *s = NULL;
  size_t i;
  int ret;

  if (curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK)
    return pw_err_set(err, PW_EINVAL, "proxy: the URL has no scheme");

  for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
    if (strcasecmp(s, schemes[i].name) == 0) {
      strcpy(p->scheme, schemes[i].name);
      p->port = schemes[i].port;
      curl_free(s);
      return PW_OK;
    }
  }

  ret = pw_err_set(err, PW_EINVAL,
                   "proxy: scheme '%.16s' is not one of http, https, "
                   "socks5, socks5h", s);
  curl_free(s);
  return ret;
}

static int
check_host(CURLU *u, pw_proxy_t *p, pw_err_t *err)
{
  char *s = NULL;
  pw_err_t e;
  int ret = PW_OK;

  if (curl_url_get(u, CURLUPART_ZONEID, &s, 0) == CURLUE_OK) {
    curl_free(s);
    return pw_err_set(err, PW_EINVAL, "proxy: an IPv6 zone is not allowed");
  }

  if (curl_url_get(u, CURLUPART_HOST, &s, 0) != CURLUE_OK || s[0] == '\0') {
    curl_free(s);
    return pw_err_set(err, PW_EINVAL, "proxy: the URL has no host");
  }
  if (pw_host_normalize(s, p->host, NULL, &e) != PW_OK)
    ret = pw_err_set(err, PW_EINVAL, "proxy: host: %s", e.msg);
  curl_free(s);
  return ret;
}

static int
check_port(CURLU *u, pw_proxy_t *p, pw_err_t *err)
{
  char *s = NULL, *end;
  unsigned long n;
  CURLUcode rc;

  rc = curl_url_get(u, CURLUPART_PORT, &s, 0);
  if (rc == CURLUE_NO_PORT)
    return PW_OK;
  if (rc != CURLUE_OK)
    return pw_err_set(err, PW_EINVAL, "proxy: bad port");

  n = strtoul(s, &end, 10);
  if (*end != '\0' || n == 0 || n > 65535) {
    curl_free(s);
    return pw_err_set(err, PW_EINVAL, "proxy: port must be 1..65535");
  }
  curl_free(s);

  p->port = (uint16_t) n;
  return PW_OK;
}

/* A proxy is an address: anything after it is a mistake to point out. */
static int
check_rest(CURLU *u, pw_err_t *err)
{
  char *s = NULL;
  bool extra;

  if (curl_url_get(u, CURLUPART_PATH, &s, 0) == CURLUE_OK) {
    extra = s[0] != '\0' && strcmp(s, "/") != 0;
    curl_free(s);
    if (extra)
      return pw_err_set(err, PW_EINVAL, "proxy: a path is not allowed");
  }
  if (curl_url_get(u, CURLUPART_QUERY, &s, 0) == CURLUE_OK) {
    curl_free(s);
    return pw_err_set(err, PW_EINVAL, "proxy: a query is not allowed");
  }
  if (curl_url_get(u, CURLUPART_FRAGMENT, &s, 0) == CURLUE_OK) {
    curl_free(s);
    return pw_err_set(err, PW_EINVAL, "proxy: a fragment is not allowed");
  }
  return PW_OK;
}

int
pw_profile_proxy_parse(pw_proxy_t *proxy, const char *url, pw_err_t *err)
{
  pw_proxy_t p;
  CURLU *u = NULL;
  CURLUcode rc;
  int ret;

  memset(&p, 0, sizeof(p));
  if (strlen(url) > PW_PROFILE_PROXY_MAX)
    return pw_err_set(err, PW_EINVAL, "proxy: longer than %d bytes",
                      PW_PROFILE_PROXY_MAX);

  u = curl_url();
  if (u == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  /*
   * The message never quotes the URL: it may hold a password.  curl
   * knows no socks schemes for its URL API, hence NON_SUPPORT_SCHEME;
   * the list of schemes is checked below.
   */
  rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
  if (rc == CURLUE_OUT_OF_MEMORY) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  if (rc == CURLUE_BAD_PORT_NUMBER) {
    ret = pw_err_set(err, PW_EINVAL, "proxy: port must be 1..65535");
    goto done;
  }
  if (rc != CURLUE_OK) {
    ret = pw_err_set(err, PW_EINVAL, "proxy: not a URL like "
                     "scheme://[user:password@]host[:port] (%s)",
                     curl_url_strerror(rc));
    goto done;
  }

  ret = check_scheme(u, &p, err);
  if (ret == PW_OK)
    ret = check_host(u, &p, err);
  if (ret == PW_OK)
    ret = check_port(u, &p, err);
  if (ret == PW_OK)
    ret = check_rest(u, err);
  if (ret != PW_OK)
    goto done;

  ret = credential(u, CURLUPART_USER, "user", &p.user, err);
  if (ret == PW_OK)
    ret = credential(u, CURLUPART_PASSWORD, "password", &p.password, err);
  if (ret != PW_OK)
    goto done;

  if (p.user != NULL && p.user[0] == '\0') {
    if (p.password != NULL) {
      ret = pw_err_set(err, PW_EINVAL, "proxy: a password needs a user");
      goto done;
    }
    free(p.user);
    p.user = NULL;
  }

  pw_profile_proxy_clear(proxy);
  *proxy = p;
  memset(&p, 0, sizeof(p));

done:
  pw_profile_proxy_clear(&p);
  curl_url_cleanup(u);
  return ret;
}

int
pw_profile_proxy_url(const pw_proxy_t *proxy, unsigned flags, char **out,
                     pw_err_t *err)
{
  char *user = NULL, *pass = NULL, *url = NULL;
  const char *shown;
  bool v6;
  int n, ret = PW_OK;

  *out = NULL;
  if (proxy->scheme[0] == '\0')
    return PW_OK;

  /* curl_easy_escape leaves only RFC 3986 unreserved bytes as they are. */
  if (proxy->user != NULL && (user = curl_easy_escape(NULL, proxy->user,
                                                      0)) == NULL)
    goto nomem;
  if (proxy->password != NULL && (flags & PW_PROFILE_SECRETS) &&
      !(flags & PW_PROFILE_REDACT) &&
      (pass = curl_easy_escape(NULL, proxy->password, 0)) == NULL)
    goto nomem;
  shown = pass != NULL ? pass : "***";

  v6 = strchr(proxy->host, ':') != NULL;
  n = asprintf(&url, "%s://%s%s%s%s%s%s%s:%u", proxy->scheme,
               user != NULL ? user : "",
               user != NULL && proxy->password != NULL ? ":" : "",
               user != NULL && proxy->password != NULL ? shown : "",
               user != NULL ? "@" : "",
               v6 ? "[" : "", proxy->host, v6 ? "]" : "",
               (unsigned) proxy->port);
  if (n < 0)
    goto nomem;

  *out = url;
  goto done;

nomem:
  ret = pw_err_set(err, PW_ENOMEM, "out of memory");

done:
  curl_free(user);
  if (pass != NULL) {
    memset(pass, 0, strlen(pass));
    curl_free(pass);
  }
  return ret;
}

int
pw_profile__proxy(const json_t *v, pw_proxy_t *proxy, pw_err_t *err)
{
  pw_proxy_t p;
  int ret;

  memset(&p, 0, sizeof(p));
  if (json_is_null(v) ||
      (json_is_string(v) && strcmp(json_string_value(v), "none") == 0)) {
    pw_profile_proxy_clear(proxy);
    return PW_OK;
  }

  if (!json_is_string(v))
    return pw_err_set(err, PW_EINVAL, "proxy: must be a URL string or null");
  if (json_string_length(v) > PW_PROFILE_PROXY_MAX)
    return pw_err_set(err, PW_EINVAL, "proxy: longer than %d bytes",
                      PW_PROFILE_PROXY_MAX);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return pw_err_set(err, PW_EINVAL, "proxy: holds a NUL character");

  ret = pw_profile_proxy_parse(&p, json_string_value(v), err);
  if (ret != PW_OK)
    return ret;

  pw_profile_proxy_clear(proxy);
  *proxy = p;
  return PW_OK;
}
