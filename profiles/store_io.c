/*
 * Export and import of profiles: the document that moves them between
 * machines.
 */
#include "profiles/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
append(json_t *list, const pw_profile_t *p, unsigned flags, pw_err_t *err)
{
  if (json_array_append_new(list, pw_profile_to_json(p, flags)) != 0)
    return pw_err_set(err, PW_ENOMEM, "out of memory");
  return PW_OK;
}

static int
export_all(pw_store_t *s, unsigned flags, json_t *list, pw_err_t *err)
{
  sqlite3_stmt *st = NULL;
  pw_profile_t p;
  int ret, rc;

  pw_profile_init(&p);
  ret = pw_store__prepare(s, "SELECT id, name, revision, created, updated, "
                          "doc FROM profiles ORDER BY name", &st, err);
  if (ret != PW_OK)
    return ret;

  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    ret = pw_store__row(st, &p, err);
    if (ret == PW_OK)
      ret = append(list, &p, flags, err);
    if (ret != PW_OK)
      goto done;
  }
  if (rc != SQLITE_DONE)
    ret = pw_store__db_err(s, "exporting profiles", err);

done:
  pw_profile_clear(&p);
  sqlite3_finalize(st);
  return ret;
}

int
pw_store_export(pw_store_t *s, const char *const *ids, size_t nids,
                unsigned flags, json_t **out, pw_err_t *err)
{
  json_t *list = NULL;
  pw_profile_t p;
  pw_err_t e;
  size_t i;
  int ret;

  *out = NULL;
  pw_profile_init(&p);
  list = json_array();
  if (list == NULL)
    return pw_err_set(err, PW_ENOMEM, "out of memory");

  /* One read transaction: the export is one moment of the store. */
  ret = pw_store__begin(s, false, err);
  if (ret != PW_OK)
    goto done;

  if (nids == 0)
    ret = export_all(s, flags, list, err);
  for (i = 0; i < nids && ret == PW_OK; i++) {
    ret = pw_store_profile_get(s, ids[i], &p, &e);
    if (ret != PW_OK) {
      pw_err_set(err, ret, "ids[%zu]: %s", i, e.msg);
      goto done;
    }
    ret = append(list, &p, flags, err);
  }
  if (ret != PW_OK)
    goto done;

  *out = json_pack("{s:i,s:O}", "version", PW_PROFILE_IMPORT_VERSION,
                   "profiles", list);
  if (*out == NULL)
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");

done:
  pw_store__rollback(s);
  pw_profile_clear(&p);
  json_decref(list);
  return ret;
}

int
pw_store_import(pw_store_t *s, const char *buf, size_t len, size_t *count,
                pw_err_t *err)
{
  pw_profile_t *arr = NULL;
  bool *made = NULL;
  int64_t now = (int64_t) time(NULL);
  pw_err_t e;
  size_t i, n = 0;
  int ret;

  if (count != NULL)
    *count = 0;
  ret = pw_profile_import_parse(buf, len, &arr, &n, err);
  if (ret != PW_OK)
    return ret;

  made = calloc(n > 0 ? n : 1, sizeof(*made));
  if (made == NULL) {
    ret = pw_err_set(err, PW_ENOMEM, "out of memory");
    goto done;
  }

  ret = pw_store__begin(s, true, err);
  if (ret != PW_OK)
    goto done;

  for (i = 0; i < n; i++) {
    if (arr[i].id[0] == '\0')
      ret = pw_profile_new_id(arr[i].id, &e);
    if (arr[i].created == 0 || arr[i].created > now)
      arr[i].created = now;
    arr[i].updated = now;

    if (ret == PW_OK)
      ret = pw_store__insert(s, &arr[i], &e);
    if (ret == PW_OK)
      ret = pw_store__make_profile_dir(s, arr[i].id, &made[i], &e);
    if (ret != PW_OK) {
      pw_err_set(err, ret, "profiles[%zu]: %s", i, e.msg);
      goto done;
    }
  }

  ret = pw_store__commit(s, err);
  if (ret == PW_OK && count != NULL)
    *count = n;

done:
  if (ret != PW_OK) {
    pw_store__rollback(s);
    for (i = 0; made != NULL && i < n; i++) {
      if (made[i])
        pw_store__remove_empty_dir(s, arr[i].id);
    }
  }
  free(made);
  pw_profile_array_free(arr, n);
  return ret;
}
