/*
 * What a start prepares before the browser runs, off the loop: the
 * folders, Chromium's Preferences file and the profile's own NSS
 * database, and the reading of DevToolsActivePort.
 *
 * Chromium owns Preferences: it is read whole, the launcher's keys set,
 * and written back through a temporary file and a rename, so that a
 * crash never leaves half a file.  The NSS database is the one Chromium
 * reads on Linux, $HOME/.pki/nssdb, under the HOME the browser gets:
 * roots added there are trusted by this browser alone.
 */
#include "launcher/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"
#define DEVTOOLS_PATH "/devtools/browser/"

/* Formats a path into a buffer; true when it did not fit. */
#define PATH_SET(buf, ...) \
  (snprintf((buf), sizeof(buf), __VA_ARGS__) >= (int) sizeof(buf))

/* Nicknames pinwarden-root-1..N; more than that many is refused. */
#define ROOTS_MAX 256

extern char **environ;

/* Preferences */

int
pw_launch_prefs_merge(const char *doc, size_t len, bool https_only,
                      char **out, pw_err_t *err)
{
  json_t *root = NULL, *webrtc;
  int rc = PW_OK;

  *out = NULL;

  if (len > PW_LAUNCH_PREFS_MAX) {
    rc = pw_err_set(err, PW_ETOOBIG, "Preferences: %zu bytes, over %d",
                    len, PW_LAUNCH_PREFS_MAX);
    goto done;
  }

  /* Chromium resets a file it cannot read: so does the launcher. */
  if (doc != NULL && len > 0)
    root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(root)) {
    json_decref(root);
    root = json_object();
  }
  if (root == NULL)
    goto nomem;

  webrtc = json_object_get(root, "webrtc");
  if (!json_is_object(webrtc)) {
    webrtc = json_object();
    if (json_object_set_new(root, "webrtc", webrtc) != 0)
      goto nomem;
  }

  if (json_object_set_new(root, "https_only_mode_enabled",
                          json_boolean(https_only)) != 0
      || json_object_set_new(webrtc, "ip_handling_policy",
                             json_string("disable_non_proxied_udp")) != 0)
    goto nomem;

  *out = json_dumps(root, JSON_COMPACT);
  if (*out == NULL)
    goto nomem;
  goto done;

nomem:
  rc = pw_err_set(err, PW_ENOMEM, "Preferences: out of memory");
done:
  json_decref(root);
  return rc;
}

/* Reads a whole file of at most cap bytes; a missing file is empty. */
static int
read_small(const char *path, size_t cap, char **out, size_t *len,
           pw_err_t *err)
{
  struct stat st;
  char *buf = NULL;
  ssize_t n;
  size_t got = 0;
  int fd, rc = PW_OK;

  *out = NULL;
  *len = 0;

  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    goto done;
  if (fd < 0 || fstat(fd, &st) != 0) {
    rc = pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
    goto done;
  }

  if ((uint64_t) st.st_size > cap) {
    rc = pw_err_set(err, PW_ETOOBIG, "%s: %lld bytes, over %zu", path,
                    (long long) st.st_size, cap);
    goto done;
  }

  buf = malloc((size_t) st.st_size + 1);
  if (buf == NULL) {
    rc = pw_err_set(err, PW_ENOMEM, "%s: out of memory", path);
    goto done;
  }

  /* The file may grow under us: what is past the size seen is left. */
  while (got < (size_t) st.st_size) {
    n = read(fd, buf + got, (size_t) st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
      goto done;
    }
    if (n == 0)
      break;
    got += (size_t) n;
  }
  buf[got] = '\0';

  *out = buf;
  *len = got;
  buf = NULL;

done:
  if (fd >= 0)
    close(fd);
  free(buf);
  return rc;
}

