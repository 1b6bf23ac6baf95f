// The launcher from outside: `profiles.start` runs Debian's headless
// Chromium behind the profile's gateway, and playwright-core drives it
// over the DevTools URL the engine answers (connectOverCDP only: a test
// never launches or downloads a browser).  The sites and proxies are the
// real nginx and tinyproxy of servers.mjs, plus an nginx of this file
// that logs cookies and can take fixed addresses; what they saw is read
// from their logs.  Each Chromium start costs a second or two, so the
// tests reuse running profiles where the case allows.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync,
         rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { chromium } from 'playwright-core';

import { codes } from '../../ui-bridge/client/pinwarden.js';
import { pinOf } from './certs.mjs';
import { freePort, sleep, startEngine, waitFor } from './engine.mjs';
import { curl, makePki, startNginx, startTinyproxy } from './servers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.resolve(here, '../../ui-bridge/examples/' +
                             'two-profiles.mjs');
const NGINX = '/usr/sbin/nginx';
const NAV_MS = 15000;

let engine;
let pw;
let watcher;
let pki;
const site = {};
const heard = [];             // every event the watcher got, in order
const started = new Set();    // profile ids to stop in after()
const origins = new Set();    // this file's nginx instances, running
const cdp = new Map();        // devtools URL -> playwright Browser

before(async () => {
  engine = await startEngine();
  pw = await engine.client();
  watcher = await engine.client();
  watcher.on('*', (data, ev) => heard.push({ topic: ev.topic, ...data }));
  await watcher.subscribe(['decision', 'browser']);
  pki = await makePki();
  [site.good, site.imp] = await Promise.all([
    startNginx({ pki, tls: '1.3' }),
    startNginx({ pki, tls: '1.3', cert: 'impostor' }),
  ]);
});

after(async () => {
  // Disconnect first: a Browser whose endpoint vanishes under it logs
  // noise.  close() on a connectOverCDP browser only disconnects.
  await Promise.all([...cdp.values()].map((b) => b.close().catch(() => {})));
  for (const id of started)
    await pw.call('profiles.stop', { id }).catch(() => {});
  await Promise.all([...origins].map((o) => o.stop()));
  await Promise.all(Object.values(site).map((s) => s.stop()));
  pki?.remove();
  await watcher?.close();
  await pw?.close();
  await engine?.stop();
});

let serial = 0;

/** A profile that reaches site.test on loopback and trusts the test CA. */
function profile(extra = {}) {
  return pw.call('profiles.create', {
    name: `br-${++serial}`,
    resolve: { 'site.test': '127.0.0.1' },
    roots: pki.caPem,
    ...extra,
  });
}

function pinning(host, pin = pki.good.pin) {
  return { pins: [{ pattern: host, pins: [pin], mode: 'enforce' }] };
}

/** Starts p's browser (headless: CI has no display). */
async function start(p) {
  started.add(p.id);
  return pw.call('profiles.start', { id: p.id, headless: true });
}

async function stop(p) {
  await pw.call('profiles.stop', { id: p.id });
  started.delete(p.id);
}

/** One DevTools connection per running browser, made on first use. */
async function browserOf(run) {
  if (!cdp.has(run.devtools))
    cdp.set(run.devtools, await chromium.connectOverCDP(run.devtools));
  return cdp.get(run.devtools);
}

/**
 * Navigates a new tab of run's browser to url and closes it again: the
 * status, final URL, text, TLS details, the pin of the leaf certificate
 * Chromium got (DevTools' Network.getCertificate, which knows only what
 * its own session saw from Network.enable on) and the statuses of the
 * redirects on the way; or the navigation's error.
 */
