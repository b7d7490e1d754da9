#!/usr/bin/env node
// `npm run loadtest`: the fan journey of loadtest/lib/journey.js (the same one
// loadtest/drop.js runs under k6) with many concurrent fans from Node, against
// a running engine (--base-url) or one it starts itself. Prints a live
// progress line and a k6-like summary, writes a JSON report into
// loadtest/reports/, and exits 1 on any broken invariant: the audit's, and
// fairness: every position a fan was told is re-derived from the revealed seed
// (lib/fairness.js) or checked first come, first served.
//
//   npm run loadtest -- --fans 2000 --tickets 300 --shards 4
//   npm run loadtest -- --fans 300 --tickets 60 --lines 3 --max-per-fan-load 8
//   npm run loadtest -- --base-url http://127.0.0.1:8787      (ADMIN_TOKEN from env or .dev.vars)
//   npm run loadtest -- --scenario attack                      (the hostile fans of loadtest/attack.js)
//   npm run loadtest -- --scenario presale --fans 1000 --registered 2000 --invites 500   (a code presale and a drawn one: lib/presale.js)
//   npm run loadtest -- --scenario ramp --p99-hold 500ms --sellout 60s --compare loadtest/reports/spike-....json
//   npm run loadtest -- --scenario seated --fans 5000 --seats 2000   (reserved seats: lib/seated.js)
//   npm run loadtest -- --scenario returns --fans 5500 --tickets 500   (refunds and resale listings after the sell-out go to the line: lib/returns.js)
//   npm run loadtest -- --fans 600 --tickets 300 --cancel-after-sold 100   (cancels mid-sale: lib/cancel.js)
//
// Each drop run also writes an HTML report beside its JSON (lib/report-html.js).
//
// Every knob of journey.js DEFAULTS is a flag (--max-per-fan 4) or an
// environment variable (MAX_PER_FAN=4); flags win. See docs/load-testing.md.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { attackPlan, attackVerdict, attacker, prepareAttack } from "./lib/attack.js";
import { preparePresale, presaleFan, presalePlan, presaleTotals, presaleVerdict, send, windowAdmit } from "./lib/presale.js";
import { drawTotals, drawnFan, promoterDraw, registrant } from "./lib/presale-draw.js";
import { FCFS_BOUND_MS, checkFairness } from "./lib/fairness.js";
import {
	DEFAULTS,
	auditFailures,
	createDrop,
	demandExceedsSupply,
	dropBody,
	fanJourney,
	knobsFrom,
	loadSummary,
	OBSERVING_METHODS,
	PACER_PROMOTER_METHODS,
	orderStatuses,
	readAudit,
	readFairness,
	recoverMissing,
	recoveryText,
	runAsync,
	ticketsByFan,
	waitForDrain,
	waitForTicketed,
} from "./lib/journey.js";
import { seatCount, seatedDropBody, seatedFailures, seatedHoldBody } from "./lib/seated.js";
import { ROOT, adminTokenFromEnv, startEngine, watchRestarts } from "../scripts/lib/engine.mjs";
import { Recorder, createHttpClient, latencyStats } from "./lib/node-client.mjs";
import { SCENARIOS, fanPlan, scenarioNamed } from "./lib/scenarios.js";
import { createTimeline, timelineBuckets } from "./lib/timeline.js";
import { THRESHOLD_PERCENTILES, THRESHOLD_STEPS, checkThresholds, formatMs, thresholdSpecs } from "./lib/report-compare.js";
import { compareWith, htmlPathFor } from "./lib/report-files.mjs";
import { restartFailure, restartsSince, restartsText } from "./lib/restarts.mjs";
import { unansweredFailure, unansweredText } from "./lib/unanswered.js";
import { cancelDrop, cancelText, cancelVerdict, readRefunds, readSales } from "./lib/cancel.js";
import { saleToTicketFailure, saleToTicketStats, saleToTicketText } from "./lib/ticket-time.js";
import { waitEstimateStats, waitEstimateText } from "./lib/wait-estimate.js";
import { queueStatsText, readQueueStats } from "./lib/queue-stats.js";
import { selloutStats, selloutText } from "./lib/sellout.js";
import { returnTickets, returnsFan, returnsText, returnsVerdict } from "./lib/returns.js";

const kebab = (k) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
/** Defaults that need words in the help. */
const DEFAULT_NOTES = {
	lines: "0: the engine's default, ceil(tickets / 500), so 1 line up to 500 tickets",
	maxPerFanLoad: "0: off; else fail when the audit's busiest object served more requests per fan",
	cancelAfterSold: "0: off; else cancel the drop once the fans were sold this many tickets, and check no sale after it, every order refunded",
	ticketDeadlineSeconds: "60: a fan answered 201 with no signed ticket this long after it fails the run",
	reconcileSeconds: "720: when the drain leaves sales missing from D1, ask the drop's reconcile (a deployment's cron) this long before calling them lost; 0: never",
	scanTickets: "0: off; else scan this many of the fans' tickets at the gate after the run (marks them used; GATE_TOKEN with --base-url)",
};
const knobOptions = Object.fromEntries(Object.keys(DEFAULTS).map((k) => [kebab(k), { type: "string" }]));
/** --p95-hold 300ms, --p99-join 1s, ..., --sellout 60s (lib/report-compare.js). */
const thresholdOptions = Object.fromEntries(
	[...THRESHOLD_PERCENTILES.flatMap((p) => THRESHOLD_STEPS.map((step) => `${p}-${step}`)), "sellout"].map((name) => [name, { type: "string" }]),
);
const { values: flags } = parseArgs({
	options: {
		...knobOptions,
		...thresholdOptions,
		compare: { type: "string" },
		"base-url": { type: "string" },
		"admin-token": { type: "string" },
		port: { type: "string", default: process.env.PORT ?? "8800" },
		connections: { type: "string", default: "64" },
		scenario: { type: "string", default: "spike" },
		report: { type: "string" },
		var: { type: "string", multiple: true },
		"engine-log": { type: "string" },
		quiet: { type: "boolean", default: false },
		help: { type: "boolean", short: "h", default: false },
	},
	allowPositionals: false,
});

if (flags.help) {
	process.stdout.write(
		[
			`usage: npm run loadtest -- [--base-url URL] [--scenario ${[...Object.keys(SCENARIOS), "attack", "presale"].join("|")}] [thresholds] [--compare REPORT] [knobs]`,
			"",
			"  --base-url URL      a running engine (default: start one on --port, scripts/lib/engine.mjs)",
			"  --admin-token T     its admin token or a promoter's owner key (default: ADMIN_TOKEN, then .dev.vars)",
			"  --port N            port of the engine started here (default 8800)",
			"  --var NAME=VALUE    a wrangler.toml [vars] override for the engine started here (repeatable)",
			"  --engine-log FILE   write the whole output of the engine started here to FILE",
			"  --connections N     HTTP keep-alive sockets (default 64)",
			"  --report FILE       JSON report path (default loadtest/reports/<scenario>-<time>.json); the HTML report goes beside it",
			"  --compare FILE      an earlier run's JSON report: both side by side, in the terminal and the HTML",
			`  --p95-STEP T, --p99-STEP T   fail the run when the step's p95 / p99 is not under T (500ms, 1s); STEP: ${THRESHOLD_STEPS.join(", ")}`,
			"  --sellout T         fail the run unless the drop sold out within T of the opening (60s)",
			"  --quiet             no live progress line",
			"",
			"scenarios (--scenario, default spike):",
			...Object.entries(SCENARIOS).map(([name, s]) => `  ${name.padEnd(8)} ${s.about}`),
			"  attack   the hostile fans of loadtest/attack.js on a drop of their own",
			"",
			"knobs (flag or environment variable, defaults in brackets):",
			...Object.entries(DEFAULTS).map(([k, v]) => `  --${kebab(k)} / ${k.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase()}  [${DEFAULT_NOTES[k] ?? v}]`),
			"",
		].join("\n"),
	);
	process.exit(0);
}

