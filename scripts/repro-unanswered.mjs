#!/usr/bin/env node
// Simultaneous requests left unanswered under `wrangler dev`: rounds of N
// requests sent at once, each on a connection of its own (as k6 VUs do),
// counting those with no answer within the timeout. Each round goes through
// wrangler's proxy (the port `npm start` serves), straight to the workerd
// that runs the Worker (past the proxy), or both, one after the other, so the
// two paths are measured side by side against the same Worker.
//
//   node scripts/repro-unanswered.mjs --target worker   # a Worker answering 200, no engine code
//   node scripts/repro-unanswered.mjs --target engine   # the engine: N joined fans polling /status, then /api/health
//   node scripts/repro-unanswered.mjs --target node     # a plain Node server, the same client
//   node scripts/repro-unanswered.mjs --base-url http://127.0.0.1:8787 --path /api/health
//
// Flags: --requests (1500), --rounds (6), --timeout-ms (45000), --port (8857),
// --path (/api/health), --via (proxy, direct or both; default both for the
// worker and engine targets). The `worker` target is the smallest Worker
// shaped like the engine's deployment (static assets with run_worker_first,
// wrangler's log level warn), started from a temporary directory; the
// `engine` target starts the engine as the load runner does
// (scripts/lib/engine.mjs), joins --requests fans to a drop that admits 50 a
// minute, and polls /status with each fan's queue token, then /api/health.
// Both are stopped by their process group. Exit 1 when any request went unanswered.
import { spawn } from "node:child_process";
import http from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { innerWorkerUrl, startEngine } from "./lib/engine.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opts } = parseArgs({
	options: {
		target: { type: "string", default: "worker" },
		"base-url": { type: "string" },
		path: { type: "string", default: "/api/health" },
		via: { type: "string" },
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
const WRANGLER_ENV = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_UPDATE_NOTIFIER: "1" };

/** One request on a fresh connection: its status, or why it has none (and whether it ever connected). */
function once(agent, url, headers = {}) {
	return new Promise((done) => {
		const startedAt = Date.now();
		let connected = false;
		const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, headers, agent, timeout: timeoutMs }, (res) => {
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

/** One round: `requests` requests at once, each on its own connection; prints and returns how many went unanswered. */
async function round(label, url, headersOf) {
	const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
	const startedAt = Date.now();
	const answers = await Promise.all(Array.from({ length: requests }, (_, i) => once(agent, url, headersOf(i))));
	agent.destroy();
	const counts = {};
	for (const a of answers) {
		const key = a.status ? String(a.status) : `${a.error} (${a.connected ? "connected, request sent" : "never connected"})`;
		counts[key] = (counts[key] ?? 0) + 1;
	}
	const ms = answers.filter((a) => a.status).map((a) => a.ms).sort((x, y) => x - y);
	const lost = answers.filter((a) => !a.status).length;
	console.log(`${label}: ${lost} of ${requests} unanswered; answered p50 ${ms[ms.length >> 1] ?? "-"} ms, max ${ms.at(-1) ?? "-"} ms; round took ${Date.now() - startedAt} ms; ${JSON.stringify(counts)}`);
	return lost;
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

function stopGroup(pid) {
	try {
		process.kill(-pid, "SIGTERM");
	} catch {
		// already gone
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
	const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(port + 1), "--log-level", "warn", "--show-interactive-dev-session=false"];
	const child = spawn(join(ROOT, "node_modules", ".bin", "wrangler"), args, { cwd: dir, env: { ...process.env, ...WRANGLER_ENV }, stdio: ["ignore", "inherit", "inherit"], detached: true });
	const stop = async () => {
		stopGroup(child.pid);
		await new Promise((r) => setTimeout(r, 2_000));
		rmSync(dir, { recursive: true, force: true });
	};
	try {
		await waitFor(`http://127.0.0.1:${port}/`, 60_000);
		const baseUrl = `http://127.0.0.1:${port}`;
		return { baseUrl, directUrl: await innerWorkerUrl(child.pid, port, "/"), stop };
	} catch (err) {
		await stop();
		throw err;
	}
}

/** The engine as the load runner starts it, with `requests` fans joined to a drop that keeps them waiting. */
async function startEngineWithFans() {
	const engine = await startEngine({ port, log: (l) => console.log(l) });
	try {
		const baseUrl = engine.baseUrl;
		const admin = { authorization: `Bearer ${engine.adminToken}`, "content-type": "application/json" };
		const created = await fetch(`${baseUrl}/api/admin/drops`, {
			method: "POST",
			headers: admin,
			body: JSON.stringify({
				name: "Unanswered requests reproduction",
				capacity: 500,
				maxPerFan: 4,
				opensAt: new Date(Date.now() + 2_000).toISOString(),
				priceCents: 4500,
				currency: "USD",
				shards: 4,
				admission: { batchSize: 50, intervalMs: 60_000, activeMultiple: 1 },
				holdSeconds: 120,
			}),
		});
		if (created.status !== 201) throw new Error(`creating the drop failed: ${created.status} ${await created.text()}`);
		const drop = await created.json();
		await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(drop.opensAt) - Date.now()) + 1_000));
		// The joins go 32 at a time on reused connections: no burst before the measured ones.
		const tokens = [];
		const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
		for (let i = 0; i < requests; i += 32) {
			const batch = Array.from({ length: Math.min(32, requests - i) }, (_, j) => joinOne(agent, `${baseUrl}/api/drops/${drop.id}/join`, `repro-fan-${i + j}`));
			tokens.push(...(await Promise.all(batch)));
		}
		agent.destroy();
		console.log(`drop ${drop.id}: ${tokens.length} fans joined`);
		return { baseUrl, directUrl: await innerWorkerUrl(engine.pid, port, "/api/health"), stop: engine.stop, dropId: drop.id, tokens };
	} catch (err) {
		await engine.stop();
		throw err;
	}
}

async function joinOne(agent, url, fanId) {
	for (let attempt = 0; attempt < 5; attempt++) {
		const res = await new Promise((done) => {
			const body = JSON.stringify({ fanId, fanSecret: `${fanId}-secret-`.padEnd(43, "x") });
			const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }, timeout: 30_000 }, (r) => {
				let text = "";
				r.on("data", (c) => (text += c));
				r.on("end", () => done({ status: r.statusCode, text }));
			});
			req.on("timeout", () => req.destroy(new Error("timeout")));
			req.on("error", () => done({ status: 0, text: "" }));
			req.end(body);
		});
		if (res.status === 201 || res.status === 200) return JSON.parse(res.text).queueToken;
		await new Promise((r) => setTimeout(r, 500));
	}
	throw new Error(`fan ${fanId} could not join`);
}

