// Actions that cannot be taken back ask first, and errors read by what caused them,
// in a real Chromium at desktop and phone sizes: the promoter's refund and "refund
// and resell" confirm in a dialog (and resell is not offered on a reserved seat),
// an order action's error shows by its button; the fan's "Give the tickets back"
// sits apart from Pay and confirms; a bad receipt email is the field's error; the
// create form shows every field error at once and clears each one once fixed.
import assert from "node:assert/strict";
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

const focusedText = (page) => page.evaluate(() => document.activeElement?.textContent ?? "");
const focusedId = (page) => page.evaluate(() => document.activeElement?.id ?? "");

/** An order's tickets once issued (the follow-up issues them a moment after the sale), read with its order token. */
async function issuedOrder(api, order) {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const { data } = await api.call("GET", `/api/orders/${order.orderId}`, { token: order.orderToken, expect: 200 });
		if (data.passes?.[0]?.token) return data;
		if (Date.now() > deadline) throw new Error(`order ${order.orderId} got no ticket tokens in time`);
		await sleep(300);
	}
}

const saleOf = async (api, adminToken, dropId, orderId) =>
	(await api.call("GET", `/api/admin/drops/${dropId}/sales?limit=50`, { token: adminToken, expect: 200 })).data.sales.find((s) => s.orderId === orderId);

/**
 * The promoter's order actions: Refund asks in a dialog that names the money and the tickets
 * (Escape backs out, nothing refunded; confirming by keyboard refunds), "Refund and resell" that
 * the engine refuses (a ticket already used at the gate) says why by its own button, not above
 * the list; a reserved-seat order is not offered "Refund and resell" at all.
 */
