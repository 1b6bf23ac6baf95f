#include "ipc/cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "engine/rfc3339.h"
#include "ipc/cli_int.h"
#include "profiles/store.h"

/* How often `events` looks at its stop flag while nothing comes. */
#define CLI_EVENT_POLL_MS 200

const char pw_cli_usage[] =
  "\n"
  "Commands that talk to a running engine (pinwarden serve):\n"
  "  profile ...        create, list, show, update, delete, export and\n"
  "                     import profiles in the running engine\n"
  "  secure-access ...  turn a profile's Secure Access on or off\n"
  "  pins ...           list, add and remove pins (engine or profile)\n"
  "  decisions          list recent decisions\n"
  "  events             print the engine's events as they happen\n"
  "  call METHOD [JSON] call one JSON-RPC method and print its result\n"
  "  ui                 print (and open) the web UI's address\n"
  "\n"
  "  Global options of these commands, before or after the command:\n"
  "  --data-dir DIR     the engine's data folder (default as for init)\n"
  "  --json             print JSON instead of tables\n"
  "  --timeout S        wait at most S seconds for an answer (30)\n";

static const char usage_top[] =
  "usage: pinwarden [--data-dir DIR] [--json] [--timeout S] COMMAND ...\n";

static const char usage_secure[] =
  "usage: pinwarden secure-access PROFILE on|off [--block|--upgrade]\n"
  "       pinwarden secure-access PROFILE add-exception HOST [--ttl S]\n"
  "       pinwarden secure-access PROFILE remove-exception HOST\n"
  "\n"
  "Turns the HTTPS-only switch of PROFILE (its id or name) on or off.\n"
  "With it on, an http:// navigation is upgraded to https:// (--upgrade,\n"
  "the default) or blocked (--block).  Exceptions let one host through\n"
  "in clear text, for S seconds or until removed.\n";

static const char usage_pins[] =
  "usage: pinwarden pins list [--profile P]\n"
  "       pinwarden pins add PATTERN PIN... [--profile P] [--report]\n"
  "                          [--subdomains] [--expires TIME]\n"
  "       pinwarden pins remove PATTERN [PIN...] [--profile P]\n"
  "\n"
  "The engine's default pin sets, or with --profile those of profile P.\n"
  "PATTERN is a host name, *.name (one more label) or **.name (any\n"
  "number of labels); PIN is sha256/<base64> (`pinwarden pin FILE`\n"
  "prints them).  add adds pins to the set of PATTERN, creating it;\n"
  "--report records violations without blocking.  remove takes the\n"
  "given pins out of the set, or the whole set when no PIN is given.\n";

static const char usage_decisions[] =
  "usage: pinwarden decisions [--profile P] [--host H] [--action A]\n"
  "                           [--since TIME] [--limit N]\n"
  "\n"
  "Lists recorded decisions, newest first.  A is allow, block, upgrade\n"
  "or report; TIME is RFC 3339 or Unix seconds.\n";

static const char usage_events[] =
  "usage: pinwarden events [--topic T]... [--profile P]\n"
  "\n"
  "Prints each event as one line of JSON, {\"topic\", \"data\"}, until\n"
  "interrupted.  T is profile, secure_access, decision or browser\n"
  "(default: all of them); --profile keeps only one profile's events.\n";

static const char usage_call[] =
  "usage: pinwarden call METHOD [JSON-PARAMS | -]\n"
  "\n"
  "Calls one JSON-RPC method (profiles.list, verify.url ...) with the\n"
  "given params (an object or array; - reads them from stdin) and prints\n"
  "its result as JSON.  On a JSON-RPC error, prints the error's message\n"
  "and code on stderr and exits with 1.\n";

static volatile sig_atomic_t cli_stop;

static void
cli_on_signal(int sig)
{
  cli_stop = sig;
}

