// Starts the engine the way `npm start` does (scripts/start.mjs), on its own
// port and state directory, and stops it again by its pid.
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function startEngine({ root, port, adminToken, logFile }) {
	const base = `http://127.0.0.1:${port}`;
	if (await healthy(base)) {
		throw new Error(`something already answers on ${base}; stop it or set TEST_BROWSER_PORT to another port (8810-8819)`);
	}
	const stateDir = mkdtempSync(join(tmpdir(), "ticket-drop-browser-"));
	const log = createWriteStream(logFile);
	const child = spawn(process.execPath, [join(root, "scripts", "start.mjs")], {
		cwd: root,
		env: {
			...process.env,
			PORT: String(port),
			STATE_DIR: stateDir,
			ADMIN_TOKEN: adminToken,
			SEED_DEMO: "false",
			VAR_RATE_LIMIT_LOOPBACK_EXEMPT: "true",
			WRANGLER_SEND_METRICS: "false",
			CLOUDFLARE_CF_FETCH_ENABLED: "false",
		},
		stdio: ["ignore", "pipe", "pipe"],
	});
	child.stdout.pipe(log);
	child.stderr.pipe(log);
	let exited = null;
	const exit = new Promise((resolve) => child.on("exit", (code, signal) => resolve((exited = { code, signal }))));

	const engine = {
		base,
		pid: child.pid,
		log: () => {
			try {
				return readFileSync(logFile, "utf8");
			} catch {
				return "";
			}
		},
		async stop() {
			if (exited === null) {
				try {
					process.kill(child.pid, "SIGTERM");
				} catch {
					// already gone
				}
				const timeout = new Promise((resolve) => setTimeout(resolve, 15_000, "timeout"));
				if ((await Promise.race([exit, timeout])) === "timeout") {
					try {
						process.kill(child.pid, "SIGKILL");
					} catch {
						// already gone
					}
					await exit;
				}
			}
			log.end();
			rmSync(stateDir, { recursive: true, force: true });
		},
	};

	const deadline = Date.now() + 120_000;
	while (Date.now() < deadline) {
		if (exited !== null) throw Object.assign(new Error(`the engine exited during start (${JSON.stringify(exited)})`), { engine });
		if (await healthy(base)) return engine;
		await new Promise((r) => setTimeout(r, 500));
	}
	await engine.stop();
	throw new Error(`the engine did not answer ${base}/api/health within 120 s`);
}

async function healthy(base) {
	try {
		const res = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(2_000) });
		return res.ok;
	} catch {
		return false;
	}
}
