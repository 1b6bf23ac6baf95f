/*
 * Running the calls of a message: PW_RPC_LOOP methods on the loop,
 * verify.chain from the decision cache when it can, the rest on the
 * libuv thread pool one at a time, since the store's SQLite connection
 * must never be used by two threads.  A message's answers are sent
 * together once its last call is done (JSON-RPC 2.0 section 6).
 */
#include "ipc/server_int.h"

#include <stdlib.h>
#include <string.h>

#include "engine/decision.h"

/*
 * A message being answered.  It owns the parsed message (the calls
 * borrow from it) and one reference to the connection; pending counts
 * the calls not yet answered, plus one held while they are dispatched
 * so that an answer given at once cannot finish the batch early.
 */
typedef struct batch {
  pw_ipc_conn_t *conn;
  pw_rpc_msg_t   msg;
  json_t       **responses;   /* one slot per call, in call order */
  size_t         pending;
} batch_t;

/*
 * A call on the thread pool.  The work reads only the job: the call
 * (borrowed from the batch, which waits for it), a copy of the session
 * taken when the call was queued (the loop may change the live one
 * meanwhile: session.* methods run there), and its own events array.
 */
struct pw_ipc_job {
  uv_work_t        req;
  pw_ipc_job_t    *next;
  pw_ipc_t        *ipc;
  batch_t         *batch;
  size_t           index;
  pw_api_t        *api;
  pw_api_session_t session;
  json_t          *events;
  json_t          *response;
  json_t          *record;   /* a gateway's decision to store, no batch */
};

static const struct {
  const char *name;
  unsigned    bit;
} topics[] = {
  { "profile",       PW_TOPIC_PROFILE },
  { "secure_access", PW_TOPIC_SECURE_ACCESS },
  { "decision",      PW_TOPIC_DECISION },
  { "browser",       PW_TOPIC_BROWSER },
};

static const char *
topic_name(unsigned bit)
{
  size_t i;

  for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
    if (topics[i].bit == bit)
      return topics[i].name;
  return NULL;
}

static unsigned
topic_bit(const char *name)
{
  size_t i;

  for (i = 0; name != NULL && i < sizeof(topics) / sizeof(topics[0]); i++)
    if (strcmp(topics[i].name, name) == 0)
      return topics[i].bit;
  return 0;
}

void
pw_ipc_publish(pw_ipc_t *ipc, unsigned topic, const char *profile_id,
               json_t *data)
{
  pw_ipc_conn_t *conn;
  const char *name = topic_name(topic);
  json_t *msg;
  char *text;
  size_t len;

  if (name == NULL) {
    pw_log(PW_LOG_ERROR, "ipc", "msg=\"unknown event topic\" topic=%u",
           topic);
    return;
  }

  msg = json_pack("{s:s, s:s, s:{s:s, s:s?, s:O?}}",
                  "jsonrpc", "2.0", "method", "event", "params",
                  "topic", name, "profile", profile_id, "data", data);
  text = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
  json_decref(msg);
  if (text == NULL) {
    pw_log(PW_LOG_ERROR, "ipc", "msg=\"event not encoded\" topic=%s",
           name);
    return;
  }

  /* The text is built once; each connection queues its own copy. */
  len = strlen(text);
  for (conn = ipc->conns; conn != NULL; conn = conn->next) {
    if (!conn->session.authed
        || !pw_api_wants(&conn->session, topic,
                         profile_id != NULL ? profile_id : "")
        || !pw_api_session_valid(ipc->api, &conn->session))
      continue;
    pw_ipc__send(conn, text, len);
  }
  free(text);
}

/* Publishes what a call appended to ctx->events, then drops them. */
static void
publish_events(pw_ipc_t *ipc, json_t *events)
{
  const char *topic, *profile;
  json_t *ev, *data;
  size_t i;
  unsigned bit;

  json_array_foreach(events, i, ev) {
    if (pw_api_internal_event(ipc->api, ev))
      continue;
    topic = json_string_value(json_object_get(ev, "topic"));
    profile = json_string_value(json_object_get(ev, "profile"));
    if (profile != NULL && profile[0] == '\0')
      profile = NULL;
    data = json_object_get(ev, "data");
    bit = topic_bit(topic);
    if (bit == 0) {
      pw_log(PW_LOG_ERROR, "ipc", "msg=\"event with unknown topic\"");
      continue;
    }
    pw_ipc_publish(ipc, bit, profile, data);
  }
  json_decref(events);
}