const knobs = knobsFrom({ ...process.env, ...Object.fromEntries(Object.keys(DEFAULTS).flatMap((k) => (flags[kebab(k)] === undefined ? [] : [[k, flags[kebab(k)]]]))) });
// Interactive shells keep the terminal's height in LINES, and some export it.
if (flags.lines === undefined && process.env.LINES !== undefined && process.stdout.isTTY && Number(process.env.LINES) === process.stdout.rows) {
	process.stderr.write(`loadtest: LINES=${process.env.LINES} from the environment looks like the terminal's height; pass --lines to be sure\n`);
}
let dropScenario = null;
if (flags.scenario !== "attack" && flags.scenario !== "presale") {
	try {
		dropScenario = scenarioNamed(flags.scenario);
	} catch (err) {
		fail(err.message);
	}
}
const scenario = dropScenario ? dropScenario.name : flags.scenario;
// The seated scenario (lib/seated.js) runs the drop's journey on a drop of seats: its tickets are its seats.
const seated = dropScenario !== null && dropScenario.seated;
// The returns scenario (lib/returns.js): fans stay in line after the sell-out; the promoter refunds some orders with restock.
const returns = dropScenario !== null && dropScenario.returns;
if (returns && knobs.cancelAfterSold > 0) fail("--scenario returns and --cancel-after-sold do not go together");
if (seated) knobs.tickets = seatCount(knobs);
let thresholds = [];
try {
	thresholds = thresholdSpecs(flags);
} catch (err) {
	fail(err.message);
}
if (knobs.cancelAfterSold > 0 && (!dropScenario || knobs.cancelAfterSold >= knobs.tickets)) fail("--cancel-after-sold takes a drop scenario and fewer tickets than --tickets");
if (!dropScenario && (thresholds.length > 0 || flags.compare)) fail("thresholds and --compare apply to a drop (spike, ramp, soak, bots), not to --scenario attack");
const baseline = flags.compare ? readBaseline(flags.compare) : null;

function readBaseline(file) {
	try {
		return JSON.parse(readFileSync(file, "utf8"));
	} catch (err) {
		fail(`--compare ${file}: ${err.message}`);
	}
}

function fail(message) {
	process.stderr.write(`loadtest: ${message}\n`);
	process.exit(2);
}

const log = (line) => process.stderr.write(`[loadtest] ${line}\n`);

let engine = null;
/** The engine's workerd restarts while this run lasts (watchRestarts), when the engine is the one started here. */
let runtimeWatch = null;
/** The gate's credential for --scan-tickets: GATE_TOKEN, or one made for the engine started here. */
let gateToken = null;
let stopping = false;
async function shutdown(code) {
	if (stopping) return;
	stopping = true;
	if (engine) await engine.stop().catch(() => {});
	process.exit(code);
}
process.on("SIGINT", () => void shutdown(130));
process.on("SIGTERM", () => void shutdown(143));

