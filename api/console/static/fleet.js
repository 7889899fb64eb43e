// Devices: battery, last seen, stale phones first and highlighted; managers can ask a phone to
// sync when the server can push (FCM), and are told why not otherwise.
import { api, attempt, downloads, h, table, when } from "./lib.js";

function state(device) {
  if (device.revoked_at) return "revoked";
  return device.stale ? "stale" : "current";
}

export async function devices({ me, may }) {
  const { items: all } = await api("/v1/devices");
  // stale phones first (the ones to chase), then by last seen, newest first
  const items = [...all].sort((a, b) => (Number(b.stale && !b.revoked_at) - Number(a.stale && !a.revoked_at))
    || String(b.last_seen_at || "").localeCompare(String(a.last_seen_at || "")));
  const columns = [
    { label: "Employee", value: (d) => d.employee_name, sort: (d) => d.employee_name },
    { label: "Phone", value: (d) => `${d.brand} ${d.model}` },
    { label: "App", value: (d) => d.app_version || "—" },
    { label: "Battery", value: (d) => (d.battery_pct === null ? "—" : `${d.battery_pct}%${d.charging ? " (charging)" : ""}`), sort: (d) => d.battery_pct ?? -1 },
    { label: "Network", value: (d) => d.network || "—" },
    { label: "Last seen", value: (d) => when(d.last_seen_at), sort: (d) => d.last_seen_at || "" },
    { label: "State", value: (d) => h("span", { class: `badge ${state(d)}` }, state(d)), sort: state },
  ];
  const canPush = me.server.push;
  if (may("manager") && canPush) {
    columns.push({
      label: "Sync",
      value: (d) => h("button", {
        type: "button", class: "sync", disabled: Boolean(d.revoked_at),
        "aria-label": `Sync ${d.employee_name}'s ${d.model}`,
        onclick: () => attempt(`Sync sent to ${d.employee_name}'s phone.`, () => api(`/v1/devices/${d.id}/sync`, { method: "POST" })),
      }, "Sync now"),
    });
  }
  const stale = items.filter((d) => d.stale && !d.revoked_at).length;
  return h(
    "div", null,
    h("p", null, `${items.length} devices, ${stale} stale (nothing received for longer than the company's stale limit).`),
    canPush ? null : h("p", { class: "help" }, "Sync now needs push messages (FCM), which this server has not set up: phones upload on their own schedule."),
    downloads("/v1/devices", {}, "devices"),
    table(columns, items, { empty: "No device enrolled yet.", rowClass: (d) => (d.stale ? "stale" : "") }),
  );
}
