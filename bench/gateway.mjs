#!/usr/bin/env node
// The gateway's benchmark: bulk throughput, TLS 1.3 handshakes and the
// memory of open tunnels, each beside a limit measured in the same run
// (a direct connection, tinyproxy as the peer proxy).  It drives a real
// `pinwarden serve`, nginx, tinyproxy and curl on loopback, with the
// integration tests' fixtures, and prints Markdown tables.
//
//   node bench/gateway.mjs [--pinwarden PATH] [--quick]
//
// bench/README.md ("gateway.mjs") says what each row means.

import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync,
         readdirSync, rmSync, writeFileSync, closeSync, ftruncateSync,
         openSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;

const usage = 'usage: node bench/gateway.mjs [--pinwarden PATH] [--quick]';
const opt = { pinwarden: path.resolve(here, '../build/pinwarden'),
              quick: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--pinwarden' && i + 1 < process.argv.length) {
    opt.pinwarden = path.resolve(process.argv[++i]);
  } else if (a === '--quick') {
    opt.quick = true;
  } else if (a === '--seconds' && i + 1 < process.argv.length) {
    // bench/run.sh hands its --seconds to every benchmark; the sizes
    // here are counts and bytes, not times, so it is taken and ignored.
    i++;
  } else {
    console.error(usage);
    process.exit(2);
  }
}

const size = opt.quick
  ? { bulk: 64 * MiB, reps: 3, handshakes: 50, rounds: 3, tunnels: 100 }
  : { bulk: 1024 * MiB, reps: 3, handshakes: 300, rounds: 5,
      tunnels: 1000 };
const CONCURRENT = 8;

// startEngine() would die of a spawn error with no word of the cause.
if (!existsSync(opt.pinwarden)) {
  console.error(`gateway.mjs: no ${opt.pinwarden}: build it, or give ` +
                '--pinwarden PATH');
  process.exit(2);
}
// The bare relay of table 1 is built beside the daemon.
const relayExe = path.join(path.dirname(opt.pinwarden), 'bench', 'relay');
if (!existsSync(relayExe)) {
  console.error(`gateway.mjs: no ${relayExe}: meson compile -C ` +
                `${path.dirname(opt.pinwarden)} relay`);
  process.exit(2);
}

// The fixtures read PINWARDEN when they load, so it is set first.
process.env.PINWARDEN = opt.pinwarden;
const { sleep, startEngine, freePort } =
  await import('../tests/integration/engine.mjs');
const { curl, makePki, startNginx, waitPort } =
  await import('../tests/integration/servers.mjs');

