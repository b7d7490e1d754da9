// The promoter page: sign in with a promoter's API key or the operator's
// admin token, create and schedule drops, watch one live (stats, a sales
// chart, the queue's figures, the audit), pause and resume admission, download the sales as CSV;
// keys, promoters and the activity log are in team.js, webhooks in
// admin-webhooks.js. What the key's role may not do is hidden (elements marked
// data-needs="change" for a staff key; a gate key sees only a note), and the API
// refuses it anyway.
//
// The credential lives only in sessionStorage: it is gone when the tab closes.
import { cancelMoves, initOrders, refreshOrders } from "/admin-orders.js";
import { clearQueue, refreshQueue } from "/admin-queue.js";
import { clearGate, gateRole, refreshGate, wireGate } from "/admin-gate.js";
import { clearPresales, presalesRole, refreshPresales, windowsAudited, windowsEditor, wirePresales } from "/admin-presales.js";
import { $, api, focusHeading, formatDateTime, formatMoney, formatNumber, formatTime, plural, show, storage, text } from "/common.js";
import { refreshActivity, startTeam, stopTeam, wireTeam } from "/team.js";
import { startWebhooks, stopWebhooks, wireWebhooks } from "/admin-webhooks.js";
import { typesEditor, typesPanel } from "/admin-types.js";
import { createZone, fieldProblem, hasRule } from "/create-checks.js";
import { isoToWall, wallToIso } from "/zoned-time.js";

const session = storage("session");
const TOKEN_KEY = "tdrop:adminToken";
const DROP_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SVG = "http://www.w3.org/2000/svg";

let token = session.get(TOKEN_KEY);
/** Who the credential is (GET /api/admin/me): the operator, or a key with its role and promoter. */
let me = null;
let drops = [];
/** The drop on screen, its latest answer, and the generation of its refresh loop. */
let view = { id: null, drop: null, gen: 0, timer: null, round: 0, busy: false };
let sales = { rows: new Map(), resume: null, refreshes: 0 };
let auditSignature = "";

// --- API with the admin token ----------------------------------------------

async function adminApi(path, options = {}) {
	try {
		return await api(path, { ...options, token });
	} catch (err) {
		if (err.status === 401 && token) signOut("The engine refused the key or token (revoked, or not this engine’s). Sign in again.");
		throw err;
	}
}

function showAlert(message) {
	text("alert", message);
	show("alert", true);
}

const clearAlert = () => show("alert", false);

// --- sign in and out --------------------------------------------------------

async function signIn(event) {
	event.preventDefault();
	const input = $("admin-token");
	const candidate = input.value.trim();
	setFieldError(input, null);
	clearAlert();
	if (candidate === "") return setFieldError(input, "Enter the admin token.", true);
	const button = $("signin-button");
	button.disabled = true;
	try {
		const who = await api("/api/admin/me", { token: candidate });
		token = candidate;
		session.set(TOKEN_KEY, token);
		input.value = "";
		await enter(who);
	} catch (err) {
		if (err.status === 401) setFieldError(input, "That is neither a valid API key nor this engine’s admin token.", true);
		else showAlert(`Could not sign in: ${err.message}`);
	} finally {
		button.disabled = false;
	}
}

/** Into the page as `who`: a gate key gets only its note; the others their drops, shaped by role. */
async function enter(who, { focus = true } = {}) {
	me = who;
	show("s-signin", false);
	show("session", true);
	text("who", whoText(who));
	if (who.kind === "key" && who.key.role === "gate") {
		show("s-gate", true);
		if (focus) focusHeading($("h-gate"));
		return;
	}
	applyRole(who);
	const list = await adminApi("/api/admin/drops?limit=50");
	enterApp(list.drops);
	startTeam(adminApi, who);
	startWebhooks(adminApi, who, list.drops);
	if (focus) focusHeading($("h-drops"));
}

function whoText(who) {
	if (who.kind === "operator") return "Signed in as the operator (every drop) for this browser tab.";
	return `Signed in as ${who.promoter?.name ?? "a promoter"} with the ${who.key.role} key “${who.key.label}” for this browser tab.`;
}

/** Hides what the role may not do: a staff key only reads. */
function applyRole(who) {
	const reads = who.kind === "key" && who.key.role === "staff";
	// Controls drawn later (the orders' refund and retry buttons) read this too.
	document.body.dataset.reads = reads ? "true" : "false";
	for (const el of document.querySelectorAll("[data-needs='change']")) el.hidden = reads;
	gateRole(reads);
	presalesRole(reads);
	text("role-note", reads ? "This is a staff key: you can watch drops, their sales and the audit. Changes need an owner’s key." : "");
	show("role-note", reads);
}

