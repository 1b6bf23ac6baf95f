// A minimal WebSocket client (RFC 6455) on node:net, for two needs:
// Node 18 (Debian 12's) has no global WebSocket for the JavaScript
// client, and the security tests must set headers and write frames that
// no well-behaved client would (oversized, invalid UTF-8, never read).
//
// Only what the tests use: ws:// on loopback, no extensions, no
// subprotocols unless asked, text and binary messages, ping answered.

import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP = Object.freeze({
  CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa,
});

/**
 * Encodes one frame (section 5.2).  Clients mask (section 5.3).
 * @param {number} opcode
 * @param {Buffer|string} payload
 * @param {{fin?: boolean, mask?: boolean, length?: number}} [opts]
 *   length: the length to announce, when a test lies about it
 * @returns {Buffer}
 */
export function encodeFrame(opcode, payload, opts = {}) {
  const { fin = true, mask = true } = opts;
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = opts.length ?? data.length;
  let head;

  if (len < 126) {
    head = Buffer.alloc(2);
    head[1] = len;
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (!mask)
    return Buffer.concat([head, data]);

  head[1] |= 0x80;
  const key = randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++)
    body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}

/** Splits a byte stream into frames; unmasks what is masked. */
export class FrameParser {
  constructor() {
    this.buf = Buffer.alloc(0);
  }

  /**
   * @param {Buffer} chunk
   * @returns {{fin: boolean, opcode: number, payload: Buffer}[]}
   */
  push(chunk) {
    const frames = [];

    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const b = this.buf;
      if (b.length < 2)
        break;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4)
          break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10)
          break;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b[1] & 0x80) !== 0;
      const keyOff = off;
      if (masked)
        off += 4;
      if (b.length < off + len)
        break;

      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked)
        for (let i = 0; i < len; i++)
          payload[i] ^= b[keyOff + (i & 3)];
      frames.push({ fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f,
                    payload });
      this.buf = b.subarray(off + len);
    }
    return frames;
  }
}

/**
 * Sends an upgrade request with exactly the headers given (plus the
 * WebSocket ones unless overridden) and reads the response head.
 * Resolves whatever the status; the socket stays open for the caller.
 * @param {{host?: string, port: number, path?: string,
 *          headers?: Record<string, string|null>}} opts
 *   a header set to null is left out
 * @returns {Promise<{socket: net.Socket, status: number,
 *                    headers: Record<string, string>, rest: Buffer,
 *                    accept: string}>}
 */
export function upgrade({ host = '127.0.0.1', port, path = '/',
                          headers = {} }) {
  const key = randomBytes(16).toString('base64');
  const all = {
    Host: `${host}:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = [`GET ${path} HTTP/1.1`];
  for (const [k, v] of Object.entries(all))
    if (v !== null && v !== undefined)
      lines.push(`${k}: ${v}`);
  const want = createHash('sha1').update(key + GUID).digest('base64');

  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = Buffer.alloc(0);

    const onData = (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0)
        return;
      socket.off('data', onData);
      socket.off('error', reject);
      socket.off('end', onEnd);
      socket.pause();
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(head[0].split(' ')[1]);
      const hdrs = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        hdrs[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1)
          .trim();
      }
      resolve({ socket, status, headers: hdrs, accept: want,
                rest: buf.subarray(end + 4) });
    };
    // A server that hangs up without an answer: status 0.
    const onEnd = () => resolve({ socket, status: 0, headers: {},
                                  accept: want, rest: buf });
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', onEnd);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
  });
}

/**
 * The browser's WebSocket, as far as pinwarden.js and the tests use it,
 * with a third argument browsers do not have: { headers }.
 */
export class WebSocket extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;

  /**
   * @param {string} url ws://host:port/path
   * @param {string|string[]} [protocols]
   * @param {{headers?: Record<string, string|null>}} [opts]
   */
  constructor(url, protocols, opts = {}) {
    super();
    const u = new URL(url);
    this.url = url;
    this.readyState = WebSocket.CONNECTING;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    this._parser = new FrameParser();
    this._parts = [];
    this._closeSent = false;

    const headers = { ...(opts.headers ?? {}) };
    if (protocols && protocols.length)
      headers['Sec-WebSocket-Protocol'] = [].concat(protocols).join(', ');
    const host = u.hostname.replace(/^\[|\]$/g, '');
    upgrade({ host, port: Number(u.port || 80), path: u.pathname + u.search,
              headers })
      .then((r) => this._opened(r))
      .catch((e) => this._fail(e));
  }

  _emit(type, props = {}) {
    const ev = new Event(type);
    Object.assign(ev, props);
    this.dispatchEvent(ev);
    const handler = this['on' + type];
    if (typeof handler === 'function')
      handler.call(this, ev);
  }

  _opened({ socket, status, headers, rest, accept }) {
    this._socket = socket;
    if (status !== 101 || headers['sec-websocket-accept'] !== accept) {
      socket.destroy();
      this._fail(new Error(`upgrade refused: HTTP ${status}`), status);
      return;
    }
    this.readyState = WebSocket.OPEN;
    socket.on('data', (chunk) => this._data(chunk));
    socket.on('close', () => this._closed(1006, ''));
    socket.on('error', () => {});
    socket.resume();
    this._emit('open');
    if (rest.length)
      this._data(rest);
  }

  _fail(error, status = 0) {
    if (this.readyState === WebSocket.CLOSED)
      return;
    this.readyState = WebSocket.CLOSED;
    this._emit('error', { error, status });
    this._emit('close', { code: 1006, reason: '', wasClean: false, status });
  }

  _data(chunk) {
    for (const f of this._parser.push(chunk)) {
      if (f.opcode === OP.PING) {
        this._write(OP.PONG, f.payload);
      } else if (f.opcode === OP.CLOSE) {
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0)
                                           : 1005;
        this._closeCode = code;
        this._closeReason = f.payload.subarray(2).toString();
        if (!this._closeSent)
          this._write(OP.CLOSE, f.payload.subarray(0, 2));
        this._closeSent = true;
        this._socket.end();
      } else if (f.opcode !== OP.PONG) {
        this._parts.push(f.payload);
        if (f.opcode !== OP.CONT)
          this._binary = f.opcode === OP.BINARY;
        if (f.fin) {
          const all = Buffer.concat(this._parts);
          this._parts = [];
          this._emit('message', {
            data: this._binary ? all : all.toString('utf8'),
          });
        }
      }
    }
  }

  _closed(code, reason) {
    if (this.readyState === WebSocket.CLOSED)
      return;
    this.readyState = WebSocket.CLOSED;
    const got = this._closeCode ?? code;
    this._emit('close', { code: got, reason: this._closeReason ?? reason,
                          wasClean: this._closeCode !== undefined });
  }

  _write(opcode, payload) {
    if (this._socket && !this._socket.destroyed)
      this._socket.write(encodeFrame(opcode, payload));
  }

  /** @param {string|Buffer} data */
  send(data) {
    if (this.readyState !== WebSocket.OPEN)
      throw new Error('WebSocket is not open');
    this._write(typeof data === 'string' ? OP.TEXT : OP.BINARY, data);
  }

  /** @param {number} [code] @param {string} [reason] */
  close(code = 1000, reason = '') {
    if (this.readyState !== WebSocket.OPEN) {
      if (this._socket)
        this._socket.destroy();
      return;
    }
    this.readyState = WebSocket.CLOSING;
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    this._write(OP.CLOSE, Buffer.concat([p, Buffer.from(reason)]));
    this._closeSent = true;
    // A server that does not answer the close in time is cut off.
    setTimeout(() => this._socket.destroy(), 1000).unref();
  }
}
