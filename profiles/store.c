/*
 * The store: opening the database, its folders, and profiles.
 */
#include "profiles/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CURSOR_PREFIX 'n'

int
pw_store__db_err(pw_store_t *s, const char *what, pw_err_t *err)
{
  int rc = sqlite3_errcode(s->db);

  if (rc == SQLITE_NOMEM)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
    return pw_err_set(err, PW_EIO, "%s: the database stayed busy for %d ms",
                      what, PW_STORE_BUSY_MS);
  return pw_err_set(err, PW_EIO, "%s: %s", what, sqlite3_errmsg(s->db));
}

int
pw_store__prepare(pw_store_t *s, const char *sql, sqlite3_stmt **st,
                  pw_err_t *err)
{
  if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
    return pw_store__db_err(s, "preparing a statement", err);
  return PW_OK;
}

int
pw_store__begin(pw_store_t *s, bool write, pw_err_t *err)
{
  const char *sql = write ? "BEGIN IMMEDIATE" : "BEGIN";

  if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return pw_store__db_err(s, "starting a transaction", err);
  return PW_OK;
}

int
pw_store__commit(pw_store_t *s, pw_err_t *err)
{
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    return pw_store__db_err(s, "committing", err);
  return PW_OK;
}

void
pw_store__rollback(pw_store_t *s)
{
  if (!sqlite3_get_autocommit(s->db))
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int64_t
now_s(void)
{
  return (int64_t) time(NULL);
}

int
pw_store_data_dir(const char *dir, char **out, pw_err_t *err)
{
  const char *base, *home;
  struct passwd *pw;
  int n;

  *out = NULL;
  if (dir != NULL && dir[0] != '\0') {
    *out = strdup(dir);
    return *out != NULL ? PW_OK : pw_err_set(err, PW_ENOMEM,
                                             "out of memory");
  }

  /* The XDG spec says a relative value is invalid and to be ignored. */
  base = getenv("XDG_DATA_HOME");
  if (base != NULL && base[0] == '/')
    n = asprintf(out, "%s/pinwarden", base);
  else {
    home = getenv("HOME");
    if (home == NULL || home[0] != '/') {
      pw = getpwuid(getuid());
      home = pw != NULL ? pw->pw_dir : NULL;
    }
    if (home == NULL || home[0] != '/')
      return pw_err_set(err, PW_EINVAL,
                        "no data folder: give --data-dir, or set "
                        "XDG_DATA_HOME or HOME");
    n = asprintf(out, "%s/.local/share/pinwarden", home);
  }

  if (n < 0) {
    *out = NULL;
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  }
  return PW_OK;
}

int
pw_store__mkdirs(const char *path, pw_err_t *err)
{
  char *p, c;
  size_t i;
  int ret = PW_OK;

  p = strdup(path);
  if (p == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  /* Each missing level is ours alone: nobody else needs to look inside. */
  for (i = 1; ; i++) {
    if (p[i] != '/' && p[i] != '\0')
      continue;
    if (p[i] == '/' && (p[i + 1] == '/' || p[i + 1] == '\0'))
      continue;

    c = p[i];
    p[i] = '\0';
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
      ret = pw_err_set(err, PW_EIO, "mkdir %s: %s", p, strerror(errno));
      goto done;
    }
    p[i] = c;
    if (c == '\0')
      break;
  }

done:
  free(p);
  return ret;
}

/* Creates the file with mode 0600 before SQLite does it with 0644. */
static int
create_db_file(const char *path, pw_err_t *err)
{
  struct stat st;
  int fd, ret = PW_OK;

  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return pw_err_set(err, PW_EIO, "open %s: %s", path, strerror(errno));

  /* The file holds proxy passwords: tighten a mode someone loosened. */
  if (fstat(fd, &st) != 0)
    ret = pw_err_set(err, PW_EIO, "stat %s: %s", path, strerror(errno));
  else if ((st.st_mode & 077) != 0 && fchmod(fd, 0600) != 0)
    ret = pw_err_set(err, PW_EIO, "chmod %s: %s", path, strerror(errno));

  close(fd);
  return ret;
}

static int
configure(pw_store_t *s, pw_err_t *err)
{
  static const char *const pragmas[] = {
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
    /* Deleted proxy passwords are overwritten, not left in free pages. */
    "PRAGMA secure_delete = ON",
  };
  size_t i;

  sqlite3_extended_result_codes(s->db, 1);
  if (sqlite3_busy_timeout(s->db, PW_STORE_BUSY_MS) != SQLITE_OK)
    return pw_store__db_err(s, "setting the busy timeout", err);

  for (i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
    if (sqlite3_exec(s->db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK)
      return pw_store__db_err(s, pragmas[i], err);
  }
  return PW_OK;
}

int
pw_store_open(pw_store_t **out, const char *data_dir, pw_err_t *err)
{
  pw_store_t *s = NULL;
  char *path = NULL, *profiles = NULL;
  int ret;

  *out = NULL;
  s = calloc(1, sizeof(*s));
  if (s == NULL || (s->dir = strdup(data_dir)) == NULL ||
      asprintf(&path, "%s/%s", data_dir, PW_STORE_DB_NAME) < 0 ||
      asprintf(&profiles, "%s/profiles", data_dir) < 0) {
    path = NULL;
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  s->keep_count = PW_STORE_KEEP_COUNT;
  s->keep_age_s = PW_STORE_KEEP_AGE_S;

  ret = pw_store__mkdirs(profiles, err);
  if (ret == PW_OK)
    ret = create_db_file(path, err);
  if (ret != PW_OK)
    goto done;

  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
                      SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                      NULL) != SQLITE_OK) {
    ret = s->db != NULL ? pw_store__db_err(s, "opening the database", err)
                        : pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }

  ret = configure(s, err);
  if (ret == PW_OK)
    ret = pw_store__migrate(s, err);
  if (ret != PW_OK)
    goto done;

  *out = s;
  s = NULL;

done:
  pw_store_close(s);
  free(path);
  free(profiles);
  return ret;
}

void
pw_store_close(pw_store_t *s)
{
  if (s == NULL)
    return;
  sqlite3_close(s->db);
  free(s->dir);
  free(s);
}

int
pw_store_schema_version(pw_store_t *s)
{
  sqlite3_stmt *st = NULL;
  int v = -1;

  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) ==
        SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

int
pw_store_profile_dir(const pw_store_t *s, const char *id, char **out,
                     pw_err_t *err)
{
  /* The id becomes a path: only our own UUID form may. */
  if (!pw_profile_id_valid(id))
    return pw_err_set(err, PW_EINVAL, "id: must be a lower-case UUID");
  if (asprintf(out, "%s/profiles/%s", s->dir, id) < 0) {
    *out = NULL;
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  }
  return PW_OK;
}

int
pw_store__make_profile_dir(pw_store_t *s, const char *id, bool *created,
                           pw_err_t *err)
{
  char *dir = NULL;
  int ret;

  *created = false;
  ret = pw_store_profile_dir(s, id, &dir, err);
  if (ret != PW_OK)
    return ret;

  /* A folder kept by a delete without purge is taken up again. */
  if (mkdir(dir, 0700) == 0)
    *created = true;
  else if (errno != EEXIST)
    ret = pw_err_set(err, PW_EIO, "mkdir %s: %s", dir, strerror(errno));

  free(dir);
  return ret;
}

void
pw_store__remove_empty_dir(pw_store_t *s, const char *id)
{
  char *dir = NULL;

  if (pw_store_profile_dir(s, id, &dir, NULL) == PW_OK)
    rmdir(dir);
  free(dir);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(path);
}

/*
 * FTW_PHYS never follows a link out of the folder; FTW_MOUNT stays on
 * its file system.
 */
static int
purge_dir(pw_store_t *s, const char *id, pw_err_t *err)
{
  char *dir = NULL;
  int ret;

  ret = pw_store_profile_dir(s, id, &dir, err);
  if (ret != PW_OK)
    return ret;

  if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 &&
      errno != ENOENT)
    ret = pw_err_set(err, PW_EIO,
                     "the profile was deleted but its folder %s was not "
                     "removed: %s", dir, strerror(errno));

  free(dir);
  return ret;
}

