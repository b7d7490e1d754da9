// Node side of the load tests: an HTTP client for the shared journey (keep-alive
// pool, latency per step), percentiles, and an engine started on demand through
// scripts/start.mjs and stopped by its pid. Used by loadtest/node-runner.mjs and
// scripts/bench.mjs; k6 never loads this file.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Latency samples per step, and status counts. */
export class Recorder {
	constructor() {
		this.steps = new Map();
		this.requests = 0;
		this.networkErrors = 0;
		/** Time requests waited for a free socket in this client's pool (not the engine's doing). */
		this.poolWait = [];
		this.startedAt = performance.now();
	}

	add(step, ms, status) {
		let s = this.steps.get(step);
		if (!s) {
			s = { samples: [], statuses: {} };
			this.steps.set(step, s);
		}
		s.samples.push(ms);
		s.statuses[status] = (s.statuses[status] ?? 0) + 1;
		this.requests++;
		if (status === 0) this.networkErrors++;
	}

	/** {step: {count, p50, p95, p99, max, mean, statuses}} */
	summary() {
		const out = {};
		for (const [step, s] of this.steps) out[step] = { count: s.samples.length, ...latencyStats(s.samples), statuses: s.statuses };
		return out;
	}
}

export function percentile(sorted, p) {
	if (sorted.length === 0) return null;
	const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
	return sorted[i];
}

export function latencyStats(samples) {
	const sorted = Float64Array.from(samples).sort();
	const round = (x) => (x === null ? null : Math.round(x * 100) / 100);
	const sum = sorted.reduce((a, b) => a + b, 0);
	return {
		p50: round(percentile(sorted, 50)),
		p95: round(percentile(sorted, 95)),
		p99: round(percentile(sorted, 99)),
		max: round(sorted.length ? sorted[sorted.length - 1] : null),
		mean: round(sorted.length ? sum / sorted.length : null),
	};
}

/**
 * The client object the journey expects. Requests go through one keep-alive
 * pool of `connections` sockets; latency is measured from the moment a socket
 * is assigned (like k6's http_req_duration, queueing in the pool excluded).
 */
export function createHttpClient({ baseUrl, connections = 64, recorder = new Recorder(), timeoutMs = 30_000, hooks = {} }) {
	const url = new URL(baseUrl);
	if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`unsupported protocol ${url.protocol}`);
	const transport = url.protocol === "https:" ? https : http;
	const agent = new transport.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });

	function send(effect) {
		return new Promise((resolveRes) => {
			const target = new URL(effect.url);
			const headers = { ...effect.headers };
			if (effect.body !== null) headers["content-length"] = Buffer.byteLength(effect.body);
			let started = 0;
			let settled = false;
			const finish = (res) => {
				if (settled) return;
				settled = true;
				recorder.add(effect.step, started ? performance.now() - started : 0, res.status >= 400 ? `${res.status}:${errorCodeOf(res.body)}` : res.status);
				resolveRes(res);
			};
			const req = transport.request(
				{ host: target.hostname, port: target.port || undefined, path: target.pathname + target.search, method: effect.method, headers, agent, timeout: timeoutMs },
				(res) => {
					const chunks = [];
					res.on("data", (c) => chunks.push(c));
					res.on("end", () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
					res.on("error", (err) => finish({ status: 0, body: null, headers: {}, error: err.message }));
				},
			);
			const queuedAt = performance.now();
			req.on("socket", () => {
				started = performance.now();
				recorder.poolWait.push(started - queuedAt);
			});
			req.on("timeout", () => req.destroy(new Error("timeout")));
			req.on("error", (err) => finish({ status: 0, body: null, headers: {}, error: err.message }));
			if (effect.body !== null) req.write(effect.body);
			req.end();
		});
	}

	return {
		recorder,
		agent,
		request: send,
		batch: (effects) => Promise.all(effects.map(send)),
		sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
		now: () => Date.now(),
		check: hooks.check,
		event: hooks.event,
		close: () => agent.destroy(),
	};
}

function errorCodeOf(body) {
	try {
		return JSON.parse(body).error.code ?? "-";
	} catch {
		return "-";
	}
}

/** A random-enough admin token for an engine this process starts. */
export const newAdminToken = () => randomBytes(24).toString("base64url");

