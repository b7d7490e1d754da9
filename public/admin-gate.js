// The promoter page's gate: whether a ticket's fixed QR code still admits (a switch
// for those who may change the drop), what each gate and each device admitted with
// its last sync, a revoke behind a confirm step, and the tickets admitted more than
// once, from GET/PATCH /api/admin/drops/:id/gate, GET /gate/devices and
// /gate/double-entries. Everything goes in by textContent.
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
	$("gate-gates").replaceChildren();
	text("gate-qr-state", "");
	$("gate-doubles").replaceChildren();
	text("gate-summary", "Waiting for the gate’s devices.");
	text("gate-status", "");
}

/** Reads the devices and the double entries and draws them, unless another drop is on screen by then. */
export async function refreshGate(adminApi, drop, isCurrent) {
	const base = `/api/admin/drops/${encodeURIComponent(drop.id)}/gate`;
	const [settings, { devices, gates, onlineWithoutDevice }, { doubleEntries }] = await Promise.all([
		adminApi(base),
		adminApi(`${base}/devices`),
		adminApi(`${base}/double-entries`),
	]);
	if (!isCurrent()) return;
	showStaticQr(settings.staticQr);
	$("gate-gates").replaceChildren(
		...gates.map((g) => {
			const tr = document.createElement("tr");
			tr.dataset.gate = g.gate;
			tr.append(
				cell("th", g.gate),
				cell("td", g.active === g.devices ? String(g.devices) : `${g.devices} (${g.active} active)`),
				cell("td", String(g.admitted)),
				cell("td", String(g.refused)),
				cell("td", g.lastSyncAt === null ? "never" : formatDateTime(g.lastSyncAt)),
			);
			return tr;
		}),
		...(onlineWithoutDevice === 0 ? [] : [withoutDeviceRow(onlineWithoutDevice)]),
	);
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
			// An admission of the ticket's code before a transfer names that code: the giver's copy went in too.
			const codeWords = (a) => (a.code === undefined || a.code === e.ticket ? "" : ` with its code before the transfer, ${a.code},`);
			const where = e.admissions.map((a) => `${admissionBy(a)}${codeWords(a)} at ${formatDateTime(a.at)}`).join("; ");
			li.textContent = `Ticket ${e.ticket}: admitted ${plural(e.admissions.length, "time")} (${where}).`;
			return li;
		}),
	);
}

/** Who admitted: the device, and whether the engine's scan did it online for it. */
const admissionBy = (a) => (a.via === "online" ? (a.deviceName === null ? "the online scan" : `${a.deviceName} (online)`) : a.deviceName);

/** Admissions by a scanner that named no device (the deployment's gate token, say): counted here, at no gate. */
function withoutDeviceRow(n) {
	const tr = document.createElement("tr");
	tr.append(cell("th", "No device named (online scans)"), cell("td", "–"), cell("td", String(n)), cell("td", "–"), cell("td", "–"));
	return tr;
}

function showStaticQr(on) {
	text("gate-qr-state", on ? "A ticket’s fixed QR code admits, as well as its live code." : "Only a ticket’s live code admits: fixed QR codes and screenshots are refused.");
	$("gate-static-qr").checked = on;
}

/** The fixed-QR switch: written at once; the page shows what the engine answered. */
export function wireGate(adminApi, currentDropId) {
	const box = $("gate-static-qr");
	box.addEventListener("change", async () => {
		const id = currentDropId();
		const wanted = box.checked;
		box.disabled = true;
		try {
			const after = await adminApi(`/api/admin/drops/${encodeURIComponent(id)}/gate`, { method: "PATCH", body: { staticQr: wanted } });
			if (currentDropId() !== id) return;
			showStaticQr(after.staticQr);
			text("gate-status", after.staticQr ? "Fixed QR codes admit again." : "Fixed QR codes no longer admit: only live codes do.");
		} catch (err) {
			box.checked = !wanted;
			text("gate-status", `Could not change the fixed QR code: ${err.message}`);
		} finally {
			box.disabled = false;
		}
	});
}

function deviceRow(adminApi, drop, d, isCurrent) {
	const tr = document.createElement("tr");
	tr.dataset.deviceId = d.id;
	const state = d.revokedAt === null ? "active" : `revoked ${formatDateTime(d.revokedAt)}`;
	tr.append(
		cell("th", d.name),
		cell("td", d.gate),
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
