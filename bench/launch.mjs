#!/usr/bin/env node
// The launcher's benchmark: the time from profiles.start to a DevTools
// endpoint that answers, beside Chromium started by hand with the same
// flags and no engine (the limit), and the engine's memory with many
// running headless profiles.  It drives a real `pinwarden serve` and
// /usr/bin/chromium on loopback and prints Markdown tables.
//
//   node bench/launch.mjs [--pinwarden PATH] [--quick]
//
// bench/README.md ("launch.mjs") says what each row means.

import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync,
         readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

// run.sh hands --seconds to every benchmark; the sizes here are counts,
// so it is taken and ignored.
let opt;
try {
  const { values } = parseArgs({ options: {
    pinwarden: { type: 'string' },
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
  } });
  opt = { pinwarden: path.resolve(values.pinwarden ??
                                  path.join(here, '../build/pinwarden')),
          quick: values.quick };
  // startEngine() would die of a spawn error with no word of the cause.
  if (!existsSync(opt.pinwarden))
    throw new Error(`no ${opt.pinwarden}: build it, or give --pinwarden`);
} catch (e) {
  console.error(`launch.mjs: ${e.message}\nusage: node bench/launch.mjs ` +
                '[--pinwarden PATH] [--quick]');
  process.exit(2);
}

const size = opt.quick ? { runs: 3, bulk: 5 } : { runs: 10, bulk: 20 };

// A DevTools endpoint that is not up by then is a failed start.
const READY_MS = 60000;

// How often the bare start looks for DevToolsActivePort: finer than the
// engine's own 50 ms, so that the limit is not blurred by the poll.
const BARE_POLL_MS = 5;

// engine.mjs reads PINWARDEN when it loads, so it is set first.
process.env.PINWARDEN = opt.pinwarden;
const { sleep, startEngine } =
  await import('../tests/integration/engine.mjs');

/* ---- what runs, and its end ------------------------------------- */

// Bare browsers run in process groups of their own (detached), so that
// one kill reaches their zygotes and renderers too; the engine stops
// the browsers it started when it gets SIGTERM.
const bare = new Set();
const dirs = new Set();
let engine = null;

function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

function killGroup(proc, sig) {
  try {
    process.kill(-proc.pid, sig);
  } catch {
    // Already gone.
  }
}

// A child that has exited but was not reaped yet is a zombie: gone for
// this purpose.
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
      !== 'Z';
  } catch {
    return false;
  }
}

// 'exit' handlers cannot wait for an event, so this one sleeps for real
// (Atomics.wait) while the engine stops its browsers, then removes the
// folders.  The normal path and a signal clean up before they get here.
process.on('exit', () => {
  for (const proc of bare)
    killGroup(proc, 'SIGKILL');
  if (engine !== null && alive(engine.proc.pid)) {
    engine.proc.kill('SIGTERM');
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 200 && alive(engine.proc.pid); i++)
      Atomics.wait(nap, 0, 0, 50);
    rmSync(engine.dir, { recursive: true, force: true });
  }
  for (const dir of dirs)
    rmSync(dir, { recursive: true, force: true });
});

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    if (stopping)
      return;
    stopping = true;
    console.error(`launch.mjs: ${sig}: stopping what runs`);
    await cleanUp().catch((e) => console.error(`launch.mjs: ${e}`));
    process.exit(130);
  });
}

/* ---- the header ------------------------------------------------- */

function header() {
  const cpu = /^model name\s*:\s*(.*)$/m
    .exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const date = new Date().toISOString().replace('T', ' ').slice(0, 19);
  const chromium = /Chromium \S+/.exec(
    spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).stdout ?? '');

  // The build dir's options lie beside a binary built by meson.
  let build = 'build type unknown';
  const intro = path.join(path.dirname(opt.pinwarden), 'meson-info',
                          'intro-buildoptions.json');
  if (existsSync(intro)) {
    const o = JSON.parse(readFileSync(intro, 'utf8'));
    const level = o.find((x) => x.name === 'optimization')?.value;
    build = (['2', '3'].includes(level) ? 'optimised'
      : 'NOT OPTIMISED (use --buildtype=release)') + `, -O${level}`;
  }

  console.log('pinwarden launcher' + (opt.quick ? ' (--quick)' : ''));
  console.log(`machine: ${os.machine?.() ?? os.arch()}, ${cpu}, ` +
              `${os.availableParallelism?.() ?? os.cpus().length} CPUs`);
  console.log(`date:    ${date} UTC, load average ${load}`);
  console.log(`build:   ${opt.pinwarden} (${build})`);
  console.log(`browser: ${chromium?.[0] ?? '?'} (${CHROMIUM}, headless), ` +
              `node ${process.version}`);
}

