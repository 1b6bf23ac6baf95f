/*
 * The store's schema and its forward migrations.  steps[i] takes a
 * database from version i to version i + 1; a step is never edited once
 * released, only new steps appended.
 */
#include "profiles/store_int.h"

#include <stdio.h>

static const char *const steps[] = {
  /* 0 -> 1: profiles, with the document as JSON text; settings. */
  "CREATE TABLE profiles ("
  "  id       TEXT PRIMARY KEY NOT NULL,"
  "  name     TEXT NOT NULL UNIQUE COLLATE NOCASE,"
  "  revision INTEGER NOT NULL,"
  "  created  INTEGER NOT NULL,"
  "  updated  INTEGER NOT NULL,"
  "  doc      TEXT NOT NULL"
  ") STRICT;"
  "CREATE TABLE settings ("
  "  key      TEXT PRIMARY KEY NOT NULL,"
  "  value    TEXT NOT NULL,"
  "  revision INTEGER NOT NULL"
  ") STRICT;",

  /*
   * 1 -> 2: tags in a table of their own, so that a listing by tag uses
   * an index (filled from the documents of version 1); the decision log.
   */
  "CREATE TABLE profile_tags ("
  "  profile_id TEXT NOT NULL"
  "    REFERENCES profiles(id) ON DELETE CASCADE ON UPDATE CASCADE,"
  "  tag        TEXT NOT NULL,"
  "  PRIMARY KEY (profile_id, tag)"
  ") STRICT;"
  "CREATE INDEX profile_tags_tag ON profile_tags(tag);"
  "INSERT OR IGNORE INTO profile_tags(profile_id, tag)"
  "  SELECT p.id, t.value FROM profiles p, json_each(p.doc, '$.tags') t"
  "  WHERE t.type = 'text';"
  "CREATE TABLE decisions ("
  "  id      INTEGER PRIMARY KEY,"
  "  at      INTEGER NOT NULL,"
  "  profile TEXT NOT NULL,"
  "  host    TEXT NOT NULL,"
  "  action  TEXT NOT NULL,"
  "  doc     TEXT NOT NULL"
  ") STRICT;"
  "CREATE INDEX decisions_at ON decisions(at);"
  "CREATE INDEX decisions_profile ON decisions(profile, at);"
  "CREATE INDEX decisions_host ON decisions(host, at);"
  "CREATE INDEX decisions_action ON decisions(action, at);",

  /*
   * 2 -> 3: when each decision was recorded, which retention counts
   * from; a decision may speak for another time (verify.chain's "at").
   */
  "ALTER TABLE decisions ADD COLUMN recorded INTEGER NOT NULL DEFAULT 0;"
  "UPDATE decisions SET recorded = at;"
  "CREATE INDEX decisions_recorded ON decisions(recorded);",
};

_Static_assert(sizeof(steps) / sizeof(steps[0]) == PW_STORE_SCHEMA_VERSION,
               "one migration step per schema version");

static int
read_version(pw_store_t *s, int *version, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  int ret;

  ret = pw_store__prepare(s, "PRAGMA user_version", &st, err);
  if (ret != PW_OK)
    return ret;

  if (sqlite3_step(st) != SQLITE_ROW)
    ret = pw_store__db_err(s, "reading the schema version", err);
  else
    *version = sqlite3_column_int(st, 0);

  sqlite3_finalize(st);
  return ret;
}

static int
refuse_newer(int version, pw_err_t *err)
{
  return pw_err_set(err, PW_EINVAL,
                    "the database has schema version %d, newer than the "
                    "%d this pinwarden knows: use a newer pinwarden or "
                    "another data folder", version, PW_STORE_SCHEMA_VERSION);
}

int
pw_store__migrate(pw_store_t *s, pw_err_t *err)
{
  char pragma[48];
  int version = 0, ret, i;

  ret = read_version(s, &version, err);
  if (ret != PW_OK)
    return ret;
  if (version > PW_STORE_SCHEMA_VERSION)
    return refuse_newer(version, err);
  if (version == PW_STORE_SCHEMA_VERSION)
    return PW_OK;

  /* Another process may have migrated while this one waited: ask again. */
  ret = pw_store__begin(s, true, err);
  if (ret != PW_OK)
    return ret;

  ret = read_version(s, &version, err);
  if (ret != PW_OK)
    goto done;
  if (version > PW_STORE_SCHEMA_VERSION) {
    ret = refuse_newer(version, err);
    goto done;
  }

  for (i = version; i < PW_STORE_SCHEMA_VERSION; i++) {
    if (sqlite3_exec(s->db, steps[i], NULL, NULL, NULL) != SQLITE_OK) {
      ret = pw_store__db_err(s, "migrating the schema", err);
      goto done;
    }
  }

  /* PRAGMA takes no bound parameter; the number is our own constant. */
  snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
           PW_STORE_SCHEMA_VERSION);
  if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
    ret = pw_store__db_err(s, "setting the schema version", err);
    goto done;
  }

  ret = pw_store__commit(s, err);

done:
  if (ret != PW_OK)
    pw_store__rollback(s);
  return ret;
}
