// The fan's tickets as QR codes: each ticket's signed token, drawn in the
// browser with qrcode-generator (served from /vendor, no network), as an SVG
// built node by node (no HTML strings), with its code, its seat in words (a
// seated ticket) and its state beside it.
// The library (52 KB) is loaded the first time a code is drawn, not with the
// page: a fan in line never needs it, and on a slow network it would delay
// the first view.

import { t } from "/i18n.js";
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
	const passes = order.passes ?? (order.tickets ?? []).map((code) => ({ code, token: null, state: "valid" }));
	const wanted = (pass) => codes && pass.token && pass.state === "valid";
	let qrcode = null;
	if (passes.some(wanted)) {
		try {
			qrcode = await qrLibrary();
		} catch {
			qrcode = null;
		}
	}
	const items = passes.map((pass, i) => {
		const li = document.createElement("li");
		li.dataset.state = pass.state;
		const code = document.createElement("span");
		code.className = "code";
		code.textContent = pass.code;
		code.setAttribute("aria-label", t("ticket.codeLabel", { n: i + 1, code: pass.code.split("").join(" ") }));
		const state = document.createElement("span");
		state.className = "meta ticket-state";
		state.textContent = ["valid", "used", "refunded"].includes(pass.state) ? t(`ticket.state.${pass.state}`) : pass.state;
		const seat = pass.seat ? seatName(pass.seat) : null;
		if (wanted(pass) && qrcode) li.append(qrSvg(qrcode, pass.token, seat ? t("ticket.qrSeat", { n: i + 1, seat }) : t("ticket.qr", { n: i + 1 })));
		li.append(code);
		if (seat) {
			const where = document.createElement("span");
			where.className = "ticket-seat";
			where.textContent = seat;
			li.append(where);
		}
		li.append(state);
		return li;
	});
	return { items };
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
