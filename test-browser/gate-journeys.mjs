// The gate side of a ticket in a real Chromium: the fan's QR code is the
// ticket's rotating code, drawn again every window from what the page holds,
// with the network cut too, and what it draws is exactly the code the engine
// admits (the QR's modules are compared with the same text encoded here).
import assert from "node:assert/strict";
import qrcode from "../public/vendor/qrcode-generator.mjs";
import { rotatingCode } from "../public/rotating-code.js";
import { assertAccessible } from "./axe.mjs";
import { PHONE, checkProblems, openPage, sleep } from "./journeys.mjs";

/** The path of a QR code's dark modules as public/tickets.js draws it. */
function qrPath(text) {
	const qr = qrcode(0, "M");
	qr.addData(text);
	qr.make();
	const n = qr.getModuleCount();
	let d = "";
	for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + 4} ${r + 4}h1v1h-1z`;
	return d;
}

const offlineNoise = (p) => !/ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(p);

/** An open drop a fan buys one ticket of at once: the gate journeys' drop. */
export const QUICK_DROP = { capacity: 10, maxPerFan: 3, admission: { batchSize: 50, intervalMs: 250, activeMultiple: 20 }, holdSeconds: 120 };

/** The order once its tickets have tokens, read with the order token. */
export async function ticketedOrder(api, bought) {
	for (let i = 0; i < 100; i++) {
		const order = (await api.call("GET", `/api/orders/${bought.orderId}`, { token: bought.orderToken, expect: 200 })).data;
		// Ticketed: the tokens are stored, so every read (the page's too) answers the same ones.
		if (["ticketed", "receipt_sent"].includes(order.status)) return order;
		await sleep(200);
	}
	throw new Error("the order was not ticketed in time");
}

/**
 * A fan's ticket on a phone: the QR code holds the rotating code of the current window; with the
 * network cut, the code changes at the next window by itself, and the code it then shows admits
 * at the gate; a screenshot of the first one would be stale by then.
 */
export async function fanRotatingCodeOffline({ browser, base, api, gateToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({ name: "Browser test: a ticket that rotates", opensAt: new Date(Date.now() - 1_000).toISOString(), ...QUICK_DROP });
	const bought = await api.buy(drop.id, "rotating-fan", 1);
	const order = await ticketedOrder(api, bought);
	const pass = { ...order.passes[0] };
	assert.ok(pass.secret, "the holder's read carries the ticket's secret");
	const step = order.gate.stepSeconds;

	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/drops/${drop.id}`);
	await page.evaluate(([key, state]) => localStorage.setItem(key, JSON.stringify(state)), [`tdrop:drop:${drop.id}`, { order, orderToken: bought.orderToken }]);
	await page.reload();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor();
	const qr = page.locator("#tickets svg.qr");
	await qr.waitFor();
	// Read in one go, so a redraw between the two reads cannot pair one window with another's code.
	const drawn = () => page.evaluate(() => {
		const svg = document.querySelector("#tickets svg.qr");
		return { window: Number(svg.dataset.window), d: svg.querySelector("path").getAttribute("d") };
	});
	const first = await drawn();
	// The page reads the order again; the ticket is stored, so it keeps the same token and secret.
	const kept = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)).order.passes[0], `tdrop:drop:${drop.id}`);
	assert.equal(kept.code, pass.code);
	assert.equal(kept.secret, pass.secret, "the secret is the same at every read");
	assert.equal(kept.token, pass.token, "the token is the same at every read");
	assert.equal(first.d, qrPath(await rotatingCode(pass.token, pass.secret, first.window * step * 1000, step)), "the QR code is the ticket's rotating code of its window");
	await page.getByText(/Live code: it changes every 10 seconds/).waitFor();
	await assertAccessible(page, "fan ticket with a rotating code, phone", { log });
	await shot(page, "fan-rotating-code");

	// Two drawings of the tickets at once, as when the page draws the order it holds and then the one it reads again:
	// the stale one's tickets never reach the page, and its rotation must not stop the one whose tickets do.
	await page.evaluate(async (held) => {
		const { ticketItems } = await import("/tickets.js");
		const [, shown] = await Promise.all([ticketItems(held), ticketItems(held)]);
		document.getElementById("tickets").replaceChildren(...shown.items);
	}, order);
	await page.waitForTimeout(1_500);
	await context.setOffline(true);
	// The next window comes within one step; the page draws it without the network.
	await page.waitForFunction((w) => Number(document.querySelector("#tickets svg.qr")?.dataset.window) > w, first.window, { timeout: (step + 3) * 1000 });
	const next = await drawn();
	const code = await rotatingCode(pass.token, pass.secret, next.window * step * 1000, step);
	assert.equal(next.d, qrPath(code), "offline, the QR code is the next window's rotating code");
	assert.notEqual(next.d, first.d, "the code changed");
	log(`offline: the code turned from window ${first.window} to ${next.window}`);
	await context.setOffline(false);

	const admitted = await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: code }, expect: 200 });
	assert.equal(admitted.data.ticket, pass.code);
	await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: code }, expect: 409 });
	log("the code drawn offline admits once at the gate");
	checkProblems(problems.filter(offlineNoise), "fan rotating code offline");
	await context.close();
}

