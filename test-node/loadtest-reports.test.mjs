// k6 cannot create a folder: handleSummary writes its JSON summary to a path
// in loadtest/reports/, and on a fresh clone without that folder the run ends
// with "could not open loadtest/reports/...". So the folder is in git (a
// .gitkeep), while the reports written into it stay ignored.
// Runs under Node's test runner (`npm test` starts it first); it needs git.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const git = (...args) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" });

/** The folders the k6 scripts write their summaries to by default. */
function summaryFolders() {
	const folders = new Set();
	for (const script of ["loadtest/drop.js", "loadtest/attack.js"]) {
		const source = readFileSync(join(ROOT, script), "utf8");
		// The JSON summary, and (drop.js) the report's JSON and HTML.
		const defaults = [...source.matchAll(/__ENV\.(?:SUMMARY_JSON|REPORT_JSON|REPORT_HTML) \|\| "([^"]+)"/g)].map((m) => m[1]);
		assert.ok(defaults.length > 0, `${script} names a default summary path`);
		for (const path of defaults) folders.add(dirname(path));
	}
	return [...folders];
}

test("every folder a k6 script writes its summary to is in a clean checkout", () => {
	const folders = summaryFolders();
	assert.deepEqual(folders, ["loadtest/reports"]);
	for (const folder of folders) {
		// What git tracks under the folder is what a fresh clone creates: at least one file, so the folder.
		const tracked = git("ls-files", "--", folder).split("\n").filter(Boolean);
		assert.ok(tracked.length > 0, `${folder} has a tracked file, so a clean checkout has the folder (git ls-files: none)`);
	}
});

test("the reports written into loadtest/reports stay out of git", () => {
	for (const report of [
		"loadtest/reports/k6-drop-summary.json",
		"loadtest/reports/k6-attack-summary.json",
		"loadtest/reports/drop-2026-01-01.json",
		"loadtest/reports/k6-drop-report.html",
		"loadtest/reports/spike-2026-01-01.html",
	]) {
		const ignored = spawnSync("git", ["check-ignore", "--quiet", "--no-index", report], { cwd: ROOT });
		assert.equal(ignored.status, 0, `${report} is ignored by .gitignore`);
	}
	assert.deepEqual(git("ls-files", "--", "loadtest/reports").split("\n").filter(Boolean), ["loadtest/reports/.gitkeep"]);
});
