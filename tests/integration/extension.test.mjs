// The extension inside a launched profile: `profiles.start` runs
// headless Chromium with ui-bridge/extension/ loaded (the engine copies
// it into the profile's folder with its config.json and the client),
// and playwright-core drives that browser over DevTools
// (connectOverCDP only: no browser is launched or downloaded here).
// The sites are servers.mjs's nginx with the good and the impostor
// certificate; the engine is read back over IPC.  The extension's
// pairing of blocks with failed navigations (blocks.js) is plain
// JavaScript and is also run here in Node, without a browser.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { chromium } from 'playwright-core';

import { codes } from '../../ui-bridge/client/pinwarden.js';
import { BlockPairer, blockedUrl, isTlsBlock,
         target } from '../../ui-bridge/extension/blocks.js';
import { WebSocket, sleep, startEngine, waitFor } from './engine.mjs';
import { makePki, startNginx } from './servers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXTENSION = path.resolve(here, '../../ui-bridge/extension');
const NAV_MS = 15000;

/**
 * Chromium's ID of an unpacked extension with a "key": the first 128
 * bits of sha256 over the DER SubjectPublicKeyInfo, in hex written with
 * the letters a to p.
 */
function extensionId(keyB64) {
  const hex = createHash('sha256').update(Buffer.from(keyB64, 'base64'))
    .digest('hex').slice(0, 32);
  return [...hex].map((c) => String.fromCharCode(97 + parseInt(c, 16)))
    .join('');
}

const manifest = JSON.parse(readFileSync(path.join(EXTENSION,
                                                   'manifest.json'), 'utf8'));
const ID = extensionId(manifest.key);
const ORIGIN = `chrome-extension://${ID}`;

// ---- the pairing, without a browser -------------------------------------

