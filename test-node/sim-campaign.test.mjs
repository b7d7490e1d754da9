// A fault campaign says which fault kinds struck in how many of its seeds, so a drop's
// shape chosen to make the campaign cheap can be seen to still meet every fault: read
// from each run's summary (an outage of the sales Queue only when it refused a send),
// the same through the worker threads as in one thread. Runs under Node's test runner.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { loadSimulator } from "../sim/bundle.mjs";
import { parallelCampaign } from "../sim/campaign-workers.mjs";

let sim;
before(async () => {
	sim = await loadSimulator();
});

test("the kinds that struck are read from a run's summary: none without faults, an outage only when it refused a send", async () => {
	const quiet = await sim.simulate(sim.simConfig({ seed: 47, fans: 1500, tickets: 600, shards: 3 }), sim.sqlJs);
	assert.deepEqual(sim.kindsStruck(quiet.lines), []);
	const summary = (injected, refused) => [
		"seed 1: 10 fans, 5 tickets, 1 lines, 1 shards, faults restart,alarm,message,skew,d1,provider (replay: --seed 1)",
		`faults injected: ${injected}`,
		`money and sales at the end: 2 payments kept = 2 orders, no hold paid twice, no charge open; 2 sales reached the Queue (${refused} sends refused while it was down)`,
	];
	assert.deepEqual(sim.kindsStruck(summary("alarm late 0, sales Queue outage 3", 0)), ["skew"]);
	assert.deepEqual(sim.kindsStruck(summary("line restarted 1, give twice 2, provider never answered 1, alarm twice 3", 12)).sort(), ["alarm", "d1", "message", "provider", "restart", "skew"]);
	// A shard restarting between requests is a restart; a line's join answer and a shard's tell to the pacer lost are messages.
	assert.deepEqual(sim.kindsStruck(summary("shard restarted between requests 1", 0)).sort(), ["restart", "skew"]);
	assert.deepEqual(sim.kindsStruck(summary("line's join answer lost 2", 0)).sort(), ["message", "skew"]);
	assert.deepEqual(sim.kindsStruck(summary("shard's tell lost 1", 0)).sort(), ["message", "skew"]);
	assert.deepEqual(sim.kindsStruck(summary("shard restarted between requests 0, shard's tell lost 0", 0)), ["skew"]);
	// The pacer's own faults, each under its own kind.
	assert.deepEqual(sim.kindsStruck(summary("pacer restarted mid-tick 2, pacer's call answer lost 1", 0)).sort(), ["pacer-calls", "pacer-restart", "skew"]);
	assert.deepEqual(sim.kindsStruck(summary("pacer restarted mid-tick 0, pacer's call late 4", 0)).sort(), ["pacer-calls", "skew"]);
});

test("a campaign's threads report, seed by seed, the kinds that struck as one thread reads them", async () => {
	const base = sim.simConfig({ seed: 0, fans: 3000, tickets: 1500, shards: 4, faults: sim.parseFaults("all") });
	const reported = [];
	await parallelCampaign(base, 47, 2, 2, (seed, broken, struck) => reported.push([seed, broken, struck]));
	assert.deepEqual(reported.map(([seed]) => seed), [47, 48]);
	for (const [seed, broken, struck] of reported) {
		assert.equal(broken, null);
		const alone = await sim.seedRun({ ...base, seed }, sim.sqlJs, {});
		assert.deepEqual(struck, alone.struck, `seed ${seed}`);
		for (const kind of ["restart", "alarm", "message", "skew", "provider"]) assert.ok(struck.includes(kind), `seed ${seed}: ${kind} struck (${struck})`);
	}
	// Seed 47's outage windows refuse the outbox's sends (the all-faults replay test relies on it too).
	assert.ok(reported[0][2].includes("d1"), reported[0][2].join(","));
});