/* Writes path anew through path.XXXXXX and a rename, mode 0600. */
static int
write_atomic(const char *path, const char *text, pw_err_t *err)
{
  char tmp[PATH_MAX];
  size_t len = strlen(text), off = 0;
  ssize_t n;
  int fd = -1, rc = PW_OK;

  if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int) sizeof(tmp)) {
    rc = pw_err_set(err, PW_EINVAL, "%s: path too long", path);
    goto done;
  }

  fd = mkstemp(tmp);
  if (fd < 0) {
    rc = pw_err_set(err, PW_EIO, "%s: %s", tmp, strerror(errno));
    goto done;
  }

  while (off < len) {
    n = write(fd, text + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      goto fail;
    off += (size_t) n;
  }

  if (fsync(fd) != 0 || close(fd) != 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;

  if (rename(tmp, path) != 0)
    goto fail;
  goto done;

fail:
  rc = pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  unlink(tmp);
done:
  if (fd >= 0)
    close(fd);
  return rc;
}

static int
write_prefs(const char *path, bool https_only, pw_err_t *err)
{
  char *doc = NULL, *merged = NULL;
  size_t len;
  int rc;

  rc = read_small(path, PW_LAUNCH_PREFS_MAX, &doc, &len, err);
  if (rc != PW_OK)
    goto done;

  rc = pw_launch_prefs_merge(doc, len, https_only, &merged, err);
  if (rc != PW_OK)
    goto done;

  rc = write_atomic(path, merged, err);

done:
  free(doc);
  free(merged);
  return rc;
}

/* Folders */

/* A folder of ours: made 0700, or put back to 0700 if it was there. */
static int
make_dir(const char *path, pw_err_t *err)
{
  struct stat st;

  if (mkdir(path, S_IRWXU) != 0 && errno != EEXIST)
    goto fail;
  if (lstat(path, &st) != 0)
    goto fail;
  if (!S_ISDIR(st.st_mode))
    return pw_err_set(err, PW_EIO, "%s: not a folder", path);
  if ((st.st_mode & 0777) != S_IRWXU && chmod(path, S_IRWXU) != 0)
    goto fail;
  return PW_OK;

fail:
  return pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
}

/* NSS */

/*
 * Runs certutil with args, its output appended to log, and returns its
 * exit status (-1 when it could not run).  posix_spawn, not uv_spawn:
 * this runs on the thread pool, and libuv reaps only its own children.
 */
static int
certutil(const char *home, const char *log, const char *const *args,
         pw_err_t *err)
{
  posix_spawn_file_actions_t fa;
  char env_home[PATH_MAX + 8];
  char *envp[3] = { env_home, NULL, NULL };
  const char *path = getenv("PATH");
  char env_path[PATH_MAX + 8];
  pid_t pid;
  int status, rc;

  /* HOME too, so that nothing of certutil's ever reads the real one. */
  if (PATH_SET(env_home, "HOME=%s", home)) {
    pw_err_set(err, PW_EINVAL, "certutil: HOME too long");
    return -1;
  }
  if (path != NULL && !PATH_SET(env_path, "PATH=%s", path))
    envp[1] = env_path;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log,
                                   O_WRONLY | O_APPEND | O_CREAT, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);

  rc = posix_spawnp(&pid, "certutil", &fa, NULL, (char *const *) args,
                    envp);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pw_err_set(err, PW_EIO, "certutil: %s", strerror(rc));
    return -1;
  }

  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      pw_err_set(err, PW_EIO, "certutil: waitpid: %s", strerror(errno));
      return -1;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Writes one PEM block to a file of its own, 0600, for certutil -i. */
static int
write_pem(const char *path, const char *pem, size_t len, pw_err_t *err)
{
  int fd, rc = PW_OK;

  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
            0600);
  if (fd < 0)
    return pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  if (write(fd, pem, len) != (ssize_t) len || write(fd, "\n", 1) != 1)
    rc = pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  if (close(fd) != 0 && rc == PW_OK)
    rc = pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  return rc;
}

/*
 * Brings the NSS database to hold exactly the roots of this start:
 * every pinwarden-root-N of an earlier start is deleted (they were
 * numbered from 1 with no gap, so the first missing one ends the run),
 * then each certificate of roots is added, trusted as a CA for TLS
 * servers ("C,,") and for nothing else.
 */
static int
sync_roots(const char *profile_dir, const char *home, const char *roots,
           pw_err_t *err)
{
  char db[PATH_MAX], sqldb[PATH_MAX + 4], log[PATH_MAX], pem[PATH_MAX];
  char nick[32], dir[PATH_MAX], probe[PATH_MAX];
  const char *p, *begin, *end;
  struct stat st;
  unsigned n;
  int rc = PW_OK, status;

  if (PATH_SET(log, "%s/browser.log", profile_dir)
      || PATH_SET(dir, "%s/.pki", home)
      || PATH_SET(db, "%s/.pki/nssdb", home)
      || PATH_SET(sqldb, "sql:%s", db)
      || PATH_SET(probe, "%s/cert9.db", db)
      || PATH_SET(pem, "%s/root.pem", profile_dir))
    return pw_err_set(err, PW_EINVAL, "profile folder: path too long");
  /* No database and no roots: nothing to remove, nothing to make. */
  if (stat(db, &st) != 0 && roots == NULL)
    goto done;

  if ((rc = make_dir(dir, err)) != PW_OK || (rc = make_dir(db, err)) != PW_OK)
    goto done;

  if (stat(probe, &st) != 0) {
    const char *args[] = { "certutil", "-N", "-d", sqldb,
                           "--empty-password", NULL };

    status = certutil(home, log, args, err);
    if (status != 0) {
      rc = status < 0 ? PW_EIO
           : pw_err_set(err, PW_EIO, "certutil -N: status %d; see %s",
                        status, log);
      goto done;
    }
  }

  for (n = 1; n <= ROOTS_MAX + 1; n++) {
    const char *args[] = { "certutil", "-D", "-d", sqldb, "-n", nick, NULL };

    snprintf(nick, sizeof(nick), "pinwarden-root-%u", n);
    status = certutil(home, log, args, err);
    if (status < 0) {
      rc = PW_EIO;
      goto done;
    }
    if (status != 0)
      break;
  }

  for (p = roots, n = 1; p != NULL; n++) {
    const char *args[] = { "certutil", "-A", "-d", sqldb, "-t", "C,,",
                           "-n", nick, "-a", "-i", pem, NULL };

    begin = strstr(p, PEM_BEGIN);
    if (begin == NULL)
      break;
    end = strstr(begin, PEM_END);
    if (end == NULL) {
      rc = pw_err_set(err, PW_EINVAL, "roots: certificate %u has no end",
                      n);
      goto done;
    }
    end += strlen(PEM_END);
    p = end;

    if (n > ROOTS_MAX) {
      rc = pw_err_set(err, PW_ETOOBIG, "roots: more than %d certificates",
                      ROOTS_MAX);
      goto done;
    }

    rc = write_pem(pem, begin, (size_t) (end - begin), err);
    if (rc != PW_OK)
      goto done;

    snprintf(nick, sizeof(nick), "pinwarden-root-%u", n);
    status = certutil(home, log, args, err);
    unlink(pem);
    if (status != 0) {
      rc = status < 0 ? PW_EIO
           : pw_err_set(err, PW_EIO, "certutil -A %s: status %d; see %s",
                        nick, status, log);
      goto done;
    }
  }

done:
  return rc;
}

