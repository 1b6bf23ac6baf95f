#include "engine/policy.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rfc3339.h"

/*
 * Sets live in an array; an open-addressing table maps (match, name) to
 * an index.  A lookup probes once per suffix of the host, so its cost is
 * bounded by the host's label count, not by the number of sets.
 */

/*
 * A slot keeps the top bits of its key's hash beside the index, so that a
 * probe which does not match is settled without touching the set (sets
 * are large: a lookup should read as few of them as it can).
 */
typedef struct pw_slot {
  uint32_t index;          /* set index + 1; 0 marks an empty slot */
  uint32_t tag;            /* hash >> 32 */
} pw_slot_t;

struct pw_policy {
  pw_pinset_t *sets;
  size_t       nsets;
  size_t       cap;
  pw_slot_t   *slots;
  size_t       nslots;     /* a power of two, at least twice nsets */
  uint64_t     revision;
};

/*
 * Revisions come from one process-wide counter, so that a policy built
 * anew never repeats a number an older one used and a cache keyed on
 * the number cannot confuse the two.
 */
static atomic_uint_fast64_t policy_revisions = 1;

static uint64_t
next_revision(void)
{
  return atomic_fetch_add(&policy_revisions, 1);
}

static uint64_t
key_hash(pw_match_t match, const char *name)
{
  uint64_t h = 1469598103934665603ULL ^ (uint64_t) match;

  /* FNV-1a: short keys, no adversary choosing many colliding names. */
  for (; *name != '\0'; name++) {
    h ^= (unsigned char) *name;
    h *= 1099511628211ULL;
  }
  return h;
}

static const pw_pinset_t *
table_find(const pw_policy_t *p, pw_match_t match, const char *name,
           size_t *slot)
{
  uint64_t h;
  uint32_t v, tag;
  size_t mask, i;

  if (p->nslots == 0)
    return NULL;

  h = key_hash(match, name);
  tag = (uint32_t) (h >> 32);
  mask = p->nslots - 1;
  for (i = h & mask; ; i = (i + 1) & mask) {
    v = p->slots[i].index;
    if (v == 0) {
      if (slot != NULL)
        *slot = i;
      return NULL;
    }
    if (p->slots[i].tag == tag && p->sets[v - 1].match == match
        && strcmp(p->sets[v - 1].name, name) == 0) {
      if (slot != NULL)
        *slot = i;
      return &p->sets[v - 1];
    }
  }
}

static int
table_grow(pw_policy_t *p)
{
  pw_slot_t *slots;
  size_t n, i, j, mask;
  uint64_t h;

  n = p->nslots == 0 ? 64 : p->nslots * 2;
  slots = calloc(n, sizeof(*slots));
  if (slots == NULL)
    return PW_ENOMEM;

  mask = n - 1;
  for (i = 0; i < p->nsets; i++) {
    h = key_hash(p->sets[i].match, p->sets[i].name);
    for (j = h & mask; slots[j].index != 0; j = (j + 1) & mask)
      ;
    slots[j].index = (uint32_t) (i + 1);
    slots[j].tag = (uint32_t) (h >> 32);
  }

  free(p->slots);
  p->slots = slots;
  p->nslots = n;
  return PW_OK;
}

pw_policy_t *
pw_policy_new(void)
{
  pw_policy_t *p = calloc(1, sizeof(*p));

  if (p != NULL)
    p->revision = next_revision();
  return p;
}

void
pw_policy_free(pw_policy_t *p)
{
  if (p == NULL)
    return;
  free(p->sets);
  free(p->slots);
  free(p);
}

