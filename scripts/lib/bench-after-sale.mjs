// The bench's after-sale comparison: the checkout (hold + purchase) with the
// post-sale path off and on (ORDER_WORKFLOWS), side by side in one run.
//
// With it on, the sales consumer queues one follow-up message per order and the
// follow-up Queue's consumer confirms, stores the tickets and sends the receipt
// per batch (src/after-sale/follow-up.ts). Locally that consumer runs inside the
// same workerd as the checkout, on the same cores: what the comparison shows is
// the competition for the CPU. Each mode runs on a fresh engine of its own
// ("off", then "on"), with the same drop, the same fans and at most `maxOrders`
// sales, and measures for each: sales/s, hold and purchase latency, the Worker
// process's CPU per sale during the sales, the CPU after them until every order
// is in D1 (and, with the path on, ticketed), and the process's resident memory
// per order.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createDrop, json, orderStatuses, request, runAsync } from "../../loadtest/lib/journey.js";
import { createHttpClient, latencyStats } from "../../loadtest/lib/node-client.mjs";
import { cpuMs, startEngine } from "./engine.mjs";

export const AFTER_SALE_MODES = ["off", "on"];

/** The resident memory of a process, in MB (null when it is gone). */
function rssMb(pid) {
	try {
		const line = readFileSync(`/proc/${pid}/status`, "utf8")
			.split("\n")
			.find((l) => l.startsWith("VmRSS:"));
		return line ? Number(line.split(/\s+/)[1]) / 1024 : null;
	} catch {
		return null;
	}
}

const round = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/**
 * Both modes, one after the other, each on its own engine on `port`.
 * `o`: { port, root, vars, log, track(engine|null), workerOf(engine) -> pid|null, admitFans, closedLoop,
 *        connections, durationMs, maxOrders, lines, drainMs, stamp }.
 */
export async function compareAfterSale(o) {
	const runs = {};
	for (const mode of AFTER_SALE_MODES) runs[mode] = await afterSaleRun(mode, o);
	const ratio = (f) => {
		const off = f(runs.off);
		const on = f(runs.on);
		return off && on !== null && on !== undefined ? round(on / off, 2) : null;
	};
	return {
		method:
			`a fresh engine per mode (ORDER_WORKFLOWS off, then on), the same drop and fans, hold + purchase by ${o.connections} connections for up to ` +
			`${o.durationMs / 1000}s or ${o.maxOrders} sales; CPU of the Worker's workerd (the Workflows run there too locally), its idle burn subtracted`,
		maxOrders: o.maxOrders,
		off: runs.off,
		on: runs.on,
		onVsOff: {
			salesPerSecond: ratio((r) => r.perSecond),
			holdP50: ratio((r) => r.hold.p50),
			holdP99: ratio((r) => r.hold.p99),
			purchaseP50: ratio((r) => r.purchase.p50),
			purchaseP99: ratio((r) => r.purchase.p99),
			cpuPerSaleMs: ratio((r) => r.cpuPerSaleMs),
			cpuPerOrderWithDrainMs: ratio((r) => r.cpuPerOrderWithDrainMs),
		},
	};
}

