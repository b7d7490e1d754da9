// The named-inventory journeys (issue 14), in a real Chromium: a fan picks seats
// on the seat map with the pointer and another with the keyboard (the list by
// section and row), a fan buys a timeslot, and a promoter creates ticket types
// and uploads seats as CSV, seeing errors by line and sold per type. Seats are
// named in words ("Section A, row 1, seats 3 and 4"), never by their CSV ids.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { signInAs } from "./journeys.mjs";

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 };

const seats = (section, rows, perRow) =>
	Array.from({ length: rows * perRow }, (_, i) => ({ id: `${section}-${1 + Math.floor(i / perRow)}-${1 + (i % perRow)}`, section, row: String(1 + Math.floor(i / perRow)), number: 1 + (i % perRow) }));

async function openPage(browser, options, problems) {
	const context = await browser.newContext({ ...options, acceptDownloads: true });
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	page.on("console", (m) => {
		if (m.type() === "error" && !/status of 4(01|02|09|10|22)/.test(m.text())) problems.push(`console: ${m.text()}`);
	});
	page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
	return { context, page };
}

/** Joins from the page and waits for the turn. */
async function admittedOnPage(page, base, dropId) {
	await page.goto(`${base}/drops/${dropId}`);
	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 30_000 });
}

async function pay(page) {
	await page.getByLabel("Test card that is approved").check();
	await page.getByRole("button", { name: /^(Pay|Confirm)/ }).click();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor();
}

/** Waits until the public availability says `test` (it is a second or two old). */
async function availabilityShows(api, dropId, test, what) {
	const deadline = Date.now() + 10_000;
	for (;;) {
		const doc = (await api.call("GET", `/api/drops/${dropId}/availability`, { expect: 200 })).data;
		if (test(doc)) return doc;
		if (Date.now() > deadline) throw new Error(`availability never showed ${what}: ${JSON.stringify(doc).slice(0, 400)}`);
		await new Promise((r) => setTimeout(r, 300));
	}
}

const freeInRow = (doc, type, section, row) => doc.ticketTypes.find((t) => t.id === type).sections.find((s) => s.name === section).rows.find((r) => r.row === row).free;

export async function fanPicksSeats({ browser, base, api, adminToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: the Stalls",
		maxPerFan: 4,
		opensAt: new Date(Date.now() - 1_000).toISOString(),
		shards: 2,
		admission: { batchSize: 50, intervalMs: 250, activeMultiple: 20 },
		holdSeconds: 120,
		ticketTypes: [
			{ id: "stalls", name: "Stalls", kind: "seated", priceCents: 4_000, seats: [...seats("A", 2, 6), ...seats("B", 1, 6)] },
			{ id: "standing", name: "Standing", kind: "general", priceCents: 2_000, capacity: 20 },
		],
	});
	log(`drop ${drop.id}`);

	// By pointer: two seats clicked on the map.
	const one = await openPage(browser, PHONE, problems);
	await admittedOnPage(one.page, base, drop.id);
	await one.page.getByRole("group", { name: "Ticket type" }).getByText(/Stalls · \$40\.00/).waitFor();
	await one.page.getByRole("group", { name: "Ticket type" }).getByText(/Standing · \$20\.00/).waitFor();
	await one.page.locator('#seat-map [data-seat="A-1-3"]').click();
	await one.page.locator('#seat-map [data-seat="A-1-4"]').click();
	await one.page.locator("#seat-picked").getByText("Picked: Section A, row 1, seats 3 and 4.").waitFor();
	assert.equal(await one.page.locator("#quantity").inputValue(), "2", "the quantity follows the picked seats");
	await shot(one.page, "named-1-seat-map");
	await one.page.getByRole("button", { name: "Hold tickets" }).click();
	await one.page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	assert.match(await one.page.locator("#held-summary").textContent(), /Stalls: Section A, row 1, seats 3 and 4\).*\$80\.00/);
	await pay(one.page);
	await one.page.locator("#order-summary").getByText(/Stalls: Section A, row 1, seats 3 and 4/).waitFor();
	log("picked and bought A-1-3 and A-1-4 with the pointer");

	// By keyboard: the list by section and row; the seats just sold are not offered.
	await availabilityShows(api, drop.id, (d) => freeInRow(d, "stalls", "A", "1") === "1-2,5-6", "A-1-3 and A-1-4 sold");
	const two = await openPage(browser, DESKTOP, problems);
	await admittedOnPage(two.page, base, drop.id);
	await two.page.locator("#seat-list summary").focus();
	await two.page.keyboard.press("Enter");
	const rowOne = two.page.getByRole("group", { name: "Section A" }).getByRole("group", { name: /^Row 1: 4 free/ });
	await rowOne.waitFor();
	assert.equal(await rowOne.getByLabel("Seat 3").count(), 0, "a sold seat is not in the list");
	await rowOne.getByLabel("Seat 5").focus();
	await two.page.keyboard.press("Space");
	await two.page.keyboard.press("ArrowRight");
	assert.equal(await two.page.evaluate(() => document.activeElement.getAttribute("data-seat")), "A-1-6", "ArrowRight moves to the next free seat");
	await two.page.keyboard.press("Space");
	await two.page.locator("#seat-picked").getByText("Picked: Section A, row 1, seats 5 and 6.").waitFor();
	assert.equal(await two.page.locator('#seat-map [data-seat="A-1-5"]').getAttribute("class"), "seat free picked", "the map shows the keyboard's picks");
	await shot(two.page, "named-2-seat-list");
	await two.page.locator("#hold-button").focus();
	await two.page.keyboard.press("Enter");
	await two.page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	await pay(two.page);
	await two.page.locator("#order-summary").getByText(/Stalls: Section A, row 1, seats 5 and 6/).waitFor();
	log("picked and bought A-1-5 and A-1-6 with the keyboard");

	const audit = (await api.call("GET", `/api/admin/drops/${drop.id}/audit`, { token: adminToken, expect: 200 })).data;
	assert.equal(audit.named.seatsSoldTwice, 0);
	assert.deepEqual(audit.named.types.map((t) => [t.ticketType, t.sold]), [["stalls", 4], ["standing", 0]]);
	assert.deepEqual(problems, [], "the pages logged errors");
	await one.context.close();
	await two.context.close();
}

