/*
 * pw_vscan_read: any bytes.  What the reader takes, jansson must read as
 * the same call with the same values (vscan.h promises the two never
 * disagree); what it takes must lie inside the message.
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "ipc/vscan.h"

static void
check_span(const pw_vscan_span_t *s, const uint8_t *data, size_t size,
           const char *what)
{
  FUZZ_CHECK(s->p == NULL
             || (s->p >= (const char *) data
                 && s->p + s->len <= (const char *) data + size),
             "%s outside the message", what);
}

/* jansson's string v holds exactly the span's bytes. */
static void
check_string(const json_t *v, const pw_vscan_span_t *s, const char *what)
{
  FUZZ_CHECK(json_is_string(v), "%s: jansson has no string", what);
  FUZZ_CHECK(json_string_length(v) == s->len
             && memcmp(json_string_value(v), s->p, s->len) == 0,
             "%s: jansson reads another string", what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const json_t *params, *chain, *port;
  json_error_t jerr;
  json_t *root;
  pw_vscan_t v;
  char *id;
  size_t i;

  if (!pw_vscan_read((const char *) data, size, &v))
    return 0;

  check_span(&v.id, data, size, "id");
  check_span(&v.ref, data, size, "params.id");
  check_span(&v.host, data, size, "host");
  FUZZ_CHECK(v.n >= 1 && v.n <= PW_VSCAN_CHAIN_MAX, "%zu certificates",
             v.n);
  for (i = 0; i < v.n; i++)
    check_span(&v.chain[i], data, size, "certificate");
  FUZZ_CHECK(v.port >= 1 && v.port <= 65535, "port %lld",
             (long long) v.port);

  root = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                    &jerr);
  FUZZ_CHECK(root != NULL, "taken, but jansson refuses it: %s", jerr.text);
  FUZZ_CHECK(json_object_size(root) == 4, "members beyond the four");
  FUZZ_CHECK(strcmp(json_string_value(json_object_get(root, "jsonrpc")),
                    "2.0") == 0, "jsonrpc");
  FUZZ_CHECK(strcmp(json_string_value(json_object_get(root, "method")),
                    "verify.chain") == 0, "method");

  /* The id goes back as it came: jansson must write the same text. */
  id = json_dumps(json_object_get(root, "id"), JSON_ENCODE_ANY
                                               | JSON_COMPACT);
  FUZZ_CHECK(id != NULL && strlen(id) == v.id.len
             && memcmp(id, v.id.p, v.id.len) == 0,
             "jansson writes the id %s", id != NULL ? id : "(none)");
  free(id);

  params = json_object_get(root, "params");
  FUZZ_CHECK(json_is_object(params), "params");
  check_string(json_object_get(params, "host"), &v.host, "host");
  if (v.ref.p != NULL)
    check_string(json_object_get(params, "id"), &v.ref, "params.id");
  else
    FUZZ_CHECK(json_object_get(params, "id") == NULL, "a lost params.id");
  port = json_object_get(params, "port");
  FUZZ_CHECK(port == NULL ? v.port == 443
             : json_is_integer(port) && json_integer_value(port) == v.port,
             "port");
  chain = json_object_get(params, "chain");
  FUZZ_CHECK(json_is_array(chain) && json_array_size(chain) == v.n,
             "chain length");
  for (i = 0; i < v.n; i++)
    check_string(json_array_get(chain, i), &v.chain[i], "certificate");
  FUZZ_CHECK(json_object_size(params) == 2 + (v.ref.p != NULL)
             + (port != NULL), "params beyond the four");

  json_decref(root);
  return 0;
}
