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
// With REGISTERED above 0 (lib/presale-draw.js) a registered window follows: the
// `registrants` scenario registers and verifies that many fans (codes read from the
// dev mailbox: the engine needs RECEIPT_SENDER "dev"), `promoter` draws at the
// registration's close (and on an engine on this machine runs the minute's cron
// through wrangler dev), `drawnFans` has each registered fan act on its draw mail.
// Counters hold their side (every fan verified, every invited fan mailed a code that
// lets them in, no one else let in); teardown re-derives the draw from its public answer.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e ADMIN_TOKEN=... -e FANS=1000 -e REGISTERED=2000 -e INVITES=500 loadtest/presale.js
//
// Knobs: FANS (the roles scale from it), SHARDS, LEAD_SECONDS (at least 20: the
// window opens then), REGISTERED (0: the code window alone), INVITES,
// REGISTRATION_SECONDS, DRAIN_SECONDS, SUMMARY_JSON.
import { Counter } from "k6/metrics";
import crypto from "k6/crypto";
import http from "k6/http";
import exec from "k6/execution";
import { knobsFrom, runSync } from "./lib/journey.js";
import { preparePresale, presaleFan, presalePlan, presaleVerdict, send, windowAdmit } from "./lib/presale.js";
import { drawnFan, promoterDraw, registrant } from "./lib/presale-draw.js";
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
const verified = new Counter("registrations_verified");
const wrongAccepted = new Counter("wrong_verifications_accepted");
const earlyMails = new Counter("early_verification_mails");
const untold = new Counter("draw_untold");
const invitedMails = new Counter("invited_mails");
const invitedAccepts = new Counter("invited_accepts");
const handedOnAccepts = new Counter("handed_on_accepts");
const notDrawnAccepts = new Counter("not_drawn_accepts");
const drawnNotAdmitted = new Counter("drawn_not_admitted");
const drawCounters = [verified, wrongAccepted, earlyMails, untold, invitedMails, invitedAccepts, handedOnAccepts, notDrawnAccepts, drawnNotAdmitted];
const draw = plan.draw;

/** The registered window's scenarios and thresholds, when it has one. */
function drawOptions() {
	if (draw === null) return { scenarios: {}, thresholds: {} };
	const opens = draw.registrationSeconds + draw.drawSeconds;
	return {
		scenarios: {
			registrants: { executor: "shared-iterations", exec: "registerFan", vus: Math.min(draw.registered, 200), iterations: draw.registered, maxDuration: draw.registrationSeconds + "s" },
			promoter: { executor: "per-vu-iterations", exec: "promoterSide", vus: 1, iterations: 1, startTime: draw.registrationSeconds + "s", maxDuration: draw.drawSeconds + draw.windowSeconds + "s" },
			drawnFans: { executor: "shared-iterations", exec: "drawnFanIteration", vus: Math.min(draw.registered, 500), iterations: draw.registered, startTime: draw.registrationSeconds + 5 + "s", maxDuration: opens - draw.registrationSeconds + draw.windowSeconds + "s" },
		},
		// Every fan verified and told; exactly the draw's invites mailed a code, each let in once; no one else.
		thresholds: {
			registrations_verified: ["count==" + draw.registered],
			wrong_verifications_accepted: ["count==0"],
			early_verification_mails: ["count==0"],
			draw_untold: ["count==0"],
			invited_mails: ["count==" + draw.invites],
			invited_accepts: ["count==" + draw.invites],
			handed_on_accepts: ["count==0"],
			not_drawn_accepts: ["count==0"],
			drawn_not_admitted: ["count==0"],
		},
	};
}
const drawn = drawOptions();

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
Object.assign(options.scenarios, drawn.scenarios);
Object.assign(options.thresholds, drawn.thresholds);

// Refusals are what this script asks for: only 5xx and network errors count as failed requests.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 499 }));

const client = k6Client(trends, unexpected);

export function setup() {
	if (!ADMIN_TOKEN) throw new Error("set ADMIN_TOKEN (-e ADMIN_TOKEN=...)");
	for (const c of [uniqueAccepts, sharedAccepts, guessAccepts, bought, notAdmitted, broken].concat(draw === null ? [] : drawCounters)) c.add(0);
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
export function registerFan(setup) {
	const r = runSync(registrant(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, setup, exec.scenario.iterationInTest, send), client);
	if (r.verified) verified.add(1);
	wrongAccepted.add(r.wrongAccepted);
	earlyMails.add(r.earlyMails);
}

/** @param {any} setup */
export function promoterSide(setup) {
	const d = runSync(promoterDraw(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, setup), client);
	console.log("drawn " + d.made.drawn + " of " + d.made.registered + "; " + d.cronRuns + " local cron run(s)");
}

/** @param {any} setup */
export function drawnFanIteration(setup) {
	const cfg = { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN };
	const f = runSync(drawnFan(client, cfg, setup, exec.scenario.iterationInTest, send, windowAdmit(client, cfg, setup)), client);
	if (!f.told) untold.add(1);
	if (f.invited) invitedMails.add(1);
	invitedAccepts.add(f.accepted);
	handedOnAccepts.add(f.friendAccepts);
	notDrawnAccepts.add(f.strangerAccepts);
	bought.add(f.tickets);
	if (f.outcome === "not_admitted") drawnNotAdmitted.add(1);
}

/** @param {any} setup */
export function teardown(setup) {
	// The fans' tallies live in the counters, which teardown cannot read: the verdict here is the
	// engine's side (the audit with its window, the groups' counts); the thresholds hold the fans' side.
	const sha256Hex = function (text) {
		return crypto.sha256(text, "hex");
	};
	const verdict = runSync(presaleVerdict(client, { baseUrl: BASE_URL, adminToken: ADMIN_TOKEN }, setup, null, plan.drainSeconds * 1000, { made: null, sha256Hex: sha256Hex }), client);
	const failures = verdict.failures;
	broken.add(failures.length);
	console.log("presale on " + setup.dropId + ": window sold " + (verdict.window ? verdict.window.sold : "?") + " of capacity " + plan.windowCapacity + ", groups used " + JSON.stringify(verdict.used));
	if (draw !== null) console.log("drawn window sold " + (verdict.drawnWindow ? verdict.drawnWindow.sold : "?") + " of capacity " + draw.capacity + "; the draw invited " + (verdict.draw ? verdict.draw.drawn : "?") + " of " + (verdict.draw ? verdict.draw.registered : "?"));
	if (failures.length > 0) throw new Error("broken invariants:\n  " + failures.join("\n  "));
}

/** @param {any} data */
export function handleSummary(data) {
	/** @type {Record<string, string>} */
	const out = { stdout: textSummary(data, "presale: " + plan.total + " code fans" + (draw === null ? "" : ", " + draw.registered + " registered, " + draw.invites + " drawn")) };
	out[__ENV.SUMMARY_JSON || "loadtest/reports/k6-presale-summary.json"] = JSON.stringify(data, null, 2);
	return out;
}
