/*
 * The store's engine-wide settings and its decision log.
 */
#include "profiles/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/decision.h"
#include "profiles/profile_int.h"

#define KEY_DEFAULT_PINS "default_pins"

int
pw_store_default_pins_get(pw_store_t *s, json_t **pins, int64_t *revision,
                          pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  json_t *v = NULL;
  int64_t rev = 0;
  int ret, rc;

  *pins = NULL;
  ret = pw_store__prepare(s, "SELECT value, revision FROM settings "
                          "WHERE key = ?", &st, err);
  if (ret != PW_OK)
    return ret;

  sqlite3_bind_text(st, 1, KEY_DEFAULT_PINS, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    v = json_loadb((const char *) sqlite3_column_text(st, 0),
                   (size_t) sqlite3_column_bytes(st, 0), 0, NULL);
    rev = sqlite3_column_int64(st, 1);
    if (!json_is_array(v)) {
      ret = pw_err_set(err, PW_EIO, "the stored default pins are not an "
                       "array");
      goto done;
    }
  } else if (rc == SQLITE_DONE) {
    v = json_array();
  } else {
    ret = pw_store__db_err(s, "reading the default pins", err);
    goto done;
  }
  if (v == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }

  *pins = v;
  v = NULL;
  if (revision != NULL)
    *revision = rev;

done:
  json_decref(v);
  sqlite3_finalize(st);
  return ret;
}

static int
settings_revision(pw_store_t *s, const char *key, int64_t *rev,
                  pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  int ret, rc;

  ret = pw_store__prepare(s, "SELECT revision FROM settings WHERE key = ?",
                          &st, err);
  if (ret != PW_OK)
    return ret;

  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *rev = sqlite3_column_int64(st, 0);
  else if (rc == SQLITE_DONE)
    *rev = 0;
  else
    ret = pw_store__db_err(s, "reading a setting", err);

  sqlite3_finalize(st);
  return ret;
}

int
pw_store_default_pins_set(pw_store_t *s, const json_t *pins,
                          int64_t expected_revision, int64_t *revision,
                          pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  json_t *checked = NULL;
  char *text = NULL;
  int64_t rev = 0;
  int ret;

  ret = pw_profile__pins(pins, &checked, err);
  if (ret != PW_OK)
    return ret;
  text = json_dumps(checked, JSON_COMPACT);
  if (text == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }

  ret = pw_store__begin(s, true, err);
  if (ret == PW_OK)
    ret = settings_revision(s, KEY_DEFAULT_PINS, &rev, err);
  if (ret != PW_OK)
    goto done;
  if (expected_revision >= 0 && expected_revision != rev) {
    ret = pw_err_set(err, PW_ECONFLICT,
                     "revision: the default pins are at revision %lld, "
                     "not %lld", (long long) rev,
                     (long long) expected_revision);
    goto done;
  }

  ret = pw_store__prepare(s, "INSERT INTO settings(key, value, revision) "
                          "VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE "
                          "SET value = ?2, revision = ?3", &st, err);
  if (ret != PW_OK)
    goto done;
  sqlite3_bind_text(st, 1, KEY_DEFAULT_PINS, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, rev + 1);
  if (sqlite3_step(st) != SQLITE_DONE) {
    ret = pw_store__db_err(s, "storing the default pins", err);
    goto done;
  }

  ret = pw_store__commit(s, err);
  if (ret == PW_OK && revision != NULL)
    *revision = rev + 1;

done:
  if (ret != PW_OK)
    pw_store__rollback(s);
  sqlite3_finalize(st);
  free(text);
  json_decref(checked);
  return ret;
}

void
pw_store_set_retention(pw_store_t *s, int64_t max_count, int64_t max_age_s)
{
  if (max_count > 0)
    s->keep_count = max_count;
  if (max_age_s > 0)
    s->keep_age_s = max_age_s;
}

