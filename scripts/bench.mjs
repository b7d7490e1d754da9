#!/usr/bin/env node
// `npm run bench`: one run against a local engine that measures, side by side,
//   - GET /api/health (the baseline: the Worker and the local HTTP path, nothing else),
//   - join (into a drop of --lines lines), status polls of waiting fans and of
//     admitted fans (the access grant, minted in the Worker), hold+purchase, the
//     same for a reserved seat (best available in a section) and the whole fan journey: throughput and p50/p99, each also as a ratio to the
//     baseline of the same run, and the calls each object kind served per fan
//     (from the audit's `load`),
//   - CPU per call inside the objects, from the engine's own CPU counters: a
//     hold and a purchase at a shard, a join at a line (sequential calls, minus
//     the same request refused before the object, or the health request where
//     no such refusal exists), the pacer's CPU per tick with 1, 16 and 64 lines,
//     and the pacer's CPU per watermark read,
//   - the checkout with the post-sale Workflows off and on (scripts/lib/bench-after-sale.mjs):
//     every other phase runs on an engine with ORDER_WORKFLOWS=off, since locally the
//     Workflows run in the same workerd and on Cloudflare they do not,
//   - the checkout of a promoter with a webhook endpoint that answers after 5 s beside
//     one with none, sold at the same time on one engine (scripts/lib/bench-webhooks.mjs),
// and turns them into the capacity model (scripts/lib/capacity-model.mjs):
// joins/s per drop by line count, buyers/s per drop by shard count, the
// pacer's load, from Cloudflare's figure of about 1,000 requests a second per
// Durable Object (or 1,000 ms / CPU per call when that is lower).
//
//   npm run bench                          (starts its own engine on --port, default 8800, and for the
//                                           watermark read a second one on --port + 1, one after the other)
//   npm run bench -- --duration 10 --connections 32 --lines 8
//   npm run bench -- --base-url http://127.0.0.1:8787   (no CPU figures: the engine's pids are unknown)
//
// The engines run from a copy of the sources taken when the run starts
// (scripts/lib/engine-snapshot.mjs): wrangler dev restarts workerd whenever a
// file it watches changes, which would mix versions and lose the process whose
// CPU is read. --in-place runs from the working tree instead; a restart then
// makes the CPU measurement caught in it run again.
//
// Absolute numbers depend on the machine and on what else runs on it; the
// ratios to the baseline are what carries over. See "Benchmarks" in docs/load-testing.md.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createDrop, json, newFanSecret, request, runAsync } from "../loadtest/lib/journey.js";
import { createHttpClient, latencyStats } from "../loadtest/lib/node-client.mjs";
import { ROOT, adminTokenFromEnv, commandOf, cpuMs, descendantPids, startEngine } from "./lib/engine.mjs";
import { describeSource, snapshotEngine } from "./lib/engine-snapshot.mjs";
import { afterSaleLines, compareAfterSale } from "./lib/bench-after-sale.mjs";
import { compareWebhooks, webhookLines } from "./lib/bench-webhooks.mjs";
import { QUEUE_MESSAGES_PER_SECOND, TARGETS, TICKS_PER_SECOND, capacityModel } from "./lib/capacity-model.mjs";

const USAGE =
	"usage: npm run bench -- [--base-url URL] [--admin-token T] [--port N] [--duration S] [--connections N] [--lines N]\n" +
	"                        [--cpu-calls N] [--cpu-rounds N] [--tick-lines 1,16,64] [--tick-seconds S (running time per tick figure)] [--tick-join-rate N]\n" +
	"                        [--data-centers N] [--tickets-per-order N] [--after-sale-orders N (0: no Workflows on/off comparison)]\n" +
	"                        [--webhook-orders N (0: no webhook comparison)] [--webhook-slow-ms MS] [--webhooks-only] [--in-place] [--report FILE]\n";

const { values: flags } = parseArgs({
	options: {
		"base-url": { type: "string" },
		"admin-token": { type: "string" },
		port: { type: "string", default: process.env.PORT ?? "8800" },
		duration: { type: "string", default: "8" },
		connections: { type: "string", default: "32" },
		lines: { type: "string", default: "4" },
		"cpu-calls": { type: "string", default: "400" },
		"cpu-rounds": { type: "string", default: "5" },
		"tick-lines": { type: "string", default: "1,16,64" },
		"tick-seconds": { type: "string", default: "6" },
		"tick-join-rate": { type: "string", default: "10" },
		"data-centers": { type: "string", default: "300" },
		"tickets-per-order": { type: "string", default: "2" },
		"after-sale-orders": { type: "string", default: "1000" },
		"webhook-orders": { type: "string", default: "300" },
		"webhook-slow-ms": { type: "string", default: "5000" },
		"in-place": { type: "boolean", default: false },
		"webhooks-only": { type: "boolean", default: false },
		report: { type: "string" },
		help: { type: "boolean", short: "h", default: false },
	},
});
if (flags.help) {
	process.stdout.write(USAGE);
	process.exit(0);
}

const wholeNumber = (name, min, max) => {
	const n = Number(flags[name]);
	if (!Number.isInteger(n) || n < min || n > max) {
		process.stderr.write(`bench: --${name} must be a whole number from ${min} to ${max}, got ${flags[name]}\n${USAGE}`);
		process.exit(2);
	}
	return n;
};
const DURATION_MS = Number(flags.duration) * 1000;
if (!(DURATION_MS > 0)) {
	process.stderr.write(`bench: --duration must be a positive number of seconds\n${USAGE}`);
	process.exit(2);
}
const CONNECTIONS = wholeNumber("connections", 1, 1024);
/** Lines of the drops the phases use (the join phase's above all): today's join path. */
const LINES = wholeNumber("lines", 1, 256);
const CPU_CALLS = wholeNumber("cpu-calls", 1, 100_000);
const CPU_ROUNDS = wholeNumber("cpu-rounds", 1, 100);
const CPU_BLOCK = 50;
const TICK_LINES = flags["tick-lines"]
	.split(",")
	.filter((x) => x.trim() !== "")
	.map((x) => Number(x));
if (TICK_LINES.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) {
	process.stderr.write(`bench: --tick-lines takes line counts from 1 to 256, comma-separated, got ${flags["tick-lines"]}\n`);
	process.exit(2);
}
const TICK_MS = Number(flags["tick-seconds"]) * 1000;
const TICK_JOIN_RATE = Number(flags["tick-join-rate"]);
if (!(TICK_MS >= 2000) || !(TICK_JOIN_RATE >= 0 && TICK_JOIN_RATE <= 200)) {
	process.stderr.write(`bench: --tick-seconds must be at least 2 and --tick-join-rate from 0 to 200\n${USAGE}`);
	process.exit(2);
}
const DATA_CENTERS = wholeNumber("data-centers", 1, 100_000);
const TICKETS_PER_ORDER = wholeNumber("tickets-per-order", 1, 20);
/** Sales per mode in the Workflows off/on comparison (scripts/lib/bench-after-sale.mjs); 0 skips it. */
const AFTER_SALE_ORDERS = wholeNumber("after-sale-orders", 0, 5_000);
/** Sales per promoter in the webhook comparison (scripts/lib/bench-webhooks.mjs); 0 skips it. */
const WEBHOOK_ORDERS = wholeNumber("webhook-orders", 0, 5_000);
/** How long the slow endpoint takes to answer: under the engine's 10 s limit, so each send holds a consumer that long. */
const WEBHOOK_SLOW_MS = wholeNumber("webhook-slow-ms", 0, 9_000);
/** Waiting fans whose polls the status phase cycles over (each placed first, as a client keeps the token it is given). */
const STATUS_FANS = 2000;
/** Pairs of windows (paused, running) per tick figure; --tick-seconds is split over them. */
const TICK_REPEATS = 2;

const log = (line) => process.stderr.write(`[bench] ${line}\n`);
let engine = null;
/** The copy of the engine's sources the bench's engines run from (null with --in-place or --base-url). */
let snapshot = null;
async function stopEngine() {
	if (engine) await engine.stop().catch(() => {});
	engine = null;
}
async function cleanUp() {
	await stopEngine();
	snapshot?.remove();
	snapshot = null;
}
process.on("SIGINT", () => void cleanUp().then(() => process.exit(130)));
process.on("SIGTERM", () => void cleanUp().then(() => process.exit(143)));

