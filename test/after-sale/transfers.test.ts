// Ticket transfers: the buyer hands one ticket on through an accept link; the
// recipient's ticket has a new code and secret and admits, the old one is
// refused from the accept on (online, and in a device's list after its next
// sync). Cancel until accepted; accept after cancel, accept twice, accept of a
// scanned ticket: 409s that write nothing. The promoter's switch and deadline;
// each act in the activity log and the order's transfers; bad input writes
// nothing; an accept racing a scan of the old code admits exactly one of the two
// tickets; a refund voids the recipient's ticket; the audit's holder check.
import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import type { TicketListAnswer } from "../../src/contract/gate-answers";
import type { HeldTicketAnswer, OrderTransfers, TransferAccepted, TransferAnswer, TransferMade, TransferOffer, TransferRulesAnswer } from "../../src/contract/transfer-answers";
import { rotatingCode } from "../../src/after-sale/rotating-codes";
import { type Purchased, buyWith, orderReaches, readOrder, refund, scan } from "../support/after-sale";
import { audit } from "../support/audit";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { expectError } from "../support/errors";
import { saleMessage, storeSales, ticketsInD1 } from "../support/sales";
import { doubleEntriesOf, listOf, registerAt, signedScan, uploadScans } from "../support/gate-devices";
import { untilEveryOutcome } from "../support/races";
import { adminFetch, callWorker, fanFetch } from "../support/worker";

const GATE = { authorization: `Bearer ${env.GATE_TOKEN}`, "content-type": "application/json" };

async function ticketed(dropId: string, fanId: string, quantity = 1): Promise<Purchased> {
	const bought = await buyWith(dropId, fanId, { quantity });
	await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
	return bought;
}

const makeRequest = (b: Purchased, code: string, token = b.orderToken) =>
	fanFetch(`/api/orders/${b.orderId}/tickets/${encodeURIComponent(code)}/transfer`, token, { method: "POST" });

async function make(b: Purchased, code = b.tickets[0]!): Promise<TransferMade> {
	const res = await makeRequest(b, code);
	expect(res.status, await res.clone().text()).toBe(201);
	return (await res.json()) as TransferMade;
}

const accept = (transferId: string, secret: string) => fanFetch(`/api/transfers/${transferId}/accept`, secret, { method: "POST" });
const cancel = (b: Purchased, transferId: string) => fanFetch(`/api/orders/${b.orderId}/transfers/${transferId}`, b.orderToken, { method: "DELETE" });

/** The buyer's ticket as the gate sees it: its token and a rotating code made now. */
async function codeOf(b: Purchased, code: string): Promise<{ token: string; rotating: string }> {
	const pass = (await readOrder(b.orderId, b.orderToken)).passes.find((p) => p.code === code)!;
	return { token: pass.token!, rotating: await rotatingCode(pass.token!, pass.secret!, Date.now()) };
}

const heldCode = (t: HeldTicketAnswer["ticket"]) => rotatingCode(t.token!, t.secret!, Date.now());

