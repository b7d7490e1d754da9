// The service worker keeps every file the offline pages load: the gate page and
// a drop's fan page import modules from modules, and one left out of
// public/sw.js's PAGE_FILES makes the whole page fail to open offline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const root = new URL("../public/", import.meta.url);
const read = (path) => readFileSync(new URL(`.${path}`, root), "utf8");

/** The list the worker keeps, read from its source. */
function pageFiles() {
	const list = /const PAGE_FILES = \[([\s\S]*?)\];/.exec(read("/sw.js"));
	assert.ok(list, "sw.js declares PAGE_FILES");
	return new Set([...list[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]));
}

/** Every same-origin file a page loads: its scripts and styles, and the modules they import, statically or not. */
function reachable(page) {
	const seen = new Set();
	const visit = (path) => {
		if (seen.has(path)) return;
		seen.add(path);
		const text = read(path);
		if (path.endsWith(".html") || !path.includes(".")) {
			for (const m of text.matchAll(/(?:src|href)="(\/[^"#?]+)"/g)) visit(m[1]);
			return;
		}
		if (!/\.m?js$/.test(path)) return;
		for (const m of text.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)"(\/[^"]+)"/g)) visit(m[1]);
	};
	visit(page);
	return seen;
}

for (const [page, file] of [
	["/gate", "/gate.html"],
	["/drops/:id", "/drop.html"],
]) {
	test(`every file ${page} loads is kept for offline use`, () => {
		const kept = pageFiles();
		const files = [...reachable(file)].filter((p) => p !== file);
		assert.ok(files.length > 5, `${page} loads its modules (${files.join(", ")})`);
		const missing = files.filter((p) => !kept.has(p));
		assert.deepEqual(missing, [], `${page}: sw.js's PAGE_FILES lacks ${missing.join(", ")}`);
	});
}
