// The seat map during a fan's turn, in a real Chromium: it stays current (a seat
// another fan holds shows taken without a reload), a refusal at "Hold tickets" is
// an alert with focus on it, the list of seats is one Tab stop away from "Hold
// tickets"; and on a phone the seats are 24 px targets on a map that scrolls
// sideways, with a key, the stage and the price, seats named in words from the
// pick to the QR tickets, and axe-core clean with the target-size rule on.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { assertAccessible } from "./axe.mjs";

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 };

/** Rows D, E, F of the floor (14 seats each) and one balcony row: ids as a promoter's CSV has them. */
const SEATS = [
	...["D", "E", "F"].flatMap((row) => Array.from({ length: 14 }, (_, i) => ({ id: `F-${row}-${i + 1}`, section: "Floor", row, number: i + 1 }))),
	...Array.from({ length: 8 }, (_, i) => ({ id: `B-A-${i + 1}`, section: "Balcony", row: "A", number: i + 1 })),
];

async function seatedDrop(api, name) {
	return api.createDrop({
		name,
		maxPerFan: 4,
		opensAt: new Date(Date.now() - 1_000).toISOString(),
		shards: 2,
		admission: { batchSize: 50, intervalMs: 250, activeMultiple: 20 },
		holdSeconds: 120,
		ticketTypes: [
			{ id: "seats", name: "Reserved", kind: "seated", priceCents: 4_500, seats: SEATS },
			{ id: "standing", name: "Standing", kind: "general", priceCents: 2_000, capacity: 20 },
		],
	});
}

async function openPage(browser, options, problems) {
	const context = await browser.newContext(options);
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	page.on("console", (m) => {
		if (m.type() === "error" && !/status of 4(01|02|09|10|22)/.test(m.text())) problems.push(`console: ${m.text()}`);
	});
	page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
	return { context, page };
}

async function admittedOnPage(page, base, dropId) {
	await page.goto(`${base}/drops/${dropId}`);
	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 30_000 });
	await page.locator("#seat-map").waitFor();
}

/** Another fan, admitted through the API, ready to hold seats at once. */
async function otherFan(api, dropId, fanId) {
	const joined = await api.join(dropId, fanId);
	const access = await api.waitAdmitted(dropId, joined.queueToken);
	return (seats) => api.call("POST", `/api/drops/${dropId}/holds`, { token: access, headers: { "idempotency-key": randomUUID() }, body: { ticketType: "seats", seats }, expect: 201 });
}

const seatClass = (page, id) => page.locator(`#seat-map [data-seat="${id}"]`).getAttribute("class");

