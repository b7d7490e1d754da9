// The promoter's pages read well at desktop and phone sizes, in a real Chromium: the
// create form holds a second ticket type without overflowing, the per-type table keeps
// its headings and prices whole on a phone, the activity log speaks in words (the raw
// detail a click away), a new key has a copy button, orders name their buyer, time and
// tickets and can be searched and paged past 50, the totals say what was refunded, and
// before the opening the audit leaves "admitted in order" unchecked instead of ticked.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { assertAccessible } from "./axe.mjs";
import { DESKTOP, PHONE, checkProblems, openPage, signInAs, sleep } from "./journeys.mjs";

const SIZES = [
	["desktop", DESKTOP],
	["phone", PHONE],
];

async function assertNoSideScroll(page, label) {
	const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
	assert.ok(scroll <= width + 1, `${label}: the page scrolls sideways (${scroll} > ${width})`);
}

/** One fan's purchase with a receipt email (the test client's buy gives none). */
async function buyWithEmail(api, dropId, fanId, quantity, email) {
	const joined = await api.join(dropId, fanId);
	const access = await api.waitAdmitted(dropId, joined.queueToken);
	const hold = (await api.call("POST", `/api/drops/${dropId}/holds`, { token: access, headers: { "idempotency-key": randomUUID() }, body: { quantity }, expect: 201 })).data;
	return (await api.call("POST", `/api/drops/${dropId}/holds/${hold.holdId}/purchase`, { token: access, body: { payment: { method: "test", token: "ok" }, email }, expect: 201 })).data;
}

/** Every text node of the element (its headings, cells) sits on one line: no word broken into letters. */
async function linesOf(page, selector) {
	return page.$$eval(selector, (cells) =>
		cells.map((cell) => {
			const range = document.createRange();
			range.selectNodeContents(cell);
			const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
			return { text: cell.textContent, lines: tops.size };
		}),
	);
}

/**
 * Orders, totals, activity and the audit on two drops (one sold with refunds, one not
 * opened yet with two types), then the create form with two types, and a key's copy button.
 */