async function load(run, url) {
  const [context] = (await browserOf(run)).contexts();
  const page = await context.newPage();
  const session = await context.newCDPSession(page);
  try {
    await session.send('Network.enable');
    const response = await page.goto(url, { timeout: NAV_MS });
    const hops = [];
    for (let r = response.request().redirectedFrom(); r;
         r = r.redirectedFrom())
      hops.unshift((await r.response()).status());
    const origin = new URL(page.url()).origin;
    const chain = origin.startsWith('https:')
      ? (await session.send('Network.getCertificate', { origin })).tableNames
      : [];
    return { status: response.status(), url: page.url(), hops,
             tls: await response.securityDetails(),
             leafPin: chain.length ? pinOf(Buffer.from(chain[0], 'base64'))
                                   : null,
             text: await page.textContent('body') };
  } catch (error) {
    return { error };
  } finally {
    await page.close();
  }
}

/**
 * Asserts that site s got no request past its first `seen` log lines:
 * a canary sent straight to its plain-HTTP port is logged after any
 * line the attempt could have caused (gateway.test.mjs's habit).
 */
async function assertNoRequest(s, seen) {
  const uri = `/canary-${++serial}`;
  await curl([`http://${s.addr ?? '127.0.0.1'}:${s.httpPort}${uri}`]);
  await s.waitEntry(uri);
  const got = s.accessEntries().slice(seen).filter((e) => e.uri !== uri);
  assert.deepEqual(got, [], 'the site saw a request');
}

async function decisions(p, host) {
  return (await pw.call('decisions.list', { id: p.id, host })).decisions;
}

/** The first event heard of a topic for a profile that `match` takes. */
function heardOf(topic, p, match, what) {
  return waitFor(() => heard.find((e) => e.topic === topic && e.id === p.id
                                  && match(e)), 10000, what);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Pids of the processes whose command line names this user data dir. */
function browsersIn(p) {
  const want = `--user-data-dir=${userDataDir(p)}`;
  return processes((argv) => argv.includes(want));
}

/**
 * Every process that names the profile's folder in its arguments: the
 * browser's and its helpers', the crash handler's among them.
 */
function processesIn(p) {
  const dir = path.join(engine.dir, 'profiles', p.id);
  return processes((argv) => argv.some((a) => a.includes(dir)));
}

/** The pids of the processes whose argument vector passes test. */
function processes(test) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name))
      continue;
    let argv;
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;    // gone meanwhile
    }
    if (test(argv))
      pids.push(Number(name));
  }
  return pids;
}

function userDataDir(p) {
  return path.join(engine.dir, 'profiles', p.id, 'browser');
}

/** Whether a connection to "HOST:PORT" is refused. */
function refused(hostPort) {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host);
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

// ---- an nginx of this file ---------------------------------------------

// startNginx listens on 127.0.0.1 and free ports and logs no cookies;
// the isolation test needs the Cookie header a site got, and the Secure
// Access test needs http on 80 and https on 443 of one address.

const ORIGIN_LOG = "log_format origin escape=json '{" +
  '"addr":"$server_addr","port":"$server_port","scheme":"$scheme",' +
  '"uri":"$request_uri","host":"$host","cookie":"$http_cookie"' +
  "}';\n";

/**
 * nginx on addr: plain HTTP on httpPort ("plain"), HTTPS with the good
 * leaf on httpsPort ("hello from site.test"; /set-cookie?v=X answers
 * Set-Cookie pw=X).  Free ports on 127.0.0.1 unless given.  Rejects
 * with nginx's error log when it cannot bind.
 * @param {{addr?: string, httpPort?: number, httpsPort?: number}} [o]
 */
