// The profile manager from outside: the page the engine serves at /,
// driven in Debian's Chromium by playwright-core (launched here: this is
// the user's browser, not a profile's) against a real engine, a second
// IPC client that hears what the page does, and for the pin block the
// real nginx with the impostor certificate and curl through a profile's
// gateway.  Screenshots of the main screens go to tests/artifacts/.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { chromium } from 'playwright-core';

import { codes } from '../../ui-bridge/client/pinwarden.js';
import { startEngine, waitFor } from './engine.mjs';
import { curl, makePki, startNginx } from './servers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.resolve(here, '../artifacts');
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 420, height: 800 };
const BULK = 10000;
const UI_MS = 10000;          // what a step of the page may take

let engine;
let pw;
let watcher;
let browser;
let pki;
let impostor;
const heard = [];             // what the watcher heard, in order
const pageErrors = [];
const started = new Set();    // profile ids to stop in after()

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  engine = await startEngine();
  pw = await engine.client();
  watcher = await engine.client();
  watcher.on('*', (data, ev) => heard.push({ topic: ev.topic,
                                             profile: ev.profile, data }));
  await watcher.subscribe(['secure_access', 'profile']);
  pki = await makePki();
  impostor = await startNginx({ pki, tls: '1.3', cert: 'impostor' });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
});

after(async () => {
  await browser?.close();
  for (const id of started)
    await pw.call('profiles.stop', { id }).catch(() => {});
  await impostor?.stop();
  pki?.remove();
  await watcher?.close();
  await pw?.close();
  await engine?.stop();
});

/**
 * A page on the engine's address, the token in the fragment unless
 * token is null; it waits for the profile table or the auth screen.
 */
async function openUi(o = {}) {
  const page = await browser.newPage({ viewport: o.viewport ?? WIDE });
  page.setDefaultTimeout(UI_MS);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const token = o.token === undefined ? engine.token : o.token;
  const frag = token === null ? '' : `#token=${encodeURIComponent(token)}`;
  await page.goto(`http://127.0.0.1:${engine.port}/${frag}`);
  await page.locator('#app:not([hidden]), #auth:not([hidden])').waitFor();
  return page;
}

/** One page for the tests of a describe block, closed after them. */
function usePage(set) {
  let page;
  before(async () => {
    page = await openUi();
    set(page);
  });
  after(async () => { await page?.close(); });
}

function shot(page, name) {
  return page.screenshot({ path: path.join(ARTIFACTS, `ui-${name}.png`) });
}

/** A profile's row, found by its name as a user would. */
function row(page, name) {
  return page.getByRole('row').filter({
    has: page.getByText(name, { exact: true }),
  });
}

let serial = 0;

/** Waits until the page counts n profiles, in any digit grouping. */
function counts(page, n, word = 'in all') {
  return waitFor(async () => {
    const t = await page.locator('#count').textContent();
    return t.includes(word) && Number(t.replace(/\D/g, '')) === n;
  }, 30000, `the page to count ${n} ${word}`);
}

function create(extra = {}) {
  return pw.call('profiles.create', { name: `ui-${++serial}`, ...extra });
}

describe('the token', () => {
  it('a wrong token shows the error screen; a pasted one connects',
     async () => {
       const page = await openUi({ token: 'not-the-token' });
       try {
         await assert.doesNotReject(page.locator('#auth').waitFor());
         assert.match(await page.locator('#auth-msg').textContent(),
                      /refused this token/);
         assert.equal(new URL(page.url()).hash, '',
                      'the token leaves the address bar');
         await shot(page, 'wrong-token');

         await page.getByLabel('Engine token').fill(engine.token);
         await page.getByRole('button', { name: 'Connect' }).click();
         await page.locator('#app').waitFor();
         assert.match(await page.locator('#conn').textContent(),
                      /Connected/);
       } finally {
         await page.close();
       }
     });

  it('no token asks for one', async () => {
    const page = await openUi({ token: null });
    try {
      await page.locator('#auth').waitFor();
      assert.match(await page.locator('#auth-msg').textContent(),
                   /No token/);
    } finally {
      await page.close();
    }
  });
});

