/*
 * `pinwarden profile ...`: profiles of the running engine, through the
 * profiles.* methods.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ipc/cli_int.h"
#include "launcher/launch.h"

static const char usage_profile[] =
  "usage: pinwarden profile create NAME [--tag T]... [--proxy URL]\n"
  "                                [--secure-access] [--block]\n"
  "                                [--from FILE]\n"
  "       pinwarden profile list [--tag T] [--query TEXT] [--limit N]\n"
  "       pinwarden profile show PROFILE\n"
  "       pinwarden profile update PROFILE [--name NAME] [--tag T]...\n"
  "                                [--no-tags] [--proxy URL] [--no-proxy]\n"
  "                                [--patch JSON] [--revision N]\n"
  "       pinwarden profile delete PROFILE... [--purge]\n"
  "       pinwarden profile export [PROFILE...] [--output FILE]\n"
  "       pinwarden profile import FILE|-\n"
  "       pinwarden profile start PROFILE [--headless] [--no-browser]\n"
  "       pinwarden profile open PROFILE URL [--headless]\n"
  "       pinwarden profile stop PROFILE\n"
  "       pinwarden profile status\n"
  "\n"
  "PROFILE is a profile's id or name.\n"
  "\n"
  "  create   --from FILE takes every field from a JSON object (NAME and\n"
  "           the options then override it); --secure-access turns the\n"
  "           HTTPS-only switch on, --block blocks http:// instead of\n"
  "           upgrading it\n"
  "  list     every profile, or those with tag T or a name holding TEXT\n"
  "  update   changes only what is given; --patch is a JSON object of\n"
  "           fields; the change is refused if the profile changed since\n"
  "           --revision (default: the revision read just before)\n"
  "  delete   --purge also removes its cookies, storage and cache\n"
  "  export   the profiles (default: all) as JSON, with proxy passwords;\n"
  "           --output writes a file readable only by its owner\n"
  "  import   profiles from an export (all or none)\n"
  "  start    starts the profile's gateway, then Chromium behind it, and\n"
  "           prints the DevTools URL (for Playwright's connectOverCDP);\n"
  "           --no-browser starts the gateway alone: run the client with\n"
  "           it as its proxy and SSLKEYLOGFILE=FILE (Chromium:\n"
  "           --ssl-key-log-file=FILE)\n"
  "  open     starts the profile if it does not run, and opens URL in a\n"
  "           new tab\n"
  "  stop     closes the browser, then the gateway and its connections\n"
  "  status   the profiles that run\n";

static int
profile_usage(void)
{
  fputs(usage_profile, stderr);
  return PW_CLI_EXIT_USAGE;
}

static const char *
proxy_text(const json_t *p)
{
  const json_t *proxy = json_object_get(p, "proxy");

  return json_is_string(proxy) ? json_string_value(proxy) : "direct";
}

static const char *
secure_text(const json_t *p, char *buf, size_t size)
{
  const json_t *sa = json_object_get(p, "secure_access");

  if (!json_is_true(json_object_get(sa, "enabled")))
    return "off";
  snprintf(buf, size, "on (%s)",
           json_object_get(sa, "on_http") != NULL
           ? pw_cli_str(json_object_get(sa, "on_http")) : "upgrade");
  return buf;
}

/* Tags joined with commas into a string the caller frees. */
static char *
tags_text(const json_t *p)
{
  const json_t *tag;
  size_t i, len = 1;
  char *s;

  json_array_foreach(json_object_get(p, "tags"), i, tag)
    len += strlen(pw_cli_str(tag)) + 1;
  s = calloc(1, len);
  if (s == NULL)
    return NULL;
  json_array_foreach(json_object_get(p, "tags"), i, tag) {
    if (i > 0)
      strcat(s, ",");
    strcat(s, pw_cli_str(tag));
  }
  return s;
}

