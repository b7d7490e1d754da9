#!/usr/bin/env node
// `npm run bench`: one run against a local engine that measures, side by side,
//   - GET /api/health (the baseline: the Worker and the local HTTP path, nothing else),
//   - join, status poll, hold+purchase and the whole fan journey: throughput and
//     p50/p99, each also as a ratio to the baseline of the same run,
//   - the CPU time one hold and one purchase cost inside a shard, from the
//     engine's own CPU counters (sequential calls against one shard, minus the
//     same requests refused before they reach the shard),
// and turns the CPU figures into the capacity table of README.md ("Load tests and benchmarks"):
// purchases per second a drop can take on Cloudflare by shard count, and the
// time a 100,000-ticket drop takes to sell out.
//
//   npm run bench                          (starts its own engine on --port, default 8800)
//   npm run bench -- --duration 10 --connections 32
//   npm run bench -- --base-url http://127.0.0.1:8787   (no CPU figures: the engine's pids are unknown)
//
// Absolute numbers depend on the machine and on what else runs on it; the
// ratios to the baseline are what carries over. See "Load tests and benchmarks" in README.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createDrop, json, request, runAsync } from "../loadtest/lib/journey.js";
import { ROOT, adminTokenFromEnv, commandOf, cpuMs, createHttpClient, descendantPids, latencyStats, startEngine } from "../loadtest/lib/node-client.mjs";

const { values: flags } = parseArgs({
	options: {
		"base-url": { type: "string" },
		"admin-token": { type: "string" },
		port: { type: "string", default: process.env.PORT ?? "8800" },
		duration: { type: "string", default: "8" },
		connections: { type: "string", default: "32" },
		"cpu-calls": { type: "string", default: "400" },
		"cpu-rounds": { type: "string", default: "5" },
		"tickets-per-order": { type: "string", default: "2" },
		report: { type: "string" },
		help: { type: "boolean", short: "h", default: false },
	},
});
if (flags.help) {
	process.stdout.write(
		"usage: npm run bench -- [--base-url URL] [--port N] [--duration S] [--connections N] [--cpu-calls N] [--cpu-rounds N] [--tickets-per-order N] [--report FILE]\n",
	);
	process.exit(0);
}

const DURATION_MS = Number(flags.duration) * 1000;
const CONNECTIONS = Number(flags.connections);
const CPU_CALLS = Number(flags["cpu-calls"]);
const CPU_ROUNDS = Number(flags["cpu-rounds"]);
const CPU_BLOCK = 50;
const TICKETS_PER_ORDER = Number(flags["tickets-per-order"]);
/** Cloudflare's figure for one Durable Object: about 1,000 simple requests a second. */
const DO_REQUESTS_PER_SECOND = 1000;
/** One Queue takes about 5,000 messages a second; a purchase sends one. */
const QUEUE_MESSAGES_PER_SECOND = 5000;

const log = (line) => process.stderr.write(`[bench] ${line}\n`);
let engine = null;
async function stopEngine() {
	if (engine) await engine.stop().catch(() => {});
	engine = null;
}
process.on("SIGINT", () => void stopEngine().then(() => process.exit(130)));
process.on("SIGTERM", () => void stopEngine().then(() => process.exit(143)));

