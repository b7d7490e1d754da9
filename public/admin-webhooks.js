// The promoter page's webhooks: an owner key adds an endpoint (its URL, the events
// it wants, every drop or one) and sees its signing secret once; each endpoint is
// listed with its state (active or paused, since when, its last failure), can be
// paused (asked first: its events stop reaching the promoter's system) and resumed,
// and shows its deliveries, each with a button to send it again. The API lets only
// owner keys at webhooks, so the section is shown to them alone. Everything from
// the network goes in by textContent; an action's error is an alert by its button.
import { $, formatDateTime, plural, show, text } from "/common.js";
import { confirmStep } from "/confirm.js";
import { copyKey, showOnce } from "/team.js";

/** The events an endpoint may want, in the API's names, with what each means. */
const EVENTS = [
	["order.paid", "an order is paid"],
	["order.ticketed", "an order's tickets are issued"],
	["order.refunded", "an order is refunded"],
	["order.failed", "a step after a sale gave up"],
	["drop.opened", "a drop opens"],
	["drop.sold_out", "a drop sells out"],
	["drop.cancelled", "a drop is cancelled"],
	["ticket.transferred", "a ticket is handed on (its old code void)"],
	["resale.listed", "a ticket is listed for resale"],
	["resale.sold", "a listed ticket is sold (its seller refunded)"],
	["resale.ended", "a listing is withdrawn or returned at the close"],
	["presale.drawn", "a registered window is drawn"],
];
const DELIVERY_PAGE = 20;

let call = null;
/** Bumped at each sign-in and sign-out: an answer for an earlier session is dropped, never shown. */
let session = 0;
/** Drop names by id, to say which drop an endpoint listens to. */
let dropNames = new Map();
/** The endpoints whose deliveries are open, and each one's next page cursor. */
const open = new Map();

const isOwner = (who) => who?.kind === "key" && who.key?.role === "owner";

/** Called at sign-in with the page's API call, who signed in and their drops. */
export function startWebhooks(adminApi, who, drops) {
	session += 1;
	call = adminApi;
	open.clear();
	show("s-webhooks", isOwner(who));
	show("new-webhook", false);
	if (!isOwner(who)) return;
	dropNames = new Map(drops.map((d) => [d.id, d.name]));
	const select = $("wh-drop");
	const every = Object.assign(document.createElement("option"), { value: "", textContent: "Every drop, now and later" });
	select.replaceChildren(every, ...drops.map((d) => Object.assign(document.createElement("option"), { value: d.id, textContent: d.name })));
	loadEndpoints().catch(failed);
}

/** On sign-out: nothing of this session stays, its secret least of all. */
export function stopWebhooks() {
	session += 1;
	open.clear();
	for (const id of ["new-webhook-value", "new-webhook-text", "new-webhook-copied"]) text(id, "");
	show("new-webhook", false);
	show("s-webhooks", false);
	$("webhook-list").replaceChildren();
	$("wh-drop").replaceChildren();
}

function failed(err) {
	if (err.status === 401) return;
	text("webhooks-error", `Could not load the webhook endpoints: ${err.message}`);
	show("webhooks-error", true);
}

function fieldError(id, message, focusOn = null) {
	const input = $(id);
	// A group of check boxes says its error through aria-describedby alone (aria-invalid is not for a fieldset).
	if (input.tagName !== "FIELDSET") input.setAttribute("aria-invalid", message ? "true" : "false");
	text(`${id}-error`, message ?? "");
	show(`${id}-error`, Boolean(message));
	if (message) (focusOn ?? input).focus();
}

function clearFormErrors() {
	fieldError("wh-url", null);
	fieldError("wh-events", null);
	show("wh-form-error", false);
}

async function addEndpoint(event) {
	event.preventDefault();
	clearFormErrors();
	const url = $("wh-url").value.trim();
	const events = [...document.querySelectorAll("#wh-events input:checked")].map((box) => box.value);
	const firstBox = document.querySelector("#wh-events input");
	if (url === "") return fieldError("wh-url", "Enter the URL the engine sends to.");
	if (events.length === 0) return fieldError("wh-events", "Choose at least one event.", firstBox);
	const dropId = $("wh-drop").value;
	const button = $("wh-add");
	button.disabled = true;
	const gen = session;
	try {
		const made = await call("/api/admin/webhooks", { method: "POST", body: { url, events, ...(dropId ? { dropId } : {}) } });
		if (gen !== session) return;
		$("wh-url").value = "";
		showOnce("new-webhook", "new-webhook-text", "new-webhook-value", `Endpoint added for ${made.url}. Its signing secret:`, made.secret);
		await loadEndpoints();
	} catch (err) {
		if (err.status === 401 || gen !== session) return;
		if (err.details?.field === "url") fieldError("wh-url", err.message);
		else if (err.details?.field === "events") fieldError("wh-events", err.message, firstBox);
		else {
			text("wh-form-error", `Could not add the endpoint: ${err.message}`);
			show("wh-form-error", true);
		}
	} finally {
		button.disabled = false;
	}
}