static void
batch_free(batch_t *b)
{
  size_t i;

  if (b == NULL)
    return;
  if (b->responses != NULL)
    for (i = 0; i < b->msg.ncalls; i++)
      json_decref(b->responses[i]);
  free(b->responses);
  pw_rpc_msg_free(&b->msg);
  if (b->conn != NULL)
    pw_ipc__conn_unref(b->conn);
  free(b);
}

/* Sends the answers once every call of the message is done. */
static void
batch_release(batch_t *b)
{
  json_t *out = NULL;
  size_t i;

  if (--b->pending > 0)
    return;

  if (b->msg.batch) {
    out = json_array();
    for (i = 0; out != NULL && i < b->msg.ncalls; i++)
      if (b->responses[i] != NULL)
        json_array_append(out, b->responses[i]);
    /* A batch of notifications is answered with nothing (section 6). */
    if (out != NULL && json_array_size(out) == 0) {
      json_decref(out);
      out = NULL;
    }
  } else if (b->msg.ncalls == 1 && b->responses[0] != NULL) {
    out = json_incref(b->responses[0]);
  }

  if (out != NULL)
    pw_ipc__send_json(b->conn, out);
  json_decref(out);
  batch_free(b);
}

static void
complete(batch_t *b, size_t index, json_t *response)
{
  b->responses[index] = response;
  batch_release(b);
}

static void
run_inline(batch_t *b, size_t index)
{
  pw_ipc_conn_t *conn = b->conn;
  pw_api_ctx_t ctx;
  json_t *response;

  ctx.api = conn->ipc->api;
  ctx.session = &conn->session;
  ctx.events = json_array();

  response = pw_rpc_run(&b->msg.calls[index], &ctx);
  publish_events(conn->ipc, ctx.events);
  complete(b, index, response);
}

/* The loop's half of a PW_RPC_THEN call answers here. */
typedef struct then {
  batch_t *batch;
  size_t   index;
} then_t;

static void
then_done(void *data, json_t *result, const pw_rpc_error_t *err)
{
  then_t *t = data;
  const pw_rpc_call_t *call = &t->batch->msg.calls[t->index];
  json_t *response = NULL;

  if (call->id != NULL)
    response = result != NULL ? pw_rpc_result(call->id, json_incref(result))
                              : pw_rpc_error(call->id, err);
  complete(t->batch, t->index, response);
  free(t);
}

/*
 * The pool's half of a PW_RPC_THEN call succeeded: its result goes to
 * the loop's half, which answers; a failure is the answer itself.
 */
static bool
then_start(batch_t *b, size_t index, json_t *response)
{
  const pw_rpc_call_t *call = &b->msg.calls[index];
  json_t *first = json_object_get(response, "result");
  pw_ipc_conn_t *conn = b->conn;
  then_t *t;

  if ((call->method->flags & PW_RPC_THEN) == 0 || first == NULL)
    return false;
  t = calloc(1, sizeof(*t));
  if (t == NULL)
    return false;
  t->batch = b;
  t->index = index;
  pw_api_then(conn->ipc->api, &conn->session, call->name, first,
              then_done, t);
  return true;
}

static void pump(pw_ipc_t *ipc);

static void
job_work(uv_work_t *req)
{
  pw_ipc_job_t *job = req->data;
  pw_api_ctx_t ctx;
  pw_err_t e = { 0, "" };

  if (job->record != NULL) {
    if (pw_api_record(job->api, job->record, &e) != PW_OK)
      job->response = json_string(e.msg);
    return;
  }
  ctx.api = job->api;
  ctx.session = &job->session;
  ctx.events = job->events;
  job->response = pw_rpc_run(&job->batch->msg.calls[job->index], &ctx);
}