async function afterSaleRun(mode, o) {
	o.log(`after-sale: an engine on port ${o.port} with ORDER_WORKFLOWS=${mode}`);
	const engine = await startEngine({ port: o.port, vars: { ...o.vars, ORDER_WORKFLOWS: mode }, log: o.log, root: o.root });
	o.track(engine);
	const client = createHttpClient({ baseUrl: engine.baseUrl, connections: Math.max(o.connections, 64) * 4 });
	try {
		const baseUrl = engine.baseUrl;
		const cfg = { baseUrl, adminToken: engine.adminToken };
		const call = (method, path, opts = {}) => client.request(request(method, baseUrl + path, { step: opts.step ?? "after-sale", ...opts }));
		const drop = await runAsync(
			createDrop(client, cfg, {
				name: `bench after-sale ${mode} ${o.stamp}`,
				capacity: 1_000_000,
				opensAt: new Date(Date.now() - 1000).toISOString(),
				maxPerFan: 20,
				shards: 4,
				lines: o.lines,
				admission: { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 },
				holdSeconds: 600,
			}),
			client,
		);
		const buyers = await o.admitFans(client, baseUrl, drop.id, `ba${mode}${o.stamp}`, Math.ceil(o.maxOrders / 20) + o.connections);
		if (buyers.length === 0) throw new Error(`after-sale (${mode}): no fan was admitted`);
		await o.closedLoop(o.connections, 1500, async () => (await call("GET", "/api/health", { step: "warm-up" })).status === 200);
		const worker = o.workerOf(engine);
		if (worker === null) throw new Error(`after-sale (${mode}): no workerd process found under the engine`);
		const cpu0Idle = cpuMs(worker);
		const tIdle = performance.now();
		await client.sleep(2000);
		const idlePerMs = Math.max(0, (cpuMs(worker) - cpu0Idle) / (performance.now() - tIdle));
		const rss0 = rssMb(worker);

		// The sales: each connection has fans of its own, each buying one ticket at a time.
		const mine = Array.from({ length: o.connections }, (_, w) => buyers.filter((_, i) => i % o.connections === w).map((fan) => ({ fan, left: 20 })));
		const holdLat = [];
		const purchaseLat = [];
		let started = 0;
		const cpu0 = cpuMs(worker);
		const t0 = performance.now();
		const loop = await o.closedLoop(o.connections, o.durationMs, async (w) => {
			const slot = mine[w].find((s) => s.left > 0);
			if (slot === undefined || started >= o.maxOrders) return null;
			started++;
			slot.left--;
			const headers = { authorization: `Bearer ${slot.fan.accessToken}`, "content-type": "application/json" };
			let t = performance.now();
			const hold = await call("POST", `/api/drops/${drop.id}/holds`, { headers: { ...headers, "idempotency-key": `a${slot.left}` }, json: { quantity: 1 }, step: "hold" });
			holdLat.push(performance.now() - t);
			if (hold.status !== 201) return false;
			t = performance.now();
			const paid = await call("POST", `/api/drops/${drop.id}/holds/${json(hold).holdId}/purchase`, { headers, json: { payment: { method: "test", token: "ok" } }, step: "purchase" });
			purchaseLat.push(performance.now() - t);
			return paid.status === 201;
		});
		// As in the CPU rounds: 1.5 s more, so the Queue consumer's D1 write of the last sales is in the window.
		await client.sleep(1500);
		const cpu1 = cpuMs(worker);
		const t1 = performance.now();
		const sales = loop.ops;

		// The drain: every sale in D1, and with Workflows on every order ticketed (bounded).
		let seen = null;
		const deadline = t1 + o.drainMs;
		for (;;) {
			seen = await runAsync(orderStatuses(client, cfg, drop.id), client);
			const done = seen.orders >= sales && (mode === "off" || seen.ticketed >= seen.orders);
			if (done || performance.now() > deadline) break;
			await client.sleep(1000);
		}
		const cpu2 = cpuMs(worker);
		const t2 = performance.now();
		const rss2 = rssMb(worker);
		const perSale = (cpu, ms) => (sales > 0 ? round((cpu - idlePerMs * ms) / sales, 2) : null);
		const result = {
			mode,
			sales,
			failed: loop.failed,
			seconds: round(loop.seconds, 2),
			perSecond: round(loop.perSecond, 1),
			hold: latencyStats(holdLat),
			purchase: latencyStats(purchaseLat),
			idleCpuPerSecondMs: round(idlePerMs * 1000, 1),
			cpuPerSaleMs: perSale(cpu1 - cpu0, t1 - t0),
			drainSeconds: round((t2 - t1) / 1000, 1),
			drained: seen.orders >= sales && (mode === "off" || seen.ticketed >= seen.orders),
			cpuPerOrderAfterMs: perSale(cpu2 - cpu1, t2 - t1),
			cpuPerOrderWithDrainMs: perSale(cpu2 - cpu0, t2 - t0),
			orders: seen.orders,
			ticketed: seen.ticketed,
			byStatus: seen.byStatus,
			rssMb: { before: round(rss0), after: round(rss2) },
			rssKbPerOrder: rss0 !== null && rss2 !== null && seen.orders > 0 ? round(((rss2 - rss0) * 1024) / seen.orders, 1) : null,
		};
		o.log(
			`after-sale (${mode}): ${sales} sales at ${result.perSecond}/s, CPU ${result.cpuPerSaleMs} ms per sale, ` +
				`${seen.orders} orders in D1 (${JSON.stringify(seen.byStatus)}) after ${result.drainSeconds}s of drain`,
		);
		return result;
	} finally {
		client.close();
		await engine.stop().catch(() => {});
		o.track(null);
	}
}

const fmt = (ms) => (ms === null || ms === undefined ? "-" : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);
const num = (x, unit = "") => (x === null || x === undefined ? "-" : `${x}${unit}`);

/** The comparison as report lines. */
export function afterSaleLines(a) {
	if (!a) return [];
	const { off, on, onVsOff: k } = a;
	const out = ["", "  checkout with the post-sale path off and on (ORDER_WORKFLOWS; " + a.method + "):", ""];
	out.push("  | | post-sale off | post-sale on | on ÷ off |");
	out.push("  |---|---:|---:|---:|");
	const row = (name, f, show, ratio) => out.push(`  | ${name} | ${show(f(off))} | ${show(f(on))} | ${num(ratio)} |`);
	row("sales (hold + purchase)", (r) => r.sales, num, null);
	row("sales/s", (r) => r.perSecond, num, k.salesPerSecond);
	row("hold p50", (r) => r.hold.p50, fmt, k.holdP50);
	row("hold p99", (r) => r.hold.p99, fmt, k.holdP99);
	row("purchase p50", (r) => r.purchase.p50, fmt, k.purchaseP50);
	row("purchase p99", (r) => r.purchase.p99, fmt, k.purchaseP99);
	row("CPU per sale while selling (whole workerd)", (r) => r.cpuPerSaleMs, (x) => num(x, " ms"), k.cpuPerSaleMs);
	row("CPU per order, sales + drain", (r) => r.cpuPerOrderWithDrainMs, (x) => num(x, " ms"), k.cpuPerOrderWithDrainMs);
	row("drain (to D1; on: to ticketed)", (r) => `${r.drainSeconds}s${r.drained ? "" : " (not done)"}`, String, null);
	row("orders in D1, ticketed", (r) => `${r.orders}, ${r.ticketed}`, String, null);
	row("workerd memory per order", (r) => r.rssKbPerOrder, (x) => num(x, " KB"), null);
	out.push("");
	out.push(
		"  Locally the follow-up Queue's consumer runs in the same workerd, on the same cores, as the checkout: what grows here is the competition for 2 cores.",
	);
	for (const r of [off, on]) {
		if (r.drained) continue;
		out.push(
			`  warning: with the post-sale path ${r.mode}, after ${r.drainSeconds}s of drain ${Math.max(0, r.sales - r.orders)} of ${r.sales} sales were not in D1` +
				(r.mode === "on" ? ` and ${r.orders - r.ticketed} of the ${r.orders} orders there not ticketed` : ""),
		);
	}
	return out;
}
