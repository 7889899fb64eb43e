// The report pages: dashboard, the two callback lists, call history, working hours. Each shows
// what the report API answers for the filters in the URL, nothing computed here.
import { api, downloads, duration, errorText, h, hashParams, integer, nameOf, pager, phone, rangeFilters, say, select, table, when } from "./lib.js";

const TYPES = ["incoming", "outgoing", "missed", "rejected", "voicemail", "blocked", "answered_externally"];
const COLOURS = {
  incoming: "#2f6fb0", outgoing: "#3c8d5a", missed: "#c2452d", rejected: "#8a4fa8",
  voicemail: "#b08a2f", blocked: "#555f6b", answered_externally: "#2f9aa0",
};
const label = (type) => type.replace("_", " ");

const TILES = [
  ["total_calls", "Calls", integer],
  ["connected", "Connected", integer],
  ["talk_time_s", "Talk time", duration],
  ["unique_clients", "Unique clients", integer],
  ["never_attended", "Never attended", integer],
  ["not_picked_up", "Not picked up", integer],
  ["working_s", "Working time", duration],
];

// Tiles of totals; `data-value` holds the API's number as answered.
function tiles(definitions, values, title) {
  return h(
    "ul", { class: "tiles", "aria-label": title },
    definitions.map(([name, text, format]) => h(
      "li", { class: "tile", "data-metric": name, "data-value": values[name] },
      h("span", { class: "tile-label" }, text), h("strong", null, format(values[name])),
    )),
  );
}

const TEAM_TILES = [
  ["employee_days", "Employee-days", integer],
  ["working_s", "Working time", duration],
  ["mean_working_s", "Mean per employee-day", duration],
  ["talk_time_s", "Talk time", duration],
];

let chartLibrary = null;
function loadCharts() {  // Chart.js only where a chart is drawn
  chartLibrary ||= new Promise((resolve, reject) => {
    const script = h("script", { src: "/console/assets/vendor/chart.umd.js" });
    script.onload = () => resolve(window.Chart);
    script.onerror = () => reject(new Error("the chart library did not load"));
    document.head.append(script);
  });
  return chartLibrary;
}

// A chart (once loadCharts resolved) with its numbers as a table, for screen readers and copying.
function chart(title, labels, datasets, stacked) {
  const canvas = h("canvas", { role: "img", "aria-label": title });
  const figure = h(
    "figure", { class: "chart" }, h("figcaption", null, title), h("div", { class: "canvas-box" }, canvas),
    h("details", null, h("summary", null, "As a table"), table(
      [{ label: "", value: (row) => row.label }, ...datasets.map((d) => ({ label: d.label, value: (row) => integer(row[d.label]) }))],
      labels.map((text, i) => Object.fromEntries([["label", text], ...datasets.map((d) => [d.label, d.data[i]])])),
    )),
  );
  new window.Chart(canvas, {
    type: "bar",
    data: { labels, datasets },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: { x: { stacked }, y: { stacked, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
    },
  });
  return figure;
}

function byDay(series) {
  const used = TYPES.filter((type) => series.some((bucket) => bucket[type] > 0));
  return chart(
    "Calls per day by type", series.map((b) => String(b.bucket)),
    used.map((type) => ({ label: label(type), data: series.map((b) => b[type]), backgroundColor: COLOURS[type] })),
    true,
  );
}

function byHour(series) {
  const counts = Array(24).fill(0);
  for (const bucket of series) counts[Number(bucket.bucket)] = bucket.total_calls;
  return chart(
    "Calls by hour of day", counts.map((_, hour) => `${String(hour).padStart(2, "0")}:00`),
    [{ label: "calls", data: counts, backgroundColor: COLOURS.incoming }], false,
  );
}

function employeeTable(rows) {
  return table(
    [
      { label: "Employee", value: (r) => r.name, sort: (r) => r.name },
      { label: "Team", value: (r) => r.team || "—", sort: (r) => r.team || "" },
      { label: "Calls", value: (r) => integer(r.total_calls), sort: (r) => r.total_calls },
      { label: "Connected", value: (r) => integer(r.connected), sort: (r) => r.connected },
      { label: "Missed", value: (r) => integer(r.missed), sort: (r) => r.missed },
      { label: "Talk time", value: (r) => duration(r.talk_time_s), sort: (r) => r.talk_time_s },
      { label: "Unique clients", value: (r) => integer(r.unique_clients), sort: (r) => r.unique_clients },
      { label: "Working time", value: (r) => duration(r.working_s), sort: (r) => r.working_s },
      { label: "Last call", value: (r) => when(r.last_call_at), sort: (r) => r.last_call_at || "" },
    ],
    rows, { caption: "Employees" },
  );
}

export async function dashboard({ me, may }) {
  const { form, filter } = await rangeFilters();
  const [summary, days, hours, staff, late] = await Promise.all([  // with the chart library meanwhile
    api("/v1/reports/summary", { params: filter }),
    api("/v1/reports/analytics", { params: { ...filter, group_by: "day", unique_clients: false } }),
    api("/v1/reports/analytics", { params: { ...filter, group_by: "hour_of_day", unique_clients: false } }),
    api("/v1/reports/employees", { params: filter }),
    me.company.plan === "basic_lead" ? import("./leads.js").then((leads) => leads.overdueFollowups(may)) : null,
    loadCharts(),
  ]);
  return h(
    "div", null, form, tiles(TILES, summary, "Totals"), late,
    h("div", { class: "charts" }, byDay(days.series), byHour(hours.series)),
    employeeTable(staff.items), downloads("/v1/reports/employees", filter, "the employees table"),
  );
}

// "Reveal numbers" for admins and owners only (the API refuses the others with 403).
function revealControl(may, reveal) {
  if (!may("admin")) return null;
  const button = h("button", { type: "button", class: "reveal" }, "Reveal numbers");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await reveal();
    } catch (error) {
      say(errorText(error), "error");
      button.disabled = false;
    }
  });
  return h("p", { class: "actions" }, button, h("span", { class: "help" }, " Each reveal is recorded in the audit log."));
}

