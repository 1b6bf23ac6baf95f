// Runs a real `pinwarden serve` on loopback for a test file, and the
// command line against it.  PINWARDEN names the binary (meson sets it);
// by default build/pinwarden of this checkout.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { connect } from '../../ui-bridge/client/pinwarden.js';
import { WebSocket as MiniWebSocket } from './ws.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export const PINWARDEN = process.env.PINWARDEN ??
  path.resolve(here, '../../build/pinwarden');

/**
 * The WebSocket the tests use: Node's own when it has one (20 with
 * --experimental-websocket, 22+), else the one of ws.mjs (Node 18).
 */
export const WebSocket = globalThis.WebSocket ?? MiniWebSocket;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls fn until it returns a truthy value or ms pass. */
export async function waitFor(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v)
      return v;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Starts `pinwarden serve` on a free port in a fresh data folder and
 * waits until engine.json says it listens.
 * @param {{dir?: string, args?: string[]}} [opts]
 */
export async function startEngine(opts = {}) {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'pw-it-'));
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const proc = spawn(PINWARDEN, ['serve', '--data-dir', dir, '--listen',
                                 listen, ...(opts.args ?? [])],
                     { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });

  const info = await Promise.race([
    waitFor(() => {
      const j = readJson(path.join(dir, 'engine.json'));
      return j && j.pid === proc.pid ? j : null;
    }, 15000, 'engine.json'),
    exited.then(({ code }) => {
      throw new Error(`serve exited with ${code}:\n${output}`);
    }),
  ]);
  const token = readFileSync(path.join(dir, 'token'), 'utf8').trim();

  return {
    dir, port, info, token, proc, exited,
    url: `ws://127.0.0.1:${port}/`,
    output: () => output,

    /** An authenticated client (the engine's token unless given). */
    client(o = {}) {
      return connect({ url: this.url, token: o.token ?? token,
                       WebSocket: o.WebSocket ?? WebSocket,
                       timeoutMs: o.timeoutMs ?? 15000 });
    },

    /** Whether the engine still answers a fresh client. */
    async alive() {
      const c = await this.client();
      try {
        const s = await c.call('engine.status');
        return typeof s.version === 'string';
      } finally {
        await c.close();
      }
    },

    /** The engine's resident set size in KiB, from /proc. */
    rssKiB() {
      const s = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(s)[1]);
    },

    /**
     * Stops it with SIGTERM; it must exit 0 and remove engine.json.
     * @param {{keep?: boolean}} [o] keep the data folder
     */
    async stop(o = {}) {
      if (proc.exitCode === null && proc.signalCode === null)
        proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10000);
      const { code, signal } = await exited;
      clearTimeout(kill);
      assert.equal(signal, null, `serve died of ${signal}:\n${output}`);
      assert.equal(code, 0, `serve exited with ${code}:\n${output}`);
      assert.equal(existsSync(path.join(dir, 'engine.json')), false,
                   'engine.json is left behind');
      if (!o.keep)
        rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the command line with --data-dir of the engine's folder.
 * @param {string} dir the data folder
 * @param {string[]} args
 * @param {{input?: string, timeoutMs?: number, signalAfterMs?: number,
 *          asIs?: boolean}} [o] signalAfterMs: send SIGINT then (for
 *   `events`); asIs: args as given, without --data-dir
 * @returns {Promise<{code: number, stdout: string, stderr: string}>}
 */
export function runCli(dir, args, o = {}) {
  return new Promise((resolve, reject) => {
    const all = o.asIs ? args : [...args, '--data-dir', dir];
    const proc = spawn(PINWARDEN, all,
                       { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.on('error', reject);
    const kill = setTimeout(() => proc.kill('SIGKILL'),
                            o.timeoutMs ?? 30000);
    let sig;
    if (o.signalAfterMs)
      sig = setTimeout(() => proc.kill('SIGINT'), o.signalAfterMs);
    proc.on('close', (code, signal) => {
      clearTimeout(kill);
      clearTimeout(sig);
      resolve({ code: code ?? signal, stdout, stderr });
    });
    // A command that exits without reading its input closes the pipe
    // first: that is its business, not a failure of the test.
    proc.stdin.on('error', () => {});
    proc.stdin.end(o.input ?? '');
  });
}
