/*
 * pw_pinset_from_json and pw_policy_add_json: pin policies from the
 * store, imports and IPC calls.  An object is read as one pin set, an
 * array as a policy.
 */
#include "tests/fuzz/fuzz.h"

#include "engine/policy.h"

static void
check_pinset(const json_t *obj)
{
  pw_pinset_t set, back;
  char p1[PW_HOST_MAX_PATTERN], p2[PW_HOST_MAX_PATTERN];
  pw_err_t err = { 0 };
  json_t *out;
  size_t i;
  int rc;

  rc = pw_pinset_from_json(&set, obj, &err);
  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    return;
  }
  FUZZ_CHECK(set.npins > 0 && set.npins <= PW_PINSET_MAX_PINS,
             "%zu pins", set.npins);
  (void) pw_pinset_warning(&set);

  /* The JSON form reads back as the same set. */
  out = pw_pinset_to_json(&set);
  FUZZ_CHECK(out != NULL, "to_json failed");
  rc = pw_pinset_from_json(&back, out, &err);
  FUZZ_CHECK(rc == 0, "own JSON refused: %s", err.msg);

  pw_pinset_pattern(&set, p1);
  pw_pinset_pattern(&back, p2);
  FUZZ_CHECK(strcmp(p1, p2) == 0, "pattern '%s' became '%s'", p1, p2);
  FUZZ_CHECK(set.mode == back.mode, "mode changed");
  FUZZ_CHECK(set.expires == back.expires, "expires %lld became %lld",
             (long long) set.expires, (long long) back.expires);
  FUZZ_CHECK(set.npins == back.npins, "%zu pins became %zu", set.npins,
             back.npins);
  for (i = 0; i < set.npins; i++)
    FUZZ_CHECK(pw_pins_equal(&set.pins[i], &back.pins[i]), "pin %zu", i);

  json_decref(out);
}

static void
check_policy(const json_t *arr)
{
  pw_policy_t *p, *back;
  pw_err_t err = { 0 };
  json_t *out;
  int rc;

  p = pw_policy_new();
  back = pw_policy_new();
  FUZZ_CHECK(p != NULL && back != NULL, "out of memory");

  rc = pw_policy_add_json(p, arr, &err);
  if (rc != 0) {
    FUZZ_CHECK(err.msg[0] != '\0', "error %d without a message", rc);
    FUZZ_CHECK(pw_policy_count(p) == 0, "a failed add left %zu sets",
               pw_policy_count(p));
    goto done;
  }

  /* The JSON form reads back as a policy of as many sets. */
  out = pw_policy_to_json(p);
  FUZZ_CHECK(out != NULL, "to_json failed");
  rc = pw_policy_add_json(back, out, &err);
  FUZZ_CHECK(rc == 0, "own JSON refused: %s", err.msg);
  FUZZ_CHECK(pw_policy_count(p) == pw_policy_count(back),
             "%zu sets became %zu", pw_policy_count(p),
             pw_policy_count(back));
  (void) pw_policy_lookup(p, "example.com");
  json_decref(out);

done:
  pw_policy_free(back);
  pw_policy_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_error_t jerr;
  json_t *v;

  v = json_loadb((const char *) data, size, JSON_DECODE_ANY, &jerr);
  if (v == NULL)
    return 0;

  if (json_is_array(v))
    check_policy(v);
  else
    check_pinset(v);

  json_decref(v);
  return 0;
}