function signOut(message = null, { focus = true } = {}) {
	token = null;
	me = null;
	session.remove(TOKEN_KEY);
	stopLive();
	stopTeam();
	stopWebhooks();
	// Nothing the last session saw stays for the next: its drop, its list.
	show("s-drop", false);
	drops = [];
	$("drop-list").replaceChildren();
	show("app", false);
	show("s-gate", false);
	show("session", false);
	// The next to sign in may be another promoter: the drop that was open is not theirs to open.
	if (location.hash) history.replaceState(null, "", location.pathname + location.search);
	show("s-signin", true);
	if (message) showAlert(message);
	if (focus) focusHeading($("h-signin"));
}

function enterApp(list) {
	show("s-signin", false);
	show("app", true);
	show("session", true);
	renderList(list);
	const wanted = location.hash.slice(1);
	if (DROP_ID.test(wanted)) selectDrop(wanted, { focus: false });
	else if (drops.length > 0) location.replace(`#${drops[0].id}`);
}

// --- the list of drops ------------------------------------------------------

async function loadList() {
	const list = await adminApi("/api/admin/drops?limit=50");
	renderList(list.drops);
}

const STATUS_LABEL = { scheduled: "Scheduled", open: "Open", paused: "Paused", sold_out: "Sold out", closed: "Closed", cancelled: "Cancelled" };

/** The drop's state: the engine's own (`status` of the admin view) when it is known, else worked out from the list's settings. */
function statusOf(drop, stats = null) {
	if (STATUS_LABEL[drop.status]) return [drop.status, STATUS_LABEL[drop.status]];
	const t = Date.now();
	if (drop.cancelledAt) return ["cancelled", "Cancelled"];
	if (drop.closesAt && Date.parse(drop.closesAt) <= t) return ["closed", "Closed"];
	if (stats && stats.remaining === 0 && stats.held === 0) return ["sold_out", "Sold out"];
	if (drop.paused) return ["paused", "Paused"];
	if (Date.parse(drop.opensAt) > t) return ["scheduled", "Scheduled"];
	return ["open", "Open"];
}

function renderList(list) {
	drops = list;
	show("drop-list-empty", list.length === 0);
	$("drop-list").replaceChildren(
		...list.map((d) => {
			const li = document.createElement("li");
			const a = document.createElement("a");
			a.href = `#${d.id}`;
			a.textContent = d.name;
			if (d.id === view.id) a.setAttribute("aria-current", "true");
			const badge = document.createElement("span");
			badge.dataset.dropId = d.id;
			const meta = document.createElement("span");
			meta.className = "meta";
			meta.textContent = `${plural(d.capacity, "ticket")} · opens ${formatDateTime(d.opensAt, d.timeZone)}`;
			li.append(a, " ", badge, meta);
			return li;
		}),
	);
	refreshBadges();
}

/** Statuses move with the clock (scheduled becomes open): update the badges in place, keeping focus where it is. */
function refreshBadges() {
	for (const badge of $("drop-list").querySelectorAll("[data-drop-id]")) {
		const d = drops.find((x) => x.id === badge.dataset.dropId);
		if (!d) continue;
		const [cls, label] = statusOf(d, d.id === view.drop?.id ? view.drop.stats : null);
		badge.className = `badge ${cls}`;
		text(badge, label);
	}
}

// --- creating a drop --------------------------------------------------------

function setFieldError(input, message, focus = false) {
	const error = $(`${input.id}-error`);
	input.setAttribute("aria-invalid", message ? "true" : "false");
	// The value refused: an error only the engine could find clears once the value is changed.
	if (message) input.dataset.refused = input.value;
	else delete input.dataset.refused;
	if (error) {
		text(error, message ?? "");
		show(error, Boolean(message));
	}
	if (message && focus) {
		const details = input.closest("details");
		if (details) details.open = true;
		input.focus();
	}
}

function clearFormErrors(form) {
	for (const input of form.querySelectorAll("[data-field]")) setFieldError(input, null);
}

