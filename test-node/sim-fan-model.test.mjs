// What the calibration against a real load run changed in the simulated fans
// (sim/fans.ts): a fan told "sold out" at a hold looks at the drop and holds again
// when tickets come back, as the load runner's fans do, and ends only when the drop
// says the sale is over; with a client rate, the fans' requests leave one shared
// machine no faster than that rate, as a load run's leave the runner.
// A replay names every setting that differs from its default, and a campaign takes
// both settings to its seeds.
// Runs under Node's test runner.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSimulator } from "../sim/bundle.mjs";
import { arrivalOffsetMs, fanChoices, fanRandom } from "../loadtest/lib/journey.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

let sim;
before(async () => {
	sim = await loadSimulator();
});

/** Every hold answer each fan was given, in order, by fan id. */
function watchHolds(answers) {
	return (fans) => {
		const inventory = fans.inventory;
		const hold = inventory.hold.bind(inventory);
		inventory.hold = (k, input, answer) =>
			hold(k, input, (o) => {
				const list = answers.get(input.fanId) ?? [];
				list.push(o.ok ? "201" : o.code);
				answers.set(input.fanId, list);
				answer(o);
			});
	};
}

test("a fan told sold out at a hold holds again when tickets come back, and ends only when the drop says it is over", async () => {
	const answers = new Map();
	// Half the holders walk off or release: their tickets come back to fans who were told sold out.
	const config = sim.simConfig({ seed: 2, fans: 3000, tickets: 400, shards: 2, lines: 2, abandonRate: 0.5, waitForReturns: true });
	const result = await sim.simulate(config, sim.sqlJs, { fans: watchHolds(answers), report: true });
	const text = result.lines.join("\n");
	assert.match(text, /sold 400 of 400/);
	const again = [...answers.values()].filter((list) => list.indexOf("sold_out") >= 0 && list.indexOf("201", list.indexOf("sold_out")) > 0);
	assert.ok(again.length > 0, `some fans held after being told sold out (${answers.size} fans held)`);
	// Each hold a fan sent is a hold request at a shard, and the answers are the report's.
	const total = [...answers.values()].reduce((a, l) => a + l.length, 0);
	assert.equal(result.report.steps.hold.count, total);
	assert.equal(result.report.steps.hold.statuses["409:sold_out"], [...answers.values()].reduce((a, l) => a + l.filter((c) => c === "sold_out").length, 0));
	// Off (the default), a fan told sold out at a hold ends there: one sold out each, none held after it.
	const off = new Map();
	await sim.simulate({ ...config, waitForReturns: false }, sim.sqlJs, { fans: watchHolds(off) });
	assert.ok([...off.values()].every((list) => list.indexOf("sold_out") === -1 || list.indexOf("sold_out") === list.length - 1), "without it nobody holds after sold out");
});

test("with a client rate, the fans' requests leave their shared machine no faster than it; without, the opening's joins come at once", async () => {
	const drop = { seed: 5, fans: 2000, tickets: 300, shards: 2, lines: 2 };
	const busiestSecondAtLines = (report) => {
		const lines = report.simulation.objects.filter((o) => o.kind === "line");
		let most = 0;
		for (let s = 0; s < Math.max(...lines.map((l) => l.perSecond.length)); s++) most = Math.max(most, lines.reduce((a, l) => a + (l.perSecond[s] ?? 0), 0));
		return most;
	};
	const free = await sim.simulate(sim.simConfig(drop), sim.sqlJs, { report: true });
	const rate = 100;
	const shared = await sim.simulate(sim.simConfig({ ...drop, clientRate: rate }), sim.sqlJs, { report: true });
	assert.ok(busiestSecondAtLines(free.report) > 3 * rate, `without a client rate the opening's joins arrive together (${busiestSecondAtLines(free.report)} in a second)`);
	// The lines serve the fans' joins and the pacer's seals and opens (a few a second a line).
	assert.ok(busiestSecondAtLines(shared.report) <= rate + 2 * 3 * drop.lines, `at ${rate} requests a second: ${busiestSecondAtLines(shared.report)} at the lines in one second`);
	assert.match(shared.lines.join("\n"), /positions unique/);
	// The summary's first line is unchanged: the rate is a setting of the run, not of the drop.
	assert.equal(shared.lines[0], free.lines[0]);
});