/** What a refusal must leave untouched: the drop's transfers, its tickets (codes and states) and its log. */
async function written(dropId: string): Promise<string> {
	const [transfers, tickets, log] = await Promise.all([
		env.DB.prepare(`SELECT transfer_id, state, to_code FROM ticket_transfers WHERE drop_id = ? ORDER BY transfer_id`).bind(dropId).all(),
		env.DB.prepare(`SELECT code, scanned_at, refund_id, transfer_id FROM tickets WHERE drop_id = ? ORDER BY code`).bind(dropId).all(),
		env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE drop_id = ?`).bind(dropId).first<number>("n"),
	]);
	return JSON.stringify([transfers.results, tickets.results, log]);
}

describe("ticket transfers", () => {
	it("the recipient accepts and gets a ticket of their own; the old code is refused from then on, the new one admits once", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-basic", 2);
		const [given, kept] = b.tickets as [string, string];
		const old = await codeOf(b, given);
		const made = await make(b, given);
		expect(made.transfer).toMatchObject({ state: "pending", ticket: given, orderId: b.orderId, acceptedAt: null });
		expect(made.acceptPath).toBe(`/transfer#${made.transfer.transferId}.${made.secret}`);
		// Only the hash of the link's secret is stored.
		const stored = await env.DB.prepare(`SELECT accept_hash FROM ticket_transfers WHERE transfer_id = ?`).bind(made.transfer.transferId).first<string>("accept_hash");
		expect(stored).not.toContain(made.secret);
		// The buyer's view shows it pending, the ticket still theirs.
		const pending = (await readOrder(b.orderId, b.orderToken)).passes.find((p) => p.code === given)!;
		expect(pending).toMatchObject({ state: "valid", transfer: { transferId: made.transfer.transferId, state: "pending" } });

		const offer = await fanFetch(`/api/transfers/${made.transfer.transferId}`, made.secret);
		expect(offer.status).toBe(200);
		expect((await offer.json()) as TransferOffer).toMatchObject({ drop: { id: drop.id, name: drop.name }, open: true, transfer: { state: "pending" } });

		const res = await accept(made.transfer.transferId, made.secret);
		expect(res.status, await res.clone().text()).toBe(201);
		const got = (await res.json()) as TransferAccepted;
		expect(got.ticket.state).toBe("valid");
		expect(got.ticket.code).not.toBe(given);
		expect(got.ticket.secret).not.toBe(pending.secret);

		// The old code: refused online, as a rotating code and as a bare token.
		await expectError(await scan(drop.id, old.rotating), 409, "ticket_transferred", "old rotating code");
		await expectError(await scan(drop.id, old.token), 409, "ticket_transferred", "old token");
		// The new one admits, once.
		expect((await scan(drop.id, await heldCode(got.ticket))).status).toBe(200);
		await expectError(await scan(drop.id, await heldCode(got.ticket)), 409, "already_used");
		// The other ticket of the order is untouched and still the buyer's.
		expect((await scan(drop.id, (await codeOf(b, kept)).rotating)).status).toBe(200);

		// The buyer sees the ticket gone, with no token or secret; the recipient reads theirs with their key, the link no longer shows it.
		const after = (await readOrder(b.orderId, b.orderToken)).passes.find((p) => p.transfer?.transferId === made.transfer.transferId)!;
		expect(after).toMatchObject({ state: "transferred", token: null, transfer: { state: "accepted", ticket: given } });
		expect(after.secret).toBeUndefined();
		const mine = await fanFetch(`/api/transfers/${made.transfer.transferId}/ticket`, got.holderKey);
		expect(((await mine.json()) as HeldTicketAnswer).ticket).toMatchObject({ code: got.ticket.code, state: "used" });
		await expectError(await fanFetch(`/api/transfers/${made.transfer.transferId}/ticket`, made.secret), 404, "not_found", "the link's secret is not the holder's key");

		// The promoter's records: the activity log (actor fan) and the order's transfers.
		const log = await env.DB.prepare(`SELECT actor, action, detail FROM activity WHERE drop_id = ? AND actor = 'fan' ORDER BY seq`).bind(drop.id).all<{ actor: string; action: string; detail: string }>();
		expect(log.results.map((r) => r.action)).toEqual(["ticket.transfer_made", "ticket.transfer_accepted"]);
		expect(JSON.parse(log.results[1]!.detail)).toEqual({ transferId: made.transfer.transferId, orderId: b.orderId, ticket: given });
		const view = await adminFetch(`/api/admin/drops/${drop.id}/orders/${b.orderId}/transfers`);
		expect(((await view.json()) as OrderTransfers).transfers).toEqual([expect.objectContaining({ transferId: made.transfer.transferId, state: "accepted", ticket: given, newTicket: got.ticket.code })]);
		const a = await audit(drop.id);
		expect(a.holders).toEqual({ transferred: 1, pending: 0, broken: 0 });
	});

	it("a sale message delivered again after the accept does not bring the old code back", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-redelivered", 2);
		const [given, kept] = b.tickets as [string, string];
		const made = await make(b, given);
		const got = (await (await accept(made.transfer.transferId, made.secret)).json()) as TransferAccepted;
		const order = (await env.DB.prepare(`SELECT * FROM orders WHERE order_id = ?`).bind(b.orderId).first<Record<string, unknown>>())!;
		// The queue delivers the same sale again (a retried batch, an outbox resend): the consumer's statements run once more.
		const again = saleMessage({
			orderId: b.orderId,
			dropId: drop.id,
			shard: order.shard as number,
			fanId: b.fanId,
			holdId: b.holdId,
			quantity: 2,
			unitPriceCents: order.unit_price_cents as number,
			totalCents: order.total_cents as number,
			paymentId: order.payment_id as string,
			tickets: [given, kept],
			createdAt: order.created_at as string,
		});
		await storeSales([again]);
		expect((await ticketsInD1(b.orderId)).sort()).toEqual([got.ticket.code, kept].sort());
		const passes = (await readOrder(b.orderId, b.orderToken)).passes;
		expect(passes.map((p) => p.state).sort()).toEqual(["transferred", "valid"]);
		expect((await audit(drop.id)).holders).toEqual({ transferred: 1, pending: 0, broken: 0 });
	});

	it("an accept whose answer was lost is repeated with the recipient's own key and answers the same ticket; another key is refused", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-lost-accept");
		const made = await make(b);
		const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
		const acceptWith = (holderKey: unknown) =>
			fanFetch(`/api/transfers/${made.transfer.transferId}/accept`, made.secret, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ holderKey }) });
		const before = await written(drop.id);
		await expectError(await acceptWith("short"), 422, "invalid_format", "a key too short to be secret");
		expect(await written(drop.id)).toBe(before);
		const first = await acceptWith(key);
		expect(first.status, await first.clone().text()).toBe(201);
		const got = (await first.json()) as TransferAccepted;
		expect(got.holderKey).toBe(key);
		const afterAccept = await written(drop.id);
		// The answer never arrived: the device asks again with the key it kept, and gets the same ticket, nothing written.
		const again = await acceptWith(key);
		expect(again.status).toBe(200);
		// The same ticket (its token is signed afresh at each read: ES256 signatures differ, the claims do not).
		const { ticket: sameTicket, ...sameRest } = (await again.json()) as TransferAccepted;
		const { ticket: gotTicket, ...gotRest } = got;
		expect(sameRest).toEqual(gotRest);
		expect({ ...sameTicket, token: decodeJwt(sameTicket.token!) }).toEqual({ ...gotTicket, token: decodeJwt(gotTicket.token!) });
		expect(await written(drop.id)).toBe(afterAccept);
		await expectError(await acceptWith(key.replace(/^./, (c) => (c === "A" ? "B" : "A"))), 409, "transfer_accepted", "another key");
		await expectError(await accept(made.transfer.transferId, made.secret), 409, "transfer_accepted", "no key");
		// The key reads the ticket too.
		expect((await fanFetch(`/api/transfers/${made.transfer.transferId}/ticket`, key)).status).toBe(200);
	});

	it("the holder cancels until accepted; accept after cancel, accept twice and accept of a scanned ticket are 409s that write nothing", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-cancel", 3);
		const [first, second, third] = b.tickets as [string, string, string];

		const made = await make(b, first);
		await expectError(await makeRequest(b, first), 409, "transfer_pending", "a second transfer of the same ticket");
		const cancelled = await cancel(b, made.transfer.transferId);
		expect(((await cancelled.json()) as TransferAnswer).state).toBe("cancelled");
		expect(((await (await cancel(b, made.transfer.transferId)).json()) as TransferAnswer).state).toBe("cancelled");
		let before = await written(drop.id);
		await expectError(await accept(made.transfer.transferId, made.secret), 409, "transfer_cancelled");
		expect(await written(drop.id)).toBe(before);
		// Still the buyer's: it admits them.
		expect((await scan(drop.id, (await codeOf(b, first)).rotating)).status).toBe(200);

		const twice = await make(b, second);
		expect((await accept(twice.transfer.transferId, twice.secret)).status).toBe(201);
		before = await written(drop.id);
		await expectError(await accept(twice.transfer.transferId, twice.secret), 409, "transfer_accepted", "accept twice");
		await expectError(await cancel(b, twice.transfer.transferId), 409, "transfer_accepted", "cancel after accept");
		await expectError(await makeRequest(b, second), 404, "not_found", "the old code is no ticket of the order's now");
		expect(await written(drop.id)).toBe(before);

		const scanned = await make(b, third);
		expect((await scan(drop.id, (await codeOf(b, third)).rotating)).status).toBe(200);
		before = await written(drop.id);
		await expectError(await accept(scanned.transfer.transferId, scanned.secret), 409, "already_used", "accept of a scanned ticket");
		expect(await written(drop.id)).toBe(before);
		await expectError(await makeRequest(b, first), 409, "already_used", "a used ticket is not transferred");

		const log = await env.DB.prepare(`SELECT action FROM activity WHERE drop_id = ? AND actor = 'fan' ORDER BY seq`).bind(drop.id).all<{ action: string }>();
		expect(log.results.map((r) => r.action)).toEqual(["ticket.transfer_made", "ticket.transfer_cancelled", "ticket.transfer_made", "ticket.transfer_accepted", "ticket.transfer_made"]);
	});

	it("the promoter switches transfers off and sets a deadline: making and accepting are refused, the change is logged", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-rules", 2);
		const made = await make(b, b.tickets[0]);
		const patch = (body: unknown) => adminFetch(`/api/admin/drops/${drop.id}/transfers`, { method: "PATCH", body: JSON.stringify(body) });

		const off = await patch({ enabled: false });
		expect(((await off.json()) as TransferRulesAnswer).enabled).toBe(false);
		let before = await written(drop.id);
		await expectError(await makeRequest(b, b.tickets[1]!), 409, "transfers_off");
		await expectError(await accept(made.transfer.transferId, made.secret), 409, "transfers_off", "a pending one is not accepted while off");
		expect(await written(drop.id)).toBe(before);
		expect((await readOrder(b.orderId, b.orderToken)).transfers).toEqual({ open: false, deadline: null });

		const deadline = new Date(Date.now() - 1000).toISOString();
		const rules = (await (await patch({ enabled: true, deadline })).json()) as TransferRulesAnswer;
		expect(rules).toMatchObject({ enabled: true, deadline });
		before = await written(drop.id);
		await expectError(await makeRequest(b, b.tickets[1]!), 409, "transfer_deadline_passed");
		await expectError(await accept(made.transfer.transferId, made.secret), 409, "transfer_deadline_passed");
		expect(await written(drop.id)).toBe(before);

		await patch({ deadline: new Date(Date.now() + 3_600_000).toISOString() });
		expect((await accept(made.transfer.transferId, made.secret)).status).toBe(201);
		const changes = await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE drop_id = ? AND action = 'drop.transfers_changed'`).bind(drop.id).first<number>("n");
		expect(changes).toBe(3);
		// A bad value is a 422 and changes nothing.
		const rulesBefore = await (await adminFetch(`/api/admin/drops/${drop.id}/transfers`)).text();
		expect((await patch({ deadline: "next tuesday" })).status).toBe(422);
		expect((await patch({ enabled: "yes" })).status).toBe(400);
		expect(await (await adminFetch(`/api/admin/drops/${drop.id}/transfers`)).text()).toBe(rulesBefore);
	});

	it("bad input is a clear 4xx that writes nothing: another order's token, an unknown ticket, a refunded ticket, a wrong secret", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-bad-a", 2);
		const other = await ticketed(drop.id, "fan-transfer-bad-b");
		expect((await refund(drop.id, b.orderId, { tickets: [b.tickets[1]] })).status).toBe(200);
		const before = await written(drop.id);
		await expectError(await makeRequest(b, b.tickets[0]!, other.orderToken), 404, "not_found", "another order's token");
		await expectError(await makeRequest(b, other.tickets[0]!), 404, "not_found", "another order's ticket");
		await expectError(await makeRequest(b, "NOPE-NOPE"), 404, "not_found", "no such ticket");
		await expectError(await fanFetch(`/api/orders/${b.orderId}/tickets/%E0%A4%A/transfer`, b.orderToken, { method: "POST" }), 404, "not_found", "a broken escape in the path");
		await expectError(await makeRequest(b, b.tickets[1]!), 409, "ticket_refunded", "a refunded ticket");
		await expectError(await fanFetch(`/api/orders/${b.orderId}/tickets/${b.tickets[0]}/transfer`, null, { method: "POST" }), 401, "missing_token");
		await expectError(await makeRequest(b, b.tickets[0]!, b.accessToken), 401, "invalid_token", "the access token is not the order token");
		await expectError(await accept("tr_AAAAAAAAAAAAAAAA", "guess"), 404, "not_found");
		await expectError(await fanFetch(`/api/transfers/x/ticket`, "guess"), 404, "not_found");
		expect(await written(drop.id)).toBe(before);
		const made = await make(b, b.tickets[0]);
		const after = await written(drop.id);
		await expectError(await accept(made.transfer.transferId, `${made.secret}x`), 404, "not_found", "a wrong secret");
		await expectError(await cancel(other, made.transfer.transferId), 404, "not_found", "another order cancels it");
		expect(await written(drop.id)).toBe(after);
	});

	it("a refund of a transferred ticket voids the recipient's ticket; the money goes back to the order", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-refund");
		const made = await make(b);
		const got = (await (await accept(made.transfer.transferId, made.secret)).json()) as TransferAccepted;
		const code = await heldCode(got.ticket);
		const res = await refund(drop.id, b.orderId);
		expect(res.status, await res.clone().text()).toBe(200);
		await expectError(await scan(drop.id, code), 409, "ticket_refunded");
		const mine = (await (await fanFetch(`/api/transfers/${made.transfer.transferId}/ticket`, got.holderKey)).json()) as HeldTicketAnswer;
		expect(mine.ticket).toMatchObject({ state: "refunded", token: null });
		const money = await env.DB.prepare(`SELECT order_id, tickets FROM refunds WHERE order_id = ?`).bind(b.orderId).first();
		expect(money).toEqual({ order_id: b.orderId, tickets: 1 });
	});

	it("an accept racing a scan of the old code admits exactly one of the two tickets; both sides win within bounded rounds", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, capacity: 400, maxPerFan: 4 });
		let fan = 0;
		const seen = await untilEveryOutcome(["accept_won", "scan_won"] as const, 12, async (round) => {
			const b = await ticketed(drop.id, `fan-transfer-race-${round}-${fan++}`, 4);
			return Promise.all(
				b.tickets.map(async (code, i) => {
					const old = await codeOf(b, code);
					const made = await make(b, code);
					// Staggered starts, so either write can land first.
					const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
					const [accepted, scanned] = await Promise.all([
						(async () => (await delay(((round + i) % 4) * 2), await accept(made.transfer.transferId, made.secret)))(),
						(async () => (await delay(((round * 3 + i) % 5) * 2), await scan(drop.id, old.rotating)))(),
					]);
					if (accepted.status === 201) {
						await expectError(scanned, 409, "ticket_transferred", "the scan lost");
						const got = (await accepted.json()) as TransferAccepted;
						// The one admission left is the recipient's.
						expect((await scan(drop.id, await heldCode(got.ticket))).status).toBe(200);
						return "accept_won" as const;
					}
					expect(scanned.status, await scanned.clone().text()).toBe(200);
					await expectError(accepted, 409, "already_used", "the accept lost");
					const row = await env.DB.prepare(`SELECT state, to_code FROM ticket_transfers WHERE transfer_id = ?`).bind(made.transfer.transferId).first();
					expect(row).toEqual({ state: "pending", to_code: null });
					return "scan_won" as const;
				}),
			);
		});
		expect(seen.accept_won + seen.scan_won).toBeGreaterThan(1);
		// Each ticket was admitted exactly once, whichever code won.
		const admitted = await env.DB.prepare(`SELECT COUNT(*) AS n FROM tickets WHERE drop_id = ? AND scanned_at IS NOT NULL`).bind(drop.id).first<number>("n");
		const sold = await env.DB.prepare(`SELECT COUNT(*) AS n FROM tickets WHERE drop_id = ?`).bind(drop.id).first<number>("n");
		expect(admitted).toBe(sold);
		expect((await audit(drop.id)).holders.broken).toBe(0);
	});

	it("a transferred ticket is refused once the device has synced: its list marks the old code, the new one is valid", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-device");
		const [given] = b.tickets as [string];
		const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
		const jwk = (await crypto.subtle.exportKey("jwk", keys.publicKey)) as JsonWebKey;
		const reg = await callWorker(`/api/admin/drops/${drop.id}/gate/devices`, {
			method: "POST",
			headers: GATE,
			body: JSON.stringify({ name: "Door 1", publicKey: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y } }),
		});
		expect(reg.status).toBe(201);
		const device = (await reg.json()) as { device: { id: string }; list: TicketListAnswer };
		expect(device.list.tickets.find((t) => t.code === given)).toMatchObject({ state: "valid" });

		const made = await make(b);
		const got = (await (await accept(made.transfer.transferId, made.secret)).json()) as TransferAccepted;
		const list = (await (await callWorker(`/api/admin/drops/${drop.id}/gate/devices/${device.device.id}/list`, { headers: GATE })).json()) as TicketListAnswer;
		const old = list.tickets.find((t) => t.code === given)!;
		expect(old).toEqual({ code: given, orderId: b.orderId, state: "transferred" });
		expect(list.tickets.find((t) => t.code === got.ticket.code)).toMatchObject({ state: "valid", secret: got.ticket.secret });

		// A scan of the old code the device made before its sync is still taken (not refused whole), and marks nothing used.
		const at = new Date().toISOString();
		const scanId = "scan-old-code-1";
		const message = ["gate-scan", drop.id, device.device.id, scanId, given, at, "admitted"].join("\n");
		const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, new TextEncoder().encode(message)));
		const signature = btoa(String.fromCharCode(...sig)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
		const up = await callWorker(`/api/admin/drops/${drop.id}/gate/devices/${device.device.id}/scans`, {
			method: "POST",
			headers: GATE,
			body: JSON.stringify({ scans: [{ scanId, ticket: given, at, result: "admitted", signature }] }),
		});
		expect(up.status, await up.clone().text()).toBe(200);
		expect((await scan(drop.id, await heldCode(got.ticket))).status).toBe(200);
		// The old code admitted offline and the new one online are one place entered twice: one double entry, under the
		// ticket's code now, each admission naming the code it admitted.
		expect(await doubleEntriesOf(drop.id)).toEqual([
			{
				ticket: got.ticket.code,
				admissions: [
					{ code: given, deviceId: device.device.id, deviceName: "Door 1", via: "device", at },
					{ code: got.ticket.code, deviceId: null, deviceName: null, via: "online", at: expect.any(String) },
				],
			},
		]);
	});

	it("an admission of the old code made offline before the accept, synced after it, uses the ticket: the new code is refused", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-used-then-given");
		const [given] = b.tickets as [string];
		const door = await registerAt(drop.id, "Door 2");
		// The giver walks in at a device with no network, then hands the ticket on; the engine learns of the entry later.
		const entered = await signedScan(door, given, "admitted", new Date(Date.now() - 1_000).toISOString());
		const made = await make(b);
		const got = (await (await accept(made.transfer.transferId, made.secret)).json()) as TransferAccepted;
		expect((await uploadScans(door, [entered])).status).toBe(200);
		// The place was used before it was handed on: the recipient's code is refused, online and in the next list.
		await expectError(await scan(drop.id, await heldCode(got.ticket)), 409, "already_used", "the new code after the sync");
		expect((await listOf(door)).tickets.find((t) => t.code === got.ticket.code)).toMatchObject({ state: "used" });
		expect(await doubleEntriesOf(drop.id)).toEqual([]);
	});

	it("an admission of the old code made after the accept, on a device not yet synced, leaves the recipient's code valid and is a double entry once both are in", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-given-then-used");
		const [given] = b.tickets as [string];
		const door = await registerAt(drop.id, "Door 3");
		const made = await make(b);
		const got = (await (await accept(made.transfer.transferId, made.secret)).json()) as TransferAccepted;
		// The giver's copy goes in at a device that had not synced since the accept: the recipient, the holder, is not punished for it.
		const copy = await signedScan(door, given, "admitted");
		expect((await uploadScans(door, [copy])).status).toBe(200);
		expect((await scan(drop.id, await heldCode(got.ticket))).status).toBe(200);
		expect((await doubleEntriesOf(drop.id)).map((e) => [e.ticket, e.admissions.map((a) => a.code)])).toEqual([[got.ticket.code, [given, got.ticket.code]]]);
	});

	it("the audit finds a ticket with two holders", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const b = await ticketed(drop.id, "fan-transfer-audit");
		const made = await make(b);
		expect((await accept(made.transfer.transferId, made.secret)).status).toBe(201);
		expect((await audit(drop.id)).holders).toEqual({ transferred: 1, pending: 0, broken: 0 });
		// The old code made a ticket again beside the new one: two holders of one seat.
		await env.DB.prepare(`INSERT INTO tickets (code, order_id, drop_id, seq) VALUES (?, ?, ?, 99)`).bind(b.tickets[0], b.orderId, drop.id).run();
		const broken = await audit(drop.id);
		expect(broken.holders.broken).toBe(1);
		expect(broken.ok).toBe(false);
	});
});
