// Leads: lists by status, assignment, and a CSV import checked by a dry run before anything is
// written (the API's own dry run: the same answer the import would give, nothing stored).
import { api, attempt, downloads, duration, errorText, field, h, integer, nameOf, pager, phone, employees, rangeFilters, say, select, table, when } from "./lib.js";

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
        { label: "Lead", value: leadName },
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
