// The pages' dates and times in a drop's time zone (public/zoned-time.js), rendered
// by Node's ICU as a browser renders them: the fan page's formatDateTime (public/i18n.js,
// loaded here with its absolute imports mapped to public/) says a drop's opening in the
// fan's language and the drop's zone, naming the zone; a zone the ICU lacks reads as UTC
// rather than breaking the page. And the right-to-left side: the fan page turns `dir`
// with the language, and pages.css lays out by logical sides, never left or right.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { register } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PUBLIC = pathToFileURL(join(ROOT, "public") + "/").href;
// The pages import by absolute path ("/i18n/de.js"), as the browser resolves them against the site.
register(
	`data:text/javascript,${encodeURIComponent(`export async function resolve(specifier, context, next) {
		if (specifier.startsWith("/") && context.parentURL && context.parentURL.startsWith(${JSON.stringify(PUBLIC)})) return next(new URL(specifier.slice(1), ${JSON.stringify(PUBLIC)}).href, context);
		return next(specifier, context);
	}`)}`,
);

const { formatZoned, isoToWall, knownZone, wallToIso, zoneName } = await import(new URL("zoned-time.js", PUBLIC).href);
/** Intl puts no-break and narrow no-break spaces in dates: compared as plain spaces. */
const spaced = (s) => s.replace(/[\u00a0\u202f]/g, " ");

// 19:00 UTC on 7 March 2026: 20:00 in Berlin (winter time), 14:00 in New York, 04:00 the next day in Tokyo.
const OPENS = "2026-03-07T19:00:00.000Z";

test("a drop's time in its zone, in each of the fan page's languages, the zone named", () => {
	assert.equal(spaced(formatZoned(OPENS, "de", "Europe/Berlin")), "7. März 2026, 20:00 MEZ");
	assert.equal(spaced(formatZoned(OPENS, "es", "Europe/Berlin")), "7 mar 2026, 20:00 CET");
	assert.equal(spaced(formatZoned(OPENS, "fr", "Europe/Berlin")), "7 mars 2026, 20:00 UTC+1");
	assert.equal(spaced(formatZoned(OPENS, "en", "America/New_York")), "Mar 7, 2026, 2:00 PM EST");
	// The day turns with the zone: the 8th in Tokyo.
	assert.equal(spaced(formatZoned(OPENS, "ja", "Asia/Tokyo")), "2026年3月8日 4:00 JST");
	// Summer time is its own name.
	assert.equal(zoneName("2026-07-07T19:00:00Z", "en-GB", "Europe/Berlin"), "CEST");
	assert.equal(zoneName(OPENS, "en-GB", "Europe/Berlin"), "CET");
});

test("a zone the browser does not know, or none, is said in UTC and named so", () => {
	assert.equal(knownZone("Mars/Olympus_Mons"), "UTC");
	assert.equal(knownZone("asia/tokyo"), "Asia/Tokyo");
	assert.equal(spaced(formatZoned(OPENS, "en", "Mars/Olympus_Mons")), "Mar 7, 2026, 7:00 PM UTC");
	assert.equal(spaced(formatZoned(OPENS, "de", undefined)), "7. März 2026, 19:00 UTC");
});

/** The fan page's i18n.js as a browser with `?lang=` would load it. */
async function fanPageIn(lang) {
	globalThis.location = { search: `?lang=${lang}`, href: `http://127.0.0.1/drops/d_x?lang=${lang}` };
	Object.defineProperty(globalThis, "navigator", { configurable: true, value: { languages: [], language: "en" } });
	Object.defineProperty(globalThis, "localStorage", { configurable: true, value: { getItem: () => null, setItem: () => {} } });
	return import(`${new URL("i18n.js", PUBLIC).href}?lang=${lang}`);
}

test("the fan page says the drop's opening in the fan's language and the drop's zone once it knows the drop", async () => {
	const de = await fanPageIn("de");
	assert.equal(de.locale, "de");
	// Before the drop's view: UTC, as the engine's default zone.
	assert.equal(spaced(de.formatDateTime(OPENS)), "7. März 2026, 19:00 UTC");
	de.useTimeZone("Europe/Berlin");
	assert.equal(spaced(de.t("intro.opensAt", { when: de.formatDateTime(OPENS) })).includes("7. März 2026, 20:00 MEZ"), true);
	const ja = await fanPageIn("ja");
	ja.useTimeZone("Asia/Tokyo");
	assert.equal(spaced(ja.formatDateTime(OPENS)), "2026年3月8日 4:00 JST");
});

