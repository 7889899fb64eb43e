// Employees (the people whose phones are tracked): add, edit, archive, tracking and leads on or
// off, teams renamed; per employee, "Enrol a phone" shows a single-use code as a QR code (drawn
// by the server) with the code in text, and the employee's phones (last seen, app, revoke).
import { api, attempt, field, forgetEmployees, h, hashParams, setHashParams, table, when } from "./lib.js";

const text = (name, value, attrs = {}) => h("input", { type: "text", name, value: value || "", maxlength: 200, ...attrs });

function details(employee) {
  const form = h(
    "form", { class: "create employee-form", "aria-label": employee ? `Edit ${employee.name}` : "Add an employee" },
    h("h2", null, employee ? "Details" : "Add an employee"),
    h("div", { class: "row" },
      field("Name", text("name", employee?.name, { required: true })),
      field("Team", text("team", employee?.team, { list: "teams" })),
      field("Email", h("input", { type: "email", name: "email", value: employee?.email || "" })),
      field("Phone", h("input", { type: "tel", name: "phone", value: employee?.phone || "" }))),
    h("button", { type: "submit" }, employee ? "Save" : "Add employee"),
  );
  return form;
}

function values(form) {
  const body = {};
  for (const [name, value] of new FormData(form)) body[name] = value.trim() || null;
  return body;
}

// The single-use code, its QR code and its expiry, shown once it is made.
function codePanel(made) {
  return h(
    "div", { class: "enrol-code", "data-code-id": made.id },
    h("img", { class: "qr", src: made.qr_png_url, width: 222, height: 222, alt: `QR code to enrol a phone; the code is ${made.code}` }),
    h("div", null,
      h("p", null, "On the phone, open the closecall app and scan this code; or type the code:"),
      h("p", null, h("code", { class: "enrol-text" }, made.code)),
      h("p", { class: "help" }, `Works once, until ${when(made.expires_at)}. Server: ${new URL(made.enroll_uri.replace("closecall://", "https://")).searchParams.get("server")}`)),
  );
}

function phones(items, refresh) {
  return table(
    [
      { label: "Phone", value: (d) => `${d.brand} ${d.model}` },
      { label: "App", value: (d) => d.app_version || "—" },
      { label: "Last seen", value: (d) => when(d.last_seen_at) },
      { label: "State", value: (d) => (d.revoked_at ? `revoked ${when(d.revoked_at)}` : d.stale ? "stale" : "current") },
      {
        label: "Revoke",
        value: (d) => (d.revoked_at ? "—" : h("button", {
          type: "button", class: "danger", "aria-label": `Revoke ${d.model}`,
          onclick: async () => (await attempt("Phone revoked: it can upload nothing more.", () => api(`/v1/devices/${d.id}`, { method: "DELETE" }))) && refresh(),
        }, "Revoke")),
      },
    ],
    items, { caption: "Phones", empty: "No phone enrolled yet." },
  );
}

async function employeePage(id, { may }) {
  const employee = await api(`/v1/employees/${id}`);
  const area = h("div");
  async function refresh() {
    const all = (await api("/v1/devices")).items;
    area.replaceChildren(phones(all.filter((d) => d.employee_id === id), refresh));
  }
  const form = details(employee);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await attempt("Saved.", () => api(`/v1/employees/${id}`, { method: "PATCH", json: values(form) }))) forgetEmployees();
  });
  const code = h("div", { class: "enrol-area" });
  const enrol = h("button", {
    type: "button", class: "enrol", disabled: !employee.tracking_enabled || Boolean(employee.archived_at),
    onclick: async () => {
      const made = await attempt("Scan the code with the phone.", () => api(`/v1/employees/${id}/enrollment-codes`, { method: "POST" }));
      if (!made) return;
      code.replaceChildren(codePanel(made));
      code.scrollIntoView({ block: "center" });
    },
  }, "Enrol a phone");
  await refresh();
  return h(
    "div", null,
    h("p", null, h("a", { href: "#/employees" }, "All employees")),
    h("h2", { class: "employee-name" }, employee.name),
    may("manager") ? form : null,
    h("section", { "aria-label": "Enrol a phone" }, h("h2", null, "Enrol a phone"),
      employee.tracking_enabled ? null : h("p", { class: "help" }, "Tracking is off for this employee: turn it on to enrol a phone."),
      may("manager") ? enrol : h("p", { class: "help" }, "Managers enrol phones."), code),
    area,
  );
}