// What this script started itself.  servers.mjs stops its own servers
// when Node exits; these get the same, and a signal exits through it.
const children = new Set();
const engines = new Set();
const dirs = new Set();
process.on('exit', () => {
  for (const proc of children)
    proc.kill('SIGTERM');
  for (const e of engines) {
    if (e.proc.exitCode === null)
      e.proc.kill('SIGTERM');
    rmSync(e.dir, { recursive: true, force: true });
  }
  for (const dir of dirs)
    rmSync(dir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => process.exit(130));

function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/* ---- the header ------------------------------------------------- */

function cpuModel() {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const m = /^(?:model name|Model|cpu model)\s*:\s*(.*)$/m.exec(info);
  return m ? m[1] : 'unknown';
}

// sysconf(_SC_NPROCESSORS_ONLN) reads the same list ("0-1,4").
function cpusOnline() {
  const list = readFileSync('/sys/devices/system/cpu/online', 'utf8');
  let n = 0;
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

// A binary in a meson build dir has the dir's options beside it.
function buildKind(bin) {
  const file = path.join(path.dirname(bin), 'meson-info',
                         'intro-buildoptions.json');
  if (!existsSync(file))
    return 'build type unknown';
  const opts = JSON.parse(readFileSync(file, 'utf8'));
  const get = (name) => opts.find((o) => o.name === name)?.value;
  const o = get('optimization');
  const note = o === '2' || o === '3' ? 'optimised'
    : 'NOT OPTIMISED (use --buildtype=release)';
  return `${note}, ${get('buildtype')} -O${o}`;
}

function version(cmd, args, re) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const m = re.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1] : '?';
}

function printHeader() {
  const d = new Date().toISOString().replace('T', ' ').replace(/\..*/, '');
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const machine = os.machine?.() ?? os.arch();
  console.log('pinwarden gateway' + (opt.quick ? ' (--quick)' : ''));
  console.log(`machine: ${machine}, ${cpuModel()}, ${cpusOnline()} CPUs ` +
              'online');
  console.log(`date:    ${d} UTC, load average ${load}`);
  console.log(`build:   ${opt.pinwarden} (${buildKind(opt.pinwarden)})`);
  console.log('peers:   nginx ' +
              version('/usr/sbin/nginx', ['-v'], /nginx\/(\S+)/) +
              ', tinyproxy ' +
              version('/usr/bin/tinyproxy', ['-v'], /tinyproxy (\S+)/) +
              ', curl ' +
              version('/usr/bin/curl', ['--version'], /curl (\S+)/) +
              `, node ${process.version}`);
}

/* ---- servers of our own ----------------------------------------- */

// Runs a foreground server until its ports accept; its output goes into
// the error if it exits first.
async function launch(name, cmd, args, dir, ports) {
  const proc = spawn(cmd, args, { cwd: dir,
                                  stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => {
    proc.on('exit', () => {
      children.delete(proc);
      resolve();
    });
  });
  try {
    await Promise.race([
      Promise.all(ports.map((p) => waitPort(p))),
      exited.then(() => { throw new Error(`${name} exited: ${output}`); }),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  return {
    pid: proc.pid,
    async stop() {
      proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    },
  };
}

// The fixture's nginx serves /big over HTTPS only and takes 256
// connections; this one serves /big over plain HTTP and takes the
// tunnels of table 3, with the same certificate.
async function startWideNginx(pki, bigBytes, conns) {
  const dir = tempDir('pw-bench-nginx-');
  const www = path.join(dir, 'www');
  mkdirSync(www);
  mkdirSync(path.join(dir, 'tmp'));
  const fd = openSync(path.join(www, 'big'), 'w');
  ftruncateSync(fd, bigBytes);
  closeSync(fd);

  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${dir}/tmp/${t};\n`).join('');
  const conf = (process.getuid() === 0 ? 'user root root;\n' : '') +
    'worker_processes 1;\n' +
    `lock_file ${dir}/nginx.lock;\n` +
    // nginx starts closing idle connections when fewer than 1/16 of
    // its worker_connections are free, so it gets twice what it needs.
    `events { worker_connections ${2 * conns + 64}; }\n` +
    'http {\n' + temps +
    '  access_log off;\n' +
    '  sendfile on;\n' +
    '  server {\n' +
    `    listen 127.0.0.1:${httpPort};\n` +
    `    location = /big { root ${www}; ` +
    'default_type application/octet-stream; }\n' +
    '  }\n' +
    '  server {\n' +
    `    listen 127.0.0.1:${httpsPort} ssl;\n` +
    `    ssl_certificate ${pki.good.cert};\n` +
    `    ssl_certificate_key ${pki.good.key};\n` +
    '    ssl_protocols TLSv1.3;\n' +
    '    ssl_session_tickets off;\n' +
    '    location / { return 200 "ok\\n"; }\n' +
    '  }\n' +
    '}\n';
  const confFile = path.join(dir, 'nginx.conf');
  writeFileSync(confFile, conf);
  const log = path.join(dir, 'error.log');
  const srv = await launch('nginx', '/usr/sbin/nginx', [
    '-p', dir, '-c', confFile, '-e', log,
    '-g', `daemon off; pid ${dir}/nginx.pid; error_log ${log} warn;`,
  ], dir, [httpPort, httpsPort]);
  const errorLog = () => readFileSync(log, 'utf8').slice(-2000);
  return { ...srv, httpPort, httpsPort, errorLog };
}

// The fixture's tinyproxy takes 64 clients (MaxClients) and logs every
// request; the peer gets room for the tunnels of table 3 and logs only
// warnings, its best case.
async function startWideTinyproxy(conns) {
  const dir = tempDir('pw-bench-tinyproxy-');
  const port = await freePort();
  const conf = `Port ${port}\n` +
    'Listen 127.0.0.1\n' +
    'Timeout 600\n' +
    `LogFile "${dir}/tinyproxy.log"\n` +
    'LogLevel Warning\n' +
    `MaxClients ${conns + 64}\n` +
    'Allow 127.0.0.1\n';
  const confFile = path.join(dir, 'tinyproxy.conf');
  writeFileSync(confFile, conf);
  const srv = await launch('tinyproxy', '/usr/bin/tinyproxy',
                           ['-d', '-c', confFile], dir, [port]);
  return { ...srv, addr: `127.0.0.1:${port}` };
}

/**
 * bench/relay in front of nginx's HTTPS port: a TCP copy loop with no
 * proxy protocol, the least a proxy in user space costs.
 */
async function startRelay(target) {
  const proc = spawn(relayExe, [String(target)],
                     { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n'))
        resolve(Number(out.trim()));
    });
    proc.on('exit', (code) => reject(new Error(`relay exited ${code}`)));
  });
  return {
    port,
    async stop() {
      proc.kill('SIGTERM');
    },
  };
}

/**
 * `pinwarden serve` with a running profile, named name, whose site.test
 * is 127.0.0.1 and which trusts the test CA; pins when given.  Gives the
 * engine, a client, the profile's id, its gateway and its key-log file.
 */
async function startGateway(pki, name, pins) {
  const engine = await startEngine();
  engines.add(engine);
  const pw = await engine.client();
  const run = await addProfile(pw, pki, name, pins);
  return {
    ...run, engine, pw,
    async stop() {
      await pw.close();
      await engine.stop();
      engines.delete(engine);
    },
  };
}

async function addProfile(pw, pki, name, pins) {
  const p = await pw.call('profiles.create', {
    name, resolve: { 'site.test': '127.0.0.1' }, roots: pki.caPem,
    ...(pins ? { pins } : {}),
  });
  const run = await pw.call('profiles.start', { id: p.id, browser: false });
  return { id: p.id, ...run };
}

/* ---- measuring -------------------------------------------------- */

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p / 100 * s.length) - 1)];
};

function fmt(x, digits = 0) {
  return x.toLocaleString('en-US', { minimumFractionDigits: digits,
                                     maximumFractionDigits: digits });
}

function table(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const align = head.map((_, i) => (i === 0 ? '---' : '---:'));
  console.log([line(head), line(align), ...rows.map(line)].join('\n'));
}

// A process's resident set, and the sum over a process and every
// process below it (tinyproxy may fork; threads share one VmRSS).
function rssKiB(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]);
}

function treeRssKiB(pid) {
  const parent = new Map();
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // The name can hold spaces and ')': the fields start after the
      // last ')'.
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      parent.set(Number(p), Number(ppid));
    } catch {
      // It exited while we looked.
    }
  }
  let sum = 0;
  for (const [p] of parent) {
    let q = p;
    while (q > 1 && q !== pid)
      q = parent.get(q) ?? 0;
    if (q === pid)
      sum += rssKiB(p);
  }
  return sum;
}

/**
 * curl's download of url (through proxy when given): MiB/s, after
 * checking that every byte came with a 200.
 */
async function download(pki, url, proxy, bytes) {
  const args = ['-o', '/dev/null', '--cacert', pki.ca, '-w',
                '%{http_code} %{size_download} %{speed_download}'];
  if (proxy)
    args.push('-x', `http://${proxy}`);
  const r = await curl([...args, url], { timeoutMs: 600000 });
  const [code, got, speed] = r.stdout.trim().split(' ').map(Number);
  if (r.code !== 0 || code !== 200 || got !== bytes) {
    throw new Error(`${url} via ${proxy ?? 'nothing'}: curl ${r.code}, ` +
                    `HTTP ${code}, ${got} of ${bytes} bytes ${r.stderr}`);
  }
  return speed / MiB;
}

/**
 * A CONNECT tunnel to target through the proxy at addr: the socket once
 * the proxy answered 200 (and nothing more).
 */
function tunnel(addr, target) {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), host);
    let head = '';
    const fail = (why) => {
      sock.destroy();
      reject(why instanceof Error ? why : new Error(`${addr}: ${why}`));
    };
    const onData = (d) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0)
        return head.length > 8192 ? fail('an endless answer') : undefined;
      sock.off('data', onData);
      sock.off('error', fail);
      if (!/^HTTP\/1\.[01] 200 /.test(head))
        return fail(`CONNECT answered ${head.split('\r\n')[0]}`);
      if (end + 4 !== head.length)
        return fail('bytes after the 200');
      resolve(sock);
    };
    sock.setNoDelay(true);
    sock.on('data', onData);
    sock.on('error', fail);
    sock.on('connect', () => {
      sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    });
  });
}

