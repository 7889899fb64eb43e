// What every page of the console uses: the JSON API (cookie session, CSRF header on writes),
// building DOM nodes (text only: no markup from data), formatting and the page's filters.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the API answered ${status}`);
    this.status = status;
    this.code = error.code || "";
    this.fields = error.fields || [];
    this.field = this.fields.map((f) => `${f.path}: ${f.message}`).join("; ");
  }
}

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== "") search.append(name, one);
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// The API with the session cookie; a write carries the CSRF token only this origin can read.
export async function api(path, { method = "GET", params, json, body, type } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("cc_csrf");
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (type) {
    headers["Content-Type"] = type;
  }
  const response = await fetch(path + query(params), {
    method, headers, body, credentials: "same-origin",
  });
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, answer);
    if (response.status === 401 && path !== "/v1/auth/session") {
      window.dispatchEvent(new CustomEvent("signed-out"));
    }
    throw error;
  }
  return answer;
}

// h("p", {class: "x"}, "text", child): attributes, then children (strings become text nodes)
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const integer = (n) => Number(n || 0).toLocaleString("en");

export function duration(seconds) {
  const s = Math.round(Number(seconds || 0));
  const hours = Math.floor(s / 3600), minutes = Math.floor((s % 3600) / 60);
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  if (minutes) return `${minutes} min ${String(s % 60).padStart(2, "0")} s`;
  return `${s} s`;
}

// Every time a person reads is in the company's zone (set once signed in), as ISO-like
// "2026-03-02 14:05"; each page says which zone (zoneNote).
let zone = "UTC";
export function setZone(name) {
  zone = name || "UTC";
}
export const companyZone = () => zone;

function parts(date, withTime) {
  const options = { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" };
  if (withTime) Object.assign(options, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const found = {};
  for (const part of new Intl.DateTimeFormat("en-GB", options).formatToParts(date)) found[part.type] = part.value;
  return found;
}

export function when(iso) {
  if (!iso) return "—";
  const p = parts(new Date(iso), true);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

// "2026-03-02 14:05" read as the company's wall clock -> the instant with its offset (RFC 3339),
// as the API wants it; null when the text is not such a time
export function zonedInstant(text) {
  const found = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})$/.exec(text.trim());
  if (!found) return null;
  const [year, month, day, hour, minute] = found.slice(1).map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let instant = wall;
  for (let i = 0; i < 2; i += 1) {  // the zone's offset at that instant (twice: across a DST change)
    const p = parts(new Date(instant), true);
    const shown = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute));
    instant += wall - shown;
  }
  return new Date(instant).toISOString().replace(".000Z", "Z");
}

// "Times in Asia/Kolkata (UTC+05:30)": the zone every time on the page is shown in
export function zoneNote() {
  const offset = new Intl.DateTimeFormat("en-GB", { timeZone: zone, timeZoneName: "longOffset" })
    .formatToParts(new Date()).find((p) => p.type === "timeZoneName").value.replace("GMT", "UTC");
  return `Times in ${zone} (${offset === "UTC" ? "UTC+00:00" : offset}), the company's time zone.`;
}

// A masked number is text; a revealed one (E.164) is a link that dials it.
export function phone(number) {
  if (!number) return "—";
  return /^\+\d+$/.test(number) ? h("a", { href: `tel:${number}` }, number) : number;
}

// Dates as the company's calendar has them (not the browser's): today there, n days before it
export function daysAgo(n) {
  const p = parts(new Date(), false);
  const date = new Date(Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day) - n));
  return date.toISOString().slice(0, 10);
}

// Runs a write and says how it went (in the live region); answers null when it failed.
export async function attempt(what, write) {
  try {
    const answer = await write();
    say(what, "ok");
    return answer === null ? true : answer;
  } catch (error) {
    say(errorText(error), "error");
    return null;
  }
}

export function say(message, kind = "info") {
  const status = document.getElementById("status");
  status.className = kind;
  status.textContent = message;
}

