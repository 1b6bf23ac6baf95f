#include "engine/secure.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "engine/rfc3339.h"

/* Room for "[" + an IPv6 literal + "]" or a name and its trailing dot. */
#define SA_URL_HOST_MAX (PW_HOST_MAX + 2)

/* What the URL parser found, before any rule is applied. */
typedef struct sa_url {
  CURLU         *h;
  bool           secure;            /* https or wss */
  bool           ws;                /* ws or wss */
  bool           trailing_dot;
  pw_host_kind_t kind;
  char           host[PW_HOST_MAX];  /* normalised */
  uint16_t       port;               /* explicit, or the scheme's default */
} sa_url_t;

void
pw_sa_init(pw_sa_t *sa)
{
  sa->enabled = false;
  sa->on_http = PW_SA_UPGRADE;
  sa->nexceptions = 0;
  sa->exceptions = NULL;
}

void
pw_sa_clear(pw_sa_t *sa)
{
  if (sa == NULL)
    return;

  free(sa->exceptions);
  pw_sa_init(sa);
}

int
pw_sa_copy(pw_sa_t *dst, const pw_sa_t *src, pw_err_t *err)
{
  pw_sa_exception_t *ex = NULL;

  pw_sa_init(dst);

  if (src->nexceptions > 0) {
    ex = malloc(src->nexceptions * sizeof(*ex));
    if (ex == NULL)
      return pw_err_set(err, PW_ENOMEM, "out of memory");
    memcpy(ex, src->exceptions, src->nexceptions * sizeof(*ex));
  }

  dst->enabled = src->enabled;
  dst->on_http = src->on_http;
  dst->nexceptions = src->nexceptions;
  dst->exceptions = ex;
  return PW_OK;
}

static pw_sa_exception_t *
sa_find(const pw_sa_t *sa, const char *host)
{
  size_t i;

  for (i = 0; i < sa->nexceptions; i++)
    if (strcmp(sa->exceptions[i].host, host) == 0)
      return &sa->exceptions[i];

  return NULL;
}

/* An exception stops applying at the second its expiry names. */
static bool
sa_in_force(const pw_sa_exception_t *ex, int64_t now)
{
  return ex->expires == 0 || now < ex->expires;
}

/*
 * Appends one exception, growing the array by doubling.  The caller has
 * checked the cap and that host is not present yet.
 */
static int
sa_append(pw_sa_t *sa, size_t *cap, const char *host, int64_t expires,
          pw_err_t *err)
{
  pw_sa_exception_t *ex;
  size_t ncap;

  assert(sa->nexceptions < PW_SA_MAX_EXCEPTIONS);

  if (sa->nexceptions == *cap) {
    ncap = *cap == 0 ? 8 : *cap * 2;
    if (ncap > PW_SA_MAX_EXCEPTIONS)
      ncap = PW_SA_MAX_EXCEPTIONS;

    ex = realloc(sa->exceptions, ncap * sizeof(*ex));
    if (ex == NULL)
      return pw_err_set(err, PW_ENOMEM, "out of memory");
    sa->exceptions = ex;
    *cap = ncap;
  }

  ex = &sa->exceptions[sa->nexceptions++];
  memcpy(ex->host, host, strlen(host) + 1);
  ex->expires = expires;
  return PW_OK;
}

/* Reads "expires": Unix seconds, or a string pw_rfc3339_parse reads. */
static int
sa_expires_from_json(const json_t *v, size_t i, int64_t *out, pw_err_t *err)
{
  pw_err_t e = { 0 };
  json_int_t n;
  int rc;

  if (json_is_integer(v)) {
    n = json_integer_value(v);
    if (n < 0)
      return pw_err_set(err, PW_EINVAL,
                        "exceptions[%zu].expires is negative", i);
    *out = (int64_t) n;
    return PW_OK;
  }

  if (!json_is_string(v))
    return pw_err_set(err, PW_EINVAL, "exceptions[%zu].expires is neither "
                      "an integer nor an RFC 3339 string", i);

  rc = pw_rfc3339_parse(json_string_value(v), out, &e);
  if (rc != PW_OK)
    return pw_err_set(err, rc, "exceptions[%zu].expires: %s", i, e.msg);

  /* 0 means "never" in pw_sa_t; a written time cannot mean that. */
  if (*out == 0)
    return pw_err_set(err, PW_EINVAL,
                      "exceptions[%zu].expires is the epoch", i);

  return PW_OK;
}

