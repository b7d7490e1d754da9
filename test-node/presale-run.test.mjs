// The presale load scenario's logic (loadtest/lib/presale.js, run by the Node
// runner and loadtest/presale.js under k6) against a scripted engine: the roles
// cover every fan once; a guessing bot sends codes of the real form; a join the
// transport dropped is sent again with the same secret; and the verdict passes a
// clean run and fails each way a code rule or the window can break (a unique code
// that let in two fans, a shared code past its cap, a guess let in, a window past
// its capacity, a group's own count that disagrees, an audit not clean). The k6
// script stays plain JavaScript that k6 v0.48 parses.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULTS, knobsFrom, runAsync } from "../loadtest/lib/journey.js";
import { presaleFan, presalePlan, presaleRole, presaleTotals, presaleVerdict } from "../loadtest/lib/presale.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const plan = presalePlan(knobsFrom({ ...DEFAULTS, fans: 200 }));
const cfg = { baseUrl: "http://engine", adminToken: "t" };
const answer = (status, body) => ({ status, body: JSON.stringify(body), headers: {} });

/** A client whose requests `handle` answers, recording each. */
function scripted(handle) {
	const sent = [];
	return {
		sent,
		client: {
			request: async (e) => {
				sent.push(e);
				return handle(e, sent);
			},
			batch: async (list) => Promise.all(list.map((e) => handle(e, sent))),
			sleep: async () => {},
			now: () => 0,
		},
	};
}

const setup = { dropId: "d_test123456", windowOpens: 0, windowCloses: 1e12, codes: ["A", "B"], sharedCode: "S", uniqueGroup: "g1", sharedGroup: "g2", plan };

test("every fan has one role, in the plan's numbers", () => {
	const roles = {};
	for (let i = 0; i < plan.total; i++) roles[presaleRole(plan, i).role] = (roles[presaleRole(plan, i).role] ?? 0) + 1;
	assert.deepEqual(roles, { unique: plan.unique, reuser: plan.reusers, shared: plan.sharedFans, guesser: plan.bots });
	// More fans try each rule than it admits, so a rule that gives way shows as a count past its limit.
	assert.ok(plan.sharedFans > plan.sharedCap && plan.reusers > 0 && plan.windowCapacity < plan.unique + plan.sharedCap);
	assert.equal(presaleRole(plan, plan.unique).code, 0, "the first bot reuses the first unique code");
});

test("a guessing bot sends codes of the real form, each refused, none counted as let in", async () => {
	const { sent, client } = scripted(() => answer(403, { error: { code: "code_invalid" } }));
	const r = await runAsync(presaleFan(client, cfg, setup, plan.total - 1), client);
	assert.equal(sent.length, plan.guessesPerBot);
	for (const e of sent) assert.match(JSON.parse(e.body).code, /^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
	assert.deepEqual([r.role, r.accepted, r.refusals.code_invalid], ["guesser", 0, plan.guessesPerBot]);
});

test("a join the transport dropped is sent again, the same fan and secret; then admitted, held and bought", async () => {
	let joins = 0;
	const { sent, client } = scripted((e) => {
		if (e.url.endsWith("/join")) return ++joins === 1 ? { status: 503, body: "Service Unavailable", headers: {} } : answer(201, { queueToken: "q" });
		if (e.url.endsWith("/status")) return answer(200, { status: "admitted", accessToken: "a" });
		if (e.url.endsWith("/holds")) return answer(201, { holdId: "h1" });
		return answer(201, { orderId: "o1" });
	});
	const r = await runAsync(presaleFan(client, cfg, setup, 0), client);
	const bodies = sent.filter((e) => e.url.endsWith("/join")).map((e) => e.body);
	assert.equal(bodies.length, 2);
	assert.equal(bodies[0], bodies[1], "the same fan id, secret and code");
	assert.deepEqual([r.accepted, r.outcome, r.tickets, r.retries], [1, "bought", 1, 1]);
});

/** An engine after a clean run: the audit settled and ok, the window within its capacity, each group's count as the rules say. */
function engineAfter({ window = { id: "club", capacity: plan.windowCapacity, sold: 3, held: 0, oversold: 0, ok: true }, used = { g1: plan.unique, g2: plan.sharedCap }, ok = true } = {}) {
	const audit = { ok, oversold: 0, lost: 0, phantom: 0, balanced: true, outboxPending: 0, recorded: 3, recordedTickets: 3, totals: { held: 0, inFlight: 0, orders: 3, sold: 3 }, windows: [window] };
	return scripted((e) => (e.url.includes("/audit") ? answer(200, audit) : answer(200, { groups: Object.entries(used).map(([id, n]) => ({ id, used: n })) })));
}

const cleanTotals = () => ({ uniqueAccepts: plan.unique, sharedAccepts: plan.sharedCap, guessAccepts: 0, notAdmitted: 0, bought: 3 });

test("the verdict passes a clean run", async () => {
	const { client } = engineAfter();
	assert.deepEqual((await runAsync(presaleVerdict(client, cfg, setup, cleanTotals(), 0), client)).failures, []);
	assert.deepEqual((await runAsync(presaleVerdict(client, cfg, setup, null, 0), client)).failures, [], "the engine's side alone (k6's teardown)");
});

test("the verdict fails each broken rule", async () => {
	const cases = [
		[{}, { uniqueAccepts: plan.unique + 1 }, /a code let in two fans/],
		[{}, { sharedAccepts: plan.sharedCap + 1 }, /shared code let in/],
		[{}, { guessAccepts: 1 }, /guessed code/],
		[{}, { notAdmitted: 2 }, /never admitted/],
		[{ window: { id: "club", sold: plan.windowCapacity + 1, held: 0, oversold: 1, ok: false } }, { bought: plan.windowCapacity + 1 }, /past its capacity/],
		[{ used: { g1: plan.unique + 1, g2: plan.sharedCap } }, {}, /unique group counts/],
		[{ used: { g1: plan.unique, g2: plan.sharedCap + 1 } }, {}, /shared group counts/],
		[{ ok: false }, {}, /audit is not ok/],
	];
	for (const [engine, totals, message] of cases) {
		const { client } = engineAfter(engine);
		const { failures } = await runAsync(presaleVerdict(client, cfg, setup, { ...cleanTotals(), ...totals }, 0), client);
		assert.ok(failures.some((f) => message.test(f)), `${message}: ${JSON.stringify(failures)}`);
	}
});

test("the k6 script and its module stay plain JavaScript k6 v0.48 parses", () => {
	for (const file of ["loadtest/presale.js", "loadtest/lib/presale.js"]) {
		const code = readFileSync(join(ROOT, file), "utf8").replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
		assert.doesNotMatch(code, /\?\?|\?\./, `${file}: no ?? or ?.`);
	}
	const tsconfig = readFileSync(join(ROOT, "loadtest/tsconfig.json"), "utf8");
	assert.match(tsconfig, /"presale\.js", "lib\/presale\.js"/, "type-checked against @types/k6");
});