static void
print_profile(const json_t *p)
{
  const json_t *sa, *exc, *set;
  char when[64], buf[64], *tags;
  size_t i;

  tags = tags_text(p);
  printf("id:            %s\n", pw_cli_str(json_object_get(p, "id")));
  printf("name:          %s\n", pw_cli_str(json_object_get(p, "name")));
  printf("tags:          %s\n", tags != NULL && tags[0] != '\0' ? tags
         : "-");
  printf("revision:      %lld\n",
         (long long) json_integer_value(json_object_get(p, "revision")));
  printf("created:       %s\n", pw_cli_time(json_object_get(p, "created"),
                                            when, sizeof(when)));
  printf("updated:       %s\n", pw_cli_time(json_object_get(p, "updated"),
                                            when, sizeof(when)));
  printf("proxy:         %s\n", proxy_text(p));
  printf("secure access: %s\n", secure_text(p, buf, sizeof(buf)));
  free(tags);

  sa = json_object_get(p, "secure_access");
  json_array_foreach(json_object_get(sa, "exceptions"), i, exc) {
    printf("  exception    %s", pw_cli_str(json_object_get(exc, "host")));
    if (pw_cli_get2(exc, "until", "expires") != NULL)
      printf(" until %s", pw_cli_time(pw_cli_get2(exc, "until", "expires"),
                                      when, sizeof(when)));
    putchar('\n');
  }

  printf("pin sets:      %zu\n",
         json_array_size(json_object_get(p, "pins")));
  json_array_foreach(json_object_get(p, "pins"), i, set)
    printf("  %s (%s, %zu pins)\n",
           pw_cli_str(json_object_get(set, "pattern")),
           json_object_get(set, "mode") != NULL
           ? pw_cli_str(json_object_get(set, "mode")) : "enforce",
           json_array_size(json_object_get(set, "pins")));
}

static void
print_list(const json_t *profiles)
{
  json_t *rows, *p;
  char rev[32], buf[64], *tags;
  size_t i;

  if (json_array_size(profiles) == 0) {
    printf("no profiles\n");
    return;
  }

  rows = json_array();
  json_array_append_new(rows, json_pack("[s,s,s,s,s,s]", "ID", "NAME",
                                        "REV", "SECURE", "PROXY", "TAGS"));
  json_array_foreach(profiles, i, p) {
    tags = tags_text(p);
    snprintf(rev, sizeof(rev), "%lld",
             (long long) json_integer_value(json_object_get(p,
                                                            "revision")));
    json_array_append_new(rows, json_pack("[s,s,s,s,s,s]",
      pw_cli_str(json_object_get(p, "id")),
      pw_cli_str(json_object_get(p, "name")), rev,
      secure_text(p, buf, sizeof(buf)), proxy_text(p),
      tags != NULL ? tags : ""));
    free(tags);
  }
  pw_cli_table_print(rows);
  json_decref(rows);
}

static int
profile_create(pw_cli_t *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "tag",           required_argument, NULL, 't' },
    { "proxy",         required_argument, NULL, 'p' },
    { "secure-access", no_argument,       NULL, 's' },
    { "block",         no_argument,       NULL, 'b' },
    { "from",          required_argument, NULL, 'f' },
    { NULL, 0, NULL, 0 }
  };
  json_t *params = NULL, *tags, *result = NULL, *sa;
  const char *from = NULL, *proxy = NULL;
  int c, secure = 0, block = 0, ret = PW_CLI_EXIT_USAGE;
  json_error_t jerr;
  size_t len;
  char *buf = NULL;

  tags = json_array();
  optind = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 't':
      json_array_append_new(tags, json_string(optarg));
      break;
    case 'p':
      proxy = optarg;
      break;
    case 's':
      secure = 1;
      break;
    case 'b':
      block = 1;
      break;
    case 'f':
      from = optarg;
      break;
    default:
      ret = profile_usage();
      goto done;
    }
  }
  if (argc - optind > 1 || (argc == optind && from == NULL)) {
    ret = profile_usage();
    goto done;
  }

  if (from != NULL) {
    if (pw_cli_read_file(from, PW_CLI_FILE_MAX, &buf, &len) != 0)
      goto done;
    params = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(params)) {
      fprintf(stderr, "pinwarden: %s: not a JSON object%s%s\n", from,
              params == NULL ? ": " : "", params == NULL ? jerr.text : "");
      goto done;
    }
  } else {
    params = json_object();
  }

  /* The options override the file. */
  if (optind < argc)
    json_object_set_new(params, "name", json_string(argv[optind]));
  if (json_array_size(tags) > 0)
    json_object_set(params, "tags", tags);
  if (proxy != NULL)
    json_object_set_new(params, "proxy", json_string(proxy));
  if (secure || block) {
    sa = json_pack("{s:b, s:s}", "enabled", 1, "on_http",
                   block ? "block" : "upgrade");
    json_object_set_new(params, "secure_access", sa);
  }

  ret = pw_cli_call(cli, "profiles.create", params, &result);
  params = NULL;
  if (ret != PW_CLI_EXIT_OK)
    goto done;
  if (cli->json)
    pw_cli_print_json(result);
  else
    printf("created %s %s\n", pw_cli_str(json_object_get(result, "name")),
           pw_cli_str(json_object_get(result, "id")));