async function loadEndpoints() {
	const gen = session;
	const { endpoints } = await call("/api/admin/webhooks");
	if (gen !== session) return;
	show("webhooks-error", false);
	show("webhooks-empty", endpoints.length === 0);
	$("webhook-list").replaceChildren(...endpoints.map(endpointItem));
	for (const id of open.keys()) if (!endpoints.some((e) => e.id === id)) open.delete(id);
	await Promise.all([...open.keys()].map((id) => loadDeliveries(id, true)));
}

function stateWords(e) {
	if (e.state === "active") return `Active since ${formatDateTime(e.stateSince)}`;
	return `Paused since ${formatDateTime(e.stateSince)} (${e.pausedReason ?? "paused"})`;
}

const el = (tag, props = {}) => Object.assign(document.createElement(tag), props);

function endpointItem(e) {
	const li = el("li", { className: "webhook" });
	li.dataset.webhookId = e.id;
	li.dataset.state = e.state;
	const scope = e.dropId === null ? "every drop" : `the drop “${dropNames.get(e.dropId) ?? e.dropId}”`;
	const lines = [
		el("strong", { className: "webhook-url", textContent: e.url }),
		el("span", { className: "meta", textContent: `${e.events.join(", ")} · ${scope}` }),
		el("span", { className: `webhook-state ${e.state}`, textContent: stateWords(e) }),
		el("span", {
			className: "meta webhook-failure",
			textContent: e.lastFailure ? `Last failure ${formatDateTime(e.lastFailure.at)}: ${e.lastFailure.error}` : "No failures",
		}),
	];
	if (e.failingSince) lines.push(el("span", { className: "meta", textContent: `Failing since ${formatDateTime(e.failingSince)}` }));
	const actions = el("span", { className: "item-actions" });
	const error = el("p", { className: "field-error", hidden: true });
	error.setAttribute("role", "alert");
	const toggle = button(e.state === "active" ? "Pause" : "Resume", `${e.state === "active" ? "Pause" : "Resume"} the endpoint ${e.url}`, (ev) => setState(e, ev.currentTarget, error));
	const panelId = `deliveries-${e.id}`;
	const more = button("", "", () => toggleDeliveries(e.id));
	more.dataset.url = e.url;
	toggleWords(more, open.has(e.id));
	more.setAttribute("aria-controls", panelId);
	more.dataset.role = "deliveries-toggle";
	actions.append(toggle, more);
	const panel = el("div", { className: "deliveries", id: panelId, hidden: !open.has(e.id) });
	li.append(...lines, actions, error, panel);
	return li;
}

function button(label, ariaLabel, onClick, className = "secondary") {
	const b = el("button", { type: "button", className, textContent: label });
	b.setAttribute("aria-label", ariaLabel);
	b.addEventListener("click", onClick);
	return b;
}

function showError(holder, message) {
	text(holder, message ?? "");
	show(holder, Boolean(message));
}

/** Pauses (asked first: the promoter's systems stop hearing) or resumes an endpoint. */
async function setState(e, opener, error) {
	showError(error, null);
	const pausing = e.state === "active";
	if (pausing) {
		const sure = await confirmStep({
			title: `Pause the endpoint ${e.url}?`,
			body: "The engine stops sending to it until you resume it. Its events wait meanwhile, none is lost, and go out in order when you resume.",
			confirm: "Pause the endpoint",
			keep: "Keep sending",
			opener,
		});
		if (!sure) return;
	}
	opener.disabled = true;
	const gen = session;
	try {
		await call(`/api/admin/webhooks/${encodeURIComponent(e.id)}/${pausing ? "pause" : "resume"}`, { method: "POST" });
		if (gen !== session) return;
		text("webhooks-live", pausing ? `Endpoint ${e.url} paused.` : `Endpoint ${e.url} resumed: its waiting events go out now.`);
		await loadEndpoints();
		// The list was drawn anew: the same button of the same endpoint keeps the focus.
		$("webhook-list").querySelector(`li[data-webhook-id="${CSS.escape(e.id)}"] .item-actions button`)?.focus();
	} catch (err) {
		if (err.status === 401 || gen !== session) return;
		opener.disabled = false;
		showError(error, `Could not ${pausing ? "pause" : "resume"} the endpoint: ${err.message}`);
	}
}

/** The deliveries button's words: its visible text starts its accessible name, which adds the endpoint's URL. */
function toggleWords(toggle, expanded) {
	toggle.textContent = expanded ? "Hide deliveries" : "Deliveries";
	toggle.setAttribute("aria-label", `${toggle.textContent} to ${toggle.dataset.url}`);
	toggle.setAttribute("aria-expanded", expanded ? "true" : "false");
}

function panelOf(id) {
	return $(`deliveries-${id}`);
}

async function toggleDeliveries(id) {
	const li = $("webhook-list").querySelector(`li[data-webhook-id="${CSS.escape(id)}"]`);
	const toggle = li?.querySelector("[data-role='deliveries-toggle']");
	if (open.has(id)) {
		open.delete(id);
		show(panelOf(id), false);
		toggleWords(toggle, false);
		return;
	}
	open.set(id, null);
	toggleWords(toggle, true);
	show(panelOf(id), true);
	await loadDeliveries(id, true);
}

