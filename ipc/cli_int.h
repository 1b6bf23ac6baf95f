/*
 * What the command files of the engine commands share: the global
 * options, one connection made on first use, and printing.
 */
#ifndef PW_CLI_INT_H
#define PW_CLI_INT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "ipc/cli.h"
#include "ipc/client.h"

/* Files read for import and --from; the engine caps imports the same. */
#define PW_CLI_FILE_MAX (64 * 1024 * 1024)

typedef struct pw_cli {
  const char  *data_dir;    /* --data-dir, or NULL */
  bool         json;        /* --json */
  int          timeout_ms;  /* --timeout, or 0 */
  pw_client_t *client;      /* connected on first call */
} pw_cli_t;

/*
 * Calls method with params (taken: always released) and, on success,
 * returns PW_CLI_EXIT_OK with *result the caller's.  Otherwise prints
 * why on stderr and returns the exit status to use.
 */
int pw_cli_call(pw_cli_t *cli, const char *method, json_t *params,
                json_t **result);

/* Prints v as indented JSON and a newline on stdout. */
void pw_cli_print_json(const json_t *v);

/*
 * Tables: an array of rows, each an array of strings, the first row the
 * heading.  Columns are padded to their widest cell.
 */
void pw_cli_table_print(const json_t *rows);

/* "" for NULL, so that rows can take optional fields. */
const char *pw_cli_str(const json_t *v);

/* obj's key, or its other name when key is absent. */
const json_t *pw_cli_get2(const json_t *obj, const char *key,
                          const char *other);

/* A Unix time or an RFC 3339 string as RFC 3339, into buf. */
const char *pw_cli_time(const json_t *v, char *buf, size_t size);


/* Parses a positive integer option; prints why and returns -1 if not. */
int pw_cli_parse_count(const char *opt, const char *s, long *out);

int pw_cli_profile(pw_cli_t *cli, int argc, char **argv);
int pw_cli_ui(pw_cli_t *cli, int argc, char **argv);

#endif
