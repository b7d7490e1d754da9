// The fan page's smaller words, in a real Chromium at desktop and phone sizes:
// a drop whose every ticket is held says why "0 left" is not sold out and what
// joining then means; the sold-out page of a fan whose turn came before the
// sell-out thanks no one and offers the one next step the engine has for them
// (tickets a promoter's refund puts back on sale while nobody waits in line),
// which works; the header names the drop, never the
// fan's id; each ticket type's price has its own box and the header says
// "from" the lowest rather than one type's price for all.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { assertAccessible } from "./axe.mjs";
import { DESKTOP, PHONE, checkProblems, inSeconds, openPage, sleep } from "./journeys.mjs";

async function assertNoSideScroll(page, label) {
	// Against the screen's width, not innerWidth: a phone's browser widens its layout to fit a page that overflows.
	const width = page.viewportSize().width;
	const scroll = await page.evaluate(() => Math.max(document.documentElement.scrollWidth, window.innerWidth));
	assert.ok(scroll <= width + 1, `${label}: the page scrolls sideways (${scroll} > ${width})`);
}

/** The header shows the drop's name and nothing of the fan's id (which the page keeps in localStorage). */
async function assertHeaderNamesDrop(page, drop, label) {
	const header = (await page.locator("header").innerText()).trim();
	const fanId = await page.evaluate(() => localStorage.getItem("tdrop:fanId"));
	assert.ok(fanId, `${label}: the page made a fan id`);
	assert.ok(header.includes(drop.name), `${label}: the header names the drop (${header})`);
	assert.ok(!header.includes(fanId) && !header.includes(fanId.slice(0, 12)) && !/\bFan fan-/.test(header), `${label}: the header shows no fan id (${header})`);
}

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

export async function fanSeesEveryTicketHeld({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: all held",
		capacity: 2,
		maxPerFan: 2,
		opensAt: inSeconds(1),
		holdSeconds: 120,
		admission: { batchSize: 10, intervalMs: 250, activeMultiple: 2 },
	});
	await sleep(1500);
	// Another fan holds both tickets and does not pay (yet).
	const joined = await api.join(drop.id, "api-fan-holds-all");
	const access = await api.waitAdmitted(drop.id, joined.queueToken);
	await api.call("POST", `/api/drops/${drop.id}/holds`, { token: access, headers: { "idempotency-key": randomUUID() }, body: { quantity: 2 }, expect: 201 });
	await waitForView(api, drop.id, (v) => v.remaining === 0 && v.status === "open", "every ticket held, not sold out");

	for (const [size, options] of [
		["phone", PHONE],
		["desktop", DESKTOP],
	]) {
		const { context, page } = await openPage(browser, options, problems);
		await page.goto(`${base}/drops/${drop.id}`);
		await page.getByRole("heading", { name: "Get in line" }).waitFor();
		const note = page.locator("#held-note");
		await note.waitFor();
		const words = await note.innerText();
		assert.match(words, /held right now by fans who are paying/, `${size}: the page says every ticket is held by fans paying`);
		assert.match(words, /some may come back/, `${size}: and that tickets may come back`);
		assert.match(words, /Joining gives you a place in line/, `${size}: and what joining means then`);
		assert.match(words, /2 minutes/, `${size}: with how long a hold lasts`);
		assert.equal((await page.locator("#intro-remaining").innerText()).trim(), "0 (all held)");
		assert.ok(await page.getByRole("button", { name: "Join the queue" }).isVisible(), `${size}: joining is still offered`);
		await assertHeaderNamesDrop(page, drop, size);
		await assertNoSideScroll(page, `all held, ${size}`);
		await assertAccessible(page, `all held, ${size}`, { log });
		await shot(page, `fan-10-all-held-${size}`);
		await context.close();
	}
	log("a drop whose every ticket is held says so, and what joining means then");
	checkProblems(problems, "every ticket held");
}