async function startOrigin(o = {}) {
  const addr = o.addr ?? '127.0.0.1';
  const httpPort = o.httpPort ?? await freePort();
  const httpsPort = o.httpsPort ?? await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-origin-'));
  const log = path.join(dir, 'access.log');
  const errorLog = path.join(dir, 'error.log');
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];

  // As root nginx would hand its workers to nobody, who cannot enter
  // this 0700 dir; temp paths default to /var/lib/nginx otherwise.
  const conf = (process.getuid() === 0 ? 'user root root;\n' : '') +
    `worker_processes 1;\nlock_file ${dir}/nginx.lock;\n` +
    'events { worker_connections 64; }\nhttp {\n' +
    temps.map((t) => `  ${t}_temp_path ${dir}/${t};\n`).join('') +
    '  ' + ORIGIN_LOG + `  access_log ${log} origin;\n` +
    '  default_type text/plain;\n' +
    `  server {\n    listen ${addr}:${httpPort};\n` +
    '    location / { return 200 "plain\\n"; }\n  }\n' +
    `  server {\n    listen ${addr}:${httpsPort} ssl;\n` +
    `    ssl_certificate ${pki.good.cert};\n` +
    `    ssl_certificate_key ${pki.good.key};\n` +
    '    ssl_session_tickets off;\n' +
    '    location = /set-cookie {\n' +
    '      add_header Set-Cookie "pw=$arg_v; Path=/; Secure";\n' +
    '      return 200 "cookie set\\n";\n    }\n' +
    '    location / { return 200 "hello from site.test\\n"; }\n  }\n}\n';
  writeFileSync(path.join(dir, 'nginx.conf'), conf);

  const proc = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'),
                             '-e', errorLog, '-g',
                             `daemon off; pid ${dir}/nginx.pid;`],
                     { stdio: 'ignore' });
  const exited = new Promise((r) => {
    proc.once('exit', r);
    proc.once('error', (e) => r(e.message));
  });
  const gone = () => rmSync(dir, { recursive: true, force: true });
  const listening = async (port) => {
    for (;;) {
      if (!await refused(`${addr}:${port}`))
        return;
      await sleep(25);
    }
  };
  const ready = Promise.all([listening(httpPort), listening(httpsPort)]);
  const why = await Promise.race([
    ready.then(() => null),
    exited.then(() => (existsSync(errorLog)
      ? readFileSync(errorLog, 'utf8') : 'nginx exited')),
    sleep(10000).then(() => 'nginx did not listen within 10 s'),
  ]);
  if (why !== null) {
    proc.kill('SIGKILL');
    gone();
    throw new Error(`origin on ${addr}: ${why}`);
  }

  const entries = () => {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };
  const origin = {
    addr, httpPort, httpsPort, proc,
    accessEntries: entries,
    waitEntry: (uri) => waitFor(() => entries().find((e) => e.uri === uri),
                                3000, `access-log entry for ${uri}`),
    async stop() {
      origins.delete(origin);
      if (proc.exitCode === null && proc.signalCode === null)
        proc.kill('SIGTERM');
      await exited;
      gone();
    },
  };
  origins.add(origin);
  return origin;
}

// A test that fails before stop() leaves its origin running: nginx
// goes when Node exits ('exit' handlers must be synchronous).
process.on('exit', () => {
  for (const o of origins)
    o.proc.kill('SIGTERM');
});

// What an origin served, without the favicon Chromium asks for.
function pages(o) {
  return o.accessEntries().filter((e) => e.uri !== '/favicon.ico');
}

// Binding below 1024 needs root, and 80 or 443 of 127.0.0.2 may be
// taken: the Secure Access test is skipped then, saying which.
async function lowPortsProblem() {
  for (const port of [80, 443]) {
    const problem = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', (e) => resolve(`cannot bind 127.0.0.2:${port} ` +
                                       `(${e.code}): needs root and a ` +
                                       'free port'));
      srv.listen(port, '127.0.0.2', () => srv.close(() => resolve(null)));
    });
    if (problem)
      return problem;
  }
  return false;
}

const saSkip = await lowPortsProblem();

// ---- the tests -----------------------------------------------------------