try {
	if (flags["webhooks-only"]) {
		// Only the slow-endpoint comparison, on --port itself: a run long enough for the sends to overlap the sales
		// without the other phases' minutes (and with one port, for a machine where only one is free).
		if (flags["base-url"]) throw new Error("--webhooks-only needs an engine the bench starts (the receiver must be reachable from it)");
		if (!flags["in-place"]) {
			snapshot = snapshotEngine(ROOT);
			log(`engine sources copied to ${snapshot.root} (commit ${snapshot.source.commit}, ${snapshot.source.changedFiles} engine file(s) changed since)`);
		}
		const started = performance.now();
		const webhooks = await measureWebhooks(new Date().toISOString().replace(/\D/g, "").slice(8, 14), Number(flags.port));
		const report = { at: new Date().toISOString(), machine: { cores: cpus().length, model: cpus()[0]?.model, loadAverage: loadavg() }, settings: { durationSeconds: DURATION_MS / 1000, connections: CONNECTIONS }, webhooks };
		process.stdout.write(`${webhookLines(webhooks).join("\n")}\n`);
		report.benchSeconds = Math.round((performance.now() - started) / 1000);
		const file = flags.report ?? join(ROOT, "loadtest", "reports", `bench-webhooks-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
		mkdirSync(join(file, ".."), { recursive: true });
		writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
		process.stdout.write(`\n  bench took ${report.benchSeconds} s; report: ${file}\n\n`);
		await cleanUp();
		process.exit(0);
	}
	let baseUrl = flags["base-url"]?.replace(/\/+$/, "");
	let adminToken = flags["admin-token"] ?? adminTokenFromEnv();
	if (!baseUrl) {
		// wrangler dev restarts workerd on every change to the files it watches: run from a copy taken now,
		// so one version of the engine is measured whatever is edited meanwhile.
		if (!flags["in-place"]) {
			snapshot = snapshotEngine(ROOT);
			log(`engine sources copied to ${snapshot.root} (commit ${snapshot.source.commit}, ${snapshot.source.changedFiles} engine file(s) changed since)`);
		}
		// No join limits: the bench joins thousands of fans from one address. No post-sale Workflows on this
		// engine: locally each runs in the same workerd (and thousands exhaust its SQLite memory); the
		// after-sale comparison below measures the checkout with them on and off, side by side.
		engine = await startEngine({ port: Number(flags.port), vars: { JOIN_RATE_PER_FAN: "0", JOIN_RATE_PER_IP: "0", ORDER_WORKFLOWS: "off" }, log, root: engineRoot() });
		baseUrl = engine.baseUrl;
		adminToken = engine.adminToken;
	}
	if (!adminToken) throw new Error("no admin token: pass --admin-token or set ADMIN_TOKEN");
	const started = performance.now();
	const source = snapshot ? { snapshot: true, ...snapshot.source } : { snapshot: false, ...(flags["base-url"] ? {} : describeSource(ROOT)) };
	const report = await bench(baseUrl, adminToken, source);
	report.benchSeconds = Math.round((performance.now() - started) / 1000);
	const file = flags.report ?? join(ROOT, "loadtest", "reports", `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
	mkdirSync(join(file, ".."), { recursive: true });
	writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
	process.stdout.write(`\n  bench took ${report.benchSeconds} s; report: ${file}\n\n`);
	await cleanUp();
	process.exit(0);
} catch (err) {
	process.stderr.write(`bench: ${err?.stack ?? err}\n`);
	if (engine) process.stderr.write(`--- engine output (tail) ---\n${engine.output().slice(-3000)}\n`);
	await cleanUp();
	process.exit(2);
}

/** `concurrency` loops calling `op` until the time is up; op returns false for a failed operation. */
async function closedLoop(concurrency, durationMs, op) {
	const latencies = [];
	let failed = 0;
	const start = performance.now();
	const end = start + durationMs;
	await Promise.all(
		Array.from({ length: concurrency }, async (_, worker) => {
			while (performance.now() < end) {
				const t = performance.now();
				const good = await op(worker);
				if (good === null) return; // nothing left to do for this worker
				if (good) latencies.push(performance.now() - t);
				else failed++;
			}
		}),
	);
	const seconds = (performance.now() - start) / 1000;
	return { ops: latencies.length, failed, seconds, perSecond: latencies.length / seconds, ...latencyStats(latencies) };
}

/**
 * The checkout with the post-sale Workflows off and on (issue 15), each on a fresh engine of its own on
 * --port + 2, once the other engines are stopped. Needs engines the bench starts (not --base-url).
 */
async function measureAfterSale(stamp) {
	if (AFTER_SALE_ORDERS === 0) return null;
	if (flags["base-url"]) {
		log("after-sale: no Workflows on/off comparison with --base-url (it needs engines the bench starts)");
		return null;
	}
	await stopEngine();
	return compareAfterSale({
		port: Number(flags.port) + 2,
		root: engineRoot(),
		vars: { JOIN_RATE_PER_FAN: "0", JOIN_RATE_PER_IP: "0" },
		log,
		track: (e) => {
			engine = e;
		},
		workerOf: (e) => findWorkerds(e)?.worker ?? null,
		admitFans,
		closedLoop,
		connections: CONNECTIONS,
		durationMs: DURATION_MS,
		maxOrders: AFTER_SALE_ORDERS,
		lines: LINES,
		drainMs: 180_000,
		stamp,
	});
}

/**
 * The checkout beside a slow webhook endpoint and beside none, on a fresh engine of its own on --port + 3,
 * once the other engines are stopped. Needs an engine the bench starts (the receiver must be reachable from it).
 */
async function measureWebhooks(stamp, port = Number(flags.port) + 3) {
	if (WEBHOOK_ORDERS === 0) return null;
	if (flags["base-url"]) {
		log("webhooks: no slow-endpoint comparison with --base-url (it needs an engine the bench starts)");
		return null;
	}
	await stopEngine();
	return compareWebhooks({
		port,
		root: engineRoot(),
		vars: { JOIN_RATE_PER_FAN: "0", JOIN_RATE_PER_IP: "0" },
		log,
		track: (e) => {
			engine = e;
		},
		admitFans,
		closedLoop,
		connections: CONNECTIONS,
		durationMs: DURATION_MS,
		maxOrders: WEBHOOK_ORDERS,
		slowMs: WEBHOOK_SLOW_MS,
		drainMs: 120_000,
		lines: LINES,
		stamp,
	});
}

/** Where the bench's engines run from: the copy of the sources, or the working tree with --in-place. */
function engineRoot() {
	return snapshot?.root ?? ROOT;
}

/** Runs fn(0..count-1) with at most `concurrency` at once. */
async function eachConcurrently(concurrency, count, fn) {
	let next = 0;
	await Promise.all(
		Array.from({ length: Math.min(concurrency, count) }, async () => {
			while (next < count) await fn(next++);
		}),
	);
}

function ratios(phase, base) {
	return {
		throughput: round(phase.perSecond / base.perSecond, 3),
		p50: round(phase.p50 / base.p50, 2),
		p99: round(phase.p99 / base.p99, 2),
	};
}

function round(x, d = 1) {
	return x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d;
}

function median(xs) {
	if (xs.length === 0) return null;
	const sorted = xs.slice().sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function sum(xs) {
	return xs.reduce((a, b) => a + b, 0);
}

async function bench(baseUrl, adminToken, engineSource) {
	const cfg = { baseUrl, adminToken };
	const client = createHttpClient({ baseUrl, connections: Math.max(CONNECTIONS, 64) * 4 });
	const call = (method, path, opts = {}) => client.request(request(method, baseUrl + path, { step: opts.step ?? "bench", ...opts }));
	const admin = { authorization: `Bearer ${adminToken}` };
	const jsonHeaders = { "content-type": "application/json" };
	const stamp = Date.now().toString(36);
	log(`engine ${baseUrl}; ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);

	const newDrop = (name, fields) =>
		runAsync(
			createDrop(client, cfg, {
				name: `bench ${name} ${stamp}`,
				capacity: 1_000_000,
				// Open a second ago: joins take the slot path, as in the spike after an opening.
				opensAt: new Date(Date.now() - 1000).toISOString(),
				...fields,
			}),
			client,
		);
	// A drop the bench is done with is closed, so its pacer stops ticking and leaves the CPU figures alone.
	const closeDrop = async (id) => {
		const res = await call("PATCH", `/api/admin/drops/${id}`, { headers: { ...admin, ...jsonHeaders }, json: { closesAt: new Date().toISOString() }, step: "admin" });
		if (res.status !== 200) log(`warning: closing drop ${id} answered ${res.status} ${String(res.body).slice(0, 200)}`);
	};
	const loadOf = (id) => objectLoad(call, admin, id);
	const join1 = (dropId, fanId, step = "join") => call("POST", `/api/drops/${dropId}/join`, { headers: jsonHeaders, json: { fanId }, step });

	// The engine's processes, to read CPU later and to notice if wrangler restarts workerd meanwhile.
	const probe = engine ? cpuProbe(client, call) : null;
	const reloads = [];

	// Warm-up: first requests compile code and open connections.
	await closedLoop(CONNECTIONS, 1500, async () => (await call("GET", "/api/health", { step: "warm-up" })).status === 200);

	// 1. Baseline.
	log(`health baseline: ${CONNECTIONS} connections for ${DURATION_MS / 1000}s`);
	const health = await closedLoop(CONNECTIONS, DURATION_MS, async () => (await call("GET", "/api/health", { step: "health" })).status === 200);

	// 2. Joins, into a drop of LINES lines that is open but admits one fan only (so the others stay waiting for phase 3).
	const waitingDrop = await newDrop("joins", {
		maxPerFan: 4,
		shards: 4,
		lines: LINES,
		admission: { batchSize: 1, intervalMs: 600_000, activeMultiple: 1 },
		holdSeconds: 300,
	});
	const queueTokens = [];
	let fanNo = 0;
	log(`join: new fans, one join each, into a drop of ${LINES} line(s)`);
	const joinPhase = await closedLoop(CONNECTIONS, DURATION_MS, async () => {
		const res = await join1(waitingDrop.id, `bj${stamp}-${fanNo++}`);
		if (res.status !== 201) return false;
		queueTokens.push(json(res).queueToken);
		return true;
	});
	joinPhase.lines = LINES;

	// 3. Status polls of waiting fans. A join into several lines is placed when its slot is sealed (within a
	//    second); the first poll after that hands out a token with the position, which a client keeps. Each
	//    polled fan is placed first, so the timed polls are the steady ones: token and cached watermark, no object.
	const statusUrl = (dropId) => `/api/drops/${dropId}/status`;
	const pollTokens = queueTokens.slice(0, STATUS_FANS);
	await client.sleep(1200);
	let placed = 0;
	await eachConcurrently(CONNECTIONS, pollTokens.length, async (i) => {
		const res = await call("GET", statusUrl(waitingDrop.id), { headers: { authorization: `Bearer ${pollTokens[i]}` }, step: "status (placing)" });
		const body = res.status === 200 ? json(res) : null;
		if (body?.queueToken) pollTokens[i] = body.queueToken;
		if (typeof body?.position === "number") placed++;
	});
	log(`status: polls by ${pollTokens.length} waiting fans (${placed} placed)`);
	const statusLoad0 = await loadOf(waitingDrop.id);
	let pollNo = 0;
	const statusPhase = await closedLoop(CONNECTIONS, DURATION_MS, async () => {
		const token = pollTokens[pollNo++ % pollTokens.length];
		const res = await call("GET", statusUrl(waitingDrop.id), { headers: { authorization: `Bearer ${token}` }, step: "status (waiting)" });
		return res.status === 200;
	});
	statusPhase.fans = pollTokens.length;
	statusPhase.placed = placed;
	statusPhase.objectCalls = callsDuring(statusLoad0, await loadOf(waitingDrop.id), statusPhase.ops + statusPhase.failed, statusPhase.seconds);
	await closeDrop(waitingDrop.id);

	// 4. Admitted fans: their polls get the access grant, signed by the Worker from the token and the watermark.
	const saleDrop = await newDrop("sales", {
		maxPerFan: 20,
		shards: 4,
		lines: LINES,
		admission: { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 },
		holdSeconds: 600,
	});
	const buyersNeeded = Math.ceil((Math.max(health.perSecond, 200) * DURATION_MS) / 1000 / 20 / 2) + CONNECTIONS;
	log(`status (admitted) and hold+purchase: admitting ${buyersNeeded} fans first`);
	const buyers = await admitFans(client, baseUrl, saleDrop.id, `bs${stamp}`, buyersNeeded);
	if (buyers.length === 0) throw new Error(`no fan of ${buyersNeeded} was admitted to the sales drop`);
	const grantLoad0 = await loadOf(saleDrop.id);
	let grantNo = 0;
	let notGranted = 0;
	const grantPhase = await closedLoop(CONNECTIONS, DURATION_MS, async () => {
		const fan = buyers[grantNo++ % buyers.length];
		const res = await call("GET", statusUrl(saleDrop.id), { headers: { authorization: `Bearer ${fan.queueToken}` }, step: "status (admitted)" });
		if (res.status !== 200) return false;
		if (!res.body.includes('"accessToken"')) notGranted++;
		return true;
	});
	grantPhase.fans = buyers.length;
	grantPhase.withoutGrant = notGranted;
	grantPhase.objectCalls = callsDuring(grantLoad0, await loadOf(saleDrop.id), grantPhase.ops + grantPhase.failed, grantPhase.seconds);

	// 5. Hold + purchase by admitted fans, each buying one ticket at a time up to maxPerFan.
	// Each worker has fans of its own, so one fan's holds never race each other.
	const mine = Array.from({ length: CONNECTIONS }, (_, w) => buyers.filter((_, i) => i % CONNECTIONS === w).map((fan) => ({ fan, left: 20 })));
	const holdLat = [];
	const purchaseLat = [];
	const salePhase = await closedLoop(CONNECTIONS, DURATION_MS, async (worker) => {
		const slot = mine[worker].find((s) => s.left > 0);
		if (slot === undefined) return null;
		slot.left--;
		const auth = `Bearer ${slot.fan.accessToken}`;
		let t = performance.now();
		const hold = await call("POST", `/api/drops/${saleDrop.id}/holds`, {
			headers: { authorization: auth, ...jsonHeaders, "idempotency-key": `k${slot.left}` },
			json: { quantity: 1 },
			step: "hold",
		});
		holdLat.push(performance.now() - t);
		if (hold.status !== 201) return false;
		t = performance.now();
		const paid = await call("POST", `/api/drops/${saleDrop.id}/holds/${json(hold).holdId}/purchase`, {
			headers: { authorization: auth, ...jsonHeaders },
			json: { payment: { method: "test", token: "ok" } },
			step: "purchase",
		});
		purchaseLat.push(performance.now() - t);
		return paid.status === 201;
	});
	await closeDrop(saleDrop.id);

	// 5b. The same with reserved seats (issue 14): each admitted fan holds the best available seat of
	//     its worker's section (sections spread over the shards), then buys it.
	const seatedPhase = await seatedHoldPurchase(client, cfg, call, closeDrop, stamp);

	// 6. The whole journey: join, poll at the server's pace, hold, buy; many fans at once.
	const journeyDrop = await newDrop("journeys", {
		maxPerFan: 4,
		shards: 4,
		lines: LINES,
		admission: { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 },
		holdSeconds: 600,
	});
	const journeyFans = CONNECTIONS * 8;
	log(`journey: ${journeyFans} fans at a time, each joining, polling as told, holding 2 and buying`);
	const before = client.recorder.requests;
	let journeyNo = 0;
	const journeyPhase = await closedLoop(journeyFans, DURATION_MS, async () => {
		const fan = await admitFans(client, baseUrl, journeyDrop.id, `bjn${stamp}-${journeyNo++}`, 1, true);
		if (fan.length === 0) return false;
		const auth = `Bearer ${fan[0].accessToken}`;
		const hold = await call("POST", `/api/drops/${journeyDrop.id}/holds`, {
			headers: { authorization: auth, ...jsonHeaders, "idempotency-key": "k" },
			json: { quantity: 2 },
			step: "hold",
		});
		if (hold.status !== 201) return false;
		const paid = await call("POST", `/api/drops/${journeyDrop.id}/holds/${json(hold).holdId}/purchase`, {
			headers: { authorization: auth, ...jsonHeaders },
			json: { payment: { method: "test", token: "ok" } },
			step: "purchase",
		});
		return paid.status === 201;
	});
	const journeyRequests = client.recorder.requests - before;
	const journeyLoad = await loadOf(journeyDrop.id);
	await closeDrop(journeyDrop.id);

	// 7. CPU inside the objects: shards and lines, then the pacer's ticks; then, on a second engine
	//    whose Worker keeps no copy of the watermark, the pacer's CPU per watermark read.
	let cpu = null;
	if (probe && !probe.alive()) {
		reloads.push("during the phases");
		log("warning: the engine's workerd restarted during the phases (wrangler dev reloads when a watched source file changes): failed requests above may come from that");
		await probe.recover();
	}
	if (engine) {
		if (probe) {
			cpu = await measureCpu(probe, client, call, newDrop, closeDrop, stamp, cfg);
			cpu.ticks = await measureTicks(probe, adminToken, client, call, newDrop, closeDrop, loadOf, stamp);
			cpu.engineReloads = probe.reloads;
		}
	}
	client.close();
	if (cpu) {
		await stopEngine();
		try {
			cpu.watermark = await measureWatermarkRead(client.recorder, stamp);
		} catch (err) {
			log(`warning: no watermark read figure: ${err?.message ?? err}`);
			cpu.watermark = null;
		}
	}
	const afterSale = await measureAfterSale(stamp);
	const webhooks = await measureWebhooks(stamp);
	const statuses = unexpectedStatuses(client.recorder.summary());

	const phases = {
		health,
		join: joinPhase,
		status: statusPhase,
		accessGrant: grantPhase,
		holdPurchase: { ...salePhase, hold: latencyStats(holdLat), purchase: latencyStats(purchaseLat) },
		seatedHoldPurchase: seatedPhase,
		journey: { ...journeyPhase, requestsPerSecond: journeyRequests / journeyPhase.seconds, concurrentFans: journeyFans, load: journeyLoadPerFan(journeyLoad) },
	};
	for (const name of ["join", "status", "accessGrant", "holdPurchase", "seatedHoldPurchase", "journey"]) phases[name].vsHealth = ratios(phases[name], health);
	const capacity = capacityModel({
		joinCpuMs: cpu?.lineMs.join ?? null,
		holdCpuMs: cpu?.shardMs.hold ?? null,
		purchaseCpuMs: cpu?.shardMs.purchase ?? null,
		ticks: cpu ? cpu.ticks.rows.filter((t) => t.modelMs !== null).map((t) => ({ lines: t.lines, ms: t.modelMs })) : [],
		watermarkReadMs: cpu?.watermark?.readMs ?? null,
		dataCenters: DATA_CENTERS,
		// Watermark reads one isolate made a second while polls poured in (the status phases).
		observedReadsPerSecond: Math.max(statusPhase.objectCalls?.roomPerSecond ?? 0, grantPhase.objectCalls?.roomPerSecond ?? 0) || null,
		ticketsPerOrder: TICKETS_PER_ORDER,
	});
	const report = {
		at: new Date().toISOString(),
		baseUrl,
		engineSource,
		machine: { cores: cpus().length, model: cpus()[0]?.model, loadAverage: loadavg() },
		settings: {
			durationSeconds: DURATION_MS / 1000,
			connections: CONNECTIONS,
			lines: LINES,
			cpuCalls: CPU_CALLS,
			cpuRounds: CPU_ROUNDS,
			tickLines: TICK_LINES,
			tickSeconds: TICK_MS / 1000,
			tickRepeats: TICK_REPEATS,
			tickJoinRate: TICK_JOIN_RATE,
			dataCenters: DATA_CENTERS,
		},
		phases,
		cpu,
		afterSale,
		webhooks,
		capacity,
		unexpectedStatuses: statuses,
		engineReloads: reloads.length + (cpu?.engineReloads ?? 0) + (cpu?.watermark?.engineReloads ?? 0),
	};
	printReport(report);
	return report;
}

/**
 * Phase 5b: hold + purchase of reserved seats. Each worker's fans ask for the best available
 * seat of one section (worker k: section k mod sections), so the phase measures the seated path
 * (home shard judges the limits, the section's shard claims the seat), not contention.
 */
async function seatedHoldPurchase(client, cfg, call, closeDrop, stamp) {
	// 20,000 seats in sections of 500 (25 rows of 20). Inside the function: the run starts at the top level, above.
	const BENCH_SEATS = 20_000;
	const SEATS_PER_SECTION = 500;
	const sections = BENCH_SEATS / SEATS_PER_SECTION;
	const seats = Array.from({ length: BENCH_SEATS }, (_, i) => {
		const section = `S${Math.floor(i / SEATS_PER_SECTION)}`;
		const row = String(1 + Math.floor((i % SEATS_PER_SECTION) / 20));
		const number = 1 + (i % 20);
		return { id: `${section}-${row}-${number}`, section, row, number };
	});
	const drop = await runAsync(
		createDrop(client, cfg, {
			name: `bench seated ${stamp}`,
			opensAt: new Date(Date.now() - 1000).toISOString(),
			maxPerFan: 20,
			shards: 4,
			lines: LINES,
			admission: { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 },
			holdSeconds: 600,
			ticketTypes: [{ id: "seat", name: "Seat", kind: "seated", priceCents: 4_500, seats }],
		}),
		client,
	);
	const fansNeeded = CONNECTIONS * 8;
	log(`seated hold+purchase: ${BENCH_SEATS} seats in ${sections} sections; admitting ${fansNeeded} fans first`);
	const fans = await admitFans(client, cfg.baseUrl, drop.id, `bst${stamp}`, fansNeeded);
	if (fans.length === 0) throw new Error(`no fan of ${fansNeeded} was admitted to the seated drop`);
	const mine = Array.from({ length: CONNECTIONS }, (_, w) => fans.filter((_, i) => i % CONNECTIONS === w).map((fan) => ({ fan, left: 20 })));
	const holdLat = [];
	const purchaseLat = [];
	const jsonHeaders = { "content-type": "application/json" };
	const phase = await closedLoop(CONNECTIONS, DURATION_MS, async (worker) => {
		const slot = mine[worker].find((x) => x.left > 0);
		if (slot === undefined) return null;
		slot.left--;
		const auth = `Bearer ${slot.fan.accessToken}`;
		let t = performance.now();
		const hold = await call("POST", `/api/drops/${drop.id}/holds`, {
			headers: { authorization: auth, ...jsonHeaders, "idempotency-key": `s${slot.left}` },
			json: { ticketType: "seat", section: `S${worker % sections}`, quantity: 1 },
			step: "seated hold",
		});
		holdLat.push(performance.now() - t);
		if (hold.status !== 201) return false;
		t = performance.now();
		const paid = await call("POST", `/api/drops/${drop.id}/holds/${json(hold).holdId}/purchase`, {
			headers: { authorization: auth, ...jsonHeaders },
			json: { payment: { method: "test", token: "ok" } },
			step: "seated purchase",
		});
		purchaseLat.push(performance.now() - t);
		return paid.status === 201;
	});
	await closeDrop(drop.id);
	return { ...phase, hold: latencyStats(holdLat), purchase: latencyStats(purchaseLat), seats: BENCH_SEATS, sections };
}

/** The requests each object of a drop has served, from the audit's `load`; null when the engine has none. */
async function objectLoad(call, admin, dropId) {
	let res;
	for (let attempt = 1; ; attempt++) {
		res = await call("GET", `/api/admin/drops/${dropId}/audit`, { headers: admin, step: "admin" });
		// Status 0 is this client's socket error (a kept-alive connection closed under it): a GET may be asked again.
		if (res.status !== 0 || attempt === 3) break;
		log(`note: the audit of ${dropId} got no answer (${res.error ?? "socket error"}); asking again`);
	}
	if (res.status !== 200) {
		log(`warning: the audit of ${dropId} answered ${res.status} ${res.error ?? ""} ${String(res.body).slice(0, 200)}`);
		return null;
	}
	const load = json(res)?.load;
	if (!load || !Array.isArray(load.objects)) return null;
	const of = (kind) => load.objects.filter((o) => o.kind === kind).sort((a, b) => a.index - b.index).map((o) => o.requests);
	return { fans: load.fans, room: sum(of("room")), lines: of("line"), shards: of("shard"), hottest: load.hottest };
}

/**
 * Object calls made by `ops` requests between two audits. Each audit calls the
 * room once, every line once and every shard twice; the pacer calls every
 * line once a tick and every shard about once a second whatever the fans do,
 * so that floor (the least any line or shard got) is taken out too.
 */
function callsDuring(a, b, ops, seconds) {
	if (a === null || b === null || ops === 0) return null;
	const beyondFloor = (xs, ys, own) => {
		const d = ys.map((y, i) => y - xs[i] - own);
		const floor = Math.min(...d);
		return { total: sum(d), beyondPacer: sum(d) - floor * d.length, pacerPerObject: floor };
	};
	const room = b.room - a.room - 1;
	const lines = beyondFloor(a.lines, b.lines, 1);
	const shards = beyondFloor(a.shards, b.shards, 2);
	return {
		requests: ops,
		room,
		roomPerRequest: round(room / ops, 4),
		roomPerSecond: round(room / seconds, 2),
		lines: lines.beyondPacer,
		linesPerRequest: round(lines.beyondPacer / ops, 4),
		shards: shards.beyondPacer,
		shardsPerRequest: round(shards.beyondPacer / ops, 4),
		pacerCallsPerLine: lines.pacerPerObject,
		pacerCallsPerShard: shards.pacerPerObject,
	};
}

/** The journey drop's calls per fan by object kind (all its life: the pacer's ticks and the audit's own calls included). */
function journeyLoadPerFan(load) {
	if (load === null || !load.fans) return null;
	const per = (n) => round(n / load.fans, 3);
	return {
		fans: load.fans,
		room: load.room,
		lines: sum(load.lines),
		shards: sum(load.shards),
		perFan: { room: per(load.room), lines: per(sum(load.lines)), shards: per(sum(load.shards)) },
		hottestLinePerFan: per(Math.max(...load.lines)),
		hottestShardPerFan: per(Math.max(...load.shards)),
		hottest: load.hottest,
	};
}

/** Responses the bench did not ask for (expected refusals of the CPU baselines left out), by step. */
function unexpectedStatuses(summary) {
	const out = {};
	for (const [step, s] of Object.entries(summary)) {
		if (step.startsWith("cpu refused")) continue;
		const bad = Object.entries(s.statuses).filter(([status]) => !/^2\d\d$/.test(status));
		if (bad.length) out[step] = Object.fromEntries(bad);
	}
	return out;
}

/** Joins `count` fans and polls each until admitted (honouring pollAfterMs when `honour`); returns their tokens. */
async function admitFans(client, baseUrl, dropId, prefix, count, honour = false) {
	const fans = [];
	const base = `${baseUrl}/api/drops/${dropId}`;
	await Promise.all(
		Array.from({ length: count }, async (_, i) => {
			const joined = await client.request(
				request("POST", `${base}/join`, { headers: { "content-type": "application/json" }, json: { fanId: `${prefix}-${i}` }, step: "join" }),
			);
			if (joined.status !== 201) return;
			let body = json(joined);
			let token = body.queueToken;
			let wait = body.pollAfterMs ?? 0;
			for (let polls = 0; polls < 200; polls++) {
				if (wait > 0) await client.sleep(honour ? wait : Math.min(wait, 250));
				const res = await client.request(request("GET", `${base}/status`, { headers: { authorization: `Bearer ${token}` }, step: "status" }));
				if (res.status !== 200) {
					wait = 500;
					continue;
				}
				body = json(res);
				if (body.queueToken) token = body.queueToken;
				if (body.status === "admitted") {
					fans.push({ fanId: `${prefix}-${i}`, accessToken: body.accessToken, queueToken: token });
					return;
				}
				wait = body.pollAfterMs ?? 500;
			}
		}),
	);
	return fans;
}

/** The engine's workerd processes: the Worker's (the objects run there too) and the proxy's in front of it. */
function findWorkerds(of = engine) {
	const tree = [of.pid, ...descendantPids(of.pid)];
	const workerds = tree.filter((pid) => commandOf(pid)[0]?.endsWith("workerd"));
	const port = new URL(of.baseUrl).port;
	// wrangler runs two workerd: a proxy on the public port and the Worker itself.
	const worker = workerds.find((pid) => !commandOf(pid).some((a) => a.includes(`127.0.0.1:${port}`))) ?? workerds[0];
	return worker === undefined ? null : { worker, proxy: workerds.filter((p) => p !== worker) };
}

/** The Worker's process is gone: wrangler dev restarted workerd (it does when a watched source file changes). */
function engineReloaded(message) {
	return Object.assign(new Error(message), { engineReloaded: true });
}

/**
 * What reads the engine's CPU, and the idle burn of the Worker's process. If
 * wrangler restarts workerd meanwhile (a source file changed under it), a
 * reading fails with an `engineReloaded` error; `recover` finds the new processes.
 */
function cpuProbe(client, call) {
	const found = findWorkerds();
	if (found === null) {
		log("no workerd process found under the engine; skipping CPU figures");
		return null;
	}
	const probe = {
		...found,
		reloads: 0,
		alive: () => existsSync(`/proc/${probe.worker}`),
		measured(pids) {
			let total = 0;
			for (const pid of pids) {
				try {
					total += cpuMs(pid);
				} catch {
					throw engineReloaded(`workerd ${pid} is gone`);
				}
			}
			return total;
		},
		/** What the Worker's process burns with no request at all (timers, the dev inspector, ticking pacers), per wall-clock ms. */
		async idleRate(ms = 3000) {
			const cpu0 = probe.measured([probe.worker]);
			const t0 = performance.now();
			await client.sleep(ms);
			return Math.max(0, (probe.measured([probe.worker]) - cpu0) / (performance.now() - t0));
		},
		async recover() {
			probe.reloads++;
			for (let i = 0; i < 90; i++) {
				await client.sleep(1000);
				const next = findWorkerds();
				if (next === null || next.worker === probe.worker) continue;
				if ((await call("GET", "/api/health", { step: "reload wait" })).status !== 200) continue;
				Object.assign(probe, next);
				for (let k = 0; k < 100; k++) await call("GET", "/api/health", { step: "warm-up" });
				await client.sleep(2000);
				return;
			}
			throw new Error("the engine's workerd did not come back after a reload");
		},
	};
	return probe;
}

/**
 * Runs a measurement again (up to three times) when the engine's workerd
 * restarted under it; `cleanup` runs once the engine is back (closing a drop
 * the broken attempt left ticking).
 */
async function againOnReload(probe, what, fn, cleanup = async () => {}) {
	for (let attempt = 1; ; attempt++) {
		try {
			return await fn();
		} catch (err) {
			const reloaded = err?.engineReloaded === true || !probe.alive();
			if (!reloaded || attempt > 3) throw err;
			log(`the engine's workerd restarted during ${what} (wrangler dev reloads when a watched source file changes); measuring it again`);
			await probe.recover();
			await cleanup();
		}
	}
}

/**
 * CPU per request from the engine's CPU counters: `CPU_CALLS` sequential calls
 * of each kind against a drop of one line and one shard, in `CPU_ROUNDS`
 * rounds (median kept). Subtracted, to leave what the object adds:
 *   - hold, purchase: the same request refused just before the shard (a hold
 *     for 0 tickets, a purchase with an unknown payment method: same token
 *     check, same parsing). The purchase window ends 1.5 s after its last call,
 *     so it also holds the Queue send and the consumer's D1 write: an upper
 *     bound on the shard's share.
 *   - join: no join is refused in the Worker after the watermark lookup and
 *     before the line call (body, fanId, identity and Turnstile are checked
 *     before the lookup; an unknown drop asks the pacer), so the health
 *     request is subtracted: an upper bound that still holds the Worker's
 *     watermark lookup and queue-token signing. A rejoin (same fan again: same
 *     Worker work, the line only looks the fan up) gives the lower bound.
 */
async function measureCpu(probe, client, call, newDrop, closeDrop, stamp, cfg) {
	// Once the work left over from the phases above (alarms, Queue batches) has settled.
	await client.sleep(5000);
	const idlePerMs = await againOnReload(probe, "the idle measurement", async () => Math.min(await probe.idleRate(), await probe.idleRate()));
	const perCall = async (pids, calls, fn) => {
		const before = probe.measured(pids);
		const t = performance.now();
		for (let i = 0; i < calls; i++) await fn(i);
		return (probe.measured(pids) - before - idlePerMs * (performance.now() - t)) / calls;
	};
	const kinds = ["health", "proxyHealth", "holdRefused", "hold", "purchaseRefused", "purchase", "join", "rejoin"];
	const rounds = Object.fromEntries(kinds.map((k) => [k, []]));
	log(`CPU: ${CPU_ROUNDS} round(s) of ${CPU_CALLS} sequential calls of each kind, workerd pid ${probe.worker}`);
	let openDrop = null;
	const closeOpen = async () => {
		if (openDrop !== null) await closeDrop(openDrop);
		openDrop = null;
	};
	for (let r = 0; r < CPU_ROUNDS; r++) {
		await againOnReload(probe, `CPU round ${r + 1}`, () => cpuRound(r), closeOpen);
	}
	async function cpuRound(r) {
		const drop = await newDrop(`cpu ${r}`, {
			maxPerFan: 20,
			shards: 1,
			lines: 1,
			admission: { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 },
			holdSeconds: 600,
		});
		openDrop = drop.id;
		const fans = await admitFans(client, cfg.baseUrl, drop.id, `bc${stamp}-${r}`, Math.ceil(CPU_CALLS / 20));
		if (fans.length === 0) throw new Error("no fan was admitted to the CPU drop");
		const fanOf = (i) => fans[Math.floor(i / 20) % fans.length];
		const holdsPath = `/api/drops/${drop.id}/holds`;
		const joinPath = `/api/drops/${drop.id}/join`;
		const auth = (i) => ({ authorization: `Bearer ${fanOf(i).accessToken}`, "content-type": "application/json" });
		const joiner = (i) => `bcj${stamp}-${r}-${i}`;
		// Each joiner's secret, sent with its join and its rejoin (which must prove it is that fan).
		const joinerSecrets = new Map();
		const joinerBody = (i) => {
			if (!joinerSecrets.has(i)) joinerSecrets.set(i, newFanSecret());
			return { fanId: joiner(i), fanSecret: joinerSecrets.get(i) };
		};
		const holdIds = [];

		// Kinds alternate in blocks, so a drift in the machine's state hits them alike.
		const sums = Object.fromEntries(kinds.map((k) => [k, 0]));
		for (let from = 0; from < CPU_CALLS; from += CPU_BLOCK) {
			const n = Math.min(CPU_BLOCK, CPU_CALLS - from);
			sums.health += n * (await perCall([probe.worker], n, () => call("GET", "/api/health", { step: "cpu health" })));
			if (probe.proxy.length) sums.proxyHealth += n * (await perCall(probe.proxy, n, () => call("GET", "/api/health", { step: "cpu health" })));
			sums.holdRefused +=
				n *
				(await perCall([probe.worker], n, (k) =>
					call("POST", holdsPath, { headers: { ...auth(from + k), "idempotency-key": `r${from + k}` }, json: { quantity: 0 }, step: "cpu refused hold" }),
				));
			sums.hold +=
				n *
				(await perCall([probe.worker], n, async (k) => {
					const res = await call("POST", holdsPath, { headers: { ...auth(from + k), "idempotency-key": `h${from + k}` }, json: { quantity: 1 }, step: "cpu hold" });
					if (res.status !== 201) throw new Error(`hold failed during the CPU measurement: ${res.status} ${res.body}`);
					holdIds[from + k] = json(res).holdId;
				}));
			sums.purchaseRefused +=
				n *
				(await perCall([probe.worker], n, (k) =>
					call("POST", `${holdsPath}/${holdIds[from + k]}/purchase`, { headers: auth(from + k), json: { payment: { method: "cash", token: "ok" } }, step: "cpu refused purchase" }),
				));
			// The purchase window ends 1.5 s after the last purchase, so the Queue consumer's D1 write
			// (batches at most a second old) falls inside it.
			sums.purchase +=
				n *
				(await perCall([probe.worker], n, async (k) => {
					const res = await call("POST", `${holdsPath}/${holdIds[from + k]}/purchase`, {
						headers: auth(from + k),
						json: { payment: { method: "test", token: "ok" } },
						step: "cpu purchase",
					});
					if (res.status !== 201) throw new Error(`purchase failed during the CPU measurement: ${res.status} ${res.body}`);
					if (k === n - 1) await client.sleep(1500);
				}));
			sums.join +=
				n *
				(await perCall([probe.worker], n, async (k) => {
					const res = await call("POST", joinPath, { headers: { "content-type": "application/json" }, json: joinerBody(from + k), step: "cpu join" });
					if (res.status !== 201) throw new Error(`join failed during the CPU measurement: ${res.status} ${res.body}`);
				}));
			sums.rejoin +=
				n *
				(await perCall([probe.worker], n, async (k) => {
					const res = await call("POST", joinPath, { headers: { "content-type": "application/json" }, json: joinerBody(from + k), step: "cpu rejoin" });
					if (res.status !== 200) throw new Error(`rejoin failed during the CPU measurement: ${res.status} ${res.body}`);
				}));
		}
		const stats = json(await call("GET", `/api/admin/drops/${drop.id}`, { headers: { authorization: `Bearer ${cfg.adminToken}` }, step: "admin" }))?.stats;
		if (stats && stats.recorded !== CPU_CALLS) log(`warning: ${stats.recorded} of ${CPU_CALLS} sales in D1 at the end of the round`);
		await closeOpen();
		for (const [k, v] of Object.entries(sums)) if (k !== "proxyHealth" || probe.proxy.length) rounds[k].push(v / CPU_CALLS);
	}
	const m = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, v.length ? round(median(v), 3) : null]));
	const spread = (k) => [round(Math.min(...rounds[k]), 3), round(Math.max(...rounds[k]), 3)];
	const diffRounds = (real, base) => rounds[real].map((v, i) => v - rounds[base][i]);
	const range = (xs) => [round(Math.min(...xs), 3), round(Math.max(...xs), 3)];
	return {
		method:
			"CPU time of the Worker's workerd process (/proc schedstat; the objects run in it too), sequential calls, idle burn subtracted, median of rounds; " +
			"object share = call − the same call refused just before the object (hold, purchase) or − GET /api/health (join: no refusal exists between the watermark and the line call)",
		idleCpuPerSecondMs: round(idlePerMs * 1000, 2),
		rounds,
		perRequestMs: m,
		shardMs: { hold: round(m.hold - m.holdRefused, 3), purchase: round(m.purchase - m.purchaseRefused, 3) },
		shardMsRange: { hold: range(diffRounds("hold", "holdRefused")), purchase: range(diffRounds("purchase", "purchaseRefused")) },
		lineMs: { join: round(m.join - m.health, 3), joinLowerBound: round(m.join - m.rejoin, 3), joinBaseline: "health" },
		lineMsRange: { join: range(diffRounds("join", "health")), joinLowerBound: range(diffRounds("join", "rejoin")) },
		perRequestRange: Object.fromEntries(Object.keys(rounds).filter((k) => rounds[k].length).map((k) => [k, spread(k)])),
	};
}

