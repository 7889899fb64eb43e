// The pages emailed links open, before anyone is signed in: accept an invitation, reset a
// password (/console/accept-invite#token=..., /console/reset-password#token=...), and the
// "Forgot password?" form. The token is in the URL's fragment, which a browser never sends to
// a server; the page takes it out of the address bar and the history at once and keeps it in
// memory only.
import { api, errorText, field, h } from "./lib.js";

export const LINK_PAGES = {
  "accept-invite": { purpose: "invite", title: "Set your password", route: "/v1/auth/accept-invite" },
  "reset-password": { purpose: "reset", title: "Choose a new password", route: "/v1/auth/password-reset/confirm" },
};

// The link page this URL is, if any, with the token its fragment carried.
export function linkFromUrl() {
  const name = location.pathname.replace(/^\/console\/?/, "").replace(/\/$/, "");
  if (!LINK_PAGES[name]) return null;
  const token = new URLSearchParams(location.hash.replace(/^#/, "")).get("token") || "";
  // out of the address bar and the history; what follows (a sign-in) is the console itself
  history.replaceState(null, "", "/console/");
  return { name, token, ...LINK_PAGES[name] };
}

function card(titleText, ...content) {
  return h("div", { class: "sign-in link-page" }, h("h1", null, titleText), ...content);
}

function show(node) {
  document.getElementById("top").hidden = true;
  document.getElementById("foot").hidden = true;
  const main = document.getElementById("main");
  main.replaceChildren(node);
  main.dataset.page = "link";
  main.dataset.ready = "true";
}

export function forgotForm(email = "") {
  const address = h("input", { type: "email", name: "email", autocomplete: "username", required: true, value: email });
  const answer = h("p", { class: "help", role: "status" });
  const problem = h("p", { class: "error", role: "alert" });
  const form = h(
    "form", { class: "forgot" },
    field("Email", address),
    h("button", { type: "submit" }, "Send me a link"),
    answer, problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    try {
      await api("/v1/auth/password-reset", { method: "POST", json: { email: address.value } });
      answer.textContent = `If ${address.value} has an account, a link to choose a new password is on its way. It works for 1 hour.`;
    } catch (error) {
      problem.textContent = errorText(error);
    }
  });
  return form;
}

export function forgotPage(email) {
  show(card(
    "Forgot your password?",
    h("p", { class: "help" }, "We mail you a link to choose a new one."),
    forgotForm(email),
    h("p", null, h("a", { href: "/console/" }, "Back to sign-in")),
  ));
}

// What to do when the link cannot be used: a new reset link, or ask for a new invitation.
function deadLink(link, message, email) {
  const next = link.purpose === "reset"
    ? [h("p", null, "Ask for a new link:"), forgotForm(email)]
    : [h("p", null, "Ask an owner of your company to send a new invitation (Users and API keys, \"Resend invitation\").")];
  show(card(link.title, h("p", { class: "error", role: "alert", "data-state": "dead" }, message), ...next,
    h("p", null, h("a", { href: "/console/" }, "Go to sign-in"))));
}

// "about 3 hours", "40 minutes": no clock time, so no zone to get wrong before sign-in
function timeLeft(expiresAt) {
  const minutes = Math.max(1, Math.round((new Date(expiresAt) - Date.now()) / 60000));
  if (minutes < 90) return `${minutes} minute${minutes === 1 ? "" : "s"}`;
  return `about ${Math.round(minutes / 60)} hours`;
}

const DEAD = {
  used: "This link was used already, or a newer one was sent since.",
  expired: "This link has expired.",
};

// The link's page: asks the API what the token is, then takes the new password.
export async function linkPage(link, signedIn) {
  if (!link.token) {
    deadLink(link, "This link is incomplete: open it from the mail again, or copy all of it.", "");
    return;
  }
  let state;
  try {
    state = await api("/v1/auth/link", { method: "POST", json: { token: link.token } });
  } catch (error) {
    deadLink(link, errorText(error), "");
    return;
  }
  if (state.state !== "valid") {
    deadLink(link, DEAD[state.state], state.email);
    return;
  }
  const email = h("input", { type: "email", name: "email", autocomplete: "username", value: state.email, readonly: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", minlength: 10, required: true, "aria-describedby": "password-help" });
  const again = h("input", { type: "password", name: "password_again", autocomplete: "new-password", required: true });
  const problem = h("p", { class: "error", role: "alert" });
  const form = h(
    "form", { class: "set-password" },
    field("Email", email),
    field("New password", password),
    h("p", { id: "password-help", class: "help" }, "At least 10 characters; a long phrase is easiest to remember. Well-known leaked passwords are refused."),
    field("The same password again", again),
    problem,
    h("button", { type: "submit" }, link.purpose === "invite" ? "Set password and sign in" : "Change password"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (password.value !== again.value) {
      problem.textContent = "The two passwords differ.";
      return;
    }
    try {
      await api(link.route, { method: "POST", json: { token: link.token, password: password.value } });
    } catch (error) {
      if (error.code === "link_used" || error.code === "link_expired") deadLink(link, errorText(error), state.email);
      else problem.textContent = errorText(error);
      return;
    }
    await signedIn(state.email, password.value, link.purpose);
  });
  show(card(
    link.title,
    h("p", { class: "help" }, `For ${state.email}. This link works once, for ${timeLeft(state.expires_at)} more.`),
    form,
  ));
  password.focus();
}
