// Administration: webhooks (admin), users (owner) and API keys (admin), privacy (owner).
// A secret is shown once, as the API answers it, and never again.
import { api, attempt, errorText, field, h, pager, select, table, when } from "./lib.js";

const EVENTS = ["call.created", "call.missed", "lead.created", "lead.assigned", "device.stale"];

function secretNote(title, secret) {
  return h("div", { class: "secret", role: "alert" }, h("p", null, `${title} (shown once: copy it now)`), h("code", null, secret));
}

// A form creating something whose secret the API shows once: its fields posted as JSON, the
// secret shown under the form, the list refreshed.
function createsSecret(form, path, done, title, refresh) {
  const shown = h("div");
  form.append(shown);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const made = await attempt(done, () => api(path, { method: "POST", json: Object.fromEntries(new FormData(form)) }));
    if (made) {
      shown.replaceChildren(secretNote(title, made.secret));
      await refresh();
    }
  });
}

function deliveries(hook) {
  const list = pager(
    (cursor) => api(`/v1/hooks/${hook.id}/deliveries`, { params: { cursor, limit: 50 } }),
    (page) => table(
      [
        { label: "At", value: (d) => when(d.at) },
        { label: "Event", value: (d) => `${d.type} ${d.event_id}` },
        { label: "Attempt", value: (d) => d.attempt },
        { label: "Answer", value: (d) => (d.status_code === null ? d.error || "no answer" : d.status_code) },
        { label: "Next attempt", value: (d) => when(d.next_attempt_at) },
        {
          label: "Redeliver",
          value: (d) => h("button", {
            type: "button", "aria-label": `Redeliver ${d.event_id}`,
            onclick: () => attempt("Scheduled again.", () => api(`/v1/hooks/${hook.id}/deliveries/${d.event_id}/redeliver`, { method: "POST" })),
          }, "Redeliver"),
        },
      ],
      page.items, { caption: `Delivery log of ${hook.target_url}`, empty: "Nothing delivered yet." },
    ),
  );
  return list;
}

export async function hooks() {
  const area = h("div");
  const log = h("div");
  async function refresh() {
    const { items } = await api("/v1/hooks");
    area.replaceChildren(table(
      [
        { label: "Event", value: (k) => k.event },
        { label: "Target", value: (k) => k.target_url },
        { label: "Numbers", value: (k) => k.numbers },
        { label: "Created", value: (k) => when(k.created_at) },
        { label: "State", value: (k) => (k.disabled_at ? `disabled ${when(k.disabled_at)}` : "active") },
        {
          label: "Actions",
          value: (k) => h("span", null,
            h("button", { type: "button", onclick: async () => { const list = deliveries(k); log.replaceChildren(list.node); await list.first(); } }, "Delivery log"),
            " ",
            h("button", { type: "button", class: "danger", onclick: async () => (await attempt("Webhook deleted.", () => api(`/v1/hooks/${k.id}`, { method: "DELETE" }))) && refresh() }, "Delete")),
        },
      ],
      items, { empty: "No webhook yet." },
    ));
  }
  const event = select("event", EVENTS.map((e) => [e, e]), "call.created");
  const target = h("input", { type: "url", name: "target_url", required: true, placeholder: "https://example.com/hooks/closecall" });
  const numbers = select("numbers", [["masked", "Masked"], ["e164", "E.164 (audited)"]], "masked");
  const form = h(
    "form", { class: "create", "aria-labelledby": "hook-title" }, h("h2", { id: "hook-title" }, "New webhook"),
    h("div", { class: "row" }, field("Event", event), field("Target URL", target), field("Numbers", numbers)),
    h("button", { type: "submit" }, "Create"),
  );
  createsSecret(form, "/v1/hooks", "Webhook created.", "Signing secret", refresh);
  await refresh();
  return h("div", null, form, h("h2", null, "Webhooks"), area, log);
}

