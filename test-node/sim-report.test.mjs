// The simulator's report (sim/report.ts, `npm run simulate -- --report FILE.json`):
// the load runner's JSON shape, rendered by the same page (loadtest/lib/report-html.js)
// with the simulation's own section; its figures are the run's summary's (sold,
// sell-out, admission, requests per kind, the hottest object), its per-second series
// add up to the objects' counts, and a load run's page has no simulation section.
// Runs under Node's test runner.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSimulator } from "../sim/bundle.mjs";
import { renderReport } from "../loadtest/lib/report-html.js";
import { compareReports } from "../loadtest/lib/report-compare.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DROP = { seed: 3, fans: 1500, tickets: 300, shards: 4, lines: 2 };
let sim;
let result;
before(async () => {
	sim = await loadSimulator();
	result = await sim.simulate(sim.simConfig(DROP), sim.sqlJs, { report: true });
});

/** The summary's line for a kind: its hottest object, that object's busiest second, and the kind's requests. */
function kindLine(text, kind) {
	const m = new RegExp(`^  ${kind}\\s+hottest (.+?): (\\d+)/s at (-?[\\d.]+) s .*?; (\\d+) requests over (\\d+)`, "m").exec(text);
	assert.ok(m, `the summary has the ${kind} line:\n${text}`);
	return { name: m[1], peak: Number(m[2]), at: Number(m[3]), requests: Number(m[4]), objects: Number(m[5]) };
}

test("a simulation's report has the summary's figures: sold, sell-out, admission, requests per kind, the hottest object", () => {
	const r = result.report;
	const text = result.lines.join("\n");
	assert.equal(r.scenario, "simulation");
	assert.equal(r.source, "simulator");
	const sold = Number(/^sold (\d+) of/m.exec(text)[1]);
	assert.equal(sold, 300, text);
	assert.equal(r.audit.totals.sold, sold);
	// The fans' view: the tickets in the timeline's sales and the purchases' answers are the ledgers' sold.
	assert.equal(r.timeline.counts.sold.reduce((a, b) => a + b, 0), sold);
	assert.equal(r.soldAfterOpenSeconds["100%"] !== null, true);
	const soldOut = Number(/^sold out: ([\d.]+) s after the opening/m.exec(text)[1]);
	assert.equal(r.timeToSellOutSeconds.toFixed(1), soldOut.toFixed(1));
	const admitted = /^admission: (\d+) admitted of (\d+) placed/m.exec(text);
	assert.equal(r.admission.admittedThrough, Number(admitted[1]));
	assert.equal(r.admission.placed, Number(admitted[2]));
	assert.equal(r.timeline.counts.admitted.reduce((a, b) => a + b, 0), Number(/(\d+) admitted all within the watermark/.exec(text)[1]));
	const polls = Number(/(\d+) polls answered by the Worker/.exec(text)[1]);
	assert.equal(r.steps.status.count, polls);
	assert.equal(r.timeline.counts.arrived.reduce((a, b) => a + b, 0), DROP.fans);
	const outcomes = Object.fromEntries(/^fans: (.*)$/m.exec(text)[1].split(", ").map((p) => [p.split(" ")[0], Number(p.split(" ")[1])]));
	assert.deepEqual(r.outcomes, outcomes);
	// Requests per kind: the summary's counts are the objects'; the load (the audit's) leaves out their alarms, as the engine counts.
	const objects = r.simulation.objects;
	let hottest = null;
	for (const [kind, simKind] of [["line", "line"], ["pacer", "room"], ["shard", "shard"]]) {
		const line = kindLine(text, kind);
		const mine = objects.filter((o) => o.kind === simKind);
		assert.equal(mine.length, line.objects);
		assert.equal(mine.reduce((a, o) => a + o.requests, 0), line.requests, `${kind}: the objects' requests are the summary's`);
		const alarms = mine.reduce((a, o) => a + (o.methods.alarm ?? 0), 0);
		const load = r.load.objects.filter((o) => o.kind === simKind).reduce((a, o) => a + o.requests, 0);
		assert.equal(load + alarms, line.requests, `${kind}: the load is the requests less the alarms`);
		for (const o of mine) {
			assert.equal(o.perSecond.reduce((a, b) => a + b, 0), o.requests, `${o.name}: its seconds add up to its requests`);
			assert.equal(Object.values(o.methods).reduce((a, b) => a + b, 0), o.requests, `${o.name}: its methods add up to its requests`);
			assert.equal(Math.max(...o.depthPerSecond), o.deepestQueue, `${o.name}: its deepest queue is its deepest second's`);
		}
		const busiest = mine.find((o) => o.name === line.name);
		assert.equal(busiest.peak.requests, line.peak);
		if (hottest === null || line.peak > hottest.peak) hottest = line;
	}
	assert.ok(r.load.byKind.shards.methods.hold > 0 && r.load.byKind.shards.methods.purchase > 0 && r.load.byKind.shards.methods.totals > 0, JSON.stringify(r.load.byKind));
	assert.equal(r.simulation.hottest.name, hottest.name);
	assert.equal(r.simulation.hottest.requests, hottest.peak);
	assert.equal(r.simulation.hottest.atS.toFixed(1), hottest.at.toFixed(1));
	// A hold's answers by status, as the load runner records them: every hold answered once.
	const holds = r.steps.hold;
	assert.equal(Object.values(holds.statuses).reduce((a, b) => a + b, 0), holds.count);
	assert.equal(r.load.byKind.shards.methods.hold, holds.count, "each hold a fan sent is one hold request at a shard (no faults, so no retries)");
});

