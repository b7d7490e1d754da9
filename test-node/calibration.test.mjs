// The calibration's comparison (scripts/lib/calibration.mjs, `npm run calibrate`) on
// fixture reports shaped as the load runner's and the simulator's: the ratios are
// simulated / real, a checked figure outside 15 % is flagged and one inside is not,
// the shards' methods left out (the audit's reads, buyers' order reads) are out of
// both sides' counts, and the text names what is flagged. Runs under Node's test runner.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LEFT_OUT, MEASURABLE_COUNT, PACER_LEFT_OUT, TOLERANCE, admittedOf, countingP, calibrationRows, calibrationRowsOver, calibrationText, loadByKind, ratioOf, tryAgainShare } from "../scripts/lib/calibration.mjs";

/** A report of a drop with 1,000 fans: `lines` and `shards` are each object's requests, shards' as {method: n}. */
function report({ room, roomMethods, lines, shards, hold, sellout, admitted, where }) {
	const objects = [
		roomMethods === undefined ? { kind: "room", index: 0, requests: room } : { kind: "room", index: 0, requests: Object.values(roomMethods).reduce((a, b) => a + b, 0), methods: roomMethods },
		...lines.map((requests, index) => ({ kind: "line", index, requests })),
		...shards.map((methods, index) => ({ kind: "shard", index, requests: Object.values(methods).reduce((a, b) => a + b, 0), methods })),
	];
	const load = { fans: 1000, objects };
	const base = { load, steps: { hold: { count: Object.values(hold).reduce((a, b) => a + b, 0), statuses: hold } }, timeToSellOutSeconds: sellout };
	// The real run's watermark is in its audit; the simulation's in its own admission.
	return where === "audit" ? { ...base, audit: { admission: { admittedThrough: admitted }, load } } : { ...base, admission: { admittedThrough: admitted } };
}

const REAL = report({
	room: 200,
	lines: [600, 400],
	// 50 stats, 10 orderIdsPage and 300 order reads are left out: 1,000 + 900 counted.
	shards: [
		{ hold: 500, totals: 300, give: 100, purchase: 100, stats: 30, orderIdsPage: 10, order: 200 },
		{ hold: 400, totals: 300, give: 100, purchase: 100, stats: 20, order: 100 },
	],
	hold: { 201: 700, "409:sold_out": 100, "503:try_again": 100, "409:not_enough_left": 100 },
	sellout: 100,
	admitted: 2000,
	where: "audit",
});

test("ratios are simulated over real; within 15 % passes, outside is flagged, either way round", () => {
	const sim = report({
		room: 231, // 1.155: outside
		lines: [560, 380], // 940 of 1,000: 0.94, busiest 560 of 600: 0.933
		shards: [
			{ hold: 480, totals: 290, give: 90, purchase: 95 }, // 955 of 1,000 (busiest)
			{ hold: 410, totals: 280, give: 70, purchase: 100 }, // 1,815 of 1,900 in all: 0.955
		],
		hold: { 201: 800, "409:sold_out": 100, "503:try_again": 40, "409:not_enough_left": 60 }, // try_again 4 % against 10 %: 0.4
		sellout: 86, // 0.86: within (0.14)
		admitted: 2400, // 1.2: outside
	});
	const rows = calibrationRows(REAL, sim, TOLERANCE);
	const by = Object.fromEntries(rows.map((r) => [r.figure, r]));
	assert.equal(by["lines: requests"].real, 1000);
	assert.equal(by["lines: requests"].simulated, 940);
	assert.equal(by["lines: requests"].ratio.toFixed(3), "0.940");
	assert.equal(by["lines: per fan"].real, 1);
	assert.equal(by["lines: busiest"].ratio.toFixed(3), (560 / 600).toFixed(3));
	assert.equal(by["pacer: requests"].ratio.toFixed(3), "1.155");
	assert.equal(by["shards: requests"].real, 1900, "the audit's reads and the order reads are left out of the real shards' count");
	assert.equal(by["shards: requests"].simulated, 1815);
	assert.equal(by["shards: busiest"].real, 1000);
	assert.equal(by["shards: busiest"].simulated, 955);
	assert.equal(by["hold answers: try_again share"].real, 0.1);
	assert.equal(by["hold answers: try_again share"].simulated, 0.04);
	assert.equal(by["time to sell out"].ratio.toFixed(2), "0.86");
	assert.equal(by["admitted (the watermark)"].real, 2000, "the real watermark is read from the audit");
	assert.equal(by["admitted (the watermark)"].simulated, 2400);
	const flagged = rows.filter((r) => r.flagged).map((r) => r.figure);
	assert.deepEqual(flagged, ["pacer: requests", "hold answers: try_again share", "admitted (the watermark)"]);
	// A count per fan divides both sides by the same fans: shown, its ratio the total's, never checked apart.
	assert.equal(by["pacer: per fan"].ratio.toFixed(3), "1.155");
	assert.equal(by["pacer: per fan"].checked, false);
	assert.equal(by["pacer: per fan"].flagged, false);
	// Methods are shown to say where a difference comes from, never flagged.
	assert.equal(by["  shards' give"].ratio.toFixed(2), "0.80");
	assert.equal(by["  shards' give"].flagged, false);
	assert.equal(by["  shards' order"], undefined, "a left-out method has no row");
	const text = calibrationText(rows, TOLERANCE);
	assert.match(text, /\| pacer: requests \| 200 \| 231 \| 1\.16 \| ✗ outside 15 % \|/);
	assert.match(text, /\| lines: requests \| 1000 \| 940 \| 0\.94 \| ✓ \|/);
	// 100 of 1,000 against the 40 a 4 % share gives: too few for 15 % to be measured, but no likely draw of that rate: flagged, its counts named.
	assert.match(text, /\| hold answers: try_again share \| 10\.00 % \| 4\.00 % \| 0\.40 \| ✗ outside 15 % \(100 of 1000 against 40\.0 at the simulated share: two-sided Poisson p 0\.00\) \|/);
	assert.match(text, /\| pacer: per fan \| 0\.2000 \| 0\.2310 \| 1\.16 \|  \|/);
	assert.match(text, /3 figure\(s\) outside 15 %: pacer: requests, hold answers: try_again share, admitted \(the watermark\)$/);
});

