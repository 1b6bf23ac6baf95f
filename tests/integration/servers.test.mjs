// The gateway's fixtures checked alone, without the engine: the test PKI,
// nginx as the site (good and impostor certificate, TLS 1.2 only, 1.3
// only), tinyproxy, microsocks and a TLS front as upstream proxies, all
// driven with curl.  If one of these fails, a gateway test failing with
// it says nothing about the gateway.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { pinOf } from './certs.mjs';
import { curl, makePki, startMicrosocks, startNginx, startTinyproxy,
         startTlsFront, waitPort } from './servers.mjs';

const BODY = 'hello from site.test\n';
const BIG = 1 << 20;
const USER = 'pw-user';
// What tinyproxy's config takes: no colon, no space.
const PASS = 'pw-pass_1.x';

let pki;
let site;
let impostor;
let only12;
let only13;
let tinyproxy;
let socks;
let front;

before(async () => {
  pki = await makePki();

  // One by one into their variables, so that after() stops those that
  // started even when another one failed.
  await Promise.all([
    startNginx({ pki, bigBytes: BIG }).then((s) => { site = s; }),
    startNginx({ pki, cert: 'impostor' }).then((s) => { impostor = s; }),
    startNginx({ pki, tls: '1.2' }).then((s) => { only12 = s; }),
    startNginx({ pki, tls: '1.3' }).then((s) => { only13 = s; }),
    startTinyproxy({ user: USER, password: PASS })
      .then((s) => { tinyproxy = s; }),
    startMicrosocks({ user: USER, password: PASS })
      .then((s) => { socks = s; }),
  ]);
  front = await startTlsFront({ pki, target: tinyproxy.port });
});

after(async () => {
  const all = [site, impostor, only12, only13, tinyproxy, socks, front];
  await Promise.all(all.filter(Boolean).map((s) => s.stop()));
  pki?.remove();
});

// Each request gets its own query string, so its access-log line can be
// found among the others.
let seq = 0;
const tag = () => `/?req=${++seq}`;

/** GET path of server as https://site.test, trusting only the test CA. */
function getSite(server, pathname, args = []) {
  const p = server.httpsPort;
  return curl(['--cacert', pki.ca, '--resolve', `site.test:${p}:127.0.0.1`,
               ...args, `https://site.test:${p}${pathname}`]);
}


/** The pin of the leaf curl was shown (curl 7.88's -w '%{certs}'). */
function presentedPin(stdout) {
  const pem = /-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/
    .exec(stdout);
  assert.ok(pem, `no certificate in curl's output:\n${stdout}`);
  return pinOf(pem[0]);
}

const proxyUrl = (scheme, port, pass = PASS) =>
  `${scheme}://${USER}:${pass}@127.0.0.1:${port}`;

describe('makePki', () => {
  it('gives three different keys and files nginx can load', () => {
    const pins = [pki.caPin, pki.good.pin, pki.impostor.pin];
    assert.equal(new Set(pins).size, 3, pins.join(' '));
    for (const pin of pins)
      assert.match(pin, /^sha256\/[A-Za-z0-9+/]{43}=$/);
    for (const f of [pki.ca, pki.good.cert, pki.good.key,
                     pki.impostor.cert, pki.impostor.key])
      assert.ok(existsSync(f), f);
    assert.equal(pinOf(pki.caPem), pki.caPin);
  });
});

