// k6: a whole ticket drop. setup() creates the drop, the "fans" scenario
// makes the arrival spike of a real drop (a fifth early in the pre-queue, most
// within seconds of the opening, a tail after), and teardown() waits for the
// Queue to drain, reads the audit, and fails the run on any oversold, lost or
// (with demand above supply) unsold ticket. Runs on k6 v0.48 and later.
//
// Fairness: each VU, once its fans are done, reads GET /fairness and checks
// every position its fans were told against the order re-derived from the
// revealed seed (lib/fairness.js), and that its own later fans were placed
// first come, first served (VUs share no memory, so that part compares only
// fans of one VU; the Node runner compares all). teardown() checks the seed
// against its commitment (k6/crypto) and the audit against the public data.
// Load: teardown() puts the audit's requests per object into load_* gauges,
// which the summary prints; MAX_PER_FAN_LOAD makes a threshold of the busiest.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e ADMIN_TOKEN=... loadtest/drop.js   (the operator token or a promoter owner key)
//   k6 run -e BASE_URL=https://drops.example.com -e ADMIN_TOKEN=... -e TICKETS=100000 -e FANS=300000 -e SHARDS=32 loadtest/drop.js
//
// Knobs (-e NAME=value): every key of DEFAULTS in lib/journey.js in upper
// snake case (TICKETS, FANS, SHARDS, LINES, MAX_PER_FAN, QUANTITY, ABANDON_RATE,
// DECLINE_RATE, THINK_MS, LEAD_SECONDS, SPREAD_SECONDS, BATCH_SIZE,
// INTERVAL_MS, ACTIVE_MULTIPLE, HOLD_SECONDS, PRICE_CENTS, FAN_TIMEOUT_SECONDS,
// DRAIN_SECONDS, SEED, MAX_PER_FAN_LOAD), plus FANS_PER_VU (fans sharing one
// VU, default 10) and SUMMARY_JSON (where handleSummary writes the JSON summary).
// LINES 0 (the default) leaves the line count to the engine: ceil(TICKETS / 500).
// MAX_PER_FAN_LOAD 0 (the default) is off. After its 201 each fan reads its order until
// every ticket is signed: the sale_to_ticket Trend (P99_TICKET=2s makes a threshold of
// it), and tickets_missed counts fans with none within TICKET_DEADLINE_SECONDS (default
// 60), which fails the run.
//
// SCENARIO picks the shape of the drop (lib/scenarios.js): spike (default),
// ramp (RAMP_SECONDS), soak (SOAK_SECONDS), bots (BOT_SHARE hostile fans).
// Thresholds: P95_<STEP> / P99_<STEP> (P99_HOLD=500ms) and SELLOUT (60s).
// The report: handleSummary also writes REPORT_JSON and REPORT_HTML (default
// loadtest/reports/k6-drop-report.json and .html), the page the Node runner
// writes. Its per-second series come from metrics tagged with their second
// (lib/timeline.js: one submetric per BUCKET_SECONDS, over the arrival window
// plus TAIL_SECONDS), and the watermark and stock left from an "observer"
// scenario that reads the public API once a bucket.
// SCENARIO=seated (with SEATS, default TICKETS): a drop of reserved seats where many
// fans race for the same best seats (lib/seated.js); it also fails on a seat sold
// twice or D1 disagreeing with the shards.
// SCENARIO=returns: after the sell-out RETURN_SHARE (default 0.1) of the orders come back
// while the fans left keep their places in line (an offer lasts OFFER_SECONDS, default 180):
// the buyers of half of them list their tickets for resale (returnsFan), a "promoter"
// scenario switches resale on and refunds the rest with restock, waits for every returned
// ticket and listing to sell and closes the drop (lib/returns.js); the teardown fails on a
// returned ticket not sold again or the audit's resale part not clean. The line-order check
// from each fan's position is the Node runner's (VUs share no memory).
import { Counter, Gauge, Trend } from "k6/metrics";
import crypto from "k6/crypto";
import exec from "k6/execution";
import { checkFairness } from "./lib/fairness.js";
import {
	auditFailures,
	createDrop,
	demandExceedsSupply,
	dropBody,
	fanJourney,
	knobsFrom,
	loadSummary,
	readFairness,
	recoverMissing,
	recoveryText,
	runInterleaved,
	runSync,
	ticketsByFan,
	waitForDrain,
	waitForTicketed,
} from "./lib/journey.js";
import { REQUEST_TIMEOUT_SECONDS, STEPS, expectContractStatuses, k6Client, stepTrends } from "./lib/k6-client.js";
import { UNANSWERED_METRIC, unansweredThresholds } from "./lib/unanswered.js";
import { seatCount, seatedDropBody, seatedFailures, seatedHoldBody } from "./lib/seated.js";
import { LOAD_KINDS, textSummary } from "./lib/k6-summary.js";
import { k6Report, loadObjectNames } from "./lib/k6-report.js";
import { k6Thresholds, thresholdSpecs } from "./lib/report-compare.js";
import { renderReport } from "./lib/report-html.js";
import { fanPlan, scenarioNamed } from "./lib/scenarios.js";
import { returnTickets, returnsAuditFailures, returnsFan } from "./lib/returns.js";
import { K6_TICKET_METRICS, ticketBinTag, ticketBinThresholds } from "./lib/ticket-time.js";
import { K6_ESTIMATE_METRICS, estimateOutcome } from "./lib/wait-estimate.js";
import { K6_SERIES, LATENCY_STEPS, bucketOf, statusClass, timelineBuckets, timelineThresholds } from "./lib/timeline.js";

