// Loads the simulator for Node: sim/ and the parts of src/ it calls are TypeScript,
// which Node 20 cannot run, so they are bundled with esbuild (wrangler's bundler,
// already installed with it) into a temporary module, imported, and the file removed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The module sim/index.ts exports: simConfig, simulate, InvariantBroken, Inventory. */
export async function loadSimulator() {
	const dir = mkdtempSync(join(tmpdir(), "simulate-"));
	try {
		const outfile = join(dir, "sim.mjs");
		await build({ entryPoints: [join(ROOT, "sim/index.ts")], bundle: true, platform: "node", format: "esm", target: "node20", outfile, logLevel: "error" });
		return await import(pathToFileURL(outfile).href);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}
