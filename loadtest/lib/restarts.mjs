// The engine's workerd restarts during a Node run (watchRestarts in scripts/lib/engine.mjs), as the
// report keeps them and as the broken invariant they are: a run whose engine was started again midway
// lost whatever workerd held in memory (the local Queue's messages among it) and tested two builds.

/** Restarts at or after `originMs` (the drop's creation, as the timeline counts), in seconds from it. */
export function restartsSince(restarts, originMs) {
	return restarts.filter((x) => x.at >= originMs).map((x) => ({ atS: Math.round((x.at - originMs) / 100) / 10, pid: x.pid }));
}

/** The failure for restarts seen (`restartsSince`'s), or null when there were none. */
export function restartFailure(restarts) {
	if (restarts.length === 0) return null;
	return (
		`engine restarted: workerd was started again ${restarts.length} time(s) during the run (at ${restarts.map((x) => `+${x.atS}s`).join(", ")} after the drop's creation). ` +
		"wrangler dev reloads when a file it bundles or serves changes (src/, public/, wrangler.toml, .dev.vars) and starts workerd again: what the local Queue held in memory " +
		"and every object's memory are lost, and the rest of the run tests the changed files. Run the rehearsal from a checkout nobody edits meanwhile"
	);
}

/** The summary's line after its label: null when nothing was watched (an engine not started by the runner). */
export function restartsText(restarts) {
	if (restarts === null || restarts === undefined) return null;
	return restarts.length === 0 ? "✓ none (one workerd ran the whole run)" : `✗ ${restarts.length}: workerd started again at ${restarts.map((x) => `+${x.atS}s`).join(", ")}`;
}