const knobs = knobsFrom(__ENV);
// A cancel mid-sale is judged on every fan's 201 against the cancel's answer, which k6's VUs cannot share.
if (knobs.cancelAfterSold > 0) throw new Error("CANCEL_AFTER_SOLD is the Node runner's (npm run loadtest -- --cancel-after-sold N): k6's VUs share no memory, so none knows the fans' sold count or each other's 201s");
const SCENARIO = scenarioNamed(__ENV.SCENARIO);
const SEATED = SCENARIO.seated;
const RETURNS = SCENARIO.returns;
if (SEATED) knobs.tickets = seatCount(knobs);
const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8787").replace(/\/+$/, "");
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || "";
const FANS_PER_VU = Math.max(1, Number(__ENV.FANS_PER_VU || 10));
const VUS = Math.ceil(knobs.fans / FANS_PER_VU);
const EXPECT_SOLD_OUT = demandExceedsSupply(knobs);
const THRESHOLD_SPECS = thresholdSpecs(__ENV);
const BUCKETS = timelineBuckets(knobs, SCENARIO.arrivalSeconds(knobs), knobs.bucketSeconds, knobs.tailSeconds);
// The objects the audit will count, for one load_object submetric each.
const LINES = knobs.lines > 0 ? knobs.lines : Math.ceil(knobs.tickets / 500);
const SHARDS = Math.min(knobs.shards, knobs.tickets);

