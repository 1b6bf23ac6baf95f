/*
 * Helpers shared by the libFuzzer targets.  Each target is one
 * LLVMFuzzerTestOneInput; a broken property aborts, which libFuzzer
 * reports as a crash with the input that caused it.
 */
#ifndef PW_FUZZ_H
#define PW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the code under test promises; the message names it. */
#define FUZZ_CHECK(cond, ...)                                            \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: property broken: ", __FILE__, __LINE__);   \
      fprintf(stderr, __VA_ARGS__);                                      \
      fputc('\n', stderr);                                               \
      abort();                                                           \
    }                                                                    \
  } while (0)

/*
 * The parsers take C strings: a NUL-terminated copy, which the caller
 * frees.  An embedded NUL ends the string early, as it would for any
 * caller.
 */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);

  if (s == NULL)
    abort();
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

#endif
