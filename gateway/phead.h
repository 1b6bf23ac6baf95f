/*
 * The gateway's HTTP/1.1 proxy heads, read with http-parser.
 *
 * A request reader (pw_phead_*) per client connection is fed the
 * client's bytes and stops at the end of each request head, so that the
 * gateway can connect upstream before it takes more.  It accepts what a
 * proxy is sent: CONNECT in authority-form and plain http:// requests in
 * absolute-form; for the latter it builds the head to forward to the
 * origin.  Body bytes are only counted: the gateway forwards them as fed,
 * chunk framing included.
 *
 * A response tracker (pw_phead_resp_*) per upstream connection is fed
 * the origin's bytes and says where each response ends, so that the
 * gateway knows when the connection is free for the next request.
 *
 * Both take bytes in chunks of any size, and each feed says how many it
 * consumed: the bytes after an event (a head, the end of a message, the
 * start of a tunnel) are left to the caller, who feeds them again.  A
 * reader or tracker that failed stays failed: every later feed returns
 * the first error's code and message.
 */
#ifndef PW_PHEAD_H
#define PW_PHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

/*
 * Caps of ours on a request head, all ETOOBIG.  http-parser's own limit
 * (HTTP_MAX_HEADER_SIZE, 80 KiB in Debian) is larger and global.
 */
#define PW_PHEAD_LINE_MAX    8192          /* request line, CRLF apart */
#define PW_PHEAD_HEAD_MAX    (64 * 1024)   /* request line to empty line */
#define PW_PHEAD_FIELDS_MAX  100           /* header fields */
#define PW_PHEAD_NAME_MAX    256           /* a field name */
#define PW_PHEAD_VALUE_MAX   (16 * 1024)   /* a field value */

/* A response head, status line to empty line (each 1xx on its own). */
#define PW_PHEAD_RESP_HEAD_MAX (64 * 1024)

/* Requests forwarded on one upstream connection and not yet answered. */
#define PW_PHEAD_RESP_QUEUE_MAX 32

/* RFC 1035: a name of 253 characters in text form. */
#define PW_PHEAD_HOST_MAX 253

/*
 * Where a reader or tracker stands after a feed, and what the bytes the
 * feed consumed were.
 */
typedef enum pw_phead_stage {
  PW_PHEAD_NEED_MORE = 0,  /* inside a head, all bytes taken: feed more */
  PW_PHEAD_HEAD,           /* requests: a head ended with the bytes
                              consumed; read pw_phead_request, then feed
                              the rest (possibly none) */
  PW_PHEAD_BODY,           /* body bytes, all taken: forward them */
  PW_PHEAD_MESSAGE_END,    /* the message ended with the bytes consumed,
                              which are its last body bytes (forward
                              them); the next message may follow */
  PW_PHEAD_TUNNEL,         /* the rest is not HTTP: pump it; feeds
                              consume nothing more */
  PW_PHEAD_ERROR           /* failed: see the code and message */
} pw_phead_stage_t;

typedef enum pw_phead_kind {
  PW_PHEAD_CONNECT = 1,    /* CONNECT host:port */
  PW_PHEAD_ABSOLUTE        /* METHOD http://host[:port]/path?query */
} pw_phead_kind_t;

/* A request head, as the reader found it at stage PW_PHEAD_HEAD. */
typedef struct pw_phead_request {
  pw_phead_kind_t kind;
  const char     *method;      /* "GET", "CONNECT", ...: static */

  /* Lower-cased, IPv6 without its brackets; NUL-terminated. */
  char            host[PW_PHEAD_HOST_MAX + 1];
  uint16_t        port;        /* 80 when absolute-form names none */

  /* Absolute-form: "/path?query" ("/" when empty), no fragment. */
  const char     *target;      /* NULL for CONNECT */

  unsigned        http_minor;  /* HTTP/1.x */
  bool            keep_alive;  /* http_should_keep_alive */
  bool            has_body;    /* chunked, or a Content-Length over 0 */
  bool            chunked;
  bool            upgrade;     /* an Upgrade request (RFC 9110 7.8) */
} pw_phead_request_t;

typedef struct pw_phead pw_phead_t;

/* A request reader, or NULL when memory is short. */
pw_phead_t *pw_phead_new(void);
void pw_phead_free(pw_phead_t *r);

