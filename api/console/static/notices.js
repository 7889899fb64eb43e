// Notifications (newest first, unread marked; opening one marks it read), the digest settings
// on "Your sign-in", and the policy versions a user accepts before going on.
import { api, attempt, field, h, select, when } from "./lib.js";

export async function notifications() {
  const list = h("ul", { class: "notifications" });
  const answer = await api("/v1/notifications", { params: { limit: 100 } });
  if (!answer.items.length) return h("p", null, "No notifications yet.");
  for (const item of answer.items) {
    const entry = h(
      "li", { class: item.read ? "read" : "unread", "data-id": item.id },
      h("p", { class: "notice-title" }, item.read ? item.title : `● ${item.title}`),
      h("p", { class: "help" }, when(item.at)),
      h("p", null, item.body),
      item.link ? h("p", null, h("a", { href: item.link }, "Open")) : null,
    );
    if (!item.read) {
      const mark = h("button", { type: "button", class: "mark-read" }, "Mark as read");
      mark.addEventListener("click", async () => {
        if (await attempt("Marked as read.", () => api(`/v1/notifications/${item.id}/read`, { method: "POST" }))) {
          entry.className = "read";
          entry.firstChild.textContent = item.title;
          mark.remove();
        }
      });
      entry.append(mark);
    }
    list.append(entry);
  }
  return h("div", null, h("p", { class: "unread-count" }, `${answer.unread} unread`), list);
}

export async function digestSettings() {
  const chosen = await api("/v1/me/digest");
  const frequency = select("frequency", [["daily", "Daily: yesterday, every morning"], ["weekly", "Weekly: the week before, on Mondays"], ["off", "Off"]], chosen.frequency);
  const time = h("input", { type: "time", name: "local_time", value: chosen.local_time, required: true, step: 60 });
  const form = h(
    "form", { class: "create digest" },
    field("Digest by email", frequency),
    field(`Sent at (${chosen.timezone})`, time),
    h("button", { type: "submit" }, "Save"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await attempt("Your digest settings are saved.", () => api("/v1/me/digest", { method: "PUT", json: { frequency: frequency.value, local_time: time.value.slice(0, 5) } }));
  });
  return h(
    "section", { "aria-label": "Digest" },
    h("h2", null, "Morning digest"),
    h("p", { class: "help" }, "The calls, missed clients, working time and quiet phones of the employees you see, by email."),
    form,
  );
}

// Until the versions in force are accepted nothing else opens (API: 403 policy_acceptance_required).
export function acceptPolicies(pending, done) {
  const main = document.getElementById("main");
  main.dataset.page = "policies";
  const boxes = pending.map((p) => {
    const box = h("input", { type: "checkbox", name: p.kind, required: true });
    const label = p.kind === "privacy" ? "privacy policy" : "terms of service";
    return [p, box, h("div", { class: "field" }, h("label", null, box, ` I agree to the ${label} `, h("a", { href: p.url, target: "_blank", rel: "noopener" }, p.version)))];
  });
  const form = h(
    "form", { class: "policies" },
    h("h1", null, "Updated terms"),
    h("p", null, "Please read and accept the new versions before you go on."),
    ...boxes.map(([, , row]) => row),
    h("button", { type: "submit" }, "Accept and continue"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const [p] of boxes) {
      const ok = await attempt(`Accepted the ${p.kind} version ${p.version}.`, () => api(`/v1/me/policies/${p.kind}/accept`, { method: "POST", json: { version: p.version } }));
      if (!ok) return;
    }
    await done();
  });
  main.replaceChildren(form);
  main.dataset.ready = "true";
}
