// The gateway from outside: `profiles.start` with no browser, then curl
// (and openssl s_client) through it to nginx, directly and through
// tinyproxy and microsocks, all on loopback.  What the site sees is read
// from nginx's access log; what the engine decided, from decisions.list
// and the events a second client hears.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { codes } from '../../ui-bridge/client/pinwarden.js';
import { freePort, sleep, startEngine, waitFor } from './engine.mjs';
import { curl, makePki, startDribble, startMicrosocks, startNginx,
         startOrigin, startTinyproxy, startTlsFront } from './servers.mjs';

let engine;
let pw;
let watcher;
let pki;
const site = {};
const events = [];
const scratch = mkdtempSync(path.join(tmpdir(), 'pw-gw-'));

before(async () => {
  engine = await startEngine();
  pw = await engine.client();
  watcher = await engine.client();
  await watcher.subscribe(['decision']);
  watcher.on('decision', (data) => events.push(data));
  pki = await makePki();
  [site.v13, site.v12, site.imp13, site.imp12] = await Promise.all([
    startNginx({ pki, tls: '1.3' }),
    startNginx({ pki, tls: '1.2' }),
    startNginx({ pki, tls: '1.3', cert: 'impostor' }),
    startNginx({ pki, tls: '1.2', cert: 'impostor' }),
  ]);
});