/**
 * A TLS 1.3 handshake with site.test, over socket or straight to port;
 * key-log lines go to keylog when given, as a browser writes them.
 * Resolves with the TLS socket once the handshake is done and checked.
 */
function tlsHandshake(o) {
  return new Promise((resolve, reject) => {
    const base = { servername: 'site.test', ca: o.ca,
                   minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
    const s = tls.connect(o.socket ? { ...base, socket: o.socket }
                                   : { ...base, host: '127.0.0.1',
                                       port: o.port });
    if (o.keylog)
      s.on('keylog', (line) => appendFileSync(o.keylog, line));
    s.once('error', (e) => {
      s.destroy();
      reject(e);
    });
    s.once('secureConnect', () => {
      if (s.authorized && s.getProtocol() === 'TLSv1.3')
        return resolve(s);
      s.destroy();
      reject(new Error(`handshake not trusted: ${s.authorizationError}`));
    });
  });
}

/** One handshake of a row, connect to secureConnect, in ms. */
async function timedHandshake(row) {
  const t0 = performance.now();
  const socket = row.gateway
    ? await tunnel(row.gateway, `site.test:${row.port}`) : undefined;
  const s = await tlsHandshake({ socket, port: row.port, ca: row.ca,
                                 keylog: row.keylog });
  const ms = performance.now() - t0;
  s.destroy();
  return ms;
}

/** Handshakes per second with CONCURRENT at a time. */
async function handshakeRate(row, count) {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next++ < count)
      await timedHandshake(row);
  };
  await Promise.all(Array.from({ length: CONCURRENT }, worker));
  return count / ((performance.now() - t0) / 1000);
}