function toggle(e, name, label, refresh) {
  const box = h("input", { type: "checkbox", checked: e[name], "aria-label": `${label}: ${e.name}` });
  box.addEventListener("change", async () => {
    const ok = await attempt(`${e.name}: ${label.toLowerCase()} ${box.checked ? "on" : "off"}.`, () => api(`/v1/employees/${e.id}`, { method: "PATCH", json: { [name]: box.checked } }));
    if (!ok) box.checked = !box.checked;
    else await refresh();
  });
  return box;
}

function teamsPanel(items, refresh) {
  const teams = [...new Set(items.map((e) => e.team).filter(Boolean))].sort();
  const from = h("select", { name: "rename_from" }, teams.map((t) => h("option", { value: t }, t)));
  const to = text("new_name", "", { required: true });
  const form = h("form", { class: "create teams" }, h("h2", null, "Teams"),
    h("p", { class: "help" }, `${teams.length ? teams.join(", ") : "No team yet"}. A team is made by giving an employee its name; move people by editing their team.`),
    teams.length ? h("div", { class: "row" }, field("Team to rename", from), field("New name", to), h("button", { type: "submit" }, "Rename")) : null);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await attempt(`Team renamed to ${to.value}.`, () => api("/v1/teams/rename", { method: "POST", json: { name: from.value, new_name: to.value } }))) {
      forgetEmployees();
      await refresh();
    }
  });
  return h("div", null, form, h("datalist", { id: "teams" }, teams.map((t) => h("option", { value: t }))));
}

export async function employeesPage(context) {
  const id = hashParams().get("id");
  if (id) return employeePage(id, context);
  const { may } = context;
  const area = h("div");
  const archived = hashParams().get("archived") === "true";
  async function refresh() {
    const { items } = await api("/v1/employees", { params: { archived } });
    const columns = [
      { label: "Name", value: (e) => h("a", { href: `#/employees?id=${e.id}` }, e.name), sort: (e) => e.name },
      { label: "Team", value: (e) => e.team || "—", sort: (e) => e.team || "" },
      { label: "Email", value: (e) => e.email || "—" },
      { label: "Phone", value: (e) => e.phone || "—" },
      { label: "Tracking", value: (e) => (may("manager") && !e.archived_at ? toggle(e, "tracking_enabled", "Tracking", refresh) : (e.tracking_enabled ? "on" : "off")) },
      { label: "Takes leads", value: (e) => (may("manager") && !e.archived_at ? toggle(e, "takes_leads", "Takes leads", refresh) : (e.takes_leads ? "yes" : "no")) },
      {
        label: "Archive",
        value: (e) => (e.archived_at ? `archived ${when(e.archived_at)}` : may("manager") ? h("button", {
          type: "button", class: "danger", "aria-label": `Archive ${e.name}`,
          onclick: async () => confirm(`Archive ${e.name}? Their phones are revoked; their history stays.`)
            && (await attempt(`${e.name} archived.`, () => api(`/v1/employees/${e.id}`, { method: "DELETE" }))) && (forgetEmployees(), refresh()),
        }, "Archive") : "—"),
      },
    ];
    area.replaceChildren(
      may("manager") ? teamsPanel(items, refresh) : null,
      table(columns, items, { empty: "No employee yet: add the first one above." }),
    );
  }
  const form = details(null);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const made = await attempt("Employee added: enrol their phone next.", () => api("/v1/employees", { method: "POST", json: values(form) }));
    if (made) {
      forgetEmployees();
      location.hash = `#/employees?id=${made.id}`;
    }
  });
  const shown = h("a", { href: "#", onclick: (event) => {
    event.preventDefault();
    setHashParams(archived ? {} : { archived: "true" });
  } }, archived ? "Hide archived employees" : "Show archived employees");
  await refresh();
  return h("div", null, may("manager") ? form : null, h("p", null, shown), area);
}
