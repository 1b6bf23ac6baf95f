// Every method of the engine, called over a real WebSocket on loopback:
// what it answers when used right, and which error code it answers when
// not.  One engine serves the whole file.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync }
  from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { codes } from '../../ui-bridge/client/pinwarden.js';
import { makeChain } from './certs.mjs';
import { startEngine, WebSocket } from './engine.mjs';

const PIN_A = 'sha256/' + 'A'.repeat(43) + '=';
const PIN_B = 'sha256/' + Buffer.alloc(32, 1).toString('base64');

let engine;
let pw;
let certs;

before(async () => {
  certs = makeChain();
  engine = await startEngine();
  pw = await engine.client();
});

after(async () => {
  await pw?.close();
  await engine?.stop();
});

/** Asserts that promise rejects with a JSON-RPC error of code. */
async function rejectsWith(promise, code, what) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, `${what}: ${e.message}`);
    return true;
  }, what);
}

/**
 * A WebSocket that speaks raw text: for messages that the client would
 * never send (bad JSON, bad requests, batches by hand).
 */
async function rawSession({ hello = true } = {}) {
  const ws = new WebSocket(engine.url);
  const inbox = [];
  const waiting = [];
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(ev.data);
    if (waiting.length)
      waiting.shift()(msg);
    else
      inbox.push(msg);
  });
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', reject, { once: true });
  });
  const next = () => inbox.length ? Promise.resolve(inbox.shift())
    : new Promise((resolve) => waiting.push(resolve));
  const session = {
    ws,
    next,
    async send(text) {
      ws.send(typeof text === 'string' ? text : JSON.stringify(text));
      return next();
    },
    close: () => ws.close(),
  };
  if (hello) {
    const r = await session.send({ jsonrpc: '2.0', id: 0,
                                   method: 'session.hello',
                                   params: { token: engine.token } });
    assert.ok(r.result, JSON.stringify(r));
  }
  return session;
}

describe('session and engine', () => {
  it('session.hello gives the version and an engine-wide scope', () => {
    assert.equal(typeof pw.version, 'string');
    assert.ok(pw.scope === null || pw.scope === '' ||
              pw.scope === undefined, `scope ${pw.scope}`);
  });

  it('session.hello with a wrong token is -32003', async () => {
    const s = await rawSession({ hello: false });
    const r = await s.send({ jsonrpc: '2.0', id: 1, method: 'session.hello',
                             params: { token: 'f'.repeat(64) } });
    assert.equal(r.error?.code, codes.UNAUTHORIZED, JSON.stringify(r));
    s.close();
  });

  it('engine.status counts profiles and gives uptime', async () => {
    const s = await pw.call('engine.status');
    assert.equal(s.version, pw.version);
    assert.equal(typeof s.uptime_s, 'number');
    assert.equal(typeof s.profiles, 'number');
    assert.equal(typeof s.running, 'number');
  });
});