/**
 * KiB of the proxy's memory per open tunnel: rss() before, and after n
 * tunnels to target (with a TLS handshake through each if ca is given)
 * are all open.  They are closed before it returns.
 */
async function tunnelKiB(rss, addr, target, n, ca) {
  const open = [];

  // A proxy that has closed no connection yet is not the steady state:
  // glibc serves a large block with a fresh mmap, whose untouched pages
  // cost nothing, until one is freed; then it raises its mmap threshold
  // and later blocks come from the heap, zeroed by calloc (the engine's
  // connections are 128 KiB of read buffers).  A few tunnels opened and
  // closed first put every proxy in the state it lives in.
  for (let i = 0; i < 8; i++)
    (await tunnel(addr, target)).destroy();
  await sleep(200);
  const before = rss();
  try {
    // 50 at a time: enough to be quick, few enough not to overflow a
    // listen backlog.
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({ length: Math.min(50, n - i) }, async () => {
        const sock = await tunnel(addr, target);
        open.push(sock);
        if (ca)
          open.push(await tlsHandshake({ socket: sock, ca }));
      });
      await Promise.all(batch);
    }
    await sleep(300);
    const after = rss();
    const live = open.filter((s) => !s.destroyed).length;
    if (live !== open.length)
      throw new Error(`${addr}: ${open.length - live} tunnels closed`);
    return (after - before) / n;
  } finally {
    for (const s of open)
      s.destroy();
    await sleep(300);
  }
}

/* ---- the tables ------------------------------------------------- */

