#!/usr/bin/env node
// `npm run verify-fairness`: re-derives a drop's pre-queue order from what the
// engine publishes (GET /api/drops/:id/fairness), the way any fan or auditor
// can: the seed must hash to the commitment published before the opening, the
// shuffle must be a permutation of 1..P, and each fan's (line, place) must
// land on the position they were told. The derivation is loadtest/lib/fairness.js,
// the same code the load tests check every fan with.
//
//   npm run verify-fairness -- --base-url http://127.0.0.1:8787 --drop d_abc
//   npm run verify-fairness -- --drop d_abc --fan 2:17:431 --fan 0:3:12 --out prequeue.csv
//   npm run verify-fairness -- --drop d_abc --window fanclub
//   npm run verify-fairness -- --drop d_abc --draw [--window verified] [--registration r_...]
//
// A sale window (presale) has its own line and seed: --window checks that line's shuffle.
// A registered window's draw is its own part (--draw, scripts/lib/verify-draw.mjs): the
// invited ids re-derived from the published registration ids and the revealed seed.
//
// Exit 0: verified (or the seed is not revealed yet); 1: something does not
// verify; 2: usage or network error, or an answer that is not fairness data.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkFairness, positionsOf, prequeueOffsets, prequeueOrder } from "../loadtest/lib/fairness.js";
import { verifyDraw } from "./lib/verify-draw.mjs";

const USAGE = `usage: npm run verify-fairness -- --drop ID [--base-url URL] [--fan LINE:PLACE:POSITION ...] [--out file.csv]

  --base-url URL   the engine (default: BASE_URL, then http://127.0.0.1:8787)
  --drop ID        the drop to verify
  --window ID      a sale window's own line instead of the general sale's
  --fan L:P:POS    a fan's line, 1-based place in that line's pre-queue, and the
                   position they were told (from their join and status answers:
                   line, prequeuePlace, position); repeatable
  --out FILE       write line,place,position for every pre-queue fan as CSV
  --first N        how many of the first positions to show (default 5)
  --draw           a registered window's draw instead of a line's shuffle (--window
                   names the window when the drop has several)
  --registration R with --draw: a registration id to look up; repeatable

Exit 0 when everything verifies or the seed is not revealed yet, 1 when
something does not, 2 on a usage or network error.
`;

function usage(message) {
	process.stderr.write(`verify-fairness: ${message}\n\n${USAGE}`);
	process.exit(2);
}

/** A network error or an answer that is not fairness data: nothing was verified. */
function fatal(message) {
	process.stderr.write(`verify-fairness: ${message}\n`);
	process.exit(2);
}

