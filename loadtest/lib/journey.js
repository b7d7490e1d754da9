// The fan journey of a ticket drop, shared by the k6 scripts and the Node
// runner. Plain JavaScript with no imports, so k6 (goja) and Node load the
// same file.
//
// Every step is a generator that yields effects: `request(...)` and
// `pause(ms)`. A driver performs them through a client object and resumes the
// generator with the result: `runSync` for k6 (http calls and sleep block),
// `runAsync` for Node (they return promises), `runInterleaved` for many fans
// on one k6 VU (requests block, pauses become wake-up times). The journey
// itself only reads the clock and reports through hooks on the same client:
//
//   client.request({method, url, headers, body, step}) -> {status, body, headers}
//   client.batch([effect...]) -> [{status, body, headers}...]   (concurrent requests)
//   client.sleep(ms)
//   client.now() -> epoch milliseconds
//   client.check(name, ok, detail?)          (optional) an expectation held or not
//   client.event(name, detail?)              (optional) joined, admitted, sold, error, ...
//
// Latency per step is the client's business: each request effect names its
// step (join, status, hold, purchase, release, drop, audit...).

/** Knobs shared by k6 (`__ENV`) and the Node runner (flags), with their defaults. */
export const DEFAULTS = {
	tickets: 300,
	fans: 2000,
	shards: 4,
	/** Lines of the waiting room (1..256); 0 leaves it to the engine: ceil(tickets / 500), so 1 line up to 500 tickets. */
	lines: 0,
	maxPerFan: 4,
	/** "random" picks 1..maxPerFan per fan; a number asks every fan for that many. */
	quantity: "random",
	/** Share of fans who get a hold and then do not buy (half release it, half walk away). */
	abandonRate: 0.1,
	/** Share of fans whose first payment is declined; they pay again with a good card. */
	declineRate: 0.05,
	/** Longest pause between a hold and its purchase (each fan draws 0..thinkMs). */
	thinkMs: 1500,
	/** The drop opens this long after it is created; early fans wait in the pre-queue. */
	leadSeconds: 10,
	/** Arrivals: most fans within a few seconds of the opening, the rest spread over this window. */
	spreadSeconds: 20,
	batchSize: 100,
	intervalMs: 1000,
	activeMultiple: 2,
	/**
	 * Long enough for a fan whose requests queue behind a saturated local engine
	 * (on two cores, 20,000 fans wait 10 to 20 s for a socket) to pay before it ends.
	 */
	holdSeconds: 60,
	priceCents: 4500,
	/** A fan gives up this long after arriving. */
	fanTimeoutSeconds: 600,
	/** How long to wait for the Queue to drain and holds to settle after the last fan. */
	drainSeconds: 120,
	/**
	 * After a drain that ends with sales missing from D1: how long to keep asking the drop's reconcile, what
	 * the cron does in a deployment (it sends again a sale its shard sent over 10 minutes ago that D1 still
	 * lacks), before calling what is still missing lost. Past 10 minutes, so a sale the Queue dropped is sent
	 * again once. 0: never ask; whatever the drain left missing counts as lost.
	 */
	reconcileSeconds: 720,
	seed: 1,
	/** Fails the run when the audit's busiest object served more requests per fan than this; 0 is off. */
	maxPerFanLoad: 0,
	// Scenarios (lib/scenarios.js) and the report's per-second series (lib/timeline.js).
	/** `ramp`: arrivals grow over this many seconds after the opening. */
	rampSeconds: 120,
	/** `soak`: steady arrivals over this many seconds after the opening. */
	soakSeconds: 300,
	/** `bots`: the share of fans who are hostile. */
	botShare: 0.1,
	/** Width of one point of the report's charts. */
	bucketSeconds: 1,
	/** The charts run this long past the arrival window (k6 keeps a submetric per point, so they are bounded). */
	tailSeconds: 120,
	/** The returns scenario (lib/returns.js): the share of orders that come back after the sell-out (half listed for resale by their buyers, the rest refunded with restock). */
	returnShare: 0.1,
	/**
	 * The returns scenario: how long the turn of a fan offered a returned ticket lasts (the drop's
	 * admission.offerSeconds, 60..86,400). Three minutes: an offered fan's hold and purchase wait behind the
	 * runner's busy sockets (a p99 queue of 40 s a request was measured here, and a minute ran out), while a fan
	 * who walks away keeps the ticket from the next in line no longer than a run can wait.
	 */
	offerSeconds: 180,
	/** The seated scenario (lib/seated.js): how many seats; 0 takes `tickets`. */
	seats: 0,
	/** The Node runner cancels the drop once the fans were sold this many tickets (lib/cancel.js); 0 is off. */
	cancelAfterSold: 0,
	/**
	 * After its 201 a fan reads its order (as the fan page does) until every ticket carries a
	 * signed token; a fan with none this long after its 201 fails the run.
	 */
	ticketDeadlineSeconds: 60,
	/** The Node runner scans this many of the fans' tickets at the gate after the run, which marks them used; 0 is off. */
	scanTickets: 0,
	/** The presale scenario (lib/presale-draw.js): fans who register for its registered window; 0 runs the code window alone. */
	registered: 20000,
	/** The presale scenario: how many of them the draw invites. */
	invites: 5000,
	/** The presale scenario: how long registration stays open; 0 takes one second per 30 registrations (at least until the code window closes). */
	registrationSeconds: 0,
};

const NUMERIC_KNOBS = Object.keys(DEFAULTS).filter((k) => typeof DEFAULTS[k] === "number");

/**
 * Knobs from a flat map of strings (k6's `__ENV` or parsed flags). Both
 * spellings work: `TICKETS`/`tickets`, `MAX_PER_FAN`/`maxPerFan`.
 */
