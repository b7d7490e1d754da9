// k6: hostile fans. setup() creates a target drop and a bystander drop and
// admits ATTACKERS fans honestly; each VU is then one attacker trying
// concurrent holds past maxPerFan, replayed and concurrent Idempotency-Keys,
// a key reused with another body, concurrent purchases of one hold, other
// fans' holds, tampered / `alg: none` / swapped / cross-drop tokens, and (one
// of them) an expired hold and an expired access token. teardown() fails the
// run on any extra sale: the target must end with exactly ATTACKERS × 2
// tickets sold, nobody past the limit, and nothing sold on the bystander.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e ADMIN_TOKEN=... loadtest/attack.js
//
// Knobs: ATTACKERS (default 20), SHARDS, DRAIN_SECONDS, SUMMARY_JSON. The
// expired-token check waits for the engine's ACCESS_TOKEN_SECONDS when it is
// at most 75 s (start the engine with VAR_ACCESS_TOKEN_SECONDS=60), and is
// skipped otherwise.
import { Counter } from "k6/metrics";
import http from "k6/http";
import exec from "k6/execution";
import { knobsFrom, runSync } from "./lib/journey.js";
import { attackPlan, attackVerdict, attacker, prepareAttack } from "./lib/attack.js";
import { k6Client, stepTrends } from "./lib/k6-client.js";
import { textSummary } from "./lib/k6-summary.js";

const knobs = knobsFrom(__ENV);
const plan = attackPlan(knobs, Number(__ENV.ATTACKERS || 20));
const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8787").replace(/\/+$/, "");
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || "";

const trends = stepTrends();
const unexpected = new Counter("unexpected_answers");
const extraSales = new Counter("extra_sales");
const broken = new Counter("broken_invariants");

/** @type {import("k6/options").Options} */
export const options = {
	scenarios: {
		attackers: { executor: "per-vu-iterations", vus: plan.attackers, iterations: 1, maxDuration: "5m" },
	},
	// The concurrent holds and purchases go out at once (k6's default is 6 per host).
	batch: 20,
	batchPerHost: 20,
	setupTimeout: "120s",
	teardownTimeout: Math.ceil(plan.drainSeconds * 2 + 60) + "s",
	summaryTrendStats: ["avg", "min", "med", "p(95)", "p(99)", "max", "count"],
	thresholds: {
		// Every refusal is a check; a single one answered wrongly fails the run.
		checks: ["rate==1"],
		extra_sales: ["count==0"],
		broken_invariants: ["count==0"],
	},
};

// Refusals are what this script asks for: only 5xx and network errors count as failed requests.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 499 }));

const client = k6Client(trends, unexpected);

export function setup() {
	if (!ADMIN_TOKEN) throw new Error("set ADMIN_TOKEN (-e ADMIN_TOKEN=...)");
	for (const c of [extraSales, broken]) c.add(0);
	return runSync(prepareAttack(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, plan), client);
}

/** @param {any} setup */
export default function (setup) {
	runSync(attacker(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, setup, exec.vu.idInTest - 1), client);
}

/** @param {any} setup */
export function teardown(setup) {
	const verdict = runSync(attackVerdict(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, setup, plan.drainSeconds * 1000), client);
	extraSales.add(Math.max(0, verdict.audit.totals.sold - verdict.expectedSold) + verdict.otherAudit.totals.sold);
	broken.add(verdict.failures.length);
	console.log("attack on " + setup.dropId + ": sold " + verdict.audit.totals.sold + " (exactly " + verdict.expectedSold + " allowed), bystander sold " + verdict.otherAudit.totals.sold);
	if (verdict.failures.length > 0) throw new Error("broken invariants:\n  " + verdict.failures.join("\n  "));
}

/** @param {any} data */
export function handleSummary(data) {
	/** @type {Record<string, string>} */
	const out = { stdout: textSummary(data, "hostile fans: " + plan.attackers + " attackers") };
	// k6 cannot create a folder: loadtest/reports/ is kept in git (.gitkeep) for this.
	out[__ENV.SUMMARY_JSON || "loadtest/reports/k6-attack-summary.json"] = JSON.stringify(data, null, 2);
	return out;
}