try {
	let baseUrl = flags["base-url"]?.replace(/\/+$/, "");
	let adminToken = flags["admin-token"] ?? adminTokenFromEnv();
	if (!baseUrl) {
		// No join limits: the bench joins thousands of fans from one address.
		engine = await startEngine({ port: Number(flags.port), vars: { JOIN_RATE_PER_FAN: "0", JOIN_RATE_PER_IP: "0" }, log });
		baseUrl = engine.baseUrl;
		adminToken = engine.adminToken;
	}
	if (!adminToken) throw new Error("no admin token: pass --admin-token or set ADMIN_TOKEN");
	const report = await bench(baseUrl, adminToken);
	const file = flags.report ?? join(ROOT, "loadtest", "reports", `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
	mkdirSync(join(file, ".."), { recursive: true });
	writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
	process.stdout.write(`\n  report: ${file}\n\n`);
	await stopEngine();
	process.exit(0);
} catch (err) {
	process.stderr.write(`bench: ${err?.stack ?? err}\n`);
	if (engine) process.stderr.write(`--- engine output (tail) ---\n${engine.output().slice(-3000)}\n`);
	await stopEngine();
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

function ratios(phase, base) {
	return {
		throughput: round(phase.perSecond / base.perSecond, 3),
		p50: round(phase.p50 / base.p50, 2),
		p99: round(phase.p99 / base.p99, 2),
	};
}

function round(x, d = 1) {
	return x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d;
}

async function bench(baseUrl, adminToken) {
	const cfg = { baseUrl, adminToken };
	const client = createHttpClient({ baseUrl, connections: Math.max(CONNECTIONS, 64) * 4 });
	const call = (method, path, opts = {}) => client.request(request(method, baseUrl + path, { step: opts.step ?? "bench", ...opts }));
	const admin = { authorization: `Bearer ${adminToken}` };
	const stamp = Date.now().toString(36);
	const opensNow = () => new Date(Date.now() - 1000).toISOString();
	log(`engine ${baseUrl}; ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);

	// Warm-up: first requests compile code and open connections.
	await closedLoop(CONNECTIONS, 1500, async () => (await call("GET", "/api/health")).status === 200);

	// 1. Baseline.
	log(`health baseline: ${CONNECTIONS} connections for ${DURATION_MS / 1000}s`);
	const health = await closedLoop(CONNECTIONS, DURATION_MS, async () => (await call("GET", "/api/health")).status === 200);

	// 2. Joins, into a drop that is open but admits nobody (so the fans stay waiting for phase 3).
	const waitingDrop = await runAsync(
		createDrop(client, cfg, {
			name: `bench joins ${stamp}`,
			capacity: 1_000_000,
			maxPerFan: 4,
			opensAt: opensNow(),
			shards: 4,
			admission: { batchSize: 1, intervalMs: 600_000, activeMultiple: 1 },
			holdSeconds: 300,
		}),
		client,
	);
	const queueTokens = [];
	let fanNo = 0;
	log("join: new fans, one join each");
	const joinPhase = await closedLoop(CONNECTIONS, DURATION_MS, async () => {
		const res = await call("POST", `/api/drops/${waitingDrop.id}/join`, { headers: { "content-type": "application/json" }, json: { fanId: `bj${stamp}-${fanNo++}` } });
		if (res.status !== 201) return false;
		queueTokens.push(json(res).queueToken);
		return true;
	});

	// 3. Status polls of waiting fans (answered from the token and the cached watermark).
	log(`status: polls by ${queueTokens.length} waiting fans`);
	let pollNo = 0;
	const statusPhase = await closedLoop(CONNECTIONS, DURATION_MS, async () => {
		const token = queueTokens[pollNo++ % queueTokens.length];
		const res = await call("GET", `/api/drops/${waitingDrop.id}/status`, { headers: { authorization: `Bearer ${token}` } });
		return res.status === 200;
	});

	// 4. Hold + purchase by admitted fans, each buying one ticket at a time up to maxPerFan.
	const saleDrop = await runAsync(
		createDrop(client, cfg, {
			name: `bench sales ${stamp}`,
			capacity: 1_000_000,
			maxPerFan: 20,
			opensAt: opensNow(),
			shards: 4,
			admission: { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 },
			holdSeconds: 600,
		}),
		client,
	);
	const buyersNeeded = Math.ceil((Math.max(health.perSecond, 200) * DURATION_MS) / 1000 / 20 / 2) + CONNECTIONS;
	log(`hold+purchase: admitting ${buyersNeeded} fans first`);
	const buyers = await admitFans(client, baseUrl, saleDrop.id, `bs${stamp}`, buyersNeeded);
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
			headers: { authorization: auth, "content-type": "application/json", "idempotency-key": `k${slot.left}` },
			json: { quantity: 1 },
		});
		holdLat.push(performance.now() - t);
		if (hold.status !== 201) return false;
		t = performance.now();
		const paid = await call("POST", `/api/drops/${saleDrop.id}/holds/${json(hold).holdId}/purchase`, {
			headers: { authorization: auth, "content-type": "application/json" },
			json: { payment: { method: "test", token: "ok" } },
		});
		purchaseLat.push(performance.now() - t);
		return paid.status === 201;
	});

	// 5. The whole journey: join, poll at the server's pace, hold, buy; many fans at once.
	const journeyDrop = await runAsync(
		createDrop(client, cfg, {
			name: `bench journeys ${stamp}`,
			capacity: 1_000_000,
			maxPerFan: 4,
			opensAt: opensNow(),
			shards: 4,
			admission: { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 },
			holdSeconds: 600,
		}),
		client,
	);
	const journeyFans = CONNECTIONS * 8;
	log(`journey: ${journeyFans} fans at a time, each joining, polling as told, holding 2 and buying`);
	const before = client.recorder.requests;
	let journeyNo = 0;
	const journeyPhase = await closedLoop(journeyFans, DURATION_MS, async () => {
		const fan = await admitFans(client, baseUrl, journeyDrop.id, `bjn${stamp}-${journeyNo++}`, 1, true);
		if (fan.length === 0) return false;
		const auth = `Bearer ${fan[0].accessToken}`;
		const hold = await call("POST", `/api/drops/${journeyDrop.id}/holds`, {
			headers: { authorization: auth, "content-type": "application/json", "idempotency-key": "k" },
			json: { quantity: 2 },
		});
		if (hold.status !== 201) return false;
		const paid = await call("POST", `/api/drops/${journeyDrop.id}/holds/${json(hold).holdId}/purchase`, {
			headers: { authorization: auth, "content-type": "application/json" },
			json: { payment: { method: "test", token: "ok" } },
		});
		return paid.status === 201;
	});
	const journeyRequests = client.recorder.requests - before;

	// 6. CPU inside a shard.
	const cpu = engine ? await measureCpu(client, call, cfg, stamp) : null;
	client.close();

	const phases = {
		health,
		join: joinPhase,
		status: statusPhase,
		holdPurchase: { ...salePhase, hold: latencyStats(holdLat), purchase: latencyStats(purchaseLat) },
		journey: { ...journeyPhase, requestsPerSecond: journeyRequests / journeyPhase.seconds, concurrentFans: journeyFans },
	};
	for (const name of ["join", "status", "holdPurchase", "journey"]) phases[name].vsHealth = ratios(phases[name], health);
	const capacity = cpu ? capacityTable(cpu) : null;
	const report = {
		at: new Date().toISOString(),
		baseUrl,
		machine: { cores: cpus().length, model: cpus()[0]?.model, loadAverage: loadavg() },
		settings: { durationSeconds: DURATION_MS / 1000, connections: CONNECTIONS, cpuCalls: CPU_CALLS, cpuRounds: CPU_ROUNDS },
		phases,
		cpu,
		capacity,
	};
	printReport(report);
	return report;
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
					fans.push({ fanId: `${prefix}-${i}`, accessToken: body.accessToken });
					return;
				}
				wait = body.pollAfterMs ?? 500;
			}
		}),
	);
	return fans;
}