/* The stored document: every field but the store's own, secrets kept. */
static char *
doc_text(const pw_profile_t *p)
{
  json_t *o;
  char *text;

  o = pw_profile_to_json(p, PW_PROFILE_SECRETS);
  if (o == NULL)
    return NULL;
  json_object_del(o, "id");
  json_object_del(o, "revision");
  json_object_del(o, "created");
  json_object_del(o, "updated");

  text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return text;
}

int
pw_store__row(sqlite3_stmt *st, pw_profile_t *out, pw_err_t *err)
{
  const char *id = (const char *) sqlite3_column_text(st, 0);
  const char *doc = (const char *) sqlite3_column_text(st, 5);
  pw_profile_t p;
  pw_err_t e;
  int ret;

  if (id == NULL || doc == NULL || !pw_profile_id_valid(id))
    return pw_err_set(err, PW_EIO, "a stored profile has a bad id");

  pw_profile_init(&p);
  ret = pw_profile_parse(&p, doc, (size_t) sqlite3_column_bytes(st, 5), 0,
                         &e);
  if (ret != PW_OK) {
    ret = pw_err_set(err, ret == PW_ENOMEM ? PW_ENOMEM : PW_EIO,
                     "stored profile %s: %s", id, e.msg);
    goto done;
  }

  strcpy(p.id, id);
  p.revision = sqlite3_column_int64(st, 2);
  p.created = sqlite3_column_int64(st, 3);
  p.updated = sqlite3_column_int64(st, 4);

  pw_profile_clear(out);
  *out = p;
  pw_profile_init(&p);

done:
  pw_profile_clear(&p);
  return ret;
}

