/*
 * Internal forms of the API module, shared by its files: the engine's
 * state, the reading of params, the mapping of library errors to
 * JSON-RPC codes, and the JSON shapes the methods answer with.
 */
#ifndef PW_API_INT_H
#define PW_API_INT_H

#include <stdatomic.h>

#include <uv.h>

#include "engine/dcache.h"
#include "engine/decision.h"
#include "engine/policy.h"
#include "engine/verify.h"
#include "gateway/gateway.h"
#include "ipc/api.h"

/* Decisions kept for the cached path, and how long one may be reused. */
#define PW_API_DCACHE_SIZE   4096
#define PW_API_DCACHE_TTL_S  300

/* Compiled pin policies and verifiers kept, one per profile. */
#define PW_API_COMPILED_MAX  256

/* The longest reference to a profile: a name of 128 UTF-8 characters. */
#define PW_API_REF_MAX       (4 * PW_PROFILE_NAME_MAX)

/* verify.chain's caps: certificates per chain, bytes of each. */
#define PW_API_CHAIN_MAX     16
#define PW_API_CERT_MAX      (64 * 1024)

/*
 * What verify.chain needs of a profile, compiled once per revision: its
 * pin policy and its verifier.  Shared between the loop and the pool,
 * so it is counted: the cache holds one reference, each user another,
 * all taken and dropped under api->lock.
 */
typedef struct pw_api_compiled {
  char                    id[PW_PROFILE_ID_LEN];  /* "" for the defaults */
  char                   *name;
  int64_t                 revision;
  pw_policy_t            *pins;       /* NULL: the profile has none */
  pw_verifier_t          *verifier;   /* NULL: the system store */
  bool                    floor;      /* a mark, nothing compiled */
  unsigned                refs;
  struct pw_api_compiled *next;       /* most recently used first */
} pw_api_compiled_t;

typedef struct pw_api_token {
  char                token[PW_API_TOKEN_LEN];
  char                profile[PW_PROFILE_ID_LEN];
  pw_api_token_kind_t kind;
  uint64_t            gen;   /* unique to this token, never reused */
} pw_api_token_t;

struct pw_api {
  pw_store_t        *store;      /* the call that runs, one at a time */
  char               token[PW_API_TOKEN_LEN];
  uint64_t           started;    /* uv_hrtime() at creation */
  atomic_long        nprofiles;  /* kept by the methods that change it */

  uv_mutex_t         tokens_lock;
  pw_api_token_t    *scoped;     /* one per profile and kind */
  uint64_t           next_gen;
  size_t             nscoped;
  size_t             scoped_cap;

  /*
   * Profile names to UUIDs and back, kept by the methods that change
   * profiles, so that the loop (events.subscribe) can read a name
   * without the store.  Names are kept lower-cased: they are unique
   * without regard to case.
   */
  uv_mutex_t         names_lock;
  json_t            *by_name;
  json_t            *by_id;

  uv_mutex_t         lock;       /* everything below */
  pw_verifier_t     *system;
  pw_api_compiled_t *compiled;
  size_t             ncompiled;
  pw_api_compiled_t *defaults;   /* NULL until first needed */
  pw_dcache_t       *dcache;

  /*
   * The gateways (loop only), how many profiles run (read anywhere),
   * and which (an object of ids, under names_lock).
   */
  struct pw_run     *run;
  atomic_int         nrunning;
  json_t            *running_ids;
};

/* ---- params ------------------------------------------------------- */

/*
 * Methods take named params: an object, or nothing (an empty array
 * counts as nothing).  allowed is a NULL-terminated list of the names a
 * method reads; any other is Invalid params, so that a misspelt name is
 * never silently ignored.
 */
int pw_api__params(const json_t *params, const char *const *allowed,
                   pw_rpc_error_t *err);

/* Each reader leaves *out alone when the param is absent and optional. */
int pw_api__str(const json_t *params, const char *name, bool required,
                size_t max, const char **out, pw_rpc_error_t *err);
int pw_api__int(const json_t *params, const char *name, bool required,
                int64_t min, int64_t max, int64_t *out,
                pw_rpc_error_t *err);
int pw_api__bool(const json_t *params, const char *name, bool required,
                 bool *out, pw_rpc_error_t *err);

/* RFC 3339 text or Unix seconds. */
int pw_api__time(const json_t *params, const char *name, int64_t *out,
                 pw_rpc_error_t *err);

/* ---- errors ------------------------------------------------------- */

/*
 * Maps a library code to a JSON-RPC error with the library's message:
 * PW_ENOTFOUND and PW_ECONFLICT to their codes, PW_EINVAL and
 * PW_ETOOBIG to `invalid` (INVALID_POLICY for documents, INVALID_PARAMS
 * for queries), anything else to INTERNAL_ERROR.  Returns -1.
 */
int pw_api__fail(pw_rpc_error_t *err, int ret, const pw_err_t *e,
                 int invalid);