/** The server names the field ("capacity", "admission.batchSize"): show its message by that input (or the nearest one: "ticketTypes.0.slots.1.capacity" by the slots). */
function showServerError(form, summaryId, err) {
	let field = err.details?.field;
	if (field === "admission") field = "admission.batchSize";
	let input = null;
	for (let path = field; path && input === null; path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "") {
		input = form.querySelector(`[data-field="${CSS.escape(path)}"]`);
	}
	const summary = summaryId ? $(summaryId) : null;
	if (input) {
		setFieldError(input, err.message, true);
		if (summary) {
			text(summary, `The drop was not saved: fix “${labelOf(input)}”. ${err.message}`);
			show(summary, true);
		}
	} else if (summary) {
		text(summary, `The drop was not saved: ${err.message}`);
		show(summary, true);
		summary.focus();
	} else {
		showAlert(err.message);
	}
}

const labelOf = (input) => document.querySelector(`label[for="${input.id}"]`)?.textContent ?? input.id;

/** Reads the form, and every problem the page can see in it at once (public/create-checks.js), each with its input. */
function readCreateForm(form) {
	const problems = [];
	for (const input of form.querySelectorAll("[data-field]")) {
		const problem = hasRule(input) ? fieldProblem(input) : null;
		if (problem) problems.push([input, problem]);
	}
	const num = (id, { cents = false } = {}) => {
		const raw = $(id).value.trim();
		if (raw === "" || $(id).validity.badInput) return undefined;
		const n = Number(raw);
		return cents ? Math.round(n * 100) : n;
	};
	// Typed on the drop's wall clock (its time zone below), whatever the browser's zone.
	const time = (id) => ($(id).value === "" ? undefined : wallToIso($(id).value, createZone()) ?? undefined);
	const body = {
		name: $("f-name").value,
		capacity: num("f-capacity"),
		maxPerFan: num("f-maxPerFan"),
		opensAt: time("f-opensAt"),
		closesAt: time("f-closesAt"),
		priceCents: num("f-price", { cents: true }),
		currency: $("f-currency").value.trim().toUpperCase() || undefined,
		shards: num("f-shards"),
		admission: {
			batchSize: num("f-batchSize"),
			intervalMs: num("f-intervalMs"),
			activeMultiple: num("f-activeMultiple"),
		},
		holdSeconds: num("f-holdSeconds"),
		// Always the zone the times above were read in, the browser's when the field is left empty.
		timeZone: createZone(),
	};
	// Leave out what is empty: the engine has defaults for it.
	for (const [k, v] of Object.entries(body.admission)) if (v === undefined) delete body.admission[k];
	for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
	return { body, problems };
}

/**
 * A marked field checked again as it is edited: its error clears once it is fixed (for a
 * value only the engine could refuse, once it is changed), and the form's summary counts
 * what is left. The closing time is checked again with the opening time it depends on.
 */
function recheckCreateField(event) {
	const form = $("create-form");
	const edited = event.target;
	const inputs = edited.id === "f-opensAt" ? [edited, $("f-closesAt")] : [edited];
	let cleared = false;
	for (const input of inputs) {
		if (!(input instanceof HTMLElement) || input.getAttribute("aria-invalid") !== "true") continue;
		const problem = fieldProblem(input);
		if (problem) setFieldError(input, problem);
		else if (input.dataset.refused !== input.value) {
			setFieldError(input, null);
			cleared = true;
		}
	}
	if (!cleared || $("create-summary").hidden) return;
	const left = form.querySelectorAll('[aria-invalid="true"]').length;
	if (left === 0) show("create-summary", false);
	else text("create-summary", `The drop was not saved: ${left === 1 ? "one field needs" : `${left} fields need`} attention.`);
}

async function createDrop(event) {
	event.preventDefault();
	const form = $("create-form");
	clearFormErrors(form);
	show("create-summary", false);
	const { body, problems } = readCreateForm(form);
	// Ticket types (public/admin-types.js): with any, the capacity is theirs.
	const ticketTypes = await types.editor.read(problems);
	// Sale windows before the general sale (public/admin-presales.js): fixed once the drop is made.
	const presales = presalesEditor.read(problems);
	if (presales.length > 0) body.presales = presales;
	if (ticketTypes.length > 0) {
		body.ticketTypes = ticketTypes;
		delete body.capacity;
		const capacityProblem = problems.findIndex(([input]) => input.id === "f-capacity");
		if (capacityProblem >= 0) problems.splice(capacityProblem, 1);
	}
	if (problems.length > 0) {
		for (const [input, message] of problems) setFieldError(input, message);
		text("create-summary", `The drop was not saved: ${problems.length === 1 ? "one field needs" : `${problems.length} fields need`} attention.`);
		show("create-summary", true);
		setFieldError(problems[0][0], problems[0][1], true);
		return;
	}
	const button = $("create-button");
	button.disabled = true;
	text(button, "Creating…");
	try {
		const drop = await adminApi("/api/admin/drops", { method: "POST", body });
		$("f-name").value = "";
		types.editor.clear();
		presalesEditor.clear();
		defaultOpensAt();
		await loadList().catch(() => renderList([drop, ...drops]));
		location.hash = drop.id;
		text("drop-live", `Drop “${drop.name}” created.`);
		refreshActivity();
	} catch (err) {
		if (err.status === 401) return;
		showServerError(form, "create-summary", err);
	} finally {
		button.disabled = false;
		text(button, "Create the drop");
	}
}

