/*
 * The profile model: lifecycle, the strict JSON reader, the writer, and
 * the reader of export documents.
 */
#include "profiles/profile_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

/* What a key of the input may do, by where the document came from. */
enum {
  SRC_CREATE = 0,   /* a new profile from a user */
  SRC_STORED,       /* a document the store wrote: an export */
  SRC_PATCH         /* a change to a profile */
};

void
pw_profile_init(pw_profile_t *p)
{
  memset(p, 0, sizeof(*p));
  pw_sa_init(&p->sa);
}

void
pw_profile_clear(pw_profile_t *p)
{
  if (p == NULL)
    return;

  free(p->name);
  pw_profile__strv_free(p->tags, p->ntags);
  pw_profile_proxy_clear(&p->proxy);
  pw_sa_clear(&p->sa);
  json_decref(p->pins);
  free(p->resolve);
  pw_profile__browser_clear(&p->browser);
  free(p->roots);

  pw_profile_init(p);
}

int
pw_profile_copy(pw_profile_t *dst, const pw_profile_t *src, pw_err_t *err)
{
  pw_profile_t p;
  int ret = PW_OK;

  pw_profile_init(&p);
  memcpy(p.id, src->id, sizeof(p.id));
  p.revision = src->revision;
  p.created = src->created;
  p.updated = src->updated;

  if ((src->name != NULL && (p.name = strdup(src->name)) == NULL) ||
      pw_profile__strv_copy(&p.tags, src->tags, src->ntags) != PW_OK ||
      pw_profile__proxy_copy(&p.proxy, &src->proxy) != PW_OK ||
      pw_profile__browser_copy(&p.browser, &src->browser) != PW_OK ||
      (src->roots != NULL && (p.roots = strdup(src->roots)) == NULL) ||
      (src->pins != NULL && (p.pins = json_deep_copy(src->pins)) == NULL)) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  p.ntags = src->ntags;

  if (src->nresolve > 0) {
    p.resolve = malloc(src->nresolve * sizeof(*p.resolve));
    if (p.resolve == NULL) {
      ret = pw_err_set(err, PW_ENOMEM, "out of memory");
      goto done;
    }
    memcpy(p.resolve, src->resolve, src->nresolve * sizeof(*p.resolve));
    p.nresolve = src->nresolve;
  }

  ret = pw_sa_copy(&p.sa, &src->sa, err);
  if (ret != PW_OK)
    goto done;

  *dst = p;
  pw_profile_init(&p);

done:
  pw_profile_clear(&p);
  return ret;
}

static int
read_id(const json_t *v, pw_profile_t *p, pw_err_t *err)
{
  if (!json_is_string(v) || !pw_profile_id_valid(json_string_value(v)))
    return pw_err_set(err, PW_EINVAL, "id: must be a lower-case UUID");
  strcpy(p->id, json_string_value(v));
  return PW_OK;
}

static int
read_revision(const json_t *v, pw_profile_t *p, pw_err_t *err)
{
  if (!json_is_integer(v) || json_integer_value(v) < 1)
    return pw_err_set(err, PW_EINVAL, "revision: must be an integer >= 1");
  p->revision = json_integer_value(v);
  return PW_OK;
}

static int
read_sa(const json_t *v, pw_profile_t *p, pw_err_t *err)
{
  pw_sa_t sa;
  pw_err_t e;

  if (!json_is_object(v))
    return pw_err_set(err, PW_EINVAL, "secure_access: must be an object");

  pw_sa_init(&sa);
  if (pw_sa_from_json(&sa, v, &e) != PW_OK)
    return pw_err_set(err, e.code, "secure_access: %s", e.msg);

  pw_sa_clear(&p->sa);
  p->sa = sa;
  return PW_OK;
}

/* Reads one key of the input into p; a failure leaves p usable. */
/* A UUID's shape, in either case. */
static bool
uuid_shaped(const char *s)
{
  char lower[PW_PROFILE_ID_LEN];
  size_t i, n = strlen(s);

  if (n != PW_PROFILE_ID_LEN - 1)
    return false;
  for (i = 0; i <= n; i++)
    lower[i] = (char) tolower((unsigned char) s[i]);
  return pw_profile_id_valid(lower);
}

