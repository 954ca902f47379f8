// Silences through klaxon's Alertmanager API v2 (`/api/v2/silences`, `/api/v2/silence/{id}`):
// the list by state, expiry, and a form that creates one with a live preview of the open
// alerts its matchers catch (the page's own live copy of the open alerts, matched on the
// labels the server matches). A server without that API answers 404 and the page says so.

import { get, post, del } from "./api.js";
import { h, clear, fullTime, toast, empty, failure, loading, debounce, num, sevBadge, labelCells } from "./ui.js";
import { compile, matches, show } from "./matcher.js";
import { matchLabels } from "./model.js";

const OPS = [["=", false, true], ["!=", false, false], ["=~", true, true], ["!~", true, false]];

function unavailable() {
  return empty(
    "Silences are not available on this server",
    "GET /api/v2/silences answered 404: this klaxon does not serve the Alertmanager silences API yet. Suppress single alerts from their page meanwhile.",
  );
}

export function render(main, app, { parts, params }) {
  const root = h("div");
  main.append(h("div", { class: "row" }, h("h1", { class: "grow" }, "Silences"), parts[1] === "new" ? null : h("a", { class: "button", href: "#/silences/new" }, "New silence")), root);
  if (parts[1] === "new") return create(root, app, params);
  list(root, app, params);
  return null;
}