// Never attended / not picked up: a client per row, newest first; admins may reveal numbers
// (the API records each reveal in the audit log).
function clientList(path, columns, { may }, extra = []) {
  return async () => {
    const { form, filter, staff } = await rangeFilters(extra);
    let reveal = false;
    const list = pager(
      (cursor) => api(path, { params: { ...filter, cursor, reveal: reveal || undefined } }),
      (page) => table(
        [
          { label: "Number", value: (r) => phone(r.number) },
          { label: "Name", value: (r) => r.name || "—" },
          ...columns,
          {
            label: path.endsWith("/customers") ? "Last employee" : "Employees",
            value: (r) => (r.employee_ids || [r.last_employee_id]).filter(Boolean).map((id) => nameOf(staff, id)).join(", ") || "—",
          },
        ],
        page.items, { empty: "No client in this range." },
      ),
    );
    await list.first();
    return h("div", null, form, revealControl(may, () => { reveal = true; return list.first(); }),
      downloads(path, filter, "this list"), list.node);
  };
}

// A missed call counts as attended when someone connected with the client within this window
const WINDOWS = [["", "Ever (in the range)"], ["1", "Within 1 hour"], ["4", "Within 4 hours"], ["24", "Within 24 hours"], ["48", "Within 48 hours"]];

export const neverAttended = (context) => clientList("/v1/reports/never-attended", [
  { label: "Missed", value: (r) => integer(r.missed_count) },
  { label: "Last missed", value: (r) => when(r.last_missed_at) },
], context, [["Called back", select("callback_within_h", WINDOWS, hashParams().get("callback_within_h") || "")]])();

export const customers = (context) => clientList("/v1/reports/customers", [
  { label: "Calls", value: (r) => integer(r.total_calls) },
  { label: "Connected", value: (r) => integer(r.connected) },
  { label: "Talk time", value: (r) => duration(r.talk_time_s) },
  { label: "First call", value: (r) => when(r.first_call_at) },
  { label: "Last call", value: (r) => when(r.last_call_at) },
], context)();

export const notPickedUp = (context) => clientList("/v1/reports/not-picked-up", [
  { label: "Attempts", value: (r) => integer(r.attempts) },
  { label: "Last attempt", value: (r) => when(r.last_attempt_at) },
], context)();

export async function callHistory({ may }) {
  const params = hashParams();
  const type = select("type", [["", "Every type"], ...TYPES.map((t) => [t, label(t)])], params.get("type") || "");
  const number = h("input", { type: "search", name: "number", inputmode: "tel", value: params.get("number") || "" });
  const { form, filter, staff } = await rangeFilters([["Type", type], ["Number", number]]);
  const { number: _number, ...summed } = filter;  // the summary has no number filter
  const totals = filter.number ? null : await api("/v1/reports/summary", { params: summed });
  let reveal = false;
  const list = pager(
    (cursor) => api("/v1/calls", { params: { ...filter, cursor, limit: 50, reveal: reveal || undefined } }),
    (page) => table(
      [
        { label: "Started", value: (c) => when(c.started_at) },
        { label: "Employee", value: (c) => nameOf(staff, c.employee_id) },
        { label: "Type", value: (c) => label(c.type) },
        { label: "Number", value: (c) => phone(c.number) },
        { label: "Name", value: (c) => c.name || "—" },
        { label: "Duration", value: (c) => duration(c.duration_s) },
        { label: "Note", value: (c) => c.note || "" },
      ],
      page.items, { empty: "No call matches." },
    ),
  );
  await list.first();
  const total = totals && h("p", { class: "totals" },
    `${integer(totals.total_calls)} calls, ${integer(totals.connected)} connected, talk time ${duration(totals.talk_time_s)}, ${integer(totals.unique_clients)} clients in this range.`);
  return h("div", null, form, total, revealControl(may, () => { reveal = true; return list.first(); }),
    downloads("/v1/calls", { ...filter, limit: 1000 }, "this page of calls (up to 1,000)"), list.node);
}

export async function workingHours() {
  const { form, filter, staff } = await rangeFilters();
  let team = null;
  const list = pager(
    async (cursor) => {
      const page = await api("/v1/reports/working-hours", { params: { ...filter, cursor } });
      team = page.team;
      return page;
    },
    (page) => table(
      [
        { label: "Day", value: (d) => d.day },
        { label: "Employee", value: (d) => nameOf(staff, d.employee_id) },
        { label: "First activity", value: (d) => when(d.first_activity_at) },
        { label: "Last activity", value: (d) => when(d.last_activity_at) },
        { label: "Working time", value: (d) => duration(d.working_s) },
        { label: "Talk time", value: (d) => duration(d.talk_time_s) },
        { label: "Activity calls", value: (d) => integer(d.activity_calls) },
      ],
      page.items,
    ),
  );
  await list.first();
  return h("div", null, form, tiles(TEAM_TILES, team, "Team totals"),
    downloads("/v1/reports/working-hours", { ...filter, limit: 1000 }, "working hours"), list.node);
}
