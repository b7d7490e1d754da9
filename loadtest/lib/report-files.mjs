// Report files on disk, for the Node runner and `npm run report`
// (scripts/report.mjs): the HTML beside a JSON report, and a comparison of a
// run with an earlier one in the terminal and the page. k6 never loads this
// file (drop.js renders through lib/report-html.js itself).
import { NOISE, comparisonText, compareReports } from "./report-compare.js";
import { renderReport } from "./report-html.js";

/** Where the HTML of a JSON report goes: beside it, same name. */
export function htmlPathFor(jsonPath) {
	return jsonPath.replace(/\.json$/, "") + ".html";
}

/**
 * The page of `report`, compared with `baseline` when there is one (then also
 * the comparison as terminal text). Returns {html, text, rows}.
 */
export function compareWith(report, baseline, baselineLabel) {
	if (!baseline) return { html: renderReport(report), text: null, rows: [] };
	const rows = compareReports(baseline, report);
	const label = `${baselineLabel} (${baseline.scenario ?? "?"}, ${baseline.at ?? "?"})`;
	return {
		html: renderReport(report, { comparison: { rows, baseLabel: label, noise: NOISE } }),
		text: comparisonText(rows, label, `this run (${report.scenario}, ${report.at})`, NOISE),
		rows,
	};
}
