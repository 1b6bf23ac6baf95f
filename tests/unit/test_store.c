#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/alloc.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <sqlite3.h>

#include "engine/decision.h"
#include "profiles/store.h"
#include "tests/unit/cases.h"

#define PIN_A "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define PIN_B "sha256/BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA="

/*
 * Folders this test made; each test runs in a process of its own, so
 * the list is the test's, and the suite's fini removes them.
 */
static char *made[4];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(path);
}

static void
remove_made(void)
{
  size_t i;

  for (i = 0; i < NCASES(made) && made[i] != NULL; i++) {
    nftw(made[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(made[i]);
    made[i] = NULL;
  }
}

TestSuite(store, .fini = remove_made);

/* A fresh folder per test under PW_TEST_TMP (set by meson) or /tmp. */
static char *
tmp_dir(void)
{
  const char *base = getenv("PW_TEST_TMP");
  char *dir = NULL;
  size_t i;

  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  cr_assert(asprintf(&dir, "%s/pw-store-XXXXXX", base) > 0);
  cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));

  for (i = 0; i < NCASES(made) && made[i] != NULL; i++)
    ;
  cr_assert_lt(i, NCASES(made), "more temp folders than the list holds");
  made[i] = strdup(dir);
  return dir;
}

static char *
data_dir(void)
{
  char *base = tmp_dir(), *d = NULL;

  /* Below the temp folder, so the store creates it and its mode shows. */
  cr_assert(asprintf(&d, "%s/data", base) > 0);
  free(base);
  return d;
}

static pw_store_t *
open_store(const char *dir)
{
  pw_store_t *s = NULL;
  pw_err_t err = { 0 };
  int rc;

  rc = pw_store_open(&s, dir, &err);
  cr_assert_eq(rc, PW_OK, "open %s: %s %s", dir, pw_err_name(rc), err.msg);
  return s;
}

/* Parses doc and stores it as a new profile. */
static void
create(pw_store_t *s, const char *doc, pw_profile_t *p)
{
  pw_err_t err = { 0 };
  int rc;

  pw_profile_init(p);
  rc = pw_profile_parse(p, doc, strlen(doc), 0, &err);
  cr_assert_eq(rc, PW_OK, "parse %s: %s", doc, err.msg);
  rc = pw_store_profile_create(s, p, &err);
  cr_assert_eq(rc, PW_OK, "create %s: %s %s", doc, pw_err_name(rc),
               err.msg);
}

static size_t
count_profiles(pw_store_t *s)
{
  pw_store_query_t q = { .limit = PW_STORE_LIST_MAX };
  json_t *out = NULL;
  size_t n;

  cr_assert_eq(pw_store_profile_list(s, &q, &out, NULL), PW_OK);
  n = json_array_size(json_object_get(out, "profiles"));
  json_decref(out);
  return n;
}

static unsigned
mode_of(const char *path)
{
  struct stat st;

  cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
  return (unsigned) (st.st_mode & 07777);
}

static bool
exists(const char *path)
{
  struct stat st;

  return stat(path, &st) == 0;
}

static char *
join(const char *a, const char *b)
{
  char *p = NULL;

  cr_assert(asprintf(&p, "%s/%s", a, b) > 0);
  return p;
}

/* ---- data folder ------------------------------------------------------ */

struct dir_case {
  const char *flag;
  const char *xdg;
  const char *home;
  const char *want;
};

static const struct dir_case dir_cases[] = {
  /* --data-dir wins over everything. */
  { "/srv/pw", "/x", "/home/u", "/srv/pw" },
  /* Then XDG_DATA_HOME. */
  { NULL, "/x/share", "/home/u", "/x/share/pinwarden" },
  /* A relative XDG_DATA_HOME is invalid by the spec and ignored. */
  { NULL, "rel/share", "/home/u", "/home/u/.local/share/pinwarden" },
  /* An empty one too. */
  { NULL, "", "/home/u", "/home/u/.local/share/pinwarden" },
  /* Then HOME. */
  { NULL, NULL, "/home/u", "/home/u/.local/share/pinwarden" },
};

ParameterizedTestParameters(store, data_dir)
{
  return case_indices(NCASES(dir_cases));
}

ParameterizedTest(size_t *i, store, data_dir)
{
  const struct dir_case *c = &dir_cases[*i];
  char *got = NULL;

  /* Each case runs in a process of its own: the environment is ours. */
  if (c->xdg != NULL)
    setenv("XDG_DATA_HOME", c->xdg, 1);
  else
    unsetenv("XDG_DATA_HOME");
  setenv("HOME", c->home, 1);

  cr_assert_eq(pw_store_data_dir(c->flag, &got, NULL), PW_OK);
  cr_assert_str_eq(got, c->want, "case %zu: got %s want %s", *i, got,
                   c->want);
  free(got);
}

/* ---- files and modes -------------------------------------------------- */