/**
 * The pacer's CPU per tick, by line count. For each count: a drop of that many
 * lines and one shard with fans waiting (so it ticks every 500 ms, sealing a
 * slot at every line each tick and gathering the shard's totals about once a
 * second), every other drop closed. Each figure is a pair of windows that
 * differ only in the ticks: the drop paused (no alarm) against the drop
 * running, so whatever else the process burns meanwhile cancels out:
 *   - quiet: no request at all;
 *   - with joins: a burst of joins every 500 ms in both windows (the joins'
 *     own CPU and the watermark refreshes they cause cancel too), so the
 *     running window's ticks also lay out the joins' blocks.
 * Ticks are counted by the seal calls the lines served. The figure is the
 * whole process: the pacer and the lines' side of the seal calls and the
 * shard's side of the totals call, so an upper bound on the pacer's own share.
 */
async function measureTicks(probe, adminToken, client, call, newDrop, closeDrop, loadOf, stamp) {
	const rows = [];
	const burst = Math.max(1, Math.round(TICK_JOIN_RATE / TICKS_PER_SECOND));
	const windowMs = TICK_MS / TICK_REPEATS;
	log(
		`pacer ticks: drops of ${TICK_LINES.join(", ")} line(s); ${TICK_REPEATS} × ${windowMs / 1000}s paused against running, quiet` +
			(TICK_JOIN_RATE > 0 ? ` and with a burst of ${burst} joins every 500 ms` : ""),
	);
	let openDrop = null;
	const closeOpen = async () => {
		if (openDrop !== null) await closeDrop(openDrop);
		openDrop = null;
	};
	for (const lines of TICK_LINES) rows.push(await againOnReload(probe, `the ticks of ${lines} line(s)`, () => ticksOf(lines), closeOpen));
	async function ticksOf(lines) {
		const drop = await newDrop(`ticks ${lines}`, {
			capacity: 1000,
			maxPerFan: 4,
			shards: 1,
			lines,
			admission: { batchSize: 1, intervalMs: 600_000, activeMultiple: 1 },
			holdSeconds: 600,
		});
		let fanNo = 0;
		const joinOne = async () =>
			(await call("POST", `/api/drops/${drop.id}/join`, { headers: { "content-type": "application/json" }, json: { fanId: `bt${stamp}-${lines}-${fanNo++}` }, step: "ticks join" }))
				.status === 201;
		const setPaused = async (paused) => {
			const res = await call("PATCH", `/api/admin/drops/${drop.id}`, {
				headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
				json: { paused },
				step: "admin",
			});
			if (res.status !== 200) throw new Error(`${paused ? "pausing" : "resuming"} the tick drop failed: ${res.status} ${String(res.body).slice(0, 200)}`);
		};
		openDrop = drop.id;
		// Three fans: one is admitted, two stay waiting, so the pacer stays busy.
		for (let i = 0; i < 3; i++) await joinOne();
		await client.sleep(1500);
		/** One window: CPU, seconds, joins made, and the seal calls (ticks) the lines served in it. */
		const window = async (withJoins) => {
			const before = await loadOf(drop.id);
			const cpu0 = probe.measured([probe.worker]);
			const t0 = performance.now();
			let joins = 0;
			if (withJoins) {
				for (let i = 0; ; i++) {
					const due = t0 + (i * 1000) / TICKS_PER_SECOND;
					if (due >= t0 + windowMs) break;
					const wait = due - performance.now();
					if (wait > 0) await client.sleep(wait);
					for (let k = 0; k < burst; k++) if (await joinOne()) joins++;
				}
			}
			const left = t0 + windowMs - performance.now();
			if (left > 0) await client.sleep(left);
			const cpu = probe.measured([probe.worker]) - cpu0;
			const seconds = (performance.now() - t0) / 1000;
			const after = await loadOf(drop.id);
			// Each audit calls every line once; a join is one call at its line.
			const ticks = before && after ? (sum(after.lines) - sum(before.lines) - lines - joins) / lines : null;
			return { cpu, seconds, joins, ticks, refreshes: before && after ? after.room - before.room - 1 : null };
		};
		const pairs = { quiet: [], withJoins: [] };
		for (let rep = 0; rep < TICK_REPEATS; rep++) {
			for (const kind of TICK_JOIN_RATE > 0 ? ["quiet", "withJoins"] : ["quiet"]) {
				await setPaused(true);
				// A tick already under way when the pause lands still sets one more alarm: let it pass.
				await client.sleep(600);
				const paused = await window(kind === "withJoins");
				await setPaused(false);
				// Resuming sets the alarm at once; its catch-up tick and the PATCH's own writes stay out of the window too.
				await client.sleep(600);
				const running = await window(kind === "withJoins");
				pairs[kind].push({ paused, running });
			}
		}
		const summarize = (list) => {
			if (list.length === 0) return null;
			const perTick = list.map(({ paused, running }) =>
				running.ticks > 0 ? (running.cpu - (paused.cpu / paused.seconds) * running.seconds) / running.ticks : null,
			);
			const good = perTick.filter((x) => x !== null && Number.isFinite(x));
			return {
				pairs: list.length,
				ticks: round(sum(list.map((p) => p.running.ticks ?? 0)), 1),
				ticksWhilePaused: round(sum(list.map((p) => p.paused.ticks ?? 0)), 1),
				joins: sum(list.map((p) => p.running.joins)),
				refreshes: sum(list.map((p) => p.running.refreshes ?? 0)),
				pausedCpuPerSecondMs: round(median(list.map((p) => p.paused.cpu / p.paused.seconds)), 1),
				runningCpuPerSecondMs: round(median(list.map((p) => p.running.cpu / p.running.seconds)), 1),
				perTickMs: good.length ? round(median(good), 3) : null,
				perTickRange: good.length ? [round(Math.min(...good), 3), round(Math.max(...good), 3)] : null,
			};
		};
		const row = { lines, quiet: summarize(pairs.quiet), withJoins: summarize(pairs.withJoins) };
		// The model takes the larger of the two: a busy tick also lays out blocks; noise can make either one low.
		const candidates = [row.quiet?.perTickMs, row.withJoins?.perTickMs].filter((x) => x !== null && x !== undefined && Number.isFinite(x));
		row.modelMs = candidates.length ? round(Math.max(...candidates), 3) : null;
		log(`  ${lines} line(s): ${row.quiet?.perTickMs ?? "-"} ms per quiet tick, ${row.withJoins?.perTickMs ?? "-"} ms per tick with joins`);
		await closeOpen();
		return row;
	}
	return {
		method:
			"the Worker's workerd CPU in a window with the drop running minus, at the same rate, a window with it paused (same joins, if any), " +
			"divided by the seal calls each line served, median of pairs; the whole process, so the lines' and the shard's side of the tick's calls are in it",
		rows,
	};
}