after(async () => {
  await Promise.all(Object.values(site).map((s) => s.stop()));
  pki?.remove();
  await watcher?.close();
  await pw?.close();
  await engine?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

let serial = 0;

/** A profile that reaches site.test on loopback and trusts the test CA. */
async function profile(extra = {}) {
  return pw.call('profiles.create', {
    name: `gw-${++serial}`,
    resolve: { 'site.test': '127.0.0.1' },
    roots: pki.caPem,
    ...extra,
  });
}

function pinned(mode = 'enforce', pins = [pki.good.pin]) {
  return { pins: [{ pattern: 'site.test', pins, mode }] };
}

async function start(p) {
  return pw.call('profiles.start', { id: p.id, browser: false });
}

/**
 * curl through a running gateway.  keylog: whether curl writes the
 * profile's key-log file (SSLKEYLOGFILE).
 */
function get(run, url, o = {}) {
  const tls = o.tls ? ['--tlsv' + o.tls, '--tls-max', o.tls] : [];
  return curl(['-x', `http://${run.gateway}`, '--cacert', pki.ca,
               '-w', '\n%{http_code}', ...tls, ...(o.args ?? []), url],
              { env: o.keylog === false ? {} : { SSLKEYLOGFILE: run.keylog },
                timeoutMs: o.timeoutMs });
}

function status(r) {
  return Number(r.stdout.trim().split('\n').pop());
}

/**
 * Asserts that nginx s got no request past its first `seen` log lines.
 * nginx writes a line once it has answered, so a canary sent straight
 * to it after the attempt marks the point by which any line of the
 * attempt would be there.
 */
async function assertNoRequest(s, seen) {
  const uri = `/canary-${++serial}`;
  await curl([`http://127.0.0.1:${s.httpPort}${uri}`]);
  await s.waitEntry(uri);
  const got = s.accessEntries().slice(seen).filter((e) => e.uri !== uri);
  assert.deepEqual(got, [], 'the site saw a request');
}

async function decisions(p, host = 'site.test') {
  return (await pw.call('decisions.list', { id: p.id, host })).decisions;
}

describe('starting and stopping a gateway', () => {
  it('answers the gateway and the key-log file, once per profile',
     async () => {
       const p = await profile();
       const a = await start(p);
       assert.match(a.gateway, /^127\.0\.0\.1:\d+$/);
       assert.ok(existsSync(a.keylog), 'the key-log file exists');
       const b = await start(p);
       assert.deepEqual(b, a, 'a second start returns the running one');
       const st = await pw.call('profiles.status');
       assert.ok(st.running.some((r) => r.id === p.id
                                 && r.gateway === a.gateway));
       await pw.call('profiles.stop', { id: p.name });
       assert.equal(existsSync(a.keylog), false, 'the key-log file goes');
       await assert.rejects(pw.call('profiles.stop', { id: p.id }),
                            (e) => e.code === codes.NOT_FOUND);
     });

  it('a running profile cannot be deleted', async () => {
    const p = await profile();
    await start(p);
    await assert.rejects(pw.call('profiles.delete', { id: p.id }),
                         (e) => e.code === codes.CONFLICT);
    await pw.call('profiles.stop', { id: p.id });
    await pw.call('profiles.delete', { id: p.id });
  });

  // Another engine on this machine that runs the profile holds the
  // lock in its folder; flock(1) stands in for it here.
  it('a profile locked by another engine does not start', async () => {
    const p = await profile();
    const dir = path.join(engine.dir, 'profiles', p.id);
    mkdirSync(dir, { recursive: true });
    // -F: flock becomes the command, so that killing it frees the lock.
    const holder = spawn('flock', ['-n', '-F', path.join(dir, 'lock'),
                                   'sleep', '60'], { stdio: 'ignore' });
    const gone = new Promise((resolve) => holder.on('exit', resolve));
    try {
      await sleep(200);
      assert.equal(holder.exitCode, null, 'flock took the lock');
      await assert.rejects(start(p), (e) => e.code === codes.CONFLICT
                           && /locked/.test(e.message));
      const st = await pw.call('profiles.status');
      assert.equal(st.running.some((r) => r.id === p.id), false);
    } finally {
      holder.kill();
      await gone;
    }
    await start(p);
    await pw.call('profiles.stop', { id: p.id });
  });

  it('a start refused by the upstream check leaves nothing running',
     async () => {
       const port = await freePort();
       const p = await profile({ proxy: `http://127.0.0.1:${port}` });
       await assert.rejects(start(p), (e) => e.code === codes.UPSTREAM);
       const st = await pw.call('profiles.status');
       assert.equal(st.running.some((r) => r.id === p.id), false);
       await pw.call('profiles.delete', { id: p.id });
     });
});

describe('pin enforcement', () => {
  for (const v of ['1.3', '1.2']) {
    it(`TLS ${v}: the pinned host loads with the right key`, async () => {
      const run = await start(await profile(pinned()));
      const s = v === '1.3' ? site.v13 : site.v12;
      const r = await get(run, `https://site.test:${s.httpsPort}/`,
                          { tls: v });
      assert.equal(status(r), 200, r.stderr);
      assert.match(r.stdout, /hello from site\.test/);
    });

    it(`TLS ${v}: the impostor is cut before any request`, async () => {
      const p = await profile(pinned());
      const run = await start(p);
      const s = v === '1.3' ? site.imp13 : site.imp12;
      const seen = s.accessLog().length;
      const r = await get(run, `https://site.test:${s.httpsPort}/`,
                          { tls: v });
      assert.notEqual(r.code, 0, 'curl fails');
      await assertNoRequest(s, seen);
      const [d] = await decisions(p);
      assert.equal(d.action, 'block');
      assert.equal(d.reason, 'pin_mismatch');
      assert.equal(d.port, s.httpsPort);
      assert.ok(d.chain.some((c) => c.pin === pki.impostor.pin));
      await waitFor(() => events.find((e) => e.id === p.id
                                      && e.reason === 'pin_mismatch'),
                    5000, 'the decision event');
    });
  }

  // The server's flight reaches the gateway in 200-octet reads.
  for (const [v, cert] of [['1.3', 'good'], ['1.2', 'good'],
                           ['1.3', 'impostor'], ['1.2', 'impostor']]) {
    it(`TLS ${v}: a flight cut into small reads, ${cert} key`, async () => {
      const s = { '1.3good': site.v13, '1.2good': site.v12,
                  '1.3impostor': site.imp13,
                  '1.2impostor': site.imp12 }[v + cert];
      const slow = await startDribble({ target: s.httpsPort });
      try {
        const p = await profile(pinned());
        const run = await start(p);
        const r = await get(run, `https://site.test:${slow.port}/`,
                            { tls: v });
        if (cert === 'good') {
          assert.equal(status(r), 200, r.stderr);
        } else {
          assert.notEqual(r.code, 0, 'curl fails');
          assert.equal((await decisions(p))[0].reason, 'pin_mismatch');
        }
      } finally {
        await slow.stop();
      }
    });
  }

  it('fails closed when the client writes no key log', async () => {
    const p = await profile(pinned());
    const run = await start(p);
    const seen = site.v13.accessLog().length;
    const r = await get(run, `https://site.test:${site.v13.httpsPort}/`,
                        { keylog: false });
    assert.notEqual(r.code, 0);
    await assertNoRequest(site.v13, seen);
    assert.equal((await decisions(p))[0].reason, 'no_secret');
  });

  it('report mode passes and records the violation', async () => {
    const p = await profile(pinned('report'));
    const run = await start(p);
    const r = await get(run,
                        `https://site.test:${site.imp13.httpsPort}/`);
    assert.equal(status(r), 200, r.stderr);
    const [d] = await decisions(p);
    assert.equal(d.action, 'report');
    assert.equal(d.reason, 'pin_mismatch');
  });

  it('an engine-wide pin applies to every profile', async () => {
    const p = await profile();
    const run = await start(p);
    const before = await pw.call('pins.defaults.get');
    await pw.call('pins.defaults.set', { pins: pinned().pins });
    try {
      const r = await get(run,
                          `https://site.test:${site.imp13.httpsPort}/`);
      assert.notEqual(r.code, 0);
      assert.equal((await decisions(p))[0].reason, 'pin_mismatch');
    } finally {
      await pw.call('pins.defaults.set', { pins: before.pins });
    }
  });

  it('a pin change reaches a running gateway', async () => {
    const p = await profile();
    const run = await start(p);
    const url = `https://site.test:${site.imp13.httpsPort}/`;
    assert.equal(status(await get(run, url)), 200);
    await pw.call('profiles.update', { id: p.id, revision: p.revision,
                                       patch: pinned() });
    assert.notEqual((await get(run, url)).code, 0);
  });

  it('an unpinned host is not inspected (no key log needed)', async () => {
    const run = await start(await profile());
    const r = await get(run, `https://site.test:${site.v13.httpsPort}/`,
                        { keylog: false });
    assert.equal(status(r), 200, r.stderr);
  });

  it('a resumed session passes only after a full handshake passed here',
     async () => {
       const p = await profile(pinned());
       const s = await startNginx({ pki, tls: '1.2', resumption: true });
       const sess = path.join(scratch, 'session.pem');
       try {
         let run = await start(p);
         const first = await sClient(run, s.httpsPort, ['-sess_out', sess]);
         assert.match(first, /hello from site\.test/);
         assert.match(await sClient(run, s.httpsPort, ['-sess_in', sess]),
                      /hello from site\.test/);

         // A new gateway has seen no full handshake with the host.
         await pw.call('profiles.stop', { id: p.id });
         run = await start(p);
         const seen = s.accessLog().length;
         const out = await sClient(run, s.httpsPort, ['-sess_in', sess]);
         assert.doesNotMatch(out, /hello from site\.test/);
         await assertNoRequest(s, seen);
         assert.equal((await decisions(p))[0].reason, 'resumed_session');
       } finally {
         await s.stop();
       }
     });
});

/** openssl s_client through the gateway; its output as text. */
function sClient(run, port, args) {
  return new Promise((resolve) => {
    const proc = spawn('openssl', [
      's_client', '-proxy', run.gateway, '-connect', `site.test:${port}`,
      '-servername', 'site.test', '-CAfile', pki.ca, '-keylogfile',
      run.keylog, '-tls1_2', '-ign_eof', '-quiet', ...args,
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    proc.stdin.end('GET / HTTP/1.0\r\nHost: site.test\r\n\r\n');
    const kill = setTimeout(() => proc.kill('SIGKILL'), 10000);
    proc.on('close', () => {
      clearTimeout(kill);
      resolve(out);
    });
  });
}

describe('upstream proxies', () => {
  const auth = { user: 'alice', password: 's3cret' };

  /**
   * The body of the gateway's answer to CONNECT localhost:port, which
   * must have the given status and end the connection.
   */
  async function errorBody(run, port, code) {
    const r = await raw(run, [connectHead('localhost', port)], 15000);
    assert.match(r.out, new RegExp(`^HTTP/1\\.1 ${code} `));
    assert.ok(r.closed, 'the gateway closes');
    return r.out.slice(r.out.indexOf('\r\n\r\n') + 4);
  }

  /** The body names the profile, the upstream, the target and why. */
  function assertNames(body, name, upPort, port, why) {
    assert.ok(body.startsWith(`pinwarden: profile "${name}": `), body);
    assert.ok(body.includes(`http://127.0.0.1:${upPort}`), body);
    assert.ok(body.includes(`localhost:${port}`), body);
    assert.match(body, why);
  }

  // https: tinyproxy behind TLS (nginx's stream module), its
  // certificate from the test CA, which the profile's roots hold.
  async function upstream(kind) {
    if (kind === 'socks5h')
      return startMicrosocks(auth);
    const tp = await startTinyproxy(auth);
    if (kind === 'http')
      return tp;
    const front = await startTlsFront({ pki, target: tp.port });
    return { port: front.port, log: tp.log,
             stop: async () => { await front.stop(); await tp.stop(); } };
  }

  for (const kind of ['http', 'https', 'socks5h']) {
    it(`${kind}: tunnels go through it, pins still hold`, async () => {
      const up = await upstream(kind);
      try {
        const p = await profile({
          proxy: `${kind}://alice:s3cret@127.0.0.1:${up.port}`,
          pins: [{ pattern: 'localhost', pins: [pki.good.pin] }],
        });
        const run = await start(p);
        const ok = await get(run, `https://localhost:${site.v13.httpsPort}/`);
        assert.equal(status(ok), 200, ok.stderr);
        if (up.log)
          assert.match(up.log(), /CONNECT|localhost/);
        const bad = await get(run,
                              `https://localhost:${site.imp13.httpsPort}/`);
        assert.notEqual(bad.code, 0);
      } finally {
        await up.stop();
      }
    });
  }

  it('http: a wrong password gives 407 and nothing reaches the site',
     async () => {
       const up = await startTinyproxy(auth);
       try {
         const p = await profile({
           proxy: `http://alice:wrong@127.0.0.1:${up.port}`,
         });
         const run = { ...await start(p), name: p.name };
         const seen = site.v13.accessLog().length;
         const r = await get(run,
                             `https://localhost:${site.v13.httpsPort}/`,
                             { args: ['-v'] });
         assert.match(r.stderr, /< HTTP\/1\.1 407/);
         await assertNoRequest(site.v13, seen);

         // tinyproxy 1.11 answers 401 (see startTinyproxy).
         const body = await errorBody(run, site.v13.httpsPort, 407);
         assertNames(body, run.name, up.port, site.v13.httpsPort,
                     /rejected the credentials \((401|407)\)/);
         assert.doesNotMatch(body, /wrong|alice/,
                             'the body shows no credentials');
       } finally {
         await up.stop();
       }
     });

  it('socks5h: a wrong password stops the start', async () => {
    const up = await startMicrosocks(auth);
    try {
      const p = await profile({
        proxy: `socks5h://alice:wrong@127.0.0.1:${up.port}`,
      });
      await assert.rejects(start(p), (e) => e.code === codes.UPSTREAM
                           && /credentials|auth/i.test(e.message));
      assert.equal((await pw.call('profiles.status')).running
                    .some((r) => r.id === p.id), false);
    } finally {
      await up.stop();
    }
  });

  it('a stopped upstream: the start fails, nothing listens', async () => {
    const port = await freePort();
    const p = await profile({ proxy: `socks5h://127.0.0.1:${port}` });
    await assert.rejects(start(p), (e) => e.code === codes.UPSTREAM
                         && e.message.includes(`127.0.0.1:${port}`));
  });

  it('an upstream that stops while running: 502, never direct',
     async () => {
       const up = await startTinyproxy();
       const p = await profile({ proxy: `http://127.0.0.1:${up.port}` });
       const run = { ...await start(p), name: p.name };
       await up.stop();
       const seen = site.v13.accessLog().length;
       const r = await get(run, `https://localhost:${site.v13.httpsPort}/`,
                           { args: ['-v'] });
       assert.match(r.stderr, /< HTTP\/1\.1 502/);
       await assertNoRequest(site.v13, seen);

       const body = await errorBody(run, site.v13.httpsPort, 502);
       assertNames(body, run.name, up.port, site.v13.httpsPort,
                   /the upstream refused the connection/);
     });

  it('a silent upstream: the start gives up within its bound', async () => {
    const silent = net.createServer(() => {});
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const p = await profile({
        proxy: `socks5h://127.0.0.1:${silent.address().port}`,
      });
      const t0 = Date.now();
      await assert.rejects(start(p), (e) => e.code === codes.UPSTREAM
                           && /timed out/i.test(e.message));
      assert.ok(Date.now() - t0 < 8000);
    } finally {
      silent.close();
    }
  });
});

describe('Secure Access', () => {
  const plain = () => `http://site.test:${site.v13.httpPort}/`;

  it('upgrades http:// with 308 and records it', async () => {
    const p = await profile({ secure_access: { enabled: true } });
    const run = await start(p);
    const r = await get(run, plain(), { args: ['-D', '-'] });
    assert.equal(status(r), 308);
    assert.match(r.stdout, /^location: https:\/\/site\.test[:/]/im);
    assert.equal((await decisions(p))[0].action, 'upgrade');
    await waitFor(() => events.find((e) => e.id === p.id
                                    && e.action === 'upgrade'),
                  5000, 'the upgrade event');
  });

  it('blocks with 403 in block mode', async () => {
    const p = await profile({
      secure_access: { enabled: true, on_http: 'block' },
    });
    const r = await get(await start(p), plain());
    assert.equal(status(r), 403);
    assert.match(r.stdout, /Secure Access/);
    assert.equal((await decisions(p))[0].action, 'block');
    await waitFor(() => events.find((e) => e.id === p.id
                                    && e.reason === 'sa_block'),
                  5000, 'the block event');
  });

  it('an exception and loopback pass', async () => {
    const p = await profile({ secure_access: { enabled: true } });
    const run = await start(p);
    await pw.call('secure_access.exception.add',
                  { id: p.id, host: 'site.test' });
    const r = await get(run, plain());
    assert.equal(status(r), 200);
    assert.match(r.stdout, /plain/);
    const lo = await get(run, `http://127.0.0.1:${site.v13.httpPort}/`);
    assert.equal(status(lo), 200);
  });

  it('turned on while running, the next request is upgraded', async () => {
    const p = await profile();
    const run = await start(p);
    assert.equal(status(await get(run, plain())), 200);
    await pw.call('secure_access.set', { id: p.id, enabled: true });
    assert.equal(status(await get(run, plain())), 308);
  });

  // Plain HTTP inside a CONNECT tunnel (curl -p): held to TLS unless
  // the host is exempt, as a clear-text request would be.  reason: the
  // decision recorded when the tunnel is closed.
  const except = [{ host: 'site.test' }];
  const tunnels = [
    // The profile excepted the host.
    { name: 'an excepted host', sa: { exceptions: except },
      host: 'site.test', passes: true },
    // Loopback is exempt, by address and by name.
    { name: '127.0.0.1', host: '127.0.0.1', passes: true },
    { name: 'localhost', host: 'localhost', passes: true },
    // No exception: closed before a byte reaches the site.
    { name: 'a host without exception', host: 'site.test',
      reason: 'sa_block' },
    // An exception for another host is not this one's.
    { name: 'a host excepted for another', host: 'site.test',
      sa: { exceptions: [{ host: 'other.test' }] }, reason: 'sa_block' },
    // An exception that expired (in 1970) holds no more.
    { name: 'a host whose exception expired', host: 'site.test',
      sa: { exceptions: [{ host: 'site.test', expires: 1000 }] },
      reason: 'sa_block' },
    // An exception lifts Secure Access, not the pins: a pinned host's
    // tunnel must still begin with TLS.
    { name: 'an excepted host that is pinned', host: 'site.test',
      sa: { exceptions: except }, pinned: true, reason: 'bad_input' },
  ];
  for (const t of tunnels) {
    it(`a clear-text tunnel to ${t.name} ${t.passes ? 'passes' : 'is closed'}`,
       async () => {
         const p = await profile({
           secure_access: { enabled: true, ...t.sa },
           ...(t.pinned ? pinned() : {}),
         });
         const run = await start(p);
         const seen = site.v13.accessLog().length;
         const r = await get(run, `http://${t.host}:${site.v13.httpPort}/`,
                             { args: ['-p'] });
         if (t.passes) {
           assert.equal(status(r), 200, r.stderr);
           assert.match(r.stdout, /plain/);
           return;
         }
         assert.notEqual(r.code, 0, 'curl fails');
         await assertNoRequest(site.v13, seen);
         const [d] = await decisions(p, t.host);
         assert.equal(d?.action, 'block');
         assert.equal(d.reason, t.reason);
       });
  }

  it('an exception added while running opens the next tunnel', async () => {
    const p = await profile({ secure_access: { enabled: true } });
    const run = await start(p);
    assert.notEqual((await get(run, plain(), { args: ['-p'] })).code, 0);
    await pw.call('secure_access.exception.add',
                  { id: p.id, host: 'site.test' });
    const r = await get(run, plain(), { args: ['-p'] });
    assert.equal(status(r), 200, r.stderr);
  });
});

describe('clear-text HTTP through the gateway', () => {
  it('keeps the client connection alive across requests', async () => {
    const run = await start(await profile());
    const u = `http://site.test:${site.v13.httpPort}/`;
    const r = await get(run, u, { args: ['-v', u] });
    assert.match(r.stdout, /plain[\s\S]*plain/);
    assert.match(r.stderr, /Re-using existing connection/);
  });

  it('forwards a request body', async () => {
    const run = await start(await profile());
    const r = await get(run, `http://site.test:${site.v13.httpPort}/`,
                        { args: ['--data', 'x=1'] });
    assert.equal(status(r), 200);
  });
});

/** A CONNECT head for host:port. */
function connectHead(host, port) {
  return `CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`;
}

/**
 * Writes chunks to the gateway, gapMs apart, and reads until it closes
 * (or ms pass): the answer as text, and whether the gateway closed.
 */
function raw(run, chunks, ms = 3000, gapMs = 20) {
  const [host, port] = run.gateway.split(':');
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), host);
    let out = '';
    let closed = false;
    const done = () => resolve({ out, closed });
    const timer = setTimeout(() => { sock.destroy(); done(); }, ms);
    sock.on('data', (d) => { out += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
      clearTimeout(timer);
      done();
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (closed)
          break;
        sock.write(c);
        await sleep(gapMs);
      }
    });
  });
}

