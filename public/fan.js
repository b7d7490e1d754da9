// The fan page: join a drop's queue, wait, hold tickets, pay, see the tickets.
//
// Everything the fan needs to come back (their fan id and its secret, the
// queue token, the access token, a hold, the order and its order token) is kept
// in localStorage under the drop's id, so a reload or a new tab lands where the
// fan was: same place in line, same hold, same tickets. The secret proves to the
// engine that a second join under the fan id is this fan's: it is made here
// before the first join and sent with every join, so even a join whose answer
// was lost can be sent again. The order token outlives the fan's turn (a year),
// so the page reads the order from the engine again whenever the fan comes back.
import { cardField } from "/card.js";
import { closeConfirm, confirmStep } from "/confirm.js";
import { statusText, ticketItems } from "/tickets.js";
import { addTransferControls } from "/transfer-ui.js";
import { addResaleControls, openListings, orderListings } from "/resale-ui.js";
import { $, api, focusHeading, formatCountdown, keepPageOffline, lineFigures, randomId, show, sleep, storage, text } from "/common.js";
import { errorText, formatClock, formatDateTime, formatDuration, formatEstimate, formatMoney, formatNumber, t, translatePage, useTimeZone } from "/i18n.js";
import { hasNamedTypes, namedChooser, seatWordsOf, unitPrice, unitsInWords } from "/named.js";
import { clearCodeError, codeRefused, nextBoundary, renderWindows, typedCode, windowForJoin } from "/presale.js";
import { renderRegistration, setUpRegistration } from "/registration.js";
import { renderTurnMail, setUpTurnMail } from "/turn-mail.js";

const dropId = decodeURIComponent(location.pathname.split("/")[2] ?? "");
const store = storage("local");
const FAN_KEY = "tdrop:fanId";
const STATE_KEY = `tdrop:drop:${dropId}`;
const SECTIONS = ["loading", "intro", "waiting", "choose", "pay", "done", "final"];

const FAN_ID = /^[A-Za-z0-9._:@+-]{1,128}$/;
const FAN_SECRET = /^[A-Za-z0-9_-]{32,128}$/;
/** This drop's fan id and secret: { fanId, fanSecret }, apart from the state that a lost place clears. */
const IDENTITY_KEY = `tdrop:fan:${dropId}`;

