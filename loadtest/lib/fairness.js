// Re-deriving a drop's queue order from what the engine publishes, and
// checking what fans were told against it. Shared by the k6 scripts, the Node
// runner and scripts/verify-fairness.mjs: plain JavaScript with no imports
// (and no nullish coalescing or optional chaining, which k6 v0.48 rejects). Hashing is the caller's:
// pass `sha256Hex` (node:crypto in Node, k6/crypto in k6).
//
// The order, as GET /api/drops/:id/fairness describes it: the pre-queue is
// laid out line by line in join order (global index g = fans on lower lines +
// place in line - 1), Fisher-Yates over 0..P-1 driven by xoshiro128** seeded
// with the 32-hex-digit seed puts g at one position in 1..P. Later joins are
// placed after P, first come first served up to the engine's slot length
// (500 ms by each line's clock). src/waiting-room/admission.ts and src/waiting-room/placement.ts are the
// engine's side; these functions must draw exactly the same numbers.

/** A later join whose request left this long after another's answer arrived must be placed behind it. */
export const FCFS_BOUND_MS = 1000;

const TWO_32 = 4294967296;

function rotl(x, k) {
	return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** xoshiro128** seeded from 32 lowercase hex digits, as src/waiting-room/admission.ts seededRandom. */
export function seededRandom(seedHex) {
	if (!/^[0-9a-f]{32}$/.test(seedHex)) throw new Error("seed must be 32 lowercase hex digits");
	const s = [0, 8, 16, 24].map(function (i) {
		return parseInt(seedHex.slice(i, i + 8), 16) >>> 0;
	});
	if (s[0] === 0 && s[1] === 0 && s[2] === 0 && s[3] === 0) s[0] = 1;
	return function () {
		const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
		const t = (s[1] << 9) >>> 0;
		s[2] = (s[2] ^ s[0]) >>> 0;
		s[3] = (s[3] ^ s[1]) >>> 0;
		s[1] = (s[1] ^ s[2]) >>> 0;
		s[0] = (s[0] ^ s[3]) >>> 0;
		s[2] = (s[2] ^ t) >>> 0;
		s[3] = rotl(s[3], 11);
		return result;
	};
}

/** A uniform integer in [0, n) without modulo bias (rejection sampling), as src/waiting-room/admission.ts uniformInt. */
export function uniformInt(next, n) {
	if (n <= 0 || n > TWO_32) throw new Error("n out of range");
	const limit = TWO_32 - (TWO_32 % n);
	for (;;) {
		const x = next();
		if (x < limit) return x % n;
	}
}

/** The pre-queue in position order: entry k is the global index g of the fan at position k + 1. */
export function prequeueOrder(seedHex, size) {
	const out = new Uint32Array(size);
	for (let i = 0; i < size; i++) out[i] = i;
	const next = seededRandom(seedHex);
	for (let i = size - 1; i > 0; i--) {
		const j = uniformInt(next, i + 1);
		const t = out[i];
		out[i] = out[j];
		out[j] = t;
	}
	return out;
}

/** The inverse of an order: entry g is the 1-based position of global index g; null when `order` is not a permutation of 0..n-1. */
export function positionsOf(order) {
	const positions = new Uint32Array(order.length);
	for (let k = 0; k < order.length; k++) {
		const g = order[k];
		if (g >= order.length || positions[g] !== 0) return null;
		positions[g] = k + 1;
	}
	return positions;
}

/** Where each line's pre-queue starts in the global join-order list. */
export function prequeueOffsets(counts) {
	const offsets = [];
	let sum = 0;
	for (let i = 0; i < counts.length; i++) {
		offsets.push(sum);
		sum += counts[i];
	}
	return offsets;
}

function sum(counts) {
	let n = 0;
	for (let i = 0; i < counts.length; i++) n += counts[i];
	return n;
}

// The last pre-queue re-derived, so a run checking thousands of fans shuffles once.
let memo = { key: "", positions: null };

function positionsFor(seedHex, size) {
	const key = seedHex + ":" + size;
	if (memo.key !== key) memo = { key: key, positions: positionsOf(prequeueOrder(seedHex, size)) };
	return memo.positions;
}

/**
 * The position of the fan at 1-based `place` in `line`'s pre-queue, given every
 * line's pre-queue count; null when no such place was published.
 */
export function prequeuePosition(seedHex, counts, line, place) {
	if (!(line >= 0 && line < counts.length) || Math.floor(place) !== place || place < 1 || place > counts[line]) return null;
	return positionsFor(seedHex, sum(counts))[prequeueOffsets(counts)[line] + place - 1];
}

function describeFan(f) {
	return (f.fanId ? f.fanId + " " : "") + "(line " + f.line + ", " + (f.prequeuePlace === null ? "slot " + f.slot + "#" + f.slotIndex : "place " + f.prequeuePlace) + ")";
}

/**
 * Checks a drop's published fairness data, and what fans were told, against
 * the order re-derived from it.
 *
 * fairness: the body of GET /api/drops/:id/fairness.
 * fans: [{fanId?, line, prequeuePlace, position, joinSentAt?, joinAnsweredAt?, positionChanged?}]
 *   as the journey records them: position is the first one the fan was told
 *   (null if none), joinSentAt the time its first join attempt left and
 *   joinAnsweredAt the time the answer it kept arrived (client clock, ms).
 * opts: {sha256Hex?(text) -> hex, publishedCommitment?, admission?, fcfsBoundMs?}
 *   publishedCommitment: the one the drop was created with; admission: the
 *   audit's `admission`, which must tell the same seed and counts.
 *
 * Returns {failures: [sentence...], broken: fans or pairs at fault, faults, stats}
 * where faults counts what is at fault by kind: `commitment` (the seed does
 * not hash to the commitment, or the commitment changed), `data` (the rest of
 * the published data: seed format, counts, shuffle, the audit agreeing),
 * `prequeue` (pre-queue fans told another position) and `later` (later fans
 * out of range, shared or changed positions, first come first served).
 * Time comparisons use the moment B's request left against the moment A's
 * answer arrived: the line handled each join between those two moments, so
 * neither network delay nor a busy client can make a fair order look unfair.
 */
export function checkFairness(fairness, fans, opts) {
	const o = opts || {};
	const bound = o.fcfsBoundMs === undefined ? FCFS_BOUND_MS : o.fcfsBoundMs;
	const failures = [];
	let broken = 0;
	const stats = {
		seedRevealed: false,
		commitmentOk: null,
		prequeueSize: null,
		prequeue: null,
		prequeueFans: 0,
		prequeueChecked: 0,
		laterFans: 0,
		laterChecked: 0,
		fcfsPairs: 0,
	};
	const faults = { commitment: 0, data: 0, prequeue: 0, later: 0 };
	function broke(kind, n, sentence) {
		faults[kind] += n;
		broken += n;
		failures.push(sentence);
	}

	const f = fairness;
	const told = [];
	for (let i = 0; i < fans.length; i++) {
		const fan = fans[i];
		if (!fan || fan.line === null || fan.line === undefined) continue;
		if (fan.prequeuePlace !== null && fan.prequeuePlace !== undefined) stats.prequeueFans++;
		else stats.laterFans++;
		if (typeof fan.position === "number") told.push(fan);
	}

	if (o.publishedCommitment && f.seedCommitment !== o.publishedCommitment) {
		broke("commitment", 1, "seed commitment changed: " + o.publishedCommitment + " at creation, " + f.seedCommitment + " now");
	}
	const a = o.admission;
	if (a && (a.seedCommitment !== f.seedCommitment || a.seed !== f.seed || JSON.stringify(a.prequeue) !== JSON.stringify(f.prequeue))) {
		broke(
			"data",
			1,
			"the audit and the public fairness data disagree: seed " + a.seed + " / " + f.seed + ", commitment " + a.seedCommitment + " / " + f.seedCommitment +
				", pre-queue " + JSON.stringify(a.prequeue) + " / " + JSON.stringify(f.prequeue),
		);
	}
	if (f.seed === null || f.seed === undefined) {
		const early = told.filter(function (fan) {
			return fan.prequeuePlace !== null && fan.prequeuePlace !== undefined;
		});
		if (early.length > 0) broke("prequeue", early.length, early.length + " pre-queue fan(s) were told a position while the seed is not revealed (e.g. " + describeFan(early[0]) + ")");
		return { failures: failures, broken: broken, faults: faults, stats: stats };
	}
	stats.seedRevealed = true;
	if (typeof f.seed !== "string" || !/^[0-9a-f]{32}$/.test(f.seed)) {
		broke("data", 1, "the revealed seed is not 32 lowercase hex digits: " + JSON.stringify(f.seed));
		return { failures: failures, broken: broken, faults: faults, stats: stats };
	}
	if (o.sha256Hex) {
		stats.commitmentOk = String(o.sha256Hex(f.seed)).toLowerCase() === f.seedCommitment;
		if (!stats.commitmentOk) broke("commitment", 1, "the seed does not hash to its commitment: sha256(" + f.seed + ") != " + f.seedCommitment);
	}
	const counts = f.prequeue;
	if (!Array.isArray(counts) || counts.length !== f.lines || !counts.every(function (n) { return Math.floor(n) === n && n >= 0; })) {
		broke("data", 1, "the pre-queue counts are not one whole number per line: " + JSON.stringify(counts) + " for " + f.lines + " line(s)");
		return { failures: failures, broken: broken, faults: faults, stats: stats };
	}
	const size = sum(counts);
	stats.prequeueSize = size;
	stats.prequeue = counts;
	if (f.prequeueSize !== size) broke("data", 1, "prequeueSize " + f.prequeueSize + " is not the sum of the lines' counts (" + size + ")");
	const positions = positionsFor(f.seed, size);
	if (positions === null) {
		broke("data", 1, "the shuffle over " + size + " fans is not a permutation of 1.." + size);
		return { failures: failures, broken: broken, faults: faults, stats: stats };
	}
	const offsets = prequeueOffsets(counts);

	// Pre-queue fans: told exactly the re-derived position.
	const wrong = [];
	const outside = [];
	for (let i = 0; i < fans.length; i++) {
		const fan = fans[i];
		if (!fan || fan.prequeuePlace === null || fan.prequeuePlace === undefined || fan.line === null || fan.line === undefined) continue;
		const place = fan.prequeuePlace;
		if (!(fan.line >= 0 && fan.line < counts.length) || Math.floor(place) !== place || place < 1 || place > counts[fan.line]) {
			outside.push(fan);
			continue;
		}
		if (typeof fan.position !== "number") continue;
		stats.prequeueChecked++;
		const derived = positions[offsets[fan.line] + place - 1];
		if (fan.position !== derived) wrong.push({ fan: fan, derived: derived });
	}
	if (outside.length > 0) {
		broke("prequeue", outside.length, outside.length + " pre-queue fan(s) hold a place the published counts leave out (e.g. " + describeFan(outside[0]) + " with counts " + JSON.stringify(counts) + ")");
	}
	if (wrong.length > 0) {
		broke(
			"prequeue",
			wrong.length,
			wrong.length + " pre-queue fan(s) were told a position other than the one re-derived from the seed (e.g. " + describeFan(wrong[0].fan) +
				" told " + wrong[0].fan.position + ", derived " + wrong[0].derived + ")",
		);
	}

	// Later fans: after the pre-queue, within what has been placed.
	const later = [];
	const misplaced = [];
	for (let i = 0; i < told.length; i++) {
		const fan = told[i];
		if (fan.prequeuePlace !== null && fan.prequeuePlace !== undefined) continue;
		if (fan.position <= size || (typeof f.lastPosition === "number" && fan.position > f.lastPosition)) misplaced.push(fan);
		else later.push(fan);
	}
	stats.laterChecked = later.length;
	if (misplaced.length > 0) {
		broke(
			"later",
			misplaced.length,
			misplaced.length + " later fan(s) were told a position outside " + (size + 1) + ".." + f.lastPosition + " (e.g. " + describeFan(misplaced[0]) + " told " + misplaced[0].position + ")",
		);
	}

	// Nobody shares a position, and nobody is told two.
	const seen = {};
	let shared = 0;
	let sharedExample = null;
	for (let i = 0; i < told.length; i++) {
		const p = told[i].position;
		if (seen[p] !== undefined) {
			shared++;
			if (sharedExample === null) sharedExample = describeFan(seen[p]) + " and " + describeFan(told[i]) + " both told " + p;
		} else seen[p] = told[i];
	}
	if (shared > 0) broke("later", shared, shared + " position(s) were told to more than one fan (e.g. " + sharedExample + ")");
	const changed = fans.filter(function (fan) {
		return fan && fan.positionChanged;
	});
	if (changed.length > 0) {
		broke("later", changed.length, changed.length + " fan(s) were told one position and later another (e.g. " + describeFan(changed[0]) + ": " + JSON.stringify(changed[0].positionChanged) + ")");
	}

	// First come, first served: B's request left more than `bound` after A's answer came back, so B is behind A.
	const timed = later.filter(function (fan) {
		return typeof fan.joinSentAt === "number" && typeof fan.joinAnsweredAt === "number";
	});
	const byAnswer = timed.slice().sort(function (a, b) {
		return a.joinAnsweredAt - b.joinAnsweredAt;
	});
	const bySent = timed.slice().sort(function (a, b) {
		return a.joinSentAt - b.joinSentAt;
	});
	let next = 0;
	let furthest = null;
	let overtakes = 0;
	let overtakeExample = null;
	for (let i = 0; i < bySent.length; i++) {
		const b = bySent[i];
		while (next < byAnswer.length && byAnswer[next].joinAnsweredAt + bound < b.joinSentAt) {
			if (furthest === null || byAnswer[next].position > furthest.position) furthest = byAnswer[next];
			next++;
		}
		stats.fcfsPairs += next;
		if (furthest !== null && furthest.position > b.position) {
			overtakes++;
			if (overtakeExample === null) {
				overtakeExample =
					describeFan(b) + " joined " + (b.joinSentAt - furthest.joinAnsweredAt) + " ms after " + describeFan(furthest) + " was answered, yet got position " +
					b.position + " ahead of " + furthest.position;
			}
		}
	}
	if (overtakes > 0) broke("later", overtakes, overtakes + " later fan(s) were placed ahead of a fan answered more than " + bound + " ms before they joined (e.g. " + overtakeExample + ")");
	return { failures: failures, broken: broken, faults: faults, stats: stats };
}