let flags;
try {
	({ values: flags } = parseArgs({
		options: {
			"base-url": { type: "string" },
			drop: { type: "string" },
			window: { type: "string" },
			fan: { type: "string", multiple: true },
			out: { type: "string" },
			first: { type: "string", default: "5" },
			draw: { type: "boolean", default: false },
			registration: { type: "string", multiple: true },
			help: { type: "boolean", short: "h", default: false },
		},
		allowPositionals: false,
	}));
} catch (err) {
	usage(err.message);
}
if (flags.help) {
	process.stdout.write(USAGE);
	process.exit(0);
}
const baseUrl = (flags["base-url"] ?? process.env.BASE_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const dropId = flags.drop;
if (!dropId) usage("--drop is required");
const first = Number(flags.first);
if (!Number.isInteger(first) || first < 0) usage(`--first wants a whole number, got ${flags.first}`);
const fans = (flags.fan ?? []).map((text) => {
	const m = /^(\d+):(\d+):(\d+)$/.exec(text);
	if (m === null) usage(`--fan wants LINE:PLACE:POSITION (whole numbers), got ${text}`);
	return { fanId: `--fan ${text}`, line: Number(m[1]), prequeuePlace: Number(m[2]), position: Number(m[3]) };
});

if (flags.draw) {
	let draw;
	const query = flags.window ? `?window=${encodeURIComponent(flags.window)}` : "";
	try {
		const res = await fetch(`${baseUrl}/api/drops/${encodeURIComponent(dropId)}/draw${query}`, { signal: AbortSignal.timeout(30_000) });
		const text = await res.text();
		if (res.status !== 200) fatal(`GET /api/drops/${dropId}/draw${query} answered ${res.status}: ${text.slice(0, 300)}`);
		draw = JSON.parse(text);
	} catch (err) {
		fatal(`could not read the draw from ${baseUrl}: ${err.message}${err.cause?.code ? ` (${err.cause.code})` : ""}`);
	}
	if (draw === null || typeof draw !== "object" || typeof draw.seedCommitment !== "string" || typeof draw.invites !== "number") {
		fatal(`the answer is not a draw: ${JSON.stringify(draw).slice(0, 300)}`);
	}
	if (flags.window && draw.window !== flags.window) fatal(`asked for window ${flags.window}, got the draw of ${draw.window}`);
	const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("hex");
	process.exit(verifyDraw(draw, { sha256Hex: sha256, out: (line = "") => process.stdout.write(`${line}\n`), registrations: flags.registration ?? [] }));
}

let fairness;
try {
	const query = flags.window ? `?window=${encodeURIComponent(flags.window)}` : "";
	const res = await fetch(`${baseUrl}/api/drops/${encodeURIComponent(dropId)}/fairness${query}`, { signal: AbortSignal.timeout(30_000) });
	const text = await res.text();
	if (res.status !== 200) fatal(`GET /api/drops/${dropId}/fairness${query} answered ${res.status}: ${text.slice(0, 300)}`);
	fairness = JSON.parse(text);
} catch (err) {
	fatal(`could not read the fairness data from ${baseUrl}: ${err.message}${err.cause?.code ? ` (${err.cause.code})` : ""}`);
}
if (fairness === null || typeof fairness !== "object" || typeof fairness.seedCommitment !== "string") {
	fatal(`the answer is not fairness data: ${JSON.stringify(fairness).slice(0, 300)}`);
}

const out = (line = "") => process.stdout.write(`${line}\n`);
if (flags.window && fairness.window !== flags.window) fatal(`asked for window ${flags.window}, got the line of ${fairness.window ?? "the general sale"}`);
if (fairness.window) out(`window      ${fairness.window} (a sale window's own line and seed)`);
out(`drop        ${fairness.dropId ?? dropId} (${fairness.lines} line${fairness.lines === 1 ? "" : "s"}, opens ${fairness.opensAt})`);
out(`commitment  ${fairness.seedCommitment}`);
if (fairness.seed === null) {
	out(`seed        not revealed yet: it is published at the opening, and must then hash to the commitment above`);
	if (fans.length > 0) out(`            (${fans.length} --fan triple(s) cannot be checked before then)`);
	process.exit(0);
}

const sha256Hex = (text) => createHash("sha256").update(text, "utf8").digest("hex");
const verdict = checkFairness(fairness, fans, { sha256Hex });
const { stats } = verdict;
out(`seed        ${fairness.seed}`);
out(`            ${stats.commitmentOk ? "✓ sha256(seed) equals the commitment" : "✗ sha256(seed) is NOT the commitment"}`);
if (stats.prequeue === null) {
	for (const f of verdict.failures) out(`✗ ${f}`);
	process.exit(1);
}
const counts = stats.prequeue;
const size = stats.prequeueSize;
out(`pre-queue   ${size} fan(s); per line: ${counts.map((n, line) => `${line}:${n}`).join(" ")}`);

const order = prequeueOrder(fairness.seed, size);
const positions = positionsOf(order);
out(`order       ${positions === null ? "✗ NOT a permutation" : "✓ a permutation"} of 1..${size}`);
// Global index g back to (line, place): lines are laid out in order, places in join order.
const offsets = prequeueOffsets(counts);
const placeOf = (g) => {
	let line = counts.length - 1;
	while (line > 0 && offsets[line] > g) line--;
	return { line, place: g - offsets[line] + 1 };
};
if (size > 0 && first > 0) {
	out(`first       position: line/place`);
	for (let k = 0; k < Math.min(first, size); k++) {
		const { line, place } = placeOf(order[k]);
		out(`            ${String(k + 1).padStart(6)}: line ${line}, place ${place}`);
	}
}

for (const fan of fans) {
	const derived = fan.line < counts.length && fan.prequeuePlace >= 1 && fan.prequeuePlace <= counts[fan.line] && positions !== null
		? positions[offsets[fan.line] + fan.prequeuePlace - 1]
		: null;
	const verdictText = derived === null ? "✗ no such place in the published pre-queue" : derived === fan.position ? "✓" : `✗ derived ${derived}`;
	out(`fan         line ${fan.line}, place ${fan.prequeuePlace}, told ${fan.position}: ${verdictText}`);
}

if (flags.out) {
	if (positions === null) {
		out(`csv         not written: the order is not a permutation`);
	} else {
		const rows = ["line,place,position"];
		for (let line = 0; line < counts.length; line++) {
			for (let place = 1; place <= counts[line]; place++) rows.push(`${line},${place},${positions[offsets[line] + place - 1]}`);
		}
		try {
			writeFileSync(flags.out, rows.join("\n") + "\n");
		} catch (err) {
			fatal(`could not write ${flags.out}: ${err.message}`);
		}
		out(`csv         ${size} row(s) written to ${flags.out}`);
	}
}

if (verdict.failures.length > 0) {
	out();
	for (const f of verdict.failures) out(`✗ ${f}`);
	process.exit(1);
}
out();
out(`✓ verified`);
