// The simulator's faults of a shard restarting between requests, a line's answer to a
// join lost and a shard's tell to the pacer lost: each strikes for a seed, the run holds
// every invariant through it, and a bug planted through the simulator's test hooks (never
// in src/) where the fault is what exposes it is caught, naming the seed. Runs under
// Node's test runner.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { loadSimulator } from "../sim/bundle.mjs";

let sim;
before(async () => {
	sim = await loadSimulator();
});

const run = (input, hooks) => sim.simulate(sim.simConfig(input), sim.sqlJs, hooks);
/** The first of seeds 1..`seeds` whose run with `hooks` breaks an invariant, as a campaign finds it: its input and failure. */
async function firstFailing(base, hooks, seeds = 20) {
	for (let seed = 1; seed <= seeds; seed++) {
		const input = { ...base, seed };
		const failure = await sim.failureOf(sim.simConfig(input), sim.sqlJs, hooks);
		if (failure !== null) return { input, failure };
	}
	assert.fail(`no seed of 1..${seeds} found the planted bug`);
}

const injected = (result, name) => Number(new RegExp(`${name} (\\d+)`).exec(result.lines.join("\n"))?.[1] ?? 0);

/** The planted bug: a shard restarted between requests counts a fan's tickets only in holds made since (it forgot the stored ones). */
const forgetsStoredHolds = (shard, restarted, how) => {
	if (!restarted || how !== "between requests") return;
	const sql = shard.storage.sql;
	const since = sql.exec(`SELECT COALESCE(MAX(rowid), 0) AS n FROM holds`).one().n;
	shard.ledger.store.fanTickets = (fanId) =>
		sql.exec(`SELECT COALESCE(SUM(quantity), 0) AS n FROM holds WHERE fan_id = ? AND state IN ('claiming', 'active', 'purchased') AND ticket_type IS NULL AND rowid > ?`, fanId, since).one().n;
};

test("a shard restarts between requests: with none of its requests in flight, a new instance over the same database (its memory built anew, as the object's constructor builds it), and the run holds", async () => {
	const seen = [];
	const built = new Map();
	const result = await run({ seed: 1, fans: 3000, tickets: 1500, shards: 4, faults: ["restart"] }, {
		shard: (shard, restarted, how) => {
			const before = built.get(shard.index);
			if (restarted && how === "between requests") {
				// Nothing of it in flight: no request awaits, none is queued or being served.
				assert.ok(shard.object.idle());
				for (const part of ["ledger", "transfers", "charges", "schedule", "watch", "once", "outbox"]) assert.notEqual(shard[part], before[part], part);
				assert.equal(shard.storage, before.storage);
				seen.push(shard.index);
			}
			built.set(shard.index, { ledger: shard.ledger, transfers: shard.transfers, charges: shard.charges, schedule: shard.schedule, watch: shard.watch, once: shard.once, outbox: shard.outbox, storage: shard.storage });
		},
	});
	const text = result.lines.join("\n");
	assert.ok(seen.length > 0, "some shard restarted between requests");
	assert.equal(injected(result, "shard restarted between requests"), seen.length);
	assert.match(text, /sold 1500 of 1500/);
	assert.match(text, /no hold paid twice, no charge open/);
	assert.deepEqual(sim.kindsStruck(result.lines), ["restart"]);
});

test("planted: a shard restarted between requests that forgets its stored holds' per-fan count is caught at the hold past the limit, and the seed replays it", async () => {
	const { input } = await firstFailing({ fans: 3000, tickets: 1500, shards: 4, faults: ["restart"], retryRate: 0.5 }, { shard: forgetsStoredHolds });
	let err;
	await assert.rejects(run(input, { shard: forgetsStoredHolds, trace: true }), (e) => {
		err = e;
		assert.ok(e instanceof sim.InvariantBroken, String(e));
		assert.match(e.message, new RegExp(`seed ${input.seed}\\b`));
		assert.match(e.what, /fan fan-[\w-]+ holds or bought \d+ tickets on shard \d+ > maxPerFan 4/);
		return true;
	});
	const { lines } = sim.involvedTrace(err);
	assert.ok(lines.some((l) => l.includes("restarted between requests")), lines.join("\n"));
	const again = await sim.failureOf(sim.simConfig(input), sim.sqlJs, { shard: forgetsStoredHolds });
	assert.equal(again.what, err.what);
	// The same seed holds without the plant: the limit is what refused those holds.
	assert.equal(await sim.failureOf(sim.simConfig(input), sim.sqlJs, {}), null);
});

