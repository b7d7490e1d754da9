// A load run's queue figures, in a real Chromium: the Node load runner drives a small
// drop (a few hundred fans) against this run's engine and writes its reports; then its
// JSON report's queue figures, the same figures as its HTML report shows them, and the
// promoter page's figures for that drop (desktop and phone) are each compared with
// GET /api/admin/drops/:id/queue-stats. What only time changes after the run (turns
// that end, and the fans counted as left once theirs has) may have grown since the
// runner's read, never shrunk; everything else is the same figure everywhere.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { htmlPathFor } from "../loadtest/lib/report-files.mjs";
import { assertAccessible } from "./axe.mjs";
import { DESKTOP, PHONE, checkProblems, openPage, signInAs } from "./journeys.mjs";
import { assertShownFigures, shownQueueFigures } from "./queue-stats-journeys.mjs";

/** The run's size and bound: small enough for a journey, big enough for several minutes' rows and every kind of fan. */
const RUN = ["--fans", "300", "--tickets", "60", "--shards", "2", "--lead-seconds", "5", "--spread-seconds", "10", "--drain-seconds", "90"];
const RUN_LIMIT_MS = 240_000;

/** Figures that only time moves once a drop is at rest: a turn ends on the clock, and with it a fan is counted as left. */
const MOVING_TOTALS = ["turnsEnded", "leftWithoutBuying", "leftAfterHolding", "leftWithoutHolding", "leftWithoutBuyingExact"];

