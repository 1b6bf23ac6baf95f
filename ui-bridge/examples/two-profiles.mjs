#!/usr/bin/env node
// Two browser profiles, each behind its own upstream proxy, driven by
// one automation script: the engine starts one Chromium per profile and
// answers a DevTools URL for each, and playwright-core attaches to it
// with connectOverCDP.  The script never launches a browser itself: the
// engine's launch is what puts each browser behind its profile's
// gateway, with the profile's pins, Secure Access and data folder.
//
//   node ui-bridge/examples/two-profiles.mjs \
//     --proxy-a http://user:pw@10.0.0.8:3128 \
//     --proxy-b socks5h://user:pw@10.0.0.9:1080 \
//     --url https://example.com/ [--headless] [--keep] [--json]
//
// It needs a running `pinwarden serve` on the same machine, and
// playwright-core (`npm ci` at the repository's root; it downloads no
// browser, the engine runs Debian's /usr/bin/chromium).  README.md next
// to this file says more.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

import { connect } from '../client/pinwarden.js';

const USAGE = `usage: two-profiles.mjs --proxy-a URL --proxy-b URL [options]

Creates two profiles, one per upstream proxy, starts a browser for each
through the pinwarden engine, loads URL in both over DevTools, prints
what each saw and the cookies it holds, then stops both and deletes the
profiles.

  --proxy-a URL    upstream of the first profile  (or $PROXY_A)
  --proxy-b URL    upstream of the second profile (or $PROXY_B)
                   http://, https://, socks5:// or socks5h://,
                   with user:password@ when the proxy wants one
  --url URL        the page to load (default https://example.com/)
  --roots FILE     PEM certificates both profiles trust besides the
                   system's (a private or test CA)
  --data-dir DIR   the engine's data folder (or $PINWARDEN_DATA; else
                   $XDG_DATA_HOME/pinwarden or ~/.local/share/pinwarden)
  --headless       browsers without windows
  --keep           keep the profiles (they are still stopped)
  --json           print the summary as JSON
  --help           this text
`;

/** The command line, with the environment as a fallback. */
function options() {
  const { values } = parseArgs({
    options: {
      'proxy-a': { type: 'string', default: process.env.PROXY_A },
      'proxy-b': { type: 'string', default: process.env.PROXY_B },
      url: { type: 'string', default: 'https://example.com/' },
      roots: { type: 'string' },
      'data-dir': { type: 'string', default: process.env.PINWARDEN_DATA },
      headless: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  return values;
}

/**
 * Where the engine listens and its token, as the command line finds
 * them: `pinwarden serve` writes engine.json ({"listen": "HOST:PORT",
 * "pid", "version"}) and token (mode 0600, readable by its user only)
 * into its data folder while it runs.
 */
function findEngine(dataDir) {
  const dir = dataDir ??
    path.join(process.env.XDG_DATA_HOME || path.join(homedir(), '.local',
                                                     'share'),
              'pinwarden');
  let info;
  try {
    info = JSON.parse(readFileSync(path.join(dir, 'engine.json'), 'utf8'));
  } catch {
    throw new Error(`no engine runs on ${dir} (no engine.json): start ` +
                    '`pinwarden serve` or pass --data-dir');
  }
  const token = readFileSync(path.join(dir, 'token'), 'utf8').trim();
  const listen = String(info.listen).replace(/^(ws|http):\/\//, '');
  return { url: `ws://${listen.replace(/\/$/, '')}/`, token };
}

/**
 * Node 22 has a global WebSocket, Node 20 with --experimental-websocket
 * too; Node 18 (Debian 12's) has none, and then the small client of the
 * repository's tests serves.  Any WebSocket class would do.
 */
async function webSocketClass() {
  if (globalThis.WebSocket)
    return globalThis.WebSocket;
  const mod = await import('../../tests/integration/ws.mjs');
  return mod.WebSocket;
}

/** A proxy URL fit to print: the password is the user's secret. */
function shown(proxy) {
  try {
    const u = new URL(proxy);
    if (u.password)
      u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(not a URL)';
  }
}

/**
 * One profile's part, once its browser runs: attach over DevTools, load
 * the page in a new tab, read the cookies of the browser's default
 * context (the profile's own, kept in its user data folder), detach.
 */
async function visit(run, url) {
  const browser = await chromium.connectOverCDP(run.devtools);
  try {
    // The engine's browser has one default context; a context made with
    // browser.newContext() would be an incognito-like one that keeps
    // nothing in the profile.
    const [context] = browser.contexts();
    const page = await context.newPage();
    const response = await page.goto(url, { timeout: 30000 });
    const result = {
      status: response?.status() ?? null,
      title: await page.title(),
      cookies: (await context.cookies()).map((c) => ({
        name: c.name, domain: c.domain, path: c.path,
      })),
    };
    await page.close();
    return result;
  } finally {
    // For a browser attached with connectOverCDP, close() only
    // disconnects: the browser is the engine's to stop.
    await browser.close();
  }
}

async function main() {
  const o = options();
  if (o.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!o['proxy-a'] || !o['proxy-b']) {
    process.stderr.write(USAGE);
    return 2;
  }

  const engine = findEngine(o['data-dir']);
  const pw = await connect({ ...engine, WebSocket: await webSocketClass() });
  const roots = o.roots ? readFileSync(o.roots, 'utf8') : undefined;
  const made = [];
  const report = [];

  try {
    // Names are unique in the store: a suffix lets two runs coexist.
    const suffix = Math.random().toString(36).slice(2, 8);
    for (const [label, proxy] of [['a', o['proxy-a']],
                                  ['b', o['proxy-b']]]) {
      const p = await pw.call('profiles.create', {
        name: `example-${label}-${suffix}`,
        tags: ['example'],
        proxy,
        ...(roots ? { roots } : {}),
      });
      made.push({ p, proxy });
    }

    // Both start at once.  A start answers once the gateway listens
    // (after checking that the upstream answers: -32006 if it does
    // not, and then no browser starts) and DevTools answers.
    const runs = await Promise.all(made.map(({ p }) =>
      pw.call('profiles.start', { id: p.id, headless: o.headless })));

    // The pages load at once too: the profiles share nothing.
    const seen = await Promise.all(runs.map((run) => visit(run, o.url)));
    made.forEach(({ p, proxy }, i) => {
      report.push({
        name: p.name, id: p.id, proxy: shown(proxy),
        gateway: runs[i].gateway, devtools: runs[i].devtools,
        pid: runs[i].pid, ...seen[i],
      });
    });
  } finally {
    // Stop what runs (the browser closes, then its gateway), then
    // delete: the engine refuses to delete a running profile.
    for (const { p } of made) {
      await pw.call('profiles.stop', { id: p.id }).catch(() => {});
      if (!o.keep)
        await pw.call('profiles.delete', { id: p.id });
    }
    await pw.close();
  }

  if (o.json) {
    process.stdout.write(JSON.stringify({ url: o.url, profiles: report },
                                        null, 2) + '\n');
  } else {
    for (const r of report) {
      const jar = r.cookies.map((c) => `${c.name}@${c.domain}`).join(', ');
      process.stdout.write(`${r.name}  via ${r.proxy}  gateway ` +
                           `${r.gateway}\n  ${o.url}: ${r.status} ` +
                           `"${r.title}"\n  cookies: ${jar || 'none'}\n`);
    }
    process.stdout.write(o.keep ? 'profiles kept (stopped)\n'
                                : 'profiles deleted\n');
  }
  return 0;
}

main().then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`two-profiles: ${e.message}\n`);
  process.exitCode = 1;
});
