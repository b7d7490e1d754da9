#!/usr/bin/env node
// `npm run simulate`: a whole drop in one Node process on a simulated clock, the
// engine's decision code called directly (no workerd). The TypeScript under sim/
// (and the parts of src/ it calls) is bundled with esbuild into a temporary file
// first (bundle.mjs), since Node 20 runs no TypeScript. Prints the run's seed; `--seed N`
// replays it exactly. Exit 1 when an invariant breaks, 2 on bad usage.
//
//   npm run simulate -- --fans 100000 --tickets 20000 --seed 7
//   npm run simulate -- --fans 20000 --tickets 5000 --seed 7 --report run.json   (and run.html beside it)
import { parseArgs } from "node:util";
import { availableParallelism } from "node:os";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { htmlPathFor } from "../loadtest/lib/report-files.mjs";
import { renderReport } from "../loadtest/lib/report-html.js";
import { loadSimulator } from "./bundle.mjs";
import { parallelCampaign } from "./campaign-workers.mjs";

const NUMBERS = ["campaign", "workers", "seed", "fans", "tickets", "lines", "shards", "max-per-fan", "batch-size", "interval-ms", "active-multiple", "hold-seconds", "colos", "client-rate"];
const USAGE = `usage: npm run simulate -- [--seed N] [--fans N] [--tickets N] [--lines N] [--shards N]
                        [--max-per-fan N] [--batch-size N] [--interval-ms N] [--active-multiple N]
                        [--hold-seconds N] [--colos N] [--client-rate N] [--alarm-slowdown X]
                        [--client-from LOADTEST-REPORT.json]
                        [--faults all|none|restart,alarm,message,skew,d1,provider,pacer-restart,pacer-calls]
                        [--no-shrink] [--report FILE.json] [--wait-for-returns]
       npm run simulate -- --campaign N [--seed FIRST] [--workers N] [--fans N] ...
                        (every fault on, seeds FIRST..FIRST+N-1, over --workers threads: one per core by default)
Without --seed a seed is drawn and printed; the same seed (and faults) replays the same run.
--report writes the run's report as the load runner's JSON report, and its HTML page beside it (FILE.html).`;

function usage(message) {
	process.stderr.write(`simulate: ${message}\n${USAGE}\n`);
	process.exit(2);
}