static int
sa_exception_from_json(pw_sa_t *sa, size_t *cap, const json_t *obj,
                       size_t i, pw_err_t *err)
{
  char host[PW_HOST_MAX];
  pw_err_t e = { 0 };
  const char *key;
  json_t *v;
  int64_t expires = 0;
  bool have_host = false;
  int rc;

  if (!json_is_object(obj))
    return pw_err_set(err, PW_EINVAL, "exceptions[%zu] is not an object", i);

  json_object_foreach((json_t *) obj, key, v) {
    if (strcmp(key, "host") == 0) {
      if (!json_is_string(v))
        return pw_err_set(err, PW_EINVAL,
                          "exceptions[%zu].host is not a string", i);
      rc = pw_host_normalize(json_string_value(v), host, NULL, &e);
      if (rc != PW_OK)
        return pw_err_set(err, rc, "exceptions[%zu].host: %s", i, e.msg);
      have_host = true;

    } else if (strcmp(key, "expires") == 0) {
      rc = sa_expires_from_json(v, i, &expires, err);
      if (rc != PW_OK)
        return rc;

    } else {
      return pw_err_set(err, PW_EINVAL, "exceptions[%zu] has an unknown "
                        "key '%.64s'", i, key);
    }
  }

  if (!have_host)
    return pw_err_set(err, PW_EINVAL, "exceptions[%zu] has no host", i);

  /* Two entries for one host would leave it unclear which expiry holds. */
  if (sa_find(sa, host) != NULL)
    return pw_err_set(err, PW_EINVAL,
                      "exceptions[%zu]: host '%s' is listed twice", i, host);

  return sa_append(sa, cap, host, expires, err);
}

static int
sa_on_http_from_json(const json_t *v, pw_sa_on_http_t *out, pw_err_t *err)
{
  const char *s;

  if (!json_is_string(v))
    return pw_err_set(err, PW_EINVAL, "on_http is not a string");

  s = json_string_value(v);
  if (strcmp(s, "upgrade") == 0)
    *out = PW_SA_UPGRADE;
  else if (strcmp(s, "block") == 0)
    *out = PW_SA_BLOCK;
  else
    return pw_err_set(err, PW_EINVAL,
                      "on_http is neither \"upgrade\" nor \"block\"");

  return PW_OK;
}

int
pw_sa_from_json(pw_sa_t *sa, const json_t *obj, pw_err_t *err)
{
  pw_sa_t tmp;
  const char *key;
  json_t *v, *exceptions = NULL;
  bool have_enabled = false;
  size_t i, cap = 0;
  int rc;

  pw_sa_init(&tmp);
  pw_sa_init(sa);

  if (!json_is_object(obj)) {
    rc = pw_err_set(err, PW_EINVAL, "secure access is not an object");
    goto done;
  }

  json_object_foreach((json_t *) obj, key, v) {
    if (strcmp(key, "enabled") == 0) {
      if (!json_is_boolean(v)) {
        rc = pw_err_set(err, PW_EINVAL, "enabled is not a boolean");
        goto done;
      }
      tmp.enabled = json_is_true(v);
      have_enabled = true;

    } else if (strcmp(key, "on_http") == 0) {
      rc = sa_on_http_from_json(v, &tmp.on_http, err);
      if (rc != PW_OK)
        goto done;

    } else if (strcmp(key, "exceptions") == 0) {
      if (!json_is_array(v)) {
        rc = pw_err_set(err, PW_EINVAL, "exceptions is not an array");
        goto done;
      }
      exceptions = v;

    } else {
      rc = pw_err_set(err, PW_EINVAL, "secure access has an unknown key "
                      "'%.64s'", key);
      goto done;
    }
  }

  /*
   * A missing switch is refused rather than read as "off": an object
   * that does not say whether clear text may leave is not a policy.
   */
  if (!have_enabled) {
    rc = pw_err_set(err, PW_EINVAL, "enabled is missing");
    goto done;
  }

  if (exceptions != NULL) {
    if (json_array_size(exceptions) > PW_SA_MAX_EXCEPTIONS) {
      rc = pw_err_set(err, PW_ETOOBIG, "more than %d exceptions",
                      PW_SA_MAX_EXCEPTIONS);
      goto done;
    }

    json_array_foreach(exceptions, i, v) {
      rc = sa_exception_from_json(&tmp, &cap, v, i, err);
      if (rc != PW_OK)
        goto done;
    }
  }

  *sa = tmp;
  pw_sa_init(&tmp);
  rc = PW_OK;

done:
  pw_sa_clear(&tmp);
  return rc;
}

