/*
 * Building wire bytes in tests: a growing buffer, big-endian integers
 * of 1 to 4 octets, and length-prefixed vectors (RFC 8446 section 3.4)
 * whose length is written when they close, off by delta on purpose for
 * the cases that test a bad length.
 */
#ifndef PW_TEST_WIRE_H
#define PW_TEST_WIRE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

typedef struct bb {
  unsigned char *p;
  size_t         n, cap;
} bb_t;

static inline void
put(bb_t *b, const void *src, size_t n)
{
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    cr_assert_not_null(b->p);
  }
  if (n > 0)
    memcpy(b->p + b->n, src, n);
  b->n += n;
}

static inline void
put_uint(bb_t *b, uint32_t v, size_t width)
{
  unsigned char o[4];
  size_t i;

  for (i = 0; i < width; i++)
    o[i] = (unsigned char) (v >> (8 * (width - 1 - i)));
  put(b, o, width);
}

/* Opens a vector of a width-octet length; returns where its length is. */
static inline size_t
open_vec(bb_t *b, size_t width)
{
  size_t at = b->n;

  put_uint(b, 0, width);
  return at;
}

/* Writes the vector's length, plus delta to break it on purpose. */
static inline void
close_vec(bb_t *b, size_t at, size_t width, int delta)
{
  uint32_t len = (uint32_t) (b->n - at - width + (size_t) (long) delta);
  size_t i;

  for (i = 0; i < width; i++)
    b->p[at + i] = (unsigned char) (len >> (8 * (width - 1 - i)));
}

#endif
