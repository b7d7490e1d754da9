// Holds end one way only: bought, released, or expired with their stock given
// back, whatever order the alarm, the fan and the payment arrive in.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { audit, expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { type OrderJson, admittedFans, newHold, purchase, releaseHold } from "../support/fans";
import { restartObjects } from "../support/objects";
import { paymentFor } from "../support/payments";
import { untilEveryOutcome } from "../support/races";
import { backdateHold, expireHold, holdState, shardOfHold, shardStub } from "../support/shards";
import { testProvider } from "../../src/payments/test-provider";

afterEach(() => {
	vi.restoreAllMocks();
});

/** A fresh drop of `count` tickets with `count` admitted fans, each holding one: the racers of a race test. */
async function racers(prefix: string, count: number) {
	const drop = await createDrop({ capacity: count, priceCents: 500, shards: 2, maxPerFan: 1, admission: WIDE_OPEN });
	const fans = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
	const tokens = await admittedFans(drop.id, fans);
	const holds = await Promise.all(fans.map((f) => newHold(drop.id, tokens.get(f)!)));
	return { drop, fans, tokens, holds };
}

describe("expiry", () => {
	it("the alarm gives an expired hold's stock back, and buying it afterwards answers 410 without charging", async () => {
		const drop = await createDrop({ capacity: 10, priceCents: 500, shards: 2, maxPerFan: 4, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["slow"])).get("slow")!;
		const h = await newHold(drop.id, token, 3);
		expect((await audit(drop.id)).totals).toMatchObject({ held: 3, remaining: 7 });

		expect(await expireHold(drop.id, h.holdId)).toBe(true);
		expect(await holdState(drop.id, h.holdId)).toBe("expired");
		expect((await audit(drop.id)).totals).toMatchObject({ held: 0, remaining: 10 });

		const late = await purchase(drop.id, token, h.holdId);
		expect(late.status).toBe(410);
		expect(await errorCode(late)).toBe("hold_expired");
		expect(paymentFor(h.holdId)).toBeUndefined();
		await expectCleanAudit(drop.id);
	});

	it("a hold past its time is given back when it is bought even if the alarm has not fired", async () => {
		const drop = await createDrop({ capacity: 5, priceCents: 500, shards: 1, maxPerFan: 4, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["early-bird"])).get("early-bird")!;
		const h = await newHold(drop.id, token, 2);
		await backdateHold(drop.id, h.holdId);
		const res = await purchase(drop.id, token, h.holdId);
		expect(res.status).toBe(410);
		expect(await holdState(drop.id, h.holdId)).toBe("expired");
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 0, remaining: 5, sold: 0 });
	});

	it("an alarm fired twice and late returns each expired hold once and leaves the others alone", async () => {
		const drop = await createDrop({ capacity: 10, priceCents: 500, shards: 1, maxPerFan: 4, admission: WIDE_OPEN });
		const tokens = await admittedFans(drop.id, ["gone", "staying", "bought"]);
		const gone = await newHold(drop.id, tokens.get("gone")!, 2);
		const staying = await newHold(drop.id, tokens.get("staying")!, 3);
		const bought = await newHold(drop.id, tokens.get("bought")!, 1);
		expect((await purchase(drop.id, tokens.get("bought")!, bought.holdId)).status).toBe(201);
		// The alarm fires an hour after "gone" ran out; the purchased hold is also long past its time.
		await backdateHold(drop.id, gone.holdId, 3_600_000);
		await backdateHold(drop.id, bought.holdId, 3_600_000);
		const shard = shardStub(drop.id, 0);

		expect(await runDurableObjectAlarm(shard)).toBe(true);
		const once = await audit(drop.id);
		expect(once.totals).toMatchObject({ sold: 1, held: 3, remaining: 6 });
		// The runtime may deliver the same alarm again: nothing more changes.
		await runInDurableObject(shard, (instance: InventoryShard) => instance.alarm());
		await runInDurableObject(shard, (instance: InventoryShard) => instance.alarm());
		expect((await audit(drop.id)).totals).toEqual(once.totals);
		expect(await holdState(drop.id, gone.holdId)).toBe("expired");
		expect(await holdState(drop.id, staying.holdId)).toBe("active");
		expect(await holdState(drop.id, bought.holdId)).toBe("purchased");

		// The alarm rescheduled itself from storage for the hold still running.
		const next = await runInDurableObject(shard, (_s, state) => state.storage.getAlarm());
		expect(next).toBe(Date.parse(staying.expiresAt));
		await expectCleanAudit(drop.id);
	});

	it("the alarm is set again from storage after the object restarts", async () => {
		const drop = await createDrop({ capacity: 10, priceCents: 500, shards: 1, maxPerFan: 4, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["restart"])).get("restart")!;
		const h = await newHold(drop.id, token, 1);
		// The alarm is lost (as if deleted by a run that then crashed) and memory with it; the next hold sets it again.
		await runInDurableObject(shardStub(drop.id, 0), (_s, state) => state.storage.deleteAlarm());
		await restartObjects([() => shardStub(drop.id, 0)]);
		await newHold(drop.id, token, 1);
		expect(await runInDurableObject(shardStub(drop.id, 0), (_s, state) => state.storage.getAlarm())).toBe(Date.parse(h.expiresAt));
	});
});

