// The pinwarden engine's JavaScript client: JSON-RPC 2.0 over one
// WebSocket, for the web UI, browser extensions and automation scripts.
// An ES module with no dependencies and no build step; it runs in
// browsers and in Node 20 or later (`--experimental-websocket` on 20),
// and elsewhere with any WebSocket implementation passed in.
//
// It authenticates with session.hello as the first call, because a
// browser cannot set an Authorization header on a WebSocket.

const DEFAULT_URL = 'ws://127.0.0.1:7460/';
const DEFAULT_TIMEOUT_MS = 30000;

/**
 * What a failed call rejects with: a JSON-RPC error from the engine
 * (`code` a number such as -32001), or a transport failure (`code`
 * 'ECLOSED' or 'ETIMEDOUT').
 */
export class PinwardenError extends Error {
  /**
   * @param {string} message
   * @param {number|string} code
   * @param {*} [data]
   */
  constructor(message, code, data) {
    super(message);
    this.name = 'PinwardenError';
    this.code = code;
    this.data = data;
  }
}

/** The engine's error codes, by name. */
export const codes = Object.freeze({
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  NOT_FOUND: -32001,
  CONFLICT: -32002,
  UNAUTHORIZED: -32003,
  INVALID_POLICY: -32004,
  BUSY: -32005,
  UPSTREAM: -32006,
});

function toError(e) {
  return new PinwardenError(e?.message ?? 'error without a message',
                            e?.code ?? codes.INTERNAL_ERROR, e?.data);
}

/** One connection to the engine; made by connect(). */
export class PinwardenClient {
  constructor(ws, timeoutMs) {
    this._ws = ws;
    this._timeoutMs = timeoutMs;
    this._nextId = 1;
    this._pending = new Map();   // id -> {resolve, reject, timer}
    this._handlers = new Map();  // topic -> Set of functions
    this.version = undefined;
    this.scope = undefined;
    this.closed = new Promise((resolve) => {
      this._onClosed = resolve;
    });

    ws.addEventListener('message', (ev) => this._message(ev.data));
    ws.addEventListener('close', (ev) => this._close(ev));
  }

  _message(text) {
    let msg;
    try {
      msg = JSON.parse(typeof text === 'string' ? text : String(text));
    } catch {
      return;
    }

    if (Array.isArray(msg)) {
      // A batch answer goes to the batch that holds its first id.
      const first = msg.find((r) => r && r.id !== null);
      const key = first ? `b${first.id}` : null;
      const p = key && this._pending.get(key);
      if (p)
        this._settle(key, p, () => p.resolve(msg));
      return;
    }

    if (msg.method === 'event' && msg.id === undefined) {
      this._dispatch(msg.params ?? {});
      return;
    }

    // An answer with a null id (the engine could not read ours) goes to
    // the oldest call, the only one it can belong to when calls are
    // answered in order.
    let key = msg.id;
    if (key === null || key === undefined)
      key = this._pending.keys().next().value;
    const p = this._pending.get(key);
    if (!p)
      return;
    this._settle(key, p, () => {
      if (p.batch)
        p.resolve([msg]);
      else if (msg.error)
        p.reject(toError(msg.error));
      else
        p.resolve(msg.result);
    });
  }

  _settle(key, p, fn) {
    clearTimeout(p.timer);
    this._pending.delete(key);
    fn();
  }

  _dispatch(params) {
    for (const topic of [params.topic, '*']) {
      const set = this._handlers.get(topic);
      if (!set)
        continue;
      for (const fn of set) {
        try {
          fn(params.data, params);
        } catch (e) {
          // A listener's failure must not stop the others.
          queueMicrotask(() => { throw e; });
        }
      }
    }
  }

  _close(ev) {
    const why = new PinwardenError(
      `connection closed (${ev?.code ?? 1006}${ev?.reason ? ': ' +
        ev.reason : ''})`, 'ECLOSED');
    for (const [key, p] of this._pending)
      this._settle(key, p, () => p.reject(why));
    this._onClosed({ code: ev?.code, reason: ev?.reason });
  }