function defaultOpensAt() {
	// Ten minutes from now, on the minute: a sensible start for a new drop.
	const t = new Date(Date.now() + 10 * 60_000);
	t.setSeconds(0, 0);
	$("f-opensAt").value = isoToWall(t.toISOString(), createZone());
}

// --- one drop, live ---------------------------------------------------------

function stopLive() {
	view.gen += 1;
	clearTimeout(view.timer);
	view = { id: null, drop: null, gen: view.gen, timer: null, round: 0, busy: false };
}

async function selectDrop(id, { focus = true } = {}) {
	// Focus goes to the drop's heading once it has loaded, unless the promoter has moved it meanwhile (typing in the
	// create form while the first drop opens after signing in): their place is not taken from them.
	const focusedBefore = document.activeElement;
	stopLive();
	view.id = id;
	sales = { rows: new Map(), resume: null, refreshes: 0 };
	auditSignature = "";
	for (const a of $("drop-list").querySelectorAll("a")) {
		if (a.getAttribute("href") === `#${id}`) a.setAttribute("aria-current", "true");
		else a.removeAttribute("aria-current");
	}
	show("drop-error", false);
	$("audit").replaceChildren(Object.assign(document.createElement("p"), { className: "meta", textContent: "Checking…" }));
	text("chart-caption", "Waiting for sales.");
	$("chart").replaceChildren();
	clearQueue();
	clearGate();
	clearPresales();
	for (const id of ["stat-refunded", "stat-net"]) text(id, "–");
	try {
		const drop = await adminApi(`/api/admin/drops/${encodeURIComponent(id)}`);
		if (view.id !== id) return;
		renderDrop(drop);
		show("s-drop", true);
		if (focus && document.activeElement === focusedBefore) focusHeading($("drop-title"));
		liveLoop(view.gen);
	} catch (err) {
		if (err.status === 401) return;
		show("s-drop", false);
		showAlert(err.status === 404 ? "There is no drop with that id." : `Could not load the drop: ${err.message}`);
	}
}

/** Stats every 2 s, the chart every 4 s, the audit every 6 s; nothing while the tab is hidden. */
async function liveLoop(gen) {
	if (gen !== view.gen) return;
	if (!document.hidden) {
		const id = view.id;
		const round = view.round++;
		try {
			const drop = await adminApi(`/api/admin/drops/${encodeURIComponent(id)}`);
			if (gen !== view.gen) return;
			renderDrop(drop);
			if (round % 2 === 0) await refreshSales(id, gen);
			if (round % 2 === 0 && gen === view.gen) await refreshQueue(adminApi, drop, () => gen === view.gen);
			if (round % 3 === 0) await refreshAudit(id, gen);
			if (round % 3 === 1 && gen === view.gen) await refreshGate(adminApi, drop, () => gen === view.gen);
			if (round % 2 === 0 && gen === view.gen) await refreshPresales(adminApi, drop, () => gen === view.gen);
			if (round % 2 === 1) await refreshOrders(drop);
			if (gen === view.gen) show("drop-error", false);
		} catch (err) {
			if (err.status === 401 || gen !== view.gen) return;
			text("drop-error", `Live updates paused: ${err.message} Retrying.`);
			show("drop-error", true);
		}
	}
	if (gen === view.gen) view.timer = setTimeout(() => liveLoop(gen), 2_000);
}