describe('pins in the browser', () => {
  let p;
  let run;

  before(async () => {
    p = await profile(pinning('site.test'));
    run = await start(p);
  });

  it('the pinned host loads with the right certificate', async () => {
    const r = await load(run, `https://site.test:${site.good.httpsPort}/`);
    assert.ifError(r.error);
    assert.equal(r.status, 200);
    assert.match(r.text, /hello from site\.test/);
    assert.equal(r.tls.subjectName, 'site.test');
    assert.equal(r.tls.issuer, 'pinwarden test CA');
    assert.equal(r.leafPin, pki.good.pin, 'the pinned key');
  });

  it('the impostor: navigation fails, no request, a decision event',
     async () => {
       const s = site.imp;
       const seen = s.accessEntries().length;
       const r = await load(run, `https://site.test:${s.httpsPort}/`);
       assert.ok(r.error, 'the navigation fails');
       assert.match(r.error.message, /net::ERR_/);
       await assertNoRequest(s, seen);
       const ev = await heardOf('decision', p, (e) =>
         e.reason === 'pin_mismatch', 'a pin_mismatch decision event');
       assert.equal(ev.action, 'block');
       assert.equal(ev.port, s.httpsPort);
     });
});

describe('the upstream proxy', () => {
  it('carries the traffic; stopped, nothing reaches the origin',
     async () => {
       const up = await startTinyproxy({ user: 'alice', password: 's3cret' });
       try {
         // Through an upstream the upstream resolves names, so the
         // site is "localhost", which the test certificates name.
         const p = await profile({
           proxy: `http://alice:s3cret@127.0.0.1:${up.port}`,
           ...pinning('localhost'),
         });
         const run = await start(p);
         const s = site.good;
         const r = await load(run, `https://localhost:${s.httpsPort}/up`);
         assert.ifError(r.error);
         assert.match(r.text, /hello from site\.test/);
         assert.match(up.log(),
                      new RegExp(`CONNECT localhost:${s.httpsPort}`));

         await up.stop();
         const seen = s.accessEntries().length;
         const r2 = await load(run, `https://localhost:${s.httpsPort}/down`);
         assert.ok(r2.error, 'the navigation fails');
         await assertNoRequest(s, seen);
         await stop(p);
       } finally {
         await up.stop();
       }
     });
});

describe('two profiles', () => {
  // Cookies are kept per host, whatever the port: B asking localhost on
  // another port than A would still send A's cookie from a shared jar.
  // The two sites on two ports tell the upstreams' logs apart.
  it('keep their cookies, folders and upstreams apart', async () => {
    const [upA, upB, oA, oB] = await Promise.all([
      startTinyproxy(), startTinyproxy(), startOrigin(), startOrigin(),
    ]);
    try {
      const [a, b] = await Promise.all([upA, upB].map((up) => profile({
        proxy: `http://127.0.0.1:${up.port}`, ...pinning('localhost'),
      })));
      const [runA, runB] = await Promise.all([start(a), start(b)]);
      assert.notEqual(runA.gateway, runB.gateway);
      assert.notEqual(runA.devtools, runB.devtools);

      // A gets its cookie from its site (Set-Cookie) and sends it back;
      // B, on the same host, has none to send.
      const siteA = `https://localhost:${oA.httpsPort}`;
      const siteB = `https://localhost:${oB.httpsPort}`;
      assert.ifError((await load(runA, `${siteA}/set-cookie?v=a`)).error);
      assert.ifError((await load(runA, `${siteA}/check-a`)).error);
      assert.ifError((await load(runB, `${siteB}/check-b`)).error);
      assert.equal((await oA.waitEntry('/check-a')).cookie, 'pw=a');
      assert.equal((await oB.waitEntry('/check-b')).cookie, '',
                   'B sent no cookie');

      const jar = async (run) => (await browserOf(run)).contexts()[0]
        .cookies('https://localhost/');
      assert.deepEqual((await jar(runA)).map((c) => c.name), ['pw']);
      assert.deepEqual(await jar(runB), []);

      // Each browser's user data folder is its profile's own.
      for (const [p, run] of [[a, runA], [b, runB]]) {
        assert.ok(existsSync(path.join(userDataDir(p), 'Default')));
        assert.ok(browsersIn(p).includes(run.pid));
      }

      // Each upstream carried its own profile's tunnels only.
      const to = (o) => `CONNECT localhost:${o.httpsPort}`;
      assert.ok(upA.log().includes(to(oA)), upA.log());
      assert.ok(!upA.log().includes(to(oB)), upA.log());
      assert.ok(upB.log().includes(to(oB)), upB.log());
      assert.ok(!upB.log().includes(to(oA)), upB.log());
      await Promise.all([stop(a), stop(b)]);
    } finally {
      await Promise.all([upA, upB, oA, oB].map((s) => s.stop()));
    }
  });
});

