// The one way a script starts an engine of its own: scripts/start.mjs (what
// `npm start` runs) on a port of its own with a fresh state directory and a
// random admin token, ready once /api/health answers and that token is
// accepted, stopped by its process group. Used by the load runner
// (loadtest/node-runner.mjs, and through it the CI smoke), the bench
// (scripts/bench.mjs) and the browser tests (test-browser/run.mjs).
// Also here: the admin token of an engine already running, and the engine's
// processes (the bench reads their CPU time) and the address of the workerd
// that runs the engine past wrangler's proxy (for bursts the proxy leaves unanswered).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A random-enough admin token for an engine a script starts. */
export const newAdminToken = () => randomBytes(24).toString("base64url");

/** ADMIN_TOKEN from the environment or the project's .dev.vars, for an engine already running. */
export function adminTokenFromEnv() {
	if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
	try {
		const m = /^\s*ADMIN_TOKEN\s*=\s*['"]?([^'"\n]+)['"]?\s*$/m.exec(readFileSync(join(ROOT, ".dev.vars"), "utf8"));
		return m ? m[1] : undefined;
	} catch {
		return undefined;
	}
}

/** How long stop() waits for the engine to go after SIGTERM before it kills what is left. */
const STOP_GRACE_MS = 10_000;

/**
 * Starts the engine and resolves once it answers as itself. `vars` become
 * VAR_<NAME> overrides of wrangler.toml [vars]; `logFile`, if given, receives
 * the engine's whole output (the last 20,000 characters are kept in memory
 * either way). Fails, with the engine stopped, if something already answers on
 * the port, if the engine exits or does not answer within `timeoutMs`, or if
 * whatever answers refuses this engine's admin token.
 *
 * Returns { baseUrl, adminToken, pid, stateDir, output(), sqliteNoMem(), stop() }. stop() ends
 * start.mjs's process group (start.mjs stops wrangler and workerd on SIGTERM),
 * kills by pid whatever of the engine is still there after STOP_GRACE_MS, and
 * deletes the state directory.
 */
export async function startEngine({ port, root = ROOT, vars = {}, adminToken = newAdminToken(), logFile, log = () => {}, timeoutMs = 120_000 }) {
	const baseUrl = `http://127.0.0.1:${port}`;
	if (await answers(`${baseUrl}/api/health`)) {
		throw new Error(`something already answers on ${baseUrl}; stop it or choose another port`);
	}
	const stateDir = mkdtempSync(join(tmpdir(), "ticket-drop-engine-"));
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
	// Its own process group, so that stopping it reaches everything it started.
	const child = spawn(process.execPath, [join(root, "scripts", "start.mjs")], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
	const pid = child.pid;
	const file = logFile ? createWriteStream(logFile) : null;
	let output = "";
	// Out-of-memory errors of workerd's SQLite (the local Workflow engine's, above all), counted over the whole
	// output: the kept tail may have scrolled past them.
	let sqliteNoMem = 0;
	const keep = (chunk) => {
		const text = chunk.toString();
		sqliteNoMem += text.split("SQLITE_NOMEM").length - 1;
		output = (output + text).slice(-20_000);
		file?.write(chunk);
	};
	child.stdout.on("data", keep);
	child.stderr.on("data", keep);
	let exited = null;
	const exit = new Promise((r) => child.on("exit", (code, signal) => r((exited = { code, signal }))));
	// If the script ends without stopping it (an uncaught error, process.exit), start.mjs is
	// still told to stop, and stops wrangler and workerd after this process has gone.
	const stopOnExit = () => signalGroup(pid, "SIGTERM");
	process.on("exit", stopOnExit);

	let stopped = null;
	function stop() {
		stopped ??= (async () => {
			const tree = descendantPids(pid);
			if (exited === null) {
				signalGroup(pid, "SIGTERM");
				const timer = new Promise((r) => setTimeout(r, STOP_GRACE_MS, "timeout"));
				if ((await Promise.race([exit, timer])) === "timeout") {
					signalGroup(pid, "SIGKILL");
					await exit;
				}
			}
			// wrangler and workerd run in a process group of their own (start.mjs's child): whatever
			// of them outlived start.mjs goes now.
			for (const p of tree) signalPid(p, "SIGKILL");
			process.off("exit", stopOnExit);
			await new Promise((r) => (file ? file.end(r) : r()));
			rmSync(stateDir, { recursive: true, force: true });
		})();
		return stopped;
	}

	log(`starting the engine on ${baseUrl} (scripts/start.mjs, pid ${pid}, state in ${stateDir})`);
	try {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			if (exited !== null) throw new Error(`the engine exited during start (${JSON.stringify(exited)})`);
			if (await answers(`${baseUrl}/api/health`)) break;
			if (Date.now() > deadline) throw new Error(`the engine did not answer ${baseUrl}/api/health within ${timeoutMs / 1000} s`);
			await new Promise((r) => setTimeout(r, 250));
		}
		// The engine that answers is this one: it takes this run's (random) admin token.
		const res = await fetch(`${baseUrl}/api/admin/drops?limit=1`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(10_000) });
		if (res.status !== 200) throw new Error(`what answers on ${baseUrl} refuses this engine's admin token (${res.status}): another engine holds the port`);
	} catch (err) {
		await stop();
		throw Object.assign(new Error(`${err.message}\n--- engine output (tail) ---\n${output.slice(-4000)}`), { cause: err });
	}
	return { baseUrl, adminToken, pid, stateDir, logFile, output: () => output, sqliteNoMem: () => sqliteNoMem, stop };
}

