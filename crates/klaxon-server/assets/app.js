// The dashboard's shell: sign-in, the session (role, CSRF token, expiry), navigation by URL
// hash, the one live connection to /alerts/stream shared by every page, and the banner that
// says when that connection is down.

import { get, post, setCsrf, onUnauthorized, ApiError } from "./api.js";
import { Live } from "./live.js";
import { OpenAlerts } from "./model.js";
import { h, clear, toast, title } from "./ui.js";
import * as overview from "./page-overview.js";
import * as alerts from "./page-alerts.js";
import * as alert from "./page-alert.js";
import * as incidents from "./page-incidents.js";
import * as incident from "./page-incident.js";
import * as sla from "./page-sla.js";
import * as silences from "./page-silences.js";
import * as rules from "./page-rules.js";
import * as analytics from "./page-analytics.js";
import * as health from "./page-health.js";
import * as oncall from "./page-oncall.js";
import * as users from "./page-users.js";
import * as teams from "./page-teams.js";
import * as policies from "./page-policies.js";
import * as tokens from "./page-tokens.js";

const PAGES = [
  { path: "", title: "Overview", mod: overview },
  { path: "alerts", title: "Alerts", mod: alerts },
  { path: "incidents", title: "Incidents", mod: incidents },
  { path: "silences", title: "Silences", mod: silences },
  { path: "rules", title: "Rules", mod: rules },
  { path: "analytics", title: "Analytics", mod: analytics },
  { path: "sla", title: "SLA", mod: sla },
  { path: "oncall", title: "On call", mod: oncall },
  { path: "policies", title: "Policies", mod: policies },
  { path: "users", title: "Users", mod: users, admin: true },
  { path: "teams", title: "Teams", mod: teams, admin: true },
  { path: "tokens", title: "Tokens", mod: tokens, admin: true },
  { path: "health", title: "Health", mod: health },
];

/** Names and severities of alerts seen, for the feed (bounded). */
class Names {
  constructor(max = 5000) {
    this.max = max;
    this.map = new Map();
  }
  set(id, name, severity) {
    this.map.delete(id);
    this.map.set(id, { name, severity });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value);
  }
  get(id) {
    return this.map.get(id) || app.model.byId.get(id);
  }
}

/** What pages share. */
export const app = {
  session: null,
  model: new OpenAlerts(),
  names: new Names(),
  /** Every change of /alerts/stream, and `resync` when the stream starts over. */
  bus: new EventTarget(),
  live: null,
  connection: "connecting",
  may(what) {
    return !!this.session?.may?.[what];
  },
};

let cleanup = null;
let expiryTimer = 0;

function $(id) {
  return document.getElementById(id);
}

function showSignin(message) {
  app.live?.stop();
  app.live = null;
  app.session = null;
  app.model.reset();
  cleanup?.();
  cleanup = null;
  clearTimeout(expiryTimer);
  $("shell").hidden = true;
  $("signin").hidden = false;
  const params = new URLSearchParams(location.search);
  const reason = params.get("signin");
  $("signin-error").textContent =
    message ||
    (reason === "forbidden"
      ? "That token may not use the dashboard (an ingest token only sends signals)."
      : reason === "failed"
        ? "Unknown token."
        : "");
  $("token").focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const token = $("token").value.trim();
  const btn = $("signin-form").querySelector("button");
  btn.disabled = true;
  $("signin-error").textContent = "";
  try {
    const res = await fetch("/ui/signin", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
      credentials: "same-origin",
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      $("signin-error").textContent = body?.error?.message || `The server answered ${res.status}.`;
      return;
    }
    $("token").value = "";
    history.replaceState(null, "", location.pathname + location.hash);
    start(body);
  } catch {
    $("signin-error").textContent = "The server did not answer.";
  } finally {
    btn.disabled = false;
  }
}

async function signOut() {
  try {
    await post("/ui/signout");
  } catch {
    /* signed out either way */
  }
  showSignin("Signed out.");
}

function setConnection(state) {
  app.connection = state;
  const el = $("conn");
  el.dataset.state = state;
  el.textContent = state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Disconnected";
  const banner = $("banner");
  if (state === "reconnecting" || state === "offline") {
    banner.hidden = false;
    banner.textContent =
      state === "reconnecting"
        ? "Connection to the server lost. Reconnecting… updates will resume from the last one received."
        : "The server refused the live stream. Retrying…";
  } else {
    banner.hidden = true;
  }
  app.bus.dispatchEvent(new CustomEvent("connection", { detail: state }));
}

function resync(reason) {
  document.body.dataset.lastResync = reason;
  app.model.reset();
  app.bus.dispatchEvent(new CustomEvent("resync", { detail: reason }));
}

