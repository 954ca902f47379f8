// Tokens (admin): the list from /v1/tokens (never a secret), a form that creates one and shows
// its secret once, and revocation, which ends the token's dashboard sessions at once.

import { get, post, del } from "./api.js";
import { h, clear, toast, failure, loading, fullTime, ago } from "./ui.js";
import { grid } from "./page-users.js";

export function render(main) {
  const listBox = h("div");
  const secretBox = h("div", { "aria-live": "polite" });
  const name = h("input", { id: "token-name", required: true, placeholder: "calendar-alice", autocomplete: "off" });
  const role = h("select", { id: "token-role" }, ["viewer", "responder", "admin", "ingest"].map((r) => h("option", { value: r }, r)));
  const user = h("input", { id: "token-user", placeholder: "alice (optional)" });
  const expires = h("input", { id: "token-expires", placeholder: "30d (optional)" });
  const form = h(
    "form",
    { class: "panel", id: "token-form" },
    h("h2", {}, "New token"),
    h("div", { class: "two" }, h("div", {}, h("label", { for: "token-name" }, "Name"), name), h("div", {}, h("label", { for: "token-role" }, "Role"), role)),
    h("div", { class: "two" }, h("div", {}, h("label", { for: "token-user" }, "User"), user), h("div", {}, h("label", { for: "token-expires" }, "Expires after"), expires)),
    h("p", { class: "hint" }, "A calendar app's feed URL needs a viewer token of its own: a URL travels through other servers, so give it no more than reading."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create token")),
  );
  main.append(h("h1", {}, "Tokens"), secretBox, listBox, form);

  async function load() {
    listBox.replaceChildren(loading());
    let v;
    try {
      v = await get("/v1/tokens");
    } catch (e) {
      listBox.replaceChildren(failure(e, load));
      return;
    }
    clear(listBox);
    listBox.dataset.ready = "1";
    const rows = v.tokens.map((t) =>
      h(
        "tr",
        { "data-token": String(t.id), "data-state": t.state },
        h("td", {}, h("strong", {}, t.name), h("div", { class: "hint" }, `#${t.id}`)),
        h("td", {}, h("span", { class: "badge" }, t.role)),
        h("td", {}, t.user ?? "–"),
        h("td", {}, h("span", { class: `badge token-${t.state}` }, t.state)),
        h("td", {}, fullTime(t.created_at), h("div", { class: "hint" }, `by ${t.created_by ?? "?"}`)),
        h("td", {}, t.expires_at ? fullTime(t.expires_at) : "never"),
        h("td", {}, t.last_used_at ? ago(t.last_used_at) : "never"),
        h(
          "td",
          {},
          t.state === "active"
            ? h(
                "button",
                {
                  class: "danger",
                  onclick: async () => {
                    try {
                      await del(`/v1/tokens/${t.id}`);
                      toast(`Token ${t.name} revoked`);
                    } catch (e) {
                      toast(`Revoke refused: ${e.message}`, "error");
                    }
                    load();
                  },
                },
                "Revoke",
              )
            : null,
        ),
      ),
    );
    listBox.append(grid(["Name", "Role", "User", "State", "Created", "Expires", "Last used", ""], rows, ["Role", "User", "State", "Created", "Expires", "Last used"]));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: name.value.trim(), role: role.value };
    if (user.value.trim()) body.user = user.value.trim();
    if (expires.value.trim()) body.expires = expires.value.trim();
    try {
      const made = await post("/v1/tokens", body);
      const field = h("input", { id: "token-secret", readonly: true, value: made.token, spellcheck: "false", class: "mono secret" });
      secretBox.replaceChildren(
        h(
          "section",
          { class: "panel secret-panel", role: "status" },
          h("h2", {}, `Token ${made.name} created`),
          h("p", {}, h("strong", {}, "Copy the secret now: it is shown only this once."), " klaxon keeps only its hash."),
          field,
          h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => secretBox.replaceChildren() }, "Done")),
        ),
      );
      field.select();
      name.value = "";
      user.value = "";
      expires.value = "";
      load();
    } catch (e) {
      toast(`Create refused: ${e.message}`, "error");
    }
  });
  load();
  return null;
}
