// The console's shell: sign-in (password and TOTP code), navigation limited by role, and the
// page router over the URL's hash. Every number comes from the JSON API (the same report
// functions, roles and team limits as for an integration).
import { api, errorText, field, forgetEmployees, h, say, setZone, zoneNote } from "./lib.js";
import { forgotPage, linkFromUrl, linkPage } from "./links.js";
import { acceptPolicies, notifications } from "./notices.js";

// A page's code is fetched when the page is first opened (a dashboard needs neither the leads'
// nor the admin pages' code): the console stays light however many pages it has.
const lazy = (module, name) => async (context) => (await import(module))[name](context);

const RANK = { viewer: 1, manager: 2, admin: 3, owner: 4 };

const PAGES = [
  { path: "dashboard", title: "Dashboard", role: "viewer", render: lazy("./reports.js", "dashboard") },
  { path: "never-attended", title: "Never attended", role: "viewer", render: lazy("./reports.js", "neverAttended") },
  { path: "not-picked-up", title: "Not picked up", role: "viewer", render: lazy("./reports.js", "notPickedUp") },
  { path: "customers", title: "Customers", role: "viewer", render: lazy("./reports.js", "customers") },
  { path: "calls", title: "Call history", role: "viewer", render: lazy("./reports.js", "callHistory") },
  { path: "working-hours", title: "Working hours", role: "viewer", render: lazy("./reports.js", "workingHours") },
  { path: "employees", title: "Employees", role: "viewer", render: lazy("./people.js", "employeesPage") },
  { path: "devices", title: "Devices", role: "viewer", render: lazy("./fleet.js", "devices") },
  { path: "leads", title: "Leads", role: "viewer", plan: "basic_lead", render: lazy("./leads.js", "leads") },
  { path: "lead", title: "Lead", role: "viewer", plan: "basic_lead", render: lazy("./leads.js", "leadPage"), hidden: true },
  { path: "leads-report", title: "Leads report", role: "viewer", plan: "basic_lead", render: lazy("./leads.js", "leadsReport") },
  { path: "hooks", title: "Webhooks", role: "admin", render: lazy("./admin.js", "hooks") },
  { path: "access", title: "Users and API keys", role: "admin", render: lazy("./admin.js", "access") },
  { path: "privacy", title: "Privacy", role: "owner", render: lazy("./admin.js", "privacy") },
  { path: "company", title: "Company", role: "admin", render: lazy("./company.js", "companyPage") },
  { path: "audit", title: "Audit log", role: "admin", render: lazy("./company.js", "auditPage") },
  { path: "notifications", title: "Notifications", role: "viewer", render: notifications },
  { path: "account", title: "Your sign-in", role: "viewer", render: lazy("./account.js", "account") },
];

let me = null;
let renders = 0;  // tests and the benchmark wait for the next render by it

export const may = (role) => Boolean(me && me.user && RANK[me.user.role] >= RANK[role]);

function shown(page) {
  return may(page.role) && (!page.plan || me.company.plan === page.plan);
}

let current = 0;  // the latest navigation: an earlier page still loading must not overwrite it

function signInForm(message, known = "") {
  current += 1;  // a navigation too: a page still loading must not replace the form
  document.getElementById("top").hidden = true;
  document.getElementById("foot").hidden = true;
  const main = document.getElementById("main");
  main.dataset.page = "sign-in";
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, value: known });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const otp = h("input", {
    type: "text", name: "otp", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}",
    "aria-describedby": "otp-help",
  });
  const problem = h("p", { class: "error", role: "alert" }, message || "");
  const form = h(
    "form", { class: "sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in to closecall"),
    field("Email", email), field("Password", password), field("Authenticator code", otp),
    h("p", { id: "otp-help", class: "help" }, "Only when two-factor sign-in is on: the 6 digits your app shows."),
    problem,
    h("button", { type: "submit" }, "Sign in"),
    h("p", { class: "help" }, h("a", { href: "#forgot", class: "forgot-link", onclick: (event) => {
      event.preventDefault();
      forgotPage(email.value);
    } }, "Forgot password?")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    if (!values.otp) delete values.otp;
    try {
      await api("/v1/auth/session", { method: "POST", json: values });
      await start();
    } catch (error) {
      problem.textContent = errorText(error);
    }
  });
  main.replaceChildren(form);
  (known ? password : email).focus();
}

