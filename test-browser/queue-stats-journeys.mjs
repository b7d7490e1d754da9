// The promoter page's queue figures agree with the API, at desktop and phone sizes,
// in a real Chromium: after fans join, are admitted and some buy, the totals, the
// chart's bars and the table twin say what GET /api/admin/drops/:id/queue-stats says,
// the table has a row per minute, and the part passes axe-core. The comparison of
// the page with the API is shared with the load run's journey (loadrun-queue-journeys.mjs).
import assert from "node:assert/strict";
import { assertAccessible } from "./axe.mjs";
import { DESKTOP, PHONE, checkProblems, openPage, signInAs } from "./journeys.mjs";

const SIZES = [
	["desktop", DESKTOP],
	["phone", PHONE],
];

export async function promoterQueueFiguresAgree({ browser, base, api, adminToken, shot, log }) {
	const drop = await api.createDrop({
		name: "Browser test: queue figures",
		capacity: 20,
		maxPerFan: 2,
		opensAt: new Date(Date.now() - 1_000).toISOString(),
		currency: "GBP",
		shards: 1,
		admission: { batchSize: 100, intervalMs: 250, activeMultiple: 20 },
		holdSeconds: 120,
	});
	// Three buyers, two fans admitted who do not buy.
	for (let i = 1; i <= 3; i++) await api.buy(drop.id, `queue-figures-buyer-${i}`, 1);
	for (let i = 1; i <= 2; i++) await api.waitAdmitted(drop.id, (await api.join(drop.id, `queue-figures-looker-${i}`)).queueToken);
	// The sales reach D1 through the Queue: the figures are read once all three are there.
	let stats;
	for (let i = 0; i < 60; i++) {
		stats = (await api.call("GET", `/api/admin/drops/${drop.id}/queue-stats`, { token: adminToken, expect: 200 })).data;
		if (stats.totals.buyers === 3) break;
		await new Promise((r) => setTimeout(r, 250));
	}
	assert.equal(stats.totals.buyers, 3, "the three sales reached D1");
	assert.equal(stats.totals.admitted, 5);
	log(`API: ${JSON.stringify(stats.totals)}`);

	for (const [size, device] of SIZES) {
		const problems = [];
		const { context, page } = await openPage(browser, device, problems);
		await page.goto(`${base}/admin#${drop.id}`);
		await signInAs(page, adminToken);
		await page.getByRole("heading", { level: 2, name: drop.name }).waitFor();
		await page.locator("#queue-rows tr").first().waitFor({ timeout: 15_000 });
		const shown = await shownQueueFigures(page);
		// The figures come from one read; a second read now must give the same (nothing moves on this drop).
		const now = (await api.call("GET", `/api/admin/drops/${drop.id}/queue-stats`, { token: adminToken, expect: 200 })).data;
		assert.deepEqual(now.totals, stats.totals, "the API's figures held still while the page was read");
		// The three buyers held and bought; the two lookers never held.
		assert.equal(stats.totals.shoppers, 3);
		assert.ok(stats.totals.purchase !== null, "the purchases kept their buyers' admission");
		assert.ok(!stats.totals.leftWithoutBuyingExact, "turns still run");
		assertShownFigures(shown, stats, size);
		const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
		assert.ok(scroll <= width + 1, `${size}: the page does not scroll sideways (${scroll} > ${width})`);
		await assertAccessible(page, `the queue figures (${size})`, { log, include: "#s-drop" });
		await page.locator("#h-queue").scrollIntoViewIfNeeded();
		await shot(page, `promoter-queue-${size}`);
		log(`${size}: ${shown.rows.length} minute(s) shown, figures as the API says`);
		checkProblems(problems, `promoter queue figures (${size})`);
		await context.close();
	}
}