static int
is_help_arg(const char *a)
{
  return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/*
 * Takes the global options out of argv wherever they stand (up to a
 * "--"), leaving the command and its own arguments in order.  Returns
 * the new argc, or -1 on a bad global option.
 */
static int
take_globals(pw_cli_t *cli, int argc, char **argv)
{
  const char *v;
  long secs;
  int i, n = 1;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      while (i < argc)
        argv[n++] = argv[i++];
      break;
    }

    if (strcmp(argv[i], "--json") == 0) {
      cli->json = true;
      continue;
    }
    if (strcmp(argv[i], "--data-dir") == 0
        || strcmp(argv[i], "--timeout") == 0) {
      if (i + 1 == argc) {
        fprintf(stderr, "pinwarden: %s needs a value\n", argv[i]);
        return -1;
      }
      v = argv[i + 1];
    } else if (strncmp(argv[i], "--data-dir=", 11) == 0) {
      v = argv[i] + 11;
    } else if (strncmp(argv[i], "--timeout=", 10) == 0) {
      v = argv[i] + 10;
    } else {
      argv[n++] = argv[i];
      continue;
    }

    if (strncmp(argv[i], "--data-dir", 10) == 0) {
      cli->data_dir = v;
    } else {
      if (pw_cli_parse_count("--timeout", v, &secs) != 0)
        return -1;
      cli->timeout_ms = secs > 86400 ? 86400000 : (int) secs * 1000;
    }
    if (strchr(argv[i], '=') == NULL)
      i++;
  }
  argv[n] = NULL;
  return n;
}

/* The commands, by name; each gets argv from its own name on. */
static int cmd_secure(pw_cli_t *cli, int argc, char **argv);
static int cmd_pins(pw_cli_t *cli, int argc, char **argv);
static int cmd_decisions(pw_cli_t *cli, int argc, char **argv);
static int cmd_events(pw_cli_t *cli, int argc, char **argv);
static int cmd_call(pw_cli_t *cli, int argc, char **argv);

static const struct {
  const char *name;
  int (*fn)(pw_cli_t *cli, int argc, char **argv);
} cli_commands[] = {
  { "profile",       pw_cli_profile },
  { "profiles",      pw_cli_profile },
  { "secure-access", cmd_secure },
  { "pins",          cmd_pins },
  { "decisions",     cmd_decisions },
  { "events",        cmd_events },
  { "call",          cmd_call },
  { "ui",            pw_cli_ui },
};

#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

/* The first argument that is neither a global option nor its value. */
static const char *
command_name(int argc, char **argv)
{
  int i;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--data-dir") == 0
        || strcmp(argv[i], "--timeout") == 0)
      i++;
    else if (strcmp(argv[i], "--json") != 0
             && strncmp(argv[i], "--data-dir=", 11) != 0
             && strncmp(argv[i], "--timeout=", 10) != 0)
      return argv[i];
  }
  return NULL;
}

bool
pw_cli_handles(int argc, char **argv)
{
  const char *name = command_name(argc, argv);
  size_t i;

  if (name == NULL)
    return false;
  for (i = 0; i < CLI_NCOMMANDS; i++)
    if (strcmp(name, cli_commands[i].name) == 0)
      return true;
  return false;
}

int
pw_cli_main(int argc, char **argv)
{
  struct sigaction sa;
  pw_cli_t cli;
  size_t i;
  int ret = PW_CLI_EXIT_USAGE;

  memset(&cli, 0, sizeof(cli));
  argc = take_globals(&cli, argc, argv);
  if (argc < 0)
    return PW_CLI_EXIT_USAGE;
  if (argc < 2) {
    fprintf(stderr, "%s%s", usage_top, pw_cli_usage);
    return PW_CLI_EXIT_USAGE;
  }

  /*
   * A closed connection must be an error we report, not a SIGPIPE; and
   * Ctrl-C ends `events` through its loop, which closes cleanly.
   */
  signal(SIGPIPE, SIG_IGN);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = cli_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  for (i = 0; i < CLI_NCOMMANDS; i++)
    if (strcmp(argv[1], cli_commands[i].name) == 0) {
      ret = cli_commands[i].fn(&cli, argc - 1, argv + 1);
      break;
    }
  if (i == CLI_NCOMMANDS)
    fprintf(stderr, "pinwarden: unknown command '%s'\n", argv[1]);

  pw_client_close(cli.client);
  return ret;
}