const trends = stepTrends();
const unexpected = new Counter("unexpected_answers");
const unanswered = new Counter(UNANSWERED_METRIC);
const joined = new Counter("fans_joined");
const admitted = new Counter("fans_admitted");
const orders = new Counter("orders");
const ticketsSold = new Counter("tickets_sold");
const saleAfterOpen = new Trend("sale_after_open", true);
const oversold = new Counter("oversold_tickets");
const lost = new Counter("lost_sales");
const unsold = new Counter("unsold_tickets");
const broken = new Counter("broken_invariants");
const fairnessChecked = new Counter("fairness_checked");
const fairnessMismatches = new Counter("fairness_mismatches");
const botBreaches = new Counter("bot_breaches");
const notSoldOut = new Counter("not_sold_out");
// Sale to ticket: from each 201 to the order read with every ticket signed (lib/ticket-time.js).
const saleToTicket = new Trend(K6_TICKET_METRICS.trend, true);
const ticketsMissed = new Counter(K6_TICKET_METRICS.missed);
const ticketsRefunded = new Counter(K6_TICKET_METRICS.refunded);
const ticketBins = new Counter(K6_TICKET_METRICS.bins);
// The wait estimate against the real wait, per admitted fan, in percent (lib/wait-estimate.js).
const estimateError = new Trend(K6_ESTIMATE_METRICS.error);
const estimateSigned = new Trend(K6_ESTIMATE_METRICS.signed);
const estimateUntold = new Counter(K6_ESTIMATE_METRICS.untold);
// The report's per-second series (lib/timeline.js) and what teardown() reads from the audit.
/** @param {Record<string, string>} names @param {(name: string) => any} make */
function metricsOf(names, make) {
	/** @type {Record<string, any>} */
	const out = {};
	for (const key of Object.keys(names)) out[key] = make(names[key]);
	return out;
}
const series = {
	events: metricsOf(K6_SERIES.events, function (name) {
		return new Counter(name);
	}),
	answers: metricsOf(K6_SERIES.answers, function (name) {
		return new Counter(name);
	}),
	observed: metricsOf(K6_SERIES.observed, function (name) {
		return new Trend(name);
	}),
	latency: metricsOf(K6_SERIES.latency, function (name) {
		return new Trend(name, true);
	}),
};
const auditGauges = {
	sold: new Gauge("audit_sold"),
	capacity: new Gauge("audit_capacity"),
	orders: new Gauge("audit_orders"),
	recorded: new Gauge("audit_recorded"),
	balanced: new Gauge("audit_balanced"),
};
const loadObject = new Gauge("load_object");
/**
 * When the drop was created (setup data): bucket 0 of the series. Set by each
 * VU that runs fans or the observer; setup() and teardown() leave it 0, so
 * their admin requests stay out of the series, as in the Node runner.
 */
let origin = 0;
function bucketTag(at) {
	return String(bucketOf(origin, knobs.bucketSeconds, BUCKETS, at));
}
// The audit's load, set once by teardown(); the hottest object's kind as its index in LOAD_KINDS.
const load = {
	fans: new Gauge("load_fans"),
	hottestKind: new Gauge("load_hottest_kind"),
	hottestIndex: new Gauge("load_hottest_index"),
	hottestRequests: new Gauge("load_hottest_requests"),
	hottestPerFan: new Gauge("load_hottest_per_fan"),
	room: new Gauge("load_room_requests"),
	lines: new Gauge("load_lines_requests"),
	linesMax: new Gauge("load_lines_max"),
	shards: new Gauge("load_shards_requests"),
	shardsMax: new Gauge("load_shards_max"),
};
/** A watermark copy may be this old (WATERMARK_CACHE_MS at most 1 s): read /fairness no sooner after a fan was told a position. */
const FAIRNESS_READ_DELAY_MS = 1500;

/** @type {Record<string, string[]>} */
const thresholds = {
	// 4xx the contract expects (sold out, declined, gone, rate limited) are not failures.
	http_req_failed: ["rate<0.01"],
	checks: ["rate>0.99"],
	unexpected_answers: ["count==0"],
	oversold_tickets: ["count==0"],
	lost_sales: ["count==0"],
	unsold_tickets: ["count==0"],
	broken_invariants: ["count==0"],
	fairness_mismatches: ["count==0"],
	bot_breaches: ["count==0"],
	// A fan answered 201 holds a ticket the gate accepts within TICKET_DEADLINE_SECONDS, or the run fails.
	tickets_missed: ["count==0"],
	sale_to_ticket: ["p(99)<" + knobs.ticketDeadlineSeconds * 1000],
};
// Any request with no answer within REQUEST_TIMEOUT_SECONDS fails the run; one threshold per step hands its count to the report.
Object.assign(thresholds, unansweredThresholds(STEPS));
if (knobs.maxPerFanLoad > 0) thresholds.load_hottest_per_fan = ["value<=" + knobs.maxPerFanLoad];
// The engineer's thresholds (P99_HOLD=500ms, SELLOUT=60s), then one always-true threshold per
// submetric the report reads: k6 gives handleSummary only the metrics and submetrics thresholds name.
// P99_TICKET (k6Thresholds) takes the place of the deadline's p99 on sale_to_ticket.
Object.assign(thresholds, k6Thresholds(THRESHOLD_SPECS), timelineThresholds(BUCKETS), ticketBinThresholds());
for (const name of loadObjectNames(LINES, SHARDS)) thresholds["load_object{o:" + name + "}"] = ["value>=0"];