// What went wrong, in words a manager understands (the API's code stays in data-code for
// support); the API's own message when there is no better one.
const PLAIN = {
  invalid_credentials: "The email or the password is wrong.",
  otp_required: "Enter the 6-digit code your authenticator app shows (two-factor sign-in is on).",
  too_many_requests: "Too many attempts: wait a few minutes, then try again.",
  forbidden: "Your role does not allow this.",
  team_limited: "This covers every team, so only users without a team limit can do it.",
  plan_required: "This needs the plan with leads (basic_lead).",
  subscription_inactive: "The subscription has ended: the owner can reactivate it on the Company page.",
  mail_unavailable: "This server cannot send email: ask your administrator to set it up.",
  busy: "The server is busy: try again in a moment.",
  csrf_failed: "This page is out of date: reload it and try again.",
};

export function errorText(error) {
  if (PLAIN[error.code]) return PLAIN[error.code];
  if (error.status === 422 && error.fields.length) {
    return error.fields.map((f) => `${f.path.replace(/_/g, " ")}: ${f.message}`).join("; ");
  }
  if (!error.status) return "The server cannot be reached: check the connection and try again.";
  return error.message.charAt(0).toUpperCase() + error.message.slice(1);
}

// "Download CSV · XLSX" of what a table shows: the same route and filters, as a file
export function downloads(path, params, what) {
  const link = (format) => h("a", {
    href: path + query({ ...params, cursor: undefined, format }), download: "", class: `download ${format}`,
    "aria-label": `Download ${what} as ${format.toUpperCase()}`,
  }, format.toUpperCase());
  return h("p", { class: "downloads" }, "Download: ", link("csv"), " · ", link("xlsx"));
}

// A labelled control: every input of the console has a visible label.
export function field(label, control) {
  const id = control.id || `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

export function select(name, options, chosen) {
  return h(
    "select", { name },
    options.map(([value, label]) => h("option", { value, selected: value === chosen }, label)),
  );
}

// A table from rows and column definitions {label, value(row) -> node|text, sort?(row)}.
// Columns with `sort` get buttons that order the rows (aria-sort tells screen readers).
export function table(columns, rows, { caption, empty = "Nothing in this range.", rowClass } = {}) {
  const body = h("tbody");
  let order = { column: -1, ascending: true };
  const headers = columns.map((column, index) => {
    if (!column.sort) return h("th", { scope: "col" }, column.label);
    const button = h("button", { type: "button", class: "sort" }, column.label);
    const th = h("th", { scope: "col", "aria-sort": "none" }, button);
    button.addEventListener("click", () => {
      order = { column: index, ascending: order.column === index ? !order.ascending : false };
      headers.forEach((other) => other.getAttribute("aria-sort") && other.setAttribute("aria-sort", "none"));
      th.setAttribute("aria-sort", order.ascending ? "ascending" : "descending");
      fill();
    });
    return th;
  });
  function fill() {
    const shown = [...rows];
    if (order.column >= 0) {
      const key = columns[order.column].sort;
      shown.sort((a, b) => {
        const x = key(a), y = key(b);
        const compared = typeof x === "string" ? x.localeCompare(y) : x - y;
        return order.ascending ? compared : -compared;
      });
    }
    body.replaceChildren(
      ...(shown.length
        ? shown.map((row) => h("tr", { class: rowClass && rowClass(row) }, columns.map((c) => h("td", { "data-label": c.label }, c.value(row)))))
        : [h("tr", null, h("td", { colspan: columns.length, class: "empty" }, empty))]),
    );
  }
  fill();
  return h(
    "div", { class: "table-wrap" },
    h("table", null, caption ? h("caption", null, caption) : null, h("thead", null, h("tr", null, headers)), body),
  );
}

// The page's filters live in the URL (#/page?from=...), so a reload or a link keeps them.
export function hashParams() {
  const [, search = ""] = location.hash.split("?");
  return new URLSearchParams(search);
}

export function setHashParams(params) {
  const [page] = location.hash.split("?");
  location.hash = `${page}${query(params)}`;
}

let employeesCache = null;
export async function employees() {
  if (!employeesCache) employeesCache = (await api("/v1/employees")).items;
  return employeesCache;
}
export function forgetEmployees() {
  employeesCache = null;
}

export function nameOf(list, id) {
  const found = list.find((e) => e.id === id);
  return found ? found.name : id;
}

// A day as ISO (YYYY-MM-DD), the way every date in the console is written: a date input
// would show the browser's own format (11/27/2026) beside ISO dates
function dayInput(name, value) {
  return h("input", {
    type: "text", name, value, required: true, inputmode: "numeric", size: 10, maxlength: 10,
    pattern: "\\d{4}-\\d{2}-\\d{2}", placeholder: "YYYY-MM-DD", title: "a date as YYYY-MM-DD",
  });
}

// The usual ranges, as the company's calendar has them
function monthStart(monthsBack) {
  const [year, month] = daysAgo(0).split("-").map(Number);
  const date = new Date(Date.UTC(year, month - 1 - monthsBack, 1));
  return date.toISOString().slice(0, 10);
}
function dayBefore(iso) {
  const date = new Date(`${iso}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - 1);
  return date.toISOString().slice(0, 10);
}
const PRESETS = [
  ["Today", () => [daysAgo(0), daysAgo(0)]],
  ["Yesterday", () => [daysAgo(1), daysAgo(1)]],
  ["Last 7 days", () => [daysAgo(6), daysAgo(0)]],
  ["This month", () => [monthStart(0), daysAgo(0)]],
  ["Last month", () => [monthStart(1), dayBefore(monthStart(0))]],
];

