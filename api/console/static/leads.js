// Leads: lists by status, assignment, and a CSV import checked by a dry run before anything is
// written (the API's own dry run: the same answer the import would give, nothing stored).
import { api, attempt, downloads, duration, errorText, field, h, hashParams, integer, nameOf, pager, phone, employees, rangeFilters, say, select, table, when, zonedInstant } from "./lib.js";

const STATUSES = [["", "Every status"], ["new", "New"], ["attempted", "Attempted"], ["connected", "Connected"]];

function leadName(lead) {
  return [lead.first_name, lead.last_name].filter(Boolean).join(" ") || lead.company || "—";
}

function assignment(lead, staff, may) {
  if (!may("manager")) return nameOf(staff, lead.employee_id) || "—";
  const choice = select(
    "employee_id", [["", "Unassigned"], ...staff.filter((e) => !e.archived_at).map((e) => [e.id, e.name])], lead.employee_id || "",
  );
  choice.setAttribute("aria-label", `Employee for ${leadName(lead)}`);
  choice.addEventListener("change", () => attempt(
    `${leadName(lead)} assigned.`,
    () => api(`/v1/leads/${lead.id}`, { method: "PATCH", json: { employee_id: choice.value || null } }),
  ));
  return choice;
}

function importForm(onImported) {
  const csv = h("textarea", { name: "csv", rows: 6, spellcheck: "false", placeholder: "name,phone,email\nAsha Rao,98450 12345,asha@example.com" });
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv" });
  file.addEventListener("change", async () => {
    if (file.files[0]) csv.value = await file.files[0].text();
    confirm.disabled = true;
  });
  csv.addEventListener("input", () => { confirm.disabled = true; });
  const assign = select("assign", [["round_robin", "Round robin"], ["least_loaded", "Least loaded"], ["none", "Leave unassigned"]], "round_robin");
  const duplicates = select("on_duplicate", [["skip", "Skip leads we have"], ["update", "Update leads we have"]], "skip");
  const result = h("div", { class: "import-result", "aria-live": "polite" });
  const check = h("button", { type: "submit", name: "dry_run" }, "Check (dry run)");
  const confirm = h("button", { type: "button", class: "confirm-import", disabled: true }, "Import");
  const send = (dryRun) => api("/v1/leads/import", {
    method: "POST", type: "text/csv", body: csv.value,
    params: { dry_run: dryRun, assign: assign.value, on_duplicate: duplicates.value },
  });
  function show(answer, dryRun) {
    result.replaceChildren(
      h("p", { class: "counts" }, `${dryRun ? "Would create" : "Created"} ${answer.created}, ${dryRun ? "update" : "updated"} ${answer.updated}, skip${dryRun ? "" : "ped"} ${answer.skipped}; ${answer.errors.length} rows with errors.`),
      answer.errors.length ? table(
        [{ label: "Row", value: (e) => e.row }, { label: "Problems", value: (e) => e.errors.map((p) => `${p.path}: ${p.message}`).join("; ") }],
        answer.errors, { caption: "Rows with errors (not imported)" },
      ) : null,
    );
  }
  const form = h(
    "form", { class: "import", "aria-labelledby": "import-title" },
    h("h2", { id: "import-title" }, "Import leads from CSV"),
    field("CSV (header row first)", csv), field("Or a file", file),
    h("div", { class: "row" }, field("Assign", assign), field("Numbers we have", duplicates)),
    h("p", { class: "actions" }, check, " ", confirm),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      show(await send(true), true);
      confirm.disabled = false;
    } catch (error) {
      result.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(error)));
    }
  });
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      show(await send(false), false);
      say("Leads imported.", "ok");
      await onImported();
    } catch (error) {
      result.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(error)));
    }
  });
  return form;
}

export async function leads({ may }) {
  const staff = await employees();
  const status = select("status", STATUSES, "");
  const q = h("input", { type: "search", name: "q" });
  const filters = h("form", { class: "filters", "aria-label": "Lead filters" }, field("Status", status), field("Search", q), h("button", { type: "submit" }, "Show"));
  const list = pager(
    (cursor) => api("/v1/leads", { params: { status: status.value, q: q.value, cursor, limit: 50 } }),
    (page) => table(
      [
        { label: "Lead", value: (l) => h("a", { href: `#/lead?id=${l.id}` }, leadName(l)) },
        { label: "Number", value: (l) => phone(l.primary_number) },
        { label: "Status", value: (l) => h("span", { class: `badge ${l.status}` }, l.status) },
        { label: "Employee", value: (l) => assignment(l, staff, may) },
        { label: "Calls", value: (l) => integer(l.calls) },
        { label: "Last call", value: (l) => when(l.last_call_at) },
      ],
      page.items, { empty: "No lead matches." },
    ),
  );
  filters.addEventListener("submit", (event) => { event.preventDefault(); list.first(); });
  await list.first();
  return h("div", null, may("manager") ? importForm(list.first) : null, h("h2", null, "Leads"), filters,
    downloads("/v1/leads", { limit: 1000 }, "leads (up to 1,000)"), list.node);
}