static int
insert_tags(pw_store_t *s, const pw_profile_t *p, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  size_t i;
  int ret;

  ret = pw_store__prepare(s, "DELETE FROM profile_tags WHERE profile_id = ?",
                          &st, err);
  if (ret != PW_OK)
    return ret;
  sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE)
    ret = pw_store__db_err(s, "removing tags", err);
  sqlite3_finalize(st);
  st = NULL;
  if (ret != PW_OK)
    return ret;

  ret = pw_store__prepare(s, "INSERT INTO profile_tags(profile_id, tag) "
                          "VALUES (?, ?)", &st, err);
  if (ret != PW_OK)
    return ret;
  for (i = 0; i < p->ntags && ret == PW_OK; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->tags[i], -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
      ret = pw_store__db_err(s, "storing tags", err);
  }

  sqlite3_finalize(st);
  return ret;
}

/* A failed INSERT or UPDATE: a clash of name or id, or a real failure. */
static int
write_err(pw_store_t *s, const pw_profile_t *p, pw_err_t *err)
{
  int rc = sqlite3_extended_errcode(s->db);

  if (rc == SQLITE_CONSTRAINT_UNIQUE)
    return pw_err_set(err, PW_ECONFLICT, "name: '%s' is taken", p->name);
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    return pw_err_set(err, PW_ECONFLICT, "id: %s exists", p->id);
  return pw_store__db_err(s, "storing the profile", err);
}

int
pw_store__insert(pw_store_t *s, pw_profile_t *p, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  char *doc = NULL;
  int ret;

  doc = doc_text(p);
  if (doc == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  ret = pw_store__prepare(s, "INSERT INTO profiles(id, name, revision, "
                          "created, updated, doc) VALUES (?, ?, 1, ?, ?, ?)",
                          &st, err);
  if (ret != PW_OK)
    goto done;

  sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, p->created);
  sqlite3_bind_int64(st, 4, p->updated);
  sqlite3_bind_text(st, 5, doc, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) {
    ret = write_err(s, p, err);
    goto done;
  }

  ret = insert_tags(s, p, err);
  if (ret == PW_OK)
    p->revision = 1;

done:
  sqlite3_finalize(st);
  free(doc);
  return ret;
}

int
pw_store_profile_create(pw_store_t *s, pw_profile_t *p, pw_err_t *err)
{
  bool made = false;
  int ret;

  if (p->name == NULL)
    return pw_err_set(err, PW_EINVAL, "name: is required");

  ret = pw_profile_new_id(p->id, err);
  if (ret != PW_OK)
    return ret;
  p->created = p->updated = now_s();

  ret = pw_store__begin(s, true, err);
  if (ret != PW_OK)
    goto done;

  ret = pw_store__insert(s, p, err);
  if (ret == PW_OK)
    ret = pw_store__make_profile_dir(s, p->id, &made, err);
  if (ret == PW_OK)
    ret = pw_store__commit(s, err);

done:
  if (ret != PW_OK) {
    pw_store__rollback(s);
    if (made)
      pw_store__remove_empty_dir(s, p->id);
    p->id[0] = '\0';
    p->revision = 0;
  }
  return ret;
}

static int
get_by(pw_store_t *s, const char *sql, const char *key, pw_profile_t *out,
       pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  int ret, rc;

  ret = pw_store__prepare(s, sql, &st, err);
  if (ret != PW_OK)
    return ret;

  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    ret = pw_store__row(st, out, err);
  else if (rc == SQLITE_DONE)
    ret = pw_err_set(err, PW_ENOTFOUND, "no such profile");
  else
    ret = pw_store__db_err(s, "reading the profile", err);

  sqlite3_finalize(st);
  return ret;
}

