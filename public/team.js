// The promoter page's team parts (issue 17): the operator's promoters, a
// promoter's keys (minted, shown once, revoked) and the activity log. What a
// role may not do is not shown: staff see the keys and the log but no form or
// revoke button; the operator, who has no keys of its own, sees promoters.
// admin.js passes in its API call (with the signed-in credential) and who that is.
import { $, focusHeading, formatDateTime, formatMoney, plural, show, text } from "/common.js";

let call = null;
let me = null;
let activityCursor = null;
/** Bumped at each sign-in and sign-out: an answer for an earlier session is dropped, never shown. */
let session = 0;

const canChange = () => me.kind === "operator" || me.key?.role === "owner";

export function startTeam(adminApi, who) {
	session += 1;
	call = adminApi;
	me = who;
	show("s-promoters", me.kind === "operator");
	show("s-keys", me.kind === "key");
	show("s-activity", true);
	for (const id of ["promoter-key", "new-key"]) show(id, false);
	if (me.kind === "operator") loadPromoters().catch(failed("the promoters"));
	else loadKeys().catch(failed("the keys"));
	loadActivity(true).catch(failed("the activity log"));
}

function failed(what) {
	return (err) => {
		if (err.status === 401) return;
		text("alert", `Could not load ${what}: ${err.message}`);
		show("alert", true);
	};
}

function fieldError(input, message) {
	input.setAttribute("aria-invalid", message ? "true" : "false");
	text(`${input.id}-error`, message ?? "");
	show(`${input.id}-error`, Boolean(message));
	if (message) input.focus();
}

/** The secret shown once, in its box, focused so a screen reader reads it out. */
export function showOnce(boxId, textId, valueId, message, secret) {
	text(textId, message);
	text(valueId, secret);
	text(`${boxId}-copied`, "");
	show(boxId, true);
	focusHeading($(boxId));
}

/**
 * Copies the key shown in the box: the Clipboard API where the page may use it, else the
 * older copy command on the selected text; either way the result is said in the box's status.
 */
export async function copyKey(boxId) {
	const secret = $(`${boxId}-value`).textContent;
	let copied = false;
	try {
		await navigator.clipboard.writeText(secret);
		copied = true;
	} catch {
		const range = document.createRange();
		range.selectNodeContents($(`${boxId}-value`));
		const selection = window.getSelection();
		selection.removeAllRanges();
		selection.addRange(range);
		try {
			copied = document.execCommand("copy");
		} catch {
			copied = false;
		}
		if (copied) selection.removeAllRanges();
	}
	text(`${boxId}-copied`, copied ? "Copied to the clipboard." : "Could not copy: it is selected, press Ctrl+C (⌘C on a Mac) to copy it.");
}

// --- promoters (the operator) -----------------------------------------------

async function loadPromoters() {
	const gen = session;
	const { promoters } = await call("/api/admin/promoters?limit=200");
	if (gen !== session) return;
	$("promoter-list").replaceChildren(
		...promoters.map((p) => {
			const li = document.createElement("li");
			const limits = Object.entries(p.limits)
				.filter(([, v]) => v !== null)
				.map(([k, v]) => `${k} ${v}`);
			li.textContent = `${p.name} · ${p.id} · since ${formatDateTime(p.createdAt)}${limits.length ? ` · limits: ${limits.join(", ")}` : ""}`;
			return li;
		}),
	);
}

async function createPromoter(event) {
	event.preventDefault();
	const input = $("p-name");
	fieldError(input, null);
	const name = input.value.trim();
	if (name === "") return fieldError(input, "Enter the promoter’s name.");
	const button = $("promoter-button");
	button.disabled = true;
	try {
		const made = await call("/api/admin/promoters", { method: "POST", body: { name } });
		input.value = "";
		showOnce("promoter-key", "promoter-key-text", "promoter-key-value", `Promoter “${made.name}” created. Its first owner key:`, made.apiKey);
		await Promise.all([loadPromoters(), loadActivity(true)]);
	} catch (err) {
		if (err.status === 401) return;
		if (err.details?.field === "name") fieldError(input, err.message);
		else failed("the new promoter")(err);
	} finally {
		button.disabled = false;
	}
}

// --- keys (a promoter) -------------------------------------------------------

