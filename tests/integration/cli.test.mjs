// The command line against a running engine: each command's exit status
// and output, in tables and with --json, and the engine's state after.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync }
  from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeChain } from './certs.mjs';
import { runCli, startEngine } from './engine.mjs';

let engine;
let pw;
let certs;
let scratch;

const PIN_A = 'sha256/' + Buffer.alloc(32, 0).toString('base64');
const PIN_B = 'sha256/' + Buffer.alloc(32, 1).toString('base64');

before(async () => {
  certs = makeChain();
  engine = await startEngine();
  pw = await engine.client();
  scratch = mkdtempSync(path.join(tmpdir(), 'pw-cli-'));
});

after(async () => {
  await pw?.close();
  await engine?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs the command line on the engine's folder. */
const cli = (args, o) => runCli(engine.dir, args, o);

/** Runs it and asserts the exit status, printing both streams if not. */
async function ok(args, want = 0, o) {
  const r = await cli(args, o);
  assert.equal(r.code, want, `pinwarden ${args.join(' ')}: exit ${r.code}` +
               `\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

describe('usage', () => {
  // [args, exit status, what the output holds, why]
  const cases = [
    [['profile', '--help'], 0, /profile create NAME/, 'profile help'],
    [['secure-access', '--help'], 0, /--block/, 'secure-access help'],
    [['pins', '--help'], 0, /pins add PATTERN/, 'pins help'],
    [['decisions', '--help'], 0, /--action/, 'decisions help'],
    [['events', '--help'], 0, /--topic/, 'events help'],
    [['call', '--help'], 0, /JSON-PARAMS/, 'call help'],
    [['profile'], 2, /usage/, 'profile without a command'],
    [['profile', 'frob'], 2, /unknown command/, 'an unknown profile command'],
    [['secure-access', 'x', 'maybe'], 2, /expected on, off/,
     'secure-access neither on nor off'],
    [['pins', 'add', 'x.com'], 2, /usage/, 'pins add without a pin'],
    [['decisions', '--limit', 'ten'], 2, /not a positive number/,
     'a bad --limit'],
    [['call'], 2, /usage/, 'call without a method'],
    [['call', 'engine.status', '{'], 2, /not JSON/, 'call with bad JSON'],
    [['profile', 'list', '--timeout'], 2, /needs a value/,
     'a global option without its value'],
    // serve's bounds: milliseconds, never 0 (which would mean no bound).
    [['serve', '--head-timeout', '0'], 2, /--head-timeout '0'/,
     'serve with a head timeout of 0'],
    [['serve', '--idle-timeout', '5s'], 2, /milliseconds/,
     'serve with an idle timeout that is not a number'],
    [['serve', '--upstream-timeout', '600001'], 2, /1 to 600000/,
     'serve with an upstream timeout over its cap'],
    [['serve', '--secret-wait', '-1'], 2, /--secret-wait/,
     'serve with a negative secret wait'],
  ];
  for (const [args, code, re, why] of cases) {
    it(why, async () => {
      const r = await ok(args, code, { asIs: args.includes('--timeout') });
      assert.match(r.stdout + r.stderr, re);
    });
  }

  it('the main help lists the engine commands', async () => {
    const r = await runCli(engine.dir, ['--help']);
    assert.match(r.stdout, /secure-access/);
  });
});

describe('profile', () => {
  let id;

  it('create prints the name and id', async () => {
    const r = await ok(['profile', 'create', 'cli-shop', '--tag', 'eu',
                        '--tag', 'shop', '--proxy',
                        'http://user:secret@10.0.0.1:3128',
                        '--secure-access']);
    const m = /^created cli-shop ([0-9a-f-]{36})$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    id = m[1];
    const p = await pw.call('profiles.get', { id });
    assert.deepEqual(p.tags, ['eu', 'shop']);
    assert.equal(p.secure_access.enabled, true);
  });

  it('create --json prints the profile; --from takes a file', async () => {
    const file = path.join(scratch, 'p.json');
    writeFileSync(file, JSON.stringify({ name: 'from-file',
                                         resolve: { 'a.test': '10.0.0.9' } }));
    const r = await ok(['--json', 'profile', 'create', '--from', file]);
    const p = JSON.parse(r.stdout);
    assert.equal(p.name, 'from-file');
    assert.equal(p.revision, 1);
  });

  it('create of a taken name fails with the engine\'s message', async () => {
    const r = await ok(['profile', 'create', 'cli-shop'], 1);
    assert.match(r.stderr, /-32002/);
  });

  it('list prints a table, --json an array', async () => {
    const r = await ok(['profile', 'list']);
    assert.match(r.stdout, /^ID\s+NAME\s+REV/m);
    assert.match(r.stdout,
                 /cli-shop\s+1\s+on \(upgrade\)\s+http:\/\/user:\*\*\*@/);
    assert.ok(!r.stdout.includes('secret'), 'the password is shown');

    const j = JSON.parse((await ok(['profile', 'list', '--json',
                                    '--tag', 'eu'])).stdout);
    assert.deepEqual(j.map((p) => p.name), ['cli-shop']);
  });

  it('list follows the pages to the end', async () => {
    for (let i = 0; i < 5; i++)
      await pw.call('profiles.create', { name: `many-${i}`,
                                         tags: ['many'] });
    const all = JSON.parse((await ok(['profile', 'list', '--json', '--tag',
                                      'many'])).stdout);
    assert.equal(all.length, 5);
    const two = JSON.parse((await ok(['profile', 'list', '--json', '--tag',
                                      'many', '--limit', '2'])).stdout);
    assert.equal(two.length, 2);
  });

  it('show by name prints the fields', async () => {
    const r = await ok(['profile', 'show', 'CLI-SHOP']);
    assert.match(r.stdout, new RegExp(`^id:\\s+${id}$`, 'm'));
    assert.match(r.stdout, /^tags:\s+eu,shop$/m);
    assert.match(r.stdout, /^secure access: on \(upgrade\)$/m);
  });

  it('show of an unknown profile: exit 1, -32001', async () => {
    const r = await ok(['profile', 'show', 'nobody'], 1);
    assert.match(r.stderr, /-32001/);
  });

  it('update changes what is given and bumps the revision', async () => {
    const r = await ok(['profile', 'update', 'cli-shop', '--name',
                        'cli-shop-2', '--no-proxy', '--patch',
                        '{"browser":{"language":"de-DE"}}']);
    assert.match(r.stdout, /updated cli-shop-2 \(revision 2\)/);
    const p = await pw.call('profiles.get', { id });
    assert.equal(p.proxy, null);
    assert.equal(p.browser.language, 'de-DE');
  });

  it('update at a stale --revision: exit 1, conflict', async () => {
    const r = await ok(['profile', 'update', id, '--revision', '1',
                        '--tag', 'x'], 1);
    assert.match(r.stderr, /-32002/);
    assert.match(r.stderr, /run the command again/);
  });

  it('export to a file (0600), delete, import', async () => {
    const file = path.join(scratch, 'export.json');
    await ok(['profile', 'export', id, 'from-file', '--output', file]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(doc.profiles.length, 2);

    const d = await ok(['profile', 'delete', id, 'from-file', '--purge']);
    assert.match(d.stdout, /deleted .*\ndeleted from-file/);
    assert.equal((await ok(['profile', 'show', id], 1)).code, 1);

    const r = await ok(['profile', 'import', file]);
    assert.match(r.stdout, /imported 2 profiles/);
    assert.equal((await pw.call('profiles.get', { id })).name, 'cli-shop-2');
  });

  it('export to stdout and import from stdin', async () => {
    const ex = await ok(['profile', 'export', 'many-0']);
    await ok(['profile', 'delete', 'many-0']);
    const r = await ok(['profile', 'import', '-', '--json'],
                       0, { input: ex.stdout });
    assert.equal(JSON.parse(r.stdout).ids.length, 1);
  });

  it('import of a document with a taken name: exit 1', async () => {
    const file = path.join(scratch, 'dup.json');
    writeFileSync(file, JSON.stringify({ profiles: [{ name: 'many-1' }] }));
    const r = await ok(['profile', 'import', file], 1);
    assert.match(r.stderr, /-32002/);
  });

  it('import of something else: exit 2', async () => {
    const file = path.join(scratch, 'junk.json');
    writeFileSync(file, '"hello"');
    await ok(['profile', 'import', file], 2);
  });
});

describe('profile start, status, stop', () => {
  it('start --no-browser prints the gateway; status lists it; stop ends it',
     async () => {
       await ok(['profile', 'create', 'runner']);
       const st = await ok(['profile', 'start', 'runner', '--no-browser']);
       const gw = /gateway\s+(127\.0\.0\.1:\d+)/.exec(st.stdout);
       assert.ok(gw, st.stdout);
       assert.match(st.stdout, /keylog\s+\S+\.keylog/);
       assert.doesNotMatch(st.stdout, /devtools/);
       const list = await ok(['profile', 'status']);
       assert.match(list.stdout, new RegExp(`runner\\s+${gw[1]}`));
       const js = JSON.parse((await ok(['profile', 'status', '--json']))
                             .stdout);
       assert.equal(js[0].gateway, gw[1]);
       await ok(['profile', 'stop', 'runner']);
       assert.doesNotMatch((await ok(['profile', 'status'])).stdout,
                           /runner/);
       await ok(['profile', 'stop', 'runner'], 1);
     });

  it('start with a browser prints DevTools; open adds a tab', async () => {
    await ok(['profile', 'create', 'browsing']);
    const st = await ok(['profile', 'start', 'browsing', '--headless']);
    const dt = /devtools\s+(ws:\/\/127\.0\.0\.1:(\d+)\/devtools\/browser\/\S+)/
      .exec(st.stdout);
    assert.ok(dt, st.stdout);
    assert.match(st.stdout, /pid\s+\d+/);
    const again = await ok(['profile', 'start', 'browsing', '--headless']);
    assert.match(again.stdout, new RegExp(dt[1]), 'the running one');
    await ok(['profile', 'open', 'browsing', 'about:blank#pw']);
    const tabs = await (await fetch(`http://127.0.0.1:${dt[2]}/json/list`))
      .json();
    assert.ok(tabs.some((t) => t.url === 'about:blank#pw'));
    await ok(['profile', 'stop', 'browsing']);
  });

  it('start with an unknown flag: exit 2', async () => {
    await ok(['profile', 'start', 'runner', '--frob'], 2);
  });
});