  _send(key, payload, batch) {
    if (this._ws.readyState !== 1)
      return Promise.reject(new PinwardenError('connection closed',
                                               'ECLOSED'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(key);
        reject(new PinwardenError('no answer in time', 'ETIMEDOUT'));
      }, this._timeoutMs);
      this._pending.set(key, { resolve, reject, timer, batch });
      this._ws.send(JSON.stringify(payload));
    });
  }

  /**
   * Calls a method.
   * @param {string} method e.g. 'profiles.create'
   * @param {object|Array} [params]
   * @returns {Promise<*>} the result; rejects with a PinwardenError
   */
  call(method, params) {
    const id = this._nextId++;
    const msg = { jsonrpc: '2.0', id, method };
    if (params !== undefined)
      msg.params = params;
    return this._send(id, msg, false);
  }

  /**
   * Sends several calls as one batch (JSON-RPC section 6).
   * @param {Array<[string, (object|Array)?]>} calls [method, params]
   * @returns {Promise<Array<object>>} the responses in the calls' order,
   *   each {id, result} or {id, error}
   */
  async batch(calls) {
    const msgs = calls.map(([method, params]) => {
      const m = { jsonrpc: '2.0', id: this._nextId++, method };
      if (params !== undefined)
        m.params = params;
      return m;
    });
    const key = `b${msgs[0]?.id}`;
    const got = await this._send(key, msgs, true);
    const byId = new Map(got.map((r) => [r.id, r]));
    return msgs.map((m) => byId.get(m.id) ?? got.find((r) => r.id === null));
  }

  /**
   * Sends a notification: no answer, not even an error.
   * @param {string} method
   * @param {object|Array} [params]
   */
  notify(method, params) {
    const msg = { jsonrpc: '2.0', method };
    if (params !== undefined)
      msg.params = params;
    this._ws.send(JSON.stringify(msg));
  }

  /**
   * Listens to events of a topic ('profile', 'secure_access',
   * 'decision', 'browser', or '*' for all).  Events come only for
   * topics subscribed to with subscribe().
   * @param {string} topic
   * @param {(data: *, event: {topic: string, data: *}) => void} fn
   * @returns {() => void} a function that stops listening
   */
  on(topic, fn) {
    if (!this._handlers.has(topic))
      this._handlers.set(topic, new Set());
    this._handlers.get(topic).add(fn);
    return () => this.off(topic, fn);
  }

  /**
   * Stops a listener added with on().
   * @param {string} topic
   * @param {Function} fn
   */
  off(topic, fn) {
    this._handlers.get(topic)?.delete(fn);
  }

  /**
   * Asks the engine for events of these topics, of one profile when id
   * is given.
   * @param {string[]} topics
   * @param {string} [id] a profile's id or name
   * @returns {Promise<{topics: string[]}>}
   */
  subscribe(topics, id) {
    return this.call('events.subscribe',
                     id === undefined ? { topics } : { topics, id });
  }

  /**
   * @param {string[]} topics
   * @param {string} [id]
   * @returns {Promise<{topics: string[]}>}
   */
  unsubscribe(topics, id) {
    return this.call('events.unsubscribe',
                     id === undefined ? { topics } : { topics, id });
  }

  /**
   * Closes the connection; calls still waiting reject with ECLOSED.
   * @returns {Promise<{code: number, reason: string}>}
   */
  close() {
    if (this._ws.readyState <= 1)
      this._ws.close(1000, 'bye');
    return this.closed;
  }
}

/**
 * Connects to the engine and authenticates.
 * @param {object} opts
 * @param {string} [opts.url] 'ws://127.0.0.1:7460/' by default
 * @param {string} opts.token the engine's token (<data>/token), or a
 *   profile's token from tokens.create
 * @param {Function} [opts.WebSocket] a WebSocket class; the global one
 *   by default
 * @param {number} [opts.timeoutMs] how long a call waits (30 s)
 * @returns {Promise<PinwardenClient>} once session.hello succeeded;
 *   rejects with a PinwardenError otherwise
 */
export async function connect({ url = DEFAULT_URL, token, WebSocket,
                                timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const WS = WebSocket ?? globalThis.WebSocket;
  if (typeof WS !== 'function')
    throw new PinwardenError('no WebSocket here: pass one as WebSocket',
                             'ENOWEBSOCKET');

  const ws = new WS(url);
  await new Promise((resolve, reject) => {
    const onOpen = () => {
      ws.removeEventListener('close', onClose);
      resolve();
    };
    const onClose = (ev) => {
      ws.removeEventListener('open', onOpen);
      reject(new PinwardenError(`cannot connect to ${url} (${ev?.code})`,
                                'ECLOSED'));
    };
    ws.addEventListener('open', onOpen, { once: true });
    ws.addEventListener('close', onClose, { once: true });
  });

  const client = new PinwardenClient(ws, timeoutMs);
  try {
    const hello = await client.call('session.hello', { token });
    client.version = hello?.version;
    client.scope = hello?.scope;
  } catch (e) {
    client.close();
    throw e;
  }
  return client;
}
