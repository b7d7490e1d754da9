// The load report read as a person reads it (loadtest/lib/report-html.js): a
// sell-out time that waited out abandoned holds says so from the run's own
// figures; the admission chart names the configured rate and says when the
// shoppers-per-ticket cap held admission below it; errors are never drawn in
// green and are said in words; tables and charts scroll in their own boxes so
// the page fits a 390 px screen (checked in Chromium by test-browser/report.mjs).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { renderReport } from "../loadtest/lib/report-html.js";
import { selloutStats, selloutText } from "../loadtest/lib/sellout.js";

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "loadtest-run.json");
const recorded = () => JSON.parse(readFileSync(FIXTURE, "utf8"));
const unescape = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");
const note = (html, id) => {
	const m = new RegExp(`<p class="note" data-note="${id}">([^<]*)</p>`).exec(html);
	return m ? unescape(m[1]) : null;
};

test("a sell-out that waited out abandoned holds says so, from the run's own figures", () => {
	const opensAt = 1_000_000;
	// 60 tickets: 54 sold within 2 s; three fans walked away from 6 tickets whose 60 s holds ran out from +61 s; those 6 sold last.
	const sales = [];
	for (let i = 0; i < 27; i++) sales.push([opensAt + 100 + i * 70, 2]);
	const lapses = [
		[opensAt + 61_200, 2],
		[opensAt + 61_900, 3],
		[opensAt + 62_300, 1],
	];
	sales.push([opensAt + 61_400, 2], [opensAt + 62_100, 3], [opensAt + 62_600, 1]);
	const stats = selloutStats({ sales, lapses, opensAt, capacity: 60, holdSeconds: 60 });
	assert.deepEqual(stats, { lapsedHolds: 3, lapsedTickets: 6, firstLapseS: 61.2, lastLapseS: 62.3, waitedTickets: 6, tailTickets: 6, lastSaleS: 62.6, holdSeconds: 60 });

	const report = recorded();
	report.knobs.tickets = 60;
	report.timeToSellOutSeconds = 62.6;
	report.soldAfterOpenSeconds = { "50%": 1, "90%": 1.9, "100%": 62.6 };
	report.sellout = stats;
	const said = note(renderReport(report), "sellout");
	assert.equal(
		said,
		"90 % sold at +1.9 s, sold out at +62.6 s: the last 6 tickets waited for holds that ran out: fans had walked away from 3 holds of 6 tickets, which ran out (60 s holds) between +61.2 s and +62.3 s.",
	);
	assert.equal(selloutText(report), said, "the runner's summary says the same sentence");

	// A hold that ran out after the last sale kept nobody waiting, nor one that ran out before the 90 % mark (the
	// tail is what is explained); and no more tickets waited than the lapsed holds gave back.
	assert.equal(selloutStats({ sales, lapses: [[opensAt + 70_000, 2]], opensAt, capacity: 60, holdSeconds: 60 }).waitedTickets, 0);
	assert.equal(selloutStats({ sales, lapses: [[opensAt + 1_000, 4]], opensAt, capacity: 60, holdSeconds: 60 }).waitedTickets, 0);
	assert.equal(selloutStats({ sales, lapses: [[opensAt + 61_000, 1]], opensAt, capacity: 60, holdSeconds: 60 }).waitedTickets, 1);
	// No such wait, or a run without the figures (k6): nothing said.
	report.sellout = { ...stats, waitedTickets: 0 };
	assert.equal(note(renderReport(report), "sellout"), null);
	delete report.sellout;
	assert.equal(note(renderReport(report), "sellout"), null);
});

test("the admission chart names the configured rate and says when the shoppers-per-ticket cap held admission below it", () => {
	const report = recorded();
	const html = renderReport(report);
	assert.match(html, /<figcaption>Admission: the watermark against the configured pace: 100 fans a second<\/figcaption>/);
	assert.match(html, /data-series="configured pace: 100 fans a second \(batchSize per interval, up to the fans joined\)"/);
	const said = note(html, "admission");
	assert.ok(said, "the admission chart has a note");
	assert.match(said, /^Configured: 100 fans every 1000 ms \(100 a second\)\. /);
	assert.match(said, /For \d+ s between \+\d+ s and \+\d+ s admission stayed below it while fans waited and tickets were free: the shoppers-per-ticket cap: at most 2 × tickets remaining fans shop at once \(activeMultiple 2\)/);
	assert.match(html, /class="mark-label"[^>]*>cap holds</, "the chart marks where the cap begins to hold");

	// A run whose admission kept pace: no cap is blamed.
	const t = report.timeline;
	const easy = recorded();
	easy.timeline.observed.watermark = t.observed.watermark.map((_, i) => (i < t.openAtS ? 0 : 200));
	easy.timeline.observed.remaining = t.observed.remaining.map(() => 40);
	const kept = note(renderReport(easy), "admission");
	assert.match(kept, /Admission kept up with it whenever fans were waiting and tickets were free\.$/);
	assert.doesNotMatch(kept, /cap/);
});

