#!/usr/bin/env node
// `npm run calibrate`: the simulator against the real engine, in one go. Runs the
// README's rehearsal drop for real (`npm run loadtest`, its own engine on --port,
// 8881 by default) and then simulated (`npm run simulate` with the same fans,
// tickets, lines, shards, admission and hold time, one data center reading the
// watermark as the one local Worker does, the pacer's alarms as slow as the real run's batches show
// (their median gap against the interval), and the fans' requests sent at the pace the real
// run's machine answered them, second by second: `--client-from`), and prints side by side the requests
// per object kind, the hold answers' `try_again` share, the sell-out time and the
// fans admitted, each with its ratio, flagged outside 15 % (scripts/lib/calibration.mjs).
// With --runs N the real drop runs N times, one after the other, each with its own seeds
// simulated at its own pace, and the real runs' mean is set against the seeds' (two real runs
// of the same drop on this machine can differ by a fifth in their endgame's counts).
// The reports are kept (JSON and HTML) in --out. Exit 1 when a figure is flagged,
// 2 when a run fails.
//
//   npm run calibrate                                   (20,000 fans: some minutes)
//   npm run calibrate -- --runs 3 --seeds 5             (three real runs, five seeds each)
//   npm run calibrate -- --fans 2000 --tickets 500 --shards 4 --lines 2
//   npm run calibrate -- --real loadtest/reports/calibrate-.../real-1.json   (the simulation only, against a kept real run; --real again for more)
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { TOLERANCE, calibrationRowsOver, calibrationText, medianBatchGapOf } from "./lib/calibration.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The fans' behaviour the simulator takes from the load runner's defaults (sim/config.ts): a real run with others is not the same drop. */
const SIM_FAN_KNOBS = { leadSeconds: 10, spreadSeconds: 20, abandonRate: 0.1, declineRate: 0.05, thinkMs: 1500, fanTimeoutSeconds: 600, quantity: "random" };

const { values: flags } = parseArgs({
	options: {
		fans: { type: "string", default: "20000" },
		tickets: { type: "string", default: "5000" },
		shards: { type: "string", default: "16" },
		lines: { type: "string", default: "16" },
		seed: { type: "string", default: "1" },
		seeds: { type: "string", default: "3" },
		port: { type: "string", default: "8881" },
		out: { type: "string" },
		runs: { type: "string", default: "1" },
		real: { type: "string", multiple: true },
		sim: { type: "string" },
		help: { type: "boolean", short: "h", default: false },
	},
});
if (flags.help) {
	process.stdout.write(
		"usage: npm run calibrate -- [--fans N --tickets N --shards N --lines N] [--runs N] [--seed FIRST] [--seeds N] [--port N] [--out DIR] [--real REPORT.json ...] [--sim REPORT.json]\n" +
			"  the real drop runs --runs times (default 1); against each, the simulation runs seeds FIRST.. FIRST+N-1 (default 1, 3 seeds) at that run's pace,\n" +
			"  and the seeds' mean is set against the real runs' mean\n" +
			"  the README's rehearsal by default (20,000 fans, 5,000 tickets, 16 shards, 16 lines); --real / --sim take a kept report instead of running that side\n",
	);
	process.exit(0);
}

const refuse = (why) => {
	process.stderr.write(`calibrate: ${why}\n`);
	process.exit(2);
};
if (!/^[1-9]\d*$/.test(flags.runs)) refuse(`--runs must be a whole number from 1 (not ${flags.runs})`);
if (flags.real !== undefined && flags.runs !== "1") refuse("--runs runs the real drop; with --real the real runs are the reports given");

const out = resolve(flags.out ?? join(ROOT, "loadtest", "reports", `calibrate-${new Date().toISOString().replace(/[:.]/g, "-")}`));
mkdirSync(out, { recursive: true });
const say = (line) => process.stdout.write(line + "\n");
const load = () => loadavg().map((n) => n.toFixed(2)).join(" ");

/** A child run, its output passed through, with its wall time and the load average around it (the machine is shared). */
function run(label, args) {
	say(`\n[calibrate] ${label}: node ${args.join(" ")}   (load average ${load()})`);
	const started = Date.now();
	const child = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
	const wall = (Date.now() - started) / 1000;
	say(`[calibrate] ${label} ended (exit ${child.status}) after ${wall.toFixed(0)} s wall; load average now ${load()}`);
	if (child.status !== 0) {
		process.stderr.write(`calibrate: the ${label} failed (exit ${child.status}); its report, if written, is in ${out}\n`);
		process.exit(2);
	}
}

const read = (file) => JSON.parse(readFileSync(file, "utf8"));
const startedLoad = load();

