// The block page: which host the gateway cut, which pins the profile
// expected and which keys the server presented, from the query the
// service worker wrote (blocks.js, blockedUrl()).

import { el, pinList, reasonText, timeText } from './view.js';

const $ = (id) => document.getElementById(id);

function readQuery() {
  const q = new URLSearchParams(location.search);
  let d = {};
  try {
    d = JSON.parse(q.get('d') ?? '{}') ?? {};
  } catch {
    // Shown as an unknown block rather than not at all.
  }
  return { url: q.get('url') ?? '', d };
}

// Only a web page's address is navigated back to.
function retryable(url) {
  try {
    return ['http:', 'https:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

function seenList(chain) {
  if (!chain?.length)
    return el('p', { class: 'none', text: 'The server presented no ' +
                                          'certificate that could be read.' });
  return el('ol', { 'aria-label': 'Keys the server presented, leaf first' },
            ...chain.map((c) => el('li', {},
              el('span', { class: 'subject',
                           text: c.subject ?? '(no subject)' }),
              el('code', { text: c.pin ?? '' }))));
}

function main() {
  const { url, d } = readQuery();
  const host = typeof d.host === 'string' ? d.host : 'this site';
  const where = d.port ? `${host}:${d.port}` : host;

  document.title = `Blocked: ${host}`;
  $('title').textContent = `pinwarden blocked ${host}`;
  $('summary').textContent = `The certificate chain ${where} presented ` +
    `was refused: ${reasonText(d.reason)}.  The connection was closed ` +
    'before the browser sent anything.';
  $('detail').textContent = d.detail ?? '';

  if (d.pinset?.pattern)
    $('pinset').textContent = `Pin set ${d.pinset.pattern} (${
      d.pinset.mode ?? 'enforce'})`;
  $('expected').replaceChildren(pinList(d.expected_pins,
                                        'No pins were expected.',
                                        'Pins this profile expects'));
  $('seen').replaceChildren(seenList(d.chain));
  if (d.time)
    $('when').textContent = `Blocked at ${timeText(d.time)}`;

  const retry = $('retry');
  if (retryable(url)) {
    retry.addEventListener('click', () => location.assign(url));
    retry.setAttribute('aria-describedby', 'title');
  } else {
    retry.disabled = true;
  }
}

main();
