// Your sign-in: two-factor sign-in (TOTP, RFC 6238) turned on with a code of the new secret,
// and off with a current code; the morning digest's settings; for every role.
import { api, attempt, field, h } from "./lib.js";
import { digestSettings } from "./notices.js";

function codeForm(label, submit) {
  const otp = h("input", { type: "text", name: "otp", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", required: true });
  const form = h("form", { class: "create totp" }, field(label, otp), h("button", { type: "submit" }, "Confirm"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await submit(otp.value);
  });
  return form;
}

export async function account() {
  const area = h("div");
  const welcome = new URLSearchParams(location.hash.split("?")[1] || "").get("welcome")
    ? h("p", { class: "welcome" }, "Welcome: your password is set. Two-factor sign-in is optional; it keeps your account safe if your password leaks.")
    : null;
  async function show() {
    const { user } = await api("/v1/me");
    const state = h("p", { class: "totp-state", "data-on": String(user.totp) },
      `Two-factor sign-in is ${user.totp ? "on" : "off"} for ${user.email} (${user.role}).`);
    if (user.totp) {
      area.replaceChildren(state, codeForm("Code from your app, to turn it off", async (otp) => {
        if (await attempt("Two-factor sign-in is off.", () => api("/v1/auth/totp", { method: "DELETE", json: { otp } }))) await show();
      }));
      return;
    }
    const start = h("button", { type: "button", class: "totp-start" }, "Turn on two-factor sign-in");
    start.addEventListener("click", async () => {
      const setup = await attempt("Add this secret to your authenticator app.", () => api("/v1/auth/totp", { method: "POST" }));
      if (!setup) return;
      area.replaceChildren(
        state,
        h("p", null, "Scan this with your authenticator app:"),
        h("img", { class: "qr", src: setup.qr_png, width: 200, height: 200, alt: "QR code of your two-factor secret" }),
        h("p", null, "Or type this secret into the app, or open the link on your phone:"),
        h("p", null, h("code", { class: "totp-secret" }, setup.secret)),
        h("p", null, h("a", { href: setup.otpauth_uri }, "Open in an authenticator app")),
        codeForm("Code from your app", async (otp) => {
          if (await attempt("Two-factor sign-in is on.", () => api("/v1/auth/totp/confirm", { method: "POST", json: { otp } }))) await show();
        }),
      );
    });
    area.replaceChildren(state, start);
  }
  await show();
  return h("div", null, welcome, h("section", { "aria-label": "Two-factor sign-in" }, area), await digestSettings());
}