describe('JSON-RPC errors', () => {
  // [what is sent, the code expected, why]
  const cases = [
    ['{', codes.PARSE_ERROR, 'not JSON'],
    ['{"jsonrpc":"2.0","id":1,"method":"engine.status"', codes.PARSE_ERROR,
     'truncated JSON'],
    ['{"jsonrpc":"2.0","id":1}', codes.INVALID_REQUEST, 'no method'],
    ['{"jsonrpc":"1.0","id":1,"method":"engine.status"}',
     codes.INVALID_REQUEST, 'not version 2.0'],
    ['{"jsonrpc":"2.0","id":1,"method":7}', codes.INVALID_REQUEST,
     'method not a string'],
    ['{"jsonrpc":"2.0","id":1,"method":"engine.status","params":3}',
     codes.INVALID_REQUEST, 'params neither object nor array'],
    ['[]', codes.INVALID_REQUEST, 'an empty batch'],
    ['42', codes.INVALID_REQUEST, 'a number'],
    ['{"jsonrpc":"2.0","id":1,"method":"no.such"}', codes.METHOD_NOT_FOUND,
     'an unknown method'],
    ['{"jsonrpc":"2.0","id":1,"method":"profiles.get","params":{}}',
     codes.INVALID_PARAMS, 'a required param missing'],
    ['{"jsonrpc":"2.0","id":1,"method":"profiles.get",' +
     '"params":{"id":"x","bogus":1}}', codes.INVALID_PARAMS,
     'an unknown param'],
    ['{"jsonrpc":"2.0","id":1,"method":"profiles.create",' +
     '"params":{"name":5}}', codes.INVALID_PARAMS, 'a param of wrong type'],
  ];

  for (const [text, code, why] of cases) {
    it(`${why}: ${code}`, async () => {
      const s = await rawSession();
      const r = await s.send(text);
      s.close();
      assert.ok(!Array.isArray(r), JSON.stringify(r));
      assert.equal(r.error?.code, code, JSON.stringify(r));
      assert.equal(r.jsonrpc, '2.0');
    });
  }

  it('a notification gets no answer, even when it fails', async () => {
    const s = await rawSession();
    s.ws.send('{"jsonrpc":"2.0","method":"no.such"}');
    s.ws.send('{"jsonrpc":"2.0","method":"engine.status"}');
    const r = await s.send('{"jsonrpc":"2.0","id":"after",' +
                           '"method":"engine.status"}');
    assert.equal(r.id, 'after', JSON.stringify(r));
    s.close();
  });

  it('-32603 when the store cannot make a profile folder', async () => {
    // The profiles folder replaced by a file: mkdir fails inside the
    // engine, which is its fault, not the caller's.
    const dir = path.join(engine.dir, 'profiles');
    const aside = path.join(engine.dir, 'profiles.aside');
    if (!existsSync(dir))
      mkdirSync(dir);
    renameSync(dir, aside);
    writeFileSync(dir, 'not a folder');
    try {
      await rejectsWith(pw.call('profiles.create', { name: 'no-folder' }),
                        codes.INTERNAL_ERROR, 'create without a folder');
    } finally {
      rmSync(dir);
      renameSync(aside, dir);
    }
  });
});