int
pw_store_profile_get(pw_store_t *s, const char *id, pw_profile_t *out,
                     pw_err_t *err)
{
  return get_by(s, "SELECT id, name, revision, created, updated, doc "
                "FROM profiles WHERE id = ?", id, out, err);
}

int
pw_store_profile_get_by_name(pw_store_t *s, const char *name,
                             pw_profile_t *out, pw_err_t *err)
{
  return get_by(s, "SELECT id, name, revision, created, updated, doc "
                "FROM profiles WHERE name = ?", name, out, err);
}

/* After a write that changed no row: was the id missing or stale? */
static int
explain_miss(pw_store_t *s, const char *id, int64_t given, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  int ret, rc;

  ret = pw_store__prepare(s, "SELECT revision FROM profiles WHERE id = ?",
                          &st, err);
  if (ret != PW_OK)
    return ret;

  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    ret = pw_err_set(err, PW_ECONFLICT,
                     "revision: the profile is at revision %lld, not %lld",
                     (long long) sqlite3_column_int64(st, 0),
                     (long long) given);
  else if (rc == SQLITE_DONE)
    ret = pw_err_set(err, PW_ENOTFOUND, "no such profile");
  else
    ret = pw_store__db_err(s, "reading the profile", err);

  sqlite3_finalize(st);
  return ret;
}

int
pw_store_profile_update(pw_store_t *s, pw_profile_t *p, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  char *doc = NULL;
  int64_t now = now_s();
  int ret;

  if (!pw_profile_id_valid(p->id) || p->name == NULL)
    return pw_err_set(err, PW_EINVAL, "the profile has no id or name");
  doc = doc_text(p);
  if (doc == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  ret = pw_store__begin(s, true, err);
  if (ret != PW_OK)
    goto done;

  /* The revision in the WHERE clause makes the check and the write one. */
  ret = pw_store__prepare(s, "UPDATE profiles SET name = ?1, doc = ?2, "
                          "updated = max(?3, created), revision = revision + 1 "
                          "WHERE id = ?4 AND revision = ?5", &st, err);
  if (ret != PW_OK)
    goto done;
  sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, now);
  sqlite3_bind_text(st, 4, p->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, p->revision);
  if (sqlite3_step(st) != SQLITE_DONE) {
    ret = write_err(s, p, err);
    goto done;
  }
  if (sqlite3_changes(s->db) == 0) {
    ret = explain_miss(s, p->id, p->revision, err);
    goto done;
  }

  ret = insert_tags(s, p, err);
  if (ret == PW_OK)
    ret = pw_store__commit(s, err);
  if (ret == PW_OK) {
    p->revision++;
    p->updated = now > p->created ? now : p->created;
  }

done:
  if (ret != PW_OK)
    pw_store__rollback(s);
  sqlite3_finalize(st);
  free(doc);
  return ret;
}

int
pw_store_profile_delete(pw_store_t *s, const char *id,
                        int64_t expected_revision, unsigned flags,
                        pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  int ret;

  if (!pw_profile_id_valid(id))
    return pw_err_set(err, PW_ENOTFOUND, "no such profile");

  ret = pw_store__begin(s, true, err);
  if (ret != PW_OK)
    return ret;

  /* Tags go with the row through their foreign key. */
  ret = pw_store__prepare(s, "DELETE FROM profiles WHERE id = ?1 "
                          "AND (?2 < 0 OR revision = ?2)", &st, err);
  if (ret != PW_OK)
    goto done;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, expected_revision);
  if (sqlite3_step(st) != SQLITE_DONE) {
    ret = pw_store__db_err(s, "deleting the profile", err);
    goto done;
  }
  if (sqlite3_changes(s->db) == 0) {
    ret = explain_miss(s, id, expected_revision, err);
    goto done;
  }

  ret = pw_store__commit(s, err);
  if (ret == PW_OK && (flags & PW_STORE_PURGE))
    ret = purge_dir(s, id, err);

done:
  pw_store__rollback(s);
  sqlite3_finalize(st);
  return ret;
}

/*
 * The cursor is the last name of a page in hex, behind a letter that
 * leaves room for another form: clients treat it as opaque.
 */