/**
 * CPU per request from the engine's CPU counters: `CPU_CALLS` sequential calls
 * of each kind against a one-shard drop, in `CPU_ROUNDS` rounds (median kept).
 * A refused request of the same shape (valid token, rejected before the shard)
 * is subtracted, leaving what the shard adds: the RPC and its SQLite
 * transaction for a hold; for a purchase, both RPCs (quote, complete), the
 * Queue send, the waiting room's note and the consumer's D1 write, so the
 * purchase figure is an upper bound on the shard's own share.
 */
async function measureCpu(client, call, cfg, stamp) {
	const tree = [engine.pid, ...descendantPids(engine.pid)];
	const workerds = tree.filter((pid) => commandOf(pid)[0]?.endsWith("workerd"));
	const port = new URL(engine.baseUrl).port;
	// wrangler runs two workerd: a proxy on the public port and the Worker itself.
	const worker = workerds.find((pid) => !commandOf(pid).some((a) => a.includes(`127.0.0.1:${port}`))) ?? workerds[0];
	if (worker === undefined) {
		log("no workerd process found under the engine; skipping CPU figures");
		return null;
	}
	const measured = (pids) => pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
	// What the engine burns with no request at all (timers, the dev inspector), per wall-clock ms,
	// once the work left over from the phases above (alarms, Queue batches) has settled.
	const idleRate = async () => {
		const cpu0 = measured([worker]);
		const t0 = performance.now();
		await client.sleep(3000);
		return Math.max(0, (measured([worker]) - cpu0) / (performance.now() - t0));
	};
	await client.sleep(5000);
	const idlePerMs = Math.min(await idleRate(), await idleRate());
	const perCall = async (pids, calls, fn) => {
		const before = measured(pids);
		const t = performance.now();
		for (let i = 0; i < calls; i++) await fn(i);
		return (measured(pids) - before - idlePerMs * (performance.now() - t)) / calls;
	};
	const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

	const rounds = { health: [], holdRefused: [], hold: [], purchaseRefused: [], purchase: [], proxyHealth: [] };
	log(`CPU: ${CPU_ROUNDS} round(s) of ${CPU_CALLS} sequential calls each, workerd pid ${worker}`);
	for (let r = 0; r < CPU_ROUNDS; r++) {
		const drop = await runAsync(
			createDrop(client, cfg, {
				name: `bench cpu ${stamp}-${r}`,
				capacity: 1_000_000,
				maxPerFan: 20,
				opensAt: new Date(Date.now() - 1000).toISOString(),
				shards: 1,
				admission: { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 },
				holdSeconds: 600,
			}),
			client,
		);
		const fans = await admitFans(client, cfg.baseUrl, drop.id, `bc${stamp}-${r}`, Math.ceil(CPU_CALLS / 20));
		const fanOf = (i) => fans[Math.floor(i / 20) % fans.length];
		const holdsPath = `/api/drops/${drop.id}/holds`;
		const auth = (i) => ({ authorization: `Bearer ${fanOf(i).accessToken}`, "content-type": "application/json" });
		const holdIds = [];

		// Kinds alternate in blocks, so a drift in the machine's state hits them alike.
		const sums = { health: 0, proxyHealth: 0, holdRefused: 0, hold: 0, purchaseRefused: 0, purchase: 0 };
		const proxy = workerds.filter((p) => p !== worker);
		for (let from = 0; from < CPU_CALLS; from += CPU_BLOCK) {
			const n = Math.min(CPU_BLOCK, CPU_CALLS - from);
			sums.health += n * (await perCall([worker], n, () => call("GET", "/api/health")));
			if (proxy.length) sums.proxyHealth += n * (await perCall(proxy, n, () => call("GET", "/api/health")));
			sums.holdRefused += n * (await perCall([worker], n, (k) => call("POST", holdsPath, { headers: { ...auth(from + k), "idempotency-key": `r${from + k}` }, json: { quantity: 0 } })));
			sums.hold +=
				n *
				(await perCall([worker], n, async (k) => {
					const res = await call("POST", holdsPath, { headers: { ...auth(from + k), "idempotency-key": `h${from + k}` }, json: { quantity: 1 } });
					if (res.status !== 201) throw new Error(`hold failed during the CPU measurement: ${res.status} ${res.body}`);
					holdIds[from + k] = json(res).holdId;
				}));
			sums.purchaseRefused += n * (await perCall([worker], n, (k) => call("POST", `${holdsPath}/${holdIds[from + k]}/purchase`, { headers: auth(from + k), json: { payment: { method: "cash", token: "ok" } } })));
			// The purchase window ends 1.5 s after the last purchase, so the Queue consumer's D1 write
			// (batches at most a second old) falls inside it.
			sums.purchase +=
				n *
				(await perCall([worker], n, async (k) => {
					const res = await call("POST", `${holdsPath}/${holdIds[from + k]}/purchase`, { headers: auth(from + k), json: { payment: { method: "test", token: "ok" } } });
					if (res.status !== 201) throw new Error(`purchase failed during the CPU measurement: ${res.status} ${res.body}`);
					if (k === n - 1) await client.sleep(1500);
				}));
		}
		const stats = json(await call("GET", `/api/admin/drops/${drop.id}`, { headers: { authorization: `Bearer ${cfg.adminToken}` } })).stats;
		if (stats.recorded !== CPU_CALLS) log(`warning: ${stats.recorded} of ${CPU_CALLS} sales in D1 at the end of the round`);
		for (const [k, v] of Object.entries(sums)) if (k !== "proxyHealth" || proxy.length) rounds[k].push(v / CPU_CALLS);
	}
	const m = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, v.length ? round(median(v), 3) : null]));
	const spread = (k) => [round(Math.min(...rounds[k]), 3), round(Math.max(...rounds[k]), 3)];
	const shardRounds = (real, refused) => rounds[real].map((v, i) => v - rounds[refused][i]);
	return {
		method:
			"CPU time of the Worker's workerd process (/proc schedstat), sequential calls, idle burn subtracted, median of rounds; shard share = call − the same call refused before the shard",
		idleCpuPerSecondMs: round(idlePerMs * 1000, 2),
		rounds,
		perRequestMs: m,
		shardMs: { hold: round(m.hold - m.holdRefused, 3), purchase: round(m.purchase - m.purchaseRefused, 3) },
		shardMsRange: {
			hold: [round(Math.min(...shardRounds("hold", "holdRefused")), 3), round(Math.max(...shardRounds("hold", "holdRefused")), 3)],
			purchase: [round(Math.min(...shardRounds("purchase", "purchaseRefused")), 3), round(Math.max(...shardRounds("purchase", "purchaseRefused")), 3)],
		},
		perRequestRange: Object.fromEntries(Object.keys(rounds).filter((k) => rounds[k].length).map((k) => [k, spread(k)])),
	};
}

