// Incidents: the ones people work on first (open, reopened, investigating), highest priority
// first, with their size, age and owner, then those resolved or closed lately; live from
// /incidents/stream.

import { get } from "./api.js";
import { h, num, ago, fullTime, sevBadge, failure, loading, empty, throttle, labelCells, SEVERITIES } from "./ui.js";
import { Live } from "./live.js";

export const ACTIVE = ["open", "reopened", "investigating"];
const RANK = Object.fromEntries(SEVERITIES.map((s, i) => [s, i]));

/** An incident's state as a badge. */
export function incidentBadge(state) {
  return h("span", { class: `badge state state-${state}` }, state || "?");
}

export function render(main, app) {
  const root = h("div", { class: "incident-list" }, loading());
  const count = h("span", { class: "count" });
  main.append(h("div", { class: "row" }, h("h1", { class: "grow" }, "Incidents"), count), root);

  function table(list, caption) {
    const t = h(
      "table",
      { class: "plain stack", "aria-label": caption },
      h("thead", {}, h("tr", {}, ["Priority", "Incident", "State", "Alerts", "Opened", "Owner"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        list.map((i) =>
          h(
            "tr",
            { "data-id": String(i.id), "data-state": i.state },
            h("td", {}, sevBadge(i.priority)),
            h("td", {}, h("a", { href: `#/incidents/${i.id}` }, `#${i.id} ${i.title}`), i.level ? h("div", { class: "hint" }, `held together with ${i.level.replace("_", " ")} confidence`) : null),
            h("td", {}, incidentBadge(i.state)),
            h("td", { class: "num" }, num(i.alerts)),
            h("td", { class: "age", title: fullTime(i.opened_at) }, ago(i.opened_at)),
            h("td", {}, i.owner || "–"),
          ),
        ),
      ),
    );
    return labelCells(t);
  }

  async function load() {
    let active, recent;
    try {
      [active, recent] = await Promise.all([get(`/incidents?state=${ACTIVE.join(",")}&limit=1000`), get("/incidents?state=resolved,closed&limit=50")]);
    } catch (e) {
      root.replaceChildren(failure(e, load));
      return;
    }
    const now = active.incidents.sort((a, b) => (RANK[a.priority] ?? 9) - (RANK[b.priority] ?? 9) || Date.parse(b.opened_at) - Date.parse(a.opened_at));
    count.textContent = `${num(now.length)} being worked on`;
    root.replaceChildren(
      h("section", { class: "panel" }, h("h2", {}, "Open"), now.length ? table(now, "Open incidents") : empty("No open incident", "Alerts that fire are correlated into incidents; they show here.")),
      h(
        "section",
        { class: "panel" },
        h("h2", {}, "Resolved and closed lately"),
        recent.incidents.length ? table(recent.incidents, "Resolved and closed incidents") : h("p", { class: "hint" }, "None yet."),
      ),
    );
    root.dataset.loaded = String(Date.now());
  }

  const reload = throttle(load, 500);
  const live = new Live("/incidents/stream", { incident: reload }).start();
  app.bus.addEventListener("resync", reload);
  load();
  return () => {
    live.stop();
    app.bus.removeEventListener("resync", reload);
  };
}