/** An endpoint's deliveries, newest first: the first page again, or the next one added. */
async function loadDeliveries(id, fromStart) {
	const panel = panelOf(id);
	if (!panel) return;
	const gen = session;
	if (panel.childElementCount === 0) drawPanel(panel, id);
	const [list, empty, more, error] = ["list", "empty", "more", "error"].map((part) => panel.querySelector(`[data-part='${part}']`));
	const q = new URLSearchParams({ limit: String(DELIVERY_PAGE) });
	const cursor = fromStart ? null : open.get(id);
	if (cursor) q.set("cursor", cursor);
	try {
		const page = await call(`/api/admin/webhooks/${encodeURIComponent(id)}/deliveries?${q}`);
		if (gen !== session || !open.has(id)) return;
		showError(error, null);
		const items = page.deliveries.map((d) => deliveryItem(id, d));
		if (fromStart) list.replaceChildren(...items);
		else list.append(...items);
		open.set(id, page.nextCursor);
		show(empty, list.childElementCount === 0);
		show(more, page.nextCursor !== null);
	} catch (err) {
		if (err.status === 401 || gen !== session) return;
		showError(error, `Could not load the deliveries: ${err.message}`);
	}
}

function drawPanel(panel, id) {
	const heading = el("h3", { textContent: "Deliveries, newest first" });
	const list = el("ul", { className: "order-list delivery-list" });
	list.dataset.part = "list";
	const empty = el("p", { className: "hint", textContent: "Nothing sent yet: events come here as they happen." });
	empty.dataset.part = "empty";
	const error = el("p", { className: "field-error", hidden: true });
	error.dataset.part = "error";
	error.setAttribute("role", "alert");
	const refresh = button("Refresh the deliveries", "Refresh the deliveries", () => loadDeliveries(id, true));
	const more = button("Show older deliveries", "Show older deliveries", () => loadDeliveries(id, false));
	more.dataset.part = "more";
	more.hidden = true;
	const actions = el("div", { className: "actions" });
	actions.append(refresh, more);
	panel.append(heading, list, empty, error, actions);
}

const STATUS_WORDS = { pending: "waiting to be sent", delivered: "delivered", failed: "failed" };

function deliveryItem(endpointId, d) {
	const li = el("li");
	li.dataset.deliveryId = d.id;
	li.dataset.status = d.status;
	const times = [`made ${formatDateTime(d.createdAt)}`];
	if (d.lastAttemptAt) times.push(`last tried ${formatDateTime(d.lastAttemptAt)}`);
	if (d.deliveredAt) times.push(`delivered ${formatDateTime(d.deliveredAt)}`);
	const what = el("span");
	what.append(
		el("strong", { textContent: `${d.type}: ${STATUS_WORDS[d.status] ?? d.status}` }),
		" ",
		el("span", {
			className: "meta",
			textContent: `${plural(d.attempts, "attempt")} · last answer ${d.lastStatus ?? "none"}${d.lastError ? ` · ${d.lastError}` : ""} · ${times.join(" · ")} · event ${d.eventId}`,
		}),
	);
	const actions = el("span", { className: "item-actions" });
	const error = el("p", { className: "field-error", hidden: true });
	error.setAttribute("role", "alert");
	actions.append(button("Resend", `Resend the ${d.type} delivery ${d.id}`, (ev) => resend(endpointId, d, ev.currentTarget, error)));
	li.append(what, actions, error);
	return li;
}

/** Sends a delivery again (same event id: a receiver that dedupes sees it once). */
async function resend(endpointId, d, opener, error) {
	showError(error, null);
	opener.disabled = true;
	const gen = session;
	try {
		await call(`/api/admin/webhooks/${encodeURIComponent(endpointId)}/deliveries/${encodeURIComponent(d.id)}/resend`, { method: "POST" });
		if (gen !== session) return;
		text("webhooks-live", `The ${d.type} delivery is being sent again.`);
		await loadDeliveries(endpointId, true);
		panelOf(endpointId)?.querySelector(`li[data-delivery-id="${CSS.escape(d.id)}"] button`)?.focus();
	} catch (err) {
		if (err.status === 401 || gen !== session) return;
		opener.disabled = false;
		showError(error, `Could not resend it: ${err.message}`);
	}
}

/** The events' check boxes, and the listeners, once per page load. */
export function wireWebhooks() {
	$("wh-events-list").replaceChildren(
		...EVENTS.map(([name, words]) => {
			const id = `wh-event-${name.replace(".", "-")}`;
			const box = el("input", { type: "checkbox", id, value: name, checked: name.startsWith("order.") });
			const label = el("label", { htmlFor: id });
			label.append(el("code", { textContent: name }), ` ${words}`);
			const item = el("li", { className: "check" });
			item.append(box, label);
			return item;
		}),
	);
	$("webhook-form").addEventListener("submit", addEndpoint);
	$("wh-events").addEventListener("change", () => fieldError("wh-events", null));
	$("new-webhook-copy").addEventListener("click", () => copyKey("new-webhook"));
	$("webhooks-refresh").addEventListener("click", () => loadEndpoints().catch(failed));
}