export async function fanSoldOutNextStep({ browser, base, api, adminToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: one ticket, then a return",
		capacity: 1,
		maxPerFan: 1,
		opensAt: inSeconds(1),
		admission: { batchSize: 10, intervalMs: 250, activeMultiple: 1 },
	});
	await sleep(1500);
	// A fan whose turn came before the sell-out, on a phone: the last ticket goes while they choose.
	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/drops/${drop.id}`);
	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 30_000 });
	const order = await api.buy(drop.id, "api-fan-buys-the-one", 1);
	await waitForView(api, drop.id, (v) => v.status === "sold_out", "the drop sold out");
	await page.getByRole("button", { name: "Hold tickets" }).click();
	await page.getByRole("heading", { name: "Sold out", exact: true }).waitFor();
	const said = await page.locator("#s-final").innerText();
	assert.doesNotMatch(said, /thanks/i, "no thanks for a turn that bought nothing");
	assert.match(said, /bought by other fans while you were choosing\. Nothing has been charged\./);
	assert.match(said, /come back on sale if the promoter refunds and resells/, "the next step is said");
	const check = page.getByRole("button", { name: "Check for returned tickets" });
	assert.ok(await check.isVisible(), "the next step is a button");
	await assertHeaderNamesDrop(page, drop, "sold out");
	await assertNoSideScroll(page, "sold out, phone");
	await assertAccessible(page, "sold out, phone", { log });
	await shot(page, "fan-7-sold-out-next-step");

	// Asked by the fan: the answer is said, and focus stays on the button through the check.
	await check.focus();
	await page.keyboard.press("Enter");
	await page.locator("#live").getByText("Still sold out.").waitFor();
	assert.equal(await page.evaluate(() => document.activeElement?.id), "final-action", "focus stays on the button after the check");
	// Offline, the old copy says nothing about now: the fan is told the check could not be made.
	await context.setOffline(true);
	await check.click();
	await page.locator("#live").getByText(/Could not check just now/).waitFor();
	assert.doesNotMatch(await page.locator("#live").textContent(), /Still sold out/, "offline is not said as still sold out");
	await context.setOffline(false);
	// The failed load the browser logs while offline is the one this step caused, not the page's error.
	problems.splice(0, problems.length, ...problems.filter((p) => !p.includes("ERR_INTERNET_DISCONNECTED")));

	// The next step is real: the promoter refunds the order with restock; nobody waits in line for
	// returned tickets, so the ticket is back on sale, and the fan's turn, still running, takes it.
	await api.call("POST", `/api/admin/drops/${drop.id}/orders/${order.orderId}/refund`, { token: adminToken, body: { restock: true }, expect: 200 });
	await waitForView(api, drop.id, (v) => v.status === "open" && v.remaining === 1, "the ticket back on sale");
	await check.click();
	await page.locator("#live").getByText("Tickets are back on sale.").waitFor();
	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 30_000 });
	await page.getByRole("button", { name: "Hold tickets" }).click();
	await page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	log("sold out while choosing: no thanks; tickets a refund put back, with nobody in line, are found and held");
	checkProblems(problems, "sold out next step");
	await context.close();
}

export async function fanSeesEachTypesPrice({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: two prices",
		maxPerFan: 4,
		currency: "GBP",
		opensAt: inSeconds(3600),
		ticketTypes: [
			{ id: "stalls", name: "Stalls", kind: "general", priceCents: 4_500, capacity: 124 },
			{ id: "balcony", name: "Balcony", kind: "general", priceCents: 6_500, capacity: 40 },
		],
	});
	for (const [size, options] of [
		["desktop", DESKTOP],
		["phone", PHONE],
	]) {
		const { context, page } = await openPage(browser, options, problems);
		await page.goto(`${base}/drops/${drop.id}`);
		await page.getByRole("heading", { name: "Get in line" }).waitFor();
		const meta = (await page.locator("#drop-meta").innerText()).trim();
		assert.match(meta, /^Tickets from £45\.00 · /, `${size}: the header says the lowest price as "from" (${meta})`);
		assert.doesNotMatch(meta, /£65/, `${size}: and no one type's price for all`);
		const boxes = await page.$$eval("#intro-figures > div:not([hidden])", (divs) =>
			divs.map((d) => ({ dt: d.querySelector("dt").textContent.trim(), dd: d.querySelector("dd").textContent.trim() })),
		);
		assert.deepEqual(
			boxes.filter((b) => b.dd.startsWith("£")),
			[
				{ dt: "Stalls", dd: "£45.00" },
				{ dt: "Balcony", dd: "£65.00" },
			],
			`${size}: each type's price in its own box`,
		);
		await assertHeaderNamesDrop(page, drop, size);
		await assertNoSideScroll(page, `two prices, ${size}`);
		await assertAccessible(page, `two prices, ${size}`, { log });
		await shot(page, `fan-11-two-prices-${size}`);
		await context.close();
	}
	log("each type's price in its own box; the header says from the lowest");
	checkProblems(problems, "each type's price");
}
