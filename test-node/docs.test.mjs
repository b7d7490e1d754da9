// The docs stay true where a machine can tell: every route the source registers
// is in docs/api.md (and every route its tables name is registered), every error
// code the source answers is there too, every [vars] key, binding and secret of
// wrangler.toml is in the configuration table of docs/operations.md, every npm
// script the docs name exists, every relative link (and its #anchor) resolves,
// and every repository path the docs name in `code` exists or is a git-ignored
// output. Runs under Node's test runner (`npm test` starts it first); it needs git.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const read = (path) => readFileSync(join(ROOT, path), "utf8");

/** README.md and every Markdown file in docs/, as paths from the root. */
const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** Every file under a folder, recursively, as paths from the root. */
function filesUnder(dir, suffix) {
	const out = [];
	for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
		const path = `${dir}/${entry.name}`;
		if (entry.isDirectory()) out.push(...filesUnder(path, suffix));
		else if (entry.name.endsWith(suffix)) out.push(path);
	}
	return out;
}

/** Markdown without its fenced blocks (their text is an example, not a claim about the repository). */
const withoutFences = (md) => md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");

/** The code spans of a Markdown text, outside fenced blocks. */
const codeSpans = (md) => [...withoutFences(md).matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);

/**
 * The routes the source registers, as "METHOD /path": every `.get("/…")`,
 * `.post(…)` and so on in a module that makes an itty router, with the router's
 * `base` in front. Wildcards (mounts, the assets fallback, CORS preflight) are not routes.
 */
