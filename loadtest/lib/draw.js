// A registered sale window's draw, re-derived from what the engine publishes
// (GET /api/drops/:id/draw): the verified registration ids in ascending order,
// shuffled by the pre-queue's Fisher-Yates from the revealed seed (prequeueOrder
// in fairness.js); the first `invites` are invited. src/waiting-room/draw-core.ts
// is the engine's side. Also a chi-square test of the rule's uniformity over many
// seeds, with which verify-fairness and the Node tests check the rule itself.
// Plain JavaScript without `??` or `?.`, as the load tests' other helpers.
import { prequeueOrder } from "./fairness.js";

/** The ids in the order the draw reads them (by UTF-16 code unit). */
export function drawOrder(ids) {
	return ids.slice().sort(function (a, b) {
		return a < b ? -1 : a > b ? 1 : 0;
	});
}

/** The invited ids, ascending. */
export function drawInvited(seedHex, ids, invites) {
	const sorted = drawOrder(ids);
	const order = prequeueOrder(seedHex, sorted.length);
	const picked = [];
	for (let k = 0; k < Math.min(invites, sorted.length); k++) picked.push(sorted[order[k]]);
	return drawOrder(picked);
}

/**
 * Checks a published draw: the seed hashes to the commitment, the invited ids are the
 * ones the rule picks, and the count is what was asked (or every registration when fewer).
 * `sha256Hex` is the caller's. Failures are sentences; none means verified.
 */
export function checkDraw(draw, sha256Hex) {
	const failures = [];
	if (sha256Hex(draw.seed) !== draw.seedCommitment) failures.push("sha256(seed) is not the commitment published before the draw");
	const ids = draw.registrations;
	const unique = {};
	for (let i = 0; i < ids.length; i++) {
		if (unique[ids[i]] === true) failures.push("registration id " + ids[i] + " is listed twice");
		unique[ids[i]] = true;
	}
	if (ids.length !== draw.registered) failures.push("the list has " + ids.length + " registrations, the answer says " + draw.registered);
	const derived = drawInvited(draw.seed, ids, draw.invites);
	const expected = Math.min(draw.invites, ids.length);
	if (draw.drawn !== expected) failures.push("drawn is " + draw.drawn + ", the rule draws " + expected);
	const published = drawOrder(draw.invited);
	if (published.length !== derived.length || published.some(function (id, i) { return id !== derived[i]; })) {
		failures.push("the published invited list is not the one the seed derives (" + published.length + " published, " + derived.length + " derived)");
	}
	return { failures: failures, derived: derived };
}

/** Seeds for a uniformity run: 32 hex digits each, from a counter through `sha256Hex`, so a run is repeatable. */
export function runSeeds(sha256Hex, label, count) {
	const out = [];
	for (let i = 0; i < count; i++) out.push(sha256Hex(label + ":" + i).slice(0, 32));
	return out;
}

/**
 * Pearson's chi-square of how often each of `n` registrations is invited over the
 * seeds, against the uniform k/n per draw. `draw(seed, ids, k)` is the rule under test.
 * Answers the statistic, its degrees of freedom (n - 1) and the upper-tail p-value.
 */
export function drawUniformity(draw, seeds, n, k) {
	const ids = [];
	for (let i = 0; i < n; i++) ids.push("r_" + String(i).padStart(6, "0"));
	const index = {};
	ids.forEach(function (id, i) {
		index[id] = i;
	});
	const counts = new Array(n).fill(0);
	seeds.forEach(function (seed) {
		draw(seed, ids, k).forEach(function (id) {
			counts[index[id]]++;
		});
	});
	const expected = (seeds.length * k) / n;
	let chi2 = 0;
	for (let i = 0; i < n; i++) chi2 += ((counts[i] - expected) * (counts[i] - expected)) / expected;
	return { chi2: chi2, df: n - 1, p: chiSquareUpperTail(chi2, n - 1), counts: counts };
}

/** P(X >= x) for chi-square with `df` degrees of freedom: Wilson-Hilferty's normal approximation (good for df >= 10). */
export function chiSquareUpperTail(x, df) {
	const z = (Math.pow(x / df, 1 / 3) - (1 - 2 / (9 * df))) / Math.sqrt(2 / (9 * df));
	return 1 - normalCdf(z);
}

function normalCdf(z) {
	// Abramowitz and Stegun 7.1.26 through erf, error under 1.5e-7.
	const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
	const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
	return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