/* ---- shared helpers ---- */

static int
cli_connect(pw_cli_t *cli)
{
  pw_err_t err;
  char *dir = NULL;
  int rc;

  if (cli->client != NULL)
    return PW_CLI_EXIT_OK;

  if (pw_store_data_dir(cli->data_dir, &dir, &err) != PW_OK) {
    fprintf(stderr, "pinwarden: %s\n", err.msg);
    return PW_CLI_EXIT_USAGE;
  }

  rc = pw_client_open(&cli->client, dir, &err);
  if (rc == PW_ENOTFOUND)
    fprintf(stderr, "pinwarden: no engine runs on %s: start it with "
            "pinwarden serve\n", dir);
  else if (rc != PW_OK)
    fprintf(stderr, "pinwarden: %s\n", err.msg);
  else if (cli->timeout_ms > 0)
    pw_client_set_timeout(cli->client, cli->timeout_ms);
  free(dir);

  if (rc == PW_ENOTFOUND)
    return PW_CLI_EXIT_NO_ENGINE;
  return rc == PW_OK ? PW_CLI_EXIT_OK : PW_CLI_EXIT_ENGINE;
}

/* A hint for the errors a person can act on. */
static const char *
error_hint(int code)
{
  switch (code) {
  case PW_RPC_CONFLICT:
    return " (it changed since it was read: run the command again)";
  case PW_RPC_BUSY:
    return " (the engine is busy: try again)";
  default:
    return "";
  }
}

int
pw_cli_call(pw_cli_t *cli, const char *method, json_t *params,
            json_t **result)
{
  pw_rpc_error_t err;
  char *data;
  int ret, rc;

  *result = NULL;
  memset(&err, 0, sizeof(err));
  ret = cli_connect(cli);
  if (ret != PW_CLI_EXIT_OK)
    goto done;

  rc = pw_client_call(cli->client, method, params, result, &err);
  if (rc == PW_CLIENT_EREMOTE) {
    fprintf(stderr, "pinwarden: %s: %s%s (code %d)\n", method, err.message,
            error_hint(err.code), err.code);
    if (err.data != NULL) {
      data = json_dumps(err.data, JSON_COMPACT | JSON_ENCODE_ANY);
      if (data != NULL)
        fprintf(stderr, "pinwarden: data: %s\n", data);
      free(data);
    }
    ret = PW_CLI_EXIT_ENGINE;
  } else if (rc != PW_OK) {
    fprintf(stderr, "pinwarden: %s: %s\n", method, err.message);
    ret = PW_CLI_EXIT_ENGINE;
  }

done:
  pw_client_error_clear(&err);
  json_decref(params);
  return ret;
}

void
pw_cli_print_json(const json_t *v)
{
  json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
  putchar('\n');
}

void
pw_cli_table_print(const json_t *rows)
{
  size_t width[16] = { 0 }, i, j, n, ncols = 0;
  const json_t *row;

  json_array_foreach(rows, i, row) {
    for (j = 0; j < json_array_size(row) && j < 16; j++) {
      n = strlen(pw_cli_str(json_array_get(row, j)));
      if (n > width[j])
        width[j] = n;
    }
    if (j > ncols)
      ncols = j;
  }

  /* The last column is not padded, so lines carry no trailing blanks. */
  json_array_foreach(rows, i, row) {
    for (j = 0; j < json_array_size(row) && j < 16; j++) {
      if (j + 1 < ncols && j + 1 < json_array_size(row))
        printf("%-*s  ", (int) width[j],
               pw_cli_str(json_array_get(row, j)));
      else
        printf("%s", pw_cli_str(json_array_get(row, j)));
    }
    putchar('\n');
  }
}

const json_t *
pw_cli_get2(const json_t *obj, const char *key, const char *other)
{
  const json_t *v = json_object_get(obj, key);

  return v != NULL ? v : json_object_get(obj, other);
}