/* UNAUTHORIZED unless the session presented a token. */
int pw_api__authed(pw_api_ctx_t *ctx, pw_rpc_error_t *err);

/* UNAUTHORIZED for a session scoped to one profile. */
int pw_api__engine_wide(pw_api_ctx_t *ctx, pw_rpc_error_t *err);

/* ---- profiles ----------------------------------------------------- */

/* Records that profile id now has name (NULL: it was deleted). */
void pw_api__name_set(pw_api_t *api, const char *id, const char *name);

/* The UUID of the profile named ref (a UUID or a name) into out. */
bool pw_api__name_find(pw_api_t *api, const char *ref,
                       char out[PW_PROFILE_ID_LEN]);

/*
 * The profile a call names by "id" (its UUID or its name) into p, which
 * the caller initialised.  A scoped session may leave "id" out to mean
 * its own profile, and gets UNAUTHORIZED for any other, existing or
 * not, so that it cannot probe for names.
 */
int pw_api__load(pw_api_ctx_t *ctx, const json_t *params, pw_profile_t *p,
                 pw_rpc_error_t *err);

/* The same for a reference the caller read. */
int pw_api__load_ref(pw_api_ctx_t *ctx, const char *ref, pw_profile_t *p,
                     pw_rpc_error_t *err);

/*
 * A profile as the API shows it: passwords redacted, and Secure Access
 * exceptions with "until" (RFC 3339) for the library's "expires".
 */
json_t *pw_api__profile_json(const pw_profile_t *p);

/* The same rewriting of a profile document the store produced. */
int pw_api__profile_fix(json_t *profile);

/* Secure Access as the API shows it. */
json_t *pw_api__sa_json(const pw_sa_t *sa);

/*
 * What the API shows, taken back: an exception's "until" becomes the
 * library's "expires" (null drops it), in place.  Anything else is left
 * for the library to judge.
 */
void pw_api__sa_input(json_t *sa);

/* A decision as the API shows it: "id" for "profile", "time" for "at". */
json_t *pw_api__decision_json(const pw_decision_t *d);
void pw_api__decision_fix(json_t *decision);

/* ---- events and caches -------------------------------------------- */

/* Appends {topic, profile, data} to ctx->events; takes data. */
void pw_api__event(pw_api_ctx_t *ctx, const char *topic,
                   const char *profile, json_t *data);

/*
 * Forgets what was compiled for a profile (it changed or went).  When
 * it changed, revision is the one it has now: a running gateway that
 * still holds an older copy may decide with it until it is told, but
 * nothing older than revision is cached again.  0 when it went.
 */
void pw_api__invalidate(pw_api_t *api, const char *id, int64_t revision);

/* Forgets the compiled default pins (they changed). */
void pw_api__invalidate_defaults(pw_api_t *api);

/* Frees every compiled entry; on pw_api_free. */
void pw_api__compiled_free_all(pw_api_t *api);

/* Revokes the scoped token of a profile that went. */
void pw_api__revoke(pw_api_t *api, const char *id);

/* ---- methods ------------------------------------------------------ */

#define PW_API_METHOD(fn)                                                \
  int fn(void *ctx, const json_t *params, json_t **result,               \
         pw_rpc_error_t *err)

PW_API_METHOD(pw_api__profiles_list);
PW_API_METHOD(pw_api__profiles_get);
PW_API_METHOD(pw_api__profiles_create);
PW_API_METHOD(pw_api__profiles_update);
PW_API_METHOD(pw_api__profiles_delete);
PW_API_METHOD(pw_api__profiles_export);
PW_API_METHOD(pw_api__profiles_import);
PW_API_METHOD(pw_api__defaults_get);
PW_API_METHOD(pw_api__defaults_set);
PW_API_METHOD(pw_api__sa_set);
PW_API_METHOD(pw_api__sa_exception_add);
PW_API_METHOD(pw_api__sa_exception_remove);
PW_API_METHOD(pw_api__pins_compute);
PW_API_METHOD(pw_api__verify_chain);
PW_API_METHOD(pw_api__verify_url);
PW_API_METHOD(pw_api__decisions_list);
PW_API_METHOD(pw_api__profiles_start);
PW_API_METHOD(pw_api__profiles_stop);
PW_API_METHOD(pw_api__profiles_status);

/* api_run.c: a running profile changed; its gateway is told. */
void pw_api__running_changed(pw_api_ctx_t *ctx, const pw_profile_t *p);
bool pw_api__is_running(pw_api_t *api, const char *id);

/* api_verify.c: the gateway's questions (loop) and its preparation. */
bool pw_api_gateway_pinned(pw_api_t *api, const pw_profile_t *p,
                           const char *host);
int pw_api_gateway_decide(pw_api_t *api, const pw_profile_t *p,
                          const char *host, uint16_t port,
                          const unsigned char *const *der, const int *len,
                          size_t n, pw_decision_t *d, pw_err_t *e);
int pw_api_gateway_prepare(pw_api_t *api, pw_err_t *e);

#endif