// After an emailed link set the password: an invited user is signed in and offered two-factor
// sign-in; after a reset every session was revoked, so the user signs in again (with a code
// when two-factor sign-in is on).
async function afterLink(email, password, purpose) {
  if (purpose === "reset") {
    signInForm("Your password is changed: sign in with it.", email);
    return;
  }
  try {
    await api("/v1/auth/session", { method: "POST", json: { email, password } });
  } catch (error) {
    signInForm(errorText(error), email);
    return;
  }
  history.replaceState(null, "", "/console/#/account?welcome=1");
  await start();
}

function navigation() {
  const nav = document.getElementById("nav");
  nav.replaceChildren(
    ...PAGES.filter((page) => shown(page) && !page.hidden).map((page) => h("li", null, h("a", { href: `#/${page.path}`, "data-page": page.path }, page.title))),
  );
  showUnread();
  document.getElementById("who").textContent = `${me.user.email} · ${me.user.role} · ${me.company.name}`;
  document.getElementById("top").hidden = false;
  const foot = document.getElementById("foot");
  foot.textContent = me.company.privacy_contact ? `Privacy questions: ${me.company.privacy_contact}` : "";
  foot.hidden = !me.company.privacy_contact;
}

// "Notifications (2)" while some are unread; refreshed at each sign-in and after reading them
async function showUnread() {
  const link = document.querySelector('#nav a[data-page="notifications"]');
  if (!link) return;
  try {
    const { unread } = await api("/v1/notifications", { params: { limit: 1 } });
    link.textContent = unread ? `Notifications (${unread})` : "Notifications";
  } catch {
    // the list itself says what went wrong when opened
  }
}

async function route() {
  const turn = ++current;
  const path = (location.hash.replace(/^#\/?/, "").split("?")[0]) || "dashboard";
  const page = PAGES.find((p) => p.path === path) || PAGES[0];
  const main = document.getElementById("main");
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === page.path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${page.title} · closecall`;
  main.dataset.page = page.path;
  main.dataset.ready = "false";
  if (!shown(page)) {
    main.replaceChildren(h("h1", null, page.title), h("p", { class: "error" },
      page.plan && me.company.plan !== page.plan ? `This needs the ${page.plan} plan.` : `This page needs the ${page.role} role.`));
    main.dataset.render = String(++renders);
    main.dataset.ready = "true";
    return;
  }
  main.replaceChildren(h("h1", null, page.title), h("p", null, "Loading…"));
  let content;
  try {
    content = await page.render({ me, may });
  } catch (error) {
    if (error.status === 401) return;
    content = h("p", { class: "error", role: "alert" }, errorText(error));
  }
  if (turn !== current) return;
  main.replaceChildren(h("h1", null, page.title), h("p", { class: "help zone" }, zoneNote()), content);
  if (page.path === "notifications") showUnread();
  main.dataset.render = String(++renders);
  main.dataset.ready = "true";
  performance.mark(`${page.path}-ready`);
}

async function start() {
  const link = linkFromUrl();
  if (link) {
    await linkPage(link, afterLink);
    return;
  }
  try {
    me = await api("/v1/me");
  } catch (error) {
    me = null;
    signInForm(error.status === 401 ? "" : errorText(error));
    return;
  }
  if (!me.user) {
    signInForm("Sign in with your email: API keys are for integrations.");
    return;
  }
  if (me.pending_policies && me.pending_policies.length) {
    document.getElementById("top").hidden = true;
    acceptPolicies(me.pending_policies, start);
    return;
  }
  forgetEmployees();
  setZone(me.company.timezone);
  navigation();
  await route();
}

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await api("/v1/auth/session", { method: "DELETE" });
  } catch (error) {
    say(errorText(error), "error");
  }
  me = null;
  signInForm("Signed out.");
});
window.addEventListener("signed-out", () => signInForm("Your session ended: sign in again."));
window.addEventListener("hashchange", () => me && route());
start();