/* Prepare */

int
pw_launch_prepare(const char *profile_dir, bool https_only,
                  const char *roots, pw_err_t *err)
{
  char browser[PATH_MAX], def[PATH_MAX], home[PATH_MAX];
  char prefs[PATH_MAX], port[PATH_MAX];
  int rc;

  if (PATH_SET(browser, "%s/browser", profile_dir)
      || PATH_SET(def, "%s/browser/Default", profile_dir)
      || PATH_SET(home, "%s/home", profile_dir)
      || PATH_SET(prefs, "%s/Preferences", def)
      || PATH_SET(port, "%s/DevToolsActivePort", browser))
    return pw_err_set(err, PW_EINVAL, "profile folder: path too long");

  if ((rc = make_dir(browser, err)) != PW_OK
      || (rc = make_dir(def, err)) != PW_OK
      || (rc = make_dir(home, err)) != PW_OK)
    goto done;

  rc = write_prefs(prefs, https_only, err);
  if (rc != PW_OK)
    goto done;

  rc = sync_roots(profile_dir, home, roots, err);
  if (rc != PW_OK)
    goto done;

  /* A file of an earlier run would give the port of a dead browser. */
  if (unlink(port) != 0 && errno != ENOENT)
    rc = pw_err_set(err, PW_EIO, "%s: %s", port, strerror(errno));

done:
  return rc;
}

/* DevToolsActivePort */

int
pw_launch_port_parse(const char *buf, size_t len,
                     char url[PW_LAUNCH_DEVTOOLS_MAX], pw_err_t *err)
{
  const char *nl, *path, *c;
  size_t path_len;
  unsigned long port = 0;
  int n;

  url[0] = '\0';

  if (len > PW_LAUNCH_PORT_FILE_MAX)
    return pw_err_set(err, PW_ETOOBIG, "DevToolsActivePort: %zu bytes",
                      len);

  nl = memchr(buf, '\n', len);
  if (nl == NULL || nl == buf || nl - buf > 5)
    return pw_err_set(err, PW_EINVAL, "DevToolsActivePort: no port line");

  for (c = buf; c < nl; c++) {
    if (*c < '0' || *c > '9')
      return pw_err_set(err, PW_EINVAL, "DevToolsActivePort: bad port");
    port = port * 10 + (unsigned long) (*c - '0');
  }
  if (port == 0 || port > 65535 || buf[0] == '0')
    return pw_err_set(err, PW_EINVAL, "DevToolsActivePort: bad port");

  /* The path, a newline after it or not, and nothing else. */
  path = nl + 1;
  path_len = len - (size_t) (path - buf);
  if (path_len > 0 && path[path_len - 1] == '\n')
    path_len--;

  if (path_len <= strlen(DEVTOOLS_PATH)
      || memcmp(path, DEVTOOLS_PATH, strlen(DEVTOOLS_PATH)) != 0)
    return pw_err_set(err, PW_EINVAL, "DevToolsActivePort: bad path");

  for (c = path + strlen(DEVTOOLS_PATH); c < path + path_len; c++) {
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z')
          || (*c >= 'A' && *c <= 'Z') || *c == '-'))
      return pw_err_set(err, PW_EINVAL, "DevToolsActivePort: bad path");
  }

  n = snprintf(url, PW_LAUNCH_DEVTOOLS_MAX, "ws://127.0.0.1:%lu%.*s", port,
               (int) path_len, path);
  if (n < 0 || n >= PW_LAUNCH_DEVTOOLS_MAX) {
    url[0] = '\0';
    return pw_err_set(err, PW_ETOOBIG, "DevToolsActivePort: path too long");
  }
  return PW_OK;
}
