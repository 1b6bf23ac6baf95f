// The profile manager: the page the engine serves at /.  It takes the
// token from the address's fragment (#token=...), keeps it in memory
// only, authenticates with session.hello over the engine's WebSocket on
// this same origin, and wires the table, the editor and the feed to the
// engine's methods and events.

import { codes, connect } from '/client/pinwarden.js';
import { $, announce, describeError } from './dom.js';
import { Editor } from './editor.js';
import { Feed } from './feed.js';
import { Profiles } from './profiles.js';
import { ProfileTable } from './table.js';

const TOPICS = ['profile', 'secure_access', 'decision', 'browser'];
const STATUS_POLL_MS = 10000;
const SEARCH_DELAY_MS = 250;

let token = null;              // in memory only, never stored
let pw = null;
let model;
let table;
let editor;
let feed;

/** Takes #token=... out of the address, so it stays off history. */
function takeToken() {
  const m = /(?:^|&)token=([^&]*)/.exec(location.hash.slice(1));
  if (m) {
    history.replaceState(null, '', location.pathname + location.search);
    return decodeURIComponent(m[1]);
  }
  return null;
}

function screen(which, message = '') {
  $('auth').hidden = which !== 'auth';
  $('app').hidden = which !== 'app';
  $('lost').hidden = true;
  if (which === 'auth') {
    $('auth-msg').textContent = message;
    $('auth-token').value = '';
    $('auth-token').focus();
  }
}

async function open(t) {
  $('conn').textContent = 'Connecting…';
  let client;
  try {
    client = await connect({ url: `ws://${location.host}/`, token: t });
  } catch (e) {
    $('conn').textContent = 'Not connected';
    screen('auth', e.code === codes.UNAUTHORIZED
      ? 'The engine refused this token.  Paste the token of the engine ' +
        'that serves this page.'
      : `The engine could not be reached: ${describeError(e)}`);
    return;
  }
  token = t;
  pw = client;
  $('conn').textContent = `Connected to engine ${pw.version ?? ''}`;
  screen('app');
  await attach();
}

// Wires a fresh connection: listeners, subscriptions, then the lists
// (events heard while the first page loads are kept and applied after).
async function attach() {
  for (const part of [model, editor, feed])
    part.pw = pw;
  pw.on('profile', (data) => {
    model.change(data.action, data.profile);
    editor.changed(data.action, data.profile);
  });
  pw.on('secure_access', (data, ev) => saHeard(ev.profile, data));
  pw.on('decision', (data) => feed.add(data));
  pw.on('browser', (data) => browserHeard(data));
  const mine = pw;
  mine.closed.then(() => {
    if (pw === mine)
      lost();
  });

  try {
    await pw.subscribe(TOPICS);
    await Promise.all([model.load(), model.refreshRunning(), feed.load()]);
    feed.render();       // with the names the list brought
  } catch (e) {
    announce(`Loading failed: ${describeError(e)}`, 'error');
  }
  table.schedule(true);
}

function lost() {
  pw = null;
  $('conn').textContent = 'Connection lost';
  $('lost').hidden = false;
  $('reconnect').focus();
}

// Secure Access changed (here or elsewhere): the row shows it at once,
// then the profile is read again for its new revision.
const refetch = new Set();
function saHeard(id, sa) {
  const p = model.get(id);
  if (!p)
    return;
  model.change('updated', { ...p, secure_access: sa });
  if (refetch.has(id))
    return;
  refetch.add(id);
  setTimeout(async () => {
    refetch.delete(id);
    try {
      model.change('updated', await pw.call('profiles.get', { id }));
    } catch {
      // Deleted meanwhile: its own event says so.
    }
  }, 100);
}

function browserHeard(ev) {
  const name = model.names.get(ev.id) ?? ev.id;
  if (ev.state === 'started') {
    model.refreshRunning().catch(() => {});
  } else {
    model.setRunning(ev.id, null);
    const how = ev.state === 'stopped' ? 'stopped' :
      `${ev.state} (status ${ev.status}, signal ${ev.signal})`;
    announce(`The browser of ${name} ${how}.`,
             ev.state === 'stopped' || ev.state === 'exited' ? 'status'
               : 'error');
  }
}

// ---- row actions ------------------------------------------------------