describe('ui', () => {
  it('prints the UI address with the token, and it serves', async () => {
    const r = await ok(['ui', '--no-open']);
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/#token=([0-9a-f]{64})\n$/
      .exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(m[2], engine.token);
    const page = await fetch(`http://127.0.0.1:${m[1]}/client/pinwarden.js`);
    assert.equal(page.status, 200);
  });

  it('an unknown option: exit 2', async () => {
    await ok(['ui', '--frob'], 2);
  });
});

describe('secure-access', () => {
  before(async () => {
    await pw.call('profiles.create', { name: 'cli-sa' });
  });

  // [args, line printed, enabled, on_http]
  const cases = [
    [['on'], /^Secure Access of cli-sa: on \(http: upgrade\)$/m, true,
     'upgrade'],
    [['on', '--block'], /on \(http: block\)/, true, 'block'],
    [['off'], /^Secure Access of cli-sa: off$/m, false, 'block'],
    [['on', '--upgrade'], /on \(http: upgrade\)/, true, 'upgrade'],
  ];
  for (const [args, re, enabled, onHttp] of cases) {
    it(args.join(' '), async () => {
      const r = await ok(['secure-access', 'cli-sa', ...args]);
      assert.match(r.stdout, re);
      const p = await pw.call('profiles.get', { id: 'cli-sa' });
      assert.equal(p.secure_access.enabled, enabled);
      assert.equal(p.secure_access.on_http, onHttp);
    });
  }

  it('exceptions are added and removed', async () => {
    const r = await ok(['secure-access', 'cli-sa', 'add-exception',
                        'printer.lan', '--ttl', '600']);
    assert.match(r.stdout, /exception printer\.lan until \d{4}-/);
    const v = await pw.call('verify.url', { id: 'cli-sa',
                                            url: 'http://printer.lan/' });
    assert.equal(v.action, 'allow');
    await ok(['secure-access', 'cli-sa', 'remove-exception', 'printer.lan']);
    const p = await pw.call('profiles.get', { id: 'cli-sa' });
    assert.deepEqual(p.secure_access.exceptions, []);
  });

  it('of an unknown profile: exit 1', async () => {
    const r = await ok(['secure-access', 'nobody', 'on'], 1);
    assert.match(r.stderr, /-32001/);
  });
});

