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
