// A private copy of the engine's sources for one benchmark run. `wrangler dev`
// rebuilds and restarts workerd whenever a file it watches changes, so a run
// started from a working tree that someone is editing would measure several
// versions of the engine and lose the workerd process whose CPU it reads. The
// copy is taken once, when the run starts; node_modules is linked, not copied.
// Secrets are not copied: scripts/start.mjs writes fresh ones into the copy.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** What `scripts/start.mjs` and `wrangler dev` read: the Worker, its assets, migrations and configuration. */
export const ENGINE_FILES = [
	"wrangler.toml",
	"package.json",
	"tsconfig.json",
	"worker-configuration.d.ts",
	"src",
	"public",
	"migrations",
	"scripts/start.mjs",
	"scripts/dev-vars.mjs",
	// scripts/start.mjs imports it (the engine's inner address).
	"scripts/lib/engine.mjs",
];

/** Copies the engine's sources under a new temporary directory; `remove()` deletes it. */
export function snapshotEngine(root) {
	const dir = mkdtempSync(join(tmpdir(), "ticket-drop-bench-engine-"));
	try {
		for (const entry of ENGINE_FILES) {
			const from = join(root, entry);
			if (!existsSync(from)) continue;
			mkdirSync(dirname(join(dir, entry)), { recursive: true });
			cpSync(from, join(dir, entry), { recursive: true });
		}
		symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
	} catch (err) {
		rmSync(dir, { recursive: true, force: true });
		throw err;
	}
	return { root: dir, source: describeSource(root), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The commit the copy was taken from and how many engine files differed from it. */
export function describeSource(root) {
	const git = (...args) => {
		const r = spawnSync("git", ["-C", root, ...args], { encoding: "utf8" });
		return r.status === 0 ? r.stdout.trim() : null;
	};
	const commit = git("rev-parse", "--short", "HEAD");
	const changed = git("status", "--porcelain", "--", ...ENGINE_FILES);
	return { commit, changedFiles: changed === null ? null : changed.split("\n").filter(Boolean).length, at: new Date().toISOString() };
}
