// The fan page's registration for a registered sale window, and its public draw.
// Before registration opens the page says when it does; while it is open the fan
// gives an email (sent with the page's language, so the code's email is in it),
// then the 8-digit code mailed to them, and reads "you are registered" with the
// draw's time and their registration id; once it has closed, that the draw is
// coming; after the draw, the draw as anyone can check it (the seed's commitment,
// the seed, how many registered and how many were drawn, the public record) and,
// for a fan registered on this device, whether they were drawn. The engine decides
// every step (docs/api.md, "Registration and the draw"); what the fan typed and
// their registration id are kept in localStorage per drop, so a reload lands on
// the same step.
import { $, api, show, storage, text } from "/common.js";
import { errorText, formatDateTime, formatDuration, formatNumber, locale, t } from "/i18n.js";

const store = storage("local");
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CODE = /^[0-9]{8}$/;
/** How often a page waiting for the draw reads it: the cron draws within a minute of the close, and the answer is cached 5 s. */
const DRAW_POLL_MS = 10_000;

let dropId = "";
let now = () => Date.now();
let announce = () => {};
let drop = null;
/** The registered window the block is about (its `registration` as the drop's view gives it). */
let win = null;
/** The window's public draw as last read, and when (ms). */
let draw = null;
let drawReadAt = 0;
let drawReading = false;
let timer = null;
let busy = false;

const keyOf = () => `tdrop:reg:${dropId}`;

/** What this device knows of its registrations on this drop, by window id: { email, step: "email" | "code" | "verified", expiresAt, registrationId, drawAt }. */
function loadKept() {
	try {
		const value = JSON.parse(store.get(keyOf()) ?? "{}");
		return value && typeof value === "object" ? value : {};
	} catch {
		return {};
	}
}

function kept() {
	const entry = win === null ? null : loadKept()[win.id];
	return entry && typeof entry === "object" && typeof entry.email === "string" ? entry : null;
}

function keep(entry) {
	const all = loadKept();
	if (entry === null) delete all[win.id];
	else all[win.id] = entry;
	store.set(keyOf(), JSON.stringify(all));
}

/** The registered window to offer: the first whose sale has not closed yet. */
function registeredWindow(presales, at) {
	return (presales ?? []).find((w) => w.access === "registered" && w.registration && at < Date.parse(w.closesAt)) ?? null;
}

/** Wires the block's forms; `announce` speaks through the page's live region, `clock` is the engine's time. */
export function setUpRegistration({ id, clock, say }) {
	dropId = id;
	now = clock;
	announce = say;
	$("reg-email-form").addEventListener("submit", sendEmail);
	$("reg-code-form").addEventListener("submit", sendCode);
	$("reg-again").addEventListener("click", startAgain);
	// The address as it is typed, so a reload keeps it.
	$("reg-email").addEventListener("input", () => {
		const mine = kept();
		if (win !== null && (mine === null || mine.step === "email")) keep({ email: $("reg-email").value, step: "email" });
	});
	$("reg-error").setAttribute("tabindex", "-1");
}

