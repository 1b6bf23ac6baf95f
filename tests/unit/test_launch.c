/*
 * The browser launcher: its command line (switches present and absent,
 * extra arguments last, the switches an extra argument may not set),
 * the two files it reads from Chromium (DevToolsActivePort, Preferences),
 * the preparation of a profile folder with certutil, the lifecycle with
 * stand-in browsers (shell scripts that exit, hang, ignore SIGTERM or
 * write DevToolsActivePort), and the real Chromium behind a stand-in
 * gateway that records the request lines it gets.
 *
 * Every test that starts something forks a reaper first: when the test
 * process ends, however it ends, the reaper kills whatever still runs
 * with the test's folder on its command line.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <uv.h>

#include "cases.h"
#include "certgen.h"
#include "launcher/launch.h"

#define GW "127.0.0.1:18080"
#define REAL_CHROMIUM "/usr/bin/chromium"

/* Argv */

typedef struct argv_case {
  const char *name;
  const char *chromium;
  bool        headless, no_sandbox;
  const char *lang, *ua, *ext;
  int         width, height;
  const char *args[4];
  const char *present[6];    /* exact elements */
  const char *absent[6];     /* no element starts with these */
} argv_case_t;

/* Every command line has these, whatever the options. */
static const char *const ALWAYS[] = {
  "--user-data-dir=/p/browser",
  "--proxy-server=http://" GW,
  "--proxy-bypass-list=<-loopback>",
  "--ssl-key-log-file=/run/k.keylog",
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
  "--webrtc-ip-handling-policy=disable_non_proxied_udp",
  "--remote-debugging-port=0",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-sync",
  "--disable-component-update",
  "--password-store=basic",
};

static const argv_case_t ARGV_CASES[] = {
  /* Nothing optional: none of the optional switches. */
  { .name = "bare",
    .absent = { "--headless", "--no-sandbox", "--lang=", "--user-agent=",
                "--window-size=", "--load-extension=" } },
  /* Headless and without the sandbox (running as root). */
  { .name = "headless", .headless = true, .no_sandbox = true,
    .present = { "--headless=new", "--no-sandbox" } },
  /* The language sets the UI and Accept-Language alike. */
  { .name = "lang", .lang = "de-DE",
    .present = { "--lang=de-DE", "--accept-lang=de-DE" },
    .absent = { "--headless" } },
  /* A user agent with spaces stays one element. */
  { .name = "ua", .ua = "Mozilla/5.0 (X11; Linux) Test/1",
    .present = { "--user-agent=Mozilla/5.0 (X11; Linux) Test/1" } },
  { .name = "window", .width = 1280, .height = 800,
    .present = { "--window-size=1280,800" } },
  /* Half a window size is none. */
  { .name = "half-window", .width = 1280,
    .absent = { "--window-size=" } },
  { .name = "extension", .ext = "/opt/ext",
    .present = { "--load-extension=/opt/ext",
                 "--disable-extensions-except=/opt/ext" } },
  /* Another Chromium: argv[0] (checked in the test). */
  { .name = "chromium", .chromium = "/opt/chromium/chrome" },
  /* Extra arguments come last, in their order (checked in the test). */
  { .name = "extra", .lang = "fr",
    .args = { "--force-dark-mode", "--enable-logging=stderr",
              "https://example.com/" } },
};

ParameterizedTestParameters(launch, argv)
{
  return case_indices(NCASES(ARGV_CASES));
}

ParameterizedTest(size_t *i, launch, argv)
{
  const argv_case_t *c = &ARGV_CASES[*i];
  pw_browser_t b = { 0 };
  pw_launch_opts_t o = {
    .chromium = c->chromium, .profile_dir = "/p", .gateway = GW,
    .keylog = "/run/k.keylog", .headless = c->headless,
    .no_sandbox = c->no_sandbox, .browser = &b, .extension = c->ext,
  };
  pw_err_t err = { 0 };
  char **argv = NULL;
  size_t n, j, k, nargs = 0;
  bool found;

  b.language = (char *) c->lang;
  b.user_agent = (char *) c->ua;
  b.width = c->width;
  b.height = c->height;
  while (nargs < 4 && c->args[nargs] != NULL)
    nargs++;
  b.nargs = nargs;
  b.args = (char **) c->args;

  cr_assert_eq(pw_launch_argv(&o, &argv, &err), PW_OK, "%s: %s", c->name,
               err.msg);
  for (n = 0; argv[n] != NULL; n++)
    ;

  cr_expect_str_eq(argv[0], c->chromium != NULL ? c->chromium
                   : PW_LAUNCH_CHROMIUM, "%s: argv[0]", c->name);

  for (j = 0; j < NCASES(ALWAYS) + 6; j++) {
    const char *want = j < NCASES(ALWAYS) ? ALWAYS[j]
                       : c->present[j - NCASES(ALWAYS)];

    if (want == NULL)
      continue;
    for (k = 1, found = false; k < n && !found; k++)
      found = strcmp(argv[k], want) == 0;
    cr_expect(found, "%s: %s missing", c->name, want);
  }

  for (j = 0; j < 6 && c->absent[j] != NULL; j++) {
    for (k = 1; k < n; k++)
      cr_expect(strncmp(argv[k], c->absent[j], strlen(c->absent[j])) != 0,
                "%s: %s present", c->name, argv[k]);
  }

  for (j = 0; j < nargs; j++)
    cr_expect_str_eq(argv[n - nargs + j], c->args[j], "%s: extra %zu",
                     c->name, j);

  pw_launch_argv_free(argv);
}

/* Refused options */

