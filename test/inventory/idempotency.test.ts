// Invariant 4: a repeated request with the same Idempotency-Key returns the first
// answer and changes nothing; a repeated purchase returns the same order.
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { homeShard } from "../../src/inventory/drop-shards";
import { audit, expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { type HoldJson, type OrderJson, admittedFans, hold, newHold, newKey, purchase, releaseHold } from "../support/fans";
import { paymentFor } from "../support/payments";
import { untilEveryOutcome } from "../support/races";
import { rowCount, shardOfHold } from "../support/shards";
import { fanFetch } from "../support/worker";

describe("idempotent holds", () => {
	it("the same key and body return the same hold and change nothing", async () => {
		const drop = await createDrop({ capacity: 20, shards: 2, maxPerFan: 4, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["again"])).get("again")!;
		const home = homeShard("again", 2);
		const key = newKey();
		const first = await hold(drop.id, token, 2, key);
		expect(first.status).toBe(201);
		expect(first.headers.get("idempotent-replayed")).toBeNull();
		const original = (await first.json()) as HoldJson;
		const before = await audit(drop.id);

		for (let i = 0; i < 3; i++) {
			const again = await hold(drop.id, token, 2, key);
			expect(again.status).toBe(201);
			expect(again.headers.get("idempotent-replayed")).toBe("true");
			expect(await again.json()).toEqual(original);
		}
		const after = await audit(drop.id);
		expect(after.totals).toEqual(before.totals);
		expect(await rowCount(drop.id, home, "holds")).toBe(1);
		expect(await rowCount(drop.id, home, "idempotency")).toBe(1);
	});

	it("concurrent repeats of one key make one hold", async () => {
		const drop = await createDrop({ capacity: 20, shards: 4, maxPerFan: 4, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["burst"])).get("burst")!;
		const key = newKey();
		const answers = await Promise.all(Array.from({ length: 25 }, () => hold(drop.id, token, 3, key)));
		expect(answers.map((r) => r.status)).toEqual(answers.map(() => 201));
		const bodies = (await Promise.all(answers.map((r) => r.json()))) as HoldJson[];
		expect(new Set(bodies.map((b) => b.holdId)).size).toBe(1);
		expect(answers.filter((r) => r.headers.get("idempotent-replayed") === null)).toHaveLength(1);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 3, remaining: 17 });
	});

	it("the same key with a different body is refused, at once or later, and changes nothing", async () => {
		const drop = await createDrop({ capacity: 20, shards: 2, maxPerFan: 4, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["changer"])).get("changer")!;
		const key = newKey();
		expect((await hold(drop.id, token, 1, key)).status).toBe(201);
		const later = await hold(drop.id, token, 2, key);
		expect(later.status).toBe(409);
		expect(await errorCode(later)).toBe("idempotency_key_conflict");

		// While the first is still being made: one hold, the rest conflicts or replays.
		const racing = newKey();
		const answers = await Promise.all([1, 2, 1, 3, 2, 1].map((q) => hold(drop.id, token, q, racing)));
		const made = answers.filter((r) => r.status === 201);
		expect(made.length).toBeGreaterThan(0);
		const holds = (await Promise.all(made.map((r) => r.json()))) as HoldJson[];
		expect(new Set(holds.map((h) => h.holdId)).size).toBe(1);
		for (const r of answers.filter((r) => r.status !== 201)) {
			expect(r.status).toBe(409);
			expect(await errorCode(r)).toBe("idempotency_key_conflict");
		}
		const a = await expectCleanAudit(drop.id);
		expect(a.totals.held).toBe(1 + holds[0]!.quantity);
	});

	it("a different body under a key whose first request is still in flight is refused, whatever that first answer is", async () => {
		// Rounds on a fresh drop each, alternating which body is sent first, until the first answer
		// has been a refusal in one round and a hold in another.
		const seen = await untilEveryOutcome(["refused", "held"], 6, async (round) => {
			// One ticket per shard, so every hold waits on transfers from the other shards.
			const drop = await createDrop({ capacity: 4, shards: 4, maxPerFan: 4, admission: WIDE_OPEN });
			const tokens = await admittedFans(drop.id, ["early", "late"]);
			// Whichever reaches the shard first is the request; the other, with another body, is refused.
			const ok = newKey();
			const pair = await Promise.all([hold(drop.id, tokens.get("early")!, 3, ok), hold(drop.id, tokens.get("early")!, 2, ok)]);
			const outcomes = await Promise.all(pair.map(async (r) => `${r.status} ${r.status === 201 ? "" : await errorCode(r)}`.trim()));
			expect(outcomes.sort()).toEqual(["201", "409 idempotency_key_conflict"]);
			const heldFirst = pair[0]!.status === 201 ? 3 : 2;

			// What is left is too little for one body and enough for the other: the first answer,
			// a failure after asking every shard or a hold, stands, and the other body conflicts.
			const failing = newKey();
			const want = 4 - heldFirst;
			const quantities = round % 2 === 0 ? [want + 1, want] : [want, want + 1];
			const racing = await Promise.all(quantities.map((q) => hold(drop.id, tokens.get("late")!, q, failing)));
			const codes = await Promise.all(racing.map(async (r) => `${r.status} ${r.status === 201 ? "" : await errorCode(r)}`.trim()));
			expect(codes).toContain("409 idempotency_key_conflict");
			const first = codes.find((c) => c !== "409 idempotency_key_conflict");
			expect(["409 not_enough_left", "201"]).toContain(first);
			const heldLate = first === "201" ? want : 0;
			const a = await expectCleanAudit(drop.id);
			expect(a.totals).toMatchObject({ held: heldFirst + heldLate, remaining: 4 - heldFirst - heldLate });
			return [first === "201" ? "held" : "refused"];
		});
		expect(seen.refused).toBeGreaterThan(0);
		expect(seen.held).toBeGreaterThan(0);
	});

	it("keys belong to one fan: two fans with the same key get two holds", async () => {
		const drop = await createDrop({ capacity: 20, shards: 2, maxPerFan: 4, admission: WIDE_OPEN });
		const tokens = await admittedFans(drop.id, ["twin-a", "twin-b"]);
		const key = newKey();
		const a = await newHold(drop.id, tokens.get("twin-a")!, 1, key);
		const b = await newHold(drop.id, tokens.get("twin-b")!, 1, key);
		expect(a.holdId).not.toBe(b.holdId);
		expect((await audit(drop.id)).totals.held).toBe(2);
	});

	it("a replay after the hold was released returns the first answer and takes no stock", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2, maxPerFan: 4, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["undo"])).get("undo")!;
		const key = newKey();
		const first = await newHold(drop.id, token, 2, key);
		expect((await releaseHold(drop.id, token, first.holdId)).status).toBe(204);
		const replay = await hold(drop.id, token, 2, key);
		expect(replay.status).toBe(201);
		expect(((await replay.json()) as HoldJson).holdId).toBe(first.holdId);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 0, remaining: 10 });
	});

	it("a refused hold is not remembered: the same key decides again once stock is back, and a refusal writes nothing", async () => {
		const drop = await createDrop({ capacity: 1, shards: 1, maxPerFan: 1, admission: WIDE_OPEN });
		const tokens = await admittedFans(drop.id, ["first", "second"]);
		const taken = await newHold(drop.id, tokens.get("first")!, 1);
		const key = newKey();
		const before = await rowCount(drop.id, 0, "idempotency");
		const refused = await hold(drop.id, tokens.get("second")!, 1, key);
		expect(refused.status).toBe(409);
		expect(await errorCode(refused)).toBe("sold_out");
		expect(await rowCount(drop.id, 0, "idempotency")).toBe(before);
		expect((await releaseHold(drop.id, tokens.get("first")!, taken.holdId)).status).toBe(204);
		// Sold out was not final (the hold came back), so the same key now gets the ticket, and keeps it.
		const retry = await hold(drop.id, tokens.get("second")!, 1, key);
		expect(retry.status).toBe(201);
		const replay = await hold(drop.id, tokens.get("second")!, 1, key);
		expect(((await replay.json()) as HoldJson).holdId).toBe(((await retry.json()) as HoldJson).holdId);
		expect((await audit(drop.id)).totals).toMatchObject({ held: 1, remaining: 0 });
	});

	it("a hold without a usable key is refused before anything is held", async () => {
		const drop = await createDrop({ capacity: 5, shards: 1, maxPerFan: 2, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["keyless"])).get("keyless")!;
		const none = await fanFetch(`/api/drops/${drop.id}/holds`, token, { method: "POST", body: JSON.stringify({ quantity: 1 }) });
		expect(none.status).toBe(400);
		expect(await errorCode(none)).toBe("missing_idempotency_key");
		const bad = await hold(drop.id, token, 1, "spaces are not allowed");
		expect(bad.status).toBe(400);
		expect(await errorCode(bad)).toBe("invalid_idempotency_key");
		expect((await audit(drop.id)).totals).toMatchObject({ held: 0, remaining: 5 });
	});
});