async function loadKeys() {
	const gen = session;
	const { keys } = await call("/api/admin/keys");
	if (gen !== session) return;
	$("key-list").replaceChildren(
		...keys.map((k) => {
			const li = document.createElement("li");
			li.dataset.keyId = k.id;
			const state = k.revokedAt ? `revoked ${formatDateTime(k.revokedAt)}` : `made ${formatDateTime(k.createdAt)}`;
			const mine = me.key?.id === k.id ? " (this key)" : "";
			li.append(`${k.label}${mine} · ${k.role} · ${k.id} · ${state} `);
			if (canChange() && !k.revokedAt) {
				const button = document.createElement("button");
				button.type = "button";
				button.className = "danger";
				button.textContent = "Revoke";
				button.setAttribute("aria-label", `Revoke the key “${k.label}”`);
				button.addEventListener("click", () => revokeKey(k, button));
				li.append(button);
			}
			return li;
		}),
	);
}

async function mintKey(event) {
	event.preventDefault();
	const input = $("k-label");
	fieldError(input, null);
	const label = input.value.trim();
	if (label === "") return fieldError(input, "Enter a label, so the key can be told apart in the log.");
	const role = $("k-role").value;
	const button = $("key-button");
	button.disabled = true;
	try {
		const made = await call("/api/admin/keys", { method: "POST", body: { label, role } });
		input.value = "";
		showOnce("new-key", "new-key-text", "new-key-value", `Key “${made.label}” (${made.role}) made:`, made.apiKey);
		await Promise.all([loadKeys(), loadActivity(true)]);
	} catch (err) {
		if (err.status === 401) return;
		if (err.details?.field === "label") fieldError(input, err.message);
		else failed("the new key")(err);
	} finally {
		button.disabled = false;
	}
}