/** Runs the load runner against `base`; resolves when it exits 0 within the bound, else rejects with its last words. */
function loadRun(root, base, adminToken, report, log) {
	return new Promise((resolve, reject) => {
		// A clean environment: the runner takes its knobs from the environment too (LINES, FANS, ...), so only what it needs.
		const env = { PATH: process.env.PATH, HOME: process.env.HOME, ADMIN_TOKEN: adminToken, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
		const child = spawn(process.execPath, [join(root, "loadtest", "node-runner.mjs"), "--base-url", base, "--report", report, ...RUN], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
		let tail = "";
		const keep = (chunk) => {
			tail = (tail + chunk.toString()).slice(-4000);
		};
		child.stdout.on("data", keep);
		child.stderr.on("data", keep);
		const timer = setTimeout(() => {
			log(`load run over ${RUN_LIMIT_MS / 1000} s: stopping it (pid ${child.pid})`);
			child.kill("SIGTERM");
		}, RUN_LIMIT_MS);
		child.on("error", (err) => {
			clearTimeout(timer);
			reject(err);
		});
		child.on("exit", (code, signal) => {
			clearTimeout(timer);
			if (code === 0) resolve();
			else reject(new Error(`the load run ended with ${signal ?? `code ${code}`}:\n${tail}`));
		});
	});
}

/** The API's figures and the runner's (read at its end): equal, but for what time moves, which may only have grown. */
function assertReportAgrees(reported, api) {
	const stable = (t) => Object.fromEntries(Object.entries(t).filter(([k]) => !MOVING_TOTALS.includes(k)));
	assert.deepEqual(stable(api.totals), stable(reported.totals), "the report's totals are the API's");
	for (const k of MOVING_TOTALS.filter((k) => k !== "leftWithoutBuyingExact")) {
		assert.ok(api.totals[k] >= reported.totals[k], `${k} only grows after the run (${reported.totals[k]} then, ${api.totals[k]} now)`);
	}
	assert.deepEqual(api.minutes.map((m) => m.minute).slice(0, reported.minutes.length), reported.minutes.map((m) => m.minute), "the report's minutes are the API's");
	reported.minutes.forEach((m, i) => {
		const { turnsEnded, ...rest } = m;
		const { turnsEnded: ended, ...now } = api.minutes[i];
		assert.deepEqual(now, rest, `minute ${m.minute} as the report has it`);
		assert.ok(ended >= turnsEnded, `turns ended in minute ${m.minute} only grow`);
	});
	// A minute the report lacks can only be one where turns ended since.
	for (const m of api.minutes.slice(reported.minutes.length)) {
		assert.deepEqual([m.arrivals, m.admitted, m.buyers, m.tickets, m.shoppers, m.expiredHolds], [0, 0, 0, 0, 0, 0], `minute ${m.minute} after the report's read has only turns ended`);
	}
}

/** The HTML report's queue part as a reader sees it: its figures by label, and its table's rows. */
function readReportQueue(page) {
	return page.evaluate(() => ({
		figures: Object.fromEntries([...document.querySelectorAll('[data-section="queue"] [data-queue]')].map((b) => [b.dataset.queue, b.textContent])),
		rows: [...document.querySelectorAll('table[data-table="queue"] tr')].slice(1).map((tr) => [...tr.children].map((c) => c.textContent)),
	}));
}

const secs = (s) => (s === null || s === undefined ? "-" : `${s} s`);

/** The HTML report's figures are the API's (its moving figures as the runner read them: `reported`). */
function assertHtmlAgrees(html, api, reported) {
	const t = api.totals;
	const f = html.figures;
	assert.deepEqual(
		[f.joined, f.admitted, f.buyers, f["held tickets"], f["tickets sold"], f.refunded, f["back from holds run out"]].map(Number),
		[t.joined, t.admitted, t.buyers, t.shoppers, t.tickets, t.refundedTickets, t.expiredTickets],
		"the HTML report's counts are the API's",
	);
	assert.equal(f.conversion, t.conversion === null ? "-" : `${Math.round(t.conversion * 1000) / 10}%`, "the HTML report's conversion");
	assert.deepEqual([f["time in queue p50"], f.p90, f.max], ["p50", "p90", "max"].map((k) => secs(t.wait?.[k])), "the HTML report's time in queue");
	assert.deepEqual([f["admission to purchase p50"], f["purchase p90"], f["purchase max"]], ["p50", "p90", "max"].map((k) => secs(t.purchase?.[k])), "the HTML report's admission to purchase");
	const r = reported.totals;
	assert.equal(f["left without buying"], `${r.leftWithoutBuying}${r.leftWithoutBuyingExact ? "" : " so far"}`, "the HTML report's fans who left, as read");
	assert.equal(html.rows.length, reported.minutes.length, "the HTML report has a row per minute");
	reported.minutes.forEach((m, i) => {
		const a = api.minutes[i];
		const [minute, arrivals, admitted, , w50, w90, wmax, buyers, tickets, refunded, shoppers, p50, p90, max, expiredHolds, expiredTickets] = html.rows[i];
		assert.equal(minute, a.minute.slice(11, 16), `row ${i}: its minute`);
		assert.deepEqual(
			[arrivals, admitted, buyers, tickets, refunded, shoppers, expiredHolds, expiredTickets].map(Number),
			[a.arrivals, a.admitted, a.buyers, a.tickets, a.refundedTickets, a.shoppers, a.expiredHolds, a.expiredTickets],
			`the HTML report's minute ${a.minute}`,
		);
		assert.deepEqual([w50, w90, wmax, p50, p90, max], [...["p50", "p90", "max"].map((k) => secs(a.wait?.[k])), ...["p50", "p90", "max"].map((k) => secs(a.purchase?.[k]))], `the HTML report's times in minute ${a.minute}`);
	});
}

export async function loadRunQueueFiguresAgree({ browser, base, api, adminToken, root, shotsDir, shot, log }) {
	const reportFile = join(shotsDir, "loadrun-queue.json");
	const started = Date.now();
	await loadRun(root, base, adminToken, reportFile, log);
	const report = JSON.parse(readFileSync(reportFile, "utf8"));
	const dropId = report.drop.id;
	const reported = report.queue;
	log(`load run: ${((Date.now() - started) / 1000).toFixed(0)} s, drop ${dropId}, ${reported.minutes.length} minute(s); report: ${JSON.stringify(reported.totals)}`);
	// The run's fans made every kind of figure: waits, purchases, holds that ran out.
	assert.ok(reported.totals.joined > 60, "more fans joined than there were tickets");
	assert.equal(reported.totals.tickets, 60, "the drop sold out");
	assert.ok(reported.totals.buyers > 0 && reported.totals.shoppers >= reported.totals.buyers, "fans held and bought");
	assert.ok(reported.totals.wait !== null && reported.totals.purchase !== null, "times in queue and to purchase");

	const read = async () => (await api.call("GET", `/api/admin/drops/${dropId}/queue-stats`, { token: adminToken, expect: 200 })).data;
	const stats = await read();
	assertReportAgrees(reported, stats);

	// The HTML report beside the JSON, opened as a reader opens it.
	const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 });
	try {
		const page = await context.newPage();
		await page.goto(pathToFileURL(htmlPathFor(reportFile)).href);
		await page.locator('table[data-table="queue"]').waitFor();
		assertHtmlAgrees(await readReportQueue(page), stats, reported);
		await page.locator("#queue").scrollIntoViewIfNeeded();
		await shot(page, "loadrun-queue-report");
	} finally {
		await context.close();
	}

	for (const [size, device] of [
		["desktop", DESKTOP],
		["phone", PHONE],
	]) {
		const problems = [];
		const { context: ctx, page } = await openPage(browser, device, problems);
		// The API read before the page opens and after it is read: the same, so the page's own read in between is that too.
		const before = await read();
		await page.goto(`${base}/admin#${dropId}`);
		await signInAs(page, adminToken);
		await page.locator("#queue-rows tr").first().waitFor({ timeout: 15_000 });
		const shown = await shownQueueFigures(page);
		const after = await read();
		const agreed = JSON.stringify(before) === JSON.stringify(after) ? after : null;
		assert.ok(agreed !== null, `${size}: the API's figures held still around the page's read`);
		assertShownFigures(shown, agreed, `load run, ${size}`);
		assertReportAgrees(reported, agreed);
		await assertAccessible(page, `the load run's queue figures (${size})`, { log, include: "#s-drop" });
		await page.locator("#h-queue").scrollIntoViewIfNeeded();
		await shot(page, `loadrun-queue-${size}`);
		log(`${size}: ${shown.rows.length} minute(s) on the page, as the API and the report say`);
		checkProblems(problems, `load run queue figures (${size})`);
		await ctx.close();
	}
}
