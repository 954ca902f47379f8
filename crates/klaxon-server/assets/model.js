// The browser's copy of every open alert (pending, active, acknowledged, suppressed): loaded
// in one compact answer from /alerts/open, then kept current by the changes of /alerts/stream.
// Resolved and closed alerts leave it, so its size is the number of open alerts, never the
// length of the stream. Changes that arrive while it loads are applied after, and since every
// change carries absolute values (state, count), applying one twice changes nothing.

import { get } from "./api.js";
import { OPEN_STATES, SEVERITIES, title } from "./ui.js";

const SEV_RANK = Object.fromEntries(SEVERITIES.map((s, i) => [s, i]));
/** Changes buffered while loading; past this the load starts over. */
const MAX_PENDING = 50000;

/** The compact row the table and the filters use. */
export function row(a) {
  const labels = a.labels || {};
  const labelText = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const name = title(a);
  const r = {
    id: a.id,
    name,
    /** The alert's own name (`alertname`), which silences and look-alikes go by. */
    alertname: a.name,
    severity: a.severity,
    sev: SEV_RANK[a.severity] ?? 9,
    state: a.state,
    source: a.source,
    summary: a.message || "",
    labels,
    labelText,
    first: Date.parse(a.first_seen),
    last: Date.parse(a.last_seen),
    occurrences: a.occurrences,
    assignee: a.assignee || "",
    /** The incident it is in: an id in /alerts/open rows, a block in GET /alerts/{id}. */
    incident: (a.incident && typeof a.incident === "object" ? a.incident.id : a.incident) ?? null,
    hay: "",
  };
  r.hay = hay(r);
  return r;
}

/** The text the search looks in. */
function hay(r) {
  const incident = r.incident === null ? "" : ` incident:${r.incident}`;
  return `${r.name} ${r.alertname} ${r.summary} ${r.labelText} ${r.assignee}${incident}`.toLowerCase();
}

/**
 * The compact rows carry no annotations, so threshold alerts arrive under their rule's id;
 * their rule's name comes from the history of open threshold alerts (a page per thousand).
 */
async function nameThresholdAlerts(rows) {
  if (![...rows.values()].some((r) => r.source === "threshold")) return;
  let cursor = "";
  try {
    for (let page = 0; page < 100; page++) {
      const res = await get(`/alerts/history?source=threshold&state=${OPEN_STATES.join(",")}&limit=1000${cursor}`);
      for (const a of res.alerts) {
        const r = rows.get(a.id);
        if (r) {
          r.name = title(a);
          r.hay = hay(r);
        }
      }
      if (!res.next_cursor) break;
      cursor = `&cursor=${res.next_cursor}`;
    }
  } catch {
    /* they keep their rule's id */
  }
}

/** The labels silences match an alert by: its labels, with `alertname` its name when absent. */
export function matchLabels(r) {
  return { alertname: r.alertname, ...r.labels };
}

export class OpenAlerts {
  constructor() {
    /** @type {Map<number, ReturnType<typeof row>>} */
    this.byId = new Map();
    this.status = "empty"; // empty | loading | ready | error
    this.error = null;
    this.pending = [];
    this.overflow = false;
    this.version = 0;
    this.listeners = new Set();
    this.timer = 0;
    this.loading = null;
  }

  /** Loads every open alert (once; again after `reset`). */
  load(onProgress = () => {}) {
    if (this.status === "ready") return Promise.resolve();
    if (this.loading) return this.loading;
    this.loading = this.fetchAll(onProgress).finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  async fetchAll(onProgress) {
    this.status = "loading";
    this.pending = [];
    this.overflow = false;
    const fresh = new Map();
    try {
      const res = await get("/alerts/open");
      const at = Object.fromEntries(res.fields.map((f, i) => [f, i]));
      for (const r of res.rows) {
        const a = {};
        for (const f of res.fields) a[f] = r[at[f]];
        fresh.set(a.id, row(a));
      }
      this.truncated = res.truncated;
      await nameThresholdAlerts(fresh);
      onProgress(fresh.size);
    } catch (e) {
      this.status = "error";
      this.error = e;
      this.notify();
      throw e;
    }
    this.byId = fresh;
    this.status = "ready";
    const pending = this.pending;
    this.pending = [];
    if (this.overflow) {
      this.status = "empty";
      return this.fetchAll(onProgress);
    }
    for (const c of pending) this.apply(c);
    this.bump();
  }

  /** Forgets everything; the next `load` reads the server again. */
  reset() {
    this.byId = new Map();
    this.status = "empty";
    this.pending = [];
    this.bump();
  }

  /** One change of /alerts/stream. */
  apply(c) {
    if (this.status === "loading") {
      if (this.pending.length < MAX_PENDING) this.pending.push(c);
      else this.overflow = true;
      return;
    }
    if (this.status !== "ready") return;
    switch (c.kind) {
      case "created": {
        const r = row(c.alert);
        if (OPEN_STATES.includes(r.state)) this.byId.set(r.id, r);
        break;
      }
      case "occurrence": {
        const r = this.byId.get(c.id);
        if (r) {
          r.occurrences = c.occurrences;
          r.last = typeof c.last_seen === "number" ? c.last_seen : Date.parse(c.last_seen);
          if (c.summary) {
            r.summary = c.summary;
            r.hay = hay(r);
          }
        }
        break;
      }
      case "transition": {
        const r = this.byId.get(c.id);
        if (!OPEN_STATES.includes(c.to)) {
          this.byId.delete(c.id);
        } else if (r) {
          r.state = c.to;
        } else {
          // Reopened: it was not open, so it is not here yet.
          this.fetchOne(c.id);
        }
        break;
      }
      case "assigned": {
        const r = this.byId.get(c.id);
        if (r) {
          r.assignee = c.assignee || "";
          r.hay = hay(r);
        }
        break;
      }
      case "incident": {
        const r = this.byId.get(c.id);
        if (r) {
          r.incident = c.incident ?? null;
          r.hay = hay(r);
        }
        break;
      }
      default:
        return;
    }
    this.bump();
  }

  async fetchOne(id) {
    try {
      const a = await get(`/alerts/${id}`);
      if (this.status === "ready" && OPEN_STATES.includes(a.state)) {
        this.byId.set(a.id, row(a));
        this.bump();
      }
    } catch {
      /* gone again, or closed: nothing to show */
    }
  }

  bump() {
    this.version++;
    if (this.timer) return;
    // A timer, not an animation frame: hidden pages get no frames, and changes must not pile up.
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.notify();
    }, 100);
  }

  notify() {
    for (const fn of this.listeners) fn(this);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