test("a dry drop is watched by its shards as the engine's pacer asks: they tell it when stock moves, and it looks less often meanwhile", async () => {
	// Walked-away holds leave the drop dry (nothing free, holds outstanding) until they run out.
	const config = sim.simConfig({ seed: 4, fans: 3000, tickets: 400, shards: 2, lines: 2, abandonRate: 0.4 });
	const looks = [];
	let room = null;
	const result = await sim.simulate(config, sim.sqlJs, {
		report: true,
		room: (r) => {
			room = r;
			const inventory = r.inventory;
			const look = inventory.look.bind(inventory);
			inventory.look = (k, hint, watch, answer) => {
				if (k === 0) looks.push({ at: r.events.now, watch });
				return look(k, hint, watch, answer);
			};
		},
	});
	assert.match(result.lines.join("\n"), /sold 400 of 400/);
	const pacer = result.report.simulation.objects.find((o) => o.kind === "room");
	assert.ok((pacer.methods.stockMoved ?? 0) > 0, `the shards told the pacer of stock moving: ${JSON.stringify(pacer.methods)}`);
	const watched = looks.filter((l) => l.watch);
	assert.ok(watched.length > 0, "some looks asked the shards to watch");
	// After a watched look the pacer rests (up to DRY_LOOK_MS, 10 s) unless a shard tells it; otherwise it looks within a second or two.
	const gaps = looks.slice(0, -1).map((l, i) => ({ watch: l.watch, gap: looks[i + 1].at - l.at }));
	const longestWatched = Math.max(...gaps.filter((g) => g.watch).map((g) => g.gap));
	const longestOtherwise = Math.max(...gaps.filter((g) => !g.watch && g.gap < 60_000).map((g) => g.gap));
	assert.ok(longestWatched >= 5000, `a watched dry drop rested the pacer: longest gap after a watched look ${longestWatched} ms`);
	assert.ok(longestOtherwise <= 2000, `unwatched, the pacer looked within ${longestOtherwise} ms`);
	// The hook's room is the run's: its pacer's tells are the report's, and the drop it publishes is over.
	assert.equal(room.pacer.byMethod.get("stockMoved"), pacer.methods.stockMoved);
	assert.equal(room.published.soldOut, true);
});

test("a fan told sold out looks at the drop at a cost before it holds again: a request through the fans' machine, answered a hop later", async () => {
	for (const clientRate of [0, 200]) {
		const config = sim.simConfig({ seed: 2, fans: 3000, tickets: 400, shards: 2, lines: 2, abandonRate: 0.5, waitForReturns: true, clientRate });
		const byFan = new Map();
		const sends = [];
		const result = await sim.simulate(config, sim.sqlJs, {
			report: true,
			fans: (fans) => {
				const inventory = fans.inventory;
				const hold = inventory.hold.bind(inventory);
				inventory.hold = (k, input, answer) => {
					const list = byFan.get(input.fanId) ?? [];
					byFan.set(input.fanId, list);
					list.push(["send", fans.events.now]);
					hold(k, input, (o) => {
						list.push([o.ok ? "201" : o.code, fans.events.now]);
						answer(o);
					});
				};
				const send = fans.send.bind(fans);
				fans.send = (request) => send(() => {
					sends.push(fans.events.now);
					request();
				});
			},
		});
		let gaps = 0;
		for (const list of byFan.values()) {
			for (let i = 0; i < list.length; i++) {
				if (list[i][0] !== "sold_out") continue;
				const next = list.slice(i).find((e) => e[0] === "send");
				if (next === undefined) continue;
				gaps++;
				assert.ok(next[1] - list[i][1] >= config.hopMs, `rate ${clientRate}: a hold ${next[1] - list[i][1]} ms after a sold out`);
			}
		}
		assert.ok(gaps > 0, "some fans held again after a sold out");
		// Each look is a request of the run, as the load runner's `drop` step.
		const looks = result.report.steps.drop;
		assert.ok(looks.count > 0 && looks.statuses["200"] === looks.count, JSON.stringify(looks));
		assert.equal(looks.p50, config.hopMs);
		if (clientRate > 0) {
			// Every request, the looks among them, left the shared machine no faster than its rate.
			for (let i = 1; i < sends.length; i++) assert.ok(sends[i] - sends[i - 1] >= 1000 / clientRate - 1e-6, `two requests ${sends[i] - sends[i - 1]} ms apart`);
			assert.ok(sends.length >= result.report.requests - result.report.steps.status.count, `${sends.length} sent through the machine`);
		}
	}
});

