// The capacity model behind `npm run bench`: what one drop takes on Cloudflare,
// from the CPU per call measured locally and the calls each fan makes at each
// kind of Durable Object. Pure: figures in, figures out (see "Principles for
// scale" in DESIGN.md: local runs measure the shape, the model measures the size).
//
// One Durable Object runs one request at a time, so it serves at most
// 1,000 ms / (CPU per request) requests a second, and Cloudflare's published
// figure for simple requests is about 1,000 a second: the lower of the two binds.

/** Cloudflare's figure for one Durable Object: about 1,000 simple requests a second. */
export const DO_REQUESTS_PER_SECOND = 1000;
/** One Queue takes about 5,000 messages a second; every sale is one message on `sales`. */
export const QUEUE_MESSAGES_PER_SECOND = 5000;
/** Sales a shard packs into one Queue message when they wait while a send is on its way (src/contract/sale-message.ts SALES_PER_MESSAGE). */
export const SALES_PER_QUEUE_MESSAGE = 25;
/** Sales per second one Queue carries when shards pack them full. */
export const QUEUE_SALES_PER_SECOND = QUEUE_MESSAGES_PER_SECOND * SALES_PER_QUEUE_MESSAGE;
/** The pacer's alarm while a drop is busy: every 500 ms (SLOT_MS). */
export const TICKS_PER_SECOND = 2;
/** The engine's limits on a drop (src/drops/rules.ts, src/waiting-room/placement.ts). */
export const MAX_LINES = 256;
export const MAX_SHARDS = 64;
/** The design targets per drop. */
export const TARGETS = { joinsPerSecond: 20_000, buyersPerSecond: 10_000 };

/** Calls one fan costs each kind of object, as the engine is built (see "Calls per fan" in docs/capacity.md). */
export const CALLS_PER_FAN = {
	join: { line: 1, room: 0, shard: 0 },
	statusPoll: { line: 0, room: 0, shard: 0 },
	accessGrant: { line: 0, room: 0, shard: 0 },
	hold: { line: 0, room: 0, shard: 1 },
	purchase: { line: 0, room: 0, shard: 1 },
};

/**
 * Requests a second one object takes when each costs `cpuMs` of its CPU.
 * A missing CPU figure leaves the request limit alone.
 */
export function objectRate(cpuMs) {
	const byCpu = cpuMs !== null && cpuMs !== undefined && cpuMs > 0 ? 1000 / cpuMs : null;
	const rate = byCpu === null ? DO_REQUESTS_PER_SECOND : Math.min(DO_REQUESTS_PER_SECOND, byCpu);
	return { byRequests: DO_REQUESTS_PER_SECOND, byCpu, rate, limitedBy: byCpu !== null && byCpu < DO_REQUESTS_PER_SECOND ? "cpu" : "requests" };
}

/** Least-squares line through [{x, y}]; with one point, a line through the origin. */
export function linearFit(points) {
	const pts = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
	if (pts.length === 0) return null;
	if (pts.length === 1) return { intercept: 0, slope: pts[0].y / Math.max(1, pts[0].x) };
	const n = pts.length;
	const mx = pts.reduce((a, p) => a + p.x, 0) / n;
	const my = pts.reduce((a, p) => a + p.y, 0) / n;
	const sxx = pts.reduce((a, p) => a + (p.x - mx) ** 2, 0);
	const slope = sxx === 0 ? 0 : pts.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
	return { intercept: my - slope * mx, slope };
}

/**
 * The model. CPU figures in ms (null when not measured: the request limits
 * alone then):
 *   joinCpuMs      a join's CPU at its line
 *   holdCpuMs      a hold's CPU at the home shard
 *   purchaseCpuMs  a purchase's CPU at the shard (quote, charge, order in one call)
 *   ticks          [{lines, ms}] the pacer's CPU per tick by line count
 *   watermarkReadMs the pacer's CPU per watermark read (a cache refresh)
 *   dataCenters    data centers refreshing the watermark about once a second each
 *   observedReadsPerSecond  watermark reads one isolate was seen to make a second under load
 *                  (refreshes are not shared between concurrent requests); the pacer's load
 *                  is also given at that rate per data center
 */
