/*
 * The two files the launcher reads from Chromium: the first octet picks
 * DevToolsActivePort (pw_launch_port_parse) or Preferences
 * (pw_launch_prefs_merge).  A port file that reads gives a URL that
 * starts as promised and fits; a merged Preferences is a JSON object
 * with the launcher's keys set.
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "launcher/launch.h"

static void
port(const char *buf, size_t len)
{
  char url[PW_LAUNCH_DEVTOOLS_MAX];
  int rc;

  rc = pw_launch_port_parse(buf, len, url, NULL);
  FUZZ_CHECK(rc == PW_OK || rc == PW_EINVAL || rc == PW_ETOOBIG, "rc %d",
             rc);
  if (rc != PW_OK) {
    FUZZ_CHECK(url[0] == '\0', "url set on failure");
    return;
  }
  FUZZ_CHECK(strncmp(url, "ws://127.0.0.1:", 15) == 0, "url %s", url);
  FUZZ_CHECK(strstr(url, "/devtools/browser/") != NULL, "url %s", url);
  FUZZ_CHECK(strlen(url) < PW_LAUNCH_DEVTOOLS_MAX, "url too long");
}

static void
prefs(const char *buf, size_t len, bool https_only)
{
  json_t *doc;
  char *out = NULL;
  int rc;

  rc = pw_launch_prefs_merge(buf, len, https_only, &out, NULL);
  FUZZ_CHECK(rc == PW_OK, "rc %d", rc);

  doc = json_loads(out, 0, NULL);
  FUZZ_CHECK(json_is_object(doc), "not an object: %s", out);
  FUZZ_CHECK(json_is_boolean(json_object_get(doc,
                                             "https_only_mode_enabled"))
             && json_is_true(json_object_get(doc, "https_only_mode_enabled"))
                == https_only, "https_only_mode_enabled");
  FUZZ_CHECK(json_is_string(json_object_get(json_object_get(doc, "webrtc"),
                                            "ip_handling_policy")),
             "webrtc.ip_handling_policy");
  json_decref(doc);
  free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;

  if (data[0] & 1)
    port((const char *) data + 1, size - 1);
  else
    prefs((const char *) data + 1, size - 1, (data[0] & 2) != 0);
  return 0;
}