describe('pins', () => {
  it('engine defaults: add, list, remove one pin, remove the set',
     async () => {
       await ok(['pins', 'add', 'login.example.com', PIN_A, PIN_B]);
       let r = await ok(['pins', 'list']);
       assert.match(r.stdout, /^login\.example\.com\s+no\s+enforce\s+-\s+/m);
       assert.ok(r.stdout.includes(PIN_A) && r.stdout.includes(PIN_B));

       await ok(['pins', 'remove', 'login.example.com', PIN_A]);
       let sets = (await pw.call('pins.defaults.get')).pins;
       assert.deepEqual(sets[0].pins, [PIN_B]);

       await ok(['pins', 'remove', 'login.example.com']);
       sets = (await pw.call('pins.defaults.get')).pins;
       assert.deepEqual(sets, []);
       r = await ok(['pins', 'list']);
       assert.match(r.stdout, /no pin sets/);
     });

  it('a profile\'s pins, with --report and --subdomains', async () => {
    await pw.call('profiles.create', { name: 'cli-pins' });
    await ok(['pins', 'add', '--profile', 'cli-pins', 'site.test',
              certs.leafPin, certs.rootPin, '--report', '--subdomains']);
    const p = await pw.call('profiles.get', { id: 'cli-pins' });
    assert.equal(p.pins.length, 1);
    assert.equal(p.pins[0].mode, 'report');
    assert.equal(p.pins[0].include_subdomains, true);
    const j = JSON.parse((await ok(['pins', 'list', '--profile', 'cli-pins',
                                    '--json'])).stdout);
    assert.deepEqual(j[0].pins, [certs.leafPin, certs.rootPin]);
  });

  it('a bad pin: exit 1 with the engine\'s reason', async () => {
    const r = await ok(['pins', 'add', 'x.example', 'sha256/nope'], 1);
    assert.match(r.stderr, /-32004/);
  });

  it('removing a set that is not there: exit 1', async () => {
    await ok(['pins', 'remove', 'never.example'], 1);
  });
});