function registeredRoutes() {
	const routes = new Set();
	for (const file of filesUnder("src", ".ts")) {
		const source = read(file);
		if (!/\b(?:Auto)?Router\s*[<(]/.test(source)) continue;
		const bases = new Set([...source.matchAll(/\bbase:\s*["'`]([^"'`]*)["'`]/g)].map((m) => m[1]));
		assert.ok(bases.size <= 1, `${file} makes routers with different bases (${[...bases].join(", ")}): teach this check which route belongs to which`);
		const base = bases.size === 1 ? [...bases][0] : "";
		for (const m of source.matchAll(/\.(get|post|put|patch|delete|head|options|all)\(\s*["'`](\/[^"'`]*|\*)["'`]/g)) {
			if (m[2].includes("*")) continue;
			routes.add(`${m[1].toUpperCase()} ${base}${m[2]}`);
		}
	}
	return routes;
}

/** Whether a Markdown text names a route as `METHOD /path` (the path ending at a backtick, a query or a space). */
const namesRoute = (md, route) => new RegExp("`" + route.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "(?:[`?\\s])").test(md);

test("every route the source registers is in docs/api.md, and every route its tables name is registered", () => {
	const routes = registeredRoutes();
	// The parser found the router: these are the oldest routes of the contract.
	for (const known of ["GET /api/health", "POST /api/drops/:id/join", "POST /api/admin/drops"]) {
		assert.ok(routes.has(known), `route scan found ${known} (found: ${[...routes].join(", ")})`);
	}
	const api = read("docs/api.md");
	const missing = [...routes].filter((r) => !namesRoute(api, r));
	assert.deepEqual(missing, [], "routes registered in src/ but not in docs/api.md");

	const tabled = [...api.matchAll(/^\| `([A-Z]+) (\/[^`?\s]*)/gm)].map((m) => `${m[1]} ${m[2]}`);
	assert.ok(tabled.length >= 10, "docs/api.md has its route tables");
	const unknown = tabled.filter((r) => !routes.has(r));
	assert.deepEqual(unknown, [], "routes in docs/api.md's tables that src/ does not register");
});

/** Every error code the source answers: the code argument of ApiError, ValidationError and fail, and `code: "…"` literals. */
function errorCodes() {
	const codes = new Set();
	for (const file of filesUnder("src", ".ts")) {
		const source = read(file);
		for (const m of source.matchAll(/\b(?:ApiError|ValidationError|fail)\(\s*[1-5]\d\d\s*,\s*([^,]+),/g)) {
			// A conditional code (`a ? "x" : "y"`) answers either branch, never its condition's strings.
			const arg = m[1].includes("?") ? m[1].slice(m[1].indexOf("?") + 1) : m[1];
			for (const s of arg.matchAll(/"([a-z][a-z0-9_]*)"/g)) codes.add(s[1]);
		}
		for (const m of source.matchAll(/\bcode:\s*"([a-z][a-z0-9_]*)"/g)) codes.add(m[1]);
	}
	return codes;
}

test("every error code the source answers is in docs/api.md", () => {
	const codes = errorCodes();
	for (const known of ["sold_out", "fan_id_taken", "internal", "hold_expired"]) assert.ok(codes.has(known), `code scan found ${known}`);
	const documented = new Set(codeSpans(read("docs/api.md")));
	assert.deepEqual([...codes].filter((c) => !documented.has(c)).sort(), [], "error codes answered by src/ but not in docs/api.md");
});

/** The names wrangler.toml declares: [vars] keys, bindings (with Durable Object and rate limit names) and required secrets. */
function wranglerNames() {
	const names = new Set();
	let section = "";
	for (const raw of read("wrangler.toml").split("\n")) {
		const line = raw.replace(/#.*$/, "").trim();
		const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
		if (header) {
			section = header[1].trim();
			continue;
		}
		const key = /^([A-Za-z_][\w-]*)\s*=\s*(.*)$/.exec(line);
		if (!key) continue;
		const [, name, value] = key;
		if (section === "vars") names.add(name);
		if (name === "binding") names.add(JSON.parse(value));
		if (name === "name" && (section === "durable_objects.bindings" || section === "ratelimits")) names.add(JSON.parse(value));
		if (section === "secrets" && name === "required") for (const s of JSON.parse(value)) names.add(s);
	}
	return names;
}

/** The text of a Markdown section, from its heading to the next heading of the same or a higher level. */
function section(md, heading) {
	const lines = withoutFences(md).split("\n");
	const start = lines.findIndex((l) => l.trim() === heading);
	assert.ok(start >= 0, `a section "${heading}"`);
	const level = /^#+/.exec(heading)[0].length;
	const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && /^#+/.exec(l)[0].length <= level);
	return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

test("every [vars] key, binding and required secret of wrangler.toml is in the configuration table", () => {
	const names = wranglerNames();
	for (const known of ["ACCESS_TOKEN_SECONDS", "DB", "JOIN_LIMITER", "WAITING_ROOM", "ADMIN_TOKEN"]) assert.ok(names.has(known), `wrangler.toml scan found ${known}`);
	const table = section(read("docs/operations.md"), "## Configuration")
		.split("\n")
		.filter((l) => l.startsWith("|"))
		.join("\n");
	const inTable = new Set(codeSpans(table).flatMap((s) => s.split(/[^\w]+/)));
	assert.deepEqual([...names].filter((n) => !inTable.has(n)), [], "names in wrangler.toml missing from the configuration table of docs/operations.md");
});

test("every npm script the docs name exists in package.json", () => {
	const scripts = JSON.parse(read("package.json")).scripts;
	for (const doc of DOCS) {
		const md = read(doc);
		const named = [...md.matchAll(/\bnpm run ([\w:.-]*[\w:-])/g), ...md.matchAll(/\bnpm (start|test|stop|restart)\b/g)].map((m) => m[1]);
		const missing = named.filter((s) => !Object.hasOwn(scripts, s));
		assert.deepEqual([...new Set(missing)], [], `${doc} names npm scripts that package.json lacks`);
	}
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (text) =>
	text
		.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
		.trim()
		.toLowerCase()
		.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
		.replace(/ /g, "-");

/** The anchors of a Markdown file's headings, with GitHub's -1, -2 for repeats. */
function anchors(md) {
	const seen = new Map();
	const out = new Set();
	for (const m of withoutFences(md).matchAll(/^#{1,6} (.+)$/gm)) {
		const base = slug(m[1]);
		const n = seen.get(base) ?? 0;
		seen.set(base, n + 1);
		out.add(n === 0 ? base : `${base}-${n}`);
	}
	return out;
}

test("every relative link in README.md and docs/ points to a file that exists, and its #anchor to a heading", () => {
	const broken = [];
	for (const doc of DOCS) {
		const md = withoutFences(read(doc)).replace(/`[^`\n]*`/g, "`code`");
		for (const m of md.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
			const target = m[1];
			if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
			const [pathPart, anchor] = target.split("#");
			const file = pathPart === "" ? join(ROOT, doc) : resolve(ROOT, dirname(doc), decodeURIComponent(pathPart.split("?")[0]));
			if (!existsSync(file)) {
				broken.push(`${doc}: ${target} (no ${relative(ROOT, file)})`);
				continue;
			}
			if (anchor !== undefined && file.endsWith(".md") && !anchors(readFileSync(file, "utf8")).has(anchor)) {
				broken.push(`${doc}: ${target} (no heading with anchor #${anchor} in ${relative(ROOT, file)})`);
			}
		}
	}
	assert.deepEqual(broken, [], "broken links");
});

test("every repository path the docs name in code exists, or is an output git ignores", () => {
	// Only paths whose first folder is one the repository tracks; a path naming a folder or file
	// (`src/payments/providers.ts`, `loadtest/reports/`), not a module (`k6/http`) or a URL path (`/api/...`).
	const tracked = spawnSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" });
	assert.equal(tracked.status, 0, "git ls-files runs");
	const topFolders = new Set(tracked.stdout.split("\n").filter((p) => p.includes("/")).map((p) => p.split("/")[0]));
	const missing = [];
	for (const doc of DOCS) {
		for (const span of codeSpans(read(doc))) {
			if (!/^\.?[\w-]+(?:\/[\w.-]+)*\/?$/.test(span) || !span.includes("/")) continue;
			if (!topFolders.has(span.split("/")[0])) continue;
			if (existsSync(join(ROOT, span))) continue;
			const ignored = spawnSync("git", ["check-ignore", "--quiet", "--no-index", span], { cwd: ROOT });
			if (ignored.status !== 0) missing.push(`${doc}: ${span}`);
		}
	}
	assert.deepEqual([...new Set(missing)], [], "paths named in the docs that do not exist (renamed or moved?)");
});

test("the README stays a few screens long", () => {
	const lines = read("README.md").split("\n").length;
	assert.ok(lines <= 200, `README.md has ${lines} lines; move detail into docs/ (at most 200)`);
});
