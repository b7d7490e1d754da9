#!/usr/bin/env node
// `npm start`: the engine locally on 127.0.0.1 with a demo drop.
//
// Applies the local D1 migrations, writes .dev.vars with random secrets when
// it is missing, starts `wrangler dev`, seeds a demo drop that opens a minute
// later and prints where everything is. Ctrl-C stops what it started.
//
// Environment: PORT (default 8787), ADMIN_TOKEN (wins over .dev.vars),
// STATE_DIR (wrangler's local state, default .wrangler/state),
// SEED_DEMO=false to skip the demo drop, and any variable of wrangler.toml
// [vars] given as VAR_<NAME> (for example VAR_RATE_LIMIT_LOOPBACK_EXEMPT=true).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDevVars, parseDotenv } from "./dev-vars.mjs";
import { innerWorkerUrl } from "./lib/engine.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.PORT ?? 8787);
const host = "127.0.0.1";
const base = `http://${host}:${port}`;
const stateDir = process.env.STATE_DIR ?? join(root, ".wrangler", "state");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_UPDATE_NOTIFIER: "1" };

function log(line) {
	process.stdout.write(`[start] ${line}\n`);
}

const devVarsPath = join(root, ".dev.vars");
if (ensureDevVars(devVarsPath)) log("wrote .dev.vars with a new admin token and signing key (never commit it)");
const devVars = parseDotenv(readFileSync(devVarsPath, "utf8"));
const adminToken = process.env.ADMIN_TOKEN || devVars.ADMIN_TOKEN;

log("applying local D1 migrations");
const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], {
	cwd: root,
	env: { ...childEnv, CI: "true" },
	stdio: ["ignore", "pipe", "pipe"],
	encoding: "utf8",
});
if (migrate.status !== 0) {
	process.stderr.write(migrate.stdout + migrate.stderr);
	process.exit(migrate.status ?? 1);
}

// Overrides from the environment go in a private env file layered over .dev.vars.
const overrides = {};
if (process.env.ADMIN_TOKEN) overrides.ADMIN_TOKEN = process.env.ADMIN_TOKEN;
const overrideDir = mkdtempSync(join(tmpdir(), "ticket-drop-"));
const overrideFile = join(overrideDir, ".env");
writeFileSync(overrideFile, Object.entries(overrides).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("\n") + "\n", { mode: 0o600 });

// With [secrets] declared, wrangler takes only the declared (required) secrets from env files.
// Optional secrets kept in .dev.vars (TURNSTILE_SECRET, JWT_PUBLIC_JWKS, ...) and VAR_<NAME>
// overrides of [vars] therefore go on the command line.
const REQUIRED_SECRETS = new Set(["ADMIN_TOKEN", "JWT_PRIVATE_JWK"]);
const extraVars = {
	// Local dev takes test payments (a deployment does not: TEST_PAYMENTS is "off" in wrangler.toml).
	TEST_PAYMENTS: "on",
	// Receipts go to the dev mailbox (GET /api/admin/dev/mail), never out.
	RECEIPT_SENDER: "dev",
	...Object.fromEntries(Object.entries(devVars).filter(([k]) => !REQUIRED_SECRETS.has(k))),
	...Object.fromEntries(Object.entries(process.env).flatMap(([k, v]) => (k.startsWith("VAR_") && v !== undefined ? [[k.slice(4), v]] : []))),
};
const varFlags = Object.entries(extraVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
// INSPECTOR_PORT: wrangler's devtools port (default 9229), for a second engine on the same machine.
const inspector = process.env.INSPECTOR_PORT ? ["--inspector-port", process.env.INSPECTOR_PORT] : [];
const args = ["dev", "--ip", host, "--port", String(port), "--persist-to", stateDir, "--env-file", devVarsPath, "--env-file", overrideFile, "--show-interactive-dev-session=false", "--log-level", process.env.WRANGLER_LOG_LEVEL ?? "warn", ...inspector, ...varFlags];
log(`starting wrangler dev on ${base}`);
const child = spawn(wrangler, args, { cwd: root, env: childEnv, stdio: ["ignore", "inherit", "inherit"], detached: true });

let stopping = false;
function stop(code = 0) {
	if (stopping) return;
	stopping = true;
	rmSync(overrideDir, { recursive: true, force: true });
	try {
		// The whole process group: wrangler and the workerd it started.
		process.kill(-child.pid, "SIGTERM");
	} catch {
		// already gone
	}
	setTimeout(() => {
		try {
			process.kill(-child.pid, "SIGKILL");
		} catch {
			// already gone
		}
		process.exit(code);
	}, 3000).unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
child.on("exit", (code) => {
	rmSync(overrideDir, { recursive: true, force: true });
	if (!stopping) {
		log(`wrangler dev exited (${code})`);
		process.exit(code ?? 1);
	}
	process.exit(0);
});

async function waitForHealth(timeoutMs = 90_000) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		try {
			const res = await fetch(`${base}/api/health`);
			if (res.ok) return;
		} catch {
			// not up yet
		}
		await new Promise((r) => setTimeout(r, 300));
	}
	throw new Error(`the engine did not answer ${base}/api/health within ${timeoutMs / 1000}s`);
}

async function seedDemo() {
	const opensAt = new Date(Date.now() + 60_000).toISOString();
	const res = await fetch(`${base}/api/admin/drops`, {
		method: "POST",
		headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
		body: JSON.stringify({
			name: "Demo drop: The Midnight Owls, live",
			capacity: 500,
			maxPerFan: 4,
			opensAt,
			priceCents: 4500,
			currency: "USD",
			shards: 4,
			admission: { batchSize: 50, intervalMs: 2000, activeMultiple: 2 },
			holdSeconds: 120,
		}),
	});
	if (res.status !== 201) throw new Error(`seeding the demo drop failed: ${res.status} ${await res.text()}`);
	return res.json();
}

try {
	await waitForHealth();
	const lines = [`engine:        ${base}  (health: ${base}/api/health)`, `promoter page: ${base}/admin`, `JWKS:          ${base}/.well-known/jwks.json`];
	// wrangler's proxy leaves some requests of a burst of a thousand connections unanswered; the workerd
	// behind it does not (docs/load-testing.md). Its port is random and changes when wrangler reloads.
	const inner = await innerWorkerUrl(child.pid, port, "/api/health").catch(() => null);
	if (inner) lines.push(`past the proxy: ${inner}  (for load runs of over a thousand connections, until wrangler reloads)`);
	if (process.env.SEED_DEMO !== "false") {
		const drop = await seedDemo();
		lines.push(`demo drop:     ${drop.id}, opens ${drop.opensAt}`, `fan page:      ${base}/drops/${drop.id}`);
	}
	lines.push(
		process.env.ADMIN_TOKEN ? "admin token:   from the ADMIN_TOKEN environment variable" : `admin token:   ADMIN_TOKEN in ${devVarsPath}`,
		"Ctrl-C stops the engine.",
	);
	process.stdout.write("\n" + lines.map((l) => `  ${l}`).join("\n") + "\n\n");
} catch (err) {
	process.stderr.write(`[start] ${err.message}\n`);
	stop(1);
}