const char *
pw_cli_str(const json_t *v)
{
  return json_is_string(v) ? json_string_value(v) : "";
}

const char *
pw_cli_time(const json_t *v, char *buf, size_t size)
{
  char when[PW_RFC3339_LEN];

  if (json_is_integer(v)) {
    pw_rfc3339_format(json_integer_value(v), when);
    snprintf(buf, size, "%s", when);
  } else {
    snprintf(buf, size, "%s", pw_cli_str(v));
  }
  return buf;
}

int
pw_cli_read_file(const char *path, size_t max, char **buf, size_t *len)
{
  FILE *f = stdin;
  size_t cap = 0, n;
  char *p;
  int ret = -1;

  *buf = NULL;
  *len = 0;
  if (strcmp(path, "-") != 0) {
    f = fopen(path, "rb");
    if (f == NULL) {
      fprintf(stderr, "pinwarden: %s: %s\n", path, strerror(errno));
      return -1;
    }
  }

  /* Read in chunks: stdin has no size to ask for. */
  for (;;) {
    if (*len + 65536 + 1 > cap) {
      cap = cap == 0 ? 65536 + 1 : cap * 2;
      p = realloc(*buf, cap);
      if (p == NULL) {
        fprintf(stderr, "pinwarden: out of memory\n");
        goto done;
      }
      *buf = p;
    }
    n = fread(*buf + *len, 1, 65536, f);
    *len += n;
    if (*len > max) {
      fprintf(stderr, "pinwarden: %s: larger than %zu bytes\n", path, max);
      goto done;
    }
    if (n == 0)
      break;
  }
  if (ferror(f)) {
    fprintf(stderr, "pinwarden: %s: read failed\n", path);
    goto done;
  }
  (*buf)[*len] = '\0';
  ret = 0;

done:
  if (ret != 0) {
    free(*buf);
    *buf = NULL;
  }
  if (f != stdin)
    fclose(f);
  return ret;
}

int
pw_cli_parse_count(const char *opt, const char *s, long *out)
{
  char *end;
  long v;

  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || end == s || v < 1) {
    fprintf(stderr, "pinwarden: %s '%s' is not a positive number\n", opt,
            s);
    return -1;
  }
  *out = v;
  return 0;
}

/* ---- secure-access ---- */

static void
print_secure(const char *profile, const json_t *sa)
{
  const json_t *exc;
  char when[64];
  size_t i;

  printf("Secure Access of %s: %s", profile,
         json_is_true(json_object_get(sa, "enabled")) ? "on" : "off");
  if (json_is_true(json_object_get(sa, "enabled")))
    printf(" (http: %s)", pw_cli_str(json_object_get(sa, "on_http")));
  putchar('\n');

  json_array_foreach(json_object_get(sa, "exceptions"), i, exc) {
    printf("  exception %s", pw_cli_str(json_object_get(exc, "host")));
    if (pw_cli_get2(exc, "until", "expires") != NULL)
      printf(" until %s", pw_cli_time(pw_cli_get2(exc, "until", "expires"),
                                      when, sizeof(when)));
    putchar('\n');
  }
}