test("the timeline counts every request the report does, polls included, and the duration runs from the timeline's origin as the load runner's", () => {
	const r = result.report;
	const t = r.timeline;
	const perBucket = Array.from({ length: t.buckets }, (_, i) => Object.keys(t.statuses).reduce((a, k) => a + (t.statuses[k][i] || 0), 0));
	assert.equal(perBucket.reduce((a, b) => a + b, 0), r.requests, "every request the report counts is an answer in the timeline");
	assert.ok(r.steps.status.count > 0);
	// The polls are most of the answers a second while fans wait, as in a load run's chart.
	const answered = r.requests - r.steps.status.count;
	assert.ok(perBucket.reduce((a, b) => a + b, 0) > answered);
	// The run lasts from the timeline's origin (the drop made, the opening's lead before it) to its last answer.
	let last = perBucket.length - 1;
	while (last > 0 && perBucket[last] === 0) last--;
	assert.equal(Math.floor(r.durationSeconds / t.bucketSeconds), last, `duration ${r.durationSeconds} s, last answer in bucket ${last}`);
	assert.ok(r.durationSeconds > r.knobs.leadSeconds + r.timeToSellOutSeconds);
	assert.equal(r.requestsPerSecond, r.requests / r.durationSeconds);
});

test("the report renders as the load runner's page with the simulation's section: the hottest object named, each kind against the limit, queue depth drawn", () => {
	const r = result.report;
	const html = renderReport(r);
	assert.match(html, /<h1>Drop simulation<\/h1>/);
	assert.match(html, / · simulator/);
	assert.match(html, new RegExp(`<section id="simulation" data-hottest="${r.simulation.hottest.name}">`));
	assert.match(html, new RegExp(`<b>${r.simulation.hottest.name}</b>`), "the figures name the hottest object");
	assert.match(html, new RegExp(`<b>${r.simulation.hottest.requests} requests at `));
	const charts = Object.fromEntries([...html.matchAll(/<svg class="chart" data-chart="([^"]+)" data-points="(\d+)"/g)].map((m) => [m[1], Number(m[2])]));
	for (const id of ["fans", "admission", "sales", "sellout", "latency-hold", "statuses", "load", "sim-object-rate", "sim-queue-depth", "sim-peaks"]) {
		assert.ok(charts[id] > 0, `chart ${id} has points: ${JSON.stringify(charts)}`);
	}
	// Three kinds and the limit in the rate chart; the limit is a flat line at 1,000.
	const rate = /<svg class="chart" data-chart="sim-object-rate"[\s\S]*?<\/svg>/.exec(html)[0];
	const series = [...rate.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]);
	assert.deepEqual(series, ["line busiest", "pacer busiest", "shard busiest", "limit"]);
	assert.match(html, /the limit: 1000 requests a second an object/);
	const depth = /<svg class="chart" data-chart="sim-queue-depth"[\s\S]*?<\/svg>/.exec(html)[0];
	assert.deepEqual([...depth.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1]), ["line queue", "pacer queue", "shard queue"]);
	// The verdict: a report is written only for a run that held every invariant.
	assert.match(html, /data-verdict="passed"/);
	// Two simulated runs compare as two load runs do (npm run report).
	assert.ok(compareReports(r, r).length > 0);
});

test("a load run's page has no simulation section", () => {
	const recorded = JSON.parse(readFileSync(join(ROOT, "test-node", "fixtures", "loadtest-run.json"), "utf8"));
	const html = renderReport(recorded);
	assert.doesNotMatch(html, /id="simulation"|sim-object-rate|Drop simulation/);
	assert.match(html, /<h1>Drop load test<\/h1>/);
});

test("npm run simulate -- --report writes the JSON and its page beside it; the summary on stdout is the same as without", () => {
	const dir = mkdtempSync(join(tmpdir(), "sim-report-"));
	try {
		const file = join(dir, "run.json");
		const args = ["--seed", "4", "--fans", "800", "--tickets", "200", "--shards", "2", "--lines", "1"];
		const cli = (...more) => execFileSync(process.execPath, [join(ROOT, "sim/simulate.mjs"), ...args, ...more], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
		const withReport = cli("--report", file);
		assert.equal(withReport, cli());
		const report = JSON.parse(readFileSync(file, "utf8"));
		assert.deepEqual(report.simulation.summary, withReport.trimEnd().split("\n"));
		assert.ok(existsSync(join(dir, "run.html")));
		assert.match(readFileSync(join(dir, "run.html"), "utf8"), /<section id="simulation"/);
		assert.throws(() => cli("--report", join(dir, "run.txt")), /--report names a \.json file/);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
