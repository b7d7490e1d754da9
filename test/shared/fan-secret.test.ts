// Only the fan who joined continues as that fan. Without fan identity mode a
// fan id is whatever the client says (an email, a customer number), so the
// first join of an id answers a secret (or takes the client's own), the fan's
// line keeps only its SHA-256, and a rejoin under that id must bring it: a
// missing or wrong secret is refused with 409 `fan_id_taken` and changes
// nothing, while the real fan's reload or second tab keeps their place.
import { runInDurableObject } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { newFanSecret } from "../../src/shared/fan-secret";
import { createDrop } from "../support/drops";
import { type JoinJson, fanSecretOf, hold, postJoin, status } from "../support/fans";
import { restartObjects } from "../support/objects";
import { admitBatch, lineRows, lineStub } from "../support/room";
import type { EnvOverrides } from "../support/worker";
import { sha256Hex } from "../../src/shared/crypto";

/** A join from client address `ip`, with exactly `body` (no secret added). */
const joinAs = (dropId: string, body: Record<string, unknown>, ip = "203.0.113.200", env: EnvOverrides = {}) => postJoin(dropId, body, { ip, env });

const placeOf = (j: JoinJson) => ({ line: j.line, slot: j.slot, slotIndex: j.slotIndex, position: j.position });
/** A secret of the right form that is not `secret`. */
const otherThan = (secret: string) => `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
const openDrop = (overrides: Record<string, unknown> = {}) =>
	createDrop({ capacity: 10, maxPerFan: 2, admission: { batchSize: 1, intervalMs: 600_000, activeMultiple: 20 }, ...overrides });
const noLimits: EnvOverrides = { JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "0" };

async function expectTaken(res: Response, what: string): Promise<void> {
	expect(res.status, what).toBe(409);
	const body = (await res.json()) as Record<string, unknown>;
	expect(body, what).toEqual({ error: { code: "fan_id_taken", message: expect.stringContaining("fanSecret"), field: "fanSecret" } });
}

describe("a rejoin must prove it is the fan who joined", () => {
	it("someone who knows a fan's id cannot take their place; nothing changes, and the real fan keeps their place and their turn", async () => {
		const drop = await openDrop();
		const fanId = "fan@example.com";
		const first = await joinAs(drop.id, { fanId }, "198.51.100.10");
		expect(first.status).toBe(201);
		const victim = (await first.json()) as JoinJson;
		expect(victim.fanSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
		// The line keeps the secret's SHA-256, never the secret.
		const before = await lineRows(drop.id);
		expect(before).toHaveLength(1);
		expect(before[0]!.secret_hash).toBe(await sha256Hex(victim.fanSecret!));
		expect(JSON.stringify(before)).not.toContain(victim.fanSecret);

		// The id alone, a secret of the attacker's own, one character off: refused, nothing to use in the answer.
		for (const [what, body] of [
			["no secret", { fanId }],
			["the attacker's own secret", { fanId, fanSecret: newFanSecret() }],
			["one character off", { fanId, fanSecret: otherThan(victim.fanSecret!) }],
		] as const) {
			await expectTaken(await joinAs(drop.id, body, "192.0.2.66"), what);
		}
		expect(await lineRows(drop.id)).toEqual(before);

		// The real fan, reloading: the same place, and the secret is not shown again.
		const again = await joinAs(drop.id, { fanId, fanSecret: victim.fanSecret }, "198.51.100.10");
		expect(again.status).toBe(200);
		const rejoined = (await again.json()) as JoinJson;
		expect(rejoined).toMatchObject({ fanId, rejoined: true, fanSecret: null, ...placeOf(victim) });

		// Admitted: the turn, and the tickets, are the real fan's.
		await admitBatch(drop.id);
		const polled = await status(drop.id, rejoined.queueToken);
		expect(polled.status).toBe("admitted");
		const held = await hold(drop.id, polled.accessToken as string, 2);
		expect(held.status).toBe(201);
		// Naming the id during the turn still gets nothing.
		await expectTaken(await joinAs(drop.id, { fanId }, "192.0.2.66"), "during the turn");
		expect(await lineRows(drop.id)).toEqual(before);
	});

	it("a secret the client chose becomes the fan's at the first join, so a join whose answer was lost can be sent again", async () => {
		const drop = await openDrop();
		const mine = fanSecretOf(drop.id, "chooser");
		const first = await joinAs(drop.id, { fanId: "chooser", fanSecret: mine });
		expect(first.status).toBe(201);
		const joined = (await first.json()) as JoinJson;
		expect(joined.fanSecret).toBe(mine);
		// The same request again, as after a lost answer: the same place.
		const repeat = await joinAs(drop.id, { fanId: "chooser", fanSecret: mine });
		expect(repeat.status).toBe(200);
		expect((await repeat.json()) as JoinJson).toMatchObject({ rejoined: true, fanSecret: null, ...placeOf(joined) });
		await expectTaken(await joinAs(drop.id, { fanId: "chooser", fanSecret: otherThan(mine) }), "another secret");
		// A fan who sends none is given one, made by the server.
		const plain = (await (await joinAs(drop.id, { fanId: "plain" })).json()) as JoinJson;
		expect(plain.fanSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(plain.fanSecret).not.toBe(mine);
		expect((await lineRows(drop.id)).map((r) => r.fan_id)).toEqual(["chooser", "plain"]);
	});

	it("concurrent joins under one id: the fan with the secret always gets their place, everyone else 409, and only the first join of a new id makes a place", async () => {
		const drop = await openDrop();
		const owner = (await (await joinAs(drop.id, { fanId: "popular" }, "198.51.100.20", noLimits)).json()) as JoinJson;
		const before = await lineRows(drop.id);
		const kinds = Array.from({ length: 60 }, (_, i) => (["right", "none", "wrong"] as const)[i % 3]!);
		const answers = await Promise.all(
			kinds.map((kind, i) => {
				const body = kind === "right" ? { fanId: "popular", fanSecret: owner.fanSecret } : kind === "none" ? { fanId: "popular" } : { fanId: "popular", fanSecret: otherThan(owner.fanSecret!) };
				return joinAs(drop.id, body, `203.0.113.${i + 1}`, noLimits);
			}),
		);
		for (const [i, res] of answers.entries()) {
			if (kinds[i] === "right") {
				expect(res.status).toBe(200);
				expect((await res.json()) as JoinJson).toMatchObject({ rejoined: true, ...placeOf(owner) });
			} else {
				await expectTaken(res, kinds[i]!);
			}
		}
		expect(await lineRows(drop.id)).toEqual(before);

		// Ten first joins of a new id at once, each with its own secret: one place, whose secret it keeps.
		const secrets = Array.from({ length: 10 }, () => newFanSecret());
		const race = await Promise.all(secrets.map((fanSecret, i) => joinAs(drop.id, { fanId: "contested", fanSecret }, `198.51.100.${100 + i}`, noLimits)));
		const statuses = race.map((r) => r.status);
		expect(statuses.filter((s) => s === 201)).toHaveLength(1);
		expect(statuses.filter((s) => s === 409)).toHaveLength(9);
		const winner = secrets[statuses.indexOf(201)]!;
		const rows = await lineRows(drop.id);
		expect(rows.map((r) => r.fan_id)).toEqual(["popular", "contested"]);
		expect(rows[1]!.secret_hash).toBe(await sha256Hex(winner));
		expect((await joinAs(drop.id, { fanId: "contested", fanSecret: winner }, "198.51.100.100", noLimits)).status).toBe(200);
	});

	it("wrong secrets count toward the join limits, so a secret cannot be guessed at speed; the fan's own poll is untouched", async () => {
		const drop = await openDrop();
		const perFan: EnvOverrides = { JOIN_RATE_PER_IP: "0", JOIN_RATE_PER_FAN: "3" };
		const owner = (await (await joinAs(drop.id, { fanId: "guessed" }, "198.51.100.30", perFan)).json()) as JoinJson;
		await expectTaken(await joinAs(drop.id, { fanId: "guessed", fanSecret: newFanSecret() }, "192.0.2.70", perFan), "guess 1");
		await expectTaken(await joinAs(drop.id, { fanId: "guessed", fanSecret: newFanSecret() }, "192.0.2.71", perFan), "guess 2");
		const limited = await joinAs(drop.id, { fanId: "guessed", fanSecret: newFanSecret() }, "192.0.2.72", perFan);
		expect(limited.status).toBe(429);
		expect(limited.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
		// The fan already in line polls with their token, which needs no join.
		expect(["waiting", "admitted"]).toContain((await status(drop.id, owner.queueToken)).status);
	});

	it("in fan identity mode the identity token is the proof: no secret is made or needed", async () => {
		const SECRET = "promoter-shared-secret-of-decent-length";
		const identity: EnvOverrides = { FAN_IDENTITY_SECRET: SECRET, ...noLimits };
		const token = () => new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("member-7").setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
		const drop = await openDrop();
		const first = await joinAs(drop.id, { identityToken: await token() }, "198.51.100.40", identity);
		expect(first.status).toBe(201);
		const joined = (await first.json()) as JoinJson;
		expect(joined).toMatchObject({ fanId: "member-7", fanSecret: null });
		expect((await lineRows(drop.id))[0]!.secret_hash).toBeNull();
		const again = await joinAs(drop.id, { identityToken: await token() }, "198.51.100.41", identity);
		expect(again.status).toBe(200);
		expect((await again.json()) as JoinJson).toMatchObject({ rejoined: true, fanSecret: null, ...placeOf(joined) });
		// A secret sent along changes nothing.
		expect((await joinAs(drop.id, { identityToken: await token(), fanSecret: newFanSecret() }, "198.51.100.41", identity)).status).toBe(200);
		// Were identity mode switched off, the id alone would still not be enough.
		await expectTaken(await joinAs(drop.id, { fanId: "member-7" }, "192.0.2.80", noLimits), "the id without identity mode");
	});

	it("a line stored before secrets gains the column when it starts, and its earlier fans cannot be claimed by id", async () => {
		const drop = await openDrop();
		const early = (await (await joinAs(drop.id, { fanId: "early-fan" })).json()) as JoinJson;
		// The line as an earlier version left it: no secret_hash column.
		await runInDurableObject(lineStub(drop.id, 0), (_line, state) => {
			state.storage.sql.exec(`ALTER TABLE fans DROP COLUMN secret_hash`);
		});
		await restartObjects([() => lineStub(drop.id, 0)]);
		const rows = await lineRows(drop.id);
		expect(rows).toEqual([expect.objectContaining({ fan_id: "early-fan", secret_hash: null })]);
		// Its fan keeps polling with their token; their id cannot be taken over, with or without a secret.
		expect(["waiting", "admitted"]).toContain((await status(drop.id, early.queueToken)).status);
		await expectTaken(await joinAs(drop.id, { fanId: "early-fan" }), "no secret");
		await expectTaken(await joinAs(drop.id, { fanId: "early-fan", fanSecret: early.fanSecret }), "the secret it had before the column went");
		// New fans get secrets as usual, and a second start changes nothing.
		const later = (await (await joinAs(drop.id, { fanId: "later-fan" })).json()) as JoinJson;
		await restartObjects([() => lineStub(drop.id, 0)]);
		expect((await joinAs(drop.id, { fanId: "later-fan", fanSecret: later.fanSecret })).status).toBe(200);
		expect((await lineRows(drop.id)).map((r) => [r.fan_id, r.secret_hash === null])).toEqual([
			["early-fan", true],
			["later-fan", false],
		]);
	});
});
