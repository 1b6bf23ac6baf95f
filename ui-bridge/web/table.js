// The profile table as a virtual list: rows of one fixed height (the
// CSS variable --row-h, which a narrow window changes), a body as tall
// as all of them, and only the rows in view (and a few around) in the
// DOM.  10,000 profiles cost about forty row elements.  A row is kept
// while it is in view, so a control in it keeps its focus.

import { h } from './dom.js';

const OVERSCAN = 6;

/** A profile's pin sets, in a line: "2 sets: a.test, *.b.test". */
export function pinSummary(p) {
  const sets = p.pins ?? [];
  if (sets.length === 0)
    return 'no pin sets';
  const n = sets.length === 1 ? '1 set' : `${sets.length} sets`;
  return `${n}: ${sets.map((s) => s.pattern).join(', ')}`;
}

export class ProfileTable {
  /**
   * @param {{table: HTMLElement, viewport: HTMLElement, body: HTMLElement,
   *          model: import('./profiles.js').Profiles,
   *          act: (what: string, id: string, el: HTMLElement) => void}} o
   *   act: a row's control was used (start, stop, edit, duplicate,
   *   delete, secure-access)
   */
  constructor(o) {
    Object.assign(this, o);
    this.els = new Map();      // id -> row element in the DOM
    this.shown = new Map();    // id -> what the row shows (a key)
    this.busy = new Map();     // id -> what runs for it ("Starting")
    this.rowH = 44;
    this._frame = 0;

    this.viewport.addEventListener('scroll', () => this.schedule(),
                                   { passive: true });
    new ResizeObserver(() => this.schedule(true)).observe(this.viewport);
    this.body.addEventListener('click', (ev) => this._use(ev, 'click'));
    this.body.addEventListener('change', (ev) => this._use(ev, 'change'));
  }

  /** Renders on the next frame; measure: read the row height again. */
  schedule(measure = false) {
    this._measure ||= measure;
    if (!this._frame)
      this._frame = requestAnimationFrame(() => this.render());
  }

  /** Forgets what rows show, so the next render fills them again. */
  invalidate(ids) {
    for (const id of ids ?? [...this.shown.keys()])
      this.shown.delete(id);
    this.schedule();
  }

  setBusy(id, text) {
    if (text)
      this.busy.set(id, text);
    else
      this.busy.delete(id);
    this.invalidate([id]);
  }

  render() {
    cancelAnimationFrame(this._frame);
    this._frame = 0;
    if (this._measure) {
      const v = getComputedStyle(this.viewport).getPropertyValue('--row-h');
      this.rowH = parseFloat(v) || this.rowH;
      this._measure = false;
    }

    const rows = this.model.rows;
    const rh = this.rowH;
    this.body.style.height = `${rows.length * rh}px`;
    this.table.setAttribute('aria-rowcount', String(rows.length + 1));

    const top = this.viewport.scrollTop;
    const first = Math.max(0, Math.floor(top / rh) - OVERSCAN);
    const last = Math.min(rows.length,
                          Math.ceil((top + this.viewport.clientHeight) / rh)
                          + OVERSCAN);

    // The focused row stays even out of view, or its control would lose
    // focus while a keyboard user scrolls.
    const focused = document.activeElement?.closest?.('[data-id]');
    const want = [];
    for (let i = first; i < last; i++)
      want.push([i, rows[i]]);
    if (focused && this.els.get(focused.dataset.id) === focused) {
      const i = rows.indexOf(focused.dataset.id);
      if (i >= 0 && (i < first || i >= last))
        want.push([i, focused.dataset.id]);
      want.sort((a, b) => a[0] - b[0]);
    }

    const keep = new Map();
    for (const [i, id] of want) {
      const el = this.els.get(id) ?? h('div', { role: 'row', class: 'row',
                                                'data-id': id });
      this._fill(el, id);
      el.style.top = `${i * rh}px`;
      el.setAttribute('aria-rowindex', String(i + 2));
      keep.set(id, el);
    }
    for (const [id, el] of this.els) {
      if (!keep.has(id)) {
        el.remove();
        this.shown.delete(id);
      }
    }
    this.els = keep;

    // DOM order is reading order; move only what is out of place.
    let at = this.body.firstElementChild;
    for (const el of keep.values()) {
      if (el !== at)
        this.body.insertBefore(el, at);
      else
        at = at.nextElementSibling;
    }
  }

