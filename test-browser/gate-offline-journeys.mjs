// The gate side after a reload with the network off, in a real Chromium: the fan's
// ticket page and the gate scanner open again from the service worker (public/sw.js)
// after one online visit; the fan's code keeps rotating, the gate page still admits
// and keeps its pending scans, which sync when the network is back. And the
// promoter's gate section: per gate and per device, the one double entry of a ticket
// admitted offline on two devices, a revoke behind its confirm step, the fixed-QR
// switch.
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { rotatingCode } from "../public/rotating-code.js";
import { assertAccessible } from "./axe.mjs";
import { QUICK_DROP, ticketedOrder } from "./gate-journeys.mjs";
import { DESKTOP, PHONE, checkProblems, openPage, signInAs } from "./journeys.mjs";

const offlineNoise = (p) => !/ERR_INTERNET_DISCONNECTED|Failed to load resource|Failed to fetch/.test(p);

/** Waits until the page is controlled by the service worker, so a reload offline is answered by it. */
async function controlled(page) {
	await page.evaluate(() => navigator.serviceWorker.ready);
	await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15_000 });
}

/** The fan's ticket page, visited once online, reloaded offline: the page opens and its QR code rotates. */
export async function fanTicketsReloadOffline({ browser, base, api, gateToken, log }) {
	const problems = [];
	const drop = await api.createDrop({ name: "Browser test: tickets reload offline", opensAt: new Date(Date.now() - 1_000).toISOString(), ...QUICK_DROP });
	const bought = await api.buy(drop.id, "reload-offline-fan", 1);
	const order = await ticketedOrder(api, bought);
	const pass = order.passes[0];
	const step = order.gate.stepSeconds;

	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/drops/${drop.id}`);
	await page.evaluate(([key, state]) => localStorage.setItem(key, JSON.stringify(state)), [`tdrop:drop:${drop.id}`, { order, orderToken: bought.orderToken }]);
	await page.reload();
	await page.locator("#tickets svg.qr").waitFor();
	await controlled(page);
	const cached = await page.evaluate(async () => {
		const keys = [];
		for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) keys.push(new URL(r.url).pathname);
		return keys;
	});
	assert.ok(cached.includes("/drop.html") && cached.includes("/tickets.js"), `the page's files are kept: ${cached.join(" ")}`);
	assert.ok(!cached.some((p) => p.startsWith("/api/")), "no API answer is kept in the cache");

	await context.setOffline(true);
	await page.reload();
	await page.getByRole("heading", { name: "You’re going!" }).waitFor();
	const qr = () => page.evaluate(() => Number(document.querySelector("#tickets svg.qr")?.dataset.window));
	await page.locator("#tickets svg.qr").waitFor();
	const first = await qr();
	await page.waitForFunction((w) => Number(document.querySelector("#tickets svg.qr")?.dataset.window) > w, first, { timeout: (step + 3) * 1000 });
	const next = await qr();
	log(`reloaded offline: the page opened and its code turned from window ${first} to ${next}`);
	await assertAccessible(page, "fan ticket reloaded offline, phone", { log });
	const code = await rotatingCode(pass.token, pass.secret, next * step * 1000, step);
	await context.setOffline(false);
	const admitted = await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: code }, expect: 200 });
	assert.equal(admitted.data.ticket, pass.code);
	log("the code the reloaded page drew admits at the gate");
	checkProblems(problems.filter(offlineNoise), "fan tickets reloaded offline");
	await context.close();
}

