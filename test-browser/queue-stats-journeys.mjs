// The promoter page's queue figures agree with the API, at desktop and phone sizes,
// in a real Chromium: after fans join, are admitted and some buy, the totals, the
// chart's bars and the table twin say what GET /api/admin/drops/:id/queue-stats says,
// the table has a row per minute, and the part passes axe-core.
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
		const shown = await page.evaluate(() => {
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
		// The figures come from one read; a second read now must give the same (nothing moves on this drop).
		const now = (await api.call("GET", `/api/admin/drops/${drop.id}/queue-stats`, { token: adminToken, expect: 200 })).data;
		assert.deepEqual(now.totals, stats.totals, "the API's figures held still while the page was read");
		const t = stats.totals;
		assert.equal(shown.joined, String(t.joined), `${size}: joined`);
		assert.equal(shown.admitted, String(t.admitted), `${size}: admitted`);
		assert.equal(shown.waiting, String(t.waiting), `${size}: waiting`);
		assert.equal(shown.buyers, String(t.buyers), `${size}: buyers`);
		assert.equal(shown.conversion, `${(t.conversion * 100).toFixed(1)} %`, `${size}: conversion`);
		assert.equal(shown.left, `${t.leftWithoutBuying} so far`, `${size}: left without buying, while turns run`);
		for (const k of ["p50", "p90", "max"]) assert.equal(shown[k], `${t.wait[k].toLocaleString("en-US")} s`, `${size}: wait ${k}`);
		// The three buyers held and bought; the two lookers never held.
		assert.equal(t.shoppers, 3);
		assert.equal(shown.shoppers, String(t.shoppers), `${size}: fans who held`);
		assert.equal(shown.leftHeld, `${t.leftAfterHolding} so far`, `${size}: left after holding`);
		assert.equal(shown.leftNever, `${t.leftWithoutHolding} so far`, `${size}: left without holding`);
		assert.ok(t.purchase !== null, "the purchases kept their buyers' admission");
		assert.deepEqual(shown.purchase, ["p50", "p90", "max"].map((k) => `${t.purchase[k].toLocaleString("en-US")} s`), `${size}: admission to purchase`);
		assert.match(shown.returns, new RegExp(`${t.expiredTickets} tickets? from holds run out`), `${size}: holds run out as returns`);
		assert.equal(shown.rows.length, stats.minutes.length, `${size}: a table row per minute`);
		assert.equal(shown.bars, stats.minutes.length, `${size}: a bar of admissions per minute`);
		stats.minutes.forEach((m, i) => {
			const [, arrivals, admitted, turnsEnded, , , , buyers, tickets, , , shoppers, p50, p90, max, expiredHolds, expiredTickets] = shown.rows[i];
			assert.deepEqual([arrivals, admitted, turnsEnded, buyers, tickets, shoppers, expiredHolds, expiredTickets].map(Number), [m.arrivals, m.admitted, m.turnsEnded, m.buyers, m.tickets, m.shoppers, m.expiredHolds, m.expiredTickets], `${size}: minute ${m.minute}`);
			const purchase = m.purchase === null ? ["–", "–", "–"] : ["p50", "p90", "max"].map((k) => `${m.purchase[k].toLocaleString("en-US")} s`);
			assert.deepEqual([p50, p90, max], purchase, `${size}: admission to purchase in minute ${m.minute}`);
		});
		assert.match(shown.caption, /admitted/);
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