export async function promoterConfirmsOrderActions({ browser, base, api, adminToken, gateToken, shot, log }) {
	const opensAt = new Date(Date.now() - 1_000).toISOString();
	const admission = { batchSize: 50, intervalMs: 250, activeMultiple: 20 };
	const general = await api.createDrop({ name: "Browser test: refunds asked first", capacity: 20, maxPerFan: 2, opensAt, priceCents: 2_500, currency: "USD", shards: 1, admission, holdSeconds: 120 });
	const seated = await api.createDrop({
		name: "Browser test: a seat refunded",
		maxPerFan: 2,
		opensAt,
		admission,
		holdSeconds: 120,
		ticketTypes: [{ id: "stalls", name: "Stalls", kind: "seated", priceCents: 4_000, seats: [1, 2, 3, 4].map((n) => ({ id: `A-1-${n}`, section: "A", row: "1", number: n })) }],
	});
	const plain = [];
	for (let i = 0; i < 2; i++) plain.push(await api.buy(general.id, `refund-fan-${i}`, 2));
	const seat = await api.buy(seated.id, "seat-fan", 1, { ticketType: "stalls", seats: ["A-1-2"] });
	// One ticket of the second order goes through the gate: the engine then refuses to put that order back on sale.
	const used = await issuedOrder(api, plain[1]);
	await api.call("POST", `/api/admin/drops/${general.id}/scan`, { token: gateToken, body: { ticket: used.passes[0].token }, expect: 200 });
	log(`drops ${general.id} (orders ${plain.map((o) => o.orderId).join(", ")}) and ${seated.id} (seat order ${seat.orderId})`);

	for (const [size, device] of SIZES) {
		const problems = [];
		const { context, page } = await openPage(browser, device, problems);
		await page.goto(`${base}/admin#${seated.id}`);
		await signInAs(page, adminToken);
		await page.getByRole("heading", { level: 2, name: seated.name }).waitFor();
		const seatLine = page.locator(`#orders li[data-order-id='${seat.orderId}']`);
		await seatLine.getByRole("button", { name: `Refund order ${seat.orderId}`, exact: true }).waitFor({ timeout: 15_000 });
		assert.equal(await seatLine.locator("button", { hasText: "Refund and resell" }).count(), 0, `${size}: a reserved-seat order is not offered Refund and resell`);
		log(`${size}: the seat order offers Refund only`);

		await page.evaluate((id) => (location.hash = id), general.id);
		await page.getByRole("heading", { level: 2, name: general.name }).waitFor();
		// The second order is never refunded here: it shows both refunds at either size.
		const kept = plain[1].orderId;
		await page.locator(`#orders li[data-order-id='${kept}']`).getByRole("button", { name: `Refund order ${kept}`, exact: true }).waitFor({ timeout: 15_000 });
		assert.equal(await page.locator(`#orders li[data-order-id='${kept}']`).getByRole("button", { name: `Refund and resell order ${kept}` }).count(), 1, `${size}: a general-admission order may be resold`);

		if (size === "desktop") {
			const first = plain[0].orderId;
			const refund = page.locator(`#orders li[data-order-id='${first}']`).getByRole("button", { name: `Refund order ${first}`, exact: true });
			// Refund asks first; backing out with Escape changes nothing and puts focus back on the button.
			await refund.click();
			const dialog = page.getByRole("dialog", { name: `Refund order ${first}?` });
			await dialog.waitFor();
			assert.match(await dialog.textContent(), /The buyer gets \$50\.00 back for 2 tickets\. They stop working at the gate and stay off sale\. This cannot be undone\./);
			assert.equal(await focusedText(page), "Keep the order", "the safe choice has focus first");
			await assertAccessible(page, "refund confirmation", { log });
			await shot(page, "confirm-1-refund-dialog");
			await page.keyboard.press("Escape");
			await dialog.waitFor({ state: "detached" });
			assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), `Refund order ${first}`, "focus returns to the Refund button");
			await sleep(1_500);
			assert.equal((await saleOf(api, adminToken, general.id, first)).refundedTickets, 0, "backing out refunds nothing");
			log("Escape on the refund's confirmation refunds nothing");

			// Confirmed with the keyboard: the order is refunded.
			await page.keyboard.press("Enter");
			await dialog.waitFor();
			await page.keyboard.press("Tab");
			assert.equal(await focusedText(page), "Refund 2 tickets");
			await page.keyboard.press("Enter");
			await page.locator(`#orders li[data-order-id='${first}'][data-status='refunded']`).waitFor({ timeout: 15_000 });
			assert.equal((await saleOf(api, adminToken, general.id, first)).refundedTickets, 2, "the confirmed refund is made");
			assert.equal(await page.evaluate(() => document.activeElement?.closest("li")?.dataset.orderId ?? null), first, "focus stays on the refunded order's line, not the page body");
			log("the confirmed refund is made");

			// The engine refuses to resell an order whose ticket was used: said by that order's button.
			const second = plain[1].orderId;
			const usedLine = page.locator(`#orders li[data-order-id='${second}']`);
			await usedLine.getByRole("button", { name: `Refund and resell order ${second}` }).click();
			const resell = page.getByRole("dialog", { name: `Refund order ${second} and resell its tickets?` });
			await resell.waitFor();
			assert.match(await resell.textContent(), /go back on sale for other fans/);
			await resell.getByRole("button", { name: "Refund 2 tickets and resell" }).click();
			const error = usedLine.getByRole("alert");
			await error.getByText(`Could not refund and resell order ${second}`).waitFor();
			assert.match(await error.textContent(), /admitted at the gate/);
			assert.ok(await page.locator("#orders-error").isHidden(), "the error is not shown above the list");
			assert.equal((await saleOf(api, adminToken, general.id, second)).refundedTickets, 0, "nothing was refunded");
			// The live refresh redraws the orders: the error stays by its button.
			await sleep(5_000);
			assert.ok(await error.isVisible(), "the error survives the live refresh");
			await assertAccessible(page, "an order's error by its button", { log });
			await shot(page, "confirm-2-order-error", { fullPage: true });
			log("the refused resell is said by its button");
		} else {
			// On a phone: the dialog fits the screen and reads the same.
			const second = plain[1].orderId;
			await page.locator(`#orders li[data-order-id='${second}']`).getByRole("button", { name: `Refund order ${second}`, exact: true }).click();
			const dialog = page.getByRole("dialog", { name: `Refund order ${second}?` });
			await dialog.waitFor();
			const box = await dialog.boundingBox();
			assert.ok(box.x >= 0 && box.x + box.width <= 390, `the dialog fits a 390 px screen (${box.x}+${box.width})`);
			await assertAccessible(page, "refund confirmation on a phone", { log });
			await assertNoSideScroll(page, "promoter page with the dialog, phone");
			await shot(page, "confirm-3-refund-dialog-phone");
			await dialog.getByRole("button", { name: "Keep the order" }).click();
			await dialog.waitFor({ state: "detached" });
			assert.equal((await saleOf(api, adminToken, general.id, second)).refundedTickets, 0, "keeping the order refunds nothing");
			log("phone: the dialog fits, Keep refunds nothing");
		}
		checkProblems(problems, `promoter order actions (${size})`);
		await context.close();
	}
}

/** Joins from the fan page and holds two tickets. */
async function holdTwo(page, base, dropId) {
	await page.goto(`${base}/drops/${dropId}`);
	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 30_000 });
	await page.getByLabel("Number of tickets").selectOption("2");
	await page.getByRole("button", { name: "Hold tickets" }).click();
	await page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
}

