// The promoter's webhooks in a real Chromium, at desktop and phone sizes: an owner key
// adds an endpoint that points at a small receiver this journey runs (node:http on
// 127.0.0.1), sees its signing secret once and copies it; a sale reaches the receiver
// signed with that secret (checked with node:crypto) and is listed as delivered; the
// endpoint paused (asked first) holds the next sale's event back until it is resumed;
// a delivery sent again reaches the receiver with the same event id; an action that
// fails says so by its own button. axe-core clean with the form, the list and the
// deliveries on screen.
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { assertAccessible } from "./axe.mjs";
import { DESKTOP, PHONE, checkProblems, openPage, signInAs, sleep } from "./journeys.mjs";

/** The check docs/webhooks.md gives receivers, as they would write it. */
function verify(secret, header, rawBody, toleranceSeconds = 300) {
	const parts = Object.fromEntries(header.split(",").map((p) => p.split("=")));
	const expected = createHmac("sha256", secret).update(`${parts.t}.${rawBody}`).digest();
	const given = Buffer.from(parts.v1 ?? "", "hex");
	const fresh = Math.abs(Date.now() / 1000 - Number(parts.t)) <= toleranceSeconds;
	return fresh && given.length === expected.length && timingSafeEqual(given, expected);
}

/** A receiver on a free 127.0.0.1 port: every POST kept with whether its signature verified with `secrets[path]`. */
async function startReceiver() {
	const received = [];
	const secrets = new Map();
	const server = createServer((req, res) => {
		const chunks = [];
		req.on("data", (c) => chunks.push(c));
		req.on("end", () => {
			const raw = Buffer.concat(chunks).toString("utf8");
			const secret = secrets.get(req.url);
			const signature = req.headers["webhook-signature"] ?? "";
			let event = null;
			try {
				event = JSON.parse(raw);
			} catch {
				event = null;
			}
			received.push({ path: req.url, event, eventId: req.headers["webhook-id"], verified: secret !== undefined && verify(secret, signature, raw) });
			res.writeHead(204).end();
		});
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { url: `http://127.0.0.1:${server.address().port}`, received, secrets, close: () => new Promise((r) => server.close(() => r())) };
}

async function until(what, check, timeoutMs = 30_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value) return value;
		assert.ok(Date.now() < deadline, `${what} (waited ${timeoutMs / 1000} s)`);
		await sleep(250);
	}
}

async function assertNoSideScroll(page, label) {
	const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
	assert.ok(scroll <= width + 1, `${label}: the page scrolls sideways (${scroll} > ${width})`);
}

/** Clicks "Refresh the deliveries" until the panel shows what `selector` names. */
async function refreshUntil(page, panel, selector, what) {
	await until(what, async () => {
		if ((await panel.locator(selector).count()) > 0) return true;
		await panel.getByRole("button", { name: "Refresh the deliveries" }).click();
		await sleep(500);
		return (await panel.locator(selector).count()) > 0;
	});
}

const SIZES = [
	["desktop", DESKTOP],
	["phone", PHONE],
];