describe('blocks.js: a block and a failed navigation make a pair', () => {
  const block = (o = {}) => ({ action: 'block', reason: 'pin_mismatch',
                               host: 'site.test', port: 8443, ...o });
  const fail = (o = {}) => ({ tabId: 7, url: 'https://site.test:8443/x',
                              error: 'net::ERR_CONNECTION_CLOSED', ...o });
  const clock = () => {
    const c = { t: 1000 };
    c.now = () => c.t;
    return c;
  };

  const cases = [
    ['decision first', (p) => [p.decision(block()), p.navigationError(fail())],
     [0, 1]],
    ['error first', (p) => [p.navigationError(fail()), p.decision(block())],
     [0, 1]],
    ['another port', (p) => [p.decision(block({ port: 443 })),
                             p.navigationError(fail())], [0, 0]],
    ['another host', (p) => [p.decision(block({ host: 'other.test' })),
                             p.navigationError(fail())], [0, 0]],
    ['host case differs', (p) => [p.decision(block({ host: 'Site.Test' })),
                                  p.navigationError(fail())], [0, 1]],
    ['a Secure Access block', (p) => [p.decision(block({ reason: 'sa_block' })),
                                      p.navigationError(fail())], [0, 0]],
    ['an allow', (p) => [p.decision(block({ action: 'allow' })),
                         p.navigationError(fail())], [0, 0]],
    ['an aborted navigation', (p) => [
      p.decision(block()),
      p.navigationError(fail({ error: 'net::ERR_ABORTED' })),
    ], [0, 0]],
    ['an extension page', (p) => [
      p.decision(block()), p.navigationError(fail({ url: `${ORIGIN}/x` })),
    ], [0, 0]],
    ['one decision, used once', (p) => [
      p.decision(block()), p.navigationError(fail()),
      p.navigationError(fail({ tabId: 8 })),
    ], [0, 1, 0]],
    ['two failed tabs, one decision', (p) => [
      p.navigationError(fail()), p.navigationError(fail({ tabId: 8 })),
      p.decision(block()),
    ], [0, 0, 2]],
    ['a missed decision, still recent', (p) => [
      p.decision(block(), 1000 - 4000), p.navigationError(fail()),
    ], [0, 1]],
    ['a missed decision, too old', (p) => [
      p.decision(block(), 1000 - 6000), p.navigationError(fail()),
    ], [0, 0]],
    ['a closed tab is forgotten', (p) => [
      p.navigationError(fail()), p.forgetTab(7) ?? [], p.decision(block()),
    ], [0, 0, 0]],
  ];

  for (const [name, run, counts] of cases) {
    it(name, () => {
      const p = new BlockPairer({ now: clock().now });
      assert.deepEqual(run(p).map((r) => r.length), counts);
    });
  }

  it('a pair must fall within the window, in either order', () => {
    for (const errorFirst of [false, true]) {
      for (const [gap, want] of [[5001, 0], [5000, 1], [10, 1]]) {
        const c = clock();
        const p = new BlockPairer({ windowMs: 5000, now: c.now });
        const first = errorFirst ? p.navigationError(fail())
                                 : p.decision(block());
        c.t += gap;
        const second = errorFirst ? p.decision(block())
                                  : p.navigationError(fail());
        assert.deepEqual(first, []);
        assert.equal(second.length, want, `${gap} ms apart`);
        if (want) {
          assert.equal(second[0].tabId, 7);
          assert.equal(second[0].url, 'https://site.test:8443/x');
          assert.equal(second[0].decision.reason, 'pin_mismatch');
        }
      }
    }
  });

  it('targets: default ports, IPv6, what the gateway never sees', () => {
    assert.deepEqual(target('https://Site.Test/'),
                     { host: 'site.test', port: 443 });
    assert.deepEqual(target('http://site.test/'),
                     { host: 'site.test', port: 80 });
    assert.deepEqual(target('https://[::1]:8443/'),
                     { host: '::1', port: 8443 });
    assert.equal(target('chrome-extension://abc/x.html'), null);
    assert.equal(target('not a url'), null);
    assert.equal(isTlsBlock(block({ reason: 'no_secret' })), true);
    assert.equal(isTlsBlock(block({ reason: 'sa_upgrade' })), false);
  });

  it('the block page address carries what it shows', () => {
    const d = block({ detail: 'x', expected_pins: ['sha256/A='],
                      chain: [{ subject: '/CN=site.test', pin: 'sha256/B=',
                                extra: 1 }] });
    const u = new URL(blockedUrl(`${ORIGIN}/blocked.html`,
                                 { url: 'https://site.test:8443/x',
                                   decision: d }));
    assert.equal(u.searchParams.get('url'), 'https://site.test:8443/x');
    const shown = JSON.parse(u.searchParams.get('d'));
    assert.equal(shown.host, 'site.test');
    assert.deepEqual(shown.expected_pins, ['sha256/A=']);
    assert.deepEqual(shown.chain, [{ subject: '/CN=site.test',
                                     pin: 'sha256/B=' }]);
  });
});

// ---- inside a launched profile ------------------------------------------

