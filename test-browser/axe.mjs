// axe-core in the journeys: a page's accessibility checked as it stands, WCAG 2.2
// A and AA with the target-size rule on. axe-core is read from the project's
// node_modules (a dev dependency; AXE_CORE_PATH, the path of an axe.min.js, overrides it).
// A journey that asks for the check fails where axe-core cannot be read: a page is never
// taken as accessible because nothing looked.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

let source;

function axeSource() {
	if (source !== undefined) return source;
	let path = process.env.AXE_CORE_PATH ?? null;
	if (path === null) {
		try {
			path = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
		} catch {
			path = null;
		}
	}
	source = path !== null && existsSync(path) ? readFileSync(path, "utf8") : null;
	return source;
}

/** Runs axe on the page (or the part `include` names) and fails on any violation. */
export async function assertAccessible(page, label, { log = () => {}, include = null } = {}) {
	const src = axeSource();
	assert.ok(src !== null, `${label}: axe-core is not installed (npm ci installs it; AXE_CORE_PATH names another copy)`);
	// Evaluated through the browser's debugger, so the page's Content-Security-Policy does not refuse it.
	if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(src);
	const violations = await page.evaluate(
		async ({ include }) => {
			const result = await window.axe.run(include ? { include: [include] } : document, {
				runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] },
				rules: { "target-size": { enabled: true } },
			});
			return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")})`);
		},
		{ include },
	);
	assert.deepEqual(violations, [], `${label}: axe-core found accessibility violations`);
	log(`${label}: axe-core clean`);
}
