#!/usr/bin/env node
// Simultaneous requests left unanswered by the local runtime, with no engine
// code: rounds of N requests sent at once, each on a connection of its own
// (as k6 VUs do), counting those with no answer within the timeout.
//
//   node scripts/repro-unanswered.mjs --target worker   # a Worker answering 200 under `wrangler dev`
//   node scripts/repro-unanswered.mjs --target node     # a plain Node server, the same client
//   node scripts/repro-unanswered.mjs --base-url http://127.0.0.1:8787 --path /api/health
//
// Flags: --requests (1500), --rounds (6), --timeout-ms (45000), --port (8857),
// --path (/api/health). The `worker` target is the smallest Worker shaped like
// the engine's deployment (static assets with run_worker_first, wrangler's
// log level warn), started from a temporary directory and stopped by its
// process group. Exit 1 when any request went unanswered.
import { spawn } from "node:child_process";
import http from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opts } = parseArgs({
	options: {
		target: { type: "string", default: "worker" },
		"base-url": { type: "string" },
		path: { type: "string", default: "/api/health" },
		requests: { type: "string", default: "1500" },
		rounds: { type: "string", default: "6" },
		"timeout-ms": { type: "string", default: "45000" },
		port: { type: "string", default: "8857" },
	},
});
const requests = Number(opts.requests);
const rounds = Number(opts.rounds);
const timeoutMs = Number(opts["timeout-ms"]);
const port = Number(opts.port);

/** One request on a fresh connection: its status, or why it has none (and whether it ever connected). */
function once(agent, url) {
	return new Promise((done) => {
		const startedAt = Date.now();
		let connected = false;
		const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, agent, timeout: timeoutMs }, (res) => {
			res.resume();
			res.on("end", () => done({ status: res.statusCode, ms: Date.now() - startedAt }));
			res.on("error", (err) => done({ status: 0, error: err.message, connected }));
		});
		req.on("socket", (socket) => socket.once("connect", () => (connected = true)));
		req.on("timeout", () => req.destroy(new Error("no answer within the timeout")));
		req.on("error", (err) => done({ status: 0, error: err.message, connected }));
		req.end();
	});
}

async function runRounds(url) {
	let unanswered = 0;
	for (let round = 0; round < rounds; round++) {
		const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
		const startedAt = Date.now();
		const answers = await Promise.all(Array.from({ length: requests }, () => once(agent, url)));
		agent.destroy();
		const counts = {};
		for (const a of answers) {
			const key = a.status ? String(a.status) : `${a.error} (${a.connected ? "connected, request sent" : "never connected"})`;
			counts[key] = (counts[key] ?? 0) + 1;
		}
		const ms = answers.filter((a) => a.status).map((a) => a.ms).sort((x, y) => x - y);
		const lost = answers.filter((a) => !a.status).length;
		unanswered += lost;
		console.log(`round ${round + 1}: ${lost} of ${requests} unanswered; answered p50 ${ms[ms.length >> 1] ?? "-"} ms, max ${ms.at(-1) ?? "-"} ms; round took ${Date.now() - startedAt} ms; ${JSON.stringify(counts)}`);
	}
	return unanswered;
}

async function waitFor(url, deadlineMs) {
	const deadline = Date.now() + deadlineMs;
	for (;;) {
		try {
			if ((await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok) return;
		} catch {
			// not up yet
		}
		if (Date.now() > deadline) throw new Error(`${url} did not answer within ${deadlineMs / 1000} s`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

/** A Worker that answers 200 to everything, served by `wrangler dev` the way scripts/start.mjs serves the engine. */
async function startMinimalWorker() {
	const dir = mkdtempSync(join(tmpdir(), "repro-unanswered-"));
	mkdirSync(join(dir, "public"));
	writeFileSync(join(dir, "public", "index.html"), "<p>static</p>\n");
	writeFileSync(join(dir, "worker.js"), 'export default { fetch: () => new Response("ok") };\n');
	writeFileSync(
		join(dir, "wrangler.toml"),
		'name = "repro-unanswered"\nmain = "worker.js"\ncompatibility_date = "2026-04-20"\n\n[assets]\ndirectory = "./public"\nbinding = "ASSETS"\nrun_worker_first = true\n',
	);
	const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_UPDATE_NOTIFIER: "1" };
	const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(port + 1), "--log-level", "warn", "--show-interactive-dev-session=false"];
	const child = spawn(join(ROOT, "node_modules", ".bin", "wrangler"), args, { cwd: dir, env, stdio: ["ignore", "inherit", "inherit"], detached: true });
	const stop = async () => {
		try {
			process.kill(-child.pid, "SIGTERM");
		} catch {
			// already gone
		}
		await new Promise((r) => setTimeout(r, 2_000));
		rmSync(dir, { recursive: true, force: true });
	};
	try {
		await waitFor(`http://127.0.0.1:${port}/`, 60_000);
	} catch (err) {
		await stop();
		throw err;
	}
	return { baseUrl: `http://127.0.0.1:${port}`, stop };
}

function startNodeServer() {
	const server = http.createServer((_req, res) => res.end("ok"));
	return new Promise((r) => server.listen(port, "127.0.0.1", 4096, () => r({ baseUrl: `http://127.0.0.1:${port}`, stop: () => new Promise((s) => server.close(s)) })));
}

let target;
if (opts["base-url"]) target = { baseUrl: opts["base-url"], stop: async () => {} };
else if (opts.target === "node") target = await startNodeServer();
else if (opts.target === "worker") target = await startMinimalWorker();
else throw new Error(`unknown --target ${opts.target} (worker or node)`);

let unanswered = 0;
try {
	console.log(`${rounds} rounds of ${requests} simultaneous requests to ${target.baseUrl}${opts.path}, ${timeoutMs / 1000} s timeout`);
	unanswered = await runRounds(new URL(opts.path, target.baseUrl));
} finally {
	await target.stop();
}
console.log(`unanswered: ${unanswered} of ${requests * rounds}`);
process.exit(unanswered > 0 ? 1 : 0);