static char *
cursor_encode(const char *name)
{
  static const char hex[] = "0123456789abcdef";
  size_t i, len = strlen(name);
  char *c;

  c = malloc(2 * len + 2);
  if (c == NULL)
    return NULL;
  c[0] = CURSOR_PREFIX;
  for (i = 0; i < len; i++) {
    c[1 + 2 * i] = hex[(unsigned char) name[i] >> 4];
    c[2 + 2 * i] = hex[(unsigned char) name[i] & 0xf];
  }
  c[1 + 2 * len] = '\0';
  return c;
}

static int
cursor_decode(const char *c, char **out, pw_err_t *err)
{
  size_t i, len = strlen(c);
  char *name;
  int hi, lo;

  /* A name is at most 128 characters of at most 4 bytes each. */
  if (c[0] != CURSOR_PREFIX || len % 2 != 1 || len < 3 ||
      len > 1 + 2 * 4 * PW_PROFILE_NAME_MAX)
    return pw_err_set(err, PW_EINVAL, "cursor: not one this store gave");

  name = malloc(len / 2 + 1);
  if (name == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  for (i = 0; i < len / 2; i++) {
    hi = c[1 + 2 * i];
    lo = c[2 + 2 * i];
    hi = hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : hi - '0';
    lo = lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : lo - '0';
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15 || (hi | lo) == 0) {
      free(name);
      return pw_err_set(err, PW_EINVAL, "cursor: not one this store gave");
    }
    name[i] = (char) (hi << 4 | lo);
  }
  name[len / 2] = '\0';

  *out = name;
  return PW_OK;
}

static int
list_sql(const pw_store_query_t *q, const char *after, char *sql,
         size_t size)
{
  const char *glue = " WHERE ";
  size_t n;

  /* Only constant fragments go into the text; values are bound. */
  n = (size_t) snprintf(sql, size, "SELECT id, name, revision, created, "
                        "updated, doc FROM profiles p");
  if (q->tag != NULL) {
    n += (size_t) snprintf(sql + n, size - n, "%sEXISTS (SELECT 1 FROM "
                           "profile_tags t WHERE t.profile_id = p.id AND "
                           "t.tag = :tag)", glue);
    glue = " AND ";
  }
  if (q->q != NULL) {
    n += (size_t) snprintf(sql + n, size - n,
                           "%sinstr(lower(p.name), lower(:q)) > 0", glue);
    glue = " AND ";
  }
  if (after != NULL)
    n += (size_t) snprintf(sql + n, size - n, "%sp.name > :after", glue);
  n += (size_t) snprintf(sql + n, size - n,
                         " ORDER BY p.name LIMIT :limit");
  return n < size ? PW_OK : PW_EINVAL;
}

void
pw_store__bind_named(sqlite3_stmt *st, const char *name,
                     const char *value)
{
  int i = sqlite3_bind_parameter_index(st, name);

  if (i > 0)
    sqlite3_bind_text(st, i, value, -1, SQLITE_STATIC);
}

/*
 * A growing text buffer for a listing.  Written by hand because the
 * listing splices stored JSON documents together: jansson would parse
 * each one only to write it out again, which costs most of a listing.
 */
typedef struct textbuf {
  char  *p;
  size_t len, cap;
  int    failed;
} textbuf_t;

