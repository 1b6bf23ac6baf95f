/*
 * The web UI's files over plain HTTP on the IPC listener: <ui>/web/ at
 * "/" and <ui>/client/ at "/client/".  Only GET of a file that exists,
 * of a type on the list, under a path of plain characters; the page
 * gets a Content-Security-Policy that lets it load only these files
 * and talk only to this engine, and frames nobody.
 *
 * The files are small and few: each is read whole (under a cap) and
 * written with one lws_write, which buffers what the socket does not
 * take at once.
 */
#include "ipc/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX  (1024 * 1024)
#define URI_MAX   256

static const struct {
  const char *ext;
  const char *mime;
} types[] = {
  { ".html", "text/html; charset=utf-8" },
  { ".js",   "text/javascript; charset=utf-8" },
  { ".mjs",  "text/javascript; charset=utf-8" },
  { ".css",  "text/css; charset=utf-8" },
  { ".svg",  "image/svg+xml" },
  { ".png",  "image/png" },
  { ".ico",  "image/x-icon" },
  { ".json", "application/json" },
};

static const char *
mime_of(const char *path)
{
  const char *dot = strrchr(path, '.');
  size_t i;

  for (i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
    if (strcmp(dot, types[i].ext) == 0)
      return types[i].mime;
  return NULL;
}

/*
 * The file a URI names, relative to the UI folder, or -1: letters,
 * digits and "._-/" only, no empty or dot-led segment (so no "..", no
 * hidden files), under URI_MAX.
 */
static int
map_uri(const char *uri, char *out, size_t size)
{
  const char *rel, *p;
  int n;

  if (strcmp(uri, "/") == 0)
    uri = "/index.html";
  if (strlen(uri) > URI_MAX || uri[0] != '/')
    return -1;
  for (p = uri; *p != '\0'; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
          || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'
          || *p == '-' || *p == '/'))
      return -1;
    if (*p == '/' && (p[1] == '/' || p[1] == '.' || p[1] == '\0'))
      return -1;
  }

  rel = strncmp(uri, "/client/", 8) == 0 ? uri + 1 : NULL;
  n = rel != NULL ? snprintf(out, size, "%s", rel)
                  : snprintf(out, size, "web%s", uri);
  return n < 0 || (size_t) n >= size ? -1 : 0;
}

/* Reads a regular file whole, under FILE_MAX. */
static char *
slurp(const char *path, size_t *len)
{
  struct stat st;
  char *buf = NULL;
  ssize_t n;
  int fd;

  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return NULL;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= FILE_MAX
      && (buf = malloc((size_t) st.st_size + 1)) != NULL) {
    n = read(fd, buf, (size_t) st.st_size);
    if (n != st.st_size) {
      free(buf);
      buf = NULL;
    } else {
      *len = (size_t) n;
    }
  }
  close(fd);
  return buf;
}

static int
add_header(struct lws *wsi, const char *name, const char *value,
           unsigned char **p, unsigned char *end)
{
  return lws_add_http_header_by_name(wsi, (const unsigned char *) name,
                                     (const unsigned char *) value,
                                     (int) strlen(value), p, end);
}

static int
send_file(struct lws *wsi, const char *host, const char *mime,
          const char *body, size_t len)
{
  unsigned char head[LWS_PRE + 2048], *start = head + LWS_PRE, *p = start;
  unsigned char *end = head + sizeof(head) - 1, *out;
  char csp[512];
  int ret = -1;

  snprintf(csp, sizeof(csp),
           "default-src 'self'; script-src 'self'; style-src 'self'; "
           "img-src 'self' data:; connect-src 'self' ws://%s; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
           host);
  if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, mime, len, &p, end)
      || add_header(wsi, "cache-control:", "no-store", &p, end)
      || add_header(wsi, "x-content-type-options:", "nosniff", &p, end)
      || add_header(wsi, "referrer-policy:", "no-referrer", &p, end)
      || add_header(wsi, "content-security-policy:", csp, &p, end)
      || lws_finalize_write_http_header(wsi, start, &p, end))
    return -1;

  out = malloc(LWS_PRE + len + 1);
  if (out == NULL)
    return -1;
  memcpy(out + LWS_PRE, body, len);
  if (lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) == (int) len)
    ret = 0;
  free(out);
  return ret;
}

/*
 * Answers a GET of the UI's files: 0 sent, 1 not one of them (the
 * caller answers 404), -1 the connection must close.
 */
int
pw_ipc__serve_file(pw_ipc_t *ipc, struct lws *wsi, const char *uri,
                   const char *host)
{
  char rel[URI_MAX + 8], path[4096 + URI_MAX + 16];
  const char *mime;
  size_t len = 0;
  char *body;
  int ret;

  if (ipc->ui_dir[0] == '\0' || map_uri(uri, rel, sizeof(rel)) != 0
      || (mime = mime_of(rel)) == NULL)
    return 1;
  snprintf(path, sizeof(path), "%s/%s", ipc->ui_dir, rel);
  body = slurp(path, &len);
  if (body == NULL)
    return 1;
  ret = send_file(wsi, host, mime, body, len);
  free(body);
  return ret;
}