export async function fanBuysTimeslot({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: the museum",
		maxPerFan: 4,
		opensAt: new Date(Date.now() - 1_000).toISOString(),
		shards: 2,
		admission: { batchSize: 50, intervalMs: 250, activeMultiple: 20 },
		ticketTypes: [
			{
				id: "entry",
				name: "Entry",
				kind: "timeslot",
				priceCents: 1_500,
				slots: [
					{ id: "10am", startsAt: "2026-12-01T10:00:00Z", capacity: 3 },
					{ id: "11am", startsAt: "2026-12-01T11:00:00Z", capacity: 10 },
				],
			},
		],
	});
	// The 10 o'clock slot is sold out before the fan comes.
	await api.buy(drop.id, "early-visitor", 3, { ticketType: "entry", slot: "10am", quantity: 3 });
	await availabilityShows(api, drop.id, (d) => d.ticketTypes[0].slots[0].remaining === 0, "the 10am slot full");
	const { context, page } = await openPage(browser, PHONE, problems);
	await admittedOnPage(page, base, drop.id);
	const slots = page.getByRole("group", { name: "Time" });
	await slots.getByText(/full/).waitFor();
	await slots.getByText(/10 left/).waitFor();
	assert.equal(await slots.getByRole("radio").first().isDisabled(), true, "a full slot cannot be chosen");
	assert.equal(await slots.getByRole("radio").nth(1).isChecked(), true, "the first slot with room is chosen");
	await page.getByLabel("Number of tickets").selectOption("2");
	await shot(page, "named-3-timeslots");
	await page.getByRole("button", { name: "Hold tickets" }).click();
	await page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	assert.match(await page.locator("#held-summary").textContent(), /2 tickets \(Entry, .*\), \$30\.00/);
	await pay(page);
	const saved = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)), `tdrop:drop:${drop.id}`);
	const order = (await api.call("GET", `/api/orders/${saved.order.orderId}`, { token: saved.orderToken, expect: 200 })).data;
	assert.deepEqual([order.ticketType, order.slot, order.quantity, order.totalCents], ["entry", "11am", 2, 3_000]);
	await availabilityShows(api, drop.id, (d) => d.ticketTypes[0].slots[1].remaining === 8, "8 left at 11am");
	log("bought two tickets for the 11am slot");
	assert.deepEqual(problems, [], "the page logged errors");
	await context.close();
}

