// A ticket resold at face value in a real Chromium at phone size: the buyer lists
// it from the order view behind a confirm step naming the price and what comes
// back, withdraws it behind its own confirm step, lists it again, and once another
// fan buys the listed unit the buyer's page says it was resold and draws no code
// for it, while the new buyer's ticket admits at the gate. axe-clean at each step.
import assert from "node:assert/strict";
import { rotatingCode } from "../public/rotating-code.js";
import { assertAccessible } from "./axe.mjs";
import { PHONE, checkProblems, openPage, sleep } from "./journeys.mjs";

async function ticketedOrder(api, bought) {
	for (let i = 0; i < 100; i++) {
		const order = (await api.call("GET", `/api/orders/${bought.orderId}`, { token: bought.orderToken, expect: 200 })).data;
		if (["ticketed", "receipt_sent"].includes(order.status)) return order;
		await sleep(200);
	}
	throw new Error("the order was not ticketed in time");
}

export async function fanResellsTicket({ browser, base, api, adminToken, gateToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: a ticket resold",
		capacity: 1,
		maxPerFan: 1,
		priceCents: 2000,
		currency: "EUR",
		opensAt: new Date(Date.now() - 1_000).toISOString(),
		admission: { batchSize: 50, intervalMs: 250, activeMultiple: 20 },
		holdSeconds: 120,
	});
	await api.call("PATCH", `/api/admin/drops/${drop.id}/resale`, { token: adminToken, body: { enabled: true, feePercent: 10 }, expect: 200 });
	const bought = await api.buy(drop.id, "resale-seller", 1);
	const order = await ticketedOrder(api, bought);

	const seller = await openPage(browser, PHONE, problems);
	await seller.page.goto(`${base}/drops/${drop.id}`);
	await seller.page.evaluate(([key, state]) => localStorage.setItem(key, JSON.stringify(state)), [`tdrop:drop:${drop.id}`, { order, orderToken: bought.orderToken }]);
	await seller.page.reload();
	await seller.page.getByRole("heading", { name: "You’re going!" }).waitFor();
	const start = seller.page.getByRole("button", { name: "Sell ticket 1 at face value" });
	await start.waitFor({ timeout: 15_000 });
	await start.click();
	const dialog = seller.page.getByRole("dialog", { name: "List this ticket for resale?" });
	await dialog.waitFor();
	const body = await dialog.textContent();
	assert.match(body, /€20\.00/, "the confirm step names the face value");
	assert.match(body, /€18\.00/, "and what comes back, less the promoter's 10 %");
	await assertAccessible(seller.page, "resale confirm, phone", { log });
	// Backing out lists nothing.
	await dialog.getByRole("button", { name: "Keep my ticket" }).click();
	await dialog.waitFor({ state: "hidden" });
	const none = (await api.call("GET", `/api/orders/${bought.orderId}/listings`, { token: bought.orderToken, expect: 200 })).data;
	assert.equal(none.listings.length, 0, "backing out listed nothing");

	await start.click();
	await seller.page.getByRole("dialog", { name: "List this ticket for resale?" }).getByRole("button", { name: "List for resale" }).click();
	await seller.page.getByText("Listed for resale: you get €18.00 back when it sells.", { exact: false }).waitFor({ timeout: 15_000 });
	assert.equal(await seller.page.getByRole("button", { name: "Transfer ticket 1" }).count(), 0, "a listed ticket is not offered for transfer");
	await assertAccessible(seller.page, "ticket listed on the order view, phone", { log });
	await shot(seller.page, "fan-resale-listed");
	const pass = order.passes[0];
	await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: await rotatingCode(pass.token, pass.secret, Date.now(), 10) }, expect: 409 });
	log("listed: the gate refuses the ticket");

	// Withdrawn behind its confirm step, then listed again.
	await seller.page.getByRole("button", { name: "Withdraw listing" }).click();
	const withdraw = seller.page.getByRole("dialog", { name: "Withdraw this listing?" });
	await withdraw.waitFor();
	await assertAccessible(seller.page, "withdraw confirm, phone", { log });
	await withdraw.getByRole("button", { name: "Withdraw listing" }).click();
	await start.waitFor({ timeout: 15_000 });
	await start.click();
	await seller.page.getByRole("dialog", { name: "List this ticket for resale?" }).getByRole("button", { name: "List for resale" }).click();
	await seller.page.getByRole("button", { name: "Withdraw listing" }).waitFor({ timeout: 15_000 });
	log("withdrawn and listed again");

	// Another fan buys the listed unit at face value: the seller's page says it was resold.
	const second = await api.buy(drop.id, "resale-buyer", 1);
	assert.equal(second.totalCents, 2000, "the buyer pays the face value");
	const theirs = await ticketedOrder(api, second);
	let sold = false;
	for (let i = 0; i < 100 && !sold; i++) {
		const now = (await api.call("GET", `/api/orders/${bought.orderId}/listings`, { token: bought.orderToken, expect: 200 })).data;
		sold = now.listings.some((l) => l.state === "sold");
		if (!sold) await sleep(200);
	}
	assert.ok(sold, "the listing was sold to the buyer's order");
	await seller.page.reload();
	await seller.page.getByText("Resold: €18.00 is refunded to you.").waitFor({ timeout: 15_000 });
	await seller.page.getByText("Your order was refunded: €18.00 goes back to the card you paid with.", { exact: false }).waitFor();
	assert.equal(await seller.page.locator("#tickets svg.qr").count(), 0, "no code is drawn for a resold ticket");
	await assertAccessible(seller.page, "ticket resold on the order view, phone", { log });
	await shot(seller.page, "fan-resale-sold");
	const mine = theirs.passes[0];
	await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: await rotatingCode(mine.token, mine.secret, Date.now(), 10) }, expect: 200 });
	await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: await rotatingCode(pass.token, pass.secret, Date.now(), 10) }, expect: 409 });
	log("the buyer's ticket admits, the seller's is refused");
	await seller.context.close();
	checkProblems(problems, "fan resells a ticket");
}
