// The promoter page's gate: the drop's gate devices (each with its last sync, what it
// admitted and refused, and a revoke behind a confirm step) and the tickets admitted
// more than once, from GET /api/admin/drops/:id/gate/devices and /gate/double-entries.
// Everything goes in by textContent.
import { $, formatDateTime, plural, text } from "/common.js";
import { confirmStep } from "/confirm.js";

/** A staff key reads the devices but may not revoke one. */
let readsOnly = false;

export function gateRole(reads) {
	readsOnly = reads;
}

function cell(tag, value) {
	const el = document.createElement(tag);
	el.textContent = value;
	if (tag === "th") el.scope = "row";
	return el;
}

/** Before a drop's gate arrives (another drop chosen): nothing of the last one stays on screen. */
export function clearGate() {
	$("gate-devices").replaceChildren();
	$("gate-doubles").replaceChildren();
	text("gate-summary", "Waiting for the gate’s devices.");
	text("gate-status", "");
}

/** Reads the devices and the double entries and draws them, unless another drop is on screen by then. */
export async function refreshGate(adminApi, drop, isCurrent) {
	const base = `/api/admin/drops/${encodeURIComponent(drop.id)}/gate`;
	const [{ devices }, { doubleEntries }] = await Promise.all([adminApi(`${base}/devices`), adminApi(`${base}/double-entries`)]);
	if (!isCurrent()) return;
	const active = devices.filter((d) => d.revokedAt === null).length;
	text(
		"gate-summary",
		devices.length === 0
			? "No device is registered for this drop yet: open /gate on a phone at the door and sign in with a gate key."
			: `${plural(devices.length, "device")}, ${active} active; ${doubleEntries.length === 0 ? "no ticket admitted twice" : `${plural(doubleEntries.length, "ticket")} admitted more than once`}.`,
	);
	$("gate-devices").replaceChildren(...devices.map((d) => deviceRow(adminApi, drop, d, isCurrent)));
	$("gate-doubles").replaceChildren(
		...doubleEntries.map((e) => {
			const li = document.createElement("li");
			li.dataset.ticket = e.ticket;
			const where = e.admissions.map((a) => `${a.deviceName ?? "the online scan"} at ${formatDateTime(a.at)}`).join("; ");
			li.textContent = `Ticket ${e.ticket}: admitted ${plural(e.admissions.length, "time")} (${where}).`;
			return li;
		}),
	);
}

function deviceRow(adminApi, drop, d, isCurrent) {
	const tr = document.createElement("tr");
	tr.dataset.deviceId = d.id;
	const state = d.revokedAt === null ? "active" : `revoked ${formatDateTime(d.revokedAt)}`;
	tr.append(
		cell("th", d.name),
		cell("td", d.lastSyncAt === null ? "never" : formatDateTime(d.lastSyncAt)),
		cell("td", String(d.admitted)),
		cell("td", String(d.refused)),
		cell("td", state),
	);
	const action = document.createElement("td");
	if (d.revokedAt === null && !readsOnly) {
		const button = Object.assign(document.createElement("button"), { type: "button", className: "secondary", textContent: `Revoke ${d.name}` });
		button.addEventListener("click", () => void revoke(adminApi, drop, d, button, isCurrent));
		action.append(button);
	}
	tr.append(action);
	return tr;
}

async function revoke(adminApi, drop, d, opener, isCurrent) {
	const sure = await confirmStep({
		title: `Revoke the device ${d.name}?`,
		body: "It can no longer download the ticket list or upload scans; what it scanned before stays. A lost or stolen phone should be revoked. It cannot be undone: register the phone again to use it.",
		confirm: "Revoke the device",
		keep: "Keep it",
		opener,
	});
	if (!sure) return;
	opener.disabled = true;
	try {
		await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}/gate/devices/${encodeURIComponent(d.id)}/revoke`, { method: "POST" });
		text("gate-status", `${d.name} is revoked.`);
		await refreshGate(adminApi, drop, isCurrent);
	} catch (err) {
		opener.disabled = false;
		text("gate-status", `Could not revoke ${d.name}: ${err.message}`);
	}
}