let values;
try {
	({ values } = parseArgs({ options: { ...Object.fromEntries(NUMBERS.map((n) => [n, { type: "string" }])), faults: { type: "string" }, report: { type: "string" }, "client-from": { type: "string" }, "alarm-slowdown": { type: "string" }, "no-shrink": { type: "boolean" }, "wait-for-returns": { type: "boolean" } } }));
} catch (err) {
	usage(err.message);
}
const input = {};
const faultsText = values.faults;
const noShrink = values["no-shrink"] === true;
const reportFile = values.report === undefined ? null : resolve(values.report);
const waitForReturns = values["wait-for-returns"] === true;
const clientFrom = values["client-from"] === undefined ? undefined : resolve(values["client-from"]);
delete values["client-from"];
const slowdownText = values["alarm-slowdown"];
delete values["alarm-slowdown"];
delete values["wait-for-returns"];
delete values.faults;
delete values["no-shrink"];
delete values.report;
if (reportFile !== null && !reportFile.endsWith(".json")) usage("--report names a .json file (the HTML goes beside it)");
for (const [flag, text] of Object.entries(values)) {
	const n = Number(text);
	if (!Number.isSafeInteger(n) || n < (flag === "seed" ? 0 : 1)) usage(`--${flag} must be a whole number${flag === "seed" ? "" : " above 0"}`);
	input[flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = n;
}
if (slowdownText !== undefined) {
	const x = Number(slowdownText);
	if (!Number.isFinite(x) || x < 1 || x > 10) usage("--alarm-slowdown must be a number from 1 (on time) to 10");
	input.alarmSlowdown = x;
}
// The one draw outside the simulation: a seed when none is given, printed so the run can be replayed.
input.seed ??= Math.floor(Math.random() * 2 ** 31);

// A reader that stops early (`| head`) ends the output, not the run with a stack trace.
process.stdout.on("error", (err) => {
	if (err.code !== "EPIPE") throw err;
});
const sim = await loadSimulator();
try {
	input.faults = sim.parseFaults(faultsText ?? "none");
} catch (err) {
	usage(err.message);
}
if (clientFrom !== undefined) {
	let timeline;
	try {
		timeline = JSON.parse(readFileSync(clientFrom, "utf8")).timeline;
	} catch (err) {
		usage(`--client-from ${clientFrom}: ${err.message}`);
	}
	if (!timeline || !timeline.statuses) usage(`--client-from ${clientFrom}: a load run's JSON report with its timeline`);
	input.clientRates = sim.answersPerSecond(timeline);
	input.clientFrom = clientFrom;
}
if (clientFrom !== undefined && input.clientRate !== undefined) usage("the fans' machine is a rate (--client-rate) or a real run's pace (--client-from), not both");

const out = (line) => process.stdout.write(line + "\n");
const started = performance.now();
if (input.workers !== undefined && input.campaign === undefined) usage("--workers goes with --campaign");
if (input.campaign !== undefined && reportFile !== null) usage("--report goes with a single run, not --campaign");
if (input.campaign !== undefined) {
	// A campaign: every fault on, one seed after another; each seed that breaks an invariant is named with its replay.
	const count = input.campaign;
	const workers = input.workers ?? availableParallelism();
	delete input.campaign;
	delete input.workers;
	if (faultsText !== undefined && faultsText !== "all") usage("a campaign runs with every fault on (--faults all)");
	const base = sim.simConfig({ ...input, waitForReturns, faults: sim.parseFaults("all") });
	out(`campaign: seeds ${base.seed}..${base.seed + count - 1}, ${base.fans} fans, ${base.tickets} tickets, ${base.lines} lines, ${base.shards} shards, faults ${base.faults.join(",")}${base.waitForReturns ? ", fans wait for returns" : ""}${base.clientRate > 0 ? `, the fans' machine at ${base.clientRate} requests a second` : ""}${base.clientFrom !== "" ? `, the fans' machine at the pace of ${base.clientFrom}` : ""}`);
	const struckIn = new Map();
	const found = await parallelCampaign(base, base.seed, count, workers, (seed, broken, struck) => {
		for (const kind of struck) struckIn.set(kind, (struckIn.get(kind) ?? 0) + 1);
		if (broken !== null) out(`seed ${seed} broke an invariant: ${broken.what}\n  replay: ${broken.replay}`);
	});
	const each = (performance.now() - started) / 1000 / count;
	out(`campaign: ${count - found.length} of ${count} seeds held every invariant; ${found.length} broke one${found.length > 0 ? ` (seeds ${found.map((f) => f.seed).join(", ")})` : ""}`);
	out(`campaign: seeds each fault kind struck in (of those that held): ${base.faults.map((k) => `${k} ${struckIn.get(k) ?? 0}`).join(", ")}`);
	process.stderr.write(`${each.toFixed(2)} s a seed (wall, over ${Math.min(workers, count)} workers)\n`);
	if (found.length > 0) process.exitCode = 1;
} else {
	const config = sim.simConfig({ ...input, waitForReturns });
	try {
		const result = await sim.simulate(config, sim.sqlJs, { report: reportFile !== null });
		for (const line of result.lines) out(line);
		if (reportFile !== null) {
			mkdirSync(dirname(reportFile), { recursive: true });
			writeFileSync(reportFile, JSON.stringify(result.report) + "\n");
			writeFileSync(htmlPathFor(reportFile), renderReport(result.report));
			// Paths to stderr: the summary on stdout stays the same for one seed wherever the report goes.
			process.stderr.write(`report: ${reportFile}\nhtml report: ${htmlPathFor(reportFile)}\n`);
		}
	} catch (err) {
		if (!(err instanceof sim.InvariantBroken)) throw err;
		out(err.message);
		out(`replay: ${sim.replayCommand(config)}`);
		process.exitCode = 1;
		// The smallest run that still fails, then its trace: the seed replays it exactly.
		let smallest = config;
		if (!noShrink && (config.faults.length > 0 || config.fans >= 1000)) {
			smallest = (await sim.shrink(config, sim.sqlJs, {}, out)).config;
		}
		const again = await sim.failureOf(smallest, sim.sqlJs, {}, true);
		if (again === null) out("the failure did not come back with its trace kept: a run is not deterministic (a bug in the simulator)");
		else {
			const { lines, left } = sim.involvedTrace(again);
			out(`smallest failing run: ${sim.replayCommand(smallest)}`);
			out(`  ${again.message}`);
			out(`trace of what the failure names${left > 0 ? ` (the last ${lines.length}; ${left} earlier left out)` : ""}:`);
			for (const line of lines) out(line);
		}
	}
}
// Wall time and memory go to stderr: they differ between runs of one seed, the summary does not.
const mem = process.memoryUsage();
process.stderr.write(`wall ${((performance.now() - started) / 1000).toFixed(1)} s, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MB, rss ${(mem.rss / 2 ** 20).toFixed(0)} MB\n`);