typedef struct refuse_case {
  const char *arg;         /* one extra argument, or NULL */
  const char *gateway;     /* NULL: GW */
  const char *ext;
  int         rc;
  const char *says;        /* in the message, when refused */
  const char *dir;         /* the profile's folder; NULL: "/p" */
  const char *src;         /* the engine's extension, or NULL */
} refuse_case_t;

#define OWN(s) \
  { "--" s, NULL, NULL, PW_EINVAL, s, NULL, NULL }, \
  { "--" s "=v", NULL, NULL, PW_EINVAL, s, NULL, NULL }

static const refuse_case_t REFUSE_CASES[] = {
  /* Each switch the launcher sets, bare and with a value. */
  OWN("user-data-dir"), OWN("proxy-server"), OWN("proxy-bypass-list"),
  OWN("ssl-key-log-file"), OWN("host-resolver-rules"),
  OWN("webrtc-ip-handling-policy"), OWN("force-webrtc-ip-handling-policy"),
  OWN("remote-debugging-port"), OWN("remote-debugging-address"),
  OWN("no-first-run"), OWN("no-default-browser-check"),
  OWN("disable-background-networking"), OWN("disable-sync"),
  OWN("disable-component-update"), OWN("password-store"),
  OWN("use-mock-keychain"), OWN("headless"), OWN("no-sandbox"),
  OWN("lang"), OWN("accept-lang"), OWN("user-agent"), OWN("window-size"),
  OWN("load-extension"), OWN("disable-extensions-except"),
  /* Switches that would undo the proxy or the certificate checks. */
  OWN("no-proxy-server"), OWN("proxy-pac-url"), OWN("proxy-auto-detect"),
  OWN("remote-debugging-pipe"), OWN("ignore-certificate-errors"),
  OWN("ignore-certificate-errors-spki-list"),
  /* Names mapped past the gateway's upstream. */
  OWN("host-rules"),
  /* Every proxy and DevTools switch, also ones Chromium adds later. */
  OWN("proxy-server-x"), OWN("proxy-"), OWN("remote-debugging-socket-name"),
  OWN("remote-debugging-targets"),
  /* Files written outside the profile's folder. */
  OWN("disk-cache-dir"), OWN("log-net-log"), OWN("crash-dumps-dir"),
  /* Chromium reads one dash as two. */
  { "-proxy-server=http://evil:1", NULL, NULL, PW_EINVAL, "proxy-server",
    NULL, NULL },
  { "-host-rules=MAP * 1.2.3.4", NULL, NULL, PW_EINVAL, "host-rules",
    NULL, NULL },
  /* Names are case-sensitive, and a longer name is another switch. */
  { "--Proxy-Server=x", NULL, NULL, PW_OK, NULL, NULL, NULL },
  { "--host-rules-x", NULL, NULL, PW_OK, NULL, NULL, NULL },
  { "--user-data-dir-x", NULL, NULL, PW_OK, NULL, NULL, NULL },
  { "--force-dark-mode", NULL, NULL, PW_OK, NULL, NULL, NULL },
  /* A prefix needs all of itself: "proxy" alone is not "proxy-*". */
  { "--proxy", NULL, NULL, PW_OK, NULL, NULL, NULL },
  { "--remote-debugging", NULL, NULL, PW_OK, NULL, NULL, NULL },
  /* A plain argument is a URL to open. */
  { "https://example.com/", NULL, NULL, PW_OK, NULL, NULL, NULL },
  /* The gateway must be host:port. */
  { NULL, "", NULL, PW_EINVAL, "gateway", NULL, NULL },
  { NULL, "127.0.0.1", NULL, PW_EINVAL, "gateway", NULL, NULL },
  { NULL, "127.0.0.1:", NULL, PW_EINVAL, "gateway", NULL, NULL },
  { NULL, ":80", NULL, PW_EINVAL, "gateway", NULL, NULL },
  { NULL, "127.0.0.1:80,direct://", NULL, PW_EINVAL, "gateway", NULL, NULL },
  { NULL, "a b:80", NULL, PW_EINVAL, "gateway", NULL, NULL },
  { NULL, "[::1]:8080", NULL, PW_OK, NULL, NULL, NULL },
  /* An extension folder with a comma would be two. */
  { NULL, NULL, "/opt/a,/opt/b", PW_EINVAL, "comma", NULL, NULL },
  /* So would the engine's, copied into a profile folder with one. */
  { .dir = "/data,x/profiles/p1", .src = "/ext", .rc = PW_EINVAL,
    .says = "comma" },
  /* Without the engine's extension that folder's comma is harmless. */
  { .dir = "/data,x/profiles/p1", .rc = PW_OK },
  /* And with it, a folder without one is fine. */
  { .src = "/ext", .rc = PW_OK },
};

ParameterizedTestParameters(launch, refused)
{
  return case_indices(NCASES(REFUSE_CASES));
}

ParameterizedTest(size_t *i, launch, refused)
{
  const refuse_case_t *c = &REFUSE_CASES[*i];
  char *args[1] = { (char *) c->arg };
  pw_browser_t b = { .nargs = c->arg != NULL, .args = args };
  pw_launch_opts_t o = {
    .profile_dir = c->dir != NULL ? c->dir : "/p",
    .gateway = c->gateway != NULL ? c->gateway : GW,
    .keylog = "/run/k.keylog", .browser = &b, .extension = c->ext,
    .extension_src = c->src,
  };
  pw_err_t err = { 0 };
  char **argv = NULL;
  int rc;

  rc = pw_launch_argv(&o, &argv, &err);
  cr_assert_eq(rc, c->rc, "%s %s %s: %s, want %s (%s)",
               c->arg != NULL ? c->arg : "", o.gateway, o.profile_dir,
               pw_err_name(rc), pw_err_name(c->rc), err.msg);
  if (rc == PW_OK)
    cr_expect_not_null(argv);
  else
    cr_expect_null(argv);
  if (c->says != NULL)
    cr_expect_not_null(strstr(err.msg, c->says), "\"%s\" lacks \"%s\"",
                       err.msg, c->says);
  pw_launch_argv_free(argv);
}