  _fill(el, id) {
    const p = this.model.get(id);
    const run = this.model.running.get(id);
    const busy = this.busy.get(id);
    if (!p)
      return;
    const key = `${p.revision}|${p.name}|${p.secure_access?.enabled}|` +
      `${p.secure_access?.on_http}|` +
      `${run?.gateway}|${run?.devtools}|${busy}`;
    if (this.shown.get(id) === key)
      return;
    this.shown.set(id, key);

    const act = document.activeElement?.closest?.('[data-act]');
    const refocus = act && el.contains(act) ? act.dataset.act : null;
    el.replaceChildren(...this._cells(p, run, busy));
    if (refocus)
      el.querySelector(`[data-act="${refocus}"]`)?.focus();
  }

  _cells(p, run, busy) {
    const name = p.name;
    const tags = p.tags ?? [];
    const sa = p.secure_access ?? {};
    const pins = pinSummary(p);
    const state = busy ? `${busy}…` : run ? 'Running' : 'Stopped';

    return [
      h('div', { role: 'cell', class: 'c-name' },
        h('span', { class: 'name', title: `${name} (${p.id})`,
                    text: name })),
      h('div', { role: 'cell', class: 'c-tags' },
        tags.length ? tags.map((t) => h('span', { class: 'tag', text: t }))
          : h('span', { class: 'muted', text: 'no tags' })),
      h('div', { role: 'cell', class: 'c-proxy' },
        h('span', { class: 'ellipsis', title: p.proxy ?? 'no proxy',
                    text: p.proxy ?? 'no proxy' })),
      h('div', { role: 'cell', class: 'c-sa' },
        h('label', { class: 'switch' },
          h('input', { type: 'checkbox', 'data-act': 'secure-access',
                       checked: !!sa.enabled }),
          h('span', { class: 'sr-only', text: 'Secure Access' }),
          h('span', { class: 'switch-text', 'aria-hidden': 'true',
                      text: sa.enabled ? `on, ${sa.on_http ?? 'upgrade'}`
                        : 'off' }))),
      h('div', { role: 'cell', class: 'c-pins' },
        h('span', { class: 'ellipsis', title: pins, text: pins })),
      h('div', { role: 'cell', class: 'c-state' },
        h('span', { class: run ? 'state on' : 'state', text: state }),
        run && h('span', { class: 'ellipsis small', title: run.gateway,
                           text: ` gateway ${run.gateway}` }),
        run?.devtools && h('span', { class: 'ellipsis small',
                                     title: run.devtools,
                                     text: ` ${run.devtools}` })),
      h('div', { role: 'cell', class: 'c-actions' },
        run ? h('button', { type: 'button', 'data-act': 'stop',
                            'aria-label': `Stop ${name}`,
                            disabled: !!busy, text: 'Stop' })
          : h('button', { type: 'button', 'data-act': 'start',
                          'aria-label': `Start ${name}`,
                          disabled: !!busy, text: 'Start' }),
        h('button', { type: 'button', 'data-act': 'edit',
                      'aria-label': `Edit ${name}`, text: 'Edit' }),
        h('button', { type: 'button', 'data-act': 'duplicate',
                      'aria-label': `Duplicate ${name}`,
                      text: 'Duplicate' }),
        h('button', { type: 'button', 'data-act': 'delete',
                      'aria-label': `Delete ${name}`,
                      disabled: !!run, text: 'Delete' })),
    ];
  }

  _use(ev, type) {
    const el = ev.target.closest('[data-act]');
    const row = ev.target.closest('[data-id]');
    if (!el || !row)
      return;
    const what = el.dataset.act;
    if ((what === 'secure-access') !== (type === 'change'))
      return;
    this.act(what, row.dataset.id, el);
  }
}