async function bulkTable(ctx) {
  const { pki, site, wide, tp, open, relay } = ctx;
  const https = `https://127.0.0.1:${site.httpsPort}/big`;
  const http = `http://127.0.0.1:${wide.httpPort}/big`;
  const relayed = `https://127.0.0.1:${relay.port}/big`;
  const rows = [
    ['HTTPS direct', https, null],
    ['HTTPS through the gateway (CONNECT)', https, open.gateway],
    ['HTTPS through tinyproxy (CONNECT)', https, tp.addr],
    ['HTTPS through a bare TCP relay (bench/relay.c)', relayed, null],
    ['HTTP direct', http, null],
    ['HTTP through the gateway (absolute-form)', http, open.gateway],
    ['HTTP through tinyproxy (absolute-form)', http, tp.addr],
  ];
  const speeds = rows.map(() => []);

  // Interleaved, so load on the machine hits every row alike.
  for (let rep = 0; rep < size.reps; rep++) {
    for (const [i, [, url, proxy]] of rows.entries())
      speeds[i].push(await download(pki, url, proxy, size.bulk));
  }

  const mib = speeds.map(median);
  const out = rows.map(([name], i) => {
    const direct = mib[i < 4 ? 0 : 4];
    return [name, fmt(mib[i], 1), `${(mib[i] / direct).toFixed(2)}x`];
  });
  console.log(`\n${size.bulk / MiB} MiB of /big with curl -o /dev/null ` +
              `(nginx sendfile; median of ${size.reps}, interleaved)\n`);
  table(['path', 'MiB/s', 'vs direct'], out);

  const ratio = mib[1] / mib[0];
  const lead = mib[1] / mib[2];
  console.log(`\ngoal: HTTPS through the gateway at least 0.80x of ` +
              `direct: ${ratio.toFixed(2)}x, ` +
              (ratio >= 0.8 ? 'met' : '**missed**') +
              `; ahead of tinyproxy: ${lead.toFixed(2)}x tinyproxy's, ` +
              (lead > 1 ? 'met' : '**missed**'));
  console.log(`(the bare relay: ${(mib[3] / mib[0]).toFixed(2)}x of ` +
              `direct; the gateway ${(mib[1] / mib[3]).toFixed(2)}x of ` +
              'the relay)');
  console.log(`(plain HTTP: gateway ${(mib[5] / mib[4]).toFixed(2)}x ` +
              `of direct, ${(mib[5] / mib[6]).toFixed(2)}x tinyproxy's)`);
}

async function handshakeTable(ctx) {
  const { pki, site, imp, open, pinned, pw, scratch } = ctx;
  const refusedFor = async (row, reason) => {
    const passed = await timedHandshake(row).then(() => true,
                                                  () => false);
    const [d] = (await pw.call('decisions.list', {
      id: pinned.id, host: 'site.test', limit: 1 })).decisions;
    if (passed || d?.reason !== reason) {
      throw new Error(`pinned: ${reason} expected, got ` +
                      JSON.stringify(passed ? 'a pass' : d));
    }
  };
  const base = { port: site.httpsPort, ca: pki.caPem };
  const rows = [
    { name: 'direct (no gateway)', ...base,
      keylog: path.join(scratch, 'direct.keylog') },
    { name: 'unpinned (not inspected)', ...base, gateway: open.gateway,
      keylog: open.keylog },
    { name: 'pinned (inspected)', ...base, gateway: pinned.gateway,
      keylog: pinned.keylog },
  ];

  // The pinned row must really be inspected: the impostor, whose chain
  // is as valid as the good one's, is refused by its pin alone, and a
  // client that keeps its secrets is refused (after the gateway's wait
  // for them).  Passes are not recorded, so these are the evidence.
  await refusedFor({ ...rows[2], port: imp.httpsPort }, 'pin_mismatch');
  await refusedFor({ ...rows[2], keylog: null }, 'no_secret');

  // Warm-up: first connections fill caches on every side.
  for (const row of rows) {
    for (let i = 0; i < 10; i++)
      await timedHandshake(row);
  }

  const ms = rows.map(() => []);
  for (let i = 0; i < size.handshakes; i++) {
    for (const [r, row] of rows.entries())
      ms[r].push(await timedHandshake(row));
  }
  const rates = rows.map(() => []);
  const perRound = Math.ceil(size.handshakes / 3);
  for (let round = 0; round < size.rounds; round++) {
    for (const [r, row] of rows.entries())
      rates[r].push(await handshakeRate(row, perRound));
  }

  // The direct row's difference is negative: the hop itself.
  const p50 = ms.map((m) => percentile(m, 50));
  const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
  const out = rows.map((row, r) => [
    row.name, fmt(median(rates[r])), p50[r].toFixed(2),
    percentile(ms[r], 99).toFixed(2), signed(p50[r] - p50[1]),
  ]);
  console.log(`\nTLS 1.3 handshakes (Node client, P-256 leaf, no ` +
              `resumption): p50/p99 over ${size.handshakes} sequential; ` +
              `handshakes/s with ${CONCURRENT} at a time, median of ` +
              `${size.rounds} rounds of ${perRound}\n`);
  table(['host', 'handshakes/s', 'p50 ms', 'p99 ms',
         'added p50 vs unpinned'], out);
  const added = p50[2] - p50[1];
  console.log(`\ngoal: inspection adds under 2 ms at p50: ` +
              `${added.toFixed(2)} ms, ` +
              (added < 2 ? 'met' : '**missed**') +
              '; refused as they must be: the impostor (pin_mismatch), ' +
              'a client without key log (no_secret)');
}