test("the same figures compare equal; the bound is inclusive and the tolerance can be set", () => {
	const same = calibrationRows(REAL, REAL);
	assert.ok(same.every((r) => !r.flagged && (r.ratio === null || r.ratio === 1)), JSON.stringify(same.filter((r) => r.flagged)));
	assert.match(calibrationText(same), /every checked figure within 15 %$/);
	// 15 % exactly is within; a hair past is not.
	const at = (n) => report({ room: n, lines: [600, 400], shards: [{ hold: 500, totals: 300, give: 100, purchase: 100 }, { hold: 400, totals: 300, give: 100, purchase: 100 }], hold: { 201: 700, "409:sold_out": 100, "503:try_again": 100, "409:not_enough_left": 100 }, sellout: 100, admitted: 2000 });
	const pacer = (sim, tolerance) => calibrationRows(REAL, sim, tolerance).find((r) => r.figure === "pacer: requests").flagged;
	assert.equal(pacer(at(230)), false);
	assert.equal(pacer(at(170)), false);
	assert.equal(pacer(at(231)), true);
	assert.equal(pacer(at(169)), true);
	assert.equal(pacer(at(230), 0.1), true);
});

test("a figure a side lacks is flagged, not passed: a drop not sold out, no holds", () => {
	const sim = { ...REAL, timeToSellOutSeconds: null, steps: {} };
	const by = Object.fromEntries(calibrationRows(REAL, sim).map((r) => [r.figure, r]));
	assert.equal(by["time to sell out"].ratio, null);
	assert.equal(by["time to sell out"].flagged, true);
	assert.equal(by["hold answers: try_again share"].flagged, true);
	assert.equal(tryAgainShare(sim), null);
	assert.equal(ratioOf(0, 0), 1);
	assert.equal(ratioOf(0, 3), null);
});

test("the load by kind leaves out the same methods on both sides and counts them apart", () => {
	const k = loadByKind(REAL);
	assert.equal(k.room, 200);
	assert.deepEqual(k.lines, { total: 1000, max: 600, count: 2 });
	assert.deepEqual(k.shards.leftOut, { stats: 50, orderIdsPage: 10, order: 300 });
	assert.deepEqual(k.shards.methods, { hold: 900, totals: 600, give: 200, purchase: 200 });
	assert.deepEqual(Object.keys(LEFT_OUT).sort(), ["order", "orderIdsPage", "stats"]);
	assert.equal(admittedOf({ admission: { admittedThrough: 7 } }), 7);
	assert.equal(admittedOf({}), null);
});