describe('Secure Access', () => {
  it('turned on and off while the browser runs', { skip: saSkip },
     async () => {
       const o = await startOrigin({ addr: '127.0.0.2', httpPort: 80,
                                     httpsPort: 443 });
       try {
         const p = await profile({ resolve: { 'site.test': '127.0.0.2' } });
         const run = await start(p);

         // Off: http stays http.  Each step has a path of its own, so
         // that no cached 308 answers for the gateway.
         let r = await load(run, 'http://site.test/off-1');
         assert.ifError(r.error);
         assert.equal(r.url, 'http://site.test/off-1');
         assert.match(r.text, /plain/);

         await pw.call('secure_access.set', { id: p.id, enabled: true });
         r = await load(run, 'http://site.test/on');
         assert.ifError(r.error);
         assert.equal(r.url, 'https://site.test/on');
         assert.match(r.text, /hello from site\.test/);
         assert.deepEqual(r.hops, [308], 'the gateway upgraded it');
         const [d] = await decisions(p, 'site.test');
         assert.equal(d.action, 'upgrade');

         await pw.call('secure_access.set', { id: p.id, enabled: false });
         r = await load(run, 'http://site.test/off-2');
         assert.ifError(r.error);
         assert.equal(r.url, 'http://site.test/off-2');
         // Only over https did /on reach the site, and only once.
         const got = pages(o).map((e) => `${e.scheme} ${e.uri}`);
         assert.deepEqual(got, ['http /off-1', 'https /on', 'http /off-2']);

         // On at launch, Chromium's own HTTPS-only preference is set.
         await stop(p);
         await pw.call('secure_access.set', { id: p.id, enabled: true });
         await start(p);
         const prefs = JSON.parse(readFileSync(
           path.join(userDataDir(p), 'Default', 'Preferences'), 'utf8'));
         assert.equal(prefs.https_only_mode_enabled, true);
         await stop(p);
       } finally {
         await o.stop();
       }
     });

  it('the gateway keeps a port other than 80', async () => {
    const p = await profile({ secure_access: { enabled: true } });
    const run = await pw.call('profiles.start', { id: p.id,
                                                  browser: false });
    started.add(p.id);
    const url = `http://site.test:${site.good.httpPort}/keep`;
    const r = await curl(['-x', `http://${run.gateway}`, '-D', '-', url]);
    assert.match(r.stdout, /^HTTP\/1\.1 308/);
    assert.match(r.stdout, new RegExp('^location: https://site\\.test:' +
                                      `${site.good.httpPort}/keep`, 'im'));
    await stop(p);
  });
});

/**
 * Writes each request to one connection to the gateway, waits ms after
 * each, and returns what came back after each.  between() runs after
 * each answer but the last.
 */
async function keptConnection(run, requests, between, ms = 300) {
  const [host, port] = run.gateway.split(':');
  const sock = net.connect(Number(port), host);
  let got = '';
  sock.on('data', (d) => { got += d; });
  sock.on('error', () => {});
  await new Promise((r) => sock.once('connect', r));
  const answers = [];
  for (const [i, req] of requests.entries()) {
    sock.write(req);
    await sleep(ms);
    answers.push(got);
    got = '';
    if (i < requests.length - 1)
      await between?.(i);
  }
  sock.destroy();
  return answers;
}

