#!/usr/bin/env node
// Whether a local Queue consumer that creates Workflow instances keeps being
// invoked, with no engine code: a minimal Worker (a producer route, a consumer
// that records each message in D1, acks it and creates one instance per
// message, a Workflow of one D1 write and a short sleep) under `wrangler dev`,
// fed bursts of messages; it counts the messages the consumer got, the
// consumer invocations that ended (wrangler's `QUEUE` lines) and the instances
// that finished.
//
//   node scripts/repro-queue-workflows.mjs --start createBatch   # one createBatch per invocation (how the sales consumer started Workflows until it stopped creating any)
//   node scripts/repro-queue-workflows.mjs --start create        # create() one by one
//   node scripts/repro-queue-workflows.mjs --start none          # no Workflow: the queue alone
//   node scripts/repro-queue-workflows.mjs --start createBatch --wait waitUntil   # started in ctx.waitUntil after the acks
//
// Flags: --messages (600), --bursts (3), --sleep-ms (0: the Workflow's step.sleep),
// --step-ms (3000: the time a second step takes, its promise pending meanwhile),
// --drain-ms (60000), --port (8861); REPRO_LOG=<file> keeps wrangler's whole output. Exit 1 when some message was never delivered.
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opts } = parseArgs({
	options: {
		start: { type: "string", default: "createBatch" },
		wait: { type: "string", default: "await" },
		messages: { type: "string", default: "600" },
		bursts: { type: "string", default: "3" },
		"sleep-ms": { type: "string", default: "0" },
		"step-ms": { type: "string", default: "3000" },
		"drain-ms": { type: "string", default: "60000" },
		port: { type: "string", default: "8861" },
	},
});
const port = Number(opts.port);
const total = Number(opts.messages);
const bursts = Number(opts.bursts);
const drainMs = Number(opts["drain-ms"]);
if (!["createBatch", "create", "none"].includes(opts.start)) throw new Error("--start is createBatch, create or none");
if (!["await", "waitUntil"].includes(opts.wait)) throw new Error("--wait is await or waitUntil");

const WORKER = `
import { WorkflowEntrypoint } from "cloudflare:workers";
const schema = (db) => db.batch([
	db.prepare("CREATE TABLE IF NOT EXISTS got (id TEXT PRIMARY KEY)"),
	db.prepare("CREATE TABLE IF NOT EXISTS done (id TEXT PRIMARY KEY)"),
]);
export class Trivial extends WorkflowEntrypoint {
	async run(event, step) {
		await step.do("write", async () => {
			await this.env.DB.prepare("INSERT OR IGNORE INTO done (id) VALUES (?)").bind(event.payload.id).run();
			return true;
		});
		// A step that takes a while (a slow provider, say): the instance runs for at least STEP_MS.
		if (Number(this.env.STEP_MS) > 0) await step.do("slow", () => new Promise((r) => setTimeout(() => r(true), Number(this.env.STEP_MS))));
		if (Number(this.env.SLEEP_MS) > 0) await step.sleep("rest", Number(this.env.SLEEP_MS));
		return event.payload.id;
	}
}
async function start(env, ids) {
	if (env.START === "createBatch") await env.FLOW.createBatch(ids.map((id) => ({ id, params: { id } })));
	else if (env.START === "create") for (const id of ids) await env.FLOW.create({ id, params: { id } });
}
export default {
	async fetch(request, env) {
		const url = new URL(request.url);
		await schema(env.DB);
		if (url.pathname === "/send") {
			const from = Number(url.searchParams.get("from")), n = Number(url.searchParams.get("n"));
			const ids = Array.from({ length: n }, (_, i) => "m" + (from + i));
			for (let i = 0; i < ids.length; i += 100) await env.Q.sendBatch(ids.slice(i, i + 100).map((id) => ({ body: { id } })));
			return Response.json({ sent: n });
		}
		const got = await env.DB.prepare("SELECT COUNT(*) AS n FROM got").first("n");
		const done = await env.DB.prepare("SELECT COUNT(*) AS n FROM done").first("n");
		return Response.json({ got, done });
	},
	async queue(batch, env, ctx) {
		await schema(env.DB);
		const ids = batch.messages.map((m) => m.body.id);
		console.log("consumer: invocation of " + ids.length);
		await env.DB.batch(ids.map((id) => env.DB.prepare("INSERT OR IGNORE INTO got (id) VALUES (?)").bind(id)));
		batch.ackAll();
		const starting = start(env, ids).then(() => console.log("consumer: started " + ids.length), (err) => console.log("consumer: start failed " + err));
		if (env.WAIT === "waitUntil") ctx.waitUntil(starting);
		else await starting;
		console.log("consumer: returns after " + ids.length);
	},
};
`;

