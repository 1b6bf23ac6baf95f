// The profile dialog: create and edit a profile, its pin sets (with the
// pin computed from a pasted PEM certificate) and its Secure Access.
// An edit sends only the fields the user changed, with the revision the
// form was filled from.  When someone else changed the profile meanwhile
// (-32002), the form keeps the user's edits and shows theirs beside the
// current version; the user re-applies theirs on top, or takes the
// current one.

import { codes } from '/client/pinwarden.js';
import { $, announce, describeError, h } from './dom.js';

const FIELDS = ['name', 'tags', 'proxy', 'secure_access', 'pins',
                'resolve', 'roots', 'browser'];

const LABELS = {
  name: 'Name', tags: 'Tags', proxy: 'Proxy',
  secure_access: 'Secure Access', pins: 'Pin sets',
  resolve: 'Resolve map', roots: 'Extra roots', browser: 'Browser',
};

const lines = (text) => text.split('\n').map((l) => l.trim())
  .filter(Boolean);

/** A profile in the form's own shape, for comparing and filling. */
export function normalize(p) {
  const sa = p.secure_access ?? {};
  const b = p.browser ?? {};
  return {
    name: p.name ?? '',
    tags: [...(p.tags ?? [])],
    proxy: p.proxy ?? '',
    secure_access: {
      enabled: !!sa.enabled,
      on_http: sa.on_http ?? 'upgrade',
      exceptions: (sa.exceptions ?? []).map((e) => ({
        host: e.host, until: e.until ?? null })),
    },
    pins: (p.pins ?? []).map((s) => ({
      pattern: s.pattern,
      pins: [...(s.pins ?? [])],
      mode: s.mode ?? 'enforce',
      include_subdomains: !!s.include_subdomains,
      expires: s.expires ?? null,
    })),
    resolve: { ...(p.resolve ?? {}) },
    roots: p.roots ?? '',
    browser: {
      language: b.language ?? '',
      timezone: b.timezone ?? '',
      user_agent: b.user_agent ?? '',
      width: b.window?.width ?? '',
      height: b.window?.height ?? '',
      args: [...(b.args ?? [])],
    },
  };
}

/** A field of the form's shape as the engine takes it. */
function wire(field, v) {
  switch (field) {
  case 'proxy':
    return v === '' ? null : v;
  case 'roots':
    return v === '' ? null : v;
  case 'pins':
    return v.map((s) => {
      const o = { pattern: s.pattern, pins: s.pins, mode: s.mode };
      if (s.include_subdomains)
        o.include_subdomains = true;
      if (s.expires)
        o.expires = s.expires;
      return o;
    });
  case 'browser': {
    const o = {};
    for (const k of ['language', 'timezone', 'user_agent']) {
      if (v[k])
        o[k] = v[k];
    }
    if (v.width && v.height)
      o.window = { width: Number(v.width), height: Number(v.height) };
    if (v.args.length)
      o.args = v.args;
    return o;
  }
  default:
    return v;
  }
}

