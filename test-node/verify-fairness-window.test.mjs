// `npm run verify-fairness -- --window ID` against a small local server that
// publishes a drop's general line and one sale window's line, each with its own
// seed: the window's shuffle is what is checked (a fan's told position verifies,
// a wrong one fails), and an answer for another line than the one asked for is
// refused rather than verified.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { prequeuePosition } from "../loadtest/lib/fairness.js";

const script = fileURLToPath(new URL("../scripts/verify-fairness.mjs", import.meta.url));
const sha256Hex = (text) => createHash("sha256").update(text, "utf8").digest("hex");

function line(seed, counts, window) {
	const size = counts.reduce((a, b) => a + b, 0);
	return {
		dropId: "d_presale",
		...(window ? { window } : {}),
		algorithm: "sha256-ctr-fisher-yates",
		seedCommitment: sha256Hex(seed),
		seed,
		lines: counts.length,
		prequeue: counts,
		prequeueSize: size,
		admittedThrough: 0,
		lastPosition: size,
		opensAt: "2026-12-01T10:00:00.000Z",
		serverTime: "2026-12-01T10:00:05.000Z",
	};
}

/** Serves the general line at /fairness and the window's at /fairness?window=club; `wrongLine` answers the general one for both. */
async function serve({ wrongLine = false } = {}) {
	const general = line(randomBytes(16).toString("hex"), [4, 1]);
	const club = line(randomBytes(16).toString("hex"), [3, 2], "club");
	const server = createServer((req, res) => {
		const url = new URL(req.url, "http://127.0.0.1");
		const body = url.pathname === "/api/drops/d_presale/fairness" ? (url.searchParams.get("window") === "club" && !wrongLine ? club : general) : null;
		res.writeHead(body === null ? 404 : 200, { "content-type": "application/json" });
		res.end(JSON.stringify(body ?? { error: { code: "not_found" } }));
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { server, general, club, baseUrl: `http://127.0.0.1:${server.address().port}` };
}

function run(args) {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		child.stdout.on("data", (d) => (out += d));
		child.stderr.on("data", (d) => (out += d));
		const timer = setTimeout(() => child.kill(), 20_000);
		child.on("error", reject);
		child.on("close", (code) => {
			clearTimeout(timer);
			resolve({ code, out });
		});
	});
}

test("--window checks the window's own shuffle: a told position verifies, a wrong one fails", async () => {
	const { server, club, baseUrl } = await serve();
	try {
		const pos = prequeuePosition(club.seed, club.prequeue, 1, 2);
		const good = await run(["--base-url", baseUrl, "--drop", "d_presale", "--window", "club", "--fan", `1:2:${pos}`]);
		assert.equal(good.code, 0, good.out);
		assert.match(good.out, /window\s+club/);
		assert.match(good.out, new RegExp(`commitment\\s+${club.seedCommitment}`));
		assert.match(good.out, /✓ verified/);
		const wrong = pos === 1 ? 2 : 1;
		const bad = await run(["--base-url", baseUrl, "--drop", "d_presale", "--window", "club", "--fan", `1:2:${wrong}`]);
		assert.equal(bad.code, 1, bad.out);
		assert.match(bad.out, new RegExp(`derived ${pos}`));
	} finally {
		server.close();
	}
});

test("--window refuses an answer for another line than the window's", async () => {
	const { server, baseUrl } = await serve({ wrongLine: true });
	try {
		const res = await run(["--base-url", baseUrl, "--drop", "d_presale", "--window", "club"]);
		assert.equal(res.code, 2, res.out);
		assert.match(res.out, /asked for window club/);
	} finally {
		server.close();
	}
});