export async function promoterPagesReadWell({ browser, base, api, adminToken, shot, log }) {
	const admission = { batchSize: 100, intervalMs: 250, activeMultiple: 20 };
	const sold = await api.createDrop({ name: "Browser test: many orders", capacity: 200, maxPerFan: 2, opensAt: new Date(Date.now() - 1_000).toISOString(), priceCents: 4_500, currency: "GBP", shards: 1, admission, holdSeconds: 120 });
	const later = await api.createDrop({
		name: "Browser test: opens later",
		maxPerFan: 4,
		opensAt: new Date(Date.now() + 3_600_000).toISOString(),
		currency: "GBP",
		admission,
		ticketTypes: [
			{ id: "standing", name: "Standing", kind: "general", capacity: 100, priceCents: 4_500 },
			{ id: "balcony", name: "Balcony seats", kind: "general", capacity: 24, priceCents: 6_500 },
		],
	});
	// 53 orders: past the first page of 50. The first two buyers give an email.
	const orders = [await buyWithEmail(api, sold.id, "pages-fan-a", 2, "ana.buyer@example.com"), await buyWithEmail(api, sold.id, "pages-fan-b", 1, "ben@example.org")];
	// Bought ten at a time: one by one the queue's polls make this the slowest part of the journey.
	for (let i = 0; i < 51; i += 10) orders.push(...(await Promise.all(Array.from({ length: Math.min(10, 51 - i) }, (_, k) => api.buy(sold.id, `pages-fan-${i + k}`, 1)))));
	const admin = { token: adminToken };
	// The first order refunded (2 tickets, £90.00), and the drop paused: both in the log.
	await api.call("POST", `/api/admin/drops/${sold.id}/orders/${orders[0].orderId}/refund`, { ...admin, body: {}, expect: 200 });
	await api.call("PATCH", `/api/admin/drops/${sold.id}`, { ...admin, body: { paused: true }, expect: 200 });
	const deadline = Date.now() + 30_000;
	while ((await api.dropStats(sold.id)).recorded < orders.length) {
		assert.ok(Date.now() < deadline, "the orders reached D1 in time");
		await sleep(300);
	}
	const audit = (await api.call("GET", `/api/admin/drops/${sold.id}/audit`, { ...admin, expect: 200 })).data;
	log(`drops ${sold.id} (${orders.length} orders, one refunded) and ${later.id} (opens in an hour)`);

	for (const [size, device] of SIZES) {
		const problems = [];
		const { context, page } = await openPage(browser, device, problems);
		await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
		await page.goto(`${base}/admin#${later.id}`);
		await signInAs(page, adminToken);
		await page.getByRole("heading", { level: 2, name: later.name }).waitFor();

		// Before the opening, nothing about admission has been checked: it is not shown as passed.
		const inOrder = page.locator("#audit li", { hasText: "admitted in order" });
		await inOrder.waitFor({ timeout: 15_000 });
		const inOrderText = await inOrder.textContent();
		assert.ok(!inOrderText.startsWith("✓"), `${size}: "admitted in order" is not ticked before the opening (${inOrderText})`);
		assert.match(inOrderText, /not checked yet/i, `${size}: "admitted in order" reads as not checked yet`);
		assert.match(await page.locator("#audit li", { hasText: "shuffle" }).textContent(), /not checked yet/i, `${size}: the shuffle reads as not checked yet`);
		log(`${size}: before the opening the audit says "${inOrderText.trim()}"`);

		// The per-type table: headings and prices each on one line, the page not scrolling sideways.
		await page.locator("#types-table").waitFor();
		for (const cell of await linesOf(page, "#types-table th, #types-table td")) {
			assert.equal(cell.lines, 1, `${size}: "${cell.text}" in the per-type table is broken over ${cell.lines} lines`);
		}
		await assertNoSideScroll(page, `${size} types table`);
		await shot(page, `pages-1-types-${size}`, { fullPage: true });
		log(`${size}: the per-type table keeps every heading and price on one line`);

		// The sold drop: orders with buyer, time and tickets; search; more than 50.
		await page.evaluate((id) => (location.hash = id), sold.id);
		await page.getByRole("heading", { level: 2, name: sold.name }).waitFor();
		const withEmail = page.locator(`#orders li[data-order-id='${orders[1].orderId}']`);
		await withEmail.waitFor({ timeout: 15_000 });
		const line = await withEmail.textContent();
		assert.match(line, /ben@example\.org/, `${size}: the order names its buyer`);
		assert.match(line, /1 ticket/, `${size}: the order says its tickets`);
		assert.match(line, /\d{1,2}:\d{2}/, `${size}: the order says when it was made`);
		assert.equal(await page.locator("#orders > li").count(), 50, `${size}: the first 50 orders`);
		// The orders' reads the live loop makes: the sales pages asked for, and the refunds read beside them each round.
		const reads = { sales: [], refunds: 0 };
		page.on("request", (r) => {
			const u = new URL(r.url());
			// The chart's own reads (a thousand at a time, from its resume cursor) are not the orders list's.
			if (u.pathname === `/api/admin/drops/${sold.id}/sales` && u.searchParams.get("limit") !== "1000") reads.sales.push(Object.fromEntries(u.searchParams));
			if (u.pathname === `/api/admin/drops/${sold.id}/refunds`) reads.refunds += 1;
		});
		/** What the orders' live refresh reads in its next two rounds (bounded: the loop refreshes the orders every 4 s, later on a loaded machine). */
		const liveRounds = async () => {
			reads.sales = [];
			reads.refunds = 0;
			const deadline = Date.now() + 30_000;
			while (reads.refunds < 2 && Date.now() < deadline) await sleep(200);
			assert.ok(reads.refunds >= 2, `${size}: the live loop refreshed the orders twice`);
			return { sales: [...reads.sales], rounds: reads.refunds };
		};
		await page.getByRole("button", { name: "Show more orders" }).click();
		await page.locator("#orders > li").nth(52).waitFor({ timeout: 10_000 });
		assert.equal(await page.locator("#orders > li").count(), orders.length, `${size}: every order after "Show more orders"`);
		assert.ok(await page.getByRole("button", { name: "Show more orders" }).isHidden(), `${size}: nothing more to show`);
		if (size === "desktop") {
			// Past the first page, a live round reads the first page and the last again, a page each, never all shown at once.
			const { sales: live, rounds } = await liveRounds();
			assert.ok(live.length > 0 && live.length <= 2 * rounds, `${size}: ${rounds} live rounds read ${live.length} pages (at most the first and the last each)`);
			for (const r of live) assert.equal(r.limit, "50", `${size}: a live read asks one page (${JSON.stringify(r)})`);
			assert.equal(await page.locator("#orders > li").count(), orders.length, `${size}: every order still shown after the live rounds`);
		}
		log(`${size}: orders show buyer, time and tickets; ${orders.length} orders reached past the first 50`);

		const search = page.getByRole("searchbox", { name: "Find an order" });
		for (const [q, expected] of [
			["ANA.BUYER", orders[0].orderId],
			[orders[30].orderId, orders[30].orderId],
			[orders[40].tickets[0], orders[40].orderId],
		]) {
			await search.fill(q);
			await search.press("Enter");
			await page.waitForFunction(
				(id) => {
					const items = [...document.querySelectorAll("#orders > li")];
					return items.length === 1 && items[0].dataset.orderId === id;
				},
				expected,
				{ timeout: 10_000 },
			);
		}
		if (size === "desktop") {
			// A search is read when it is asked for, not again in the live loop.
			const { sales: live } = await liveRounds();
			assert.deepEqual(live.filter((r) => r.q !== undefined), [], `${size}: the live loop ran the search again`);
			assert.equal(await page.locator("#orders > li").count(), 1, `${size}: the search's order still shown`);
		}
		await search.fill("nobody@nowhere.test");
		await search.press("Enter");
		await page.locator("#orders-empty", { hasText: "No order matches" }).waitFor({ timeout: 10_000 });
		await page.getByRole("button", { name: "Show every order" }).click();
		await page.locator("#orders > li").nth(49).waitFor({ timeout: 10_000 });
		log(`${size}: the search finds an order by email, order id and ticket code`);

		// Totals after the refund: a refunded figure beside Sold and sold net of refunds, as the audit counts them.
		const net = audit.totals.sold - audit.refunds.tickets + audit.refunds.restocked;
		await page.waitForFunction(([refunded, net]) => document.getElementById("stat-refunded")?.textContent === String(refunded) && document.getElementById("stat-net")?.textContent === String(net), [audit.refunds.tickets, net], { timeout: 15_000 });
		assert.equal(audit.refunds.tickets, 2);
		log(`${size}: Sold ${audit.totals.sold}, Refunded ${audit.refunds.tickets}, Sold net of refunds ${net}`);

		// The activity log in words, the raw detail kept behind a disclosure.
		const refundEntry = page.locator("#activity-list li[data-action='order.refunded']").first();
		await refundEntry.waitFor({ timeout: 15_000 });
		assert.match(await refundEntry.textContent(), new RegExp(`Refunded order ${orders[0].orderId} \\(£90\\.00\\)`), `${size}: the refund in words`);
		const pauseEntry = page.locator("#activity-list li[data-action='drop.paused']").first();
		assert.match(await pauseEntry.textContent(), /Paused the drop/, `${size}: the pause in words`);
		assert.doesNotMatch(await page.locator("#activity-list").innerText(), /order\.refunded|drop\.paused|\{"/, `${size}: no raw event names or JSON on show`);
		const raw = refundEntry.locator("details");
		await raw.locator("summary").click();
		assert.match(await raw.locator("pre").innerText(), /"refundedTickets": 2/, `${size}: the raw detail is reachable`);
		await assertNoSideScroll(page, `${size} orders and activity`);
		await assertAccessible(page, `${size} promoter page (orders, activity, totals)`, { log });
		await shot(page, `pages-2-orders-${size}`, { fullPage: true });
		log(`${size}: the activity log reads in words, the raw detail behind "Details"`);

		if (size === "desktop") {
			// The create form with two types, the second one seated: every box inside the form.
			await page.locator("#types-box summary").click();
			await page.getByRole("button", { name: "Add a ticket type" }).click();
			await page.getByRole("button", { name: "Add a ticket type" }).click();
			await page.locator(".type-row").nth(1).getByLabel("Kind of tickets").selectOption("seated");
			const overflow = await page.evaluate(() => {
				const form = document.getElementById("create-form").getBoundingClientRect();
				return [...document.querySelectorAll("#create-form .type-row, #create-form .type-row input, #create-form .type-row select, #create-form .type-row textarea")]
					.map((el) => ({ what: el.id || el.className, ...el.getBoundingClientRect().toJSON() }))
					// Hidden fields (another kind's) take no room.
					.filter((r) => r.width > 0 && (r.right > form.right + 0.5 || r.left < form.left - 0.5))
					.map((r) => `${r.what} (${Math.round(r.left)}..${Math.round(r.right)} outside ${Math.round(form.left)}..${Math.round(form.right)})`);
			});
			assert.deepEqual(overflow, [], "every ticket type's box fits in the create form at 1280 px");
			await shot(page, "pages-3-create-types");
			log("two ticket types fit the create form at 1280 px");

			// A promoter's first key: shown once, with a copy button that says it copied.
			await page.getByLabel("New promoter’s name").fill("Pages test promoter");
			await page.getByRole("button", { name: "Create the promoter" }).click();
			const box = page.locator("#promoter-key");
			await box.waitFor();
			const secret = (await page.locator("#promoter-key-value").textContent()).trim();
			await box.getByRole("button", { name: "Copy the key" }).click();
			await box.getByText("Copied to the clipboard.").waitFor();
			assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, "the key is on the clipboard");
			assert.equal(await page.locator("#promoter-key-copied").getAttribute("role"), "status", "the copy is announced");

			// Signed in with it, a new team key has the same button.
			await page.getByRole("button", { name: "Sign out" }).click();
			await signInAs(page, secret);
			await page.getByLabel("Label").fill("box office");
			await page.getByRole("button", { name: "Make a key" }).click();
			const keyBox = page.locator("#new-key");
			await keyBox.waitFor();
			const made = (await page.locator("#new-key-value").textContent()).trim();
			await keyBox.getByRole("button", { name: "Copy the key" }).click();
			await keyBox.getByText("Copied to the clipboard.").waitFor();
			assert.equal(await page.evaluate(() => navigator.clipboard.readText()), made, "the new key is on the clipboard");
			await assertAccessible(page, "a new key with its copy button", { log });
			await shot(page, "pages-4-key-copied");
			log("a new key copies to the clipboard, and says so");
		}
		checkProblems(problems, `promoter pages (${size})`);
		await context.close();
	}
}