static int
run_bound(pw_store_t *s, const char *sql, int64_t value, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  int ret;

  ret = pw_store__prepare(s, sql, &st, err);
  if (ret != PW_OK)
    return ret;

  sqlite3_bind_int64(st, 1, value);
  if (sqlite3_step(st) != SQLITE_DONE)
    ret = pw_store__db_err(s, "pruning the decision log", err);

  sqlite3_finalize(st);
  return ret;
}

/* Inside the caller's transaction. */
static int
prune(pw_store_t *s, int64_t now, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  int64_t newest = 0;
  int ret;

  ret = run_bound(s, "DELETE FROM decisions WHERE recorded < ?",
                  now - s->keep_age_s, err);
  if (ret != PW_OK)
    return ret;

  ret = pw_store__prepare(s, "SELECT max(id) FROM decisions", &st, err);
  if (ret != PW_OK)
    return ret;
  if (sqlite3_step(st) == SQLITE_ROW)
    newest = sqlite3_column_int64(st, 0);
  else
    ret = pw_store__db_err(s, "pruning the decision log", err);
  sqlite3_finalize(st);
  if (ret != PW_OK)
    return ret;

  /*
   * Ids grow by one per record and only deletes leave gaps, so the last
   * keep_count ids hold at most keep_count records.  Both deletes walk
   * an index: the cost is that of what goes, not of the log's size.
   */
  return run_bound(s, "DELETE FROM decisions WHERE id <= ?",
                   newest - s->keep_count, err);
}

int
pw_store_decision_prune(pw_store_t *s, int64_t now, pw_err_t *err)
{
  int ret;

  ret = pw_store__begin(s, true, err);
  if (ret == PW_OK)
    ret = prune(s, now, err);
  if (ret == PW_OK)
    ret = pw_store__commit(s, err);
  if (ret != PW_OK)
    pw_store__rollback(s);
  return ret;
}

/* A text member of a decision; absent reads as "". */
static int
member_text(const json_t *d, const char *key, size_t max, const char **out,
            pw_err_t *err)
{
  const json_t *v = json_object_get(d, key);

  *out = "";
  if (v == NULL || json_is_null(v))
    return PW_OK;
  if (!json_is_string(v) || json_string_length(v) > max)
    return pw_err_set(err, PW_EINVAL, "decision: %s: must be a string of "
                      "at most %zu bytes", key, max);
  *out = json_string_value(v);
  return PW_OK;
}