async function act(what, id, el) {
  const p = model.get(id);
  if (!p || !pw)
    return;
  try {
    switch (what) {
    case 'start':
      return await startProfile(p);
    case 'stop':
      table.setBusy(id, 'Stopping');
      await pw.call('profiles.stop', { id });
      model.setRunning(id, null);
      announce(`Stopped ${p.name}.`);
      return;
    case 'edit':
      editor.open(await pw.call('profiles.get', { id }));
      return;
    case 'duplicate':
      return await duplicate(p);
    case 'delete':
      return await remove(p);
    case 'secure-access': {
      const r = await pw.call('secure_access.set',
                              { id, enabled: el.checked });
      saHeard(id, r);
      announce(`Secure Access ${r.enabled ? 'on' : 'off'} for ${p.name}.`);
      return;
    }
    }
  } catch (e) {
    if (what === 'secure-access')
      el.checked = !el.checked;
    announce(`${p.name}: ${describeError(e)}`, 'error');
  } finally {
    if (what === 'start' || what === 'stop')
      table.setBusy(id, null);
  }
}

async function startProfile(p) {
  const mode = $('start-mode').value;
  table.setBusy(p.id, 'Starting');
  const r = await pw.call('profiles.start', {
    id: p.id, browser: mode !== 'gateway', headless: mode === 'headless',
  });
  model.setRunning(p.id, { name: p.name, ...r });
  announce(`Started ${p.name}: gateway ${r.gateway}` +
           (r.devtools ? `, DevTools ${r.devtools}` : '') + '.');
}

// A copy through export, which holds the proxy's password the list
// hides; named "copy of NAME", numbered when that name is taken.
async function duplicate(p) {
  const ex = await pw.call('profiles.export', { ids: [p.id] });
  const src = ex.profiles[0];
  const doc = {};
  for (const k of ['tags', 'proxy', 'secure_access', 'pins', 'resolve',
                   'browser', 'roots']) {
    if (src[k] !== undefined && src[k] !== null)
      doc[k] = src[k];
  }
  for (let n = 1; ; n++) {
    const name = n === 1 ? `copy of ${p.name}` : `copy ${n} of ${p.name}`;
    try {
      const made = await pw.call('profiles.create', { ...doc, name });
      model.change('created', made);
      announce(`Created ${made.name}.`);
      return;
    } catch (e) {
      if (e.code !== codes.CONFLICT || n >= 50)
        throw e;
    }
  }
}

function confirmDelete(p) {
  const d = $('confirm');
  $('confirm-msg').textContent = `Delete the profile ${p.name}?  Its ` +
    'settings and pin sets go; this cannot be undone.';
  $('confirm-purge').checked = false;
  d.returnValue = '';
  d.showModal();
  $('confirm-cancel').focus();
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'delete'
      ? { purge: $('confirm-purge').checked } : null), { once: true });
  });
}

async function remove(p) {
  const ok = await confirmDelete(p);
  if (!ok)
    return;
  await pw.call('profiles.delete', { id: p.id, purge: ok.purge });
  model.change('deleted', { id: p.id });
  announce(`Deleted ${p.name}.`);
}

// ---- search -------------------------------------------------------------

let searchTimer;
function search() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    try {
      const done = await model.load({ q: $('q').value.trim(),
                                      tag: $('tag').value.trim() });
      if (done)
        $('viewport').scrollTop = 0;
    } catch (e) {
      announce(`Search failed: ${describeError(e)}`, 'error');
    }
  }, SEARCH_DELAY_MS);
}

function counted() {
  const n = model.rows.length;
  const f = model.filter;
  const many = n.toLocaleString();
  $('count').textContent = f.q || f.tag ? `${many} match` : `${many} in all`;
  $('empty').hidden = n > 0;
}

// ---- start -------------------------------------------------------------

function init() {
  model = new Profiles(null);
  table = new ProfileTable({ table: $('table'), viewport: $('viewport'),
                             body: $('rows'), model, act });
  editor = new Editor({ pw: null, model });
  feed = new Feed({ pw: null, model });

  model.addEventListener('rows', () => {
    counted();
    table.schedule();
  });
  model.addEventListener('profiles', (ev) => table.invalidate(ev.detail));
  model.addEventListener('running', () => table.invalidate());

  $('search').addEventListener('submit', (ev) => {
    ev.preventDefault();
    search();
  });
  $('q').addEventListener('input', search);
  $('tag').addEventListener('input', search);
  $('new').addEventListener('click', () => editor.open(null));
  $('auth-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    open($('auth-token').value.trim());
  });
  $('reconnect').addEventListener('click', () => open(token));

  // Gateways started without a browser elsewhere send no event: what
  // runs is asked again now and then while the page is seen.
  setInterval(() => {
    if (pw && !document.hidden)
      model.refreshRunning().catch(() => {});
  }, STATUS_POLL_MS);

  const t = takeToken();
  if (t)
    open(t);
  else
    screen('auth', 'No token was given.  Open the address `pinwarden ui` ' +
           'prints, or paste the engine\'s token here.');
}

init();