describe("a purchase racing its hold's expiry", () => {
	it("ends with exactly one outcome: an order that stays sold, or an expiry with the stock back and any charge refunded; each side wins some races", async () => {
		// Rounds of 24 races, each on a fresh drop, until both outcomes have happened (a purchase
		// that ran out mid-charge and was refunded is forced in the next test).
		const seen = await untilEveryOutcome(["sold", "expired"], 5, async () => {
			const { drop, fans, tokens, holds } = await racers("racer", 24);

			const results = await Promise.all(
				fans.map(async (f, i) => {
					const h = holds[i]!;
					const expiry = (async () => {
						// Stagger the expiry against the purchase: some alarms win, some purchases do.
						for (let k = 0; k < i % 4; k++) await audit(drop.id);
						await expireHold(drop.id, h.holdId);
					})();
					const [res] = await Promise.all([purchase(drop.id, tokens.get(f)!, h.holdId), expiry]);
					return { f, h, res };
				}),
			);

			const outcomes: ("sold" | "expired")[] = [];
			for (const { f, h, res } of results) {
				const state = await holdState(drop.id, h.holdId);
				const payment = paymentFor(h.holdId);
				if (res.status === 201) {
					const order = (await res.json()) as OrderJson;
					expect(order.holdId).toBe(h.holdId);
					expect(state).toBe("purchased");
					expect(payment?.refunded).toBe(false);
					outcomes.push("sold");
				} else {
					expect(res.status).toBe(410);
					expect(await errorCode(res)).toBe("hold_expired");
					expect(state).toBe("expired");
					// Charged while the hold ran out: refunded. Refused before charging: never charged.
					if (payment) expect(payment.refunded).toBe(true);
					outcomes.push("expired");
				}
				// Asking again gives the same outcome.
				const again = await purchase(drop.id, tokens.get(f)!, h.holdId);
				expect(again.status).toBe(res.status);
			}
			const sold = outcomes.filter((o) => o === "sold").length;
			const a = await expectCleanAudit(drop.id);
			expect(a.totals).toMatchObject({ sold, held: 0, remaining: 24 - sold, orders: sold });
			return outcomes;
		});
		expect(seen.sold).toBeGreaterThan(0);
		expect(seen.expired).toBeGreaterThan(0);
	});

	it("a hold that runs out while the payment runs answers 410 and refunds the charge", async () => {
		const drop = await createDrop({ capacity: 5, priceCents: 500, shards: 2, maxPerFan: 2, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["unlucky"])).get("unlucky")!;
		const h = await newHold(drop.id, token, 2);
		const charge = testProvider.charge.bind(testProvider);
		// The payment takes long enough for the hold to expire and the alarm to take the stock back.
		vi.spyOn(testProvider, "charge").mockImplementation(async (input) => {
			await expireHold(drop.id, h.holdId);
			return charge(input);
		});
		const res = await purchase(drop.id, token, h.holdId);
		expect(res.status).toBe(410);
		expect(await errorCode(res)).toBe("hold_expired");
		expect(paymentFor(h.holdId)).toMatchObject({ refunded: true });
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ sold: 0, held: 0, remaining: 5, orders: 0 });
	});

	it("the shard decides once: completing a purchase after the hold expired is refused and sells nothing", async () => {
		const drop = await createDrop({ capacity: 3, priceCents: 500, shards: 1, maxPerFan: 3, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["direct"])).get("direct")!;
		const h = await newHold(drop.id, token, 3);
		const shard = shardStub(drop.id, shardOfHold(h.holdId));
		await expireHold(drop.id, h.holdId);
		// The ledger's own step, as a payment that ran past the hold's end would reach it.
		const done = await runInDurableObject(shard, (instance: InventoryShard) =>
			instance["ledger"].charges.completePurchase({ holdId: h.holdId, key: "k", paymentId: "pay_x", now: Date.now() }),
		);
		expect(done).toMatchObject({ ok: false, status: 410, code: "hold_expired" });
		expect((await audit(drop.id)).totals).toMatchObject({ sold: 0, held: 0, remaining: 3 });
	});
});