/** The gate page, signed in online, reloaded offline: it opens, admits a code, keeps the scan; back online the sync records it. */
export async function gatePageReloadOffline({ browser, base, api, adminToken, gateToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({ name: "Browser test: the gate reloads offline", opensAt: new Date(Date.now() - 1_000).toISOString(), ...QUICK_DROP });
	const bought = await api.buy(drop.id, "gate-reload-fan", 1);
	const order = await ticketedOrder(api, bought);
	const pass = order.passes[0];
	const step = order.gate.stepSeconds;

	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/gate`);
	await page.getByRole("textbox", { name: "Drop id" }).fill(drop.id);
	await page.getByRole("textbox", { name: "Gate key" }).fill(gateToken);
	await page.getByLabel("Gate (the entrance this device scans at)").fill("North entrance");
	await page.getByLabel("This device’s name").fill("North phone");
	await page.getByRole("button", { name: "Register this device and download the list" }).click();
	await page.getByRole("heading", { name: "Scan tickets" }).waitFor();
	await controlled(page);

	await context.setOffline(true);
	await page.reload();
	await page.getByRole("heading", { name: "Scan tickets" }).waitFor();
	await page.getByText(/Offline: scans are kept/).waitFor();
	assert.equal(await page.locator("#gate-label").textContent(), "North entrance");
	const code = await rotatingCode(pass.token, pass.secret, Date.now(), step);
	await page.getByLabel("Ticket code (typed or from a scanner)").fill(code);
	await page.getByRole("button", { name: "Check" }).click();
	await page.locator("#verdict.admit").getByText("ADMIT").waitFor();
	assert.equal(await page.locator("#n-pending").textContent(), "1", "the admission waits for the network");
	assert.equal(await page.locator("#n-gate").textContent(), "1", "the gate counts it");
	await assertAccessible(page, "gate page reloaded offline, phone", { log });
	await shot(page, "gate-reloaded-offline");
	// A second reload offline keeps the pending scan.
	await page.reload();
	await page.getByRole("heading", { name: "Scan tickets" }).waitFor();
	assert.equal(await page.locator("#n-pending").textContent(), "1", "the pending scan survives a reload");
	log("reloaded offline twice: admitted once, the scan kept");

	await context.setOffline(false);
	await page.waitForFunction(() => document.querySelector("#n-pending").textContent === "0", null, { timeout: 35_000 });
	const { devices, gates } = (await api.call("GET", `/api/admin/drops/${drop.id}/gate/devices`, { token: adminToken, expect: 200 })).data;
	assert.deepEqual(devices.map((d) => [d.name, d.gate, d.admitted]), [["North phone", "North entrance", 1]]);
	assert.deepEqual(gates.map((g) => [g.gate, g.admitted]), [["North entrance", 1]]);
	assert.equal(await page.locator("#n-gate").textContent(), "1", "after the sync the gate's count is the engine's");
	await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: pass.token }, expect: 409 });
	log("back online: the sync recorded the admission at North entrance");
	checkProblems(problems.filter(offlineNoise), "gate page reloaded offline");
	await context.close();
}

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** A gate device as a scanner app would be: its own key pair, registered through the API. */
async function apiDevice(api, gateToken, dropId, name, gate) {
	const keys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
	const jwk = await webcrypto.subtle.exportKey("jwk", keys.publicKey);
	const made = await api.call("POST", `/api/admin/drops/${dropId}/gate/devices`, { token: gateToken, body: { name, gate, publicKey: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y } }, expect: 201 });
	const id = made.data.device.id;
	return {
		id,
		async admitOffline(ticket, at) {
			const scanId = `s${webcrypto.randomUUID().replace(/-/g, "")}`;
			const message = ["gate-scan", dropId, id, scanId, ticket, at, "admitted"].join("\n");
			const signature = b64url(await webcrypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, new TextEncoder().encode(message)));
			return { scanId, ticket, at, result: "admitted", signature };
		},
		sync(scans) {
			return api.call("POST", `/api/admin/drops/${dropId}/gate/devices/${id}/scans`, { token: gateToken, body: { scans }, expect: 200 });
		},
	};
}

/**
 * The promoter's gate section: two devices at two gates admit the same ticket offline and sync; the page shows
 * each gate's and device's count and exactly one double entry naming both; a device is revoked through its
 * confirm step (Keep it first changes nothing); the fixed-QR switch turns the bare token away at the gate.
 */
export async function promoterGateSection({ browser, base, api, adminToken, gateToken, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({ name: "Browser test: the promoter's gate", opensAt: new Date(Date.now() - 1_000).toISOString(), ...QUICK_DROP });
	const bought = await api.buy(drop.id, "gate-section-fan", 2);
	const order = await ticketedOrder(api, bought);
	const [twice, once] = order.passes;
	const north = await apiDevice(api, gateToken, drop.id, "North phone", "North entrance");
	const south = await apiDevice(api, gateToken, drop.id, "South phone", "South entrance");
	const early = new Date(Date.now() - 120_000).toISOString();
	const later = new Date(Date.now() - 60_000).toISOString();
	// Both offline at the time: each admits the same ticket, North another one too; each syncs, North twice.
	const northScans = [await north.admitOffline(twice.code, early), await north.admitOffline(once.code, later)];
	await north.sync(northScans);
	await north.sync(northScans);
	await south.sync([await south.admitOffline(twice.code, later)]);

	const { context, page } = await openPage(browser, DESKTOP, problems);
	await page.goto(`${base}/admin#${drop.id}`);
	await signInAs(page, adminToken);
	const doubles = page.locator("#gate-doubles li");
	await doubles.first().waitFor({ timeout: 20_000 });
	assert.equal(await doubles.count(), 1, "exactly one double entry");
	const entry = await doubles.first().textContent();
	assert.match(entry, new RegExp(`Ticket ${twice.code}: admitted 2 times \\(North phone at .+; South phone at .+\\)\\.`));
	const rows = (selector, columns) => page.locator(selector).evaluateAll((trs, cols) => trs.map((tr) => cols.map((i) => tr.children[i].textContent)), columns);
	// Gate, devices, admitted, refused; then device, gate, admitted, state.
	assert.deepEqual(await rows("#gate-gates tr", [0, 1, 2, 3]), [
		["North entrance", "1", "2", "0"],
		["South entrance", "1", "1", "0"],
	]);
	assert.deepEqual(await rows("#gate-devices tr", [0, 1, 3, 5]), [
		["North phone", "North entrance", "2", "active"],
		["South phone", "South entrance", "1", "active"],
	]);
	assert.match(await page.locator("#gate-summary").textContent(), /2 devices, 2 active; 1 ticket admitted more than once\./);
	await page.locator("#h-gate-devices").scrollIntoViewIfNeeded();
	await assertAccessible(page, "promoter gate section", { log });
	await shot(page, "promoter-gate-section");
	log("one double entry naming both devices; per gate and per device counts");

	// Revoke South: Keep it first changes nothing, then the confirm step revokes it.
	const revoke = page.getByRole("button", { name: "Revoke South phone" });
	await revoke.click();
	const dialog = page.getByRole("dialog", { name: "Revoke the device South phone?" });
	await dialog.waitFor();
	await assertAccessible(page, "promoter gate revoke dialog", { log });
	await dialog.getByRole("button", { name: "Keep it" }).click();
	await dialog.waitFor({ state: "detached" });
	let listed = (await api.call("GET", `/api/admin/drops/${drop.id}/gate/devices`, { token: adminToken, expect: 200 })).data.devices;
	assert.deepEqual(listed.map((d) => d.revokedAt === null), [true, true], "keeping it revokes nothing");
	await revoke.click();
	await dialog.waitFor();
	await dialog.getByRole("button", { name: "Revoke the device" }).click();
	await page.getByText("South phone is revoked.").waitFor();
	listed = (await api.call("GET", `/api/admin/drops/${drop.id}/gate/devices`, { token: adminToken, expect: 200 })).data.devices;
	assert.deepEqual(listed.map((d) => [d.name, d.revokedAt === null]), [["North phone", true], ["South phone", false]]);
	await page.locator("#gate-gates tr", { hasText: "South entrance" }).getByText("1 (0 active)").waitFor();
	await api.call("POST", `/api/admin/drops/${drop.id}/gate/devices/${south.id}/scans`, { token: gateToken, body: { scans: [await south.admitOffline(once.code, later)] }, expect: 403 });
	log("revoked through its confirm step; its uploads are refused, its counts stay");

	// The fixed-QR switch: off, a ticket's bare token is refused at the gate; on again, it admits.
	const fixed = page.getByRole("checkbox", { name: "A ticket’s fixed QR code admits" });
	assert.equal(await fixed.isChecked(), true);
	await fixed.uncheck();
	await page.getByText("Fixed QR codes no longer admit: only live codes do.").waitFor();
	assert.equal((await api.call("GET", `/api/admin/drops/${drop.id}/gate`, { token: adminToken, expect: 200 })).data.staticQr, false);
	const refused = await api.call("POST", `/api/admin/drops/${drop.id}/scan`, { token: gateToken, body: { ticket: once.token }, expect: 422 });
	assert.equal(refused.data.error.code, "rotating_code_required");
	await assertAccessible(page, "promoter gate section, fixed QR off", { log });
	await fixed.check();
	await page.getByText("Fixed QR codes admit again.").waitFor();
	assert.equal((await api.call("GET", `/api/admin/drops/${drop.id}/gate`, { token: adminToken, expect: 200 })).data.staticQr, true);
	log("the fixed-QR switch turns a bare token away and lets it in again");
	checkProblems(problems, "promoter gate section");
	await context.close();
}