test("a replay names every setting that differs from its default, the fans' machine and their waiting for returns among them, and runs the same run", async () => {
	const config = sim.simConfig({ seed: 6, fans: 1200, tickets: 200, shards: 2, lines: 2, maxPerFan: 2, holdSeconds: 30, colos: 3, clientRate: 300, waitForReturns: true });
	const command = sim.replayCommand(config);
	assert.equal(command, "npm run simulate -- --seed 6 --fans 1200 --tickets 200 --lines 2 --shards 2 --faults none --max-per-fan 2 --hold-seconds 30 --colos 3 --client-rate 300 --wait-for-returns");
	// The defaults stay out: the command is as short as the run allows.
	assert.equal(sim.replayCommand(sim.simConfig({ seed: 6, tickets: 200 })), `npm run simulate -- --seed 6 --fans 10000 --tickets 200 --lines ${sim.simConfig({ seed: 6, tickets: 200 }).lines} --shards ${sim.simConfig({ seed: 6, tickets: 200 }).shards} --faults none`);
	const args = command.replace("npm run simulate -- ", "").split(" ");
	const cli = execFileSync(process.execPath, [join(ROOT, "sim/simulate.mjs"), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
	const result = await sim.simulate(config, sim.sqlJs, {});
	assert.equal(cli, result.lines.join("\n") + "\n", "the replay's summary is the run's");
	// Without the two settings the run is another one: the replay needs them.
	const plain = await sim.simulate({ ...config, clientRate: 0, waitForReturns: false }, sim.sqlJs, {});
	assert.notEqual(plain.lines.join("\n"), result.lines.join("\n"));
});

test("a campaign passes --wait-for-returns and --client-rate to its seeds", () => {
	const run = (...more) => execFileSync(process.execPath, [join(ROOT, "sim/simulate.mjs"), "--campaign", "1", "--workers", "1", "--seed", "1", "--fans", "600", "--tickets", "150", "--shards", "2", ...more], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
	assert.match(run("--wait-for-returns", "--client-rate", "400"), /^campaign: seeds 1\.\.1, 600 fans, 150 tickets, \d+ lines, 2 shards, faults [\w,-]+, fans wait for returns, the fans' machine at 400 requests a second\n/);
	assert.match(run(), /^campaign: seeds 1\.\.1, 600 fans, 150 tickets, \d+ lines, 2 shards, faults [\w,-]+\n/);
});

test("a real run's pace as the fans' machine: each second sends no more than that second's answers, none while the real process paused, and past its end its busy 95th percentile", () => {
	const due = [];
	let now = 0;
	// Second 0: 4 answers, second 1: none (a pause), second 2: 2; 20 seconds in all with answers for the percentile.
	const rates = [4, 0, 2, ...Array.from({ length: 17 }, (_, i) => 10 + i)];
	const machine = new sim.FansMachine({ rate: 0, rates }, () => now, (at, run) => due.push([at, run]));
	assert.equal(machine.own, false);
	const sent = [];
	for (let i = 0; i < 7; i++) machine.send(() => sent.push(now));
	assert.deepEqual(sent, [0], "the first leaves at once");
	assert.deepEqual(due.map(([at]) => at), [250, 500, 750, 2000, 2500, 3000], "4 a second in second 0, none in second 1, 2 a second in second 2");
	// Past the series (20 s), the 95th percentile of its busy seconds: 19 of them, the 19th smallest (26).
	now = 30_000;
	due.length = 0;
	machine.send(() => undefined);
	machine.send(() => undefined);
	assert.deepEqual(due.map(([at]) => at), [30_000 + 1000 / 26]);
	assert.equal(new sim.FansMachine({ rate: 0, rates: [] }, () => 0, () => undefined).own, true);
	assert.equal(new sim.FansMachine({ rate: 0, rates: [0, 0] }, () => 0, () => undefined).own, true, "a series that answered nothing is no machine");
});

test("a load run's answers a second come from its timeline, every status class, spread over a bucket's seconds", () => {
	const timeline = { bucketSeconds: 2, buckets: 3, statuses: { "2xx": [10, 4, 0], "503": [2, 0, 0], network: [0, 0, 6] } };
	assert.deepEqual(sim.answersPerSecond(timeline), [6, 6, 2, 2, 3, 3]);
	// The timeline is sized before the run: its empty seconds after the last answer are the run's end, not a pause.
	const ended = { bucketSeconds: 1, buckets: 6, statuses: { "2xx": [5, 0, 7, 0, 0, 0] } };
	assert.deepEqual(sim.answersPerSecond(ended), [5, 0, 7]);
	const machine = new sim.FansMachine({ rate: 0, rates: sim.answersPerSecond(ended) }, () => 3000, () => assert.fail("nothing waits past the end"));
	let sent = false;
	machine.send(() => (sent = true));
	assert.equal(sent, true, "a request made after the real run's last answer leaves at the busy rate, not after its empty tail");
});

test("--client-from runs the fans' machine at a load run's pace; the replay names the report, and without it the run is another", async () => {
	const dir = mkdtempSync(join(tmpdir(), "sim-pace-"));
	const file = join(dir, "real.json");
	const perSecond = Array.from({ length: 40 }, (_, s) => (s < 10 ? 40 : 120));
	writeFileSync(file, JSON.stringify({ timeline: { bucketSeconds: 1, buckets: perSecond.length, statuses: { "2xx": perSecond } } }));
	try {
		const drop = { seed: 4, fans: 800, tickets: 150, shards: 2, lines: 2 };
		const config = sim.simConfig({ ...drop, clientRates: perSecond, clientFrom: file });
		const command = sim.replayCommand(config);
		assert.equal(command, `npm run simulate -- --seed 4 --fans 800 --tickets 150 --lines 2 --shards 2 --faults none --client-from ${file}`);
		const cli = execFileSync(process.execPath, [join(ROOT, "sim/simulate.mjs"), ...command.replace("npm run simulate -- ", "").split(" ")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
		const sends = [];
		const result = await sim.simulate(config, sim.sqlJs, {
			report: true,
			fans: (fans) => {
				const send = fans.send.bind(fans);
				fans.send = (request) => send(() => {
					sends.push(fans.events.now);
					request();
				});
			},
		});
		assert.equal(cli, result.lines.join("\n") + "\n", "the command's run is the config's");
		const perSecondSent = Array.from({ length: Math.floor(Math.max(...sends) / 1000) + 1 }, () => 0);
		for (const at of sends) perSecondSent[Math.floor(at / 1000)]++;
		for (let s = 0; s < perSecond.length; s++) assert.ok((perSecondSent[s] ?? 0) <= perSecond[s] + 1, `second ${s}: ${perSecondSent[s]} sent at a pace of ${perSecond[s]}`);
		assert.ok(Math.max(...perSecondSent.slice(0, 10)) >= 30, "the opening's burst fills the slow seconds");
		const free = await sim.simulate(sim.simConfig(drop), sim.sqlJs, {});
		assert.notEqual(free.lines.join("\n"), result.lines.join("\n"));
		assert.throws(() => execFileSync(process.execPath, [join(ROOT, "sim/simulate.mjs"), "--fans", "100", "--client-from", file, "--client-rate", "5"], { stdio: "pipe" }), /not both/);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

test("a join's answer carries the fan's first view: it is read, not counted as a poll", async () => {
	let views = 0;
	let joins = 0;
	const result = await sim.simulate(sim.simConfig({ seed: 3, fans: 900, tickets: 120, shards: 2, lines: 2 }), sim.sqlJs, {
		report: true,
		fans: (fans) => {
			const poll = fans.poll.bind(fans);
			fans.poll = (fan, asked = true) => {
				if (!asked) views++;
				return poll(fan, asked);
			};
			const joined = fans.joined.bind(fans);
			fans.joined = (fan, answer) => {
				if (answer.kind !== "sold_out") joins++;
				return joined(fan, answer);
			};
		},
	});
	assert.ok(joins > 0);
	assert.equal(views, joins, "every join's answer read once as a view");
	assert.match(result.lines.join("\n"), new RegExp(`; ${result.report.steps.status.count} polls answered by the Worker`), "the polls counted are the status requests, none for the joins");
});

test("the simulated fans are the load runner's fans of the same seed: its arrival curve and each fan's choices from its own stream", async () => {
	const config = sim.simConfig({ seed: 7, fans: 1500, tickets: 200, shards: 2, lines: 2 });
	let all;
	await sim.simulate(config, sim.sqlJs, { fans: (fans) => (all = fans.all) });
	const knobs = { seed: 7, leadSeconds: config.opensAt / 1000, spreadSeconds: config.spreadSeconds, quantity: "random", maxPerFan: config.maxPerFan, abandonRate: config.abandonRate, declineRate: config.declineRate, thinkMs: config.thinkMs };
	assert.equal(all.length, 1500);
	for (const fan of all) {
		assert.equal(fan.arrivedAt, arrivalOffsetMs(fan.index, knobs), `fan ${fan.index} arrives as the runner's`);
		const c = fanChoices(knobs, fanRandom(7, fan.index));
		assert.deepEqual({ wants: fan.wants, abandons: fan.abandons, walksAway: fan.walksAway, declined: fan.declined, thinkMs: fan.thinkMs }, c);
	}
	// The runner's curve: a fifth early in the pre-queue, most in a spike around the opening.
	const early = all.filter((f) => f.arrivedAt < config.opensAt).length;
	assert.ok(early > 0.4 * all.length && early < 0.7 * all.length, `${early} of ${all.length} before the opening`);
});

test("fans in the pre-queue are told to come back around the opening, as the Worker answers them from the watermark it reads: not every second", async () => {
	const config = sim.simConfig({ seed: 3, fans: 2000, tickets: 300, shards: 2, lines: 2 });
	let polls = 0;
	let joins = 0;
	await sim.simulate(config, sim.sqlJs, {
		fans: (fans) => {
			const poll = fans.poll.bind(fans);
			fans.poll = (fan, asked = true) => {
				if (asked && fans.events.now < config.opensAt) polls++;
				return poll(fan, asked);
			};
			const joined = fans.joined.bind(fans);
			fans.joined = (fan, answer) => {
				if (fans.events.now < config.opensAt) joins++;
				return joined(fan, answer);
			};
		},
	});
	assert.ok(joins > 500, `${joins} joined before the opening`);
	// Told "around the opening" (0.9 to 1.1 of the time left, at least a second), a fan polls about once before it.
	assert.ok(polls < joins, `${polls} polls before the opening from ${joins} fans in the pre-queue`);
});

test("a fan's turn is the one the Worker grants: from when its batch went in, not from the poll that saw it; and the Worker refuses a turn from before the sell-out", async () => {
	let fans;
	const config = sim.simConfig({ seed: 3, fans: 10000, tickets: 1000, shards: 4, faults: sim.parseFaults("all") });
	const result = await sim.simulate(config, sim.sqlJs, { fans: (f) => (fans = f) });
	const granted = fans.all.filter((f) => f.admittedAt !== null);
	assert.equal(granted.length, fans.turnsGranted);
	let sawLate = 0;
	for (const fan of granted) {
		// The token's expiry: a turn's length after the batch, in whole seconds.
		assert.equal(fan.turnEnds, Math.floor((fan.admittedServerAt + config.accessSeconds * 1000) / 1000) * 1000 - sim.EPOCH, `fan ${fan.index}`);
		if (fan.admittedAt - (fan.admittedServerAt - sim.EPOCH) >= 1000) sawLate++;
	}
	// Fans whose poll saw their admission a second or more after their batch: a turn from the poll would have outlasted the token.
	assert.ok(sawLate > 0, `some fans saw their admission late (${granted.length} granted)`);
	// Under faults a fan admitted before the sell-out holds again after it (a retry): the Worker refuses it, no shard is asked.
	assert.ok(fans.workerRefusals > 0, result.lines.find((l) => l.startsWith("turns:")));
	assert.match(result.lines.join("\n"), new RegExp(`${fans.workerRefusals} holds refused by the Worker before any shard`));
});

test("no hold outlives the turn that made it: checked at every hold, and a shard that ignores the turn's end is caught", async () => {
	// Turns shorter than a hold's 60 s: every hold is cut to its turn's end by the shard.
	const config = sim.simConfig({ seed: 1, fans: 2000, tickets: 300, shards: 2, lines: 2, accessSeconds: 30 });
	const result = await sim.simulate(config, sim.sqlJs);
	assert.match(result.lines.join("\n"), /[1-9]\d* holds made, each ending by its turn's end/);
	const ignoresTheTurn = (shard) => {
		const hold = shard.transfers.hold.bind(shard.transfers);
		shard.transfers.hold = (input) => hold({ ...input, notAfter: Number.MAX_SAFE_INTEGER });
	};
	await assert.rejects(sim.simulate(config, sim.sqlJs, { shard: ignoresTheTurn }), (e) => e instanceof sim.InvariantBroken && /ends at .*, after its turn/.test(e.what));
});

test("a slow machine's alarms (--alarm-slowdown, the calibration's): the pacer's batches come that much further apart, and a replay names it", async () => {
	// The calibration's drop, a fifth of it: batches due every second, the pacer ticking twice a second while fans join.
	const config = sim.simConfig({ seed: 2, fans: 4000, tickets: 1000, shards: 4, lines: 4, intervalMs: 1000 });
	const onTime = await sim.simulate(config, sim.sqlJs, { report: true });
	const slow = await sim.simulate({ ...config, alarmSlowdown: 1.5 }, sim.sqlJs, { report: true });
	const gap = (r) => r.report.admission.medianBatchGapMs;
	assert.ok(gap(onTime) >= config.intervalMs && gap(onTime) < config.intervalMs * 1.1, `on time: ${gap(onTime)} ms`);
	// Each of the alarms a batch waits for comes half as late again as it was set: the gap grows by half the interval.
	assert.ok(Math.abs(gap(slow) - gap(onTime) - 0.5 * config.intervalMs) <= 20, `${gap(slow)} ms against ${gap(onTime)} ms`);
	assert.match(sim.replayCommand({ ...config, alarmSlowdown: 1.5 }), / --alarm-slowdown 1\.5\b/);
	assert.doesNotMatch(sim.replayCommand(config), /alarm-slowdown/);
	const bad = spawnSync(process.execPath, ["sim/simulate.mjs", "--alarm-slowdown", "0.5"], { cwd: ROOT, encoding: "utf8" });
	assert.equal(bad.status, 2);
	assert.match(bad.stderr, /--alarm-slowdown must be a number from 1/);
});
