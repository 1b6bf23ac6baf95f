/*
 * The browser of a running profile: Debian's Chromium, started behind
 * the profile's gateway with its own user data folder, key-log file and
 * DevTools port, watched until it exits.  Loop thread only.
 *
 * What the browser gets (DESIGN.md, "The launcher"):
 *   --user-data-dir           the profile's own folder
 *   --proxy-server            the gateway, for every scheme; loopback
 *                             goes through it too (<-loopback>)
 *   --ssl-key-log-file        the gateway's key-log file
 *   --host-resolver-rules     every name not found, so that nothing is
 *                             looked up on this machine (the gateway's
 *                             upstream resolves)
 *   WebRTC                    no UDP outside the proxy
 *   --remote-debugging-port=0 Chromium picks the port and writes it to
 *                             DevToolsActivePort in the user data
 *                             folder, which is how the port is learnt
 *   HTTPS-only                Chromium's own preference, when Secure
 *                             Access is on
 *   roots                     trusted by this browser alone, through an
 *                             NSS database under a HOME of its own
 *                             (certutil), with name and expiry checks
 *                             kept
 *   language, time zone (TZ), user agent, window size, extra switches
 */
#ifndef PW_LAUNCH_H
#define PW_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "engine/err.h"
#include "profiles/profile.h"

#define PW_LAUNCH_CHROMIUM        "/usr/bin/chromium"
#define PW_LAUNCH_READY_MS        30000   /* DevTools must answer by then */
#define PW_LAUNCH_STOP_MS         5000    /* SIGTERM, then SIGKILL */
#define PW_LAUNCH_LINGER_MS       2000    /* its crash handler, after it */
#define PW_LAUNCH_DEVTOOLS_MAX    256     /* "ws://127.0.0.1:P/devtools/..." */
#define PW_LAUNCH_PORT_FILE_MAX   512     /* DevToolsActivePort, read cap */
#define PW_LAUNCH_PREFS_MAX       (16 * 1024 * 1024)  /* Preferences cap */

typedef struct pw_launch pw_launch_t;

typedef struct pw_launch_opts {
  const char         *chromium;      /* NULL: PW_LAUNCH_CHROMIUM */
  const char         *profile_dir;   /* <data>/profiles/<id>: the browser's
                                        user data and HOME live in it */
  const char         *gateway;       /* "127.0.0.1:PORT" */
  const char         *keylog;        /* the gateway's key-log file */
  bool                headless;
  bool                https_only;    /* Secure Access is on */
  const pw_browser_t *browser;       /* the profile's settings, or NULL */
  const char         *roots;         /* PEM of extra anchors, or NULL */
  const char         *extension;     /* a folder for --load-extension, or
                                        NULL */
  /*
   * Or the engine's extension: extension_src is copied to
   * <profile_dir>/extension with extension_client beside it as
   * pinwarden.js and extension_config (a secret) as config.json, and
   * that copy is loaded.
   */
  const char         *extension_src;
  const char         *extension_client;
  const char         *extension_config;
  const char         *engine;        /* "127.0.0.1:PORT": reached directly,
                                        not through the gateway, or NULL */
  bool                no_sandbox;    /* needed when running as root */
  uint64_t            ready_ms;      /* 0: PW_LAUNCH_READY_MS */
} pw_launch_opts_t;

/*
 * The browser answers on DevTools (status PW_OK, devtools set), or did
 * not: the preparation failed, it could not be spawned, it exited
 * first, it was stopped first, or it did not answer within ready_ms
 * (then it is killed), with a message.  Called once, from the loop.
 */
typedef void (*pw_launch_ready_cb)(void *data, int status,
                                   const char *devtools,
                                   const char *message);

/*
 * The browser process ended: its exit status, or the signal that ended
 * it (0 when none), and whether pw_launch_stop asked for it.  Called
 * once, after the ready callback, from the loop; the launch may be
 * freed from inside it.  Every start that returned PW_OK ends with it,
 * also when the browser never ran (status -1, signal 0).  A browser
 * killed because it did not answer in time ends with asked false and
 * signal 9.
 */
typedef void (*pw_launch_exit_cb)(void *data, int64_t status, int signal,
                                  bool asked);