describe('nginx as the site', () => {
  it('serves the good certificate, trusted through the test CA', async () => {
    const p = tag();
    const r = await getSite(site, p, ['-w', '%{certs}']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(BODY), r.stdout);
    assert.equal(presentedPin(r.stdout), pki.good.pin);

    const e = await site.waitEntry(p);
    assert.deepEqual([e.status, e.sni, e.scheme, e.method],
                     [200, 'site.test', 'https', 'GET']);
  });

  it('serves the impostor: it verifies, only the pin differs', async () => {
    const r = await getSite(impostor, tag(), ['-w', '%{certs}']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(BODY), r.stdout);
    assert.equal(presentedPin(r.stdout), pki.impostor.pin);
    assert.notEqual(pki.impostor.pin, pki.good.pin);
  });

  it('is not trusted without the test CA', async () => {
    // 60: CURLE_PEER_FAILED_VERIFICATION, against the system store.
    const p = site.httpsPort;
    const r = await curl(['--resolve', `site.test:${p}:127.0.0.1`,
                          `https://site.test:${p}/`]);
    assert.equal(r.code, 60, r.stderr);
  });

  it('answers for localhost and 127.0.0.1 too (the SAN)', async () => {
    for (const host of ['localhost', '127.0.0.1']) {
      const r = await curl(['--cacert', pki.ca,
                            `https://${host}:${site.httpsPort}/`]);
      assert.equal(r.code, 0, `${host}: ${r.stderr}`);
      assert.equal(r.stdout, BODY);
    }
  });

  it('serves /big through sendfile, and plain HTTP on the other port',
     async () => {
       const big = await getSite(site, '/big',
                                 ['-o', '/dev/null', '-w',
                                  '%{size_download}']);
       assert.equal(big.code, 0, big.stderr);
       assert.equal(Number(big.stdout), BIG);

       const plain = await curl([`http://127.0.0.1:${site.httpPort}/`]);
       assert.equal(plain.code, 0, plain.stderr);
       assert.equal(plain.stdout, 'plain\n');
       assert.equal((await site.waitEntry('/big')).bytes, BIG);
     });

  // Which version each server negotiates with what curl offers.  35 is
  // CURLE_SSL_CONNECT_ERROR: no version in common.
  const versions = [
    // A 1.2-only server, the one whose Certificate is in clear text.
    { server: () => only12, args: [], tls: 'TLSv1.2' },
    // ...refuses a client that wants 1.3.
    { server: () => only12, args: ['--tlsv1.3'], code: 35 },
    // A 1.3-only server: the Certificate is encrypted.
    { server: () => only13, args: [], tls: 'TLSv1.3' },
    // ...refuses a client that stops at 1.2.
    { server: () => only13, args: ['--tls-max', '1.2'], code: 35 },
    // Both: 1.3 when the client can...
    { server: () => site, args: [], tls: 'TLSv1.3' },
    // ...and 1.2 when it can't.
    { server: () => site, args: ['--tls-max', '1.2'], tls: 'TLSv1.2' },
  ];
  for (const [i, c] of versions.entries()) {
    it(`negotiates the right version (case ${i})`, async () => {
      const server = c.server();
      const p = tag();
      const r = await getSite(server, p, c.args);
      assert.equal(r.code, c.code ?? 0, r.stderr);
      // A refused handshake never reaches the log.
      if (c.tls)
        assert.equal((await server.waitEntry(p)).tls, c.tls);
      else
        assert.equal(server.accessEntries().find((e) => e.uri === p),
                     undefined);
    });
  }
});

describe('tinyproxy', () => {
  // The proxy resolves names, not curl (--resolve does not reach it), so
  // the site is asked for as 127.0.0.1, which its certificate names.
  const target = () => `https://127.0.0.1:${site.httpsPort}`;

  it('tunnels with the right password, and logs it', async () => {
    const p = tag();
    const r = await curl(['--cacert', pki.ca, '-x',
                          proxyUrl('http', tinyproxy.port),
                          target() + p]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, BODY);
    assert.match(tinyproxy.log(),
                 new RegExp(`CONNECT 127\\.0\\.0\\.1:${site.httpsPort}`));
    assert.equal((await site.waitEntry(p)).status, 200);
  });

  it('forwards plain requests', async () => {
    const r = await curl(['-x', proxyUrl('http', tinyproxy.port),
                          `http://127.0.0.1:${site.httpPort}/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'plain\n');
  });

  // What the CONNECT gets: 407 without credentials, and 401 (not 407)
  // with wrong ones, as tinyproxy 1.11 answers.
  const refusals = [
    { what: 'no credentials', proxy: (port) => `http://127.0.0.1:${port}`,
      status: '407' },
    { what: 'a wrong password',
      proxy: (port) => proxyUrl('http', port, 'wrong'), status: '401' },
  ];
  for (const c of refusals) {
    it(`refuses ${c.what}`, async () => {
      const r = await curl(['--cacert', pki.ca, '-x', c.proxy(tinyproxy.port),
                            '-w', '%{http_connect}', target() + '/']);
      // 56: CURLE_RECV_ERROR, what curl says for a refused CONNECT.
      assert.equal(r.code, 56, r.stderr);
      assert.equal(r.stdout, c.status);
    });
  }

  it('is reachable over TLS through the stream front', async () => {
    const r = await curl(['--cacert', pki.ca, '--proxy-cacert', pki.ca,
                          '-x', proxyUrl('https', front.port),
                          target() + '/']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, BODY);
  });
});

describe('microsocks', () => {
  const socksArgs = (pass) => [
    '--socks5-hostname', `127.0.0.1:${socks.port}`,
    '--proxy-user', `${USER}:${pass}`,
    '--cacert', pki.ca, `https://127.0.0.1:${site.httpsPort}/`,
  ];

  it('connects with the right password', async () => {
    const r = await curl(socksArgs(PASS));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, BODY);
  });

  it('refuses a wrong password', async () => {
    // 97: CURLE_PROXY, the SOCKS5 handshake failed.
    const r = await curl(socksArgs('wrong'));
    assert.equal(r.code, 97, r.stderr);
  });
});

describe('stop()', () => {
  it('ends the server and removes its dir', async () => {
    const s = await startTinyproxy();
    await waitPort(s.port);
    // 0, SIGTERM (before tinyproxy handles it) or SIGKILL (a SIGTERM it
    // missed): stopped, each way.
    const r = await s.stop();
    assert.ok(r.code === 0 || r.signal, JSON.stringify(r));
    assert.equal(existsSync(s.dir), false, s.dir);
    await assert.rejects(waitPort(s.port, 200));
  });
});