Test(launch, required_options)
{
  pw_launch_opts_t o = { .gateway = GW, .keylog = "/k" };
  pw_err_t err = { 0 };
  char **argv;

  cr_expect_eq(pw_launch_argv(&o, &argv, &err), PW_EINVAL);
  o.profile_dir = "/p";
  o.keylog = NULL;
  cr_expect_eq(pw_launch_argv(&o, &argv, &err), PW_EINVAL);
  o.keylog = "/k";
  o.gateway = NULL;
  cr_expect_eq(pw_launch_argv(&o, &argv, &err), PW_EINVAL);
}

/* DevToolsActivePort */

#define ID "0c5e3b8e-4f6a-4b8e-9a51-3f1d2c7b9e10"

typedef struct port_case {
  const char *in;
  int         rc;
  const char *url;
} port_case_t;

static const port_case_t PORT_CASES[] = {
  /* What Chromium 156 writes: no newline at the end. */
  { "41234\n/devtools/browser/" ID, PW_OK,
    "ws://127.0.0.1:41234/devtools/browser/" ID },
  /* With one. */
  { "1\n/devtools/browser/x\n", PW_OK, "ws://127.0.0.1:1/devtools/browser/x" },
  { "65535\n/devtools/browser/A-z", PW_OK,
    "ws://127.0.0.1:65535/devtools/browser/A-z" },
  /* Half written: no path yet, or part of its prefix. */
  { "", PW_EINVAL, NULL },
  { "41234", PW_EINVAL, NULL },
  { "41234\n", PW_EINVAL, NULL },
  { "41234\n/devtools/bro", PW_EINVAL, NULL },
  { "41234\n/devtools/browser/", PW_EINVAL, NULL },
  /* Bad ports. */
  { "0\n/devtools/browser/x", PW_EINVAL, NULL },
  { "65536\n/devtools/browser/x", PW_EINVAL, NULL },
  { "080\n/devtools/browser/x", PW_EINVAL, NULL },
  { "123456\n/devtools/browser/x", PW_EINVAL, NULL },
  { "-1\n/devtools/browser/x", PW_EINVAL, NULL },
  { " 80\n/devtools/browser/x", PW_EINVAL, NULL },
  { "\n/devtools/browser/x", PW_EINVAL, NULL },
  /* Bad paths: another kind, characters a URL would need escaped. */
  { "80\n/devtools/page/x", PW_EINVAL, NULL },
  { "80\n/devtools/browser/x y", PW_EINVAL, NULL },
  { "80\n/devtools/browser/x/../y", PW_EINVAL, NULL },
  { "80\n/devtools/browser/x\n\n", PW_EINVAL, NULL },
  { "80\r\n/devtools/browser/x", PW_EINVAL, NULL },
  { "80\n/devtools/browser/x?y", PW_EINVAL, NULL },
};

ParameterizedTestParameters(launch, port_file)
{
  return case_indices(NCASES(PORT_CASES));
}

ParameterizedTest(size_t *i, launch, port_file)
{
  const port_case_t *c = &PORT_CASES[*i];
  char url[PW_LAUNCH_DEVTOOLS_MAX];
  pw_err_t err = { 0 };
  int rc;

  rc = pw_launch_port_parse(c->in, strlen(c->in), url, &err);
  cr_assert_eq(rc, c->rc, "\"%s\": %s, want %s (%s)", c->in,
               pw_err_name(rc), pw_err_name(c->rc), err.msg);
  cr_expect_str_eq(url, c->url != NULL ? c->url : "", "\"%s\"", c->in);
}

Test(launch, port_file_caps)
{
  char big[PW_LAUNCH_PORT_FILE_MAX + 2], url[PW_LAUNCH_DEVTOOLS_MAX];
  size_t n;

  /* Over the read cap. */
  memset(big, 'a', sizeof(big));
  memcpy(big, "80\n/devtools/browser/", 21);
  cr_expect_eq(pw_launch_port_parse(big, sizeof(big), url, NULL),
               PW_ETOOBIG);

  /* Under it, but the URL would not fit. */
  n = PW_LAUNCH_DEVTOOLS_MAX;
  cr_expect_eq(pw_launch_port_parse(big, n, url, NULL), PW_ETOOBIG);
  cr_expect_str_eq(url, "");
}

/* Preferences */

typedef struct prefs_case {
  const char *in;          /* NULL: no file yet */
  bool        https_only;
  const char *kept;        /* a key of the input that must stay */
} prefs_case_t;

static const prefs_case_t PREFS_CASES[] = {
  { NULL, true, NULL },
  { "", false, NULL },
  /* Chromium's own keys stay, webrtc's other keys too. */
  { "{\"a\":{\"b\":1},\"webrtc\":{\"multiple_routes_enabled\":false}}",
    true, "a" },
  { "{\"https_only_mode_enabled\":true}", false, NULL },
  /* Not an object, not JSON, webrtc not an object: replaced. */
  { "[1,2]", true, NULL },
  { "{\"a\":", true, NULL },
  { "{\"webrtc\":5}", true, NULL },
  { "{\"a\":1,\"a\":2}", true, NULL },
};

