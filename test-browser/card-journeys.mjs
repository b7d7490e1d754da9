// Paying by card on the fan page, in a real Chromium against the journeys' engine
// with the fake Stripe (test-browser/run.mjs): Stripe.js is the local stand-in
// (stripe-stand-in.mjs), everything else is the page and the engine as deployed
// with STRIPE_PUBLISHABLE_KEY. A fan whose card needs 3-D Secure confirms with
// their bank and sees their tickets; a second fan whose bank refuses sees the
// decline, keeps the hold, and buys it with another card, charged once.
import assert from "node:assert/strict";
import { assertAccessible } from "./axe.mjs";
import { PHONE, checkProblems, inSeconds, openPage, sleep } from "./journeys.mjs";
import { TEST_CARDS, useStripeStandIn } from "./stripe-stand-in.mjs";

/** A fan on the page, up to their held tickets, with the card form open. */
async function heldWithCardForm(browser, base, dropId, stripeUrl, problems) {
	const fan = await openPage(browser, PHONE, problems);
	const stripeCalls = await useStripeStandIn(fan.context, stripeUrl);
	const { page } = fan;
	await page.goto(`${base}/drops/${dropId}`);
	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 30_000 });
	await page.getByLabel("Number of tickets").selectOption("1");
	await page.getByRole("button", { name: "Hold tickets" }).click();
	await page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	// Test payments stay on this engine: the test cards are there, and Stripe.js is not loaded until the card is chosen.
	await page.getByLabel("Test card that is approved").waitFor();
	assert.equal(stripeCalls.script, 0, "Stripe.js loads only once the fan pays by card");
	await page.getByLabel("Pay by card").check();
	await page.getByRole("textbox", { name: "Card number" }).waitFor();
	assert.equal(stripeCalls.script, 1, "Stripe.js loaded once");
	return { ...fan, stripeCalls };
}

async function fakeState(stripeUrl) {
	return (await fetch(`${stripeUrl}/_fake/state`)).json();
}

export async function fanPaysByCardWithThreeDSecure({ browser, base, api, adminToken, shot, log, stripe }) {
	assert.ok(stripe, "the journeys' engine runs with the fake Stripe");
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: paying by card, with the bank's check",
		capacity: 10,
		maxPerFan: 2,
		opensAt: inSeconds(1),
		priceCents: 3000,
		currency: "EUR",
		admission: { batchSize: 10, intervalMs: 250, activeMultiple: 4 },
	});
	await sleep(1500);
	const view = (await api.call("GET", `/api/drops/${drop.id}`, { expect: 200 })).data;
	assert.deepEqual(view.payments, { methods: ["test", "stripe"], stripePublishableKey: stripe.publishableKey });

	// The first fan: a card that needs 3-D Secure, confirmed at the bank.
	const first = await heldWithCardForm(browser, base, drop.id, stripe.url, problems);
	let page = first.page;
	await assertAccessible(page, "fan page, paying by card", { log });
	await page.getByRole("textbox", { name: "Card number" }).fill(TEST_CARDS.threeDSecure);
	await page.getByRole("button", { name: /^Pay/ }).click();
	await page.getByRole("button", { name: "Complete authentication" }).waitFor();
	// While the bank asks, the fan is told so and the tickets stay held.
	await page.locator("#pay-progress").getByText("Your bank asks you to confirm this payment").waitFor();
	assert.equal(await page.locator("#pay-button").textContent(), "Confirming with your bank…");
	await shot(page, "card-1-bank-check");
	const waiting = (await fakeState(stripe.url)).paymentIntents.filter((i) => i.metadata.idempotency_key?.startsWith(`${drop.id}:`));
	assert.equal(waiting.length, 1, "one PaymentIntent, waiting on the fan");
	assert.equal(waiting[0].status, "requires_action");
	await page.getByRole("button", { name: "Complete authentication" }).click();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor({ timeout: 30_000 });
	await page.locator("#order-status[data-status='ticketed'], #order-status[data-status='receipt_sent']").waitFor({ timeout: 30_000 });
	assert.equal(await page.locator("#tickets li").count(), 1, "one ticket shown");
	const orderId = (await page.locator("#order-id").textContent()).trim();
	await assertAccessible(page, "fan page, paid by card", { log });
	await shot(page, "card-2-paid");
	log(`the bank's check confirmed: order ${orderId}, its ticket on the page`);
	assert.deepEqual(first.stripeCalls.api, ["/_fake/complete-action"], "the page's only call to Stripe's API is the bank's check");
	checkProblems(problems, "3-D Secure card");
	await first.context.close();

	// The second fan: the bank refuses the check. The decline is said, the hold is kept, and another card buys it.
	const second = await heldWithCardForm(browser, base, drop.id, stripe.url, problems);
	page = second.page;
	await page.getByRole("textbox", { name: "Card number" }).fill(TEST_CARDS.threeDSecure);
	await page.getByRole("button", { name: /^Pay/ }).click();
	await page.getByRole("button", { name: "Fail authentication" }).click();
	const alert = page.getByRole("alert").filter({ hasText: "Your bank did not confirm the payment" });
	await alert.waitFor();
	assert.match(await alert.textContent(), /Your tickets are still held/);
	assert.equal(await page.evaluate(() => document.activeElement?.id), "pay-error", "focus moves to the decline");
	assert.ok(await page.getByRole("heading", { name: "Your tickets are held" }).isVisible(), "the hold is kept");
	await assertAccessible(page, "fan page, bank refused", { log });
	await shot(page, "card-3-bank-refused");
	const stats = await api.dropStats(drop.id);
	assert.equal(stats.held, 1, "the refused fan's ticket is still held");
	log("the bank refused: the decline is shown and the hold kept");
	await page.getByRole("textbox", { name: "Card number" }).fill(TEST_CARDS.visa);
	await page.getByRole("button", { name: /^Pay/ }).click();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor({ timeout: 30_000 });
	log("another card then bought the held ticket");
	checkProblems(problems, "refused bank check");
	await second.context.close();

	// Money: each hold charged once, the refused check's intent never paid.
	const intents = (await fakeState(stripe.url)).paymentIntents.filter((i) => i.metadata.idempotency_key?.startsWith(`${drop.id}:`));
	assert.deepEqual(intents.map((i) => i.status).sort(), ["requires_payment_method", "succeeded", "succeeded"]);
	const audit = (await api.call("GET", `/api/admin/drops/${drop.id}/audit`, { token: adminToken, expect: 200 })).data;
	assert.equal(audit.holdsChargedTwice, 0);
	assert.equal(audit.payments, 2);
	assert.equal(audit.totals.sold, 2);
}