/*
 * The command line the browser gets, argv[0] first, NULL-terminated;
 * the caller frees it with pw_launch_argv_free.  Checks the profile's
 * extra switches: none may set what the launcher sets (the proxy, the
 * user data folder, the key-log file, the DevTools port, the resolver
 * rules, and every other switch of the list in launch.c) nor turn the
 * proxy or certificate checks off (--no-proxy-server, any --proxy-*,
 * --host-rules, --ignore-certificate-errors...) nor write files
 * outside the profile's folder (--disk-cache-dir, --log-net-log...),
 * PW_EINVAL naming the switch.  Chromium reads "-x" as "--x", so both
 * spellings are checked.  With the engine's extension, a profile folder
 * whose path has a comma is PW_EINVAL (it would split the extension
 * list).
 */
int pw_launch_argv(const pw_launch_opts_t *opts, char ***argv,
                   pw_err_t *err);
void pw_launch_argv_free(char **argv);

/*
 * Prepares the profile's folder (the HTTPS-only preference, the NSS
 * database with the roots) on the thread pool, spawns the browser, and
 * watches for DevToolsActivePort.  *out is set at once; ready follows,
 * then exit.  What is wrong before the preparation (the options, a
 * browser path that is not an executable file) is returned here, with
 * no callback; what goes wrong later comes through ready, then exit.
 */
int pw_launch_start(pw_launch_t **out, uv_loop_t *loop,
                    const pw_launch_opts_t *opts, pw_launch_ready_cb ready,
                    pw_launch_exit_cb exit, void *data, pw_err_t *err);

/*
 * The browser's process id (0 before the spawn), its DevTools URL (NULL
 * until ready says PW_OK).
 */
int pw_launch_pid(const pw_launch_t *l);
const char *pw_launch_devtools(const pw_launch_t *l);

/*
 * Asks the browser to close (SIGTERM: Chromium saves its state), then
 * kills it after grace_ms (0: PW_LAUNCH_STOP_MS).  The exit callback
 * says when it is gone.
 */
void pw_launch_stop(pw_launch_t *l, uint64_t grace_ms);

/*
 * Frees the launch once the exit callback has run; the handles close on
 * the loop.  Called earlier, it kills the browser (SIGKILL), no
 * callback runs any more, and the memory goes once the process and the
 * preparation are over.  Accepts NULL.
 */
void pw_launch_free(pw_launch_t *l);

/*
 * The pieces of a start, public for the tests and the fuzz targets.
 */

/*
 * Prepares <profile_dir> for a start, blocking (pw_launch_start runs it
 * on the thread pool): the folders browser/Default and home (0700), the
 * preferences (pw_launch_prefs_merge), the NSS database under home with
 * the PEM certificates of roots as pinwarden-root-1.. (or none of them
 * when roots is NULL), and no stale DevToolsActivePort.  certutil's
 * output goes to <profile_dir>/browser.log.
 */
int pw_launch_prepare(const char *profile_dir, bool https_only,
                      const char *roots, pw_err_t *err);

/*
 * Merges the launcher's preferences into a Preferences document (NULL
 * or empty: none yet; not a JSON object: replaced, as Chromium itself
 * would): https_only_mode_enabled and webrtc.ip_handling_policy.  *out
 * is the new document, freed by the caller.  PW_ETOOBIG over
 * PW_LAUNCH_PREFS_MAX.
 */
int pw_launch_prefs_merge(const char *doc, size_t len, bool https_only,
                          char **out, pw_err_t *err);

/*
 * Reads DevToolsActivePort ("PORT\n/devtools/browser/ID", a newline at
 * the end or not) into "ws://127.0.0.1:PORT/devtools/browser/ID".
 * PW_EINVAL for anything else, PW_ETOOBIG over PW_LAUNCH_PORT_FILE_MAX.
 */
int pw_launch_port_parse(const char *buf, size_t len,
                         char url[PW_LAUNCH_DEVTOOLS_MAX], pw_err_t *err);

/*
 * The copy of the engine's extension for a profile, as the launch makes
 * it (on the thread pool): <profile_dir>/extension anew.  PW_EIO,
 * PW_EINVAL (a source file that is not a plain file), PW_ETOOBIG.
 */
int pw_launch_extension(const char *profile_dir, const char *src,
                        const char *client, const char *config,
                        pw_err_t *err);

#endif