/**
 * The fan's "Give the tickets back": apart from Pay, asked first (Escape keeps the hold), and
 * given back once confirmed. A bad receipt email: the field's own error in plain words, marked
 * and focused, nothing charged; fixed, the error clears and the payment goes through.
 */
export async function fanConfirmsGivingBackAndFixesEmail({ browser, base, api, shot, log }) {
	for (const [size, device] of SIZES) {
		const drop = await api.createDrop({
			name: `Browser test: give back and email (${size})`,
			capacity: 10,
			maxPerFan: 2,
			opensAt: new Date(Date.now() - 1_000).toISOString(),
			priceCents: 2_500,
			currency: "USD",
			shards: 1,
			admission: { batchSize: 50, intervalMs: 250, activeMultiple: 20 },
			holdSeconds: 120,
		});
		const problems = [];
		const { context, page } = await openPage(browser, device, problems);
		await holdTwo(page, base, drop.id);

		// Apart from Pay: not in the payment form, and well below its button.
		assert.equal(await page.locator("#pay-form #release").count(), 0, "Give the tickets back is not in the payment form");
		const pay = await page.locator("#pay-button").boundingBox();
		const release = await page.locator("#release").boundingBox();
		assert.ok(release.y - (pay.y + pay.height) >= 32, `Give the tickets back sits apart from Pay (${release.y - (pay.y + pay.height)} px)`);

		await page.getByRole("button", { name: "Give the tickets back" }).click();
		const dialog = page.getByRole("dialog", { name: "Give back your 2 tickets?" });
		await dialog.waitFor();
		assert.match(await dialog.textContent(), /They go back on sale for other fans at once and your hold ends\./);
		assert.equal(await focusedText(page), "Keep my tickets", "the safe choice has focus first");
		await assertAccessible(page, `give-back confirmation (${size})`, { log });
		await shot(page, `confirm-4-give-back-${size}`);
		await page.keyboard.press("Escape");
		await dialog.waitFor({ state: "detached" });
		assert.equal(await focusedId(page), "release", "focus returns to the button");
		assert.ok(await page.getByRole("heading", { name: "Your tickets are held" }).isVisible(), "backing out keeps the hold");
		assert.equal((await api.dropStats(drop.id)).held, 2, "the engine still holds the two tickets");
		log(`${size}: Escape keeps the hold`);

		// A bad email: the field says so, marked, focused; nothing is bought.
		const email = page.getByLabel("Email for the receipt (optional)");
		const styled = await page.evaluate(() => {
			const e = document.getElementById("email").getBoundingClientRect();
			const b = document.getElementById("pay-button").getBoundingClientRect();
			return { email: e.width, button: b.width, height: e.height, radius: getComputedStyle(document.getElementById("email")).borderTopLeftRadius };
		});
		assert.ok(Math.abs(styled.email - styled.button) <= 1 && styled.height >= 44 && styled.radius === "8px", `the email input is styled like the others (${JSON.stringify(styled)})`);
		await email.fill("fan at example");
		await page.getByRole("button", { name: /^Pay/ }).click();
		const message = page.locator("#email-error");
		await message.getByText("Enter an email address like name@example.com.").waitFor();
		assert.equal(await email.getAttribute("aria-invalid"), "true", "the field is marked");
		assert.match(await email.getAttribute("aria-describedby"), /\bemail-error\b/, "the field is described by its message");
		assert.equal(await focusedId(page), "email", "focus goes to the field");
		assert.ok(await page.locator("#pay-error").isHidden(), "no payment failure is shown");
		assert.equal((await api.dropStats(drop.id)).sold, 0, "nothing was bought");
		await assertAccessible(page, `email error (${size})`, { log });
		await shot(page, `confirm-5-email-error-${size}`);
		await email.fill("fan@example.com");
		assert.ok(await message.isHidden(), "the error clears once the address is right");
		assert.equal(await email.getAttribute("aria-invalid"), "false");
		log(`${size}: a bad email is the field's error, cleared once fixed`);

		if (size === "desktop") {
			// Confirmed by keyboard: the tickets go back and the fan may choose again.
			await page.locator("#release").focus();
			await page.keyboard.press("Enter");
			await dialog.waitFor();
			await page.keyboard.press("Tab");
			assert.equal(await focusedText(page), "Give them back");
			await page.keyboard.press("Enter");
			await page.getByRole("heading", { name: "It’s your turn" }).waitFor();
			await page.getByText("You gave the tickets back.").waitFor();
			assert.equal((await api.dropStats(drop.id)).held, 0, "the hold is released");
			log("desktop: confirmed, the tickets are given back");
		} else {
			await page.getByLabel("Test card that is approved").check();
			await page.getByRole("button", { name: /^Pay/ }).click();
			await page.getByRole("heading", { name: "You’re going!" }).waitFor();
			log("phone: fixed, the payment goes through");
		}
		checkProblems(problems, `fan give-back and email (${size})`);
		await context.close();
	}
}

