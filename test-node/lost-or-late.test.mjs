// A sale the drain left missing from D1 is not called lost before the reconcile a deployment's cron runs has had its
// turn (lib/journey.js recoverMissing): the runner asks the drop's reconcile until D1 has every sale or the
// reconcile's time is up, and only what is still missing then is lost. A restart of the engine's workerd mid-run
// (wrangler dev reloading on an edit, which drops the local Queue's messages) is seen and fails the run
// (scripts/lib/engine.mjs watchRestarts, lib/restarts.mjs). The 2026-12-07 rehearsal that called one sale lost
// had both: an edit under src/ reloaded the engine at +298 s, and its drain read the audit 120 s after the fans.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DEFAULTS, RECONCILE_POLL_MS, auditFailures, knobsFrom, recoverMissing, recoveryText, runSync } from "../loadtest/lib/journey.js";
import { restartFailure, restartsSince, restartsText } from "../loadtest/lib/restarts.mjs";
import { watchRestarts } from "../scripts/lib/engine.mjs";

const CFG = { baseUrl: "http://engine", adminToken: "t" };

/** An audit of a drop of `orders` orders, `missing` of them sent and absent from D1 (read with no grace period). */
function audit(orders, missing) {
	return {
		totals: { sold: orders * 2, held: 0, remaining: 0, orders, inFlight: 0 },
		capacity: orders * 2,
		recorded: orders - missing,
		recordedTickets: (orders - missing) * 2,
		outboxPending: 0,
		inTransit: 0,
		lost: missing,
		phantom: 0,
		balanced: true,
		refunds: { restocked: 0 },
		settled: missing === 0,
	};
}

/**
 * A fake engine on a fake clock: the reconcile re-sends a sale 10 minutes after its send (as src/sales/reconcile.ts
 * does), and the re-sent sale is in D1 one poll later. `sentAt`: when the lost sale was sent, on the fake clock.
 */
function engine({ sentAt = 0, drainEndsAt = 120_000, reconcileStatus = 200, neverArrives = false } = {}) {
	const calls = [];
	let now = drainEndsAt;
	let resentAt = null;
	const inD1 = () => !neverArrives && resentAt !== null && now > resentAt;
	const client = {
		now: () => now,
		sleep: (ms) => {
			now += ms;
		},
		request: (req) => {
			calls.push({ at: now, method: req.method, url: req.url });
			if (req.url.endsWith("/reconcile")) {
				if (reconcileStatus !== 200) return { status: reconcileStatus, body: '{"error":{"code":"forbidden","message":"no"}}' };
				let resent = 0;
				if (!inD1() && resentAt === null && now - sentAt >= 600_000) {
					resentAt = now;
					resent = 1;
				}
				const missing = inD1() ? 0 : 1;
				const old = missing === 1 && resent === 1 ? 1 : 0;
				return { status: 200, body: JSON.stringify({ dropId: "d", resent, missingInD1: old, inTransit: missing - old, unknownInD1: 0 }) };
			}
			if (req.url.includes("/audit?graceSeconds=0")) return { status: 200, body: JSON.stringify(audit(10, inD1() ? 0 : 1)) };
			throw new Error("unexpected request " + req.url);
		},
	};
	return { client, calls };
}

test("a sale the Queue dropped is re-sent by the reconcile after 10 minutes and is not lost", () => {
	const { client, calls } = engine();
	const r = runSync(recoverMissing(client, CFG, "d", audit(10, 1), DEFAULTS.reconcileSeconds * 1000), client);
	assert.equal(r.ran, true);
	assert.equal(r.missingAfterDrain, 1);
	assert.equal(r.resent, 1);
	assert.equal(r.stillMissing, 0);
	assert.equal(r.audit.lost, 0);
	assert.equal(r.audit.settled, true);
	// Asked every RECONCILE_POLL_MS from the end of the drain: re-sent at the first ask past 10 minutes, in D1 at the next.
	const asks = calls.filter((c) => c.url.endsWith("/reconcile"));
	assert.ok(asks.every((c, i) => i === 0 || c.at - asks[i - 1].at === RECONCILE_POLL_MS));
	assert.ok(r.seconds >= 480 && r.seconds <= 500, `recovered after ${r.seconds} s`);
	assert.deepEqual(auditFailures(r.audit, { recovery: r }), []);
	assert.match(recoveryText(r), /^1 sale\(s\) missing from D1 after the drain; .* re-sent 1 .*; D1 then had every sale$/);
});