static int
cmd_secure(pw_cli_t *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "block",   no_argument,       NULL, 'b' },
    { "upgrade", no_argument,       NULL, 'u' },
    { "ttl",     required_argument, NULL, 't' },
    { "help",    no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  const char *on_http = NULL, *profile, *what, *method;
  json_t *params = NULL, *result = NULL, *sa;
  long ttl = 0;
  int c, ret = PW_CLI_EXIT_USAGE;

  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'b':
      on_http = "block";
      break;
    case 'u':
      on_http = "upgrade";
      break;
    case 't':
      if (pw_cli_parse_count("--ttl", optarg, &ttl) != 0)
        return PW_CLI_EXIT_USAGE;
      break;
    case 'h':
      fputs(usage_secure, stdout);
      return PW_CLI_EXIT_OK;
    default:
      fputs(usage_secure, stderr);
      return PW_CLI_EXIT_USAGE;
    }
  }
  if (argc - optind < 2) {
    fputs(usage_secure, stderr);
    return PW_CLI_EXIT_USAGE;
  }
  profile = argv[optind];
  what = argv[optind + 1];

  if ((strcmp(what, "on") == 0 || strcmp(what, "off") == 0)
      && argc - optind == 2) {
    method = "secure_access.set";
    params = json_pack("{s:s, s:b}", "id", profile, "enabled",
                       strcmp(what, "on") == 0);
    if (params != NULL && on_http != NULL)
      json_object_set_new(params, "on_http", json_string(on_http));
  } else if (strcmp(what, "add-exception") == 0 && argc - optind == 3) {
    method = "secure_access.exception.add";
    params = json_pack("{s:s, s:s}", "id", profile, "host",
                       argv[optind + 2]);
    if (params != NULL && ttl > 0)
      json_object_set_new(params, "ttl_s", json_integer(ttl));
  } else if (strcmp(what, "remove-exception") == 0 && argc - optind == 3) {
    method = "secure_access.exception.remove";
    params = json_pack("{s:s, s:s}", "id", profile, "host",
                       argv[optind + 2]);
  } else {
    fprintf(stderr, "pinwarden: secure-access: expected on, off, "
            "add-exception HOST or remove-exception HOST\n%s",
            usage_secure);
    return PW_CLI_EXIT_USAGE;
  }

  ret = pw_cli_call(cli, method, params, &result);
  if (ret != PW_CLI_EXIT_OK)
    goto done;

  /* The answer is the switch itself or the profile that holds it. */
  sa = json_object_get(result, "secure_access");
  if (sa == NULL)
    sa = result;
  if (cli->json)
    pw_cli_print_json(result);
  else
    print_secure(profile, sa);

done:
  json_decref(result);
  return ret;
}

/* ---- pins ---- */

static void
print_pinsets(const json_t *sets)
{
  json_t *rows, *set, *pin;
  char when[64], *pins;
  size_t i, j, len;

  rows = json_array();
  json_array_append_new(rows, json_pack("[s,s,s,s,s]", "PATTERN",
                                        "SUBDOMAINS", "MODE", "EXPIRES",
                                        "PINS"));
  json_array_foreach(sets, i, set) {
    /* One cell with every pin, separated by spaces. */
    len = 1;
    json_array_foreach(json_object_get(set, "pins"), j, pin)
      len += strlen(pw_cli_str(pin)) + 1;
    pins = calloc(1, len);
    if (pins == NULL)
      break;
    json_array_foreach(json_object_get(set, "pins"), j, pin) {
      if (j > 0)
        strcat(pins, " ");
      strcat(pins, pw_cli_str(pin));
    }

    json_array_append_new(rows, json_pack("[s,s,s,s,s]",
      pw_cli_str(json_object_get(set, "pattern")),
      json_is_true(json_object_get(set, "include_subdomains"))
        ? "yes" : "no",
      json_object_get(set, "mode") != NULL
        ? pw_cli_str(json_object_get(set, "mode")) : "enforce",
      json_object_get(set, "expires") != NULL
        ? pw_cli_time(json_object_get(set, "expires"), when, sizeof(when))
        : "-",
      pins));
    free(pins);
  }
  if (json_array_size(sets) == 0)
    printf("no pin sets\n");
  else
    pw_cli_table_print(rows);
  json_decref(rows);
}

/* Reads the pin sets to change: the engine's, or a profile's. */
static int
pins_get(pw_cli_t *cli, const char *profile, json_t **sets,
         json_t **revision)
{
  json_t *result;
  int ret;

  *sets = NULL;
  *revision = NULL;
  if (profile == NULL)
    ret = pw_cli_call(cli, "pins.defaults.get", json_object(), &result);
  else
    ret = pw_cli_call(cli, "profiles.get",
                      json_pack("{s:s}", "id", profile), &result);
  if (ret != PW_CLI_EXIT_OK)
    return ret;

  *sets = json_object_get(result, "pins");
  *sets = json_is_array(*sets) ? json_copy(*sets) : json_array();
  *revision = json_object_get(result, "revision");
  json_incref(*revision);
  json_decref(result);
  return PW_CLI_EXIT_OK;
}