export function knobsFrom(source) {
	const out = Object.assign({}, DEFAULTS);
	for (const key of Object.keys(DEFAULTS)) {
		const upper = key.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();
		const raw = source[key] !== undefined ? source[key] : source[upper];
		if (raw === undefined || raw === "") continue;
		if (NUMERIC_KNOBS.indexOf(key) >= 0) {
			const n = Number(raw);
			if (!isFinite(n)) throw new Error("knob " + upper + " must be a number, got " + raw);
			out[key] = n;
		} else {
			out[key] = String(raw);
		}
	}
	if (out.quantity !== "random" && !(Number(out.quantity) >= 1)) throw new Error("QUANTITY must be 'random' or a whole number");
	if (Math.floor(out.lines) !== out.lines || out.lines < 0 || out.lines > 256) throw new Error("LINES must be 0 (the engine's default) or a whole number from 1 to 256");
	if (!(out.maxPerFanLoad >= 0)) throw new Error("MAX_PER_FAN_LOAD must be 0 (off) or a positive number");
	if (!(out.botShare >= 0 && out.botShare <= 1)) throw new Error("BOT_SHARE must be from 0 to 1");
	if (!(out.bucketSeconds >= 1) || Math.floor(out.bucketSeconds) !== out.bucketSeconds) throw new Error("BUCKET_SECONDS must be a whole number of seconds, at least 1");
	if (!(out.cancelAfterSold >= 0) || Math.floor(out.cancelAfterSold) !== out.cancelAfterSold) throw new Error("CANCEL_AFTER_SOLD must be 0 (off) or a whole number of tickets");
	if (!(out.ticketDeadlineSeconds > 0)) throw new Error("TICKET_DEADLINE_SECONDS must be above 0");
	if (!(out.scanTickets >= 0) || Math.floor(out.scanTickets) !== out.scanTickets) throw new Error("SCAN_TICKETS must be 0 (off) or a whole number of tickets");
	if (!(out.returnShare > 0 && out.returnShare <= 1)) throw new Error("RETURN_SHARE must be above 0 and at most 1");
	if (!(out.offerSeconds >= 60 && out.offerSeconds <= 86400)) throw new Error("OFFER_SECONDS must be from 60 to 86,400");
	if (!(out.registered >= 0 && out.invites >= 1 && out.registrationSeconds >= 0) || Math.floor(out.registered) !== out.registered || Math.floor(out.invites) !== out.invites) throw new Error("REGISTERED must be a whole number (0: no registered window), INVITES a whole number from 1, REGISTRATION_SECONDS at least 0");
	if (!(out.rampSeconds > 0 && out.soakSeconds > 0 && out.tailSeconds >= 0)) throw new Error("RAMP_SECONDS and SOAK_SECONDS must be above 0, TAIL_SECONDS at least 0");
	return out;
}

/** True when the fans who will try to buy want more tickets than exist, with margin. */
export function demandExceedsSupply(knobs) {
	const minWanted = knobs.quantity === "random" ? 1 : Math.min(Number(knobs.quantity), knobs.maxPerFan);
	return knobs.fans * (1 - knobs.abandonRate) * minWanted >= knobs.tickets * 1.2;
}

// ---------------------------------------------------------------------------
// Effects and drivers

export function request(method, url, opts) {
	const o = opts || {};
	return { kind: "request", method: method, url: url, headers: o.headers || {}, body: o.json === undefined ? null : JSON.stringify(o.json), step: o.step || "other" };
}

export function pause(ms) {
	return { kind: "sleep", ms: Math.max(0, Math.round(ms)) };
}

/** Several requests at once (one effect, one array of responses back). */
export function concurrently(requests) {
	return { kind: "batch", requests: requests };
}

function perform(client, effect) {
	if (effect.kind === "request") return client.request(effect);
	if (effect.kind === "batch") return client.batch(effect.requests);
	if (effect.kind === "sleep") return client.sleep(effect.ms);
	throw new Error("unknown effect " + JSON.stringify(effect));
}

/** For k6: every effect completes synchronously. */
export function runSync(gen, client) {
	let step = gen.next();
	while (!step.done) {
		let value;
		try {
			value = perform(client, step.value);
		} catch (err) {
			step = gen.throw(err);
			continue;
		}
		step = gen.next(value);
	}
	return step.value;
}

/** For Node: effects return promises. */
export async function runAsync(gen, client) {
	let step = gen.next();
	while (!step.done) {
		let value;
		try {
			value = await perform(client, step.value);
		} catch (err) {
			step = gen.throw(err);
			continue;
		}
		step = gen.next(value);
	}
	return step.value;
}

/**
 * For k6: many fans on one VU. Requests run at once (they block), pauses turn
 * into wake-up times, and the VU sleeps until the earliest fan is due. With
 * local latencies of a few milliseconds, dozens of fans share a VU without
 * drifting from their schedule; against a distant engine use fewer per VU.
 */
export function runInterleaved(gens, client) {
	const fans = gens.map(function (gen) {
		return { gen: gen, wakeAt: 0, input: undefined, done: false, result: undefined };
	});
	let left = fans.length;
	while (left > 0) {
		let next = null;
		for (let i = 0; i < fans.length; i++) if (!fans[i].done && (next === null || fans[i].wakeAt < next.wakeAt)) next = fans[i];
		const wait = next.wakeAt - client.now();
		if (wait > 0) client.sleep(wait);
		// Advance this fan until it pauses or finishes.
		let step = next.gen.next(next.input);
		for (;;) {
			if (step.done) {
				next.done = true;
				next.result = step.value;
				left--;
				break;
			}
			if (step.value.kind === "sleep") {
				next.wakeAt = client.now() + step.value.ms;
				next.input = undefined;
				break;
			}
			let value;
			try {
				value = perform(client, step.value);
			} catch (err) {
				step = next.gen.throw(err);
				continue;
			}
			step = next.gen.next(value);
		}
	}
	return fans.map(function (f) {
		return f.result;
	});
}

// ---------------------------------------------------------------------------
// Small helpers

export function header(res, name) {
	const headers = res.headers || {};
	const wanted = name.toLowerCase();
	for (const key of Object.keys(headers)) {
		if (key.toLowerCase() === wanted) {
			const v = headers[key];
			return Array.isArray(v) ? v[0] : v;
		}
	}
	return undefined;
}

export function json(res) {
	if (!res || typeof res.body !== "string" || res.body.length === 0) return null;
	try {
		return JSON.parse(res.body);
	} catch (e) {
		return null;
	}
}

export function errorCode(res) {
	const body = json(res);
	return body && body.error && typeof body.error.code === "string" ? body.error.code : null;
}

function retryAfterMs(res, fallbackMs) {
	const s = Number(header(res, "retry-after"));
	return s > 0 ? Math.min(s * 1000, 60000) : fallbackMs;
}