/**
 * The pacer's CPU per watermark read, without the caches in the way: a second
 * engine with WATERMARK_CACHE_MS=0 (every public view asks the pacer), a drop
 * of 16 lines with a few hundred fans placed and admitted in batches, then
 * `CPU_CALLS` sequential public views against as many health requests, in
 * alternating blocks. The difference is the pacer's read and the Worker's
 * side of the call: an upper bound on the pacer's share.
 */
async function measureWatermarkRead(recorder, stamp) {
	const port = Number(flags.port) + 1;
	log(`watermark read: a second engine on port ${port} with WATERMARK_CACHE_MS=0, so every public view asks the pacer`);
	engine = await startEngine({ port, vars: { WATERMARK_CACHE_MS: "0", JOIN_RATE_PER_FAN: "0", JOIN_RATE_PER_IP: "0" }, log, root: engineRoot() });
	const client = createHttpClient({ baseUrl: engine.baseUrl, connections: 64, recorder });
	try {
		const call = (method, path, opts = {}) => client.request(request(method, engine.baseUrl + path, { step: opts.step ?? "bench", ...opts }));
		const probe = cpuProbe(client, call);
		if (probe === null) return null;
		const cfg = { baseUrl: engine.baseUrl, adminToken: engine.adminToken };
		const lines = 16;
		const drop = await runAsync(
			createDrop(client, cfg, {
				name: `bench watermark ${stamp}`,
				capacity: 1_000_000,
				maxPerFan: 4,
				opensAt: new Date(Date.now() - 1000).toISOString(),
				shards: 4,
				lines,
				admission: { batchSize: 40, intervalMs: 250, activeMultiple: 20 },
				holdSeconds: 600,
			}),
			client,
		);
		// Fans in several slots and lines, admitted in several batches: a document with placements and batches to publish.
		const fans = 400;
		for (let b = 0; b < 8; b++) {
			await Promise.all(
				Array.from({ length: fans / 8 }, (_, i) =>
					call("POST", `/api/drops/${drop.id}/join`, { headers: { "content-type": "application/json" }, json: { fanId: `bw${stamp}-${b}-${i}` }, step: "join" }),
				),
			);
			await client.sleep(300);
		}
		for (let i = 0; i < 100; i++) await call("GET", "/api/health", { step: "warm-up" });
		await client.sleep(3000);
		const measure = async () => {
			const idlePerMs = Math.min(await probe.idleRate(2000), await probe.idleRate(2000));
			const audit0 = await objectLoad(call, { authorization: `Bearer ${engine.adminToken}` }, drop.id);
			const perBlock = async (n, fn) => {
				const before = probe.measured([probe.worker]);
				const t = performance.now();
				for (let i = 0; i < n; i++) await fn();
				return (probe.measured([probe.worker]) - before - idlePerMs * (performance.now() - t)) / n;
			};
			const blocks = { view: [], health: [] };
			let views = 0;
			for (let from = 0; from < CPU_CALLS; from += CPU_BLOCK) {
				const n = Math.min(CPU_BLOCK, CPU_CALLS - from);
				blocks.health.push(await perBlock(n, () => call("GET", "/api/health", { step: "cpu health" })));
				blocks.view.push(
					await perBlock(n, async () => {
						const res = await call("GET", `/api/drops/${drop.id}`, { step: "cpu public view" });
						if (res.status !== 200) throw new Error(`the public view failed during the watermark measurement: ${res.status} ${res.body}`);
						views++;
					}),
				);
			}
			const audit1 = await objectLoad(call, { authorization: `Bearer ${engine.adminToken}` }, drop.id);
			return { idlePerMs, audit0, audit1, blocks, views };
		};
		const { idlePerMs, audit0, audit1, blocks, views } = await againOnReload(probe, "the watermark read", measure);
		const v = median(blocks.view);
		const h = median(blocks.health);
		const fairness = json(await call("GET", `/api/drops/${drop.id}/fairness`, { step: "admin" }));
		return {
			method:
				`second engine with WATERMARK_CACHE_MS=0: ${views} sequential GET /api/drops/:id (each a pacer read) against as many GET /api/health, ` +
				`blocks of ${CPU_BLOCK} alternating, median block; read = view − health (the pacer's read plus the Worker's side of the call)`,
			lines,
			fans,
			placed: fairness?.lastPosition ?? null,
			admitted: fairness?.admittedThrough ?? null,
			idleCpuPerSecondMs: round(idlePerMs * 1000, 2),
			publicViewMs: round(v, 3),
			healthMs: round(h, 3),
			readMs: round(Math.max(0, v - h), 3),
			blocks: { view: blocks.view.map((x) => round(x, 3)), health: blocks.health.map((x) => round(x, 3)) },
			pacerCalls: audit0 && audit1 ? audit1.room - audit0.room - 1 : null,
			views,
			engineReloads: probe.reloads,
		};
	} finally {
		client.close();
		await stopEngine();
	}
}