describe('editing profiles', () => {
  let page;
  usePage((p) => { page = p; });

  it('creates a profile from the dialog', async () => {
    await page.getByRole('button', { name: 'New profile' }).click();
    const dlg = page.getByRole('dialog');
    await dlg.getByLabel('Name', { exact: true }).fill('ui-shop');
    await dlg.getByLabel('Tags, comma-separated').fill('eu, shop');
    await dlg.getByLabel('Upstream proxy')
      .fill('socks5h://alice:s3cret@127.0.0.1:1080');
    await shot(page, 'create-dialog');
    await dlg.getByRole('button', { name: 'Save' }).click();
    await dlg.waitFor({ state: 'hidden' });

    const r = row(page, 'ui-shop');
    await r.waitFor();
    assert.match(await r.textContent(), /alice:\*\*\*@127\.0\.0\.1:1080/);
    assert.doesNotMatch(await r.textContent(), /s3cret/);
    const p = await pw.call('profiles.get', { id: 'ui-shop' });
    assert.deepEqual(p.tags, ['eu', 'shop']);
  });

  it('every control has an accessible name', async () => {
    await row(page, 'ui-shop').getByRole('button', { name: 'Edit' })
      .click();
    await page.getByRole('button', { name: 'Add a pin set' }).click();
    const unnamed = await page.evaluate(() => {
      const bad = [];
      for (const el of document.querySelectorAll(
        'button, input, select, textarea')) {
        if (el.closest('[hidden]'))
          continue;
        const named = el.labels?.length || el.getAttribute('aria-label') ||
          el.getAttribute('aria-labelledby') ||
          (el.tagName === 'BUTTON' && el.textContent.trim());
        if (!named)
          bad.push(el.outerHTML.slice(0, 80));
      }
      return bad;
    });
    await page.getByRole('button', { name: 'Cancel' }).click();
    assert.deepEqual(unnamed, []);
  });

  it('edits pins with the pin computed from a pasted PEM', async () => {
    await row(page, 'ui-shop').getByRole('button', { name: 'Edit' })
      .click();
    const dlg = page.getByRole('dialog');
    await dlg.getByRole('button', { name: 'Add a pin set' }).click();
    const set = dlg.locator('.pinset').last();
    await set.getByLabel('Host pattern').fill('site.test');
    await set.getByText('Compute a pin from a certificate').click();
    await set.getByLabel('PEM certificate').fill(pki.good.pem);
    await set.getByRole('button', { name: 'Compute pin' }).click();
    await set.getByText(pki.good.pin).waitFor();
    await set.getByRole('button', { name: `Add pin ${pki.good.pin}` })
      .click();
    assert.equal(await set.getByLabel('Pins, one per line').inputValue(),
                 pki.good.pin);
    await shot(page, 'pins-computed');
    await dlg.getByRole('button', { name: 'Save' }).click();
    await dlg.waitFor({ state: 'hidden' });

    const p = await pw.call('profiles.get', { id: 'ui-shop' });
    assert.deepEqual(p.pins.map((s) => [s.pattern, s.pins]),
                     [['site.test', [pki.good.pin]]]);
    // The table applies changes once per frame: wait for it.
    await waitFor(async () => /1 set: site\.test/
      .test(await row(page, 'ui-shop').textContent()), 5000,
                  'the row to show the pin set');
    const ex = await pw.call('profiles.export', { ids: [p.id] });
    assert.match(ex.profiles[0].proxy, /s3cret/,
                 'an edit that left the proxy alone keeps its password');
  });

  it('a revision conflict is explained and the edit re-applied',
     async () => {
       await row(page, 'ui-shop').getByRole('button', { name: 'Edit' })
         .click();
       const dlg = page.getByRole('dialog');
       await dlg.getByLabel('Tags, comma-separated').fill('eu, mine');

       // Someone else changes another field meanwhile.
       const cur = await pw.call('profiles.get', { id: 'ui-shop' });
       await pw.call('profiles.update', { id: cur.id,
                                          revision: cur.revision,
                                          patch: { resolve: {
                                            'site.test': '127.0.0.1' } } });
       await dlg.locator('#ed-stale').waitFor();

       await dlg.getByRole('button', { name: 'Save' }).click();
       const box = dlg.locator('#ed-conflict');
       await box.waitFor();
       assert.match(await box.textContent(), /changed elsewhere/);
       assert.match(await box.textContent(), /eu, mine/);
       assert.match(await box.textContent(), /site\.test 127\.0\.0\.1/);
       assert.equal(await dlg.getByLabel('Tags, comma-separated')
         .inputValue(), 'eu, mine', 'the edit is not lost');
       await shot(page, 'conflict');

       await dlg.getByRole('button', { name: /Apply my edits/ }).click();
       await dlg.waitFor({ state: 'hidden' });
       const p = await pw.call('profiles.get', { id: 'ui-shop' });
       assert.deepEqual(p.tags, ['eu', 'mine']);
       assert.deepEqual(p.resolve, { 'site.test': '127.0.0.1' },
                        'their change stays');
     });

  it('duplicates with the secrets and deletes after a confirmation',
     async () => {
       await row(page, 'ui-shop').getByRole('button', { name: 'Duplicate' })
         .click();
       const copy = row(page, 'copy of ui-shop');
       await copy.waitFor();
       const c = await pw.call('profiles.get', { id: 'copy of ui-shop' });
       const ex = await pw.call('profiles.export', { ids: [c.id] });
       assert.match(ex.profiles[0].proxy, /alice:s3cret@/);
       assert.deepEqual(c.pins.map((s) => s.pattern), ['site.test']);

       await copy.getByRole('button', { name: 'Delete' }).click();
       const confirm = page.getByRole('dialog');
       assert.match(await confirm.textContent(), /copy of ui-shop/);
       await confirm.getByRole('button', { name: 'Delete' }).click();
       await copy.waitFor({ state: 'detached' });
       await assert.rejects(pw.call('profiles.get', { id: c.id }),
                            (e) => e.code === codes.NOT_FOUND);
     });

  it('Secure Access switches at once and a second client hears it',
     async () => {
       const sw = row(page, 'ui-shop')
         .getByRole('checkbox', { name: 'Secure Access' });
       const p = await pw.call('profiles.get', { id: 'ui-shop' });
       assert.equal(await sw.isChecked(), false);
       await sw.click();
       await waitFor(() => heard.find((e) => e.topic === 'secure_access'
                                      && e.profile === p.id
                                      && e.data.enabled === true),
                     UI_MS, 'the secure_access event');
       assert.equal((await pw.call('profiles.get', { id: p.id }))
         .secure_access.enabled, true);

       // And back from elsewhere: the page follows without a reload.
       await pw.call('secure_access.set', { id: p.id, enabled: false });
       await waitFor(async () => !(await sw.isChecked()), UI_MS,
                     'the switch to follow');
     });

  it('changes made elsewhere appear without a reload', async () => {
    const p = await create({ tags: ['far'] });
    await row(page, p.name).waitFor();
    await pw.call('profiles.update', { id: p.id, revision: p.revision,
                                       patch: { name: 'ui-renamed' } });
    await row(page, 'ui-renamed').waitFor();
    await row(page, p.name).waitFor({ state: 'detached' });
    await pw.call('profiles.delete', { id: p.id });
    await row(page, 'ui-renamed').waitFor({ state: 'detached' });
  });

  it('searches by name and by tag', async () => {
    await page.getByRole('search').getByLabel('Tag').fill('mine');
    await waitFor(async () => (await page.getByRole('row').count()) === 2,
                  UI_MS, 'one row and the head');
    await row(page, 'ui-shop').waitFor();
    await page.getByRole('search').getByLabel('Tag').fill('');
    await page.getByRole('search').getByLabel('Name').fill('SHOP');
    await waitFor(async () => (await page.getByRole('row').count()) === 2,
                  UI_MS, 'one row by name');
    await page.getByRole('search').getByLabel('Name').fill('');
  });

  it('works from the keyboard alone', async () => {
    const p = await create();
    await row(page, p.name).waitFor();
    await page.evaluate(() => document.activeElement?.blur());

    /** Presses Tab until the focused element's name is name. */
    const tabTo = async (name) => {
      for (let i = 0; i < 200; i++) {
        await page.keyboard.press('Tab');
        // Its accessible name, as far as this page gives names.
        const at = await page.evaluate(() => {
          const el = document.activeElement;
          if (el === null)
            return null;
          if (el.getAttribute('aria-label'))
            return el.getAttribute('aria-label');
          const label = el.labels?.[0]?.cloneNode(true);
          if (!label)
            return el.textContent.trim();
          for (const n of label.querySelectorAll('[aria-hidden="true"]'))
            n.remove();
          return label.textContent.trim();
        });
        if (at === name)
          return;
      }
      throw new Error(`Tab never reached ${name}`);
    };

    await tabTo('Name');
    await page.keyboard.type(p.name);
    await waitFor(async () => (await page.getByRole('row').count()) === 2,
                  UI_MS, 'the search to leave one row');
    await tabTo('Secure Access');
    await page.keyboard.press('Space');
    await waitFor(async () => (await pw.call('profiles.get', { id: p.id }))
      .secure_access.enabled, UI_MS, 'Secure Access on in the engine');

    await tabTo(`Edit ${p.name}`);
    await page.keyboard.press('Enter');
    const dlg = page.getByRole('dialog');
    await dlg.waitFor();
    assert.ok(await dlg.evaluate((d) => d.contains(document.activeElement)),
              'the focus moves into the dialog');
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'hidden' });

    await page.getByRole('search').getByLabel('Name').fill('');
    await pw.call('profiles.delete', { id: p.id });
  });
});

