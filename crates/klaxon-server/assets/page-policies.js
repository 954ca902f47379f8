// Escalation policies: the list from /v1/escalation-policies with their levels, targets and
// origin (the configuration file's are read-only, and a policy a route names is not deleted),
// and for an admin a form that creates one or edits one made through the API, showing every
// problem the server finds with its field.

import { api, get, post, del } from "./api.js";
import { h, clear, toast, empty, failure, loading } from "./ui.js";
import { grid, originBadge } from "./page-users.js";

/** One level of the form: its wait and its targets (comma-separated). */
function levelRow(level = { wait: "0s", notify: [] }, onRemove) {
  const row = h("div", { class: "two level-row" });
  const wait = h("input", { class: "level-wait", value: level.wait, placeholder: "5m", "aria-label": "Wait" });
  const notify = h("input", { class: "level-notify", value: level.notify.join(", "), placeholder: "user:alice, team:db", "aria-label": "Targets" });
  row.append(
    h("div", {}, h("label", {}, "Wait"), wait),
    h("div", {}, h("label", {}, "Targets (user:, team:, schedule:, receiver:)"), notify, h("button", { type: "button", class: "secondary", onclick: () => onRemove(row) }, "Remove level")),
  );
  return row;
}

export function render(main, app) {
  const admin = app.may("admin");
  const listBox = h("div");
  main.append(h("h1", {}, "Escalation policies"), listBox);

  const name = h("input", { id: "policy-name", required: true, placeholder: "critical", autocomplete: "off" });
  const repeat = h("input", { id: "policy-repeat", type: "number", min: "0", max: "20", value: "0" });
  const ackTimeout = h("input", { id: "policy-ack", placeholder: "30m (optional)" });
  const levels = h("div", { id: "policy-levels" });
  const problems = h("ul", { id: "policy-problems", class: "hint" });
  const submit = h("button", { type: "submit" }, "Create policy");
  const cancel = h("button", { type: "button", class: "secondary", hidden: true }, "Cancel");
  const heading = h("h2", {}, "New policy");
  const remove = (row) => row.remove();
  const addLevel = (l) => levels.append(levelRow(l, remove));
  const form = h(
    "form",
    { class: "panel", id: "policy-form" },
    heading,
    h("div", { class: "two" }, h("div", {}, h("label", { for: "policy-name" }, "Name"), name), h("div", {}, h("label", { for: "policy-repeat" }, "Repeat (runs after the first)"), repeat)),
    h("label", { for: "policy-ack" }, "Acknowledgement timeout"),
    ackTimeout,
    levels,
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: "policy-add-level", onclick: () => addLevel() }, "Add level"), submit, cancel),
    problems,
  );
  if (admin) main.append(form);
  let editing = null;

  function reset() {
    editing = null;
    heading.textContent = "New policy";
    submit.textContent = "Create policy";
    cancel.hidden = true;
    name.disabled = false;
    name.value = "";
    repeat.value = "0";
    ackTimeout.value = "";
    clear(levels);
    clear(problems);
    addLevel();
  }

  function edit(p) {
    editing = p.name;
    heading.textContent = `Edit ${p.name}`;
    submit.textContent = "Save policy";
    cancel.hidden = false;
    name.value = p.name;
    name.disabled = true;
    repeat.value = String(p.repeat);
    ackTimeout.value = p.ack_timeout ?? "";
    clear(levels);
    clear(problems);
    p.levels.forEach((l) => addLevel(l));
    form.scrollIntoView({ block: "start" });
  }
  cancel.addEventListener("click", reset);

  function levelsCell(p) {
    return h(
      "ol",
      { class: "levels" },
      p.levels.map((l) => h("li", {}, h("span", { class: "hint" }, `after ${l.wait} `), h("span", { class: "chips" }, l.notify.map((t) => h("span", { class: "chip" }, t))))),
    );
  }

  async function load() {
    listBox.replaceChildren(loading());
    let v;
    try {
      v = await get("/v1/escalation-policies");
    } catch (e) {
      listBox.replaceChildren(failure(e, load));
      return;
    }
    clear(listBox);
    listBox.dataset.ready = "1";
    if (!v.policies.length) {
      listBox.append(empty("No escalation policies yet", "A policy pages people level after level until someone acknowledges."));
      return;
    }
    const rows = v.policies.map((p) => {
      const readOnly = p.origin === "config";
      const named = p.routes.length ? `named by ${p.routes.join(", ")}` : "";
      const actions = admin
        ? h(
            "td",
            {},
            h("button", { class: "secondary", disabled: readOnly, onclick: () => edit(p) }, "Edit"),
            h(
              "button",
              {
                class: "danger",
                disabled: readOnly || p.routes.length > 0,
                title: readOnly ? "declared in the configuration file: change it there" : named,
                onclick: async () => {
                  try {
                    await del(`/v1/escalation-policies/${encodeURIComponent(p.name)}`);
                    toast(`Policy ${p.name} deleted`);
                    if (editing === p.name) reset();
                  } catch (e) {
                    toast(`Delete refused: ${e.message}`, "error");
                  }
                  load();
                },
              },
              "Delete",
            ),
          )
        : h("td", {});
      const settings = [`repeat ${p.repeat}`, p.ack_timeout ? `ack timeout ${p.ack_timeout}` : null, named || null].filter(Boolean).join(" · ");
      return h(
        "tr",
        { "data-policy": p.name },
        h("td", {}, h("strong", {}, p.name), h("div", { class: "hint" }, settings)),
        h("td", {}, levelsCell(p)),
        h("td", {}, originBadge(p.origin)),
        actions,
      );
    });
    listBox.append(grid(["Name", "Levels", "Origin", ""], rows, ["Levels", "Origin"]));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(problems);
    const body = {
      repeat: Number(repeat.value || "0"),
      ack_timeout: ackTimeout.value.trim() || null,
      levels: [...levels.querySelectorAll(".level-row")].map((row) => ({
        wait: row.querySelector(".level-wait").value.trim() || "0s",
        notify: row
          .querySelector(".level-notify")
          .value.split(",")
          .map((t) => t.trim())
          .filter(Boolean),
      })),
    };
    try {
      if (editing) {
        await api("PUT", `/v1/escalation-policies/${encodeURIComponent(editing)}`, body);
        toast(`Policy ${editing} saved`);
      } else {
        body.name = name.value.trim();
        await post("/v1/escalation-policies", body);
        toast(`Policy ${body.name} created`);
      }
      reset();
      load();
    } catch (e) {
      toast(`Refused: ${e.message}`, "error");
      for (const p of e.details?.problems ?? []) problems.append(h("li", {}, `${p.field}: ${p.message}`));
    }
  });
  reset();
  load();
  return null;
}