/** A field's value in a line, for the conflict table. */
function show(field, v) {
  switch (field) {
  case 'tags':
    return v.join(', ') || '(none)';
  case 'proxy':
    return v || 'direct';
  case 'secure_access':
    return v.enabled ? `on (${v.on_http}), ${v.exceptions.length} ` +
      'exceptions' : `off, ${v.exceptions.length} exceptions`;
  case 'pins':
    return v.map((s) => `${s.pattern} [${s.mode}]: ${s.pins.join(' ')}`)
      .join('; ') || '(none)';
  case 'resolve':
    return Object.entries(v).map(([k, a]) => `${k} ${a}`).join(', ') ||
      '(none)';
  case 'roots':
    return v ? `${(v.match(/BEGIN CERTIFICATE/g) ?? []).length} ` +
      'certificates' : '(none)';
  case 'browser':
    return JSON.stringify(wire('browser', v));
  default:
    return String(v);
  }
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

export class Editor {
  /** @param {{pw: object, model: import('./profiles.js').Profiles}} o */
  constructor({ pw, model }) {
    this.pw = pw;
    this.model = model;
    this.dialog = $('edit');
    this.form = $('edit-form');
    this.sets = $('ed-sets');
    this.id = null;            // null: a new profile
    this.base = null;          // what the form was filled from
    this.revision = 0;
    this.mine = null;          // the user's changes, kept in a conflict
    this.current = null;       // the engine's version in a conflict
    this.serial = 0;

    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.save();
    });
    $('ed-cancel').addEventListener('click', () => this.dialog.close());
    $('ed-add-set').addEventListener('click', () => {
      const fs = this._set(normalize({ pins: [{ pattern: '' }] }).pins[0]);
      fs.querySelector('input')?.focus();
    });
    $('ed-reapply').addEventListener('click', () => this._reapply());
    $('ed-theirs').addEventListener('click', () => this._theirs());
  }

  /**
   * Opens the dialog for a profile, or for a new one (profile null).
   * @param {object|null} profile
   */
  open(profile) {
    this.id = profile?.id ?? null;
    this.revision = profile?.revision ?? 0;
    this.base = normalize(profile ?? {});
    this._fill(this.base);
    this._conflict(null);
    this._error('');
    $('ed-title').textContent = profile ? `Edit ${profile.name}` :
      'New profile';
    $('ed-stale').hidden = true;
    this.dialog.showModal();
    $('ed-name').focus();
  }

  /** A profile changed elsewhere: say so if it is the one open here. */
  changed(action, profile) {
    if (!this.dialog.open || profile.id !== this.id)
      return;
    if (action === 'deleted') {
      this._error('This profile was deleted elsewhere; saving will fail.');
    } else if (profile.revision !== this.revision) {
      $('ed-stale').hidden = false;
    }
  }

  /** The form's values in the form's own shape. */
  read() {
    const sa = {
      enabled: $('ed-sa').checked,
      on_http: $('ed-sa-mode').value,
      exceptions: lines($('ed-sa-ex').value).map((l) => {
        const [host, until] = l.split(/\s+/);
        return { host, until: until ?? null };
      }),
    };
    const pins = [...this.sets.querySelectorAll('.pinset')].map((fs) => ({
      pattern: fs.querySelector('[data-f="pattern"]').value.trim(),
      pins: lines(fs.querySelector('[data-f="pins"]').value),
      mode: fs.querySelector('[data-f="mode"]').value,
      include_subdomains: fs.querySelector('[data-f="sub"]').checked,
      expires: fs.querySelector('[data-f="expires"]').value.trim() || null,
    }));
    const resolve = {};
    for (const l of lines($('ed-resolve').value)) {
      const [host, addr] = l.split(/\s+/);
      resolve[host] = addr ?? '';
    }
    return {
      name: $('ed-name').value.trim(),
      tags: $('ed-tags').value.split(',').map((t) => t.trim())
        .filter(Boolean),
      proxy: $('ed-proxy').value.trim(),
      secure_access: sa,
      pins,
      resolve,
      roots: $('ed-roots').value.trim() ? $('ed-roots').value : '',
      browser: {
        language: $('ed-lang').value.trim(),
        timezone: $('ed-tz').value.trim(),
        user_agent: $('ed-ua').value.trim(),
        width: $('ed-width').value.trim(),
        height: $('ed-height').value.trim(),
        args: lines($('ed-args').value),
      },
    };
  }

  /** What differs from base, as the engine takes it. */
  patch(form = this.read(), base = this.base) {
    const out = {};
    for (const f of FIELDS) {
      // The listed proxy hides its password: unchanged, it is not sent.
      if (!same(form[f], base[f]))
        out[f] = wire(f, form[f]);
    }
    return out;
  }

  async save() {
    this._error('');
    const form = this.read();
    try {
      if (this.id === null) {
        const doc = {};
        for (const [f, v] of Object.entries(this.patch(form,
                                                      normalize({})))) {
          if (v !== null)
            doc[f] = v;
        }
        doc.name = form.name;
        const p = await this.pw.call('profiles.create', doc);
        this.model.change('created', p);
        announce(`Created ${p.name}.`);
      } else {
        const patch = this.patch(form);
        if (Object.keys(patch).length) {
          const p = await this.pw.call('profiles.update', {
            id: this.id, revision: this.revision, patch });
          this.model.change('updated', p);
          announce(`Saved ${p.name}.`);
        }
      }
      this.dialog.close();
    } catch (e) {
      if (e.code === codes.CONFLICT && this.id !== null)
        await this._clash(form);
      else
        this._error(describeError(e));
    }
  }

  // The engine's version is newer than the form's base.
  async _clash(form) {
    let current;
    try {
      current = await this.pw.call('profiles.get', { id: this.id });
    } catch (e) {
      this._error(`Someone changed this profile meanwhile, and it ` +
                  `cannot be read now: ${describeError(e)}`);
      return;
    }
    this.mine = this.patch(form);
    this.mineForm = form;
    this.current = current;
    this._conflict(current);
  }

  _conflict(current) {
    const box = $('ed-conflict');
    box.hidden = !current;
    if (!current)
      return;
    const now = normalize(current);
    $('ed-conflict-msg').textContent =
      `${current.name} was changed elsewhere while you edited it ` +
      `(you started from revision ${this.revision}, it is now at ` +
      `revision ${current.revision}).  Nothing was saved.  Your edits ` +
      'are still in the form.';
    const body = $('ed-conflict-rows');
    body.replaceChildren();
    for (const f of FIELDS) {
      const yours = f in this.mine;
      const theirs = !same(now[f], this.base[f]);
      if (!yours && !theirs)
        continue;
      body.append(h('tr', {},
        h('th', { scope: 'row', text: LABELS[f] }),
        h('td', { text: yours ? show(f, this.mineForm[f]) : '(unchanged)' }),
        h('td', { text: show(f, now[f]) })));
    }
    $('ed-reapply').focus();
  }

  // The user's changes on top of the current version, saved again.
  _reapply() {
    const now = normalize(this.current);
    const merged = { ...now };
    for (const f of Object.keys(this.mine))
      merged[f] = this.mineForm[f];
    this.base = now;
    this.revision = this.current.revision;
    this._fill(merged);
    this._conflict(null);
    $('ed-stale').hidden = true;
    this.save();
  }

  _theirs() {
    this.base = normalize(this.current);
    this.revision = this.current.revision;
    this._fill(this.base);
    this._conflict(null);
    $('ed-stale').hidden = true;
    announce('The form now shows the current version.');
    $('ed-name').focus();
  }

  _error(text) {
    const el = $('ed-error');
    el.textContent = text;
    el.hidden = !text;
  }

  _fill(v) {
    $('ed-name').value = v.name;
    $('ed-tags').value = v.tags.join(', ');
    $('ed-proxy').value = v.proxy;
    $('ed-sa').checked = v.secure_access.enabled;
    $('ed-sa-mode').value = v.secure_access.on_http;
    $('ed-sa-ex').value = v.secure_access.exceptions
      .map((e) => (e.until ? `${e.host} ${e.until}` : e.host)).join('\n');
    this.sets.replaceChildren();
    for (const s of v.pins)
      this._set(s);
    $('ed-resolve').value = Object.entries(v.resolve)
      .map(([k, a]) => `${k} ${a}`).join('\n');
    $('ed-roots').value = v.roots;
    $('ed-lang').value = v.browser.language;
    $('ed-tz').value = v.browser.timezone;
    $('ed-ua').value = v.browser.user_agent;
    $('ed-width').value = v.browser.width;
    $('ed-height').value = v.browser.height;
    $('ed-args').value = v.browser.args.join('\n');
  }

  // One pin set's fieldset; ids are unique per dialog so labels work.
  _set(s) {
    const n = ++this.serial;
    const id = (k) => `ps${n}-${k}`;
    const found = h('ul', { class: 'computed', id: id('found') });
    const pinsArea = h('textarea', { id: id('pins'), 'data-f': 'pins',
                                     rows: 3, spellcheck: 'false',
                                     value: s.pins.join('\n') });
    const pem = h('textarea', { id: id('pem'), rows: 4,
                                spellcheck: 'false',
                                placeholder: '-----BEGIN CERTIFICATE-----' });
    const status = h('p', { class: 'small', role: 'status',
                            id: id('status') });
    const legend = h('legend', { text: `Pin set ${s.pattern || '(new)'}` });

    const compute = async () => {
      status.textContent = '';
      found.replaceChildren();
      try {
        const r = await this.pw.call('pins.compute', { pem: pem.value });
        for (const { pin, subject } of r.pins) {
          found.append(h('li', {},
            h('code', { text: pin }), ' ',
            h('span', { class: 'muted', text: subject ?? '' }), ' ',
            h('button', { type: 'button', text: 'Add',
                          'aria-label': `Add pin ${pin}`,
                          on: { click: () => {
                            const have = lines(pinsArea.value);
                            if (!have.includes(pin))
                              pinsArea.value = [...have, pin].join('\n');
                            status.textContent = `Added ${pin}.`;
                          } } })));
        }
        status.textContent = r.pins.length === 1 ? 'One pin computed.' :
          `${r.pins.length} pins computed.`;
      } catch (e) {
        status.textContent = `No pin: ${describeError(e)}`;
      }
    };

    const fs = h('fieldset', { class: 'pinset' }, legend,
      h('div', { class: 'grid2' },
        h('label', { for: id('pattern'), text: 'Host pattern' }),
        h('input', { id: id('pattern'), 'data-f': 'pattern',
                     value: s.pattern, required: true,
                     placeholder: 'example.com, *.example.com',
                     on: { input: (ev) => {
                       legend.textContent =
                         `Pin set ${ev.target.value || '(new)'}`;
                     } } }),
        h('label', { for: id('mode'), text: 'Mode' }),
        h('select', { id: id('mode'), 'data-f': 'mode' },
          h('option', { value: 'enforce', text: 'enforce (block)' }),
          h('option', { value: 'report', text: 'report only' })),
        h('label', { for: id('expires'), text: 'Expires (RFC 3339)' }),
        h('input', { id: id('expires'), 'data-f': 'expires',
                     value: s.expires ?? '',
                     placeholder: '2027-01-01T00:00:00Z' }),
        h('span', {}),
        h('label', { class: 'check' },
          h('input', { type: 'checkbox', 'data-f': 'sub',
                       checked: s.include_subdomains }),
          ' Include subdomains'),
        h('label', { for: id('pins'), text: 'Pins, one per line' }),
        pinsArea),
      h('details', {},
        h('summary', { text: 'Compute a pin from a certificate' }),
        h('label', { for: id('pem'),
                     text: 'PEM certificate (or a chain)' }),
        pem,
        h('button', { type: 'button', text: 'Compute pin',
                      on: { click: compute } }),
        status, found),
      h('button', { type: 'button', class: 'danger',
                    text: 'Remove this pin set',
                    on: { click: () => fs.remove() } }));
    fs.querySelector('[data-f="mode"]').value = s.mode;
    this.sets.append(fs);
    return fs;
  }
}