function fmt(ms) {
	return ms === null || ms === undefined ? "-" : ms >= 1000 ? `${(ms / 1000).toFixed(2)}s` : `${ms.toFixed(1)}ms`;
}

function int(x) {
	return x === null || x === undefined ? "-" : Math.round(x).toLocaleString("en-US");
}

function ms3(x) {
	return x === null || x === undefined ? "-" : Number(x).toFixed(3);
}

function printReport(r) {
	const p = r.phases;
	const out = [""];
	out.push(`  machine: ${r.machine.cores} cores (${r.machine.model}), load average ${r.machine.loadAverage.map((x) => x.toFixed(1)).join(" ")}`);
	const src = r.engineSource;
	if (src?.commit) {
		out.push(
			`  engine: ${src.snapshot ? "a copy of the sources taken at the start" : "the working tree"} (commit ${src.commit}, ${src.changedFiles} engine file(s) changed since)`,
		);
	}
	out.push(`  ${r.settings.connections} connections, ${r.settings.durationSeconds}s per phase; joins, sales and journeys in drops of ${r.settings.lines} line(s) and 4 shards`);
	out.push("");
	out.push("  | phase | ops/s | p50 | p99 | ops/s ÷ health | p50 ÷ health | p99 ÷ health |");
	out.push("  |---|---:|---:|---:|---:|---:|---:|");
	const row = (name, ph, unit) =>
		out.push(
			`  | ${name} | ${ph.perSecond.toFixed(0)} ${unit} | ${fmt(ph.p50)} | ${fmt(ph.p99)} | ${ph.vsHealth ? ph.vsHealth.throughput.toFixed(3) : "1"} | ${ph.vsHealth ? ph.vsHealth.p50 : "1"} | ${ph.vsHealth ? ph.vsHealth.p99 : "1"} |`,
		);
	row("GET /api/health (baseline)", p.health, "req/s");
	row(`join (${p.join.lines} line${p.join.lines === 1 ? "" : "s"})`, p.join, "joins/s");
	row("status poll (waiting fan)", p.status, "polls/s");
	row("status poll (admitted: access grant)", p.accessGrant, "polls/s");
	row("hold + purchase", p.holdPurchase, "sales/s");
	if (p.seatedHoldPurchase) row("seated hold (best available) + purchase", p.seatedHoldPurchase, "sales/s");
	row(`whole journey (${p.journey.concurrentFans} fans at once)`, p.journey, "fans/s");
	out.push("");
	const failures = ["join", "status", "accessGrant", "holdPurchase", "seatedHoldPurchase", "journey"].filter((k) => p[k].failed > 0).map((k) => `${k} ${p[k].failed}`);
	if (failures.length) out.push(`  failed operations (not in the figures above): ${failures.join(", ")}`);
	out.push(`  hold p50 ${fmt(p.holdPurchase.hold.p50)} p99 ${fmt(p.holdPurchase.hold.p99)}; purchase p50 ${fmt(p.holdPurchase.purchase.p50)} p99 ${fmt(p.holdPurchase.purchase.p99)}`);
	const sp = p.seatedHoldPurchase;
	if (sp) out.push(`  seated: hold p50 ${fmt(sp.hold.p50)} p99 ${fmt(sp.hold.p99)}; purchase p50 ${fmt(sp.purchase.p50)} p99 ${fmt(sp.purchase.p99)} (${sp.seats} seats in ${sp.sections} sections)`);
	out.push(`  journey: ${p.journey.requestsPerSecond.toFixed(0)} requests/s while ${p.journey.concurrentFans} fans were in flight`);
	out.push(`  status polls cycled over ${p.status.fans} waiting fans (${p.status.placed} placed beforehand) and ${p.accessGrant.fans} admitted fans (${p.accessGrant.withoutGrant} answers without a grant)`);
	const calls = (name, c) =>
		c
			? `  object calls per ${name}: room ${c.roomPerRequest} (${c.room} watermark reads in ${c.requests} polls: ${c.roomPerSecond}/s), lines ${c.linesPerRequest}, shards ${c.shardsPerRequest}` +
				` (left out as the pacer's own: seal calls per line ${c.pacerCallsPerLine}, totals calls per shard ${c.pacerCallsPerShard})`
			: `  object calls per ${name}: - (no load in the audit)`;
	out.push(calls("waiting poll", p.status.objectCalls));
	out.push(calls("admitted poll", p.accessGrant.objectCalls));
	const jl = p.journey.load;
	if (jl) {
		out.push(
			`  journey drop, calls per fan who joined (${jl.fans} fans, pacer and audit included): room ${jl.perFan.room}, lines ${jl.perFan.lines} (hottest line ${jl.hottestLinePerFan}), ` +
				`shards ${jl.perFan.shards} (hottest shard ${jl.hottestShardPerFan}); hottest object: ${jl.hottest ? `${jl.hottest.kind} ${jl.hottest.index}, ${jl.hottest.perFan} per fan` : "-"}`,
		);
	}
	if (r.cpu) {
		const c = r.cpu.perRequestMs;
		out.push("");
		out.push(`  idle burn of the Worker's workerd: ${r.cpu.idleCpuPerSecondMs} ms of CPU per second (subtracted below)`);
		out.push(
			`  CPU per request (ms, Worker's workerd, median of ${r.settings.cpuRounds} rounds of ${r.settings.cpuCalls}): health ${c.health}, hold refused ${c.holdRefused}, hold ${c.hold}, ` +
				`purchase refused ${c.purchaseRefused}, purchase (to D1) ${c.purchase}, join (new fan, 1 line) ${c.join}, rejoin ${c.rejoin}` +
				(c.proxyHealth !== null ? `; the proxy's workerd per health request ${c.proxyHealth}` : ""),
		);
		out.push(
			`  inside the shard: hold ${r.cpu.shardMs.hold} ms (rounds ${r.cpu.shardMsRange.hold.join("..")}), purchase ${r.cpu.shardMs.purchase} ms ` +
				`(rounds ${r.cpu.shardMsRange.purchase.join("..")}; one call: quote, charge, order; upper bound: includes the Queue send and D1 write)`,
		);
		out.push(
			`  at the line: join ${r.cpu.lineMs.join} ms (rounds ${r.cpu.lineMsRange.join.join("..")}) = join − health. No join is refused in the Worker between the ` +
				`watermark lookup and the line call, so the health request is the baseline: an upper bound, with the Worker's token signing and watermark lookup in it. ` +
				`join − rejoin (the line's insert alone, a lower bound): ${r.cpu.lineMs.joinLowerBound} ms (rounds ${r.cpu.lineMsRange.joinLowerBound.join("..")})`,
		);
		if (r.cpu.ticks) {
			const pair = r.settings.tickSeconds / r.settings.tickRepeats;
			out.push("");
			out.push(
				`  pacer ticks (one shard, fans waiting; per figure ${r.settings.tickRepeats} pairs of ${pair}s windows, the drop paused against running, the paused rate subtracted, ` +
					"so the joins' own CPU and their watermark refreshes cancel; the whole process, so the lines' side of the seal calls is in it):",
			);
			out.push("");
			out.push("  | lines | quiet: ticks (while paused) | quiet: ms per tick (pairs) | with joins: joins, refreshes, ticks | with joins: ms per tick (pairs) | model uses |");
			out.push("  |---:|---:|---:|---:|---:|---:|");
			const rng = (x) => (x?.perTickRange ? ` (${x.perTickRange.join("..")})` : "");
			for (const t of r.cpu.ticks.rows) {
				const q = t.quiet;
				const j = t.withJoins;
				out.push(
					`  | ${t.lines} | ${q ? `${q.ticks} (${q.ticksWhilePaused})` : "-"} | ${ms3(q?.perTickMs)}${rng(q)} | ${j ? `${j.joins}, ${j.refreshes}, ${j.ticks}` : "-"} | ${ms3(j?.perTickMs)}${rng(j)} | ${ms3(t.modelMs)} |`,
				);
			}
		}
		const w = r.cpu.watermark;
		out.push(
			w
				? `  pacer's watermark read (second engine, WATERMARK_CACHE_MS=0; drop of ${w.lines} lines, ${w.placed} fans placed, ${w.admitted} admitted): ` +
						`public view ${w.publicViewMs} ms − health ${w.healthMs} ms = ${w.readMs} ms per read (${w.pacerCalls ?? "?"} pacer calls for ${w.views} views; upper bound: the Worker's side of the call is in it)`
				: "  pacer's watermark read: not measured",
		);
	}
	printCapacity(out, r.capacity, r.cpu !== null);
	if (r.engineReloads) {
		out.push("");
		out.push(
			`  the engine's workerd restarted ${r.engineReloads} time(s) during the run (wrangler dev reloads when a watched source file changes); ` +
				"CPU measurements caught in a restart were made again, phase figures were not",
		);
	}
	out.push(...afterSaleLines(r.afterSale));
	out.push(...webhookLines(r.webhooks));
	const bad = Object.entries(r.unexpectedStatuses);
	out.push("");
	out.push(
		bad.length
			? `  responses other than 2xx (by step; the CPU baselines' own refusals left out): ${bad.map(([step, s]) => `${step} ${Object.entries(s).map(([k, v]) => `${k}×${v}`).join(" ")}`).join("; ")}`
			: "  every response was 2xx (the CPU baselines' own refusals left out)",
	);
	process.stdout.write(out.join("\n") + "\n");
}