// Range and team/employee filters: the API's `from`, `to` (local dates, inclusive) and
// `employee_id` (a team is the ids of its employees).
export async function rangeFilters(extra = [], { people = true } = {}) {
  const params = hashParams();
  const staff = people ? await employees() : [];
  const teams = [...new Set(staff.map((e) => e.team).filter(Boolean))].sort();
  const from = dayInput("from", params.get("from") || daysAgo(6));
  const to = dayInput("to", params.get("to") || daysAgo(0));
  const team = select("team", [["", "All teams"], ...teams.map((t) => [t, t])], params.get("team") || "");
  const employee = select(
    "employee_id", [["", "All employees"], ...staff.map((e) => [e.id, e.name])], params.get("employee_id") || "",
  );
  const presets = h("div", { class: "presets", role: "group", "aria-label": "Range" },
    PRESETS.map(([name, range]) => h("button", {
      type: "button", class: "preset", onclick: () => {
        [from.value, to.value] = range();
        form.requestSubmit();
      },
    }, name)));
  const form = h(
    "form", { class: "filters", "aria-label": "Filters" },
    presets,
    field("From", from), field("To", to), people ? [field("Team", team), field("Employee", employee)] : null,
    extra.map(([label, control]) => field(label, control)),
    h("button", { type: "submit" }, "Show"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    setHashParams(values);
  });
  const chosen = Object.fromEntries(new FormData(form));
  let ids = chosen.employee_id ? [chosen.employee_id] : [];
  if (!ids.length && chosen.team) ids = staff.filter((e) => e.team === chosen.team).map((e) => e.id);
  const filter = people ? { from: chosen.from, to: chosen.to, employee_id: ids } : { from: chosen.from, to: chosen.to };
  for (const [, control] of extra) filter[control.name] = chosen[control.name];
  return { form, filter, staff };
}

// "Next page" over a cursor-paged list: `load(cursor)` answers {items, next_cursor}.
export function pager(load, render) {
  const area = h("div");
  const more = h("button", { type: "button", class: "more" }, "Next page");
  const trail = [null];
  const back = h("button", { type: "button", class: "more" }, "Previous page");
  async function show(index) {
    const page = await load(trail[index]);
    area.replaceChildren(render(page));
    if (page.next_cursor) trail[index + 1] = page.next_cursor;
    more.hidden = !page.next_cursor;
    more.onclick = () => show(index + 1);
    back.hidden = index === 0;
    back.onclick = () => show(index - 1);
    return page;
  }
  return { node: h("div", null, area, h("p", { class: "paging" }, back, more)), first: () => show(0) };
}
