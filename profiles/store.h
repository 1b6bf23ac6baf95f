/*
 * The profile store: SQLite in WAL mode in the engine's data folder.
 *
 *   <data>/pinwarden.db          mode 0600
 *   <data>/profiles/<id>/        one data folder per profile, mode 0700
 *
 * The schema carries a version (PRAGMA user_version).  Opening an older
 * database migrates it forward in one transaction; a database written by
 * newer code is refused.  Every change of several rows is one
 * transaction, so a failure leaves the database as it was.  Profiles
 * carry a revision that grows on every change: an update or a delete
 * that names a stale revision fails with PW_ECONFLICT, which is how two
 * clients editing one profile find out.
 *
 * A handle is not thread-safe: one thread at a time.  Several handles,
 * in one process or several, may share a database file; a writer waits
 * up to PW_STORE_BUSY_MS for another to finish.
 */
#ifndef PW_STORE_H
#define PW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/err.h"
#include "profiles/profile.h"

#define PW_STORE_SCHEMA_VERSION 3
#define PW_STORE_BUSY_MS        5000
#define PW_STORE_DB_NAME        "pinwarden.db"

/* Pass as an expected revision to skip the check. */
#define PW_STORE_ANY_REVISION   (-1)

#define PW_STORE_LIST_DEFAULT   100
#define PW_STORE_LIST_MAX       1000

/* Decision log bounds unless pw_store_set_retention says otherwise. */
#define PW_STORE_KEEP_COUNT     100000
#define PW_STORE_KEEP_AGE_S     (30 * 24 * 3600)
#define PW_STORE_DECISION_MAX   (64 * 1024)   /* bytes of one record */

typedef struct pw_store pw_store_t;

/*
 * The data folder: dir when given (--data-dir), else
 * $XDG_DATA_HOME/pinwarden when that is an absolute path, else
 * ~/.local/share/pinwarden.  *out is malloc'd; nothing is created.
 */
int pw_store_data_dir(const char *dir, char **out, pw_err_t *err);

/*
 * Opens or creates the store in data_dir, creating missing folders with
 * mode 0700 and the database file with mode 0600, then migrates it.
 */
int pw_store_open(pw_store_t **out, const char *data_dir, pw_err_t *err);

void pw_store_close(pw_store_t *s);

/* The schema version of the open database. */
int pw_store_schema_version(pw_store_t *s);

/* The data folder of a profile, "<data>/profiles/<id>" (caller frees). */
int pw_store_profile_dir(const pw_store_t *s, const char *id, char **out,
                         pw_err_t *err);

/*
 * Stores p (parsed by the caller) as a new profile: gives it an id,
 * revision 1 and its times, and creates its data folder.  A name that is
 * taken (regardless of ASCII case) is PW_ECONFLICT.
 */
int pw_store_profile_create(pw_store_t *s, pw_profile_t *p, pw_err_t *err);

/*
 * Fills out (initialised by the caller) or returns PW_ENOTFOUND.  Names
 * are looked up without regard to ASCII case, as they are unique.
 */
int pw_store_profile_get(pw_store_t *s, const char *id, pw_profile_t *out,
                         pw_err_t *err);
int pw_store_profile_get_by_name(pw_store_t *s, const char *name,
                                 pw_profile_t *out, pw_err_t *err);

/*
 * Writes p over the stored profile of the same id, if the stored
 * revision is still p->revision; else PW_ECONFLICT and nothing changes.
 * On success p->revision and p->updated hold the new values.
 */
int pw_store_profile_update(pw_store_t *s, pw_profile_t *p, pw_err_t *err);

enum {
  /* Also remove the profile's data folder: cookies, storage, cache. */
  PW_STORE_PURGE = 1 << 0
};

int pw_store_profile_delete(pw_store_t *s, const char *id,
                            int64_t expected_revision, unsigned flags,
                            pw_err_t *err);

typedef struct pw_store_query {
  const char *tag;      /* only profiles with this tag, or NULL */
  const char *q;        /* substring of the name, ASCII case ignored */
  size_t      limit;    /* 0: PW_STORE_LIST_DEFAULT; at most _MAX */
  const char *cursor;   /* "next" of the previous page, or NULL */
} pw_store_query_t;

/*
 * Profiles in name order, passwords redacted, as
 * {"profiles": [...], "next": "<cursor>" | null}.
 */
int pw_store_profile_list(pw_store_t *s, const pw_store_query_t *q,
                          json_t **out, pw_err_t *err);

/*
 * The same page as JSON text (*out malloc'd), spliced from the stored
 * documents without parsing them: what a listing of thousands wants.
 */
int pw_store_profile_list_text(pw_store_t *s, const pw_store_query_t *q,
                               char **out, pw_err_t *err);

/*
 * The engine-wide default pin sets (a JSON array, see engine/policy.h)
 * and their revision, 0 while never set.
 */
int pw_store_default_pins_get(pw_store_t *s, json_t **pins,
                              int64_t *revision, pw_err_t *err);

/*
 * Replaces the default pin sets after checking them as a profile's
 * pins.  expected_revision as for profiles.  *revision (may be NULL)
 * receives the new revision.
 */
int pw_store_default_pins_set(pw_store_t *s, const json_t *pins,
                              int64_t expected_revision, int64_t *revision,
                              pw_err_t *err);

/*
 * Bounds of the decision log: at most max_count records, none recorded
 * more than max_age_s seconds ago (whatever time a decision speaks
 * for).  0 leaves a bound as it was.
 */
void pw_store_set_retention(pw_store_t *s, int64_t max_count,
                            int64_t max_age_s);

/*
 * Records a decision in its JSON form (pw_decision_to_json), and prunes
 * what is past the bounds in the same transaction.
 */
int pw_store_decision_add(pw_store_t *s, const json_t *decision,
                          pw_err_t *err);

/* Prunes the log to its bounds at time now (Unix seconds). */
int pw_store_decision_prune(pw_store_t *s, int64_t now, pw_err_t *err);

typedef struct pw_decision_query {
  const char *profile;  /* id, or NULL for any */
  const char *host;     /* normalised here; NULL for any */
  const char *action;   /* "allow", "block", "upgrade", "report" or NULL */
  int64_t     since;    /* Unix seconds; 0 for any time */
  size_t      limit;    /* 0: PW_STORE_LIST_DEFAULT; at most _MAX */
} pw_decision_query_t;

/* Matching decisions, newest first, as a JSON array in *out. */
int pw_store_decision_query(pw_store_t *s, const pw_decision_query_t *q,
                            json_t **out, pw_err_t *err);

/*
 * The export document {"version": 1, "profiles": [...]} of the given
 * ids, or of every profile when nids is 0.  An export moves profiles to
 * another machine whole, so flags are those of pw_profile_to_json and
 * PW_PROFILE_SECRETS keeps proxy passwords; an unknown id is an error.
 */
int pw_store_export(pw_store_t *s, const char *const *ids, size_t nids,
                    unsigned flags, json_t **out, pw_err_t *err);

/*
 * Imports an export document (pw_profile_import_parse), all or nothing,
 * in one transaction: a bad profile, a name or an id already in the
 * store aborts the import and err names the index.  Profiles keep their
 * id and creation time when the document has them, start again at
 * revision 1, and get their data folder (kept if one is there for that
 * id).  *count (may be NULL) receives the number imported.
 */
int pw_store_import(pw_store_t *s, const char *buf, size_t len,
                    size_t *count, pw_err_t *err);

#endif