/** From the first sale to the last ticket: each stage's limit, which binds first, and the follow-up beside it. */
function printTicketPath(out, t) {
	out.push("");
	out.push(
		`  From the first sale to the last ticket (${t.shards} shards selling ${int(t.sellPerSecond)} orders/s; a ticket is signed at the order's read once its row is in D1; ` +
			`D1 assumed ${t.d1BatchMs} ms per consumer batch; email ${t.emailsPerSecond === null ? "rate unknown (a daily quota per account)" : `${int(t.emailsPerSecond)}/s`}):`,
	);
	out.push("");
	out.push("  | tickets | orders | shards / Queue / D1 (orders/s) | binds first | sold in | last ticket | with a Workflow per order (before) | receipts done |");
	out.push("  |---:|---:|---|---|---:|---:|---:|---:|");
	for (const r of t.rows) {
		out.push(
			`  | ${int(r.tickets)} | ${int(r.orders)} | ${r.stages.map((s) => int(s.perSecond)).join(" / ")} | ${r.bindsFirst} | ${r.sellSeconds} s | ${r.lastTicketSeconds} s | ${r.perOrderWorkflowSeconds} s | ${r.followUp.seconds} s (${r.followUp.limitedBy}) |`,
		);
	}
}

function printCapacity(out, m, measured) {
	const a = m.assumptions;
	out.push("");
	out.push(
		`  Capacity model per drop on Cloudflare: about ${int(a.doRequestsPerSecond)} requests/s per Durable Object, or 1,000 / (CPU ms per call) when lower` +
			(measured ? " (CPU measured here, above)" : " (no CPU figures: request limits only)") +
			"; calls per fan: a join 1 at the fan's line; a status poll and the access grant 0 (the Worker answers from the token and the cached watermark); " +
			"a hold 1 and a purchase 1 at the fan's home shard (plus peer calls when it runs dry); the pacer works per tick and per data center, never per fan.",
	);
	out.push("");
	out.push(`  one line: ${int(m.perLine.byRequests)} joins/s by requests, ${int(m.perLine.byCpu)} by CPU → ${int(m.perLine.joinsPerSecond)} (${m.perLine.limitedBy})`);
	out.push("");
	out.push(`  | lines | joins/s per drop | limited by | ≥ ${int(a.targets.joinsPerSecond)} |`);
	out.push("  |---:|---:|---|---|");
	for (const j of m.joins) out.push(`  | ${j.lines} | ${int(j.joinsPerSecond)} | ${j.limitedBy} | ${j.meetsTarget ? "yes" : "no"} |`);
	out.push("");
	out.push(
		`  one shard: ${int(m.perShard.byRequests)} buyers/s by requests (2 calls each), ${int(m.perShard.byCpu)} by CPU → ${int(m.perShard.buyersPerSecond)} (${m.perShard.limitedBy})`,
	);
	out.push("");
	out.push(`  | shards | buyers/s the shards take | buyers/s per drop | limited by | ≥ ${int(a.targets.buyersPerSecond)} | 100,000 tickets (${a.ticketsPerOrder} per order) sell out in |`);
	out.push("  |---:|---:|---:|---|---|---:|");
	for (const b of m.buyers) {
		out.push(`  | ${b.shards} | ${int(b.byShards)} | ${int(b.buyersPerSecond)} | ${b.limitedBy} | ${b.meetsTarget ? "yes" : b.shardsMeetTarget ? "shards yes, drop no" : "no"} | ${b.sellOut100kSeconds} s |`);
	}
	out.push("");
	out.push(
		`  pacer: ${a.ticksPerSecond} ticks/s + ${int(a.watermarkReadsPerSecond)} watermark reads/s (${a.watermarkReadsNote}; ${int(a.dataCenters)} data centers assumed) ` +
			`= ${int(m.pacer.requestsPerSecond)} requests/s, ${m.pacer.underLimit ? "under" : "OVER"} ${int(a.doRequestsPerSecond)}; each line takes ${a.ticksPerSecond} seal calls/s from it`,
	);
	if (m.pacer.rows.some((p) => p.tickMs !== null)) {
		const f = m.pacer.tickFit;
		out.push(
			`  pacer CPU: tick ≈ ${f ? `${f.intercept.toFixed(2)} + ${f.slope.toFixed(3)} × lines` : "-"} ms; watermark read ${m.pacer.watermarkReadMs ?? "-"} ms` +
				(m.pacer.watermarkReadMs === null ? " (not measured: left out)" : ""),
		);
		out.push("");
		out.push("  | lines | CPU per tick | pacer CPU per second (ticks + reads) | share of one object |");
		out.push("  |---:|---:|---:|---:|");
		for (const p of m.pacer.rows) {
			out.push(`  | ${p.lines} | ${ms3(p.tickMs)} ms${p.tickMeasured ? "" : " (fit)"} | ${p.cpuMsPerSecond === null ? "-" : p.cpuMsPerSecond.toFixed(1)} ms | ${p.cpuShare === null ? "-" : `${(p.cpuShare * 100).toFixed(1)} %`} |`);
		}
	}
	printTicketPath(out, m.tickets);
	out.push("");
	for (const v of m.verdict) out.push(`  ${v}`);
	out.push(`  (targets: ${int(TARGETS.joinsPerSecond)} joins/s and ${int(TARGETS.buyersPerSecond)} buyers/s per drop; one Queue: ${int(QUEUE_MESSAGES_PER_SECOND)} messages/s of up to 25 sales; CPU figures from this machine, not Cloudflare's)`);
}