async function answers(url) {
	try {
		return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
	} catch {
		return false;
	}
}

function signalGroup(pid, signal) {
	try {
		process.kill(-pid, signal);
	} catch {
		// already gone
	}
}

function signalPid(pid, signal) {
	try {
		process.kill(pid, signal);
	} catch {
		// already gone
	}
}

/** The processes under a pid, from /proc (the engine runs the Worker in workerd, two levels down). */
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

/**
 * The address of the workerd that runs the Worker, past wrangler's proxy: of the workerd
 * processes under `rootPid`, the one not serving `outerPort` (that one runs the ProxyWorker),
 * on the port of its own (from `ss -ltnp`, by pid) that answers `probePath` with a 2xx.
 * workerd takes a new port when wrangler restarts it, so the address holds for one start.
 */
export async function innerWorkerUrl(rootPid, outerPort, probePath) {
	const workerds = workerdPids(rootPid);
	const inner = workerds.filter((pid) => !commandOf(pid).some((a) => a.endsWith(`=127.0.0.1:${outerPort}`)));
	const listening = spawnSync("ss", ["-ltnpH"], { encoding: "utf8" }).stdout.split("\n");
	for (const pid of inner) {
		const ports = listening.filter((l) => l.includes(`pid=${pid},`)).map((l) => /127\.0\.0\.1:(\d+)\s/.exec(l)?.[1]).filter(Boolean);
		for (const p of ports) {
			try {
				if ((await fetch(`http://127.0.0.1:${p}${probePath}`, { signal: AbortSignal.timeout(3_000) })).ok) return `http://127.0.0.1:${p}`;
			} catch {
				// the inspector or the debug port: not the Worker
			}
		}
	}
	throw new Error(`no workerd under pid ${rootPid} other than the proxy's answers ${probePath}`);
}

/** The workerd processes under `rootPid`: wrangler dev's proxy and the one that runs the Worker. */
export function workerdPids(rootPid) {
	return descendantPids(rootPid).filter((pid) => commandOf(pid)[0]?.endsWith("/workerd"));
}

/**
 * Notices each workerd that starts under the engine after this call, looking every `intervalMs`.
 * wrangler dev starts workerd again whenever it reloads (a file it bundles or serves changed, such as
 * an edit under src/ in the checkout it runs from) and if workerd exits: everything workerd held in
 * memory is gone then, the local Queue's messages among it (Miniflare's queue broker keeps them only
 * in memory), and the reloaded engine runs whatever the files now say. `list` and `now` are for tests.
 * Returns { restarts() (each new workerd as { at, pid }, looking once more first), stop() }.
 */
export function watchRestarts(rootPid, { intervalMs = 1000, list = () => workerdPids(rootPid), now = Date.now } = {}) {
	const seen = new Set(list());
	const restarts = [];
	const look = () => {
		for (const pid of list()) {
			if (seen.has(pid)) continue;
			seen.add(pid);
			restarts.push({ at: now(), pid });
		}
	};
	const timer = setInterval(look, intervalMs);
	timer.unref?.();
	return {
		restarts() {
			look();
			return restarts.slice();
		},
		stop() {
			clearInterval(timer);
		},
	};
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