done:
  json_decref(tags);
  json_decref(params);
  json_decref(result);
  free(buf);
  return ret;
}

static int
profile_list(pw_cli_t *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "tag",   required_argument, NULL, 't' },
    { "query", required_argument, NULL, 'q' },
    { "limit", required_argument, NULL, 'l' },
    { NULL, 0, NULL, 0 }
  };
  json_t *params, *result = NULL, *all, *next;
  long limit = 0;
  int c, ret = PW_CLI_EXIT_USAGE;

  params = json_object();
  all = json_array();
  optind = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 't':
      json_object_set_new(params, "tag", json_string(optarg));
      break;
    case 'q':
      json_object_set_new(params, "q", json_string(optarg));
      break;
    case 'l':
      if (pw_cli_parse_count("--limit", optarg, &limit) != 0)
        goto done;
      json_object_set_new(params, "limit", json_integer(limit));
      break;
    default:
      ret = profile_usage();
      goto done;
    }
  }
  if (optind != argc) {
    ret = profile_usage();
    goto done;
  }

  /* Without --limit, follow the pages to the end. */
  for (;;) {
    ret = pw_cli_call(cli, "profiles.list", json_copy(params), &result);
    if (ret != PW_CLI_EXIT_OK)
      goto done;
    json_array_extend(all, json_object_get(result, "profiles"));

    next = json_object_get(result, "next");
    if (limit > 0 || !json_is_string(next)
        || json_string_length(next) == 0)
      break;
    json_object_set(params, "cursor", next);
    json_decref(result);
    result = NULL;
  }

  if (cli->json)
    pw_cli_print_json(all);
  else
    print_list(all);

done:
  json_decref(params);
  json_decref(all);
  json_decref(result);
  return ret;
}

static int
profile_show(pw_cli_t *cli, int argc, char **argv)
{
  json_t *result = NULL;
  int ret;

  if (argc != 2)
    return profile_usage();

  ret = pw_cli_call(cli, "profiles.get", json_pack("{s:s}", "id", argv[1]),
                    &result);
  if (ret != PW_CLI_EXIT_OK)
    return ret;
  if (cli->json)
    pw_cli_print_json(result);
  else
    print_profile(result);
  json_decref(result);
  return ret;
}

static int
profile_update(pw_cli_t *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "name",     required_argument, NULL, 'n' },
    { "tag",      required_argument, NULL, 't' },
    { "no-tags",  no_argument,       NULL, 'T' },
    { "proxy",    required_argument, NULL, 'p' },
    { "no-proxy", no_argument,       NULL, 'P' },
    { "patch",    required_argument, NULL, 'j' },
    { "revision", required_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 }
  };
  json_t *patch, *tags, *given = NULL, *current = NULL, *result = NULL;
  json_int_t revision = 0;
  json_error_t jerr;
  long rev;
  int c, ret = PW_CLI_EXIT_USAGE;

  patch = json_object();
  tags = json_array();
  optind = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      json_object_set_new(patch, "name", json_string(optarg));
      break;
    case 't':
      json_array_append_new(tags, json_string(optarg));
      json_object_set(patch, "tags", tags);
      break;
    case 'T':
      json_object_set(patch, "tags", tags);
      break;
    case 'p':
      json_object_set_new(patch, "proxy", json_string(optarg));
      break;
    case 'P':
      json_object_set_new(patch, "proxy", json_null());
      break;
    case 'j':
      json_decref(given);
      given = json_loads(optarg, JSON_REJECT_DUPLICATES, &jerr);
      if (!json_is_object(given)) {
        fprintf(stderr, "pinwarden: --patch: not a JSON object%s%s\n",
                given == NULL ? ": " : "", given == NULL ? jerr.text : "");
        goto done;
      }
      break;
    case 'r':
      if (pw_cli_parse_count("--revision", optarg, &rev) != 0)
        goto done;
      revision = rev;
      break;
    default:
      ret = profile_usage();
      goto done;
    }
  }
  if (argc - optind != 1) {
    ret = profile_usage();
    goto done;
  }

  /* The options win over --patch where both name a field. */
  if (given != NULL) {
    json_object_update_missing(patch, given);
  }
  if (json_object_size(patch) == 0) {
    fprintf(stderr, "pinwarden: profile update: nothing to change\n");
    goto done;
  }

  if (revision == 0) {
    ret = pw_cli_call(cli, "profiles.get",
                      json_pack("{s:s}", "id", argv[optind]), &current);
    if (ret != PW_CLI_EXIT_OK)
      goto done;
    revision = json_integer_value(json_object_get(current, "revision"));
  }

  ret = pw_cli_call(cli, "profiles.update",
                    json_pack("{s:s, s:I, s:O}", "id", argv[optind],
                              "revision", revision, "patch", patch),
                    &result);
  if (ret != PW_CLI_EXIT_OK)
    goto done;
  if (cli->json)
    pw_cli_print_json(result);
  else
    printf("updated %s (revision %lld)\n",
           pw_cli_str(json_object_get(result, "name")),
           (long long) json_integer_value(json_object_get(result,
                                                          "revision")));