describe('profiles', () => {
  let shop;

  it('create gives an id, revision 1 and the fields', async () => {
    shop = await pw.call('profiles.create', {
      name: 'shop-eu-1', tags: ['eu', 'shop'],
      proxy: 'socks5h://user:secret@10.0.0.8:1080',
      secure_access: { enabled: true, on_http: 'upgrade' },
      resolve: { 'api.example.com': '203.0.113.7' },
      browser: { language: 'de-DE', timezone: 'Europe/Berlin' },
    });
    assert.match(shop.id, /^[0-9a-f-]{36}$/);
    assert.equal(shop.revision, 1);
    assert.deepEqual(shop.tags, ['eu', 'shop']);
    assert.equal(shop.secure_access.enabled, true);
    assert.ok(!JSON.stringify(shop).includes('secret'),
              'the proxy password is shown');
  });

  // [params, code, why]
  const bad = [
    [{ name: 'shop-eu-1' }, codes.CONFLICT, 'a taken name'],
    [{ name: 'SHOP-EU-1' }, codes.CONFLICT, 'a taken name, other case'],
    [{ name: 'p', proxy: 'ftp://x' }, codes.INVALID_POLICY,
     'an unknown proxy scheme'],
    [{ name: 'p', pins: [{ pattern: 'a.*.com', pins: [PIN_A] }] },
     codes.INVALID_POLICY, 'a wildcard not at the start'],
    [{ name: 'p', pins: [{ pattern: 'x.com', pins: ['sha1/AAAA'] }] },
     codes.INVALID_POLICY, 'a pin that is not sha256'],
    [{ name: 'p', secure_access: { on_http: 'upgrade' } },
     codes.INVALID_POLICY, 'Secure Access without enabled'],
    [{}, codes.INVALID_PARAMS, 'no name'],
    [{ name: 'p', colour: 'red' }, codes.INVALID_PARAMS, 'an unknown key'],
  ];
  for (const [params, code, why] of bad) {
    it(`create with ${why}: ${code}`, async () => {
      await rejectsWith(pw.call('profiles.create', params), code, why);
    });
  }

  it('get by id and by name (any case)', async () => {
    assert.equal((await pw.call('profiles.get', { id: shop.id })).name,
                 'shop-eu-1');
    assert.equal((await pw.call('profiles.get', { id: 'Shop-EU-1' })).id,
                 shop.id);
  });

  it('get of an unknown profile: -32001', async () => {
    await rejectsWith(pw.call('profiles.get', { id: 'nobody' }),
                      codes.NOT_FOUND, 'unknown name');
    await rejectsWith(pw.call('profiles.get',
                              { id: '00000000-0000-4000-8000-000000000000' }),
                      codes.NOT_FOUND, 'unknown id');
  });

  it('list filters by tag and name, and pages with a cursor', async () => {
    for (const n of ['page-a', 'page-b', 'page-c'])
      await pw.call('profiles.create', { name: n, tags: ['page'] });

    const tagged = await pw.call('profiles.list', { tag: 'page' });
    assert.deepEqual(tagged.profiles.map((p) => p.name),
                     ['page-a', 'page-b', 'page-c']);
    const q = await pw.call('profiles.list', { q: 'EU-1' });
    assert.deepEqual(q.profiles.map((p) => p.name), ['shop-eu-1']);

    const first = await pw.call('profiles.list', { tag: 'page', limit: 2 });
    assert.equal(first.profiles.length, 2);
    assert.equal(typeof first.next, 'string');
    const rest = await pw.call('profiles.list',
                               { tag: 'page', limit: 2, cursor: first.next });
    assert.deepEqual(rest.profiles.map((p) => p.name), ['page-c']);
    assert.ok(rest.next === null || rest.next === undefined);
  });

  it('list with a bad limit: -32602', async () => {
    await rejectsWith(pw.call('profiles.list', { limit: 0 }),
                      codes.INVALID_PARAMS, 'limit 0');
    await rejectsWith(pw.call('profiles.list', { limit: 'ten' }),
                      codes.INVALID_PARAMS, 'limit a string');
  });

  it('update at the current revision applies the patch', async () => {
    const u = await pw.call('profiles.update', {
      id: shop.id, revision: 1, patch: { tags: ['eu'], proxy: null },
    });
    assert.equal(u.revision, 2);
    assert.deepEqual(u.tags, ['eu']);
    assert.equal(u.proxy, null);
    shop = u;
  });

  // [params, code, why]
  const badUpdates = () => [
    [{ id: shop.id, revision: 1, patch: { tags: [] } }, codes.CONFLICT,
     'a stale revision'],
    [{ id: shop.id, revision: shop.revision, patch: { name: 'page-a' } },
     codes.CONFLICT, 'a name another profile has'],
    [{ id: 'nobody', revision: 1, patch: {} }, codes.NOT_FOUND,
     'an unknown profile'],
    [{ id: shop.id, revision: shop.revision, patch: { id: 'x' } },
     codes.INVALID_POLICY, 'a patch of the id'],
    [{ id: shop.id, revision: shop.revision,
       patch: { proxy: 'socks5://' } }, codes.INVALID_POLICY,
     'a proxy without a host'],
    [{ id: shop.id, patch: {} }, codes.INVALID_PARAMS, 'no revision'],
  ];
  it('update errors', async () => {
    for (const [params, code, why] of badUpdates())
      await rejectsWith(pw.call('profiles.update', params), code, why);
  });

  it('export, delete, import brings the profiles back whole', async () => {
    const ex = await pw.call('profiles.export', { ids: ['page-a',
                                                        'page-b'] });
    assert.equal(ex.profiles.length, 2);

    for (const p of ex.profiles)
      assert.deepEqual(await pw.call('profiles.delete', { id: p.id }), {});
    await rejectsWith(pw.call('profiles.get', { id: 'page-a' }),
                      codes.NOT_FOUND, 'deleted');

    const im = await pw.call('profiles.import', { profiles: ex.profiles });
    assert.deepEqual(im.ids.sort(), ex.profiles.map((p) => p.id).sort());
    assert.equal((await pw.call('profiles.get', { id: 'page-b' })).revision,
                 1);
  });

  it('import is all or nothing', async () => {
    // The second profile's name is taken: neither is imported.
    await rejectsWith(pw.call('profiles.import', {
      profiles: [{ name: 'fresh-one' }, { name: 'page-c' }],
    }), codes.CONFLICT, 'a taken name in an import');
    await rejectsWith(pw.call('profiles.get', { id: 'fresh-one' }),
                      codes.NOT_FOUND, 'nothing imported');
    await rejectsWith(pw.call('profiles.import', {
      profiles: [{ name: 'x', pins: 'no' }],
    }), codes.INVALID_POLICY, 'a bad profile in an import');
  });

  it('export of an unknown id: -32001', async () => {
    await rejectsWith(pw.call('profiles.export', { ids: ['nobody'] }),
                      codes.NOT_FOUND, 'unknown export');
  });

  it('delete with purge removes the profile folder', async () => {
    const p = await pw.call('profiles.create', { name: 'to-purge' });
    const folder = path.join(engine.dir, 'profiles', p.id);
    assert.ok(existsSync(folder), 'the folder was made');
    assert.deepEqual(await pw.call('profiles.delete',
                                   { id: p.id, purge: true }), {});
    assert.equal(existsSync(folder), false);
    await rejectsWith(pw.call('profiles.delete', { id: p.id }),
                      codes.NOT_FOUND, 'deleted twice');
  });
});