describe('Secure Access on a kept connection', () => {
  // The gateway answers 308 itself; the next request on the connection
  // gets its own answer, and once Secure Access is off only that next
  // request reaches the site, never the one answered before.
  const get = (port, uri) => `GET http://site.test:${port}${uri} ` +
    `HTTP/1.1\r\nHost: site.test:${port}\r\n\r\n`;

  it('each request gets its own answer', async () => {
    const p = await profile({ secure_access: { enabled: true } });
    const run = await pw.call('profiles.start', { id: p.id,
                                                  browser: false });
    started.add(p.id);
    const port = site.good.httpPort;
    const seen = site.good.accessEntries().length;
    const answers = await keptConnection(run, [
      get(port, '/kept-1'), get(port, '/kept-2'), get(port, '/kept-3'),
    ], async (i) => {
      if (i === 1)
        await pw.call('secure_access.set', { id: p.id, enabled: false });
    });
    await stop(p);
    assert.match(answers[0], /^location: https:\/\/site\.test:\d+\/kept-1/im);
    assert.match(answers[1], /^location: https:\/\/site\.test:\d+\/kept-2/im);
    assert.match(answers[2], /^HTTP\/1\.1 200 /);
    const uris = site.good.accessEntries().slice(seen).map((e) => e.uri);
    assert.deepEqual(uris, ['/kept-3'], 'only the last reached the site');
  });
});

describe("a browser's life", () => {
  it('stop: the browser, the gateway and the key-log file go',
     async () => {
       const p = await profile();
       const run = await start(p);
       assert.ok(alive(run.pid));
       assert.ok(existsSync(run.keylog));
       await stop(p);
       assert.equal(alive(run.pid), false, 'the browser is gone');
       assert.deepEqual(processesIn(p), [],
                        'a process of the browser outlives the stop');
       assert.ok(await refused(run.gateway), 'the gateway is closed');
       assert.equal(existsSync(run.keylog), false, 'the key log is gone');
       const ev = await heardOf('browser', p, (e) => e.state === 'stopped',
                                'a "stopped" browser event');
       assert.equal(ev.pid, run.pid);
     });

  it('a crash (kill -9) is noticed and cleaned up', async () => {
    const p = await profile();
    const run = await start(p);
    process.kill(run.pid, 'SIGKILL');
    const ev = await heardOf('browser', p, (e) => e.state === 'crashed',
                             'a "crashed" browser event');
    assert.equal(ev.signal, 9);
    started.delete(p.id);
    await waitFor(async () => !(await pw.call('profiles.status')).running
      .some((r) => r.id === p.id), 5000, 'the profile to leave status');
    assert.ok(await refused(run.gateway), 'the gateway is closed');
    assert.equal(existsSync(run.keylog), false, 'the key log is gone');
    await waitFor(() => browsersIn(p).length === 0, 10000,
                  "the browser's children to go");
  });

  it('a second start answers the running browser', async () => {
    const p = await profile();
    const a = await start(p);
    const b = await start(p);
    assert.equal(b.devtools, a.devtools);
    assert.equal(b.pid, a.pid);
    assert.equal(b.gateway, a.gateway);
    const st = (await pw.call('profiles.status')).running
      .find((r) => r.id === p.id);
    assert.equal(st.pid, a.pid);
    assert.equal(st.devtools, a.devtools);
    assert.equal(typeof st.uptime_s, 'number');
    await stop(p);
  });

  it('a dead upstream: -32006, and no browser starts', async () => {
    const port = await freePort();
    const p = await profile({ proxy: `http://127.0.0.1:${port}` });
    await assert.rejects(start(p), (e) => e.code === codes.UPSTREAM);
    started.delete(p.id);
    await sleep(500);
    assert.deepEqual(browsersIn(p), []);
    assert.equal(existsSync(path.join(userDataDir(p), 'DevToolsActivePort')),
                 false);
    assert.equal((await pw.call('profiles.status')).running
                  .some((r) => r.id === p.id), false);
  });

  it('a running profile cannot be deleted; stopped, it can', async () => {
    const p = await profile();
    await start(p);
    await assert.rejects(pw.call('profiles.delete', { id: p.id }),
                         (e) => e.code === codes.CONFLICT);
    await stop(p);
    await pw.call('profiles.delete', { id: p.id });
    await assert.rejects(pw.call('profiles.get', { id: p.id }),
                         (e) => e.code === codes.NOT_FOUND);
  });

  // Store calls run one at a time, in order, and a start's second half
  // begins before the next call is run: a delete in a start's batch
  // comes while the browser starts, one in a stop's batch while it
  // stops.  Both must leave the folder alone; once the stop answered,
  // the purge goes through.
  it('a starting or stopping profile cannot be deleted', async () => {
    const p = await profile();
    const purge = ['profiles.delete', { id: p.id, purge: true }];
    const dir = path.dirname(userDataDir(p));
    started.add(p.id);
    const cases = [
      // While the browser starts: the start is answered as usual.
      ['profiles.start', { id: p.id, headless: true }],
      // While it stops: the stop is answered once all is closed.
      ['profiles.stop', { id: p.id }],
    ];
    for (const call of cases) {
      const [first, del] = await pw.batch([call, purge]);
      assert.equal(first.error, undefined, `${call[0]}: ` +
                   JSON.stringify(first.error));
      assert.equal(del.error?.code, codes.CONFLICT,
                   `delete during ${call[0]}: ${JSON.stringify(del)}`);
      assert.ok(existsSync(dir), `${dir} after ${call[0]}`);
    }
    started.delete(p.id);

    await pw.call(...purge);
    assert.equal(existsSync(dir), false, `${dir} purged`);
    await assert.rejects(pw.call('profiles.get', { id: p.id }),
                         (e) => e.code === codes.NOT_FOUND);
  });
});