// The leads report: per employee, the leads assigned now by status, and the calls with them.
export async function leadsReport() {
  const { form, filter } = await rangeFilters();
  const { items } = await api("/v1/reports/leads", { params: filter });
  return h(
    "div", null, form,
    table(
      [
        { label: "Employee", value: (r) => r.name, sort: (r) => r.name },
        { label: "Assigned", value: (r) => integer(r.assigned), sort: (r) => r.assigned },
        { label: "New", value: (r) => integer(r.new), sort: (r) => r.new },
        { label: "Attempted", value: (r) => integer(r.attempted), sort: (r) => r.attempted },
        { label: "Connected", value: (r) => integer(r.connected), sort: (r) => r.connected },
        { label: "Calls", value: (r) => integer(r.calls), sort: (r) => r.calls },
        { label: "Connected calls", value: (r) => integer(r.connected_calls), sort: (r) => r.connected_calls },
        { label: "Talk time", value: (r) => duration(r.talk_time_s), sort: (r) => r.talk_time_s },
      ],
      items, { caption: "Leads by employee", empty: "No lead is assigned." },
    ),
    downloads("/v1/reports/leads", filter, "the leads report"),
  );
}

// The dashboard's overdue follow-ups (the API's list: a team-limited user sees their teams'),
// earliest due first; a manager closes one by hand.
export async function overdueFollowups(may) {
  const page = await api("/v1/followups", { params: { status: "overdue", limit: 10 } });
  const done = (f) => {
    const button = h("button", { type: "button", class: "done" }, "Done");
    button.addEventListener("click", async () => {
      button.disabled = true;
      const answer = await attempt("Follow-up closed.", () => api(`/v1/followups/${f.id}`, { method: "PATCH", json: { done: true } }));
      if (answer) button.closest("tr").remove();
      else button.disabled = false;
    });
    return button;
  };
  return h(
    "section", { class: "overdue", "aria-labelledby": "overdue-title" },
    h("h2", { id: "overdue-title" }, "Overdue follow-ups"),
    table(
      [
        { label: "Due", value: (f) => when(f.due_at) },
        { label: "Number", value: (f) => f.lead_id ? h("a", { href: `#/lead?id=${f.lead_id}` }, f.number) : phone(f.number) },
        { label: "Employee", value: (f) => f.employee_name || "Nobody yet" },
        { label: "Note", value: (f) => f.note || "—" },
        ...(may("manager") ? [{ label: "", value: done }] : []),
      ],
      page.items, { empty: "None: every follow-up is on time." },
    ),
    page.next_cursor ? h("p", { class: "help" }, "The 10 most overdue are shown.") : null,
  );
}

// One lead: its fields (a manager edits them, the company's own fields too, or deletes the
// lead), its calls, its follow-ups and its history of assignments, edits and status.
const OWN_FIELDS = [
  ["first_name", "First name"], ["last_name", "Last name"], ["company", "Company"], ["email", "Email"],
  ["primary_number", "Number"], ["secondary_number", "Second number"], ["address", "Address"],
  ["country", "Country (ISO code)"], ["state", "State"], ["zip", "ZIP"],
];
const CHANGES = {
  created: "Created", assigned: "Assigned", unassigned: "Unassigned", edited: "Edited",
  attempted: "First call (attempted)", connected: "First connected call (connected)",
};

function customControl(spec, value) {
  if (spec.kind === "choice") return select(`custom.${spec.key}`, [["", "—"], ...spec.choices.map((c) => [c, c])], value ?? "");
  const attrs = { name: `custom.${spec.key}`, value: value ?? "" };
  if (spec.kind === "number") Object.assign(attrs, { inputmode: "decimal" });
  if (spec.kind === "date") Object.assign(attrs, { placeholder: "YYYY-MM-DD", pattern: "\\d{4}-\\d{2}-\\d{2}" });
  return h("input", attrs);
}