try {
	let baseUrl = flags["base-url"]?.replace(/\/+$/, "");
	let adminToken = flags["admin-token"] ?? adminTokenFromEnv();
	gateToken = process.env.GATE_TOKEN ?? null;
	if (!baseUrl) {
		const vars = {};
		for (const v of flags.var ?? []) {
			const i = v.indexOf("=");
			if (i < 1) fail(`--var wants NAME=VALUE, got ${v}`);
			vars[v.slice(0, i)] = v.slice(i + 1);
		}
		// The gate check after the run (--scan-tickets) scans with a gate credential of its own.
		if (knobs.scanTickets > 0 && vars.GATE_TOKEN === undefined) vars.GATE_TOKEN = randomBytes(24).toString("base64url");
		gateToken = vars.GATE_TOKEN ?? null;
		// The attack checks a genuinely expired access token; a short lifetime keeps that quick.
		if (scenario === "attack" && vars.ACCESS_TOKEN_SECONDS === undefined) vars.ACCESS_TOKEN_SECONDS = "60";
		engine = await startEngine({ port: Number(flags.port), vars, log, logFile: flags["engine-log"] });
		runtimeWatch = watchRestarts(engine.pid);
		baseUrl = engine.baseUrl;
		adminToken = engine.adminToken;
	}
	if (!adminToken) fail("no admin token: pass --admin-token or set ADMIN_TOKEN");
	const { report, failures } = dropScenario ? await runDrop(baseUrl, adminToken) : scenario === "presale" ? await runPresale(baseUrl, adminToken) : await runAttack(baseUrl, adminToken);
	const file = flags.report ?? join(ROOT, "loadtest", "reports", `${scenario}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
	mkdirSync(join(file, ".."), { recursive: true });
	writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
	process.stdout.write(`\n  report: ${file}\n`);
	if (dropScenario) {
		const { html, text } = compareWith(report, baseline, flags.compare);
		if (text) process.stdout.write(`\n${text}\n`);
		writeFileSync(htmlPathFor(file), html);
		process.stdout.write(`\n  html report: ${htmlPathFor(file)}\n`);
	}
	const missed = (report.thresholds ?? []).filter((t) => !t.ok);
	for (const t of report.thresholds ?? []) process.stdout.write(`  ${t.ok ? "✓" : "✗"} threshold ${t.label}: ${t.value === null ? "no value" : formatMs(t.value)}\n`);
	if (failures.length > 0 || missed.length > 0) {
		if (failures.length > 0) process.stdout.write(`\n  FAILED: ${failures.length} broken invariant(s)\n${failures.map((f) => `    ✗ ${f}\n`).join("")}\n`);
		if (missed.length > 0) process.stdout.write(`\n  FAILED: ${missed.length} threshold(s) missed\n${missed.map((t) => `    ✗ ${t.label}\n`).join("")}\n`);
		await shutdown(1);
	} else {
		process.stdout.write(`\n  PASSED: no invariant broken${thresholds.length > 0 ? ", every threshold met" : ""}\n\n`);
		await shutdown(0);
	}
} catch (err) {
	process.stderr.write(`loadtest: ${err?.stack ?? err}\n`);
	if (engine) process.stderr.write(`--- engine output (tail) ---\n${engine.output().slice(-4000)}\n`);
	await shutdown(2);
}

async function runDrop(baseUrl, adminToken) {
	const cfg = { baseUrl, adminToken };
	const tally = { joined: 0, admitted: 0, held: 0, sold: 0, tickets: 0, errors: 0, declined: 0, abandoned: 0, cancelled: 0, transportRetries: 0, bots: 0, breaches: 0 };
	// --cancel-after-sold: the cancel starts from the fans' 201 that reaches the count, and runs beside them.
	const purchases = [];
	let cancelling = null;
	let startCancel = () => {};
	const breachSamples = [];
	const createdAt = Date.now();
	const timeline = createTimeline({
		originMs: createdAt,
		openAtS: knobs.leadSeconds,
		bucketSeconds: knobs.bucketSeconds,
		buckets: timelineBuckets(knobs, dropScenario.arrivalSeconds(knobs), knobs.bucketSeconds, knobs.tailSeconds),
		pace: { batchSize: knobs.batchSize, intervalMs: knobs.intervalMs, activeMultiple: knobs.activeMultiple },
	});
	// The series cover the drop while the fans run: not its creation, not the drain and audits after.
	let charting = false;
	const recorder = new Recorder();
	const record = recorder.add.bind(recorder);
	recorder.add = (step, ms, status) => {
		record(step, ms, status);
		if (charting) timeline.answer(step, Date.now(), ms, status);
	};
	const retrySamples = [];
	const orders = new Set();
	const sales = [];
	/** [expiresAt ms, tickets] of each hold a fan walked away from. */
	const lapses = [];
	const errorSamples = [];
	let firstSaleAt = null;
	let lastSaleAt = null;
	const checks = { passed: 0, failed: 0, failedByName: {} };
	const client = createHttpClient({
		baseUrl,
		connections: Number(flags.connections),
		recorder,
		hooks: {
			check(name, ok) {
				if (ok) checks.passed++;
				else {
					checks.failed++;
					checks.failedByName[name] = (checks.failedByName[name] ?? 0) + 1;
				}
			},
			event(name, d) {
				if (name === "arrived") timeline.event("arrived", Date.now());
				else if (name === "joined") timeline.event("joined", Date.now());
				else if (name === "admitted") timeline.event("admitted", Date.now());
				else if (name === "held") timeline.event("held", Date.now());
				else if (name === "sold") timeline.event("sold", d.at, d.quantity);
				if (name === "joined") tally.joined++;
				else if (name === "admitted") tally.admitted++;
				else if (name === "held") tally.held++;
				else if (name === "declined") tally.declined++;
				else if (name === "abandoned") {
					tally.abandoned++;
					// A hold walked away from keeps its tickets until it runs out: the sell-out's last wait.
					const expires = Date.parse(d.expiresAt ?? "");
					if (d.walkedAway && Number.isFinite(expires)) lapses.push([expires, d.quantity]);
				}
				else if (name === "cancelled") tally.cancelled++;
				else if (name === "sold") {
					tally.sold++;
					tally.tickets += d.quantity;
					orders.add(d.orderId);
					sales.push([d.at, d.quantity]);
					purchases.push({ orderId: d.orderId, answeredAt: d.at });
					firstSaleAt ??= d.at;
					lastSaleAt = d.at;
					if (knobs.cancelAfterSold > 0 && tally.tickets >= knobs.cancelAfterSold) startCancel();
				} else if (name === "retry") {
					tally.transportRetries++;
					if (retrySamples.length < 5) retrySamples.push(d);
				} else if (name === "error") {
					tally.errors++;
					if (errorSamples.length < 20) errorSamples.push(d);
				} else if (name === "breach") {
					tally.breaches++;
					if (breachSamples.length < 20) breachSamples.push(d);
				}
			},
		},
	});
	const plainBody = dropBody(knobs, createdAt);
	// After the sell-out an offer of a returned ticket lasts offerSeconds (a minute by default here: the run stays short).
	if (returns) plainBody.admission = { ...plainBody.admission, offerSeconds: knobs.offerSeconds };
	const body = seated ? seatedDropBody(plainBody, knobs) : plainBody;
	const drop = await runAsync(createDrop(client, cfg, body), client);
	const opensAt = Date.parse(drop.opensAt);
	// A drop cancelled mid-sale never sells out.
	const expectSoldOut = knobs.cancelAfterSold === 0 && demandExceedsSupply(knobs);
	startCancel = () => {
		if (cancelling !== null) return;
		log(`${tally.tickets} tickets sold: cancelling the drop (the fans keep going)`);
		cancelling = runAsync(cancelDrop(client, cfg, drop.id, 60_000), client).then(
			(c) => {
				log(`drop cancelled at ${c.cancelledAt} (answered after ${c.answeredAt === null ? "-" : c.answeredAt - c.sentAt} ms); ${c.refundedOrders} order(s) refunded in ${c.calls} call(s), ${c.ordersLeft} left`);
				return c;
			},
			(err) => ({ error: String(err) }),
		);
	};
	log(
		`drop ${drop.id}: ${knobs.tickets} tickets over ${drop.shards} shard(s) and ${drop.lines} line(s), ${knobs.fans} fans, opens in ${knobs.leadSeconds}s; ` +
			`demand ${expectSoldOut ? "exceeds" : "may not exceed"} supply`,
	);

	const started = Date.now();
	const progress = startProgress(() => {
		const s = (Date.now() - started) / 1000;
		return (
			`t+${s.toFixed(0).padStart(3)}s  joined ${tally.joined}/${knobs.fans}  admitted ${tally.admitted}  ` +
			`sold ${tally.tickets}/${knobs.tickets} (${tally.sold} orders)  errors ${tally.errors} (+${tally.transportRetries} retried)  ` +
			`req ${client.recorder.requests} (${(client.recorder.requests / Math.max(s, 0.001)).toFixed(0)}/s)`
		);
	});
	charting = true;
	const observer = observeDrop(client, baseUrl, drop.id, timeline, knobs.bucketSeconds * 1000);
	// The promoter's side of the returns scenario, beside the fans: refunds after the sell-out, then the close.
	const returning = returns
		? runAsync(returnTickets(client, cfg, drop.id, knobs, (knobs.leadSeconds + knobs.spreadSeconds + knobs.fanTimeoutSeconds) * 1000), client).then(
				(r) => {
					log(`returns: ${r.refundedOrders} of ${r.orders} order(s) refunded with restock (${r.refundedTickets} ticket(s)), ${r.listedOrders} listed for resale (${r.listedTickets} ticket(s)); ${r.resoldAt === null ? "not all sold again" : "all sold again"}; drop ${r.closedAt === null ? "not closed" : "closed"}`);
					return r;
				},
				(err) => ({ error: String(err), refundedTickets: 0, refundedOrders: 0, listedOrders: 0, listedTickets: 0, resales: null, refundedAt: null, resoldAt: null, timedOut: false }),
			)
		: null;
	const results = await Promise.all(
		Array.from({ length: knobs.fans }, (_, i) => {
			const plan = fanPlan(dropScenario, i, knobs, createdAt);
			if (plan.bot) tally.bots++;
			return runAsync(
				(returns ? returnsFan : fanJourney)(client, {
					baseUrl,
					dropId: drop.id,
					fanId: `lt${createdAt.toString(36)}-${i}`,
					index: i,
					knobs,
					startAt: plan.startAt,
					probes: plan.probes,
					waitForReturns: returns,
					...(seated ? { holdBody: seatedHoldBody(i) } : {}),
				}),
				client,
			).catch((err) => ({ outcome: "error", error: String(err) }));
		}),
	);
	const fansDoneAt = Date.now();
	await observer.stop();
	charting = false;
	progress.stop();
	log(`all fans done after ${((fansDoneAt - started) / 1000).toFixed(1)}s; waiting for the Queue to drain and holds to settle`);
	const drained = await runAsync(waitForDrain(client, cfg, drop.id, knobs.drainSeconds * 1000), client);
	// Sales still missing from D1 are not called lost before the reconcile a deployment's cron runs has had its turn.
	const { audit, ...recovery } = await runAsync(recoverMissing(client, cfg, drop.id, drained, knobs.reconcileSeconds * 1000), client);
	if (recovery.ran) log(`recovery: ${recoveryText(recovery)}`);
	const cancel = knobs.cancelAfterSold > 0 ? await checkCancel(client, cfg, drop.id, { cancelling, purchases, sold: tally.tickets }) : null;
	const byFan = await runAsync(ticketsByFan(client, cfg, drop.id), client);
	const returned = returning ? await returning : null;
	const failures = auditFailures(audit, {
		expectSoldOut,
		maxPerFan: knobs.maxPerFan,
		maxPerFanLoad: knobs.maxPerFanLoad,
		byFan,
		clientOrders: orders.size,
		// Refunded or listed tickets were sold to a fan, put back on sale (auditFailures adds them to the shards' sold) and sold again.
		clientTickets: tally.tickets,
		recovery,
	});
	// Null with --base-url: an engine not started here is not watched.
	const engineRestarts = runtimeWatch === null ? null : restartsSince(runtimeWatch.restarts(), createdAt);
	const restarted = engineRestarts === null ? null : restartFailure(engineRestarts);
	if (restarted) failures.push(restarted);
	const returnsCheck = returned ? returnsVerdict({ results, audit, phase: returned }) : null;
	if (returnsCheck) {
		failures.push(...returnsCheck.failures);
		log(`returns: ${returnsText(returnsCheck)}`);
	}
	if (knobs.lines > 0 && drop.lines !== knobs.lines) failures.push(`the drop was created with ${drop.lines} line(s); asked for ${knobs.lines}`);
	const ticketing = await checkTicketed(client, cfg, drop.id, knobs.drainSeconds * 1000);
	failures.push(...ticketing.failures);
	if (cancel) failures.push(...cancel.failures);
	if (seated) failures.push(...seatedFailures(audit).map((f) => `seated: ${f}`));
	const fairnessData = await runAsync(readFairness(client, cfg, drop.id), client);
	const fairness = checkFairness(fairnessData, results, {
		sha256Hex: (text) => createHash("sha256").update(text, "utf8").digest("hex"),
		publishedCommitment: drop.seedCommitment,
		admission: audit.admission,
	});
	failures.push(...fairness.failures.map((f) => `fairness: ${f}`));
	if (tally.errors > 0) failures.push(`unexpected answers: ${tally.errors} (first: ${JSON.stringify(errorSamples[0])})`);
	const stopped = results.filter((r) => r.outcome === "error").length;
	if (stopped > 0) failures.push(`${stopped} fan(s) stopped on an error they could not get past`);
	if (tally.breaches > 0) failures.push(`bots: ${tally.breaches} hostile request(s) not refused as the contract says (first: ${JSON.stringify(breachSamples[0])})`);
	const unanswered = unansweredFailure(client.recorder.unanswered, client.timeoutMs / 1000);
	if (unanswered) failures.push(unanswered);
	const saleToTicket = saleToTicketStats(results, knobs.ticketDeadlineSeconds);
	const ticketMiss = saleToTicketFailure(saleToTicket);
	if (ticketMiss) failures.push(ticketMiss);
	log(`sale to ticket: ${saleToTicketText(saleToTicket)}`);
	const waitEstimate = waitEstimateStats(results);
	log(`wait estimate: ${waitEstimateText(waitEstimate)}`);
	// The promoter's figures, read as the promoter page reads them, timed: one read's cost.
	const queueReadAt = Date.now();
	const queue = await runAsync(readQueueStats(client, cfg, drop.id), client);
	queue.readMs = Date.now() - queueReadAt;
	log(`queue: ${queueStatsText(queue)} (read in ${queue.readMs} ms)`);
	if (knobs.scanTickets > 0) {
		saleToTicket.scan = await scanAtGate(client, baseUrl, drop.id, results, knobs.scanTickets);
		failures.push(...saleToTicket.scan.failures);
	}

	const outcomes = {};
	for (const r of results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
	const elapsedS = (fansDoneAt - started) / 1000;
	const steps = client.recorder.summary();
	const soldOut = audit.totals.sold === audit.capacity;
	const report = {
		scenario,
		at: new Date(started).toISOString(),
		baseUrl,
		knobs,
		drop: { id: drop.id, shards: drop.shards, lines: drop.lines, opensAt: drop.opensAt, seedCommitment: drop.seedCommitment },
		expectSoldOut,
		durationSeconds: elapsedS,
		requests: client.recorder.requests,
		requestsPerSecond: client.recorder.requests / elapsedS,
		steps,
		clientPoolWait: latencyStats(client.recorder.poolWait),
		unanswered: client.recorder.unanswered,
		requestTimeoutSeconds: client.timeoutMs / 1000,
		outcomes,
		tally,
		checks,
		timeToSellOutSeconds: soldOut && lastSaleAt ? (lastSaleAt - opensAt) / 1000 : null,
		soldAfterOpenSeconds: milestones(sales, knobs.tickets, opensAt),
		sellout: selloutStats({ sales, lapses, opensAt, capacity: knobs.tickets, holdSeconds: knobs.holdSeconds }),
		saleToTicket,
		waitEstimate,
		queue,
		firstSaleAfterOpenSeconds: firstSaleAt ? (firstSaleAt - opensAt) / 1000 : null,
		load: { ...audit.load, byKind: loadSummary(audit.load) },
		fairness: {
			seed: fairnessData.seed,
			seedCommitment: fairnessData.seedCommitment,
			algorithm: fairnessData.algorithm,
			lines: fairnessData.lines,
			prequeue: fairnessData.prequeue,
			prequeueSize: fairnessData.prequeueSize,
			lastPosition: fairnessData.lastPosition,
			fcfsBoundMs: FCFS_BOUND_MS,
			// How long after their join answer later fans were first told a position (polling as told).
			laterPlacedAfterMs: latencyStats(
				results.filter((r) => r.prequeuePlace === null && r.positionAt != null && r.joinAnsweredAt != null).map((r) => r.positionAt - r.joinAnsweredAt),
			),
			...fairness.stats,
			broken: fairness.broken,
			faults: fairness.faults,
			failures: fairness.failures,
		},
		audit: { ...audit, shards: audit.shards },
		recovery,
		engineRestarts,
		ticketing,
		cancel,
		returns: returnsCheck,
		failures,
		errorSamples,
		retrySamples,
		breachSamples,
		timeline: timeline.result(),
		thresholdSpecs: thresholds,
	};
	report.thresholds = checkThresholds(thresholds, report);
	printDropSummary(report);
	client.close();
	return { report, failures };
}

/**
 * After the sale (issue 15): waits up to the drain time for every order in D1 to
 * reach `ticketed` (its Workflow issued the tickets) and says so; a sale that
 * never does is a failure.
 */
async function checkTicketed(client, cfg, dropId, drainMs) {
	if (workflowsOff()) {
		const seen = await runAsync(orderStatuses(client, cfg, dropId), client);
		log(
			`orders ticketed: NOT CHECKED: this engine runs with ORDER_WORKFLOWS=off (a size-only rehearsal: no post-sale Workflow, ` +
				`orders stay paid): ${seen.orders} orders ${JSON.stringify(seen.byStatus)}`,
		);
		return { ...seen, checked: false, failures: [] };
	}
	const ticketing = await runAsync(waitForTicketed(client, cfg, dropId, drainMs), client);
	log(`orders ticketed: ${ticketing.ticketed}/${ticketing.orders} ${JSON.stringify(ticketing.byStatus)}`);
	const noMem = engine?.sqliteNoMem() ?? 0;
	if (noMem > 0) {
		const why =
			`the local Workflow engine ran out of SQLite memory (SQLITE_NOMEM ${noMem} time(s) in the engine's output) with ${ticketing.orders} orders: ` +
			"wrangler dev keeps every Workflow instance as a Durable Object with its own SQLite database, never evicted, in the one workerd, " +
			"so a local run takes only so many orders (a limit of local runs, not of Cloudflare). For a size-only run, add --var ORDER_WORKFLOWS=off " +
			"(docs/load-testing.md, 'After the sale, locally')";
		log(why);
		ticketing.failures.push(why);
	}
	return { ...ticketing, checked: true };
}

/**
 * After a run that cancelled its drop (--cancel-after-sold) and drained: what the
 * engine refunded by itself, then the promoter's cancel called again for the
 * sales that were on their way to D1 at the cancel, then the sales, the refunds
 * and the audit, judged by cancelVerdict (lib/cancel.js).
 */
async function checkCancel(client, cfg, dropId, { cancelling, purchases, sold }) {
	if (cancelling === null) {
		return { ok: false, failures: [`cancel: never made: the fans were sold ${sold} ticket(s), fewer than --cancel-after-sold ${knobs.cancelAfterSold}`], stats: null };
	}
	const at = await cancelling;
	if (at.error) return { ok: false, failures: [`cancel: ${at.error}`], stats: null };
	const salesBeforeSweep = await runAsync(readSales(client, cfg, dropId), client);
	const sweep = await runAsync(cancelDrop(client, cfg, dropId, knobs.drainSeconds * 1000), client);
	const sales = await runAsync(readSales(client, cfg, dropId), client);
	const refunds = await runAsync(readRefunds(client, cfg, dropId), client);
	const audit = await runAsync(readAudit(client, cfg, dropId, 30), client);
	const verdict = cancelVerdict({ cancel: at, sweep, salesBeforeSweep, sales, refunds, purchases, audit });
	log(`cancel: ${cancelText(verdict)}`);
	return {
		...verdict,
		at: { sentAt: at.sentAt, answeredAt: at.answeredAt, cancelledAt: at.cancelledAt, calls: at.calls, refundedOrders: at.refundedOrders, ordersLeft: at.ordersLeft, left: at.left },
		sweep: { calls: sweep.calls, refundedOrders: sweep.refundedOrders, ordersLeft: sweep.ordersLeft, left: sweep.left },
		audit: { ok: audit.ok, refundsPending: audit.refundsPending, refundsFailed: audit.refundsFailed, holdsChargedTwice: audit.holdsChargedTwice, refunds: audit.refunds },
	};
}

/**
 * --scan-tickets N: after the run, N of the tokens the fans were given are
 * scanned at the gate (POST /api/admin/drops/:id/scan with the gate's
 * credential), each once: the gate must admit every one. Scanning marks a
 * ticket used, so this runs only on request and only once the fans are done.
 */
async function scanAtGate(client, baseUrl, dropId, results, count) {
	const tokens = results.filter((r) => r.ticket === "ticketed" && typeof r.ticketToken === "string").map((r) => r.ticketToken).slice(0, count);
	const out = { asked: count, scanned: tokens.length, admitted: 0, failures: [] };
	if (!gateToken) {
		out.failures.push("scan: no gate credential: set GATE_TOKEN (the engine's) to scan with --base-url");
		return out;
	}
	const refused = [];
	for (const ticket of tokens) {
		const res = await client.request({
			kind: "request",
			method: "POST",
			url: `${baseUrl}/api/admin/drops/${dropId}/scan`,
			headers: { authorization: `Bearer ${gateToken}`, "content-type": "application/json" },
			body: JSON.stringify({ ticket }),
			step: "scan",
		});
		const body = res.status === 200 ? JSON.parse(res.body) : null;
		if (body?.admitted === true) out.admitted++;
		else if (refused.length < 3) refused.push(`${res.status} ${String(res.body).slice(0, 120)}`);
	}
	if (tokens.length < count) out.failures.push(`scan: asked to scan ${count} ticket(s), the fans were given ${tokens.length}`);
	if (out.admitted < tokens.length) out.failures.push(`scan: the gate admitted ${out.admitted} of ${tokens.length} ticket(s) the fans were given (${refused.join("; ")})`);
	log(`scan: the gate admitted ${out.admitted} of ${tokens.length} ticket(s) the fans were given`);
	return out;
}

/** The engine started here has its post-sale Workflows off (--var ORDER_WORKFLOWS=off): the ticketed check cannot apply. */
function workflowsOff() {
	return engine !== null && (flags.var ?? []).includes("ORDER_WORKFLOWS=off");
}

/** The checks' tally, by name, the way runAttack and runPresale count them. */
function checkTally() {
	const checks = { passed: 0, failed: 0, failedByName: {}, byName: {} };
	const check = (name, ok, detail) => {
		const mine = (checks.byName[name] ??= { passed: 0, failed: 0 });
		if (ok) mine.passed++;
		else mine.failed++;
		if (ok) checks.passed++;
		else {
			checks.failed++;
			checks.failedByName[name] = (checks.failedByName[name] ?? 0) + 1;
			if (checks.failed <= 10) log(`check failed: ${name} ${detail ? JSON.stringify(detail) : ""}`);
		}
	};
	return { checks, check };
}

/**
 * A presale's rules under load (lib/presale.js, lib/presale-draw.js): the code window's fans
 * all at once; beside them the registered window's fans register and verify, the promoter
 * draws at the registration's close, and each registered fan acts on its draw mail; then the verdict.
 */
async function runPresale(baseUrl, adminToken) {
	const cfg = { baseUrl, adminToken };
	const { checks, check } = checkTally();
	const client = createHttpClient({ baseUrl, connections: Number(flags.connections), hooks: { check } });
	const plan = presalePlan(knobs);
	log(`presale: ${plan.unique} unique codes (${plan.reusers} reused by bots), a shared code capped at ${plan.sharedCap} tried by ${plan.sharedFans}, ${plan.bots} bots × ${plan.guessesPerBot} guesses; the window sells at most ${plan.windowCapacity}`);
	const draw = plan.draw;
	if (draw) log(`registered window: ${draw.registered} register over ${draw.registrationSeconds}s, the draw invites ${draw.invites}, the window sells at most ${draw.capacity}`);
	const started = Date.now();
	const setup = await runAsync(preparePresale(client, cfg, plan), client);
	const codeFans = Promise.all(Array.from({ length: plan.total }, (_, i) => runAsync(presaleFan(client, cfg, setup, i), client)));
	let drawn = null;
	let registeredTotals = null;
	const phases = {};
	if (draw) {
		// Registrations arrive over the registration's time, a socket's share at once: all at once they would
		// queue every code fan's hold and purchase behind thousands of them in the one socket pool (the first
		// run here: 88 code-window purchases refused token_expired after waiting for a socket).
		const registrations = await atMost(Math.max(1, Math.floor(Number(flags.connections) / 2)), draw.registered, (i) => runAsync(registrant(client, cfg, setup, i, send), client));
		phases.registeredSeconds = (Date.now() - started) / 1000;
		log(`registered: ${registrations.filter((r) => r.verified).length} of ${draw.registered} verified in ${phases.registeredSeconds.toFixed(1)}s; the draw at ${setup.drawnWindow.registration.closesAt}`);
		drawn = await runAsync(promoterDraw(client, cfg, setup), client);
		phases.toldSeconds = (Date.now() - started) / 1000;
		log(`drawn: ${drawn.made.drawn} of ${drawn.made.registered}; ${drawn.cronRuns} cron run(s) told the rest by ${phases.toldSeconds.toFixed(1)}s`);
		const admit = windowAdmit(client, cfg, setup);
		const fans = await Promise.all(Array.from({ length: draw.registered }, (_, i) => runAsync(drawnFan(client, cfg, setup, i, send, admit), client)));
		phases.drawnFansSeconds = (Date.now() - started) / 1000;
		registeredTotals = drawTotals(registrations, fans);
	}
	const results = await codeFans;
	const totals = { ...presaleTotals(results), draw: registeredTotals };
	const sha256Hex = (text) => createHash("sha256").update(text, "utf8").digest("hex");
	const verdict = await runAsync(presaleVerdict(client, cfg, setup, totals, plan.drainSeconds * 1000, { made: drawn ? drawn.made : null, sha256Hex }), client);
	const failures = [...verdict.failures];
	if (checks.failed > 0) failures.push(`${checks.failed} check(s) failed: ${JSON.stringify(checks.failedByName)}`);
	const unanswered = unansweredFailure(client.recorder.unanswered, client.timeoutMs / 1000);
	if (unanswered) failures.push(unanswered);
	const elapsedS = (Date.now() - started) / 1000;
	const { codes: _codes, sharedCode: _shared, ...kept } = setup;
	const { invitedIds: _ids, ...drawKept } = registeredTotals ?? {};
	const report = {
		scenario: "presale",
		at: new Date(started).toISOString(),
		baseUrl,
		plan,
		setup: kept,
		durationSeconds: elapsedS,
		phases,
		requests: client.recorder.requests,
		steps: client.recorder.summary(),
		unanswered: client.recorder.unanswered,
		requestTimeoutSeconds: client.timeoutMs / 1000,
		checks,
		totals: { ...totals, draw: registeredTotals ? drawKept : null },
		window: verdict.window,
		drawnWindow: verdict.drawnWindow,
		draw: drawn ? { made: drawn.made, cronRuns: drawn.cronRuns, seedCommitment: verdict.draw?.seedCommitment ?? null, seed: verdict.draw?.seed ?? null } : null,
		groupsUsed: verdict.used,
		audit: verdict.audit,
		failures,
	};
	const w = verdict.window ?? { sold: "-", held: "-" };
	process.stdout.write(`\n  presale scenario: ${plan.total} fans${draw ? ` and ${draw.registered} registered` : ""} on ${setup.dropId}\n`);
	process.stdout.write(`  checks.................: ${checks.passed} passed, ${checks.failed} failed\n`);
	for (const [name, n] of Object.entries(checks.failedByName)) process.stdout.write(`    ✗ ${name}: ${n}\n`);
	process.stdout.write(`  unique codes...........: ${totals.uniqueAccepts} fans let in for ${plan.unique} codes (${plan.reusers} raced by a second fan)\n`);
	process.stdout.write(`  shared code............: ${totals.sharedAccepts} let in of ${plan.sharedFans} who tried, cap ${plan.sharedCap}\n`);
	process.stdout.write(`  guessed codes..........: ${totals.guesses} tried, ${totals.guessAccepts} let in\n`);
	process.stdout.write(`  window.................: ${w.sold} sold, ${w.held} held, capacity ${plan.windowCapacity}; ${totals.windowSoldOut} hold(s) refused window_sold_out\n`);
	if (registeredTotals) {
		const t = registeredTotals;
		const d = verdict.drawnWindow ?? { sold: "-", held: "-" };
		const pub = verdict.draw ?? {};
		process.stdout.write(`  registrations..........: ${t.verified} of ${t.registered} verified; ${t.refusals.verification_invalid ?? 0} wrong code(s) refused, ${t.wrongAccepted} accepted; ${t.earlyMails} second code mail(s) within the minute, ${t.renewedMails} renewed after it\n`);
		process.stdout.write(`  draw...................: ${pub.drawn} of ${pub.registered} invited (asked ${draw.invites}), re-derived from the public answer: ${verdict.failures.some((f) => f.startsWith("the draw does not verify")) ? "NO" : "yes"}; ${drawn.cronRuns} local cron run(s)\n`);
		process.stdout.write(`  draw mail..............: ${t.told} told, ${t.untold} untold; ${t.invitedMails} code(s) mailed\n`);
		process.stdout.write(`  invited codes..........: ${t.accepted} let in of ${t.invitedMails}; ${t.friendAccepts} handed-on code(s) let in a friend (${t.refusals.code_used ?? 0} refused code_used)\n`);
		process.stdout.write(`  fans not drawn.........: ${t.strangerTries} tried the window, ${t.strangerAccepts} let in (${t.refusals.code_required ?? 0} code_required, ${t.refusals.code_invalid ?? 0} code_invalid)\n`);
		process.stdout.write(`  drawn window...........: ${d.sold} sold, ${d.held} held, capacity ${draw.capacity}; ${t.windowSoldOut} hold(s) refused window_sold_out, ${t.notAdmitted} never admitted\n`);
	}
	process.stdout.write(`  refusals...............: ${JSON.stringify(totals.refusals)}; ${totals.retries + (registeredTotals?.retries ?? 0)} request(s) sent again after a dropped connection\n`);
	process.stdout.write(`  requests...............: ${client.recorder.requests} in ${elapsedS.toFixed(1)}s\n`);
	process.stdout.write(`  unanswered.............: ${unansweredText(client.recorder.unanswered)} (no answer within ${client.timeoutMs / 1000} s)\n`);
	client.close();
	return { report, failures };
}

/** run(0..count-1), at most `limit` at a time; the answers in order. */
async function atMost(limit, count, run) {
	const out = new Array(count);
	let next = 0;
	await Promise.all(
		Array.from({ length: Math.min(limit, count) }, async () => {
			while (next < count) {
				const i = next++;
				out[i] = await run(i);
			}
		}),
	);
	return out;
}

async function runAttack(baseUrl, adminToken) {
	const cfg = { baseUrl, adminToken };
	const checks = { passed: 0, failed: 0, failedByName: {}, byName: {} };
	const client = createHttpClient({
		baseUrl,
		connections: Number(flags.connections),
		hooks: {
			check(name, ok, detail) {
				const mine = (checks.byName[name] ??= { passed: 0, failed: 0 });
				if (ok) mine.passed++;
				else mine.failed++;
				if (ok) checks.passed++;
				else {
					checks.failed++;
					checks.failedByName[name] = (checks.failedByName[name] ?? 0) + 1;
					if (checks.failed <= 10) log(`check failed: ${name} ${detail ? JSON.stringify(detail) : ""}`);
				}
			},
		},
	});
	const plan = attackPlan(knobs);
	log(`attack: ${plan.attackers} hostile fans, maxPerFan ${plan.maxPerFan}, ${plan.capacity} tickets`);
	const started = Date.now();
	const setup = await runAsync(prepareAttack(client, cfg, plan), client);
	const results = await Promise.all(Array.from({ length: plan.attackers }, (_, i) => runAsync(attacker(client, cfg, setup, i), client)));
	const verdict = await runAsync(attackVerdict(client, cfg, setup, plan.drainSeconds * 1000), client);
	const failures = [...verdict.failures];
	if (checks.failed > 0) failures.push(`${checks.failed} check(s) failed: ${JSON.stringify(checks.failedByName)}`);
	const unanswered = unansweredFailure(client.recorder.unanswered, client.timeoutMs / 1000);
	if (unanswered) failures.push(unanswered);
	const elapsedS = (Date.now() - started) / 1000;
	const report = {
		scenario: "attack",
		at: new Date(started).toISOString(),
		baseUrl,
		plan,
		durationSeconds: elapsedS,
		requests: client.recorder.requests,
		steps: client.recorder.summary(),
		unanswered: client.recorder.unanswered,
		requestTimeoutSeconds: client.timeoutMs / 1000,
		checks,
		results,
		audit: verdict.audit,
		otherDropAudit: verdict.otherAudit,
		failures,
	};
	process.stdout.write(`\n  attack scenario: ${plan.attackers} hostile fans on ${setup.dropId} (and ${setup.otherDropId})\n`);
	process.stdout.write(`  checks.................: ${checks.passed} passed, ${checks.failed} failed\n`);
	for (const [name, n] of Object.entries(checks.failedByName)) process.stdout.write(`    ✗ ${name}: ${n}\n`);
	process.stdout.write(
		`  sold...................: ${verdict.audit.totals.sold} (expected exactly ${verdict.expectedSold}), other drop ${verdict.otherAudit.totals.sold}\n`,
	);
	process.stdout.write(`  requests...............: ${client.recorder.requests} in ${elapsedS.toFixed(1)}s\n`);
	process.stdout.write(`  unanswered.............: ${unansweredText(client.recorder.unanswered)} (no answer within ${client.timeoutMs / 1000} s)\n`);
	client.close();
	return { report, failures };
}

/**
 * Reads the pacer's watermark and the stock left from the public API once a
 * bucket while the fans run (both answered by the Worker from its copy of the
 * watermark, no object call), for the report's admission and sell-out charts.
 */
function observeDrop(client, baseUrl, dropId, timeline, everyMs) {
	let running = true;
	let wake = () => {};
	const loop = (async () => {
		while (running) {
			const at = Date.now();
			const [fair, view] = await client.batch([
				{ kind: "request", method: "GET", url: `${baseUrl}/api/drops/${dropId}/fairness`, headers: {}, body: null, step: "observe" },
				{ kind: "request", method: "GET", url: `${baseUrl}/api/drops/${dropId}`, headers: {}, body: null, step: "observe" },
			]);
			if (fair.status === 200) {
				const f = JSON.parse(fair.body);
				timeline.observe("watermark", at, f.admittedThrough);
				timeline.observe("placed", at, f.lastPosition);
			}
			if (view.status === 200) timeline.observe("remaining", at, JSON.parse(view.body).remaining);
			const wait = Math.max(0, at + everyMs - Date.now());
			if (running && wait > 0) {
				await new Promise((resolve) => {
					const timer = setTimeout(resolve, wait);
					wake = () => {
						clearTimeout(timer);
						resolve();
					};
				});
			}
		}
	})();
	return {
		async stop() {
			running = false;
			wake();
			await loop;
		},
	};
}

/** Seconds after the opening at which half, 90% and all of the tickets had been sold. */
function milestones(sales, capacity, opensAt) {
	const out = { "50%": null, "90%": null, "100%": null };
	let sold = 0;
	for (const [at, quantity] of sales.slice().sort((a, b) => a[0] - b[0])) {
		sold += quantity;
		for (const [label, share] of [["50%", 0.5], ["90%", 0.9], ["100%", 1]]) {
			if (out[label] === null && sold >= capacity * share) out[label] = Math.round((at - opensAt) / 100) / 10;
		}
	}
	return out;
}

function startProgress(line) {
	if (flags.quiet) return { stop() {} };
	const tty = process.stderr.isTTY;
	let last = 0;
	const timer = setInterval(
		() => {
			if (tty) process.stderr.write(`\r\x1b[2K${line()}`);
			else if (Date.now() - last >= 5000) {
				last = Date.now();
				process.stderr.write(`${line()}\n`);
			}
		},
		tty ? 500 : 1000,
	);
	return {
		stop() {
			clearInterval(timer);
			process.stderr.write(tty ? `\r\x1b[2K${line()}\n` : `${line()}\n`);
		},
	};
}

function fmtMs(x) {
	if (x === null || x === undefined) return "-";
	return x >= 1000 ? `${(x / 1000).toFixed(2)}s` : `${x.toFixed(x < 10 ? 2 : 1)}ms`;
}

function printDropSummary(r) {
	const dots = (label) => `  ${label} `.padEnd(27, ".") + ": ";
	const out = [];
	out.push("");
	out.push(
		`${dots("scenario")}${r.scenario}: ${r.knobs.fans} fans, ${r.knobs.tickets} tickets, ${r.drop.shards} shards, ${r.drop.lines} line${r.drop.lines === 1 ? "" : "s"}, ` +
			`maxPerFan ${r.knobs.maxPerFan} (drop ${r.drop.id})`,
	);
	out.push(`${dots("http_reqs")}${r.requests}  ${r.requestsPerSecond.toFixed(1)}/s over ${r.durationSeconds.toFixed(1)}s`);
	out.push(`${dots("checks")}${r.checks.passed} passed, ${r.checks.failed} failed`);
	out.push("");
	out.push("  step        count      p50      p95      p99      max   statuses");
	for (const [step, s] of Object.entries(r.steps)) {
		const statuses = Object.entries(s.statuses)
			.map(([k, v]) => `${k}:${v}`)
			.join(" ");
		out.push(
			`  ${step.padEnd(10)} ${String(s.count).padStart(6)} ${fmtMs(s.p50).padStart(8)} ${fmtMs(s.p95).padStart(8)} ${fmtMs(s.p99).padStart(8)} ${fmtMs(s.max).padStart(8)}   ${statuses}`,
		);
	}
	const w = r.clientPoolWait;
	out.push(`  (time spent waiting for one of the runner's ${flags.connections} sockets, not counted above: p50 ${fmtMs(w.p50)}, p99 ${fmtMs(w.p99)})`);
	out.push("");
	out.push(`${dots("outcomes")}${Object.entries(r.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")}`);
	out.push(
		`${dots("fans")}joined ${r.tally.joined}, admitted ${r.tally.admitted}, held ${r.tally.held}, declined ${r.tally.declined}, abandoned ${r.tally.abandoned}` +
			(r.cancel ? `, sent home by the cancel ${r.tally.cancelled}` : ""),
	);
	out.push(`${dots("sold")}${r.tally.tickets} tickets in ${r.tally.sold} orders (fans' view)`);
	out.push(`${dots("errors")}${r.tally.errors} unexpected answers; ${r.tally.transportRetries} requests sent again after a dropped connection`);
	out.push(`${dots("unanswered")}${unansweredText(r.unanswered) === "none" ? "✓ none" : `✗ ${unansweredText(r.unanswered)}`} (no answer within ${r.requestTimeoutSeconds} s)`);
	if (r.tally.bots > 0) out.push(`${dots("bots")}${r.tally.bots} hostile fans; ${r.tally.breaches} of their tricks got through`);
	out.push(
		`${dots("time to sell out")}${r.timeToSellOutSeconds === null ? "not sold out" : `${r.timeToSellOutSeconds.toFixed(1)}s after the opening`}` +
			(r.firstSaleAfterOpenSeconds === null ? "" : ` (first sale at +${r.firstSaleAfterOpenSeconds.toFixed(1)}s`) +
			(r.soldAfterOpenSeconds["50%"] === null ? "" : `, half at +${r.soldAfterOpenSeconds["50%"]}s`) +
			(r.soldAfterOpenSeconds["90%"] === null ? "" : `, 90% at +${r.soldAfterOpenSeconds["90%"]}s`) +
			(r.firstSaleAfterOpenSeconds === null ? "" : ")"),
	);
	const waited = selloutText(r);
	if (waited !== null) out.push(`${dots("the last tickets")}${waited}`);
	const a = r.audit;
	const mark = (good) => (good ? "✓" : "✗");
	if (r.scenario === "seated") {
		const n = a.named;
		out.push(
			`${dots("seats")}${mark(n.seatsSoldTwice === 0)} sold twice ${n.seatsSoldTwice}  ${mark(n.seatsRecorded === n.seatsSold)} D1 ${n.seatsRecorded} seats = shards ${n.seatsSold}  ` +
				`${mark(n.types.every((t) => t.consistent && t.oversold === 0))} per type consistent  ${mark(n.noticesPending === 0)} endings delivered`,
		);
	}
	out.push(
		`${dots("audit")}${mark(a.oversold === 0)} oversold ${a.oversold}  ${mark(a.lost === 0)} lost ${a.lost}  ` +
			`${mark(!r.expectSoldOut || a.totals.sold === a.capacity)} sold ${a.totals.sold}/${a.capacity}  ` +
			`${mark(a.recorded === a.totals.orders)} D1 ${a.recorded} orders = shards ${a.totals.orders}  ${mark(a.balanced)} balanced`,
	);
	const recovered = recoveryText(r.recovery);
	if (recovered) out.push(`${dots("recovery")}${mark(r.recovery.stillMissing === 0)} ${recovered}`);
	const restarts = restartsText(r.engineRestarts);
	if (restarts) out.push(`${dots("engine restarts")}${restarts}`);
	if (r.cancel) out.push(`${dots("cancel")}${mark(r.cancel.ok)} ${r.cancel.stats ? cancelText(r.cancel) : r.cancel.failures.join("; ")}`);
	if (r.returns) out.push(`${dots("returns")}${mark(r.returns.ok)} ${returnsText(r.returns)}`);
	const t = r.ticketing;
	if (t) {
		out.push(
			`${dots("ticketed")}` +
				(t.checked === false
					? `not checked: ORDER_WORKFLOWS=off (size-only rehearsal), ${t.orders} orders ${JSON.stringify(t.byStatus)}`
					: `${mark(t.failures.length === 0)} ${t.ticketed}/${t.orders} orders ${JSON.stringify(t.byStatus)}`),
		);
	}
	const st = r.saleToTicket;
	if (st) {
		out.push(
			`${dots("sale to ticket")}${mark(st.missed === 0)} ${saleToTicketText(st)}` +
				(st.scan ? `; ${mark(st.scan.failures.length === 0)} gate admitted ${st.scan.admitted}/${st.scan.scanned} scanned` : ""),
		);
	}
	if (r.waitEstimate) out.push(`${dots("wait estimate")}${waitEstimateText(r.waitEstimate)}`);
	const f = r.fairness;
	out.push(
		`${dots("fairness")}` +
			(f.seedRevealed
				? `${mark(f.faults.commitment === 0 && f.commitmentOk === true)} seed hashes to its commitment  ` +
					`${mark(f.faults.data === 0 && f.faults.prequeue === 0)} pre-queue: ${f.prequeueChecked}/${f.prequeueFans} told positions re-derived (P ${f.prequeueSize} = ${f.prequeue ? f.prequeue.join("+") : "?"})  ` +
					`${mark(f.faults.later === 0)} later joins: ${f.laterChecked}/${f.laterFans} in order (${f.fcfsPairs} pairs > ${f.fcfsBoundMs / 1000}s apart)`
				: "✗ the seed is not revealed"),
	);
	const l = r.load.byKind;
	const h = l.hottest;
	out.push(
		`${dots("load")}${h ? `busiest ${h.kind} ${h.index}: ${h.requests} requests, ${h.perFan} per fan` : "no objects"}` +
			(r.knobs.maxPerFanLoad > 0 && h ? ` ${mark(h.perFan <= r.knobs.maxPerFanLoad)} (limit ${r.knobs.maxPerFanLoad})` : "") +
			`; room ${l.room}, ${l.lines.count} line(s) ${l.lines.total} (max ${l.lines.max}), ${l.shards.count} shard(s) ${l.shards.total} (max ${l.shards.max}); ${l.fans} fans`,
	);
	const methods = Object.entries(l.shards.methods ?? {}).sort((a, b) => b[1] - a[1]);
	if (methods.length > 0) {
		const fh = l.fansHottest;
		out.push(
			`${dots("shard calls")}${methods.map(([m, n]) => `${m} ${n}`).join(", ")} (all shards; ${l.shards.starts} starts of ${l.shards.count} shards)` +
				(fh ? `\n${dots("load of the drop")}busiest ${fh.kind} ${fh.index}: ${fh.requests} requests, ${fh.perFan} per fan, without the audit's own reads (a shard's ${OBSERVING_METHODS.join(", ")}; the pacer's ${PACER_PROMOTER_METHODS.join(", ")})` : ""),
		);
	}
	process.stdout.write(out.join("\n") + "\n");
}
