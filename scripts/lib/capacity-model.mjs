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

	return {
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
