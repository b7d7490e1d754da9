// The drop simulator (sim/): one seed replays one run exactly (the ids the shards'
// ledgers draw included), another seed gives another run, a drop with fans to spare
// sells out on the real ledgers with every position told once, and the invariants
// are checked on the ledgers' counts as the drop runs, so a bug planted in a shard's
// real path (through the simulator's test hook) stops the run at the request that
// broke it, naming the seed. Runs under Node's test runner.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSimulator } from "../sim/bundle.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
let sim;
before(async () => {
	sim = await loadSimulator();
});

const run = (input, hooks) => sim.simulate(sim.simConfig(input), sim.sqlJs, hooks);
const cli = (...args) => execFileSync(process.execPath, [join(ROOT, "sim/simulate.mjs"), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

test("one seed gives the same output twice, through the command too; another seed gives another run", () => {
	const a = cli("--seed", "5", "--fans", "3000", "--tickets", "1500", "--shards", "3");
	const b = cli("--seed", "5", "--fans", "3000", "--tickets", "1500", "--shards", "3");
	const c = cli("--seed", "6", "--fans", "3000", "--tickets", "1500", "--shards", "3");
	assert.match(a, /^seed 5: 3000 fans, 1500 tickets/);
	assert.match(a, /--seed 5/);
	assert.equal(a, b);
	assert.notEqual(a, c);
	assert.match(c, /^seed 6: /);
});

test("a drop with fans to spare sells out on the shards' ledgers; every placed fan has a position of their own, and admission follows them", async () => {
	const result = await run({ seed: 11, fans: 4000, tickets: 1000, shards: 4, lines: 3 });
	const text = result.lines.join("\n");
	assert.ok(result.soldOutAt !== null, text);
	assert.match(text, /sold 1000 of 1000 in \d+ orders; 0 held, 0 free at the end/);
	assert.match(text, /4000 positions unique/);
	assert.match(text, /hottest line \d+: \d+\/s/);
	assert.match(text, /hottest shard \d+: \d+\/s/);
	const moved = Number(/(\d+) tickets moved between shards/.exec(text)[1]);
	assert.ok(moved > 0, "the home shards ran short and took stock from their peers");
});

test("the ids the ledgers draw come from the seed: the same holds twice, others for another seed, and the platform's crypto back after", async () => {
	const firstHolds = async (seed) => {
		const ids = [];
		await run({ seed, fans: 600, tickets: 200, shards: 2, lines: 2 }, {
			shard: (shard) => {
				const hold = shard.ledger.holds.hold.bind(shard.ledger.holds);
				shard.ledger.holds.hold = (input) => {
					const d = hold(input);
					if (d.kind === "answered" && d.outcome.ok && ids.length < 5) ids.push(d.outcome.value.holdId);
					return d;
				};
			},
		});
		return ids;
	};
	const a = await firstHolds(31);
	assert.equal(a.length, 5);
	assert.deepEqual(await firstHolds(31), a);
	assert.notDeepEqual(await firstHolds(32), a);
	const drawn = [crypto.getRandomValues(new Uint8Array(16)), crypto.getRandomValues(new Uint8Array(16))];
	assert.notDeepEqual(drawn[0], drawn[1]);
	assert.equal(typeof setTimeout(() => undefined, 0), "object", "Node's own timers are back");
});

test("planted in the ledger: a hold that skips the per-fan check is caught at the hold that broke the limit", async () => {
	const planted = (shard) => {
		// The shard's ledger sections share one store: its per-fan limit refuses nothing now.
		shard.ledger.store.limitRefusal = () => null;
	};
	await assert.rejects(run({ seed: 21, fans: 3000, tickets: 1000, shards: 2 }, { shard: planted }), (err) => {
		assert.ok(err instanceof sim.InvariantBroken, String(err));
		assert.match(err.message, /seed 21/);
		assert.match(err.message, /holds or bought \d+ tickets on shard \d+ > maxPerFan 4/);
		// Found while the drop ran: the end of the run is minutes after the opening.
		assert.ok(err.at < 10_000 + 20_000 + 15 * 60_000);
		return true;
	});
	// Without the plant the same seed runs clean: the limit is what refused those holds.
	const clean = await run({ seed: 21, fans: 3000, tickets: 1000, shards: 2 });
	assert.match(clean.lines.join("\n"), /invariants held/);
});

test("planted in a transfer: stock given by a peer without leaving it is caught as it happens", async () => {
	const planted = (shard) => {
		const give = shard.ledger.transfers.give.bind(shard.ledger.transfers);
		shard.ledger.transfers.give = (input) => {
			const amount = give(input);
			if (amount > 0) shard.storage.sql.exec(`UPDATE meta SET remaining = remaining + ? WHERE id = 1`, amount).toArray();
			return amount;
		};
	};
	await assert.rejects(run({ seed: 22, fans: 4000, tickets: 1000, shards: 4, lines: 3 }, { shard: planted }), (err) => {
		assert.ok(err instanceof sim.InvariantBroken, String(err));
		assert.match(err.message, /does not account for its stock|lost or made|oversold/);
		return true;
	});
});

test("planted in a line: a seal that reports one join fewer than it took tells a position twice, and the run says so", async () => {
	const planted = (room) => {
		const line = room.lines[0].core;
		const seal = line.seal.bind(line);
		line.seal = (input, now) => {
			const report = seal(input, now);
			return { ...report, slots: report.slots.map((s) => (s.count > 1 ? { ...s, count: s.count - 1 } : s)) };
		};
	};
	await assert.rejects(run({ seed: 23, fans: 3000, tickets: 1000, shards: 2, lines: 3 }, { room: planted }), (err) => {
		assert.ok(err instanceof sim.InvariantBroken, String(err));
		assert.match(err.message, /position \d+ told to two fans/);
		return true;
	});
});
