// The waiting view's numbers, read in a real Chromium at phone size while the
// line moves: at every poll the place is the fans ahead plus one, the bar and its
// words come from those same numbers, the place goes down while the fan's
// position over everyone stays, and the wait is told from the measured pace.
import assert from "node:assert/strict";
import { assertAccessible } from "./axe.mjs";
import { PHONE, checkProblems, inSeconds, openPage, sleep } from "./journeys.mjs";

/** Everything the waiting view shows, read in one go so the figures belong to one render. */
function readView(page) {
	return page.evaluate(() => {
		const t = (id) => document.getElementById(id)?.textContent ?? "";
		const state = JSON.parse(localStorage.getItem(`tdrop:drop:${decodeURIComponent(location.pathname.split("/")[2])}`) ?? "{}");
		return {
			waiting: !document.getElementById("s-waiting").hidden,
			place: Number(t("position").replace(/\D/g, "")),
			ahead: Number(t("ahead").replace(/\D/g, "")),
			wait: t("wait"),
			pace: t("wait-pace"),
			progress: Number(document.getElementById("progress").value),
			progressText: t("progress-text"),
			queueToken: state.queueToken ?? null,
		};
	});
}

export async function queueNumbersAgree({ browser, base, api, shot, log }) {
	const problems = [];
	const drop = await api.createDrop({
		name: "Queue numbers (browser test)",
		capacity: 40,
		maxPerFan: 1,
		opensAt: inSeconds(4),
		shards: 1,
		// One fan every 1.5 s and room for all of them to shop: the line moves steadily.
		admission: { batchSize: 1, intervalMs: 1500, activeMultiple: 20 },
		holdSeconds: 120,
	});
	const { context, page } = await openPage(browser, PHONE, problems);
	await page.goto(`${base}/drops/${drop.id}`);
	await page.getByText("The sale is open.").waitFor({ timeout: 20_000 });
	// Six fans join first through the API, so the page's fan is the seventh placed.
	for (let i = 1; i <= 6; i++) await api.join(drop.id, `queue-ahead-${i}`);
	await page.getByRole("button", { name: "Join the queue" }).click();
	await page.getByRole("heading", { name: "You’re in the queue" }).waitFor();

	const seen = [];
	let firstPlace = null;
	const deadline = Date.now() + 40_000;
	while (Date.now() < deadline) {
		const v = await readView(page);
		if (!v.waiting) break;
		if (v.place > 0 && !seen.some((s) => s.ahead === v.ahead && s.place === v.place)) {
			seen.push(v);
			log(`poll: place ${v.place}, ${v.ahead} ahead, bar ${v.progress}%, wait "${v.wait}" ${v.pace}`);
			assert.equal(v.place, v.ahead + 1, `the place is the fans ahead plus one (place ${v.place}, ${v.ahead} ahead)`);
			firstPlace = Math.max(firstPlace ?? v.place, v.place);
			const gone = firstPlace - v.place;
			const want = firstPlace <= 1 ? 100 : Math.round((gone / (firstPlace - 1)) * 100);
			assert.equal(v.progress, want, `the bar comes from the same numbers (place ${v.place} of first ${firstPlace})`);
			if (v.ahead > 0 && gone > 0) {
				assert.match(v.progressText, new RegExp(`^${want}% of the way to the front: ${gone} of the ${firstPlace - 1} fans ahead of you have gone in\\.$`));
			}
			// A wait in minutes only from a measured pace, and the pace is said with it.
			if (/minute/.test(v.wait) && !/not known/.test(v.wait)) assert.match(v.pace, /about [\d.]+ a minute/, "the wait is told with the pace behind it");
			if (seen.length === 2) await assertAccessible(page, "the waiting view", { log, include: "#s-waiting" });
		}
		if (seen.length >= 4) break;
		await sleep(150);
	}
	assert.ok(seen.length >= 4, `the view moved through at least four places (saw ${seen.length})`);
	assert.ok(seen.at(-1).place < seen[0].place, "the place moves towards the front");
	// The position over everyone who joined stays 7 all along: it is not what the fan is shown as their place.
	const token = (await readView(page)).queueToken;
	if (token) {
		const s = await api.call("GET", `/api/drops/${drop.id}/status`, { token });
		if (s.data.status === "waiting") {
			assert.equal(s.data.position, 7, "the fan's position over everyone stays");
			assert.equal(s.data.place, s.data.ahead + 1, "the API's place is the fans ahead plus one");
			assert.equal(typeof s.data.admittedPerMinute, "number", "the pace the line has shown is published");
		}
	}
	await shot(page, "queue-numbers");
	checkProblems(problems, "queue numbers");
	await context.close();
}