/** Draws the block for the drop's view at `at` (ms): called with each drawing of the intro. */
export function renderRegistration(view, at) {
	drop = view;
	const next = view.status === "cancelled" || view.status === "closed" ? null : registeredWindow(view.presales, at);
	if (next?.id !== win?.id) {
		draw = null;
		drawReadAt = 0;
	}
	win = next;
	show("reg-block", win !== null);
	clearTimeout(timer);
	if (win === null) return;
	const r = win.registration;
	const opens = Date.parse(r.opensAt);
	const closes = Date.parse(r.closesAt);
	const phase = at < opens ? "not_open" : at < closes ? "open" : "closed";
	const mine = kept();
	text("reg-heading", t("reg.heading", { name: win.name }));
	let status;
	if (phase === "not_open") status = t("reg.notOpen", { when: formatDateTime(r.opensAt), closes: formatDateTime(r.closesAt) });
	else if (phase === "open") status = t("reg.open", { when: formatDateTime(r.closesAt), count: r.invites, n: formatNumber(r.invites) });
	else if (draw?.seed) status = t("reg.drawn", { name: win.name, when: formatDateTime(draw.drawnAt) });
	else status = t("reg.drawComing", { when: formatDateTime(r.closesAt) });
	text("reg-status", status);
	const verified = mine?.step === "verified" && typeof mine.registrationId === "string";
	show("reg-email-form", phase === "open" && !verified && mine?.step !== "code");
	show("reg-code-form", phase === "open" && !verified && mine?.step === "code");
	if (phase === "open" && mine?.step === "code") text("reg-sent", t("reg.sent", { email: mine.email, when: formatDateTime(mine.expiresAt) }));
	// What the fan had typed before a reload.
	if (mine?.step === "email" && $("reg-email").value === "") $("reg-email").value = mine.email;
	show("reg-done", Boolean(verified));
	if (verified) {
		text("reg-done-text", t("reg.registered", { name: win.name }));
		text("reg-id", mine.registrationId);
		show("reg-draw-at", !draw?.seed);
		text("reg-draw-at", t("reg.drawAt", { when: formatDateTime(mine.drawAt ?? r.closesAt) }));
	}
	renderDraw(phase, verified ? mine : null);
	// Read the draw when it can have changed: its commitment once registration is open, its result after the close.
	const stale = draw === null || (phase === "closed" && !draw.seed && now() - drawReadAt >= DRAW_POLL_MS);
	if (phase !== "not_open" && stale && !drawReading) readDraw();
	// Draw again at the next boundary (registration opens or closes), and while the draw is awaited.
	const boundary = [opens, closes].find((x) => x > at);
	const wait = boundary !== undefined ? boundary - at + 250 : phase === "closed" && !draw?.seed ? DRAW_POLL_MS : null;
	// Only while the intro is on screen: a fan in line or buying needs none of it.
	if (wait !== null) timer = setTimeout(() => drop && !$("s-intro").hidden && renderRegistration(drop, now()), Math.min(wait, 2_147_000_000));
}

function renderDraw(phase, mine) {
	const shown = draw !== null && (draw.seedCommitment !== null || draw.seed !== null);
	show("reg-draw", shown);
	if (!shown) return;
	const drawn = Boolean(draw.seed);
	text("reg-commitment", draw.seedCommitment ?? "–");
	show("reg-seed-row", drawn);
	show("reg-registered-row", drawn);
	show("reg-drawn-row", drawn);
	if (drawn) {
		text("reg-seed", draw.seed);
		text("reg-registered", formatNumber(draw.registered));
		text("reg-drawn", formatNumber(draw.drawn));
	}
	const link = $("reg-record");
	link.href = `/api/drops/${encodeURIComponent(dropId)}/draw?window=${encodeURIComponent(win.id)}`;
	text("reg-check", t("reg.check", { drop: dropId }));
	const result = drawn && phase === "closed" && mine !== null;
	show("reg-result", result);
	if (!result) return;
	const invited = (draw.invited ?? []).includes(mine.registrationId);
	const el = $("reg-result");
	el.className = `notice ${invited ? "ok" : "warn"}`;
	text("reg-result", invited ? t("reg.invited", { name: win.name, when: formatDateTime(win.opensAt) }) : t("reg.notInvited", { when: formatDateTime(drop.opensAt) }));
}

async function readDraw() {
	drawReading = true;
	const path = `/api/drops/${encodeURIComponent(dropId)}/draw?window=${encodeURIComponent(win.id)}`;
	const asked = win.id;
	try {
		const answer = await api(path);
		if (win?.id !== asked) return;
		const wasDrawn = Boolean(draw?.seed);
		draw = answer;
		drawReadAt = now();
		if (!wasDrawn && answer.seed && drop) {
			renderRegistration(drop, now());
			const mine = kept();
			if (mine?.step === "verified") announce((answer.invited ?? []).includes(mine.registrationId) ? t("reg.invitedShort") : t("reg.notInvitedShort"));
			return;
		}
		if (drop) renderRegistration(drop, now());
	} catch {
		// The draw is public and cached: the next drawing of the block asks again.
		drawReadAt = now();
	} finally {
		drawReading = false;
	}
}