/** mulberry32: a tiny seeded generator, so a run's fan behaviour can be replayed. */
export function seededRandom(seed) {
	let a = seed >>> 0;
	return function () {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export function fanRandom(seed, index) {
	return seededRandom((Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
}

/** A fan's tries at its join before it ends in error (the simulator's fans too, sim/joins.ts). */
export const JOIN_ATTEMPTS = 8;

/** The pause before a join is sent again after try `attempt` (from 0) went unanswered. */
export function joinRetryPauseMs(attempt) {
	return 500 * (attempt + 1);
}

/**
 * What fan `index` will do, drawn first from its stream (`rnd`: fanRandom(knobs.seed, index)):
 * how many tickets it wants, whether it abandons its hold (and then walks away or releases
 * it), whether its card is declined once, and how long it thinks before paying. The
 * simulator's fans draw theirs here too (sim/fans.ts), so one seed makes the same fans.
 */
export function fanChoices(k, rnd) {
	const wants = k.quantity === "random" ? 1 + Math.floor(rnd() * k.maxPerFan) : Math.min(Number(k.quantity), k.maxPerFan);
	const abandons = rnd() < k.abandonRate;
	const walksAway = rnd() < 0.5;
	const declined = rnd() < k.declineRate;
	const thinkMs = rnd() * k.thinkMs;
	return { wants: wants, abandons: abandons, walksAway: walksAway, declined: declined, thinkMs: thinkMs };
}

/**
 * When fan `index` arrives, in milliseconds after the drop is created. The
 * shape of a real drop: a fifth arrive early and wait in the pre-queue, most
 * come in a spike in the seconds around the opening, a tail comes later.
 */
export function arrivalOffsetMs(index, knobs) {
	const rnd = fanRandom(knobs.seed + 7919, index);
	const open = knobs.leadSeconds * 1000;
	const spread = knobs.spreadSeconds * 1000;
	const u = rnd();
	if (u < 0.2) return Math.round(rnd() * open * 0.9);
	if (u < 0.9) {
		// The spike: a normal around the opening, sd 1.5 s (Box-Muller), clamped to the window.
		const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
		return Math.round(Math.min(open + spread, Math.max(0, open + z * 1500)));
	}
	return Math.round(open + rnd() * spread);
}

// ---------------------------------------------------------------------------
// The promoter side

export function adminHeaders(cfg) {
	return { authorization: "Bearer " + cfg.adminToken, "content-type": "application/json" };
}

/**
 * Every item of a promoter's paged list (`path` under the drop, e.g. "sales"; `key` the answer's array, e.g.
 * "sales"), 1,000 a page, following `nextCursor`, each item passed to `take` in order.
 */
export function* eachListed(cfg, dropId, path, key, take) {
	let cursor = null;
	for (let page = 0; page < 10000; page++) {
		const url = cfg.baseUrl + "/api/admin/drops/" + dropId + "/" + path + "?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
		const res = yield request("GET", url, { headers: adminHeaders(cfg), step: "admin" });
		if (res.status !== 200) throw new Error("reading " + path + " failed: " + res.status);
		const body = json(res);
		for (const item of body[key]) take(item);
		cursor = body.nextCursor;
		if (!cursor) break;
	}
}

export function dropBody(knobs, now, overrides) {
	const lines = knobs.lines > 0 ? { lines: knobs.lines } : {};
	return Object.assign(
		{
			name: "Load test drop " + new Date(now).toISOString(),
			capacity: knobs.tickets,
			maxPerFan: knobs.maxPerFan,
			opensAt: new Date(now + knobs.leadSeconds * 1000).toISOString(),
			priceCents: knobs.priceCents,
			currency: "USD",
			shards: Math.min(knobs.shards, knobs.tickets),
			admission: { batchSize: knobs.batchSize, intervalMs: knobs.intervalMs, activeMultiple: knobs.activeMultiple },
			holdSeconds: knobs.holdSeconds,
		},
		lines,
		overrides || {},
	);
}

/** Creates a drop; returns it (with `id`, `opensAt`). Throws on anything but 201. */
export function* createDrop(client, cfg, body) {
	const res = yield request("POST", cfg.baseUrl + "/api/admin/drops", { headers: adminHeaders(cfg), json: body, step: "admin" });
	if (res.status !== 201) throw new Error("creating the drop failed: " + res.status + " " + String(res.body).slice(0, 300));
	return json(res);
}

export function* readAudit(client, cfg, dropId, graceSeconds) {
	const url = cfg.baseUrl + "/api/admin/drops/" + dropId + "/audit?graceSeconds=" + graceSeconds;
	let res = yield request("GET", url, { headers: adminHeaders(cfg), step: "admin" });
	// A read is safe to repeat: asked again while the answer is the transport's (no answer, or the local
	// proxy's 503 without the contract's JSON error), as after a long run wrangler dev's proxy may drop one.
	for (let attempt = 0; attempt < 3 && (res.status === 0 || (res.status === 503 && errorCode(res) === null)); attempt++) {
		yield pause(1000 + attempt * 1000);
		res = yield request("GET", url, { headers: adminHeaders(cfg), step: "admin" });
	}
	if (res.status !== 200) throw new Error("the audit failed: " + res.status + " " + String(res.body).slice(0, 300));
	return json(res);
}

/** The drop's public fairness data (GET /api/drops/:id/fairness): seed once revealed, commitment, pre-queue counts. */
export function* readFairness(client, cfg, dropId) {
	const res = yield request("GET", cfg.baseUrl + "/api/drops/" + dropId + "/fairness", { step: "fairness" });
	if (res.status !== 200) throw new Error("reading the fairness data failed: " + res.status + " " + String(res.body).slice(0, 300));
	return json(res);
}

/** A shard's methods that only observe it (the audit's reads, which a load run makes while it waits), not a fan's load. */
export const OBSERVING_METHODS = ["stats", "orderIdsPage"];

/** The pacer's methods a promoter calls (the runner as one: making the drop, reading its audit, stats and queue figures), not a fan's load. */
export const PACER_PROMOTER_METHODS = ["configure", "audit", "stats", "queueMinutes"];

/**
 * The audit's `load` in totals per kind of object: the pacer (room), the lines
 * and the inventory shards, with the busiest of each and the busiest overall;
 * the shards' calls by method over all shards; and the busiest object without
 * the audit's own reads (`fansHottest`: the load the drop put on it).
 */
export function loadSummary(load) {
	const out = {
		fans: load ? load.fans : 0,
		hottest: load && load.hottest ? load.hottest : null,
		fansHottest: null,
		room: 0,
		roomMethods: {},
		lines: { count: 0, total: 0, max: 0 },
		shards: { count: 0, total: 0, max: 0, methods: {}, starts: 0 },
	};
	const objects = load && Array.isArray(load.objects) ? load.objects : [];
	for (const o of objects) {
		if (o.kind === "room") out.room += o.requests;
		let observing = 0;
		if (o.kind === "shard" && typeof o.starts === "number") out.shards.starts += o.starts;
		if (o.methods) {
			const byMethod = o.kind === "room" ? out.roomMethods : o.kind === "shard" ? out.shards.methods : null;
			const observers = o.kind === "room" ? PACER_PROMOTER_METHODS : OBSERVING_METHODS;
			for (const m of Object.keys(o.methods)) {
				if (byMethod !== null) byMethod[m] = (byMethod[m] || 0) + o.methods[m];
				if (observers.indexOf(m) >= 0) observing += o.methods[m];
			}
		}
		const own = o.requests - observing;
		if (out.fansHottest === null || own > out.fansHottest.requests) {
			out.fansHottest = { kind: o.kind, index: o.index, requests: own, perFan: out.fans > 0 ? Math.round((own / out.fans) * 10000) / 10000 : 0 };
		}
		const kind = o.kind === "line" ? out.lines : o.kind === "shard" ? out.shards : null;
		if (kind === null) continue;
		kind.count++;
		kind.total += o.requests;
		kind.max = Math.max(kind.max, o.requests);
	}
	return out;
}

/** Every sale in D1, as {fanId: tickets}, walking the sales pages. */
export function* ticketsByFan(client, cfg, dropId) {
	const byFan = {};
	let cursor = null;
	for (let page = 0; page < 10000; page++) {
		const url = cfg.baseUrl + "/api/admin/drops/" + dropId + "/sales?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
		const res = yield request("GET", url, { headers: adminHeaders(cfg), step: "admin" });
		if (res.status !== 200) throw new Error("reading sales failed: " + res.status);
		const body = json(res);
		for (const sale of body.sales) byFan[sale.fanId] = (byFan[sale.fanId] || 0) + sale.quantity;
		cursor = body.nextCursor;
		if (!cursor) break;
	}
	return byFan;
}

/**
 * Tickets sold and then put back on sale (a refund with restock, a resale listing): D1 keeps their orders and the
 * shards' `sold` counts them no more (the shards' net restocks, so a listing taken back out counts nothing).
 */
export function restockedTickets(audit) {
	return audit.refunds && typeof audit.refunds.restocked === "number" ? audit.refunds.restocked : 0;
}

function settled(audit) {
	return (
		audit.outboxPending === 0 &&
		audit.totals.held === 0 &&
		audit.totals.inFlight === 0 &&
		audit.recorded === audit.totals.orders &&
		audit.recordedTickets === audit.totals.sold + restockedTickets(audit)
	);
}

/**
 * Waits until the Queue has carried every sale to D1 and no hold is open, then
 * returns the audit read with no grace period, so `lost` counts every sale
 * missing from D1. `settled: false` when that did not happen in time.
 */
export function* waitForDrain(client, cfg, dropId, timeoutMs) {
	const deadline = client.now() + timeoutMs;
	let audit = null;
	for (;;) {
		audit = yield* readAudit(client, cfg, dropId, 3600);
		if (settled(audit) || client.now() > deadline) break;
		yield pause(1000);
	}
	const final = yield* readAudit(client, cfg, dropId, 0);
	final.settled = settled(final);
	return final;
}

/** How often, while sales are missing from D1 after the drain, the runner asks the drop's reconcile. */
export const RECONCILE_POLL_MS = 15000;

/** Sales a shard made that D1 lacks, by id (sent or not yet sent): what the drain waits for. */
export function missingFromD1(audit) {
	return (audit.lost || 0) + (audit.inTransit || 0);
}

/**
 * What a deployment does for a sale still missing from D1 once the Queue had its chance. The Queue's
 * retries and dead letters bring a merely late sale by themselves (the retries alone can take about
 * four minutes); a sale whose message is gone for good (the local Queue keeps its messages in memory
 * and loses them when wrangler dev restarts workerd) is sent again only by the reconcile, which the
 * cron runs every 30 minutes and which re-sends, from its shard's outbox, a sale sent over 10 minutes
 * ago that D1 lacks (src/sales/reconcile.ts). Locally no cron runs, so after a drain that left sales
 * missing the runner asks the drop's reconcile itself (POST /api/admin/drops/:id/reconcile) every
 * RECONCILE_POLL_MS until D1 has every sale or `timeoutMs` has passed, and then reads the audit again
 * with no grace period: only what is missing after that is lost.
 *
 * Returns { ran, missingAfterDrain, reconciles, resent, seconds, stillMissing, audit }: `audit` is that
 * last audit (`settled` set), or the drained one when nothing was missing or `timeoutMs` is 0.
 */
export function* recoverMissing(client, cfg, dropId, audit, timeoutMs) {
	const missing = missingFromD1(audit);
	const out = { ran: false, missingAfterDrain: missing, reconciles: 0, resent: 0, seconds: 0, stillMissing: missing, audit: audit };
	if (missing === 0 || !(timeoutMs > 0)) return out;
	out.ran = true;
	const started = client.now();
	const url = cfg.baseUrl + "/api/admin/drops/" + dropId + "/reconcile";
	for (;;) {
		const res = yield request("POST", url, { headers: adminHeaders(cfg), step: "admin" });
		if (res.status === 200) {
			const body = json(res);
			out.reconciles++;
			out.resent += body.resent;
			// Nothing missing past 10 minutes and nothing on its way: D1 has every sale the shards made.
			if (body.missingInD1 === 0 && body.inTransit === 0) break;
		} else if (!(res.status === 0 || (res.status === 503 && errorCode(res) === null))) {
			// The transport's answer (a dropped connection, the local proxy's 503) is asked again; anything else is the engine's.
			throw new Error("the reconcile failed: " + res.status + " " + String(res.body).slice(0, 300));
		}
		if (client.now() - started >= timeoutMs) break;
		yield pause(Math.min(RECONCILE_POLL_MS, Math.max(0, started + timeoutMs - client.now())));
	}
	out.seconds = Math.round((client.now() - started) / 100) / 10;
	const final = yield* readAudit(client, cfg, dropId, 0);
	final.settled = settled(final);
	out.audit = final;
	out.stillMissing = missingFromD1(final);
	return out;
}

/** The recovery's line for a summary: null when it did not run. */
export function recoveryText(r) {
	if (!r || !r.ran) return null;
	return (
		r.missingAfterDrain + " sale(s) missing from D1 after the drain; the reconcile (a deployment's cron, every 30 min) asked " + r.reconciles +
		" time(s) over " + r.seconds + " s re-sent " + r.resent + " from their shards' outboxes; " +
		(r.stillMissing === 0 ? "D1 then had every sale" : r.stillMissing + " still missing")
	);
}

/**
 * The broken invariants in a final audit, as sentences. `expectSoldOut`: the
 * fans wanted more than there was, so every ticket must have been sold.
 */
export function auditFailures(audit, opts) {
	const o = opts || {};
	const failures = [];
	if (audit.oversold > 0) failures.push("oversold: " + audit.oversold + " ticket(s) beyond capacity");
	if (audit.lost > 0) {
		const r = o.recovery;
		failures.push(
			"lost: " + audit.lost + " sale(s) answered 201 and missing from D1" +
				(r && r.ran ? " after the drain and " + r.seconds + " s of the reconcile (" + r.resent + " re-sent)" : r && r.missingAfterDrain > 0 ? " after the drain (the reconcile was not asked: RECONCILE_SECONDS=0)" : ""),
		);
	}
	if (audit.phantom > 0) failures.push("phantom: " + audit.phantom + " row(s) in D1 that no shard sold");
	if (!audit.balanced) failures.push("unbalanced: sold + held + remaining + in flight != capacity");
	if (!audit.settled) failures.push("not settled: outbox, open holds or D1 still moving after the drain timeout");
	const restocked = restockedTickets(audit);
	if (audit.recorded !== audit.totals.orders || audit.recordedTickets !== audit.totals.sold + restocked) {
		failures.push(
			"D1 differs from the shards: " + audit.recorded + " orders / " + audit.recordedTickets + " tickets in D1, " +
				audit.totals.orders + " / " + audit.totals.sold + " in the shards" + (restocked > 0 ? " (+" + restocked + " put back on sale and sold again)" : ""),
		);
	}
	if (audit.admission && audit.admission.admittedInOrder === false) failures.push("admission out of order");
	if (audit.admission && audit.admission.shuffleVerified === false) failures.push("the pre-queue shuffle does not re-derive from its seed");
	if (audit.admission && audit.admission.commitmentVerified === false) failures.push("the revealed seed does not hash to the commitment published before the opening");
	const hottest = audit.load && audit.load.hottest;
	if (o.maxPerFanLoad > 0 && hottest && hottest.perFan > o.maxPerFanLoad) {
		failures.push(
			"load: the busiest object (" + hottest.kind + " " + hottest.index + ") served " + hottest.perFan + " requests per fan, above MAX_PER_FAN_LOAD " + o.maxPerFanLoad,
		);
	}
	if (o.expectSoldOut && audit.totals.sold < audit.capacity) {
		failures.push("unsold: " + (audit.capacity - audit.totals.sold) + " ticket(s) left while demand exceeded supply");
	}
	if (o.maxPerFan && o.byFan) {
		const over = Object.keys(o.byFan).filter((f) => o.byFan[f] > o.maxPerFan);
		if (over.length > 0) failures.push("per-fan limit: " + over.length + " fan(s) bought more than " + o.maxPerFan + " (e.g. " + over[0] + ")");
	}
	if (o.clientOrders !== undefined && o.clientOrders !== audit.recorded) {
		failures.push("fans were answered 201 for " + o.clientOrders + " order(s); D1 has " + audit.recorded);
	}
	// Every 201's tickets: those still sold, and those put back on sale (refunded or listed) and sold again.
	if (o.clientTickets !== undefined && o.clientTickets !== audit.totals.sold + restocked) {
		failures.push("fans were sold " + o.clientTickets + " ticket(s); the shards say " + audit.totals.sold + (restocked > 0 ? " sold + " + restocked + " put back on sale" : ""));
	}
	return failures;
}

// ---------------------------------------------------------------------------
// The fan

function fail(client, step, res, fanId) {
	const detail = { step: step, status: res.status, code: errorCode(res), fanId: fanId, body: typeof res.body === "string" ? res.body.slice(0, 160) : res.error || null };
	if (client.check) client.check(step + " answered as the contract says", false, detail);
	if (client.event) client.event("error", detail);
	return detail;
}

function ok(client, step) {
	if (client.check) client.check(step + " answered as the contract says", true);
}

/**
 * 409 `drop_cancelled`: the drop was cancelled, which nothing undoes, so the fan
 * goes home. The answer is the contract working (counted under its step like
 * any other); the fan's outcome is `cancelled`.
 */
function cancelledBy(client, step, res, result) {
	if (res.status !== 409 || errorCode(res) !== "drop_cancelled") return false;
	ok(client, step);
	result.outcome = "cancelled";
	if (client.event) client.event("cancelled", { fanId: result.fanId, step: step });
	return true;
}

/** The base64url alphabet (k6 and Node both run this file, so no Buffer and no btoa). */
export const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * A fan's secret for a drop: 43 base64url characters, sent with every join of
 * the fan. The first join makes it theirs (the engine keeps its hash) and a
 * repeat, such as a join sent again after its answer was lost, proves them.
 * Math.random, since this file imports nothing: enough for a load test's fans.
 */
export function newFanSecret() {
	let out = "";
	for (let i = 0; i < 43; i++) out += BASE64URL[Math.floor(Math.random() * 64)];
	return out;
}

/**
 * Worth sending again: a network error, any 5xx. Every step is safe to repeat
 * (join by fan id and its secret, holds by Idempotency-Key, purchases by hold). A network
 * error, or a 503 without the contract's JSON error (what `wrangler dev`'s
 * local proxy answers when a connection to the Worker drops), is the
 * transport's doing and only counted; any other 5xx is the engine's and fails
 * a check.
 */
function transient(client, step, res, fanId) {
	if (res.status === 0 || (res.status === 503 && errorCode(res) === null)) {
		if (client.event) client.event("retry", { step: step, status: res.status, fanId: fanId, body: typeof res.body === "string" ? res.body.slice(0, 120) : res.error || null });
		return true;
	}
	if (res.status >= 500) {
		fail(client, step, res, fanId);
		return true;
	}
	return false;
}

/**
 * One fan, from arrival to an outcome: join, poll at the pace the server asks
 * for, hold up to `maxPerFan`, then buy (or abandon, or pay again after a
 * decline). Returns `{fanId, outcome, tickets, orderId?, ...}` where outcome
 * is bought, sold_out, abandoned, expired, closed, cancelled, gave_up or error.
 *
 * ctx: {baseUrl, dropId, fanId, index, knobs, startAt?, probes?, holdBody?, waitForReturns?} where
 * startAt (epoch ms) is when the fan arrives; the fan first pauses until then. probes
 * (lib/bots.js) make the fan hostile: generators run after its join and once it is
 * admitted. holdBody(quantity, holdNo) makes a hold's body (default {quantity}).
 * waitForReturns (the returns scenario): a fan told the drop is sold out keeps
 * their place and polls on for a returned ticket, until the drop closes.
 */
export function* fanJourney(client, ctx) {
	const k = ctx.knobs;
	const rnd = fanRandom(k.seed, ctx.index);
	const base = ctx.baseUrl + "/api/drops/" + ctx.dropId;
	// line, prequeuePlace, slot and slotIndex come from the join answer, position is the first one the
	// fan is told, and the join's send and answer times bound when its line took it: what
	// checkFairness (lib/fairness.js) needs to hold the engine to its published order.
	const result = {
		fanId: ctx.fanId,
		outcome: "gave_up",
		tickets: 0,
		holds: 0,
		polls: 0,
		arrivedAt: 0,
		line: null,
		prequeuePlace: null,
		slot: null,
		slotIndex: null,
		position: null,
		positionAt: null,
		positionChanged: null,
		joinSentAt: null,
		joinAnsweredAt: null,
		// The first wait the fan was told while waiting (a number: after the opening, from a measured
		// pace), the server time of the answer that told it, and when its batch went in (lib/wait-estimate.js).
		estimateMs: null,
		estimateAt: null,
		admittedServerAt: null,
		// Whether the fan's turn was the offer of a returned ticket (after the sell-out; lib/returns.js).
		offer: false,
	};
	function toldWait(answer) {
		if (result.estimateMs !== null || !answer || answer.status !== "waiting" || typeof answer.estimatedWaitMs !== "number") return;
		const at = Date.parse(answer.serverTime);
		if (isNaN(at)) return;
		result.estimateMs = answer.estimatedWaitMs;
		result.estimateAt = at;
	}
	function told(position) {
		if (typeof position !== "number") return;
		if (result.position === null) {
			result.position = position;
			result.positionAt = client.now();
		} else if (position !== result.position && result.positionChanged === null) result.positionChanged = { from: result.position, to: position };
	}
	const choice = fanChoices(k, rnd);
	const wants = choice.wants;
	const abandons = choice.abandons;
	const walksAway = choice.walksAway;
	const declined = choice.declined;
	const thinkMs = choice.thinkMs;

	if (ctx.startAt !== undefined) {
		const wait = ctx.startAt - client.now();
		if (wait > 0) yield pause(wait);
	}
	result.arrivedAt = client.now();
	if (client.event) client.event("arrived", { fanId: ctx.fanId, at: result.arrivedAt });
	const deadline = result.arrivedAt + k.fanTimeoutSeconds * 1000;

	// Join (retrying what a real browser would retry), always with the same secret.
	const fanSecret = newFanSecret();
	let joined = null;
	result.joinSentAt = client.now();
	for (let attempt = 0; attempt < JOIN_ATTEMPTS && joined === null; attempt++) {
		const res = yield request("POST", base + "/join", { headers: { "content-type": "application/json" }, json: { fanId: ctx.fanId, fanSecret: fanSecret }, step: "join" });
		if (res.status === 201 || res.status === 200) {
			result.joinAnsweredAt = client.now();
			joined = json(res);
			// A sold-out drop answers with no token (nothing was stored); any other answer carries one.
			if (joined === null || (joined.status !== "sold_out" && typeof joined.queueToken !== "string")) {
				fail(client, "join", res, ctx.fanId);
				result.outcome = "error";
				return result;
			}
			ok(client, "join");
		} else if (res.status === 429 || (res.status === 503 && errorCode(res) !== null)) {
			yield pause(retryAfterMs(res, 1000));
		} else if (transient(client, "join", res, ctx.fanId)) {
			yield pause(joinRetryPauseMs(attempt));
		} else if (res.status === 409 && errorCode(res) === "drop_closed") {
			result.outcome = "closed";
			return result;
		} else if (cancelledBy(client, "join", res, result)) {
			return result;
		} else {
			fail(client, "join", res, ctx.fanId);
			result.outcome = "error";
			return result;
		}
	}
	if (joined === null) {
		result.outcome = "error";
		return result;
	}
	if (client.event) client.event("joined", { fanId: ctx.fanId, position: joined.position });
	if (joined.status === "sold_out" && typeof joined.queueToken !== "string") {
		result.outcome = "sold_out";
		return result;
	}
	result.line = typeof joined.line === "number" ? joined.line : null;
	result.prequeuePlace = typeof joined.prequeuePlace === "number" ? joined.prequeuePlace : null;
	result.slot = typeof joined.slot === "number" ? joined.slot : null;
	result.slotIndex = typeof joined.slotIndex === "number" ? joined.slotIndex : null;
	told(joined.position);
	toldWait(joined);
	if (joined.status === "sold_out" && !ctx.waitForReturns) {
		result.outcome = "sold_out";
		return result;
	}
	// A hostile fan (the bots scenario, lib/bots.js) tries its tricks here and once admitted.
	if (ctx.probes) yield* ctx.probes.afterJoin(client, { base: base, fanId: ctx.fanId, fanSecret: fanSecret, queueToken: joined.queueToken });

	// Wait in the queue, polling when the server says to. Before the opening, and for about a
	// second after an after-opening join on a drop with several lines, the position is null:
	// the answer says when to look again, and a later answer brings the position and a new token.
	let queueToken = joined.queueToken;
	let accessToken = null;
	let wait = joined.pollAfterMs == null ? 0 : joined.pollAfterMs;
	while (accessToken === null) {
		if (client.now() + wait > deadline) return result;
		if (wait > 0) yield pause(Math.min(Math.max(wait, 100), 30000));
		const res = yield request("GET", base + "/status", { headers: { authorization: "Bearer " + queueToken }, step: "status" });
		result.polls++;
		if (res.status === 200) {
			ok(client, "status");
			const s = json(res);
			if (s.queueToken) queueToken = s.queueToken;
			told(s.position);
			toldWait(s);
			if (s.status === "admitted" && s.accessToken) {
				accessToken = s.accessToken;
				const at = Date.parse(s.admittedAt);
				if (!isNaN(at)) result.admittedServerAt = at;
				result.offer = s.offer === true;
				break;
			}
			// Sold out, a fan in line keeps their place: each returned ticket is offered to the next fan.
			if (s.status === "sold_out" && ctx.waitForReturns && s.pollAfterMs != null) {
				wait = s.pollAfterMs;
				continue;
			}
			if (s.status === "sold_out" || s.status === "expired" || s.status === "closed") {
				result.outcome = s.status;
				return result;
			}
			wait = s.pollAfterMs == null ? 1000 : s.pollAfterMs;
		} else if (res.status === 429 || (res.status === 503 && errorCode(res) !== null) || transient(client, "status", res, ctx.fanId)) {
			wait = retryAfterMs(res, 1000);
		} else if (cancelledBy(client, "status", res, result)) {
			return result;
		} else {
			fail(client, "status", res, ctx.fanId);
			result.outcome = "error";
			return result;
		}
	}
	result.admittedAt = client.now();
	if (client.event) client.event("admitted", { fanId: ctx.fanId });
	const auth = { authorization: "Bearer " + accessToken };
	if (ctx.probes) yield* ctx.probes.afterAdmit(client, { base: base, fanId: ctx.fanId, queueToken: queueToken, accessToken: accessToken, maxPerFan: k.maxPerFan });

	// Hold, then buy. A fan told "sold out" while holds could still come back
	// keeps trying (as fans do, refreshing) until the drop says it is over.
	let quantity = wants;
	let holdNo = 0;
	let tries = 0;
	while (client.now() < deadline) {
		if (++tries > 200) return result;
		holdNo++;
		const key = ctx.fanId + "-h" + holdNo;
		let res = null;
		for (let attempt = 0; attempt < 8; attempt++) {
			// A retry after a network error or 5xx reuses the key: that is what the key is for.
			res = yield request("POST", base + "/holds", {
				headers: { authorization: auth.authorization, "content-type": "application/json", "idempotency-key": key },
				// A scenario may ask for a ticket type's units (lib/seated.js); the default is general admission.
				json: ctx.holdBody ? ctx.holdBody(quantity, holdNo) : { quantity: quantity },
				step: "hold",
			});
			// Tickets moving between shards: the engine says when to ask again (a "try again" is not remembered).
			if (res.status === 503 && errorCode(res) === "try_again") {
				yield pause(retryAfterMs(res, 1000));
				continue;
			}
			if (!transient(client, "hold", res, ctx.fanId)) break;
			yield pause(300 * (attempt + 1));
		}
		const code = errorCode(res);
		if (cancelledBy(client, "hold", res, result)) return result;
		if (res.status === 503 && code === "try_again") {
			ok(client, "hold");
			continue;
		}
		if (res.status === 409 && code === "seats_taken") {
			// Someone else got those seats first: the next hold asks for the best available.
			ok(client, "hold");
			continue;
		}
				if (res.status === 409 && code === "not_enough_left") {
			ok(client, "hold");
			const left = json(res).error.available;
			if (left >= 1) quantity = Math.min(quantity, left);
			continue;
		}
		// A turn from before the sell-out: the tickets that come back are the line's, so it is over for this fan.
		if (res.status === 409 && code === "returns_in_line") {
			ok(client, "hold");
			result.outcome = "sold_out";
			return result;
		}
		if (res.status === 409 && (code === "sold_out" || code === "drop_closed")) {
			ok(client, "hold");
			if (code === "drop_closed") {
				result.outcome = "closed";
				return result;
			}
			// Over for good (no stock and no holds that could come back)? Otherwise wait for
			// tickets to come back from released or expired holds, checking less and less often.
			for (let look = 0; client.now() < deadline; look++) {
				const view = yield request("GET", base, { step: "drop" });
				const v = view.status === 200 ? json(view) : null;
				if (v && (v.status === "sold_out" || v.status === "closed" || v.status === "cancelled")) {
					result.outcome = v.status;
					return result;
				}
				if (v && v.remaining > 0) break;
				yield pause(Math.min(10000, 1500 * (look + 1)) * (0.75 + rnd() * 0.5));
			}
			continue;
		}
		if (res.status === 401 && code === "token_expired") {
			ok(client, "hold");
			result.outcome = "expired";
			return result;
		}
		if (res.status !== 201) {
			fail(client, "hold", res, ctx.fanId);
			result.outcome = "error";
			return result;
		}
		ok(client, "hold");
		const hold = json(res);
		result.holds++;
		if (client.check) client.check("hold is within maxPerFan", hold.quantity === quantity && hold.quantity <= k.maxPerFan);
		if (client.event) client.event("held", { fanId: ctx.fanId, quantity: hold.quantity });

		if (thinkMs > 0) yield pause(thinkMs);
		if (abandons) {
			if (!walksAway) {
				for (let attempt = 0; attempt < 4; attempt++) {
					const rel = yield request("DELETE", base + "/holds/" + hold.holdId, { headers: auth, step: "release" });
					if (rel.status === 204) {
						ok(client, "release");
						break;
					}
					if (!transient(client, "release", rel, ctx.fanId)) {
						fail(client, "release", rel, ctx.fanId);
						break;
					}
					yield pause(300 * (attempt + 1));
				}
			}
			result.outcome = "abandoned";
			if (client.event) client.event("abandoned", { fanId: ctx.fanId, quantity: hold.quantity, walkedAway: walksAway, expiresAt: hold.expiresAt });
			return result;
		}

		let token = declined ? "decline" : "ok";
		let order = null;
		for (let attempt = 0; attempt < 6 && order === null; attempt++) {
			const pay = yield request("POST", base + "/holds/" + hold.holdId + "/purchase", {
				headers: { authorization: auth.authorization, "content-type": "application/json" },
				json: { payment: { method: "test", token: token } },
				step: "purchase",
			});
			if (pay.status === 201) {
				ok(client, "purchase");
				order = json(pay);
			} else if (pay.status === 402) {
				ok(client, "purchase");
				if (client.event) client.event("declined", { fanId: ctx.fanId });
				token = "ok";
				yield pause(300 + rnd() * 700);
			} else if (cancelledBy(client, "purchase", pay, result)) {
				return result;
			} else if (pay.status === 410) {
				// The hold ran out before the payment: unusual with these knobs, but legal.
				ok(client, "purchase");
				if (client.event) client.event("hold_expired", { fanId: ctx.fanId });
				break;
			} else if (transient(client, "purchase", pay, ctx.fanId)) {
				yield pause(300 * (attempt + 1));
			} else {
				fail(client, "purchase", pay, ctx.fanId);
				result.outcome = "error";
				return result;
			}
		}
		if (order === null) continue;
		const good = order.quantity === hold.quantity && Array.isArray(order.tickets) && order.tickets.length === hold.quantity;
		if (client.check) client.check("order carries one ticket per held seat", good);
		// The buyer's key to read the order after the turn; the journey itself never reads it again.
		if (client.check) client.check("order comes with an order token", typeof order.orderToken === "string" && order.orderToken.length > 0);
		result.outcome = "bought";
		result.tickets = order.quantity;
		result.orderId = order.orderId;
		// What a holder needs to act on the order afterwards (the returns scenario lists tickets with them).
		result.orderToken = order.orderToken;
		result.ticketCodes = Array.isArray(order.tickets) ? order.tickets : [];
		result.boughtAt = client.now();
		if (client.event) client.event("sold", { fanId: ctx.fanId, quantity: order.quantity, orderId: order.orderId, at: result.boughtAt });
		const ticket = yield* awaitTickets(client, ctx, order, result.boughtAt);
		result.ticket = ticket.state;
		result.ticketMs = ticket.ms;
		result.ticketReads = ticket.reads;
		result.ticketToken = ticket.token;
		if (client.event) client.event("ticket", { fanId: ctx.fanId, orderId: order.orderId, state: ticket.state, ms: ticket.ms });
		return result;
	}
	return result;
}

/** How the fan page polls its order for tickets: at once, then 250 ms, each wait half as long again, at most 2 s apart. */
export const TICKET_POLL = { firstMs: 250, factor: 1.5, maxMs: 2000 };

/**
 * After a 201: the fan reads its order with its order token (GET
 * /api/orders/:orderId), as the fan page does, until every pass carries a
 * signed token, which the gate accepts. Returns {state, ms, reads, token}:
 * state `ticketed` (ms: from `answeredAt`, the 201's answer, to the read that
 * had every token), `refunded` (the order was refunded meanwhile, so no token
 * comes: not a miss), `missed` (no ticket by knobs.ticketDeadlineSeconds) or
 * `error` (an answer the contract does not allow, a failed check).
 */
export function* awaitTickets(client, ctx, order, answeredAt) {
	const out = { state: "missed", ms: null, reads: 0, token: null };
	if (typeof order.orderToken !== "string" || order.orderToken.length === 0) {
		out.state = "error";
		return out;
	}
	const deadline = answeredAt + ctx.knobs.ticketDeadlineSeconds * 1000;
	const url = ctx.baseUrl + "/api/orders/" + encodeURIComponent(order.orderId);
	let delay = TICKET_POLL.firstMs;
	for (;;) {
		const res = yield request("GET", url, { headers: { authorization: "Bearer " + order.orderToken }, step: "order" });
		out.reads++;
		const at = client.now();
		let wait = delay;
		if (res.status === 200) {
			ok(client, "order");
			const body = json(res);
			const passes = body && Array.isArray(body.passes) ? body.passes : [];
			if ((body && body.status === "refunded") || passes.some((p) => p.state === "refunded")) {
				out.state = "refunded";
				return out;
			}
			if (passes.length >= order.quantity && passes.every((p) => typeof p.token === "string" && p.token.length > 0)) {
				out.state = "ticketed";
				out.ms = at - answeredAt;
				out.token = passes[0].token;
				return out;
			}
		} else if (res.status === 429 || (res.status === 503 && errorCode(res) !== null) || transient(client, "order", res, ctx.fanId)) {
			wait = Math.max(delay, retryAfterMs(res, delay));
		} else {
			fail(client, "order", res, ctx.fanId);
			out.state = "error";
			return out;
		}
		if (at >= deadline) return out;
		yield pause(Math.min(wait, deadline - at));
		delay = Math.min(TICKET_POLL.maxMs, delay * TICKET_POLL.factor);
	}
}

// ---------------------------------------------------------------------------
// After the sale: every order's follow-up must reach `ticketed`

/** Statuses an order has once its tickets were issued (or it was refunded, which ends it too). */
export const TICKETED_STATUSES = ["ticketed", "receipt_sent", "refunded"];

/** The drop's orders by status, walking the sales pages: {orders, byStatus, notTicketed (the first 10 ids)}. */
export function* orderStatuses(client, cfg, dropId) {
	const out = { orders: 0, byStatus: {}, notTicketed: [] };
	yield* eachListed(cfg, dropId, "sales", "sales", function (sale) {
		out.orders++;
		out.byStatus[sale.status] = (out.byStatus[sale.status] || 0) + 1;
		if (TICKETED_STATUSES.indexOf(sale.status) < 0 && out.notTicketed.length < 10) out.notTicketed.push(sale.orderId);
	});
	out.ticketed = TICKETED_STATUSES.reduce(function (sum, s) {
		return sum + (out.byStatus[s] || 0);
	}, 0);
	return out;
}

/**
 * Waits (up to `timeoutMs`) until every order in D1 has reached `ticketed`, and
 * answers the last count with `failures`: a sale that never did within the
 * drain time, or one that failed.
 */
export function* waitForTicketed(client, cfg, dropId, timeoutMs) {
	const deadline = client.now() + timeoutMs;
	let seen = null;
	for (;;) {
		seen = yield* orderStatuses(client, cfg, dropId);
		if (seen.ticketed === seen.orders || client.now() > deadline) break;
		yield pause(1000);
	}
	seen.failures = [];
	if (seen.ticketed < seen.orders) {
		seen.failures.push(
			"not ticketed: " + (seen.orders - seen.ticketed) + " of " + seen.orders + " order(s) never reached ticketed within the drain time (" +
				JSON.stringify(seen.byStatus) + "; e.g. " + seen.notTicketed.slice(0, 3).join(", ") + ")",
		);
	}
	return seen;
}