export async function seatMapDuringTurn({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await seatedDrop(api, "Browser test: the seat map stays current");
	const { context, page } = await openPage(browser, DESKTOP, problems);
	await admittedOnPage(page, base, drop.id);
	const other = await otherFan(api, drop.id, "seat-rival");

	// Another fan holds F-E-3: the map shows it taken, with no reload, within a few seconds.
	assert.equal(await seatClass(page, "F-E-3"), "seat free");
	// The list is patched, not redrawn: a seat's checkbox is the same node after the refresh. The summary is not
	// rewritten and nothing is said aloud, as no seat of the fan's was lost.
	await page.evaluate(() => {
		window.keptSeat = document.querySelector('#seat-list input[data-seat="F-D-2"]');
		window.summaryWrites = 0;
		new MutationObserver((m) => (window.summaryWrites += m.length)).observe(document.getElementById("seat-picked"), { childList: true, characterData: true, subtree: true });
	});
	const heldAt = Date.now();
	await other(["F-E-3"]);
	await page.waitForFunction(() => document.querySelector('#seat-map [data-seat="F-E-3"]')?.classList.contains("taken"), null, { timeout: 8_000, polling: 100 });
	const shownAfter = Date.now() - heldAt;
	assert.ok(shownAfter <= 6_000, `the taken seat showed after ${shownAfter} ms`);
	assert.equal(await page.locator('#seat-list input[data-seat="F-E-3"]').count(), 0, "a seat taken meanwhile leaves the list");
	assert.equal(await page.evaluate(() => window.keptSeat.isConnected), true, "the list was patched in place, not redrawn");
	assert.equal(await page.evaluate(() => window.summaryWrites), 0, "the picked-seats summary was not rewritten by a refresh that lost no pick");
	assert.equal(await page.locator("#seat-lost").textContent(), "", "nothing was said aloud");
	assert.match(await page.locator("#seat-list .seat-row > legend", { hasText: /^Row E/ }).textContent(), /13 free/, "the row's count follows");
	log(`a seat another fan held showed taken after ${(shownAfter / 1000).toFixed(1)} s, no reload`);

	// Reaching "Hold tickets" from a seat in the list: the list is one Tab stop, the arrows move in it.
	await page.locator("#seat-list summary").click();
	const seat = page.getByRole("group", { name: "Floor" }).getByRole("group", { name: /^Row D/ }).getByLabel("Seat 2");
	await seat.focus();
	await page.keyboard.press("ArrowRight");
	assert.equal(await page.evaluate(() => document.activeElement.getAttribute("data-seat")), "F-D-3", "ArrowRight moves to the next free seat");
	await page.keyboard.press("ArrowDown");
	assert.equal(await page.evaluate(() => document.activeElement.getAttribute("data-seat")), "F-E-4", "ArrowDown moves to the nearest free seat of the next row (F-E-3 is taken)");
	await page.keyboard.press("ArrowUp");
	await page.keyboard.press("Space");
	let presses = 0;
	while ((await page.evaluate(() => document.activeElement?.id)) !== "hold-button") {
		assert.ok(++presses <= 80, "Tab never reached Hold tickets");
		await page.keyboard.press("Tab");
	}
	assert.ok(presses <= 3, `Tab pressed ${presses} times from a seat to "Hold tickets"`);
	log(`from a seat in the list to "Hold tickets": ${presses} Tab press(es)`);

	// A refusal: the seat picked is held by someone else just before "Hold tickets".
	await page.locator("#seat-picked").getByText("Picked: Floor, row D, seat 3.").waitFor();
	await other(["F-D-3"]);
	await page.keyboard.press("Enter");
	const alert = page.getByRole("alert").filter({ hasText: "Someone else just took those seats" });
	await alert.waitFor();
	assert.equal(await page.evaluate(() => document.activeElement?.id), "choose-notice", "focus is on the refusal, not the page body");
	await page.waitForFunction(() => document.querySelector('#seat-map [data-seat="F-D-3"]')?.classList.contains("taken"), null, { timeout: 8_000 });
	await shot(page, "seat-1-refused");
	await assertAccessible(page, "fan page, seat refused", { log });
	log("the refusal is an alert with focus on it; the map shows the seat taken");
	assert.deepEqual(problems, [], "the page logged errors");
	await context.close();
}

export async function seatMapOnPhone({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await seatedDrop(api, "Browser test: the seat map on a phone");
	const { context, page } = await openPage(browser, PHONE, problems);
	// Every availability read and every timer the seat map sets: none once the fan has moved on from the choice.
	const availabilityReads = [];
	page.on("request", (r) => {
		if (new URL(r.url()).pathname === `/api/drops/${drop.id}/availability`) availabilityReads.push(Date.now());
	});
	await page.addInitScript(() => {
		window.seatTimers = 0;
		const set = window.setTimeout;
		window.setTimeout = function (fn, ms, ...rest) {
			if (/named\.js/.test(new Error().stack ?? "")) window.seatTimers += 1;
			return set.call(window, fn, ms, ...rest);
		};
	});
	await admittedOnPage(page, base, drop.id);

	// Seats are 24 px targets; the map scrolls sideways rather than shrinking them.
	const sizes = await page.locator("#seat-map .seat").evaluateAll((nodes) => nodes.map((n) => n.getBoundingClientRect()).map((r) => Math.min(r.width, r.height)));
	assert.equal(sizes.length, SEATS.length);
	assert.ok(Math.min(...sizes) >= 24, `the smallest seat is ${Math.min(...sizes).toFixed(1)} px`);
	const box = await page.locator("#seat-map-box").evaluate((b) => ({ scroll: b.scrollWidth, client: b.clientWidth }));
	assert.ok(box.scroll > box.client, "the map scrolls sideways on a phone");
	assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, "the page itself does not scroll sideways");
	// The key (not by colour alone), the stage and the price.
	const key = page.getByRole("list", { name: "Seat map key" });
	for (const words of ["Free", "Taken (crossed out)", "Picked by you (ticked)"]) await key.getByText(words).waitFor();
	await page.getByText("Reserved: $45.00 a seat in every section (Floor and Balcony). The stage is at the top of the map.").waitFor();
	assert.equal(await page.locator("#seat-map .stage-label").textContent(), "Stage");
	log(`smallest seat ${Math.min(...sizes).toFixed(1)} px; the map scrolls ${box.scroll} px in ${box.client} px`);

	// Seats in words, from the pick to the tickets: never their CSV ids.
	await page.locator('#seat-map [data-seat="F-D-5"]').click();
	await page.locator('#seat-map [data-seat="F-D-6"]').click();
	await page.locator("#seat-picked").getByText("Picked: Floor, row D, seats 5 and 6.").waitFor();
	assert.equal(await seatClass(page, "F-D-5"), "seat free picked");
	await shot(page, "seat-2-phone-map");
	await assertAccessible(page, "fan page, seat map on a phone", { log });
	await page.getByRole("button", { name: "Hold tickets" }).click();
	await page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	// Moved on: two refresh periods pass with no availability read and no seat-map timer set.
	const movedOn = Date.now();
	const timersThen = await page.evaluate(() => window.seatTimers);
	await page.waitForTimeout(7_000);
	assert.deepEqual(availabilityReads.filter((t) => t > movedOn + 500), [], "no availability read after the fan moved on from the choice");
	assert.equal(await page.evaluate(() => window.seatTimers), timersThen, "the seat map's timer stopped when the choice was left");
	await page.locator("#held-summary").getByText("2 tickets (Reserved: Floor, row D, seats 5 and 6), $90.00 in total.").waitFor();
	await page.getByLabel("Test card that is approved").check();
	await page.getByRole("button", { name: /^Pay/ }).click();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor();
	await page.locator("#order-summary").getByText(/Reserved: Floor, row D, seats 5 and 6/).waitFor();
	const tickets = page.locator("#tickets li");
	await tickets.nth(1).locator(".ticket-seat").waitFor();
	assert.deepEqual((await tickets.locator(".ticket-seat").allTextContents()).sort(), ["Floor, row D, seat 5", "Floor, row D, seat 6"]);
	await page.getByRole("img", { name: /^QR code of ticket 1, Floor, row D, seat [56]$/ }).waitFor({ timeout: 30_000 });
	const words = await page.locator("main").innerText();
	assert.doesNotMatch(words, /F-D-\d/, "no seat is named by its CSV id");
	await shot(page, "seat-3-phone-tickets", { fullPage: true });
	await assertAccessible(page, "fan page, seated tickets on a phone", { log });
	log("seats named in words from the pick to the QR tickets");
	assert.deepEqual(problems, [], "the page logged errors");
	await context.close();
}