static void
record_after(pw_ipc_job_t *job)
{
  pw_ipc_t *ipc = job->ipc;

  ipc->running = NULL;
  if (job->response != NULL)
    pw_log(PW_LOG_ERROR, "ipc", "msg=\"decision not stored\" err=\"%s\"",
           json_string_value(job->response));
  json_decref(job->response);
  json_decref(job->record);
  json_decref(job->events);
  free(job);
  pump(ipc);
}

static void
job_after(uv_work_t *req, int status)
{
  pw_ipc_job_t *job = req->data;
  batch_t *b = job->batch;
  pw_ipc_t *ipc;
  pw_rpc_error_t e;
  const pw_rpc_call_t *call;

  if (job->record != NULL) {
    record_after(job);
    return;
  }
  ipc = b->conn->ipc;
  call = &b->msg.calls[job->index];
  ipc->running = NULL;
  b->conn->in_flight--;

  /* Never cancelled by us; answer rather than leave the call hanging. */
  if (status != 0 && job->response == NULL && call->id != NULL) {
    memset(&e, 0, sizeof(e));
    pw_rpc_fail(&e, PW_RPC_INTERNAL_ERROR, NULL, "the call was cancelled");
    job->response = pw_rpc_error(call->id, &e);
  }

  publish_events(ipc, job->events);
  if (then_start(b, job->index, job->response))
    json_decref(job->response);
  else
    complete(b, job->index, job->response);
  free(job);

  pump(ipc);
}

/* Starts the next store job when none runs. */
static void
pump(pw_ipc_t *ipc)
{
  pw_ipc_job_t *job;
  int rc;

  while (ipc->running == NULL && ipc->queue_head != NULL) {
    job = ipc->queue_head;
    ipc->queue_head = job->next;
    if (ipc->queue_head == NULL)
      ipc->queue_tail = NULL;

    job->req.data = job;
    ipc->running = job;
    rc = uv_queue_work(ipc->loop, &job->req, job_work, job_after);
    if (rc != 0) {
      pw_log(PW_LOG_ERROR, "ipc", "msg=\"uv_queue_work failed\" err=%s",
             uv_strerror(rc));
      job_after(&job->req, rc);
      return;   /* job_after pumped the rest */
    }
  }
}

bool
pw_ipc__jobs_idle(const pw_ipc_t *ipc)
{
  return ipc->running == NULL && ipc->queue_head == NULL;
}

/* Answers a call on the loop with an error (a notification: nothing). */
static void
refuse(batch_t *b, size_t index, int code, const char *message)
{
  const pw_rpc_call_t *call = &b->msg.calls[index];
  pw_rpc_error_t e;
  json_t *response = NULL;

  if (call->id != NULL) {
    memset(&e, 0, sizeof(e));
    pw_rpc_fail(&e, code, NULL, "%s", message);
    response = pw_rpc_error(call->id, &e);
  }
  complete(b, index, response);
}

/* Store jobs run in the order they came, one at a time. */
static void
enqueue(pw_ipc_t *ipc, pw_ipc_job_t *job)
{
  if (ipc->queue_tail != NULL)
    ipc->queue_tail->next = job;
  else
    ipc->queue_head = job;
  ipc->queue_tail = job;
  pump(ipc);
}

static void
queue_job(batch_t *b, size_t index)
{
  pw_ipc_conn_t *conn = b->conn;
  pw_ipc_t *ipc = conn->ipc;
  pw_ipc_job_t *job;

  job = calloc(1, sizeof(*job));
  if (job != NULL)
    job->events = json_array();
  if (job == NULL || job->events == NULL) {
    free(job);
    pw_log(PW_LOG_ERROR, "ipc", "msg=\"out of memory\" peer=%s",
           conn->peer);
    refuse(b, index, PW_RPC_BUSY, "the engine is short of memory");
    return;
  }

  job->batch = b;
  job->index = index;
  job->ipc = ipc;
  job->api = ipc->api;
  job->session = conn->session;
  conn->in_flight++;

  enqueue(ipc, job);
}