export function capacityModel({
	joinCpuMs = null,
	holdCpuMs = null,
	purchaseCpuMs = null,
	ticks = [],
	watermarkReadMs = null,
	dataCenters = 300,
	observedReadsPerSecond = null,
	ticketsPerOrder = 2,
	lineCounts = [1, 16, 64, 256],
	shardCounts = [1, 16, 32, 64],
	ticketShards = 16,
	d1BatchMs = 50,
	emailsPerSecond = null,
}) {
	// Joins: one call at the fan's line, nothing else.
	const line = objectRate(joinCpuMs);
	const lineLimit = line.limitedBy === "cpu" ? `CPU per join (${fmtMs(joinCpuMs)} at the line)` : `${fmtInt(DO_REQUESTS_PER_SECOND)} requests/s per line`;
	const joins = lineCounts.map((lines) => {
		const joinsPerSecond = lines * line.rate;
		return { lines, joinsPerSecond: Math.round(joinsPerSecond), limitedBy: lineLimit, meetsTarget: joinsPerSecond >= TARGETS.joinsPerSecond };
	});
	const linesForTarget = Math.ceil(TARGETS.joinsPerSecond / line.rate);

	// Buyers: a hold and a purchase, one call each at the fan's home shard.
	const shardCallsPerBuyer = CALLS_PER_FAN.hold.shard + CALLS_PER_FAN.purchase.shard;
	const buyerCpuMs = holdCpuMs !== null && purchaseCpuMs !== null ? holdCpuMs + purchaseCpuMs : null;
	const shard = objectRate(buyerCpuMs === null ? null : buyerCpuMs / shardCallsPerBuyer);
	const perShardBuyers = shard.rate / shardCallsPerBuyer;
	const shardLimit =
		shard.limitedBy === "cpu"
			? `CPU per hold + purchase (${fmtMs(buyerCpuMs)} at the shard)`
			: `${fmtInt(DO_REQUESTS_PER_SECOND)} requests/s per shard (${shardCallsPerBuyer} per buyer)`;
	const queueLimit = `the sales Queue (${fmtInt(QUEUE_MESSAGES_PER_SECOND)} messages/s, up to ${SALES_PER_QUEUE_MESSAGE} sales each)`;
	const orders = 100_000 / ticketsPerOrder;
	const buyers = shardCounts.map((shards) => {
		const byShards = shards * perShardBuyers;
		const buyersPerSecond = Math.min(byShards, QUEUE_SALES_PER_SECOND);
		return {
			shards,
			byShards: Math.round(byShards),
			buyersPerSecond: Math.round(buyersPerSecond),
			limitedBy: buyersPerSecond < byShards ? queueLimit : shardLimit,
			meetsTarget: buyersPerSecond >= TARGETS.buyersPerSecond,
			shardsMeetTarget: byShards >= TARGETS.buyersPerSecond,
			sellOut100kSeconds: Math.round(orders / buyersPerSecond),
		};
	});
	const shardsForTarget = Math.ceil(TARGETS.buyersPerSecond / perShardBuyers);

	// The pacer: per tick and per data center, never per fan.
	const pacerRequests = TICKS_PER_SECOND + dataCenters;
	const pacerRequestsObserved = observedReadsPerSecond === null ? null : TICKS_PER_SECOND + dataCenters * observedReadsPerSecond;
	const fit = linearFit(ticks.map((t) => ({ x: t.lines, y: t.ms })));
	const tickMsAt = (lines) => {
		const measured = ticks.find((t) => t.lines === lines);
		if (measured) return { ms: measured.ms, measured: true };
		return fit === null ? { ms: null, measured: false } : { ms: Math.max(0, fit.intercept + fit.slope * lines), measured: false };
	};
	const pacer = lineCounts.map((lines) => {
		const tick = tickMsAt(lines);
		const tickCpu = tick.ms === null ? null : TICKS_PER_SECOND * tick.ms;
		const readCpu = watermarkReadMs === null ? null : dataCenters * watermarkReadMs;
		const cpuMsPerSecond = tickCpu === null ? null : tickCpu + (readCpu ?? 0);
		return {
			lines,
			tickMs: tick.ms,
			tickMeasured: tick.measured,
			cpuMsPerSecond,
			cpuShare: cpuMsPerSecond === null ? null : cpuMsPerSecond / 1000,
			// What the lines take from the pacer: a seal call each per tick.
			sealCallsPerLinePerSecond: TICKS_PER_SECOND,
		};
	});
	const worstPacer = pacer.reduce((a, p) => Math.max(a, p.cpuShare ?? 0), 0);

	const maxJoins = MAX_LINES * line.rate;
	const maxByShards = MAX_SHARDS * perShardBuyers;
	const maxBuyers = Math.min(maxByShards, QUEUE_SALES_PER_SECOND);
	const verdict = [
		maxJoins >= TARGETS.joinsPerSecond
			? `joins: ${fmtInt(TARGETS.joinsPerSecond)}/s per drop needs ${linesForTarget} lines (${lineLimit} binds); ${MAX_LINES} lines take ${fmtInt(maxJoins)}/s`
			: `joins: NOT MET: ${MAX_LINES} lines take ${fmtInt(maxJoins)}/s < ${fmtInt(TARGETS.joinsPerSecond)}/s (${lineLimit} binds)`,
		maxBuyers >= TARGETS.buyersPerSecond
			? `buyers: ${fmtInt(TARGETS.buyersPerSecond)}/s per drop needs ${shardsForTarget} shards (${shardLimit} binds)`
			: maxByShards >= TARGETS.buyersPerSecond
				? `buyers: NOT MET: the shards would take ${fmtInt(TARGETS.buyersPerSecond)}/s from ${shardsForTarget} shards (${shardLimit}), but ${queueLimit} caps a drop at ${fmtInt(maxBuyers)} buyers/s`
				: `buyers: NOT MET: ${MAX_SHARDS} shards take ${fmtInt(maxByShards)}/s (${shardLimit} binds)`,
		pacerRequests < DO_REQUESTS_PER_SECOND
			? `pacer: ${fmtInt(pacerRequests)} requests/s (${TICKS_PER_SECOND} ticks + ${dataCenters} watermark reads) < ${fmtInt(DO_REQUESTS_PER_SECOND)}` +
				(pacer.some((p) => p.cpuShare !== null) ? `; CPU at most ${Math.round(worstPacer * 100)} % of one object (${Math.max(...lineCounts)} lines)` : "")
			: `pacer: NOT MET: ${fmtInt(pacerRequests)} requests/s ≥ ${DO_REQUESTS_PER_SECOND}`,
	];
	if (pacerRequestsObserved !== null) {
		verdict.push(
			`pacer at the refresh rate seen here (${observedReadsPerSecond} watermark reads/s from one isolate under polling, not one: a refresh is not shared by the requests that find the copy expired meanwhile): ` +
				`${fmtInt(pacerRequestsObserved)} requests/s with ${dataCenters} data centers, ` +
				(pacerRequestsObserved < DO_REQUESTS_PER_SECOND ? "still under" : "OVER") +
				` ${fmtInt(DO_REQUESTS_PER_SECOND)}; the limit holds up to ${fmtInt(Math.floor((DO_REQUESTS_PER_SECOND - TICKS_PER_SECOND) / observedReadsPerSecond))} refreshing data centers (or isolates on *.workers.dev)`,
		);
	}

	// From the first sale to the last ticket, with the drop sold by `ticketShards` shards.
	const sellPerSecond = Math.min(ticketShards * perShardBuyers, QUEUE_SALES_PER_SECOND);
	const tickets = { shards: ticketShards, sellPerSecond: Math.round(sellPerSecond), d1BatchMs, emailsPerSecond, rows: ticketPathRows({ sellPerSecond, ticketsPerOrder, d1BatchMs, emailsPerSecond }) };
	const biggest = tickets.rows[tickets.rows.length - 1];
	verdict.push(
		`tickets: ${fmtInt(biggest.tickets)} tickets from ${ticketShards} shards, last ticket ${biggest.lastTicketSeconds} s after the first sale (${biggest.bindsFirst} bind first; ` +
			`signed at the read once in D1; ${biggest.perOrderWorkflowSeconds} s with a Workflow per order); receipts done ${biggest.followUp.seconds} s after it (${biggest.followUp.limitedBy})`,
	);

	return {
		tickets,
		assumptions: {
			doRequestsPerSecond: DO_REQUESTS_PER_SECOND,
			queueMessagesPerSecond: QUEUE_MESSAGES_PER_SECOND,
			ticksPerSecond: TICKS_PER_SECOND,
			dataCenters,
			watermarkReadsPerSecond: dataCenters,
			watermarkReadsNote: "about one pacer call a second per data center (Cache API, custom domain); on *.workers.dev one a second per isolate",
			callsPerFan: CALLS_PER_FAN,
			ticketsPerOrder,
			targets: TARGETS,
		},
		perLine: { cpuMs: joinCpuMs, byRequests: line.byRequests, byCpu: round(line.byCpu), joinsPerSecond: Math.round(line.rate), limitedBy: lineLimit },
		joins,
		linesForTarget,
		perShard: {
			cpuMsPerBuyer: buyerCpuMs,
			byRequests: DO_REQUESTS_PER_SECOND / shardCallsPerBuyer,
			byCpu: shard.byCpu === null ? null : round(shard.byCpu / shardCallsPerBuyer),
			buyersPerSecond: Math.round(perShardBuyers),
			limitedBy: shardLimit,
		},
		buyers,
		shardsForTarget,
		pacer: {
			requestsPerSecond: pacerRequests,
			underLimit: pacerRequests < DO_REQUESTS_PER_SECOND,
			observedReadsPerSecond,
			requestsPerSecondObserved: pacerRequestsObserved === null ? null : Math.round(pacerRequestsObserved),
			underLimitObserved: pacerRequestsObserved === null ? null : pacerRequestsObserved < DO_REQUESTS_PER_SECOND,
			dataCentersWithinLimitObserved: observedReadsPerSecond ? Math.floor((DO_REQUESTS_PER_SECOND - TICKS_PER_SECOND) / observedReadsPerSecond) : null,
			tickFit: fit,
			watermarkReadMs,
			rows: pacer,
		},
		verdict,
	};
}