/**
 * The gate page on a phone with the network cut: it registers this browser as a device and downloads the list
 * online; offline, the fan's rotating code (the window the fan page shows) is admitted, the same code again is
 * refused as already admitted on this device; back online the scans sync, the engine holds the ticket used, and
 * the promoter's double-entry list stays empty.
 */
export async function gatePageOffline({ browser, base, api, adminToken, gateToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({ name: "Browser test: the gate offline", opensAt: new Date(Date.now() - 1_000).toISOString(), ...QUICK_DROP });
	const bought = await api.buy(drop.id, "gate-page-fan", 1);
	const order = await ticketedOrder(api, bought);
	const pass = order.passes[0];
	const step = order.gate.stepSeconds;

	const fan = await openPage(browser, PHONE, problems);
	await fan.page.goto(`${base}/drops/${drop.id}`);
	await fan.page.evaluate(([key, state]) => localStorage.setItem(key, JSON.stringify(state)), [`tdrop:drop:${drop.id}`, { order, orderToken: bought.orderToken }]);
	await fan.page.reload();
	await fan.page.locator("#tickets svg.qr").waitFor();

	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/gate`);
	await page.getByRole("textbox", { name: "Drop id" }).fill(drop.id);
	await page.getByRole("textbox", { name: "Gate key" }).fill(gateToken);
	await page.getByLabel("This device’s name").fill("North door");
	await page.getByRole("button", { name: "Register this device and download the list" }).click();
	await page.getByRole("heading", { name: "Scan tickets" }).waitFor();
	await assertAccessible(page, "gate page signed in, phone", { log });

	await context.setOffline(true);
	await page.getByText(/Offline: scans are kept/).waitFor();
	// The code the fan's screen shows now, read from its window.
	const shown = await fan.page.evaluate(() => Number(document.querySelector("#tickets svg.qr").dataset.window));
	const code = await rotatingCode(pass.token, pass.secret, shown * step * 1000, step);
	const typeIt = async () => {
		await page.getByLabel("Ticket code (typed or from a scanner)").fill(code);
		await page.getByRole("button", { name: "Check" }).click();
	};
	await typeIt();
	await page.locator("#verdict.admit").getByText("ADMIT").waitFor();
	await assertAccessible(page, "gate page admits offline, phone", { log });
	await shot(page, "gate-admit-offline");
	await typeIt();
	await page.locator("#verdict.refuse").getByText(/Already admitted on this device/).waitFor();
	await shot(page, "gate-refuse-offline");
	assert.equal(await page.locator("#n-admitted").textContent(), "1");
	assert.equal(await page.locator("#n-pending").textContent(), "2", "the admission and the refusal wait for the network");
	log("offline: admitted once, refused the second time on this device");

	await context.setOffline(false);
	await page.waitForFunction(() => document.querySelector("#n-pending").textContent === "0", null, { timeout: 15_000 });
	const devices = (await api.call("GET", `/api/admin/drops/${drop.id}/gate/devices`, { token: adminToken, expect: 200 })).data.devices;
	assert.deepEqual(devices.map((d) => [d.name, d.admitted, d.refused, d.lastSyncAt !== null]), [["North door", 1, 1, true]]);
	const doubles = (await api.call("GET", `/api/admin/drops/${drop.id}/gate/double-entries`, { token: adminToken, expect: 200 })).data;
	assert.deepEqual(doubles, { doubleEntries: [] });
	await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: pass.token }, expect: 409 });
	log("back online: the sync recorded the admission, the engine holds the ticket used, no double entry");
	checkProblems(problems.filter(offlineNoise), "gate page offline");
	await fan.context.close();
	await context.close();
}