/*
 * Takes up to len bytes of the client's stream and sets *consumed to
 * how many it took; pw_phead_stage says what they were.  A feed stops
 * after a head (HEAD), after the end of a message (MESSAGE_END) and at
 * a tunnel (TUNNEL, nothing taken); in the other stages it takes all.
 * After HEAD, feed again even with no bytes: a message without a body
 * ends (MESSAGE_END) on that feed.  After CONNECT's HEAD the next feed
 * says TUNNEL.  After the MESSAGE_END of an Upgrade request, hold the
 * client's bytes until the response tracker says whether the connection
 * became a tunnel; if it did not, feed them here as the next request.
 *
 * Returns PW_OK, or PW_EINVAL for bytes that break the protocol or what
 * the gateway accepts, PW_ETOOBIG for a head over a cap, PW_ENOMEM;
 * pw_phead_status then gives the status to answer with, and err a
 * message fit for the answer's body.  Bytes after a request that closed
 * the connection (keep_alive false) are refused with PW_EINVAL.
 */
int pw_phead_feed(pw_phead_t *r, const void *buf, size_t len,
                  size_t *consumed, pw_err_t *err);

pw_phead_stage_t pw_phead_stage(const pw_phead_t *r);

/*
 * The last request head read, from its HEAD until the feed that starts
 * the next one; NULL before the first.  The strings belong to r.
 */
const pw_phead_request_t *pw_phead_request(const pw_phead_t *r);

/*
 * Absolute-form: the head to send to the origin, valid as the request
 * is.  The request line in origin-form with HTTP/1.1; every field in
 * the order sent except Proxy-Connection, Proxy-Authorization,
 * Keep-Alive, Connection and the fields Connection names (RFC 9110
 * 7.6.1); Host equal to the URL's authority, added first when absent
 * and replaced where it disagrees (RFC 9112 3.2.2).  An Upgrade request
 * keeps Upgrade and gets "Connection: Upgrade" where Connection was.
 * NULL (and *len 0) for CONNECT and before a head.
 */
const char *pw_phead_forward(const pw_phead_t *r, size_t *len);

/*
 * The status to answer a failed request with: 400, 414 (request line
 * over its cap), 431 (head, field count or field size over a cap), 501
 * (unknown method or transfer coding), 505 (not HTTP/1.x) or 500 (out
 * of memory).  0 while the reader has not failed.
 */
int pw_phead_status(const pw_phead_t *r);

/* Response tracker */

typedef struct pw_phead_resp pw_phead_resp_t;

/* A response tracker, or NULL when memory is short. */
pw_phead_resp_t *pw_phead_resp_new(void);
void pw_phead_resp_free(pw_phead_resp_t *t);

/*
 * Tells the tracker that a request went upstream, in order: its method
 * ("HEAD" has no response body; a 2xx to "CONNECT" is a tunnel) and
 * whether it asked to upgrade (a 101 to it is a tunnel; a 101 to any
 * other is refused).  PW_ETOOBIG past PW_PHEAD_RESP_QUEUE_MAX requests
 * unanswered.
 */
int pw_phead_resp_expect(pw_phead_resp_t *t, const char *method,
                         bool upgrade, pw_err_t *err);

/*
 * Takes up to len bytes of the origin's stream, as pw_phead_feed does:
 * a feed stops after the end of a response (MESSAGE_END) and at the
 * head that starts a tunnel (TUNNEL: the bytes after it are the
 * tunnel's); otherwise it takes all and the stage is NEED_MORE (in a
 * head) or BODY.  It never stops at HEAD: the head is forwarded as it
 * came.  Interim 1xx responses are forwarded and do not end anything.
 *
 * Returns PW_OK, PW_EINVAL for bytes that break the protocol, with no
 * request outstanding, or after a response that closes the connection,
 * PW_ETOOBIG for a head over PW_PHEAD_RESP_HEAD_MAX.
 */
int pw_phead_resp_feed(pw_phead_resp_t *t, const void *buf, size_t len,
                       size_t *consumed, pw_err_t *err);

/*
 * The origin closed the connection.  A response that ends at close
 * ends here (MESSAGE_END); between responses and in a tunnel the close
 * is clean.  PW_EINVAL when it cuts a head or a body of known length.
 */
int pw_phead_resp_eof(pw_phead_resp_t *t, pw_err_t *err);

pw_phead_stage_t pw_phead_resp_stage(const pw_phead_resp_t *t);

/* The status of the last final (not 1xx) response head; 0 before. */
int pw_phead_resp_status(const pw_phead_resp_t *t);

/*
 * Whether the origin closes the connection after the current response:
 * Connection: close, HTTP/1.0 without keep-alive, or a body that ends
 * at close.
 */
bool pw_phead_resp_close(const pw_phead_resp_t *t);

/* The current response's body has no length: it ends at close. */
bool pw_phead_resp_until_close(const pw_phead_resp_t *t);

/* Content octets of the current response (chunk framing apart). */
uint64_t pw_phead_resp_body_len(const pw_phead_resp_t *t);

#endif