ParameterizedTestParameters(launch, prefs)
{
  return case_indices(NCASES(PREFS_CASES));
}

ParameterizedTest(size_t *i, launch, prefs)
{
  const prefs_case_t *c = &PREFS_CASES[*i];
  json_t *doc, *webrtc;
  pw_err_t err = { 0 };
  char *out = NULL;

  cr_assert_eq(pw_launch_prefs_merge(c->in, c->in != NULL ? strlen(c->in)
                                     : 0, c->https_only, &out, &err),
               PW_OK, "%s", err.msg);
  doc = json_loads(out, 0, NULL);
  cr_assert(json_is_object(doc), "%s", out);

  cr_expect(json_is_boolean(json_object_get(doc, "https_only_mode_enabled")),
            "%s", out);
  cr_expect_eq(json_is_true(json_object_get(doc, "https_only_mode_enabled")),
               c->https_only, "%s", out);
  webrtc = json_object_get(doc, "webrtc");
  cr_expect_str_eq(json_string_value(json_object_get(webrtc,
                   "ip_handling_policy")), "disable_non_proxied_udp");
  if (c->kept != NULL) {
    cr_expect_not_null(json_object_get(doc, c->kept), "%s", out);
    cr_expect_not_null(json_object_get(webrtc, "multiple_routes_enabled"));
  }

  json_decref(doc);
  free(out);
}

Test(launch, prefs_cap)
{
  char *out = NULL;

  cr_expect_eq(pw_launch_prefs_merge("{}", PW_LAUNCH_PREFS_MAX + 1, true,
                                     &out, NULL), PW_ETOOBIG);
  cr_expect_null(out);
}

/* Folders, the reaper */

static char dir[PATH_MAX / 2];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  remove(path);
  return 0;
}

/* Kills what still runs with dir on its command line. */
static void
reap(void)
{
  char path[64], buf[8192];
  struct dirent *e;
  ssize_t n, j;
  DIR *d;
  int fd;

  d = opendir("/proc");
  if (d == NULL)
    return;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9'
        || atoi(e->d_name) == getpid())
      continue;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", atoi(e->d_name));
    fd = open(path, O_RDONLY);
    if (fd < 0)
      continue;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
      continue;
    for (j = 0; j < n; j++)
      if (buf[j] == '\0')
        buf[j] = ' ';
    buf[n] = '\0';
    if (strstr(buf, dir) != NULL)
      kill(atoi(e->d_name), SIGKILL);
  }
  closedir(d);
}

/*
 * A fresh folder, and a reaper: a child that waits for the end of a
 * pipe only this process holds open, then kills what is left.
 */
static void
setup(const char *name)
{
  const char *base = getenv("PW_TEST_TMP");
  int fds[2];
  char c;
  pid_t pid;

  snprintf(dir, sizeof(dir), "%s/launch-%s-XXXXXX",
           base != NULL ? base : "/tmp", name);
  cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);

  cr_assert_eq(pipe(fds), 0);
  pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    close(fds[1]);
    while (read(fds[0], &c, 1) != 0)
      ;
    reap();
    _exit(0);
  }
  close(fds[0]);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
}