test("a sale still missing when the reconcile's time is up is lost, and the failure says the reconcile was asked", () => {
	const { client } = engine({ neverArrives: true });
	const r = runSync(recoverMissing(client, CFG, "d", audit(10, 1), DEFAULTS.reconcileSeconds * 1000), client);
	assert.equal(r.stillMissing, 1);
	assert.equal(r.seconds, DEFAULTS.reconcileSeconds);
	const failures = auditFailures(r.audit, { recovery: r });
	assert.match(failures[0], /^lost: 1 sale\(s\) answered 201 and missing from D1 after the drain and 720 s of the reconcile \(1 re-sent\)$/);
	assert.match(failures.join("\n"), /not settled/);
});

test("a drain that left nothing missing asks no reconcile; RECONCILE_SECONDS=0 asks none and calls what is missing lost", () => {
	const clean = engine();
	const r = runSync(recoverMissing(clean.client, CFG, "d", audit(10, 0), 720_000), clean.client);
	assert.equal(r.ran, false);
	assert.equal(clean.calls.length, 0);
	const off = engine();
	const o = runSync(recoverMissing(off.client, CFG, "d", audit(10, 1), 0), off.client);
	assert.equal(o.ran, false);
	assert.equal(off.calls.length, 0);
	assert.match(auditFailures(o.audit, { recovery: o })[0], /after the drain \(the reconcile was not asked: RECONCILE_SECONDS=0\)$/);
	assert.equal(knobsFrom({ RECONCILE_SECONDS: "0" }).reconcileSeconds, 0);
});

test("a reconcile the engine refuses stops the run rather than passing it", () => {
	const { client } = engine({ reconcileStatus: 403 });
	assert.throws(() => runSync(recoverMissing(client, CFG, "d", audit(10, 1), 720_000), client), /the reconcile failed: 403/);
});

test("the reconcile's wait covers the engine's: longer than the 10 minutes after which it re-sends a sale", () => {
	const source = readFileSync(new URL("../src/sales/reconcile.ts", import.meta.url), "utf8");
	const m = /export const RESEND_AFTER_MS = (\d+) \* 60_000;/.exec(source);
	assert.ok(m, "RESEND_AFTER_MS in src/sales/reconcile.ts");
	assert.ok(DEFAULTS.reconcileSeconds * 1000 >= Number(m[1]) * 60_000 + 2 * RECONCILE_POLL_MS, "room to re-send and see it in D1");
});

test("a workerd started under the engine after the watch began is a restart, at its time; one there from the start is not", () => {
	let pids = [101, 102];
	let now = 1_000;
	const watch = watchRestarts(1, { intervalMs: 60_000, list: () => pids, now: () => now });
	try {
		assert.deepEqual(watch.restarts(), []);
		now = 300_500;
		pids = [101, 203];
		assert.deepEqual(watch.restarts(), [{ at: 300_500, pid: 203 }]);
		now = 303_600;
		pids = [101, 204];
		assert.deepEqual(watch.restarts(), [{ at: 300_500, pid: 203 }, { at: 303_600, pid: 204 }]);
	} finally {
		watch.stop();
	}
	const since = restartsSince([{ at: 500, pid: 9 }, { at: 300_500, pid: 203 }, { at: 303_600, pid: 204 }], 2_000);
	assert.deepEqual(since, [{ atS: 298.5, pid: 203 }, { atS: 301.6, pid: 204 }]);
	assert.match(restartFailure(since), /^engine restarted: workerd was started again 2 time\(s\) during the run \(at \+298\.5s, \+301\.6s after the drop's creation\)/);
	assert.equal(restartFailure([]), null);
	assert.equal(restartsText(null), null);
	assert.match(restartsText([]), /^✓ none/);
	assert.match(restartsText(since), /^✗ 2: workerd started again at \+298\.5s, \+301\.6s$/);
});

test("the HTML report's verdict shows the reconcile's turn and the engine's restarts", async () => {
	const { reportVerdict } = await import("../loadtest/lib/report-html.js");
	const report = {
		audit: audit(10, 0),
		recovery: { ran: true, missingAfterDrain: 79, reconciles: 22, resent: 79, seconds: 319.9, stillMissing: 0 },
		engineRestarts: [{ atS: 34, pid: 1 }, { atS: 37, pid: 2 }],
		failures: ["engine restarted: ..."],
	};
	const v = reportVerdict(report);
	const byName = Object.fromEntries(v.checks.map((c) => [c.name, c]));
	assert.equal(byName.recovery.ok, true);
	assert.match(byName.recovery.text, /^79 sale\(s\) missing from D1 after the drain; the reconcile re-sent 79 over 319\.9 s; D1 then had every sale$/);
	assert.equal(byName.restarts.ok, false);
	assert.match(byName.restarts.text, /started again 2 time\(s\)/);
	assert.equal(v.passed, false);
	const quiet = reportVerdict({ audit: audit(10, 0), recovery: { ran: false }, engineRestarts: null, failures: [] });
	assert.equal(quiet.checks.some((c) => c.name === "recovery" || c.name === "restarts"), false);
});
