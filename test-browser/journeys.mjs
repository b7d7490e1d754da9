// The journeys, in a real Chromium: a fan buys tickets on the fan page, a
// promoter creates a drop and watches it sell on the promoter page.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const DESKTOP = { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 };

/** A page that records console errors, page errors and CSP violations, which fail the journey. */
export async function openPage(browser, options, problems) {
	const context = await browser.newContext({ ...options, acceptDownloads: true });
	await context.addInitScript(() => {
		document.addEventListener("securitypolicyviolation", (e) => {
			console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
		});
	});
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	page.on("console", (m) => {
		if (m.type() === "error" && !/status of 4(01|02|09|10|22)/.test(m.text())) problems.push(`console: ${m.text()}`);
	});
	page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
	return { context, page };
}

/** Expected API refusals (a declined card is a 402) show up as console errors; those are fine. */
export function checkProblems(problems, label) {
	assert.deepEqual(problems, [], `${label}: the page logged errors`);
}

async function assertNoSideScroll(page, label) {
	const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
	assert.ok(scroll <= width + 1, `${label}: the page scrolls sideways (${scroll} > ${width})`);
}

async function tabTo(page, id, max = 20) {
	for (let i = 0; i < max; i++) {
		await page.keyboard.press("Tab");
		if (await page.evaluate((want) => document.activeElement?.id === want, id)) return;
	}
	throw new Error(`#${id} is not reachable with the Tab key`);
}

/** The time `s` seconds from now, as the API takes it. */
export const inSeconds = (s) => new Date(Date.now() + s * 1000).toISOString();
/** A pause of `ms` in a journey. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The page's fan's position over everyone placed, asked with the queue token the page keeps. */
async function positionOf(page, api, dropId) {
	const state = await page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? "{}"), `tdrop:drop:${dropId}`);
	const { data } = await api.call("GET", `/api/drops/${dropId}/status`, { token: state.queueToken, expect: 200 });
	return data.position;
}

