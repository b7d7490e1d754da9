// A ticket handed on in a real Chromium at phone size: the buyer transfers it from
// the order view behind a confirm step and gets the accept link; the recipient opens
// the link on their own phone, accepts, and sees a ticket of their own (a new code,
// drawn as a rotating QR code) that admits at the gate while the buyer's old code is
// refused; the buyer's page then shows the ticket transferred. axe-clean at each step.
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

export async function fanTransfersTicket({ browser, base, api, gateToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: a ticket handed on",
		capacity: 10,
		maxPerFan: 2,
		opensAt: new Date(Date.now() - 1_000).toISOString(),
		admission: { batchSize: 50, intervalMs: 250, activeMultiple: 20 },
		holdSeconds: 120,
	});
	const bought = await api.buy(drop.id, "transfer-fan", 1);
	const order = await ticketedOrder(api, bought);
	const old = order.passes[0];

	const buyer = await openPage(browser, PHONE, problems);
	await buyer.page.goto(`${base}/drops/${drop.id}`);
	await buyer.page.evaluate(([key, state]) => localStorage.setItem(key, JSON.stringify(state)), [`tdrop:drop:${drop.id}`, { order, orderToken: bought.orderToken }]);
	await buyer.page.reload();
	await buyer.page.getByRole("heading", { name: "You’re going!" }).waitFor();
	const start = buyer.page.getByRole("button", { name: "Transfer ticket 1" });
	await start.waitFor();
	await start.click();
	const dialog = buyer.page.getByRole("dialog", { name: "Transfer this ticket?" });
	await dialog.waitFor();
	await assertAccessible(buyer.page, "transfer confirm, phone", { log });
	// Backing out makes nothing.
	await dialog.getByRole("button", { name: "Keep my ticket" }).click();
	await dialog.waitFor({ state: "hidden" });
	assert.equal(await buyer.page.getByLabel("Link for the recipient").count(), 0, "backing out made no link");
	await start.click();
	await buyer.page.getByRole("dialog", { name: "Transfer this ticket?" }).getByRole("button", { name: "Make a transfer link" }).click();
	const field = buyer.page.getByLabel("Link for the recipient");
	await field.waitFor({ timeout: 15_000 });
	const link = await field.inputValue();
	assert.match(link, new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/transfer#tr_[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]{43}$`), "the accept link, its secret in the fragment");
	await buyer.page.getByText("Waiting for the recipient to accept.").waitFor();
	await buyer.page.getByRole("button", { name: "Cancel transfer" }).waitFor();
	await assertAccessible(buyer.page, "transfer pending on the order view, phone", { log });
	await shot(buyer.page, "fan-transfer-pending");
	log(`the buyer made the link for order ${bought.orderId}`);

	const recipient = await openPage(browser, PHONE, problems);
	await recipient.page.goto(link);
	await recipient.page.getByText(`Someone is giving you a ticket for ${drop.name}.`).waitFor();
	await assertAccessible(recipient.page, "transfer offer, phone", { log });
	await recipient.page.getByRole("button", { name: "Accept ticket" }).click();
	await recipient.page.getByRole("heading", { name: "Your ticket" }).waitFor();
	await recipient.page.locator("#tickets svg.qr").waitFor();
	await assertAccessible(recipient.page, "the recipient's ticket, phone", { log });
	await shot(recipient.page, "fan-transfer-accepted");
	// What the page drew is the new ticket's rotating code: read its key from the page's storage and check at the gate.
	const [transferId] = link.split("#")[1].split(".");
	const holderKey = await recipient.page.evaluate((id) => JSON.parse(localStorage.getItem("transfer-keys"))[id], transferId);
	const held = (await api.call("GET", `/api/transfers/${transferId}/ticket`, { token: holderKey, expect: 200 })).data;
	assert.notEqual(held.ticket.code, old.code, "the recipient's ticket has a new code");
	const drawnCode = await recipient.page.locator("#tickets .code").textContent();
	assert.equal(drawnCode, held.ticket.code, "the page shows the new code");
	await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: await rotatingCode(old.token, old.secret, Date.now(), 10) }, expect: 409 });
	await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: await rotatingCode(held.ticket.token, held.ticket.secret, Date.now(), 10) }, expect: 200 });
	log("the old code is refused, the recipient's admits");
	// Reloaded, the recipient's page reads the ticket with their key, not the link.
	await recipient.page.reload();
	await recipient.page.getByRole("heading", { name: "Your ticket" }).waitFor();
	await recipient.page.getByText("Used at the gate").waitFor();

	await buyer.page.reload();
	await buyer.page.getByText("Transferred: the recipient holds this ticket now.").waitFor({ timeout: 15_000 });
	assert.equal(await buyer.page.locator("#tickets svg.qr").count(), 0, "the buyer's page draws no code for a ticket handed on");
	await assertAccessible(buyer.page, "ticket transferred on the order view, phone", { log });
	await buyer.context.close();
	await recipient.context.close();
	checkProblems(problems, "fan transfers a ticket");
}