async function apiKeys() {
  const area = h("div");
  async function refresh() {
    const { items } = await api("/v1/api-keys");
    area.replaceChildren(table(
      [
        { label: "Name", value: (k) => k.name },
        { label: "Key", value: (k) => `${k.prefix}…` },
        { label: "Role", value: (k) => k.role },
        { label: "Created", value: (k) => when(k.created_at) },
        {
          label: "Revoke",
          value: (k) => (k.revoked_at ? `revoked ${when(k.revoked_at)}` : h("button", {
            type: "button", class: "danger", "aria-label": `Revoke ${k.name}`,
            onclick: async () => (await attempt("Key revoked.", () => api(`/v1/api-keys/${k.id}`, { method: "DELETE" }))) && refresh(),
          }, "Revoke")),
        },
      ],
      items, { empty: "No API key." },
    ));
  }
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 200 });
  const role = select("role", [["admin", "admin"], ["manager", "manager"], ["viewer", "viewer"]], "viewer");
  const form = h("form", { class: "create", "aria-labelledby": "key-title" }, h("h2", { id: "key-title" }, "API keys"),
    h("div", { class: "row" }, field("Key name", name), field("Key role", role)), h("button", { type: "submit" }, "Create key"));
  createsSecret(form, "/v1/api-keys", "Key created.", "API key", refresh);
  await refresh();
  return h("section", null, form, area);
}

const ROLES = ["viewer", "manager", "admin", "owner"];
const teamList = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

// One user's row of controls: role, teams, and what their state allows.
function userActions(u, refresh) {
  const change = (what, body) => attempt(what, () => api(`/v1/users/${u.id}`, { method: "PATCH", json: body })).then((ok) => ok && refresh());
  const role = select("role", ROLES.map((r) => [r, r]), u.role);
  role.setAttribute("aria-label", `Role of ${u.email}`);
  role.addEventListener("change", () => change(`${u.email} is now ${role.value}.`, { role: role.value }));
  const teams = h("input", { type: "text", value: u.teams.join(", "), size: 14, "aria-label": `Teams of ${u.email} (comma-separated; empty: all)` });
  teams.addEventListener("change", () => change(`Teams of ${u.email} saved.`, { teams: teamList(teams.value) }));
  const buttons = [];
  if (u.status === "invited") {
    buttons.push(h("button", { type: "button", class: "resend", onclick: () => attempt(`A new invitation is on its way to ${u.email}.`, () => api(`/v1/users/${u.id}/invitation`, { method: "POST" })) }, "Resend invitation"));
  }
  const disabled = u.status === "disabled";
  buttons.push(h("button", { type: "button", onclick: () => change(disabled ? `${u.email} may sign in again.` : `${u.email} is signed out and may not sign in.`, { disabled: !disabled }) }, disabled ? "Enable" : "Disable"));
  buttons.push(h("button", {
    type: "button", class: "danger", "aria-label": `Remove ${u.email}`,
    onclick: async () => confirm(`Remove ${u.email}? Their sign-ins end; the audit log keeps what they did.`)
      && (await attempt(`${u.email} removed.`, () => api(`/v1/users/${u.id}`, { method: "DELETE" }))) && refresh(),
  }, "Remove"));
  return { role, teams, buttons: h("span", { class: "actions" }, buttons) };
}

async function users() {
  const area = h("div");
  async function refresh() {
    const { items } = await api("/v1/users");
    const rows = items.map((u) => ({ ...u, controls: userActions(u, refresh) }));
    area.replaceChildren(table(
      [
        { label: "Email", value: (u) => u.email, sort: (u) => u.email },
        { label: "Role", value: (u) => u.controls.role, sort: (u) => ROLES.indexOf(u.role) },
        { label: "Teams", value: (u) => u.controls.teams },
        { label: "Status", value: (u) => h("span", { class: `badge ${u.status}` }, u.status), sort: (u) => u.status },
        { label: "Since", value: (u) => when(u.created_at), sort: (u) => u.created_at },
        { label: "Actions", value: (u) => u.controls.buttons },
      ],
      rows,
    ));
  }
  const email = h("input", { type: "email", name: "email", required: true });
  const role = select("role", ["viewer", "manager", "admin", "owner"].map((r) => [r, r]), "viewer");
  const teams = h("input", { type: "text", name: "teams", "aria-describedby": "teams-help" });
  const form = h("form", { class: "create", "aria-labelledby": "user-title" }, h("h2", { id: "user-title" }, "Users"),
    h("div", { class: "row" }, field("Email", email), field("Role", role), field("Teams", teams)),
    h("p", { id: "teams-help", class: "help" }, "Comma-separated; empty: every team."),
    h("button", { type: "submit" }, "Invite"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { email: email.value, role: role.value, teams: teamList(teams.value) };
    if (await attempt(`Invitation sent to ${email.value}.`, () => api("/v1/users", { method: "POST", json: body }))) await refresh();
  });
  await refresh();
  return h("section", null, form, area);
}

