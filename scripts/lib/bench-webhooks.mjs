// The bench's webhook comparison: a purchase's timing for a promoter with a slow
// webhook endpoint (one that answers after 5 s) and for one with none, side by
// side in one run on one engine. The endpoint hears every order event of its
// promoter's drop; it is a node:http server on 127.0.0.1 that holds each POST for
// `slowMs` before answering 204. The two drops are sold at the same time, each
// worker alternating between them, so whatever else the machine does falls on both
// alike. A sale never waits for a webhook (the outbox row is written by the sales
// consumer, the send is the WEBHOOKS Queue's): the ratio shows whether that holds.
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { createDrop, json, request, runAsync } from "../../loadtest/lib/journey.js";
import { createHttpClient, latencyStats, percentile } from "../../loadtest/lib/node-client.mjs";
import { startEngine } from "./engine.mjs";

export const WEBHOOK_MODES = ["none", "slow"];

const round = (x, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** A receiver that answers every POST after `slowMs`; counts what it was sent and what it answered. */
async function slowReceiver(slowMs) {
	const stats = { received: 0, answered: 0, open: 0, maxOpen: 0, firstAt: null };
	const timers = new Set();
	const server = createServer((req, res) => {
		req.resume();
		stats.received++;
		stats.firstAt ??= performance.now();
		stats.open++;
		stats.maxOpen = Math.max(stats.maxOpen, stats.open);
		const timer = setTimeout(() => {
			timers.delete(timer);
			stats.open--;
			stats.answered++;
			res.writeHead(204).end();
		}, slowMs);
		timers.add(timer);
		res.on("close", () => {
			if (timers.delete(timer)) {
				clearTimeout(timer);
				stats.open--;
			}
		});
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	return {
		url: `http://127.0.0.1:${server.address().port}/hooks`,
		stats,
		close: () => {
			for (const t of timers) clearTimeout(t);
			server.closeAllConnections?.();
			return new Promise((r) => server.close(() => r()));
		},
	};
}

/**
 * `o`: { port, root, vars, log, track(engine|null), admitFans, closedLoop, connections, durationMs, maxOrders, slowMs, drainMs, lines, stamp }.
 */
export async function compareWebhooks(o) {
	const receiver = await slowReceiver(o.slowMs);
	o.log(`webhooks: an engine on port ${o.port}, a receiver answering after ${o.slowMs / 1000} s at ${receiver.url}`);
	// A shared machine can take minutes to start workerd: the comparison waits for it rather than measure nothing.
	const engine = await startEngine({ port: o.port, vars: { ...o.vars, ORDER_WORKFLOWS: "off" }, log: o.log, root: o.root, timeoutMs: 300_000 });
	o.track(engine);
	const client = createHttpClient({ baseUrl: engine.baseUrl, connections: Math.max(o.connections, 64) * 4 });
	try {
		const baseUrl = engine.baseUrl;
		const call = (method, path, opts = {}) => client.request(request(method, baseUrl + path, { step: opts.step ?? "webhooks", ...opts }));
		const admin = { authorization: `Bearer ${engine.adminToken}`, "content-type": "application/json" };
		const modes = {};
		for (const mode of WEBHOOK_MODES) {
			const made = await call("POST", "/api/admin/promoters", { headers: admin, json: { name: `bench webhooks ${mode} ${o.stamp}` }, step: "admin" });
			if (made.status !== 201) throw new Error(`webhooks: making the ${mode} promoter answered ${made.status}`);
			const key = json(made).apiKey;
			const cfg = { baseUrl, adminToken: key };
			const drop = await runAsync(
				createDrop(client, cfg, {
					name: `bench webhooks ${mode} ${o.stamp}`,
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
			if (mode === "slow") {
				const events = ["order.paid", "order.ticketed", "order.refunded", "order.failed", "drop.opened", "drop.sold_out", "drop.cancelled"];
				const hook = await call("POST", "/api/admin/webhooks", { headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, json: { url: receiver.url, events, dropId: drop.id }, step: "admin" });
				if (hook.status !== 201) throw new Error(`webhooks: registering the endpoint answered ${hook.status} ${String(hook.body).slice(0, 200)}`);
				modes[mode] = { key, drop, webhookId: json(hook).id };
			} else modes[mode] = { key, drop, webhookId: null };
			const fans = await o.admitFans(client, baseUrl, drop.id, `bw${mode}${o.stamp}`, Math.ceil(o.maxOrders / 20) + o.connections);
			if (fans.length === 0) throw new Error(`webhooks (${mode}): no fan was admitted`);
			modes[mode].slots = Array.from({ length: o.connections }, (_, w) => fans.filter((_, i) => i % o.connections === w).map((fan) => ({ fan, left: 20 })));
			modes[mode].hold = [];
			modes[mode].purchase = [];
			// Purchases that began while the slow endpoint held a send open: the ones the comparison is about.
			modes[mode].overlapped = [];
			modes[mode].sales = 0;
			modes[mode].failed = 0;
		}
		await o.closedLoop(o.connections, 1500, async () => (await call("GET", "/api/health", { step: "warm-up" })).status === 200);

		// Both drops at once: each worker alternates, so the two modes share every moment of the run.
		const turns = Array(o.connections).fill(0);
		const t0 = performance.now();
		await o.closedLoop(o.connections, o.durationMs, async (w) => {
			const mode = WEBHOOK_MODES[(turns[w]++ + w) % 2];
			const m = modes[mode];
			const slot = m.slots[w].find((s) => s.left > 0);
			if (slot === undefined || m.sales + m.failed >= o.maxOrders) return null;
			slot.left--;
			const headers = { authorization: `Bearer ${slot.fan.accessToken}`, "content-type": "application/json" };
			let t = performance.now();
			const hold = await call("POST", `/api/drops/${m.drop.id}/holds`, { headers: { ...headers, "idempotency-key": `w${slot.left}` }, json: { quantity: 1 }, step: "hold" });
			m.hold.push(performance.now() - t);
			if (hold.status !== 201) {
				m.failed++;
				return false;
			}
			t = performance.now();
			const sending = receiver.stats.open > 0;
			const paid = await call("POST", `/api/drops/${m.drop.id}/holds/${json(hold).holdId}/purchase`, { headers, json: { payment: { method: "test", token: "ok" } }, step: "purchase" });
			m.purchase.push(performance.now() - t);
			if (sending) m.overlapped.push(performance.now() - t);
			if (paid.status !== 201) {
				m.failed++;
				return false;
			}
			m.sales++;
			return true;
		});
		const seconds = (performance.now() - t0) / 1000;
		const duringSales = { ...receiver.stats, firstAfterSeconds: receiver.stats.firstAt === null ? null : round((receiver.stats.firstAt - t0) / 1000, 1) };

		// The deliveries drain: every order.paid delivered to the slow endpoint (bounded).
		const slow = modes.slow;
		let delivered = 0;
		const deadline = performance.now() + o.drainMs;
		const tDrain = performance.now();
		for (;;) {
			delivered = await countDelivered(call, slow.key, slow.webhookId);
			if (delivered >= slow.sales || performance.now() > deadline) break;
			await client.sleep(1000);
		}
		const result = (mode) => {
			const m = modes[mode];
			return {
				mode,
				sales: m.sales,
				failed: m.failed,
				perSecond: round(m.sales / seconds, 1),
				hold: latencyStats(m.hold),
				purchase: { ...latencyStats(m.purchase), p90: p90(m.purchase) },
				whileSending: { purchases: m.overlapped.length, p50: p50(m.overlapped), p90: p90(m.overlapped) },
			};
		};
		const none = result("none");
		const slowResult = result("slow");
		const ratio = (f) => (f(none) && f(slowResult) !== null ? round(f(slowResult) / f(none)) : null);
		const out = {
			method:
				`one engine (ORDER_WORKFLOWS off), two promoters' drops sold at once by ${o.connections} connections alternating between them for up to ` +
				`${o.durationMs / 1000}s or ${o.maxOrders} sales each; the "slow" promoter has an endpoint for every event that answers after ${o.slowMs / 1000} s`,
		
			slowMs: o.slowMs,
			none,
			slow: slowResult,
			slowVsNone: {
				salesPerSecond: ratio((r) => r.perSecond),
				holdP50: ratio((r) => r.hold.p50),
				purchaseP50: ratio((r) => r.purchase.p50),
				purchaseP90: ratio((r) => r.purchase.p90),
				purchaseP99: ratio((r) => r.purchase.p99),
				whileSendingP50: ratio((r) => r.whileSending.p50),
				whileSendingP90: ratio((r) => r.whileSending.p90),
			},
			receiver: { duringSales, atEnd: { ...receiver.stats } },
			delivered,
			drainSeconds: round((performance.now() - tDrain) / 1000, 1),
		};
		o.log(
			`webhooks: purchase p50 ${none.purchase.p50?.toFixed(1)} ms without, ${slowResult.purchase.p50?.toFixed(1)} ms with a slow endpoint (×${out.slowVsNone.purchaseP50}); ` +
				`${delivered} of ${slowResult.sales} order.paid delivered after ${out.drainSeconds}s of drain`,
		);
		return out;
	} finally {
		client.close();
		await engine.stop().catch(() => {});
		o.track(null);
		await receiver.close();
	}
}

/** The endpoint's delivered order.paid deliveries, paged through the API. */
async function countDelivered(call, key, webhookId) {
	let n = 0;
	let cursor = null;
	for (let pages = 0; pages < 100; pages++) {
		const q = new URLSearchParams({ limit: "100" });
		if (cursor) q.set("cursor", cursor);
		const res = await call("GET", `/api/admin/webhooks/${webhookId}/deliveries?${q}`, { headers: { authorization: `Bearer ${key}` }, step: "admin" });
		if (res.status !== 200) return n;
		const page = json(res);
		n += page.deliveries.filter((d) => d.type === "order.paid" && d.status === "delivered").length;
		cursor = page.nextCursor;
		if (!cursor) break;
	}
	return n;
}

const sortedOf = (samples) => Float64Array.from(samples).sort();
const p50 = (samples) => round(percentile(sortedOf(samples), 50));
const p90 = (samples) => round(percentile(sortedOf(samples), 90));

const fmt = (ms) => (ms === null || ms === undefined ? "-" : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);
const num = (x) => (x === null || x === undefined ? "-" : String(x));

/** The comparison as report lines. */
export function webhookLines(w) {
	if (!w) return [];
	const { none, slow, slowVsNone: k } = w;
	const out = ["", `  checkout with no webhook endpoint and with one answering after ${w.slowMs / 1000} s (${w.method}):`, ""];
	out.push("  | | no endpoint | slow endpoint | slow ÷ none |");
	out.push("  |---|---:|---:|---:|");
	const row = (name, f, show, ratio) => out.push(`  | ${name} | ${show(f(none))} | ${show(f(slow))} | ${num(ratio)} |`);
	row("sales (hold + purchase)", (r) => r.sales, num, null);
	row("sales/s", (r) => r.perSecond, num, k.salesPerSecond);
	row("hold p50", (r) => r.hold.p50, fmt, k.holdP50);
	row("purchase p50", (r) => r.purchase.p50, fmt, k.purchaseP50);
	row("purchase p90", (r) => r.purchase.p90, fmt, k.purchaseP90);
	row("purchase p99", (r) => r.purchase.p99, fmt, k.purchaseP99);
	row("purchases begun while a slow send was open", (r) => r.whileSending?.purchases, num, null);
	row("  their p50", (r) => r.whileSending?.p50, fmt, k.whileSendingP50);
	row("  their p90", (r) => r.whileSending?.p90, fmt, k.whileSendingP90);
	out.push("");
	out.push(
		`  the slow endpoint: ${w.receiver.duringSales.received} deliveries received while selling, the first ${w.receiver.duringSales.firstAfterSeconds ?? "-"} s after the sales began ` +
			`(up to ${w.receiver.atEnd.maxOpen} held open at once); ` +
			`${w.delivered} of ${slow.sales} order.paid delivered after ${w.drainSeconds}s of drain`,
	);
	if (w.delivered < slow.sales) out.push(`  warning: ${slow.sales - w.delivered} order.paid deliveries were not delivered within the drain`);
	return out;
}
