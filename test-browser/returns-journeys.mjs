// The line outlives the sell-out, in a real Chromium at phone size: a fan who
// never queued is told honestly that the drop sold out and offered a place in
// line for returned tickets; in line they see their exact place, how many
// tickets have come back and that they keep their place; the promoter's
// refunds with restock offer the returned tickets in line order (a fan who
// joined earlier is offered the first one, this fan the second); the offer
// reads as one, with its longer time, and the fan buys. In line, the fan asks
// to be emailed when their turn comes (a bad address refused in an alert, the
// answer kept across a reload); when the returned ticket is theirs, the dev
// mailbox has the mail for their address with the turn's end and the page's
// link, and the fan ahead, who left none, has none. axe-core clean at each
// step; the audit counts both offers.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { assertAccessible } from "./axe.mjs";
import { PHONE, checkProblems, inSeconds, openPage, sleep } from "./journeys.mjs";

/** Polls the public view until `ok(view)` (it is a second or two old at most). */
async function waitForView(api, dropId, ok, what) {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const view = await api.publicDrop(dropId);
		if (ok(view)) return view;
		assert.ok(Date.now() < deadline, `the public view shows ${what} (it reads ${JSON.stringify({ status: view.status, remaining: view.remaining })})`);
		await sleep(300);
	}
}

/** Polls a fan's status through the API until `ok(status)`, bounded. */
async function waitForStatus(api, dropId, queueToken, ok, what) {
	const deadline = Date.now() + 45_000;
	for (;;) {
		const { data } = await api.call("GET", `/api/drops/${dropId}/status`, { token: queueToken, expect: [200, 503] });
		if (data?.status && ok(data)) return data;
		assert.ok(Date.now() < deadline, `${what} (the status reads ${JSON.stringify(data)})`);
		await sleep(300);
	}
}

/** The dev mailbox's mail to `address`, once there is some (the pacer sends it after its tick), bounded. */
async function waitForMail(api, adminToken, address) {
	const deadline = Date.now() + 30_000;
	for (;;) {
		const { data } = await api.call("GET", `/api/admin/dev/mail?to=${encodeURIComponent(address)}`, { token: adminToken, expect: 200 });
		if (data.mail.length > 0) return data.mail;
		assert.ok(Date.now() < deadline, `a mail to ${address}`);
		await sleep(300);
	}
}

/** The number in a figure box of the waiting view, as the fan reads it. */
const figure = async (page, id) => (await page.locator(`#${id}`).innerText()).trim();

