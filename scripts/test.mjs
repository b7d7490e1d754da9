#!/usr/bin/env node
// `npm test`: the suite in three vitest runs, the two files that abort every
// Durable Object mid-test (faults, inventory-property) each in a workerd of its
// own. After those files, vitest has been seen to print its summary, every test
// passed, and then never exit, or print its file's result and never reach the
// summary (the workerd it drives does not shut down; cause not found yet, see the
// issue notes). So a run that has printed its summary (for a one-file run, that
// file's result line) and has not exited 30 s later is stopped, and what it
// printed decides: any failed test fails the suite. Before them, the checks of
// the repository itself in test-node/ run under Node's own test runner.
import { spawn, spawnSync } from "node:child_process";

const RUNS = [
	["run", "--exclude", "test/inventory/faults.test.ts", "--exclude", "test/inventory/inventory-property.test.ts"],
	["run", "test/inventory/faults.test.ts"],
	["run", "test/inventory/inventory-property.test.ts"],
];
const EXIT_GRACE_MS = 30_000;
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");

function vitest(args) {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, ["node_modules/vitest/vitest.mjs", ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true });
		let out = "";
		let summary = null;
		let timer = null;
		const watch = (chunk, sink) => {
			sink.write(chunk);
			out = (out + strip(chunk.toString())).slice(-20_000);
			// The summary, or for a run of one file that file's result line (seen hanging before the summary too).
			const m = /Tests\s+([^\n]*)\n[\s\S]*Duration/.exec(out) ?? (args.length === 2 ? /\n\s*([✓❯×] test\/\S+\.test\.ts \([^)]*\))/.exec(out) : null);
			if (summary === null && m) {
				summary = m[1].startsWith("✓") || !/^[❯×]/.test(m[1]) ? m[1] : `${m[1]} failed`;
				timer = setTimeout(() => {
					process.stderr.write(`\n[test] vitest printed its summary (${summary.trim()}) but did not exit in ${EXIT_GRACE_MS / 1000} s: stopping it\n`);
					try {
						process.kill(-child.pid, "SIGKILL");
					} catch {
						child.kill("SIGKILL");
					}
				}, EXIT_GRACE_MS);
			}
		};
		child.stdout.on("data", (c) => watch(c, process.stdout));
		child.stderr.on("data", (c) => watch(c, process.stderr));
		child.on("exit", (code) => {
			if (timer) clearTimeout(timer);
			const passed = summary !== null && !/failed/.test(summary);
			resolve(code === 0 || (code === null && passed) ? 0 : code === null ? 1 : code);
		});
	});
}

const repoChecks = spawnSync(process.execPath, ["--test", "test-node/"], { stdio: "inherit" });
if (repoChecks.status !== 0) process.exit(repoChecks.status ?? 1);

for (const args of RUNS) {
	const code = await vitest(args);
	if (code !== 0) process.exit(code);
}