export async function promoterTypesAndSeats({ browser, base, api, adminToken, shot, downloadsDir, log }) {
	const problems = [];
	const { context, page } = await openPage(browser, DESKTOP, problems);
	await page.goto(`${base}/admin`);
	await signInAs(page, adminToken);
	await page.getByRole("heading", { name: "Create a drop" }).waitFor();

	const name = `Browser test: typed ${Date.now()}`;
	await page.getByLabel("Name", { exact: true }).fill(name);
	// An hour from now on the browser's clock: the form's time zone is the browser's until changed.
	const opensLocal = await page.evaluate(() => {
		const d = new Date(Date.now() + 3_600_000);
		const p = (n) => String(n).padStart(2, "0");
		return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
	});
	await page.locator("#f-opensAt").fill(opensLocal);
	await page.getByText("Ticket types, reserved seats and timeslots").click();
	await page.getByRole("button", { name: "Add a ticket type" }).click();
	await page.locator("#t0-id").fill("floor");
	await page.locator("#t0-name").fill("Floor");
	await page.locator("#t0-price").fill("30");
	await page.locator("#t0-capacity").fill("10");
	await page.getByRole("button", { name: "Add a ticket type" }).click();
	await page.locator("#t1-id").fill("seats");
	await page.locator("#t1-name").fill("Balcony");
	await page.locator("#t1-kind").selectOption("seated");
	const badCsv = join(downloadsDir, "bad-seats.csv");
	writeFileSync(badCsv, "id,section,row,number\nC-1-1,C,1,1\nC-1-1,C,1,2\n");
	await page.locator("#t1-seats").setInputFiles(badCsv);
	await page.getByRole("button", { name: "Create the drop" }).click();
	await page.locator("#t1-seats-error").getByText(/Line 3: seat "C-1-1" is listed twice/).waitFor();
	await shot(page, "named-4-create-error");
	log("the seats file's error is shown by its line");
	const goodCsv = join(downloadsDir, "seats.csv");
	writeFileSync(goodCsv, "id,section,row,number\n" + seats("C", 2, 4).map((s) => `${s.id},${s.section},${s.row},${s.number}`).join("\n"));
	await page.locator("#t1-seats").setInputFiles(goodCsv);
	await page.getByRole("button", { name: "Create the drop" }).click();
	await page.getByRole("heading", { level: 2, name }).waitFor();
	const table = page.locator("#types-table");
	await table.getByRole("row", { name: /Floor general \$30\.00 10/ }).waitFor();
	await table.getByRole("row", { name: /Balcony seated .* 8 in 1 section/ }).waitFor();
	const dropId = new URL(page.url()).hash.slice(1);
	log(`created ${dropId} with two types`);

	// A seats upload with an error: the line is named and nothing changes.
	const badUpload = join(downloadsDir, "bad-upload.csv");
	writeFileSync(badUpload, "id,section,row,number\nD-1-1,D,1,zero\n");
	await page.getByLabel(/Replace the seats of “Balcony”/).setInputFiles(badUpload);
	await page.getByRole("button", { name: "Upload seats for Balcony" }).click();
	await page.getByRole("alert").getByText(/Nothing was saved\. Line 2: "number" must be a whole number/).waitFor();
	const after = (await api.call("GET", `/api/admin/drops/${dropId}`, { token: adminToken, expect: 200 })).data;
	assert.equal(after.ticketTypes[1].capacity, 8, "a refused upload changes nothing");
	const upload = join(downloadsDir, "upload.csv");
	writeFileSync(upload, "id,section,row,number\n" + [...seats("D", 1, 5), ...seats("E", 1, 5)].map((s) => `${s.id},${s.section},${s.row},${s.number}`).join("\n"));
	await page.getByLabel(/Replace the seats of “Balcony”/).setInputFiles(upload);
	await page.getByRole("button", { name: "Upload seats for Balcony" }).click();
	await page.getByText("Saved 10 seats in 2 section(s).").waitFor();
	await table.getByRole("row", { name: /Balcony seated .* 10 in 2 section/ }).waitFor();
	await shot(page, "named-5-types-panel");
	log("a good upload replaces the seats");
	assert.deepEqual(problems, [], "the page logged errors");
	await context.close();
}
