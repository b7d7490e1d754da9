// The load run's account of where the objects' requests came from: the shards'
// calls by method over all shards, and the busiest object once the audit's own
// reads (which the runner makes while it waits for the drop to settle) are set
// apart from the load the drop put on it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadSummary } from "../loadtest/lib/journey.js";

test("the shards' and the pacer's calls add up by method, each their own, and the drop's busiest object is found without the audit's reads", () => {
	const l = loadSummary({
		fans: 1000,
		hottest: { kind: "shard", index: 0, requests: 300, perFan: 0.3 },
		objects: [
			{ kind: "room", index: 0, requests: 90, methods: { watermark: 60, audit: 20, configure: 1, stats: 9 }, starts: 1 },
			{ kind: "line", index: 0, requests: 150 },
			{ kind: "shard", index: 0, requests: 300, methods: { hold: 100, stats: 120, orderIdsPage: 80 }, starts: 1 },
			{ kind: "shard", index: 1, requests: 200, methods: { hold: 120, give: 60, stats: 20 }, starts: 3 },
		],
	});
	// The pacer's methods are its own, not mixed into the shards' (both have a `stats`).
	assert.deepEqual(l.shards.methods, { hold: 220, stats: 140, orderIdsPage: 80, give: 60 });
	assert.deepEqual(l.roomMethods, { watermark: 60, audit: 20, configure: 1, stats: 9 });
	assert.equal(l.room, 90);
	assert.equal(l.shards.total, 500);
	assert.equal(l.shards.max, 300);
	assert.equal(l.shards.starts, 4);
	// Shard 0 is the busiest counted whole, but most of it was the audit: shard 1 bore the drop's load.
	assert.deepEqual(l.fansHottest, { kind: "shard", index: 1, requests: 180, perFan: 0.18 });
});

test("a pacer busiest only with the promoter's calls is not the drop's busiest object", () => {
	const l = loadSummary({
		fans: 100,
		hottest: null,
		objects: [
			{ kind: "room", index: 0, requests: 400, methods: { watermark: 30, audit: 300, queueMinutes: 50, stats: 10, configure: 10 } },
			{ kind: "line", index: 0, requests: 120 },
			{ kind: "shard", index: 0, requests: 90, methods: { hold: 90 } },
		],
	});
	assert.deepEqual(l.fansHottest, { kind: "line", index: 0, requests: 120, perFan: 1.2 });
});

test("objects without methods (an older engine's audit) count whole", () => {
	const l = loadSummary({ fans: 100, hottest: null, objects: [{ kind: "shard", index: 2, requests: 40 }, { kind: "line", index: 0, requests: 50 }] });
	assert.deepEqual(l.shards.methods, {});
	assert.deepEqual(l.fansHottest, { kind: "line", index: 0, requests: 50, perFan: 0.5 });
});