/* ---- the browser by hand ---------------------------------------- */

/*
 * The engine's extension as one of its browsers got it (config.json
 * and all), copied by checkFlags() so that the bare browser loads the
 * same extension and its service worker does the same work.
 */
let extension = null;

/**
 * The command line the engine gives a profile with no browser settings
 * (pw_launch_argv in launcher/launch.c), headless, argv[0] left out,
 * with the engine's extension from ext.  checkFlags() holds it against
 * the engine's real browser.
 */
function flags(userDataDir, gateway, keylog, ext) {
  const host = gateway.slice(0, gateway.lastIndexOf(':'));
  return [
    `--user-data-dir=${userDataDir}`,
    `--proxy-server=http://${gateway}`,
    `--proxy-bypass-list=<-loopback>;${engine.info.listen}`,
    `--ssl-key-log-file=${keylog}`,
    `--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE ${host}`,
    '--webrtc-ip-handling-policy=disable_non_proxied_udp',
    '--remote-debugging-port=0',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-sync',
    '--disable-component-update',
    '--password-store=basic',
    '--headless=new',
    ...(process.getuid() === 0 ? ['--no-sandbox'] : []),
    `--load-extension=${ext}`,
    `--disable-extensions-except=${ext}`,
  ];
}

/** The environment the engine gives it (build_env in launch.c). */
function browserEnv(home) {
  const env = {};
  for (const k of ['PATH', 'DISPLAY', 'WAYLAND_DISPLAY', 'XAUTHORITY',
                   'XDG_RUNTIME_DIR']) {
    if (process.env[k] !== undefined)
      env[k] = process.env[k];
  }
  return { ...env, HOME: home, XDG_CONFIG_HOME: `${home}/.config`,
           XDG_CACHE_HOME: `${home}/.cache` };
}

/** Resolves with a browser's DevTools port once its file is complete. */
async function activePort(userDataDir, proc) {
  const file = path.join(userDataDir, 'DevToolsActivePort');
  const end = performance.now() + READY_MS;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`chromium exited (${proc.exitCode ?? proc.signalCode})`);
    let m = null;
    try {
      // "PORT\n/devtools/browser/ID": a half-written file has no path.
      m = /^(\d+)\n\/devtools\/browser\//.exec(readFileSync(file, 'utf8'));
    } catch {
      // Not there yet.
    }
    if (m)
      return Number(m[1]);
    if (performance.now() > end)
      throw new Error(`no ${file} within ${READY_MS} ms`);
    await sleep(BARE_POLL_MS);
  }
}

/** One GET /json/version: the status, or 0 when nothing answers. */
function getVersion(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/json/version',
                           agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Waits until the DevTools endpoint on port answers 200. */
async function devtoolsUp(port) {
  const end = performance.now() + READY_MS;
  while ((await getVersion(port)) !== 200) {
    if (performance.now() > end)
      throw new Error(`DevTools on ${port}: no 200 within ${READY_MS} ms`);
    await sleep(BARE_POLL_MS);
  }
}

/**
 * The pids of every live process started with one of these user data
 * folders: a browser, its zygotes, renderers and utilities.
 */
function processesOf(userDataDirs) {
  const want = new Set(userDataDirs.map((d) => `--user-data-dir=${d}`));
  const pids = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => want.has(a)) && alive(pid))
        pids.push(Number(pid));
    } catch {
      // It exited while we looked.
    }
  }
  return pids;
}

// A run starts only once the last one's processes are all gone, so no
// run pays for another's shutdown.
async function waitGone(userDataDirs) {
  for (let i = 0; i < 200; i++) {
    if (processesOf(userDataDirs).length === 0)
      return;
    await sleep(25);
  }
  throw new Error(`processes of ${userDataDirs.join(' ')} outlive their ` +
                  `browser: ${processesOf(userDataDirs).join(' ')}`);
}

/**
 * Chromium by hand: a fresh user data folder, the engine's flags behind
 * gateway, timed from the spawn to a 200 from /json/version.
 */