describe('pins', () => {
  it('pins.compute gives the pin and subject of each certificate',
     async () => {
       const r = await pw.call('pins.compute',
                               { pem: certs.leafPem + certs.interPem });
       assert.deepEqual(r.pins.map((p) => p.pin),
                        [certs.leafPin, certs.interPin]);
       assert.match(r.pins[0].subject, /site\.test/);
     });

  it('pins.compute of no certificate: -32602', async () => {
    await rejectsWith(pw.call('pins.compute', { pem: 'hello' }),
                      codes.INVALID_PARAMS, 'no certificate');
  });

  it('defaults start empty, then hold what was set', async () => {
    assert.deepEqual((await pw.call('pins.defaults.get')).pins, []);
    const sets = [{ pattern: 'site.test', pins: [certs.leafPin,
                                                 certs.rootPin] }];
    const r = await pw.call('pins.defaults.set', { pins: sets });
    assert.equal(r.pins[0].pattern, 'site.test');
    const got = await pw.call('pins.defaults.get');
    assert.deepEqual(got.pins[0].pins, sets[0].pins);
    await pw.call('pins.defaults.set', { pins: [] });
  });

  it('defaults.set of a bad pin set: -32004', async () => {
    await rejectsWith(pw.call('pins.defaults.set', {
      pins: [{ pattern: '*.1.2.3.4', pins: [PIN_A] }],
    }), codes.INVALID_POLICY, 'a wildcard over an IP');
    await rejectsWith(pw.call('pins.defaults.set', { pins: 'x' }),
                      codes.INVALID_PARAMS, 'pins not an array');
  });
});