describe('decisions', () => {
  before(async () => {
    await pw.call('profiles.create', { name: 'cli-dec',
                                       roots: certs.rootPem });
    await pw.call('verify.chain', { id: 'cli-dec', host: 'site.test',
                                    chain: certs.chain });
    await pw.call('verify.chain', { id: 'cli-dec', host: 'wrong.test',
                                    chain: certs.chain });
  });

  it('lists them newest first in a table', async () => {
    const r = await ok(['decisions', '--profile', 'cli-dec']);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^AT\s+ACTION\s+REASON\s+HOST/);
    assert.match(lines[1], /block\s+hostname_mismatch\s+wrong\.test:443/);
    assert.match(lines[2], /allow\s+\S+\s+site\.test:443/);
  });

  // [filter args, how many, why]
  const cases = [
    [['--action', 'allow'], 1, 'by action'],
    [['--host', 'wrong.test'], 1, 'by host'],
    [['--limit', '1'], 1, 'by count'],
    [['--since', '2999-01-01T00:00:00Z'], 0, 'by time'],
  ];
  for (const [args, n, why] of cases) {
    it(`filters ${why}`, async () => {
      const r = await ok(['decisions', '--json', '--profile', 'cli-dec',
                          ...args]);
      assert.equal(JSON.parse(r.stdout).length, n, r.stdout);
    });
  }
});

