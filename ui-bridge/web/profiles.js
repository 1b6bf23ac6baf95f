// What the page knows of the engine's profiles: the ones that match the
// search, in the engine's order (by name), and which of them run.  It is
// filled with profiles.list, page by page, and kept current by events,
// so changes made elsewhere show without a reload.

const PAGE = 1000;             // the engine's largest page
const REBUILD_AFTER = 64;      // changes in one frame: sort once instead

const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Emits 'rows' when the list of shown profiles changed (order or
 * membership), 'profiles' with a Set of ids whose content changed, and
 * 'running' when what runs changed.
 */
export class Profiles extends EventTarget {
  /** @param {import('/client/pinwarden.js').PinwardenClient} pw */
  constructor(pw) {
    super();
    this.pw = pw;
    this.byId = new Map();     // shown profiles: id -> profile
    this.rows = [];            // shown profiles, sorted by name
    this.names = new Map();    // every profile seen: id -> name
    this.running = new Map();  // id -> profiles.status entry
    this.filter = { q: '', tag: '' };
    this.loading = null;       // changes heard while a list loads
    this._seq = 0;
    this._queue = [];
    this._frame = 0;
  }

  /** Whether a profile passes the search, as the engine would judge. */
  matches(p) {
    const { q, tag } = this.filter;
    if (q && !p.name.toLowerCase().includes(q.toLowerCase()))
      return false;
    return !tag || (p.tags ?? []).includes(tag);
  }

  /**
   * Lists the profiles that match filter, following the cursor to the
   * end.  A newer load makes an older one give up.
   * @param {{q?: string, tag?: string}} filter
   * @returns {Promise<boolean>} false when a newer load replaced it
   */
  async load(filter = this.filter) {
    const seq = ++this._seq;
    this.filter = { q: filter.q ?? '', tag: filter.tag ?? '' };
    this.loading = [];
    const got = [];
    let cursor;
    do {
      const params = { limit: PAGE };
      if (this.filter.q)
        params.q = this.filter.q;
      if (this.filter.tag)
        params.tag = this.filter.tag;
      if (cursor)
        params.cursor = cursor;
      const page = await this.pw.call('profiles.list', params);
      if (seq !== this._seq)
        return false;
      got.push(...page.profiles);
      cursor = page.next;
    } while (cursor);

    this.byId = new Map(got.map((p) => [p.id, p]));
    for (const p of got)
      this.names.set(p.id, p.name);
    this.rows = got.map((p) => p.id);
    const heard = this.loading;
    this.loading = null;
    this._queue.unshift(...heard);
    this.dispatchEvent(new CustomEvent('rows'));
    this._flush();
    return true;
  }

  /** Asks the engine what runs. */
  async refreshRunning() {
    const st = await this.pw.call('profiles.status');
    this.running = new Map(st.running.map((r) => [r.id, r]));
    this.dispatchEvent(new CustomEvent('running'));
  }

  /** Marks one profile running (entry) or not (null), from an answer. */
  setRunning(id, entry) {
    if (entry)
      this.running.set(id, { id, ...entry });
    else
      this.running.delete(id);
    this.dispatchEvent(new CustomEvent('running'));
  }

  /**
   * A profile was created, changed or deleted, here or elsewhere.
   * Changes are applied once per frame, so an import of thousands costs
   * one sort, not thousands of inserts.
   * @param {'created'|'updated'|'deleted'} action
   * @param {object} profile
   */
  change(action, profile) {
    if (this.loading) {
      this.loading.push({ action, profile });
      return;
    }
    this._queue.push({ action, profile });
    if (!this._frame)
      this._frame = requestAnimationFrame(() => this._flush());
  }

  /** The profile with this id, as last heard (shown or not). */
  get(id) {
    return this.byId.get(id);
  }

  _flush() {
    cancelAnimationFrame(this._frame);
    this._frame = 0;
    const queue = this._queue;
    this._queue = [];
    if (queue.length === 0)
      return;

    const touched = new Set();
    const moved = [];
    for (const { action, profile: p } of queue) {
      const old = this.byId.get(p.id);
      if (action === 'deleted') {
        this.names.delete(p.id);
        if (old) {
          this.byId.delete(p.id);
          moved.push([old, null]);
        }
        continue;
      }
      // An event may be older than what a call already answered.
      if (old && old.revision > p.revision)
        continue;
      this.names.set(p.id, p.name);
      if (!this.matches(p)) {
        if (old) {
          this.byId.delete(p.id);
          moved.push([old, null]);
        }
        continue;
      }
      this.byId.set(p.id, p);
      touched.add(p.id);
      if (!old || old.name !== p.name)
        moved.push([old, p]);
    }

    if (moved.length > REBUILD_AFTER) {
      this.rows = [...this.byId.values()].sort(byName).map((p) => p.id);
    } else {
      // Removals first, so the binary search never meets a row that is
      // going; then each profile that moved goes in once, as it is now.
      for (const [old] of moved) {
        if (old)
          this._remove(old);
      }
      const ids = new Set(moved.filter(([, now]) => now)
        .map(([, now]) => now.id));
      for (const id of ids) {
        if (this.byId.has(id))
          this._insert(this.byId.get(id));
      }
    }
    if (moved.length)
      this.dispatchEvent(new CustomEvent('rows'));
    if (touched.size)
      this.dispatchEvent(new CustomEvent('profiles', { detail: touched }));
  }

  // Where a name goes in rows: the first row whose name is not less.
  _position(name) {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const other = this.byId.get(this.rows[mid])?.name ??
        this.names.get(this.rows[mid]) ?? '';
      if (other < name)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }

  _remove(p) {
    const i = this.rows.indexOf(p.id);
    if (i >= 0)
      this.rows.splice(i, 1);
  }

  _insert(p) {
    this._remove(p);
    this.rows.splice(this._position(p.name), 0, p.id);
  }
}
