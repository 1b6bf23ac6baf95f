// The live feed of decisions: what the engine blocked, upgraded or
// reported, newest first, filtered by profile and action.  A pin block
// shows the pins the profile expected and the keys the server showed.

import { $, describeError, h, when } from './dom.js';

const KEEP = 500;      // decisions held in memory
const SHOW = 200;      // of those, in the DOM

export class Feed {
  /** @param {{pw: object, model: import('./profiles.js').Profiles}} o */
  constructor({ pw, model }) {
    this.pw = pw;
    this.model = model;
    this.items = [];
    this.list = $('feed');
    this.who = $('feed-profile');
    this.action = $('feed-action');
    this.who.addEventListener('input', () => this.render());
    this.action.addEventListener('change', () => this.render());
    $('feed-clear').addEventListener('click', () => {
      this.items = [];
      this.render();
    });
  }

  /** The latest decisions the engine kept, before live ones arrive. */
  async load() {
    try {
      const r = await this.pw.call('decisions.list', { limit: 100 });
      this.items = r.decisions.slice(0, KEEP);
    } catch (e) {
      this.items = [];
      $('feed-note').textContent =
        `Earlier decisions could not be read: ${describeError(e)}`;
    }
    this.render();
  }

  /** A decision event. */
  add(d) {
    this.items.unshift(d);
    if (this.items.length > KEEP)
      this.items.length = KEEP;
    if (!this._passes(d))
      return;
    this.list.prepend(this._item(d));
    while (this.list.childElementCount > SHOW)
      this.list.lastElementChild.remove();
    this._empty();
  }

  render() {
    const shown = this.items.filter((d) => this._passes(d)).slice(0, SHOW);
    this.list.replaceChildren(...shown.map((d) => this._item(d)));
    this._empty();
  }

  _empty() {
    $('feed-empty').hidden = this.list.childElementCount > 0;
  }

  _profileOf(d) {
    const id = d.id ?? d.profile ?? '';
    return { id, name: this.model.names.get(id) ?? id };
  }

  _passes(d) {
    const a = this.action.value;
    if (a && d.action !== a)
      return false;
    const q = this.who.value.trim().toLowerCase();
    if (!q)
      return true;
    const { id, name } = this._profileOf(d);
    return id === q || name.toLowerCase().includes(q);
  }

  _item(d) {
    const { name } = this._profileOf(d);
    const at = d.time ?? d.at;
    const where = d.port ? `${d.host}:${d.port}` : d.host ?? d.url ?? '';
    const expected = d.expected_pins ?? [];
    const chain = d.chain ?? [];
    const pinny = expected.length > 0 || chain.length > 0;

    return h('li', { class: `decision a-${d.action}` },
      h('p', { class: 'd-head' },
        h('span', { class: `badge a-${d.action}`, text: d.action }), ' ',
        h('strong', { text: where }), ' ',
        h('span', { text: `for ${name || 'no profile'}` }), ' ',
        h('span', { class: 'muted', text: `${d.reason} · ${when(at)}` })),
      d.detail && h('p', { class: 'small', text: d.detail }),
      pinny && h('dl', { class: 'pins' },
        h('dt', { text: 'Expected pins' }),
        h('dd', {}, expected.length
          ? h('ul', {}, expected.map((p) => h('li', {},
            h('code', { text: p }))))
          : h('span', { class: 'muted', text: 'none' })),
        h('dt', { text: 'Seen keys (leaf first)' }),
        h('dd', {}, chain.length
          ? h('ul', {}, chain.map((c) => h('li', {},
            h('code', { text: c.pin }), ' ',
            h('span', { class: 'muted', text: c.subject ?? '' }))))
          : h('span', { class: 'muted', text: 'none' })),
        d.matched_pin && h('dt', { text: 'Matched pin' }),
        d.matched_pin && h('dd', {}, h('code', { text: d.matched_pin })),
        d.pinset && h('dt', { text: 'Pin set' }),
        d.pinset && h('dd', {
          text: `${d.pinset.pattern} (${d.pinset.mode})` })));
  }
}