function startNodeServer() {
	const server = http.createServer((_req, res) => res.end("ok"));
	return new Promise((r) => server.listen(port, "127.0.0.1", 4096, () => r({ baseUrl: `http://127.0.0.1:${port}`, stop: () => new Promise((s) => server.close(s)) })));
}

let target;
if (opts["base-url"]) target = { baseUrl: opts["base-url"], stop: async () => {} };
else if (opts.target === "node") target = await startNodeServer();
else if (opts.target === "worker") target = await startMinimalWorker();
else if (opts.target === "engine") target = await startEngineWithFans();
else throw new Error(`unknown --target ${opts.target} (worker, engine or node)`);

const via = opts.via ?? (target.directUrl ? "both" : "proxy");
const paths = [];
if (via !== "direct") paths.push(["proxy", target.baseUrl]);
if (via !== "proxy") {
	if (!target.directUrl) throw new Error("--via direct needs the worker or engine target");
	paths.push(["direct", target.directUrl]);
}
// The engine's fans poll /status with their queue tokens, then everyone asks /api/health.
const series = target.tokens
	? [
			[`/api/drops/${target.dropId}/status`, (i) => ({ authorization: `Bearer ${target.tokens[i]}` })],
			["/api/health", () => ({})],
		]
	: [[opts.path, () => ({})]];

const lost = {};
try {
	for (const [path, headersOf] of series) {
		console.log(`${rounds} rounds of ${requests} simultaneous requests to ${path}, ${timeoutMs / 1000} s timeout, via ${paths.map(([name, url]) => `${name} (${url})`).join(" and ")}`);
		for (let r = 1; r <= rounds; r++) {
			for (const [name, base] of paths) {
				const key = `${path.replace(/\/drops\/[^/]+/, "/drops/:id")} via ${name}`;
				lost[key] = (lost[key] ?? 0) + (await round(`round ${r}, ${key}`, new URL(path, base), headersOf));
			}
		}
	}
} finally {
	await target.stop();
}
for (const [key, n] of Object.entries(lost)) console.log(`unanswered, ${key}: ${n} of ${requests * rounds}`);
process.exit(Object.values(lost).some((n) => n > 0) ? 1 : 0);
