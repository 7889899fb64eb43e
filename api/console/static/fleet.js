// Devices: battery, last seen, stale phones highlighted; managers can ask a phone to sync.
import { api, attempt, h, table, when } from "./lib.js";

function state(device) {
  if (device.revoked_at) return "revoked";
  return device.stale ? "stale" : "current";
}

export async function devices({ may }) {
  const { items } = await api("/v1/devices");
  const columns = [
    { label: "Employee", value: (d) => d.employee_name, sort: (d) => d.employee_name },
    { label: "Phone", value: (d) => `${d.brand} ${d.model}` },
    { label: "App", value: (d) => d.app_version || "—" },
    { label: "Battery", value: (d) => (d.battery_pct === null ? "—" : `${d.battery_pct}%${d.charging ? " (charging)" : ""}`), sort: (d) => d.battery_pct ?? -1 },
    { label: "Network", value: (d) => d.network || "—" },
    { label: "Last seen", value: (d) => when(d.last_seen_at), sort: (d) => d.last_seen_at || "" },
    { label: "State", value: (d) => h("span", { class: `badge ${state(d)}` }, state(d)), sort: state },
  ];
  if (may("manager")) {
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
    table(columns, items, { empty: "No device enrolled yet.", rowClass: (d) => (d.stale ? "stale" : "") }),
  );
}