/** "at £45.00" for one price; several types' prices as their range ("from £45.00 to £65.00"), never one type's price for all. */
function pricesOf(drop) {
	const cents = [...new Set((drop.ticketTypes?.length ? drop.ticketTypes : [drop]).map((t) => t.priceCents))].sort((a, b) => a - b);
	const money = (c) => formatMoney(c, drop.currency);
	return cents.length === 1 ? `at ${money(cents[0])}` : `from ${money(cents[0])} to ${money(cents[cents.length - 1])}`;
}

function renderDrop(drop) {
	view.drop = drop;
	types.panel.drop(drop);
	const s = drop.stats;
	text("drop-title", drop.name);
	text(
		"drop-facts",
		`${drop.id} · ${plural(drop.capacity, "ticket")} ${pricesOf(drop)} · up to ${drop.maxPerFan} per fan · opens ${formatDateTime(drop.opensAt, drop.timeZone)}` +
			(drop.closesAt ? ` · closes ${formatDateTime(drop.closesAt, drop.timeZone)}` : "") +
			` · time zone ${drop.timeZone}` +
			` · ${plural(drop.shards, "shard")} · batches of ${drop.admission.batchSize} every ${drop.admission.intervalMs} ms · holds ${drop.holdSeconds} s`,
	);
	const link = $("fan-link");
	link.href = `/drops/${drop.id}`;
	text(link, `${location.origin}/drops/${drop.id}`);
	const [cls, label] = statusOf(drop, s);
	const badge = $("drop-status");
	badge.className = `badge ${cls}`;
	text(badge, label);
	text("updated-at", `Updated ${formatTime(Date.now())}`);
	for (const key of ["joined", "waiting", "admitted", "held", "sold", "remaining", "recorded"]) text(`stat-${key}`, formatNumber(s?.[key]));
	renderMoves(drop);
	const opened = Date.parse(drop.opensAt) <= Date.now();
	const input = $("r-opensAt");
	input.disabled = opened;
	$("reschedule-button").disabled = opened;
	text("r-opensAt-hint", opened ? `Opened ${formatDateTime(drop.opensAt, drop.timeZone)}: an open drop cannot be moved.` : "A drop can be moved until it opens.");
	const zone = $("r-timeZone");
	if (document.activeElement !== zone && zone.dataset.dropId !== `${drop.id}@${drop.timeZone}`) {
		zone.value = drop.timeZone;
		zone.dataset.dropId = `${drop.id}@${drop.timeZone}`;
	}
	text("r-opensAt-label", `New opening time (${drop.timeZone})`);
	if (document.activeElement !== input && input.dataset.dropId !== `${drop.id}@${drop.opensAt}@${drop.timeZone}`) {
		input.value = isoToWall(drop.opensAt, drop.timeZone);
		input.dataset.dropId = `${drop.id}@${drop.opensAt}@${drop.timeZone}`;
	}
	// Keep the list's badge in step with what is on screen.
	const i = drops.findIndex((d) => d.id === drop.id);
	if (i >= 0) drops[i] = { ...drops[i], status: drop.status, paused: drop.paused, opensAt: drop.opensAt, closesAt: drop.closesAt, cancelledAt: drop.cancelledAt, timeZone: drop.timeZone };
	refreshBadges();
}

/** Offers exactly the moves the drop's state allows (the admin view's `moves`), and none to a staff key. */
function renderMoves(drop) {
	const moves = drop.moves ?? [];
	const reads = document.body.dataset.reads === "true";
	const pause = $("pause-button");
	const move = moves.includes("resume") ? "resume" : moves.includes("pause") ? "pause" : null;
	pause.hidden = reads || move === null;
	pause.dataset.move = move ?? "";
	text(pause, move === "resume" ? "Resume admission" : "Pause admission");
	pause.setAttribute("aria-describedby", "drop-status");
	for (const id of ["h-schedule", "reschedule-form"]) $(id).hidden = reads || !moves.includes("reschedule");
	for (const id of ["h-zone", "zone-form"]) $(id).hidden = reads || drop.status === "cancelled";
	cancelMoves(drop, reads);
}