describe('the extension in a launched profile', () => {
  let engine;
  let pw;
  let pki;
  let p;
  let run;
  let browser;
  let context;
  const site = {};

  before(async () => {
    engine = await startEngine();
    pw = await engine.client();
    pki = await makePki();
    [site.good, site.imp] = await Promise.all([
      startNginx({ pki, tls: '1.3' }),
      startNginx({ pki, tls: '1.3', cert: 'impostor' }),
    ]);
    p = await pw.call('profiles.create', {
      name: 'ext-shop-1',
      resolve: { 'site.test': '127.0.0.1' },
      roots: pki.caPem,
      pins: [{ pattern: 'site.test', pins: [pki.good.pin],
               mode: 'enforce' }],
    });
    run = await pw.call('profiles.start', { id: p.id, browser: true,
                                            headless: true });
    browser = await chromium.connectOverCDP(run.devtools);
    [context] = browser.contexts();
  });

  after(async () => {
    // close() on a connectOverCDP browser only disconnects.
    await browser?.close().catch(() => {});
    if (run)
      await pw.call('profiles.stop', { id: p.id }).catch(() => {});
    await Promise.all(Object.values(site).map((s) => s.stop()));
    pki?.remove();
    await pw?.close();
    await engine?.stop();
  });

  const ownWorker = () => context.serviceWorkers()
    .find((w) => w.url().startsWith(`${ORIGIN}/`));

  /**
   * A new tab that remembers its console errors and uncaught exceptions
   * (a CSP violation is one).
   */
  async function newPage() {
    const page = await context.newPage();
    page.problems = [];
    page.on('console', (m) => {
      if (m.type() === 'error')
        page.problems.push(m.text());
    });
    page.on('pageerror', (e) => page.problems.push(e.message));
    return page;
  }

  /** Stops the extension's worker; Chromium starts it again on use. */
  async function stopWorker() {
    const w = ownWorker();
    await w.evaluate(() => { self.pwOldLife = true; });
    const page = await context.newPage();
    try {
      await page.goto(`${ORIGIN}/blocked.html`, { timeout: NAV_MS });
      const s = await context.newCDPSession(page);
      await s.send('ServiceWorker.enable');
      await s.send('ServiceWorker.stopAllWorkers');
    } finally {
      await page.close();
    }
  }

  async function aNewWorker() {
    return waitFor(async () => {
      const w = ownWorker();
      return w && !await w.evaluate(() => self.pwOldLife).catch(() => true);
    }, 10000, 'a new life of the worker');
  }

  /** Navigates to the impostor and waits for the block page. */
  async function blockedAt(page, url) {
    const failed = await page.goto(url, { timeout: NAV_MS })
      .then(() => null, (e) => e);
    assert.ok(failed, 'the navigation itself fails');
    // Polled: page.waitForURL() gives up when the redirect aborts the
    // error page that Chromium is still loading.
    await waitFor(() => page.url().startsWith(`${ORIGIN}/blocked.html`),
                  10000, 'the block page');
    await page.waitForLoadState();
  }

  /**
   * Opens the toolbar popup over the active tab, as a click on the
   * toolbar button would (chrome.action.openPopup() in the worker), and
   * polls expression in it until it gives a value; playwright lists no
   * extension popup, so this talks DevTools to the popup's target.
   */
  async function inToolbarPopup(expression) {
    await ownWorker().evaluate(() => chrome.action.openPopup());
    const s = await browser.newBrowserCDPSession();
    const target = await waitFor(async () => (await s.send(
      'Target.getTargets')).targetInfos.find((t) => t.type === 'page' &&
        t.url === `${ORIGIN}/popup.html`), 5000, 'the toolbar popup');
    const ws = new WebSocket(`ws://${new URL(run.devtools).host}` +
                             `/devtools/page/${target.targetId}`);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', reject, { once: true });
    });
    let id = 0;
    const evaluate = () => new Promise((resolve) => {
      const mine = ++id;
      const on = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.id !== mine)
          return;
        ws.removeEventListener('message', on);
        resolve(m.result?.result?.value);
      };
      ws.addEventListener('message', on);
      ws.send(JSON.stringify({ id: mine, method: 'Runtime.evaluate',
                               params: { expression, returnByValue: true } }));
    });
    try {
      return await waitFor(evaluate, 10000, 'an answer from the popup');
    } finally {
      ws.close();
      await s.send('Target.closeTarget', { targetId: target.targetId });
      await s.detach();
    }
  }

  async function sa() {
    return (await pw.call('profiles.get', { id: p.id })).secure_access;
  }

  it('is loaded: its service worker runs under the fixed ID', async () => {
    const w = ownWorker() ?? await context.waitForEvent('serviceworker', {
      predicate: (sw) => sw.url().startsWith(`${ORIGIN}/`),
      timeout: 10000,
    });
    assert.equal(w.url(), `${ORIGIN}/background.js`);
  });

  it("gets its profile's config: 0600, a token of this profile only",
     async () => {
       const dir = path.join(engine.dir, 'profiles', p.id, 'extension');
       const file = path.join(dir, 'config.json');
       assert.equal(statSync(file).mode & 0o777, 0o600);
       const cfg = JSON.parse(readFileSync(file, 'utf8'));
       assert.equal(cfg.engine, engine.url);
       assert.equal(cfg.profile, p.id);
       assert.equal(cfg.name, 'ext-shop-1');
       for (const f of ['manifest.json', 'background.js', 'pinwarden.js'])
         assert.ok(statSync(path.join(dir, f)).isFile(), f);

       const other = await pw.call('profiles.create', { name: 'ext-other' });
       const scoped = await engine.client({ token: cfg.token });
       try {
         assert.equal((await scoped.call('profiles.get', { id: p.id })).id,
                      p.id);
         await assert.rejects(scoped.call('profiles.get', { id: other.id }),
                              (e) => e.code === codes.UNAUTHORIZED);
       } finally {
         await scoped.close();
         await pw.call('profiles.delete', { id: other.id });
       }
     });

  it('the popup shows the profile and switches Secure Access both ways',
     async () => {
       assert.equal((await sa()).enabled, false);
       const page = await newPage();
       try {
         await page.goto(`${ORIGIN}/popup.html`, { timeout: NAV_MS });
         await page.getByRole('heading', { name: 'ext-shop-1' })
           .waitFor({ timeout: 10000 });
         const sw = page.getByRole('switch', { name: 'Secure Access' });
         await waitFor(() => sw.isEnabled(), 10000,
                       'the switch to be usable (connected)');
         assert.equal(await sw.isChecked(), false);
         assert.match(await page.textContent('#sa-state'), /^Off/);

         await sw.click();
         await waitFor(async () => (await sa()).enabled, 10000,
                       'Secure Access on in the engine');
         await waitFor(async () => /^On/.test(
           await page.textContent('#sa-state')), 10000, 'the popup says On');
         assert.equal(await sw.isChecked(), true);

         // A change made elsewhere reaches the open popup through events.
         await pw.call('secure_access.set', { id: p.id, enabled: false });
         await waitFor(async () => !(await sw.isChecked()), 10000,
                       'the switch to turn off');
         assert.match(await page.textContent('#sa-state'), /^Off/);

         await pw.call('secure_access.set', { id: p.id, enabled: true,
                                              on_http: 'block' });
         await waitFor(async () => /blocked/.test(
           await page.textContent('#sa-state')), 10000,
                       'the popup to say plain HTTP is blocked');
         assert.equal(await sw.isChecked(), true);

         // From the keyboard too.
         await sw.focus();
         await page.keyboard.press('Space');
         await waitFor(async () => !(await sa()).enabled, 10000,
                       'Secure Access off in the engine');
         assert.deepEqual(page.problems, []);
       } finally {
         await pw.call('secure_access.set', { id: p.id, enabled: false });
         await page.close();
       }
     });

  it('an impostor ends on blocked.html: host, expected pin, seen key',
     async () => {
       const page = await newPage();
       try {
         const url = `https://site.test:${site.imp.httpsPort}/`;
         await blockedAt(page, url);

         await page.getByRole('heading', { name: /site\.test/ })
           .waitFor({ timeout: 5000 });
         const text = await page.textContent('main');
         assert.match(text, /pinwarden blocked site\.test/);
         const expected = await page.getByRole('list', {
           name: 'Pins this profile expects' }).textContent();
         assert.ok(expected.includes(pki.good.pin), expected);
         const seen = await page.getByRole('list', {
           name: /Keys the server presented/ }).textContent();
         assert.ok(seen.includes(pki.impostor.pin), seen);
         assert.ok(seen.includes('site.test'), 'the subject is named');
         assert.ok(!seen.includes(pki.good.pin), seen);

         // "Try again" goes back to the site, which the gateway blocks
         // again, and the tab ends on the block page again.
         const blocks = async () => (await pw.call('decisions.list', {
           id: p.id, host: 'site.test', action: 'block' })).decisions.length;
         const before = await blocks();
         const again = page.waitForEvent('framenavigated', {
           predicate: (f) => f === page.mainFrame() &&
             f.url().startsWith(`${ORIGIN}/blocked.html`),
           timeout: 10000,
         });
         await page.getByRole('button', { name: 'Try again' }).click();
         await again;
         assert.equal(new URL(page.url()).searchParams.get('url'), url);
         assert.ok(await blocks() > before, 'the retry reached the gateway');
         assert.deepEqual(page.problems, []);
       } finally {
         await page.close();
       }
     });

  it('the popup lists the block', async () => {
    const page = await context.newPage();
    try {
      await page.goto(`${ORIGIN}/popup.html`, { timeout: NAV_MS });
      const list = page.getByRole('list', { name: /Latest decisions/ });
      await waitFor(async () => /block/i.test(await list.textContent()),
                    10000, 'a block in the popup');
      const text = await list.textContent();
      assert.match(text, new RegExp(`site\\.test:${site.imp.httpsPort}`));
      assert.match(text, /no pinned key in the chain/);
    } finally {
      await page.close();
    }
  });

  it('a stopped worker, woken by the failed navigation, catches up',
     async () => {
       // No worker runs when the gateway blocks: the one that the
       // navigation error starts pairs it with a block it finds in
       // decisions.list (or hears of, when Chromium's own retries are
       // still being blocked once it has connected).
       await stopWorker();
       const page = await newPage();
       try {
         const url = `https://site.test:${site.imp.httpsPort}/asleep`;
         await blockedAt(page, url);
         await aNewWorker();
         assert.equal(new URL(page.url()).searchParams.get('url'), url);
         assert.deepEqual(page.problems, []);
       } finally {
         await page.close();
       }
     });

  it('a restarted worker reconnects: the switch works again', async () => {
    await stopWorker();
    const page = await newPage();
    try {
      await page.goto(`${ORIGIN}/popup.html`, { timeout: NAV_MS });
      const sw = page.getByRole('switch', { name: 'Secure Access' });
      await waitFor(() => sw.isEnabled(), 10000, 'the switch to be usable');
      await sw.click();
      await waitFor(async () => (await sa()).enabled, 10000,
                    'Secure Access on in the engine');
      await aNewWorker();
      assert.deepEqual(page.problems, []);
    } finally {
      await pw.call('secure_access.set', { id: p.id, enabled: false });
      await page.close();
    }
  });

  it('the good site still loads normally', async () => {
    const page = await context.newPage();
    try {
      const url = `https://site.test:${site.good.httpsPort}/`;
      const r = await page.goto(url, { timeout: NAV_MS });
      assert.equal(r.status(), 200);
      assert.match(await page.textContent('body'), /hello from site\.test/);
      // Nothing sends it to the block page afterwards.
      await sleep(1000);
      assert.equal(page.url(), url);

      // The toolbar popup over this tab keeps to its host: the blocks
      // of the impostor (same host, another port), no other host's.
      await page.bringToFront();
      const shown = await inToolbarPopup(`(() => {
        const list = document.getElementById('decisions').innerText;
        return list && [document.getElementById('decisions-title')
          .textContent, document.querySelector('h1').textContent, list];
      })()`);
      assert.equal(shown[0], 'Latest decisions for site.test');
      assert.equal(shown[1], 'ext-shop-1');
      assert.match(shown[2], new RegExp(`site\\.test:${site.imp.httpsPort}`));
    } finally {
      await page.close();
    }
  });
});