done:
  json_decref(patch);
  json_decref(tags);
  json_decref(given);
  json_decref(current);
  json_decref(result);
  return ret;
}

static int
profile_delete(pw_cli_t *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "purge", no_argument, NULL, 'p' },
    { NULL, 0, NULL, 0 }
  };
  json_t *result = NULL, *done_ids;
  int c, i, purge = 0, ret = PW_CLI_EXIT_USAGE;

  optind = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c != 'p')
      return profile_usage();
    purge = 1;
  }
  if (optind == argc)
    return profile_usage();

  /* One at a time: the first that fails stops the rest. */
  done_ids = json_array();
  for (i = optind; i < argc; i++) {
    ret = pw_cli_call(cli, "profiles.delete",
                      json_pack("{s:s, s:b}", "id", argv[i], "purge",
                                purge), &result);
    if (ret != PW_CLI_EXIT_OK)
      break;
    json_decref(result);
    result = NULL;
    json_array_append_new(done_ids, json_string(argv[i]));
    if (!cli->json)
      printf("deleted %s\n", argv[i]);
  }
  if (cli->json) {
    result = json_pack("{s:O}", "deleted", done_ids);
    pw_cli_print_json(result);
    json_decref(result);
  }

  json_decref(done_ids);
  return ret;
}

static int
write_private(const char *path, const char *text)
{
  size_t len = strlen(text);
  FILE *f;
  int fd;

  /* An export holds proxy passwords: owner only, from creation on. */
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || fchmod(fd, 0600) != 0) {
    perror(path);
    if (fd >= 0)
      close(fd);
    return -1;
  }
  f = fdopen(fd, "w");
  if (f == NULL) {
    close(fd);
    return -1;
  }
  if (fwrite(text, 1, len, f) != len || fputc('\n', f) == EOF) {
    fclose(f);
    fprintf(stderr, "pinwarden: %s: write failed\n", path);
    return -1;
  }
  return fclose(f) == 0 ? 0 : -1;
}

static int
profile_export(pw_cli_t *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "output", required_argument, NULL, 'o' },
    { NULL, 0, NULL, 0 }
  };
  json_t *params, *ids, *result = NULL;
  const char *output = NULL;
  char *text = NULL;
  int c, i, ret = PW_CLI_EXIT_USAGE;

  optind = 0;
  while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
    if (c != 'o')
      return profile_usage();
    output = optarg;
  }

  params = json_object();
  if (optind < argc) {
    ids = json_array();
    for (i = optind; i < argc; i++)
      json_array_append_new(ids, json_string(argv[i]));
    json_object_set_new(params, "ids", ids);
  }

  ret = pw_cli_call(cli, "profiles.export", params, &result);
  if (ret != PW_CLI_EXIT_OK)
    goto done;

  if (output == NULL) {
    pw_cli_print_json(result);
    goto done;
  }
  text = json_dumps(result, JSON_INDENT(2));
  if (text == NULL || write_private(output, text) != 0) {
    ret = PW_CLI_EXIT_ENGINE;
    goto done;
  }
  if (!cli->json)
    printf("exported %zu profiles to %s\n",
           json_array_size(json_object_get(result, "profiles")), output);

done:
  free(text);
  json_decref(result);
  return ret;
}