describe('hostile input', () => {
  const heads = [
    ['an unknown method', 'BREW http://pot/ HTTP/1.1\r\n\r\n', 501],
    ['not HTTP', '\x01\x02\x03 \r\n\r\n', 400],
    ['origin-form', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['CONNECT without port', 'CONNECT site.test HTTP/1.1\r\n\r\n', 400],
    ['CONNECT to port 0', 'CONNECT site.test:0 HTTP/1.1\r\n\r\n', 400],
    ['long request line', `GET http://a/${'x'.repeat(9000)} HTTP/1.1\r\n`,
     414],
    ['huge head', 'GET http://a/ HTTP/1.1\r\n' +
     `X: ${'y'.repeat(70000)}\r\n\r\n`, 431],
    ['smuggling', 'POST http://a/ HTTP/1.1\r\nHost: a\r\n' +
     'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ];
  for (const [name, bytes, code] of heads) {
    it(`a proxy head: ${name} gets ${code}`, async () => {
      const run = await start(await profile());
      const r = await raw(run, [bytes]);
      assert.match(r.out, new RegExp(`^HTTP/1\\.1 ${code} `));
      assert.ok(r.closed, 'the gateway closes');
    });
  }

  const records = [
    ['not TLS', Buffer.from('hello there, server\r\n')],
    ['a hello shorter than its fields',
     Buffer.from('160301000501000001ff', 'hex')],
    ['a record over 2^14', Buffer.concat([
      Buffer.from('16030150000100', 'hex'), Buffer.alloc(64)])],
    ['an alert instead of a hello', Buffer.from('15030100020228', 'hex')],
  ];
  for (const [name, bytes] of records) {
    it(`a pinned tunnel: ${name} is closed`, async () => {
      const p = await profile(pinned());
      const run = await start(p);
      const seen = site.v13.accessLog().length;
      const connect = `CONNECT site.test:${site.v13.httpsPort} HTTP/1.1\r\n` +
        `Host: site.test:${site.v13.httpsPort}\r\n\r\n`;
      const r = await raw(run, [connect, bytes]);
      assert.match(r.out, /^HTTP\/1\.1 200 /);
      assert.ok(r.closed);
      await assertNoRequest(site.v13, seen);
      assert.equal((await decisions(p))[0].action, 'block');
    });
  }

  it('the engine lives on', async () => {
    assert.ok(await engine.alive());
  });
});

describe('the gateway\'s bounds, shortened by serve\'s options', () => {
  // A second engine whose gateways wait 1 s for a request head and for
  // their upstream, and keep a connection that moves nothing 1.5 s.
  let quick;
  let qc;
  before(async () => {
    quick = await startEngine({ args: ['--head-timeout', '1000',
                                       '--idle-timeout', '1500',
                                       '--upstream-timeout', '1000'] });
    qc = await quick.client();
  });
  after(async () => {
    await qc?.close();
    await quick?.stop();
  });

  async function qstart(extra = {}) {
    const p = await qc.call('profiles.create', {
      name: `quick-${++serial}`,
      resolve: { 'site.test': '127.0.0.1' },
      ...extra,
    });
    const run = await qc.call('profiles.start', { id: p.id,
                                                  browser: false });
    return { ...run, name: p.name };
  }

  // The bound runs from the head's first byte: a byte now and then
  // does not keep a slow head alive.
  it('a head that dribbles past the head timeout gets 408', async () => {
    const run = await qstart();
    const lines = ['GET http://site.test/ HTTP/1.1\r\n'];
    for (let i = 0; i < 20; i++)
      lines.push(`X-Slow-${i}: 1\r\n`);
    const t0 = Date.now();
    const r = await raw(run, lines, 10000, 200);
    const took = Date.now() - t0;
    assert.match(r.out, /^HTTP\/1\.1 408 /);
    assert.ok(r.closed, 'the gateway closes');
    assert.ok(r.out.endsWith(`\r\n\r\npinwarden: profile "${run.name}": ` +
                             'the request head did not come in 1000 ms\n'),
              r.out);
    assert.ok(took >= 1000 && took < 4000, `408 after ${took} ms`);
  });

  it('an idle tunnel is closed; one that moves bytes is not', async () => {
    const origin = await startOrigin((sock) => sock.pipe(sock));
    const timer = [];
    try {
      const run = await qstart();
      const idle = await openTunnel(run, 'site.test', origin.port);
      const busy = await openTunnel(run, 'site.test', origin.port);
      const t0 = Date.now();
      timer.push(setInterval(() => busy.write('x'), 200));
      busy.resume();
      idle.resume();
      // The tunnel is half-open here: the gateway's FIN is its end.
      await Promise.race([
        new Promise((resolve) => {
          idle.on('end', resolve);
          idle.on('close', resolve);
        }),
        sleep(5000).then(() => assert.fail('the idle tunnel stays open')),
      ]);
      const took = Date.now() - t0;
      assert.ok(took >= 1400 && took < 5000, `closed after ${took} ms`);

      await sleep(1000);
      assert.equal(busy.destroyed, false, 'the busy tunnel was closed');
      const echo = new Promise((resolve) => busy.once('data', resolve));
      busy.write('y');
      assert.ok((await echo).length > 0);
      busy.destroy();
    } finally {
      timer.forEach(clearInterval);
      await origin.stop();
    }
  });

  // An http upstream's check at start is a connection to it, which a
  // proxy that never says a word passes; its first CONNECT does not.
  it('an upstream that never answers: 504, never direct', async () => {
    const silent = await startOrigin(() => {});
    try {
      const run = await qstart({
        proxy: `http://127.0.0.1:${silent.port}`,
      });
      const seen = site.v13.accessLog().length;
      const t0 = Date.now();
      const r = await raw(run, [connectHead('site.test',
                                            site.v13.httpsPort)], 8000);
      const took = Date.now() - t0;
      assert.match(r.out, /^HTTP\/1\.1 504 /);
      assert.match(r.out, new RegExp(`profile "${run.name}"`));
      assert.match(r.out, new RegExp(`127\\.0\\.0\\.1:${silent.port}`));
      assert.ok(took >= 900 && took < 5000, `504 after ${took} ms`);
      await assertNoRequest(site.v13, seen);
    } finally {
      await silent.stop();
    }
  });
});

/**
 * A CONNECT tunnel through the gateway to host:port: the client socket
 * (half-open, paused) once the gateway's 200 head is read; bytes after
 * the head are put back for the caller.
 */
function openTunnel(run, host, port) {
  const [gwHost, gwPort] = run.gateway.split(':');
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: gwHost, port: Number(gwPort),
                               allowHalfOpen: true });
    let head = Buffer.alloc(0);
    const onData = (d) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0)
        return;
      sock.off('data', onData);
      sock.off('error', reject);
      sock.pause();
      const line = head.subarray(0, end).toString('latin1');
      if (!/^HTTP\/1\.1 200 /.test(line)) {
        sock.destroy();
        reject(new Error(`CONNECT answered ${line}`));
        return;
      }
      if (end + 4 < head.length)
        sock.unshift(head.subarray(end + 4));
      resolve(sock);
    };
    sock.on('data', onData);
    sock.on('error', reject);
    sock.on('connect', () => sock.write(connectHead(host, port)));
  });
}

