// The shape of src/: folders by concern, imports in one direction only, no
// import cycle, no file over 400 lines. A folder imports only from folders
// beneath it in FOLDERS (and from itself); src/index.ts is the wiring on top
// and nothing imports it. Every import counts, `import type` too: a type that
// needs a higher folder is a symbol living in the wrong file. The README's map
// lists the same folders in the same order. Runs under Node's test runner.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The folders of src/, lowest first: each may import only those before it. */
export const FOLDERS = ["shared", "contract", "drops", "payments", "tenants", "inventory", "waiting-room", "after-sale", "sales", "http"];
const MAX_LINES = 400;

/** Every .ts file under src/ (declarations aside), as paths from the root. */
function sourceFiles(dir = "src") {
	const out = [];
	for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
		const path = `${dir}/${entry.name}`;
		if (entry.isDirectory()) out.push(...sourceFiles(path));
		else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(path);
	}
	return out;
}

/** The relative modules a source imports or re-exports, static or dynamic, with or without `type`. */
export function importsOf(source) {
	const specs = [];
	const text = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
	for (const m of text.matchAll(/\b(?:import|export)\s+(?:type\s+)?(?:[^;"']*?\s+from\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g)) {
		const spec = m[1] ?? m[2];
		if (spec.startsWith(".")) specs.push(spec);
	}
	return specs;
}

/** The import graph of a set of files: file -> the files it imports (resolved like the bundler: `x` is `x.ts`). */
export function importGraph(files, read) {
	const known = new Set(files);
	const graph = new Map();
	for (const file of files) {
		const edges = [];
		for (const spec of importsOf(read(file))) {
			const base = posix.normalize(posix.join(posix.dirname(file), spec));
			const target = [base, `${base}.ts`, `${base}/index.ts`].find((f) => known.has(f));
			assert.ok(target, `${file} imports ${spec}, which is no file under src/`);
			edges.push(target);
		}
		graph.set(file, edges);
	}
	return graph;
}

/** The folder a file of src/ belongs to: a name from FOLDERS, "index" for src/index.ts, null for anything else. */
export function folderOf(file) {
	if (file === "src/index.ts") return "index";
	const parts = file.split("/");
	return parts.length === 3 && FOLDERS.includes(parts[1]) ? parts[1] : null;
}

/** Every import that breaks the rule, as "from -> to (why)". */
export function ruleBreaks(graph) {
	const breaks = [];
	for (const [from, targets] of graph) {
		const a = folderOf(from);
		if (a === null) {
			breaks.push(`${from} (not in a folder of the rule: ${FOLDERS.join(", ")})`);
			continue;
		}
		for (const to of targets) {
			const b = folderOf(to);
			if (b === "index") breaks.push(`${from} -> ${to} (nothing imports the wiring)`);
			else if (a !== "index" && b !== a && FOLDERS.indexOf(b) > FOLDERS.indexOf(a)) breaks.push(`${from} -> ${to} (${a} may not import ${b})`);
		}
	}
	return breaks;
}

/** The import cycles of a graph: each strongly connected component of more than one file, or a file importing itself. */
export function importCycles(graph) {
	let next = 0;
	const index = new Map();
	const low = new Map();
	const stack = [];
	const onStack = new Set();
	const cycles = [];
	const visit = (v) => {
		index.set(v, next);
		low.set(v, next);
		next++;
		stack.push(v);
		onStack.add(v);
		for (const w of graph.get(v) ?? []) {
			if (!index.has(w)) {
				visit(w);
				low.set(v, Math.min(low.get(v), low.get(w)));
			} else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
		}
		if (low.get(v) === index.get(v)) {
			const component = [];
			let w;
			do {
				w = stack.pop();
				onStack.delete(w);
				component.push(w);
			} while (w !== v);
			if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
		}
	};
	for (const v of graph.keys()) if (!index.has(v)) visit(v);
	return cycles;
}

const files = sourceFiles();
const read = (file) => readFileSync(join(ROOT, file), "utf8");
const graph = importGraph(files, read);

test("every file of src/ lives in a folder of the rule (or is src/index.ts)", () => {
	assert.deepEqual(files.filter((f) => folderOf(f) === null), []);
});

test("folders import only from folders beneath them, and nothing imports src/index.ts", () => {
	assert.deepEqual(ruleBreaks(graph), []);
});

test("src/ has no import cycle", () => {
	assert.deepEqual(importCycles(graph), []);
});

test(`no file in src/ is over ${MAX_LINES} lines`, () => {
	const long = files.map((f) => [f, read(f).split("\n").length - 1]).filter(([, n]) => n > MAX_LINES);
	assert.deepEqual(long, []);
});

test("the README's map lists the folders of the rule, lowest first, each with what it owns", () => {
	const readme = read("README.md");
	const listed = [...readme.matchAll(/^\| \[`src\/([a-z-]+)\/`\]\(src\/\1\) \| ([^|]+) \|/gm)];
	assert.deepEqual(
		listed.map((m) => m[1]),
		FOLDERS,
	);
	for (const m of listed) assert.ok(m[2].trim().length > 10, `the README says what src/${m[1]}/ owns`);
});

test("the checks catch what they are for (a made-up tree)", () => {
	const fake = new Map([
		["src/shared/a.ts", 'import { b } from "../drops/b";'],
		["src/drops/b.ts", 'import type { C } from "./c";\nexport { d } from "../shared/d";'],
		["src/drops/c.ts", 'import { b } from "./b";\n// import { x } from "../http/x";'],
		["src/shared/d.ts", "export const d = 1;"],
		["src/http/e.ts", 'const m = await import("../index");'],
		["src/index.ts", 'import { e } from "./http/e";'],
		["src/stray.ts", ""],
	]);
	const fakeGraph = importGraph([...fake.keys()], (f) => fake.get(f));
	assert.deepEqual(fakeGraph.get("src/drops/b.ts"), ["src/drops/c.ts", "src/shared/d.ts"]);
	assert.deepEqual(fakeGraph.get("src/drops/c.ts"), ["src/drops/b.ts"], "a commented-out import is no import");
	assert.deepEqual(ruleBreaks(fakeGraph), [
		"src/shared/a.ts -> src/drops/b.ts (shared may not import drops)",
		"src/http/e.ts -> src/index.ts (nothing imports the wiring)",
		`src/stray.ts (not in a folder of the rule: ${FOLDERS.join(", ")})`,
	]);
	assert.deepEqual(importCycles(fakeGraph), [["src/drops/b.ts", "src/drops/c.ts"], ["src/http/e.ts", "src/index.ts"]]);
	assert.throws(() => importGraph(["src/http/f.ts"], () => 'import "./missing";'), /imports \.\/missing, which is no file/);
});