export async function promoterWebhooks({ browser, base, api, adminToken, shot, log }) {
	const receiver = await startReceiver();
	try {
		for (const [size, device] of SIZES) {
			const promoter = (await api.call("POST", "/api/admin/promoters", { token: adminToken, body: { name: `Webhook Promotions (${size})` }, expect: 201 })).data;
			const owner = promoter.apiKey;
			const drop = (
				await api.call("POST", "/api/admin/drops", {
					token: owner,
					body: { name: `Browser test: webhooks ${size}`, capacity: 50, maxPerFan: 2, opensAt: new Date(Date.now() - 1_000).toISOString(), shards: 1, admission: { batchSize: 100, intervalMs: 250, activeMultiple: 20 } },
					expect: 201,
				})
			).data;
			const path = `/hooks/${size}`;
			const mine = () => receiver.received.filter((r) => r.path === path);

			const problems = [];
			const { context, page } = await openPage(browser, device, problems);
			await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
			await page.goto(`${base}/admin`);
			await signInAs(page, owner);
			const section = page.locator("#s-webhooks");
			await page.getByRole("heading", { level: 2, name: "Webhooks" }).waitFor();
			await page.locator("#webhooks-empty").waitFor();

			// Nothing chosen: each field says what it needs, and nothing is made.
			await section.getByRole("button", { name: "Add the endpoint" }).click();
			await page.locator("#wh-url-error", { hasText: "Enter the URL" }).waitFor();
			await page.getByLabel("Endpoint URL").fill("ftp://example.com/hooks");
			await section.getByRole("button", { name: "Add the endpoint" }).click();
			await page.locator("#wh-url-error", { hasText: "https" }).waitFor();
			assert.equal(await page.getByLabel("Endpoint URL").getAttribute("aria-invalid"), "true", `${size}: the refused URL is marked invalid`);
			await assertAccessible(page, `${size} webhooks form with an error`, { log, include: "#s-webhooks" });

			// Added for order events of every drop: the secret once, with a copy button.
			await page.getByLabel("Endpoint URL").fill(`${receiver.url}${path}`);
			assert.equal(await page.getByLabel(/^order\.paid/).isChecked(), true, `${size}: order events are chosen to start with`);
			await page.getByLabel(/^drop\.opened/).check();
			await section.getByRole("button", { name: "Add the endpoint" }).click();
			await page.locator("#new-webhook").waitFor();
			const secret = (await page.locator("#new-webhook-value").textContent()).trim();
			assert.match(secret, /^whsec_[A-Za-z0-9_-]{43}$/, `${size}: the signing secret is shown`);
			await page.getByRole("button", { name: "Copy the secret" }).click();
			await page.locator("#new-webhook-copied", { hasText: "Copied" }).waitFor();
			assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, `${size}: the copy button copies the secret`);
			receiver.secrets.set(path, secret);
			const item = page.locator("#webhook-list > li").first();
			await item.locator(".webhook-state", { hasText: "Active since" }).waitFor();
			assert.match(await item.textContent(), /No failures/, `${size}: the endpoint has no failure yet`);
			assert.match(await item.textContent(), /order\.paid.*every drop/, `${size}: the endpoint says its events and its drops`);
			const { data: listed } = await api.call("GET", "/api/admin/webhooks", { token: owner, expect: 200 });
			assert.equal(JSON.stringify(listed).includes(secret), false, `${size}: the secret is not in the list the API gives`);
			log(`${size}: endpoint added; its secret shown once and copied`);

			// A sale: order.paid reaches the receiver, signed with that secret, and is listed as delivered.
			const first = await api.buy(drop.id, `${size}-hook-fan-1`, 1);
			const paid = await until(`${size}: the first order's order.paid reached the receiver`, () =>
				mine().find((r) => r.event?.type === "order.paid" && r.event.data.orderId === first.orderId),
			);
			assert.equal(paid.verified, true, `${size}: its signature verifies with the secret the page showed`);
			assert.equal(paid.eventId, paid.event.id, `${size}: Webhook-Id is the event's id`);
			await item.getByRole("button", { name: /^Deliveries to / }).click();
			const panel = item.locator(".deliveries");
			await refreshUntil(page, panel, "li[data-status='delivered']", `${size}: the delivery listed as delivered`);
			const delivered = panel.locator("li[data-status='delivered']").filter({ hasText: "order.paid" }).first();
			assert.match(await delivered.textContent(), /1 attempt · last answer 204/, `${size}: the delivery shows its attempts and the last answer`);
			assert.equal(await item.getByRole("button", { name: /^Hide deliveries to / }).getAttribute("aria-expanded"), "true");
			await assertNoSideScroll(page, `${size} webhooks`);
			await assertAccessible(page, `${size} webhooks with deliveries`, { log, include: "#s-webhooks" });
			await shot(page, `webhooks-1-delivered-${size}`, { fullPage: true });
			log(`${size}: order.paid delivered, signed; listed as delivered`);

			// Paused, after saying what it means: the next sale's event waits, then goes out on resume.
			await item.getByRole("button", { name: /^Pause the endpoint/ }).click();
			const dialog = page.getByRole("dialog", { name: /Pause the endpoint/ });
			await dialog.waitFor();
			await dialog.getByRole("button", { name: "Keep sending" }).click();
			assert.equal(await page.locator("#webhook-list > li").first().getAttribute("data-state"), "active", `${size}: backing out leaves it active`);
			await item.getByRole("button", { name: /^Pause the endpoint/ }).click();
			await dialog.getByRole("button", { name: "Pause the endpoint" }).click();
			await page.locator("#webhook-list > li[data-state='paused'] .webhook-state", { hasText: "Paused since" }).waitFor();
			const pausedItem = page.locator("#webhook-list > li").first();
			assert.match(await pausedItem.textContent(), /paused by the promoter/, `${size}: it says who paused it`);
			const second = await api.buy(drop.id, `${size}-hook-fan-2`, 1);
			const pausedPanel = pausedItem.locator(".deliveries");
			await refreshUntil(page, pausedPanel, "li[data-status='pending']", `${size}: the paused endpoint's new delivery waits`);
			await sleep(1_500);
			assert.equal(mine().some((r) => r.event?.data?.orderId === second.orderId), false, `${size}: nothing reaches a paused endpoint`);
			await pausedItem.getByRole("button", { name: /^Resume the endpoint/ }).click();
			await page.locator("#webhook-list > li[data-state='active'] .webhook-state", { hasText: "Active since" }).waitFor();
			const late = await until(`${size}: the waiting event went out after the resume`, () =>
				mine().find((r) => r.event?.type === "order.paid" && r.event.data.orderId === second.orderId),
			);
			assert.equal(late.verified, true, `${size}: the late event is signed too`);
			log(`${size}: paused (asked first), the event waited; resumed, it went out`);

			// Sent again: the same event id reaches the receiver a second time.
			const resumedItem = page.locator("#webhook-list > li").first();
			const resumedPanel = resumedItem.locator(".deliveries");
			await resumedPanel.getByRole("button", { name: "Refresh the deliveries" }).click();
			const firstRow = resumedPanel.locator("li[data-status='delivered']").filter({ hasText: paid.event.id });
			await firstRow.waitFor();
			const before = mine().filter((r) => r.eventId === paid.event.id).length;
			await firstRow.getByRole("button", { name: /^Resend the order\.paid delivery/ }).click();
			const again = await until(`${size}: the resent delivery reached the receiver`, () => {
				const copies = mine().filter((r) => r.eventId === paid.event.id);
				return copies.length > before ? copies[copies.length - 1] : null;
			});
			assert.equal(again.verified, true, `${size}: the resend is signed`);
			await refreshUntil(page, resumedPanel, `li[data-status='delivered']:has-text("2 attempts")`, `${size}: the resent delivery listed as delivered again`);
			log(`${size}: a delivery resent reached the receiver with the same event id`);

			if (size === "desktop") {
				// An action that fails says so by its button, as an alert; the endpoint is unchanged.
				await page.route("**/api/admin/webhooks/*/pause", (route) =>
					route.fulfill({ status: 503, contentType: "application/json", headers: { "retry-after": "1" }, body: JSON.stringify({ error: { code: "unavailable", message: "The engine is busy; try again." } }) }),
				);
				const row = page.locator("#webhook-list > li").first();
				await row.getByRole("button", { name: /^Pause the endpoint/ }).click();
				await page.getByRole("dialog", { name: /Pause the endpoint/ }).getByRole("button", { name: "Pause the endpoint" }).click();
				const alert = row.locator(":scope > p[role='alert']");
				await alert.waitFor();
				assert.match(await alert.textContent(), /Could not pause the endpoint: The engine is busy/, "the error is by the endpoint's buttons");
				assert.equal(await row.getAttribute("data-state"), "active", "a failed pause leaves it active");
				await page.unroute("**/api/admin/webhooks/*/pause");
				log("desktop: a failed pause is an alert by its button");
			}
			await assertAccessible(page, `${size} webhooks after pause, resume and resend`, { log, include: "#s-webhooks" });
			await shot(page, `webhooks-2-resent-${size}`, { fullPage: true });
			checkProblems(problems.filter((p) => !/status of 503/.test(p)), `${size} webhooks`);
			await context.close();
		}
	} finally {
		await receiver.close();
	}
}