/** @type {import("k6/options").Options} */
export const options = {
	scenarios: {
		fans: {
			executor: "per-vu-iterations",
			vus: VUS,
			iterations: 1,
			// Arrivals end by LEAD + SPREAD; each fan then has FAN_TIMEOUT_SECONDS at most.
			maxDuration: Math.ceil(knobs.leadSeconds + SCENARIO.arrivalSeconds(knobs) + knobs.fanTimeoutSeconds + 30) + "s",
			gracefulStop: "30s",
		},
		// One VU reading the watermark and the stock left once a bucket, for the report.
		observer: {
			executor: "per-vu-iterations",
			vus: 1,
			iterations: 1,
			exec: "observe",
			maxDuration: Math.ceil(BUCKETS * knobs.bucketSeconds + 60) + "s",
			gracefulStop: "10s",
		},
	},
	setupTimeout: "60s",
	// The drain, the reconcile's turn when sales are still missing from D1 after it, and the checks after.
	teardownTimeout: Math.ceil(knobs.drainSeconds + knobs.reconcileSeconds + 120) + "s",
	summaryTrendStats: ["avg", "min", "med", "p(90)", "p(95)", "p(99)", "max", "count"],
	thresholds: thresholds,
};

// The returns scenario's promoter: one VU that refunds after the sell-out, then closes the drop.
if (RETURNS && options.scenarios) {
	options.scenarios.promoter = {
		executor: "per-vu-iterations",
		vus: 1,
		iterations: 1,
		exec: "promoter",
		maxDuration: Math.ceil(knobs.leadSeconds + SCENARIO.arrivalSeconds(knobs) + knobs.fanTimeoutSeconds + 30) + "s",
		gracefulStop: "30s",
	};
}

expectContractStatuses(SCENARIO.isBot !== null);

const client = k6Client(
	trends,
	unexpected,
	function (name, d) {
		if (name === "joined") joined.add(1);
		else if (name === "admitted") admitted.add(1);
		else if (name === "sold") {
			orders.add(1);
			ticketsSold.add(d.quantity);
		} else if (name === "breach") botBreaches.add(1);
		else if (name === "ticket") {
			if (d.state === "ticketed") {
				saleToTicket.add(d.ms);
				ticketBins.add(1, { le: ticketBinTag(d.ms) });
			} else if (d.state === "refunded") ticketsRefunded.add(1);
			else ticketsMissed.add(1);
		}
		if (origin > 0 && (name === "arrived" || name === "joined" || name === "admitted" || name === "held" || name === "sold")) {
			series.events[name].add(name === "sold" ? d.quantity : 1, { b: bucketTag(Date.now()) });
		}
	},
	function (step, ms, status) {
		if (origin === 0) return;
		const b = bucketTag(Date.now());
		// Past the timeline's last bucket (b = -1): left out of the per-second series.
		series.answers[statusClass(status)].add(1, { b: b });
		if (LATENCY_STEPS.indexOf(step) >= 0) series.latency[step].add(ms, { b: b });
	},
	unanswered,
);