static int
pins_put(pw_cli_t *cli, const char *profile, json_t *sets,
         json_t *revision, json_t **result)
{
  if (profile == NULL)
    return pw_cli_call(cli, "pins.defaults.set",
                       json_pack("{s:O}", "pins", sets), result);
  return pw_cli_call(cli, "profiles.update",
                     json_pack("{s:s, s:O, s:{s:O}}", "id", profile,
                               "revision", revision, "patch", "pins",
                               sets), result);
}

static json_t *
pins_find(json_t *sets, const char *pattern, size_t *index)
{
  json_t *set;
  size_t i;

  json_array_foreach(sets, i, set)
    if (strcasecmp(pw_cli_str(json_object_get(set, "pattern")),
                   pattern) == 0) {
      *index = i;
      return set;
    }
  return NULL;
}

static int
pins_has(const json_t *pins, const char *pin)
{
  const json_t *p;
  size_t i;

  json_array_foreach(pins, i, p)
    if (strcmp(pw_cli_str(p), pin) == 0)
      return 1;
  return 0;
}

static int
cmd_pins(pw_cli_t *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "profile",    required_argument, NULL, 'p' },
    { "report",     no_argument,       NULL, 'r' },
    { "enforce",    no_argument,       NULL, 'e' },
    { "subdomains", no_argument,       NULL, 's' },
    { "expires",    required_argument, NULL, 'x' },
    { "help",       no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  const char *profile = NULL, *mode = NULL, *expires = NULL, *sub;
  json_t *sets = NULL, *revision = NULL, *result = NULL, *set, *pins;
  json_t *kept;
  int c, i, subdomains = 0, ret = PW_CLI_EXIT_USAGE;
  size_t index, j;

  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'p':
      profile = optarg;
      break;
    case 'r':
      mode = "report";
      break;
    case 'e':
      mode = "enforce";
      break;
    case 's':
      subdomains = 1;
      break;
    case 'x':
      expires = optarg;
      break;
    case 'h':
      fputs(usage_pins, stdout);
      return PW_CLI_EXIT_OK;
    default:
      fputs(usage_pins, stderr);
      return PW_CLI_EXIT_USAGE;
    }
  }
  sub = optind < argc ? argv[optind] : "";

  if (strcmp(sub, "list") == 0 && optind + 1 == argc) {
    ret = pins_get(cli, profile, &sets, &revision);
    if (ret != PW_CLI_EXIT_OK)
      goto done;
    if (cli->json)
      pw_cli_print_json(sets);
    else
      print_pinsets(sets);
    goto done;
  }

  if (!((strcmp(sub, "add") == 0 && argc - optind >= 3)
        || (strcmp(sub, "remove") == 0 && argc - optind >= 2))) {
    fputs(usage_pins, stderr);
    return PW_CLI_EXIT_USAGE;
  }

  /* Read, change, write back: a stale revision fails, never merges. */
  ret = pins_get(cli, profile, &sets, &revision);
  if (ret != PW_CLI_EXIT_OK)
    goto done;
  set = pins_find(sets, argv[optind + 1], &index);

  if (strcmp(sub, "add") == 0) {
    if (set == NULL) {
      set = json_pack("{s:s, s:[]}", "pattern", argv[optind + 1], "pins");
      json_array_append_new(sets, set);
    }
    pins = json_object_get(set, "pins");
    for (i = optind + 2; i < argc; i++)
      if (!pins_has(pins, argv[i]))
        json_array_append_new(pins, json_string(argv[i]));
    if (mode != NULL)
      json_object_set_new(set, "mode", json_string(mode));
    if (subdomains)
      json_object_set_new(set, "include_subdomains", json_true());
    if (expires != NULL)
      json_object_set_new(set, "expires", json_string(expires));
  } else if (set == NULL) {
    fprintf(stderr, "pinwarden: pins: no pin set for %s\n",
            argv[optind + 1]);
    ret = PW_CLI_EXIT_ENGINE;
    goto done;
  } else if (optind + 2 == argc) {
    json_array_remove(sets, index);
  } else {
    kept = json_array();
    json_array_foreach(json_object_get(set, "pins"), j, pins) {
      for (i = optind + 2; i < argc; i++)
        if (strcmp(pw_cli_str(pins), argv[i]) == 0)
          break;
      if (i == argc)
        json_array_append(kept, pins);
    }
    /* A set with no pins left is no set at all. */
    if (json_array_size(kept) == 0)
      json_array_remove(sets, index);
    else
      json_object_set(set, "pins", kept);
    json_decref(kept);
  }

  ret = pins_put(cli, profile, sets, revision, &result);
  if (ret != PW_CLI_EXIT_OK)
    goto done;
  if (cli->json)
    pw_cli_print_json(result);
  else
    print_pinsets(json_object_get(result, "pins"));