static int
read_key(pw_profile_t *p, const char *key, const json_t *v, int src,
         pw_err_t *err)
{
  char safe[48], *s = NULL, **tags = NULL;
  pw_resolve_t *res = NULL;
  json_t *pins = NULL;
  size_t n = 0;
  int ret;

  if (strcmp(key, "name") == 0) {
    ret = pw_profile__text("name", v, PW_PROFILE_NAME_MAX, &s, err);
    /*
     * A profile is named by its id or its name wherever it is named, so
     * a name that reads as a UUID would stand for two profiles.
     */
    if (ret == PW_OK && src != SRC_STORED && uuid_shaped(s)) {
      free(s);
      ret = pw_err_set(err, PW_EINVAL, "name: must not be a UUID, which "
                       "would read as a profile's id");
    }
    if (ret == PW_OK) {
      free(p->name);
      p->name = s;
    }
    return ret;
  }

  if (strcmp(key, "tags") == 0) {
    ret = pw_profile__tags(v, &tags, &n, err);
    if (ret == PW_OK) {
      pw_profile__strv_free(p->tags, p->ntags);
      p->tags = tags;
      p->ntags = n;
    }
    return ret;
  }

  if (strcmp(key, "proxy") == 0)
    return pw_profile__proxy(v, &p->proxy, err);
  if (strcmp(key, "secure_access") == 0)
    return read_sa(v, p, err);

  if (strcmp(key, "pins") == 0) {
    ret = pw_profile__pins(v, &pins, err);
    if (ret == PW_OK) {
      json_decref(p->pins);
      p->pins = pins;
    }
    return ret;
  }

  if (strcmp(key, "resolve") == 0) {
    ret = pw_profile__resolve(v, &res, &n, err);
    if (ret == PW_OK) {
      free(p->resolve);
      p->resolve = res;
      p->nresolve = n;
    }
    return ret;
  }

  if (strcmp(key, "browser") == 0) {
    if (json_is_null(v)) {
      pw_profile__browser_clear(&p->browser);
      return PW_OK;
    }
    return pw_profile__browser(v, &p->browser, err);
  }

  if (strcmp(key, "roots") == 0) {
    if (json_is_null(v)) {
      free(p->roots);
      p->roots = NULL;
      return PW_OK;
    }
    ret = pw_profile__roots(v, &s, err);
    if (ret == PW_OK) {
      free(p->roots);
      p->roots = s;
    }
    return ret;
  }

  if (strcmp(key, "id") == 0 || strcmp(key, "revision") == 0 ||
      strcmp(key, "created") == 0 || strcmp(key, "updated") == 0) {
    if (src != SRC_STORED)
      return pw_err_set(err, PW_EINVAL, "%s: is set by the store", key);
    if (key[0] == 'i')
      return read_id(v, p, err);
    if (key[0] == 'r')
      return read_revision(v, p, err);
    return pw_profile__time(key, v,
                            key[0] == 'c' ? &p->created : &p->updated, err);
  }

  pw_profile__safe_key(key, safe);
  return pw_err_set(err, PW_EINVAL, "%s: unknown key", safe);
}

static int
read_doc(pw_profile_t *p, const json_t *obj, int src, pw_err_t *err)
{
  const char *key;
  const json_t *v;
  int ret;

  if (!json_is_object(obj))
    return pw_err_set(err, PW_EINVAL, "a profile must be a JSON object");

  json_object_foreach((json_t *) obj, key, v) {
    ret = read_key(p, key, v, src, err);
    if (ret != PW_OK)
      return ret;
  }

  if (p->name == NULL)
    return pw_err_set(err, PW_EINVAL, "name: is required");
  return PW_OK;
}

int
pw_profile_from_json(pw_profile_t *p, const json_t *obj, unsigned flags,
                     pw_err_t *err)
{
  pw_profile_t tmp;
  int ret;

  pw_profile_init(&tmp);
  ret = read_doc(&tmp, obj, flags & PW_PROFILE_STORED ? SRC_STORED
                                                      : SRC_CREATE, err);
  if (ret != PW_OK)
    goto done;

  pw_profile_clear(p);
  *p = tmp;
  pw_profile_init(&tmp);

done:
  pw_profile_clear(&tmp);
  return ret;
}

int
pw_profile_apply_json(pw_profile_t *p, const json_t *patch, pw_err_t *err)
{
  pw_profile_t tmp;
  int ret;

  /* Work on a copy so that a bad key halfway leaves p untouched. */
  ret = pw_profile_copy(&tmp, p, err);
  if (ret != PW_OK)
    return ret;

  ret = read_doc(&tmp, patch, SRC_PATCH, err);
  if (ret != PW_OK)
    goto done;

  pw_profile_clear(p);
  *p = tmp;
  pw_profile_init(&tmp);

done:
  pw_profile_clear(&tmp);
  return ret;
}