export function setup() {
	if (!ADMIN_TOKEN) throw new Error("set ADMIN_TOKEN (-e ADMIN_TOKEN=...): setup creates the drop through the admin API");
	// A first sample, so every threshold has data even when nothing goes wrong.
	for (const c of [unexpected, unanswered, oversold, lost, unsold, broken, fairnessMismatches, botBreaches, notSoldOut, ticketsMissed, estimateUntold]) c.add(0);
	const createdAt = Date.now();
	const plainBody = dropBody(knobs, createdAt);
	if (RETURNS) plainBody.admission.offerSeconds = knobs.offerSeconds;
	const body = SEATED ? seatedDropBody(plainBody, knobs) : plainBody;
	const drop = runSync(createDrop(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, body), client);
	if (knobs.lines > 0 && drop.lines !== knobs.lines) throw new Error("the drop was created with " + drop.lines + " line(s); asked for " + knobs.lines);
	console.log(
		SCENARIO.name + ": drop " + drop.id + ": " + knobs.tickets + " tickets over " + drop.shards + " shard(s) and " + drop.lines + " line(s), " + knobs.fans + " fans on " + VUS +
			" VUs, opens " + drop.opensAt + (EXPECT_SOLD_OUT ? "; demand exceeds supply, so every ticket must sell" : ""),
	);
	return {
		dropId: drop.id,
		createdAt: createdAt,
		opensAt: Date.parse(drop.opensAt),
		runId: "k6" + createdAt.toString(36),
		lines: drop.lines,
		seedCommitment: drop.seedCommitment,
	};
}

/** @typedef {{dropId: string, createdAt: number, opensAt: number, runId: string, lines: number, seedCommitment: string}} SetupData */

/** @param {SetupData} data */
export default function (data) {
	origin = data.createdAt;
	// This VU's place among the fans' VUs (the observer's VU is not one of them).
	const slot = exec.scenario.iterationInTest;
	const fans = [];
	for (let i = slot; i < knobs.fans; i += VUS) {
		const plan = fanPlan(SCENARIO, i, knobs, data.createdAt);
		fans.push(
			(RETURNS ? returnsFan : fanJourney)(client, {
				baseUrl: BASE_URL,
				dropId: data.dropId,
				fanId: data.runId + "-" + i,
				index: i,
				knobs: knobs,
				startAt: plan.startAt,
				probes: plan.probes,
				holdBody: SEATED ? seatedHoldBody(i) : undefined,
				waitForReturns: RETURNS,
			}),
		);
	}
	const results = runInterleaved(fans, client);
	for (const r of results) {
		if (r && r.outcome === "bought") saleAfterOpen.add(r.boughtAt - data.opensAt);
		// A fan stopped by an error it could not get past fails the run, even if no single answer did.
		if (r && r.outcome === "error") unexpected.add(1);
		if (r && typeof r.admittedAt === "number") {
			const e = estimateOutcome(r);
			if (e === null) estimateUntold.add(1);
			else {
				estimateError.add(e.error * 100);
				estimateSigned.add(e.signed * 100);
			}
		}
	}
	checkVuFairness(data, results);
}

/**
 * The returns scenario's promoter (lib/returns.js): after the sell-out, refunds
 * RETURN_SHARE of the orders with restock, waits for them to sell again, closes the drop.
 * @param {SetupData} data
 */
export function promoter(data) {
	const cfg = { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN };
	const out = runSync(returnTickets(client, cfg, data.dropId, knobs, (knobs.leadSeconds + SCENARIO.arrivalSeconds(knobs) + knobs.fanTimeoutSeconds) * 1000), client);
	console.log(
		"returns: " + out.refundedOrders + " of " + out.orders + " order(s) refunded with restock (" + out.refundedTickets + " ticket(s)), " + out.listedOrders + " listed for resale (" +
			out.listedTickets + " ticket(s)); " + (out.resoldAt === null ? "not all sold again" : "all sold again") + "; drop " + (out.closedAt === null ? "not closed" : "closed"),
	);
	if (out.error) {
		broken.add(1);
		console.warn("returns: " + out.error);
	}
	// Each listing sold, its seller refunded once and after the buyer's order (read by the promoter, judged here).
	const resaleBroken = out.resales ? out.resales.failures : [];
	for (const f of resaleBroken) {
		broken.add(1);
		console.warn(f);
	}
}

/**
 * The observer: the pacer's watermark, the last position placed and the stock
 * left, read from the public API (answered by the Worker from its copy of the
 * watermark) once a bucket, until 10 s after the drop sold out or closed, or
 * the end of the series.
 * @param {SetupData} data
 */