export async function fanJourney({ browser, base, api, adminToken, gateToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "The Midnight Owls, live (browser test)",
		capacity: 12,
		maxPerFan: 2,
		opensAt: inSeconds(6),
		priceCents: 2500,
		currency: "USD",
		shards: 2,
		admission: { batchSize: 1, intervalMs: 1000, activeMultiple: 4 },
		holdSeconds: 120,
	});
	log(`drop ${drop.id} opens ${drop.opensAt}`);
	const { context, page } = await openPage(browser, PHONE, problems);

	await page.goto(`${base}/drops/${drop.id}`);
	await page.getByRole("heading", { level: 1, name: drop.name }).waitFor();
	await page.getByRole("heading", { name: "Get in line" }).waitFor();
	const timer = page.getByRole("timer").first();
	assert.match(await timer.textContent(), /^\d+:\d\d$/, "a countdown to the opening is shown");
	await assertNoSideScroll(page, "fan page before opening");
	await shot(page, "fan-1-countdown");

	// The page notices the opening by itself.
	await page.getByText("The sale is open.").waitFor({ timeout: 20_000 });
	log("the page shows the drop as open");

	// Four fans join first through the API, so this fan has people ahead.
	for (let i = 1; i <= 4; i++) await api.join(drop.id, `api-fan-ahead-${i}`);

	await tabTo(page, "join");
	await page.keyboard.press("Enter");
	await page.getByRole("heading", { name: "You’re in the queue" }).waitFor();
	const place = Number(await page.locator("#position").textContent());
	const ahead = Number(await page.locator("#ahead").textContent());
	log(`waiting: place ${place}, ${ahead} ahead`);
	// The place among those still waiting: five at most (four joined first, and the line moves), the fans ahead plus one.
	assert.ok(place >= 1 && place <= 5, "the fan joined after four others");
	assert.equal(place, ahead + 1, "the place is the fans ahead plus one");
	assert.equal(await positionOf(page, api, drop.id), 5, "the fan's position over everyone: after four others");
	// The place is announced in the live region.
	await page.waitForFunction(() => /number [1-5] in line/.test(document.getElementById("live").textContent), null, { timeout: 5_000 });
	assert.ok(Number(await page.locator("#progress").getAttribute("value")) >= 0, "a progress bar is shown");
	await shot(page, "fan-2-waiting", { docs: "fan-page.png" });

	// A reload keeps the place: no second join, same position.
	await page.reload();
	await page.getByRole("heading", { name: /You’re in the queue|It’s your turn/ }).waitFor();
	if (await page.getByRole("heading", { name: "You’re in the queue" }).isVisible()) {
		assert.equal(await positionOf(page, api, drop.id), 5, "the place survives a reload");
	}
	assert.equal((await api.dropStats(drop.id)).joined, 5, "a reload does not join again");

	// The fan's id and secret for this drop are kept; knowing the id alone is not enough to join as them.
	const identity = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)), `tdrop:fan:${drop.id}`);
	assert.match(identity.fanSecret, /^[A-Za-z0-9_-]{43}$/, "the fan's secret for this drop is kept");
	const stranger = await api.call("POST", `/api/drops/${drop.id}/join`, { body: { fanId: identity.fanId } });
	assert.equal(stranger.status, 409, "a join under the fan's id without their secret is refused");
	assert.equal(stranger.data.error.code, "fan_id_taken");
	// The queue token lost: joining again from the page sends the secret and gets the same place back.
	await page.evaluate((key) => {
		const state = JSON.parse(localStorage.getItem(key));
		delete state.queueToken;
		localStorage.setItem(key, JSON.stringify(state));
	}, `tdrop:drop:${drop.id}`);
	await page.reload();
	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByRole("heading", { name: /You’re in the queue|It’s your turn/ }).waitFor();
	if (await page.getByRole("heading", { name: "You’re in the queue" }).isVisible()) {
		assert.equal(await positionOf(page, api, drop.id), 5, "a rejoin with the secret keeps the place");
	}
	assert.equal((await api.dropStats(drop.id)).joined, 5, "the rejoin made no new place");

	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 30_000 });
	log("admitted");
	await page.getByLabel("Number of tickets").selectOption("2");
	await shot(page, "fan-3-admitted");
	await tabTo(page, "hold-button", 5);
	await page.keyboard.press("Enter");

	await page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	assert.match(await page.locator("#hold-countdown").textContent(), /^\d+:\d\d$/, "the hold counts down");
	assert.match(await page.locator("#held-summary").textContent(), /2 tickets, \$50\.00/);
	await shot(page, "fan-4-held");

	await page.getByLabel("Test card that is declined").check();
	await page.getByRole("button", { name: /^Pay/ }).click();
	await page.getByRole("alert").filter({ hasText: "Payment declined" }).waitFor();
	assert.ok(await page.getByRole("heading", { name: "Your tickets are held" }).isVisible(), "a declined card keeps the hold");
	await shot(page, "fan-5-declined");
	log("a declined card is shown and the hold is kept");

	await page.getByLabel("Test card that is approved").check();
	await page.getByLabel("Email for the receipt (optional)").fill("owl-fan@example.test");
	await page.getByRole("button", { name: /^Pay/ }).click();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor();
	const orderId = (await page.locator("#order-id").textContent()).trim();
	// The order's Workflow issues the signed tickets and the receipt after the sale; the page shows them as they come.
	await page.locator("#order-status[data-status='receipt_sent']").waitFor({ timeout: 30_000 });
	assert.match(await page.locator("#order-status").textContent(), /tickets are ready/);
	const tickets = await page.locator("#tickets li .code").allTextContents();
	log(`order ${orderId}: ${tickets.join(", ")}`);
	assert.ok(orderId.length > 0, "the order id is shown");
	assert.equal(tickets.length, 2, "two ticket codes are shown");
	assert.equal(await page.locator("#tickets svg.qr").count(), 2, "a QR code per ticket");
	await assertNoSideScroll(page, "fan page with tickets");
	await shot(page, "fan-6-tickets");
	const mail = (await api.call("GET", `/api/admin/dev/mail?orderId=${orderId}`, { token: adminToken, expect: 200 })).data.mail;
	assert.equal(mail.length, 1, "one receipt in the dev mailbox");
	assert.equal(mail[0].to, "owl-fan@example.test");
	for (const code of tickets) assert.ok(mail[0].body.includes(code), "the receipt lists every ticket");
	log("tickets issued as QR codes; the receipt is in the dev mailbox");

	// The codes on the page are the engine's, for this fan's order, read with the order token the page kept.
	const stateKey = `tdrop:drop:${drop.id}`;
	const saved = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)), stateKey);
	assert.equal(typeof saved.orderToken, "string", "the page keeps the order token");
	const order = (await api.call("GET", `/api/orders/${orderId}`, { token: saved.orderToken, expect: 200 })).data;
	assert.deepEqual([...order.tickets].sort(), [...tickets].sort(), "the tickets shown are the order's");

	// At the gate: the first ticket's QR code holds its token; scanned, the page shows it used.
	const scanned = await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: order.passes[0].token }, expect: 200 });
	assert.equal(scanned.data.ticket, order.passes[0].code);
	await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: order.passes[0].token }, expect: 409 });

	await page.reload();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor();
	assert.equal((await page.locator("#order-id").textContent()).trim(), orderId, "the tickets survive a reload");

	// Long after the turn: no queue or access token left, and the kept copy lost its codes. The
	// page reads the order again from the engine with the order token.
	await page.evaluate(
		([key, state]) => localStorage.setItem(key, JSON.stringify(state)),
		[stateKey, { order: { ...saved.order, tickets: [], passes: [] }, orderToken: saved.orderToken }],
	);
	await page.reload();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor();
	await page.locator("#tickets li").nth(tickets.length - 1).waitFor();
	assert.deepEqual((await page.locator("#tickets li .code").allTextContents()).sort(), [...tickets].sort(), "the order is read again with the order token");
	log("the order is read again with the order token after a reload");
	await page.locator("#tickets li[data-state='used']").waitFor();
	assert.equal(await page.locator("#tickets svg.qr").count(), 1, "a used ticket shows no QR code");
	log("the scanned ticket shows as used");

	checkProblems(problems, "fan journey");
	await context.close();
}

