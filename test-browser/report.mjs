// The load-test report in a real Chromium: the page rendered from the recorded
// run of test-node/fixtures/loadtest-run.json (the renderer the Node runner,
// `npm run report` and k6 share) opens from disk with no console error and no
// request beyond its own file, draws every chart, and is the screenshot in the
// README (docs/load-test-report.png with UPDATE_DOCS_SCREENSHOTS=1). On a
// 390 px phone the page does not scroll sideways (a chart or table scrolls in
// its own box) and axe-core finds nothing.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { renderReport } from "../loadtest/lib/report-html.js";
import { assertAccessible } from "./axe.mjs";
import { PHONE } from "./journeys.mjs";

export async function loadTestReport({ browser, root, shotsDir, shot, log }) {
	const report = JSON.parse(readFileSync(join(root, "test-node", "fixtures", "loadtest-run.json"), "utf8"));
	const file = join(shotsDir, "load-test-report.html");
	writeFileSync(file, renderReport(report));
	const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 });
	try {
		const page = await context.newPage();
		const problems = [];
		page.on("console", (m) => {
			if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
		});
		page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
		const url = pathToFileURL(file).href;
		page.on("request", (r) => {
			if (r.url() !== url) problems.push(`request beyond the file: ${r.url()}`);
		});
		await page.goto(url);
		const charts = await page.$$eval("svg.chart", (svgs) =>
			svgs.map((s) => {
				const box = s.getBoundingClientRect();
				return { id: s.dataset.chart, points: Number(s.dataset.points), width: box.width, height: box.height, drawn: s.querySelectorAll("path.series, rect.bar").length };
			}),
		);
		assert.ok(charts.length >= 10, `the page draws the charts (${charts.length})`);
		for (const c of charts) {
			assert.ok(c.points > 0 && c.drawn > 0, `chart ${c.id} has data`);
			assert.ok(c.width > 200 && c.height > 50, `chart ${c.id} is visible (${c.width}×${c.height})`);
		}
		assert.equal(await page.getAttribute("[data-verdict]", "data-verdict"), "passed");
		log(`${charts.length} charts drawn, verdict passed`);
		await shot(page, "load-test-report", { docs: "load-test-report.png" });
		await shot(page, "load-test-report-full", { fullPage: true });
		assert.deepEqual(problems, [], "the report logged errors or reached beyond its file");
	} finally {
		await context.close();
	}
	const phone = await browser.newContext(PHONE);
	try {
		const page = await phone.newPage();
		await page.goto(pathToFileURL(file).href);
		// Against the screen's width, not innerWidth: a phone's browser widens its layout to fit a page that overflows.
		const width = PHONE.viewport.width;
		const scroll = await page.evaluate(() => Math.max(document.documentElement.scrollWidth, window.innerWidth));
		assert.ok(scroll <= width + 1, `the report scrolls sideways on a phone (${scroll} > ${width})`);
		// Every chart is drawn at a readable width, inside a box of the screen's width that scrolls.
		const boxes = await page.$$eval(".chart-box", (els) => els.map((b) => ({ box: b.getBoundingClientRect().right, chart: b.firstElementChild.getBoundingClientRect().width })));
		assert.ok(boxes.length >= 10, `the charts sit in their boxes (${boxes.length})`);
		for (const b of boxes) {
			assert.ok(b.box <= width + 1, `a chart's box ends within the screen (${b.box} > ${width})`);
			assert.ok(b.chart >= 400, `a chart keeps a readable width (${b.chart})`);
		}
		await assertAccessible(page, "load-test report, phone", { log });
		await shot(page, "load-test-report-phone", { fullPage: true });
		log(`390 px: no sideways scroll (${scroll} px wide), axe clean`);
	} finally {
		await phone.close();
	}
}
