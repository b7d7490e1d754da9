// The fan page on a bad connection, in a real Chromium: back online after losing
// the connection while the sale opens, and the first view on a slow network.
import assert from "node:assert/strict";
import { assertAccessible } from "./axe.mjs";
import { PHONE, checkProblems, inSeconds, openPage, sleep } from "./journeys.mjs";

/** Back online, the fan's state is on the page within this (the promise). */
const BACK_ONLINE_MS = 2_000;

/** A slow mobile network as Chromium emulates it: 2 s latency, 50 KB/s each way. */
const SLOW = { offline: false, latency: 2_000, downloadThroughput: 50 * 1024, uploadThroughput: 50 * 1024 };

/** The network failures Chromium logs while offline are expected here; anything else fails the journey. */
const offlineNoise = (p) => !/ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(p);

/**
 * A fan in the pre-queue loses the connection; the sale opens and they are admitted while
 * offline; long enough away that a growing backoff would sleep for many seconds. Back online,
 * their turn is on the page within 2 s, and the page said it was offline and that it is back.
 */
export async function fanBackOnline({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: back online",
		capacity: 10,
		maxPerFan: 2,
		opensAt: inSeconds(8),
		admission: { batchSize: 10, intervalMs: 500, activeMultiple: 2 },
		holdSeconds: 120,
	});
	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/drops/${drop.id}`);
	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByText("You’re in the pre-queue.").waitFor();

	await context.setOffline(true);
	const lost = Date.now();
	// What the page says offline is checked once the timing is known, so a run that fails says both.
	await page.locator("#alert").waitFor({ timeout: 10_000 });
	const saidOffline = await page.locator("#alert").textContent();
	await assertAccessible(page, "fan page offline", { log });
	await shot(page, "fan-offline");
	// Away 20 s: the sale opens (at 8 s) and admits everyone in the pre-queue meanwhile.
	await sleep(Math.max(0, 20_000 - (Date.now() - lost)));
	assert.equal(await page.getByRole("heading", { name: "It’s your turn" }).isVisible(), false, "offline, the page cannot know the turn yet");

	const back = Date.now();
	await context.setOffline(false);
	// Bounded well past the promise, so a run that misses it says by how much.
	await page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 40_000 });
	const tookMs = Date.now() - back;
	log(`back online after ${((back - lost) / 1000).toFixed(1)} s offline: the fan's turn shown ${tookMs} ms later`);
	assert.ok(tookMs <= BACK_ONLINE_MS, `back online, the fan's turn shows within ${BACK_ONLINE_MS} ms (took ${tookMs} ms)`);
	assert.match(saidOffline, /^You are offline/, "the page said it was offline");
	assert.match(saidOffline, /You keep your place/, "the fan was told the place is kept");
	await page.locator("#net-note").getByText("You are back online").waitFor();
	assert.equal(await page.locator("#alert").isVisible(), false, "the offline alert is gone once the page is back");
	await assertAccessible(page, "fan page back online", { log });
	await shot(page, "fan-back-online");
	checkProblems(problems.filter(offlineNoise), "fan back online");
	await context.close();
}

/**
 * When the page showed the fan's state (`which`: "waiting", the place in line; "intro", the join
 * button), in ms after its navigation started. Looked for every 50 ms, in the page.
 */
async function shownAt(page, which) {
	const handle = await page.waitForFunction(
		(want) => {
			const shown =
				want === "waiting"
					? !document.getElementById("s-waiting")?.hidden && /\d/.test(document.getElementById("position")?.textContent ?? "")
					: !document.getElementById("s-intro")?.hidden && document.getElementById("join")?.disabled === false;
			return shown ? performance.now() : false;
		},
		which,
		{ timeout: 60_000, polling: 50 },
	);
	return handle.jsonValue();
}

/** The page's own timings: when its HTML arrived, when its scripts had run, and how long its requests to `path` took, and every path it fetched. */
async function timings(page, path) {
	return page.evaluate((want) => {
		const nav = performance.getEntriesByType("navigation")[0];
		const requests = performance
			.getEntriesByType("resource")
			.filter((e) => new URL(e.name).pathname === want)
			.map((e) => e.responseEnd - e.startTime);
		const scripts = performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname);
		return { htmlArrived: nav.responseEnd, scriptsRan: nav.domContentLoadedEventStart, requests, scripts };
	}, path);
}

