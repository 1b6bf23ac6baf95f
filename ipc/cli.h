/*
 * The command line's engine commands: `profile`, `secure-access`,
 * `pins`, `decisions`, `events` and `call` talk to a running `pinwarden
 * serve` through ipc/client.h.  They print tables for people and, with
 * --json, JSON for scripts.
 *
 * Exit status: 0 done, 1 the engine refused or failed, 2 bad usage,
 * 3 no engine runs on the data folder.
 */
#ifndef PW_CLI_H
#define PW_CLI_H

#include <stdbool.h>
#include <stddef.h>

enum {
  PW_CLI_EXIT_OK        = 0,
  PW_CLI_EXIT_ENGINE    = 1,
  PW_CLI_EXIT_USAGE     = 2,
  PW_CLI_EXIT_NO_ENGINE = 3
};

/* The usage lines main() lists for these commands. */
extern const char pw_cli_usage[];

/*
 * Whether argv (argv[0] the program) names one of these commands,
 * after any global options (--data-dir DIR, --json, --timeout S).
 */
bool pw_cli_handles(int argc, char **argv);

/*
 * Reads a file, or stdin for "-", of at most max bytes into a
 * NUL-terminated *buf (caller frees).  Says what failed on stderr and
 * returns -1.
 */
int pw_cli_read_file(const char *path, size_t max, char **buf,
                     size_t *len);

/* Runs the command argv names; returns the exit status. */
int pw_cli_main(int argc, char **argv);

#endif