test("the page's direction follows its language: a right-to-left language falls back to English words, left to right", async () => {
	for (const [lang, wanted] of [["de", ["de", "ltr"]], ["ar", ["en", "ltr"]], ["he", ["en", "ltr"]]]) {
		const page = await fanPageIn(lang);
		const root = { lang: "", dir: "" };
		globalThis.document = { documentElement: root };
		page.translatePage({ querySelectorAll: () => [], getElementById: () => null });
		assert.deepEqual([root.lang, root.dir], wanted, lang);
	}
	// Once a catalogue for one is added to LOCALES, translatePage turns the page: the languages it turns are listed.
	const source = readFileSync(join(ROOT, "public/i18n.js"), "utf8");
	assert.match(source, /const RTL = new Set\(\[[^\]]*"ar"[^\]]*"he"[^\]]*\]\)/);
	assert.match(source, /document\.documentElement\.dir = RTL\.has\(locale\) \? "rtl" : "ltr"/);
});

test("every page names its direction, and pages.css lays out by logical sides: nothing left or right", () => {
	for (const page of ["drop.html", "admin.html", "gate.html", "index.html"]) {
		assert.match(readFileSync(join(ROOT, "public", page), "utf8"), /<html lang="en" dir="ltr">/, page);
	}
	const css = readFileSync(join(ROOT, "public/pages.css"), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
	const physical = [...css.matchAll(/[^\n]*(?:\b(?:margin|padding|border)-(?:left|right)\b|(?:^|[\s;{])(?:left|right)\s*:|text-align:\s*(?:left|right)|float:\s*(?:left|right)|clear:\s*(?:left|right))[^\n]*/g)].map((m) => m[0].trim());
	assert.deepEqual(physical, [], "physical sides in pages.css (use margin-inline-start, text-align: start and the like)");
});

test("the promoter's times are typed on the drop's wall clock, whatever the browser's zone", () => {
	// One moment, typed in three zones' wall time.
	assert.equal(wallToIso("2026-03-07T20:00", "Europe/Berlin"), OPENS);
	assert.equal(wallToIso("2026-03-07T14:00:00", "America/New_York"), OPENS);
	assert.equal(wallToIso("2026-03-08T04:00", "Asia/Tokyo"), OPENS);
	// Half and quarter hours, and a zone Intl does not know read as UTC.
	assert.equal(wallToIso("2026-07-01T12:00", "Asia/Kathmandu"), "2026-07-01T06:15:00.000Z");
	assert.equal(wallToIso("2026-07-01T12:00", "Australia/Lord_Howe"), "2026-07-01T01:30:00.000Z");
	assert.equal(wallToIso("2026-07-01T12:00", "Not/AZone"), "2026-07-01T12:00:00.000Z");
	assert.equal(wallToIso("", "UTC"), null);
	assert.equal(wallToIso("soon", "UTC"), null);
	// And back: the form shows a drop's time on its own wall clock.
	assert.equal(isoToWall(OPENS, "Europe/Berlin"), "2026-03-07T20:00:00");
	assert.equal(isoToWall(OPENS, "Asia/Tokyo"), "2026-03-08T04:00:00");
});

test("around a change of clocks: an hour shown twice reads as its first, a skipped one past the jump", () => {
	// Berlin falls back at 03:00 CEST on 25 October 2026: 02:30 comes twice, first in summer time (00:30 UTC).
	assert.equal(wallToIso("2026-10-25T02:30", "Europe/Berlin"), "2026-10-25T00:30:00.000Z");
	assert.equal(wallToIso("2026-11-01T01:30", "America/New_York"), "2026-11-01T05:30:00.000Z");
	// Berlin springs forward at 02:00 on 29 March 2026: 02:30 does not exist and reads as 03:30 CEST.
	assert.equal(wallToIso("2026-03-29T02:30", "Europe/Berlin"), "2026-03-29T01:30:00.000Z");
	assert.equal(isoToWall("2026-03-29T01:30:00.000Z", "Europe/Berlin"), "2026-03-29T03:30:00");
	assert.equal(wallToIso("2026-03-08T02:30", "America/New_York"), "2026-03-08T07:30:00.000Z");
	// Every quarter hour of a year in Berlin goes there and back (the repeated hour's second reading aside).
	for (let ms = Date.parse("2026-01-01T00:00:00Z"); ms < Date.parse("2027-01-01T00:00:00Z"); ms += 15 * 60_000) {
		const wall = isoToWall(new Date(ms).toISOString(), "Europe/Berlin");
		const back = Date.parse(wallToIso(wall, "Europe/Berlin"));
		assert.ok(back === ms || back === ms - 3_600_000, `${wall}: ${new Date(back).toISOString()}`);
	}
});