static void
teardown(void)
{
  if (dir[0] == '\0')
    return;
  reap();
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
path_in(const char *name)
{
  static char p[4][PATH_MAX];
  int n;

  static int k;

  k = (k + 1) % 4;
  n = snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
  cr_assert_lt(n, (int) sizeof(p[k]));
  return p[k];
}

static char *
slurp(const char *path)
{
  FILE *f = fopen(path, "r");
  char *buf = calloc(1, 1 << 20);
  size_t n;

  cr_assert_not_null(f, "open %s", path);
  n = fread(buf, 1, (1 << 20) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* The PEM of a test root and intermediate, two certificates. */
static char *
two_roots(void)
{
  certgen_pki_t pki;
  BIO *bio = BIO_new(BIO_s_mem());
  char *mem, *pem;
  long n;

  cr_assert_eq(certgen_pki(&pki), 0);
  PEM_write_bio_X509(bio, pki.root);
  PEM_write_bio_X509(bio, pki.inter);
  n = BIO_get_mem_data(bio, &mem);
  pem = strndup(mem, (size_t) n);
  BIO_free(bio);
  certgen_pki_free(&pki);
  return pem;
}

/* What `certutil -L` lists in the profile's database. */
static char *
certutil_list(void)
{
  char cmd[PATH_MAX * 2], *out;
  FILE *p;

  snprintf(cmd, sizeof(cmd), "certutil -L -d sql:%s/home/.pki/nssdb 2>&1",
           dir);
  p = popen(cmd, "r");
  cr_assert_not_null(p);
  out = calloc(1, 65536);
  fread(out, 1, 65535, p);
  pclose(p);
  return out;
}

Test(launch, prepare_roots_then_none, .timeout = 60)
{
  pw_err_t err = { 0 };
  struct stat st;
  char *roots = two_roots(), *list, *prefs;

  setup("prep");

  cr_assert_eq(pw_launch_prepare(dir, true, roots, &err), PW_OK, "%s",
               err.msg);
  list = certutil_list();
  cr_expect_not_null(strstr(list, "pinwarden-root-1"), "%s", list);
  cr_expect_not_null(strstr(list, "pinwarden-root-2"), "%s", list);
  cr_expect_null(strstr(list, "pinwarden-root-3"), "%s", list);
  free(list);

  cr_expect_eq(stat(path_in("home"), &st), 0);
  cr_expect_eq(st.st_mode & 0777, 0700, "home mode %o", st.st_mode & 0777);
  cr_expect_eq(stat(path_in("browser/Default/Preferences"), &st), 0);
  cr_expect_eq(st.st_mode & 0777, 0600, "prefs mode %o", st.st_mode & 0777);
  cr_expect_neq(stat(path_in("root.pem"), &st), 0, "temp PEM left");

  /* A second start without roots takes them away, and the pref. */
  cr_assert_eq(pw_launch_prepare(dir, false, NULL, &err), PW_OK, "%s",
               err.msg);
  list = certutil_list();
  cr_expect_null(strstr(list, "pinwarden-root"), "%s", list);
  free(list);
  prefs = slurp(path_in("browser/Default/Preferences"));
  cr_expect_not_null(strstr(prefs, "\"https_only_mode_enabled\":false"),
                     "%s", prefs);
  free(prefs);

  /* A certificate without its end is refused. */
  cr_expect_eq(pw_launch_prepare(dir, false, "-----BEGIN CERTIFICATE-----\n"
                                 "AAAA\n", &err), PW_EINVAL);

  free(roots);
  teardown();
}

/* The loop side */

typedef struct run {
  uv_loop_t    loop;
  pw_launch_t *l;
  int          ready_calls, exit_calls;
  int          ready_status;
  char         devtools[PW_LAUNCH_DEVTOOLS_MAX];
  char         message[PW_ERR_MAX * 4];
  int64_t      status;
  int          signal;
  bool         asked;
  bool         stop_at_ready;   /* stop as soon as ready */
  bool         kill_at_ready;   /* SIGKILL from outside at ready */
  bool         stay;            /* leave the loop at ready */
  uint64_t     grace_ms;
  uint64_t     stopped_at, exited_at;
  int          pid;
} run_t;

static uint64_t
now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void
on_ready(void *data, int status, const char *devtools, const char *message)
{
  run_t *r = data;

  r->ready_calls++;
  cr_expect_eq(r->exit_calls, 0, "ready after exit");
  r->ready_status = status;
  snprintf(r->devtools, sizeof(r->devtools), "%s",
           devtools != NULL ? devtools : "");
  snprintf(r->message, sizeof(r->message), "%s",
           message != NULL ? message : "");
  r->pid = pw_launch_pid(r->l);

  if (status == PW_OK && r->stop_at_ready) {
    r->stopped_at = now_ms();
    pw_launch_stop(r->l, r->grace_ms);
  }
  if (status == PW_OK && r->kill_at_ready)
    kill(r->pid, SIGKILL);
  if (status == PW_OK && r->stay)
    uv_stop(&r->loop);
}

/* The owner frees from inside the exit callback, as the contract lets. */
static void
on_exit_cb(void *data, int64_t status, int sig, bool asked)
{
  run_t *r = data;

  r->exit_calls++;
  r->status = status;
  r->signal = sig;
  r->asked = asked;
  r->exited_at = now_ms();
  pw_launch_free(r->l);
}

static void
run_start(run_t *r, const pw_launch_opts_t *o)
{
  pw_err_t err = { 0 };

  cr_assert_eq(uv_loop_init(&r->loop), 0);
  cr_assert_eq(pw_launch_start(&r->l, &r->loop, o, on_ready, on_exit_cb, r,
                               &err), PW_OK, "%s", err.msg);
  cr_assert_not_null(r->l);
}

static void
run_finish(run_t *r)
{
  uv_run(&r->loop, UV_RUN_DEFAULT);
  cr_expect_eq(uv_loop_close(&r->loop), 0, "handles left on the loop");
  cr_expect_eq(r->ready_calls, 1);
  cr_expect_eq(r->exit_calls, 1);
}

/* Stand-in browsers */

typedef struct fake_case {
  const char *name;
  const char *script;      /* after "#!/bin/sh\n" */
  uint64_t    ready_ms;
  bool        stop_at_start, stop_at_ready, free_at_ready;
  uint64_t    grace_ms;
  int         ready_status;
  const char *says;        /* in the ready message */
  int64_t     status;
  int         signal;
  bool        asked;
  const char *logged;      /* in browser.log */
} fake_case_t;

/* Writes DevToolsActivePort where --user-data-dir says, then waits. */
#define WRITES_PORT \
  "for a; do case $a in --user-data-dir=*) d=${a#*=};; esac; done\n" \
  "printf '4242\\n/devtools/browser/fake' > \"$d/DevToolsActivePort\"\n"

static const fake_case_t FAKE_CASES[] = {
  /* Exits at once: the status and the log say so. */
  { "exits", "echo fake-browser-says-bye\nexit 3\n", 0, false, false, false,
    0, PW_EIO, "exited with status 3 before DevTools answered", 3, 0,
    false, "fake-browser-says-bye" },
  /* Never answers: killed at the deadline, asked stays false. */
  { "hangs", "exec sleep 60\n", 400, false, false, false, 0, PW_EIO,
    "timed out", -1, SIGKILL, false, NULL },
  /* Answers, then stops on SIGTERM. */
  { "answers", WRITES_PORT "trap 'exit 0' TERM\n"
    "while :; do sleep 0.05; done\n", 0, false, true, false, 5000, PW_OK,
    NULL, 0, 0, true, NULL },
  /* Ignores SIGTERM: killed after the grace. */
  { "stubborn", WRITES_PORT "trap '' TERM\nwhile :; do sleep 0.05; done\n",
    0, false, true, false, 300, PW_OK, NULL, -1, SIGKILL, true, NULL },
  /* Stopped while the folder is prepared: never spawned. */
  { "stopped-early", "exit 0\n", 0, true, false, false, 0, PW_EIO,
    "stopped before it started", -1, 0, true, NULL },
};

ParameterizedTestParameters(launch, fake)
{
  return case_indices(NCASES(FAKE_CASES));
}

ParameterizedTest(size_t *i, launch, fake, .timeout = 30)
{
  const fake_case_t *c = &FAKE_CASES[*i];
  pw_launch_opts_t o = { .gateway = GW, .keylog = "/dev/null" };
  run_t r = { 0 };
  char *log;
  FILE *f;

  setup(c->name);
  f = fopen(path_in("fake.sh"), "w");
  cr_assert_not_null(f);
  fprintf(f, "#!/bin/sh\n%s", c->script);
  fclose(f);
  chmod(path_in("fake.sh"), 0700);

  o.chromium = path_in("fake.sh");
  o.profile_dir = dir;
  o.ready_ms = c->ready_ms;
  r.stop_at_ready = c->stop_at_ready;
  r.grace_ms = c->grace_ms;

  run_start(&r, &o);
  if (c->stop_at_start)
    pw_launch_stop(r.l, 0);
  run_finish(&r);

  cr_expect_eq(r.ready_status, c->ready_status, "%s: ready %s (%s)",
               c->name, pw_err_name(r.ready_status), r.message);
  if (c->says != NULL)
    cr_expect_not_null(strstr(r.message, c->says), "%s: \"%s\"", c->name,
                       r.message);
  if (c->ready_status == PW_OK)
    cr_expect_str_eq(r.devtools, "ws://127.0.0.1:4242/devtools/browser/fake");
  if (c->status >= 0)
    cr_expect_eq(r.status, c->status, "%s: status %lld", c->name,
                 (long long) r.status);
  cr_expect_eq(r.signal, c->signal, "%s: signal %d", c->name, r.signal);
  cr_expect_eq(r.asked, c->asked, "%s: asked", c->name);
  if (c->signal == SIGKILL && c->asked)
    cr_expect_geq(r.exited_at - r.stopped_at, c->grace_ms, "%s: grace",
                  c->name);
  if (r.pid > 0)
    cr_expect_neq(kill(r.pid, 0), 0, "%s: pid %d lives", c->name, r.pid);

  if (c->logged != NULL) {
    log = slurp(path_in("browser.log"));
    cr_expect_not_null(strstr(log, c->logged), "%s: log \"%s\"", c->name,
                       log);
    cr_expect_not_null(strstr(r.message, path_in("browser.log")), "%s",
                       r.message);
    free(log);
  }
  teardown();
}

/* Freed while it runs: killed, no callback, nothing left on the loop. */
Test(launch, free_while_running, .timeout = 30)
{
  pw_launch_opts_t o = { .gateway = GW, .keylog = "/dev/null" };
  run_t r = { 0 };
  FILE *f;

  setup("free");
  f = fopen(path_in("fake.sh"), "w");
  cr_assert_not_null(f);
  fprintf(f, "#!/bin/sh\n" WRITES_PORT "exec sleep 60\n");
  fclose(f);
  chmod(path_in("fake.sh"), 0700);
  o.chromium = path_in("fake.sh");
  o.profile_dir = dir;
  r.stay = true;

  run_start(&r, &o);
  uv_run(&r.loop, UV_RUN_DEFAULT);
  cr_assert_eq(r.ready_status, PW_OK, "%s", r.message);
  cr_assert_gt(r.pid, 0);

  pw_launch_free(r.l);
  uv_run(&r.loop, UV_RUN_DEFAULT);
  cr_expect_eq(uv_loop_close(&r.loop), 0, "handles left on the loop");
  cr_expect_eq(r.exit_calls, 0);
  cr_expect_neq(kill(r.pid, 0), 0, "pid %d lives", r.pid);
  teardown();
}

Test(launch, missing_browser)
{
  pw_launch_opts_t o = { .chromium = "/nonexistent/chromium",
                         .profile_dir = "/tmp", .gateway = GW,
                         .keylog = "/dev/null" };
  pw_launch_t *l = (pw_launch_t *) 1;
  pw_err_t err = { 0 };
  uv_loop_t loop;

  uv_loop_init(&loop);
  cr_expect_eq(pw_launch_start(&l, &loop, &o, on_ready, on_exit_cb, NULL,
                               &err), PW_ENOTFOUND);
  cr_expect_null(l);
  cr_expect_not_null(strstr(err.msg, "/nonexistent/chromium"), "%s",
                     err.msg);
  cr_expect_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_expect_eq(uv_loop_close(&loop), 0);
}

/* Real Chromium */

/*
 * The gateway's stand-in: it records the first line of each request
 * and hangs up.  Readiness needs no proxy; the records show where the
 * browser's requests go.
 */
typedef struct recorder {
  int             fd;
  uint16_t        port;
  pthread_mutex_t mu;
  char            lines[65536];
  size_t          len;
} recorder_t;

static recorder_t rec = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* One connection: a browser may open one and send nothing for long. */
static void *
recorder_conn(void *arg)
{
  int c = (int) (intptr_t) arg;
  char buf[2048], *eol;
  ssize_t n;

  n = recv(c, buf, sizeof(buf) - 1, 0);
  close(c);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  eol = strstr(buf, "\r\n");
  if (eol != NULL)
    *eol = '\0';
  pthread_mutex_lock(&rec.mu);
  if (rec.len + strlen(buf) + 2 < sizeof(rec.lines))
    rec.len += (size_t) sprintf(rec.lines + rec.len, "%s\n", buf);
  pthread_mutex_unlock(&rec.mu);
  return NULL;
}

static void *
recorder_main(void *arg)
{
  pthread_t t;
  int c;

  for (;;) {
    c = accept(rec.fd, NULL, NULL);
    if (c < 0)
      return NULL;
    if (pthread_create(&t, NULL, recorder_conn, (void *) (intptr_t) c) != 0)
      close(c);
    else
      pthread_detach(t);
  }
}

static void
recorder_start(char *gw, size_t cap)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t alen = sizeof(a);
  pthread_t t;

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rec.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_geq(rec.fd, 0);
  cr_assert_eq(bind(rec.fd, (struct sockaddr *) &a, sizeof(a)), 0);
  cr_assert_eq(listen(rec.fd, 64), 0);
  getsockname(rec.fd, (struct sockaddr *) &a, &alen);
  rec.port = ntohs(a.sin_port);
  snprintf(gw, cap, "127.0.0.1:%u", rec.port);
  cr_assert_eq(pthread_create(&t, NULL, recorder_main, NULL), 0);
  pthread_detach(t);
}

/* Waits up to ms for a recorded line that starts with want. */
static bool
recorded(const char *want, uint64_t ms)
{
  uint64_t end = now_ms() + ms;
  char pat[512];
  bool found;

  snprintf(pat, sizeof(pat), "\n%s", want);
  for (;;) {
    pthread_mutex_lock(&rec.mu);
    found = strncmp(rec.lines, want, strlen(want)) == 0
            || strstr(rec.lines, pat) != NULL;
    pthread_mutex_unlock(&rec.mu);
    if (found || now_ms() >= end)
      return found;
    usleep(50 * 1000);
  }
}

static size_t
on_body(char *ptr, size_t size, size_t n, void *data)
{
  size_t *len = data;

  *len += size * n;
  return size * n;
}

/* An HTTP request to the DevTools port; its status code. */
static long
devtools_http(int port, const char *method, const char *path)
{
  char url[512];
  long code = 0;
  size_t len = 0;
  CURL *c = curl_easy_init();

  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &len);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  return len > 0 ? code : -code;
}

static char *
environ_of(int pid)
{
  char path[64], *buf = calloc(1, 65536);
  ssize_t n, j;
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/environ", pid);
  fd = open(path, O_RDONLY);
  cr_assert_geq(fd, 0, "%s", path);
  n = read(fd, buf, 65535);
  close(fd);
  for (j = 0; j < n; j++)
    if (buf[j] == '\0')
      buf[j] = '\n';
  return buf;
}

typedef struct real_case {
  const char *name;
  bool        https_only;
  bool        roots;
  bool        kill_outside;   /* SIGKILL at ready; else a stop */
} real_case_t;

static const real_case_t REAL_CASES[] = {
  /*
   * HTTPS-only with roots: an http:// navigation is upgraded (the
   * gateway sees CONNECT example.com:443) and never sent as http://;
   * stopped by the owner.
   */
  { "https-only", true, true, false },
  /*
   * Without: Chromium's HTTPS upgrade falls back to http://, which the
   * gateway sees; killed from outside.
   */
  { "plain", false, false, true },
};

ParameterizedTestParameters(launch, real)
{
  return case_indices(NCASES(REAL_CASES));
}

ParameterizedTest(size_t *i, launch, real, .timeout = 90)
{
  const real_case_t *c = &REAL_CASES[*i];
  char gw[64], page[128], *roots = NULL, *text;
  pw_browser_t b = { .language = "de-DE", .timezone = "Asia/Tokyo" };
  pw_launch_opts_t o = { .headless = true, .keylog = "/dev/null" };
  unsigned port = 0;
  run_t r = { 0 };
  long code;

  if (access(REAL_CHROMIUM, X_OK) != 0)
    cr_skip_test("no %s: the real-browser tests need Debian's chromium",
                 REAL_CHROMIUM);

  /* What the browser must not inherit. */
  setenv("SSLKEYLOGFILE", "/tmp/leak.keylog", 1);
  setenv("http_proxy", "http://127.0.0.1:9", 1);

  setup(c->name);
  recorder_start(gw, sizeof(gw));
  if (c->roots)
    roots = two_roots();

  o.chromium = REAL_CHROMIUM;
  o.profile_dir = dir;
  o.gateway = gw;
  o.https_only = c->https_only;
  o.browser = &b;
  o.roots = roots;
  o.no_sandbox = geteuid() == 0;
  r.stay = true;

  run_start(&r, &o);
  uv_run(&r.loop, UV_RUN_DEFAULT);
  cr_assert_eq(r.ready_status, PW_OK, "ready: %s", r.message);
  cr_assert_gt(r.pid, 0);
  cr_expect_str_eq(pw_launch_devtools(r.l), r.devtools);

  /* The URL's port answers DevTools' HTTP side. */
  cr_assert_eq(sscanf(r.devtools, "ws://127.0.0.1:%u/devtools/browser/",
                      &port), 1, "%s", r.devtools);
  code = devtools_http((int) port, "GET", "/json/version");
  cr_expect_eq(code, 200, "/json/version: %ld", code);

  text = slurp(path_in("browser/Default/Preferences"));
  cr_expect_not_null(strstr(text, c->https_only
                            ? "\"https_only_mode_enabled\":true"
                            : "\"https_only_mode_enabled\":false"),
                     "%.300s", text);
  cr_expect_not_null(strstr(text, "\"ip_handling_policy\":"
                            "\"disable_non_proxied_udp\""), "%.300s", text);
  free(text);

  text = environ_of(r.pid);
  cr_expect_not_null(strstr(text, "TZ=Asia/Tokyo\n"), "%s", text);
  cr_expect_not_null(strstr(text, "HOME="), "%s", text);
  cr_expect_not_null(strstr(text, path_in("home")), "%s", text);
  cr_expect_null(strstr(text, "SSLKEYLOGFILE"), "%s", text);
  cr_expect_null(strstr(text, "http_proxy"), "%s", text);
  free(text);

  if (c->roots) {
    text = certutil_list();
    cr_expect_not_null(strstr(text, "pinwarden-root-1"), "%s", text);
    free(text);
  }

  /* A page, and loopback: both through the gateway. */
  code = devtools_http((int) port, "PUT", "/json/new?http://example.com/a");
  cr_expect_eq(code, 200, "/json/new: %ld", code);
  if (c->https_only) {
    cr_expect(recorded("CONNECT example.com:443", 10000), "%s", rec.lines);
    cr_expect(!recorded("GET http://example.com/a", 2000), "%s",
              rec.lines);
  } else {
    cr_expect(recorded("GET http://example.com/a", 10000), "%s", rec.lines);

    /*
     * No bypass for loopback: a page on the stand-in's own port comes
     * as a proxy request (absolute form), not straight to it.
     */
    snprintf(page, sizeof(page), "/json/new?http://127.0.0.1:%u/loop",
             rec.port);
    code = devtools_http((int) port, "PUT", page);
    cr_expect_eq(code, 200, "/json/new: %ld", code);
    snprintf(page, sizeof(page), "GET http://127.0.0.1:%u/loop", rec.port);
    cr_expect(recorded(page, 10000), "%s", rec.lines);
    cr_expect(!recorded("GET /loop", 0), "%s", rec.lines);
  }

  /* Ends, by the owner's stop or from outside. */
  if (c->kill_outside) {
    kill(r.pid, SIGKILL);
  } else {
    r.stopped_at = now_ms();
    pw_launch_stop(r.l, PW_LAUNCH_STOP_MS);
  }
  run_finish(&r);

  if (c->kill_outside) {
    cr_expect_eq(r.signal, SIGKILL);
    cr_expect(!r.asked);
  } else {
    cr_expect(r.asked);
    cr_expect_lt(r.exited_at - r.stopped_at, PW_LAUNCH_STOP_MS,
                 "stop took %llu ms (status %lld, signal %d)",
                 (unsigned long long) (r.exited_at - r.stopped_at),
                 (long long) r.status, r.signal);
  }
  cr_expect_neq(kill(r.pid, 0), 0, "browser %d still runs", r.pid);

  free(roots);
  teardown();
}

/* ---- the profile's copy of the engine's extension -------------------- */

static void
put(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");

  cr_assert_not_null(f, "%s", path);
  fputs(text, f);
  fclose(f);
}

Test(launch, extension_copy)
{
  char src[PATH_MAX], prof[PATH_MAX], p[PATH_MAX + 64];
  struct stat st;
  pw_err_t err;

  setup("ext");
  snprintf(src, sizeof(src), "%s/src", dir);
  snprintf(prof, sizeof(prof), "%s/profile", dir);
  cr_assert_eq(mkdir(src, 0700), 0);
  cr_assert_eq(mkdir(prof, 0700), 0);
  snprintf(p, sizeof(p), "%s/icons", src);
  cr_assert_eq(mkdir(p, 0700), 0);
  snprintf(p, sizeof(p), "%s/manifest.json", src);
  put(p, "{}");
  snprintf(p, sizeof(p), "%s/icons/a.png", src);
  put(p, "png");
  snprintf(p, sizeof(p), "%s/.hidden", src);
  put(p, "secret");
  snprintf(p, sizeof(p), "%s/config.json", src);
  put(p, "{\"stale\": true}");
  snprintf(p, sizeof(p), "%s/link.js", src);
  cr_assert_eq(symlink("/etc/passwd", p), 0);
  snprintf(p, sizeof(p), "%s/client.js", dir);
  put(p, "export {};");

  cr_assert_eq(pw_launch_extension(prof, src, p, "{\"token\": \"t\"}",
                                   &err), PW_OK, "%s", err.msg);

  /* Plain files and folders come; hidden files and links do not. */
  snprintf(p, sizeof(p), "%s/extension/icons/a.png", prof);
  cr_assert_eq(stat(p, &st), 0);
  snprintf(p, sizeof(p), "%s/extension/.hidden", prof);
  cr_assert_neq(lstat(p, &st), 0);
  snprintf(p, sizeof(p), "%s/extension/link.js", prof);
  cr_assert_neq(lstat(p, &st), 0);
  snprintf(p, sizeof(p), "%s/extension/pinwarden.js", prof);
  cr_assert_eq(stat(p, &st), 0);

  /* config.json is the engine's, readable by the owner alone. */
  snprintf(p, sizeof(p), "%s/extension/config.json", prof);
  cr_assert_eq(stat(p, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0600);
  cr_assert_eq(st.st_size, (off_t) strlen("{\"token\": \"t\"}"));
  snprintf(p, sizeof(p), "%s/extension", prof);
  cr_assert_eq(stat(p, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0700);

  /* A second start copies anew: what the copy gained is gone. */
  snprintf(p, sizeof(p), "%s/extension/extra.js", prof);
  put(p, "left over");
  cr_assert_eq(pw_launch_extension(prof, src, NULL, NULL, &err), PW_OK,
               "%s", err.msg);
  cr_assert_neq(stat(p, &st), 0);

  /* A source that is not there is an error, not an empty extension. */
  snprintf(p, sizeof(p), "%s/none", dir);
  cr_assert_neq(pw_launch_extension(prof, p, NULL, NULL, &err), PW_OK);
}