test("against several seeds: the mean is the simulated figure, flagged on the mean, with the seeds' range beside it", () => {
	const at = (room, sellout) => report({ room, lines: [600, 400], shards: [{ hold: 500, totals: 300, give: 100, purchase: 100 }, { hold: 400, totals: 300, give: 100, purchase: 100 }], hold: { 201: 700, "409:sold_out": 100, "503:try_again": 100, "409:not_enough_left": 100 }, sellout, admitted: 2000 });
	// Pacer 150, 200, 250: mean 200 (ratio 1) though one seed alone is 25 % off; sell-out 60, 80, 100 s: mean 80 against 100.
	const rows = calibrationRowsOver(REAL, [at(150, 60), at(200, 80), at(250, 100)]);
	const by = Object.fromEntries(rows.map((r) => [r.figure, r]));
	assert.equal(by["pacer: requests"].simulated, 200);
	assert.equal(by["pacer: requests"].low, 150);
	assert.equal(by["pacer: requests"].high, 250);
	assert.equal(by["pacer: requests"].flagged, false);
	assert.equal(by["time to sell out"].simulated, 80);
	assert.equal(by["time to sell out"].ratio.toFixed(2), "0.80");
	assert.equal(by["time to sell out"].flagged, true);
	const text = calibrationText(rows);
	assert.match(text, /^\| figure \| real \| simulated \(mean\) \| seeds' range \| ratio \| \|$/m);
	assert.match(text, /\| pacer: requests \| 200 \| 200 \| 150 to 250 \| 1\.00 \| ✓ \|/);
	assert.match(text, /\| time to sell out \| 100\.0 s \| 80\.0 s \| 60\.0 s to 100\.0 s \| 0\.80 \| ✗ outside 15 % \|/);
	// A seed that did not sell out leaves the mean without a value: flagged, not passed.
	const partly = calibrationRowsOver(REAL, [at(200, 80), at(200, null)]).find((r) => r.figure === "time to sell out");
	assert.equal(partly.simulated, null);
	assert.equal(partly.flagged, true);
});

test("seeds whose shards called different methods: each row is matched by its figure, and a method one seed lacks counts 0 there", () => {
	const base = { room: 200, lines: [600, 400], hold: { 201: 700, "409:sold_out": 100, "503:try_again": 100, "409:not_enough_left": 100 }, sellout: 100, admitted: 2000 };
	// The real run's shards asked their peers (give); seed A's never did, seed B's also released holds.
	const real = report({ ...base, shards: [{ hold: 500, totals: 300, give: 100, purchase: 100 }] });
	const a = report({ ...base, shards: [{ hold: 480, totals: 300, purchase: 100 }] });
	const b = report({ ...base, shards: [{ hold: 520, totals: 300, give: 60, purchase: 100, release: 40 }] });
	for (const runs of [[a, b], [b, a]]) {
		const rows = calibrationRowsOver(real, runs);
		const by = Object.fromEntries(rows.map((r) => [r.figure, r]));
		assert.deepEqual(rows.map((r) => r.figure).filter((f) => f.startsWith("  shards'")), ["  shards' give", "  shards' hold", "  shards' purchase", "  shards' release", "  shards' totals"]);
		assert.equal(by["  shards' give"].simulated, 30, "give: 0 on seed A, 60 on seed B");
		assert.equal(by["  shards' give"].low, 0);
		assert.equal(by["  shards' release"].simulated, 20);
		assert.equal(by["  shards' release"].real, 0);
		assert.equal(by["  shards' totals"].simulated, 300);
		assert.equal(by["  shards' hold"].simulated, 500);
		assert.equal(by["hold answers"].simulated, 1000, "the hold answers are the hold answers, not a shard method's count");
		assert.equal(by["hold answers: try_again share"].simulated, 0.1);
		assert.equal(by["hold answers: try_again share"].ratio, 1);
		assert.equal(by["time to sell out"].simulated, 100);
		assert.equal(by["admitted (the watermark)"].simulated, 2000);
	}
});

test("a checked figure 0 on both sides is not exercised: neither passed nor flagged, and the text says so", () => {
	const none = { 201: 800, "409:sold_out": 100, "409:not_enough_left": 100 };
	const at = () => report({ room: 200, lines: [600, 400], shards: [{ hold: 500, totals: 300, give: 100, purchase: 100 }, { hold: 400, totals: 300, give: 100, purchase: 100 }], hold: none, sellout: 100, admitted: 2000 });
	const real = at();
	for (const rows of [calibrationRows(real, at()), calibrationRowsOver(real, [at(), at()])]) {
		const share = rows.find((r) => r.figure === "hold answers: try_again share");
		assert.equal(share.real, 0);
		assert.equal(share.simulated, 0);
		assert.equal(share.notExercised, true);
		assert.equal(share.ratio, null, "0 against 0 is no agreement");
		assert.equal(share.flagged, false);
		const text = calibrationText(rows);
		assert.match(text, /\| hold answers: try_again share \| 0\.00 % \| 0\.00 % \|(?: 0\.00 % to 0\.00 % \|)? - \| not exercised \(0 on both sides\) \|/);
		assert.doesNotMatch(text, /try_again share[^\n]*✓/);
		assert.match(text, /\n1 figure\(s\) not exercised \(0 on both sides, so not shown to agree\): hold answers: try_again share$/);
	}
	// One side 0, the other not: a real difference, flagged.
	const some = report({ room: 200, lines: [600, 400], shards: [{ hold: 500, totals: 300, give: 100, purchase: 100 }], hold: { 201: 900, "503:try_again": 100 }, sellout: 100, admitted: 2000 });
	assert.equal(calibrationRows(real, some).find((r) => r.figure === "hold answers: try_again share").flagged, true);
});

test("a share of few events is judged by counting's noise: a likely draw of the simulated rate passes, an unlikely one is flagged, and many events take the ratio alone", () => {
	const holds = (tries, answers) => ({ 201: 2000, "409:sold_out": answers - 2000 - tries, "503:try_again": tries });
	const at = (tries, answers = 14000) => report({ room: 200, lines: [600, 400], shards: [{ hold: 500, totals: 300, give: 100, purchase: 100, stats: 30, orderIdsPage: 10, order: 200 }, { hold: 400, totals: 300, give: 100, purchase: 100, stats: 20, order: 100 }], hold: holds(tries, answers), sellout: 100, admitted: 2000, where: "audit" });
	const share = (real, sims) => calibrationRowsOver(real, sims).find((r) => r.figure === "hold answers: try_again share");
	// None real against 0 or 1 a run of as many answers: the ratio says nothing, counting says a likely draw.
	const none = share(at(0), [0, 1, 0, 0, 1].map((n) => at(n)));
	assert.equal(none.ratio, null);
	assert.equal(none.flagged, false);
	assert.equal(none.withinNoise, true);
	assert.equal(none.expectedCount.toFixed(2), "0.40");
	assert.equal(none.countingP, 1);
	// Six real against 0.7 a run: a one-in-ten-thousand draw, flagged.
	const six = share(at(6), [1, 0, 1, 2, 0, 1, 0, 1, 0, 1].map((n) => at(n)));
	assert.equal(six.flagged, true);
	assert.ok(six.countingP < 0.001, String(six.countingP));
	// 3 against 2 a run: 50 % off, yet a likely draw of the same rate.
	assert.equal(share(at(3), [at(2), at(2)]).flagged, false);
	// The same counts over different answers are different shares: 150 of 20,000 real against 150 of 10,000 simulated
	// is half the simulated rate, 300 expected over the real answers: judged by the ratio (2.00), flagged.
	const halved = share(at(150, 20000), [at(150, 10000)]);
	assert.equal(halved.ratio.toFixed(2), "2.00");
	assert.equal(halved.countingP, null);
	assert.equal(halved.flagged, true);
	// And below the measurable count: 40 of 20,000 against 40 of 10,000 (80 expected) is an unlikely draw, flagged.
	const fewHalved = share(at(40, 20000), [at(40, 10000)]);
	assert.equal(fewHalved.expectedCount, 80);
	assert.ok(fewHalved.countingP < 0.001, String(fewHalved.countingP));
	assert.equal(fewHalved.flagged, true);
	// Many events: the ratio alone (300 against 240 is 0.80, flagged).
	const many = share(at(300), [at(240), at(240)]);
	assert.equal(many.countingP, null);
	assert.equal(many.flagged, true);
	assert.equal(MEASURABLE_COUNT, 178);
	assert.match(calibrationText([none]), /✓ within counting's noise \(0 of 14000 against 0\.4 at the simulated share: two-sided Poisson p 1\.00\)/);
	// The tails themselves: P(X = 0 | 0.4) = 0.67 is the smaller tail, doubled past 1; P(X ≥ 6 | 0.7) ≈ 0.00009, doubled.
	assert.equal(countingP(0, 0.4), 1);
	assert.equal(countingP(6, 0.7).toFixed(5), "0.00018");
	assert.equal(countingP(0, 0), 1);
	assert.equal(countingP(1, 0), 0);
});

test("the pacer's promoter calls are left out of its count, its other methods shown one by one", () => {
	const base = { lines: [600, 400], shards: [{ hold: 500, totals: 300, give: 100, purchase: 100 }], hold: { 201: 900, "409:sold_out": 100 }, sellout: 100, admitted: 2000 };
	// The real pacer: 240 of the fans' calls and 46 of the runner's (the drop's making, the audit, stats and queue figures).
	const real = report({ ...base, roomMethods: { watermark: 200, stockMoved: 30, wake: 10, configure: 1, audit: 20, stats: 15, queueMinutes: 10 }, where: "audit" });
	const sim = report({ ...base, roomMethods: { watermark: 210, stockMoved: 45, wake: 9 } });
	const k = loadByKind(real);
	assert.equal(k.room, 240);
	assert.deepEqual(k.roomLeftOut, { configure: 1, audit: 20, stats: 15, queueMinutes: 10 });
	assert.deepEqual(k.roomMethods, { watermark: 200, stockMoved: 30, wake: 10 });
	assert.deepEqual(Object.keys(PACER_LEFT_OUT).sort(), ["audit", "configure", "queueMinutes", "stats"]);
	const by = Object.fromEntries(calibrationRows(real, sim).map((r) => [r.figure, r]));
	assert.equal(by["pacer: requests"].real, 240);
	assert.equal(by["pacer: requests"].simulated, 264);
	assert.equal(by["pacer: requests"].ratio.toFixed(2), "1.10");
	assert.equal(by["  pacer's stockMoved"].ratio.toFixed(2), "1.50");
	assert.equal(by["  pacer's stockMoved"].flagged, false);
	assert.equal(by["  pacer's audit"], undefined, "a left-out method has no row");
	// A pacer that names no methods (a report from an engine before it did) counts whole, as before.
	assert.equal(loadByKind(REAL).room, 200);
	assert.deepEqual(loadByKind(REAL).roomMethods, {});
	const old = calibrationRows(REAL, sim).find((r) => r.figure === "  pacer's watermark");
	assert.equal(old.real, null, "no methods named is no value, not 0");
	assert.equal(old.simulated, 210);
	assert.equal(old.flagged, false);
});

test("against several real runs: each side's mean, each side's range, and the try_again counts summed over the real runs", () => {
	const at = (room, sellout, tries, answers) => report({ room, lines: [600, 400], shards: [{ hold: 500, totals: 300, give: 100, purchase: 100 }], hold: { 201: 2000, "409:sold_out": answers - 2000 - tries, "503:try_again": tries }, sellout, admitted: 2000, where: "audit" });
	// Real pacer 180 and 240 (mean 210), simulated 230 and 250 (mean 240): 1.14, within, though against the first run alone it is 1.33.
	const reals = [at(180, 100, 3, 10000), at(240, 110, 0, 12000)];
	const sims = [at(230, 100, 1, 11000), at(250, 104, 0, 11000)];
	const rows = calibrationRowsOver(reals, sims);
	const by = Object.fromEntries(rows.map((r) => [r.figure, r]));
	assert.equal(by["pacer: requests"].real, 210);
	assert.equal(by["pacer: requests"].realLow, 180);
	assert.equal(by["pacer: requests"].realHigh, 240);
	assert.equal(by["pacer: requests"].simulated, 240);
	assert.equal(by["pacer: requests"].flagged, false);
	assert.equal(calibrationRowsOver(reals[0], sims).find((r) => r.figure === "pacer: requests").flagged, true);
	assert.equal(by["time to sell out"].real, 105);
	// try_again: 3 of 22,000 real answers in all against the simulated mean share (1/11,000 and 0: 1/22,000) over them, 1 expected.
	const share = by["hold answers: try_again share"];
	assert.deepEqual(share.counts, { real: 3, of: 22000 });
	// The real share is the runs' events over their answers together (3 of 22,000), not the mean of 3/10,000 and 0/12,000.
	assert.equal(share.real, 3 / 22000);
	assert.equal(share.expectedCount.toFixed(2), "1.00");
	assert.equal(share.flagged, false);
	const text = calibrationText(rows);
	assert.match(text, /^\| figure \| real \(mean of 2\) \| real runs' range \| simulated \(mean\) \| seeds' range \| ratio \| \|$/m);
	assert.match(text, /\| pacer: requests \| 210 \| 180 to 240 \| 240 \| 230 to 250 \| 1\.14 \| ✓ \|/);
	// One real run keeps the table as it was.
	assert.doesNotMatch(calibrationText(calibrationRowsOver(reals[0], sims)), /real runs' range/);
});