function round(x, d = 0) {
	return x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d;
}

function fmtInt(x) {
	return Math.round(x).toLocaleString("en-US");
}

function fmtMs(x) {
	return x === null || x === undefined ? "-" : `${Number(x).toFixed(2)} ms`;
}

// ── From the first sale to the last ticket ────────────────────────────────
//
// Every platform limit on the path from a shard's sale to a ticket the gate
// admits, and on the follow-up after it (Cloudflare's published limits, Workers
// Paid). A ticket is signed at the order's read (src/after-sale/order-store.ts):
// the gate admits it once its row is in D1, so the ticket path is
// shard → sales Queue → consumer → D1. The follow-up (confirm, receipt) runs
// on its own Queue, one message per order, and never holds a ticket back.

/** D1: one writer per database; these are its per-statement limits. */
export const D1_LIMITS = { boundParameters: 100, statementBytes: 100_000, valueBytes: 2_000_000, queriesPerInvocation: 1000 };
/** The sales consumer: messages per batch (wrangler.toml max_batch_size) and the wait for a batch to fill (max_batch_timeout). */
export const CONSUMER_BATCH_MESSAGES = 100;
export const CONSUMER_BATCH_TIMEOUT_SECONDS = 1;
/** Statements per consumer batch (src/sales/consumer.ts saleStatements), each with at most 2 bound parameters. */
export const STATEMENTS_PER_BATCH = 3;
/** A sale's JSON in the batch's one parameter, bytes (a general admission sale of 2 tickets with an email, measured at 646). */
export const SALE_JSON_BYTES = 650;
/** Workflows: instances created a second per workflow and per account, and running at once per account. */
export const WORKFLOW_LIMITS = { createsPerSecondPerWorkflow: 100, createsPerSecondPerAccount: 300, runningPerAccount: 50_000 };
/** Email sending: a daily quota per account set by Cloudflare (not published as a rate), and one subrequest per message. */
export const EMAIL_LIMITS = { subrequestsPerInvocation: 1000 };

