// What the popup and the block page share: making elements, and how a
// decision and a list of pins read.  Hosts, subjects and details come
// from servers anyone runs: they go in as text, never as markup.

/**
 * An element with attributes (`text` sets its text) and children.
 * @param {string} tag
 * @param {Record<string, string|number|boolean|null|undefined>} [attrs]
 * @param {...(Node|string|null|undefined)} kids
 */
export function el(tag, attrs = {}, ...kids) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false)
      continue;
    if (name === 'text')
      node.textContent = String(value);
    else
      node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...kids.filter((k) => k !== null && k !== undefined));
  return node;
}

const REASONS = {
  ok: 'pins matched',
  pin_mismatch: 'no pinned key in the chain',
  pinset_expired: 'the pin set expired',
  untrusted: 'the chain is not trusted',
  hostname_mismatch: 'the certificate names another host',
  expired: 'a certificate expired',
  not_yet_valid: 'a certificate is not valid yet',
  weak_key: 'a key is too weak',
  weak_signature: 'a signature is too weak',
  bad_chain: 'the chain is malformed',
  bad_purpose: 'a certificate is not for TLS servers',
  name_constraints: 'a name constraint is broken',
  bad_input: 'the server sent something unreadable',
  no_secret: 'the handshake could not be read in time',
  resumed_session: 'a resumed session could not be checked',
  sa_upgrade: 'upgraded to HTTPS by Secure Access',
  sa_block: 'plain HTTP blocked by Secure Access',
  sa_exception: 'a Secure Access exception',
  sa_loopback: 'loopback, exempt from Secure Access',
  sa_off: 'Secure Access is off',
  sa_secure: 'already secure',
};

/** A reason code as a person reads it, the code kept when unknown. */
export function reasonText(reason) {
  return REASONS[reason] ?? String(reason ?? 'no reason given');
}

/** A decision's time, local and short; the raw value when unreadable. */
export function timeText(time) {
  const t = new Date(time);
  return Number.isNaN(t.getTime()) ? String(time ?? '') :
    t.toLocaleTimeString();
}

/**
 * A list of pins, each as code; `empty` when there are none.
 * @param {string[]} pins
 * @param {string} empty
 * @param {string} label the list's accessible name
 */
export function pinList(pins, empty, label) {
  if (!pins?.length)
    return el('p', { class: 'none', text: empty });
  return el('ul', { class: 'pins', 'aria-label': label },
            ...pins.map((p) => el('li', {}, el('code', { text: p }))));
}