const drop = ["--fans", flags.fans, "--tickets", flags.tickets, "--shards", flags.shards, "--lines", flags.lines];
const realFiles = flags.real === undefined ? [] : flags.real.map((f) => resolve(f));
for (let n = 1; flags.real === undefined && n <= Number(flags.runs); n++) {
	const file = join(out, `real-${n}.json`);
	realFiles.push(file);
	run(`real run ${n} of ${flags.runs}`, ["loadtest/node-runner.mjs", ...drop, "--port", flags.port, "--quiet", "--report", file]);
}
const reals = realFiles.map(read);
// The real runs' mean is a mean of one drop: each must be the first's (its fans, tickets, shards and lines).
const shapeOf = (real) => `${real.knobs.fans} fans, ${real.knobs.tickets} tickets, ${real.drop.shards} shards, ${real.drop.lines} lines`;
for (const [r, real] of reals.entries()) if (shapeOf(real) !== shapeOf(reals[0])) refuse(`${realFiles[r]} is a drop of ${shapeOf(real)}, ${realFiles[0]} of ${shapeOf(reals[0])}: not one drop`);

// The simulated drop is each real run's as it made it; one data center: the one local Worker reads the watermark
// about once a second; the fans' requests leave no faster than that real run's machine answered them in that
// second of its run (--client-from).
// The real run's machine ran the pacer's alarms late (every object in one process on two cores): its batches kept a
// median gap past the configured interval. The simulated pacer's alarms are made as slow: a probe of the first seed
// with its alarms on time gives the simulation's own gap, and the alarms come slower by the difference over the
// interval (a batch waits for alarms set an interval ahead in all), as the fans' requests leave at the real pace.
const simArgs = (real, realFile, seed, slowdown, file) => {
	const k = real.knobs;
	return [
		"sim/simulate.mjs", "--seed", String(seed),
		"--fans", String(k.fans), "--tickets", String(k.tickets), "--shards", String(real.drop.shards), "--lines", String(real.drop.lines),
		"--max-per-fan", String(k.maxPerFan), "--batch-size", String(k.batchSize), "--interval-ms", String(k.intervalMs),
		"--active-multiple", String(k.activeMultiple), "--hold-seconds", String(k.holdSeconds), "--colos", "1",
		"--client-from", realFile, "--wait-for-returns", "--alarm-slowdown", String(slowdown),
		"--report", file,
	];
};
const simFiles = flags.sim === undefined ? [] : [resolve(flags.sim)];
const paces = [];
reals.forEach((real, r) => {
	const tag = reals.length > 1 ? `${r + 1}-` : "";
	for (const [name, value] of Object.entries(SIM_FAN_KNOBS)) {
		if (real.knobs[name] !== undefined && real.knobs[name] !== value) say(`[calibrate] warning: real run ${r + 1}'s ${name} is ${real.knobs[name]}; the simulated fans' is ${value}`);
	}
	if (flags.sim !== undefined) return;
	const realGap = medianBatchGapOf(real);
	let slowdown = 1;
	if (realGap === null) say(`[calibrate] warning: real run ${r + 1}'s audit has no medianBatchGapMs (a report from before it was audited): the simulated pacer's alarms come on time`);
	else {
		const probe = join(out, `probe-${tag}${flags.seed}.json`);
		run(`probe against real run ${r + 1}: seed ${flags.seed} with the pacer's alarms on time`, simArgs(real, realFiles[r], Number(flags.seed), 1, probe));
		const simGap = medianBatchGapOf(read(probe));
		slowdown = simGap === null ? 1 : Math.max(1, Math.round((1 + (realGap - simGap) / real.knobs.intervalMs) * 1000) / 1000);
		say(`[calibrate] real run ${r + 1}'s batches: median ${realGap} ms apart, simulated on time ${simGap} ms (configured ${real.knobs.intervalMs}): the simulated pacer's alarms come ${slowdown} times slower than set`);
	}
	paces.push(`real run ${r + 1}: alarms ${slowdown} times slower (its batches' median gap ${realGap === null ? "not reported" : `${realGap} ms`})`);
	for (let seed = Number(flags.seed); seed < Number(flags.seed) + Number(flags.seeds); seed++) {
		const simFile = join(out, `sim-${tag}${seed}.json`);
		simFiles.push(simFile);
		run(`simulation at real run ${r + 1}'s pace, seed ${seed}`, simArgs(real, realFiles[r], seed, slowdown, simFile));
	}
});
const simulated = simFiles.map(read);
const k = reals[0].knobs;

const rows = calibrationRowsOver(reals, simulated, TOLERANCE);
say("");
say(`[calibrate] ${k.fans} fans, ${k.tickets} tickets, ${reals[0].drop.shards} shards, ${reals[0].drop.lines} lines; ${cpus().length} cores, load average ${startedLoad} at the start, ${load()} at the end`);
say(`  real:      ${reals.map((real, r) => `${realFiles[r]} (${real.requests} requests)`).join(", ")}; each run's answers a second, second by second, are its seeds' fans' machine${reals.length > 1 ? "; their mean against the seeds'" : ""}`);
say(`  simulated: ${simFiles.join(", ")} (seeds ${simulated.map((s) => (s.knobs ? s.knobs.seed : "?")).join(", ")}; their mean against the real ${reals.length > 1 ? "runs'" : "run"})`);
for (const pace of paces) say(`  the simulated pacer at ${pace}`);
say("  the shards' counts leave out the audit's own reads and the buyers' order reads (scripts/lib/calibration.mjs LEFT_OUT), the pacer's the promoter's calls (PACER_LEFT_OUT)");
say("");
say(calibrationText(rows, TOLERANCE));
process.exit(rows.some((r) => r.flagged) ? 1 : 0);