/**
 * Purchases per second by shard count. Each purchase makes three requests to
 * the fan's home shard (hold, quote, complete), so one shard is held to
 * 1,000 / 3 by request count and to 1,000 ms / (hold + purchase CPU) by CPU;
 * the lower bound counts. Shards add up until the single waiting room (two
 * calls per buying fan: access grant and completion) or the Queue caps them.
 */
function capacityTable(cpu) {
	const perShardByRequests = DO_REQUESTS_PER_SECOND / 3;
	const perShardByCpu = 1000 / Math.max(0.001, cpu.shardMs.hold + cpu.shardMs.purchase);
	const perShard = Math.min(perShardByRequests, perShardByCpu);
	const roomCap = DO_REQUESTS_PER_SECOND / 2;
	const rows = [1, 2, 4, 8, 16, 32, 64].map((shards) => {
		const byShards = shards * perShard;
		const purchasesPerSecond = Math.min(byShards, roomCap, QUEUE_MESSAGES_PER_SECOND);
		const orders = 100_000 / TICKETS_PER_ORDER;
		return {
			shards,
			byShards: Math.round(byShards),
			purchasesPerSecond: Math.round(purchasesPerSecond),
			limitedBy: purchasesPerSecond === byShards ? "shards" : purchasesPerSecond === roomCap ? "waiting room" : "queue",
			sellOut100kSeconds: Math.round(orders / purchasesPerSecond),
			sellOut100kShardsOnlySeconds: Math.round(orders / Math.min(byShards, QUEUE_MESSAGES_PER_SECOND)),
		};
	});
	return {
		assumptions: {
			doRequestsPerSecond: DO_REQUESTS_PER_SECOND,
			shardRequestsPerPurchase: 3,
			roomRequestsPerBuyer: 2,
			queueMessagesPerSecond: QUEUE_MESSAGES_PER_SECOND,
			ticketsPerOrder: TICKETS_PER_ORDER,
		},
		perShard: { byRequests: Math.round(perShardByRequests), byCpu: Math.round(perShardByCpu) },
		rows,
	};
}

