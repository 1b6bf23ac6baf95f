// Pairs the gateway's pin and chain blocks with the tabs whose page
// failed to load because of them.  The gateway's decision event and
// Chromium's navigation error reach the service worker by different
// roads, in either order and a moment apart; a pair within `windowMs`
// is taken as one cause and its effect.  No chrome.* here, so that Node
// can run it as it is.

export const PAIR_WINDOW_MS = 5000;

// Secure Access blocks carry their own answer page (a 403 from the
// gateway); only what the gateway cut during a TLS handshake leaves the
// tab with a bare connection error.
const NOT_TLS = new Set(['sa_block', 'sa_upgrade', 'sa_exception',
                         'sa_loopback', 'sa_off', 'sa_secure']);

// Chromium's own cancellations (a new navigation, a stop, our own
// redirect to the block page) are not failures.
const NOT_FAILURES = new Set(['net::ERR_ABORTED']);

/** Whether a decision is a block the block page explains. */
export function isTlsBlock(d) {
  return d?.action === 'block' && typeof d.host === 'string' &&
         !NOT_TLS.has(d.reason);
}

/**
 * The host (lower case, IPv6 without brackets) and port a URL reaches,
 * or null for what the gateway never sees (extension pages, data:).
 */
export function target(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  const defaults = { 'https:': 443, 'http:': 80, 'wss:': 443, 'ws:': 80 };
  if (!(u.protocol in defaults))
    return null;
  const host = u.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port ? Number(u.port) : defaults[u.protocol] };
}

function sameTarget(d, t) {
  return d.host.toLowerCase() === t.host &&
         (typeof d.port !== 'number' || d.port === t.port);
}

/**
 * The pairing: feed it decisions and main-frame navigation errors; each
 * feed answers the pairs it completes, [{tabId, url, decision}].  A
 * decision or an error is used once.
 */
export class BlockPairer {
  /**
   * @param {{windowMs?: number, now?: () => number}} [o]
   */
  constructor({ windowMs = PAIR_WINDOW_MS, now = Date.now } = {}) {
    this.windowMs = windowMs;
    this.now = now;
    this.blocks = [];   // {decision, at}
    this.errors = [];   // {tabId, url, target, at}
  }

  _expire() {
    const since = this.now() - this.windowMs;
    this.blocks = this.blocks.filter((b) => b.at >= since);
    this.errors = this.errors.filter((e) => e.at >= since);
  }

  /**
   * A decision of this profile.
   * @param {object} d the event's data
   * @param {number} [at] when it was made, in ms; now by default (a
   *   restarted worker passes the time of a decision it missed)
   * @returns {Array<{tabId: number, url: string, decision: object}>}
   */
  decision(d, at = this.now()) {
    this._expire();
    if (!isTlsBlock(d) || at < this.now() - this.windowMs)
      return [];
    const hit = this.errors.filter((e) => sameTarget(d, e.target));
    if (hit.length === 0) {
      this.blocks.push({ decision: d, at });
      return [];
    }
    this.errors = this.errors.filter((e) => !hit.includes(e));
    return hit.map((e) => ({ tabId: e.tabId, url: e.url, decision: d }));
  }

  /**
   * A failed main-frame navigation (webNavigation.onErrorOccurred with
   * frameId 0).
   * @param {{tabId: number, url: string, error: string}} e
   * @returns {Array<{tabId: number, url: string, decision: object}>}
   */
  navigationError({ tabId, url, error }) {
    const t = target(url);
    if (t === null || NOT_FAILURES.has(error))
      return [];
    this._expire();

    // A tab's newer failure replaces its older one.
    this.errors = this.errors.filter((e) => e.tabId !== tabId);
    let i = -1;
    for (let j = this.blocks.length - 1; j >= 0 && i < 0; j--) {
      if (sameTarget(this.blocks[j].decision, t))
        i = j;
    }
    if (i < 0) {
      this.errors.push({ tabId, url, target: t, at: this.now() });
      return [];
    }
    const [b] = this.blocks.splice(i, 1);
    return [{ tabId, url, decision: b.decision }];
  }

  /** Forgets a tab (closed, or navigated elsewhere). */
  forgetTab(tabId) {
    this.errors = this.errors.filter((e) => e.tabId !== tabId);
  }
}

/**
 * The block page's address for a pair: what it shows travels in the
 * query, so that the page needs no engine and survives a reload.
 * @param {string} base chrome.runtime.getURL('blocked.html')
 * @param {{url: string, decision: object}} pair
 */
export function blockedUrl(base, { url, decision: d }) {
  const shown = {
    host: d.host, port: d.port, reason: d.reason, detail: d.detail,
    time: d.time, pinset: d.pinset, expected_pins: d.expected_pins ?? [],
    chain: (d.chain ?? []).map((c) => ({ subject: c.subject ?? null,
                                         pin: c.pin })),
  };
  const q = new URLSearchParams({ url, d: JSON.stringify(shown) });
  return `${base}?${q}`;
}
