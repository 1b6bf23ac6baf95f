// The extension's service worker: one connection to the engine with
// this profile's token, kept up with backoff.  It keeps the profile's
// Secure Access state and its latest decisions in chrome.storage.session
// for the popup, sets Secure Access when the popup asks, and sends a tab
// whose page the gateway cut to blocked.html.
//
// config.json and pinwarden.js are written beside this file by the
// engine when it starts the profile's browser.

import { connect } from './pinwarden.js';
import { BlockPairer, blockedUrl } from './blocks.js';

const MAX_DECISIONS = 100;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;

// Chromium stops a service worker after 30 s without events; traffic on
// its WebSocket counts as one, and this refreshes the profile too.
const KEEPALIVE_MS = 20000;

// How long a popup's request waits for a worker that is (re)connecting.
const CONNECT_WAIT_MS = 10000;

let config = null;
let client = null;
let backoff = BACKOFF_MIN_MS;
let retryTimer = null;
let keepTimer = null;
let profile = {};
let decisions = [];
let seen = new Set();
const pairer = new BlockPairer();
const waiting = new Set();   // resolvers of requests waiting for a client

// Storage writes in the order they were made, so that an older state
// never lands after a newer one.
let saving = Promise.resolve();

function save(items) {
  saving = saving.then(() => chrome.storage.session.set(items))
    .catch(() => {});
  return saving;
}

function setStatus(connected, message = '') {
  return save({ status: { connected, message, at: Date.now() } });
}

function setProfile(p) {
  profile = { ...profile, ...p };
  return save({ profile: { id: profile.id, name: profile.name,
                           secure_access: profile.secure_access } });
}

// Decisions have no id of their own: one of a list that has the same
// second, host, port, action and reason as one held is taken for it.
function key(d) {
  return `${d.time}|${d.host}|${d.port}|${d.action}|${d.reason}`;
}

/**
 * Keeps decisions (newest first, bounded) and answers those it took: a
 * live event always, one from a list only when not seen yet.
 */
function addDecisions(list, live = false) {
  const fresh = live ? list : list.filter((d) => !seen.has(key(d)));
  decisions = [...fresh, ...decisions]
    .sort((a, b) => String(b.time).localeCompare(String(a.time)))
    .slice(0, MAX_DECISIONS);
  seen = new Set(decisions.map(key));
  save({ decisions });
  return fresh;
}

function redirect(pairs) {
  for (const pair of pairs) {
    const url = blockedUrl(chrome.runtime.getURL('blocked.html'), pair);
    chrome.tabs.update(pair.tabId, { url }).catch(() => {});
  }
}

async function loadConfig() {
  const r = await fetch(chrome.runtime.getURL('config.json'),
                        { cache: 'no-store' });
  if (!r.ok)
    throw new Error(`config.json: ${r.status}`);
  const c = await r.json();
  if (typeof c.engine !== 'string' || typeof c.token !== 'string' ||
      typeof c.profile !== 'string')
    throw new Error('config.json: engine, token and profile are needed');
  return c;
}

function scheduleRetry(why) {
  client = null;
  clearInterval(keepTimer);
  setStatus(false, why);
  if (retryTimer !== null)
    return;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    run();
  }, backoff);
  backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
}

async function run() {
  let c = null;
  try {
    config ??= await loadConfig();
    c = await connect({ url: config.engine, token: config.token });
    c.on('decision', (d) => {
      addDecisions([d], true);
      redirect(pairer.decision(d));
    });
    c.on('secure_access', (sa) => setProfile({ secure_access: sa }));
    c.closed.then(() => {
      if (client === c)
        scheduleRetry('the engine closed the connection');
    });
    await c.subscribe(['decision', 'secure_access'], config.profile);
    await setProfile(await c.call('profiles.get', { id: config.profile }));

    // What happened while this worker slept or was away: the list, and
    // a block that a tab's failed navigation may still be waiting for.
    const old = await c.call('decisions.list', { id: config.profile,
                                                 limit: MAX_DECISIONS });
    for (const d of addDecisions(old.decisions ?? []))
      redirect(pairer.decision(d, Date.parse(d.time)));

    client = c;
    backoff = BACKOFF_MIN_MS;
    keepTimer = setInterval(refresh, KEEPALIVE_MS);
    await setStatus(true);
    for (const resolve of waiting)
      resolve(c);
  } catch (e) {
    // A connection that failed half-way is not left open beside the next.
    c?.close();
    scheduleRetry(e?.message ?? String(e));
  }
}

async function refresh() {
  try {
    await setProfile(await client.call('profiles.get',
                                       { id: config.profile }));
  } catch {
    // A lost connection is handled where it closes.
  }
}

/** The connected client, waiting a little for one under way. */
function connected() {
  if (client !== null)
    return Promise.resolve(client);
  return new Promise((resolve, reject) => {
    const done = (c) => {
      clearTimeout(timer);
      waiting.delete(done);
      resolve(c);
    };
    const timer = setTimeout(() => {
      waiting.delete(done);
      reject(new Error('not connected to the engine'));
    }, CONNECT_WAIT_MS);
    waiting.add(done);
  });
}

async function setSecureAccess(enabled) {
  const c = await connected();
  const sa = await c.call('secure_access.set', { id: config.profile,
                                                 enabled });
  await setProfile({ secure_access: sa });
  return profile;
}

// Listeners are added at once, so that the events that wake the worker
// reach them.
chrome.webNavigation.onErrorOccurred.addListener((e) => {
  if (e.frameId === 0)
    redirect(pairer.navigationError(e));
});

chrome.tabs.onRemoved.addListener((tabId) => pairer.forgetTab(tabId));

// "hello" only wakes the worker (the popup sends it when it opens, so
// that a stopped worker connects again); its answer is the connection's
// state.
chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  if (sender.id !== chrome.runtime.id)
    return false;
  if (msg?.type === 'hello') {
    reply({ connected: client !== null });
    return false;
  }
  if (msg?.type !== 'secure_access.set')
    return false;
  setSecureAccess(Boolean(msg.enabled))
    .then((p) => reply({ profile: p }))
    .catch((e) => reply({ error: e?.message ?? String(e) }));
  return true;
});

// A restarted worker takes up the decisions of its last life (so that
// none is paired twice), and its storage may still say "connected".
setStatus(false);
chrome.storage.session.get('decisions')
  .then((got) => addDecisions(Array.isArray(got.decisions) ? got.decisions
                                                           : []))
  .catch(() => {})
  .finally(run);