/** 32 random bytes, base64url: the secret this fan joins this drop with. */
function newSecret() {
	const bytes = crypto.getRandomValues(new Uint8Array(32));
	return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function loadIdentity() {
	try {
		const value = JSON.parse(store.get(IDENTITY_KEY) ?? "null");
		if (value && FAN_ID.test(value.fanId ?? "") && FAN_SECRET.test(value.fanSecret ?? "")) return value;
	} catch {
		// made afresh below
	}
	return null;
}

/** The fan id and secret for this drop, stored before the first join so a reload or another tab sends the same. */
function fanIdentity() {
	const stored = loadIdentity();
	if (stored) return stored;
	let id = store.get(FAN_KEY);
	if (!id || !FAN_ID.test(id)) {
		id = randomId("fan-");
		store.set(FAN_KEY, id);
	}
	const made = { fanId: id, fanSecret: newSecret() };
	store.set(IDENTITY_KEY, JSON.stringify(made));
	return made;
}

let { fanId, fanSecret } = fanIdentity();

/** What survives a reload: { queueToken, window, firstPlace, lastPlace, accessToken, accessExpiresAt, pendingHold, hold, order, orderToken }; `window` { name, opensAt } for a sale window's fan. */
let saved = loadSaved();

function loadSaved() {
	try {
		const value = JSON.parse(store.get(STATE_KEY) ?? "{}");
		return value && typeof value === "object" ? value : {};
	} catch {
		return {};
	}
}

function save() {
	store.set(STATE_KEY, JSON.stringify(saved));
}

/**
 * The drop's view as last read here, so a reload draws the fan's state before any
 * request answers (on a slow network, a request is seconds); the view read at start
 * replaces it a moment later.
 */
const VIEW_KEY = `tdrop:view:${dropId}`;

function keptDrop() {
	try {
		const value = JSON.parse(store.get(VIEW_KEY) ?? "null");
		return value && typeof value === "object" && typeof value.name === "string" && typeof value.opensAt === "string" ? value : null;
	} catch {
		return null;
	}
}

let drop = null;
/** Server time minus local time, so countdowns follow the engine's clock. */
let skew = 0;
const now = () => Date.now() + skew;
let current = "loading";
let pollTimer = null;
let dropTimer = null;
let failures = 0;
let rejoinedOnce = false;
let lastView = null;
let lastAnnounced = { ahead: null, at: 0 };
let holdWarnings = new Set();
/** A notice to show when the fan next reaches the ticket choice (set while loading). */
let pendingNotice = null;
/** When the next sale window opens or closes (ms), for the intro to be drawn again then; null: none to come. */
let windowsRedrawAt = null;

function syncClock(serverTime) {
	const t = Date.parse(serverTime ?? "");
	if (Number.isFinite(t)) skew = t - Date.now();
}

// --- rendering -------------------------------------------------------------

function setState(name, { focus = true } = {}) {
	for (const s of SECTIONS) show(`s-${s}`, s === name);
	$("s-loading").setAttribute("aria-busy", String(name === "loading"));
	const changed = name !== current;
	const wasLoading = current === "loading";
	// A question asked on the last step (give the tickets back?) no longer stands on this one.
	if (changed) closeConfirm();
	// The seat map reads the availability only while the choice is on screen.
	if (name !== "choose") chooser?.stop();
	current = name;
	if (changed && focus && !wasLoading) focusHeading($(`s-${name}`).querySelector("h2"));
	updateTitle();
}

function updateTitle() {
	const name = drop?.name ?? t("page.title");
	let prefix = "";
	if (current === "waiting" && lastView?.position) prefix = t("title.inLine", { n: formatNumber(lastView.position) });
	else if (current === "choose") prefix = t(saved.offer ? "title.offer" : "title.turn");
	else if (current === "pay") prefix = t("title.held");
	else if (current === "done") prefix = { going: t("title.tickets"), refunded: drop?.status === "cancelled" ? t("title.cancelled") : t("title.refunded"), cancelling: t("title.cancelled") }[saved.order ? orderOutcome(saved.order) : "going"];
	document.title = `${prefix}${prefix ? " · " : ""}${name}`;
}

let announcements = [];
let announceTimer = null;

/** Says a message through the live region; messages within a moment of each other are read together. */
function announce(message) {
	announcements.push(message);
	if (announceTimer !== null) return;
	const live = $("live");
	// Clearing first makes a repeated message be read again.
	live.textContent = "";
	announceTimer = setTimeout(() => {
		live.textContent = announcements.join(" ");
		announcements = [];
		announceTimer = null;
	}, 100);
}

function showAlert(message) {
	const el = $("alert");
	text(el, message);
	show(el, true);
}

function clearAlert() {
	show("alert", false);
}

const price = (cents) => (cents === 0 ? t("price.free") : formatMoney(cents, drop.currency));

/** The wait in words: an estimate only from the batches let in lately; otherwise why there is none (the API's `waitUnknown`). */
function waitWords(view) {
	if (view.paused || view.waitUnknown === "paused") return t("wait.paused");
	if (view.waitUnknown === "waiting_for_tickets") return t("wait.forTickets");
	if (typeof view.estimatedWaitMs !== "number") return t(typeof view.admittedPerMinute === "number" ? "wait.justStarted" : "wait.noPace");
	return formatEstimate(view.estimatedWaitMs);
}

/** The pace behind the estimate, in words, or "" with none. */
function paceWords(view) {
	if (view.paused || typeof view.admittedPerMinute !== "number") return "";
	const n = view.admittedPerMinute;
	return t("wait.pace", { n: formatNumber(n >= 10 ? Math.round(n) : Math.round(n * 10) / 10) });
}

let headerSaysOpened = false;

function renderDropHeader() {
	useTimeZone(drop.timeZone);
	text("drop-name", drop.name);
	text("header-drop", drop.name);
	headerSaysOpened = Date.parse(drop.opensAt) <= now();
	const parts = [priceWords(), t(headerSaysOpened ? "header.opened" : "header.opens", { when: formatDateTime(drop.opensAt) })];
	if (drop.closesAt) parts.push(t("header.closes", { when: formatDateTime(drop.closesAt) }));
	text("drop-meta", parts.join(" · "));
	updateTitle();
}

/** The drop's prices in the header's few words: one price as it is, several as the lowest ("from £45.00"); each type's own is in the intro's boxes. */
function priceWords() {
	const cents = hasNamedTypes(drop) ? [...new Set(drop.ticketTypes.map((t) => t.priceCents))].sort((a, b) => a - b) : [drop.priceCents];
	if (cents.length === 1) return cents[0] === 0 ? t("header.free") : t("header.perTicket", { price: price(cents[0]) });
	return cents[0] === 0 ? t("header.freeAndPaid", { price: price(cents[cents.length - 1]) }) : t("header.from", { price: price(cents[0]) });
}

/** The intro's price boxes: one "Price per ticket", or one box per ticket type with its own price. */
function renderPrices() {
	const box = $("price-box");
	for (const old of $("intro-figures").querySelectorAll(".type-price")) old.remove();
	if (!hasNamedTypes(drop)) {
		show(box, true);
		text("intro-price", price(drop.priceCents));
		return;
	}
	show(box, false);
	const boxes = drop.ticketTypes.map((t) => {
		const div = document.createElement("div");
		div.className = "type-price";
		const dt = document.createElement("dt");
		dt.textContent = t.name;
		const dd = document.createElement("dd");
		dd.textContent = price(t.priceCents);
		div.append(dt, dd);
		return div;
	});
	box.after(...boxes);
}

function showFinal(title, message, action = null, next = null) {
	clearTimeout(pollTimer);
	soldOutShown = false;
	text("h-final", title);
	text("final-text", message);
	text("final-next", next ?? "");
	show("final-next", next !== null);
	const button = $("final-action");
	show(button, action !== null);
	if (action) {
		text(button, action.label);
		button.onclick = action.run;
	}
	setState("final");
	announce(t("say.titled", { title, text: `${message}${next ? ` ${next}` : ""}` }));
}

/** Whether the final page is the sold-out one, which watches for tickets coming back. */
let soldOutShown = false;

/**
 * Sold out, in words for where the fan was. The line outlives the sell-out: a fan with no
 * place yet is offered one, for the tickets that come back (offered to the fans in line, in
 * order). A fan whose turn came before the sell-out cannot take a returned ticket while
 * anyone waits, so their page watches for tickets back on sale and says so; `canJoin`
 * false is a join the engine answered with no place (nothing stored), which gets that too.
 */
function soldOut({ canJoin = true } = {}) {
	const choosing = current === "choose" || current === "pay" || saved.accessToken;
	if (canJoin && !choosing && !saved.queueToken) {
		showFinal(t("soldOut.title"), t("soldOut.all"), { label: t("soldOut.joinLine"), run: join }, t("soldOut.joinNext"));
		return;
	}
	const message = t(current === "choose" || current === "pay" || saved.accessToken ? "soldOut.whileChoosing" : saved.queueToken ? "soldOut.beforeTurn" : "soldOut.all");
	showFinal(t("soldOut.title"), message, { label: t("soldOut.check"), run: () => checkForReturns(true) }, t("soldOut.next"));
	soldOutShown = true;
	returnChecks = 0;
	watchForReturns();
}

/** The sold-out page's looks so far: each waits longer than the last. */
let returnChecks = 0;

/**
 * While the sold-out page is up, the drop's view (a cached copy: no object call) is read again, first
 * after about 30 s, then each time twice as long up to about 5 minutes: tickets come back rarely, and a
 * page left open all evening should not keep asking. Not while the tab is hidden.
 */
function watchForReturns() {
	clearTimeout(dropTimer);
	const wait = Math.min(300_000, 30_000 * 2 ** returnChecks);
	dropTimer = setTimeout(() => {
		if (document.hidden) return watchForReturns();
		returnChecks += 1;
		void checkForReturns(false);
	}, Math.round(wait * (0.8 + 0.4 * Math.random())));
}

/** One look for returned tickets; said aloud only when the fan asked (pressed the button), never on the page's own rounds. */
async function checkForReturns(pressed) {
	if (current !== "final" || !soldOutShown) return;
	const button = $("final-action");
	// aria-disabled, not disabled: the button keeps focus while the check runs.
	if (button.getAttribute("aria-disabled") === "true") return;
	button.setAttribute("aria-disabled", "true");
	let reached = true;
	try {
		await loadDrop();
	} catch {
		reached = false;
	} finally {
		button.removeAttribute("aria-disabled");
	}
	if (current !== "final" || !soldOutShown) return;
	if (!reached) {
		// The copy on the page is the old one: it says nothing about now.
		if (pressed) announce(t("soldOut.notChecked"));
		return watchForReturns();
	}
	if (drop.status === "cancelled") return cancelled();
	if (drop.status === "sold_out" || drop.status === "closed") {
		if (drop.status === "closed") return closed();
		if (pressed) announce(t("soldOut.still"));
		return watchForReturns();
	}
	// Back on sale: a fan with a place asks for it again; anyone else may join.
	announce(t("returns.back"));
	if (saved.queueToken) return pollStatus();
	showIntro();
	text("intro-news", t("returns.news"));
	show("intro-news", true);
}
const closed = () => showFinal(t("closed.title"), t("closed.text"));
const turnEnded = () => showFinal(t("turnEnded.title"), t("turnEnded.text"));
const notFound = () => showFinal(t("notFound.title"), t("notFound.text"));

/**
 * The drop was cancelled (its view says so, or the engine refused a join, a status, a
 * hold or a purchase with drop_cancelled): nothing of the fan's goes on. A buyer sees
 * their order and its refund; anyone else learns that nothing is or will be charged.
 */
function cancelled() {
	clearTimeout(pollTimer);
	clearTimeout(dropTimer);
	if (drop) drop.status = "cancelled";
	if (saved.hold || saved.pendingHold) {
		delete saved.hold;
		delete saved.pendingHold;
		save();
	}
	if (saved.order) return showOrder();
	showFinal(t("cancelled.title"), t("cancelled.text"));
}

// --- the drop and the intro ------------------------------------------------

async function loadDrop() {
	drop = await api(`/api/drops/${encodeURIComponent(dropId)}`);
	store.set(VIEW_KEY, JSON.stringify(drop));
	reached();
	syncClock(drop.serverTime);
	renderDropHeader();
	return drop;
}

function showIntro() {
	clearTimeout(pollTimer);
	if (drop.status === "cancelled") return cancelled();
	if (drop.status === "sold_out") return soldOut();
	if (drop.status === "closed") return closed();
	const scheduled = Date.parse(drop.opensAt) > now();
	show("opens-block", scheduled);
	text("opens-at", t("intro.opensAt", { when: formatDateTime(drop.opensAt) }));
	text("intro-status", t(scheduled ? "intro.joinNow" : drop.paused ? "intro.openPaused" : "intro.open"));
	renderWindows(drop, now());
	windowsRedrawAt = nextBoundary(drop.presales, now());
	renderRegistration(drop, now());
	renderPrices();
	// Open, yet nothing free: every ticket is in someone's hold, and holds that go unpaid come back.
	const allHeld = !scheduled && drop.status === "open" && drop.remaining === 0;
	show("held-note", allHeld);
	if (allHeld) {
		text("held-text", t("intro.allHeld", { hold: formatDuration(drop.holdSeconds * 1000) }));
	}
	text("intro-remaining", allHeld ? t("intro.noneAllHeld", { n: formatNumber(0) }) : formatNumber(drop.remaining));
	text("intro-limit", formatNumber(drop.maxPerFan));
	show("join-hint", scheduled);
	setState("intro");
	tick();
	// Keep "tickets left" and the status current while the fan reads.
	clearTimeout(dropTimer);
	dropTimer = setTimeout(refreshIntro, introRefreshMs());
}

async function refreshIntro() {
	if (current !== "intro") return;
	try {
		await loadDrop();
		showIntro();
	} catch (err) {
		if (err.status === 0) offlineSaid(true);
		clearTimeout(dropTimer);
		dropTimer = setTimeout(refreshIntro, err.status === 0 ? retryDelay(err) : introRefreshMs());
	}
}

async function join() {
	const button = $("join");
	button.disabled = true;
	text(button, t("intro.joining"));
	clearAlert();
	clearCodeError();
	const code = typedCode();
	try {
		const view = await sendJoin(code);
		// A sale window's fan waits for the window's opening, not the general sale's (the view's opensAt is its room's).
		// The answer names the window (a listed fan's, which the page cannot know); an older engine's does not.
		const named = view.window ? (drop?.presales ?? []).find((w) => w.id === view.window) : undefined;
		const window = named ?? windowForJoin(drop?.presales, now(), code !== undefined);
		saved = { queueToken: view.queueToken, ...(window === null ? {} : { window: { name: window.name, opensAt: view.opensAt ?? window.opensAt } }) };
		save();
		announce(t(view.rejoined ? "intro.rejoined" : "intro.joined"));
		applyQueueView(view);
	} catch (err) {
		if (err.code === "drop_closed") return closed();
		if (err.code === "drop_cancelled") return cancelled();
		if (err.status === 404) return notFound();
		if (codeRefused(err)) return;
		const wait = err.retryAfter ? ` ${t("retry.in", { wait: formatDuration(err.retryAfter * 1000) })}` : "";
		showAlert(`${t("intro.couldNotJoin", { reason: errorText(err) })}${wait}`);
	} finally {
		button.disabled = false;
		text(button, t("intro.join"));
	}
}

/**
 * Joins with this drop's fan id and secret. Refused as someone else's id (`fan_id_taken`):
 * another tab may have just stored the secret it joined with, so that one is tried; if
 * that is not it either, the id is not ours here, and the fan joins under a new one.
 */
async function sendJoin(code) {
	const path = `/api/drops/${encodeURIComponent(dropId)}/join`;
	const withCode = code === undefined ? {} : { code };
	try {
		return await api(path, { method: "POST", body: { fanId, fanSecret, ...withCode } });
	} catch (err) {
		if (err.code !== "fan_id_taken") throw err;
	}
	const stored = loadIdentity();
	if (stored && (stored.fanId !== fanId || stored.fanSecret !== fanSecret)) {
		({ fanId, fanSecret } = stored);
		try {
			return await api(path, { method: "POST", body: { fanId, fanSecret, ...withCode } });
		} catch (err) {
			if (err.code !== "fan_id_taken") throw err;
		}
	}
	fanId = randomId("fan-");
	fanSecret = newSecret();
	store.set(IDENTITY_KEY, JSON.stringify({ fanId, fanSecret }));
	renderDropHeader();
	return api(path, { method: "POST", body: { fanId, fanSecret, ...withCode } });
}

// --- the queue -------------------------------------------------------------

function schedulePoll(ms) {
	clearTimeout(pollTimer);
	pollTimer = setTimeout(pollStatus, Math.max(250, ms));
}

/** When the latest poll was sent (performance.now()), so an older answer never replaces a newer one. */
let lastPollStarted = -1;

async function pollStatus() {
	clearTimeout(pollTimer);
	lastPollStarted = performance.now();
	if (!saved.queueToken) return showIntro();
	try {
		const view = await api(`/api/drops/${encodeURIComponent(dropId)}/status`, { token: saved.queueToken });
		failures = 0;
		clearAlert();
		reached();
		applyQueueView(view);
	} catch (err) {
		await statusFailed(err);
	}
}

async function statusFailed(err) {
	// A cancel ends the line for everyone in it: no more polling.
	if (err.code === "drop_cancelled") return cancelled();
	if (err.status === 401 && !rejoinedOnce) {
		// The queue token is no longer accepted: joining again with the same fan id gives back the same place.
		rejoinedOnce = true;
		saved = {};
		save();
		await join();
		if (current === "loading") showIntro();
		return;
	}
	if (err.status === 401 || err.status === 403) {
		saved = {};
		save();
		showAlert(t("waiting.unconfirmed"));
		return showIntro();
	}
	if (err.status === 404) return notFound();
	failures += 1;
	const delay = retryDelay(err);
	if (err.status === 0) {
		offlineSaid(true);
	} else if (failures > 2) {
		// A single hiccup (the queue being ordered at the opening answers 503) is retried quietly.
		showAlert(`${errorText(err)} ${t("waiting.retrying", { wait: formatDuration(delay) })}`);
	}
	if (current === "loading") setState("waiting", { focus: false });
	schedulePoll(delay);
}

/**
 * How long to wait before asking again. The engine's Retry-After is obeyed, and its other
 * refusals back off to 30 s; with no answer at all (no connection) the page asks again
 * within a few seconds, spread, and at once when the browser says it is back online.
 */
function retryDelay(err) {
	if (err.retryAfter) return err.retryAfter * 1000;
	const backoff = Math.min(30_000, 1000 * 2 ** Math.min(failures, 5));
	return err.status === 0 ? Math.min(backoff, Math.round(OFFLINE_RETRY_MS * (0.8 + 0.4 * Math.random()))) : backoff;
}

// --- the connection ----------------------------------------------------------

/** The longest the page waits between tries while it has no connection. */
const OFFLINE_RETRY_MS = 4_000;
let offline = false;
/** Whether the browser itself had no network when the page lost the engine. */
let lostNetwork = false;
let backOnlineTimer = null;

/**
 * Says, once, that the page has lost its connection (`lost`), or that an answer came
 * back after it had: the fan knows whether what they see is current.
 */
function offlineSaid(lost) {
	if (lost === offline) return;
	offline = lost;
	clearTimeout(backOnlineTimer);
	if (lost) {
		show("net-note", false);
		const keeps = saved.queueToken || saved.hold || saved.order ? ` ${t("net.keeps")}` : "";
		// The browser knows when it has no network at all; otherwise it is the engine that does not answer.
		lostNetwork = navigator.onLine === false;
		const what = t(lostNetwork ? "net.offline" : "net.unreachable");
		showAlert(`${what}${keeps} ${t("net.carriesOn")}`);
		return;
	}
	clearAlert();
	text("net-note", t(lostNetwork ? "net.backOnline" : "net.answersAgain"));
	show("net-note", true);
	backOnlineTimer = setTimeout(() => show("net-note", false), 8_000);
}

/** An answer from the engine: the connection works. */
function reached() {
	if (offline) offlineSaid(false);
}

/** Wakes whatever waits to try again: the browser says the connection is back. */
let wakeStart = null;

function backOnline() {
	wakeStart?.();
	if (current === "waiting" || (current === "loading" && saved.queueToken && drop)) return pollStatus();
	if (current === "intro") return refreshIntro();
	if (current === "done" && saved.orderToken) return showOrder(1);
	// Elsewhere nothing is asked for by itself (the fan's next press sends it): the drop's view is read to know the connection works.
	loadDrop().catch(() => {});
}

function applyQueueView(view) {
	syncClock(view.serverTime);
	if (view.queueToken) {
		saved.queueToken = view.queueToken;
		save();
	}
	lastView = view;
	switch (view.status) {
		case "sold_out":
			// A join the engine answered with no place: only the news (nothing to poll).
			if (!saved.queueToken) return soldOut({ canJoin: false });
			// A sale window's sell-out is final (it has no line for returns): what it left goes to the general sale.
			if (view.returns == null && view.pollAfterMs === null) return soldOut();
		// falls through: after a sell-out a fan in line keeps their place and polls on for returned tickets
		case "waiting":
			saved.lastPlace = { status: view.status, position: view.position ?? null, place: view.place ?? null, ahead: view.ahead, estimatedWaitMs: view.estimatedWaitMs ?? null, waitUnknown: view.waitUnknown ?? null, admittedPerMinute: view.admittedPerMinute ?? null, paused: Boolean(view.paused), returns: view.returns ?? null };
			save();
			renderWaiting(view);
			schedulePoll(view.pollAfterMs ?? 2_000);
			return;
		case "admitted":
			if (!view.accessToken) return schedulePoll(250);
			saved.accessToken = view.accessToken;
			saved.accessExpiresAt = view.accessExpiresAt;
			// The offer of a returned ticket reads as one, with its longer time.
			saved.offer = view.offer === true;
			save();
			return enterAdmitted();
		case "closed":
			return closed();
		case "expired":
			return turnEnded();
		default:
			showAlert(t("waiting.unexpected", { status: view.status }));
			schedulePoll(5_000);
	}
}

/** `kept`: the place as last read here, drawn before the engine answers (said so under the bar). */
function renderWaiting(view, { kept = false } = {}) {
	const inLine = view.position !== null && view.position !== undefined;
	// After a sell-out every fan still waiting is in line for returned tickets (`returns` is null before).
	const returns = view.returns ?? null;
	show("prequeue-block", !inLine && returns === null);
	text("prequeue-text", saved.window ? t("presale.prequeue", { name: saved.window.name }) : t("waiting.prequeue"));
	show("line-block", inLine);
	show("paused-note", Boolean(view.paused));
	text("h-waiting", t(returns ? "line.heading" : "waiting.heading"));
	text("wait-label", t(returns ? "line.back" : "waiting.wait"));
	show("returns-note", returns !== null);
	// In line for returned tickets, the fan may ask to be emailed when their turn comes.
	renderTurnMail(returns !== null && inLine);
	if (returns) {
		text("returns-text", t("line.soldOut"));
		text("returns-offered", t("line.offered", { count: returns.offered, n: formatNumber(returns.offered) }));
		if (!returnsSaid && !kept) announce(t("line.announce"));
		returnsSaid = !kept || returnsSaid;
	}
	if (inLine) {
		// Every figure from this one answer: the place is the fans ahead plus one, and the bar runs from the furthest place shown.
		const figures = lineFigures(view, saved.firstPlace);
		const gone = figures.firstPlace - figures.place;
		if (figures.firstPlace !== saved.firstPlace) {
			saved.firstPlace = figures.firstPlace;
			save();
		}
		text("position", formatNumber(figures.place));
		text("ahead", formatNumber(figures.ahead));
		// Sold out, no pace foretells when a ticket comes back: the returned tickets not yet sold again stand in for the wait.
		text("wait", returns ? formatNumber(returns.ticketsBack) : waitWords(view));
		text("wait-pace", returns ? "" : paceWords(view));
		$("progress").value = figures.percent;
		const progress =
			figures.ahead === 0
				? t("waiting.next")
				: gone === 0
					? t("waiting.moveUp")
					: t("waiting.progressText", { percent: formatNumber(figures.percent), gone: formatNumber(gone), count: figures.firstPlace - 1, of: formatNumber(figures.firstPlace - 1) });
		text("progress-text", kept ? t("waiting.kept") : progress);
		if (!kept) announcePlace(figures);
	}
	setState("waiting");
	tick();
}

/** Whether the page has said that the fan keeps their place after the sell-out. */
let returnsSaid = false;

/** Says the place out loud when it changes, without talking over the fan every second. */
function announcePlace(figures) {
	const at = Date.now();
	if (figures.ahead === lastAnnounced.ahead) return;
	const first = lastAnnounced.ahead === null;
	if (!first && at - lastAnnounced.at < 10_000 && figures.ahead > 5) return;
	lastAnnounced = { ahead: figures.ahead, at };
	const ahead = figures.ahead === 0 ? t("waiting.noneAhead") : t("waiting.fansAhead", { count: figures.ahead, n: formatNumber(figures.ahead) });
	announce(`${t("waiting.number", { n: formatNumber(figures.place) })} ${ahead}`);
}

// --- admitted: hold, pay, done ----------------------------------------------

function enterAdmitted() {
	clearTimeout(pollTimer);
	if (saved.order) return showOrder();
	if (saved.hold) return showPay();
	if (saved.pendingHold) return sendHold();
	showChoose(pendingNotice);
	pendingNotice = null;
}

/** Ticket types, seats and slots (public/named.js), on a drop that has more than general admission. */
let chooser = null;

/** Picked seats decide the quantity; with none picked the fan chooses it. */
function seatsPicked(count) {
	const select = $("quantity");
	if (count > 0) {
		if (![...select.options].some((o) => o.value === String(count))) select.append(new Option(t("tickets.count", { count, n: formatNumber(count) }), String(count)));
		select.value = String(count);
	}
	select.disabled = count > 0;
}

function showChoose(notice = null) {
	const select = $("quantity");
	const max = Math.max(1, Math.min(drop.maxPerFan, saved.available ?? drop.maxPerFan));
	const previous = Number(select.value) || 1;
	const named = hasNamedTypes(drop);
	if (named && chooser === null) {
		chooser = namedChooser({ drop, dropId, onPick: seatsPicked });
		show("types", true);
		void chooser.render($("types"));
	}
	chooser?.watch();
	select.replaceChildren(
		...Array.from({ length: max }, (_, i) => {
			const option = document.createElement("option");
			option.value = String(i + 1);
			const count = t("tickets.count", { count: i + 1, n: formatNumber(i + 1) });
			option.textContent = named ? count : `${count} · ${price(drop.priceCents * (i + 1))}`;
			return option;
		}),
	);
	select.value = String(Math.min(previous, max));
	const each = named ? t("choose.eachType") : drop.priceCents === 0 ? t("choose.eachFree") : t("choose.each", { price: price(drop.priceCents) });
	text("quantity-hint", t("choose.hint", { max: formatNumber(drop.maxPerFan), each, hold: formatDuration(drop.holdSeconds * 1000) }));
	const box = $("choose-notice");
	show(box, notice !== null);
	if (notice) text(box, notice);
	// The offer of a returned ticket says so, and that its time is longer than a turn's.
	text("h-choose", t(saved.offer ? "offer.heading" : "choose.heading"));
	text("choose-within", t(saved.offer ? "offer.within" : "choose.within"));
	show("offer-note", Boolean(saved.offer));
	const wasHere = current === "choose";
	setState("choose");
	if (!wasHere) {
		// A notice on arrival is said by its alert box; announcing it too would read it twice.
		if (notice === null) announce(t(saved.offer ? "offer.announce" : "choose.announce"));
	}
	// A refusal on this step: said at once (the notice is an alert) and focused, since the button pressed was disabled and focus would fall to the page.
	else if (notice) focusHeading(box);
	tick();
}

async function submitHold(event) {
	event.preventDefault();
	const quantity = Number($("quantity").value);
	const body = chooser ? chooser.body(quantity) : { quantity };
	// The same key for a retry of the same request: the engine answers it once.
	if (!saved.pendingHold || JSON.stringify(saved.pendingHold.body ?? { quantity: saved.pendingHold.quantity }) !== JSON.stringify(body)) {
		saved.pendingHold = { key: randomId("hold-"), quantity, body };
	}
	save();
	await sendHold();
}

async function sendHold() {
	const { key, quantity, body } = saved.pendingHold;
	const button = $("hold-button");
	button.disabled = true;
	text(button, t("choose.holding"));
	clearAlert();
	try {
		const hold = await api(`/api/drops/${encodeURIComponent(dropId)}/holds`, {
			method: "POST",
			token: saved.accessToken,
			headers: { "Idempotency-Key": key },
			body: body ?? { quantity },
		});
		saved.hold = hold;
		delete saved.pendingHold;
		delete saved.available;
		save();
		holdWarnings = new Set();
		showPay();
	} catch (err) {
		// Tickets moving between shards: ask again with the same key when the engine says (a few times).
		if (err.code === "try_again" && (saved.pendingHold.tries = (saved.pendingHold.tries || 0) + 1) <= 5) {
			save();
			text(button, t("choose.finding"));
			await sleep((err.retryAfter || 1) * 1000);
			return sendHold();
		}
		if (err.status !== 0) {
			delete saved.pendingHold;
			save();
		}
		holdFailed(err);
	} finally {
		button.disabled = false;
		text(button, t("choose.hold"));
	}
}

function holdFailed(err) {
	// With several types, one type, slot or section running out is not the end of the drop.
	if (chooser && ["sold_out", "not_enough_left", "seats_taken", "type_limit_exceeded", "unknown_seat"].includes(err.code)) {
		const d = err.details ?? {};
		showChoose(t(`choose.typed.${err.code}`, { count: d.available ?? d.maxPerFan ?? 0, available: formatNumber(d.available), max: formatNumber(d.maxPerFan), have: formatNumber(d.alreadyHeldOrBought) }));
		void chooser.reload();
		return;
	}
	switch (err.code) {
		case "sold_out":
		// A turn from before the sell-out: the tickets that came back are the line's.
		case "returns_in_line":
			return soldOut();
		case "drop_closed":
			return closed();
		case "drop_cancelled":
			return cancelled();
		case "not_enough_left":
			saved.available = err.details.available;
			save();
			return showChoose(t("choose.onlyLeft", { count: err.details.available, n: formatNumber(err.details.available) }));
		case "limit_exceeded":
			return showChoose(t("choose.limit", { count: err.details.maxPerFan, max: formatNumber(err.details.maxPerFan), have: formatNumber(err.details.alreadyHeldOrBought) }));
		case "token_expired":
		case "invalid_token":
			return accessLost();
		default:
			if (current !== "choose") showChoose();
			showAlert(err.status === 0 ? `${errorText(err)} ${t("choose.pressHold")}` : t("choose.couldNotHold", { reason: errorText(err) }));
			focusHeading($("alert"));
	}
}

/** The access token stopped working: ask the queue again (it re-issues one, or says the turn ended). */
function accessLost() {
	delete saved.accessToken;
	save();
	setState("waiting", { focus: false });
	pollStatus();
}

function showPay() {
	const hold = saved.hold;
	const each = unitPrice(drop, hold);
	const total = price(each * hold.quantity);
	const summary = (seatWords) => {
		const units = unitsInWords(drop, hold, seatWords);
		const count = t("tickets.count", { count: hold.quantity, n: formatNumber(hold.quantity) });
		return t("pay.summary", { tickets: units ? t("pay.withUnits", { tickets: count, units }) : count, total: each === 0 ? t("pay.free") : t("pay.total", { price: total }) });
	};
	text("held-summary", summary());
	// The seats by section, row and number once the seat map is read (it is cached: at once after the map).
	void seatWordsOf(dropId, hold).then((words) => {
		if (words && saved.hold === hold) text("held-summary", summary(words));
	});
	text("pay-button", each === 0 ? t("pay.confirm") : t("pay.payAmount", { price: total }));
	show("pay-error", false);
	show("pay-progress", false);
	show("release-error", false);
	setUpPayment(each === 0);
	const wasHere = current === "pay";
	setState("pay");
	if (!wasHere) announce(t("pay.announce", { count: hold.quantity, n: formatNumber(hold.quantity), wait: formatDuration(holdEndsAt() - now()) }));
	tick();
}

/** The hold, or the fan's turn, whichever ends first. */
function holdEndsAt() {
	const hold = Date.parse(saved.hold?.expiresAt ?? "");
	const access = Date.parse(saved.accessExpiresAt ?? "");
	return Math.min(Number.isFinite(hold) ? hold : Infinity, Number.isFinite(access) ? access : Infinity);
}

// --- paying: test cards, or a card through Stripe with the bank's check --------

/** How fans pay on this deployment, from the drop's view (a view from before it said so: test payments). */
function paymentsTaken() {
	const p = drop?.payments ?? { methods: ["test"], stripePublishableKey: null };
	return { test: p.methods.includes("test"), card: p.methods.includes("stripe") && Boolean(p.stripePublishableKey), key: p.stripePublishableKey };
}

/** The card field once Stripe.js is loaded (public/card.js), or the promise of it. */
let card = null;

/** Shows the ways to pay this deployment takes; a free hold needs none. */
function setUpPayment(free) {
	const taken = paymentsTaken();
	show("pay-methods", !free && (taken.test || taken.card));
	if (free) return;
	for (const el of document.querySelectorAll(".test-card")) show(el, taken.test);
	show("test-hint", taken.test);
	show("card-choice", taken.card && taken.test);
	text("pay-legend", t(taken.card ? (taken.test ? "pay.legendHow" : "pay.byCard") : "pay.legendTest"));
	text("test-hint", t(taken.card && taken.test ? "pay.testAndCardHint" : "pay.testHint"));
	// Without test payments the card is the only way: chosen, and its field loaded at once.
	if (taken.card && !taken.test) $("card-stripe").checked = true;
	cardChosen();
}

/** The card field shows (and Stripe.js loads) once the fan chooses to pay by card. */
function cardChosen() {
	const taken = paymentsTaken();
	const byCard = taken.card && $("card-stripe").checked;
	show("card-block", byCard);
	if (byCard && card === null) {
		card = cardField(taken.key, "card-element", cardMessage).catch((err) => {
			card = null;
			cardMessage(`${err.message} ${t("pay.cardLoadFailed")}`);
			throw err;
		});
		// A load that fails is said in the card's message; paying tries again.
		card.catch(() => {});
	}
}

function cardMessage(message) {
	text("card-error", message ?? "");
	show("card-error", Boolean(message));
}

/** Says what the payment is doing, in the button and the status line (read out politely). */
function payProgress(message) {
	text("pay-progress", message ?? "");
	show("pay-progress", Boolean(message));
}

const purchasePath = () => `/api/drops/${encodeURIComponent(dropId)}/holds/${encodeURIComponent(saved.hold.holdId)}/purchase`;

/** One purchase call: { status: 201, order } or { status: 202, action }; refusals throw (ApiFailure). */
async function askPurchase(body) {
	const res = await api(purchasePath(), { method: "POST", token: saved.accessToken, body, raw: true });
	return res.status === 202 ? { status: 202, action: await res.json() } : { status: 201, order: await res.json() };
}

/**
 * Set after the fan's bank refused a check: the engine may not have heard of it yet, and then
 * answers the fan's next purchase with that refusal (402) before trying the new card. That
 * one 402 is the old check's; the purchase is sent once more for the new card.
 */
let refusedCheckPending = false;

/** The receipt's address as the engine takes it (the purchase body's email rule): checked before paying. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const EMAIL_MESSAGE = t("pay.emailInvalid");

/** The email field's error (null clears it): the field is marked and its message read with it. */
function emailError(message, { focus = false } = {}) {
	const input = $("email");
	input.setAttribute("aria-invalid", message ? "true" : "false");
	text("email-error", message ?? "");
	show("email-error", Boolean(message));
	if (message && focus) input.focus();
}

const emailProblem = (value) => (value === "" || (value.length >= 3 && value.length <= 254 && EMAIL.test(value)) ? null : EMAIL_MESSAGE);

async function submitPayment(event) {
	event.preventDefault();
	const problem = emailProblem($("email").value.trim());
	if (problem) return emailError(problem, { focus: true });
	emailError(null);
	const choice = document.querySelector('input[name="card"]:checked')?.value ?? "ok";
	const byCard = choice === "stripe" && paymentsTaken().card && !$("pay-methods").hidden;
	const button = $("pay-button");
	const label = button.textContent;
	button.disabled = true;
	$("release").disabled = true;
	text(button, t("pay.paying"));
	show("pay-error", false);
	payProgress(null);
	clearAlert();
	try {
		let payment = { method: "test", token: choice === "stripe" ? "ok" : choice };
		if (byCard) {
			let field;
			try {
				field = await (card ?? (cardChosen(), card));
			} catch (err) {
				return cardRefused(err.message);
			}
			try {
				payment = { method: "stripe", token: await field.paymentMethod() };
			} catch (err) {
				return cardRefused(err.message);
			}
		}
		const email = $("email").value.trim();
		// The page's language (i18n.js sets it on <html>, always one the engine takes): the receipt is written in it.
		const body = { payment, ...(email ? { email } : {}), locale: document.documentElement.lang };
		let answer;
		try {
			answer = await askPurchase(body);
		} catch (err) {
			if (!(refusedCheckPending && err.code === "payment_declined")) throw err;
			refusedCheckPending = false;
			answer = await askPurchase(body);
		}
		refusedCheckPending = false;
		if (answer.status === 202) answer = await finishWithBank(answer.action, body, button);
		if (answer) ordered(answer.order);
	} catch (err) {
		paymentFailed(err);
	} finally {
		button.disabled = false;
		$("release").disabled = false;
		if (current === "pay") text(button, label);
	}
}

/** The card field refused the card (incomplete, wrong, or Stripe.js unreachable): said by the field, focus there. */
function cardRefused(message) {
	cardMessage(message);
	announce(message);
	card?.then((f) => f.focus()).catch(() => {});
}

function ordered(order) {
	const { orderToken, ...view } = order;
	saved.order = view;
	saved.orderToken = orderToken;
	delete saved.hold;
	save();
	payProgress(null);
	showOrder();
}

/** How often, and how many times, the purchase is asked again while the engine waits for the bank's word. */
const OUTCOME_ASKS = 20;
const outcomeDelayMs = (i) => Math.min(5_000, 1_000 * 1.5 ** i);

/**
 * The fan's bank asks them to confirm (3-D Secure): Stripe.js shows the check; then the
 * purchase is asked again, same hold, to learn what became of it (the order, a decline,
 * or still waiting, asked again a few times while the hold lasts). A check the bank or the
 * fan refused is a decline at once: asking again would start a new charge on that card.
 * Answers { order } or null once the fan has been told why not.
 */
async function finishWithBank(action, body, button) {
	// The engine keeps the hold while the bank is asked, up to this deadline.
	if (action.expiresAt) {
		saved.hold.expiresAt = action.expiresAt;
		save();
	}
	text(button, t("bank.confirming"));
	payProgress(t("bank.asks"));
	announce(t("bank.asksShort"));
	const field = await card;
	const check = await field.bankCheck(action.clientSecret);
	if (!check.confirmed) {
		refusedCheckPending = true;
		payProgress(null);
		declined(t("bank.notConfirmed", { reason: check.message }));
		return null;
	}
	text(button, t("bank.finishing"));
	payProgress(t("bank.confirmed"));
	for (let i = 0; i < OUTCOME_ASKS; i++) {
		const answer = await askPurchase(body);
		if (answer.status === 201) return answer;
		if (answer.action.paymentId !== action.paymentId) {
			// The engine heard the check failed after all and asks the bank again: the fan confirms once more.
			return finishWithBank(answer.action, body, button);
		}
		if (holdEndsAt() - now() < outcomeDelayMs(i)) break;
		if (i === 2) announce(t("bank.stillWaiting"));
		payProgress(t("bank.waiting", { until: formatClock(holdEndsAt()) }));
		await sleep(outcomeDelayMs(i));
	}
	payProgress(null);
	const box = $("pay-error");
	text(box, t("bank.noAnswer"));
	show(box, true);
	box.focus?.();
	return null;
}

/** A decline the fan reads at once (focus on it); the hold is kept. */
function declined(message) {
	const box = $("pay-error");
	text(box, `${message} ${t("pay.stillHeldRetry")}`);
	show(box, true);
	box.focus?.();
}

function paymentFailed(err) {
	// Refused before any charge (or a charge that raced the cancel refunded): the page says so.
	if (err.code === "drop_cancelled") return cancelled();
	payProgress(null);
	if (err.code === "payment_declined") return declined(errorText(err));
	if (err.status === 410) return holdGone(t("pay.holdRanOutBefore"));
	if (err.code === "token_expired" || err.code === "invalid_token") return accessLost();
	if (err.status === 404) return holdGone(t("pay.holdMissing"));
	// The engine refused the address (a rule this page missed): said by the field, like the page's own check.
	if (err.details?.field === "email") return emailError(EMAIL_MESSAGE, { focus: true });
	const box = $("pay-error");
	text(box, err.status === 0 ? `${errorText(err)} ${t("pay.stillHeldPress")}` : t("pay.failed", { reason: errorText(err) }));
	show(box, true);
}

function holdGone(message) {
	delete saved.hold;
	save();
	if (Date.parse(saved.accessExpiresAt ?? "") <= now()) return turnEnded();
	showChoose(message);
}

/** Gives the held tickets back, once the fan confirms: they go on sale to others at once. */
async function releaseHold() {
	const button = $("release");
	const hold = saved.hold;
	if (!hold) return;
	show("release-error", false);
	const n = { count: hold.quantity, n: formatNumber(hold.quantity) };
	const yes = await confirmStep({
		title: t("release.title", n),
		body: t("release.body", n),
		confirm: t("release.confirm", n),
		keep: t("release.keep", n),
		opener: button,
	});
	// Backed out, or the hold ended or was paid while the fan was asked.
	if (!yes || current !== "pay" || saved.hold?.holdId !== hold.holdId) return;
	button.disabled = true;
	try {
		await api(`/api/drops/${encodeURIComponent(dropId)}/holds/${encodeURIComponent(saved.hold.holdId)}`, {
			method: "DELETE",
			token: saved.accessToken,
		});
		holdGone(t("release.done"));
	} catch (err) {
		if (err.code === "drop_cancelled") cancelled();
		else if (err.status === 404 || err.status === 410) holdGone(t("release.alreadyEnded"));
		else if (err.code === "token_expired" || err.code === "invalid_token") accessLost();
		else {
			text("release-error", t("release.failed", { reason: errorText(err) }));
			show("release-error", true);
		}
	} finally {
		button.disabled = false;
	}
}

/**
 * The order kept on this device at once, then as the engine has it now, read
 * with the order token (the access token may be long gone). Should the engine
 * not answer, the kept copy stays on the page.
 */
async function showOrder(round = 0) {
	if (round === 0) showDone(saved.order);
	if (!saved.orderToken) return watchForCancel();
	try {
		const order = await api(`/api/orders/${encodeURIComponent(saved.order.orderId)}`, { token: saved.orderToken });
		reached();
		saved.order = order;
		save();
		if (current === "done") showDone(order);
		// Tickets are issued after the sale, and a cancelled drop's orders refunded, in a few seconds:
		// look again until they are (for two minutes at most).
		const settling = order.status === "paid" || orderOutcome(order) === "cancelling";
		if (settling && round < 60 && current === "done") pollTimer = setTimeout(() => showOrder(round + 1), 2_000);
	} catch {
		// Offline, or the token's year is over: the copy kept here is what the fan has.
	}
	watchForCancel();
}

/**
 * While the fan looks at tickets that stand, the drop is read again now and then (its
 * view is a cached copy, so this costs the engine no object call): a cancel must not
 * leave a celebration on screen.
 */
function watchForCancel() {
	clearTimeout(dropTimer);
	if (current !== "done" || orderOutcome(saved.order) !== "going") return;
	dropTimer = setTimeout(async () => {
		try {
			await loadDrop();
		} catch {
			// Offline: ask again at the next round.
		}
		if (drop.status === "cancelled") cancelled();
		else watchForCancel();
	}, Math.round(10_000 * (0.8 + 0.4 * Math.random())));
}

/** What the order page may say: a celebration only for an order that stands on a drop that goes ahead. */
function orderOutcome(order) {
	if (order.status === "refunded") return "refunded";
	return drop?.status === "cancelled" ? "cancelling" : "going";
}

/** Counts the ticket drawings, so a slower earlier one never replaces a later one. */
let ticketDrawings = 0;

/**
 * The tickets and the order's status line, together (a status that says the tickets are
 * ready comes with them). Drawing the QR codes may first load their library: the rest of
 * the order is on screen meanwhile.
 */
function drawTickets(order, outcome) {
	const round = ++ticketDrawings;
	// No QR code on a cancelled drop: those tickets get nobody in.
	const listings = outcome === "cancelling" ? null : orderListings(order, saved.orderToken);
	void Promise.all([ticketItems(order, { codes: outcome === "going" }), listings]).then(([{ items }, resale]) => {
		if (round !== ticketDrawings) return;
		if (outcome === "refunded") {
			// A ticket resold comes back less the promoter's fee: the money back is said as it is.
			const sold = (resale?.listings ?? []).filter((l) => l.state === "sold");
			if (sold.length > 0 && order.unitPriceCents !== undefined) {
				const cents = sold.reduce((a, l) => a + l.payoutCents, 0) + order.unitPriceCents * Math.max(0, (order.refundedTickets ?? order.quantity) - sold.length);
				text("done-lead", t("done.refunded", { back: t("done.backAmount", { price: formatMoney(cents, order.currency ?? drop.currency) }) }));
			}
			addResaleControls(items, order, resale, saved.orderToken, () => showOrder(1));
		}
		// A ticket is handed on or listed only from an order that stands on a drop that goes ahead; a listed one is not handed on.
		if (outcome === "going") {
			const listed = openListings(resale);
			addTransferControls(items, { ...order, passes: order.passes?.map((p) => (listed.has(p.code) ? { ...p, listed: true } : p)) }, saved.orderToken, () => showOrder(1));
			addResaleControls(items, order, resale, saved.orderToken, () => showOrder(1));
		}
		$("tickets").replaceChildren(...items);
		text("order-status", outcome === "cancelling" ? t("done.refundOnWay") : statusText(order));
		$("order-status").dataset.status = order.status ?? "paid";
	});
}

/** The outcome last said out loud, so a change (a cancel, a refund) is announced once and a repeat is not. */
let doneAnnounced = null;

function showDone(order) {
	clearTimeout(pollTimer);
	// A fan with tickets may reach the door with no network: the page then opens from the service worker's copy.
	keepPageOffline("/drops/");
	const outcome = orderOutcome(order);
	const dropCancelled = drop?.status === "cancelled";
	const currency = order.currency ?? drop.currency;
	text("order-id", order.orderId);
	const tickets = t("tickets.count", { count: order.quantity, n: formatNumber(order.quantity) });
	const summary = (seatWords) => {
		const units = unitsInWords(drop, order, seatWords);
		const what = units ? t("pay.withUnits", { tickets, units }) : tickets;
		return order.totalCents !== undefined ? t("done.summaryPaid", { tickets: what, price: formatMoney(order.totalCents, currency) }) : t("done.summary", { tickets: what });
	};
	text("order-summary", summary());
	void seatWordsOf(dropId, order).then((words) => {
		if (words && saved.order?.orderId === order.orderId) text("order-summary", summary(words));
	});
	// The money back, said as an amount: a refunded order's every ticket is refunded.
	const back = order.totalCents !== undefined ? t("done.backAmount", { price: formatMoney(order.totalCents, currency) }) : t("done.back");
	const words = {
		going: { title: t("done.going"), lead: t("done.accepted"), tone: "ok", tickets: t("done.tickets") },
		refunded: {
			title: t(dropCancelled ? "cancelled.title" : "done.refundedTitle"),
			lead: t(dropCancelled ? "done.cancelledRefunded" : "done.refunded", { back }),
			tone: "warn",
			tickets: t("done.refundedTickets"),
		},
		cancelling: {
			title: t("cancelled.title"),
			lead: t("done.cancelling", { back }),
			tone: "warn",
			tickets: t("done.invalidTickets"),
		},
	}[outcome];
	text("h-done", words.title);
	text("done-lead", words.lead);
	$("done-notice").className = `notice ${words.tone}`;
	$("done-notice").dataset.outcome = outcome;
	text("h-tickets", words.tickets);
	show("tickets-hint", outcome === "going");
	drawTickets(order, outcome);
	setState("done");
	const said = `${order.orderId}:${outcome}`;
	if (doneAnnounced !== said) {
		doneAnnounced = said;
		announce(outcome === "going" ? t("done.announce", { tickets }) : t("say.titled", { title: words.title, text: words.lead }));
	}
}

// --- the clock -------------------------------------------------------------

let openRefreshPending = false;
const OPEN_REFRESH_SPREAD_MS = 5_000;
/**
 * The intro's refresh, spread so pages opened together do not ask together: about
 * every 15 s before the opening (the opening has its own refresh), every 5 s while
 * the sale is open, every 3 s while no ticket is free (sold out, or a returned ticket,
 * is a moment away). The view is a cached copy, so this costs the engine no object call.
 */
function introRefreshMs() {
	const base = !drop || Date.parse(drop.opensAt) > now() ? 15_000 : drop.remaining === 0 ? 3_000 : 5_000;
	return Math.round(base * (0.8 + 0.4 * Math.random()));
}

/** Once a second: every visible countdown, and what happens when one reaches zero. */
function tick() {
	const at = now();
	if (!drop) return;
	const opensIn = Date.parse(drop.opensAt) - at;
	if (opensIn <= 0 && !headerSaysOpened) renderDropHeader();
	// A sale window opened or closed: the intro reads the drop again (which window, whether a code is asked).
	if (current === "intro" && windowsRedrawAt !== null && at >= windowsRedrawAt && !openRefreshPending) {
		windowsRedrawAt = null;
		openRefreshPending = true;
		setTimeout(() => {
			loadDrop()
				.then(() => showIntro())
				.catch(() => {})
				.finally(() => (openRefreshPending = false));
		}, Math.round(Math.random() * OPEN_REFRESH_SPREAD_MS));
	}
	if (current === "intro" && !$("opens-block").hidden) {
		text("opens-countdown", formatCountdown(opensIn));
		$("opens-countdown").setAttribute("aria-label", formatDuration(opensIn));
		if (opensIn <= 0 && !openRefreshPending) {
			// Every open page reaches zero in the same second: spread the refetches over a few
			// seconds rather than have every fan ask at once (the countdown already says "open").
			openRefreshPending = true;
			setTimeout(() => {
				loadDrop()
					.then(() => showIntro())
					.catch(() => {})
					.finally(() => (openRefreshPending = false));
			}, Math.round(Math.random() * OPEN_REFRESH_SPREAD_MS));
		}
	}
	if (current === "waiting" && !$("prequeue-block").hidden) {
		const lineOpensIn = saved.window ? Date.parse(saved.window.opensAt) - at : opensIn;
		text("prequeue-countdown", lineOpensIn > 0 ? formatCountdown(lineOpensIn) : t("waiting.anyMoment"));
	}
	if (current === "choose") {
		const left = Date.parse(saved.accessExpiresAt ?? "") - at;
		text("access-countdown", formatCountdown(left));
		if (left <= 0) turnEnded();
	}
	if (current === "pay") {
		const left = holdEndsAt() - at;
		text("hold-countdown", formatCountdown(left));
		for (const mark of [60_000, 10_000]) {
			if (left <= mark && left > 0 && !holdWarnings.has(mark)) {
				holdWarnings.add(mark);
				announce(t("pay.timeLeft", { wait: formatDuration(left) }));
			}
		}
		if (left <= 0) holdGone(t("pay.holdRanOut"));
	}
}

// --- start -----------------------------------------------------------------

async function start() {
	translatePage();
	$("join").addEventListener("click", join);
	$("hold-form").addEventListener("submit", submitHold);
	$("pay-form").addEventListener("submit", submitPayment);
	for (const radio of document.querySelectorAll('input[name="card"]')) radio.addEventListener("change", cardChosen);
	$("release").addEventListener("click", releaseHold);
	setUpRegistration({ id: dropId, clock: now, say: announce });
	setUpTurnMail({ id: dropId, token: () => saved.queueToken });
	// An address marked wrong clears as soon as it is right (or emptied: the receipt is optional).
	$("email").addEventListener("input", () => {
		if ($("email").getAttribute("aria-invalid") === "true" && emailProblem($("email").value.trim()) === null) emailError(null);
	});
	$("pay-error").setAttribute("tabindex", "-1");
	setInterval(tick, 1000);
	document.addEventListener("visibilitychange", () => {
		if (!document.hidden && current === "waiting") pollStatus();
	});

	window.addEventListener("offline", () => offlineSaid(true));
	window.addEventListener("online", backOnline);

	if (!/^[A-Za-z0-9_-]{1,64}$/.test(dropId)) return notFound();
	// The first view comes from what this browser kept (the drop's view, the fan's place, their
	// order) before any request answers; the drop's view and the fan's place are then asked for
	// together, so the fan's state is current one request after the page is here, not two.
	const kept = keptDrop();
	if (kept) {
		drop = kept;
		renderDropHeader();
		if (kept.status !== "cancelled") {
			if (saved.order) showDone(saved.order);
			else if (saved.queueToken && saved.lastPlace && !saved.accessToken) renderWaiting(saved.lastPlace, { kept: true });
		}
	}
	const place = saved.queueToken && !saved.order ? askPlace() : null;
	for (;;) {
		try {
			await loadDrop();
			break;
		} catch (err) {
			if (err.status === 404) return notFound();
			failures += 1;
			const delay = retryDelay(err);
			if (err.status === 0) offlineSaid(true);
			else showAlert(`${errorText(err)} ${t("retry.retrying", { wait: formatDuration(delay) })}`);
			// Back online, the wait ends at once.
			await new Promise((r) => {
				const timer = setTimeout(r, delay);
				wakeStart = () => {
					clearTimeout(timer);
					r();
				};
			});
			wakeStart = null;
		}
	}
	if (!offline) clearAlert();
	failures = 0;
	if (drop.status === "cancelled") return cancelled();
	if (saved.order) return showOrder();
	if (saved.hold && saved.accessToken) {
		if (holdEndsAt() > now()) return showPay();
		delete saved.hold;
		save();
		pendingNotice = t("pay.holdRanOutAway");
	}
	if (place) {
		const answer = await place;
		// Asked before the drop's view came: a newer answer (an online event's poll) is already on screen.
		if (answer.startedAt < lastPollStarted) return;
		if (answer.view) {
			failures = 0;
			return applyQueueView(answer.view);
		}
		if (answer.err.status !== 0) return statusFailed(answer.err);
		// No answer to that one (no connection at the time): the usual poll asks again.
		return pollStatus();
	}
	if (saved.queueToken) return pollStatus();
	showIntro();
}

/** The fan's place, asked for at start beside the drop's view: { view } or { err }, never thrown. */
function askPlace() {
	const startedAt = performance.now();
	return api(`/api/drops/${encodeURIComponent(dropId)}/status`, { token: saved.queueToken }).then(
		(view) => {
			reached();
			return { startedAt, view };
		},
		(err) => ({ startedAt, err }),
	);
}

start();