static void
tb_add(textbuf_t *b, const char *s, size_t n)
{
  char *grown;
  size_t cap;

  if (b->failed)
    return;
  if (b->len + n + 1 > b->cap) {
    cap = b->cap == 0 ? 65536 : b->cap;
    while (b->len + n + 1 > cap)
      cap *= 2;
    grown = realloc(b->p, cap);
    if (grown == NULL) {
      b->failed = 1;
      return;
    }
    b->p = grown;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void
tb_str(textbuf_t *b, const char *s)
{
  tb_add(b, s, strlen(s));
}

/*
 * Appends a stored document as a listed profile: the store's own fields
 * first, then the document, its proxy password replaced by "***".
 *
 * The document is what doc_text() wrote: compact, "proxy" a top-level
 * member whose value is null or the URL the store normalised (user and
 * password percent-encoded, so the first "@" after "://" ends the
 * userinfo and its first ":" starts the password).  A string value
 * cannot hold the bytes "proxy":" unescaped, so the first match is the
 * member.
 */
static int
tb_profile(textbuf_t *b, sqlite3_stmt *st, pw_err_t *err)
{
  const char *id = (const char *) sqlite3_column_text(st, 0);
  const char *doc = (const char *) sqlite3_column_text(st, 5);
  const char *proxy, *info, *at, *colon, *end;
  char head[160];

  if (id == NULL || doc == NULL || doc[0] != '{' || doc[1] == '}')
    return pw_err_set(err, PW_EIO, "stored profile %s: not a document",
                      id != NULL ? id : "?");

  snprintf(head, sizeof(head), "{\"id\":\"%.36s\",\"revision\":%lld,"
           "\"created\":%lld,\"updated\":%lld,", id,
           (long long) sqlite3_column_int64(st, 2),
           (long long) sqlite3_column_int64(st, 3),
           (long long) sqlite3_column_int64(st, 4));
  tb_str(b, head);

  proxy = strstr(doc, "\"proxy\":\"");
  end = proxy != NULL ? strchr(proxy + 9, '"') : NULL;
  info = end != NULL ? strstr(proxy + 9, "://") : NULL;
  at = info != NULL && info < end ? memchr(info + 3, '@',
                                           (size_t) (end - info - 3))
                                  : NULL;
  colon = at != NULL ? memchr(info + 3, ':', (size_t) (at - info - 3))
                     : NULL;

  if (colon == NULL) {
    tb_str(b, doc + 1);
  } else {
    tb_add(b, doc + 1, (size_t) (colon + 1 - doc - 1));
    tb_str(b, "***");
    tb_str(b, at);
  }
  return b->failed ? pw_err_set(err, PW_ENOMEM, "out of memory") : PW_OK;
}

int
pw_store_profile_list_text(pw_store_t *s, const pw_store_query_t *q,
                           char **out, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  char sql[512], *after = NULL, *next = NULL, *last = NULL;
  textbuf_t b = { 0 };
  size_t limit, n = 0;
  int ret, rc;

  *out = NULL;
  if ((q->tag != NULL && strlen(q->tag) > 4 * PW_PROFILE_TAG_MAX) ||
      (q->q != NULL && strlen(q->q) > 4 * PW_PROFILE_NAME_MAX))
    return pw_err_set(err, PW_EINVAL, "tag or q: longer than a tag or a "
                      "name can be");
  limit = q->limit == 0 ? PW_STORE_LIST_DEFAULT : q->limit;
  if (limit > PW_STORE_LIST_MAX)
    limit = PW_STORE_LIST_MAX;
  if (q->cursor != NULL) {
    ret = cursor_decode(q->cursor, &after, err);
    if (ret != PW_OK)
      return ret;
  }

  ret = list_sql(q, after, sql, sizeof(sql));
  if (ret == PW_OK)
    ret = pw_store__prepare(s, sql, &st, err);
  if (ret != PW_OK)
    goto done;

  /* One row past the page says whether there is a next one. */
  pw_store__bind_named(st, ":tag", q->tag);
  pw_store__bind_named(st, ":q", q->q);
  pw_store__bind_named(st, ":after", after);
  sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"),
                     (sqlite3_int64) limit + 1);

  tb_str(&b, "{\"profiles\":[");
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == limit) {
      next = last != NULL ? cursor_encode(last) : NULL;
      if (next == NULL) {
        ret = pw_err_set(err, PW_ENOMEM, "out of memory");
        goto done;
      }
      break;
    }

    if (n > 0)
      tb_str(&b, ",");
    ret = tb_profile(&b, st, err);
    if (ret != PW_OK)
      goto done;

    free(last);
    last = strdup((const char *) sqlite3_column_text(st, 1));
    if (last == NULL) {
      ret = pw_err_set(err, PW_ENOMEM, "out of memory");
      goto done;
    }
    n++;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    ret = pw_store__db_err(s, "listing profiles", err);
    goto done;
  }

  /* The cursor is hex digits of our own: nothing to escape. */
  tb_str(&b, "],\"next\":");
  if (next != NULL) {
    tb_str(&b, "\"");
    tb_str(&b, next);
    tb_str(&b, "\"}");
  } else {
    tb_str(&b, "null}");
  }
  if (b.failed) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }

  *out = b.p;
  b.p = NULL;

done:
  sqlite3_finalize(st);
  free(b.p);
  free(after);
  free(next);
  free(last);
  return ret;
}

int
pw_store_profile_list(pw_store_t *s, const pw_store_query_t *q,
                      json_t **out, pw_err_t *err)
{
  json_error_t jerr;
  char *text = NULL;
  int ret;

  *out = NULL;
  ret = pw_store_profile_list_text(s, q, &text, err);
  if (ret != PW_OK)
    return ret;

  *out = json_loads(text, 0, &jerr);
  free(text);
  if (*out == NULL)
    return pw_err_set(err, PW_EIO, "a stored profile does not parse: %s",
                      jerr.text);
  return PW_OK;
}
