// Users (admin): the list from /v1/users with time zones, contacts and where each was made
// (the configuration file's are read-only), a form that creates one, and deletion.

import { get, post, del } from "./api.js";
import { h, clear, toast, empty, failure, loading, labelCells } from "./ui.js";

/** A contact as the CLI writes it: `kind:value`. */
export function contactText(c) {
  return `${c.kind}:${c.to ?? c.target ?? c.url ?? c.routing_key ?? ""}`;
}

/** A table with a header row, stacking its cells at phone width. */
export function grid(columns, rows, labelled) {
  return labelCells(
    h("table", { class: "plain stack" }, h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)),
    labelled,
  );
}

export function originBadge(origin) {
  return h("span", { class: `badge origin-${origin}`, title: origin === "config" ? "declared in the configuration file: change it there" : "made through the API" }, origin);
}

export function render(main, app) {
  const listBox = h("div");
  const name = h("input", { id: "user-name", required: true, placeholder: "alice", autocomplete: "off" });
  const zone = h("input", { id: "user-tz", required: true, value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
  const email = h("input", { id: "user-email", type: "email", placeholder: "alice@example.com" });
  const form = h(
    "form",
    { class: "panel", id: "user-form" },
    h("h2", {}, "New user"),
    h("div", { class: "two" }, h("div", {}, h("label", { for: "user-name" }, "Name"), name), h("div", {}, h("label", { for: "user-tz" }, "Time zone"), zone)),
    h("label", { for: "user-email" }, "E-mail (also a contact)"),
    email,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create user")),
  );
  main.append(h("h1", {}, "Users"), listBox, form);

  async function load() {
    listBox.replaceChildren(loading());
    let v;
    try {
      v = await get("/v1/users");
    } catch (e) {
      listBox.replaceChildren(failure(e, load));
      return;
    }
    clear(listBox);
    listBox.dataset.ready = "1";
    if (!v.users.length) {
      listBox.append(empty("No users yet", "Users are the people klaxon pages: each has a time zone and contacts."));
      return;
    }
    const rows = v.users.map((u) =>
      h(
        "tr",
        { "data-user": u.name },
        h("td", {}, h("strong", {}, u.name), u.display_name ? h("div", { class: "hint" }, u.display_name) : null),
        h("td", {}, u.time_zone),
        h("td", {}, u.contacts.length ? h("div", { class: "chips" }, u.contacts.map((c) => h("code", { class: "chip" }, contactText(c)))) : h("span", { class: "hint" }, "none")),
        h("td", {}, originBadge(u.origin)),
        h(
          "td",
          {},
          h(
            "button",
            {
              class: "danger",
              disabled: u.origin === "config",
              onclick: async () => {
                try {
                  await del(`/v1/users/${encodeURIComponent(u.name)}`);
                  toast(`User ${u.name} deleted`);
                } catch (e) {
                  toast(`Delete refused: ${e.message}`, "error");
                }
                load();
              },
            },
            "Delete",
          ),
        ),
      ),
    );
    listBox.append(grid(["Name", "Time zone", "Contacts", "Origin", ""], rows, ["Time zone", "Contacts", "Origin"]));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: name.value.trim(), time_zone: zone.value.trim() };
    if (email.value.trim()) {
      body.email = email.value.trim();
      body.contacts = [{ kind: "email", to: body.email }];
    }
    try {
      await post("/v1/users", body);
      toast(`User ${body.name} created`);
      name.value = "";
      email.value = "";
      load();
    } catch (e) {
      toast(`Create refused: ${e.message}`, "error");
    }
  });
  load();
  return null;
}
