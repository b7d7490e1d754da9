// The line outlives the sell-out: a fan who joins after it waits with an exact
// position and hears how many tickets have come back; every ticket that returns
// (a refund with restock, an offer or a hold that runs out) is offered to the
// next fan in line and no other, as a turn of the drop's offerSeconds; a turn
// from before the sell-out holds nothing while anyone waits; a pacer restarted
// mid-offer keeps the order. Time is the pacer's clock, moved, never slept.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { config } from "../../src/shared/config";
import type { WaitingRoom } from "../../src/waiting-room/waiting-room";
import { orderReaches, refund } from "../support/after-sale";
import { expectCleanAudit } from "../support/audit";
import { createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { type JoinJson, hold, join, newHold, purchase, status } from "../support/fans";
import { restartObjects } from "../support/objects";
import { admitBatch, movePacerClock, openRoom, roomStub, tickRoom } from "../support/room";
import { expireHold, fansHomedOn, shardStub } from "../support/shards";
import { homeShard } from "../../src/inventory/drop-shards";
import { RESTOCK_LEASE_MS } from "../../src/waiting-room/pacer-core";
import { HOUR } from "../support/time";
import { waitUntil } from "../support/wait";
import { adminFetch } from "../support/worker";
import { getDrop } from "../../src/drops/store";
import { writeLineLog } from "../../src/waiting-room/line-log";

const OFFER_SECONDS = 900;

type Pacer = { admitted_through: number; next_position: number; sold_out: number; returns_from: number | null };

const pacer = (dropId: string) =>
	runInDurableObject(roomStub(dropId), (_room: WaitingRoom, state) =>
		state.storage.sql.exec(`SELECT admitted_through, next_position, sold_out, returns_from FROM pacer`).one() as unknown as Pacer,
	);

const admitNow = async (dropId: string) => {
	await admitBatch(dropId);
	return (await pacer(dropId)).admitted_through;
};

/** Two tickets, one line, bought by two fans of the pre-queue; the pacer has seen the sell-out. */
async function soldOutDrop(prefix: string, options: { shards?: number; tick?: boolean } = {}) {
	const opensAtMs = Date.now() + HOUR;
	const drop = await createDrop({
		opensAt: new Date(opensAtMs).toISOString(),
		capacity: 2,
		maxPerFan: 1,
		shards: options.shards ?? 1,
		admission: { batchSize: 5, activeMultiple: 1, intervalMs: 600_000, offerSeconds: OFFER_SECONDS },
	});
	const joined = [await join(drop.id, `${prefix}-b1`), await join(drop.id, `${prefix}-b2`)];
	await openRoom(drop.id, opensAtMs);
	expect(await admitNow(drop.id)).toBe(2);
	const buyers = [];
	for (const j of joined) {
		const turn = await status(drop.id, j.queueToken);
		// A turn before the sell-out is no offer.
		expect(turn.offer).toBe(false);
		const access = turn.accessToken as string;
		const h = await newHold(drop.id, access, 1);
		const p = await purchase(drop.id, access, h.holdId);
		expect(p.status).toBe(201);
		buyers.push({ fanId: j.fanId, access, order: (await p.json()) as { orderId: string; orderToken: string } });
	}
	if (options.tick === false) return { drop, buyers };
	await tickRoom(drop.id);
	expect(await pacer(drop.id)).toMatchObject({ sold_out: 1, returns_from: 2 });
	return { drop, buyers };
}

/** Fans who join after the sell-out, one by one, each with the position the poll confirms. */
async function lateFans(dropId: string, ids: string[]): Promise<JoinJson[]> {
	const out: JoinJson[] = [];
	for (const id of ids) out.push(await join(dropId, id));
	await tickRoom(dropId);
	return out;
}

describe("the line after a sell-out", () => {
	it("a fan who joins after the sell-out gets a place and an exact position, told it is sold out and keeps polling", async () => {
		const { drop } = await soldOutDrop("late");
		const [w1, w2] = await lateFans(drop.id, ["late-w1", "late-w2"]);
		expect(w1).toMatchObject({ status: "sold_out", rejoined: false });
		expect(typeof w1!.queueToken).toBe("string");
		const s1 = await status(drop.id, w1!.queueToken);
		const s2 = await status(drop.id, w2!.queueToken);
		expect(s1).toMatchObject({ status: "sold_out", position: 3, place: 1, ahead: 0, returns: { ticketsBack: 0, offered: 0 } });
		expect(s2).toMatchObject({ status: "sold_out", position: 4, place: 2, ahead: 1 });
		expect(typeof s1.pollAfterMs).toBe("number");
		expect(await pacer(drop.id)).toMatchObject({ next_position: 5, admitted_through: 2 });
		// Nothing comes back: nobody is let in however often the pacer is asked.
		expect(await admitNow(drop.id)).toBe(2);
	});

	it("a refund with restock admits exactly the next fan in line, not the one after nor a later joiner; an earlier turn cannot take it", async () => {
		const { drop, buyers } = await soldOutDrop("rr");
		const [w1, w2] = await lateFans(drop.id, ["rr-w1", "rr-w2"]);
		await orderReaches(buyers[0]!.order.orderId, buyers[0]!.order.orderToken, ["ticketed", "receipt_sent"]);
		expect((await refund(drop.id, buyers[0]!.order.orderId, { restock: true })).status).toBe(200);
		// A fan who joins after the ticket came back stands behind the two already waiting.
		const [w3] = await lateFans(drop.id, ["rr-w3"]);
		expect((await status(drop.id, w3!.queueToken)).position).toBe(5);

		expect(await admitNow(drop.id)).toBe(3);
		// The offer stands for its whole turn: no second fan is let in for the one ticket.
		expect(await admitNow(drop.id)).toBe(3);
		const offered = await status(drop.id, w1!.queueToken);
		expect(offered).toMatchObject({ status: "admitted", position: 3, offer: true });
		const turnMs = Date.parse(offered.accessExpiresAt as string) - Date.parse(offered.admittedAt as string);
		expect(turnMs).toBeGreaterThan(config(env).accessTokenSeconds * 1000);
		expect(Math.abs(turnMs - OFFER_SECONDS * 1000)).toBeLessThan(1_000);
		expect(await status(drop.id, w2!.queueToken)).toMatchObject({ status: "waiting", place: 1, returns: { ticketsBack: 1, offered: 1 } });
		expect((await status(drop.id, w3!.queueToken)).status).toBe("waiting");
		// The second buyer's turn, from before the sell-out, is still running: it may not take the returned ticket.
		expect(await errorCode(await hold(drop.id, buyers[1]!.access, 1))).toBe("returns_in_line");
		// The fan offered it buys it.
		const access = offered.accessToken as string;
		const h = await newHold(drop.id, access, 1);
		expect((await purchase(drop.id, access, h.holdId)).status).toBe(201);
		await tickRoom(drop.id);
		expect(await pacer(drop.id)).toMatchObject({ sold_out: 1, admitted_through: 3 });
		expect(await status(drop.id, w2!.queueToken)).toMatchObject({ status: "sold_out", returns: { ticketsBack: 0, offered: 1 } });
		// The promoter's audit: one ticket came back, and it went to the line (one fan offered, after position 2).
		const audit = await expectCleanAudit(drop.id);
		expect(audit.refunds).toMatchObject({ restocked: 1 });
		expect(audit.admission).toMatchObject({ returnsFrom: 2, offeredReturns: 1 });
	});

	it("a hold that runs out, and then the offer, passes the ticket to the next fan; a pacer restarted mid-offer keeps the order", async () => {
		const { drop, buyers } = await soldOutDrop("hx");
		const [w1, w2, w3] = await lateFans(drop.id, ["hx-w1", "hx-w2", "hx-w3"]);
		await orderReaches(buyers[1]!.order.orderId, buyers[1]!.order.orderToken, ["ticketed", "receipt_sent"]);
		expect((await refund(drop.id, buyers[1]!.order.orderId, { restock: true })).status).toBe(200);
		expect(await admitNow(drop.id)).toBe(3);
		const access = (await status(drop.id, w1!.queueToken)).accessToken as string;
		const h = await newHold(drop.id, access, 1);
		expect(await expireHold(drop.id, h.holdId)).toBe(true);
		// The hold ran out within the offer: the fan may come back to it, so nobody else is let in yet.
		await tickRoom(drop.id);
		expect(await admitNow(drop.id)).toBe(3);

		// The pacer restarts mid-offer: the order and the running offer are kept from its storage.
		await restartObjects([() => roomStub(drop.id)]);
		expect(await pacer(drop.id)).toMatchObject({ returns_from: 2, admitted_through: 3 });
		await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => movePacerClock(room, HOUR));
		expect(await admitNow(drop.id)).toBe(3);
		// The offer's turn ends: the ticket goes to the next fan, and only to them.
		await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => movePacerClock(room, OFFER_SECONDS * 1000 + 1_000));
		expect(await admitNow(drop.id)).toBe(4);
		expect(await admitNow(drop.id)).toBe(4);
		expect((await status(drop.id, w2!.queueToken)).status).toBe("admitted");
		expect((await status(drop.id, w3!.queueToken)).status).toBe("waiting");
		await expectCleanAudit(drop.id);
	});

	it("the promoter's activity log names the sell-out and each batch offered returned tickets, once each, whatever the pacer repeats, restarts or writes again", async () => {
		const { drop, buyers } = await soldOutDrop("log");
		const [w1, w2, w3] = await lateFans(drop.id, ["log-w1", "log-w2", "log-w3"]);
		const soldOut = await untilLogged(drop.id, 1);
		expect(soldOut).toEqual([expect.objectContaining({ actor: "engine", keyId: null, action: "drop.sold_out", dropId: drop.id, detail: { returnsFrom: 2, waiting: 0, entry: 1 } })]);
		// Both tickets come back: one batch offers them to the next two in line, and the log has one entry for it.
		for (const b of buyers) {
			await orderReaches(b.order.orderId, b.order.orderToken, ["ticketed", "receipt_sent"]);
			expect((await refund(drop.id, b.order.orderId, { restock: true })).status).toBe(200);
		}
		expect(await admitNow(drop.id)).toBe(4);
		expect((await status(drop.id, w1!.queueToken)).offer).toBe(true);
		expect((await status(drop.id, w2!.queueToken)).offer).toBe(true);
		const offered = (await untilLogged(drop.id, 2)).filter((e) => e.action === "drop.returns_offered");
		expect(offered).toEqual([
			expect.objectContaining({ actor: "engine", detail: { fans: 2, positions: { from: 3, through: 4 }, ticketsBack: 2, offerSeconds: OFFER_SECONDS, waiting: 1, entry: 2 } }),
		]);
		// Ticks with nothing to offer, a restart, and the next batch (the ticket the first fan offered bought, refunded): one more entry, no repeat.
		await tickRoom(drop.id);
		await restartObjects([() => roomStub(drop.id)]);
		await tickRoom(drop.id);
		const w1Access = (await status(drop.id, w1!.queueToken)).accessToken as string;
		const h = await newHold(drop.id, w1Access, 1);
		const bought = await purchase(drop.id, w1Access, h.holdId);
		expect(bought.status).toBe(201);
		const order = (await bought.json()) as { orderId: string; orderToken: string };
		await orderReaches(order.orderId, order.orderToken, ["ticketed", "receipt_sent"]);
		expect((await refund(drop.id, order.orderId, { restock: true })).status).toBe(200);
		// The offers stand for their whole turn (the refunded buyer's too): the next batch comes once they end.
		await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => movePacerClock(room, OFFER_SECONDS * 1000 + 1_000));
		expect(await admitNow(drop.id)).toBe(5);
		expect((await status(drop.id, w3!.queueToken)).offer).toBe(true);
		const all = await untilLogged(drop.id, 3);
		expect(all.map((e) => [e.action, e.detail.entry])).toEqual([["drop.sold_out", 1], ["drop.returns_offered", 2], ["drop.returns_offered", 3]]);
		// Two tickets free (the one refunded, and the one the second fan's ended offer left), one fan left to offer them to.
		expect(all[2]!.detail).toMatchObject({ fans: 1, positions: { from: 5, through: 5 }, ticketsBack: 2, waiting: 0 });
		// An entry written again (a pacer that crashed after D1 took it, before it forgot it) is still one entry.
		const config = (await getDrop(env.DB, drop.id))!;
		const again = all.map((e) => {
			const { entry, ...detail } = e.detail;
			return { seq: entry as number, action: e.action, at: Date.parse(e.at), detail: JSON.stringify(detail) };
		});
		await writeLineLog(env.DB, config, again);
		expect(await engineEntries(drop.id)).toEqual(all);
		// Nothing left to write in the pacer, and the promoter reads them through the activity route.
		expect(await runInDurableObject(roomStub(drop.id), (_room: WaitingRoom, state) => state.storage.sql.exec(`SELECT COUNT(*) AS n FROM line_log`).one().n)).toBe(0);
		const res = await adminFetch(`/api/admin/activity?limit=200`);
		expect(res.status).toBe(200);
		const listed = ((await res.json()) as { entries: { dropId: string; actor: string; action: string }[] }).entries.filter((e) => e.dropId === drop.id && e.actor === "engine");
		expect(listed.map((e) => e.action)).toEqual(["drop.returns_offered", "drop.returns_offered", "drop.sold_out"]);
	});
});