function fmt(ms) {
	return ms === null || ms === undefined ? "-" : ms >= 1000 ? `${(ms / 1000).toFixed(2)}s` : `${ms.toFixed(1)}ms`;
}

function printReport(r) {
	const p = r.phases;
	const out = [""];
	out.push(`  machine: ${r.machine.cores} cores (${r.machine.model}), load average ${r.machine.loadAverage.map((x) => x.toFixed(1)).join(" ")}`);
	out.push(`  ${r.settings.connections} connections, ${r.settings.durationSeconds}s per phase`);
	out.push("");
	out.push("  | phase | ops/s | p50 | p99 | ops/s ÷ health | p50 ÷ health | p99 ÷ health |");
	out.push("  |---|---:|---:|---:|---:|---:|---:|");
	const row = (name, ph, unit) =>
		out.push(
			`  | ${name} | ${ph.perSecond.toFixed(0)} ${unit} | ${fmt(ph.p50)} | ${fmt(ph.p99)} | ${ph.vsHealth ? ph.vsHealth.throughput.toFixed(3) : "1"} | ${ph.vsHealth ? ph.vsHealth.p50 : "1"} | ${ph.vsHealth ? ph.vsHealth.p99 : "1"} |`,
		);
	row("GET /api/health (baseline)", p.health, "req/s");
	row("join", p.join, "joins/s");
	row("status poll (waiting)", p.status, "polls/s");
	row("hold + purchase", p.holdPurchase, "sales/s");
	row(`whole journey (${p.journey.concurrentFans} fans at once)`, p.journey, "fans/s");
	out.push("");
	out.push(`  hold p50 ${fmt(p.holdPurchase.hold.p50)} p99 ${fmt(p.holdPurchase.hold.p99)}; purchase p50 ${fmt(p.holdPurchase.purchase.p50)} p99 ${fmt(p.holdPurchase.purchase.p99)}`);
	out.push(`  journey: ${p.journey.requestsPerSecond.toFixed(0)} requests/s while ${p.journey.concurrentFans} fans were in flight`);
	if (r.cpu) {
		const c = r.cpu.perRequestMs;
		out.push("");
		out.push(`  idle burn of the Worker's workerd: ${r.cpu.idleCpuPerSecondMs} ms of CPU per second (subtracted below)`);
		out.push(`  CPU per request (ms, Worker's workerd): health ${c.health}, hold refused ${c.holdRefused}, hold ${c.hold}, purchase refused ${c.purchaseRefused}, purchase (to D1) ${c.purchase}`);
		out.push(
			`  inside the shard: hold ${r.cpu.shardMs.hold} ms (rounds ${r.cpu.shardMsRange.hold.join("..")}), purchase ${r.cpu.shardMs.purchase} ms ` +
				`(rounds ${r.cpu.shardMsRange.purchase.join("..")}; upper bound: includes Queue send and D1 write)`,
		);
		const t = r.capacity;
		out.push("");
		out.push(`  one shard: ${t.perShard.byRequests} purchases/s by request count (3 per purchase), ${t.perShard.byCpu} by CPU`);
		out.push("");
		out.push("  | shards | purchases/s (shards) | purchases/s (drop) | limited by | 100,000 tickets sell out in |");
		out.push("  |---:|---:|---:|---|---:|");
		for (const row of t.rows) {
			out.push(`  | ${row.shards} | ${row.byShards} | ${row.purchasesPerSecond} | ${row.limitedBy} | ${row.sellOut100kSeconds} s |`);
		}
		out.push(`  (${t.assumptions.ticketsPerOrder} tickets per order; about ${DO_REQUESTS_PER_SECOND} requests/s per Durable Object)`);
	}
	process.stdout.write(out.join("\n") + "\n");
}
