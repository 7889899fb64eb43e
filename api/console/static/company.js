// The company (owner; admins read it): name, country, time zone, retention, the privacy contact
// shown to users, when a phone counts as stale, and the subscription: plan, state, renewal, the
// latest invoices, the provider's pages to pay or change, cancel with a reason, reactivate. The audit log (admin, owner): who did what, filtered by action, user and date.
import { api, attempt, downloads, field, h, hashParams, pager, rangeFilters, select, table, when } from "./lib.js";

const ZONES = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];

function settingsForm(company, owner, refresh) {
  const input = (name, value, attrs = {}) => h("input", { name, value: value ?? "", disabled: !owner, ...attrs });
  // the browser's list may name a zone by another alias (Asia/Calcutta): the company's own first
  const zones = [company.timezone, ...ZONES.filter((z) => z !== company.timezone)];
  const zone = select("timezone", zones.map((z) => [z, z]), company.timezone);
  zone.disabled = !owner;
  const form = h(
    "form", { class: "create company-settings", "aria-labelledby": "settings-title" },
    h("h2", { id: "settings-title" }, "Settings"),
    h("div", { class: "row" },
      field("Company name", input("name", company.name, { type: "text", required: true, maxlength: 200 })),
      field("Country (ISO code)", input("country", company.country, { type: "text", required: true, minlength: 2, maxlength: 2, size: 3 })),
      field("Time zone", zone)),
    h("p", { class: "help" }, "Every report's days and every time shown follow the time zone; numbers without a country code are read as the country's."),
    h("div", { class: "row" },
      field("Privacy contact", input("privacy_contact_name", company.privacy_contact_name, { type: "text", maxlength: 200 })),
      field("Privacy contact email", input("privacy_contact_email", company.privacy_contact_email, { type: "email" })),
      field("Keep calls for (days)", input("retention_days", company.retention_days, { type: "number", min: 30, max: 36500, placeholder: "forever" })),
      field("Stale after (hours)", h("input", { name: "stale_after_h", type: "number", min: 1, max: 720, value: company.stale_after_s / 3600 }))),
    h("p", { class: "help" }, "The privacy contact (a grievance officer where the law asks for one) is shown to every user. Retention deletes older calls daily; empty keeps everything."),
    h("button", { type: "submit" }, "Save"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    const body = { stale_after_s: Math.round(Number(values.stale_after_h) * 3600) };
    if (owner) {
      Object.assign(body, {
        name: values.name, country: values.country.toUpperCase(), timezone: values.timezone,
        privacy_contact_name: values.privacy_contact_name || null,
        privacy_contact_email: values.privacy_contact_email || null,
        retention_days: values.retention_days ? Number(values.retention_days) : null,
      });
    }
    if (await attempt("Settings saved.", () => api("/v1/company", { method: "PATCH", json: body }))) await refresh();
  });
  return form;
}

const PLAN_NAMES = { basic: "Basic", basic_lead: "Basic + leads" };
const PROVIDER_NAMES = { stripe: "Stripe", razorpay: "Razorpay" };
const RUNNING = ["trialing", "active", "past_due"];

function money(amount, currency) {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  return new Intl.NumberFormat("en", { style: "currency", currency }).format(amount / 10 ** digits);
}

// Goes to the provider's page (Checkout, the Customer Portal, a Razorpay link) the API made.
async function toProvider(path, json) {
  const link = await attempt("Opening the provider's page…", () => api(path, { method: "POST", json }));
  if (link && link.url) window.location.assign(link.url);
}

function billingActions(billing, refresh) {
  const plan = select("plan", Object.entries(PLAN_NAMES), billing.plan);
  const subscribe = billing.providers.map((provider) =>
    h("button", { type: "button", onclick: () => toProvider("/v1/billing/checkout", { provider, plan: plan.value }) },
      `Subscribe with ${PROVIDER_NAMES[provider]}`));
  const reason = h("textarea", { name: "reason", rows: 2, maxlength: 1000, required: true });
  const cancel = h("form", { class: "cancel" },
    field("Why are you leaving? (kept with the subscription)", reason),
    h("button", { type: "submit", class: "danger" }, "Cancel the subscription"));
  cancel.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!confirm("Cancel? Everything works until the paid period ends; then the company is deactivated, and purged after the export window.")) return;
    const done = billing.provider ? "Cancellation sent: the provider confirms it in a moment." : "Cancelled: renewal stopped.";
    if (await attempt(done, () => api("/v1/company/cancel", { method: "POST", json: { reason: reason.value } }))) await refresh();
  });
  const running = RUNNING.includes(billing.status);
  const actions = [];
  if (billing.provider && billing.status !== "deactivated") {
    actions.push(h("button", { type: "button", onclick: () => toProvider("/v1/billing/manage") },
      `Pay, change the plan or the card (${PROVIDER_NAMES[billing.provider]})`));
  } else if (subscribe.length) {
    actions.push(h("div", { class: "row" }, field("Plan", plan), ...subscribe));
  }
  if (running) actions.push(cancel);
  if (!billing.provider && !running) {
    actions.push(h("button", {
      type: "button", class: "reactivate",
      onclick: async () => (await attempt("Active again.", () => api("/v1/company/reactivate", { method: "POST" }))) && refresh(),
    }, "Reactivate"));
  }
  return actions;
}

