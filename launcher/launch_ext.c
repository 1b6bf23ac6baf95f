/*
 * The extension a profile's browser loads: a fresh copy of the engine's
 * extension folder in the profile's own folder at each start, with the
 * JavaScript client beside it and config.json, which tells it where the
 * engine is and holds a token scoped to this profile (a secret: 0600,
 * in a 0700 folder, and gone when the next start copies anew).
 *
 * A copy rather than the engine's folder itself: Chromium loads an
 * unpacked extension from where it lies, and each profile needs its
 * own config.json.
 */
#include "launcher/launch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Caps on what is copied: the extension is a handful of small files. */
#define EXT_FILE_MAX  (4 * 1024 * 1024)
#define EXT_FILES_MAX 256
#define EXT_DEPTH_MAX 8

static int
unlink_cb(const char *path, const struct stat *st, int flag,
          struct FTW *ftw)
{
  return remove(path);
}

/* Removes a tree without following links; a missing one is fine. */
static int
remove_tree(const char *path, pw_err_t *err)
{
  if (access(path, F_OK) != 0)
    return PW_OK;
  if (nftw(path, unlink_cb, 16, FTW_DEPTH | FTW_PHYS) != 0)
    return pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  return PW_OK;
}

static int
copy_file(const char *from, const char *to, mode_t mode, pw_err_t *err)
{
  char buf[65536];
  int in = -1, out = -1, rc = PW_OK;
  struct stat st;
  ssize_t n;

  in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0 || fstat(in, &st) != 0) {
    rc = pw_err_set(err, PW_EIO, "%s: %s", from, strerror(errno));
    goto done;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > EXT_FILE_MAX) {
    rc = pw_err_set(err, PW_EINVAL, "%s: not a file of the extension",
                    from);
    goto done;
  }
  out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
             mode);
  if (out < 0) {
    rc = pw_err_set(err, PW_EIO, "%s: %s", to, strerror(errno));
    goto done;
  }
  while ((n = read(in, buf, sizeof(buf))) > 0) {
    if (write(out, buf, (size_t) n) != n) {
      rc = pw_err_set(err, PW_EIO, "%s: %s", to, strerror(errno));
      goto done;
    }
  }
  if (n < 0)
    rc = pw_err_set(err, PW_EIO, "%s: %s", from, strerror(errno));

done:
  if (in >= 0)
    close(in);
  if (out >= 0 && close(out) != 0 && rc == PW_OK)
    rc = pw_err_set(err, PW_EIO, "%s: %s", to, strerror(errno));
  return rc;
}

/* Copies plain files and folders; links and the rest are left out. */
static int
copy_tree(const char *from, const char *to, int depth, size_t *files,
          pw_err_t *err)
{
  char src[PATH_MAX], dst[PATH_MAX];
  struct dirent *d;
  struct stat st;
  DIR *dir;
  int rc = PW_OK;

  if (depth > EXT_DEPTH_MAX)
    return pw_err_set(err, PW_ETOOBIG, "%s: folders too deep", from);
  if (mkdir(to, 0700) != 0)
    return pw_err_set(err, PW_EIO, "%s: %s", to, strerror(errno));
  dir = opendir(from);
  if (dir == NULL)
    return pw_err_set(err, PW_EIO, "%s: %s", from, strerror(errno));

  while (rc == PW_OK && (d = readdir(dir)) != NULL) {
    if (d->d_name[0] == '.')
      continue;
    if ((size_t) snprintf(src, sizeof(src), "%s/%s", from, d->d_name)
          >= sizeof(src)
        || (size_t) snprintf(dst, sizeof(dst), "%s/%s", to, d->d_name)
          >= sizeof(dst)) {
      rc = pw_err_set(err, PW_ETOOBIG, "%s: path too long", from);
      break;
    }
    if (lstat(src, &st) != 0) {
      rc = pw_err_set(err, PW_EIO, "%s: %s", src, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
      rc = copy_tree(src, dst, depth + 1, files, err);
    } else if (S_ISREG(st.st_mode)) {
      rc = ++*files > EXT_FILES_MAX
           ? pw_err_set(err, PW_ETOOBIG, "%s: too many files", from)
           : copy_file(src, dst, 0600, err);
    }
  }
  closedir(dir);
  return rc;
}

static int
write_secret(const char *path, const char *text, pw_err_t *err)
{
  size_t len = strlen(text);
  int fd, rc = PW_OK;

  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
            0600);
  if (fd < 0)
    return pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  if (write(fd, text, len) != (ssize_t) len)
    rc = pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  if (close(fd) != 0 && rc == PW_OK)
    rc = pw_err_set(err, PW_EIO, "%s: %s", path, strerror(errno));
  return rc;
}

int
pw_launch_extension(const char *profile_dir, const char *src,
                    const char *client, const char *config,
                    pw_err_t *err)
{
  char dst[PATH_MAX], path[PATH_MAX + 32];
  size_t files = 0;
  int rc;

  if ((size_t) snprintf(dst, sizeof(dst), "%s/extension", profile_dir)
      >= sizeof(dst) - 32)
    return pw_err_set(err, PW_ETOOBIG, "profile folder: path too long");

  rc = remove_tree(dst, err);
  if (rc == PW_OK)
    rc = copy_tree(src, dst, 0, &files, err);
  /* These two are the engine's to write, whatever the folder held. */
  if (rc == PW_OK && client != NULL) {
    snprintf(path, sizeof(path), "%s/pinwarden.js", dst);
    unlink(path);
    rc = copy_file(client, path, 0600, err);
  }
  if (rc == PW_OK && config != NULL) {
    snprintf(path, sizeof(path), "%s/config.json", dst);
    unlink(path);
    rc = write_secret(path, config, err);
  }
  return rc;
}