type LoggedEntry = { actor: string; keyId: string | null; action: string; dropId: string; detail: Record<string, unknown>; at: string };

/** The engine's entries of a drop, oldest first. */
async function engineEntries(dropId: string): Promise<LoggedEntry[]> {
	const { results } = await env.DB.prepare(`SELECT actor, key_id, action, drop_id, detail, at FROM activity WHERE drop_id = ? AND actor = 'engine' ORDER BY seq`)
		.bind(dropId)
		.all<{ actor: string; key_id: string | null; action: string; drop_id: string; detail: string; at: string }>();
	return results.map((r) => ({ actor: r.actor, keyId: r.key_id, action: r.action, dropId: r.drop_id, detail: JSON.parse(r.detail) as Record<string, unknown>, at: r.at }));
}

/** Waits (bounded) until the pacer's write after its tick has put `count` entries in the log, and answers them. */
async function untilLogged(dropId: string, count: number): Promise<LoggedEntry[]> {
	let entries: LoggedEntry[] = [];
	await waitUntil(async () => (entries = await engineEntries(dropId)).length >= count, 10_000, `${count} activity entries of the line`, 20);
	expect(entries).toHaveLength(count);
	return entries;
}

/** A hold asked of a shard straight, as a Worker whose copy of the watermark has not heard of the sell-out would ask it. */
const shardHold = (dropId: string, shard: number, fanId: string, position: number) =>
	shardStub(dropId, shard).hold({ fanId, quantity: 1, idempotencyKey: `k-${fanId}-${position}`, notAfter: Date.now() + HOUR, position });