export async function fanOfferedReturnedTicket({ browser, base, api, adminToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: the line after the sell-out",
		priceCents: 2500,
		capacity: 2,
		maxPerFan: 1,
		opensAt: inSeconds(1),
		admission: { batchSize: 10, intervalMs: 250, activeMultiple: 1 },
	});
	await sleep(1500);
	const orders = [await api.buy(drop.id, "api-buyer-one", 1), await api.buy(drop.id, "api-buyer-two", 1)];
	await waitForView(api, drop.id, (v) => v.status === "sold_out", "the drop sold out");
	// A fan who joins after the sell-out before the browser's fan: first in line for a returned ticket.
	const early = await api.join(drop.id, "api-early-in-line");
	assert.equal(early.status, "sold_out", "a join after the sell-out is told it is sold out");
	assert.ok(early.queueToken, "and gets a place");
	const earlyPlaced = await waitForStatus(api, drop.id, early.queueToken, (s) => typeof s.position === "number", "the early fan is placed");

	// A fan who never queued, on a phone: told honestly it sold out, and offered a place in line.
	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/drops/${drop.id}`);
	await page.getByRole("heading", { name: "Sold out", exact: true }).waitFor();
	const said = await page.locator("#s-final").innerText();
	assert.doesNotMatch(said, /queueing|thanks/i, "a fan who never queued is not thanked for queueing");
	assert.match(said, /Every ticket in this drop has been sold\./);
	assert.match(said, /offered to the fans in line, one each, in order/, "what the line is for is said");
	assert.match(said, /You keep your place until the drop closes/);
	await assertAccessible(page, "sold out, join offered, phone", { log });
	await shot(page, "fan-11-sold-out-join-line");

	// Every text the live region is given from here on (a later announcement replaces an earlier one within moments).
	await page.evaluate(() => {
		const live = document.getElementById("live");
		window.__liveSaid = [];
		new MutationObserver(() => live.textContent && window.__liveSaid.push(live.textContent)).observe(live, { childList: true, characterData: true, subtree: true });
	});
	await page.getByRole("button", { name: "Join the line for returned tickets" }).click();
	await page.getByRole("heading", { name: "Sold out: you’re in line for returned tickets" }).waitFor();
	// The exact place: behind the fan who joined first, by the engine's own positions.
	const queueToken = await page.evaluate((id) => JSON.parse(localStorage.getItem(`tdrop:drop:${id}`)).queueToken, drop.id);
	const mine = await waitForStatus(api, drop.id, queueToken, (s) => typeof s.position === "number", "the browser's fan is placed");
	assert.equal(mine.position, earlyPlaced.position + 1, "placed right behind the fan who joined first");
	await page.locator("#position").getByText("2", { exact: true }).waitFor();
	assert.equal(await figure(page, "ahead"), "1");
	assert.equal((await page.locator("#wait-label").innerText()).trim(), "Returned tickets right now");
	assert.equal(await figure(page, "wait"), "0");
	assert.match(await page.locator("#returns-note").innerText(), /Every ticket has been sold\. You keep your place/);
	const keepSaid = /You keep your place in line for returned tickets/;
	await page.waitForFunction((source) => window.__liveSaid.some((text) => new RegExp(source).test(text)), keepSaid.source, { timeout: 10_000 });
	const liveSaid = await page.evaluate(() => window.__liveSaid);
	assert.equal(liveSaid.filter((text) => keepSaid.test(text)).length, 1, `said aloud once (live: ${JSON.stringify(liveSaid)})`);
	await assertAccessible(page, "in line for returned tickets, phone", { log });
	await shot(page, "fan-12-in-line-for-returns");
	log("joined after the sell-out: sold out said, place 2 of the line, 0 tickets back");

	// Email me when my turn comes: a bad address is refused in an alert, a good one is kept, also across a reload.
	const address = `turn-${drop.id}@fans.test`;
	await page.getByRole("heading", { name: "Email me when my turn comes" }).waitFor();
	await page.locator("#turn-mail").getByLabel("Your email address").fill("not an address");
	await page.locator("#turn-mail").getByRole("button", { name: "Email me" }).click();
	await page.locator("#turn-mail-error").getByText("That is not an email address we can write to: check it and try again.").waitFor();
	assert.equal(await page.locator("#turn-mail-email").getAttribute("aria-invalid"), "true", "the field at fault is marked");
	await page.locator("#turn-mail").getByLabel("Your email address").fill(address);
	await page.locator("#turn-mail").getByRole("button", { name: "Email me" }).click();
	await page.locator("#turn-mail-done").getByText(`We will email ${address} when a returned ticket is offered to you.`).waitFor();
	assert.ok(await page.locator("#turn-mail-error").isHidden(), "the refusal is gone once the address is taken");
	await assertAccessible(page, "in line, the turn mail asked for, phone", { log });
	await shot(page, "fan-12b-turn-mail-asked");
	await page.reload();
	await page.getByRole("heading", { name: "Sold out: you’re in line for returned tickets" }).waitFor();
	await page.locator("#turn-mail-done").getByText(`We will email ${address} when a returned ticket is offered to you.`).waitFor();
	log("asked to be emailed when the turn comes: a bad address refused, the good one kept across a reload");

	// The first returned ticket goes to the fan first in line, not to this one.
	await api.call("POST", `/api/admin/drops/${drop.id}/orders/${orders[0].orderId}/refund`, { token: adminToken, body: { restock: true }, expect: 200 });
	const offered = await waitForStatus(api, drop.id, early.queueToken, (s) => s.status === "admitted", "the first fan in line is offered the returned ticket");
	assert.equal(offered.offer, true, "the first fan's turn is an offer");
	await page.locator("#returns-offered").getByText("1 fan in line has been offered a returned ticket so far.").waitFor({ timeout: 45_000 });
	await page.locator("#position").getByText("1", { exact: true }).waitFor();
	assert.ok(await page.getByRole("heading", { name: "Sold out: you’re in line for returned tickets" }).isVisible(), "still in line, not offered");
	const hold = (await api.call("POST", `/api/drops/${drop.id}/holds`, { token: offered.accessToken, headers: { "idempotency-key": randomUUID() }, body: { quantity: 1 }, expect: 201 })).data;
	await api.call("POST", `/api/drops/${drop.id}/holds/${hold.holdId}/purchase`, { token: offered.accessToken, body: { payment: { method: "test", token: "ok" } }, expect: 201 });
	log("the first returned ticket went to the fan ahead; this fan moved to place 1");

	// The second returned ticket is this fan's: the turn reads as an offer, with its longer time.
	await api.call("POST", `/api/admin/drops/${drop.id}/orders/${orders[1].orderId}/refund`, { token: adminToken, body: { restock: true }, expect: 200 });
	await page.getByRole("heading", { name: "A returned ticket is offered to you" }).waitFor({ timeout: 45_000 });
	assert.match(await page.locator("#offer-note").innerText(), /A ticket came back and you are next in line/);
	assert.equal((await page.locator("#choose-within").innerText()).trim(), "It is kept for you for");
	const [minutes] = (await page.locator("#access-countdown").innerText()).trim().split(":").map(Number);
	assert.ok(minutes >= 20, `the offer lasts the drop's offerSeconds (30 minutes), longer than a turn's 10 (${minutes} minutes left)`);
	assert.match(await page.title(), /^Ticket offered · /);
	await assertAccessible(page, "offered a returned ticket, phone", { log });
	await shot(page, "fan-13-offered-returned-ticket");
	// The mail for this fan's address: their turn has come, until when (the turn's end, as the status grants it), and the page's link.
	const turn = await waitForStatus(api, drop.id, queueToken, (s) => s.status === "admitted", "this fan is offered the second returned ticket");
	const mail = await waitForMail(api, adminToken, address);
	assert.equal(mail.length, 1, "one mail for the turn");
	assert.match(mail[0].subject, /^Your turn has come: Browser test: the line after the sell-out$/);
	const until = new Intl.DateTimeFormat("en", { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short", timeZone: drop.timeZone ?? "UTC" }).format(new Date(turn.accessExpiresAt));
	const plain = (x) => x.replace(/[\u00a0\u202f]/g, " ");
	assert.ok(plain(mail[0].body).includes(`Your turn lasts until ${plain(until)}.`), `the mail names the turn's end ${until}: ${mail[0].body}`);
	assert.ok(mail[0].body.includes(`${base}/drops/${drop.id}`), "the mail links the drop's page");
	const all = (await api.call("GET", "/api/admin/dev/mail?limit=200", { token: adminToken, expect: 200 })).data.mail;
	assert.deepEqual(all.filter((m) => m.orderId.startsWith(`turn:${drop.id}:`)).map((m) => m.orderId), [`turn:${drop.id}:${turn.position}`], "only this fan's place was mailed: the fan ahead left no address");
	log(`the dev mailbox has the turn mail for ${address}, its turn ending ${until}`);
	await page.getByRole("button", { name: "Hold tickets" }).click();
	await page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	await page.getByRole("button", { name: /^Pay/ }).click();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor();
	log("offered the second returned ticket, with a 30-minute turn, and bought it");

	const audit = (await api.call("GET", `/api/admin/drops/${drop.id}/audit`, { token: adminToken, expect: 200 })).data;
	assert.equal(audit.admission.offeredReturns, 2, "two fans were offered a returned ticket");
	assert.equal(audit.refunds.restocked, 2);
	checkProblems(problems, "fan offered a returned ticket");
	await context.close();
}
