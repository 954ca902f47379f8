// On call: who is on call now on every schedule (/v1/oncall), and a two-week calendar of each
// schedule's shifts from the Monday of this week (/v1/oncall?schedule=...), in the browser's
// time zone. Responders cover a shift with an override (on declared schedules too); every
// schedule's iCalendar feed is named for calendar apps.

import { get, post, qs } from "./api.js";
import { h, clear, toast, empty, failure, loading, card, ms, fullTime } from "./ui.js";

const DAY = 86400000;
const DAYS = 14;

/** A stable hue per user, so a person keeps their colour across schedules. */
function hue(name) {
  let x = 0;
  for (const c of name) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return x % 360;
}

function hm(t) {
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/** Midnight of the Monday of this week, local time. */
function monday() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  d.setDate(d.getDate() - ((d.getDay() + 6) % 7));
  return d;
}

/** The local midnights of `n` days from `start` (daylight-saving days are 23 or 25 hours). */
function midnights(start, n) {
  const out = [];
  for (let i = 0; i <= n; i++) {
    const d = new Date(start);
    d.setDate(d.getDate() + i);
    out.push(d.getTime());
  }
  return out;
}

function userChip(user, text) {
  const el = h("span", { class: "shift", title: text ? `${user} ${text}` : user }, h("strong", {}, user), text ? ` ${text}` : "");
  el.style.setProperty("--hue", String(hue(user)));
  return el;
}

function calendar(name, shifts, days) {
  const today = new Date().toDateString();
  const head = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map((d) => h("div", { class: "cal-head" }, d));
  const cells = [];
  for (let i = 0; i < DAYS; i++) {
    const [from, until] = [days[i], days[i + 1]];
    const date = new Date(from);
    const inDay = shifts
      .map((s) => ({ user: s.user, start: Math.max(ms(s.start), from), end: Math.min(ms(s.end), until), override: s.source === "override" }))
      .filter((s) => s.start < s.end);
    const entries = inDay.map((s) => {
      // A shift that goes on from the day before, or into the next, is open at that end.
      const [opens, closes] = [s.start === from, s.end === until];
      const text = opens && closes ? "all day" : `${opens ? "" : hm(s.start)}–${closes ? "" : hm(s.end)}`;
      const chip = userChip(s.user, text);
      if (s.override) chip.classList.add("override");
      return chip;
    });
    cells.push(
      h(
        "div",
        { class: `cal-day${date.toDateString() === today ? " today" : ""}`, "data-date": date.toISOString().slice(0, 10) },
        h("div", { class: "cal-date" }, date.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" })),
        entries.length ? entries : h("span", { class: "hint" }, "nobody"),
      ),
    );
  }
  return h("div", { class: "calendar", "data-schedule": name, role: "list" }, head, cells);
}

export function render(main, app) {
  const nowBox = h("div", { class: "cards" });
  const calBox = h("div");
  const coverBox = h("div");
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  main.append(
    h("div", { class: "row" }, h("h1", { class: "grow" }, "On call"), h("button", { class: "secondary", onclick: () => load() }, "Refresh")),
    nowBox,
    h("h2", {}, "The next two weeks"),
    h("p", { class: "hint" }, `Times in your browser's time zone (${zone}); overrides are outlined.`),
    calBox,
    coverBox,
  );

  async function load() {
    nowBox.replaceChildren(loading());
    let list;
    try {
      list = await get("/v1/schedules");
    } catch (e) {
      nowBox.replaceChildren(failure(e, load));
      return;
    }
    const schedules = list.schedules;
    if (!schedules.length) {
      nowBox.replaceChildren(empty("No on-call schedules", "Declare [[schedules]] in the configuration file or create one with POST /v1/schedules."));
      clear(calBox).dataset.ready = "1";
      clear(coverBox);
      return;
    }
    let now;
    try {
      now = await get("/v1/oncall");
    } catch (e) {
      nowBox.replaceChildren(failure(e, load));
      return;
    }
    clear(nowBox).append(
      ...now.schedules.map((s) => {
        const c = card(s.schedule, s.user ?? "nobody", { cls: s.user ? "ok" : "bad", note: s.until ? `until ${fullTime(s.until)}` : s.time_zone });
        c.dataset.schedule = s.schedule;
        c.dataset.onCall = s.user ?? "";
        return c;
      }),
    );
    const start = monday();
    const days = midnights(start, DAYS);
    clear(calBox);
    for (const s of schedules) {
      const section = h("section", { class: "panel", "data-calendar": s.name }, h("div", { class: "row" }, h("h3", { class: "grow" }, s.name), h("span", { class: "hint" }, `${s.time_zone} · ${s.origin}`)));
      calBox.append(section);
      try {
        const v = await get(`/v1/oncall${qs({ schedule: s.name, at: new Date(days[0]).toISOString(), until: new Date(days[DAYS]).toISOString() })}`);
        section.append(calendar(s.name, v.shifts, days));
      } catch (e) {
        section.append(failure(e));
      }
      section.append(h("p", { class: "hint feed" }, "Calendar feed: ", h("code", {}, `${location.origin}/v1/feeds/schedules/${encodeURIComponent(s.name)}?token=VIEWER_TOKEN`)));
    }
    calBox.dataset.ready = "1";
    cover(schedules);
  }

  function cover(schedules) {
    const may = app.may("respond");
    const schedule = h("select", { id: "cover-schedule" }, schedules.map((s) => h("option", { value: s.name }, s.name)));
    const user = h("input", { id: "cover-user", required: true, placeholder: "alice" });
    const start = h("input", { id: "cover-start", type: "datetime-local", required: true });
    const end = h("input", { id: "cover-end", type: "datetime-local", required: true });
    const form = h(
      "form",
      { class: "panel", id: "cover-form" },
      h("h2", {}, "Cover a shift"),
      h("p", { class: "hint" }, "An override puts someone on call from start to end, over every layer; overrides never overlap."),
      h("div", { class: "two" }, h("div", {}, h("label", { for: "cover-schedule" }, "Schedule"), schedule), h("div", {}, h("label", { for: "cover-user" }, "Who covers"), user)),
      h("div", { class: "two" }, h("div", {}, h("label", { for: "cover-start" }, "From"), start), h("div", {}, h("label", { for: "cover-end" }, "To"), end)),
      h("div", { class: "actions" }, h("button", { type: "submit", disabled: !may }, "Add override")),
      may ? null : h("p", { class: "hint" }, `Your role (${app.session.role}) may only read.`),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await post(`/v1/schedules/${encodeURIComponent(schedule.value)}/overrides`, {
          user: user.value.trim(),
          start: new Date(start.value).toISOString(),
          end: new Date(end.value).toISOString(),
        });
        toast(`${user.value.trim()} covers ${schedule.value}`);
        load();
      } catch (e) {
        toast(`Override refused: ${e.message}`, "error");
      }
    });
    coverBox.replaceChildren(form);
  }

  load();
  return null;
}