/**
 * On a slow network (2 s latency, 50 KB/s) the fan's state (the place in line for a fan who
 * joined, the join button for one who has not) is on the page within one request's time after
 * the page's scripts ran, not behind a chain of requests; the QR library is not loaded for it.
 */
export async function fanFirstViewSlow({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Browser test: slow network",
		capacity: 10,
		maxPerFan: 2,
		opensAt: inSeconds(-1),
		// Nobody is admitted while this runs: the fan stays in line.
		admission: { batchSize: 1, intervalMs: 60_000, activeMultiple: 1 },
	});
	for (let i = 1; i <= 3; i++) await api.join(drop.id, `slow-fan-ahead-${i}`);
	const { context, page } = await openPage(browser, PHONE, problems);
	const cdp = await context.newCDPSession(page);
	await cdp.send("Network.enable");
	await cdp.send("Network.emulateNetworkConditions", SLOW);
	const dropPath = `/api/drops/${drop.id}`;

	// A fan who has not joined: the drop and the join button.
	await page.goto(`${base}/drops/${drop.id}`, { waitUntil: "commit" });
	const introAt = await shownAt(page, "intro");
	const first = await timings(page, dropPath);
	const oneRequest = Math.min(...first.requests);
	log(`new fan: HTML at ${Math.round(first.htmlArrived)} ms, scripts ran at ${Math.round(first.scriptsRan)} ms, join button at ${Math.round(introAt)} ms; one request ${Math.round(oneRequest)} ms; QR library loaded: ${first.scripts.some((p) => p.startsWith("/vendor/")) ? "yes" : "no"}`);
	assert.ok(introAt <= first.scriptsRan + oneRequest + 250, `the join button shows within one request after the page (${Math.round(introAt - first.scriptsRan)} ms > ${Math.round(oneRequest)} ms)`);

	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByRole("heading", { name: "You’re in the queue" }).waitFor({ timeout: 30_000 });
	// The place among those still waiting: three joined first, and the opening's first batch may have let one in.
	const position = (await page.locator("#position").textContent()).trim();
	const ahead = (await page.locator("#ahead").textContent()).trim();
	assert.equal(Number(position), Number(ahead) + 1, "the place is the fans ahead plus one");
	assert.ok(Number(position) >= 3 && Number(position) <= 4, `the fan joined behind three others (place ${position})`);

	// The same fan comes back on the slow network: their place, not "Loading…".
	await page.reload({ waitUntil: "commit" });
	const placeAt = await shownAt(page, "waiting");
	assert.equal((await page.locator("#position").textContent()).trim(), position, "the place shown is the fan's, as last seen");
	// The engine's own answer follows, and the page stops saying it is checking.
	await page.waitForFunction(() => !/checking now/.test(document.getElementById("progress-text").textContent), null, { timeout: 30_000 });
	const freshAt = await page.evaluate(() => performance.now());
	const again = await timings(page, dropPath);
	assert.ok(again.requests.length > 0, "the drop's view was read on this page");
	const request = Math.min(...again.requests);
	log(`fan in line, reloaded: HTML at ${Math.round(again.htmlArrived)} ms, scripts ran at ${Math.round(again.scriptsRan)} ms, place at ${Math.round(placeAt)} ms, the engine's answer by ${Math.round(freshAt)} ms; one request ${Math.round(request)} ms`);
	assert.ok(placeAt <= again.scriptsRan + request + 250, `the place shows within one request after the page (${Math.round(placeAt - again.scriptsRan)} ms > ${Math.round(request)} ms)`);
	assert.ok(!again.scripts.some((p) => p.startsWith("/vendor/")), "the QR library is not loaded for a fan in line");
	assert.ok(!first.scripts.some((p) => p.startsWith("/vendor/")), `the QR library is not loaded before it is needed (${first.scripts.join(", ")})`);
	await shot(page, "fan-slow-first-view");
	await assertAccessible(page, "fan page on a slow network", { log });
	await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
	checkProblems(problems, "fan first view on a slow network");
	await context.close();
}