int
pw_profile_parse(pw_profile_t *p, const char *buf, size_t len,
                 unsigned flags, pw_err_t *err)
{
  json_error_t jerr;
  json_t *doc;
  int ret;

  if (len > PW_PROFILE_JSON_MAX)
    return pw_err_set(err, PW_ETOOBIG, "a profile is at most %d bytes",
                      PW_PROFILE_JSON_MAX);

  doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    return pw_err_set(err, PW_EINVAL, "not JSON: line %d column %d: %s",
                      jerr.line, jerr.column, jerr.text);

  ret = pw_profile_from_json(p, doc, flags, err);
  json_decref(doc);
  return ret;
}

static json_t *
resolve_to_json(const pw_profile_t *p)
{
  json_t *o;
  size_t i;

  o = json_object();
  for (i = 0; o != NULL && i < p->nresolve; i++) {
    if (json_object_set_new(o, p->resolve[i].host,
                            json_string(p->resolve[i].addr)) != 0) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

json_t *
pw_profile_to_json(const pw_profile_t *p, unsigned flags)
{
  json_t *o = NULL, *tags = NULL, *proxy = NULL;
  char *url = NULL;
  size_t i;
  int bad = 0;

  o = json_object();
  tags = json_array();
  if (o == NULL || tags == NULL)
    goto fail;

  for (i = 0; i < p->ntags; i++)
    bad |= json_array_append_new(tags, json_string(p->tags[i]));

  if (pw_profile_proxy_url(&p->proxy, flags, &url, NULL) != PW_OK)
    goto fail;
  proxy = url != NULL ? json_string(url) : json_null();
  free(url);

  if (p->id[0] != '\0')
    bad |= json_object_set_new(o, "id", json_string(p->id));
  bad |= json_object_set_new(o, "name", json_string(p->name));
  bad |= json_object_set_new(o, "tags", tags);
  tags = NULL;
  if (p->revision > 0) {
    bad |= json_object_set_new(o, "revision", json_integer(p->revision));
    bad |= json_object_set_new(o, "created", json_integer(p->created));
    bad |= json_object_set_new(o, "updated", json_integer(p->updated));
  }
  bad |= json_object_set_new(o, "proxy", proxy);
  bad |= json_object_set_new(o, "secure_access", pw_sa_to_json(&p->sa));
  bad |= json_object_set_new(o, "pins", p->pins != NULL
                             ? json_deep_copy(p->pins) : json_array());
  bad |= json_object_set_new(o, "resolve", resolve_to_json(p));
  bad |= json_object_set_new(o, "browser",
                             pw_profile__browser_to_json(&p->browser));
  bad |= json_object_set_new(o, "roots", p->roots != NULL
                             ? json_string(p->roots) : json_null());
  if (bad)
    goto fail;
  return o;

fail:
  json_decref(tags);
  json_decref(o);
  return NULL;
}

int
pw_profile_new_id(char out[PW_PROFILE_ID_LEN], pw_err_t *err)
{
  unsigned char b[16];

  if (RAND_bytes(b, sizeof(b)) != 1) {
    pw_err_set(err, PW_ECRYPTO, "RAND_bytes");
    pw_err_add_openssl(err);
    return PW_ECRYPTO;
  }

  /* RFC 4122 section 4.4: version 4, variant 10. */
  b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);

  snprintf(out, PW_PROFILE_ID_LEN,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
           b[10], b[11], b[12], b[13], b[14], b[15]);
  return PW_OK;
}

bool
pw_profile_id_valid(const char *id)
{
  size_t i;

  if (id == NULL || strlen(id) != PW_PROFILE_ID_LEN - 1)
    return false;
  for (i = 0; i < PW_PROFILE_ID_LEN - 1; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (id[i] != '-')
        return false;
    } else if (!((id[i] >= '0' && id[i] <= '9') ||
                 (id[i] >= 'a' && id[i] <= 'f'))) {
      return false;
    }
  }
  return true;
}

void
pw_profile_array_free(pw_profile_t *arr, size_t n)
{
  size_t i;

  if (arr == NULL)
    return;
  for (i = 0; i < n; i++)
    pw_profile_clear(&arr[i]);
  free(arr);
}

/* Sorting by name, then by id, finds clashes in n log n. */
typedef struct ref {
  const pw_profile_t *p;
  size_t              index;
} ref_t;

static int
by_name(const void *a, const void *b)
{
  const ref_t *x = a, *y = b;
  int c = strcasecmp(x->p->name, y->p->name);

  return c != 0 ? c : (x->index < y->index ? -1 : 1);
}