/**
 * The time from a drop's first sale to its last ticket, stage by stage. Rates in
 * sales (orders) a second; `sellPerSecond` is what the shards sell (the buyers a
 * drop takes, above). `d1BatchMs`: the writer's time for one consumer batch's
 * statements (assumed, not measured here: local D1 is SQLite in the same process).
 * `emailsPerSecond`: the account's sending rate, null when unknown (a daily quota).
 */
export function ticketPathModel({ tickets, ticketsPerOrder = 2, sellPerSecond, d1BatchMs = 50, emailsPerSecond = null, messagesPerSale = 1 / SALES_PER_QUEUE_MESSAGE }) {
	const orders = Math.ceil(tickets / ticketsPerOrder);
	// A consumer batch: 100 messages of up to 25 sales, but its one JSON parameter holds at most 2 MB of sales.
	const salesPerBatchByMessages = Math.round(CONSUMER_BATCH_MESSAGES / messagesPerSale);
	const salesPerBatchByValue = Math.floor(D1_LIMITS.valueBytes / SALE_JSON_BYTES);
	const salesPerBatch = Math.min(salesPerBatchByMessages, salesPerBatchByValue);
	const stages = [
		{ stage: "shards", limit: "the drop's shards (CPU per hold + purchase)", perSecond: sellPerSecond },
		{ stage: "sales Queue", limit: `${fmtInt(QUEUE_MESSAGES_PER_SECOND)} messages/s per queue, ${fmtInt(1 / messagesPerSale)} sales each`, perSecond: QUEUE_MESSAGES_PER_SECOND / messagesPerSale },
		{
			stage: "D1",
			limit: `one writer: ${STATEMENTS_PER_BATCH} statements per batch of up to ${fmtInt(salesPerBatch)} sales (${salesPerBatch < salesPerBatchByMessages ? "the 2 MB value limit" : `${CONSUMER_BATCH_MESSAGES} messages`}) in ${d1BatchMs} ms`,
			perSecond: (salesPerBatch * 1000) / d1BatchMs,
		},
	];
	const binding = stages.reduce((a, s) => (s.perSecond < a.perSecond ? s : a));
	// The last ticket is durable one batch wait and one D1 write after the slowest stage has passed the last sale.
	const latencySeconds = CONSUMER_BATCH_TIMEOUT_SECONDS + d1BatchMs / 1000;
	const sellSeconds = orders / sellPerSecond;
	const lastTicketSeconds = orders / binding.perSecond + latencySeconds;
	// Before: a Workflow per order (it signed the tickets too), made at most 100 a second per workflow (300 per
	// account, shared with every other drop of the account).
	const perOrderWorkflowSeconds = Math.max(sellSeconds, orders / WORKFLOW_LIMITS.createsPerSecondPerWorkflow) + latencySeconds;
	// Now: the follow-up Queue, one message per order (5,000 a second), behind the tickets; receipts no faster
	// than the account may send.
	const followUpPerSecond = Math.min(QUEUE_MESSAGES_PER_SECOND, emailsPerSecond ?? Infinity, binding.perSecond);
	const followUpSeconds = Math.max(sellSeconds, orders / followUpPerSecond) + latencySeconds;
	return {
		tickets,
		orders,
		stages: stages.map((s) => ({ ...s, perSecond: Math.round(s.perSecond) })),
		bindsFirst: binding.stage,
		sellSeconds: round(sellSeconds, 1),
		lastTicketSeconds: round(lastTicketSeconds, 1),
		perOrderWorkflowSeconds: round(perOrderWorkflowSeconds, 1),
		followUp: {
			perSecond: Math.round(followUpPerSecond),
			limitedBy:
				emailsPerSecond !== null && emailsPerSecond < Math.min(QUEUE_MESSAGES_PER_SECOND, binding.perSecond)
					? "email sending"
					: binding.perSecond < QUEUE_MESSAGES_PER_SECOND
						? `the sales (${binding.stage})`
						: `the follow-up Queue (${fmtInt(QUEUE_MESSAGES_PER_SECOND)} messages/s, one per order)`,
			seconds: round(followUpSeconds, 1),
		},
		d1: { salesPerBatch, salesPerBatchByMessages, salesPerBatchByValue, boundParametersPerStatement: 2, statementsPerBatch: STATEMENTS_PER_BATCH, queriesPerInvocation: STATEMENTS_PER_BATCH + 1 },
	};
}

/** The ticket path for drops of 5,000, 50,000 and 500,000 tickets, sold at `sellPerSecond` orders a second. */
export function ticketPathRows({ sellPerSecond, ticketsPerOrder = 2, d1BatchMs = 50, emailsPerSecond = null, sizes = [5_000, 50_000, 500_000] }) {
	return sizes.map((tickets) => ticketPathModel({ tickets, ticketsPerOrder, sellPerSecond, d1BatchMs, emailsPerSecond }));
}