async function list(root, app, params) {
  root.replaceChildren(loading());
  let silences;
  try {
    silences = await get("/api/v2/silences");
  } catch (e) {
    root.replaceChildren(e.status === 404 ? unavailable() : failure(e, () => list(root, app, params)));
    return;
  }
  clear(root);
  if (!silences.length) {
    root.append(empty("No silences", "A silence mutes every alert its matchers catch for a while, e.g. during maintenance.", h("a", { class: "button", href: "#/silences/new" }, "New silence")));
    return;
  }
  const order = { active: 0, pending: 1, expired: 2 };
  silences.sort((a, b) => (order[a.status?.state] ?? 3) - (order[b.status?.state] ?? 3) || Date.parse(b.endsAt) - Date.parse(a.endsAt));
  const may = app.may("respond");
  for (const state of ["active", "pending", "expired"]) {
    const group = silences.filter((s) => (s.status?.state || "active") === state);
    if (!group.length) continue;
    root.append(h("h2", {}, `${state[0].toUpperCase()}${state.slice(1)} (${num(group.length)})`));
    const rows = group.map((s) =>
      h(
        "tr",
        { id: `silence-${s.id}`, class: params.get("id") === s.id ? "selected" : "" },
        h("td", {}, h("div", { class: "chips" }, (s.matchers || []).map((m) => h("code", { class: "chip" }, show(m))))),
        h("td", {}, s.comment || "", h("div", { class: "hint" }, `by ${s.createdBy || "?"}`)),
        h("td", {}, fullTime(s.startsAt)),
        h("td", {}, fullTime(s.endsAt)),
        h(
          "td",
          {},
          state === "expired"
            ? h("a", { href: `#/silences/new?${new URLSearchParams([...(s.matchers || []).map((m) => ["m", `${m.name}${m.isRegex ? (m.isEqual === false ? "!~" : "=~") : m.isEqual === false ? "!=" : "="}${m.value}`]), ["comment", s.comment || ""]])}` }, "Recreate")
            : h(
                "button",
                {
                  class: "danger",
                  disabled: !may,
                  title: may ? "" : `Your role (${app.session.role}) may only read`,
                  onclick: async () => {
                    try {
                      await del(`/api/v2/silence/${encodeURIComponent(s.id)}`);
                      toast("Silence expired");
                    } catch (e) {
                      toast(`Expire refused: ${e.message}`, "error");
                    }
                    list(root, app, params);
                  },
                },
                "Expire",
              ),
        ),
      ),
    );
    root.append(labelCells(h("table", { class: "plain stack" }, h("thead", {}, h("tr", {}, ["Matchers", "Comment", "Starts", "Ends", ""].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)), ["Starts", "Ends"]));
  }
}

function parseMatcher(text) {
  const m = /^([^=!~]+?)(=~|!~|!=|=)(.*)$/.exec(text);
  if (!m) return null;
  const op = OPS.find(([o]) => o === m[2]);
  return { name: m[1].trim(), value: m[3].replace(/^"(.*)"$/, "$1"), isRegex: op[1], isEqual: op[2] };
}

function toLocalInput(t) {
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function create(root, app, params) {
  const rowsBox = h("div");
  const matcherRows = [];
  function addRow(m = { name: "", value: "", isRegex: false, isEqual: true }) {
    const name = h("input", { value: m.name, placeholder: "label", "aria-label": "Label name", required: true });
    const op = h("select", { "aria-label": "Operator" }, OPS.map(([o, re, eq]) => h("option", { value: o, selected: re === m.isRegex && eq === m.isEqual }, o)));
    const value = h("input", { value: m.value, placeholder: "value or regex", "aria-label": "Value" });
    const remove = h("button", { type: "button", class: "secondary", "aria-label": "Remove matcher" }, "✕");
    const row = h("div", { class: "matcher-row" }, name, op, value, remove);
    const entry = { row, name, op, value };
    remove.addEventListener("click", () => {
      matcherRows.splice(matcherRows.indexOf(entry), 1);
      row.remove();
      preview();
    });
    for (const el of [name, op, value]) el.addEventListener("input", () => preview());
    matcherRows.push(entry);
    rowsBox.append(row);
  }
  const given = params.getAll("m").map(parseMatcher).filter(Boolean);
  (given.length ? given : [undefined]).forEach((m) => addRow(m));
  const now = Date.now();
  const starts = h("input", { type: "datetime-local", value: toLocalInput(now), "aria-label": "Starts", id: "si-starts" });
  const duration = h("select", { id: "si-dur" }, [["1h", 1], ["2h", 2], ["4h", 4], ["8h", 8], ["24h", 24], ["3d", 72], ["7d", 168]].map(([l, hrs]) => h("option", { value: hrs, selected: hrs === 2 }, l)));
  const comment = h("textarea", { rows: 2, id: "si-comment", required: true }, params.get("comment") || "");
  const createdBy = h("input", { id: "si-by", value: app.session.name, required: true });
  const previewBox = h("div", { "aria-live": "polite" });
  const may = app.may("respond");
  const form = h(
    "form",
    { class: "panel" },
    h("h2", {}, "Matchers"),
    h("p", { class: "hint" }, "Every matcher must hold. Regexes are anchored at both ends, as in Alertmanager; a missing label counts as empty."),
    rowsBox,
    h("button", { type: "button", class: "secondary", onclick: () => addRow() }, "Add matcher"),
    h("div", { class: "two" }, h("div", {}, h("label", { for: "si-starts" }, "Starts"), starts), h("div", {}, h("label", { for: "si-dur" }, "Lasts"), duration)),
    h("label", { for: "si-comment" }, "Comment"),
    comment,
    h("label", { for: "si-by" }, "Created by"),
    createdBy,
    h("div", { class: "actions" }, h("button", { type: "submit", disabled: !may }, "Create silence"), h("a", { class: "button secondary", href: "#/silences" }, "Cancel")),
    may ? null : h("p", { class: "hint" }, `Your role (${app.session.role}) may only read.`),
  );
  const notice = h("div");
  root.append(notice, form, h("section", { class: "panel" }, h("h2", {}, "Alerts it would silence now"), previewBox));
  get("/api/v2/silences").catch((e) => {
    if (e.status === 404) {
      notice.replaceChildren(unavailable());
      for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = true;
    }
  });

  function matchersOf() {
    return matcherRows
      .map(({ name, op, value }) => {
        const o = OPS.find(([x]) => x === op.value);
        return { name: name.value.trim(), value: value.value, isRegex: o[1], isEqual: o[2] };
      })
      .filter((m) => m.name);
  }

  const preview = debounce(async () => {
    if (app.model.status !== "ready") {
      previewBox.replaceChildren(loading("Reading the open alerts…"));
      try {
        await app.model.load();
      } catch (e) {
        previewBox.replaceChildren(failure(e));
        return;
      }
    }
    const open = [...app.model.byId.values()];
    const ms = matchersOf();
    if (!ms.length) {
      previewBox.replaceChildren(h("p", { class: "hint" }, "Add a matcher to see what it catches."));
      return;
    }
    let compiled;
    try {
      compiled = compile(ms);
    } catch (e) {
      previewBox.replaceChildren(h("p", { class: "error" }, e.message));
      return;
    }
    const hits = open.filter((r) => matches(compiled, matchLabels(r))).sort((a, b) => a.sev - b.sev || b.last - a.last);
    previewBox.replaceChildren(
      h(
        "div",
        {},
        h("p", { "data-preview-count": String(hits.length) }, hits.length ? `${num(hits.length)} of ${num(open.length)} open alerts match.` : `None of the ${num(open.length)} open alerts match.`),
        hits.length
          ? h(
              "ul",
              { class: "preview" },
              hits.slice(0, 50).map((r) =>
                h(
                  "li",
                  {},
                  sevBadge(r.severity),
                  " ",
                  h("a", { href: `#/alerts/${r.id}` }, h("strong", {}, r.name)),
                  " ",
                  h("span", { class: "hint mono" }, Object.entries(r.labels).filter(([k]) => k !== "alertname").map(([k, v]) => `${k}=${v}`).join(" ")),
                ),
              ),
            )
          : null,
        hits.length > 50 ? h("p", { class: "hint" }, `and ${num(hits.length - 50)} more`) : null,
      ),
    );
  }, 150);
  preview();

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const ms = matchersOf();
    if (!ms.length) return toast("A silence needs at least one matcher.", "error");
    try {
      compile(ms);
    } catch (e) {
      return toast(e.message, "error");
    }
    const startsAt = new Date(starts.value || Date.now());
    const endsAt = new Date(startsAt.getTime() + Number(duration.value) * 3600000);
    try {
      const res = await post("/api/v2/silences", { matchers: ms, startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(), createdBy: createdBy.value.trim(), comment: comment.value.trim() });
      toast(`Silence ${res?.silenceID ? res.silenceID.slice(0, 8) + " " : ""}created`);
      location.hash = res?.silenceID ? `#/silences?id=${res.silenceID}` : "#/silences";
    } catch (e) {
      toast(e.status === 404 ? "This server does not serve silences yet (404)." : `Create refused: ${e.message}`, "error");
    }
  });
  // The preview follows the open alerts as they change.
  const unsubscribe = app.model.subscribe(() => preview());
  return () => unsubscribe();
}