static int
by_id(const void *a, const void *b)
{
  const ref_t *x = a, *y = b;
  int c = strcmp(x->p->id, y->p->id);

  return c != 0 ? c : (x->index < y->index ? -1 : 1);
}

/*
 * Names are unique without regard to ASCII case, as in the store; ids
 * that the document leaves out are given later and cannot clash.
 */
static int
check_clashes(const pw_profile_t *arr, size_t n, pw_err_t *err)
{
  ref_t *refs;
  size_t i;
  int ret = PW_OK;

  if (n < 2)
    return PW_OK;
  refs = malloc(n * sizeof(*refs));
  if (refs == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  for (i = 0; i < n; i++) {
    refs[i].p = &arr[i];
    refs[i].index = i;
  }

  qsort(refs, n, sizeof(*refs), by_name);
  for (i = 1; i < n; i++) {
    if (strcasecmp(refs[i - 1].p->name, refs[i].p->name) == 0) {
      ret = pw_err_set(err, PW_ECONFLICT,
                       "profiles[%zu]: name: same as profiles[%zu]",
                       refs[i].index, refs[i - 1].index);
      goto done;
    }
  }

  qsort(refs, n, sizeof(*refs), by_id);
  for (i = 1; i < n; i++) {
    if (refs[i].p->id[0] != '\0' &&
        strcmp(refs[i - 1].p->id, refs[i].p->id) == 0) {
      ret = pw_err_set(err, PW_ECONFLICT,
                       "profiles[%zu]: id: same as profiles[%zu]",
                       refs[i].index, refs[i - 1].index);
      goto done;
    }
  }

done:
  free(refs);
  return ret;
}

static int
import_top(const json_t *doc, const json_t **list, pw_err_t *err)
{
  const json_t *version = NULL;
  const char *key;
  const json_t *v;
  char safe[48];

  *list = NULL;
  if (!json_is_object(doc))
    return pw_err_set(err, PW_EINVAL, "an export must be a JSON object");

  json_object_foreach((json_t *) doc, key, v) {
    if (strcmp(key, "version") == 0) {
      version = v;
    } else if (strcmp(key, "profiles") == 0) {
      *list = v;
    } else {
      pw_profile__safe_key(key, safe);
      return pw_err_set(err, PW_EINVAL, "%s: unknown key", safe);
    }
  }

  if (!json_is_integer(version) ||
      json_integer_value(version) != PW_PROFILE_IMPORT_VERSION)
    return pw_err_set(err, PW_EINVAL, "version: must be %d",
                      PW_PROFILE_IMPORT_VERSION);
  if (!json_is_array(*list))
    return pw_err_set(err, PW_EINVAL, "profiles: must be an array");
  if (json_array_size(*list) > PW_PROFILE_IMPORT_MAX_PROFILES)
    return pw_err_set(err, PW_ETOOBIG, "profiles: more than %d",
                      PW_PROFILE_IMPORT_MAX_PROFILES);
  return PW_OK;
}

int
pw_profile_import_parse(const char *buf, size_t len, pw_profile_t **out,
                        size_t *n, pw_err_t *err)
{
  pw_profile_t *arr = NULL;
  const json_t *list, *item;
  json_error_t jerr;
  json_t *doc = NULL;
  pw_err_t e;
  size_t i, count = 0;
  int ret;

  *out = NULL;
  *n = 0;
  if (len > PW_PROFILE_IMPORT_MAX)
    return pw_err_set(err, PW_ETOOBIG, "an export is at most %d bytes",
                      PW_PROFILE_IMPORT_MAX);

  doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    return pw_err_set(err, PW_EINVAL, "not JSON: line %d column %d: %s",
                      jerr.line, jerr.column, jerr.text);

  ret = import_top(doc, &list, err);
  if (ret != PW_OK)
    goto done;

  count = json_array_size(list);
  arr = calloc(count > 0 ? count : 1, sizeof(*arr));
  if (arr == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  for (i = 0; i < count; i++)
    pw_profile_init(&arr[i]);

  json_array_foreach(list, i, item) {
    ret = pw_profile_from_json(&arr[i], item, PW_PROFILE_STORED, &e);
    if (ret != PW_OK) {
      pw_err_set(err, ret, "profiles[%zu]: %s", i, e.msg);
      goto done;
    }
  }

  ret = check_clashes(arr, count, err);
  if (ret != PW_OK)
    goto done;

  *out = arr;
  *n = count;
  arr = NULL;

done:
  pw_profile_array_free(arr, count);
  json_decref(doc);
  return ret;
}
