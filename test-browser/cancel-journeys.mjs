// A drop cancelled under the fans' feet, in a real Chromium: a fan who bought is
// told the drop was cancelled and the order refunded (with the amount, and no
// celebration left on screen or in the live region); a fan waiting in line stops
// polling and is told that nothing is charged; the promoter's page shows the
// Cancelled badge and offers no move out of it.
import assert from "node:assert/strict";
import { assertAccessible } from "./axe.mjs";
import { DESKTOP, PHONE, checkProblems, inSeconds, openPage, signInAs, sleep } from "./journeys.mjs";

export async function dropCancelledJourney({ browser, base, api, adminToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: the night that was called off",
		capacity: 10,
		maxPerFan: 2,
		opensAt: inSeconds(1),
		priceCents: 2500,
		currency: "USD",
		admission: { batchSize: 10, intervalMs: 250, activeMultiple: 4 },
	});
	await sleep(1500);

	// A fan buys two tickets on the page, and the order reaches the sales (so the cancel refunds it at once).
	const buyer = await openPage(browser, PHONE, problems);
	await buyer.page.goto(`${base}/drops/${drop.id}`);
	await buyer.page.getByRole("button", { name: "Join the queue" }).click();
	await buyer.page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 30_000 });
	await buyer.page.getByLabel("Number of tickets").selectOption("2");
	await buyer.page.getByRole("button", { name: "Hold tickets" }).click();
	await buyer.page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	await buyer.page.getByRole("button", { name: /^Pay/ }).click();
	await buyer.page.getByRole("heading", { name: "You’re going!" }).waitFor();
	await buyer.page.locator("#order-status[data-status='ticketed'], #order-status[data-status='receipt_sent']").waitFor({ timeout: 30_000 });
	const orderId = (await buyer.page.locator("#order-id").textContent()).trim();
	log(`the fan bought order ${orderId}`);

	// Admission paused, then a second fan joins and waits in line.
	await api.call("PATCH", `/api/admin/drops/${drop.id}`, { token: adminToken, body: { paused: true }, expect: 200 });
	const waiter = await openPage(browser, PHONE, problems);
	let statusPolls = 0;
	waiter.page.on("request", (r) => {
		if (r.url().endsWith(`/api/drops/${drop.id}/status`)) statusPolls++;
	});
	await waiter.page.goto(`${base}/drops/${drop.id}`);
	await waiter.page.getByRole("button", { name: "Join the queue" }).click();
	await waiter.page.getByRole("heading", { name: "You’re in the queue" }).waitFor();
	await waiter.page.locator("#paused-note").waitFor();
	log("a second fan waits in the paused line");

	// The promoter: Paused, with Resume; then Cancel, confirmed, its progress by the button.
	const promoter = await openPage(browser, DESKTOP, problems);
	const { page } = promoter;
	await page.goto(`${base}/admin#${drop.id}`);
	await signInAs(page, adminToken);
	await page.getByRole("heading", { level: 2, name: drop.name }).waitFor();
	await page.locator("#drop-status").getByText("Paused", { exact: true }).waitFor();
	await page.getByRole("button", { name: "Resume admission" }).waitFor();
	assert.equal(await page.locator("#reschedule-form").isVisible(), false, "an open drop offers no reschedule");
	await assertAccessible(page, "promoter page, paused", { log });
	let asked = null;
	page.once("dialog", (dialog) => {
		asked = dialog.message();
		void dialog.accept();
	});
	await page.getByRole("button", { name: "Cancel the drop and refund every order" }).click();
	await page.locator("#cancel-progress-text").getByText("Cancelled, and every order refunded (1 order by this cancel).").waitFor({ timeout: 30_000 });
	assert.match(asked ?? "", /cannot be undone/, "the cancel is confirmed first");
	await page.locator("#drop-status").getByText("Cancelled", { exact: true }).waitFor({ timeout: 10_000 });
	await page.locator(`#orders li[data-order-id='${orderId}'][data-status='refunded']`).waitFor({ timeout: 15_000 });
	// Nothing leaves a cancel: no Resume, no Pause, no second Cancel, no reschedule.
	for (const name of ["Resume admission", "Pause admission", "Cancel the drop and refund every order", "Refund the orders still left", "Reschedule"]) {
		assert.equal(await page.getByRole("button", { name }).count(), 0, `a cancelled drop offers no “${name}”`);
	}
	const view = (await api.call("GET", `/api/admin/drops/${drop.id}`, { token: adminToken, expect: 200 })).data;
	assert.equal(view.status, "cancelled");
	assert.deepEqual(view.moves, []);
	await page.locator(`#drop-list [data-drop-id='${drop.id}']`).getByText("Cancelled", { exact: true }).waitFor();
	await assertAccessible(page, "promoter page, cancelled", { log });
	await shot(page, "cancel-1-promoter", { fullPage: true });
	log("the promoter page shows Cancelled and offers no move");

	// The waiting fan is told, and stops asking.
	await waiter.page.getByRole("heading", { name: "This drop was cancelled" }).waitFor({ timeout: 20_000 });
	assert.match(await waiter.page.locator("#final-text").textContent(), /Nothing has been charged and nothing will be/);
	await waiter.page.waitForFunction(() => /This drop was cancelled/.test(document.getElementById("live").textContent), null, { timeout: 5_000 });
	const pollsThen = statusPolls;
	await sleep(4_000);
	assert.equal(statusPolls, pollsThen, "the page stopped polling the line after the cancel");
	await assertAccessible(waiter.page, "fan page, cancelled while waiting", { log });
	await shot(waiter.page, "cancel-2-waiting-fan");
	log("the waiting fan is told and stops polling");

	// The buyer's page, left open, turns from the celebration to the refund by itself.
	const bp = buyer.page;
	await bp.getByRole("heading", { name: "This drop was cancelled" }).waitFor({ timeout: 30_000 });
	await bp.locator("#done-notice[data-outcome='refunded']").waitFor({ timeout: 15_000 });
	const notice = await bp.locator("#done-notice").textContent();
	assert.match(notice, /refunded in full: \$50\.00 goes back to the card you paid with/, "the refund and its amount are said");
	assert.doesNotMatch(notice, /Payment accepted/);
	assert.equal(await bp.getByText("You’re going!").count(), 0, "no celebration");
	assert.equal(await bp.locator("#tickets svg.qr").count(), 0, "no QR code for a refunded ticket");
	const live = await bp.locator("#live").textContent();
	assert.match(live, /This drop was cancelled\. .*refunded in full: \$50\.00/, "the live region says it");
	assert.doesNotMatch(live, /Payment accepted/);
	await assertAccessible(bp, "fan page, order refunded", { log });
	await shot(bp, "cancel-3-buyer", { fullPage: true });
	// And after a reload, straight away.
	await bp.reload();
	await bp.locator("#done-notice[data-outcome='refunded']").waitFor();
	assert.equal(await bp.getByText("Payment accepted").count(), 0, "no “Payment accepted” for a refunded order");
	log("the buyer's page says cancelled and refunded, $50.00");

	// Someone opening the link now learns it at once.
	const late = await openPage(browser, PHONE, problems);
	await late.page.goto(`${base}/drops/${drop.id}`);
	await late.page.getByRole("heading", { name: "This drop was cancelled" }).waitFor();
	assert.equal(await late.page.getByRole("button", { name: "Join the queue" }).isVisible(), false);

	checkProblems(problems, "drop cancelled");
	for (const p of [buyer, waiter, promoter, late]) await p.context.close();
}