describe('call', () => {
  it('prints the result as JSON', async () => {
    const r = await ok(['call', 'engine.status']);
    assert.equal(JSON.parse(r.stdout).version, pw.version);
  });

  it('takes params from the argument or stdin', async () => {
    const a = await ok(['call', 'profiles.get', '{"id":"cli-sa"}']);
    assert.equal(JSON.parse(a.stdout).name, 'cli-sa');
    const b = await ok(['call', 'profiles.get', '-'], 0,
                       { input: '{"id":"cli-sa"}' });
    assert.equal(JSON.parse(b.stdout).name, 'cli-sa');
  });

  // [method, params, code in the message, why]
  const errors = [
    ['no.such', '{}', /-32601/, 'an unknown method'],
    ['profiles.get', '{}', /-32602/, 'a missing param'],
    ['profiles.get', '{"id":"nobody"}', /-32001/, 'an unknown profile'],
  ];
  for (const [method, params, re, why] of errors) {
    it(`exit 1 on ${why}`, async () => {
      const r = await ok(['call', method, params], 1);
      assert.match(r.stderr, re);
      assert.equal(r.stdout, '');
    });
  }

  it('global options may stand before the command', async () => {
    const r = await runCli(engine.dir, ['--data-dir', engine.dir, '--json',
                                        'call', 'engine.status'],
                           { asIs: true });
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('events', () => {
  it('prints one JSON line per event until interrupted', async () => {
    const run = cli(['events', '--topic', 'profile', '--topic',
                     'secure_access'], { signalAfterMs: 2000 });
    await new Promise((r) => setTimeout(r, 700));
    const p = await pw.call('profiles.create', { name: 'cli-ev' });
    await pw.call('secure_access.set', { id: p.id, enabled: true });
    await pw.call('verify.url', { id: p.id, url: 'http://a.test/' });
    const r = await run;

    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    // Secure Access moves the profile's revision: an "updated" follows.
    assert.deepEqual(lines.map((e) => e.topic),
                     ['profile', 'secure_access', 'profile'], r.stdout);
    assert.equal(lines[0].data.action, 'created');
    assert.equal(lines[2].data.action, 'updated');
  });

  it('--profile keeps one profile\'s events (named by name)', async () => {
    await pw.call('profiles.create', { name: 'cli-ev-a' });
    await pw.call('profiles.create', { name: 'cli-ev-b' });
    const run = cli(['events', '--profile', 'cli-ev-a'],
                    { signalAfterMs: 1500 });
    await new Promise((r) => setTimeout(r, 700));
    await pw.call('secure_access.set', { id: 'cli-ev-b', enabled: true });
    await pw.call('secure_access.set', { id: 'cli-ev-a', enabled: true });
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const a = lines[0]?.profile;
    assert.deepEqual(lines.map((e) => e.topic), ['secure_access', 'profile'],
                     r.stdout);
    assert.ok(lines.every((e) => e.profile === a), r.stdout);
    assert.equal(lines[1].data.profile.name, 'cli-ev-a');
  });
});

describe('no engine', () => {
  it('exit 3 and says so', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-none-'));
    try {
      const r = await runCli(dir, ['profile', 'list']);
      assert.equal(r.code, 3);
      assert.match(r.stderr, new RegExp(`no engine runs on ${dir}: start ` +
                                        'it with pinwarden serve'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a stale engine.json (nothing listens) is no engine', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-stale-'));
    try {
      writeFileSync(path.join(dir, 'engine.json'), JSON.stringify(
        { listen: '127.0.0.1:1', pid: 1, version: '0' }));
      writeFileSync(path.join(dir, 'token'), 'ab\n');
      const r = await runCli(dir, ['call', 'engine.status']);
      assert.equal(r.code, 3, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a wrong token: exit 1, the upgrade refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-tok-'));
    try {
      writeFileSync(path.join(dir, 'engine.json'),
                    JSON.stringify(engine.info));
      writeFileSync(path.join(dir, 'token'), 'f'.repeat(64));
      const r = await runCli(dir, ['call', 'engine.status']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /refused/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
