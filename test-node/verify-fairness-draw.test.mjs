// The registered window's draw, checked the way anyone can: the rule's uniformity
// by a chi-square test over many seeds (and a negative control, a biased draw the
// test rejects), and `npm run verify-fairness -- --draw` against a small local
// server publishing a draw: a true draw verifies, a draw with one invited id
// swapped, a seed that is not the committed one, or a count that is not the one
// asked, does not; before the draw the commitment alone is shown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { chiSquareUpperTail, drawInvited, drawOrder, drawUniformity, runSeeds } from "../loadtest/lib/draw.js";
import { seededRandom, uniformInt } from "../loadtest/lib/fairness.js";
import { UNIFORMITY_ALPHA, ruleUniformity } from "../scripts/lib/verify-draw.mjs";

const script = fileURLToPath(new URL("../scripts/verify-fairness.mjs", import.meta.url));
const sha256Hex = (text) => createHash("sha256").update(text, "utf8").digest("hex");

/** The classic wrong shuffle (every place swapped with any place): n^n paths onto n! orders, so some orders are likelier. */
function naiveDraw(seed, ids, k) {
	const s = drawOrder(ids);
	const next = seededRandom(seed);
	for (let i = 0; i < s.length; i++) {
		const j = uniformInt(next, s.length);
		[s[i], s[j]] = [s[j], s[i]];
	}
	return s.slice(0, k);
}

/** A promoter's thumb on the scale: one draw in ten, the first registrations are invited instead. */
function earlyFavouringDraw(seed, ids, k) {
	return parseInt(seed.slice(0, 8), 16) % 10 === 0 ? drawOrder(ids).slice(0, k) : drawInvited(seed, ids, k);
}

test("the chi-square tail matches the table: 54.57 on 39 df is p = 0.05, 62.43 is 0.01", () => {
	assert.ok(Math.abs(chiSquareUpperTail(54.572, 39) - 0.05) < 0.002);
	assert.ok(Math.abs(chiSquareUpperTail(62.428, 39) - 0.01) < 0.001);
	assert.ok(Math.abs(chiSquareUpperTail(39, 39) - 0.47) < 0.02);
});

test("the draw's rule is uniform: every registration invited as often, by chi-square over 2,000 seeds (several sizes)", () => {
	const rule = ruleUniformity(sha256Hex);
	assert.ok(rule.p >= UNIFORMITY_ALPHA, `p = ${rule.p}`);
	assert.equal(rule.counts.reduce((a, b) => a + b, 0), 2000 * 10);
	for (const [n, k, label] of [[25, 1, "one"], [60, 30, "half"], [12, 11, "all but one"]]) {
		const run = drawUniformity(drawInvited, runSeeds(sha256Hex, label, 2000), n, k);
		assert.ok(run.p >= UNIFORMITY_ALPHA, `${label}: p = ${run.p}`);
	}
});

test("negative controls: a biased draw is rejected by the same test", () => {
	const naive = ruleUniformity(sha256Hex, naiveDraw);
	assert.ok(naive.p < UNIFORMITY_ALPHA, `the naive shuffle passed: p = ${naive.p}`);
	const thumb = ruleUniformity(sha256Hex, earlyFavouringDraw);
	assert.ok(thumb.p < UNIFORMITY_ALPHA, `the early-favouring draw passed: p = ${thumb.p}`);
});

function published(overrides = {}) {
	const seed = randomBytes(16).toString("hex");
	const registrations = drawOrder(Array.from({ length: 30 }, () => `r_${randomBytes(12).toString("base64url")}`));
	const invited = drawInvited(seed, registrations, 8);
	return {
		dropId: "d_draw",
		window: "verified",
		algorithm: "the verified registration ids ascending, shuffled; the first invites invited",
		registrationOpensAt: "2026-12-01T09:00:00.000Z",
		registrationClosesAt: "2026-12-01T10:00:00.000Z",
		invites: 8,
		seedCommitment: sha256Hex(seed),
		committedAt: "2026-12-01T09:00:01.000Z",
		seed,
		drawnAt: "2026-12-01T10:00:30.000Z",
		registered: registrations.length,
		drawn: invited.length,
		registrations,
		invited,
		...overrides,
	};
}

async function serve(draw) {
	const server = createServer((req, res) => {
		const url = new URL(req.url, "http://127.0.0.1");
		const found = url.pathname === "/api/drops/d_draw/draw";
		res.writeHead(found ? 200 : 404, { "content-type": "application/json" });
		res.end(JSON.stringify(found ? draw : { error: { code: "not_found" } }));
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { server, baseUrl: `http://127.0.0.1:${server.address().port}` };
}

function run(args) {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		child.stdout.on("data", (d) => (out += d));
		child.stderr.on("data", (d) => (out += d));
		const timer = setTimeout(() => child.kill(), 30_000);
		child.on("error", reject);
		child.on("close", (code) => {
			clearTimeout(timer);
			resolve({ code, out });
		});
	});
}

async function verifyAgainst(draw, extra = []) {
	const { server, baseUrl } = await serve(draw);
	try {
		return await run(["--base-url", baseUrl, "--drop", "d_draw", "--draw", ...extra]);
	} finally {
		server.close();
	}
}

test("verify-fairness --draw: a true draw verifies from its public answer, and a fan finds their registration", async () => {
	const draw = published();
	const notInvited = draw.registrations.find((id) => !draw.invited.includes(id));
	const { code, out } = await verifyAgainst(draw, ["--registration", draw.invited[0], "--registration", notInvited]);
	assert.equal(code, 0, out);
	assert.match(out, /✓ sha256\(seed\) equals the commitment/);
	assert.match(out, /drawn +8 of 30/);
	assert.match(out, new RegExp(`registration ${draw.invited[0]}: ✓ listed, invited`));
	assert.match(out, new RegExp(`registration ${notInvited}: ✓ listed, not invited`));
	assert.match(out, /rule +chi-square .* ✓ uniform/);
	assert.match(out, /✓ verified/);
});

test("verify-fairness --draw: a swapped invitee, another seed, or a short count does not verify", async () => {
	const draw = published();
	const outsider = draw.registrations.find((id) => !draw.invited.includes(id));
	const cases = [
		[{ invited: drawOrder([outsider, ...draw.invited.slice(1)]) }, /published invited list is not the one the seed derives/],
		[{ seed: randomBytes(16).toString("hex") }, /sha256\(seed\) is NOT the commitment/],
		[{ drawn: 7, invited: draw.invited.slice(0, 7) }, /drawn is 7, the rule draws 8/],
		[{ registrations: draw.registrations.slice(1) }, /the list has 29 registrations, the answer says 30/],
	];
	for (const [overrides, failure] of cases) {
		const { code, out } = await verifyAgainst({ ...draw, ...overrides });
		assert.equal(code, 1, out);
		assert.match(out, failure);
	}
	const { code, out } = await verifyAgainst(draw, ["--registration", "r_not-a-registration"]);
	assert.equal(code, 1, out);
	assert.match(out, /not in the published list/);
});

test("verify-fairness --draw before the draw shows the commitment and waits for the seed", async () => {
	const { code, out } = await verifyAgainst(published({ seed: null, drawnAt: null, registered: null, drawn: null, registrations: null, invited: null }));
	assert.equal(code, 0, out);
	assert.match(out, /not revealed yet/);
	const wrong = await verifyAgainst(published(), ["--window", "other"]);
	assert.equal(wrong.code, 2, wrong.out);
});
