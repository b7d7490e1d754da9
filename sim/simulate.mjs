#!/usr/bin/env node
// `npm run simulate`: a whole drop in one Node process on a simulated clock, the
// engine's decision code called directly (no workerd). The TypeScript under sim/
// (and the parts of src/ it calls) is bundled with esbuild into a temporary file
// first (bundle.mjs), since Node 20 runs no TypeScript. Prints the run's seed; `--seed N`
// replays it exactly. Exit 1 when an invariant breaks, 2 on bad usage.
//
//   npm run simulate -- --fans 100000 --tickets 20000 --seed 7
import { parseArgs } from "node:util";
import { loadSimulator } from "./bundle.mjs";

const NUMBERS = ["seed", "fans", "tickets", "lines", "shards", "max-per-fan", "batch-size", "interval-ms", "active-multiple", "hold-seconds", "colos"];
const USAGE = `usage: npm run simulate -- [--seed N] [--fans N] [--tickets N] [--lines N] [--shards N]
                        [--max-per-fan N] [--batch-size N] [--interval-ms N] [--active-multiple N]
                        [--hold-seconds N] [--colos N]
Without --seed a seed is drawn and printed; the same seed replays the same run.`;

function usage(message) {
	process.stderr.write(`simulate: ${message}\n${USAGE}\n`);
	process.exit(2);
}

let values;
try {
	({ values } = parseArgs({ options: Object.fromEntries(NUMBERS.map((n) => [n, { type: "string" }])) }));
} catch (err) {
	usage(err.message);
}
const input = {};
for (const [flag, text] of Object.entries(values)) {
	const n = Number(text);
	if (!Number.isSafeInteger(n) || n < (flag === "seed" ? 0 : 1)) usage(`--${flag} must be a whole number${flag === "seed" ? "" : " above 0"}`);
	input[flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = n;
}
// The one draw outside the simulation: a seed when none is given, printed so the run can be replayed.
input.seed ??= Math.floor(Math.random() * 2 ** 31);

// A reader that stops early (`| head`) ends the output, not the run with a stack trace.
process.stdout.on("error", (err) => {
	if (err.code !== "EPIPE") throw err;
});
const sim = await loadSimulator();

const config = sim.simConfig(input);
const started = performance.now();
try {
	const result = await sim.simulate(config, sim.sqlJs);
	for (const line of result.lines) process.stdout.write(line + "\n");
} catch (err) {
	if (!(err instanceof sim.InvariantBroken)) throw err;
	process.stdout.write(`${err.message}\nreplay: npm run simulate -- --seed ${config.seed} --fans ${config.fans} --tickets ${config.tickets} --lines ${config.lines} --shards ${config.shards}\n`);
	process.exitCode = 1;
}
// Wall time and memory go to stderr: they differ between runs of one seed, the summary does not.
const mem = process.memoryUsage();
process.stderr.write(`wall ${((performance.now() - started) / 1000).toFixed(1)} s, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MB, rss ${(mem.rss / 2 ** 20).toFixed(0)} MB\n`);
