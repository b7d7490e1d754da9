// The fan page's languages: which one the fan reads (their choice on the page,
// kept in localStorage, else the browser's languages, which are what it sends as
// Accept-Language), its message catalogue (public/i18n/<locale>.js, plain
// objects with the same keys as English), t(key, params) with plural forms by
// Intl.PluralRules, and numbers and prices in the fan's locale, dates and times in
// the fan's locale and the drop's time zone, the zone named (zoned-time.js).
// The API's error codes stay the API's: errorText says them in the fan's words.
// Every catalogue is imported with the page (drop.html preloads them beside fan.js):
// choosing one after the page had loaded would cost a slow network another round trip.

import de from "/i18n/de.js";
import en from "/i18n/en.js";
import es from "/i18n/es.js";
import fr from "/i18n/fr.js";
import ja from "/i18n/ja.js";
import { formatZoned } from "/zoned-time.js";

export const LOCALES = ["en", "de", "fr", "es", "ja"];
/** Each language in its own words, for the menu. */
export const LOCALE_NAMES = { en: "English", de: "Deutsch", fr: "Français", es: "Español", ja: "日本語" };
const RTL = new Set(["ar", "fa", "he", "ur", "ps", "yi"]);
const CHOICE_KEY = "tdrop:lang";

function storedChoice() {
	try {
		return localStorage.getItem(CHOICE_KEY);
	} catch {
		return null;
	}
}

/** The first of `wanted` (BCP 47 tags, most wanted first) that the page speaks, by its language subtag; English otherwise. */
export function pickLocale(wanted) {
	for (const tag of wanted) {
		const base = String(tag ?? "").toLowerCase().split(/[-_]/)[0];
		if (LOCALES.includes(base)) return base;
	}
	return "en";
}

/** `?lang=` in the address first (a shared link, or storage that refuses), then the fan's stored choice, then the browser's. */
const asked = new URLSearchParams(location.search).get("lang");
export const locale = pickLocale([asked, storedChoice(), ...(navigator.languages ?? [navigator.language])].filter(Boolean));
const messages = { en, de, fr, es, ja }[locale];
const plurals = new Intl.PluralRules(locale);

/** Keeps the fan's choice and draws the page again in it (the page keeps its state across a reload by design). */
export function chooseLocale(next) {
	if (!LOCALES.includes(next) || next === locale) return;
	const url = new URL(location.href);
	try {
		localStorage.setItem(CHOICE_KEY, next);
		url.searchParams.delete("lang");
	} catch {
		// Storage refused: the address carries the choice instead.
		url.searchParams.set("lang", next);
	}
	location.replace(url.href);
}

/**
 * The message under `key` with `{name}` filled from params. A message with plural forms
 * ({one, other, ...}) is chosen by params.count through the locale's plural rules.
 */
export function t(key, params = {}) {
	let message = messages[key];
	if (message === undefined) return key;
	if (typeof message === "object") message = message[plurals.select(params.count ?? 0)] ?? message.other;
	return message.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

/** Whether the catalogue has `key` (an API error code it can say, for instance). */
export const has = (key) => key in messages;

/**
 * A refusal from the engine in the fan's words, by its code (ApiFailure's `code`; the engine's
 * English message is never shown). `network` is the page's own: no answer at all.
 */
export function errorText(err) {
	const code = err?.code;
	if (code && has(`errors.${code}`)) return t(`errors.${code}`, { count: err.details?.available ?? 0, ...(err.details ?? {}) });
	return t("errors.unknown", { status: err?.status ?? 0 });
}

const numbers = new Intl.NumberFormat(locale);

export const formatNumber = (n) => (n === null || n === undefined ? "–" : numbers.format(n));

export function formatMoney(cents, currency) {
	try {
		return new Intl.NumberFormat(locale, { style: "currency", currency }).format(cents / 100);
	} catch {
		return `${numbers.format(cents / 100)} ${currency}`;
	}
}

/** The drop's time zone, once its view is known (UTC until then, as the engine's default). */
let dropZone = "UTC";

/** Dates and times from here on are the drop's, in its zone: the page calls this with each view of the drop. */
export function useTimeZone(timeZone) {
	if (typeof timeZone === "string" && timeZone !== "") dropZone = timeZone;
}

/** A date and time of the drop (its opening, closing, a slot's start) in the fan's locale and the drop's time zone, the zone named. */
export function formatDateTime(iso) {
	return formatZoned(iso, locale, dropZone);
}

/** A moment on the fan's own clock (when their hold runs out), in their own zone: it is read against their watch, not the venue's. */
export function formatClock(ms) {
	return new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(ms));
}

/** "2 Tage 3 Stunden", "4 minutes 7 seconds": the largest two units, for screen readers and longer waits. */
export function formatDuration(ms) {
	const total = Math.max(0, Math.ceil(ms / 1000));
	const parts = [
		[Math.floor(total / 86400), "day"],
		[Math.floor((total % 86400) / 3600), "hour"],
		[Math.floor((total % 3600) / 60), "minute"],
		[total % 60, "second"],
	].filter(([n]) => n > 0);
	if (parts.length === 0) return t("unit.second", { count: 0, n: formatNumber(0) });
	return parts
		.slice(0, 2)
		.map(([n, unit]) => t(`unit.${unit}`, { count: n, n: formatNumber(n) }))
		.join(t("unit.joiner"));
}

/** An estimate, said as one: "less than a minute", "about 3 minutes". */
export function formatEstimate(ms) {
	if (ms === null || ms === undefined) return t("wait.unknown");
	if (ms < 60_000) return t("wait.underMinute");
	const minutes = Math.round(ms / 60_000);
	if (minutes < 90) return t("wait.aboutMinutes", { count: minutes, n: formatNumber(minutes) });
	const hours = Math.round(minutes / 60);
	return t("wait.aboutHours", { count: hours, n: formatNumber(hours) });
}

/** A list in the locale's way: "A, B and C", "A、B、C". */
export function formatList(items) {
	return new Intl.ListFormat(locale, { style: "long", type: "conjunction" }).format(items.map(String));
}

/**
 * The page in the fan's language: `lang` and `dir` on <html>, every element's text from its
 * data-t key, attributes from data-t-<attribute>, and the language menu.
 */
export function translatePage(root = document) {
	document.documentElement.lang = locale;
	document.documentElement.dir = RTL.has(locale) ? "rtl" : "ltr";
	for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.getAttribute("data-t"));
	for (const el of root.querySelectorAll("*")) {
		for (const attr of [...el.attributes]) {
			if (attr.name.startsWith("data-t-")) el.setAttribute(attr.name.slice(7), t(attr.value));
		}
	}
	const menu = root.getElementById?.("lang");
	if (menu) {
		menu.replaceChildren(
			...LOCALES.map((code) => {
				const option = new Option(LOCALE_NAMES[code], code, false, code === locale);
				option.lang = code;
				return option;
			}),
		);
		menu.value = locale;
		menu.addEventListener("change", () => chooseLocale(menu.value));
	}
}