int
pw_policy_add(pw_policy_t *p, const pw_pinset_t *set, pw_err_t *err)
{
  const pw_pinset_t *old;
  pw_pinset_t *sets;
  size_t slot = 0, cap;

  old = table_find(p, set->match, set->name, NULL);
  if (old != NULL) {
    p->sets[old - p->sets] = *set;
    p->revision = next_revision();
    return PW_OK;
  }

  if (p->nsets >= PW_POLICY_MAX_SETS)
    return pw_err_set(err, PW_ETOOBIG, "a policy holds at most %d pin sets",
                      PW_POLICY_MAX_SETS);

  if (p->nsets == p->cap) {
    cap = p->cap == 0 ? 16 : p->cap * 2;
    sets = realloc(p->sets, cap * sizeof(*sets));
    if (sets == NULL)
      return pw_err_set(err, PW_ENOMEM, "out of memory");
    p->sets = sets;
    p->cap = cap;
  }

  /* Keep the load factor at or under one half. */
  if ((p->nsets + 1) * 2 > p->nslots && table_grow(p) != PW_OK)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  p->sets[p->nsets] = *set;
  table_find(p, set->match, set->name, &slot);
  p->slots[slot].index = (uint32_t) (p->nsets + 1);
  p->slots[slot].tag = (uint32_t) (key_hash(set->match, set->name) >> 32);
  p->nsets++;
  p->revision = next_revision();
  return PW_OK;
}

int
pw_policy_add_json(pw_policy_t *p, const json_t *arr, pw_err_t *err)
{
  pw_policy_t *scratch = NULL;
  pw_pinset_t *set = NULL;
  const json_t *item;
  pw_err_t e;
  size_t i;
  int ret = PW_OK;

  if (!json_is_array(arr))
    return pw_err_set(err, PW_EINVAL, "pins must be an array of pin sets");
  if (json_array_size(arr) > PW_POLICY_MAX_SETS)
    return pw_err_set(err, PW_ETOOBIG, "pins: more than %d pin sets",
                      PW_POLICY_MAX_SETS);

  set = malloc(sizeof(*set));
  scratch = pw_policy_new();
  if (set == NULL || scratch == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }

  /*
   * Validate everything first into a scratch policy (which also catches
   * two sets for one pattern), then add: all or nothing.
   */
  json_array_foreach(arr, i, item) {
    ret = pw_pinset_from_json(set, item, &e);
    if (ret == PW_OK && table_find(scratch, set->match, set->name, NULL))
      ret = pw_err_set(&e, PW_EINVAL, "pattern appears twice");
    if (ret == PW_OK)
      ret = pw_policy_add(scratch, set, &e);
    if (ret != PW_OK) {
      pw_err_set(err, ret, "pins[%zu]: %s", i, e.msg);
      goto done;
    }
  }

  if (p->nsets + scratch->nsets > PW_POLICY_MAX_SETS) {
    ret = pw_err_set(err, PW_ETOOBIG, "a policy holds at most %d pin sets",
                     PW_POLICY_MAX_SETS);
    goto done;
  }
  for (i = 0; i < scratch->nsets; i++) {
    ret = pw_policy_add(p, &scratch->sets[i], err);
    if (ret != PW_OK)
      goto done;
  }

done:
  free(set);
  pw_policy_free(scratch);
  return ret;
}

static int
set_cmp(const void *a, const void *b)
{
  const pw_pinset_t *x = *(pw_pinset_t *const *) a;
  const pw_pinset_t *y = *(pw_pinset_t *const *) b;
  int c = strcmp(x->name, y->name);

  return c != 0 ? c : (int) x->match - (int) y->match;
}

json_t *
pw_policy_to_json(const pw_policy_t *p)
{
  const pw_pinset_t **order = NULL;
  json_t *arr, *item;
  size_t i;

  arr = json_array();
  if (arr == NULL || p->nsets == 0)
    return arr;

  order = malloc(p->nsets * sizeof(*order));
  if (order == NULL)
    goto fail;
  for (i = 0; i < p->nsets; i++)
    order[i] = &p->sets[i];
  qsort(order, p->nsets, sizeof(*order), set_cmp);

  for (i = 0; i < p->nsets; i++) {
    item = pw_pinset_to_json(order[i]);
    if (item == NULL || json_array_append_new(arr, item) != 0)
      goto fail;
  }
  free(order);
  return arr;

fail:
  free(order);
  json_decref(arr);
  return NULL;
}

size_t
pw_policy_count(const pw_policy_t *p)
{
  return p->nsets;
}

uint64_t
pw_policy_revision(const pw_policy_t *p)
{
  return p->revision;
}