function subscriptionPanel(billing, owner, refresh) {
  const by = billing.provider ? `Billed by ${PROVIDER_NAMES[billing.provider]}.` : "Billed by the operator of this server.";
  const facts = [
    ["Plan", PLAN_NAMES[billing.plan] + (billing.pending_plan ? ` (${PLAN_NAMES[billing.pending_plan]} from the period's end)` : "")],
    ["State", h("span", { class: `badge ${billing.status}` }, billing.status.replace("_", " "))],
    [billing.status === "cancelled" || billing.status === "deactivated" ? "Ends" : "Renews", billing.ended_at ? when(billing.ended_at) : billing.period_end ? when(billing.period_end) : "no end set"],
  ];
  if (billing.cancel_reason) facts.push(["Reason given", billing.cancel_reason]);
  const invoices = table(
    [
      { label: "Date", value: (i) => when(i.created_at) },
      { label: "Invoice", value: (i) => (i.url ? h("a", { href: i.url, target: "_blank", rel: "noopener" }, i.number || i.id) : i.number || i.id) },
      { label: "Status", value: (i) => h("span", { class: `badge ${i.status}` }, i.status) },
      { label: "Amount", value: (i) => money(i.amount, i.currency) },
    ],
    billing.invoices,
    { caption: "Latest invoices", empty: "No invoice yet." },
  );
  return h(
    "section", { "aria-labelledby": "subscription-title", class: "subscription" },
    h("h2", { id: "subscription-title" }, "Subscription"),
    h("dl", { class: "facts" }, facts.flatMap(([term, value]) => [h("dt", null, term), h("dd", null, value)])),
    h("p", { class: "help" }, by),
    billing.status === "past_due" ? h("p", { class: "warning", role: "alert" }, "A payment failed. Everything keeps working while it is retried: update the card, or the company is deactivated when the retries run out.") : null,
    billing.invoices.length || billing.provider ? invoices : null,
    ...(owner ? billingActions(billing, refresh) : [h("p", { class: "help" }, "The owner changes the subscription.")]),
  );
}

export async function companyPage({ may }) {
  const area = h("div");
  const owner = may("owner");
  async function refresh() {
    const [company, billing] = await Promise.all([api("/v1/company"), api("/v1/company/subscription")]);
    area.replaceChildren(settingsForm(company, owner, refresh), subscriptionPanel(billing, owner, refresh));
  }
  await refresh();
  return area;
}

const ACTIONS = [
  ["", "Every action"], ["numbers.", "Numbers revealed or exported"], ["user.", "Users"], ["api_key.", "API keys"],
  ["login.", "Sign-ins"], ["subscription.", "Subscription"], ["company.", "Company settings"], ["erasure.", "Erasures"],
  ["export.", "Exports"], ["hook.", "Webhooks"], ["team.", "Teams"],
];

export async function auditPage({ may }) {
  const params = hashParams();
  const action = select("action", ACTIONS, params.get("action") || "");
  const people = may("owner") ? (await api("/v1/users")).items : [];
  const actor = select("actor_id", [["", "Anyone"], ...people.map((u) => [u.id, u.email])], params.get("actor_id") || "");
  const { form, filter: query } = await rangeFilters([["Action", action], ["Who", actor]], { people: false });
  const emails = Object.fromEntries(people.map((u) => [u.id, u.email]));
  const list = pager(
    (cursor) => api("/v1/audit", { params: { ...query, cursor, limit: 100 } }),
    (page) => table(
      [
        { label: "When", value: (e) => when(e.at) },
        { label: "Who", value: (e) => (e.actor.type === "user" ? emails[e.actor.id] || `user ${e.actor.id.slice(0, 8)}` : `${e.actor.type.replace("_", " ")} ${e.actor.id ? e.actor.id.slice(0, 8) : ""}`) },
        { label: "Action", value: (e) => e.action },
        { label: "About", value: (e) => e.target },
        { label: "Address", value: (e) => e.ip },
        { label: "Details", value: (e) => h("code", null, JSON.stringify(e.details)) },
      ],
      page.items, { empty: "Nothing was recorded with these filters." },
    ),
  );
  await list.first();
  return h("div", null, form, downloads("/v1/audit", { ...query, limit: 1000 }, "the audit log"), list.node);
}