test("a line's answer to a join lost: the fan's client gives up at its timeout and joins again as the runner's journey does, and the line answers the place it gave", async () => {
	const sends = new Map();
	let room;
	const result = await run({ seed: 3, fans: 3000, tickets: 1500, shards: 4, faults: ["message"] }, {
		room: (r) => {
			room = r;
			const join = r.join.bind(r);
			r.join = (fanId, line, secret, answer, lost) => {
				const list = sends.get(fanId) ?? [];
				list.push({ at: r.events.now, secret });
				sends.set(fanId, list);
				join(fanId, line, secret, answer, lost);
			};
		},
	});
	const text = result.lines.join("\n");
	const lost = injected(result, "line's join answer lost");
	assert.ok(lost > 10, `${lost} answers lost`);
	// Each lost answer is a join sent again: 30 s (the runner's timeout) and a 500 ms pause after the first, with the same secret.
	const again = [...sends.values()].filter((l) => l.length > 1);
	assert.equal(again.reduce((a, l) => a + l.length - 1, 0), lost);
	for (const l of again) {
		assert.equal(l[1].at - l[0].at, 30_500);
		assert.equal(l[1].secret, l[0].secret);
	}
	assert.equal(room.rejoinsChecked, lost);
	assert.match(text, new RegExp(`lost answers and tells: ${lost} joins sent again after a lost answer, each answered the place the first was given`));
	// One place a fan: every position told once, none to two fans.
	assert.match(text, /3000 positions unique/);
	assert.match(text, /sold 1500 of 1500/);
});

test("planted: a line that gives a fan joining again a new place is caught at that join", async () => {
	const newPlace = (room) => {
		for (const l of room.lines) {
			const join = l.core.join.bind(l.core);
			l.core.join = (input, now) => {
				const first = join(input, now);
				if (!first.outcome.ok || first.outcome.value.status !== "joined" || !first.outcome.value.rejoined) return first;
				return join({ ...input, fanId: `${input.fanId}:again` }, now);
			};
		}
	};
	await assert.rejects(run({ seed: 3, fans: 3000, tickets: 1500, shards: 4, faults: ["message"] }, { room: newPlace }), (e) => {
		assert.ok(e instanceof sim.InvariantBroken, String(e));
		assert.match(e.what, /line \d gave fan fan-3-\d+, joining again after its answer was lost, .* as a new join; its first join had /);
		return true;
	});
});

test("a shard's tell to the pacer lost: the pacer's own looks find the stock all the same, and the drop sells out", async () => {
	let room;
	const result = await run({ seed: 3, fans: 3000, tickets: 1500, shards: 4, faults: ["message"] }, { trace: true, room: (r) => (room = r) });
	const lost = injected(result, "shard's tell lost");
	assert.ok(lost > 0, "a tell was lost");
	assert.equal(room.lostTells, lost);
	assert.equal(room.lostTellsFound, lost, "the pacer looked at the shards after each");
	const trace = room.faults.trace.map((t) => t.what);
	// The shard's call failed and it went on (the engine's StockWatch warns and leaves the rest to the pacer's looks).
	assert.ok(trace.some((w) => /tell to the pacer that stock moved: lost/.test(w)));
	assert.ok(trace.some((w) => /warning: the pacer was not told of stock moving/.test(w)));
	assert.match(result.lines.join("\n"), /sold 1500 of 1500/);
	assert.ok(sim.kindsStruck(result.lines).includes("message"));
});

test("planted: a pacer that trusts the shards' tells alone (no look of its own while it watches a dry drop) is caught after a lost tell", async () => {
	const tellsOnly = (room) => {
		room.core.dry.lookDue = function (totalsAt, now) {
			if (this.lookOwed) return true;
			return this.watching ? false : null;
		};
	};
	const { input, failure } = await firstFailing({ fans: 3000, tickets: 1500, shards: 4, faults: ["message"] }, { room: tellsOnly });
	assert.match(failure.what, /shard \d's tell to the pacer was lost 40\.0 s ago and the pacer has not looked at the shards since/);
	// Its seed replays it, and holds without the plant: the pacer's own looks are what find the stock.
	assert.equal((await sim.failureOf(sim.simConfig(input), sim.sqlJs, { room: tellsOnly })).what, failure.what);
	assert.equal(await sim.failureOf(sim.simConfig(input), sim.sqlJs, {}), null);
});
