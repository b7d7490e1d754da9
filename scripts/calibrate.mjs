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
// Both reports are kept (JSON and HTML) in --out. Exit 1 when a figure is flagged,
// 2 when a run fails.
//
//   npm run calibrate                                   (20,000 fans: some minutes)
//   npm run calibrate -- --fans 2000 --tickets 500 --shards 4 --lines 2
//   npm run calibrate -- --real loadtest/reports/calibrate-.../real.json   (the simulation only, against a kept real run)
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
		real: { type: "string" },
		sim: { type: "string" },
		help: { type: "boolean", short: "h", default: false },
	},
});
if (flags.help) {
	process.stdout.write(
		"usage: npm run calibrate -- [--fans N --tickets N --shards N --lines N] [--seed FIRST] [--seeds N] [--port N] [--out DIR] [--real REPORT.json] [--sim REPORT.json]\n" +
			"  the simulation runs seeds FIRST.. FIRST+N-1 (default 1, 3 seeds) and their mean is set against the real run\n" +
			"  the README's rehearsal by default (20,000 fans, 5,000 tickets, 16 shards, 16 lines); --real / --sim take a kept report instead of running that side\n",
	);
	process.exit(0);
}

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
let realFile = flags.real === undefined ? null : resolve(flags.real);
if (realFile === null) {
	realFile = join(out, "real.json");
	run("real run", ["loadtest/node-runner.mjs", ...drop, "--port", flags.port, "--quiet", "--report", realFile]);
}
const real = read(realFile);
const k = real.knobs;
for (const [name, value] of Object.entries(SIM_FAN_KNOBS)) {
	if (k[name] !== undefined && k[name] !== value) say(`[calibrate] warning: the real run's ${name} is ${k[name]}; the simulated fans' is ${value}`);
}

// The real run's machine ran the pacer's alarms late (every object in one process on two cores): its batches kept a
// median gap past the configured interval. The simulated pacer's alarms are made as slow: a probe of the first seed
// with its alarms on time gives the simulation's own gap, and the alarms come slower by the difference over the
// interval (a batch waits for alarms set an interval ahead in all), as the fans' requests leave at the real pace.
const simArgs = (seed, slowdown, file) => [
	"sim/simulate.mjs", "--seed", String(seed),
	"--fans", String(k.fans), "--tickets", String(k.tickets), "--shards", String(real.drop.shards), "--lines", String(real.drop.lines),
	"--max-per-fan", String(k.maxPerFan), "--batch-size", String(k.batchSize), "--interval-ms", String(k.intervalMs),
	"--active-multiple", String(k.activeMultiple), "--hold-seconds", String(k.holdSeconds), "--colos", "1",
	"--client-from", realFile, "--wait-for-returns", "--alarm-slowdown", String(slowdown),
	"--report", file,
];
const realGap = medianBatchGapOf(real);
let slowdown = 1;
if (realGap === null) say("[calibrate] warning: the real run's audit has no medianBatchGapMs (a report from before it was audited): the simulated pacer's alarms come on time");
else if (flags.sim === undefined) {
	const probe = join(out, "probe.json");
	run(`probe: seed ${flags.seed} with the pacer's alarms on time`, simArgs(Number(flags.seed), 1, probe));
	const simGap = medianBatchGapOf(read(probe));
	slowdown = simGap === null ? 1 : Math.max(1, Math.round((1 + (realGap - simGap) / k.intervalMs) * 1000) / 1000);
	say(`[calibrate] the pacer's batches: real median ${realGap} ms apart, simulated on time ${simGap} ms (configured ${k.intervalMs}): the simulated pacer's alarms come ${slowdown} times slower than set`);
}

const simFiles = flags.sim === undefined ? [] : [resolve(flags.sim)];
for (let seed = Number(flags.seed); simFiles.length < Number(flags.seeds) && flags.sim === undefined; seed++) {
	const simFile = join(out, `sim-${seed}.json`);
	simFiles.push(simFile);
	// The same drop as the real run made it; one data center: the one local Worker reads the watermark about once a
	// second; the fans' requests leave no faster than the real run's machine answered them in that second of its run.
	run(`simulation, seed ${seed}`, simArgs(seed, slowdown, simFile));
}
const simulated = simFiles.map(read);

const rows = calibrationRowsOver(real, simulated, TOLERANCE);
say("");
say(`[calibrate] ${k.fans} fans, ${k.tickets} tickets, ${real.drop.shards} shards, ${real.drop.lines} lines; ${cpus().length} cores, load average ${startedLoad} at the start, ${load()} at the end`);
say(`  real:      ${realFile} (${real.requests} requests; its answers a second, second by second, are the simulated fans' machine)`);
say(`  simulated: ${simFiles.join(", ")} (seeds ${simulated.map((s) => (s.knobs ? s.knobs.seed : "?")).join(", ")}; their mean against the real run)`);
if (flags.sim === undefined) say(`  the simulated pacer's alarms came ${slowdown} times slower than set (the real batches' median gap ${realGap === null ? "not reported" : `${realGap} ms`})`);
say("  the shards' counts leave out the audit's own reads and the buyers' order reads (scripts/lib/calibration.mjs LEFT_OUT)");
say("");
say(calibrationText(rows, TOLERANCE));
process.exit(rows.some((r) => r.flagged) ? 1 : 0);
