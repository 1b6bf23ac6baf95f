/*
 * pinwarden: the command line.  This is the top layer: it alone prints
 * and chooses exit codes; the modules below return codes and messages.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "engine/err.h"
#include "engine/pins.h"
#include "engine/policy.h"
#include "engine/rfc3339.h"
#include "engine/serve.h"
#include "engine/verify.h"
#include "ipc/cli.h"
#include "profiles/store.h"

#define PW_VERSION "0.1.0"

/* Exit codes of `verify`, and of every command on bad usage. */
enum { EXIT_ALLOWED = 0, EXIT_BLOCKED = 1, EXIT_USAGE = 2 };

/* Certificate and chain files are small; refuse anything larger. */
#define PW_FILE_MAX (4 * 1024 * 1024)

static const char usage_main[] =
  "usage: pinwarden COMMAND [OPTIONS]\n"
  "\n"
  "Commands:\n"
  "  pin FILE...        print the pin and subject of each certificate\n"
  "  verify             verify a chain for a host and apply pins\n"
  "  init               create the data folder and the profile store\n"
  "  serve              run the engine: JSON-RPC over WebSocket on loopback\n"
  "\n"
  "  pinwarden COMMAND --help   describes a command\n"
  "  pinwarden --version        prints the version\n";

static const char usage_pin[] =
  "usage: pinwarden pin FILE...\n"
  "\n"
  "Prints one line per certificate found in each PEM or DER file: its pin\n"
  "(sha256/<base64> of the DER SubjectPublicKeyInfo), then its subject.\n"
  "Exit status: 0 when every file was read, 2 otherwise.\n";

static const char usage_verify[] =
  "usage: pinwarden verify --host NAME --chain FILE [--port N]\n"
  "                        [--roots FILE] [--at TIME] [--pin PIN]...\n"
  "                        [--json]\n"
  "\n"
  "Verifies a certificate chain (PEM or DER, leaf first, then the\n"
  "intermediates) for a TLS server on the Web PKI, then the pin rule.\n"
  "\n"
  "  --host NAME    the server's name or IP address\n"
  "  --chain FILE   the chain the server sent\n"
  "  --port N       recorded with the decision (default 443)\n"
  "  --roots FILE   trust only these certificates (default: the system\n"
  "                 trust store)\n"
  "  --at TIME      verify at TIME: RFC 3339 or Unix seconds\n"
  "  --pin PIN      sha256/<base64>; may be repeated; the chain must hold\n"
  "                 one of the pinned keys\n"
  "  --json         print the decision record as JSON\n"
  "\n"
  "Exit status: 0 allowed, 1 blocked, 2 bad usage or unreadable input.\n";

static const char usage_init[] =
  "usage: pinwarden init [--data-dir DIR]\n"
  "\n"
  "Creates the data folder (mode 0700) and the profile store in it (mode\n"
  "0600), migrating an older store to the current schema, and prints\n"
  "where they are.  The data folder is DIR, else $XDG_DATA_HOME/pinwarden,\n"
  "else ~/.local/share/pinwarden.\n";

static const char usage_serve[] =
  "usage: pinwarden serve [--data-dir DIR] [--listen HOST:PORT]\n"
  "                       [--listen-insecure-any] [--log FILE]\n"
  "                       [--log-level LEVEL] [--secret-wait MS]\n"
  "                       [--head-timeout MS] [--idle-timeout MS]\n"
  "                       [--upstream-timeout MS]\n"
  "                       [--chromium PATH] [--ui-dir DIR]\n"
  "\n"
  "Runs the engine until SIGINT or SIGTERM: JSON-RPC 2.0 over WebSocket\n"
  "and a plain HTTP page on one loopback address.  Writes DIR/token (the\n"
  "token clients present, mode 0600) and DIR/engine.json (where it\n"
  "listens, its pid and version) once it listens, and removes both when\n"
  "it stops.  One engine per data folder.\n"
  "\n"
  "  --data-dir DIR          as for init (default $XDG_DATA_HOME/pinwarden,\n"
  "                          else ~/.local/share/pinwarden)\n"
  "  --listen HOST:PORT      default " PW_SERVE_DEFAULT_LISTEN "; HOST is\n"
  "                          127.0.0.1, [::1] or localhost; port 0 picks a\n"
  "                          free port (read it from engine.json)\n"
  "  --listen-insecure-any   allow a HOST that is not loopback: anyone who\n"
  "                          reaches it may try tokens\n"
  "  --log FILE              append the log to FILE (mode 0600; SIGHUP\n"
  "                          reopens it) instead of stderr\n"
  "  --log-level LEVEL       debug, info (default), warn or error\n"
  "  --secret-wait MS        how long a gateway waits for a client's TLS\n"
  "                          1.3 secret in the key-log file before it\n"
  "                          fails the handshake closed (default 2000,\n"
  "                          at most 60000)\n"
  "  --head-timeout MS       how long a gateway waits for a request head\n"
  "                          once it began (default 10000), then 408\n"
  "  --idle-timeout MS       how long a gateway keeps a connection that\n"
  "                          moves no byte either way (default 300000)\n"
  "  --upstream-timeout MS   how long a gateway waits to be through its\n"
  "                          upstream to the target (default 10000),\n"
  "                          then 504\n"
  "  --chromium PATH         the browser profiles.start launches (default\n"
  "                          /usr/bin/chromium)\n"
  "  --ui-dir DIR            the web UI (DIR/web at /, DIR/client at\n"
  "                          /client/; default " PW_UI_DIR ")\n"
  "\n"
  "Exit status: 0 after a clean stop, 1 when it could not start (another\n"
  "engine holds the data folder, the port is taken), 2 bad usage.\n";

