/*
 * Field parsers of the profile JSON form: text, tags, name overrides,
 * browser settings, extra roots and pin sets.
 */
#include "profiles/profile_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>

#include "engine/pins.h"
#include "engine/policy.h"
#include "engine/rfc3339.h"

/*
 * Switches the launcher sets itself, or that would let a profile reach
 * the network around its gateway, read its key log, or skip the checks
 * the engine relies on.  A profile may not pass them.
 */
static const char *const denied_switches[] = {
  "proxy-server", "no-proxy-server", "proxy-pac-url", "proxy-auto-detect",
  "proxy-bypass-list", "host-resolver-rules", "host-rules",
  "user-data-dir", "ssl-key-log-file", "remote-debugging-port",
  "remote-debugging-pipe", "remote-debugging-address",
  "remote-allow-origins", "ignore-certificate-errors",
  "ignore-certificate-errors-spki-list", "disable-web-security",
  "load-extension", "disable-extensions", "disable-extensions-except",
  "webrtc-ip-handling-policy", "force-webrtc-ip-handling-policy",
  "enforce-webrtc-ip-permission-check", "user-agent", "lang",
  "window-size",
};

void
pw_profile__safe_key(const char *key, char out[48])
{
  size_t i;

  for (i = 0; key[i] != '\0' && i < 40; i++) {
    if (key[i] < 0x20 || key[i] > 0x7e) {
      strcpy(out, "?");
      return;
    }
    out[i] = key[i];
  }
  out[i] = '\0';
  if (key[i] != '\0')
    strcpy(out + i, "...");
}

/*
 * Counts the characters of UTF-8 text (jansson has checked the encoding)
 * and refuses C0 and C1 controls and DEL.  Returns -1 on a control.
 */
static long
count_chars(const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *) s;
  long n = 0;
  size_t i;

  for (i = 0; i < len; i++) {
    if (u[i] < 0x20 || u[i] == 0x7f)
      return -1;
    if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
      return -1;
    if ((u[i] & 0xc0) != 0x80)
      n++;
  }
  return n;
}

