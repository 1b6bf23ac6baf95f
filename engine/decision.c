#include "engine/decision.h"

#include <stdlib.h>
#include <string.h>

#include "engine/policy.h"
#include "engine/rfc3339.h"

static const char *const action_names[] = {
  [PW_ACTION_ALLOW]   = "allow",
  [PW_ACTION_BLOCK]   = "block",
  [PW_ACTION_UPGRADE] = "upgrade",
  [PW_ACTION_REPORT]  = "report",
};

static const char *const reason_names[PW_REASON__COUNT] = {
  [PW_REASON_OK]                = "ok",
  [PW_REASON_NO_POLICY]         = "no_policy",
  [PW_REASON_PIN_MISMATCH]      = "pin_mismatch",
  [PW_REASON_PINSET_EXPIRED]    = "pinset_expired",
  [PW_REASON_UNTRUSTED]         = "untrusted",
  [PW_REASON_HOSTNAME_MISMATCH] = "hostname_mismatch",
  [PW_REASON_EXPIRED]           = "expired",
  [PW_REASON_NOT_YET_VALID]     = "not_yet_valid",
  [PW_REASON_WEAK_KEY]          = "weak_key",
  [PW_REASON_BAD_CHAIN]         = "bad_chain",
  [PW_REASON_WEAK_SIGNATURE]    = "weak_signature",
  [PW_REASON_BAD_PURPOSE]       = "bad_purpose",
  [PW_REASON_NAME_CONSTRAINTS]  = "name_constraints",
  [PW_REASON_BAD_INPUT]         = "bad_input",
  [PW_REASON_SA_UPGRADE]        = "sa_upgrade",
  [PW_REASON_SA_BLOCK]          = "sa_block",
  [PW_REASON_SA_EXCEPTION]      = "sa_exception",
  [PW_REASON_SA_LOOPBACK]       = "sa_loopback",
  [PW_REASON_SA_OFF]            = "sa_off",
  [PW_REASON_SA_SECURE]         = "sa_secure",
  [PW_REASON_NO_SECRET]         = "no_secret",
  [PW_REASON_RESUMED]           = "resumed_session",
};

void
pw_decision_init(pw_decision_t *d)
{
  memset(d, 0, sizeof(*d));
  d->pinset_mode = -1;
  d->matched = -1;
}

void
pw_decision_clear(pw_decision_t *d)
{
  size_t i;

  if (d == NULL)
    return;
  for (i = 0; i < d->nchain; i++)
    free(d->subjects[i]);
  free(d->expected);
  pw_decision_init(d);
}

int
pw_decision_copy(pw_decision_t *dst, const pw_decision_t *src)
{
  size_t i;

  *dst = *src;
  dst->expected = NULL;
  for (i = 0; i < src->nchain; i++)
    dst->subjects[i] = NULL;

  for (i = 0; i < src->nchain; i++) {
    if (src->subjects[i] != NULL
        && (dst->subjects[i] = strdup(src->subjects[i])) == NULL)
      goto fail;
  }

  if (src->nexpected > 0) {
    dst->expected = malloc(src->nexpected * sizeof(*dst->expected));
    if (dst->expected == NULL)
      goto fail;
    memcpy(dst->expected, src->expected,
           src->nexpected * sizeof(*dst->expected));
  }
  return 0;

fail:
  pw_decision_clear(dst);
  return -1;
}

const char *
pw_action_name(pw_action_t action)
{
  if ((unsigned) action >= sizeof(action_names) / sizeof(action_names[0]))
    return "unknown";
  return action_names[action];
}

const char *
pw_reason_name(pw_reason_t reason)
{
  if ((unsigned) reason >= PW_REASON__COUNT)
    return "unknown";
  return reason_names[reason];
}

int
pw_reason_from_name(const char *name, pw_reason_t *out)
{
  int i;

  for (i = 0; i < PW_REASON__COUNT; i++) {
    if (strcmp(reason_names[i], name) == 0) {
      *out = (pw_reason_t) i;
      return 0;
    }
  }
  return -1;
}

int
pw_action_from_name(const char *name, pw_action_t *out)
{
  size_t i;

  for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
    if (strcmp(action_names[i], name) == 0) {
      *out = (pw_action_t) i;
      return 0;
    }
  }
  return -1;
}

static json_t *
pin_json(const pw_pin_t *pin)
{
  char text[PW_PIN_TEXT_MAX];

  pw_pins_format(pin, text);
  return json_string(text);
}

json_t *
pw_decision_to_json(const pw_decision_t *d)
{
  char when[PW_RFC3339_LEN];
  json_t *obj, *chain, *expected, *pinset, *item;
  size_t i;
  int bad = 0;

  obj = json_object();
  chain = json_array();
  expected = json_array();
  if (obj == NULL || chain == NULL || expected == NULL)
    goto fail;

  for (i = 0; i < d->nchain; i++) {
    item = json_pack("{s:s?, s:o}", "subject", d->subjects[i],
                     "pin", pin_json(&d->chain_pins[i]));
    bad |= json_array_append_new(chain, item);
  }
  for (i = 0; i < d->nexpected; i++)
    bad |= json_array_append_new(expected, pin_json(&d->expected[i]));

  pinset = json_null();
  if (d->pinset_mode >= 0) {
    pinset = json_pack("{s:s, s:s}", "pattern", d->pattern, "mode",
                       d->pinset_mode == PW_MODE_REPORT ? "report"
                                                        : "enforce");
    if (pinset != NULL && d->pinset_expires != 0) {
      pw_rfc3339_format(d->pinset_expires, when);
      bad |= json_object_set_new(pinset, "expires", json_string(when));
    }
  }

  pw_rfc3339_format(d->at, when);
  bad |= json_object_set_new(obj, "action",
                             json_string(pw_action_name(d->action)));
  bad |= json_object_set_new(obj, "reason",
                             json_string(pw_reason_name(d->reason)));
  bad |= json_object_set_new(obj, "detail", json_string(d->detail));
  bad |= json_object_set_new(obj, "profile", d->profile[0] != '\0'
                             ? json_string(d->profile) : json_null());
  bad |= json_object_set_new(obj, "host", json_string(d->host));
  bad |= json_object_set_new(obj, "port", json_integer(d->port));
  bad |= json_object_set_new(obj, "at", json_string(when));
  bad |= json_object_set_new(obj, "chain", chain);
  bad |= json_object_set_new(obj, "pinset", pinset);
  bad |= json_object_set_new(obj, "matched_pin", d->matched >= 0
                             ? pin_json(&d->chain_pins[d->matched])
                             : json_null());
  bad |= json_object_set_new(obj, "expected_pins", expected);
  if (d->warning != NULL)
    bad |= json_object_set_new(obj, "warning", json_string(d->warning));

  if (bad) {
    json_decref(obj);
    return NULL;
  }
  return obj;

fail:
  json_decref(obj);
  json_decref(chain);
  json_decref(expected);
  return NULL;
}