static int
is_help(int argc, char **argv)
{
  int i;

  for (i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
      return 1;
  return 0;
}

static int
cmd_pin(int argc, char **argv)
{
  char pin[PW_PIN_TEXT_MAX], *subject;
  STACK_OF(X509) *certs;
  char *buf;
  pw_pin_t p;
  pw_err_t err;
  size_t len;
  int i, j, ret = EXIT_ALLOWED;

  if (is_help(argc, argv)) {
    fputs(usage_pin, stdout);
    return EXIT_ALLOWED;
  }
  if (argc < 2) {
    fputs(usage_pin, stderr);
    return EXIT_USAGE;
  }

  for (i = 1; i < argc; i++) {
    if (pw_cli_read_file(argv[i], PW_FILE_MAX, &buf, &len) != 0) {
      ret = EXIT_USAGE;
      continue;
    }
    if (pw_pins_load_certs((unsigned char *) buf, len, &certs, &err)
        != PW_OK) {
      fprintf(stderr, "pinwarden: %s: %s\n", argv[i], err.msg);
      free(buf);
      ret = EXIT_USAGE;
      continue;
    }

    for (j = 0; j < sk_X509_num(certs); j++) {
      X509 *x = sk_X509_value(certs, j);

      if (pw_pins_of_cert(&p, x, &err) != PW_OK) {
        fprintf(stderr, "pinwarden: %s: certificate %d: %s\n", argv[i],
                j + 1, err.msg);
        ret = EXIT_USAGE;
        continue;
      }
      pw_pins_format(&p, pin);
      subject = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
      printf("%s %s\n", pin, subject != NULL ? subject : "");
      OPENSSL_free(subject);
    }

    sk_X509_pop_free(certs, X509_free);
    free(buf);
  }
  return ret;
}

static void
print_decision(const pw_decision_t *d)
{
  char pin[PW_PIN_TEXT_MAX], when[PW_RFC3339_LEN];
  size_t i;

  pw_rfc3339_format(d->at, when);
  printf("action: %s\n", pw_action_name(d->action));
  printf("reason: %s\n", pw_reason_name(d->reason));
  printf("host:   %s:%u\n", d->host, (unsigned) d->port);
  printf("at:     %s\n", when);
  printf("detail: %s\n", d->detail);
  if (d->pattern[0] != '\0')
    printf("pinset: %s (%s)\n", d->pattern,
           d->pinset_mode == PW_MODE_REPORT ? "report" : "enforce");
  if (d->warning != NULL)
    printf("warning: %s\n", d->warning);

  printf("chain:\n");
  for (i = 0; i < d->nchain; i++) {
    pw_pins_format(&d->chain_pins[i], pin);
    printf("  %zu %s %s%s\n", i, pin,
           d->subjects[i] != NULL ? d->subjects[i] : "",
           d->matched == (int) i ? "  <- pinned" : "");
  }
  for (i = 0; i < d->nexpected; i++) {
    pw_pins_format(&d->expected[i], pin);
    printf("expected: %s\n", pin);
  }
}

static int
parse_port(const char *s, uint16_t *out)
{
  char *end;
  long v;

  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
    return -1;
  *out = (uint16_t) v;
  return 0;
}

static int
cmd_verify(int argc, char **argv)
{
  static const struct option opts[] = {
    { "host",  required_argument, NULL, 'H' },
    { "port",  required_argument, NULL, 'p' },
    { "chain", required_argument, NULL, 'c' },
    { "roots", required_argument, NULL, 'r' },
    { "at",    required_argument, NULL, 'a' },
    { "pin",   required_argument, NULL, 'P' },
    { "json",  no_argument,       NULL, 'j' },
    { "help",  no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  const char *chain_path = NULL, *roots_path = NULL;
  char *chain_buf = NULL, *roots_buf = NULL;
  pw_verify_req_t req;
  pw_verifier_t *v = NULL;
  pw_policy_t *pins = NULL;
  pw_pinset_t *set = NULL;
  pw_decision_t d;
  pw_err_t err;
  json_t *json;
  size_t len;
  int c, as_json = 0, ret = EXIT_USAGE;

  memset(&req, 0, sizeof(req));
  pw_decision_init(&d);
  set = calloc(1, sizeof(*set));
  if (set == NULL)
    goto done;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'H':
      req.host = optarg;
      break;
    case 'p':
      if (parse_port(optarg, &req.port) != 0) {
        fprintf(stderr, "pinwarden: --port '%s' is not 1-65535\n", optarg);
        goto done;
      }
      break;
    case 'c':
      chain_path = optarg;
      break;
    case 'r':
      roots_path = optarg;
      break;
    case 'a':
      if (pw_rfc3339_parse(optarg, &req.at, &err) != PW_OK) {
        fprintf(stderr, "pinwarden: --at: %s\n", err.msg);
        goto done;
      }
      break;
    case 'P':
      if (set->npins == PW_PINSET_MAX_PINS) {
        fprintf(stderr, "pinwarden: at most %d pins\n", PW_PINSET_MAX_PINS);
        goto done;
      }
      if (pw_pins_parse(&set->pins[set->npins], optarg, &err) != PW_OK) {
        fprintf(stderr, "pinwarden: --pin: %s\n", err.msg);
        goto done;
      }
      set->npins++;
      break;
    case 'j':
      as_json = 1;
      break;
    case 'h':
      fputs(usage_verify, stdout);
      ret = EXIT_ALLOWED;
      goto done;
    default:
      fputs(usage_verify, stderr);
      goto done;
    }
  }
  if (req.host == NULL || chain_path == NULL || optind != argc) {
    fputs(usage_verify, stderr);
    goto done;
  }

  if (pw_cli_read_file(chain_path, PW_FILE_MAX, &chain_buf,
                       &len) != 0)
    goto done;
  if (pw_pins_load_certs((unsigned char *) chain_buf, len, &req.chain,
                         &err) != PW_OK) {
    fprintf(stderr, "pinwarden: %s: %s\n", chain_path, err.msg);
    goto done;
  }

  if (roots_path != NULL) {
    if (pw_cli_read_file(roots_path, PW_FILE_MAX, &roots_buf,
                         &len) != 0)
      goto done;
    if (pw_verifier_new_roots(&v, (unsigned char *) roots_buf, len,
                              &err) != PW_OK) {
      fprintf(stderr, "pinwarden: %s: %s\n", roots_path, err.msg);
      goto done;
    }
  } else if (pw_verifier_new(&v, &err) != PW_OK) {
    fprintf(stderr, "pinwarden: %s\n", err.msg);
    goto done;
  }

  /* The pins given apply to exactly the host verified. */
  if (set->npins > 0) {
    pins = pw_policy_new();
    if (pins == NULL
        || pw_host_normalize(req.host, set->name, NULL, &err) != PW_OK
        || pw_policy_add(pins, set, &err) != PW_OK) {
      fprintf(stderr, "pinwarden: --host: %s\n", err.msg);
      goto done;
    }
    req.pins = pins;
  }

  if (pw_verify_chain(v, &req, &d, &err) != PW_OK) {
    fprintf(stderr, "pinwarden: verify: %s\n", err.msg);
    goto done;
  }
  if (d.reason == PW_REASON_BAD_INPUT) {
    fprintf(stderr, "pinwarden: %s\n", d.detail);
    goto done;
  }

  if (as_json) {
    json = pw_decision_to_json(&d);
    if (json == NULL || json_dumpf(json, stdout, JSON_INDENT(2)) != 0) {
      json_decref(json);
      goto done;
    }
    putchar('\n');
    json_decref(json);
  } else {
    print_decision(&d);
  }
  ret = d.action == PW_ACTION_BLOCK ? EXIT_BLOCKED : EXIT_ALLOWED;

done:
  pw_decision_clear(&d);
  pw_policy_free(pins);
  pw_verifier_free(v);
  sk_X509_pop_free(req.chain, X509_free);
  free(chain_buf);
  free(roots_buf);
  free(set);
  return ret;
}

static int
cmd_init(int argc, char **argv)
{
  static const struct option opts[] = {
    { "data-dir", required_argument, NULL, 'd' },
    { "help",     no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  const char *given = NULL;
  pw_store_t *store = NULL;
  char *dir = NULL;
  pw_err_t err;
  int c, ret = EXIT_USAGE;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      given = optarg;
      break;
    case 'h':
      fputs(usage_init, stdout);
      return EXIT_ALLOWED;
    default:
      fputs(usage_init, stderr);
      return EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fputs(usage_init, stderr);
    return EXIT_USAGE;
  }

  if (pw_store_data_dir(given, &dir, &err) != PW_OK
      || pw_store_open(&store, dir, &err) != PW_OK) {
    fprintf(stderr, "pinwarden: init: %s\n", err.msg);
    goto done;
  }

  printf("data folder:  %s\n", dir);
  printf("store:        %s/pinwarden.db (schema %d)\n", dir,
         pw_store_schema_version(store));
  ret = EXIT_ALLOWED;

done:
  pw_store_close(store);
  free(dir);
  return ret;
}

/* A serve option's milliseconds, 1 to max; -1 after saying why. */
static int
parse_ms(const char *name, const char *text, unsigned long max,
         uint64_t *out)
{
  unsigned long ms;
  char *end;

  errno = 0;
  ms = strtoul(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0
      || ms == 0 || ms > max) {
    fprintf(stderr, "pinwarden: --%s '%s': milliseconds, 1 to %lu\n", name,
            text, max);
    return -1;
  }
  *out = ms;
  return 0;
}

static int
cmd_serve(int argc, char **argv)
{
  static const struct option opts[] = {
    { "data-dir",            required_argument, NULL, 'd' },
    { "listen",              required_argument, NULL, 'l' },
    { "listen-insecure-any", no_argument,       NULL, 'A' },
    { "log",                 required_argument, NULL, 'L' },
    { "log-level",           required_argument, NULL, 'v' },
    { "secret-wait",         required_argument, NULL, 'w' },
    { "head-timeout",        required_argument, NULL, 'H' },
    { "idle-timeout",        required_argument, NULL, 'I' },
    { "upstream-timeout",    required_argument, NULL, 'U' },
    { "chromium",            required_argument, NULL, 'c' },
    { "ui-dir",              required_argument, NULL, 'u' },
    { "help",                no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  pw_serve_opts_t so;
  char host[64];
  uint16_t port;
  pw_err_t err;
  int c;

  memset(&so, 0, sizeof(so));
  so.log_level = PW_LOG_INFO;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      so.data_dir = optarg;
      break;
    case 'l':
      if (pw_serve_parse_listen(optarg, host, sizeof(host), &port, &err)
          != PW_OK) {
        fprintf(stderr, "pinwarden: %s\n", err.msg);
        return EXIT_USAGE;
      }
      so.listen = optarg;
      break;
    case 'A':
      so.insecure_any = 1;
      break;
    case 'L':
      so.log_path = optarg;
      break;
    case 'v':
      if (pw_log_level_parse(optarg, &so.log_level) != PW_OK) {
        fprintf(stderr, "pinwarden: --log-level '%s': debug, info, warn "
                "or error\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'w':
      if (parse_ms("secret-wait", optarg, 60000, &so.secret_wait_ms) != 0)
        return EXIT_USAGE;
      break;
    case 'H':
      if (parse_ms("head-timeout", optarg, 600000, &so.head_timeout_ms)
          != 0)
        return EXIT_USAGE;
      break;
    case 'I':
      if (parse_ms("idle-timeout", optarg, 86400000, &so.idle_timeout_ms)
          != 0)
        return EXIT_USAGE;
      break;
    case 'U':
      if (parse_ms("upstream-timeout", optarg, 600000, &so.upstream_ms)
          != 0)
        return EXIT_USAGE;
      break;
    case 'c':
      so.chromium = optarg;
      break;
    case 'u':
      so.ui_dir = optarg;
      break;
    case 'h':
      fputs(usage_serve, stdout);
      return EXIT_ALLOWED;
    default:
      fputs(usage_serve, stderr);
      return EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fputs(usage_serve, stderr);
    return EXIT_USAGE;
  }

  return pw_serve(&so);
}

int
main(int argc, char **argv)
{
  const char *cmd;

  if (argc < 2) {
    fputs(usage_main, stderr);
    return EXIT_USAGE;
  }
  cmd = argv[1];

  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0
      || strcmp(cmd, "help") == 0) {
    fputs(usage_main, stdout);
    fputs(pw_cli_usage, stdout);
    return EXIT_ALLOWED;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("pinwarden %s\n", PW_VERSION);
    return EXIT_ALLOWED;
  }

  if (strcmp(cmd, "pin") == 0)
    return cmd_pin(argc - 1, argv + 1);
  if (strcmp(cmd, "verify") == 0)
    return cmd_verify(argc - 1, argv + 1);
  if (strcmp(cmd, "init") == 0)
    return cmd_init(argc - 1, argv + 1);
  if (strcmp(cmd, "serve") == 0)
    return cmd_serve(argc - 1, argv + 1);

  /* The commands that talk to a running engine take global options. */
  if (pw_cli_handles(argc, argv))
    return pw_cli_main(argc, argv);

  fprintf(stderr, "pinwarden: unknown command '%s'\n\n%s", cmd, usage_main);
  return EXIT_USAGE;
}
