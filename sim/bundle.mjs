// Loads the simulator for Node: sim/ and the parts of src/ it calls are TypeScript,
// which Node 20 cannot run, so they are bundled with esbuild (wrangler's bundler,
// already installed with it) into a temporary module, imported, and the file removed.
// sql.js (SQLite in WebAssembly, for the engine's SQL cores) is loaded here, from
// node_modules, and handed to the simulator: it finds its .wasm file beside itself.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** sql.js's module, initialised (its WebAssembly compiled once per process). */
export async function loadSqlJs() {
	const initSqlJs = createRequire(import.meta.url)("sql.js");
	return initSqlJs();
}

/** The repository's D1 migrations in order, for the simulated D1 (sim/d1.ts's SIM_MIGRATIONS). */
function migrations() {
	const dir = join(ROOT, "migrations");
	return readdirSync(dir)
		.filter((f) => f.endsWith(".sql"))
		.sort()
		.map((name) => ({ name, sql: readFileSync(join(dir, name), "utf8") }));
}

/**
 * Bundles TypeScript (a file under the repository, or `contents` resolved from the
 * repository's root) and imports it.
 */
export async function loadTypeScript({ entry, contents }) {
	const dir = mkdtempSync(join(tmpdir(), "simulate-"));
	try {
		const outfile = join(dir, "sim.mjs");
		const input = contents === undefined ? { entryPoints: [join(ROOT, entry)] } : { stdin: { contents, resolveDir: ROOT, loader: "ts", sourcefile: "entry.ts" } };
		const define = { SIM_MIGRATIONS: JSON.stringify(migrations()) };
		await build({ ...input, bundle: true, platform: "node", format: "esm", target: "node20", outfile, logLevel: "error", define });
		return await import(pathToFileURL(outfile).href);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/** The module sim/index.ts exports (simConfig, simulate, InvariantBroken, ...), and sql.js for it as `sqlJs`. */
export async function loadSimulator() {
	const [sim, sqlJs] = await Promise.all([loadTypeScript({ entry: "sim/index.ts" }), loadSqlJs()]);
	return { ...sim, sqlJs };
}