export async function access({ may }) {
  return h("div", null, may("owner") ? await users() : null, await apiKeys());
}

function erasureView(erasure) {
  const counts = Object.entries(erasure.counts).map(([name, n]) => `${name} ${n}`).join(", ");
  return h("p", { class: "erasure", "data-status": erasure.status }, `Erasure ${erasure.id}: ${erasure.status}${erasure.done_at ? ` at ${when(erasure.done_at)}` : ""}; ${counts}.`);
}

function erasureForm() {
  const number = h("input", { type: "tel", name: "number", required: true, autocomplete: "off" });
  const suppress = h("input", { type: "checkbox", name: "suppress" });
  const sure = h("input", { type: "checkbox", name: "sure", required: true });
  const outcome = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "erase", "aria-labelledby": "erase-title" },
    h("h2", { id: "erase-title" }, "Erase a client's number"),
    h("p", null, "From now on no report, list, webhook or export shows the number; its calls, notes, contacts and lead are deleted."),
    field("Number", number),
    h("div", { class: "check" }, suppress, h("label", { for: "f-suppress" }, "Also drop this number's future calls and contacts")),
    h("div", { class: "check" }, sure, h("label", { for: "f-sure" }, "I understand this cannot be undone")),
    h("button", { type: "submit", class: "danger" }, "Erase"), outcome);
  suppress.id = "f-suppress";
  sure.id = "f-sure";
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let erasure = await attempt("Erasure requested.", () => api("/v1/privacy/erasures", { method: "POST", json: { number: number.value, suppress: suppress.checked } }));
    if (!erasure) return;
    outcome.replaceChildren(erasureView(erasure));
    form.reset();
    // until done (the worker's mutations), while the page is shown
    while (erasure.status !== "done" && outcome.isConnected) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      erasure = await api(`/v1/privacy/erasures/${erasure.id}`);
      outcome.replaceChildren(erasureView(erasure));
    }
  });
  return form;
}

function exportPanel() {
  const state = h("div", { "aria-live": "polite" });
  async function show(id) {
    try {
      const job = await api(`/v1/privacy/exports/${id}`);
      const link = job.status === "done"
        ? h("a", { href: `/v1/privacy/exports/${id}/download`, download: "" }, `Download (${Math.ceil(job.size_bytes / 1024)} KB, until ${when(job.expires_at)})`)
        : h("button", { type: "button", onclick: () => show(id) }, "Check again");
      state.replaceChildren(h("p", { class: "export", "data-status": job.status }, `Export ${id}: ${job.status}. `, link));
    } catch (error) {
      state.replaceChildren(h("p", { class: "error" }, errorText(error)));
    }
  }
  const request = h("button", { type: "button" }, "Export the company's data");
  request.addEventListener("click", async () => {
    const job = await attempt("Export requested: the worker writes it in the background.", () => api("/v1/privacy/exports", { method: "POST" }));
    if (job) {
      localStorage.setItem("cc_export", job.id);
      await show(job.id);
    }
  });
  const last = localStorage.getItem("cc_export");
  if (last) show(last);
  return h("section", { "aria-labelledby": "export-title" }, h("h2", { id: "export-title" }, "Company export"),
    h("p", null, "A zip of CSV files (numbers in E.164), kept 7 days."), request, state);
}

export async function privacy() {
  return h("div", null, erasureForm(), exportPanel());
}