done:
  json_decref(result);
  json_decref(sets);
  json_decref(revision);
  return ret;
}

/* ---- decisions ---- */

static void
print_decisions(const json_t *list)
{
  json_t *rows, *d, *profile;
  char hostport[300];
  size_t i;

  if (json_array_size(list) == 0) {
    printf("no decisions\n");
    return;
  }

  rows = json_array();
  json_array_append_new(rows, json_pack("[s,s,s,s,s,s]", "AT", "ACTION",
                                        "REASON", "HOST", "PROFILE",
                                        "DETAIL"));
  json_array_foreach(list, i, d) {
    snprintf(hostport, sizeof(hostport), "%s:%lld",
             pw_cli_str(json_object_get(d, "host")),
             (long long) json_integer_value(json_object_get(d, "port")));
    /* The engine says "id" and "time" for "profile" and "at". */
    profile = json_object_get(d, "id");
    if (profile == NULL)
      profile = json_object_get(d, "profile");
    json_array_append_new(rows, json_pack("[s,s,s,s,s,s]",
      pw_cli_str(pw_cli_get2(d, "time", "at")),
      pw_cli_str(json_object_get(d, "action")),
      pw_cli_str(json_object_get(d, "reason")),
      hostport,
      json_is_string(profile) ? json_string_value(profile) : "-",
      pw_cli_str(json_object_get(d, "detail"))));
  }
  pw_cli_table_print(rows);
  json_decref(rows);
}

static int
cmd_decisions(pw_cli_t *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "profile", required_argument, NULL, 'p' },
    { "host",    required_argument, NULL, 'H' },
    { "action",  required_argument, NULL, 'a' },
    { "since",   required_argument, NULL, 's' },
    { "limit",   required_argument, NULL, 'l' },
    { "help",    no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  json_t *params, *result = NULL, *list;
  int64_t since;
  pw_err_t err;
  long limit;
  int c, ret = PW_CLI_EXIT_USAGE;

  params = json_object();
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'p':
      json_object_set_new(params, "id", json_string(optarg));
      break;
    case 'H':
      json_object_set_new(params, "host", json_string(optarg));
      break;
    case 'a':
      json_object_set_new(params, "action", json_string(optarg));
      break;
    case 's':
      if (pw_rfc3339_parse(optarg, &since, &err) != PW_OK) {
        fprintf(stderr, "pinwarden: --since: %s\n", err.msg);
        goto done;
      }
      json_object_set_new(params, "since", json_integer(since));
      break;
    case 'l':
      if (pw_cli_parse_count("--limit", optarg, &limit) != 0)
        goto done;
      json_object_set_new(params, "limit", json_integer(limit));
      break;
    case 'h':
      fputs(usage_decisions, stdout);
      ret = PW_CLI_EXIT_OK;
      goto done;
    default:
      fputs(usage_decisions, stderr);
      goto done;
    }
  }
  if (optind != argc) {
    fputs(usage_decisions, stderr);
    goto done;
  }

  ret = pw_cli_call(cli, "decisions.list", params, &result);
  params = NULL;
  if (ret != PW_CLI_EXIT_OK)
    goto done;
  list = json_object_get(result, "decisions");
  if (cli->json)
    pw_cli_print_json(list != NULL ? list : result);
  else
    print_decisions(list);