/** Joining before the opening lands in the pre-queue; a hold left unpaid runs out and says so. */
export async function fanPrequeueAndHoldExpiry({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: early birds",
		capacity: 5,
		maxPerFan: 2,
		// Far enough ahead that a loaded machine still opens the page and joins before the opening.
		opensAt: inSeconds(15),
		admission: { batchSize: 10, intervalMs: 500, activeMultiple: 2 },
		holdSeconds: 10,
	});
	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/drops/${drop.id}`);
	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByText("You’re in the pre-queue.").waitFor();
	await shot(page, "fan-8-prequeue");
	log("joined the pre-queue before the opening");
	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 45_000 });
	await page.getByRole("button", { name: "Hold tickets" }).click();
	await page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 20_000 });
	await page.locator("#choose-notice").getByText("Your hold ran out").waitFor();
	await shot(page, "fan-9-hold-expired");
	// The engine agrees: the tickets went back.
	const deadline = Date.now() + 15_000;
	while ((await api.dropStats(drop.id)).held !== 0) {
		assert.ok(Date.now() < deadline, "the engine released the expired hold");
		await sleep(500);
	}
	log("an unpaid hold runs out and the fan can hold again");
	checkProblems(problems, "fan pre-queue and hold expiry");
	await context.close();
}

export async function fanEdgeStates({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: one seat",
		capacity: 1,
		maxPerFan: 1,
		opensAt: inSeconds(1),
		admission: { batchSize: 10, intervalMs: 250, activeMultiple: 1 },
	});
	await sleep(1500);
	await api.buy(drop.id, "api-fan-only-seat", 1);
	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/drops/${drop.id}`);
	await page.getByRole("heading", { name: "Sold out" }).waitFor();
	await shot(page, "fan-7-sold-out");
	await page.goto(`${base}/drops/d_no_such_drop`);
	await page.getByRole("heading", { name: "We can’t find this drop" }).waitFor();
	log("sold out and unknown drops have their own states");
	checkProblems(
		problems.filter((p) => !/status of 404/.test(p)),
		"fan edge states",
	);
	await context.close();
}