/** What the promoter page's queue part shows, read at once. */
export function shownQueueFigures(page) {
	return page.evaluate(() => {
		const t = (id) => document.getElementById(id).textContent;
		return {
			joined: t("q-joined"), admitted: t("q-admitted"), waiting: t("q-waiting"), buyers: t("q-buyers"), conversion: t("q-conversion"),
			left: t("q-left"), p50: t("q-wait-p50"), p90: t("q-wait-p90"), max: t("q-wait-max"),
			leftHeld: t("q-left-held"), leftNever: t("q-left-never"), shoppers: t("q-shoppers"), returns: t("q-returns"),
			purchase: [t("q-purchase-p50"), t("q-purchase-p90"), t("q-purchase-max")],
			rows: [...document.querySelectorAll("#queue-rows tr")].map((tr) => [...tr.children].map((c) => c.textContent)),
			bars: document.querySelectorAll("#queue-chart .bar-admitted").length,
			caption: t("queue-caption"),
		};
	});
}

const num = (n) => n.toLocaleString("en-US");
const secs = (s) => (s === null || s === undefined ? "–" : `${num(s)} s`);

/** The page's figures (shownQueueFigures) are the API's answer `stats`, total by total and minute by minute. */
export function assertShownFigures(shown, stats, label) {
	const t = stats.totals;
	const soFar = t.leftWithoutBuyingExact ? "" : " so far";
	assert.equal(shown.joined, num(t.joined), `${label}: joined`);
	assert.equal(shown.admitted, num(t.admitted), `${label}: admitted`);
	assert.equal(shown.waiting, num(t.waiting), `${label}: waiting`);
	assert.equal(shown.buyers, num(t.buyers), `${label}: buyers`);
	assert.equal(shown.conversion, t.conversion === null ? "–" : `${(t.conversion * 100).toFixed(1)} %`, `${label}: conversion`);
	assert.equal(shown.left, `${num(t.leftWithoutBuying)}${soFar}`, `${label}: left without buying`);
	for (const k of ["p50", "p90", "max"]) assert.equal(shown[k], secs(t.wait?.[k]), `${label}: wait ${k}`);
	assert.equal(shown.shoppers, num(t.shoppers), `${label}: fans who held`);
	assert.equal(shown.leftHeld, `${num(t.leftAfterHolding)}${soFar}`, `${label}: left after holding`);
	assert.equal(shown.leftNever, `${num(t.leftWithoutHolding)}${soFar}`, `${label}: left without holding`);
	assert.deepEqual(shown.purchase, ["p50", "p90", "max"].map((k) => secs(t.purchase?.[k])), `${label}: admission to purchase`);
	assert.match(shown.returns, new RegExp(`^${num(t.refundedTickets)} tickets? refunded .*, ${num(t.expiredTickets)} tickets? from holds run out$`), `${label}: refunds and holds run out as returns`);
	assert.equal(shown.rows.length, stats.minutes.length, `${label}: a table row per minute`);
	assert.equal(shown.bars, stats.minutes.length, `${label}: a bar of admissions per minute`);
	stats.minutes.forEach((m, i) => {
		const [, arrivals, admitted, turnsEnded, w50, w90, wmax, buyers, tickets, , refunded, shoppers, p50, p90, max, expiredHolds, expiredTickets] = shown.rows[i];
		assert.deepEqual(
			[arrivals, admitted, turnsEnded, buyers, tickets, refunded, shoppers, expiredHolds, expiredTickets].map((c) => Number(c.replace(/,/g, ""))),
			[m.arrivals, m.admitted, m.turnsEnded, m.buyers, m.tickets, m.refundedTickets, m.shoppers, m.expiredHolds, m.expiredTickets],
			`${label}: minute ${m.minute}`,
		);
		assert.deepEqual([w50, w90, wmax], ["p50", "p90", "max"].map((k) => secs(m.wait?.[k])), `${label}: time in queue in minute ${m.minute}`);
		assert.deepEqual([p50, p90, max], ["p50", "p90", "max"].map((k) => secs(m.purchase?.[k])), `${label}: admission to purchase in minute ${m.minute}`);
	});
	assert.match(shown.caption, /admitted/);
}