/** Runs a Node script to its end (killed after a minute). */
function runNode(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, args,
             { timeout: 60000, killSignal: 'SIGKILL' },
             (error, stdout, stderr) => resolve({
               code: error ? error.code ?? error.signal : 0, stdout, stderr,
             }));
  });
}

describe('ui-bridge/examples/two-profiles.mjs', () => {
  it('runs end to end against the engine', async () => {
    const [upA, upB, o] = await Promise.all([
      startTinyproxy(), startTinyproxy(), startOrigin(),
    ]);
    try {
      const url = `https://localhost:${o.httpsPort}/set-cookie?v=demo`;
      const r = await runNode([
        EXAMPLE, '--data-dir', engine.dir, '--json', '--headless',
        '--proxy-a', `http://127.0.0.1:${upA.port}`,
        '--proxy-b', `http://127.0.0.1:${upB.port}`,
        '--roots', pki.ca, '--url', url,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.profiles.length, 2);
      for (const one of out.profiles) {
        assert.equal(one.status, 200);
        assert.deepEqual(one.cookies.map((c) => c.name), ['pw']);
      }
      assert.notEqual(out.profiles[0].gateway, out.profiles[1].gateway);
      for (const up of [upA, upB])
        assert.match(up.log(), /CONNECT localhost:\d+/);
      assert.equal(pages(o).length, 2);

      // Stopped and deleted (no --keep).
      for (const one of out.profiles) {
        await assert.rejects(pw.call('profiles.get', { id: one.id }),
                             (e) => e.code === codes.NOT_FOUND);
        assert.equal(alive(one.pid), false);
      }
    } finally {
      await Promise.all([upA.stop(), upB.stop(), o.stop()]);
    }
  });

  it('--help says how to run it', async () => {
    const r = await runNode([EXAMPLE, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--proxy-a/);
  });
});


describe('the engine stops', () => {
  it('and so does every browser it started', async () => {
    const other = await startEngine();
    const c = await other.client();
    try {
      const pids = [];
      for (const name of ['last-a', 'last-b']) {
        const p = await c.call('profiles.create', { name });
        pids.push((await c.call('profiles.start', { id: p.id,
                                                   headless: true })).pid);
      }
      assert.ok(pids.every(alive));
      await c.close();
      await other.stop();
      for (const pid of pids)
        assert.equal(alive(pid), false, `browser ${pid} outlived it`);
    } finally {
      await c.close();
      if (other.proc.exitCode === null)
        await other.stop();
    }
  });
});