/** A refusal in words, in the block's alert, with the focus on the field it is about. */
function refuse(message, field) {
	text("reg-error", message);
	show("reg-error", true);
	if (field) {
		$(field).setAttribute("aria-invalid", "true");
		$(field).focus();
	} else $("reg-error").focus();
}

function clearRefusal() {
	show("reg-error", false);
	text("reg-error", "");
	$("reg-email").removeAttribute("aria-invalid");
	$("reg-code").removeAttribute("aria-invalid");
}

const withWait = (err) => `${errorText(err)}${err.retryAfter ? ` ${t("retry.in", { wait: formatDuration(err.retryAfter * 1000) })}` : ""}`;

async function sendEmail(event) {
	event.preventDefault();
	if (busy || win === null) return;
	clearRefusal();
	const email = $("reg-email").value.trim();
	if (email.length < 3 || email.length > 254 || !EMAIL.test(email)) return refuse(t("reg.emailInvalid"), "reg-email");
	busy = true;
	const button = $("reg-send");
	button.disabled = true;
	try {
		const sent = await api(`/api/drops/${encodeURIComponent(dropId)}/registrations`, { method: "POST", body: { email, window: win.id, locale } });
		keep({ email, step: "code", expiresAt: sent.expiresAt });
		// The seed is committed by the first registration at the latest: read it again to show it.
		draw = null;
		$("reg-code").value = "";
		renderRegistration(drop, now());
		announce(t("reg.sent", { email, when: formatDateTime(sent.expiresAt) }));
		$("reg-code").focus();
	} catch (err) {
		refuse(withWait(err), err.code === "invalid_format" ? "reg-email" : null);
		if (err.code === "registration_closed" || err.code === "registration_not_open") renderRegistration(drop, now());
	} finally {
		busy = false;
		button.disabled = false;
	}
}

async function sendCode(event) {
	event.preventDefault();
	const mine = kept();
	if (busy || win === null || mine === null) return;
	clearRefusal();
	const code = $("reg-code").value.replace(/\s+/g, "");
	if (!CODE.test(code)) return refuse(t("reg.codeInvalid"), "reg-code");
	busy = true;
	const button = $("reg-verify");
	button.disabled = true;
	try {
		const done = await api(`/api/drops/${encodeURIComponent(dropId)}/registrations/verify`, { method: "POST", body: { email: mine.email, code, window: win.id } });
		keep({ email: mine.email, step: "verified", registrationId: done.registrationId, drawAt: done.drawAt });
		renderRegistration(drop, now());
		announce(`${t("reg.registered", { name: win.name })} ${t("reg.drawAt", { when: formatDateTime(done.drawAt) })}`);
		$("reg-done").focus();
	} catch (err) {
		// An expired code needs a new one: back to the address, which stays filled in.
		if (err.code === "verification_expired") {
			keep(null);
			$("reg-email").value = mine.email;
			renderRegistration(drop, now());
			return refuse(withWait(err), "reg-email");
		}
		refuse(withWait(err), err.code === "verification_invalid" ? "reg-code" : null);
		if (err.code === "registration_closed") renderRegistration(drop, now());
	} finally {
		busy = false;
		button.disabled = false;
	}
}

/** Another address, or a new code for the same one: back to the address, filled in with the last one. */
function startAgain() {
	const mine = kept();
	clearRefusal();
	keep(null);
	if (mine) $("reg-email").value = mine.email;
	renderRegistration(drop, now());
	$("reg-email").focus();
}