async function bareStart(gateway) {
  const dir = tempDir('pw-bench-bare-');
  const userDataDir = path.join(dir, 'browser');
  const home = path.join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });

  const t0 = performance.now();
  const proc = spawn(CHROMIUM, flags(userDataDir, gateway,
                                     path.join(dir, 'keylog'), extension),
                     { env: browserEnv(home), detached: true,
                       stdio: 'ignore' });
  bare.add(proc);
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  try {
    await devtoolsUp(await activePort(userDataDir, proc));
    return performance.now() - t0;
  } finally {
    // As the engine stops it: SIGTERM, SIGKILL after 5 s.
    killGroup(proc, 'SIGTERM');
    const kill = setTimeout(() => killGroup(proc, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(kill);
    bare.delete(proc);
    await waitGone([userDataDir]);
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
  }
}

/* ---- the engine ------------------------------------------------- */

let serial = 0;
let pw = null;

const userDataDirOf = (id) => path.join(engine.dir, 'profiles', id,
                                        'browser');
const portOf = (devtools) => Number(/:(\d+)\//.exec(devtools)[1]);

async function newProfile() {
  return (await pw.call('profiles.create', { name: `launch-${++serial}` }))
    .id;
}

/** profiles.start of a fresh profile, timed to a 200 from DevTools. */
async function engineStart() {
  const id = await newProfile();
  const t0 = performance.now();
  const run = await pw.call('profiles.start', { id, browser: true,
                                                headless: true });
  await devtoolsUp(portOf(run.devtools));
  const ms = performance.now() - t0;
  await pw.call('profiles.stop', { id });
  await waitGone([userDataDirOf(id)]);
  return ms;
}

/**
 * The engine's browser must have run with what flags() gives, after
 * the switches Debian's /usr/bin/chromium puts in front, and with the
 * same environment, or the limit would be another program.
 */
async function checkFlags() {
  const id = await newProfile();
  const run = await pw.call('profiles.start', { id, browser: true,
                                                headless: true });
  try {
    const read = (f) => readFileSync(`/proc/${run.pid}/${f}`, 'utf8')
      .split('\0').filter(Boolean);
    const argv = read('cmdline');
    const ext = path.join(engine.dir, 'profiles', id, 'extension');
    const want = flags(userDataDirOf(id), run.gateway, run.keylog, ext);
    const tail = argv.slice(-want.length);
    if (JSON.stringify(tail) !== JSON.stringify(want)) {
      throw new Error('the engine\'s browser has other flags:\n  ' +
                      `${argv.join(' ')}\nnot ending with\n  ` +
                      want.join(' '));
    }
    const env = new Set(read('environ'));
    const home = path.join(engine.dir, 'profiles', id, 'home');
    for (const [k, v] of Object.entries(browserEnv(home))) {
      if (!env.has(`${k}=${v}`))
        throw new Error(`the engine's browser has no ${k}=${v}`);
    }
    const copy = tempDir('pw-bench-ext-');
    extension = path.join(copy, 'extension');
    cpSync(ext, extension, { recursive: true });
  } finally {
    await pw.call('profiles.stop', { id });
    await waitGone([userDataDirOf(id)]);
  }
}

/* ---- measuring -------------------------------------------------- */

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// Nearest rank: with 10 runs, the 9th fastest.
const p90 = (xs) => sorted(xs)[Math.ceil(0.9 * xs.length) - 1];

const kib = (x) => Math.round(x).toLocaleString('en-US');

function printTable(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  console.log(line(head));
  console.log(line(head.map((_, i) => (i === 0 ? '---' : '---:'))));
  for (const row of rows)
    console.log(line(row));
}

/** A field of /proc/PID/status or smaps_rollup, in KiB (0 if gone). */
function procKiB(pid, file, field) {
  try {
    const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)[1]);
  } catch {
    return 0;
  }
}

/** Every pid below each of roots, roots included. */
function trees(roots) {
  const children = new Map();
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // The name may hold spaces and ')': fields follow the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2)
        .split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(p)]);
    } catch {
      // It exited while we looked.
    }
  }
  const out = [];
  const walk = (pid) => {
    out.push(pid);
    for (const c of children.get(pid) ?? [])
      walk(c);
  };
  roots.forEach(walk);
  return out;
}