json_t *
pw_sa_to_json(const pw_sa_t *sa)
{
  json_t *obj, *arr, *ex;
  const pw_sa_exception_t *e;
  size_t i;

  obj = json_object();
  if (obj == NULL)
    return NULL;

  /* set_new and append_new take the reference even when they fail. */
  if (json_object_set_new(obj, "enabled", json_boolean(sa->enabled)) != 0
      || json_object_set_new(obj, "on_http", json_string(
           sa->on_http == PW_SA_BLOCK ? "block" : "upgrade")) != 0)
    goto fail;

  arr = json_array();
  if (json_object_set_new(obj, "exceptions", arr) != 0)
    goto fail;

  for (i = 0; i < sa->nexceptions; i++) {
    e = &sa->exceptions[i];

    ex = json_object();
    if (json_array_append_new(arr, ex) != 0)
      goto fail;
    if (json_object_set_new(ex, "host", json_string(e->host)) != 0)
      goto fail;
    if (e->expires != 0
        && json_object_set_new(ex, "expires",
                               json_integer((json_int_t) e->expires)) != 0)
      goto fail;
  }

  return obj;

fail:
  json_decref(obj);
  return NULL;
}

int
pw_sa_exception_add(pw_sa_t *sa, const char *host, int64_t ttl_s,
                    int64_t now, pw_err_t *err)
{
  char norm[PW_HOST_MAX];
  pw_sa_exception_t *ex;
  int64_t expires = 0;
  size_t i, j, cap;
  int rc;

  rc = pw_host_normalize(host, norm, NULL, err);
  if (rc != PW_OK)
    return rc;

  if (ttl_s < 0)
    return pw_err_set(err, PW_EINVAL, "exception ttl is negative");
  if (ttl_s > 0) {
    if (now < 0 || ttl_s > INT64_MAX - now)
      return pw_err_set(err, PW_EINVAL, "exception ttl is out of range");
    expires = now + ttl_s;
  }

  ex = sa_find(sa, norm);
  if (ex != NULL) {
    ex->expires = expires;
    return PW_OK;
  }

  /*
   * Expired entries decide nothing any more; dropping them here keeps a
   * profile that adds short-lived exceptions from reaching the cap.
   */
  for (i = 0, j = 0; i < sa->nexceptions; i++)
    if (sa_in_force(&sa->exceptions[i], now))
      sa->exceptions[j++] = sa->exceptions[i];
  sa->nexceptions = j;

  if (sa->nexceptions >= PW_SA_MAX_EXCEPTIONS)
    return pw_err_set(err, PW_ETOOBIG, "more than %d exceptions",
                      PW_SA_MAX_EXCEPTIONS);

  /*
   * pw_sa_t does not keep its array's size, so grow from the count: one
   * realloc per add, which interactive adds can afford.
   */
  cap = sa->nexceptions;
  return sa_append(sa, &cap, norm, expires, err);
}

int
pw_sa_exception_remove(pw_sa_t *sa, const char *host, pw_err_t *err)
{
  char norm[PW_HOST_MAX];
  pw_sa_exception_t *ex;
  size_t i;
  int rc;

  rc = pw_host_normalize(host, norm, NULL, err);
  if (rc != PW_OK)
    return rc;

  ex = sa_find(sa, norm);
  if (ex == NULL)
    return pw_err_set(err, PW_ENOTFOUND, "no exception for '%s'", norm);

  i = (size_t) (ex - sa->exceptions);
  memmove(ex, ex + 1, (sa->nexceptions - i - 1) * sizeof(*ex));
  sa->nexceptions--;
  return PW_OK;
}

bool
pw_sa_is_exception(const pw_sa_t *sa, const char *host, int64_t now)
{
  const pw_sa_exception_t *ex = sa_find(sa, host);

  return ex != NULL && sa_in_force(ex, now);
}

