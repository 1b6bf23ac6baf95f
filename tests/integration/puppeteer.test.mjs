// Puppeteer on the DevTools URL that `profiles.start` answers, the way
// the multi-account browsers' local APIs are used:
// `puppeteer.connect({browserWSEndpoint})`.  puppeteer-core downloads no
// browser; the one it drives is the engine's Chromium behind the
// profile's gateway, with the profile's pins, against the real nginx of
// servers.mjs.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import puppeteer from 'puppeteer-core';

import { waitFor, startEngine } from './engine.mjs';
import { makePki, startNginx } from './servers.mjs';

const NAV_MS = 15000;

let engine;
let pw;
let pki;
let good;
let impostor;
let p;
let run;

before(async () => {
  engine = await startEngine();
  pw = await engine.client();
  pki = await makePki();
  [good, impostor] = await Promise.all([
    startNginx({ pki, tls: '1.3' }),
    startNginx({ pki, tls: '1.3', cert: 'impostor' }),
  ]);
  p = await pw.call('profiles.create', {
    name: 'puppet',
    resolve: { 'site.test': '127.0.0.1' },
    roots: pki.caPem,
    pins: [{ pattern: 'site.test', pins: [pki.good.pin],
             mode: 'enforce' }],
  });
  run = await pw.call('profiles.start', { id: p.id, headless: true });
});

after(async () => {
  if (p)
    await pw.call('profiles.stop', { id: p.id }).catch(() => {});
  await Promise.all([good?.stop(), impostor?.stop()]);
  pki?.remove();
  await pw?.close();
  await engine?.stop();
});

describe('puppeteer.connect on the engine\'s DevTools URL', () => {
  let browser;

  before(async () => {
    browser = await puppeteer.connect({ browserWSEndpoint: run.devtools,
                                        defaultViewport: null });
  });

  after(() => browser?.disconnect());

  it('loads the pinned host through the gateway', async () => {
    const page = await browser.newPage();
    try {
      const res = await page.goto(`https://site.test:${good.httpsPort}/`,
                                  { timeout: NAV_MS });
      assert.equal(res.status(), 200);
      assert.match(await page.evaluate(() => document.body.innerText),
                   /hello from site\.test/);
      assert.equal(res.securityDetails().subjectName(), 'site.test');
      assert.equal(res.securityDetails().issuer(), 'pinwarden test CA');
      const [entry] = good.accessEntries().slice(-1);
      assert.equal(entry.sni, 'site.test');
    } finally {
      await page.close();
    }
  });

  it('fails the impostor before any request reaches it', async () => {
    const page = await browser.newPage();
    const seen = impostor.accessEntries().length;
    try {
      await assert.rejects(
        page.goto(`https://site.test:${impostor.httpsPort}/`,
                  { timeout: NAV_MS }),
        /net::ERR_/);
      assert.equal(impostor.accessEntries().length, seen,
                   'the impostor saw a request');
      const { decisions } = await pw.call('decisions.list', {
        id: p.id, host: 'site.test', action: 'block' });
      assert.ok(decisions.some((d) => d.reason === 'pin_mismatch'),
                'a pin_mismatch decision');
    } finally {
      await page.close();
    }
  });

  it('disconnect leaves the browser to the engine, stop ends it',
     async () => {
       browser.disconnect();
       browser = null;
       const { running } = await pw.call('profiles.status', {});
       assert.ok(running.some((r) => r.id === p.id && r.pid === run.pid),
                 'still running after disconnect');
       await pw.call('profiles.stop', { id: p.id });
       await waitFor(() => {
         try {
           process.kill(run.pid, 0);
           return false;
         } catch {
           return true;
         }
       }, 10000, 'the browser gone');
     });
});
