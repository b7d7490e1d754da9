// k6: a code presale under load (lib/presale.js, the same fans the Node runner's
// `--scenario presale` runs). setup() creates a drop with a code window before its
// general sale, a group of unique codes and a shared code with a cap; each
// iteration is one fan: a unique code's owner, a bot reusing one of those codes,
// a fan with the shared code, or a bot guessing codes; the fans let in are
// admitted at the window's opening and try to buy. Counters carry what the rules
// are checked on (VUs share no memory): unique-code accepts must equal the codes
// (one more is a code that let in two fans), shared-code accepts its cap, guessed
// accepts zero; teardown() fails the run on an audit not clean, a window past its
// capacity, or a group's own count that disagrees.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e ADMIN_TOKEN=... -e FANS=1000 loadtest/presale.js
//
// Knobs: FANS (the roles scale from it), SHARDS, LEAD_SECONDS (at least 20: the
// window opens then), DRAIN_SECONDS, SUMMARY_JSON.
import { Counter } from "k6/metrics";
import http from "k6/http";
import exec from "k6/execution";
import { knobsFrom, runSync } from "./lib/journey.js";
import { preparePresale, presaleFan, presalePlan, presaleVerdict } from "./lib/presale.js";
import { k6Client, stepTrends } from "./lib/k6-client.js";
import { textSummary } from "./lib/k6-summary.js";

const knobs = knobsFrom(__ENV);
const plan = presalePlan(knobs);
const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8787").replace(/\/+$/, "");
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || "";

const trends = stepTrends();
const unexpected = new Counter("unexpected_answers");
const uniqueAccepts = new Counter("unique_code_accepts");
const sharedAccepts = new Counter("shared_code_accepts");
const guessAccepts = new Counter("guessed_code_accepts");
const bought = new Counter("presale_tickets_bought");
const notAdmitted = new Counter("presale_not_admitted");
const broken = new Counter("broken_invariants");

/** @type {import("k6/options").Options} */
export const options = {
	scenarios: {
		fans: { executor: "shared-iterations", vus: Math.min(plan.total, 500), iterations: plan.total, maxDuration: plan.leadSeconds + plan.windowSeconds + 60 + "s" },
	},
	setupTimeout: "120s",
	teardownTimeout: Math.ceil(plan.drainSeconds * 2 + 60) + "s",
	summaryTrendStats: ["avg", "min", "med", "p(95)", "p(99)", "max", "count"],
	thresholds: {
		checks: ["rate==1"],
		// Exactly one fan per unique code, exactly the shared code's cap, no guess: equal, not at most,
		// since each rule is raced by more fans than it admits.
		unique_code_accepts: ["count==" + plan.unique],
		shared_code_accepts: ["count==" + plan.sharedCap],
		guessed_code_accepts: ["count==0"],
		presale_not_admitted: ["count==0"],
		broken_invariants: ["count==0"],
	},
};

// Refusals are what this script asks for: only 5xx and network errors count as failed requests.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 499 }));

const client = k6Client(trends, unexpected);

export function setup() {
	if (!ADMIN_TOKEN) throw new Error("set ADMIN_TOKEN (-e ADMIN_TOKEN=...)");
	for (const c of [uniqueAccepts, sharedAccepts, guessAccepts, bought, notAdmitted, broken]) c.add(0);
	return runSync(preparePresale(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, plan), client);
}

/** @param {any} setup */
export default function (setup) {
	const r = runSync(presaleFan(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, setup, exec.scenario.iterationInTest), client);
	if (r.role === "unique" || r.role === "reuser") uniqueAccepts.add(r.accepted);
	if (r.role === "shared") sharedAccepts.add(r.accepted);
	if (r.role === "guesser") guessAccepts.add(r.accepted);
	bought.add(r.tickets);
	if (r.outcome === "not_admitted") notAdmitted.add(1);
}

/** @param {any} setup */
export function teardown(setup) {
	// The fans' tallies live in the counters, which teardown cannot read: the verdict here is the
	// engine's side (the audit with its window, the groups' counts); the thresholds hold the fans' side.
	const verdict = runSync(presaleVerdict(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, setup, null, plan.drainSeconds * 1000), client);
	const failures = verdict.failures;
	broken.add(failures.length);
	console.log("presale on " + setup.dropId + ": window sold " + (verdict.window ? verdict.window.sold : "?") + " of capacity " + plan.windowCapacity + ", groups used " + JSON.stringify(verdict.used));
	if (failures.length > 0) throw new Error("broken invariants:\n  " + failures.join("\n  "));
}

/** @param {any} data */
export function handleSummary(data) {
	/** @type {Record<string, string>} */
	const out = { stdout: textSummary(data, "code presale: " + plan.total + " fans") };
	out[__ENV.SUMMARY_JSON || "loadtest/reports/k6-presale-summary.json"] = JSON.stringify(data, null, 2);
	return out;
}
