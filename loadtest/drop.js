// k6: a whole ticket drop. setup() creates the drop, the "fans" scenario
// makes the arrival spike of a real drop (a fifth early in the pre-queue, most
// within seconds of the opening, a tail after), and teardown() waits for the
// Queue to drain, reads the audit, and fails the run on any oversold, lost or
// (with demand above supply) unsold ticket. Runs on k6 v0.48 and later.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e ADMIN_TOKEN=... loadtest/drop.js
//   k6 run -e BASE_URL=https://drops.example.com -e ADMIN_TOKEN=... -e TICKETS=100000 -e FANS=300000 -e SHARDS=32 loadtest/drop.js
//
// Knobs (-e NAME=value): every key of DEFAULTS in lib/journey.js in upper
// snake case (TICKETS, FANS, SHARDS, MAX_PER_FAN, QUANTITY, ABANDON_RATE,
// DECLINE_RATE, THINK_MS, LEAD_SECONDS, SPREAD_SECONDS, BATCH_SIZE,
// INTERVAL_MS, ACTIVE_MULTIPLE, HOLD_SECONDS, PRICE_CENTS, FAN_TIMEOUT_SECONDS,
// DRAIN_SECONDS, SEED), plus FANS_PER_VU (fans sharing one VU, default 10)
// and SUMMARY_JSON (where handleSummary writes the JSON summary).
import { Counter, Trend } from "k6/metrics";
import exec from "k6/execution";
import { arrivalOffsetMs, auditFailures, createDrop, demandExceedsSupply, dropBody, fanJourney, knobsFrom, runInterleaved, runSync, ticketsByFan, waitForDrain } from "./lib/journey.js";
import { expectContractStatuses, k6Client, stepTrends } from "./lib/k6-client.js";
import { textSummary } from "./lib/k6-summary.js";

const knobs = knobsFrom(__ENV);
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
	thresholds: {
		// 4xx the contract expects (sold out, declined, gone, rate limited) are not failures.
		http_req_failed: ["rate<0.01"],
		checks: ["rate>0.99"],
		unexpected_answers: ["count==0"],
		oversold_tickets: ["count==0"],
		lost_sales: ["count==0"],
		unsold_tickets: ["count==0"],
		broken_invariants: ["count==0"],
	},
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
	for (const c of [unexpected, oversold, lost, unsold, broken]) c.add(0);
	const createdAt = Date.now();
	const drop = runSync(createDrop(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, dropBody(knobs, createdAt)), client);
	console.log(
		"drop " + drop.id + ": " + knobs.tickets + " tickets over " + drop.shards + " shard(s), " + knobs.fans + " fans on " + VUS +
			" VUs, opens " + drop.opensAt + (EXPECT_SOLD_OUT ? "; demand exceeds supply, so every ticket must sell" : ""),
	);
	return { dropId: drop.id, createdAt: createdAt, opensAt: Date.parse(drop.opensAt), runId: "k6" + createdAt.toString(36) };
}

/** @param {{dropId: string, createdAt: number, opensAt: number, runId: string}} data */
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
			}),
		);
	}
	const results = runInterleaved(fans, client);
	for (const r of results) {
		if (r && r.outcome === "bought") saleAfterOpen.add(r.boughtAt - data.opensAt);
		// A fan stopped by an error it could not get past fails the run, even if no single answer did.
		if (r && r.outcome === "error") unexpected.add(1);
	}
}

/** @param {{dropId: string, createdAt: number, opensAt: number, runId: string}} data */
export function teardown(data) {
	const cfg = { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN };
	const audit = runSync(waitForDrain(client, cfg, data.dropId, knobs.drainSeconds * 1000), client);
	const byFan = runSync(ticketsByFan(client, cfg, data.dropId), client);
	const failures = auditFailures(audit, { expectSoldOut: EXPECT_SOLD_OUT, maxPerFan: knobs.maxPerFan, byFan: byFan });
	oversold.add(audit.oversold);
	lost.add(audit.lost);
	unsold.add(EXPECT_SOLD_OUT ? audit.capacity - audit.totals.sold : 0);
	broken.add(failures.length);
	console.log(
		"audit of " + data.dropId + ": sold " + audit.totals.sold + "/" + audit.capacity + ", oversold " + audit.oversold + ", lost " + audit.lost +
			", D1 " + audit.recorded + " orders / shards " + audit.totals.orders,
	);
	// The thresholds above fail the run; the error makes sure of it and says why.
	if (failures.length > 0) throw new Error("broken invariants:\n  " + failures.join("\n  "));
}

/** @param {any} data */
export function handleSummary(data) {
	/** @type {Record<string, string>} */
	const out = { stdout: textSummary(data, "ticket drop: " + knobs.fans + " fans, " + knobs.tickets + " tickets, " + knobs.shards + " shards") };
	out[__ENV.SUMMARY_JSON || "loadtest/reports/k6-drop-summary.json"] = JSON.stringify(data, null, 2);
	return out;
}