function connect() {
  app.live?.stop();
  app.live = new Live(
    "/alerts/stream",
    {
      alert(c) {
        if (c.kind === "created") app.names.set(c.alert.id, title(c.alert), c.alert.severity);
        app.model.apply(c);
        app.bus.dispatchEvent(new CustomEvent("change", { detail: c }));
      },
      reset() {
        resync("reset");
      },
      lagged(d) {
        toast(`Fell behind the live stream by ${d.missed} changes; reloading.`, "error");
        resync("lagged");
      },
      reopened() {
        resync("reopened");
      },
    },
    setConnection,
  ).start();
}

/** Shows the sign-in form when the session ends (timers hold at most 24.8 days). */
function armExpiry(at) {
  clearTimeout(expiryTimer);
  const left = at - Date.now();
  if (left <= 0) return showSignin("Your session has ended; sign in again.");
  expiryTimer = setTimeout(() => armExpiry(at), Math.min(left, 2 ** 31 - 1));
}

function start(session) {
  app.session = session;
  setCsrf(session.csrf);
  $("signin").hidden = true;
  $("shell").hidden = false;
  $("who").textContent = `${session.name} · ${session.role}`;
  document.body.dataset.role = session.role;
  // Users, teams and tokens are the admin's: other roles do not see their pages.
  for (const p of PAGES) {
    const link = $("nav").querySelector(`a[data-path="${p.path}"]`);
    if (link) link.hidden = !!p.admin && !app.may("admin");
  }
  armExpiry(Date.parse(session.expires_at));
  connect();
  route();
}

function route() {
  if (!app.session) return;
  const hash = location.hash.replace(/^#\/?/, "");
  const [pathPart, query = ""] = hash.split("?");
  const parts = pathPart.split("/").filter(Boolean);
  const params = new URLSearchParams(query);
  let page = PAGES.find((p) => p.path === (parts[0] || "")) || null;
  let mod = page?.mod;
  let title = page?.title;
  if (parts[0] === "alerts" && parts[1]) {
    mod = alert;
    title = `Alert ${parts[1]}`;
  }
  if (parts[0] === "incidents" && parts[1]) {
    mod = incident;
    title = `Incident ${parts[1]}`;
  }
  for (const a of $("nav").querySelectorAll("a")) {
    const current = a.dataset.path === (parts[0] || "");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  $("nav").classList.remove("open");
  $("menu").setAttribute("aria-expanded", "false");
  cleanup?.();
  cleanup = null;
  const main = clear($("main"));
  if (!mod) {
    main.append(h("div", { class: "empty" }, h("p", { class: "empty-title" }, "No such page"), h("a", { href: "#/" }, "Go to the overview")));
    return;
  }
  document.title = `${title} · klaxon`;
  main.dataset.page = parts[0] || "overview";
  try {
    cleanup = mod.render(main, app, { parts, params }) || null;
  } catch (e) {
    console.error(e);
    main.append(h("p", { class: "failure" }, `This page failed: ${e.message}`));
  }
}

function buildNav() {
  const nav = $("nav");
  for (const p of PAGES) {
    nav.append(h("a", { href: `#/${p.path}`, "data-path": p.path }, p.title));
  }
  $("menu").addEventListener("click", () => {
    const open = nav.classList.toggle("open");
    $("menu").setAttribute("aria-expanded", String(open));
  });
}

async function boot() {
  // A browser that opened an alert's API address (/alerts/42, as a link may give it) was
  // handed this page: show that alert, at the dashboard's own address for it.
  const direct = /^\/alerts\/(\d+)\/?$/.exec(location.pathname);
  if (direct) history.replaceState(null, "", `/${location.search}#/alerts/${direct[1]}`);
  buildNav();
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  // A page kept in the back/forward cache must not hold its streams open: browsers allow six
  // connections per server over HTTP/1.1, and each stream takes one.
  window.addEventListener("pagehide", () => {
    app.live?.stop();
    cleanup?.();
    cleanup = null;
  });
  window.addEventListener("pageshow", (ev) => {
    if (ev.persisted && app.session) {
      resync("restored");
      connect();
      route();
    }
  });
  onUnauthorized(() => showSignin("Your session has ended; sign in again."));
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement?.tagName || "")) {
      const search = document.querySelector("[data-search]");
      if (search) {
        ev.preventDefault();
        search.focus();
      }
    }
  });
  try {
    const session = await get("/ui/session", { quiet401: true });
    start(session);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showSignin();
    else showSignin(`The server did not answer (${e.message}).`);
  }
}

boot();
