// Rules: every stored version of event rule sets (/v1/rulesets) and of threshold rule sets
// (/v1/threshold-rules) by group and name, the active one marked; a version's rules and
// document; validation through the kind's /check (of a stored version or of a pasted
// document); activation (admin); and a diff between two versions, computed here.

import { get, post } from "./api.js";
import { h, clear, fullTime, toast, empty, failure, loading, labelCells } from "./ui.js";
import { lineDiff, withContext, ruleDiff, pretty } from "./diff.js";

export function render(main, app) {
  const root = h("div", {}, loading());
  main.append(h("h1", {}, "Rules"), root);
  let sets = [];

  async function load() {
    try {
      const [events, thresholds] = await Promise.all([
        get("/v1/rulesets"),
        // An older server without threshold rules answers 404: show the event rules alone.
        get("/v1/threshold-rules").catch((e) => (e.status === 404 ? { rule_sets: [] } : Promise.reject(e))),
      ]);
      sets = [
        ...events.rule_sets.map((r) => ({ ...r, kind: r.kind || "event" })),
        ...thresholds.rule_sets.map((r) => ({ ...r, kind: "threshold" })),
      ];
    } catch (e) {
      root.replaceChildren(failure(e, load));
      return;
    }
    draw();
  }

  function key(r) {
    return `${r.kind}\u0000${r.group}\u0000${r.name}`;
  }

  function draw() {
    clear(root);
    const checker = checkPanel();
    if (!sets.length) {
      root.append(empty("No rule sets stored", "Load one with `klaxon rules load FILE.json` or POST /v1/rulesets; validate a document below first."), checker);
      return;
    }
    const families = new Map();
    for (const r of sets) {
      if (!families.has(key(r))) families.set(key(r), []);
      families.get(key(r)).push(r);
    }
    for (const versions of families.values()) {
      versions.sort((a, b) => b.version - a.version);
      root.append(family(versions));
    }
    root.append(checker);
  }

  function family(versions) {
    const { group, name, kind } = versions[0];
    const detail = h("div");
    const diffA = h("select", { "aria-label": "Older version" }, versions.map((v, i) => h("option", { value: v.version, selected: i === 1 }, `v${v.version}`)));
    const diffB = h("select", { "aria-label": "Newer version" }, versions.map((v, i) => h("option", { value: v.version, selected: i === 0 }, `v${v.version}`)));
    const diffBox = h("div");
    const rows = versions.map((v) =>
      h(
        "tr",
        { class: v.active ? "selected" : "" },
        h("td", {}, `v${v.version}`, v.active ? [" ", h("span", { class: "badge state state-resolved" }, "active")] : null),
        h("td", {}, fullTime(v.created_at)),
        h("td", {}, v.author || "–"),
        h(
          "td",
          {},
          h("div", { class: "row" }, h("button", { class: "secondary", onclick: () => show(v, detail) }, "Show"), h("button", { class: "secondary", onclick: () => validate(v, detail) }, "Validate"), activateButton(v)),
        ),
      ),
    );
    return h(
      "section",
      { class: "panel", "aria-label": `${group}/${name}`, "data-kind": kind },
      h("h2", {}, name, h("span", { class: "hint" }, `  ${kind === "threshold" ? "threshold rules, " : ""}group ${group}`)),
      labelCells(h("table", { class: "plain stack" }, h("thead", {}, h("tr", {}, ["Version", "Stored", "Author", ""].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)), ["Stored", "Author"]),
      versions.length > 1
        ? h("div", { class: "toolbar" }, h("span", {}, "Compare"), diffA, h("span", {}, "with"), diffB, h("button", { onclick: () => diff(kind, group, name, Number(diffA.value), Number(diffB.value), diffBox) }, "Diff"))
        : null,
      diffBox,
      detail,
    );
  }

  function activateButton(v) {
    const may = app.may("admin");
    return h(
      "button",
      {
        disabled: !may || v.active,
        title: may ? "" : `Activation needs an admin; you are ${app.session.role}`,
        onclick: async () => {
          if (!confirm(`Activate ${v.name} v${v.version} in group ${v.group}? It replaces the active version of that group at once.`)) return;
          try {
            await post(`${base(v.kind)}/${encodeURIComponent(v.name)}/${v.version}/activate?group=${encodeURIComponent(v.group)}`);
            toast(`${v.name} v${v.version} is active`);
          } catch (e) {
            toast(`Activation refused: ${e.message}`, "error");
          }
          load();
        },
      },
      v.active ? "Active" : "Activate",
    );
  }

  function base(kind) {
    return kind === "threshold" ? "/v1/threshold-rules" : "/v1/rulesets";
  }

  /** A threshold document may be a set, a bare array of rules, or one rule: always a set here. */
  function asSet(kind, doc) {
    if (kind !== "threshold" || (doc && !Array.isArray(doc) && Array.isArray(doc.rules))) return doc;
    return { rules: Array.isArray(doc) ? doc : doc ? [doc] : [] };
  }

  async function fetchDoc(kind, group, name, version) {
    const r = await get(`${base(kind)}/${encodeURIComponent(name)}/${version}?group=${encodeURIComponent(group)}`);
    return r.rule_set;
  }

  async function show(v, box) {
    box.replaceChildren(loading());
    try {
      const doc = await fetchDoc(v.kind, v.group, v.name, v.version);
      const set = asSet(v.kind, doc);
      const rules = Array.isArray(set?.rules) ? set.rules : [];
      const [head, cells] =
        v.kind === "threshold"
          ? [
              ["Id", "Metric", "Condition", "Over", "For", "Severity"],
              (r) => [r.id ?? "–", r.metric ?? "–", `${r.aggregation ?? "last"} ${r.operator ?? "?"} ${r.threshold ?? "?"}`, r.evaluation_window ?? "1m", r.for ?? "0s", r.severity ?? "medium"],
            ]
          : [
              ["Id", "Trigger", "Action", "Operator", "Value", "Severity"],
              (r) => [r.id ?? "–", r.trigger_type ?? "–", r.action ?? "–", r.condition?.operator ?? "–", r.condition?.value ?? "", r.alert?.severity ?? "–"],
            ];
      box.replaceChildren(
        h("h3", {}, `v${v.version}: ${rules.length} ${rules.length === 1 ? "rule" : "rules"}`),
        labelCells(
          h(
            "table",
            { class: "plain stack" },
            h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, rules.map((r) => h("tr", {}, cells(r).map((c, i) => h("td", { class: i === 0 ? "mono" : "" }, String(c)))))),
          ),
        ),
        h("details", {}, h("summary", {}, "Document"), h("pre", { class: "doc" }, pretty(doc))),
      );
    } catch (e) {
      box.replaceChildren(failure(e));
    }
  }

  function result(res) {
    if (res.ok) {
      const w = res.body.warnings || [];
      return h("div", { class: "panel", role: "status" }, h("p", {}, h("strong", {}, "Valid"), `: ${res.body.rules} rules.`), w.length ? h("ul", {}, w.map((x) => h("li", {}, typeof x === "string" ? x : JSON.stringify(x)))) : null);
    }
    const errs = Array.isArray(res.error.details) ? res.error.details : [];
    return h(
      "div",
      { class: "panel failure", role: "alert" },
      h("p", {}, h("strong", {}, "Invalid"), `: ${res.error.message}`),
      errs.length
        ? labelCells(
            h(
              "table",
              { class: "plain stack" },
              h("thead", {}, h("tr", {}, ["Where", "Field", "Reason"].map((c) => h("th", { scope: "col" }, c)))),
              h("tbody", {}, errs.map((e) => h("tr", {}, h("td", {}, e.rule ?? e.index ?? (e.line ? `line ${e.line}:${e.column}` : "–")), h("td", { class: "mono" }, e.field ?? ""), h("td", {}, e.reason ?? e.message ?? JSON.stringify(e))))),
            ),
            ["Where", "Field"],
          )
        : null,
    );
  }

  async function check(text, kind = "event") {
    try {
      return { ok: true, body: await post(`${base(kind)}/check`, text) };
    } catch (e) {
      return { ok: false, error: e };
    }
  }

  async function validate(v, box) {
    box.replaceChildren(loading("Validating…"));
    try {
      const doc = await fetchDoc(v.kind, v.group, v.name, v.version);
      box.replaceChildren(h("h3", {}, `Validation of v${v.version}`), result(await check(JSON.stringify(doc), v.kind)));
    } catch (e) {
      box.replaceChildren(failure(e));
    }
  }

  async function diff(kind, group, name, a, b, box) {
    if (a === b) {
      box.replaceChildren(h("p", { class: "hint" }, "Pick two different versions."));
      return;
    }
    box.replaceChildren(loading("Comparing…"));
    try {
      const [x, y] = await Promise.all([fetchDoc(kind, group, name, a), fetchDoc(kind, group, name, b)]);
      const rd = ruleDiff(asSet(kind, x), asSet(kind, y));
      const ops = lineDiff(pretty(x), pretty(y));
      const summary = h(
        "ul",
        { class: "diff-summary" },
        h("li", {}, `Added rules: ${rd.added.join(", ") || "none"}`),
        h("li", {}, `Removed rules: ${rd.removed.join(", ") || "none"}`),
        h("li", {}, `Changed rules: ${rd.changed.join(", ") || "none"}`),
      );
      const lines = ops
        ? withContext(ops).map((o) =>
            o.op === "…" ? h("div", { class: "gap" }, `… ${o.count} unchanged lines`) : h("div", { class: o.op === "+" ? "add" : o.op === "-" ? "del" : "" }, `${o.op} ${o.text}`),
          )
        : [h("div", { class: "gap" }, "The documents are too long to compare line by line.")];
      const changed = ops ? ops.some((o) => o.op !== " ") : true;
      box.replaceChildren(h("h3", {}, `v${a} → v${b}`), summary, changed ? h("div", { class: "diff", role: "region", "aria-label": `diff of v${a} and v${b}` }, lines) : h("p", {}, "The two versions are identical."));
    } catch (e) {
      box.replaceChildren(failure(e));
    }
  }

  function checkPanel() {
    const text = h("textarea", { rows: 8, id: "rules-check", placeholder: '{"header":{"rule_set":"…"},"rules":[…]}' });
    const kindSel = h("select", { id: "rules-check-kind", "aria-label": "Kind of rules" }, h("option", { value: "event" }, "Event rule set"), h("option", { value: "threshold" }, "Threshold rules"));
    const out = h("div", { "aria-live": "polite" });
    return h(
      "section",
      { class: "panel" },
      h("h2", {}, "Validate a document"),
      h("label", { for: "rules-check-kind" }, "Kind"),
      kindSel,
      h("label", { for: "rules-check" }, "Rule-set JSON"),
      text,
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            onclick: async () => {
              out.replaceChildren(loading("Validating…"));
              out.replaceChildren(result(await check(text.value, kindSel.value)));
            },
          },
          "Validate",
        ),
      ),
      out,
    );
  }

  load();
  return null;
}