async function togglePause() {
	const drop = view.drop;
	if (!drop) return;
	const button = $("pause-button");
	button.disabled = true;
	try {
		const paused = button.dataset.move === "pause";
		const next = await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}`, { method: "PATCH", body: { paused } });
		renderDrop(next);
		text("drop-live", next.paused ? "Admission paused. Waiting fans keep their places." : "Admission resumed.");
		refreshActivity();
	} catch (err) {
		if (err.status !== 401) {
			text("drop-error", `Could not ${drop.paused ? "resume" : "pause"}: ${err.message}`);
			show("drop-error", true);
		}
	} finally {
		button.disabled = false;
	}
}

async function reschedule(event) {
	event.preventDefault();
	const drop = view.drop;
	const input = $("r-opensAt");
	setFieldError(input, null);
	const iso = input.value ? wallToIso(input.value, drop.timeZone) : null;
	if (iso === null) return setFieldError(input, "Enter a date and time.", true);
	try {
		const next = await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}`, { method: "PATCH", body: { opensAt: iso } });
		renderDrop(next);
		text("drop-live", `Rescheduled: opens ${formatDateTime(next.opensAt, next.timeZone)}.`);
		refreshActivity();
	} catch (err) {
		if (err.status !== 401) showServerError($("reschedule-form"), null, err);
	}
}