static int
sa_curl_err(CURLUcode uc, const char *what, pw_err_t *err)
{
  if (uc == CURLUE_OUT_OF_MEMORY)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  return pw_err_set(err, PW_EINVAL, "%s: %s", what, curl_url_strerror(uc));
}

/*
 * Parses url into u.  libcurl reads the URL (RFC 3986, with the leniency
 * browsers have: "http:/host", numeric IPv4 forms, percent-encoded
 * hosts); the scheme, host and port checks are ours.  The path is kept
 * as written, dot segments and all, so that an upgrade changes nothing
 * but the scheme and the port.
 */
static int
sa_url_parse(sa_url_t *u, const char *url, pw_err_t *err)
{
  char *scheme = NULL, *host = NULL, *port = NULL, *zone = NULL;
  pw_err_t e = { 0 };
  CURLUcode uc;
  size_t len;
  long n;
  int rc;

  memset(u, 0, sizeof(*u));

  if (url == NULL)
    return pw_err_set(err, PW_EINVAL, "URL is missing");
  len = strnlen(url, PW_SA_URL_MAX + 1);
  if (len > PW_SA_URL_MAX)
    return pw_err_set(err, PW_ETOOBIG, "URL is longer than %d",
                      PW_SA_URL_MAX);
  if (len == 0)
    return pw_err_set(err, PW_EINVAL, "URL is empty");

  u->h = curl_url();
  if (u->h == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  /*
   * ws and wss are unknown to libcurl builds without WebSocket support;
   * the scheme is checked below, so any scheme may pass the parser.
   */
  uc = curl_url_set(u->h, CURLUPART_URL, url,
                    CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
  if (uc != CURLUE_OK) {
    rc = sa_curl_err(uc, "URL is not valid", err);
    goto done;
  }

  uc = curl_url_get(u->h, CURLUPART_SCHEME, &scheme, 0);
  if (uc != CURLUE_OK) {
    rc = sa_curl_err(uc, "URL has no scheme", err);
    goto done;
  }

  /* libcurl lower-cases the scheme. */
  if (strcmp(scheme, "http") == 0) {
    u->port = 80;
  } else if (strcmp(scheme, "https") == 0) {
    u->secure = true;
    u->port = 443;
  } else if (strcmp(scheme, "ws") == 0) {
    u->ws = true;
    u->port = 80;
  } else if (strcmp(scheme, "wss") == 0) {
    u->ws = true;
    u->secure = true;
    u->port = 443;
  } else {
    rc = pw_err_set(err, PW_EINVAL, "URL scheme '%.32s' is not http, "
                    "https, ws or wss", scheme);
    goto done;
  }

  uc = curl_url_get(u->h, CURLUPART_HOST, &host, 0);
  if (uc != CURLUE_OK || host[0] == '\0') {
    rc = uc == CURLUE_OUT_OF_MEMORY ? sa_curl_err(uc, "", err)
         : pw_err_set(err, PW_EINVAL, "URL has no host");
    goto done;
  }

  /*
   * A zone names an interface of this machine (RFC 6874); the gateway
   * reaches sites through the profile's upstream, where it means nothing.
   */
  uc = curl_url_get(u->h, CURLUPART_ZONEID, &zone, 0);
  if (uc == CURLUE_OK) {
    rc = pw_err_set(err, PW_EINVAL, "URL host has an IPv6 zone");
    goto done;
  }

  rc = pw_host_normalize(host, u->host, &u->kind, &e);
  if (rc != PW_OK) {
    rc = pw_err_set(err, rc, "URL host: %s", e.msg);
    goto done;
  }
  u->trailing_dot = u->kind == PW_HOST_NAME
                    && host[strlen(host) - 1] == '.';

  /* libcurl has checked the port is digits up to 65535; 0 is no port. */
  uc = curl_url_get(u->h, CURLUPART_PORT, &port, 0);
  if (uc == CURLUE_OK) {
    n = strtol(port, NULL, 10);
    if (n <= 0 || n > 65535) {
      rc = pw_err_set(err, PW_EINVAL, "URL port %.8s is out of range",
                      port);
      goto done;
    }
    u->port = (uint16_t) n;
  } else if (uc != CURLUE_NO_PORT) {
    rc = sa_curl_err(uc, "URL port", err);
    goto done;
  }

  rc = PW_OK;

done:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(zone);
  if (rc != PW_OK) {
    curl_url_cleanup(u->h);
    u->h = NULL;
  }
  return rc;
}

/*
 * Rewrites the parsed URL for TLS.  User and password are dropped: RFC
 * 9110 section 4.2.4 forbids a sender to put userinfo in an http(s)
 * target or field value, and the upgraded URL becomes a Location field.
 * The host is written in its normalised A-label form (a Location holds a
 * URI, which is ASCII), keeping a trailing dot since browsers treat
 * "example.com." as an origin of its own.
 */
static int
sa_url_upgrade(sa_url_t *u, char **out, uint16_t *port, pw_err_t *err)
{
  char host[SA_URL_HOST_MAX + 1], num[8];
  CURLUcode uc;

  if (u->kind == PW_HOST_IPV6)
    snprintf(host, sizeof(host), "[%s]", u->host);
  else
    snprintf(host, sizeof(host), "%s%s", u->host,
             u->trailing_dot ? "." : "");

  /* Port 80 is http's default, so it maps to https's; others stay. */
  *port = u->port == 80 ? 443 : u->port;
  snprintf(num, sizeof(num), "%u", (unsigned) *port);

  uc = curl_url_set(u->h, CURLUPART_SCHEME, u->ws ? "wss" : "https",
                    CURLU_NON_SUPPORT_SCHEME);
  if (uc == CURLUE_OK)
    uc = curl_url_set(u->h, CURLUPART_USER, NULL, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_set(u->h, CURLUPART_PASSWORD, NULL, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_set(u->h, CURLUPART_OPTIONS, NULL, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_set(u->h, CURLUPART_HOST, host, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_set(u->h, CURLUPART_PORT, *port == 443 ? NULL : num, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_get(u->h, CURLUPART_URL, out, 0);
  if (uc != CURLUE_OK)
    return sa_curl_err(uc, "cannot write the upgraded URL", err);

  return PW_OK;
}

bool
pw_sa_exempt(const pw_sa_t *sa, const char *host, int64_t now,
             pw_reason_t *why)
{
  pw_reason_t reason;

  if (pw_host_is_loopback(host))
    reason = PW_REASON_SA_LOOPBACK;
  else if (pw_sa_is_exception(sa, host, now))
    reason = PW_REASON_SA_EXCEPTION;
  else
    return false;
  if (why != NULL)
    *why = reason;
  return true;
}

int
pw_sa_decide_url(const pw_sa_t *sa, const char *url, int64_t now,
                 pw_sa_result_t *res, pw_err_t *err)
{
  sa_url_t u;
  char *curl_out = NULL;
  uint16_t port;
  int rc;

  memset(res, 0, sizeof(*res));
  res->action = PW_ACTION_BLOCK;
  res->reason = PW_REASON_BAD_INPUT;

  rc = sa_url_parse(&u, url, err);
  if (rc != PW_OK)
    return rc;

  memcpy(res->host, u.host, sizeof(res->host));
  res->port = u.port;
  res->action = PW_ACTION_ALLOW;

  /*
   * Order matters: a switched-off profile says so whatever the URL, and
   * an encrypted URL needs no exemption to pass.
   */
  if (!sa->enabled) {
    res->reason = PW_REASON_SA_OFF;
  } else if (u.secure) {
    res->reason = PW_REASON_SA_SECURE;
  } else if (pw_sa_exempt(sa, u.host, now, &res->reason)) {
    /* res->reason says why. */
  } else if (sa->on_http == PW_SA_BLOCK) {
    res->action = PW_ACTION_BLOCK;
    res->reason = PW_REASON_SA_BLOCK;
  } else {
    rc = sa_url_upgrade(&u, &curl_out, &port, err);
    if (rc != PW_OK)
      goto done;

    /* The caller frees with free(), not curl_free(). */
    res->url = strdup(curl_out);
    if (res->url == NULL) {
      rc = pw_err_set(err, PW_ENOMEM, "out of memory");
      goto done;
    }
    res->action = PW_ACTION_UPGRADE;
    res->reason = PW_REASON_SA_UPGRADE;
    res->port = port;
  }

  rc = PW_OK;

done:
  if (rc != PW_OK) {
    res->action = PW_ACTION_BLOCK;
    res->reason = PW_REASON_BAD_INPUT;
  }
  curl_free(curl_out);
  curl_url_cleanup(u.h);
  return rc;
}
