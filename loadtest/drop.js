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
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e ADMIN_TOKEN=... loadtest/drop.js
//   k6 run -e BASE_URL=https://drops.example.com -e ADMIN_TOKEN=... -e TICKETS=100000 -e FANS=300000 -e SHARDS=32 loadtest/drop.js
//
// Knobs (-e NAME=value): every key of DEFAULTS in lib/journey.js in upper
// snake case (TICKETS, FANS, SHARDS, LINES, MAX_PER_FAN, QUANTITY, ABANDON_RATE,
// DECLINE_RATE, THINK_MS, LEAD_SECONDS, SPREAD_SECONDS, BATCH_SIZE,
// INTERVAL_MS, ACTIVE_MULTIPLE, HOLD_SECONDS, PRICE_CENTS, FAN_TIMEOUT_SECONDS,
// DRAIN_SECONDS, SEED, MAX_PER_FAN_LOAD), plus FANS_PER_VU (fans sharing one
// VU, default 10) and SUMMARY_JSON (where handleSummary writes the JSON summary).
// LINES 0 (the default) leaves the line count to the engine: ceil(TICKETS / 500).
// MAX_PER_FAN_LOAD 0 (the default) is off.
// SCENARIO=seated (with SEATS, default TICKETS): a drop of reserved seats where many
// fans race for the same best seats (lib/seated.js); it also fails on a seat sold
// twice or D1 disagreeing with the shards.
import { Counter, Gauge, Trend } from "k6/metrics";
import crypto from "k6/crypto";
import exec from "k6/execution";
import { checkFairness } from "./lib/fairness.js";
import {
	arrivalOffsetMs,
	auditFailures,
	createDrop,
	demandExceedsSupply,
	dropBody,
	fanJourney,
	knobsFrom,
	loadSummary,
	readFairness,
	runInterleaved,
	runSync,
	ticketsByFan,
	waitForDrain,
} from "./lib/journey.js";
import { expectContractStatuses, k6Client, stepTrends } from "./lib/k6-client.js";
import { seatCount, seatedDropBody, seatedFailures, seatedHoldBody } from "./lib/seated.js";
import { LOAD_KINDS, textSummary } from "./lib/k6-summary.js";

const knobs = knobsFrom(__ENV);
const SEATED = __ENV.SCENARIO === "seated";
if (SEATED) knobs.tickets = seatCount(knobs);
const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8787").replace(/\/+$/, "");
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || "";
const FANS_PER_VU = Math.max(1, Number(__ENV.FANS_PER_VU || 10));
const VUS = Math.ceil(knobs.fans / FANS_PER_VU);
const EXPECT_SOLD_OUT = demandExceedsSupply(knobs);

const trends = stepTrends();
const unexpected = new Counter("unexpected_answers");
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
};
if (knobs.maxPerFanLoad > 0) thresholds.load_hottest_per_fan = ["value<=" + knobs.maxPerFanLoad];

/** @type {import("k6/options").Options} */
export const options = {
	scenarios: {
		fans: {
			executor: "per-vu-iterations",
			vus: VUS,
			iterations: 1,
			// Arrivals end by LEAD + SPREAD; each fan then has FAN_TIMEOUT_SECONDS at most.
			maxDuration: Math.ceil(knobs.leadSeconds + knobs.spreadSeconds + knobs.fanTimeoutSeconds + 30) + "s",
			gracefulStop: "30s",
		},
	},
	setupTimeout: "60s",
	teardownTimeout: Math.ceil(knobs.drainSeconds + 120) + "s",
	summaryTrendStats: ["avg", "min", "med", "p(95)", "p(99)", "max", "count"],
	thresholds: thresholds,
};

expectContractStatuses();

const client = k6Client(trends, unexpected, function (name, d) {
	if (name === "joined") joined.add(1);
	else if (name === "admitted") admitted.add(1);
	else if (name === "sold") {
		orders.add(1);
		ticketsSold.add(d.quantity);
	}
});

export function setup() {
	if (!ADMIN_TOKEN) throw new Error("set ADMIN_TOKEN (-e ADMIN_TOKEN=...): setup creates the drop through the admin API");
	// A first sample, so every threshold has data even when nothing goes wrong.
	for (const c of [unexpected, oversold, lost, unsold, broken, fairnessMismatches]) c.add(0);
	const createdAt = Date.now();
	const body = SEATED ? seatedDropBody(dropBody(knobs, createdAt), knobs) : dropBody(knobs, createdAt);
	const drop = runSync(createDrop(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, body), client);
	if (knobs.lines > 0 && drop.lines !== knobs.lines) throw new Error("the drop was created with " + drop.lines + " line(s); asked for " + knobs.lines);
	console.log(
		"drop " + drop.id + ": " + knobs.tickets + " tickets over " + drop.shards + " shard(s) and " + drop.lines + " line(s), " + knobs.fans + " fans on " + VUS +
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
	const vu = exec.vu.idInTest;
	const fans = [];
	for (let i = vu - 1; i < knobs.fans; i += VUS) {
		fans.push(
			fanJourney(client, {
				baseUrl: BASE_URL,
				dropId: data.dropId,
				fanId: data.runId + "-" + i,
				index: i,
				knobs: knobs,
				startAt: data.createdAt + arrivalOffsetMs(i, knobs),
				holdBody: SEATED ? seatedHoldBody(i) : undefined,
			}),
		);
	}
	const results = runInterleaved(fans, client);
	for (const r of results) {
		if (r && r.outcome === "bought") saleAfterOpen.add(r.boughtAt - data.opensAt);
		// A fan stopped by an error it could not get past fails the run, even if no single answer did.
		if (r && r.outcome === "error") unexpected.add(1);
	}
	checkVuFairness(data, results);
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
	const audit = runSync(waitForDrain(client, cfg, data.dropId, knobs.drainSeconds * 1000), client);
	const byFan = runSync(ticketsByFan(client, cfg, data.dropId), client);
	const failures = auditFailures(audit, { expectSoldOut: EXPECT_SOLD_OUT, maxPerFan: knobs.maxPerFan, maxPerFanLoad: knobs.maxPerFanLoad, byFan: byFan });
	if (SEATED) {
		for (const f of seatedFailures(audit)) failures.push("seated: " + f);
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
	oversold.add(audit.oversold);
	lost.add(audit.lost);
	unsold.add(EXPECT_SOLD_OUT ? audit.capacity - audit.totals.sold : 0);
	broken.add(failures.length);
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
	return out;
}