static void
dispatch(batch_t *b, size_t index)
{
  const pw_rpc_call_t *call = &b->msg.calls[index];
  pw_ipc_conn_t *conn = b->conn;
  json_t *result = NULL;

  /* Unknown and invalid calls carry their error; pw_rpc_run says it. */
  if (call->method == NULL || (call->method->flags & PW_RPC_LOOP) != 0) {
    run_inline(b, index);
    return;
  }

  /*
   * A client with no token may not queue work behind the store's other
   * callers: what it asks of the store is refused here, on the loop.
   */
  if (!conn->session.authed) {
    refuse(b, index, PW_RPC_UNAUTHORIZED,
           "present a token first (session.hello)");
    return;
  }

  if (strcmp(call->name, "verify.chain") == 0
      && pw_api_verify_cached(conn->ipc->api, &conn->session, call->params,
                              &result)) {
    if (call->id != NULL) {
      complete(b, index, pw_rpc_result(call->id, result));
    } else {
      json_decref(result);
      complete(b, index, NULL);
    }
    return;
  }

  if (conn->in_flight >= conn->ipc->max_in_flight) {
    refuse(b, index, PW_RPC_BUSY,
           "too many calls in flight on this connection");
    return;
  }
  queue_job(b, index);
}

void
pw_ipc__message(pw_ipc_conn_t *conn, const char *buf, size_t len)
{
  char *answer;
  batch_t *b;
  size_t i;

  /* A repeated verify.chain is answered before any JSON tree is built. */
  if (conn->session.authed
      && pw_api_verify_text(conn->ipc->api, &conn->session, buf, len,
                            &answer)) {
    pw_ipc__send(conn, answer, strlen(answer));
    free(answer);
    return;
  }

  b = calloc(1, sizeof(*b));
  if (b == NULL) {
    pw_log(PW_LOG_ERROR, "ipc", "msg=\"out of memory\" peer=%s",
           conn->peer);
    return;
  }
  b->conn = conn;
  conn->refs++;

  pw_rpc_parse(pw_api_methods(), buf, len, &b->msg);
  if (b->msg.response != NULL) {
    pw_ipc__send_json(conn, b->msg.response);
    batch_free(b);
    return;
  }
  if (b->msg.ncalls == 0) {
    batch_free(b);
    return;
  }

  b->responses = calloc(b->msg.ncalls, sizeof(*b->responses));
  if (b->responses == NULL) {
    pw_log(PW_LOG_ERROR, "ipc", "msg=\"out of memory\" peer=%s",
           conn->peer);
    batch_free(b);
    return;
  }

  b->pending = b->msg.ncalls + 1;
  for (i = 0; i < b->msg.ncalls; i++)
    dispatch(b, i);
  batch_release(b);
}

/*
 * A decision a gateway acted on: every subscriber hears of it now, and
 * the store keeps it in turn with the calls that use the store.
 */
void
pw_ipc_record(pw_ipc_t *ipc, const pw_decision_t *d)
{
  pw_ipc_job_t *job;
  json_t *record, *shown;

  record = pw_decision_to_json(d);
  shown = record != NULL ? json_deep_copy(record) : NULL;
  if (shown != NULL) {
    pw_api_decision_fix(shown);
    pw_ipc_publish(ipc, PW_TOPIC_DECISION,
                   d->profile[0] != '\0' ? d->profile : NULL, shown);
  }
  json_decref(shown);

  /* Once the store has begun to close, the record is only logged. */
  job = ipc->phase < PW_IPC_CLOSING ? calloc(1, sizeof(*job)) : NULL;
  if (record == NULL || job == NULL) {
    pw_log(PW_LOG_WARN, "ipc", "msg=\"decision not stored\" host=%s "
           "action=%s reason=%s", d->host, pw_action_name(d->action),
           pw_reason_name(d->reason));
    json_decref(record);
    free(job);
    return;
  }
  job->ipc = ipc;
  job->api = ipc->api;
  job->record = record;
  enqueue(ipc, job);
}
