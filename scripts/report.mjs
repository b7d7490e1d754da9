#!/usr/bin/env node
// `npm run report -- <report.json> [<newer report.json>]`: the HTML report of
// a load run (loadtest/lib/report-html.js) from its JSON, written beside it;
// with two reports, the second compared with the first, side by side in the
// terminal and in the second's HTML. Exits 1 when the newer run is worse than
// the noise between runs of one build on any figure, 2 on a usage error.
//
//   npm run report -- loadtest/reports/spike-2026-11-29T20-00-00-000Z.json
//   npm run report -- loadtest/reports/before.json loadtest/reports/after.json [--out page.html]
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { compareWith, htmlPathFor } from "../loadtest/lib/report-files.mjs";

const { values: flags, positionals } = parseArgs({
	options: { out: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
	allowPositionals: true,
});
if (flags.help || positionals.length < 1 || positionals.length > 2) {
	process.stdout.write("usage: npm run report -- <report.json> [<newer report.json>] [--out FILE.html]\n");
	process.exit(flags.help ? 0 : 2);
}

function read(file) {
	try {
		return JSON.parse(readFileSync(file, "utf8"));
	} catch (err) {
		process.stderr.write(`report: ${file}: ${err.message}\n`);
		process.exit(2);
	}
}

const [first, second] = positionals;
const report = read(second ?? first);
const baseline = second ? read(first) : null;
const { html, text, rows } = compareWith(report, baseline, first);
const out = flags.out ?? htmlPathFor(second ?? first);
writeFileSync(out, html);
if (text) process.stdout.write(`\n${text}\n`);
process.stdout.write(`\n  html report: ${out}\n\n`);
process.exit(rows.some((r) => r.worse) ? 1 : 0);