export function observe(data) {
	origin = data.createdAt;
	const end = data.createdAt + BUCKETS * knobs.bucketSeconds * 1000;
	const base = BASE_URL + "/api/drops/" + data.dropId;
	let overAt = 0;
	while (Date.now() < end && (overAt === 0 || Date.now() < overAt + 10000)) {
		const at = Date.now();
		const answers = client.batch([
			{ method: "GET", url: base + "/fairness", headers: {}, body: null, step: "observe" },
			{ method: "GET", url: base, headers: {}, body: null, step: "observe" },
		]);
		const b = bucketTag(at);
		const fair = answers[0].status === 200 ? JSON.parse(String(answers[0].body)) : null;
		const view = answers[1].status === 200 ? JSON.parse(String(answers[1].body)) : null;
		if (fair) {
			series.observed.watermark.add(fair.admittedThrough, { b: b });
			series.observed.placed.add(fair.lastPosition, { b: b });
		}
		if (view) {
			series.observed.remaining.add(view.remaining, { b: b });
			if (overAt === 0 && (view.status === "sold_out" || view.status === "closed")) overAt = Date.now();
		}
		client.sleep(at + knobs.bucketSeconds * 1000 - Date.now());
	}
}

/**
 * Every position this VU's fans were told, against the order re-derived from
 * the revealed seed; and first come, first served among its later fans.
 * @param {SetupData} data @param {any[]} results
 */
function checkVuFairness(data, results) {
	const told = results.filter(function (r) {
		return r && typeof r.position === "number";
	});
	if (told.length === 0) return;
	client.sleep(FAIRNESS_READ_DELAY_MS);
	const fairness = runSync(readFairness(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, data.dropId), client);
	const verdict = checkFairness(fairness, results, { publishedCommitment: data.seedCommitment });
	fairnessChecked.add(verdict.stats.prequeueChecked + verdict.stats.laterChecked);
	fairnessMismatches.add(verdict.broken);
	for (const f of verdict.failures) console.warn("fairness (VU " + exec.vu.idInTest + "): " + f);
}