// Each figure gets a proxy fresh from its start: memory that one
// figure's tunnels freed can stay in the process and be reused, which
// would make the next figure's tunnels look free.
async function memoryTable(ctx) {
  const { pki, wide, tunnels } = ctx;
  const target = `127.0.0.1:${wide.httpsPort}`;
  const figure = async (peer, ca) => {
    const p = peer ? await startWideTinyproxy(tunnels)
                   : await startGateway(pki, 'bench-memory');
    try {
      const rss = peer ? () => treeRssKiB(p.pid) : () => p.engine.rssKiB();
      const addr = peer ? p.addr : p.gateway;
      const base = rss();
      return [base, await tunnelKiB(rss, addr, target, tunnels, ca)];
    } catch (e) {
      // nginx closing tunnels is the likeliest cause; its log says why.
      e.message += `\nnginx's error log ends:\n${wide.errorLog()}`;
      throw e;
    } finally {
      await p.stop();
    }
  };
  const rows = [];
  for (const [name, peer] of [['pinwarden gateway', false],
                              ['tinyproxy (its process tree)', true]]) {
    const [base, idle] = await figure(peer);
    const [, tlsed] = await figure(peer, pki.caPem);
    rows.push([name, fmt(base / 1024, 1), idle.toFixed(1),
               tlsed.toFixed(1)]);
  }
  console.log(`\nmemory per open tunnel: VmRSS before and after ` +
              `${fmt(tunnels)} CONNECT tunnels to nginx (unpinned), each ` +
              'figure from a fresh start and 8 tunnels opened and ' +
              'closed\n');
  table(['proxy', 'RSS at start MiB', 'KiB/tunnel idle',
         'KiB/tunnel after TLS'], rows);
}

/* ---- the run ---------------------------------------------------- */

// Each tunnel costs the engine two descriptors, and the client here
// one more; Node raises its own soft limit to the hard one at start,
// and the servers it spawns inherit it.
function tunnelCount() {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
  const fit = Math.floor((soft - 200) / 3);
  if (!(fit < size.tunnels))
    return size.tunnels;
  console.log(`note: open files limited to ${soft}: ` +
              `${Math.max(fit, 100)} tunnels, not ${size.tunnels}`);
  return Math.max(fit, 100);
}

async function main() {
  const t0 = performance.now();
  printHeader();
  const tunnels = tunnelCount();
  const scratch = tempDir('pw-bench-gw-');
  const ctx = { scratch, tunnels };
  try {
    ctx.pki = await makePki();
    [ctx.site, ctx.imp, ctx.wide, ctx.tp] = await Promise.all([
      startNginx({ pki: ctx.pki, tls: '1.3', bigBytes: size.bulk }),
      startNginx({ pki: ctx.pki, tls: '1.3', cert: 'impostor' }),
      startWideNginx(ctx.pki, size.bulk, tunnels),
      startWideTinyproxy(tunnels),
    ]);
    ctx.relay = await startRelay(ctx.site.httpsPort);

    // Two profiles, two gateways in the one engine: the same host,
    // pinned in one and not in the other.
    ctx.open = await startGateway(ctx.pki, 'bench-open');
    ctx.pw = ctx.open.pw;
    ctx.pinned = await addProfile(ctx.pw, ctx.pki, 'bench-pinned', [
      { pattern: 'site.test', pins: [ctx.pki.good.pin], mode: 'enforce' },
    ]);

    await bulkTable(ctx);
    await handshakeTable(ctx);
    await ctx.open.stop();
    ctx.open = null;
    await memoryTable(ctx);
  } finally {
    await Promise.allSettled([ctx.site?.stop(), ctx.imp?.stop(),
                              ctx.wide?.stop(), ctx.tp?.stop(),
                              ctx.relay?.stop()]);
    ctx.pki?.remove();
    await ctx.open?.stop();
    for (const dir of dirs)
      rmSync(dir, { recursive: true, force: true });
    dirs.clear();
  }
  console.log(`\n(run time ${((performance.now() - t0) / 1000).toFixed(0)}` +
              ' s)');
}

main().catch((e) => {
  console.error(`gateway.mjs: ${e.stack ?? e}`);
  process.exitCode = 1;
});