async function changeTimeZone(event) {
	event.preventDefault();
	const drop = view.drop;
	const input = $("r-timeZone");
	setFieldError(input, null);
	const timeZone = input.value.trim();
	if (timeZone === "") return setFieldError(input, "Enter a time zone, such as Europe/Berlin.", true);
	try {
		const next = await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}`, { method: "PATCH", body: { timeZone } });
		renderDrop(next);
		text("drop-live", `Time zone changed: opens ${formatDateTime(next.opensAt, next.timeZone)}.`);
		refreshActivity();
	} catch (err) {
		if (err.status !== 401) showServerError($("zone-form"), null, err);
	}
}

/** The zones this browser knows, offered as the time zone fields' suggestions; the reader's own zone is the new drop's first guess. */
function offerTimeZones() {
	const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
	$("time-zones").replaceChildren(...["UTC", ...zones].map((z) => new Option(z, z)));
	if ($("f-timeZone").value === "") $("f-timeZone").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

async function exportCsv() {
	const drop = view.drop;
	if (!drop) return;
	const button = $("export-button");
	button.disabled = true;
	text(button, "Preparing the CSV…");
	try {
		// A plain link cannot send the token, so fetch it and hand the browser a Blob.
		const res = await adminApi(`/api/admin/drops/${encodeURIComponent(drop.id)}/sales`, { headers: { Accept: "text/csv" }, raw: true });
		const blob = await res.blob();
		const url = URL.createObjectURL(blob);
		const a = document.createElement("a");
		a.href = url;
		a.download = `sales-${drop.id}.csv`;
		document.body.append(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 30_000);
		text("drop-live", "Sales CSV downloaded.");
	} catch (err) {
		if (err.status !== 401) {
			text("drop-error", `Could not export the sales: ${err.message}`);
			show("drop-error", true);
		}
	} finally {
		button.disabled = false;
		text(button, "Download sales (CSV)");
	}
}

// --- the chart --------------------------------------------------------------

/**
 * Sales come from D1 page by page. Pages whose sales are over a minute old
 * are not asked for again (the resume cursor moves past them); every tenth
 * refresh starts over, so a sale recorded late is never missed for long.
 */
async function refreshSales(id, gen) {
	sales.refreshes += 1;
	if (sales.refreshes % 10 === 0) sales.resume = null;
	let cursor = sales.resume;
	for (let page = 0; page < 50; page++) {
		const q = new URLSearchParams({ limit: "1000" });
		if (cursor) q.set("cursor", cursor);
		const answer = await adminApi(`/api/admin/drops/${encodeURIComponent(id)}/sales?${q}`);
		if (gen !== view.gen) return;
		for (const s of answer.sales) sales.rows.set(s.orderId, { t: Date.parse(s.createdAt), q: s.quantity });
		if (!answer.nextCursor) break;
		const last = answer.sales.at(-1);
		if (last && Date.parse(last.createdAt) < Date.now() - 60_000) sales.resume = answer.nextCursor;
		cursor = answer.nextCursor;
	}
	drawChart();
}

function svg(name, attrs = {}, textContent = null) {
	const el = document.createElementNS(SVG, name);
	for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
	if (textContent !== null) el.textContent = textContent;
	return el;
}

function niceCeiling(n) {
	const p = 10 ** Math.floor(Math.log10(Math.max(1, n)));
	for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
	return 10 * p;
}

function drawChart() {
	const drop = view.drop;
	const chart = $("chart");
	if (!drop) return;
	const W = 640, H = 260, left = 52, right = 16, top = 16, bottom = 40;
	const points = [...sales.rows.values()].sort((a, b) => a.t - b.t);
	const total = points.reduce((sum, p) => sum + p.q, 0);
	const opens = Date.parse(drop.opensAt);
	const t0 = points.length > 0 ? Math.min(points[0].t, opens <= points[0].t ? opens : points[0].t) : opens;
	const t1 = Math.max(Date.now(), points.at(-1)?.t ?? 0, t0 + 60_000);
	// The whole capacity when sales reach a quarter of it; otherwise room above the sales.
	const yMax = total >= drop.capacity / 4 ? drop.capacity : Math.min(drop.capacity, niceCeiling(Math.max(4, total * 1.5)));
	const x = (t) => left + ((t - t0) / (t1 - t0)) * (W - left - right);
	const y = (v) => H - bottom - (v / yMax) * (H - top - bottom);
	const nodes = [];

	for (const v of [0, yMax / 2, yMax]) {
		const value = Math.round(v);
		nodes.push(svg("line", { class: "grid", x1: left, x2: W - right, y1: y(value), y2: y(value) }));
		nodes.push(svg("text", { x: left - 8, y: y(value) + 4, "text-anchor": "end" }, formatNumber(value)));
	}
	for (let i = 0; i <= 3; i++) {
		const t = t0 + ((t1 - t0) * i) / 3;
		nodes.push(svg("text", { x: x(t), y: H - bottom + 18, "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle" }, formatTime(t)));
	}
	nodes.push(svg("line", { class: "axis", x1: left, x2: left, y1: top, y2: H - bottom }));
	nodes.push(svg("line", { class: "axis", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
	nodes.push(svg("text", { x: left, y: H - 4 }, "time"));
	if (yMax === drop.capacity) {
		nodes.push(svg("line", { class: "capacity", x1: left, x2: W - right, y1: y(drop.capacity), y2: y(drop.capacity) }));
		nodes.push(svg("text", { x: W - right, y: y(drop.capacity) + 14, "text-anchor": "end" }, `capacity ${formatNumber(drop.capacity)}`));
	}

	if (points.length === 0) {
		nodes.push(svg("text", { class: "empty", x: (left + W - right) / 2, y: (top + H - bottom) / 2, "text-anchor": "middle" }, "No sales recorded yet"));
		text("chart-caption", `No sales recorded yet. Capacity ${formatNumber(drop.capacity)}.`);
	} else {
		// A step line: the count holds until the next sale.
		let cum = 0;
		let d = `M${x(t0).toFixed(1)},${y(0).toFixed(1)}`;
		for (const p of points) {
			d += ` H${x(p.t).toFixed(1)}`;
			cum += p.q;
			d += ` V${y(cum).toFixed(1)}`;
		}
		d += ` H${x(t1).toFixed(1)}`;
		nodes.push(svg("path", { class: "area", d: `${d} V${y(0).toFixed(1)} Z` }));
		nodes.push(svg("path", { class: "line", d, "data-points": points.length }));
		text(
			"chart-caption",
			`${plural(total, "ticket")} in ${plural(points.length, "order")} recorded between ${formatTime(points[0].t)} and ${formatTime(points.at(-1).t)}, of ${formatNumber(drop.capacity)}.`,
		);
	}
	chart.replaceChildren(...nodes);
}

// --- the audit --------------------------------------------------------------

/** A check the audit could not make yet (null: before the opening) reads as not checked, never as passed. */
function check(value, passed, failed, pending) {
	if (value === null || value === undefined) return ["pending", pending];
	return value ? ["ok", passed] : ["bad", failed];
}

const MARK = { ok: "✓", bad: "✗", pending: "–" };

async function refreshAudit(id, gen) {
	const audit = await adminApi(`/api/admin/drops/${encodeURIComponent(id)}/audit`);
	if (gen !== view.gen) return;
	const a = audit.admission ?? {};
	const checks = [
		check(audit.oversold === 0, "No oversell", `${formatNumber(audit.oversold)} tickets oversold`),
		check(audit.lost === 0, "No sale lost", `${formatNumber(audit.lost)} sales missing from D1`),
		check(audit.phantom === 0, "No unexplained rows in D1", `${formatNumber(audit.phantom)} rows in D1 that no shard sold`),
		check(audit.balanced, "Stock balances: sold + held + remaining = capacity", "Stock does not balance with capacity"),
		check(a.admittedInOrder, "Fans admitted in order", "Fans admitted out of order", "Fans admitted in order: not checked yet (nobody is admitted before the opening)"),
		check(a.shuffleVerified, "Open-time shuffle verifies", "Open-time shuffle does not verify", "Open-time shuffle: not checked yet (it is drawn at the opening)"),
	];
	types.panel.sold(audit.named);
	windowsAudited(audit.windows);
	renderRefunded(audit);
	const pending = audit.inTransit + audit.outboxPending;
	const waiting = checks.filter(([state]) => state === "pending").length;
	const verdict = audit.ok ? (waiting > 0 ? `No problems so far (${plural(waiting, "check")} not made yet)` : "Audit passed") : "Audit failed";
	const signature = JSON.stringify([audit.ok, checks, pending > 0, audit.refunds?.tickets]);
	if (signature === auditSignature) return;
	auditSignature = signature;
	const head = document.createElement("p");
	const badge = document.createElement("span");
	badge.className = `badge ${audit.ok ? "ok" : "bad"}`;
	badge.id = "audit-verdict";
	badge.textContent = verdict;
	const refunded = audit.refunds?.tickets ? `, ${formatNumber(audit.refunds.tickets)} refunded` : "";
	head.append(badge, ` ${formatNumber(audit.totals.sold)} sold${refunded}, ${formatNumber(audit.recordedTickets)} recorded in D1.`);
	const list = document.createElement("ul");
	list.className = "audit-list";
	for (const [state, label] of checks) {
		const li = document.createElement("li");
		li.textContent = `${MARK[state]} ${label}`;
		li.dataset.check = state;
		if (state === "bad") li.className = "field-error";
		if (state === "pending") li.className = "meta";
		list.append(li);
	}
	if (pending > 0) {
		const li = document.createElement("li");
		li.textContent = `… ${formatNumber(pending)} sales on their way to D1 (not lost)`;
		list.append(li);
	}
	$("audit").replaceChildren(head, list);
}

/**
 * Refunded tickets beside Sold, and what is sold net of them, from the audit's own figures: a
 * refund kept off sale still counts in the shards' sold, one put back on sale no longer does.
 */
function renderRefunded(audit) {
	const r = audit.refunds;
	if (!r) return;
	text("stat-refunded", formatNumber(r.tickets));
	text("stat-net", formatNumber(Math.max(0, audit.totals.sold - (r.tickets - r.restocked))));
}

// --- start ------------------------------------------------------------------

/** Ticket types: the create form's editor and the drop's panel (public/admin-types.js). */
const presalesEditor = windowsEditor($("windows-editor"), $("add-window"));
const types = {
	editor: typesEditor($("types-editor"), $("add-type")),
	panel: typesPanel($("types-panel"), { adminApi, onChanged: (drop) => renderDrop({ ...view.drop, ...drop }) }),
};

function start() {
	initOrders(
		adminApi,
		async () => {
			if (view.id) await selectDrop(view.id, { focus: false });
		},
		// A refund changes the totals: the audit is read again at once rather than at its next turn.
		() => {
			if (view.id) refreshAudit(view.id, view.gen).catch(() => {});
		},
	);
	$("signin-form").addEventListener("submit", signIn);
	$("signout").addEventListener("click", () => signOut());
	$("create-form").addEventListener("submit", createDrop);
	$("create-form").addEventListener("input", recheckCreateField);
	$("create-form").addEventListener("change", recheckCreateField);
	$("reschedule-form").addEventListener("submit", reschedule);
	$("zone-form").addEventListener("submit", changeTimeZone);
	$("pause-button").addEventListener("click", togglePause);
	$("export-button").addEventListener("click", exportCsv);
	$("refresh-list").addEventListener("click", () => loadList().catch((err) => err.status !== 401 && showAlert(err.message)));
	$("f-currency").addEventListener("input", (e) => (e.target.value = e.target.value.toUpperCase()));
	wireTeam();
	wireWebhooks();
	wireGate(adminApi, () => view.id);
	wirePresales();
	window.addEventListener("hashchange", () => {
		const id = location.hash.slice(1);
		if (token && DROP_ID.test(id) && id !== view.id) selectDrop(id);
	});
	defaultOpensAt();
	offerTimeZones();
	if (!token) return signOut(null, { focus: false });
	adminApi("/api/admin/me")
		.then((who) => enter(who, { focus: false }))
		.catch((err) => {
			if (err.status === 401) return;
			show("s-signin", false);
			showAlert(`Could not reach the engine: ${err.message} Reload to try again.`);
		});
}

start();