describe('running profiles', () => {
  let page;
  usePage((p) => { page = p; });

  it('starts and stops a headless browser from its row', async () => {
    const p = await create();
    const r = row(page, p.name);
    await page.getByLabel('Start as').selectOption('headless');
    started.add(p.id);
    await r.getByRole('button', { name: 'Start' }).click();
    await r.getByText('Running').waitFor({ timeout: 30000 });
    const [run] = (await pw.call('profiles.status')).running;
    assert.equal(run.id, p.id);
    assert.match(await r.textContent(), new RegExp(`gateway ${run.gateway}`));
    assert.match(await r.textContent(), /ws:\/\/127\.0\.0\.1:\d+\/devtools/);
    await shot(page, 'running');

    await r.getByRole('button', { name: 'Stop' }).click();
    await r.getByText('Stopped').waitFor({ timeout: 30000 });
    started.delete(p.id);
    assert.deepEqual((await pw.call('profiles.status')).running, []);
  });

  it('a start and stop through the API show through events', async () => {
    const p = await create();
    const r = row(page, p.name);
    await r.waitFor();
    started.add(p.id);
    await pw.call('profiles.start', { id: p.id, headless: true });
    await r.getByText('Running').waitFor();
    await pw.call('profiles.stop', { id: p.id });
    started.delete(p.id);
    await r.getByText('Stopped').waitFor();
  });
});