const pw_pinset_t *
pw_policy_lookup(const pw_policy_t *p, const char *host)
{
  const pw_pinset_t *set;
  const char *s;
  int k;

  if (p == NULL || p->nsets == 0)
    return NULL;

  /* An IP literal has no labels to strip: it matches only itself. */
  if (pw_host_is_ip(host))
    return table_find(p, PW_MATCH_EXACT, host, NULL);

  /*
   * Walk the suffixes from the host itself up; at each one the kinds of
   * pattern whose base name it could be, most specific first.  The first
   * hit has the longest base name, so it wins.
   */
  for (s = host, k = 0; s != NULL; k++) {
    if (k == 0 && (set = table_find(p, PW_MATCH_EXACT, s, NULL)) != NULL)
      return set;
    if (k == 1 && (set = table_find(p, PW_MATCH_ONE, s, NULL)) != NULL)
      return set;
    if ((set = table_find(p, PW_MATCH_ANY, s, NULL)) != NULL)
      return set;

    s = strchr(s, '.');
    if (s != NULL)
      s++;
  }
  return NULL;
}

/* Pin sets */

static int
pinset_pattern(pw_pinset_t *set, const char *text, bool subdomains,
               pw_err_t *err)
{
  pw_host_kind_t kind;
  const char *name = text;
  pw_err_t e;

  set->match = PW_MATCH_EXACT;
  if (strncmp(text, "**.", 3) == 0) {
    set->match = PW_MATCH_ANY;
    name = text + 3;
  } else if (strncmp(text, "*.", 2) == 0) {
    set->match = PW_MATCH_ONE;
    name = text + 2;
  }

  if (strchr(name, '*') != NULL)
    return pw_err_set(err, PW_EINVAL,
                      "pattern: a wildcard may only be a whole first "
                      "label (\"*.\" or \"**.\")");

  if (pw_host_normalize(name, set->name, &kind, &e) != PW_OK)
    return pw_err_set(err, PW_EINVAL, "pattern: %s", e.msg);

  if (kind != PW_HOST_NAME && (set->match != PW_MATCH_EXACT || subdomains))
    return pw_err_set(err, PW_EINVAL,
                      "pattern: an IP address matches only itself");

  if (subdomains) {
    if (set->match == PW_MATCH_ONE)
      return pw_err_set(err, PW_EINVAL,
                        "pattern: \"*.\" with include_subdomains is "
                        "ambiguous; write \"**.\"");
    set->match = PW_MATCH_ANY;
  }
  return PW_OK;
}