/** ADMIN_TOKEN from the environment or the project's .dev.vars, for a running engine. */
export function adminTokenFromEnv() {
	if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
	try {
		const m = /^\s*ADMIN_TOKEN\s*=\s*['"]?([^'"\n]+)['"]?\s*$/m.exec(readFileSync(join(ROOT, ".dev.vars"), "utf8"));
		return m ? m[1] : undefined;
	} catch {
		return undefined;
	}
}

/**
 * Starts the engine with scripts/start.mjs on its own port and state directory,
 * waits for /api/health, and returns how to reach and stop it. `vars` become
 * VAR_<NAME> overrides of wrangler.toml [vars].
 */
export async function startEngine({ port, vars = {}, log = () => {}, timeoutMs = 120_000, root = ROOT }) {
	const stateDir = mkdtempSync(join(tmpdir(), "ticket-drop-loadtest-"));
	const adminToken = newAdminToken();
	const env = {
		...process.env,
		PORT: String(port),
		STATE_DIR: stateDir,
		ADMIN_TOKEN: adminToken,
		SEED_DEMO: "false",
		WRANGLER_SEND_METRICS: "false",
		CLOUDFLARE_CF_FETCH_ENABLED: "false",
		NO_UPDATE_NOTIFIER: "1",
		VAR_RATE_LIMIT_LOOPBACK_EXEMPT: "true",
	};
	for (const [k, v] of Object.entries(vars)) env[`VAR_${k}`] = String(v);
	const child = spawn(process.execPath, [join(root, "scripts", "start.mjs")], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
	let output = "";
	const keep = (chunk) => {
		output = (output + chunk.toString()).slice(-20_000);
	};
	child.stdout.on("data", keep);
	child.stderr.on("data", keep);
	let exited = null;
	const exitedPromise = new Promise((r) => child.on("exit", (code, signal) => r((exited = { code, signal }))));
	const baseUrl = `http://127.0.0.1:${port}`;

	async function stop() {
		if (exited === null) {
			try {
				process.kill(child.pid, "SIGTERM");
			} catch {
				// already gone
			}
			const timer = setTimeout(() => {
				try {
					process.kill(child.pid, "SIGKILL");
				} catch {
					// already gone
				}
			}, 8000);
			await exitedPromise;
			clearTimeout(timer);
		}
		rmSync(stateDir, { recursive: true, force: true });
	}

	log(`starting the engine on ${baseUrl} (scripts/start.mjs, pid ${child.pid}, state in ${stateDir})`);
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (exited !== null) {
			await stop();
			throw new Error(`the engine exited during start (${JSON.stringify(exited)}):\n${output}`);
		}
		// start.mjs prints the URLs once health answers and any seeding is done.
		if (output.includes("Ctrl-C stops the engine")) break;
		if (Date.now() > deadline) {
			await stop();
			throw new Error(`the engine did not start within ${timeoutMs / 1000}s:\n${output}`);
		}
		await new Promise((r) => setTimeout(r, 200));
	}
	return { baseUrl, adminToken, pid: child.pid, stateDir, stop, output: () => output };
}

/** The workerd processes under a pid (the engine runs the Worker there). */
export function descendantPids(rootPid) {
	const children = new Map();
	for (const name of readdirSync("/proc")) {
		if (!/^\d+$/.test(name)) continue;
		try {
			const stat = readFileSync(`/proc/${name}/stat`, "utf8");
			const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
			if (!children.has(ppid)) children.set(ppid, []);
			children.get(ppid).push(Number(name));
		} catch {
			// gone meanwhile
		}
	}
	const out = [];
	const stack = [rootPid];
	while (stack.length) {
		const pid = stack.pop();
		for (const c of children.get(pid) ?? []) {
			out.push(c);
			stack.push(c);
		}
	}
	return out;
}

export function commandOf(pid) {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
	} catch {
		return [];
	}
}

/**
 * CPU time a process has run on a core, in milliseconds, summed over its
 * threads from /proc/<pid>/task/<tid>/schedstat (nanoseconds, so far finer
 * than the 10 ms ticks of /proc/<pid>/stat).
 */
export function cpuMs(pid) {
	let ns = 0;
	for (const tid of readdirSync(`/proc/${pid}/task`)) {
		try {
			ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
		} catch {
			// thread ended meanwhile
		}
	}
	return ns / 1e6;
}