describe('the decision feed', () => {
  let page;
  usePage((p) => { page = p; });

  it('shows a pin block with the expected and the seen pins', async () => {
    const p = await create({
      resolve: { 'site.test': '127.0.0.1' },
      roots: pki.caPem,
      pins: [{ pattern: 'site.test', pins: [pki.good.pin] }],
    });
    started.add(p.id);
    const run = await pw.call('profiles.start', { id: p.id,
                                                  browser: false });
    const res = await curl(['-x', `http://${run.gateway}`, '--cacert',
                            pki.ca, `https://site.test:${
                              impostor.httpsPort}/`],
                           { env: { SSLKEYLOGFILE: run.keylog } });
    assert.notEqual(res.code, 0, 'the impostor is cut');

    const item = page.locator('#feed > li').filter({
      hasText: `site.test:${impostor.httpsPort}`,
    });
    await item.waitFor();
    const text = await item.textContent();
    assert.match(text, /block/);
    assert.match(text, new RegExp(`for ${p.name}`));
    assert.match(text, /pin_mismatch/);
    const expected = item.locator('dt:has-text("Expected pins") + dd');
    assert.ok((await expected.textContent()).includes(pki.good.pin));
    const seen = item.locator('dt:has-text("Seen keys") + dd');
    assert.ok((await seen.textContent()).includes(pki.impostor.pin));
    await shot(page, 'feed-block');

    // The filters: by action, then by profile.
    await page.getByLabel('Action').selectOption('upgrade');
    await item.waitFor({ state: 'detached' });
    await page.getByLabel('Action').selectOption('block');
    await item.waitFor();
    await page.locator('.feed').getByLabel('Profile').fill('nobody-here');
    await item.waitFor({ state: 'detached' });
    await page.locator('.feed').getByLabel('Profile').fill(p.name);
    await item.waitFor();

    await pw.call('profiles.stop', { id: p.id });
    started.delete(p.id);
  });
});