/** Whether a #rrggbb colour reads as green: green well above red and blue. */
const greenish = (hex) => {
	const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
	return g > r + 40 && g > b + 40;
};

test("errors are never drawn in green, and are said in words", () => {
	const report = recorded();
	const t = report.timeline;
	// As a run records it today: 503 (try again) apart from the other 5xx, some with no answer.
	t.statuses = { "2xx": t.statuses["2xx"], "4xx": t.statuses["4xx"], 503: t.statuses["5xx"], "5xx": t.statuses["5xx"].map((v) => (v > 0 ? 1 : 0)), network: t.statuses["2xx"].map((v, i) => (i === 8 ? 2 : 0)) };
	const html = renderReport(report);
	const chart = /<svg class="chart" data-chart="statuses"[\s\S]*?<\/figure>/.exec(html)[0];
	const strokes = Object.fromEntries([...chart.matchAll(/data-series="([^"]+)" data-points="\d+" d="[^"]*" stroke="(#[0-9a-f]{6})"/g)].map((m) => [unescape(m[1]), m[2]]));
	const legend = Object.fromEntries([...chart.matchAll(/<span class="key" data-color="(#[0-9a-f]{6})"><i[^>]*><\/i>([^<]+)<\/span>/g)].map((m) => [unescape(m[2]), m[1]]));
	assert.deepEqual(Object.keys(strokes).sort(), ["2xx", "4xx", "503 (try again)", "no answer (network)", "other 5xx"]);
	assert.deepEqual(Object.keys(legend).sort(), ["2xx (answered)", "4xx (refused: sold out, limits)", "503 (try again, not an error)", "no answer (network errors)", "other 5xx (errors)"], "the legend says which are errors");
	for (const [name, color] of [...Object.entries(strokes), ...Object.entries(legend)]) {
		if (name.startsWith("2xx")) assert.ok(greenish(color), "2xx is green");
		else assert.ok(!greenish(color), `${name} is not drawn in green (${color})`);
	}
	const fives = t.statuses["5xx"].reduce((a, b) => a + b, 0);
	assert.equal(note(html, "statuses"), `Errors: ${fives} other 5xx, 2 with no answer (a dropped connection: the verdict's unanswered line says whether any request was never answered). ${t.statuses["503"].reduce((a, b) => a + b, 0)} answers were 503, the engine asking to be asked again (Retry-After), which fans obey.`);

	// A run recorded before 503 was counted apart: its 5xx are neither green nor called plain errors.
	const old = renderReport(recorded());
	const oldChart = /<svg class="chart" data-chart="statuses"[\s\S]*?<\/figure>/.exec(old)[0];
	for (const m of oldChart.matchAll(/data-series="([^"]+)" data-points="\d+" d="[^"]*" stroke="(#[0-9a-f]{6})"/g)) {
		if (!m[1].startsWith("2xx")) assert.ok(!greenish(m[2]), `${m[1]} is not drawn in green (${m[2]})`);
	}
	assert.match(note(old, "statuses"), /count 503 \(the engine's try again, Retry-After\) among the 5xx/);
});

test("the page fits a phone: tables and charts scroll in their own boxes", () => {
	const html = renderReport(recorded());
	const tables = html.match(/<table>/g).length;
	assert.ok(tables >= 2);
	// Each box is focusable (a keyboard can scroll it) and named.
	assert.equal((html.match(/<div class="scroll" tabindex="0" role="group" aria-label="[^"]+"><table>/g) ?? []).length, tables, "every table sits in its own scrolling box");
	const charts = html.match(/<svg class="chart"/g).length;
	assert.equal((html.match(/<div class="chart-box" tabindex="0" role="group" aria-label="[^"]+"><svg class="chart"/g) ?? []).length, charts, "every chart sits in its own scrolling box");
	// The box is not named by the chart's title: the svg inside says it, and it would be read twice.
	for (const [, box, img] of html.matchAll(/<div class="chart-box" tabindex="0" role="group" aria-label="([^"]+)"><svg class="chart"[^>]*role="img" aria-label="([^"]+)"/g)) {
		assert.notEqual(box, img, `a chart's box repeats its title "${img}"`);
	}
	assert.match(html, /\.chart-box,\.scroll\{overflow-x:auto;max-width:100%\}/);
	assert.match(html, /grid-template-columns:repeat\(auto-fill,minmax\(min\(560px,100%\),1fr\)\)/, "a chart's column is never wider than the screen");
	assert.doesNotMatch(html, /minmax\(560px/);
});