/** Reads sock to its end (the peer's FIN): the bytes, or fails in ms. */
function readToEnd(sock, ms = 10000, keep = true) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let n = 0;
    const timer = setTimeout(() => {
      reject(new Error(`no end after ${ms} ms (${n} bytes read)`));
    }, ms);
    sock.on('data', (d) => {
      n += d.length;
      if (keep)
        parts.push(d);
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(keep ? Buffer.concat(parts) : n);
    });
    sock.resume();
  });
}

describe('the byte pump', () => {
  // A tunnel to a plain origin, with no pins and Secure Access off, is
  // not inspected: these are the pump's own behaviours.

  // Each side ends its writing in turn; what the other still has to
  // say must arrive.  first: who ends first.
  const halfCloses = [
    // The client sends a request and ends; the origin reads to its end
    // and only then answers with how many bytes it got.
    { first: 'the client', sent: 300000 },
    // The origin greets and ends; the client, having read to the end,
    // still sends, and the origin still reads.
    { first: 'the origin', sent: 300000 },
  ];
  for (const t of halfCloses) {
    it(`${t.first} ends first: the other way keeps working`, async () => {
      let got;
      const counted = new Promise((resolve) => { got = resolve; });
      const origin = await startOrigin((sock) => {
        let n = 0;
        sock.on('data', (d) => { n += d.length; });
        sock.on('end', () => {
          got(n);
          if (t.first === 'the client')
            sock.end(`got ${n}\n`);
        });
        if (t.first === 'the origin')
          sock.end('hello\n');
      });
      let sock;
      try {
        const run = await start(await profile());
        sock = await openTunnel(run, 'site.test', origin.port);
        if (t.first === 'the client') {
          sock.end(Buffer.alloc(t.sent, 'x'));
          const answer = (await readToEnd(sock)).toString();
          assert.equal(answer, `got ${t.sent}\n`);
        } else {
          const greeting = (await readToEnd(sock)).toString();
          assert.equal(greeting, 'hello\n');
          sock.end(Buffer.alloc(t.sent, 'x'));
        }
        assert.equal(await counted, t.sent);
      } finally {
        sock?.destroy();
        await origin.stop();
      }
    });
  }

  it('a client that does not read holds the origin back, not the ' +
     'engine', async () => {
    const MiB = 1024 * 1024;
    const total = 256 * MiB;
    const chunk = Buffer.alloc(MiB, 'y');
    let left = total / chunk.length;
    // As fast as the socket takes it: the origin's own memory stays
    // small, and whatever it could not send waits in the tunnel.
    const origin = await startOrigin((sock) => {
      const write = () => {
        while (left > 0) {
          left--;
          if (!sock.write(chunk)) {
            sock.once('drain', write);
            return;
          }
        }
        sock.end();
      };
      write();
    });
    let sock;
    try {
      const run = await start(await profile());
      sock = await openTunnel(run, 'site.test', origin.port);
      const base = engine.rssKiB();
      let peak = base;
      for (let i = 0; i < 20; i++) {
        await sleep(100);
        peak = Math.max(peak, engine.rssKiB());
      }
      const unsent = left * MiB;
      assert.ok(unsent > 0, 'the origin was held back');
      const grew = (peak - base) * 1024;
      assert.ok(grew < 32 * MiB,
                `the engine grew by ${grew} bytes while ` +
                `${total - unsent} bytes were sent`);

      const n = await readToEnd(sock, 120000, false);
      assert.equal(n, total);
    } finally {
      sock?.destroy();
      await origin.stop();
    }
  });
});
