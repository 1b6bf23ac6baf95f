// Two clients of one engine: what one changes, the other hears about as
// events, for the topics and the profile it subscribed to, and no more.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { codes } from '../../ui-bridge/client/pinwarden.js';
import { makeChain } from './certs.mjs';
import { sleep, startEngine, waitFor } from './engine.mjs';

let engine;
let alice;
let bob;

before(async () => {
  engine = await startEngine();
  alice = await engine.client();
  bob = await engine.client();
});

after(async () => {
  await alice?.close();
  await bob?.close();
  await engine?.stop();
});

/** Collects the events of a client for topic ('*' for all). */
function collect(client, topic = '*') {
  const got = [];
  const off = client.on(topic, (data, ev) => got.push(ev));
  return { got, off };
}

describe('events between two clients', () => {
  it('subscribe answers with the topics', async () => {
    const r = await bob.subscribe(['profile', 'secure_access', 'decision']);
    assert.deepEqual([...r.topics].sort(),
                     ['decision', 'profile', 'secure_access']);
  });

  it('a profile created, updated and deleted by one reaches the other',
     async () => {
       const { got, off } = collect(bob, 'profile');
       const p = await alice.call('profiles.create', { name: 'shared' });
       await alice.call('profiles.update', { id: p.id, revision: 1,
                                             patch: { tags: ['x'] } });
       await alice.call('profiles.delete', { id: p.id });

       await waitFor(() => got.length >= 3, 5000, 'three profile events');
       off();
       const actions = got.map((e) => e.data.action);
       assert.deepEqual(actions, ['created', 'updated', 'deleted']);
       for (const e of got) {
         assert.equal(e.topic, 'profile');
         assert.ok(JSON.stringify(e.data).includes(p.id));
       }
     });

  it('Secure Access switched by one is seen by the other', async () => {
    const { got, off } = collect(bob, 'secure_access');
    const p = await alice.call('profiles.create', { name: 'sa-shared' });
    await alice.call('secure_access.set', { id: p.id, enabled: true,
                                            on_http: 'block' });
    await waitFor(() => got.length >= 1, 5000, 'a secure_access event');
    off();
    assert.equal(got[0].data.enabled, true);
    assert.equal(got[0].data.on_http, 'block');
  });

  it('a decision made by one is seen by the other', async () => {
    const { got, off } = collect(bob, 'decision');
    const certs = makeChain();
    await alice.call('verify.chain', { host: 'site.test',
                                       chain: certs.chain });
    await waitFor(() => got.length >= 1, 5000, 'a decision event');
    off();
    assert.equal(got[0].data.host, 'site.test');
    assert.equal(got[0].data.action, 'block');
  });

  it('the one that did not subscribe hears nothing', async () => {
    const { got, off } = collect(alice);
    await bob.call('profiles.create', { name: 'quiet' });
    await sleep(300);
    off();
    assert.deepEqual(got, []);
  });

  it('unsubscribe stops a topic', async () => {
    await bob.unsubscribe(['profile']);
    const { got, off } = collect(bob, 'profile');
    await alice.call('profiles.create', { name: 'unheard' });
    await sleep(300);
    off();
    assert.deepEqual(got, []);
  });

  it('a subscription to one profile hears that profile only',
     async () => {
       const a = await alice.call('profiles.create', { name: 'one' });
       const b = await alice.call('profiles.create', { name: 'two' });
       const c = await engine.client();
       try {
         await c.subscribe(['secure_access'], a.id);
         const { got } = collect(c, 'secure_access');
         await alice.call('secure_access.set', { id: b.id, enabled: true });
         await alice.call('secure_access.set', { id: a.id, enabled: true });
         await waitFor(() => got.length >= 1, 5000, 'an event of one');
         await sleep(200);
         assert.equal(got.length, 1, JSON.stringify(got));
         assert.equal(got[0].profile ?? a.id, a.id);
       } finally {
         await c.close();
       }
     });

  // [topics, id, code, why]
  const bad = [
    [['weather'], undefined, codes.INVALID_PARAMS, 'an unknown topic'],
    ['profile', undefined, codes.INVALID_PARAMS, 'topics not an array'],
    [['profile'], 'no-such-profile', codes.NOT_FOUND, 'an unknown profile'],
  ];
  for (const [topics, id, code, why] of bad) {
    it(`subscribe with ${why}: ${code}`, async () => {
      await assert.rejects(bob.subscribe(topics, id), (e) => {
        assert.equal(e.code, code, e.message);
        return true;
      });
    });
  }

  // The contract names a profile by id or name everywhere.
  it('subscribe names a profile by its name too', async () => {
       const p = await alice.call('profiles.create', { name: 'by-name' });
       const c = await engine.client();
       try {
         await c.subscribe(['profile'], 'by-name');
         const { got } = collect(c, 'profile');
         await alice.call('profiles.delete', { id: p.id });
         await waitFor(() => got.length >= 1, 5000, 'the event');
       } finally {
         await c.close();
       }
     });

  it('an event of a deleted client goes nowhere, others still hear',
     async () => {
       const c = await engine.client();
       await c.subscribe(['profile']);
       await c.close();
       await bob.subscribe(['profile']);
       const { got, off } = collect(bob, 'profile');
       await alice.call('profiles.create', { name: 'after-close' });
       await waitFor(() => got.length >= 1, 5000, 'the event');
       off();
     });
});
