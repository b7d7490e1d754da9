// Dates and times in a drop's time zone, the zone named ("7 Mar 2026, 20:00 CET"):
// what the fan page (i18n.js, in the fan's locale) and the promoter page
// (common.js) show of a drop's times, since the drop happens where it happens and a
// fan in another zone would otherwise read a time that is not the event's. Pure: no
// DOM, so test-node/zoned-time.test.mjs renders it in Node's ICU as the browser does.

const DATE_TIME = { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short" };
const formats = new Map();

/** The zone Intl knows, else UTC: a page must not break on a zone its browser's ICU lacks. */
export function knownZone(timeZone) {
	try {
		return new Intl.DateTimeFormat("en", { timeZone }).resolvedOptions().timeZone;
	} catch {
		return "UTC";
	}
}

function formatter(locale, timeZone, options) {
	const key = `${locale}|${timeZone}|${JSON.stringify(options)}`;
	let f = formats.get(key);
	if (!f) {
		f = new Intl.DateTimeFormat(locale, { ...options, timeZone: knownZone(timeZone) });
		formats.set(key, f);
	}
	return f;
}

/** A moment as a date and time in `timeZone` (UTC without one), in `locale`'s way, naming the zone. */
export function formatZoned(iso, locale, timeZone) {
	return formatter(locale, timeZone ?? "UTC", DATE_TIME).format(new Date(iso));
}

/** The zone's short name at that moment in `locale` ("CET", "GMT+1", "JST"): summer and winter names differ. */
export function zoneName(iso, locale, timeZone) {
	const part = formatter(locale, timeZone ?? "UTC", { timeZoneName: "short" }).formatToParts(new Date(iso)).find((p) => p.type === "timeZoneName");
	return part ? part.value : "UTC";
}

const DAY_MS = 86_400_000;
const WALL = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };

/** The wall clock in `timeZone` at `ms`, as the fields of a datetime-local value. */
function wallParts(ms, timeZone) {
	const parts = Object.fromEntries(formatter("en-US", timeZone, WALL).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
	return { y: Number(parts.year), mo: Number(parts.month), d: Number(parts.day), h: Number(parts.hour), mi: Number(parts.minute), s: Number(parts.second) };
}

/** How far `timeZone`'s wall clock is ahead of UTC at `ms`, in ms. */
function offsetAt(ms, timeZone) {
	const w = wallParts(ms, timeZone);
	return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - Math.floor(ms / 1000) * 1000;
}

/**
 * A datetime-local value read as the wall clock in `timeZone` (not the browser's): the
 * promoter of a show in Berlin types Berlin's time wherever they sit. A time the clock
 * skips (spring forward) reads as the same distance past the jump; a time it shows twice
 * (fall back) as the first. Null when the value is not a date and time.
 */
export function wallToIso(value, timeZone) {
	const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value ?? "");
	if (!m) return null;
	const asUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
	if (!Number.isFinite(asUtc)) return null;
	const zone = knownZone(timeZone);
	// The zone's offsets a day either side: the same but around a change of clocks (at most one in two days).
	const before = asUtc - offsetAt(asUtc - DAY_MS, zone);
	const after = asUtc - offsetAt(asUtc + DAY_MS, zone);
	const shows = (ms) => offsetAt(ms, zone) === asUtc - ms;
	// Both readings real: the hour shown twice, its first; neither: the skipped hour, read with the offset before the jump.
	const at = shows(before) && shows(after) ? Math.min(before, after) : shows(before) ? before : shows(after) ? after : before;
	return new Date(at).toISOString();
}

/** A moment as a datetime-local value on the wall clock of `timeZone`. */
export function isoToWall(iso, timeZone) {
	const w = wallParts(Date.parse(iso), knownZone(timeZone));
	const pad = (n) => String(n).padStart(2, "0");
	return `${w.y}-${pad(w.mo)}-${pad(w.d)}T${pad(w.h)}:${pad(w.mi)}:${pad(w.s)}`;
}