const SIGN_IN_LABEL = "API key or admin token";

export async function promoterJourney({ browser, base, api, adminToken, shot, log, downloadsDir }) {
	const problems = [];
	const { context, page } = await openPage(browser, DESKTOP, problems);
	await page.goto(`${base}/admin`);
	await page.getByRole("heading", { name: "Promoter sign-in" }).waitFor();

	// A wrong token is refused by the field.
	await page.getByLabel(SIGN_IN_LABEL, { exact: true }).fill("not-the-token");
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.locator("#admin-token-error").getByText("neither a valid API key nor this engine’s admin token").waitFor();
	assert.equal(await page.getByLabel(SIGN_IN_LABEL, { exact: true }).getAttribute("aria-invalid"), "true");

	// Signing in opens a drop: made slow to load here, so the promoter is already typing in the create form when it
	// arrives; it must not take their focus away (it did, when the engine was slow).
	await api.createDrop({ name: "Opened on sign-in", capacity: 10, maxPerFan: 2, opensAt: inSeconds(3600) });
	let slowed = 0;
	await page.route(/\/api\/admin\/drops\/d_[^/?]+$/, async (route) => {
		// The first drop read only (the one sign-in opens); the journey's later reads go at once.
		if (slowed++ === 0) await sleep(2500);
		await route.continue();
	});
	await page.getByLabel(SIGN_IN_LABEL, { exact: true }).fill(adminToken);
	await page.getByLabel(SIGN_IN_LABEL, { exact: true }).press("Enter");
	await page.getByRole("heading", { name: "Create a drop" }).waitFor();
	const stored = await page.evaluate(() => ({ session: sessionStorage.getItem("tdrop:adminToken"), local: Object.keys(localStorage) }));
	assert.equal(stored.session, adminToken, "the token is kept in the session");
	assert.deepEqual(stored.local, [], "nothing goes to localStorage");
	log("signed in");

	// Validation errors appear by their field (the page checks what the engine would refuse).
	const name = `Summer Nights, live (browser test ${Date.now().toString(36)})`;
	await page.getByLabel("Name", { exact: true }).fill(name);
	await page.getByLabel("Tickets", { exact: true }).fill("0");
	await page.getByRole("button", { name: "Create the drop" }).click();
	const capacityError = page.locator("#f-capacity-error");
	await capacityError.waitFor();
	assert.match(await capacityError.textContent(), /capacity.*between 1 and/);
	assert.equal(await page.getByLabel("Tickets", { exact: true }).getAttribute("aria-invalid"), "true");
	assert.equal(await page.evaluate(() => document.activeElement?.id), "f-capacity", "focus moves to the field to fix");
	// The drop opened meanwhile (both sides happened), and focus stayed where the promoter was.
	await page.locator("#s-drop").waitFor();
	assert.ok(slowed >= 1, "the drop opened on sign-in was loaded");
	assert.equal(await page.evaluate(() => document.activeElement?.id), "f-capacity", "the drop that opened late leaves focus where the promoter was");
	await shot(page, "promoter-1-validation");
	log("a capacity of 0 is refused by the field");

	await page.getByLabel("Tickets", { exact: true }).fill("30");
	await page.getByLabel("Limit per fan", { exact: true }).fill("2");
	// The opening typed on Tokyo's wall clock (the drop's zone, set below), not the browser's: three seconds from now.
	const opensAtMs = Date.now() + 3000;
	const opensLocal = await page.evaluate((ms) => {
		const wall = new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Tokyo", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
		const p = Object.fromEntries(wall.formatToParts(new Date(ms)).map((part) => [part.type, part.value]));
		return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
	}, opensAtMs);
	await page.getByLabel("Opens at (the drop's time zone, below)", { exact: true }).fill(opensLocal);
	await page.getByLabel("Price per ticket", { exact: true }).fill("39.50");
	await page.getByText("Admission and inventory settings").click();
	await page.getByLabel("Fans per batch", { exact: true }).fill("4");
	await page.getByLabel("Batch interval (ms)", { exact: true }).fill("500");
	await page.getByLabel("Hold time (seconds)", { exact: true }).fill("60");
	// The drop happens in Tokyo: the page shows its times there, the zone named (English names it by its offset).
	await page.getByLabel("Time zone", { exact: true }).fill("Asia/Tokyo");
	await page.getByRole("button", { name: "Create the drop" }).click();
	await page.getByRole("heading", { level: 2, name }).waitFor();
	const dropId = await page.evaluate(() => location.hash.slice(1));
	assert.match(dropId, /^d_/, "the new drop is selected");
	assert.ok(await page.getByRole("link", { name }).isVisible(), "the new drop is in the list");
	const created = await api.call("GET", `/api/admin/drops/${dropId}`, { token: adminToken, expect: 200 });
	assert.equal(created.data.capacity, 30);
	assert.equal(created.data.priceCents, 3950);
	assert.equal(created.data.admission.batchSize, 4);
	assert.equal(created.data.timeZone, "Asia/Tokyo");
	const browserZone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
	assert.ok(Math.abs(Date.parse(created.data.opensAt) - opensAtMs) < 1500, `the opening read on Tokyo's clock (the browser's is ${browserZone}): ${created.data.opensAt}`);
	const tokyo = new Date(Date.parse(created.data.opensAt) + 9 * 3_600_000).toISOString().slice(11, 16);
	await page.locator("#drop-facts", { hasText: "time zone Asia/Tokyo" }).waitFor();
	const facts = (await page.locator("#drop-facts").innerText()).replace(/\s+/g, " ");
	assert.ok(facts.includes("GMT+9") && (facts.includes(tokyo) || facts.includes(`${Number(tokyo.slice(0, 2)) % 12 || 12}:${tokyo.slice(3)}`)), `the opening in Tokyo time (${tokyo} GMT+9): "${facts}"`);
	// The zone changes after creation too: a PATCH, and the times follow.
	await page.getByLabel("The drop's time zone", { exact: true }).fill("europe/berlin");
	await page.getByRole("button", { name: "Change the time zone" }).click();
	await page.locator("#drop-facts", { hasText: "time zone Europe/Berlin" }).waitFor();
	assert.match(await page.locator("#drop-facts").innerText(), /GMT\+[12]\b/, "the opening in Berlin time, named");
	assert.equal((await api.call("GET", `/api/admin/drops/${dropId}`, { token: adminToken, expect: 200 })).data.timeZone, "Europe/Berlin");
	log(`created ${dropId} in Tokyo's time zone, moved to Berlin's`);

	// Fans buy through the API, a few at a time; the page's sold count rises.
	await sleep(3500);
	const seen = [];
	let buying = true;
	const watcher = (async () => {
		while (buying) {
			seen.push(Number((await page.locator("#stat-sold").textContent()).replace(/\D/g, "")) || 0);
			await sleep(400);
		}
	})().then(
		() => null,
		(err) => err,
	);
	const purchases = [];
	for (let i = 0; i < 6; i++) {
		// Settled at once, so a failure waits for the others instead of going unhandled.
		purchases.push(api.buy(dropId, `api-buyer-${i}`, 2).then(() => null, (err) => err));
		await sleep(1200);
	}
	const failures = (await Promise.all(purchases)).filter((e) => e !== null);
	if (failures.length > 0) {
		buying = false;
		await watcher;
		throw failures[0];
	}
	await page.locator("#stat-sold").getByText("12", { exact: true }).waitFor({ timeout: 20_000 });
	buying = false;
	const watchError = await watcher;
	if (watchError) throw watchError;
	const distinct = [...new Set(seen)];
	log(`sold counts seen on the page: ${distinct.join(" → ")}`);
	assert.ok(distinct.some((v) => v > 0 && v < 12), "the sold count was seen rising, not only at its end");
	for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], "the sold count never goes down");

	await page.locator("#stat-recorded").getByText("6", { exact: true }).waitFor({ timeout: 30_000 });
	await page.locator("#chart path.line[data-points='6']").waitFor({ timeout: 15_000 });
	assert.match(await page.locator("#chart-caption").textContent(), /12 tickets in 6 orders/);
	await page.locator("#audit-verdict").getByText("Audit passed").waitFor({ timeout: 30_000 });
	log("recorded 6 orders; chart and audit agree");
	await shot(page, "promoter-2-live", { docs: "promoter-page.png", fullPage: true });

	// Pause and resume.
	await page.getByRole("button", { name: "Pause admission" }).click();
	await page.getByRole("button", { name: "Resume admission" }).waitFor();
	assert.equal((await api.publicDrop(dropId)).paused, true, "the drop is paused");
	await page.locator("#drop-status").getByText("Paused").waitFor();
	await shot(page, "promoter-3-paused");
	await page.getByRole("button", { name: "Resume admission" }).click();
	await page.getByRole("button", { name: "Pause admission" }).waitFor();
	assert.equal((await api.publicDrop(dropId)).paused, false, "the drop is resumed");
	log("paused and resumed");

	// The CSV export downloads through fetch + Blob.
	const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download sales (CSV)" }).click()]);
	assert.equal(download.suggestedFilename(), `sales-${dropId}.csv`);
	const file = join(downloadsDir, download.suggestedFilename());
	await download.saveAs(file);
	const lines = readFileSync(file, "utf8").trim().split(/\r?\n/);
	assert.match(lines[0], /^order_id,created_at,fan_id,quantity/);
	assert.equal(lines.length, 7, "the CSV has a header and six orders");
	log("CSV downloaded with 6 orders");

	// Refunds from the page: one order refunded; the order shows it and the refunds list counts it.
	const firstOrder = page.locator("#orders li").first();
	await firstOrder.waitFor({ timeout: 15_000 });
	const refundedId = await firstOrder.getAttribute("data-order-id");
	await firstOrder.getByRole("button", { name: `Refund order ${refundedId}`, exact: true }).click();
	// Asked first (confirm-journeys.mjs proves backing out changes nothing).
	await page.getByRole("dialog", { name: `Refund order ${refundedId}?` }).getByRole("button", { name: "Refund 2 tickets" }).click();
	await page.locator(`#orders li[data-order-id='${refundedId}'][data-status='refunded']`).waitFor({ timeout: 15_000 });
	await page.locator("#refund-totals").getByText("1 refund: 2 tickets, $79.00.").waitFor();
	assert.equal(await page.locator("#refunds li").count(), 1, "the refund is listed");
	const audited = (await api.call("GET", `/api/admin/drops/${dropId}/audit`, { token: adminToken, expect: 200 })).data;
	assert.deepEqual(audited.refunds, { refunds: 1, tickets: 2, amountCents: 7900, restocked: 0, atGate: 10 }, "the audit counts the refund");
	await shot(page, "promoter-refunds");
	log(`refunded ${refundedId} from the page`);

	// Cancelling the drop from the page, after a confirmation: paused, and every order refunded.
	page.once("dialog", (dialog) => void dialog.accept());
	await page.getByRole("button", { name: "Cancel the drop and refund every order" }).click();
	await page.locator("#refund-totals").getByText("6 refunds: 12 tickets, $474.00.").waitFor({ timeout: 30_000 });
	assert.equal(await page.locator("#orders li[data-status='refunded']").count(), 6, "every order shows refunded");
	const cancelled = (await api.call("GET", `/api/admin/drops/${dropId}/audit`, { token: adminToken, expect: 200 })).data;
	assert.deepEqual(cancelled.refunds, { refunds: 6, tickets: 12, amountCents: 47400, restocked: 0, atGate: 0 }, "the audit counts every refund");
	assert.equal((await api.publicDrop(dropId)).paused, true, "the cancelled drop is paused");
	// Cancelled, not Paused, and nothing leaves it.
	await page.locator("#drop-status").getByText("Cancelled", { exact: true }).waitFor({ timeout: 10_000 });
	assert.equal(await page.getByRole("button", { name: "Resume admission" }).count(), 0, "a cancelled drop is never resumed");
	log("cancelled the drop from the page: 6 orders refunded");

	// The page works at phone width too.
	await page.setViewportSize({ width: 390, height: 844 });
	await assertNoSideScroll(page, "promoter page at phone width");
	await shot(page, "promoter-4-phone", { fullPage: true });

	await page.getByRole("button", { name: "Sign out" }).click();
	await page.getByRole("heading", { name: "Promoter sign-in" }).waitFor();
	assert.equal(await page.evaluate(() => sessionStorage.getItem("tdrop:adminToken")), null, "signing out forgets the token");

	checkProblems(problems, "promoter journey");
	await context.close();
}

