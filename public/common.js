// Shared by the fan page and the promoter page: calls to the engine's public
// HTTP API and a few formatting helpers. Plain ES module; its one import is the zoned dates.

import { formatZoned } from "/zoned-time.js";

/** A failed call: the API's `{"error": {"code", "message", ...}}`, or a network failure (status 0). */
export class ApiFailure extends Error {
	constructor(status, code, message, details = {}, retryAfter = null) {
		super(message);
		this.status = status;
		this.code = code;
		this.details = details;
		this.retryAfter = retryAfter;
	}
}

/**
 * Calls the API and answers the parsed JSON (or null for 204). Throws an
 * ApiFailure for any non-2xx answer and for network errors.
 */
export async function api(path, { method = "GET", token, body, csv, headers = {}, raw = false } = {}) {
	const h = { Accept: "application/json", ...headers };
	if (token) h.Authorization = `Bearer ${token}`;
	if (body !== undefined) h["Content-Type"] = "application/json";
	// A CSV body (a seated type's seats) is sent as it is.
	if (csv !== undefined) h["Content-Type"] = "text/csv";
	let res;
	try {
		res = await fetch(path, { method, headers: h, body: csv !== undefined ? csv : body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
	} catch {
		throw new ApiFailure(0, "network", "The engine could not be reached. Check your connection; we will keep trying.");
	}
	if (res.ok) {
		if (raw) return res;
		if (res.status === 204) return null;
		return res.json();
	}
	let error = {};
	try {
		error = (await res.json()).error ?? {};
	} catch {
		// not JSON: fall back to the status below
	}
	const retry = Number(res.headers.get("Retry-After"));
	const { code, message, ...details } = error;
	throw new ApiFailure(
		res.status,
		code ?? `http_${res.status}`,
		message ?? `The engine answered ${res.status}.`,
		details,
		Number.isFinite(retry) && retry > 0 ? retry : null,
	);
}

export const $ = (id) => document.getElementById(id);

/** Sets an element's text (never HTML: everything shown comes from the network). */
export function text(id, value) {
	const el = typeof id === "string" ? $(id) : id;
	if (el && el.textContent !== String(value)) el.textContent = String(value);
}

export function show(el, visible = true) {
	(typeof el === "string" ? $(el) : el).hidden = !visible;
}

export function formatMoney(cents, currency) {
	try {
		return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
	} catch {
		return `${(cents / 100).toFixed(2)} ${currency}`;
	}
}

export const formatNumber = (n) => (n === null || n === undefined ? "–" : new Intl.NumberFormat().format(n));

/** "1 ticket", "3 tickets". */
export const plural = (n, one, many = `${one}s`) => `${formatNumber(n)} ${n === 1 ? one : many}`;

/** "1:05:09", "4:07", "0:09": a countdown. */
export function formatCountdown(ms) {
	const total = Math.max(0, Math.ceil(ms / 1000));
	const h = Math.floor(total / 3600);
	const m = Math.floor((total % 3600) / 60);
	const s = total % 60;
	const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
	return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/**
 * What the waiting view shows, all from one status answer so no figure contradicts
 * another: the place among the fans still waiting (the API's `place`, which is `ahead` + 1),
 * the fans ahead, and the bar's share of the way from `firstPlace` (the furthest place
 * this fan was shown) to the front. Answers the new furthest place to keep.
 */
export function lineFigures(view, firstPlace) {
	const ahead = view.ahead;
	const place = typeof view.place === "number" ? view.place : ahead + 1;
	const from = typeof firstPlace === "number" && firstPlace > place ? firstPlace : place;
	const gone = from - place;
	const percent = from <= 1 ? 100 : Math.round((gone / (from - 1)) * 100);
	const progressText =
		ahead === 0
			? "You’re next: admission comes in batches."
			: gone === 0
				? "You’ll move up as the fans ahead of you are let in."
				: `${percent}% of the way to the front: ${formatNumber(gone)} of the ${formatNumber(from - 1)} fans ahead of you have gone in.`;
	return { place, ahead, firstPlace: from, percent, progressText };
}

/**
 * A date and time in the reader's locale: in `timeZone` with the zone named when given (a drop's times, in the
 * drop's zone), else in the reader's own zone (when a delivery was tried, a device synced).
 */
export function formatDateTime(iso, timeZone) {
	if (timeZone) return formatZoned(iso, undefined, timeZone);
	return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatTime(ms) {
	return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** A random id for Idempotency-Key headers and fan ids: letters, digits and dashes only. */
export function randomId(prefix = "") {
	if (crypto.randomUUID) return prefix + crypto.randomUUID();
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Web Storage that never throws (private modes, full quotas, disabled storage). */
export function storage(kind) {
	let store = null;
	try {
		store = kind === "session" ? window.sessionStorage : window.localStorage;
		const probe = "__probe__";
		store.setItem(probe, probe);
		store.removeItem(probe);
	} catch {
		store = null;
	}
	const memory = new Map();
	return {
		get(key) {
			try {
				return store ? store.getItem(key) : memory.get(key) ?? null;
			} catch {
				return memory.get(key) ?? null;
			}
		},
		set(key, value) {
			memory.set(key, value);
			try {
				store?.setItem(key, value);
			} catch {
				// memory keeps it for this page
			}
		},
		remove(key) {
			memory.delete(key);
			try {
				store?.removeItem(key);
			} catch {
				// nothing to do
			}
		},
	};
}

/** Moves focus to a heading (made focusable) so keyboard and screen reader users land on what changed. */
export function focusHeading(el) {
	if (!el) return;
	if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
	el.focus({ preventScroll: false });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Lets this page open again with the network off (public/sw.js, network first): only the pages that need it
 * call this, each with its own scope. Without service workers (or refused) the page works online as before.
 */
export function keepPageOffline(scope) {
	if (!("serviceWorker" in navigator)) return;
	navigator.serviceWorker.register("/sw.js", { scope }).catch(() => {});
}
