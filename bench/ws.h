/*
 * A small WebSocket client on a plain TCP socket (RFC 6455), made for
 * benchmarks: one text message per frame out, whole text messages in.
 * bench_ipc drives both the daemon and the bare echo server with it, so
 * whatever the client costs falls on both sides of a ratio alike.
 *
 * The socket is blocking for writes (a benchmark's messages are small,
 * and a server that stops reading is caught by SO_SNDTIMEO) and read
 * with MSG_DONTWAIT, so one thread can poll many connections.  Errors
 * return -1 and leave a message in the connection (bench_ws_error).
 */
#ifndef PW_BENCH_WS_H
#define PW_BENCH_WS_H

#include <stddef.h>
#include <stdint.h>

/* The largest message read: a page of 1,000 profiles fits many times. */
#define BENCH_WS_MAX_MESSAGE (64 * 1024 * 1024)

/* How long a blocking read or write may wait before it is a failure. */
#define BENCH_WS_TIMEOUT_S 30

typedef struct bench_ws bench_ws_t;

/*
 * Connects to 127.0.0.1:port and upgrades, sending "Authorization:
 * Bearer token" when token is not NULL.  On failure *out is still set
 * (unless out of memory), so the caller can read the error and free it.
 */
int bench_ws_connect(bench_ws_t **out, uint16_t port, const char *token);

/* Closes the socket without a close handshake.  Accepts NULL. */
void bench_ws_free(bench_ws_t *ws);

int bench_ws_fd(const bench_ws_t *ws);
const char *bench_ws_error(const bench_ws_t *ws);

/* Sends one text message as a single masked frame. */
int bench_ws_send(bench_ws_t *ws, const char *buf, size_t len);

/*
 * Called for each whole text message; the text is valid only during the
 * call.  A non-zero return stops the read and is passed back from it.
 */
typedef int (*bench_ws_message_fn)(void *data, const char *msg, size_t len);

/*
 * Reads what the socket holds without waiting, answers pings, and calls
 * fn for every message completed.  Returns 0, -1 on a socket error or a
 * close from the server, or what fn returned.
 */
int bench_ws_read(bench_ws_t *ws, bench_ws_message_fn fn, void *data);

/*
 * Waits up to timeout_ms for the socket to be readable, then reads as
 * bench_ws_read does.  Returns 0 on a timeout too; the caller counts.
 */
int bench_ws_wait(bench_ws_t *ws, int timeout_ms, bench_ws_message_fn fn,
                  void *data);

#endif
