/*
 * Pin policy: pin sets bound to host patterns, and the lookup from a host
 * to the one set that governs it.
 *
 * Patterns are an exact name, "*.example.com" (exactly one more label) or
 * "**.example.com" (any number of labels, including none).  An exact name
 * with include_subdomains means the same as "**.".  IP literals match only
 * themselves.  When several patterns match, the most specific wins: the
 * one with the longest base name, and on a tie exact before "*." before
 * "**." (so "**.login.example.com" beats "*.example.com" for
 * "a.login.example.com").
 *
 * The JSON form of a pin set, used by the store, the IPC and import:
 *
 *   { "pattern": "login.example.com", "include_subdomains": false,
 *     "pins": ["sha256/...", "sha256/..."], "mode": "enforce",
 *     "expires": "2027-06-01T00:00:00Z" }
 *
 * "mode" defaults to "enforce"; "expires" (RFC 3339 or Unix seconds) and
 * "include_subdomains" are optional.
 */
#ifndef PW_POLICY_H
#define PW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/err.h"
#include "engine/host.h"
#include "engine/pins.h"

/* Caps on what one pin set and one policy may hold. */
#define PW_PINSET_MAX_PINS   64
#define PW_POLICY_MAX_SETS   100000

typedef enum pw_match {
  PW_MATCH_EXACT = 0,  /* "example.com" */
  PW_MATCH_ONE,        /* "*.example.com" */
  PW_MATCH_ANY         /* "**.example.com" */
} pw_match_t;

typedef enum pw_pin_mode {
  PW_MODE_ENFORCE = 0,
  PW_MODE_REPORT
} pw_pin_mode_t;

typedef struct pw_pinset {
  pw_match_t    match;
  char          name[PW_HOST_MAX];  /* normalised base name */
  pw_pin_mode_t mode;
  int64_t       expires;            /* Unix seconds; 0 means never */
  size_t        npins;
  pw_pin_t      pins[PW_PINSET_MAX_PINS];
} pw_pinset_t;

typedef struct pw_policy pw_policy_t;

/*
 * Fills set from its JSON form, normalising the pattern.  Rejects a bad
 * pattern (a wildcard not at the start, a wildcard over an IP literal,
 * "*." with include_subdomains), a bad pin, an empty or oversized pin
 * list, an unknown mode, an unreadable expiry and unknown keys.
 */
int pw_pinset_from_json(pw_pinset_t *set, const json_t *obj, pw_err_t *err);

/* The JSON form, with the pattern written as "*." or "**." as needed. */
json_t *pw_pinset_to_json(const pw_pinset_t *set);

/* Writes the pattern text ("**.example.com") into out. */
void pw_pinset_pattern(const pw_pinset_t *set, char out[PW_HOST_MAX_PATTERN]);

/*
 * A warning a user should see about a set, or NULL: an enforcing set
 * with fewer than two pins has no backup if the key is replaced.
 */
const char *pw_pinset_warning(const pw_pinset_t *set);

bool pw_pinset_has_pin(const pw_pinset_t *set, const pw_pin_t *pin);

pw_policy_t *pw_policy_new(void);
void pw_policy_free(pw_policy_t *policy);

/* Adds a copy of set; a second set for the same pattern replaces it. */
int pw_policy_add(pw_policy_t *policy, const pw_pinset_t *set,
                  pw_err_t *err);

/*
 * Adds every set of a JSON array, all or nothing: on failure the policy
 * is as it was and err names the index of the bad set.
 */
int pw_policy_add_json(pw_policy_t *policy, const json_t *arr,
                       pw_err_t *err);

/* A JSON array of every set, in pattern order. */
json_t *pw_policy_to_json(const pw_policy_t *policy);

size_t pw_policy_count(const pw_policy_t *policy);

/*
 * Grows by one on every change.  The decision cache keys on it, so a
 * changed policy never answers from a stale entry.
 */
uint64_t pw_policy_revision(const pw_policy_t *policy);

/*
 * The set that governs `host` (already normalised), or NULL.  The cost is
 * one hash probe per label of host, whatever the number of sets.
 */
const pw_pinset_t *pw_policy_lookup(const pw_policy_t *policy,
                                    const char *host);

#endif