static int
profile_import(pw_cli_t *cli, int argc, char **argv)
{
  json_t *doc = NULL, *profiles, *result = NULL, *id;
  json_error_t jerr;
  char *buf = NULL;
  size_t len, i;
  int ret = PW_CLI_EXIT_USAGE;

  if (argc != 2)
    return profile_usage();
  if (pw_cli_read_file(argv[1], PW_CLI_FILE_MAX, &buf,
                       &len) != 0)
    goto done;

  /* An export's document, or a bare array of profiles. */
  doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  profiles = json_is_array(doc) ? doc : json_object_get(doc, "profiles");
  if (!json_is_array(profiles)) {
    fprintf(stderr, "pinwarden: %s: not an export (an object with "
            "\"profiles\", or an array)%s%s\n", argv[1],
            doc == NULL ? ": " : "", doc == NULL ? jerr.text : "");
    goto done;
  }

  ret = pw_cli_call(cli, "profiles.import",
                    json_pack("{s:O}", "profiles", profiles), &result);
  if (ret != PW_CLI_EXIT_OK)
    goto done;
  if (cli->json) {
    pw_cli_print_json(result);
    goto done;
  }
  printf("imported %zu profiles\n",
         json_array_size(json_object_get(result, "ids")));
  json_array_foreach(json_object_get(result, "ids"), i, id)
    printf("  %s\n", pw_cli_str(id));

done:
  json_decref(doc);
  json_decref(result);
  free(buf);
  return ret;
}

/*
 * A browser may take the launcher's whole readiness bound to answer, so
 * a start waits a little longer than that unless --timeout said how
 * long; the common 30 s would give up on a start still under way.
 */
#define START_TIMEOUT_MS (PW_LAUNCH_READY_MS + 15000)

/* Starts a profile (or finds it running); *result holds the answer. */
static int
start(pw_cli_t *cli, const char *ref, bool browser, bool headless,
      json_t **result)
{
  if (cli->timeout_ms == 0) {
    cli->timeout_ms = START_TIMEOUT_MS;
    if (cli->client != NULL)
      pw_client_set_timeout(cli->client, cli->timeout_ms);
  }
  return pw_cli_call(cli, "profiles.start",
                     json_pack("{s:s, s:b, s:b}", "id", ref, "browser",
                               browser, "headless", headless),
                     result);
}

static int
profile_start(pw_cli_t *cli, int argc, char **argv)
{
  bool browser = true, headless = false;
  json_t *result = NULL, *v;
  int i, ret;

  if (argc < 2)
    return profile_usage();
  for (i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--no-browser") == 0)
      browser = false;
    else if (strcmp(argv[i], "--headless") == 0)
      headless = true;
    else
      return profile_usage();
  }

  ret = start(cli, argv[1], browser, headless, &result);
  if (ret != PW_CLI_EXIT_OK)
    return ret;
  if (cli->json) {
    pw_cli_print_json(result);
  } else {
    printf("gateway   %s\n", pw_cli_str(json_object_get(result,
                                                        "gateway")));
    printf("keylog    %s\n", pw_cli_str(json_object_get(result,
                                                        "keylog")));
    if ((v = json_object_get(result, "devtools")) != NULL)
      printf("devtools  %s\n", pw_cli_str(v));
    if ((v = json_object_get(result, "pid")) != NULL)
      printf("pid       %lld\n", (long long) json_integer_value(v));
  }
  json_decref(result);
  return ret;
}

/* Collects an HTTP body up to a cap. */
static size_t
body_write(char *p, size_t size, size_t n, void *data)
{
  char *buf = data;
  size_t have = strlen(buf), take = size * n;

  if (have + take >= 4096)
    take = 4095 - have;
  memcpy(buf + have, p, take);
  buf[have + take] = '\0';
  return size * n;
}

/*
 * Opens url in a new tab through the browser's DevTools HTTP endpoint
 * (PUT /json/new?URL; Chromium refuses GET there), on the port of the
 * DevTools WebSocket URL the engine gave.
 */
