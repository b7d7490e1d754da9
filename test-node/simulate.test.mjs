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
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadSimulator } from "../sim/bundle.mjs";
import { parallelCampaign } from "../sim/campaign-workers.mjs";

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

const cliStatus = (...args) => {
	try {
		return { code: 0, stdout: cli(...args) };
	} catch (err) {
		return { code: err.status, stdout: err.stdout, stderr: err.stderr };
	}
};
const ALL = () => sim.parseFaults("all");
/** The planted bug: once a shard restarts, its ledger's per-fan check refuses nothing (a test hook, never in src). */
const skipsLimitAfterRestart = (shard, restarted) => {
	if (restarted) shard.ledger.store.limitRefusal = () => null;
};

test("a run with every fault on replays identically from its seed, prints its seed and fault set, and every kind struck", () => {
	const args = ["--seed", "50", "--fans", "3000", "--tickets", "1500", "--shards", "4", "--faults", "all"];
	const a = cli(...args);
	assert.equal(cli(...args), a);
	assert.match(a, /^seed 50: 3000 fans, 1500 tickets, 3 lines, 4 shards, faults restart,alarm,message,skew,d1,provider,pacer-restart,pacer-calls /);
	const injected = /faults injected: (.*)/.exec(a)[1];
	for (const kind of ["alarm late", "alarm twice", "give", "fan's answer lost", "line's join answer lost", "shard's tell lost", "provider answered late", "provider never answered", "sales Queue outage", "shard restarted mid-request", "shard restarted between requests", "pacer restarted mid-tick", "pacer's call"]) assert.match(injected, new RegExp(kind), injected);
	// The outage refused sends and the outbox kept the sales: every order's sale arrived all the same.
	const money = /money and sales at the end: (\d+) payments kept = (\d+) orders.*; (\d+) sales reached the Queue \((\d+) sends refused/.exec(a);
	assert.equal(money[1], money[2]);
	assert.equal(money[3], money[2]);
	assert.ok(Number(money[4]) > 0, "the Queue was down for some sends");
	assert.notEqual(cli("--seed", "50", "--fans", "3000", "--tickets", "1500", "--shards", "4", "--faults", "restart,alarm"), a);
});

test("--faults names its kinds: an unknown one is refused with the kinds listed", () => {
	const bad = cliStatus("--seed", "1", "--faults", "restart,meteor");
	assert.equal(bad.code, 2);
	assert.match(bad.stderr, /unknown fault "meteor".*restart, alarm, message, skew, d1, provider, pacer-restart, pacer-calls/);
	assert.deepEqual(sim.parseFaults("skew,restart"), ["restart", "skew"]);
	assert.deepEqual(sim.parseFaults("none"), []);
});

test("skew: the lines' clocks differ, within the bound, and the same seed skews them the same", async () => {
	const skews = [];
	await run({ seed: 43, fans: 800, tickets: 300, shards: 2, lines: 6, faults: ["skew"] }, { room: (room) => skews.push([...room.skew]) });
	await run({ seed: 43, fans: 800, tickets: 300, shards: 2, lines: 6, faults: ["skew"] }, { room: (room) => skews.push([...room.skew]) });
	assert.deepEqual(skews[0], skews[1]);
	assert.ok(new Set(skews[0]).size > 1, String(skews[0]));
	assert.ok(Math.max(...skews[0]) - Math.min(...skews[0]) <= 100);
});

test("a restart mid-request rebuilds the shard over the same database: memory lost, storage kept, the run's invariants held", async () => {
	const restarts = [];
	const built = new Map();
	const result = await run({ seed: 44, fans: 3000, tickets: 1500, shards: 4, faults: ["restart"] }, {
		shard: (shard, restarted) => {
			if (restarted) {
				// A new ledger and new transfers (memory lost) over the same database (storage kept).
				assert.notEqual(shard.ledger, built.get(shard.index).ledger);
				assert.notEqual(shard.transfers, built.get(shard.index).transfers);
				assert.equal(shard.storage, built.get(shard.index).storage);
				restarts.push(shard.index);
			}
			built.set(shard.index, { ledger: shard.ledger, transfers: shard.transfers, storage: shard.storage });
		},
	});
	assert.ok(restarts.length > 0, "some shard restarted");
	assert.match(result.lines.join("\n"), /sold 1500 of 1500/);
	assert.match(result.lines.join("\n"), /shard restarted mid-request \d+/);
});

test("the pacer restarting mid-tick and its calls to lines and shards lost or late: each strikes, a lost call is given up at the tick's bound, a restarted pacer is rebuilt over its storage and its failed alarm run again, and every invariant holds", async () => {
	let room;
	const rebuilt = [];
	const result = await run({ seed: 4, fans: 3000, tickets: 1500, shards: 4, faults: ["pacer-restart", "pacer-calls"] }, {
		trace: true,
		room: (r) => {
			room = r;
			const restart = r.restartPacer.bind(r);
			r.restartPacer = () => {
				const before = { core: r.core, ticks: r.ticks, storage: r.storage, config: r.core.config() };
				restart();
				// Memory lost (a new core, a new tick with no tick or gathering under way), storage kept (its settings read back).
				assert.notEqual(r.core, before.core);
				assert.notEqual(r.ticks, before.ticks);
				assert.equal(r.storage, before.storage);
				assert.deepEqual(r.core.config(), before.config);
				rebuilt.push(r.events.now);
			};
		},
	});
	const text = result.lines.join("\n");
	const injected = /faults injected: (.*)/.exec(text)[1];
	for (const kind of ["pacer restarted mid-tick", "pacer's call lost", "pacer's call answer lost", "pacer's call late"]) assert.match(injected, new RegExp(`${kind} [1-9]`), injected);
	assert.equal(rebuilt.length, Number(/pacer restarted mid-tick (\d+)/.exec(injected)[1]));
	const trace = room.faults.trace.map((t) => t.what);
	// A call that never answers is given up after the tick's bound (timing.ts CALL_TIMEOUT_MS), as the pacer object's RPC is, and tried on a later tick.
	assert.ok(trace.some((w) => /warning: .*took over 5000 ms/.test(w)), "a tick gave a call up at its bound");
	// The tick a restart cut short failed its alarm, which ran again.
	assert.ok(trace.some((w) => w.includes("the alarm failed with its instance")), "a failed alarm ran again");
	// The drop sold out all the same, every position told once and admission by position.
	assert.match(text, /sold 1500 of 1500/);
	assert.match(text, /invariants held: .* 3000 positions unique/);
	assert.match(text, /no hold paid twice, no charge open/);
});

test("the planted bug (a hold that skips the per-fan check after a restart) is found by a campaign, replayed from its seed, shrunk to the restarts it needs, and its trace names the fan's holds", async () => {
	const base = sim.simConfig({ seed: 0, fans: 3000, tickets: 1500, shards: 4, faults: ALL() });
	const found = await sim.campaign(base, 1, 3, sim.sqlJs, { shard: skipsLimitAfterRestart });
	assert.ok(found.length > 0, "the campaign found it");
	const { seed, what } = found[0];
	assert.match(what, /holds or bought \d+ tickets on shard \d+ > maxPerFan 4/);
	const again = await sim.failureOf({ ...base, seed }, sim.sqlJs, { shard: skipsLimitAfterRestart }, true);
	assert.equal(again.what, what, "the seed replays the same failure");
	// Without restarts the plant never acts, and the same seed holds; so does the seed without the plant.
	assert.equal(await sim.failureOf({ ...base, seed, faults: base.faults.filter((k) => k !== "restart") }, sim.sqlJs, { shard: skipsLimitAfterRestart }), null);
	assert.equal(await sim.failureOf({ ...base, seed }, sim.sqlJs, {}), null);
	const { config } = await sim.shrink({ ...base, seed }, sim.sqlJs, { shard: skipsLimitAfterRestart });
	assert.ok(config.faults.includes("restart"), config.faults.join(","));
	assert.ok(config.faults.length < base.faults.length || config.fans < base.fans, "the shrink made the run smaller");
	const shrunk = await sim.failureOf(config, sim.sqlJs, { shard: skipsLimitAfterRestart }, true);
	const fan = /fan (fan-[\w-]+)/.exec(shrunk.what)[1];
	const { lines } = sim.involvedTrace(shrunk);
	assert.ok(lines.some((l) => l.includes(`hold of`) && l.includes(fan)), lines.join("\n"));
	assert.ok(lines.some((l) => l.includes("restarted")), lines.join("\n"));
	assert.match(lines.at(-1), /invariant broken: fan .* > maxPerFan 4/);
});

test("a campaign over worker threads finds what one thread finds, seed for seed, and reports the seeds in order", async () => {
	// The planted restart bug, as a module each worker imports (a function cannot be sent to a thread).
	const dir = mkdtempSync(join(tmpdir(), "sim-hooks-"));
	try {
		const hooks = join(dir, "hooks.mjs");
		writeFileSync(hooks, `export const hooks = { shard: (shard, restarted) => { if (restarted) shard.ledger.store.limitRefusal = () => null; } };\n`);
		const base = sim.simConfig({ seed: 0, fans: 3000, tickets: 1500, shards: 4, faults: ALL() });
		const reported = [];
		const parallel = await parallelCampaign(base, 1, 4, 2, (seed, broken) => reported.push([seed, broken?.what ?? null]), pathToFileURL(hooks).href);
		const serial = await sim.campaign(base, 1, 4, sim.sqlJs, { shard: skipsLimitAfterRestart });
		assert.ok(serial.length > 0, "the plant breaks the per-fan limit on some seeds");
		assert.deepEqual(parallel, serial);
		assert.deepEqual(reported.map(([seed]) => seed), [1, 2, 3, 4]);
		assert.deepEqual(reported.filter(([, what]) => what !== null).map(([seed, what]) => ({ seed, what })), serial);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

test("a bounded fault campaign, as CI runs it: every seed of a 3,000-fan drop on 4 shards holds every invariant with every fault on", async () => {
	const base = sim.simConfig({ seed: 0, fans: 3000, tickets: 1500, shards: 4, faults: ALL() });
	const found = await sim.campaign(base, 1000, 8, sim.sqlJs, {});
	assert.deepEqual(found, []);
});

test("a provider that never answers no longer leaves a charge open: the purchase gives it up and the alarm settles the charge (seed 41 showed it open before)", async () => {
	const result = await run({ seed: 41, fans: 3000, tickets: 1500, shards: 4, faults: ["provider"] });
	const text = result.lines.join("\n");
	assert.match(text, /provider never answered [1-9]/, "the seed still has providers that never answer");
	assert.match(text, /no hold paid twice, no charge open;/);
});

test("the simulator's fans are told the wait the fan route tells (waitView) and poll as it says; the run reports the estimate against each fan's real wait", async () => {
	const b = await import("../sim/bundle.mjs");
	const { waitView } = await b.loadTypeScript({ contents: `export { waitView } from "./src/waiting-room/wait-view";` });
	const told = [];
	const result = await run({ seed: 1, fans: 1500, tickets: 1000, shards: 4, batchSize: 20 }, {
		fans: (fans) => {
			fans.watch = (fan, w, place, now) => {
				if (fan.estimateMs === null) told.push({ fan, w, place, now });
			};
		},
	});
	// Each fan's first estimate is the route's answer at that poll over the same watermark.
	const judged = told.filter((t) => t.fan.estimateAt === t.now);
	assert.ok(judged.length > 300, `${judged.length} fans told a wait`);
	for (const t of judged) assert.equal(t.fan.estimateMs, waitView(t.w, t.place, t.now, 0.5).estimatedWaitMs);
	const s = result.waitEstimate;
	assert.equal(s.judged + s.untold, s.admitted);
	assert.ok(s.judged > 300 && s.admitted >= 450, JSON.stringify(s));
	// The line that moves by its batches meets the goal of 25 % at p90 (the rhythm's wait promised to fans past the tickets left missed by up to 79 %).
	assert.ok(s.p90Error < 0.25, JSON.stringify(s));
	assert.match(result.lines.join("\n"), /\nwait estimate: \|estimate - actual\| \/ actual: median [\d.]+%  p90 [\d.]+% over \d+ fans/);
});

test("a fan told 'waiting for tickets' is parked: its polls are counted without an event each, and the run makes the same polls, admissions and outcomes as when every poll is an event", async () => {
	for (const seed of [3, 5]) {
		const input = { seed, fans: 3000, tickets: 1500, shards: 4 };
		let parked;
		let evented;
		const a = await run(input, { fans: (f) => (parked = f) });
		// A watch on the polls (as the estimate's test keeps) parks nobody: every poll is its own event.
		const b = await run(input, { fans: (f) => ((evented = f), (f.watch = () => undefined)) });
		assert.ok(parked.parkedPolls > 5000, `${parked.parkedPolls} polls counted while parked`);
		assert.equal(evented.parkedPolls, 0);
		assert.equal(parked.polls, evented.polls);
		assert.ok(a.events < b.events - parked.parkedPolls / 2, `${a.events} events parked, ${b.events} not`);
		const differing = parked.all.filter((x, i) => {
			const y = evented.all[i];
			return x.pollDraws !== y.pollDraws || x.admittedAt !== y.admittedAt || x.outcome !== y.outcome || x.estimateMs !== y.estimateMs || x.position !== y.position;
		});
		assert.deepEqual(differing.map((f) => f.index), []);
		const counted = (r) => r.lines.filter((l) => /^(sold out|fans|wait estimate):/.test(l));
		assert.deepEqual(counted(a), counted(b));
	}
});

test("a parked fan whose patience ends gives up at the poll it would have made: the same fans give up, at the same polls, as when every poll is an event", async () => {
	// Slow admission (5 fans a batch) and two minutes' patience: most fans give up while parked.
	const input = { seed: 8, fans: 2000, tickets: 1500, shards: 2, lines: 2, batchSize: 5, fanTimeoutSeconds: 120 };
	let parked;
	let evented;
	await run(input, { fans: (f) => (parked = f) });
	await run(input, { fans: (f) => ((evented = f), (f.watch = () => undefined)) });
	const gaveUp = parked.outcomes.get("gave_up") ?? 0;
	assert.ok(gaveUp > 1000 && parked.parkedPolls > 5000, `${gaveUp} gave up, ${parked.parkedPolls} polls while parked`);
	assert.equal(evented.outcomes.get("gave_up"), gaveUp);
	assert.equal(parked.polls, evented.polls);
	assert.deepEqual(parked.all.filter((x, i) => x.outcome !== evented.all[i].outcome || x.pollDraws !== evented.all[i].pollDraws).map((f) => f.index), []);
});

test("sale-to-ticket: each order to its sale's hand-over to the consumer, within the Queue's batch timeout without faults, and to its row in D1 a write later; later only through the outbox's retries over an outage", async () => {
	const clean = await run({ seed: 3, fans: 3000, tickets: 1500, shards: 4 });
	const line = clean.lines.find((l) => l.startsWith("sale-to-ticket"));
	const m = /to the consumer's batch: median ([\d.]+) s, p90 ([\d.]+) s, max ([\d.]+) s\)/.exec(line);
	assert.ok(m, line);
	const orders = Number(/in (\d+) orders/.exec(clean.lines.join("\n"))[1]);
	assert.equal(Number(/over (\d+) orders/.exec(line)[1]), orders);
	assert.ok(Number(m[3]) <= 1.0 && Number(m[1]) > 0, line);
	// The row in D1: after the hand-over, by the consumer's write (a hop and its batch at D1's one writer), well inside a second more.
	const d = /row written in D1: median ([\d.]+) s, p90 ([\d.]+) s, max ([\d.]+) s over/.exec(line);
	assert.ok(Number(d[1]) > Number(m[1]) && Number(d[3]) > Number(m[3]) && Number(d[3]) <= Number(m[3]) + 0.1, line);
	// Seed 47's Queue outages refuse sends mid-sale: those sales wait for the outbox's retry.
	const outage = await run({ seed: 47, fans: 3000, tickets: 1500, shards: 4, faults: sim.parseFaults("all") });
	const late = /max ([\d.]+) s/.exec(outage.lines.find((l) => l.startsWith("sale-to-ticket")))[1];
	assert.ok(Number(/\((\d+) sends refused/.exec(outage.lines.join("\n"))[1]) > 0);
	// Past the Queue's batch timeout (1 s, the clean run's bound): only a retry of the outbox after a refused send is that late.
	assert.ok(Number(late) > 1.0, `max ${late} s with the Queue down`);
});

test("an object's answer that nobody reads queues no event; one that is read comes a hop after the object serves it", () => {
	const events = new sim.EventQueue();
	const object = new sim.SimObject("pacer", "pacer", events);
	let answered = null;
	object.call(1, () => 7, sim.NO_ANSWER, 5);
	object.call(1, () => 8, (v) => (answered = [v, events.now]), 5);
	assert.equal(events.pending, 2);
	// Served in turn (1 ms each); only the second's answer is queued.
	return events.runUntil(10_000).then(() => {
		assert.deepEqual(answered, [8, 7]);
		assert.equal(events.ran, 3);
		assert.equal(object.requests, 2);
	});
});