/** Fills a datetime-local input with the browser's local time `ms` from now. */
const localIn = (page, ms) =>
	page.evaluate((ms) => {
		const d = new Date(Date.now() + ms);
		const p = (n) => String(n).padStart(2, "0");
		return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
	}, ms);

/**
 * The create form: every field error at once, each by its field, the first focused; each
 * clears as soon as its field is fixed, with the summary counting what is left; what only the
 * engine can tell (an opening over a year in the past) is shown by its field and clears once changed.
 */
export async function promoterCreateFormErrors({ browser, base, adminToken, shot, log }) {
	for (const [size, device] of SIZES) {
		const problems = [];
		const { context, page } = await openPage(browser, device, problems);
		await page.goto(`${base}/admin`);
		await signInAs(page, adminToken);
		await page.getByRole("heading", { name: "Create a drop" }).waitFor();
		const field = (label) => page.getByLabel(label, { exact: true });
		const errorOf = (id) => page.locator(`#${id}-error`);

		await field("Name").fill("");
		await field("Tickets").fill("0");
		await field("Limit per fan").fill("50");
		await field("Currency").fill("US");
		await field("Opens at (the drop's time zone, below)").fill(await localIn(page, 3_600_000));
		await field("Closes at (optional)").fill(await localIn(page, 60_000));
		await page.getByRole("button", { name: "Create the drop" }).click();
		const wrong = { "f-name": "Give the drop a name.", "f-capacity": "The capacity must be a whole number between 1 and 10,000,000.", "f-maxPerFan": "The limit per fan must be a whole number between 1 and 20.", "f-currency": "Enter a three-letter currency code, such as USD or EUR.", "f-closesAt": "The closing time must be after the opening time." };
		for (const [id, text] of Object.entries(wrong)) {
			await errorOf(id).getByText(text).waitFor();
			assert.equal(await page.locator(`#${id}`).getAttribute("aria-invalid"), "true", `${id} is marked`);
		}
		await page.locator("#create-summary").getByText("5 fields need attention").waitFor();
		assert.equal(await focusedId(page), "f-name", "focus goes to the first field to fix");
		await assertAccessible(page, `create form with every error (${size})`, { log });
		await shot(page, `confirm-6-create-errors-${size}`, { fullPage: true });
		log(`${size}: five field errors at once`);

		// Each clears as its field is fixed; the closing time clears with a later one.
		await field("Tickets").fill("30");
		assert.ok(await errorOf("f-capacity").isHidden(), "the fixed field's error clears at once");
		assert.equal(await page.locator("#f-capacity").getAttribute("aria-invalid"), "false");
		await page.locator("#create-summary").getByText("4 fields need attention").waitFor();
		assert.ok(await errorOf("f-maxPerFan").isVisible(), "the others stay");
		await field("Name").fill(`Form errors (${size})`);
		await field("Limit per fan").fill("2");
		await field("Currency").fill("USD");
		await field("Closes at (optional)").fill(await localIn(page, 7_200_000));
		for (const id of Object.keys(wrong)) assert.ok(await errorOf(id).isHidden(), `${id}'s error cleared once fixed`);
		assert.ok(await page.locator("#create-summary").isHidden(), "no summary once every field is fixed");
		log(`${size}: each error clears once its field is fixed`);

		// Only the engine's clock can tell an opening too far in the past: its answer by the field, cleared once changed.
		await field("Opens at (the drop's time zone, below)").fill(await localIn(page, -2 * 366 * 86_400_000));
		await field("Closes at (optional)").fill("");
		await page.getByRole("button", { name: "Create the drop" }).click();
		await errorOf("f-opensAt").getByText(/more than a year in the past/).waitFor();
		assert.equal(await focusedId(page), "f-opensAt", "focus goes to the field the engine refused");
		await field("Opens at (the drop's time zone, below)").fill(await localIn(page, 3_600_000));
		assert.ok(await errorOf("f-opensAt").isHidden(), "the engine's error clears once the field is changed");
		log(`${size}: the engine's refusal is shown by its field, cleared once changed`);
		checkProblems(problems, `create form errors (${size})`);
		await context.close();
	}
}