done:
  json_decref(params);
  json_decref(result);
  return ret;
}

/* ---- events ---- */

static int
cmd_events(pw_cli_t *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "topic",   required_argument, NULL, 't' },
    { "profile", required_argument, NULL, 'p' },
    { "help",    no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  json_t *params, *topics, *result = NULL, *event;
  const char *profile = NULL;
  pw_err_t err;
  int c, ret = PW_CLI_EXIT_USAGE;

  topics = json_array();
  params = json_pack("{s:O}", "topics", topics);
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 't':
      json_array_append_new(topics, json_string(optarg));
      break;
    case 'p':
      profile = optarg;
      break;
    case 'h':
      fputs(usage_events, stdout);
      ret = PW_CLI_EXIT_OK;
      goto done;
    default:
      fputs(usage_events, stderr);
      goto done;
    }
  }
  if (optind != argc) {
    fputs(usage_events, stderr);
    goto done;
  }
  if (json_array_size(topics) == 0) {
    json_array_append_new(topics, json_string("profile"));
    json_array_append_new(topics, json_string("secure_access"));
    json_array_append_new(topics, json_string("decision"));
    json_array_append_new(topics, json_string("browser"));
  }

  /* The engine filters events by UUID: a name is looked up first. */
  if (profile != NULL) {
    ret = pw_cli_call(cli, "profiles.get",
                      json_pack("{s:s}", "id", profile), &result);
    if (ret != PW_CLI_EXIT_OK)
      goto done;
    json_object_set(params, "id", json_object_get(result, "id"));
    json_decref(result);
    result = NULL;
  }

  ret = pw_cli_call(cli, "events.subscribe", params, &result);
  params = NULL;
  if (ret != PW_CLI_EXIT_OK)
    goto done;

  /* One line per event, flushed, so that a pipe sees each at once. */
  while (!cli_stop) {
    if (pw_client_next_event(cli->client, CLI_EVENT_POLL_MS, &event,
                             &err) != PW_OK) {
      fprintf(stderr, "pinwarden: events: %s\n", err.msg);
      ret = PW_CLI_EXIT_ENGINE;
      break;
    }
    if (event == NULL)
      continue;
    json_dumpf(event, stdout, JSON_COMPACT);
    putchar('\n');
    fflush(stdout);
    json_decref(event);
  }

done:
  json_decref(topics);
  json_decref(params);
  json_decref(result);
  return ret;
}

/* ---- call ---- */

static int
cmd_call(pw_cli_t *cli, int argc, char **argv)
{
  json_t *params = NULL, *result = NULL;
  json_error_t jerr;
  size_t len;
  char *buf = NULL;
  int ret = PW_CLI_EXIT_USAGE;

  if (argc >= 2 && is_help_arg(argv[1])) {
    fputs(usage_call, stdout);
    return PW_CLI_EXIT_OK;
  }
  if (argc < 2 || argc > 3) {
    fputs(usage_call, stderr);
    return PW_CLI_EXIT_USAGE;
  }

  if (argc == 3) {
    if (strcmp(argv[2], "-") == 0) {
      if (pw_cli_read_file("-", PW_CLI_FILE_MAX, &buf, &len) != 0)
        goto done;
      params = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
    } else {
      params = json_loads(argv[2], JSON_DECODE_ANY, &jerr);
    }
    if (params == NULL) {
      fprintf(stderr, "pinwarden: call: params are not JSON: %s (line "
              "%d)\n", jerr.text, jerr.line);
      goto done;
    }
  }

  ret = pw_cli_call(cli, argv[1], params, &result);
  params = NULL;
  if (ret == PW_CLI_EXIT_OK)
    pw_cli_print_json(result);

done:
  json_decref(params);
  json_decref(result);
  free(buf);
  return ret;
}