int
pw_profile__text(const char *field, const json_t *v, size_t max_chars,
                 char **out, pw_err_t *err)
{
  size_t len;
  long n;
  char *s;

  if (!json_is_string(v))
    return pw_err_set(err, PW_EINVAL, "%s: must be a string", field);

  /* A \u0000 in the input would cut the C string short. */
  len = json_string_length(v);
  n = count_chars(json_string_value(v), len);
  if (n < 0)
    return pw_err_set(err, PW_EINVAL, "%s: holds a control character",
                      field);
  if (n == 0)
    return pw_err_set(err, PW_EINVAL, "%s: must not be empty", field);
  if ((size_t) n > max_chars)
    return pw_err_set(err, PW_EINVAL, "%s: longer than %zu characters",
                      field, max_chars);

  s = strdup(json_string_value(v));
  if (s == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  *out = s;
  return PW_OK;
}

void
pw_profile__strv_free(char **v, size_t n)
{
  size_t i;

  if (v == NULL)
    return;
  for (i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

int
pw_profile__strv_copy(char ***dst, char *const *src, size_t n)
{
  char **v;
  size_t i;

  *dst = NULL;
  if (n == 0)
    return PW_OK;

  v = calloc(n, sizeof(*v));
  if (v == NULL)
    return PW_ENOMEM;
  for (i = 0; i < n; i++) {
    v[i] = strdup(src[i]);
    if (v[i] == NULL) {
      pw_profile__strv_free(v, i);
      return PW_ENOMEM;
    }
  }

  *dst = v;
  return PW_OK;
}

int
pw_profile__tags(const json_t *v, char ***tags, size_t *ntags,
                 pw_err_t *err)
{
  char **t = NULL;
  char field[32];
  const json_t *item;
  size_t i, j, n;
  int ret = PW_OK;

  if (!json_is_array(v))
    return pw_err_set(err, PW_EINVAL, "tags: must be an array of strings");
  n = json_array_size(v);
  if (n > PW_PROFILE_MAX_TAGS)
    return pw_err_set(err, PW_EINVAL, "tags: more than %d tags",
                      PW_PROFILE_MAX_TAGS);

  if (n > 0) {
    t = calloc(n, sizeof(*t));
    if (t == NULL)
      return pw_err_set(err, PW_ENOMEM, "out of memory");
  }

  json_array_foreach(v, i, item) {
    snprintf(field, sizeof(field), "tags[%zu]", i);
    ret = pw_profile__text(field, item, PW_PROFILE_TAG_MAX, &t[i], err);
    if (ret != PW_OK)
      goto done;

    for (j = 0; j < i; j++) {
      if (strcmp(t[j], t[i]) == 0) {
        ret = pw_err_set(err, PW_EINVAL, "tags[%zu]: same as tags[%zu]",
                         i, j);
        goto done;
      }
    }
  }

  *tags = t;
  *ntags = n;
  t = NULL;

done:
  pw_profile__strv_free(t, n);
  return ret;
}

int
pw_profile__resolve(const json_t *v, pw_resolve_t **out, size_t *n,
                    pw_err_t *err)
{
  pw_resolve_t *r = NULL;
  const char *key;
  const json_t *addr;
  pw_host_kind_t kind;
  unsigned char bin[16];
  char safe[48];
  pw_err_t e;
  size_t i = 0, j, count;
  int ret = PW_OK;

  if (!json_is_object(v))
    return pw_err_set(err, PW_EINVAL,
                      "resolve: must be an object of host to address");
  count = json_object_size(v);
  if (count > PW_PROFILE_MAX_RESOLVE)
    return pw_err_set(err, PW_EINVAL, "resolve: more than %d hosts",
                      PW_PROFILE_MAX_RESOLVE);

  if (count > 0) {
    r = calloc(count, sizeof(*r));
    if (r == NULL)
      return pw_err_set(err, PW_ENOMEM, "out of memory");
  }

  json_object_foreach((json_t *) v, key, addr) {
    pw_profile__safe_key(key, safe);
    if (pw_host_normalize(key, r[i].host, &kind, &e) != PW_OK) {
      ret = pw_err_set(err, PW_EINVAL, "resolve: '%s': %s", safe, e.msg);
      goto done;
    }
    if (kind != PW_HOST_NAME) {
      ret = pw_err_set(err, PW_EINVAL,
                       "resolve: '%s': is an IP literal, not a name", safe);
      goto done;
    }
    for (j = 0; j < i; j++) {
      if (strcmp(r[j].host, r[i].host) == 0) {
        ret = pw_err_set(err, PW_EINVAL, "resolve: '%s': given twice",
                         r[i].host);
        goto done;
      }
    }

    /* Only a literal: a name here would be looked up on this machine. */
    if (!json_is_string(addr)) {
      ret = pw_err_set(err, PW_EINVAL, "resolve: '%s': must be a string",
                       r[i].host);
      goto done;
    }
    if (inet_pton(AF_INET, json_string_value(addr), bin) == 1) {
      inet_ntop(AF_INET, bin, r[i].addr, sizeof(r[i].addr));
    } else if (inet_pton(AF_INET6, json_string_value(addr), bin) == 1) {
      inet_ntop(AF_INET6, bin, r[i].addr, sizeof(r[i].addr));
    } else {
      ret = pw_err_set(err, PW_EINVAL,
                       "resolve: '%s': address is not an IP literal",
                       r[i].host);
      goto done;
    }

    i++;
  }

  *out = r;
  *n = count;
  r = NULL;

done:
  free(r);
  return ret;
}

void
pw_profile__browser_clear(pw_browser_t *b)
{
  if (b == NULL)
    return;
  free(b->user_agent);
  free(b->language);
  free(b->timezone);
  pw_profile__strv_free(b->args, b->nargs);
  memset(b, 0, sizeof(*b));
}

static int
dup_opt(char **dst, const char *src)
{
  *dst = NULL;
  if (src == NULL)
    return PW_OK;
  *dst = strdup(src);
  return *dst == NULL ? PW_ENOMEM : PW_OK;
}

int
pw_profile__browser_copy(pw_browser_t *dst, const pw_browser_t *src)
{
  pw_browser_t b;

  memset(&b, 0, sizeof(b));
  b.width = src->width;
  b.height = src->height;
  if (dup_opt(&b.user_agent, src->user_agent) != PW_OK ||
      dup_opt(&b.language, src->language) != PW_OK ||
      dup_opt(&b.timezone, src->timezone) != PW_OK ||
      pw_profile__strv_copy(&b.args, src->args, src->nargs) != PW_OK) {
    pw_profile__browser_clear(&b);
    return PW_ENOMEM;
  }
  b.nargs = src->nargs;

  *dst = b;
  return PW_OK;
}

/* A BCP 47 tag as Chromium's --lang takes it: "de", "de-DE", "zh-Hant". */
static bool
language_ok(const char *s)
{
  size_t i, run = 0, len = strlen(s);

  if (len < 2 || len > 35)
    return false;
  for (i = 0; i < len; i++) {
    if (s[i] == '-') {
      if (run == 0 || i == len - 1)
        return false;
      run = 0;
      continue;
    }
    if (!isascii((unsigned char) s[i]) || !isalnum((unsigned char) s[i]))
      return false;
    if (++run > 8)
      return false;
  }
  return isalpha((unsigned char) s[0]) && isalpha((unsigned char) s[1]);
}

/* An IANA zone name; never a path that climbs out of the zone folder. */
static bool
timezone_ok(const char *s)
{
  size_t i, len = strlen(s);

  if (len == 0 || len > 64 || s[0] == '/' || s[len - 1] == '/')
    return false;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char) s[i];

    /* No empty segment; '.' is refused below, so no "..". */
    if (c == '/') {
      if (s[i + 1] == '/')
        return false;
      continue;
    }
    if (!isascii(c) || !(isalnum(c) || c == '_' || c == '-' || c == '+'))
      return false;
  }
  return true;
}

static int
check_arg(const char *field, const char *arg, pw_err_t *err)
{
  size_t i, len;

  /*
   * Chromium reads "-x" and "--x" alike and opens anything else as a
   * URL; only "--name[=value]" is accepted so the deny list holds.
   */
  if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0' || arg[2] == '=')
    return pw_err_set(err, PW_EINVAL, "%s: must look like --name[=value]",
                      field);

  len = strcspn(arg + 2, "=");
  for (i = 0; i < sizeof(denied_switches) / sizeof(denied_switches[0]);
       i++) {
    if (strlen(denied_switches[i]) == len &&
        strncasecmp(arg + 2, denied_switches[i], len) == 0)
      return pw_err_set(err, PW_EINVAL,
                        "%s: --%s is set by the launcher or would bypass "
                        "the gateway", field, denied_switches[i]);
  }
  return PW_OK;
}

static int
window_dim(const char *field, const json_t *v, int *out, pw_err_t *err)
{
  json_int_t n;

  if (!json_is_integer(v))
    return pw_err_set(err, PW_EINVAL, "%s: must be an integer", field);
  n = json_integer_value(v);
  if (n < PW_PROFILE_WINDOW_MIN || n > PW_PROFILE_WINDOW_MAX)
    return pw_err_set(err, PW_EINVAL, "%s: must be %d..%d", field,
                      PW_PROFILE_WINDOW_MIN, PW_PROFILE_WINDOW_MAX);
  *out = (int) n;
  return PW_OK;
}

static int
browser_window(const json_t *v, pw_browser_t *b, pw_err_t *err)
{
  const char *key;
  const json_t *val;
  char safe[48];
  int ret;

  if (!json_is_object(v))
    return pw_err_set(err, PW_EINVAL, "browser.window: must be an object");

  json_object_foreach((json_t *) v, key, val) {
    if (strcmp(key, "width") == 0) {
      ret = window_dim("browser.window.width", val, &b->width, err);
    } else if (strcmp(key, "height") == 0) {
      ret = window_dim("browser.window.height", val, &b->height, err);
    } else {
      pw_profile__safe_key(key, safe);
      ret = pw_err_set(err, PW_EINVAL, "browser.window.%s: unknown key",
                       safe);
    }
    if (ret != PW_OK)
      return ret;
  }

  if (b->width == 0 || b->height == 0)
    return pw_err_set(err, PW_EINVAL,
                      "browser.window: needs both width and height");
  return PW_OK;
}

static int
browser_args(const json_t *v, pw_browser_t *b, pw_err_t *err)
{
  const json_t *item;
  char field[40];
  size_t i, n;
  int ret;

  if (!json_is_array(v))
    return pw_err_set(err, PW_EINVAL,
                      "browser.args: must be an array of strings");
  n = json_array_size(v);
  if (n > PW_PROFILE_MAX_ARGS)
    return pw_err_set(err, PW_EINVAL, "browser.args: more than %d",
                      PW_PROFILE_MAX_ARGS);
  if (n == 0)
    return PW_OK;

  b->args = calloc(n, sizeof(*b->args));
  if (b->args == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  b->nargs = n;

  json_array_foreach(v, i, item) {
    snprintf(field, sizeof(field), "browser.args[%zu]", i);
    ret = pw_profile__text(field, item, PW_PROFILE_ARG_MAX, &b->args[i],
                           err);
    if (ret == PW_OK)
      ret = check_arg(field, b->args[i], err);
    if (ret != PW_OK)
      return ret;
  }
  return PW_OK;
}

static int
browser_key(const char *key, const json_t *val, pw_browser_t *b,
            pw_err_t *err)
{
  char safe[48];
  int ret;

  if (strcmp(key, "user_agent") == 0)
    return pw_profile__text("browser.user_agent", val, PW_PROFILE_UA_MAX,
                            &b->user_agent, err);

  if (strcmp(key, "language") == 0) {
    ret = pw_profile__text("browser.language", val, 35, &b->language, err);
    if (ret == PW_OK && !language_ok(b->language))
      ret = pw_err_set(err, PW_EINVAL,
                       "browser.language: not a language tag like de-DE");
    return ret;
  }

  if (strcmp(key, "timezone") == 0) {
    ret = pw_profile__text("browser.timezone", val, 64, &b->timezone, err);
    if (ret == PW_OK && !timezone_ok(b->timezone))
      ret = pw_err_set(err, PW_EINVAL,
                       "browser.timezone: not a zone name like "
                       "Europe/Berlin");
    return ret;
  }

  if (strcmp(key, "window") == 0)
    return browser_window(val, b, err);
  if (strcmp(key, "args") == 0)
    return browser_args(val, b, err);

  pw_profile__safe_key(key, safe);
  return pw_err_set(err, PW_EINVAL, "browser.%s: unknown key", safe);
}

int
pw_profile__browser(const json_t *v, pw_browser_t *out, pw_err_t *err)
{
  pw_browser_t b;
  const char *key;
  const json_t *val;
  int ret = PW_OK;

  memset(&b, 0, sizeof(b));
  if (!json_is_object(v))
    return pw_err_set(err, PW_EINVAL, "browser: must be an object");

  json_object_foreach((json_t *) v, key, val) {
    ret = browser_key(key, val, &b, err);
    if (ret != PW_OK)
      goto done;
  }

  pw_profile__browser_clear(out);
  *out = b;
  memset(&b, 0, sizeof(b));

done:
  pw_profile__browser_clear(&b);
  return ret;
}

json_t *
pw_profile__browser_to_json(const pw_browser_t *b)
{
  json_t *o, *args = NULL;
  size_t i;
  int bad = 0;

  o = json_object();
  if (o == NULL)
    return NULL;

  if (b->user_agent != NULL)
    bad |= json_object_set_new(o, "user_agent", json_string(b->user_agent));
  if (b->language != NULL)
    bad |= json_object_set_new(o, "language", json_string(b->language));
  if (b->timezone != NULL)
    bad |= json_object_set_new(o, "timezone", json_string(b->timezone));
  if (b->width != 0)
    bad |= json_object_set_new(o, "window",
                               json_pack("{s:i,s:i}", "width", b->width,
                                         "height", b->height));

  if (b->nargs > 0) {
    args = json_array();
    for (i = 0; args != NULL && i < b->nargs; i++)
      bad |= json_array_append_new(args, json_string(b->args[i]));
    bad |= json_object_set_new(o, "args", args);
  }

  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int
pw_profile__roots(const json_t *v, char **out, pw_err_t *err)
{
  STACK_OF(X509) *certs = NULL;
  pw_err_t e;
  size_t len;
  char *s;

  if (!json_is_string(v))
    return pw_err_set(err, PW_EINVAL, "roots: must be PEM text or null");
  len = json_string_length(v);
  if (len > PW_PROFILE_ROOTS_MAX)
    return pw_err_set(err, PW_ETOOBIG, "roots: longer than %d bytes",
                      PW_PROFILE_ROOTS_MAX);

  /* DER cannot travel in a JSON string; PEM alone keeps export exact. */
  if (strlen(json_string_value(v)) != len ||
      strstr(json_string_value(v), "-----BEGIN CERTIFICATE-----") == NULL)
    return pw_err_set(err, PW_EINVAL,
                      "roots: must be PEM text with BEGIN CERTIFICATE");

  if (pw_pins_load_certs((const unsigned char *) json_string_value(v), len,
                         &certs, &e) != PW_OK)
    return pw_err_set(err, PW_EINVAL, "roots: %s", e.msg);
  sk_X509_pop_free(certs, X509_free);

  s = strdup(json_string_value(v));
  if (s == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  *out = s;
  return PW_OK;
}

int
pw_profile__pins(const json_t *v, json_t **out, pw_err_t *err)
{
  pw_policy_t *scratch = NULL;
  json_t *copy = NULL;
  int ret;

  if (!json_is_array(v))
    return pw_err_set(err, PW_EINVAL, "pins: must be an array of pin sets");
  if (json_array_size(v) > PW_PROFILE_MAX_PINSETS)
    return pw_err_set(err, PW_EINVAL, "pins: more than %d pin sets",
                      PW_PROFILE_MAX_PINSETS);

  scratch = pw_policy_new();
  if (scratch == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  /* Its messages already read "pins[i]: ...". */
  ret = pw_policy_add_json(scratch, v, err);
  if (ret != PW_OK)
    goto done;

  copy = json_deep_copy(v);
  if (copy == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  *out = copy;

done:
  pw_policy_free(scratch);
  return ret;
}

int
pw_profile__time(const char *field, const json_t *v, int64_t *out,
                 pw_err_t *err)
{
  pw_err_t e;

  if (json_is_integer(v)) {
    if (json_integer_value(v) < 0)
      return pw_err_set(err, PW_EINVAL, "%s: must not be negative", field);
    *out = json_integer_value(v);
    return PW_OK;
  }
  if (!json_is_string(v))
    return pw_err_set(err, PW_EINVAL,
                      "%s: must be Unix seconds or RFC 3339 text", field);
  if (pw_rfc3339_parse(json_string_value(v), out, &e) != PW_OK)
    return pw_err_set(err, PW_EINVAL, "%s: %s", field, e.msg);
  return PW_OK;
}
