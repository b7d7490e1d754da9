// Faults at a drop's edges: a cancel and a pause racing holds and purchases on a
// drop of several shards, fans on different home shards and stock moving between
// them. Bounded rounds run until every side of each race has happened; after each,
// every charge is an order or a refund (a cancelled drop's all refunded), the audit
// clean.
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { refundCancelledOrders } from "../../src/after-sale/drop-cancel";
import { testPayments, testProvider } from "../../src/payments/test-provider";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { expectCleanAudit } from "../support/audit";
import { WIDE_OPEN, createDrop, patchDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { type HoldJson, admittedFans, hold, join, newHold, purchase, status } from "../support/fans";
import { paymentsFor } from "../support/payments";
import { untilEveryOutcome } from "../support/races";
import { admitBatch, roomStub } from "../support/room";
import { waitForOrders } from "../support/sales";
import { fansHomedOn } from "../support/shards";
import { waitUntil } from "../support/wait";
import { adminFetch } from "../support/worker";

const PRICE = 500;

/** A fan's try: hold (unless holding already) then buy; what each step answered. */
type Try = { hold: number; holdCode?: string; holdId?: string; buy?: number; buyCode?: string; orderId?: string; afterGate: boolean };

const answerOf = async (res: Response) => (res.status === 201 ? { status: 201, body: (await res.json()) as Record<string, unknown> } : { status: res.status, code: await errorCode(res) });

/**
 * Charges from the `gateFrom`-th on wait for `gate` before the provider is asked, so a
 * move made meanwhile (a cancel, a pause) meets purchases already charging. The count of
 * charges begun is read by the test (a counter: a promise settled inside an object's call
 * would carry the test on in that call's context).
 */
function gateCharges(gateFrom: number) {
	const charge = testProvider.charge.bind(testProvider);
	const seen = { charges: 0 };
	let release!: () => void;
	const gate = new Promise<void>((resolve) => (release = resolve));
	vi.spyOn(testProvider, "charge").mockImplementation(async (input) => {
		if (++seen.charges >= gateFrom) await gate;
		return charge(input);
	});
	return { seen, release };
}

/** A drop of four shards whose fans live on shards 0 and 1 only: the stock of 2 and 3 travels. */
async function racedDrop(tag: string, round: number, capacity: number, perShard: number) {
	const drop = await createDrop({ capacity, shards: 4, maxPerFan: 2, priceCents: PRICE, admission: WIDE_OPEN });
	const fans = [...fansHomedOn(0, 4, perShard, `${tag}${round}`), ...fansHomedOn(1, 4, perShard, `${tag}${round}`)];
	return { drop, fans, tokens: await admittedFans(drop.id, fans) };
}

/**
 * The first half of the fans try at once (half of all fans hold first: a hold made before
 * the move); once a charge waits at the gate, the move and most of the rest go together,
 * racing; the last sixth asks once the move has answered. The gate opens after that.
 */
async function race(dropId: string, fans: string[], tokens: Map<string, string>, gated: { seen: { charges: number }; release: () => void }, gateFrom: number, move: () => Promise<Response>) {
	const before = new Map<string, HoldJson>();
	for (const [i, f] of fans.entries()) if (i % 2 === 0) before.set(f, await newHold(dropId, tokens.get(f)!, 2));
	let gateOpen = false;
	const attempt = async (f: string): Promise<Try> => {
		let holdId = before.get(f)?.holdId;
		if (holdId === undefined) {
			const h = await answerOf(await hold(dropId, tokens.get(f)!, 2));
			if (h.status !== 201) return { hold: h.status, holdCode: h.code, afterGate: gateOpen };
			holdId = (h.body as { holdId: string }).holdId;
		}
		const p = await answerOf(await purchase(dropId, tokens.get(f)!, holdId));
		return { hold: 201, holdId, buy: p.status, buyCode: p.code, orderId: p.body?.orderId as string | undefined, afterGate: gateOpen };
	};
	const half = Math.ceil(fans.length / 2);
	const third = fans.length - Math.floor(fans.length / 6);
	const first = fans.slice(0, half).map(attempt);
	await waitUntil(() => gated.seen.charges >= gateFrom, 20_000, "a purchase to reach the gated charge");
	// Spread over the move's few milliseconds, so some reach their shard before it and some after.
	const second = fans.slice(half, third).map((f, k) => new Promise((resolve) => setTimeout(resolve, 3 * k)).then(() => attempt(f)));
	const moved = await move();
	expect(moved.status).toBe(200);
	// The last few ask once the move has answered.
	const last = fans.slice(third).map(attempt);
	gateOpen = true;
	gated.release();
	const answers = await Promise.all([...first, ...second, ...last]);
	vi.restoreAllMocks();
	return answers;
}

const unrefunded = async (dropId: string) =>
	(await env.DB.prepare(`SELECT COUNT(*) AS n FROM orders WHERE drop_id = ? AND status <> 'refunded'`).bind(dropId).first<{ n: number }>())!.n;

/** The test provider's payments for a drop's holds. */
const dropPayments = (dropId: string) => [...testPayments.values()].filter((p) => p.idempotencyKey.startsWith(`${dropId}:`));
const refundedCents = (p: ReturnType<typeof dropPayments>[number]) => (p.refunded ? p.amountCents : [...p.refunds.values()].reduce((a, b) => a + b, 0));

afterEach(() => {
	vi.restoreAllMocks();
});

describe("a cancel racing holds and purchases across shards", () => {
	it("a purchase before it is refunded, one after it refused (409 drop_cancelled), a charge that raced it refunded; nothing left unrefunded, the audit clean", async () => {
		const GATE_FROM = 4;
		const seen = await untilEveryOutcome(["bought-then-refunded", "refused", "charge-raced-refunded"] as const, 4, async (round) => {
			const { drop, fans, tokens } = await racedDrop("cx", round, 48, 6);
			const gated = gateCharges(GATE_FROM);
			const answers = await race(drop.id, fans, tokens, gated, GATE_FROM, () => adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST" }));

			const outcomes = answers.map((a) => {
				if (a.hold !== 201) {
					expect(a.holdCode, JSON.stringify(a)).toBe("drop_cancelled");
					return "refused" as const;
				}
				if (a.buy === 201) return "bought-then-refunded" as const;
				expect([a.buy, a.buyCode], JSON.stringify(a)).toEqual([409, "drop_cancelled"]);
				// Refused before any charge, or charged while the cancel reached the shard: then refunded, no order.
				const payments = paymentsFor(a.holdId!);
				expect(payments.length).toBeLessThanOrEqual(1);
				if (payments.length === 0) return "refused" as const;
				expect(payments[0]!.refunded).toBe(true);
				return "charge-raced-refunded" as const;
			});

			// The cancel's pages until none is left, once the orders made before it reached D1; then the cron's pass.
			const orders = answers.filter((a) => a.buy === 201).length;
			await waitForOrders(drop.id, orders);
			for (let page = 0; page < 10; page++) {
				const res = await adminFetch(`/api/admin/drops/${drop.id}/cancel`, { method: "POST" });
				expect(res.status).toBe(200);
				if (((await res.json()) as { ordersLeft: number }).ordersLeft === 0) break;
			}
			await refundCancelledOrders(env);
			expect(await unrefunded(drop.id)).toBe(0);

			// Every payment of the drop was refunded in full, once; no charge open, nothing oversold.
			const payments = dropPayments(drop.id);
			expect(payments.map(refundedCents)).toEqual(payments.map(() => PRICE * 2));
			const a = await expectCleanAudit(drop.id, 0);
			expect(a).toMatchObject({ ok: true, unreconciledCharges: 0, holdsChargedTwice: 0, refundsPending: 0, refundsFailed: 0, payments: payments.length });
			expect(a.refunds.refunds).toBe(orders);
			expect(a.totals.orders).toBe(orders);
			// Nothing held or bought after it, whatever was asked.
			expect((await answerOf(await hold(drop.id, tokens.get(fans[1]!)!, 1))).code).toBe("drop_cancelled");
			return outcomes;
		});
		expect(seen["charge-raced-refunded"]).toBeGreaterThan(0);
	}, 240_000);
});

describe("a pause racing holds and purchases across shards", () => {
	it("admission stops, fans in their turn still hold and buy (before and after the pause), nothing oversold, the audit clean", async () => {
		const GATE_FROM = 4;
		await untilEveryOutcome(["bought-before-pause", "bought-after-pause", "sold-out"] as const, 4, async (round) => {
			// Fans in their turn ask for more than there is: the last ones meet a sell-out.
			const { drop, fans, tokens } = await racedDrop("px", round, 16, 6);
			const gated = gateCharges(GATE_FROM);
			const answers = await race(drop.id, fans, tokens, gated, GATE_FROM, () =>
				adminFetch(`/api/admin/drops/${drop.id}`, { method: "PATCH", body: JSON.stringify({ paused: true }) }),
			);

			const outcomes = answers.map((a) => {
				if (a.hold !== 201) {
					expect(a.holdCode, JSON.stringify(a)).toBe("sold_out");
					return "sold-out" as const;
				}
				// A pause stops admission, not purchases: every hold is bought, once.
				expect(a.buy, JSON.stringify(a)).toBe(201);
				expect(paymentsFor(a.holdId!)).toHaveLength(1);
				return a.afterGate ? ("bought-after-pause" as const) : ("bought-before-pause" as const);
			});

			// Admission stays stopped: fans who join now wait, and a tick with a batch due admits none of them.
			const waiting = await Promise.all(Array.from({ length: 3 }, (_, k) => join(drop.id, `px${round}-waiting-${k}`)));
			const admittedBefore = (await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => room.stats())).admitted;
			await admitBatch(drop.id);
			expect((await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => room.stats())).admitted).toBe(admittedBefore);
			for (const w of waiting) expect((await status(drop.id, w.queueToken)).status).toBe("waiting");

			const bought = answers.filter((a) => a.buy === 201);
			const rows = await waitForOrders(drop.id, bought.length);
			expect(rows.map((r) => r.order_id).sort()).toEqual(bought.map((b) => b.orderId!).sort());
			const a = await expectCleanAudit(drop.id, 0);
			expect(a).toMatchObject({ ok: true, oversold: 0, unreconciledCharges: 0, holdsChargedTwice: 0, payments: bought.length });
			expect(a.totals.sold).toBe(bought.length * 2);
			expect(a.totals.sold).toBeLessThanOrEqual(drop.capacity);
			// No payment refunded: a pause takes nobody's money back.
			expect(dropPayments(drop.id).every((p) => refundedCents(p) === 0)).toBe(true);
			await patchDrop(drop.id, { paused: false });
			return outcomes;
		});
	}, 240_000);
});