/** Signs in on the promoter page with a key or token, from the sign-in form. */
export async function signInAs(page, credential) {
	await page.getByRole("heading", { name: "Promoter sign-in" }).waitFor();
	await page.getByLabel(SIGN_IN_LABEL, { exact: true }).fill(credential);
	await page.getByRole("button", { name: "Sign in" }).click();
}

async function signOutOf(page) {
	await page.getByRole("button", { name: "Sign out" }).click();
	await page.getByRole("heading", { name: "Promoter sign-in" }).waitFor();
}

const visible = (page, selector) => page.locator(selector).isVisible();

/**
 * Promoters as tenants (issue 17): the operator creates a promoter on the page and
 * sees its key once; the promoter's owner key sees only its own drops, mints a staff
 * key (shown once) and revokes it; the staff key sees no control it may not use; a gate
 * key sees only its note; the activity log names the key behind each change.
 */
export async function promoterTeamJourney({ browser, base, api, adminToken, shot, log }) {
	const problems = [];
	const { context, page } = await openPage(browser, DESKTOP, problems);
	page.on("dialog", (dialog) => dialog.accept());
	await page.goto(`${base}/admin`);

	// The operator: promoters, no keys of its own.
	await signInAs(page, adminToken);
	await page.getByRole("heading", { name: "Promoters" }).waitFor();
	assert.equal(await visible(page, "#s-keys"), false, "the operator has no team keys section");
	await page.getByLabel("New promoter’s name", { exact: true }).fill("Northern Lights Promotions (browser test)");
	await page.getByRole("button", { name: "Create the promoter" }).click();
	await page.locator("#promoter-key").waitFor();
	const ownerKey = (await page.locator("#promoter-key-value").textContent()).trim();
	assert.match(ownerKey, /^tdk_[A-Za-z0-9_-]{16}_[A-Za-z0-9_-]{43}$/, "the first owner key is shown once");
	await page.locator("#promoter-list").getByText("Northern Lights Promotions").waitFor();
	await page.locator("#activity-list li[data-action='promoter.created']").first().waitFor();
	await shot(page, "team-1-operator");
	await signOutOf(page);
	log("the operator created a promoter and saw its key once");

	// The owner: only its own drops (none yet), then one made through the API.
	await signInAs(page, ownerKey);
	await page.getByRole("heading", { name: "Team keys" }).waitFor();
	assert.match(await page.locator("#who").textContent(), /Northern Lights Promotions.*owner key “owner”/);
	assert.equal(await visible(page, "#s-promoters"), false, "a promoter sees no promoters section");
	assert.equal(await visible(page, "#drop-list-empty"), true, "the operator's drops are not listed for the promoter");
	assert.equal(await visible(page, "#s-drop"), false, "nothing of the operator's session is left on the page");
	assert.equal(await page.locator("#promoter-key-value").textContent(), "", "the key shown to the operator is gone");
	const drop = (
		await api.call("POST", "/api/admin/drops", {
			token: ownerKey,
			body: { name: "Aurora night (browser test)", capacity: 20, maxPerFan: 2, opensAt: inSeconds(-1) },
			expect: 201,
		})
	).data;
	// One sale, so the drop's orders list has its refund buttons.
	await api.buy(drop.id, "aurora-buyer", 1);
	await page.getByRole("button", { name: "Refresh the list" }).click();
	await page.getByRole("link", { name: "Aurora night (browser test)" }).waitFor();
	assert.equal(await page.locator("#drop-list li").count(), 1, "exactly the promoter's own drop");

	// A staff key, minted on the page and shown once.
	await page.getByLabel("Label", { exact: true }).fill("box office");
	await page.getByLabel("Role", { exact: true }).selectOption("staff");
	await page.getByRole("button", { name: "Make a key" }).click();
	await page.locator("#new-key").waitFor();
	const staffKey = (await page.locator("#new-key-value").textContent()).trim();
	assert.match(staffKey, /^tdk_/);
	await page.locator("#key-list").getByText("box office").waitFor();
	await page.locator("#activity-list li[data-action='key.minted']").first().waitFor();
	assert.match(await page.locator("#activity-list li[data-action='drop.created']").first().textContent(), /by “owner”/);
	await shot(page, "team-2-owner", { fullPage: true });
	await signOutOf(page);
	log("the owner sees only its drop and minted a staff key");

	// The staff key: reads, and sees no control it may not use.
	await signInAs(page, staffKey);
	await page.locator("#role-note").getByText("staff key").waitFor();
	await page.getByRole("heading", { level: 2, name: "Aurora night (browser test)" }).waitFor();
	for (const selector of ["#pause-button", "#reschedule-form", "#key-form", ".area-create"]) {
		assert.equal(await visible(page, selector), false, `${selector} is hidden from a staff key`);
	}
	assert.equal(await visible(page, "#export-button"), true, "staff may download the sales");
	assert.equal(await page.locator("#key-list button").count(), 0, "staff sees no revoke button");
	await page.locator("#orders li").first().waitFor({ timeout: 20_000 });
	assert.equal(await page.locator("#orders button:visible").count(), 0, "staff sees no refund or retry button on the orders");
	await page.locator("#audit-verdict").waitFor({ timeout: 20_000 });
	await shot(page, "team-3-staff");
	await signOutOf(page);
	log("the staff key sees the drop, the audit and the log, and no control to change anything");

	// The owner revokes the staff key: it stops working at once.
	await signInAs(page, ownerKey);
	await page.getByRole("heading", { name: "Team keys" }).waitFor();
	await page.getByRole("button", { name: "Revoke the key “box office”" }).click();
	await page.locator("#activity-list li[data-action='key.revoked']").first().waitFor();
	await page.locator("#key-list").getByText(/box office.*revoked/).waitFor();
	const refused = await api.call("GET", "/api/admin/drops", { token: staffKey });
	assert.equal(refused.status, 401, "a revoked key is refused on its next request");
	await signOutOf(page);
	log("the owner revoked the staff key");

	// A gate key sees only its note.
	const gate = (await api.call("POST", "/api/admin/keys", { token: ownerKey, body: { label: "north door", role: "gate" }, expect: 201 })).data;
	await signInAs(page, gate.apiKey);
	await page.getByRole("heading", { name: "This key scans tickets" }).waitFor();
	assert.equal(await visible(page, "#app"), false, "a gate key sees no dashboard");
	await signOutOf(page);

	// The operator still sees the promoter's drop among every drop.
	await signInAs(page, adminToken);
	await page.getByRole("link", { name: "Aurora night (browser test)" }).waitFor();
	assert.ok(drop.promoterId, "the drop belongs to the promoter");
	await signOutOf(page);
	log("a gate key sees only its note; the operator sees every drop");

	checkProblems(problems, "promoter team journey");
	await context.close();
}