const CONFIG = `name = "repro-queue-workflows"
main = "worker.js"
compatibility_date = "2026-04-20"

[vars]
START = "${opts.start}"
WAIT = "${opts.wait}"
SLEEP_MS = "${Number(opts["sleep-ms"])}"
STEP_MS = "${Number(opts["step-ms"])}"

[[d1_databases]]
binding = "DB"
database_name = "repro"
database_id = "00000000-0000-0000-0000-000000000001"

[[queues.producers]]
binding = "Q"
queue = "repro-q"

[[queues.consumers]]
queue = "repro-q"
max_batch_size = 100
max_batch_timeout = 1

[[workflows]]
name = "repro-flow"
binding = "FLOW"
class_name = "Trivial"
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function getJson(url) {
	const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
	if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
	return res.json();
}

const dir = mkdtempSync(join(tmpdir(), "repro-queue-workflows-"));
writeFileSync(join(dir, "worker.js"), WORKER);
writeFileSync(join(dir, "wrangler.toml"), CONFIG);
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_UPDATE_NOTIFIER: "1" };
const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(port + 1), "--log-level", "log", "--persist-to", join(dir, "state"), "--show-interactive-dev-session=false"];
const child = spawn(join(ROOT, "node_modules", ".bin", "wrangler"), args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
const queueLines = [];
const consumerLines = [];
let tail = "";
const logFile = process.env.REPRO_LOG ? createWriteStream(process.env.REPRO_LOG) : null;
const keep = (chunk) => {
	logFile?.write(chunk);
	const text = (tail + chunk.toString()).split("\n");
	tail = text.pop();
	for (const line of text) {
		if (/QUEUE repro-q/.test(line)) queueLines.push(line.replace(/\x1b\[[0-9;]*m/g, "").trim());
		if (/consumer: /.test(line)) consumerLines.push(line.replace(/\x1b\[[0-9;]*m/g, "").trim());
	}
};
child.stdout.on("data", keep);
child.stderr.on("data", keep);
const base = `http://127.0.0.1:${port}`;
let undelivered = total;
try {
	for (let deadline = Date.now() + 60_000; ; await sleep(250)) {
		try {
			await getJson(`${base}/count`);
			break;
		} catch (err) {
			if (Date.now() > deadline) throw new Error(`the Worker did not answer within 60 s: ${err.message}`);
		}
	}
	console.log(`${total} messages in ${bursts} bursts; start: ${opts.start}, in the consumer: ${opts.wait}; Workflow: a D1 write${Number(opts["sleep-ms"]) > 0 ? ` and a ${opts["sleep-ms"]} ms sleep` : ""}`);
	const per = Math.ceil(total / bursts);
	const t0 = Date.now();
	for (let from = 0; from < total; from += per) {
		const sentAt = Date.now();
		// A send that hangs is a finding too: the producer waits on the queue broker.
		const sent = await getJson(`${base}/send?from=${from}&n=${Math.min(per, total - from)}`).then(
			() => `sent in ${Date.now() - sentAt} ms`,
			(err) => `no answer (${err.name})`,
		);
		console.log(`burst of ${Math.min(per, total - from)} from m${from}: ${sent}`);
		await sleep(300);
	}
	let last = { got: 0, done: 0 };
	for (;;) {
		last = await getJson(`${base}/count`).catch(() => last);
		const wanted = opts.start === "none" ? last.got >= total : last.got >= total && last.done >= total;
		if (wanted || Date.now() - t0 > drainMs) break;
		await sleep(2_000);
	}
	undelivered = total - last.got;
	console.log(`after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${last.got} of ${total} messages delivered, ${last.done} Workflow instances wrote`);
} finally {
	const invocations = consumerLines.filter((l) => /invocation of/.test(l)).length;
	console.log(`consumer invocations begun ${invocations}, ended (wrangler's QUEUE lines) ${queueLines.length}:`);
	for (const l of consumerLines) console.log(`  ${l}`);
	for (const l of queueLines) console.log(`  ${l}`);
	try {
		process.kill(-child.pid, "SIGTERM");
	} catch {
		// already gone
	}
	await sleep(2_000);
	try {
		process.kill(-child.pid, "SIGKILL");
	} catch {
		// gone
	}
	rmSync(dir, { recursive: true, force: true });
}
process.exit(undelivered > 0 ? 1 : 0);