describe('Secure Access and verify.url', () => {
  let p;

  before(async () => {
    p = await pw.call('profiles.create', { name: 'sa-profile' });
  });

  // [url, action expected, url expected or null]
  const on = [
    ['http://example.com/a?b=1', 'upgrade', 'https://example.com/a?b=1'],
    ['https://example.com/', 'allow', null],
    ['ws://example.com:80/s', 'upgrade', 'wss://example.com/s'],
    ['http://127.0.0.1:8080/', 'allow', null],  // loopback is exempt
  ];

  it('off: everything passes', async () => {
    const r = await pw.call('verify.url', { id: p.id,
                                            url: 'http://example.com/' });
    assert.equal(r.action, 'allow');
  });

  it('on, upgrade: http becomes https', async () => {
    const sa = await pw.call('secure_access.set', { id: p.id,
                                                   enabled: true });
    assert.ok(sa);
    for (const [url, action, to] of on) {
      const r = await pw.call('verify.url', { id: p.id, url });
      assert.equal(r.action, action, `${url}: ${JSON.stringify(r)}`);
      if (to)
        assert.equal(r.url, to, url);
      assert.equal(typeof r.reason, 'string');
    }
  });

  it('on, block: http is blocked; an exception lets a host pass',
     async () => {
       await pw.call('secure_access.set', { id: p.id, enabled: true,
                                            on_http: 'block' });
       const url = 'http://intranet.example/';
       assert.equal((await pw.call('verify.url', { id: p.id, url })).action,
                    'block');

       await pw.call('secure_access.exception.add',
                     { id: p.id, host: 'intranet.example', ttl_s: 3600 });
       assert.equal((await pw.call('verify.url', { id: p.id, url })).action,
                    'allow');
       const shown = await pw.call('profiles.get', { id: p.id });
       assert.equal(shown.secure_access.exceptions[0].host,
                    'intranet.example');

       await pw.call('secure_access.exception.remove',
                     { id: p.id, host: 'intranet.example' });
       assert.equal((await pw.call('verify.url', { id: p.id, url })).action,
                    'block');
     });

  // [method, params, code, why]
  const errors = () => [
    ['secure_access.set', { id: 'nobody', enabled: true }, codes.NOT_FOUND,
     'unknown profile'],
    ['secure_access.set', { id: p.id }, codes.INVALID_PARAMS,
     'no enabled'],
    ['secure_access.set', { id: p.id, enabled: true, on_http: 'maybe' },
     codes.INVALID_PARAMS, 'an unknown on_http'],
    ['secure_access.exception.add', { id: p.id, host: 'a b' },
     codes.INVALID_POLICY, 'a bad host'],
    ['secure_access.exception.remove', { id: p.id, host: 'never.added' },
     codes.NOT_FOUND, 'an exception never added'],
    ['verify.url', { id: 'nobody', url: 'http://x/' }, codes.NOT_FOUND,
     'unknown profile'],
  ];
  it('errors', async () => {
    for (const [method, params, code, why] of errors())
      await rejectsWith(pw.call(method, params), code, `${method}: ${why}`);
  });

  it('a URL that does not parse is never allowed', async () => {
    // Either refused as a bad param or decided as a block.
    let r;
    try {
      r = await pw.call('verify.url', { id: p.id, url: 'not a url' });
    } catch (e) {
      assert.equal(e.code, codes.INVALID_PARAMS, e.message);
      return;
    }
    assert.equal(r.action, 'block', JSON.stringify(r));
    assert.equal(r.reason, 'bad_input');
  });
});

