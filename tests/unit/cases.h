/*
 * Table-driven Criterion tests.  Criterion runs each parameter in a fresh
 * process of the test binary, where the parent's pointers mean nothing,
 * so a table of cases is passed as indices into the table (in memory
 * Criterion shares between the processes) rather than as the cases.
 */
#ifndef PW_TEST_CASES_H
#define PW_TEST_CASES_H

#include <stddef.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

static inline void
cases_free(struct criterion_test_params *params)
{
  cr_free(params->params);
}

/* The parameters 0 .. n-1, for ParameterizedTest(size_t *i, ...). */
static inline struct criterion_test_params
case_indices(size_t n)
{
  size_t *idx = cr_malloc(n * sizeof(*idx));
  size_t i;

  for (i = 0; i < n; i++)
    idx[i] = i;
  return cr_make_param_array(size_t, idx, n, cases_free);
}

#endif