describe("the shard keeps returned tickets for the line (a Worker's copy of the watermark may be a second old)", () => {
	it("after a refund with restock, the shard refuses a turn from before the sell-out and holds for the fan offered it", async () => {
		const { drop, buyers } = await soldOutDrop("sh");
		await lateFans(drop.id, ["sh-w1"]);
		await orderReaches(buyers[0]!.order.orderId, buyers[0]!.order.orderToken, ["ticketed", "receipt_sent"]);
		expect((await refund(drop.id, buyers[0]!.order.orderId, { restock: true })).status).toBe(200);
		// No tick since: the shard knows the line from the restock alone. Positions 1 and 2 were admitted before the sell-out.
		for (const position of [0, 1, 2]) {
			const refused = await shardHold(drop.id, 0, `sh-early-${position}`, position);
			expect(refused).toMatchObject({ ok: false, code: "returns_in_line", status: 409 });
		}
		// The fan placed after the sell-out takes it, and then nothing is left.
		expect(await shardHold(drop.id, 0, "sh-w1", 3)).toMatchObject({ ok: true });
		expect(await shardHold(drop.id, 0, "sh-w1-other", 4)).toMatchObject({ ok: false, code: "sold_out" });
		await expectCleanAudit(drop.id);
	});

	it("an offer stands while its fan is the last in line: an earlier turn still cannot take the ticket, through the Worker or at the shard", async () => {
		const { drop, buyers } = await soldOutDrop("lo");
		const [w1] = await lateFans(drop.id, ["lo-w1"]);
		await orderReaches(buyers[0]!.order.orderId, buyers[0]!.order.orderToken, ["ticketed", "receipt_sent"]);
		expect((await refund(drop.id, buyers[0]!.order.orderId, { restock: true })).status).toBe(200);
		expect(await admitNow(drop.id)).toBe(3);
		expect((await status(drop.id, w1!.queueToken)).status).toBe("admitted");
		// Nobody waits any more; the one fan in the line for returns holds an offer.
		await tickRoom(drop.id);
		expect(await errorCode(await hold(drop.id, buyers[1]!.access, 1))).toBe("returns_in_line");
		expect(await shardHold(drop.id, 0, "lo-early", 2)).toMatchObject({ ok: false, code: "returns_in_line" });
	});

	it("a peer that has heard of no sell-out learns the line with the returned stock it is given, and refuses the earlier turn", async () => {
		const { drop, buyers } = await soldOutDrop("pe", { shards: 2 });
		await lateFans(drop.id, ["pe-w1"]);
		const buyer = buyers[0]!;
		const restockedOn = homeShard(buyer.fanId, 2);
		const other = 1 - restockedOn;
		await orderReaches(buyer.order.orderId, buyer.order.orderToken, ["ticketed", "receipt_sent"]);
		expect((await refund(drop.id, buyer.order.orderId, { restock: true })).status).toBe(200);
		const [early] = fansHomedOn(other, 2, 1, "pe-early");
		// The other shard holds nothing of its own and was told no line: it asks the restocked shard, and its answer carries the line.
		expect(await shardHold(drop.id, other, early!, 2)).toMatchObject({ ok: false, code: "returns_in_line" });
		const [late] = fansHomedOn(other, 2, 1, "pe-late");
		expect(await shardHold(drop.id, other, late!, 3)).toMatchObject({ ok: true });
		await expectCleanAudit(drop.id);
	});

	it("a refund that asks the line before the pacer marks the first sell-out holds the marking off until its restock has landed", async () => {
		const { drop } = await soldOutDrop("ls", { tick: false });
		// The refund's question, before the pacer has looked: no line yet, and a lease.
		const line = await roomStub(drop.id).returnsLine();
		expect(line).toMatchObject({ from: null });
		// The look that follows finds every ticket sold, but marks no sell-out while the restock may still be on its way.
		await tickRoom(drop.id);
		expect(await pacer(drop.id)).toMatchObject({ sold_out: 0, returns_from: null });
		// A restock that comes after the lease is refused (the refund asks again later), unless the shard knows the line.
		expect(await shardStub(drop.id, 0).restock({ refundId: "rf-late", quantity: 1, returns: { ...line, until: Date.now() - 1 } })).toEqual({ restocked: false, late: true });
		// Once the lease has run out, the sell-out is marked.
		await runInDurableObject(roomStub(drop.id), (room: WaitingRoom) => movePacerClock(room, RESTOCK_LEASE_MS + 1_000));
		await tickRoom(drop.id);
		expect(await pacer(drop.id)).toMatchObject({ sold_out: 1, returns_from: 2 });
	});
});