describe('verify.chain and decisions', () => {
  let trusted;
  let wrongPins;

  before(async () => {
    trusted = await pw.call('profiles.create', {
      name: 'chain-ok', roots: certs.rootPem,
      pins: [{ pattern: 'site.test', pins: [certs.leafPin, certs.rootPin] }],
    });
    wrongPins = await pw.call('profiles.create', {
      name: 'chain-pinned', roots: certs.rootPem,
      pins: [{ pattern: '**.site.test', pins: [PIN_A, PIN_B] }],
    });
  });

  // [profile name, host, action, reason]
  const cases = [
    ['chain-ok', 'site.test', 'allow', 'ok'],
    ['chain-ok', 'other.test', 'block', 'hostname_mismatch'],
    ['chain-pinned', 'www.site.test', 'block', 'pin_mismatch'],
  ];
  for (const [name, host, action, reason] of cases) {
    it(`${name} ${host}: ${action} (${reason})`, async () => {
      const d = await pw.call('verify.chain', { id: name, host,
                                                chain: certs.chain });
      assert.equal(d.action, action, JSON.stringify(d));
      assert.equal(d.reason, reason, JSON.stringify(d));
      assert.equal(d.host, host);
    });
  }

  it('without the profile\'s roots the chain is untrusted', async () => {
    const d = await pw.call('verify.chain', { host: 'site.test', port: 8443,
                                              chain: certs.chain });
    assert.equal(d.action, 'block');
    assert.equal(d.reason, 'untrusted');
    assert.equal(d.port, 8443);
  });

  // [params, code, why]
  const bad = [
    [{ host: 'site.test', chain: ['%%%'] }, codes.INVALID_PARAMS,
     'not base64'],
    [{ host: 'site.test', chain: [] }, codes.INVALID_PARAMS, 'no chain'],
    [{ host: 'site.test' }, codes.INVALID_PARAMS, 'chain missing'],
    [{ chain: ['AAAA'] }, codes.INVALID_PARAMS, 'host missing'],
    [{ id: 'nobody', host: 'site.test', chain: null }, codes.NOT_FOUND,
     'unknown profile'],
    [{ host: 'site.test', chain: ['AAAA'], port: 70000 },
     codes.INVALID_PARAMS, 'port out of range'],
  ];
  for (const [params, code, why] of bad) {
    it(`verify.chain with ${why}: ${code}`, async () => {
      if (params.chain === null)
        params.chain = certs.chain;
      await rejectsWith(pw.call('verify.chain', params), code, why);
    });
  }

  it('decisions.list finds them by profile, host and action', async () => {
    const all = await pw.call('decisions.list', {});
    assert.ok(all.decisions.length >= 3, JSON.stringify(all));

    const mine = await pw.call('decisions.list', { id: 'chain-ok' });
    assert.ok(mine.decisions.length >= 2);
    // The record names the profile "id" (or "profile").
    for (const d of mine.decisions)
      assert.equal(d.id ?? d.profile, trusted.id, JSON.stringify(d));

    const blocked = await pw.call('decisions.list',
                                  { id: wrongPins.id, action: 'block' });
    assert.ok(blocked.decisions.every((d) => d.action === 'block'));
    assert.ok(blocked.decisions.length >= 1);

    const host = await pw.call('decisions.list', { host: 'OTHER.test' });
    assert.ok(host.decisions.every((d) => d.host === 'other.test'));

    const one = await pw.call('decisions.list', { limit: 1 });
    assert.equal(one.decisions.length, 1);

    const future = await pw.call('decisions.list',
                                 { since: '2999-01-01T00:00:00Z' });
    assert.deepEqual(future.decisions, []);
  });

  it('decisions.list errors', async () => {
    await rejectsWith(pw.call('decisions.list', { since: 'yesterday' }),
                      codes.INVALID_PARAMS, 'a bad time');
    await rejectsWith(pw.call('decisions.list', { id: 'nobody' }),
                      codes.NOT_FOUND, 'unknown profile');
  });
});

describe('batches', () => {
  it('answers each call by id, skipping notifications', async () => {
    const s = await rawSession();
    const r = await s.send([
      { jsonrpc: '2.0', id: 1, method: 'engine.status' },
      { jsonrpc: '2.0', method: 'engine.status' },
      { jsonrpc: '2.0', id: 2, method: 'profiles.get',
        params: { id: 'nobody' } },
      { jsonrpc: '2.0', id: 3, method: 'no.such' },
      { foo: 'bar' },
    ]);
    s.close();
    assert.ok(Array.isArray(r), JSON.stringify(r));
    assert.equal(r.length, 4, JSON.stringify(r));
    const byId = new Map(r.map((x) => [x.id, x]));
    assert.equal(typeof byId.get(1).result.version, 'string');
    assert.equal(byId.get(2).error.code, codes.NOT_FOUND);
    assert.equal(byId.get(3).error.code, codes.METHOD_NOT_FOUND);
    assert.equal(byId.get(null).error.code, codes.INVALID_REQUEST);
  });

  it('a batch of notifications only gets no answer', async () => {
    const s = await rawSession();
    s.ws.send(JSON.stringify([{ jsonrpc: '2.0', method: 'engine.status' }]));
    const r = await s.send({ jsonrpc: '2.0', id: 'x',
                             method: 'engine.status' });
    assert.equal(r.id, 'x');
    s.close();
  });

  it('the client\'s batch() keeps the order of the calls', async () => {
    const [a, b] = await pw.batch([['profiles.get', { id: 'chain-ok' }],
                                   ['engine.status']]);
    assert.equal(a.result.name, 'chain-ok');
    assert.equal(typeof b.result.uptime_s, 'number');
  });

  it('a batch over the cap is refused whole', async () => {
    const s = await rawSession();
    const calls = Array.from({ length: 101 }, (_, i) => (
      { jsonrpc: '2.0', id: i, method: 'engine.status' }));
    const r = await s.send(calls);
    s.close();
    assert.equal(r.error?.code, codes.INVALID_REQUEST, JSON.stringify(r)
      .slice(0, 200));
  });
});