/** @param {SetupData} data */
export function teardown(data) {
	const cfg = { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN };
	const drained = runSync(waitForDrain(client, cfg, data.dropId, knobs.drainSeconds * 1000), client);
	// Sales still missing from D1 are not called lost before the reconcile a deployment's cron runs has had its turn.
	const recovery = runSync(recoverMissing(client, cfg, data.dropId, drained, knobs.reconcileSeconds * 1000), client);
	const audit = recovery.audit;
	if (recovery.ran) console.log("recovery: " + recoveryText(recovery));
	const byFan = runSync(ticketsByFan(client, cfg, data.dropId), client);
	const failures = auditFailures(audit, { expectSoldOut: EXPECT_SOLD_OUT, maxPerFan: knobs.maxPerFan, maxPerFanLoad: knobs.maxPerFanLoad, byFan: byFan, recovery: recovery });
	if (SEATED) {
		for (const f of seatedFailures(audit)) failures.push("seated: " + f);
	}
	if (RETURNS) {
		// The promoter's counts are in its own VU: the audit's restocked stands for them, and must not be 0; the
		// listings' count is checked there (the promoter's failures count as broken).
		const restocked = audit.refunds ? audit.refunds.restocked : 0;
		if (restocked === 0) failures.push("returns: no ticket came back (the promoter's refunds never ran)");
		for (const f of returnsAuditFailures(audit, restocked, null)) failures.push(f);
	}
	// The published data itself: the seed against its commitment, the shuffle, and the audit agreeing.
	const fairness = runSync(readFairness(client, cfg, data.dropId), client);
	const verdict = checkFairness(fairness, [], {
		sha256Hex: function (text) {
			return crypto.sha256(text, "hex");
		},
		publishedCommitment: data.seedCommitment,
		admission: audit.admission,
	});
	fairnessMismatches.add(verdict.broken);
	for (const f of verdict.failures) failures.push("fairness: " + f);
	// After the sale: every order's Workflow reaches ticketed within the drain time.
	const ticketing = runSync(waitForTicketed(client, cfg, data.dropId, knobs.drainSeconds * 1000), client);
	for (const f of ticketing.failures) failures.push(f);
	console.log("orders ticketed: " + ticketing.ticketed + "/" + ticketing.orders + " " + JSON.stringify(ticketing.byStatus));
	oversold.add(audit.oversold);
	lost.add(audit.lost);
	unsold.add(EXPECT_SOLD_OUT ? audit.capacity - audit.totals.sold : 0);
	broken.add(failures.length);
	notSoldOut.add(audit.totals.sold < audit.capacity ? 1 : 0);
	auditGauges.sold.add(audit.totals.sold);
	auditGauges.capacity.add(audit.capacity);
	auditGauges.orders.add(audit.totals.orders);
	auditGauges.recorded.add(audit.recorded);
	auditGauges.balanced.add(audit.balanced ? 1 : 0);
	const objects = audit.load && Array.isArray(audit.load.objects) ? audit.load.objects : [];
	for (const o of objects) loadObject.add(o.requests, { o: o.kind + "-" + o.index });
	const l = loadSummary(audit.load);
	load.fans.add(l.fans);
	if (l.hottest) {
		load.hottestKind.add(LOAD_KINDS.indexOf(l.hottest.kind));
		load.hottestIndex.add(l.hottest.index);
		load.hottestRequests.add(l.hottest.requests);
		load.hottestPerFan.add(l.hottest.perFan);
	}
	load.room.add(l.room);
	load.lines.add(l.lines.total);
	load.linesMax.add(l.lines.max);
	load.shards.add(l.shards.total);
	load.shardsMax.add(l.shards.max);
	console.log(
		"audit of " + data.dropId + ": sold " + audit.totals.sold + "/" + audit.capacity + ", oversold " + audit.oversold + ", lost " + audit.lost +
			", D1 " + audit.recorded + " orders / shards " + audit.totals.orders +
			"; seed " + fairness.seed + (verdict.stats.commitmentOk ? " matches" : " does NOT match") + " its commitment, pre-queue " + verdict.stats.prequeueSize +
			" over " + fairness.lines + " line(s)" +
			(l.hottest ? "; busiest " + l.hottest.kind + " " + l.hottest.index + ": " + l.hottest.requests + " requests, " + l.hottest.perFan + " per fan" : ""),
	);
	// The thresholds above fail the run; the error makes sure of it and says why.
	if (failures.length > 0) throw new Error("broken invariants:\n  " + failures.join("\n  "));
}

/** @param {any} data */
export function handleSummary(data) {
	const lines = data.setup_data && data.setup_data.lines ? data.setup_data.lines + " line(s)" : knobs.lines > 0 ? knobs.lines + " line(s)" : "the engine's default lines";
	/** @type {Record<string, string>} */
	const out = { stdout: textSummary(data, "ticket drop: " + knobs.fans + " fans, " + knobs.tickets + " tickets, " + knobs.shards + " shards, " + lines) };
	// k6 cannot create a folder: loadtest/reports/ is kept in git (.gitkeep) for this.
	out[__ENV.SUMMARY_JSON || "loadtest/reports/k6-drop-summary.json"] = JSON.stringify(data, null, 2);
	// The report the Node runner writes too: its JSON (for --compare and npm run report) and its page.
	const report = k6Report(data, {
		knobs: knobs,
		scenario: SCENARIO.name,
		bucketSeconds: knobs.bucketSeconds,
		buckets: BUCKETS,
		lines: LINES,
		shards: SHARDS,
		thresholdSpecs: THRESHOLD_SPECS,
		expectSoldOut: EXPECT_SOLD_OUT,
		steps: STEPS,
		requestTimeoutSeconds: REQUEST_TIMEOUT_SECONDS,
		at: new Date(data.setup_data && data.setup_data.createdAt ? data.setup_data.createdAt : Date.now()).toISOString(),
	});
	out[__ENV.REPORT_JSON || "loadtest/reports/k6-drop-report.json"] = JSON.stringify(report, null, 2);
	out[__ENV.REPORT_HTML || "loadtest/reports/k6-drop-report.html"] = renderReport(report);
	return out;
}