describe("payment and release", () => {
	it("a declined payment answers 402 and keeps the hold, which can then be bought", async () => {
		const drop = await createDrop({ capacity: 5, priceCents: 500, shards: 2, maxPerFan: 2, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["declined"])).get("declined")!;
		const h = await newHold(drop.id, token, 2);
		const declined = await purchase(drop.id, token, h.holdId, "decline");
		expect(declined.status).toBe(402);
		const body = (await declined.json()) as { error: { code: string; holdId: string; holdKept: boolean } };
		expect(body.error).toMatchObject({ code: "payment_declined", holdId: h.holdId, holdKept: true });
		expect(await holdState(drop.id, h.holdId)).toBe("active");
		expect((await audit(drop.id)).totals).toMatchObject({ held: 2, sold: 0, remaining: 3 });

		const paid = await purchase(drop.id, token, h.holdId);
		expect(paid.status).toBe(201);
		expect(((await paid.json()) as OrderJson).quantity).toBe(2);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ held: 0, sold: 2, remaining: 3 });
	});

	it("DELETE gives the tickets back once; the hold can no longer be bought", async () => {
		const drop = await createDrop({ capacity: 6, priceCents: 500, shards: 2, maxPerFan: 3, admission: WIDE_OPEN });
		const tokens = await admittedFans(drop.id, ["leaver", "stranger"]);
		const token = tokens.get("leaver")!;
		const h = await newHold(drop.id, token, 3);
		expect((await releaseHold(drop.id, tokens.get("stranger")!, h.holdId)).status).toBe(404);
		expect((await audit(drop.id)).totals.held).toBe(3);

		expect((await releaseHold(drop.id, token, h.holdId)).status).toBe(204);
		expect((await releaseHold(drop.id, token, h.holdId)).status).toBe(204);
		expect(await holdState(drop.id, h.holdId)).toBe("released");
		expect((await audit(drop.id)).totals).toMatchObject({ held: 0, remaining: 6 });

		const late = await purchase(drop.id, token, h.holdId);
		expect(late.status).toBe(410);
		expect(await errorCode(late)).toBe("hold_released");
		// Expiring a released hold changes nothing either.
		expect(await expireHold(drop.id, h.holdId)).toBe(true);
		expect(await holdState(drop.id, h.holdId)).toBe("released");
		await expectCleanAudit(drop.id);
	});

	it("a bought hold cannot be released, and unknown holds are 404", async () => {
		const drop = await createDrop({ capacity: 6, priceCents: 500, shards: 2, maxPerFan: 3, admission: WIDE_OPEN });
		const token = (await admittedFans(drop.id, ["keeper"])).get("keeper")!;
		const h = await newHold(drop.id, token, 1);
		expect((await purchase(drop.id, token, h.holdId)).status).toBe(201);
		const res = await releaseHold(drop.id, token, h.holdId);
		expect(res.status).toBe(409);
		expect(await errorCode(res)).toBe("already_purchased");
		const unknown = h.holdId.slice(0, -4) + (h.holdId.endsWith("AAAA") ? "BBBB" : "AAAA");
		expect((await releaseHold(drop.id, token, unknown)).status).toBe(404);
		expect((await purchase(drop.id, token, unknown)).status).toBe(404);
		const a = await expectCleanAudit(drop.id);
		expect(a.totals).toMatchObject({ sold: 1, held: 0, remaining: 5 });
	});

	it("a release racing the purchase of the same hold ends with one outcome; each side wins some races", async () => {
		// Rounds of 20 races, each on a fresh drop, until the purchase has won one and the release one.
		const seen = await untilEveryOutcome(["sold", "released"], 5, async () => {
			const { drop, fans, tokens, holds } = await racers("torn", 20);
			const pairs = await Promise.all(
				fans.map((f, i) => {
					const release = (async () => {
						// Stagger the release against the purchase so that each wins some of the races.
						for (let k = 0; k < i % 3; k++) await audit(drop.id);
						return releaseHold(drop.id, tokens.get(f)!, holds[i]!.holdId);
					})();
					return Promise.all([purchase(drop.id, tokens.get(f)!, holds[i]!.holdId), release]);
				}),
			);
			const outcomes: ("sold" | "released")[] = [];
			for (const [i, [bought, released]] of pairs.entries()) {
				const state = await holdState(drop.id, holds[i]!.holdId);
				if (bought.status === 201) {
					expect(released.status).toBe(409);
					expect(state).toBe("purchased");
					outcomes.push("sold");
				} else {
					expect(bought.status).toBe(410);
					expect(released.status).toBe(204);
					expect(state).toBe("released");
					const payment = paymentFor(holds[i]!.holdId);
					if (payment) expect(payment.refunded).toBe(true);
					outcomes.push("released");
				}
			}
			const sold = outcomes.filter((o) => o === "sold").length;
			const a = await expectCleanAudit(drop.id);
			expect(a.totals).toMatchObject({ sold, held: 0, remaining: 20 - sold });
			return outcomes;
		});
		expect(seen.sold).toBeGreaterThan(0);
		expect(seen.released).toBeGreaterThan(0);
	});
});