int
pw_store_decision_add(pw_store_t *s, const json_t *decision, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  const char *profile, *host, *action;
  const json_t *at_v;
  pw_action_t a;
  char *doc = NULL;
  int64_t at, now = (int64_t) time(NULL);
  int ret;

  if (!json_is_object(decision))
    return pw_err_set(err, PW_EINVAL, "decision: must be an object");
  ret = member_text(decision, "profile", 63, &profile, err);
  if (ret == PW_OK)
    ret = member_text(decision, "host", PW_HOST_MAX, &host, err);
  if (ret == PW_OK)
    ret = member_text(decision, "action", 16, &action, err);
  if (ret != PW_OK)
    return ret;
  if (pw_action_from_name(action, &a) != PW_OK)
    return pw_err_set(err, PW_EINVAL, "decision: action: unknown");

  at = now;
  at_v = json_object_get(decision, "at");
  if (at_v != NULL) {
    ret = pw_profile__time("decision: at", at_v, &at, err);
    if (ret != PW_OK)
      return ret;
  }

  doc = json_dumps(decision, JSON_COMPACT);
  if (doc == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  if (strlen(doc) > PW_STORE_DECISION_MAX) {
    ret = pw_err_set(err, PW_ETOOBIG, "decision: over %d bytes",
                     PW_STORE_DECISION_MAX);
    goto done;
  }

  ret = pw_store__begin(s, true, err);
  if (ret == PW_OK)
    ret = pw_store__prepare(s, "INSERT INTO decisions(at, profile, host, "
                            "action, doc, recorded) VALUES (?, ?, ?, ?, ?, ?)",
                            &st, err);
  if (ret != PW_OK)
    goto done;
  sqlite3_bind_int64(st, 1, at);
  sqlite3_bind_text(st, 2, profile, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, host, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, pw_action_name(a), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, doc, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, now);
  if (sqlite3_step(st) != SQLITE_DONE) {
    ret = pw_store__db_err(s, "recording the decision", err);
    goto done;
  }

  ret = prune(s, now, err);
  if (ret == PW_OK)
    ret = pw_store__commit(s, err);

done:
  if (ret != PW_OK)
    pw_store__rollback(s);
  sqlite3_finalize(st);
  free(doc);
  return ret;
}

static int
query_sql(const pw_decision_query_t *q, char *sql, size_t size)
{
  const char *glue = " WHERE ";
  size_t n;

  /* Only constant fragments go into the text; values are bound. */
  n = (size_t) snprintf(sql, size, "SELECT doc FROM decisions");
  if (q->profile != NULL) {
    n += (size_t) snprintf(sql + n, size - n, "%sprofile = :profile", glue);
    glue = " AND ";
  }
  if (q->host != NULL) {
    n += (size_t) snprintf(sql + n, size - n, "%shost = :host", glue);
    glue = " AND ";
  }
  if (q->action != NULL) {
    n += (size_t) snprintf(sql + n, size - n, "%saction = :action", glue);
    glue = " AND ";
  }
  if (q->since > 0)
    n += (size_t) snprintf(sql + n, size - n, "%sat >= :since", glue);
  n += (size_t) snprintf(sql + n, size - n,
                         " ORDER BY at DESC, id DESC LIMIT :limit");
  return n < size ? PW_OK : PW_EINVAL;
}

int
pw_store_decision_query(pw_store_t *s, const pw_decision_query_t *q,
                        json_t **out, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  json_t *list = NULL, *d;
  char sql[320], host[PW_HOST_MAX];
  pw_action_t a;
  pw_err_t e;
  size_t limit;
  int ret, rc;

  *out = NULL;
  limit = q->limit == 0 ? PW_STORE_LIST_DEFAULT : q->limit;
  if (limit > PW_STORE_LIST_MAX)
    limit = PW_STORE_LIST_MAX;
  if (q->host != NULL && pw_host_normalize(q->host, host, NULL, &e) != PW_OK)
    return pw_err_set(err, PW_EINVAL, "host: %s", e.msg);
  if (q->action != NULL && pw_action_from_name(q->action, &a) != PW_OK)
    return pw_err_set(err, PW_EINVAL, "action: must be allow, block, "
                      "upgrade or report");

  ret = query_sql(q, sql, sizeof(sql));
  if (ret == PW_OK)
    ret = pw_store__prepare(s, sql, &st, err);
  if (ret != PW_OK)
    return ret;

  pw_store__bind_named(st, ":profile", q->profile);
  pw_store__bind_named(st, ":host", q->host != NULL ? host : NULL);
  pw_store__bind_named(st, ":action", q->action);
  if (q->since > 0)
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":since"),
                       q->since);
  sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"),
                     (sqlite3_int64) limit);

  list = json_array();
  if (list == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    d = json_loadb((const char *) sqlite3_column_text(st, 0),
                   (size_t) sqlite3_column_bytes(st, 0), 0, NULL);
    if (d == NULL || json_array_append_new(list, d) != 0) {
      ret = pw_err_set(err, PW_EIO, "a stored decision is not JSON");
      goto done;
    }
  }
  if (rc != SQLITE_DONE) {
    ret = pw_store__db_err(s, "querying decisions", err);
    goto done;
  }

  *out = list;
  list = NULL;

done:
  json_decref(list);
  sqlite3_finalize(st);
  return ret;
}