describe('10,000 profiles', () => {
  let page;
  usePage((p) => { page = p; });

  // How many rows the DOM holds, and the longest a scroll took to show
  // its rows, in ms (two frames: the scroll, then the render).
  function scrollAround(p) {
    return p.evaluate(async () => {
      const v = document.getElementById('viewport');
      const frame = () => new Promise((r) => requestAnimationFrame(r));
      let worst = 0;
      let most = 0;
      for (let i = 1; i <= 30; i++) {
        const t0 = performance.now();
        v.scrollTop = (v.scrollHeight - v.clientHeight) * ((i * 7) % 31) / 30;
        await frame();
        await frame();
        worst = Math.max(worst, performance.now() - t0);
        most = Math.max(most, document.querySelectorAll('#rows > [role=row]')
          .length);
      }
      return { worst, most };
    });
  }

  it('an import of 10,000 shows in an open page', async () => {
    const before = (await pw.call('engine.status')).profiles;
    for (let i = 0; i < BULK; i += 1000) {
      const chunk = [];
      for (let j = i; j < i + 1000; j++) {
        chunk.push({ name: `bulk-${String(j).padStart(5, '0')}`,
                     tags: j === BULK - 1 ? ['bulk', 'last'] : ['bulk'] });
      }
      await pw.call('profiles.import', { profiles: chunk });
    }
    const total = before + BULK;
    await counts(page, total);
    const { worst, most } = await scrollAround(page);
    assert.ok(most < 100, `${most} rows in the DOM`);
    assert.ok(worst < 500, `a scroll took ${worst} ms`);
  });

  it('a fresh page lists them, scrolls and finds the last', async () => {
    const fresh = await openUi();
    try {
      const total = (await pw.call('engine.status')).profiles;
      const t0 = Date.now();
      await counts(fresh, total);
      const loadMs = Date.now() - t0;
      assert.match(await fresh.locator('#feed > li').first().textContent(),
                   /block site\.test:\d+ for ui-\d+/i,
                   'the earlier block, named by its profile');
      assert.ok(loadMs < 15000, `the list took ${loadMs} ms`);
      const { worst, most } = await scrollAround(fresh);
      assert.ok(most < 100, `${most} rows in the DOM`);
      assert.ok(worst < 500, `a scroll took ${worst} ms`);
      await shot(fresh, 'bulk-wide');

      await fresh.getByRole('search').getByLabel('Name').fill('bulk-09999');
      await row(fresh, 'bulk-09999').waitFor();
      assert.equal(await fresh.locator('#rows > [role=row]').count(), 1);
      await fresh.getByRole('search').getByLabel('Name').fill('');
      await fresh.getByRole('search').getByLabel('Tag').fill('last');
      await counts(fresh, 1, 'match');
      await row(fresh, 'bulk-09999').waitFor();
      await fresh.getByRole('search').getByLabel('Tag').fill('');
      await counts(fresh, total);

      await fresh.setViewportSize(NARROW);
      await fresh.locator('#viewport').evaluate((v) => { v.scrollTop = 0; });
      await fresh.waitForTimeout(200);
      await shot(fresh, 'bulk-narrow');
      const narrow = await scrollAround(fresh);
      assert.ok(narrow.most < 100, `${narrow.most} rows in the DOM`);

      // Readable when narrow: the page itself never scrolls sideways,
      // and a row's controls stay inside the window.
      const fits = await fresh.evaluate(() => {
        const doc = document.documentElement;
        const sa = document.querySelector('#rows [data-act="secure-access"]');
        const r = sa?.getBoundingClientRect();
        return { over: doc.scrollWidth - doc.clientWidth,
                 sa: r ? r.right <= window.innerWidth && r.left >= 0 : false };
      });
      assert.equal(fits.over, 0, 'the page scrolls sideways');
      assert.ok(fits.sa, 'a Secure Access switch is out of the window');
    } finally {
      await fresh.close();
    }
  });

  it('the page threw nothing', () => {
    assert.deepEqual(pageErrors, []);
  });
});
