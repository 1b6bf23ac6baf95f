// The toolbar popup: the profile's name, its Secure Access switch and
// the latest decisions for the current tab's host.  The service worker
// holds the engine connection; the popup reads what it keeps in
// chrome.storage.session, follows its changes, and asks it to switch.

import { target } from './blocks.js';
import { el, reasonText, timeText } from './view.js';

const MAX_SHOWN = 20;

const $ = (id) => document.getElementById(id);

let state = { status: null, profile: null, decisions: [] };
let host = null;       // the current tab's host, null for every host
let switching = false;

function renderHeader(fallbackName) {
  const { status, profile } = state;
  $('name').textContent = profile?.name ?? fallbackName ?? 'pinwarden';
  const conn = $('connection');
  if (status?.connected) {
    conn.textContent = 'Connected to the engine';
    conn.dataset.state = 'up';
  } else {
    conn.textContent = status?.message
      ? `Not connected to the engine: ${status.message}`
      : 'Connecting to the engine…';
    conn.dataset.state = 'down';
  }
}

function renderSwitch() {
  const sa = state.profile?.secure_access;
  const box = $('sa');
  const text = $('sa-state');
  if (!sa) {
    box.disabled = true;
    text.textContent = 'Unknown';
    delete text.dataset.on;
    return;
  }
  if (!switching)
    box.checked = Boolean(sa.enabled);
  box.disabled = switching || !state.status?.connected;
  text.dataset.on = String(Boolean(sa.enabled));
  text.textContent = sa.enabled
    ? `On: plain HTTP is ${sa.on_http === 'block' ? 'blocked'
                                                   : 'upgraded to HTTPS'}`
    : 'Off';
}

// Chromium tries a refused server several times per page: the same
// decision in a row is one line with a count.
function grouped(list) {
  const rows = [];
  for (const d of list) {
    const last = rows[rows.length - 1];
    if (last && ['host', 'port', 'action', 'reason', 'time']
      .every((k) => last.d[k] === d[k]))
      last.count++;
    else
      rows.push({ d, count: 1 });
  }
  return rows;
}

function renderDecisions() {
  const list = (state.decisions ?? [])
    .filter((d) => host === null || d.host?.toLowerCase() === host);
  const rows = grouped(list).slice(0, MAX_SHOWN);
  $('decisions-title').textContent = host === null
    ? 'Latest decisions' : `Latest decisions for ${host}`;
  $('no-decisions').hidden = rows.length > 0;
  $('decisions').replaceChildren(...rows.map(({ d, count }) => el('li', {},
    el('span', { class: 'action', 'data-action': d.action,
                 text: d.action }),
    ' ', el('span', { class: 'host', text: `${d.host}:${d.port}` }),
    count > 1 ? el('span', { class: 'count', text: ` (${count} times)` })
              : null,
    el('p', { class: 'meta',
              text: `${reasonText(d.reason)} · ${timeText(d.time)}` }))));
}

function render(fallbackName) {
  renderHeader(fallbackName);
  renderSwitch();
  renderDecisions();
}

async function onSwitch() {
  const box = $('sa');
  const enabled = box.checked;
  switching = true;
  box.disabled = true;
  let answer;
  try {
    answer = await chrome.runtime.sendMessage({ type: 'secure_access.set',
                                                enabled });
  } catch (e) {
    answer = { error: e?.message ?? String(e) };
  }
  switching = false;
  if (answer?.error) {
    $('connection').textContent = `Secure Access not changed: ${
      answer.error}`;
    $('connection').dataset.state = 'down';
    box.checked = !enabled;
  } else if (answer?.profile) {
    state.profile = answer.profile;
  }
  renderSwitch();
}

// The tab the popup was opened over; when it is opened as a page of its
// own (a tab of the extension), every host's decisions are shown.
async function currentHost() {
  const [tab] = await chrome.tabs.query({ active: true,
                                          lastFocusedWindow: true });
  return (tab?.url && target(tab.url)?.host) ?? null;
}

async function configName() {
  try {
    const r = await fetch(chrome.runtime.getURL('config.json'));
    return (await r.json()).name;
  } catch {
    return undefined;
  }
}

async function main() {
  let name;
  let ready = false;
  const changed = new Set();

  // Listening before reading: a change made while the first read is
  // under way must not be lost.
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area !== 'session')
      return;
    for (const [k, { newValue }] of Object.entries(changes)) {
      state[k] = newValue;
      changed.add(k);
    }
    if (ready)
      render(name);
  });
  $('sa').addEventListener('change', onSwitch);
  chrome.runtime.sendMessage({ type: 'hello' }).catch(() => {});

  [name, host] = await Promise.all([configName(), currentHost()]);
  const got = await chrome.storage.session.get(['status', 'profile',
                                                'decisions']);
  for (const [k, v] of Object.entries(got)) {
    if (!changed.has(k))
      state[k] = v;
  }
  ready = true;
  render(name);
}

main();
