/*
 * A reader of one verify.chain call in the plain shape that automation
 * sends, for the cached path on the loop, without building a JSON tree:
 *
 *   {"jsonrpc": "2.0", "id": 7, "method": "verify.chain",
 *    "params": {"id": "shop", "host": "example.com", "port": 443,
 *               "chain": ["MIIB...", "MIIC..."]}}
 *
 * Why not jansson, the engine's JSON library, here: it builds a tree and
 * copies every string, and most of such a call is kilobytes of base64
 * that the cached path only decodes.  Parsing took more of a cached
 * answer's time than all the rest together (bench/README.md, bench_ipc).
 *
 * The reader takes a strict subset of JSON and of the call's params and
 * says no to anything else, however valid: that goes to jansson and the
 * ordinary path.  So the two never disagree on what a message means:
 * what this reader accepts, jansson reads with the same values.  The
 * subset: one object (no batch); members jsonrpc "2.0", method
 * "verify.chain", an id that is an integer or a string, and params, each
 * once and no others; params with host (required), id, port and chain,
 * each once and no others; strings of printable ASCII without escapes;
 * integers without sign, fraction or exponent (a negative id is allowed,
 * but not -0); JSON whitespace between tokens.
 */
#ifndef PW_VSCAN_H
#define PW_VSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most a message may hold, as for any JSON-RPC message. */
#define PW_VSCAN_MESSAGE_MAX (1024 * 1024)
/* The most certificates a chain may hold, as for verify.chain. */
#define PW_VSCAN_CHAIN_MAX   16

/* A span of the message: not NUL-terminated; p is NULL when absent. */
typedef struct pw_vscan_span {
  const char *p;
  size_t      len;
} pw_vscan_span_t;

typedef struct pw_vscan {
  pw_vscan_span_t id;      /* the call's id as JSON text, quotes and all */
  pw_vscan_span_t ref;     /* params.id, the profile; without quotes */
  pw_vscan_span_t host;    /* without quotes */
  int64_t         port;    /* 1 to 65535; 443 when absent */
  size_t          n;       /* certificates, 1 to PW_VSCAN_CHAIN_MAX */
  pw_vscan_span_t chain[PW_VSCAN_CHAIN_MAX];  /* base64, without quotes */
} pw_vscan_t;

/*
 * Reads buf[0..len) into *out and returns true when it is one call of
 * the shape above.  False otherwise, with *out unspecified: the message
 * may still be valid, and the ordinary parser says what it is.
 */
bool pw_vscan_read(const char *buf, size_t len, pw_vscan_t *out);

#endif
