// Teams (admin): the list from /v1/teams with their members in order, a form that creates one
// of existing users, and deletion (the configuration file's are read-only).

import { get, post, del } from "./api.js";
import { h, clear, toast, empty, failure, loading } from "./ui.js";
import { grid, originBadge } from "./page-users.js";

export function render(main) {
  const listBox = h("div");
  const name = h("input", { id: "team-name", required: true, placeholder: "db", autocomplete: "off" });
  const members = h("input", { id: "team-members", placeholder: "alice, bob" });
  const form = h(
    "form",
    { class: "panel", id: "team-form" },
    h("h2", {}, "New team"),
    h("div", { class: "two" }, h("div", {}, h("label", { for: "team-name" }, "Name"), name), h("div", {}, h("label", { for: "team-members" }, "Members (user names, in order)"), members)),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create team")),
  );
  main.append(h("h1", {}, "Teams"), listBox, form);

  async function load() {
    listBox.replaceChildren(loading());
    let v;
    try {
      v = await get("/v1/teams");
    } catch (e) {
      listBox.replaceChildren(failure(e, load));
      return;
    }
    clear(listBox);
    listBox.dataset.ready = "1";
    if (!v.teams.length) {
      listBox.append(empty("No teams yet", "A team holds users, so that a page can go to all of them."));
      return;
    }
    const rows = v.teams.map((t) =>
      h(
        "tr",
        { "data-team": t.name },
        h("td", {}, h("strong", {}, t.name)),
        h("td", {}, t.members.length ? h("div", { class: "chips" }, t.members.map((m) => h("span", { class: "chip" }, m))) : h("span", { class: "hint" }, "no members")),
        h("td", {}, originBadge(t.origin)),
        h(
          "td",
          {},
          h(
            "button",
            {
              class: "danger",
              disabled: t.origin === "config",
              onclick: async () => {
                try {
                  await del(`/v1/teams/${encodeURIComponent(t.name)}`);
                  toast(`Team ${t.name} deleted`);
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
    listBox.append(grid(["Name", "Members", "Origin", ""], rows, ["Members", "Origin"]));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: name.value.trim(), members: members.value.split(",").map((m) => m.trim()).filter(Boolean) };
    try {
      await post("/v1/teams", body);
      toast(`Team ${body.name} created`);
      name.value = "";
      members.value = "";
      load();
    } catch (e) {
      toast(`Create refused: ${e.message}`, "error");
    }
  });
  load();
  return null;
}
