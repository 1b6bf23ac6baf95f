/*
 * Internal forms of the store, shared by its files.
 */
#ifndef PW_STORE_INT_H
#define PW_STORE_INT_H

#include <sqlite3.h>

#include "profiles/store.h"

struct pw_store {
  sqlite3 *db;
  char    *dir;             /* the data folder */
  int64_t  keep_count;      /* decision log bounds */
  int64_t  keep_age_s;
};

/* Maps the database's last error to a PW_E* code and a message. */
int pw_store__db_err(pw_store_t *s, const char *what, pw_err_t *err);

/*
 * Transactions.  Writers begin IMMEDIATE so that the busy timeout
 * applies when the write lock is taken, not halfway through.
 */
int pw_store__begin(pw_store_t *s, bool write, pw_err_t *err);
int pw_store__commit(pw_store_t *s, pw_err_t *err);
void pw_store__rollback(pw_store_t *s);

/* Prepares constant SQL; user data goes only through bindings. */
int pw_store__prepare(pw_store_t *s, const char *sql, sqlite3_stmt **st,
                      pw_err_t *err);

/* Binds value (NULL binds nothing) to :name, if the statement has it. */
void pw_store__bind_named(sqlite3_stmt *st, const char *name,
                          const char *value);

/* Brings the schema to PW_STORE_SCHEMA_VERSION, or refuses a newer one. */
int pw_store__migrate(pw_store_t *s, pw_err_t *err);

/* mkdir -p, each folder created with mode 0700. */
int pw_store__mkdirs(const char *path, pw_err_t *err);

/*
 * Inserts p as a new row with its tags, inside the caller's transaction.
 * The caller has set p->id, p->created and p->updated; revision becomes
 * 1.  A taken name or id is PW_ECONFLICT.
 */
int pw_store__insert(pw_store_t *s, pw_profile_t *p, pw_err_t *err);

/*
 * Creates the data folder of profile id.  *created says whether it was
 * made now, so that a failed transaction removes only what it made.
 */
int pw_store__make_profile_dir(pw_store_t *s, const char *id,
                               bool *created, pw_err_t *err);
void pw_store__remove_empty_dir(pw_store_t *s, const char *id);

/*
 * Reads the row a statement stands on (id, name, revision, created,
 * updated, doc) into out.
 */
int pw_store__row(sqlite3_stmt *st, pw_profile_t *out, pw_err_t *err);

#endif
