/*
 * Internal forms of the profile module, shared by its files.  Each field
 * parser reads one value of the JSON form, checks it against the rules of
 * profile.h and names the field in its error message.  Outputs are
 * written only on success.
 */
#ifndef PW_PROFILE_INT_H
#define PW_PROFILE_INT_H

#include "profiles/profile.h"

int pw_profile__text(const char *field, const json_t *v, size_t max_chars,
                     char **out, pw_err_t *err);

int pw_profile__tags(const json_t *v, char ***tags, size_t *ntags,
                     pw_err_t *err);
void pw_profile__strv_free(char **v, size_t n);
int pw_profile__strv_copy(char ***dst, char *const *src, size_t n);

int pw_profile__resolve(const json_t *v, pw_resolve_t **out, size_t *n,
                        pw_err_t *err);

int pw_profile__browser(const json_t *v, pw_browser_t *b, pw_err_t *err);
void pw_profile__browser_clear(pw_browser_t *b);
int pw_profile__browser_copy(pw_browser_t *dst, const pw_browser_t *src);
json_t *pw_profile__browser_to_json(const pw_browser_t *b);

int pw_profile__roots(const json_t *v, char **out, pw_err_t *err);
int pw_profile__pins(const json_t *v, json_t **out, pw_err_t *err);
int pw_profile__proxy(const json_t *v, pw_proxy_t *proxy, pw_err_t *err);
int pw_profile__proxy_copy(pw_proxy_t *dst, const pw_proxy_t *src);

/* A time of a stored document: Unix seconds or RFC 3339 text. */
int pw_profile__time(const char *field, const json_t *v, int64_t *out,
                     pw_err_t *err);

/*
 * Writes a key of the input into out for an error message: printable
 * ASCII as it is, cut at 40 characters; anything else as "?".
 */
void pw_profile__safe_key(const char *key, char out[48]);

#endif