int
pw_pinset_from_json(pw_pinset_t *set, const json_t *obj, pw_err_t *err)
{
  const char *key, *mode;
  const json_t *v, *pin;
  bool subdomains = false;
  pw_err_t e;
  size_t i;
  int ret;

  memset(set, 0, sizeof(*set));
  if (!json_is_object(obj))
    return pw_err_set(err, PW_EINVAL, "a pin set must be an object");

  json_object_foreach((json_t *) obj, key, v) {
    if (strcmp(key, "pattern") != 0 && strcmp(key, "include_subdomains") != 0
        && strcmp(key, "pins") != 0 && strcmp(key, "mode") != 0
        && strcmp(key, "expires") != 0)
      return pw_err_set(err, PW_EINVAL, "unknown key '%s'", key);
  }

  v = json_object_get(obj, "include_subdomains");
  if (v != NULL) {
    if (!json_is_boolean(v))
      return pw_err_set(err, PW_EINVAL,
                        "include_subdomains must be true or false");
    subdomains = json_is_true(v);
  }

  v = json_object_get(obj, "pattern");
  if (!json_is_string(v))
    return pw_err_set(err, PW_EINVAL, "pattern must be a string");
  ret = pinset_pattern(set, json_string_value(v), subdomains, err);
  if (ret != PW_OK)
    return ret;

  v = json_object_get(obj, "mode");
  if (v != NULL) {
    mode = json_string_value(v);
    if (mode != NULL && strcmp(mode, "enforce") == 0)
      set->mode = PW_MODE_ENFORCE;
    else if (mode != NULL && strcmp(mode, "report") == 0)
      set->mode = PW_MODE_REPORT;
    else
      return pw_err_set(err, PW_EINVAL,
                        "mode must be \"enforce\" or \"report\"");
  }

  v = json_object_get(obj, "expires");
  if (json_is_integer(v)) {
    set->expires = json_integer_value(v);
  } else if (json_is_string(v)) {
    if (pw_rfc3339_parse(json_string_value(v), &set->expires, &e) != PW_OK)
      return pw_err_set(err, PW_EINVAL, "expires: %s", e.msg);
  } else if (v != NULL && !json_is_null(v)) {
    return pw_err_set(err, PW_EINVAL,
                      "expires must be RFC 3339 text or Unix seconds");
  }

  /* 0 stands for "never" inside; a written expiry cannot mean that. */
  if (v != NULL && !json_is_null(v)
      && (set->expires <= 0 || set->expires > PW_RFC3339_LAST))
    return pw_err_set(err, PW_EINVAL,
                      "expires must be between 1970 and 9999");

  v = json_object_get(obj, "pins");
  if (!json_is_array(v) || json_array_size(v) == 0)
    return pw_err_set(err, PW_EINVAL, "pins must be a non-empty array");
  if (json_array_size(v) > PW_PINSET_MAX_PINS)
    return pw_err_set(err, PW_ETOOBIG, "a pin set holds at most %d pins",
                      PW_PINSET_MAX_PINS);

  json_array_foreach(v, i, pin) {
    if (!json_is_string(pin))
      return pw_err_set(err, PW_EINVAL, "pins[%zu] must be a string", i);
    if (pw_pins_parse(&set->pins[set->npins], json_string_value(pin), &e)
        != PW_OK)
      return pw_err_set(err, PW_EINVAL, "pins[%zu]: %s", i, e.msg);

    /* A repeated pin adds no backup; keep one. */
    if (!pw_pinset_has_pin(set, &set->pins[set->npins]))
      set->npins++;
  }
  return PW_OK;
}

void
pw_pinset_pattern(const pw_pinset_t *set, char out[PW_HOST_MAX_PATTERN])
{
  static const char *const prefix[] = { "", "*.", "**." };

  snprintf(out, PW_HOST_MAX_PATTERN, "%s%s", prefix[set->match], set->name);
}

json_t *
pw_pinset_to_json(const pw_pinset_t *set)
{
  char pattern[PW_HOST_MAX_PATTERN], pin[PW_PIN_TEXT_MAX];
  char when[PW_RFC3339_LEN];
  json_t *obj, *pins;
  size_t i;

  pw_pinset_pattern(set, pattern);
  pins = json_array();
  obj = json_object();
  if (obj == NULL || pins == NULL)
    goto fail;

  for (i = 0; i < set->npins; i++) {
    pw_pins_format(&set->pins[i], pin);
    if (json_array_append_new(pins, json_string(pin)) != 0)
      goto fail;
  }

  /* json_object_set_new takes pins, even when it fails. */
  if (json_object_set_new(obj, "pins", pins) != 0
      || json_object_set_new(obj, "pattern", json_string(pattern)) != 0
      || json_object_set_new(obj, "mode", json_string(
           set->mode == PW_MODE_REPORT ? "report" : "enforce")) != 0)
    goto fail_obj;

  if (set->expires != 0) {
    pw_rfc3339_format(set->expires, when);
    if (json_object_set_new(obj, "expires", json_string(when)) != 0)
      goto fail_obj;
  }
  return obj;

fail:
  json_decref(pins);
fail_obj:
  json_decref(obj);
  return NULL;
}

const char *
pw_pinset_warning(const pw_pinset_t *set)
{
  if (set->mode == PW_MODE_ENFORCE && set->npins < 2)
    return "enforcing pin set has no backup pin: a key change will "
           "lock the host out";
  return NULL;
}

bool
pw_pinset_has_pin(const pw_pinset_t *set, const pw_pin_t *pin)
{
  size_t i;

  for (i = 0; i < set->npins; i++)
    if (pw_pins_equal(&set->pins[i], pin))
      return true;
  return false;
}
