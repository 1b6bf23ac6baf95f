// Bulk use of the launcher: 20 headless profiles started at once, 20
// profiles.start calls in flight together on this 2-core machine, each
// with a real /usr/bin/chromium behind its own gateway, then all 20
// stopped at once.  What the browsers are is read from /proc, not taken
// from the engine's word.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';

import { startEngine, waitFor } from './engine.mjs';

const COUNT = 20;

// Twenty Chromiums on two CPUs take turns; a start that needs more
// than this is a launcher that serialises or stalls, not a slow box.
const BOUND_MS = 90000;

let engine;
let pw;
const profiles = [];
const runs = new Map();   // id -> the answer of profiles.start

before(async () => {
  engine = await startEngine();
  // The client's own call timeout must not fire before the bound does.
  pw = await engine.client({ timeoutMs: BOUND_MS + 10000 });
  for (let i = 0; i < COUNT; i++)
    profiles.push(await pw.call('profiles.create', { name: `bulk-${i}` }));
});

// A failure half-way leaves browsers running: the engine's own stop
// stops every browser it started.
after(async () => {
  await pw?.close();
  await engine?.stop();
});

function userDataDir(id) {
  return path.join(engine.dir, 'profiles', id, 'browser');
}

/**
 * Every live process started with one of these user data folders (the
 * browser and its zygotes, renderers and utilities all carry it), as
 * [pid, folder].
 */
function processesOf(dirs) {
  const found = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;   // it exited while we looked
    }
    for (const dir of dirs) {
      if (argv.includes(`--user-data-dir=${dir}`))
        found.push([Number(pid), dir]);
    }
  }
  return found;
}

/** GET /json/version of a DevTools endpoint: {status, body}. */
function jsonVersion(port) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/json/version',
                           timeout: 10000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${port}: timed out`)));
    req.on('error', reject);
  });
}

const portOf = (addr) => Number(new URL(addr.replace(/^ws/, 'http')).port);

describe(`${COUNT} headless profiles at once`, () => {
  it('all start together, each within the bound', async () => {
    const t0 = performance.now();
    const answers = await Promise.all(profiles.map(async (p) => {
      const run = await pw.call('profiles.start', { id: p.id,
                                                    browser: true,
                                                    headless: true });
      return { id: p.id, run, ms: performance.now() - t0 };
    }));
    for (const { id, run, ms } of answers) {
      runs.set(id, run);
      assert.ok(ms < BOUND_MS, `${id} answered after ${ms.toFixed(0)} ms`);
      assert.match(run.gateway, /^127\.0\.0\.1:\d+$/);
      assert.match(run.devtools,
                   /^ws:\/\/127\.0\.0\.1:\d+\/devtools\/browser\/[\w-]+$/);
      assert.ok(Number.isInteger(run.pid) && run.pid > 0,
                `${id}: pid ${run.pid}`);
    }
  });

  it('gives each its own gateway port, DevTools port and pid', () => {
    const all = [...runs.values()];
    const distinct = (f) => new Set(all.map(f)).size;
    assert.equal(all.length, COUNT);
    assert.equal(distinct((r) => r.gateway), COUNT, 'gateway ports');
    assert.equal(distinct((r) => portOf(r.devtools)), COUNT,
                 'DevTools ports');
    assert.equal(distinct((r) => r.pid), COUNT, 'pids');
    assert.equal(distinct((r) => r.keylog), COUNT, 'key-log files');

    // The pid is that profile's browser, behind that profile's gateway.
    for (const [id, run] of runs) {
      const argv = readFileSync(`/proc/${run.pid}/cmdline`, 'utf8')
        .split('\0');
      assert.ok(argv.includes(`--user-data-dir=${userDataDir(id)}`),
                `${run.pid} is not ${id}'s browser: ${argv.join(' ')}`);
      assert.ok(argv.includes(`--proxy-server=http://${run.gateway}`),
                `${id}'s browser is not behind ${run.gateway}`);
    }
  });

  it('answers GET /json/version on every DevTools endpoint', async () => {
    await Promise.all([...runs.values()].map(async (run) => {
      const { status, body } = await jsonVersion(portOf(run.devtools));
      assert.equal(status, 200, body);
      assert.equal(JSON.parse(body).webSocketDebuggerUrl, run.devtools);
    }));
  });

  it('lists all 20 in profiles.status', async () => {
    const { running } = await pw.call('profiles.status');
    assert.equal(running.length, COUNT);
    for (const r of running) {
      const run = runs.get(r.id);
      assert.ok(run, `status lists ${r.id}, which was not started`);
      assert.deepEqual([r.gateway, r.devtools, r.pid],
                       [run.gateway, run.devtools, run.pid]);
    }
  });

  it('stops all at once: no browser process, no key-log file', async () => {
    const dirs = [...runs.keys()].map(userDataDir);
    assert.equal(new Set(processesOf(dirs).map(([, d]) => d)).size, COUNT,
                 'not every browser runs before the stop');

    await Promise.all([...runs.keys()].map((id) => (
      pw.call('profiles.stop', { id }))));

    // profiles.stop answers once each browser's main process is gone;
    // its children notice their parent's end on their own, so they get
    // a moment.
    const left = await waitFor(() => {
      const procs = processesOf(dirs);
      return procs.length === 0 ? [] : null;
    }, 5000, 'the browsers\' processes to end').catch(() => (
      processesOf(dirs)));
    assert.deepEqual(left, [], 'processes left after profiles.stop');

    for (const run of runs.values())
      assert.equal(existsSync(run.keylog), false, `${run.keylog} is left`);
    const { running } = await pw.call('profiles.status');
    assert.deepEqual(running, []);
  });
});