Test(store, file_modes)
{
  char *dir = data_dir(), *db, *wal, *profiles, *pdir = NULL;
  pw_store_t *s;
  pw_profile_t p;

  /* With no umask to help, the modes must come from the code. */
  umask(0);
  s = open_store(dir);
  create(s, "{\"name\":\"m\"}", &p);

  db = join(dir, PW_STORE_DB_NAME);
  wal = join(dir, PW_STORE_DB_NAME "-wal");
  profiles = join(dir, "profiles");
  cr_assert_eq(pw_store_profile_dir(s, p.id, &pdir, NULL), PW_OK);

  cr_assert_eq(mode_of(dir), 0700, "data: got %o want 700", mode_of(dir));
  cr_assert_eq(mode_of(profiles), 0700, "profiles: got %o want 700",
               mode_of(profiles));
  cr_assert_eq(mode_of(pdir), 0700, "profile: got %o want 700",
               mode_of(pdir));
  cr_assert_eq(mode_of(db), 0600, "db: got %o want 600", mode_of(db));
  cr_assert_eq(mode_of(wal), 0600, "wal: got %o want 600", mode_of(wal));

  pw_profile_clear(&p);
  pw_store_close(s);
  free(dir);
  free(db);
  free(wal);
  free(profiles);
  free(pdir);
}