describe('tokens', () => {
  let mine;
  let other;
  let scoped;

  before(async () => {
    mine = await pw.call('profiles.create', { name: 'scoped-mine' });
    other = await pw.call('profiles.create', { name: 'scoped-other' });
    const t = await pw.call('tokens.create', { id: 'scoped-mine' });
    assert.match(t.token, /^[0-9a-f]{32,}$/);
    scoped = await engine.client({ token: t.token });
  });

  after(async () => {
    await scoped?.close();
  });

  it('a scoped session names its profile', () => {
    assert.equal(scoped.scope, mine.id);
  });

  it('reaches its own profile', async () => {
    assert.equal((await scoped.call('profiles.get', { id: mine.id })).name,
                 'scoped-mine');
    await scoped.call('secure_access.set', { id: mine.id, enabled: true });
  });

  // [method, params, why]
  const refused = () => [
    ['profiles.get', { id: other.id }, 'reading another profile'],
    ['profiles.get', { id: 'scoped-other' }, 'the same, by name'],
    ['profiles.update', { id: other.id, revision: 1, patch: {} },
     'changing another profile'],
    ['profiles.delete', { id: other.id }, 'deleting another profile'],
    ['secure_access.set', { id: other.id, enabled: true },
     'switching another profile'],
    ['profiles.create', { name: 'sneaky' }, 'creating profiles'],
    ['pins.defaults.set', { pins: [] }, 'changing the engine defaults'],
    ['tokens.create', { id: other.id }, 'minting tokens'],
    ['profiles.export', { ids: [other.id] }, 'exporting another profile'],
    ['events.subscribe', { topics: ['profile'], id: other.id },
     'listening to another profile'],
  ];
  it('cannot touch another profile or the engine: -32003', async () => {
    for (const [method, params, why] of refused())
      await rejectsWith(scoped.call(method, params), codes.UNAUTHORIZED,
                        why);
    assert.equal((await pw.call('profiles.get', { id: other.id })).revision,
                 1, 'the other profile is unchanged');
  });

  it('an export of a scoped session holds its profile only, redacted',
     async () => {
       const { revision } = await pw.call('profiles.get', { id: mine.id });
       await pw.call('profiles.update', {
         id: mine.id, revision,
         patch: { proxy: 'http://u:pw1@10.0.0.1:3128' },
       });
       const ex = await scoped.call('profiles.export', {});
       assert.deepEqual(ex.profiles.map((p) => p.id), [mine.id]);
       assert.ok(!JSON.stringify(ex).includes('pw1'), 'password shown');
     });

  it('tokens.create for an unknown profile: -32001', async () => {
    await rejectsWith(pw.call('tokens.create', { id: 'nobody' }),
                      codes.NOT_FOUND, 'unknown profile');
  });

  // A relaunched browser gets a new token; the old one's open
  // connections must not keep their rights.
  it('a new token retires the old one on open sessions too: -32003',
     async () => {
       const t = await pw.call('tokens.create', { id: mine.id });
       await rejectsWith(scoped.call('profiles.get', {}),
                         codes.UNAUTHORIZED, 'a retired token');
       const fresh = await engine.client({ token: t.token });
       try {
         assert.equal((await fresh.call('profiles.get', {})).id, mine.id);
       } finally {
         await fresh.close();
       }
     });
});

describe('BUSY', () => {
  it('too many calls in flight on one connection: -32005', async () => {
    // Sent in one go; the store's calls run one at a time, so the
    // connection's in-flight cap is passed.  Every call is answered.
    const s = await rawSession();
    const n = 300;
    for (let i = 1; i <= n; i++)
      s.ws.send(JSON.stringify({ jsonrpc: '2.0', id: i,
                                 method: 'profiles.list',
                                 params: { limit: 1000 } }));
    const got = [];
    for (let i = 0; i < n; i++)
      got.push(await s.next());
    s.close();
    const busy = got.filter((r) => r.error?.code === codes.BUSY);
    const ok = got.filter((r) => r.result);
    assert.equal(busy.length + ok.length, n);
    assert.ok(busy.length > 0, 'no call was refused as busy');
    assert.ok(ok.length > 0, 'no call was answered');
  });
});