static int
open_tab(const char *devtools, const char *url)
{
  char endpoint[PW_LAUNCH_DEVTOOLS_MAX + 8192], body[4096] = "";
  unsigned port = 0;
  long status = 0;
  char *escaped = NULL;
  CURLcode rc = CURLE_FAILED_INIT;
  CURL *e;

  if (sscanf(devtools, "ws://127.0.0.1:%u/", &port) != 1 || port == 0
      || port > 65535) {
    fprintf(stderr, "pinwarden: the engine gave no DevTools port: %s\n",
            devtools);
    return PW_CLI_EXIT_ENGINE;
  }
  e = curl_easy_init();
  if (e != NULL)
    escaped = curl_easy_escape(e, url, 0);
  if (escaped != NULL
      && (size_t) snprintf(endpoint, sizeof(endpoint),
                           "http://127.0.0.1:%u/json/new?%s", port,
                           escaped) < sizeof(endpoint)) {
    curl_easy_setopt(e, CURLOPT_URL, endpoint);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
    rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  }
  curl_free(escaped);
  curl_easy_cleanup(e);

  if (rc != CURLE_OK || status != 200) {
    fprintf(stderr, "pinwarden: the browser did not open a tab: %s\n",
            rc != CURLE_OK ? curl_easy_strerror(rc) : body);
    return PW_CLI_EXIT_ENGINE;
  }
  printf("opened %s\n", url);
  return PW_CLI_EXIT_OK;
}

static int
profile_open(pw_cli_t *cli, int argc, char **argv)
{
  const char *devtools;
  json_t *result = NULL;
  bool headless = false;
  int ret;

  if (argc == 4 && strcmp(argv[3], "--headless") == 0)
    headless = true;
  else if (argc != 3)
    return profile_usage();

  ret = start(cli, argv[1], true, headless, &result);
  if (ret != PW_CLI_EXIT_OK)
    return ret;
  devtools = json_string_value(json_object_get(result, "devtools"));
  if (devtools == NULL) {
    fprintf(stderr, "pinwarden: profile %s runs without a browser: stop "
            "it and open again\n", argv[1]);
    ret = PW_CLI_EXIT_ENGINE;
  } else {
    ret = open_tab(devtools, argv[2]);
  }
  json_decref(result);
  return ret;
}

static int
profile_stop(pw_cli_t *cli, int argc, char **argv)
{
  json_t *result = NULL;
  int ret;

  if (argc != 2)
    return profile_usage();
  ret = pw_cli_call(cli, "profiles.stop", json_pack("{s:s}", "id", argv[1]),
                    &result);
  json_decref(result);
  return ret;
}

static int
profile_status(pw_cli_t *cli, int argc, char **argv)
{
  json_t *result = NULL, *list, *p;
  size_t i;
  int ret;

  if (argc != 1)
    return profile_usage();
  ret = pw_cli_call(cli, "profiles.status", json_object(), &result);
  if (ret != PW_CLI_EXIT_OK)
    return ret;
  list = json_object_get(result, "running");
  if (cli->json) {
    pw_cli_print_json(list);
  } else {
    printf("%-24s %-21s %8s %6s\n", "NAME", "GATEWAY", "UPTIME", "CONNS");
    json_array_foreach(list, i, p)
      printf("%-24s %-21s %7llds %6lld\n",
             pw_cli_str(json_object_get(p, "name")),
             pw_cli_str(json_object_get(p, "gateway")),
             (long long) json_integer_value(json_object_get(p,
                                                            "uptime_s")),
             (long long) json_integer_value(json_object_get(p,
                                                          "connections")));
  }
  json_decref(result);
  return ret;
}

int
pw_cli_profile(pw_cli_t *cli, int argc, char **argv)
{
  static const struct {
    const char *name;
    int (*fn)(pw_cli_t *cli, int argc, char **argv);
  } subs[] = {
    { "create", profile_create },
    { "list",   profile_list },
    { "show",   profile_show },
    { "get",    profile_show },
    { "update", profile_update },
    { "delete", profile_delete },
    { "export", profile_export },
    { "import", profile_import },
    { "start",  profile_start },
    { "open",   profile_open },
    { "stop",   profile_stop },
    { "status", profile_status },
  };
  size_t i;
  int j;

  for (j = 1; j < argc; j++)
    if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
      fputs(usage_profile, stdout);
      return PW_CLI_EXIT_OK;
    }
  if (argc < 2)
    return profile_usage();

  for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
    if (strcmp(argv[1], subs[i].name) == 0)
      return subs[i].fn(cli, argc - 1, argv + 1);

  fprintf(stderr, "pinwarden: profile: unknown command '%s'\n", argv[1]);
  return profile_usage();
}