describe("idempotent purchases", () => {
	it("a repeated purchase returns the same order, sequentially and concurrently, and sells once", async () => {
		const drop = await createDrop({ capacity: 10, shards: 2, maxPerFan: 4, priceCents: 2_500, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["buyer"])).get("buyer")!;
		const h = await newHold(drop.id, token, 3);

		const burst = await Promise.all(Array.from({ length: 10 }, () => purchase(drop.id, token, h.holdId)));
		expect(burst.map((r) => r.status)).toEqual(burst.map(() => 201));
		const orders = (await Promise.all(burst.map((r) => r.json()))) as OrderJson[];
		expect(new Set(orders.map((o) => o.orderId)).size).toBe(1);
		expect(new Set(orders.map((o) => o.tickets.join()))).toHaveProperty("size", 1);
		const order = orders[0]!;
		expect(order).toMatchObject({ holdId: h.holdId, quantity: 3, totalCents: 7_500 });

		const later = await purchase(drop.id, token, h.holdId);
		expect(later.status).toBe(201);
		expect(later.headers.get("idempotent-replayed")).toBe("true");
		// The same answer; its order token is signed afresh (ES256 signatures differ), with the same claims.
		const { orderToken, ...replayed } = (await later.json()) as OrderJson & { orderToken: string };
		const { orderToken: firstToken, ...first } = order as OrderJson & { orderToken: string };
		expect(replayed).toEqual(first);
		expect(decodeJwt(orderToken)).toEqual(decodeJwt(firstToken));
		for (const o of orders as (OrderJson & { orderToken: string })[]) expect(decodeJwt(o.orderToken)).toEqual(decodeJwt(firstToken));

		const shard = shardOfHold(h.holdId);
		expect(await rowCount(drop.id, shard, "orders")).toBe(1);
		expect(await rowCount(drop.id, shard, "outbox")).toBe(1);
		// One payment, never refunded.
		expect(paymentFor(h.holdId)).toMatchObject({ amountCents: 7_500, refunded: false });
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ sold: 3, held: 0, remaining: 7, orders: 1 });
	});
});