async function startTable(gateway) {
  // Warm-up, not counted: the first start of each reads Chromium from
  // disk and fills caches that every later start finds full.
  await engineStart();
  await bareStart(gateway);

  // Interleaved, and who goes first swaps every run, so that load on
  // the machine and any after-effect of a start hit both alike.
  const ms = { engine: [], bare: [] };
  for (let i = 0; i < size.runs; i++) {
    const order = i % 2 === 0 ? ['engine', 'bare'] : ['bare', 'engine'];
    for (const how of order) {
      ms[how].push(how === 'engine' ? await engineStart()
                                    : await bareStart(gateway));
    }
  }

  const base = median(ms.bare);
  const row = (name, xs) => [name, median(xs).toFixed(0),
                             p90(xs).toFixed(0),
                             `${(median(xs) / base).toFixed(2)}x`];
  console.log(`\nstart to a DevTools endpoint answering GET /json/version ` +
              `(headless, a fresh profile each run; ${size.runs} runs ` +
              'each, interleaved, after one warm-up each)\n');
  printTable(['how', 'median ms', 'p90 ms', 'vs bare'], [
    row('bare: chromium by hand, same flags', ms.bare),
    row('pinwarden: profiles.start', ms.engine),
  ]);
  const ratio = median(ms.engine) / base;
  console.log(`\ngoal: under 1.20x the bare start: ${ratio.toFixed(2)}x, ` +
              (ratio < 1.2 ? 'met' : '**missed**'));
  console.log(`(all ${size.runs * 2} runs, ms: pinwarden ` +
              `${ms.engine.map((x) => x.toFixed(0)).join(' ')}; bare ` +
              `${ms.bare.map((x) => x.toFixed(0)).join(' ')})`);
}

async function memoryTable() {
  const n = size.bulk;
  const idle = engine.rssKiB();

  const ids = [];
  for (let i = 0; i < n; i++)
    ids.push(await newProfile());
  const t0 = performance.now();
  const runs = await Promise.all(ids.map((id) => (
    pw.call('profiles.start', { id, browser: true, headless: true }))));
  const answered = performance.now() - t0;
  await Promise.all(runs.map((r) => devtoolsUp(portOf(r.devtools))));
  const up = performance.now() - t0;

  try {
    // Browsers go on allocating for a while after DevTools is up.
    await sleep(2000);
    const busy = engine.rssKiB();
    const pids = trees(runs.map((r) => r.pid));
    const rss = pids.reduce((s, p) => s + procKiB(p, 'status', 'VmRSS'), 0);
    const pss = pids.reduce((s, p) => s + procKiB(p, 'smaps_rollup', 'Pss'),
                            0);

    console.log(`\nmemory: ${n} headless profiles started at once (all ` +
                `answered in ${(answered / 1000).toFixed(1)} s, every ` +
                `DevTools up in ${(up / 1000).toFixed(1)} s), read 2 s ` +
                'later\n');
    printTable(['process', 'KiB, 0 running', `KiB, ${n} running`,
                'KiB per profile'], [
      ['pinwarden serve (VmRSS)', kib(idle), kib(busy),
       kib((busy - idle) / n)],
      [`the ${n} browsers' process trees (sum of VmRSS, ${pids.length} ` +
       'processes)', '0', kib(rss), kib(rss / n)],
      ['the same, sum of Pss (shared pages split)', '0', kib(pss),
       kib(pss / n)],
    ]);
  } finally {
    await Promise.all(ids.map((id) => pw.call('profiles.stop', { id })));
    await waitGone(ids.map(userDataDirOf));
  }
}

/* ---- the run ---------------------------------------------------- */

async function cleanUp() {
  for (const proc of bare)
    killGroup(proc, 'SIGKILL');
  await pw?.close().catch(() => {});
  pw = null;
  if (engine !== null) {
    // stop() stops every browser the engine runs, and checks it exits 0.
    await engine.stop();
    engine = null;
  }
  for (const dir of dirs)
    rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

async function main() {
  const t0 = performance.now();
  header();
  try {
    engine = await startEngine();
    pw = await engine.client({ timeoutMs: 2 * READY_MS });

    // The bare browsers' proxy: a real gateway of this engine, as each
    // engine-started browser has one.  It goes before the memory table,
    // whose "0 running" means none at all.
    const id = await newProfile();
    const proxy = await pw.call('profiles.start', { id, browser: false });

    await checkFlags();
    await startTable(proxy.gateway);
    await pw.call('profiles.stop', { id });
    await memoryTable();
  } finally {
    if (!stopping)
      await cleanUp();
  }
  console.log(`\n(run time ${((performance.now() - t0) / 1000).toFixed(0)}` +
              ' s)');
}

main().catch((e) => {
  // After a signal the run's calls fail as the engine goes: no news.
  if (stopping)
    return;
  console.error(`launch.mjs: ${e.stack ?? e}`);
  process.exitCode = 1;
});