async function revokeKey(key, button) {
	if (!window.confirm(`Revoke “${key.label}”? It stops working at once.`)) return;
	button.disabled = true;
	try {
		await call(`/api/admin/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
		text("drop-live", `Key “${key.label}” revoked.`);
		// Revoking the key in use signs this tab out on its next call.
		await Promise.all([loadKeys(), loadActivity(true)]);
	} catch (err) {
		button.disabled = false;
		failed("the revocation")(err);
	}
}

// --- the activity log --------------------------------------------------------

/** Field names in a change, in words. */
const FIELDS = {
	opensAt: "opening time", closesAt: "closing time", paused: "paused", name: "name", capacity: "tickets", maxPerFan: "limit per fan",
	priceCents: "price", holdSeconds: "hold time (s)", limits: "limits",
};

/** A value in a change, in words: times as local times, yes and no, nothing as "none". */
function valueText(value) {
	if (value === null || value === undefined) return "none";
	if (typeof value === "boolean") return value ? "yes" : "no";
	if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) return formatDateTime(value);
	if (typeof value === "object") {
		return Object.entries(value)
			.map(([k, v]) => `${k} ${valueText(v)}`)
			.join(", ");
	}
	return String(value);
}

function changesText(changes) {
	return Object.entries(changes ?? {})
		.map(([field, c]) => `${FIELDS[field] ?? field} ${valueText(c.from)} → ${valueText(c.to)}`)
		.join("; ");
}

/** What happened, as a sentence; an action this page does not know reads by its name. */
function sentence(entry) {
	const d = entry.detail ?? {};
	switch (entry.action) {
		case "drop.created":
			return `Created the drop “${d.name}” (${plural(d.capacity, "ticket")}, opens ${formatDateTime(d.opensAt)})`;
		case "drop.paused":
			return "Paused the drop";
		case "drop.resumed":
			return "Resumed the drop";
		case "drop.rescheduled":
			return `Rescheduled the drop: ${changesText(d.changes)}`;
		case "drop.updated":
			return `Changed the drop: ${changesText(d.changes)}`;
		case "drop.reconciled":
			return `Sent ${plural(d.resent, "sale")} to the records again`;
		case "drop.seats_uploaded":
			return `Uploaded the seats of “${d.ticketType}”: the drop now has ${plural(d.capacity?.to ?? 0, "ticket")} (was ${d.capacity?.from ?? "?"})`;
		case "drop.cancelled":
			return `Cancelled the drop: ${plural(d.refundedOrders ?? 0, "order")} refunded, ${plural(d.ordersLeft ?? 0, "order")} left to refund`;
		case "order.refunded": {
			const money = typeof d.amountCents === "number" && d.currency ? ` (${formatMoney(d.amountCents, d.currency)})` : "";
			const tickets = Array.isArray(d.tickets) ? `, ${plural(d.tickets.length, "ticket")}` : "";
			// The money is this refund's; until the provider has confirmed it, it is asked for, not gone back.
			const done = d.state === "pending" ? `Refund requested for order ${d.orderId}` : d.state === "failed" ? `Refund of order ${d.orderId} failed at the provider` : `Refunded order ${d.orderId}`;
			return `${done}${money}${tickets}${d.restock ? ", back on sale" : ""}`;
		}
		case "order.retried":
			return `Retried order ${d.orderId}`;
		case "key.minted":
			return `Made the key “${d.label}” (${d.role})`;
		case "key.revoked":
			return `Revoked the key “${d.label}” (${d.role})`;
		case "promoter.created":
			return `Created the promoter “${d.name}”`;
		case "promoter.updated":
			return `Changed the promoter: ${changesText(d.changes)}`;
		default:
			return entry.action;
	}
}

/** An entry: the sentence, then when, who and which drop, and the raw detail behind a disclosure. */
function entryItem(entry) {
	const li = document.createElement("li");
	li.dataset.action = entry.action;
	li.className = "activity-entry";
	const what = document.createElement("strong");
	what.textContent = sentence(entry);
	const who = { operator: "the operator", engine: "the engine", fan: "a ticket holder" }[entry.actor] ?? `“${entry.keyLabel}” (${entry.keyId})`;
	const meta = document.createElement("span");
	meta.className = "meta";
	const time = document.createElement("time");
	time.dateTime = entry.at;
	time.textContent = formatDateTime(entry.at);
	meta.append(time, ` · by ${who}${entry.dropId ? ` · drop ${entry.dropId}` : ""}`);
	li.append(what, " ", meta);
	if (entry.detail && Object.keys(entry.detail).length > 0) {
		const details = document.createElement("details");
		const summary = document.createElement("summary");
		summary.textContent = "Details";
		const pre = document.createElement("pre");
		pre.className = "raw-detail";
		pre.textContent = `${entry.action}\n${JSON.stringify(entry.detail, null, 2)}`;
		details.append(summary, pre);
		li.append(details);
	}
	return li;
}

async function loadActivity(fromStart) {
	if (fromStart) activityCursor = null;
	const q = new URLSearchParams({ limit: "20" });
	if (activityCursor) q.set("cursor", activityCursor);
	const gen = session;
	const page = await call(`/api/admin/activity?${q}`);
	if (gen !== session) return;
	const items = page.entries.map(entryItem);
	if (fromStart) $("activity-list").replaceChildren(...items);
	else $("activity-list").append(...items);
	activityCursor = page.nextCursor;
	show("activity-more", activityCursor !== null);
}

/** Listeners once per page load; startTeam may run again after signing in anew. */
export function wireTeam() {
	$("promoter-form").addEventListener("submit", createPromoter);
	$("key-form").addEventListener("submit", mintKey);
	$("activity-refresh").addEventListener("click", () => loadActivity(true).catch(failed("the activity log")));
	$("activity-more").addEventListener("click", () => loadActivity(false).catch(failed("the activity log")));
	for (const box of ["promoter-key", "new-key"]) $(`${box}-copy`).addEventListener("click", () => copyKey(box));
}

/** On sign-out: nothing of this session stays on the page for the next one (a key shown once least of all). */
export function stopTeam() {
	session += 1;
	me = null;
	activityCursor = null;
	for (const id of ["promoter-key-value", "new-key-value", "promoter-key-text", "new-key-text", "promoter-key-copied", "new-key-copied"]) text(id, "");
	for (const id of ["promoter-key", "new-key", "s-promoters", "s-keys", "s-activity", "activity-more"]) show(id, false);
	for (const id of ["promoter-list", "key-list", "activity-list"]) $(id).replaceChildren();
}

/** After a change made elsewhere on the page (a pause, a new drop): the log's first page again. */
export function refreshActivity() {
	if (me) loadActivity(true).catch(failed("the activity log"));
}
