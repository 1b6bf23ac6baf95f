// Small DOM helpers for the profile manager.  Everything the engine
// sends (names, tags, hosts, subjects) is put in the page as text nodes,
// never parsed as markup: a profile's name is data from anyone who can
// reach the engine.

/**
 * Makes an element.
 * @param {string} tag
 * @param {object} [props] attributes; `class` a class string, `on` an
 *   object of event listeners, `text` the text content, booleans as
 *   present or absent attributes
 * @param {...(Node|string|null|undefined|false)} kids
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false)
      continue;
    if (k === 'on') {
      for (const [type, fn] of Object.entries(v))
        el.addEventListener(type, fn);
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'value' || k === 'checked') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const kid of kids.flat()) {
    if (kid !== undefined && kid !== null && kid !== false)
      el.append(kid);
  }
  return el;
}

/** The element of an id; the page is ours, so a missing one is a bug. */
export function $(id) {
  const el = document.getElementById(id);
  if (!el)
    throw new Error(`no element #${id}`);
  return el;
}

let announceTimer;

/**
 * Says something to screen readers (and shows it in the status line)
 * without moving focus.
 * @param {string} text
 * @param {'status'|'error'} [kind]
 */
export function announce(text, kind = 'status') {
  const el = $('notice');
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => { el.hidden = true; }, 8000);
}

/** A time in seconds since 1970, or an RFC 3339 string, for people. */
export function when(t) {
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  return Number.isNaN(d.getTime()) ? String(t ?? '') : d.toLocaleString();
}

/** An error for people: the engine's message and, if any, its code. */
export function describeError(e) {
  const code = typeof e?.code === 'number' ? ` (${e.code})` : '';
  return `${e?.message ?? String(e)}${code}`;
}