Test(store, pragmas)
{
  char *dir = data_dir(), *db;
  sqlite3 *raw;
  sqlite3_stmt *st;
  pw_store_t *s;

  s = open_store(dir);
  cr_assert_eq(pw_store_schema_version(s), PW_STORE_SCHEMA_VERSION);
  pw_store_close(s);

  /* WAL is a property of the file, seen from any connection. */
  db = join(dir, PW_STORE_DB_NAME);
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  cr_assert_eq(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st,
                                  NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_str_eq((const char *) sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(raw);
  free(db);
  free(dir);
}

/* ---- profiles --------------------------------------------------------- */

Test(store, crud_and_revisions)
{
  char *dir = data_dir(), *pdir = NULL;
  pw_store_t *s = open_store(dir);
  pw_profile_t p, got, stale;
  pw_err_t err = { 0 };
  json_t *patch;
  int rc;

  create(s, "{\"name\":\"Shop\",\"tags\":[\"eu\"],"
         "\"proxy\":\"http://u:pw@h.example:3128\"}", &p);
  cr_assert(pw_profile_id_valid(p.id), "id %s", p.id);
  cr_assert_eq(p.revision, 1, "got %lld want 1", (long long) p.revision);
  cr_assert_neq(p.created, 0);
  cr_assert_eq(pw_store_profile_dir(s, p.id, &pdir, NULL), PW_OK);
  cr_assert(exists(pdir), "no folder %s", pdir);

  /* By id and by name, with the password kept in the store. */
  pw_profile_init(&got);
  cr_assert_eq(pw_store_profile_get(s, p.id, &got, &err), PW_OK, "%s",
               err.msg);
  cr_assert_str_eq(got.name, "Shop");
  cr_assert_str_eq(got.proxy.password, "pw");
  cr_assert_eq(pw_store_profile_get_by_name(s, "Shop", &got, &err), PW_OK);
  cr_assert_str_eq(got.id, p.id);

  /* A second profile may not take the name, in any case. */
  pw_profile_init(&stale);
  cr_assert_eq(pw_profile_parse(&stale, "{\"name\":\"SHOP\"}", 15, 0, NULL),
               PW_OK);
  rc = pw_store_profile_create(s, &stale, &err);
  cr_assert_eq(rc, PW_ECONFLICT, "got %s want ECONFLICT", pw_err_name(rc));
  cr_assert(strstr(err.msg, "name: 'SHOP' is taken") != NULL, "%s",
            err.msg);
  pw_profile_clear(&stale);

  /* An update bumps the revision. */
  pw_profile_copy(&stale, &got, NULL);
  patch = json_pack("{s:s,s:[s,s]}", "name", "Shop 2", "tags", "eu", "b");
  cr_assert_eq(pw_profile_apply_json(&got, patch, NULL), PW_OK);
  rc = pw_store_profile_update(s, &got, &err);
  cr_assert_eq(rc, PW_OK, "update: %s %s", pw_err_name(rc), err.msg);
  cr_assert_eq(got.revision, 2, "got %lld want 2", (long long) got.revision);

  /* The old copy is stale now. */
  rc = pw_store_profile_update(s, &stale, &err);
  cr_assert_eq(rc, PW_ECONFLICT, "got %s want ECONFLICT", pw_err_name(rc));
  cr_assert(strstr(err.msg, "at revision 2, not 1") != NULL, "%s",
            err.msg);
  rc = pw_store_profile_delete(s, p.id, 1, 0, &err);
  cr_assert_eq(rc, PW_ECONFLICT, "got %s want ECONFLICT", pw_err_name(rc));

  /* Delete at the right revision, with a purge of the folder. */
  rc = pw_store_profile_delete(s, p.id, 2, PW_STORE_PURGE, &err);
  cr_assert_eq(rc, PW_OK, "delete: %s", err.msg);
  cr_assert_not(exists(pdir), "folder %s still there", pdir);
  rc = pw_store_profile_get(s, p.id, &got, &err);
  cr_assert_eq(rc, PW_ENOTFOUND, "got %s want ENOTFOUND", pw_err_name(rc));
  rc = pw_store_profile_delete(s, p.id, PW_STORE_ANY_REVISION, 0, &err);
  cr_assert_eq(rc, PW_ENOTFOUND, "got %s want ENOTFOUND", pw_err_name(rc));

  json_decref(patch);
  pw_profile_clear(&p);
  pw_profile_clear(&got);
  pw_profile_clear(&stale);
  pw_store_close(s);
  free(pdir);
  free(dir);
}

Test(store, delete_keeps_folder_without_purge)
{
  char *dir = data_dir(), *pdir = NULL, *cookie;
  pw_store_t *s = open_store(dir);
  pw_profile_t p;
  FILE *f;

  create(s, "{\"name\":\"k\"}", &p);
  cr_assert_eq(pw_store_profile_dir(s, p.id, &pdir, NULL), PW_OK);
  cookie = join(pdir, "Cookies");
  f = fopen(cookie, "w");
  cr_assert_not_null(f);
  fclose(f);

  cr_assert_eq(pw_store_profile_delete(s, p.id, PW_STORE_ANY_REVISION, 0,
                                       NULL), PW_OK);
  cr_assert(exists(cookie), "the browser data went without a purge");

  pw_profile_clear(&p);
  pw_store_close(s);
  free(cookie);
  free(pdir);
  free(dir);
}

Test(store, two_handles_conflict)
{
  char *dir = data_dir();
  pw_store_t *a = open_store(dir), *b = open_store(dir);
  pw_profile_t p, pa, pb;
  pw_err_t err = { 0 };
  int rc;

  create(a, "{\"name\":\"shared\"}", &p);

  /* Both read revision 1. */
  pw_profile_init(&pa);
  pw_profile_init(&pb);
  cr_assert_eq(pw_store_profile_get(a, p.id, &pa, NULL), PW_OK);
  cr_assert_eq(pw_store_profile_get(b, p.id, &pb, NULL), PW_OK);
  cr_assert_eq(pa.revision, pb.revision);

  /* The first writer wins. */
  free(pa.name);
  pa.name = strdup("from-a");
  rc = pw_store_profile_update(a, &pa, &err);
  cr_assert_eq(rc, PW_OK, "a: %s", err.msg);

  /* The second learns it worked on a stale copy, and nothing changes. */
  free(pb.name);
  pb.name = strdup("from-b");
  rc = pw_store_profile_update(b, &pb, &err);
  cr_assert_eq(rc, PW_ECONFLICT, "b: got %s want ECONFLICT",
               pw_err_name(rc));
  cr_assert_eq(pw_store_profile_get(b, p.id, &pb, NULL), PW_OK);
  cr_assert_str_eq(pb.name, "from-a", "got %s want from-a", pb.name);
  cr_assert_eq(pb.revision, 2, "got %lld", (long long) pb.revision);

  pw_profile_clear(&p);
  pw_profile_clear(&pa);
  pw_profile_clear(&pb);
  pw_store_close(a);
  pw_store_close(b);
  free(dir);
}

/* ---- listing ---------------------------------------------------------- */

struct list_case {
  const char *tag;
  const char *q;
  size_t      limit;
  const char *want;     /* names of the first page, comma-separated */
  bool        more;     /* whether "next" is set */
};

static const struct list_case list_cases[] = {
  /* Everything, in name order. */
  { NULL, NULL, 0, "alpha,beta,delta,gamma,omega", false },
  /* By tag. */
  { "eu", NULL, 0, "alpha,delta,omega", false },
  /* By a substring of the name, ASCII case ignored. */
  { NULL, "ETA", 0, "beta", false },
  /* Both. */
  { "eu", "a", 0, "alpha,delta,omega", false },
  /* A limit leaves a cursor. */
  { NULL, NULL, 2, "alpha,beta", true },
  /* An exact fit leaves none. */
  { NULL, NULL, 5, "alpha,beta,delta,gamma,omega", false },
  /* A tag nobody has. */
  { "none", NULL, 0, "", false },
  /* LIKE wildcards are plain characters here. */
  { NULL, "%", 0, "", false },
};

static const char *const list_docs[] = {
  "{\"name\":\"gamma\",\"tags\":[\"us\"]}",
  "{\"name\":\"alpha\",\"tags\":[\"eu\",\"x\"]}",
  "{\"name\":\"omega\",\"tags\":[\"eu\"]}",
  "{\"name\":\"beta\"}",
  "{\"name\":\"delta\",\"tags\":[\"eu\"],"
  "\"proxy\":\"socks5://u:hidden@h.example\"}",
};

static pw_store_t *
list_fixture(char **dir)
{
  pw_store_t *s;
  pw_profile_t p;
  size_t i;

  *dir = data_dir();
  s = open_store(*dir);
  for (i = 0; i < NCASES(list_docs); i++) {
    create(s, list_docs[i], &p);
    pw_profile_clear(&p);
  }
  return s;
}

static char *
names_of(const json_t *page)
{
  const json_t *p;
  char buf[256] = "";
  size_t i;

  json_array_foreach(json_object_get(page, "profiles"), i, p) {
    if (i > 0)
      strcat(buf, ",");
    strcat(buf, json_string_value(json_object_get(p, "name")));
  }
  return strdup(buf);
}

ParameterizedTestParameters(store, list)
{
  return case_indices(NCASES(list_cases));
}

ParameterizedTest(size_t *i, store, list)
{
  const struct list_case *c = &list_cases[*i];
  pw_store_query_t q = { c->tag, c->q, c->limit, NULL };
  char *dir, *names;
  pw_store_t *s = list_fixture(&dir);
  pw_err_t err = { 0 };
  json_t *out = NULL;
  int rc;

  rc = pw_store_profile_list(s, &q, &out, &err);
  cr_assert_eq(rc, PW_OK, "case %zu: %s", *i, err.msg);
  names = names_of(out);
  cr_assert_str_eq(names, c->want, "case %zu: got %s want %s", *i, names,
                   c->want);
  cr_assert_eq(json_is_string(json_object_get(out, "next")), c->more,
               "case %zu: next is %s", *i,
               json_dumps(json_object_get(out, "next"), JSON_ENCODE_ANY));

  free(names);
  json_decref(out);
  pw_store_close(s);
  free(dir);
}

Test(store, list_pages_and_redaction)
{
  pw_store_query_t q = { NULL, NULL, 2, NULL };
  char *dir, *names, *text, all[256] = "", *next = NULL;
  pw_store_t *s = list_fixture(&dir);
  pw_err_t err = { 0 };
  json_t *out = NULL;
  int pages = 0, rc;

  /* Following "next" visits every profile once, in order. */
  do {
    rc = pw_store_profile_list(s, &q, &out, &err);
    free(next);
    next = NULL;
    cr_assert_eq(rc, PW_OK, "page %d: %s", pages, err.msg);
    names = names_of(out);
    if (names[0] != '\0')
      strcat(strcat(all, all[0] != '\0' ? "," : ""), names);
    if (json_is_string(json_object_get(out, "next")))
      next = strdup(json_string_value(json_object_get(out, "next")));

    /* A listing never shows a proxy password. */
    text = json_dumps(out, 0);
    cr_assert_null(strstr(text, "hidden"), "page %d: %s", pages, text);
    free(text);

    free(names);
    json_decref(out);
    q.cursor = next;
    pages++;
  } while (next != NULL);

  cr_assert_str_eq(all, "alpha,beta,delta,gamma,omega", "got %s", all);
  cr_assert_eq(pages, 3, "got %d pages want 3", pages);

  /* A cursor the store did not write. */
  q.cursor = "zzz";
  rc = pw_store_profile_list(s, &q, &out, &err);
  cr_assert_eq(rc, PW_EINVAL, "got %s want EINVAL", pw_err_name(rc));

  pw_store_close(s);
  free(dir);
}

/* ---- migrations ------------------------------------------------------- */

/* Version 1 of the schema as it was released, written by hand. */
static const char schema_v1[] =
  "CREATE TABLE profiles (id TEXT PRIMARY KEY NOT NULL,"
  "  name TEXT NOT NULL UNIQUE COLLATE NOCASE, revision INTEGER NOT NULL,"
  "  created INTEGER NOT NULL, updated INTEGER NOT NULL,"
  "  doc TEXT NOT NULL) STRICT;"
  "CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL,"
  "  value TEXT NOT NULL, revision INTEGER NOT NULL) STRICT;"
  "INSERT INTO profiles VALUES ('9b2f0c1e-1111-4222-8333-444455556666',"
  "  'old', 5, 1700000000, 1700000500,"
  "  '{\"name\":\"old\",\"tags\":[\"legacy\",\"eu\"],"
  "\"proxy\":\"http://u:pw@h.example:3128\"}');"
  "INSERT INTO settings VALUES ('default_pins', '[]', 3);"
  "PRAGMA user_version = 1;";

static void
write_raw(const char *dir, const char *sql)
{
  char *db;
  sqlite3 *raw;

  cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s: %s", dir, strerror(errno));
  db = join(dir, PW_STORE_DB_NAME);
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK, "%s",
               sqlite3_errmsg(raw));
  sqlite3_close(raw);
  free(db);
}

Test(store, migrates_v1)
{
  char *dir = data_dir(), *names;
  pw_store_query_t q = { "legacy", NULL, 0, NULL };
  pw_store_t *s;
  pw_profile_t p;
  json_t *out = NULL, *pins = NULL;
  int64_t rev = 0;

  write_raw(dir, schema_v1);
  s = open_store(dir);
  cr_assert_eq(pw_store_schema_version(s), PW_STORE_SCHEMA_VERSION,
               "got %d want %d", pw_store_schema_version(s),
               PW_STORE_SCHEMA_VERSION);

  /* The row, its revision and its secret came through. */
  pw_profile_init(&p);
  cr_assert_eq(pw_store_profile_get_by_name(s, "old", &p, NULL), PW_OK);
  cr_assert_eq(p.revision, 5, "got %lld", (long long) p.revision);
  cr_assert_str_eq(p.proxy.password, "pw");

  /* Its tags were copied into the version 2 table. */
  cr_assert_eq(pw_store_profile_list(s, &q, &out, NULL), PW_OK);
  names = names_of(out);
  cr_assert_str_eq(names, "old", "got %s", names);

  /* So were the settings. */
  cr_assert_eq(pw_store_default_pins_get(s, &pins, &rev, NULL), PW_OK);
  cr_assert_eq(rev, 3, "got %lld", (long long) rev);

  free(names);
  json_decref(out);
  json_decref(pins);
  pw_profile_clear(&p);
  pw_store_close(s);
  free(dir);
}

Test(store, refuses_newer_schema)
{
  char *dir = data_dir();
  pw_store_t *s = NULL;
  pw_err_t err = { 0 };
  int rc;

  write_raw(dir, "CREATE TABLE x(a); PRAGMA user_version = 99;");
  rc = pw_store_open(&s, dir, &err);
  cr_assert_eq(rc, PW_EINVAL, "got %s want EINVAL", pw_err_name(rc));
  cr_assert_null(s);
  cr_assert(strstr(err.msg, "schema version 99, newer") != NULL, "%s",
            err.msg);
  free(dir);
}

/* ---- import and export ------------------------------------------------ */

static const struct {
  const char *doc;
  const char *msg;
} bad_imports[] = {
  /* A bad profile after good ones: none of them is added. */
  { "{\"version\":1,\"profiles\":[{\"name\":\"n1\"},{\"name\":\"n2\"},"
    "{\"name\":\"n3\",\"tags\":7}]}", "profiles[2]: tags: " },

  /* A name the store already has, in another case. */
  { "{\"version\":1,\"profiles\":[{\"name\":\"n1\"},{\"name\":\"TAKEN\"}]}",
    "profiles[1]: name: 'TAKEN' is taken" },

  /* An id the store already has. */
  { "{\"version\":1,\"profiles\":[{\"name\":\"n1\"},{\"name\":\"n2\","
    "\"id\":\"9b2f0c1e-1111-4222-8333-444455556666\"}]}",
    "profiles[1]: id: 9b2f0c1e-1111-4222-8333-444455556666 exists" },

  /* Not an export at all. */
  { "[]", "an export must be a JSON object" },

  /* Truncated. */
  { "{\"version\":1,\"profiles\":[{\"name\":\"n1\"}", "not JSON" },
};

ParameterizedTestParameters(store, import_all_or_nothing)
{
  return case_indices(NCASES(bad_imports));
}

ParameterizedTest(size_t *i, store, import_all_or_nothing)
{
  static const char seed[] =
    "{\"version\":1,\"profiles\":[{\"name\":\"taken\","
    "\"id\":\"9b2f0c1e-1111-4222-8333-444455556666\"}]}";
  char *dir = data_dir(), *profiles;
  pw_store_t *s = open_store(dir);
  pw_err_t err = { 0 };
  size_t n = 7, before;
  int rc;

  cr_assert_eq(pw_store_import(s, seed, strlen(seed), &n, &err), PW_OK,
               "%s", err.msg);
  cr_assert_eq(n, 1);
  before = count_profiles(s);

  rc = pw_store_import(s, bad_imports[*i].doc, strlen(bad_imports[*i].doc),
                       &n, &err);
  cr_assert_neq(rc, PW_OK, "case %zu: imported", *i);
  cr_assert(strstr(err.msg, bad_imports[*i].msg) != NULL,
            "case %zu: got '%s' want '%s'", *i, err.msg,
            bad_imports[*i].msg);
  cr_assert_eq(n, 0, "case %zu: count %zu", *i, n);
  cr_assert_eq(count_profiles(s), before, "case %zu: got %zu want %zu", *i,
               count_profiles(s), before);

  /* No data folder was left behind by the profiles that were undone. */
  profiles = join(dir, "profiles");
  {
    char *cmd = NULL;
    int files;

    cr_assert(asprintf(&cmd, "test $(ls %s | wc -l) -eq 1", profiles) > 0);
    files = system(cmd);
    cr_assert_eq(files, 0, "case %zu: stray folders in %s", *i, profiles);
    free(cmd);
  }

  free(profiles);
  pw_store_close(s);
  free(dir);
}

Test(store, export_import_round_trip)
{
  char *dir_a = data_dir(), *dir_b = data_dir(), *text;
  pw_store_t *a = open_store(dir_a), *b = open_store(dir_b);
  pw_profile_t p, q, got;
  const char *ids[1];
  json_t *doc = NULL;
  pw_err_t err = { 0 };
  size_t n = 0;
  int rc;

  create(a, "{\"name\":\"one\",\"proxy\":\"socks5h://u:secret@h.example\","
         "\"pins\":[{\"pattern\":\"*.example.com\",\"pins\":[\"" PIN_A
         "\",\"" PIN_B "\"]}]}", &p);
  create(a, "{\"name\":\"two\"}", &q);

  /* Export by id keeps the secret when asked: it moves the profile. */
  ids[0] = p.id;
  cr_assert_eq(pw_store_export(a, ids, 1, PW_PROFILE_SECRETS, &doc, &err),
               PW_OK, "%s", err.msg);
  cr_assert_eq(json_array_size(json_object_get(doc, "profiles")), 1);
  text = json_dumps(doc, 0);
  cr_assert_not_null(strstr(text, "u:secret@"), "%s", text);

  rc = pw_store_import(b, text, strlen(text), &n, &err);
  cr_assert_eq(rc, PW_OK, "import: %s", err.msg);
  cr_assert_eq(n, 1);
  pw_profile_init(&got);
  cr_assert_eq(pw_store_profile_get(b, p.id, &got, &err), PW_OK, "%s",
               err.msg);
  cr_assert_str_eq(got.proxy.password, "secret");
  cr_assert_eq(got.created, p.created);
  cr_assert_eq(got.revision, 1);
  free(text);
  json_decref(doc);

  /* Export of all, redacted; an unknown id is an error. */
  cr_assert_eq(pw_store_export(a, NULL, 0, PW_PROFILE_REDACT, &doc, NULL),
               PW_OK);
  cr_assert_eq(json_array_size(json_object_get(doc, "profiles")), 2);
  text = json_dumps(doc, 0);
  cr_assert_null(strstr(text, "secret"), "%s", text);
  free(text);
  json_decref(doc);
  ids[0] = "00000000-0000-4000-8000-000000000000";
  rc = pw_store_export(a, ids, 1, 0, &doc, &err);
  cr_assert_eq(rc, PW_ENOTFOUND, "got %s", pw_err_name(rc));
  cr_assert(strstr(err.msg, "ids[0]: ") != NULL, "%s", err.msg);

  pw_profile_clear(&p);
  pw_profile_clear(&q);
  pw_profile_clear(&got);
  pw_store_close(a);
  pw_store_close(b);
  free(dir_a);
  free(dir_b);
}

/* ---- default pins ----------------------------------------------------- */

Test(store, default_pins)
{
  char *dir = data_dir();
  pw_store_t *s = open_store(dir);
  json_t *pins = NULL, *got = NULL, *bad;
  pw_err_t err = { 0 };
  int64_t rev = -5;
  int rc;

  cr_assert_eq(pw_store_default_pins_get(s, &got, &rev, NULL), PW_OK);
  cr_assert_eq(json_array_size(got), 0);
  cr_assert_eq(rev, 0, "got %lld", (long long) rev);
  json_decref(got);

  pins = json_pack("[{s:s,s:[s,s]}]", "pattern", "bank.example",
                   "pins", PIN_A, PIN_B);
  rc = pw_store_default_pins_set(s, pins, 0, &rev, &err);
  cr_assert_eq(rc, PW_OK, "%s", err.msg);
  cr_assert_eq(rev, 1);

  /* A writer that read revision 0 is too late. */
  rc = pw_store_default_pins_set(s, pins, 0, NULL, &err);
  cr_assert_eq(rc, PW_ECONFLICT, "got %s", pw_err_name(rc));

  /* The same rules as a profile's pins. */
  bad = json_pack("[{s:s,s:[s]}]", "pattern", "a.*.example", "pins", PIN_A);
  rc = pw_store_default_pins_set(s, bad, PW_STORE_ANY_REVISION, NULL, &err);
  cr_assert_eq(rc, PW_EINVAL, "got %s", pw_err_name(rc));
  cr_assert(strstr(err.msg, "pins[0]: ") != NULL, "%s", err.msg);

  cr_assert_eq(pw_store_default_pins_get(s, &got, &rev, NULL), PW_OK);
  cr_assert(json_equal(got, pins), "got %s", json_dumps(got, 0));
  cr_assert_eq(rev, 1);

  json_decref(got);
  json_decref(pins);
  json_decref(bad);
  pw_store_close(s);
  free(dir);
}

/* ---- decision log ----------------------------------------------------- */

static void
add_decision(pw_store_t *s, const char *profile, const char *host,
             pw_action_t action, int64_t at)
{
  pw_decision_t d;
  pw_err_t err = { 0 };
  json_t *j;
  int rc;

  pw_decision_init(&d);
  d.action = action;
  d.reason = PW_REASON_NO_POLICY;
  snprintf(d.profile, sizeof(d.profile), "%s", profile);
  snprintf(d.host, sizeof(d.host), "%s", host);
  d.port = 443;
  d.at = at;
  j = pw_decision_to_json(&d);
  cr_assert_not_null(j);

  rc = pw_store_decision_add(s, j, &err);
  cr_assert_eq(rc, PW_OK, "add: %s %s", pw_err_name(rc), err.msg);
  json_decref(j);
  pw_decision_clear(&d);
}

static size_t
count_decisions(pw_store_t *s)
{
  pw_decision_query_t q = { .limit = PW_STORE_LIST_MAX };
  json_t *out = NULL;
  size_t n;

  cr_assert_eq(pw_store_decision_query(s, &q, &out, NULL), PW_OK);
  n = json_array_size(out);
  json_decref(out);
  return n;
}

Test(store, decisions_keep_count)
{
  char *dir = data_dir();
  pw_store_t *s = open_store(dir);
  int64_t now = (int64_t) time(NULL);
  pw_decision_query_t q = { .limit = 10 };
  static const char *const want[] = { "h4.example", "h3.example",
                                      "h2.example" };
  json_t *out = NULL;
  const char *host;
  char name[32];
  size_t i;

  pw_store_set_retention(s, 3, 0);
  for (i = 0; i < 5; i++) {
    snprintf(name, sizeof(name), "h%zu.example", i);
    add_decision(s, "", name, PW_ACTION_ALLOW, now - 10 + (int64_t) i);
  }

  /* The three newest are left, newest first. */
  cr_assert_eq(pw_store_decision_query(s, &q, &out, NULL), PW_OK);
  cr_assert_eq(json_array_size(out), 3, "got %zu want 3",
               json_array_size(out));
  for (i = 0; i < 3; i++) {
    host = json_string_value(json_object_get(json_array_get(out, i),
                                             "host"));
    cr_assert_str_eq(host, want[i], "row %zu: got %s want %s", i, host,
                     want[i]);
  }

  json_decref(out);
  pw_store_close(s);
  free(dir);
}

Test(store, decisions_keep_age)
{
  char *dir = data_dir();
  pw_store_t *s = open_store(dir);
  int64_t now = (int64_t) time(NULL);
  size_t n;

  pw_store_set_retention(s, 0, 24 * 3600);
  add_decision(s, "", "a.example", PW_ACTION_BLOCK, now - 3 * 24 * 3600);
  add_decision(s, "", "a.example", PW_ACTION_BLOCK, now - 3600);

  /* Age counts from the recording, not from the time a decision is for. */
  n = count_decisions(s);
  cr_assert_eq(n, 2, "got %zu want 2", n);

  /* Half a day on, both are still young enough. */
  cr_assert_eq(pw_store_decision_prune(s, now + 12 * 3600, NULL), PW_OK);
  n = count_decisions(s);
  cr_assert_eq(n, 2, "got %zu want 2", n);

  /* Two days on, both have gone. */
  cr_assert_eq(pw_store_decision_prune(s, now + 2 * 24 * 3600, NULL),
               PW_OK);
  n = count_decisions(s);
  cr_assert_eq(n, 0, "got %zu want 0", n);

  pw_store_close(s);
  free(dir);
}

/* Version 2's decision log as it was released, with one record. */
static const char schema_v2_decisions[] =
  "CREATE TABLE decisions (id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
  "  profile TEXT NOT NULL, host TEXT NOT NULL, action TEXT NOT NULL,"
  "  doc TEXT NOT NULL) STRICT;"
  "INSERT INTO decisions(at, profile, host, action, doc) VALUES"
  "  (1790000000, '', 'old.example', 'block', '{\"host\":\"old.example\"}');";

/* Version 2 to 3: decisions keep their records, recorded at their time. */
Test(store, migrates_v2_decisions)
{
  char *dir = data_dir(), *db, *sql;
  sqlite3 *raw;
  sqlite3_stmt *st;
  pw_store_t *s;

  cr_assert_neq(asprintf(&sql, "%.*s%sPRAGMA user_version = 2;",
                         (int) (sizeof(schema_v1) - 1
                                - strlen("PRAGMA user_version = 1;")),
                         schema_v1, schema_v2_decisions), -1);
  write_raw(dir, sql);
  s = open_store(dir);
  cr_assert_eq(pw_store_schema_version(s), PW_STORE_SCHEMA_VERSION);

  /* Retention far off: the old record must survive the migration. */
  pw_store_set_retention(s, 0, INT64_C(1) << 40);
  cr_expect_eq(count_decisions(s), 1, "the record was lost");
  pw_store_close(s);

  db = join(dir, PW_STORE_DB_NAME);
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  cr_assert_eq(sqlite3_prepare_v2(raw, "SELECT recorded FROM decisions",
                                  -1, &st, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_expect_eq(sqlite3_column_int64(st, 0), 1790000000,
               "recorded %lld", (long long) sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(raw);

  free(db);
  free(sql);
  free(dir);
}

#define P1 "11111111-1111-4111-8111-111111111111"
#define P2 "22222222-2222-4222-8222-222222222222"
#define T0 INT64_C(1790000000)

struct dq_case {
  pw_decision_query_t q;
  size_t              want;
  const char         *first_host;   /* of the newest match, or NULL */
};

static const struct dq_case dq_cases[] = {
  /* Everything. */
  { { NULL, NULL, NULL, 0, 0 }, 6, "c.example" },
  /* One profile. */
  { { P1, NULL, NULL, 0, 0 }, 4, "b.example" },
  /* One host, written as a user would. */
  { { NULL, "A.Example.", NULL, 0, 0 }, 3, "a.example" },
  /* One action. */
  { { NULL, NULL, "block", 0, 0 }, 2, "c.example" },
  /* Since a time: inclusive. */
  { { NULL, NULL, NULL, T0 + 4, 0 }, 2, "c.example" },
  /* A limit. */
  { { NULL, NULL, NULL, 0, 1 }, 1, "c.example" },
  /* Everything at once. */
  { { P1, "a.example", "allow", T0 + 1, 0 }, 1, "a.example" },
};

ParameterizedTestParameters(store, decisions_query)
{
  return case_indices(NCASES(dq_cases));
}

ParameterizedTest(size_t *i, store, decisions_query)
{
  const struct dq_case *c = &dq_cases[*i];
  char *dir = data_dir();
  pw_store_t *s = open_store(dir);
  json_t *out = NULL;
  pw_err_t err = { 0 };
  const char *host;

  /* Far from now: age retention off for the test. */
  pw_store_set_retention(s, 0, INT64_C(1) << 40);
  add_decision(s, P1, "a.example", PW_ACTION_ALLOW, T0);
  add_decision(s, P1, "a.example", PW_ACTION_ALLOW, T0 + 1);
  add_decision(s, P2, "a.example", PW_ACTION_REPORT, T0 + 2);
  add_decision(s, P1, "b.example", PW_ACTION_BLOCK, T0 + 3);
  add_decision(s, P1, "b.example", PW_ACTION_UPGRADE, T0 + 4);
  add_decision(s, "", "c.example", PW_ACTION_BLOCK, T0 + 5);

  cr_assert_eq(pw_store_decision_query(s, &c->q, &out, &err), PW_OK,
               "case %zu: %s", *i, err.msg);
  cr_assert_eq(json_array_size(out), c->want, "case %zu: got %zu want %zu",
               *i, json_array_size(out), c->want);
  if (c->first_host != NULL) {
    host = json_string_value(json_object_get(json_array_get(out, 0),
                                             "host"));
    cr_assert_str_eq(host, c->first_host, "case %zu: got %s want %s", *i,
                     host, c->first_host);
  }

  json_decref(out);
  pw_store_close(s);
  free(dir);
}

Test(store, decisions_bad_input)
{
  char *dir = data_dir();
  pw_store_t *s = open_store(dir);
  pw_decision_query_t q = { .action = "maybe" };
  json_t *out = NULL, *d;
  pw_err_t err = { 0 };
  int rc;

  rc = pw_store_decision_query(s, &q, &out, &err);
  cr_assert_eq(rc, PW_EINVAL, "got %s", pw_err_name(rc));
  cr_assert(strstr(err.msg, "action: ") != NULL, "%s", err.msg);

  d = json_pack("{s:s,s:s,s:s}", "action", "allow", "host", "a.example",
                "at", "yesterday");
  rc = pw_store_decision_add(s, d, &err);
  cr_assert_eq(rc, PW_EINVAL, "got %s", pw_err_name(rc));
  cr_assert(strstr(err.msg, "decision: at: ") != NULL, "%s", err.msg);
  json_decref(d);

  pw_store_close(s);
  free(dir);
}

/*
 * A listing is spliced from the stored documents without parsing them;
 * each listed profile must still be what reading it shows, password
 * redacted.  The proxies are the shapes the splicing has to get right.
 */
static const char *const listed_proxies[] = {
  "socks5h://u:secret@127.0.0.1:1080",   /* user and password */
  "http://u:p%40ss%3Aw@[::1]:3128",      /* encoded "@" and ":", IPv6 */
  "https://only-user@proxy.example:8443",/* a user, no password */
  NULL,                                   /* no proxy */
};

Test(store, list_text_matches_get)
{
  char *dir = data_dir(), name[32];
  pw_store_t *s = open_store(dir);
  pw_store_query_t q = { NULL, NULL, 0, NULL };
  json_t *page = NULL, *listed, *doc, *want;
  pw_profile_t p;
  pw_err_t err = { 0 };
  size_t i;

  for (i = 0; i < NCASES(listed_proxies); i++) {
    snprintf(name, sizeof(name), "p%zu \"quoted\"", i);
    doc = json_pack("{s:s, s:s?, s:[s]}", "name", name, "proxy",
                    listed_proxies[i], "tags", "t");
    pw_profile_init(&p);
    cr_assert_eq(pw_profile_from_json(&p, doc, 0, &err), PW_OK, "%s",
                 err.msg);
    cr_assert_eq(pw_store_profile_create(s, &p, &err), PW_OK, "%s",
                 err.msg);
    pw_profile_clear(&p);
    json_decref(doc);
  }

  cr_assert_eq(pw_store_profile_list(s, &q, &page, &err), PW_OK, "%s",
               err.msg);
  cr_assert_eq(json_array_size(json_object_get(page, "profiles")),
               NCASES(listed_proxies));

  json_array_foreach(json_object_get(page, "profiles"), i, listed) {
    pw_profile_init(&p);
    cr_assert_eq(pw_store_profile_get(s, json_string_value(
                   json_object_get(listed, "id")), &p, &err), PW_OK);
    want = pw_profile_to_json(&p, PW_PROFILE_REDACT);
    cr_expect(json_equal(listed, want), "profile %zu: listed %s, read %s",
              i, json_dumps(listed, JSON_SORT_KEYS),
              json_dumps(want, JSON_SORT_KEYS));
    cr_expect_null(strstr(json_dumps(listed, 0), "secret"),
                   "profile %zu: a password is listed", i);
    json_decref(want);
    pw_profile_clear(&p);
  }

  json_decref(page);
  pw_store_close(s);
  free(dir);
}
