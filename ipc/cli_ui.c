/*
 * pinwarden ui: the address of the engine's web UI, with the token in
 * its fragment (a fragment never leaves the browser: no server log or
 * Referer sees it), opened in the desktop's browser when there is one.
 */
#include "ipc/cli_int.h"

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ipc/client.h"

extern char **environ;

static const char usage_ui[] =
  "usage: pinwarden ui [--no-open]\n"
  "\n"
  "Prints the address of the running engine's web UI, with its token,\n"
  "and opens it in the desktop's browser (xdg-open) when there is a\n"
  "display.  The address carries the engine's token: keep it private.\n";

/* xdg-open, left to run on its own; a failure only loses the opening. */
static void
open_url(const char *url)
{
  char *argv[] = { "xdg-open", (char *) url, NULL };
  pid_t pid;

  if (getenv("DISPLAY") == NULL && getenv("WAYLAND_DISPLAY") == NULL)
    return;
  if (posix_spawnp(&pid, "xdg-open", NULL, NULL, argv, environ) == 0)
    waitpid(pid, NULL, 0);
}

int
pw_cli_ui(pw_cli_t *cli, int argc, char **argv)
{
  pw_client_where_t where;
  json_t *status = NULL;
  bool open = true;
  char url[256];
  pw_err_t err;
  int i, ret;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage_ui, stdout);
      return PW_CLI_EXIT_OK;
    }
    if (strcmp(argv[i], "--no-open") != 0) {
      fputs(usage_ui, stderr);
      return PW_CLI_EXIT_USAGE;
    }
    open = false;
  }

  /* The engine answers the token before its address is printed. */
  ret = pw_cli_call(cli, "engine.status", NULL, &status);
  json_decref(status);
  if (ret != PW_CLI_EXIT_OK)
    return ret;
  if (pw_client_locate(cli->data_dir, &where, &err) != PW_OK) {
    fprintf(stderr, "pinwarden: ui: %s\n", err.msg);
    return PW_CLI_EXIT_NO_ENGINE;
  }
  snprintf(url, sizeof(url), "http://%s/#token=%s", where.listen,
           where.token);
  explicit_bzero(&where, sizeof(where));

  printf("%s\n", url);
  fflush(stdout);
  if (open)
    open_url(url);
  explicit_bzero(url, sizeof(url));
  return PW_CLI_EXIT_OK;
}
