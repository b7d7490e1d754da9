// Node side of the load tests: an HTTP client for the shared journey (keep-alive
// pool, latency per step) and percentiles. Used by loadtest/node-runner.mjs and
// scripts/bench.mjs (which start their engines through scripts/lib/engine.mjs);
// k6 never loads this file.
import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";

/** Latency samples per step, and status counts. */
export class Recorder {
	constructor() {
		this.steps = new Map();
		this.requests = 0;
		this.networkErrors = 0;
		/** Per step, requests that got no answer within the client's timeout (lib/unanswered.js). */
		this.unanswered = {};
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

	noAnswer(step) {
		this.unanswered[step] = (this.unanswered[step] ?? 0) + 1;
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
			let timedOut = false;
			const finish = (res) => {
				if (settled) return;
				settled = true;
				if (timedOut) recorder.noAnswer(effect.step);
				const ms = started ? performance.now() - started : 0;
				recorder.add(effect.step, ms, res.status >= 400 ? `${res.status}:${errorCodeOf(res.body)}` : res.status);
				// From the socket to the answer, without the wait for a socket: how long the engine can have spent on it.
				resolveRes({ ...res, elapsedMs: ms });
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
			req.on("timeout", () => {
				timedOut = true;
				req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`));
			});
			req.on("error", (err) => finish({ status: 0, body: null, headers: {}, error: err.message }));
			if (effect.body !== null) req.write(effect.body);
			req.end();
		});
	}

	return {
		recorder,
		agent,
		timeoutMs,
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