function leadForm(lead, specs, staff, may) {
  const own = OWN_FIELDS.map(([name, label]) => [name, label, h("input", { name, value: lead[name] ?? "" })]);
  const notes = h("textarea", { name: "notes", rows: 3 }, lead.notes ?? "");
  const custom = specs.map((spec) => [spec, customControl(spec, lead.custom[spec.key])]);
  const employee = select("employee_id", [["", "Unassigned"], ...staff.filter((e) => !e.archived_at || e.id === lead.employee_id).map((e) => [e.id, e.name])], lead.employee_id || "");
  const editable = may("manager");
  for (const control of [...own.map((o) => o[2]), notes, ...custom.map((c) => c[1]), employee]) control.disabled = !editable;
  const form = h(
    "form", { class: "lead-form", "aria-label": "Lead fields" },
    h("div", { class: "row wrap" }, own.map(([, label, control]) => field(label, control))),
    custom.length ? h("div", { class: "row wrap" }, custom.map(([spec, control]) => field(spec.label, control))) : null,
    field("Notes", notes), h("div", { class: "row" }, field("Employee", employee)),
    editable ? h("p", { class: "actions" }, h("button", { type: "submit" }, "Save"), " ",
      h("button", { type: "button", class: "danger", onclick: () => remove(lead) }, "Delete lead")) : null,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changes = {};  // only what changed: a blank clears a field
    for (const [name, , control] of own) if (control.value !== (lead[name] ?? "")) changes[name] = control.value || null;
    if (notes.value !== (lead.notes ?? "")) changes.notes = notes.value || null;
    const values = {};
    for (const [spec, control] of custom) if (control.value !== String(lead.custom[spec.key] ?? "")) values[spec.key] = control.value || null;
    if (Object.keys(values).length) changes.custom = values;
    if (employee.value !== (lead.employee_id || "")) changes.employee_id = employee.value || null;
    if (!Object.keys(changes).length) { say("Nothing changed."); return; }
    if (await attempt("Lead saved.", () => api(`/v1/leads/${lead.id}`, { method: "PATCH", json: changes }))) {
      window.dispatchEvent(new HashChangeEvent("hashchange"));  // shown again as stored
    }
  });
  return form;
}

async function remove(lead) {
  if (!window.confirm(`Delete ${leadName(lead)}? Its calls stay; its follow-ups go with it.`)) return;
  if (await attempt("Lead deleted.", () => api(`/v1/leads/${lead.id}`, { method: "DELETE" }))) location.hash = "#/leads";
}

function followupForm(lead) {
  const due = h("input", { name: "due_at", required: true, placeholder: "YYYY-MM-DD HH:MM" });
  const note = h("input", { name: "note" });
  const form = h("form", { class: "row", "aria-label": "New follow-up" },
    field("Due (company time)", due), field("Note", note), h("button", { type: "submit" }, "Add follow-up"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const at = zonedInstant(due.value);
    if (!at) { say("Due: a time as YYYY-MM-DD HH:MM.", "error"); return; }
    const made = await attempt("Follow-up added.", () => api("/v1/followups", { method: "POST", json: { lead_id: lead.id, due_at: at, note: note.value || undefined } }));
    if (made) window.dispatchEvent(new HashChangeEvent("hashchange"));
  });
  return form;
}

export async function leadPage({ may }) {
  const id = hashParams().get("id");
  const [lead, specs, staff, planned] = await Promise.all([
    api(`/v1/leads/${id}`), api("/v1/lead-fields"), employees(),
    api("/v1/followups", { params: { lead_id: id, limit: 100 } }),
  ]);
  return h(
    "div", { class: "lead", "data-lead": lead.id },
    h("h2", null, leadName(lead), " ", h("span", { class: `badge ${lead.status}` }, lead.status)),
    h("p", { class: "help" }, `${integer(lead.calls)} call${lead.calls === 1 ? "" : "s"}, ${integer(lead.connected_calls)} connected; the last ${when(lead.last_call_at)}. Created ${when(lead.created_at)}.`),
    leadForm(lead, specs.items, staff, may),
    h("h2", null, "Calls with this client"),
    table(
      [
        { label: "Started", value: (c) => when(c.started_at) },
        { label: "Employee", value: (c) => c.employee_name || nameOf(staff, c.employee_id) },
        { label: "Type", value: (c) => c.type.replace("_", " ") },
        { label: "Duration", value: (c) => duration(c.duration_s) },
        { label: "Note", value: (c) => c.note || "—" },
      ],
      lead.recent_calls, { caption: "The latest 100, newest first", empty: "No call yet." },
    ),
    h("h2", null, "Follow-ups"),
    table(
      [
        { label: "Due", value: (f) => when(f.due_at) },
        { label: "Status", value: (f) => h("span", { class: `badge ${f.status}` }, f.status) },
        { label: "Employee", value: (f) => f.employee_name || "Nobody yet" },
        { label: "Note", value: (f) => f.note || "—" },
      ],
      planned.items, { empty: "No follow-up." },
    ),
    may("manager") ? followupForm(lead) : null,
    h("h2", null, "History"),
    table(
      [
        { label: "When", value: (c) => when(c.at) },
        { label: "What", value: (c) => CHANGES[c.kind] },
        { label: "Employee", value: (c) => (c.kind === "assigned" ? c.employee_name || nameOf(staff, c.employee_id) : "") },
        { label: "Fields", value: (c) => c.fields.map((f) => f.replace(/_/g, " ")).join(", ") },
      ],
      lead.history, { caption: "Oldest first" },
    ),
  );
}
