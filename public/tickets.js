// The fan's tickets as QR codes, drawn in the browser with qrcode-generator
// (served from /vendor, no network), as an SVG built node by node (no HTML
// strings), with its code, its seat in words (a seated ticket) and its state
// beside it. Each code is the ticket's rotating code (its signed token, the time
// window and a code from its secret, /rotating-code.js), drawn again at every
// window from what the page already holds, so it keeps changing with the
// network off and a screenshot is stale within seconds. The bare token (a fixed
// code) is drawn only where the browser cannot make the rotating one and the
// drop still admits it.
// The library (52 KB) is loaded the first time a code is drawn, not with the
// page: a fan in line never needs it, and on a slow network it would delay
// the first view.

import { t } from "/i18n.js";
import { canRotate, rotatingCode, windowOf } from "/rotating-code.js";
import { seatName } from "/seat-words.js";

let library = null;

/** qrcode-generator, loaded once; a failed load (offline) is tried again at the next call. */
function qrLibrary() {
	library ??= import("/vendor/qrcode-generator.mjs").then(
		(m) => m.default,
		(err) => {
			library = null;
			throw err;
		},
	);
	return library;
}

const SVG = "http://www.w3.org/2000/svg";

/** One QR code for `data` (`qrcode` is the loaded library): a path of its dark modules, with a quiet zone of 4. */
function qrSvg(qrcode, data, label) {
	const qr = qrcode(0, "M");
	qr.addData(data);
	qr.make();
	const n = qr.getModuleCount();
	let d = "";
	for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + 4} ${r + 4}h1v1h-1z`;
	const svg = document.createElementNS(SVG, "svg");
	svg.setAttribute("viewBox", `0 0 ${n + 8} ${n + 8}`);
	svg.setAttribute("role", "img");
	svg.setAttribute("aria-label", label);
	svg.setAttribute("class", "qr");
	const bg = document.createElementNS(SVG, "rect");
	bg.setAttribute("width", String(n + 8));
	bg.setAttribute("height", String(n + 8));
	bg.setAttribute("fill", "#fff");
	const path = document.createElementNS(SVG, "path");
	path.setAttribute("d", d);
	path.setAttribute("fill", "#000");
	svg.append(bg, path);
	return svg;
}

/**
 * The order's tickets: a QR code each once it is ticketed (passes with tokens), else the bare codes;
 * `codes: false` draws none (the drop was cancelled). Should the QR library not load (offline), the
 * codes are listed without their QR codes; the next drawing loads it again. Answers { items }.
 */
export async function ticketItems(order, { codes = true } = {}) {
	stopRotation();
	const passes = order.passes ?? (order.tickets ?? []).map((code) => ({ code, token: null, state: "valid" }));
	const step = order.gate?.stepSeconds ?? 0;
	const rotates = (pass) => Boolean(pass.secret) && step > 0 && canRotate();
	// A fixed code only where the drop still admits one (an order read before gate settings existed has none: it does).
	const fixed = (pass) => !rotates(pass) && order.gate?.staticQr !== false;
	const wanted = (pass) => codes && pass.token && pass.state === "valid" && (rotates(pass) || fixed(pass));
	let qrcode = null;
	if (passes.some(wanted)) {
		try {
			qrcode = await qrLibrary();
		} catch {
			qrcode = null;
		}
	}
	const rotating = [];
	const now = Date.now();
	const items = await Promise.all(passes.map(async (pass, i) => {
		const li = document.createElement("li");
		li.dataset.state = pass.state;
		const code = document.createElement("span");
		code.className = "code";
		code.textContent = pass.code;
		code.setAttribute("aria-label", t("ticket.codeLabel", { n: i + 1, code: pass.code.split("").join(" ") }));
		const state = document.createElement("span");
		state.className = "meta ticket-state";
		state.textContent = ["valid", "used", "refunded", "transferred"].includes(pass.state) ? t(`ticket.state.${pass.state}`) : pass.state;
		const seat = pass.seat ? seatName(pass.seat) : null;
		const label = seat ? t("ticket.qrSeat", { n: i + 1, seat }) : t("ticket.qr", { n: i + 1 });
		if (wanted(pass) && qrcode && rotates(pass)) {
			const entry = { li, pass, label, step, qrcode };
			li.append(await rotatingSvg(entry, now));
			rotating.push(entry);
		} else if (wanted(pass) && qrcode) li.append(qrSvg(qrcode, pass.token, label));
		li.append(code);
		if (seat) {
			const where = document.createElement("span");
			where.className = "ticket-seat";
			where.textContent = seat;
			li.append(where);
		}
		li.append(state);
		if (wanted(pass) && qrcode && rotates(pass)) {
			const live = document.createElement("span");
			live.className = "meta ticket-live";
			live.textContent = t("ticket.live", { step });
			li.append(live);
		}
		return li;
	}));
	startRotation(rotating);
	return { items };
}

/** A rotating ticket's QR code for the window of `nowMs`, marked with its window. */
async function rotatingSvg(entry, nowMs) {
	const svg = qrSvg(entry.qrcode, await rotatingCode(entry.pass.token, entry.pass.secret, nowMs, entry.step), entry.label);
	svg.dataset.window = String(windowOf(nowMs, entry.step));
	return svg;
}

/**
 * The rotations running. Two drawings can overlap (the page draws the order it holds, then the one it reads again),
 * so each drawing's timer ends itself and only itself: the stale drawing's timer, finding its tickets off the page,
 * must not stop the one whose tickets are on it, or that fan's code would stop changing.
 */
const rotationTimers = new Set();

function stopRotation() {
	for (const timer of rotationTimers) clearInterval(timer);
	rotationTimers.clear();
}

/**
 * Draws each rotating code again when its window turns (checked every second, from the page's own clock and
 * what it holds: no network). Stops once none of the drawn tickets is on the page any more.
 */
function startRotation(entries) {
	if (entries.length === 0) return;
	const timer = setInterval(() => {
		if (!entries.some((e) => e.li.isConnected)) {
			clearInterval(timer);
			rotationTimers.delete(timer);
			return;
		}
		const now = Date.now();
		for (const entry of entries) {
			const svg = entry.li.querySelector("svg.qr");
			if (svg === null || svg.dataset.window === String(windowOf(now, entry.step))) continue;
			void rotatingSvg(entry, now).then((next) => {
				if (svg.isConnected) svg.replaceWith(next);
			});
		}
	}, 1000);
	rotationTimers.add(timer);
}

/** What the order's status means to the fan. */
export function statusText(order) {
	switch (order.status) {
		case "ticketed":
		case "receipt_sent":
			return t(order.status === "receipt_sent" ? "order.receiptSent" : "order.ready");
		case "refunded":
			return t("order.refunded");
		case "failed":
			return t("order.failed");
		default:
			return t("order.issuing");
	}
}
