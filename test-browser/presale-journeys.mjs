// A code presale before the general sale, on the fan page at phone size: the page
// says which window opens next, who it is for and when the general sale opens; a
// wrong code is refused in words under the code field, the right code puts the fan
// in the window's pre-queue, the window admits them at its opening and they buy; a
// fan who comes while the window is open without a code is asked for one, and buys
// in the general sale once it opens. axe-core clean at each step. And the promoter's
// side: windows built in the create form, their lines, code groups made, counted
// and revoked.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assertAccessible } from "./axe.mjs";
import { DESKTOP, PHONE, checkProblems, openPage, sleep } from "./journeys.mjs";

/** Until `at` (ms since the epoch), and a little after: the engine's clock is this machine's. */
const sleepUntil = (at) => sleep(Math.max(0, at - Date.now()) + 300);

export async function fanPresaleWithCode({ browser, base, api, adminToken, shot, log }) {
	const problems = [];
	const windowOpens = Date.now() + 25_000;
	const generalOpens = windowOpens + 20_000;
	const drop = await api.createDrop({
		name: "Browser test: fan club presale",
		capacity: 10,
		maxPerFan: 2,
		opensAt: new Date(generalOpens).toISOString(),
		admission: { batchSize: 10, intervalMs: 500, activeMultiple: 2 },
		presales: [{ id: "club", name: "Fan club", opensAt: new Date(windowOpens).toISOString(), closesAt: new Date(generalOpens).toISOString(), access: "code", capacity: 4, maxPerFan: 1 }],
	});
	const admin = (method, path, body) => api.call(method, `/api/admin/drops/${drop.id}${path}`, { token: adminToken, body, expect: [200, 201] });
	const { data: group } = await admin("POST", "/code-groups", { windowId: "club", kind: "unique", name: "Club members", count: 3 });
	const code = group.codes[0];

	// Before the window: what opens next and for whom, the general sale's opening, and the code field, optional.
	const fan = await openPage(browser, PHONE, problems);
	await fan.page.goto(`${base}/drops/${drop.id}`);
	await fan.page.locator("#window-next").getByText("Next: Fan club opens").waitFor();
	await fan.page.locator("#window-next").getByText("For fans with a code.").waitFor();
	await fan.page.locator("#window-general").getByText("The general sale opens").waitFor();
	const field = fan.page.getByLabel("Presale code, if you have one for Fan club");
	await field.waitFor();
	await shot(fan.page, "presale-1-before-window");
	await assertAccessible(fan.page, "presale: before the window, the code field", { log });

	// A wrong code: refused under the field, in words, and the fan stays on the intro.
	await field.fill("AAAAA-BBBBB-CCCCC-DDDDD");
	await fan.page.getByRole("button", { name: "Join the queue" }).click();
	await fan.page.locator("#code-error").getByText("This code does not open this sale window").waitFor();
	assert.equal(await field.getAttribute("aria-invalid"), "true", "the refused field is marked invalid");
	assert.equal(await fan.page.evaluate(() => document.activeElement?.id), "code", "the refused field has the focus");
	await assertAccessible(fan.page, "presale: a wrong code refused", { log });
	log("a wrong code is refused in words by its field");

	// The right code: the window's pre-queue, counting down to the window's opening (not the general sale's).
	await field.fill(code.toLowerCase());
	await fan.page.getByRole("button", { name: "Join the queue" }).click();
	await fan.page.getByText("You’re in the pre-queue of Fan club.").waitFor();
	const countdown = await fan.page.locator("#prequeue-countdown").textContent();
	assert.ok(!/^0?0:00$/.test(countdown ?? ""), `a countdown to the window's opening (${countdown})`);
	await shot(fan.page, "presale-2-window-prequeue");
	await assertAccessible(fan.page, "presale: in the window's pre-queue", { log });
	log("the right code puts the fan in the window's pre-queue");

	// Admitted at the window's opening, not before; then holds and buys.
	await fan.page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 40_000 });
	assert.ok(Date.now() >= windowOpens - 1_000, "admitted no earlier than the window's opening");
	await fan.page.getByRole("button", { name: "Hold tickets" }).click();
	await fan.page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	await fan.page.getByRole("button", { name: /^Pay|^Confirm/ }).click();
	await fan.page.getByRole("heading", { name: "You’re going!" }).waitFor({ timeout: 20_000 });
	await shot(fan.page, "presale-3-bought-in-window");
	log("admitted at the window's opening and bought in the presale");

	// Another fan, while the window is open, without a code: asked for one, and refused in words without it.
	const late = await openPage(browser, PHONE, problems);
	await late.page.goto(`${base}/drops/${drop.id}`);
	await late.page.locator("#window-open").getByText("Presale open now: Fan club").waitFor();
	const required = late.page.getByLabel("Presale code for Fan club");
	await required.waitFor();
	assert.equal(await required.getAttribute("aria-required"), "true", "the code is asked for while the window is open");
	await late.page.getByRole("button", { name: "Join the queue" }).click();
	await late.page.locator("#code-error").getByText("This sale window is for fans with a code or on its list.").waitFor();
	await shot(late.page, "presale-4-code-required");
	await assertAccessible(late.page, "presale: a fan without a code asked for one", { log });
	log("a fan without a code is asked for one");

	// The general sale: the page draws itself again when the window closes, asks for no code, and the fan buys.
	await sleepUntil(generalOpens);
	await late.page.locator("#code-block").waitFor({ state: "hidden", timeout: 15_000 });
	await late.page.getByText("The sale is open.").waitFor({ timeout: 15_000 });
	await late.page.getByRole("button", { name: "Join the queue" }).click();
	await late.page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 30_000 });
	await late.page.getByRole("button", { name: "Hold tickets" }).click();
	await late.page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	await late.page.getByRole("button", { name: /^Pay|^Confirm/ }).click();
	await late.page.getByRole("heading", { name: "You’re going!" }).waitFor({ timeout: 20_000 });
	await assertAccessible(late.page, "presale: bought in the general sale", { log });
	log("the fan without a code bought in the general sale");

	// The engine agrees: the code bound once, the window sold one, the drop two, the audit clean.
	const { data: groups } = await admin("GET", "/code-groups");
	assert.equal(groups.groups[0].used, 1, "the unique code let in one fan");
	const deadline = Date.now() + 15_000;
	let audit;
	for (;;) {
		({ data: audit } = await admin("GET", "/audit?graceSeconds=0"));
		if (audit.ok && audit.windows?.[0]?.sold === 1) break;
		assert.ok(Date.now() < deadline, `the audit is clean with the window's one sale (${JSON.stringify(audit.windows)})`);
		await sleep(500);
	}
	assert.equal((await api.dropStats(drop.id)).sold, 2, "the drop sold two: one in the window, one in the general sale");
	checkProblems(problems.filter((p) => !/status of 403/.test(p)), "fan presale with a code");
	await fan.context.close();
	await late.context.close();
}


/** A datetime-local value in the browser's own time zone, `ms` from now. */
const localIn = (page, ms) =>
	page.evaluate((ms) => {
		const d = new Date(Date.now() + ms);
		const pad = (n) => String(n).padStart(2, "0");
		return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
	}, ms);

/**
 * The promoter builds a code window and a list window in the create form (a window
 * closing after the general sale opens is refused by its field first), sees each
 * window's line, makes unique codes (downloaded once as a CSV), a shared code with a
 * cap and a list, sees a group's use counted once a fan joins with one of its codes,
 * and revokes a group after a confirm step. axe-core clean.
 */
export async function promoterBuildsWindowsAndCodes({ browser, base, api, adminToken, shot, log, downloadsDir }) {
	const problems = [];
	const { context, page } = await openPage(browser, DESKTOP, problems);
	await page.goto(`${base}/admin`);
	await page.getByLabel("API key or admin token", { exact: true }).fill(adminToken);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.getByRole("heading", { name: "Create a drop" }).waitFor();

	const MIN = 60_000;
	await page.locator("#f-name").fill("Browser test: presale windows");
	await page.locator("#f-capacity").fill("100");
	await page.locator("#f-opensAt").fill(await localIn(page, 20 * MIN));
	await page.locator("#windows-box summary").click();
	await page.getByRole("button", { name: "Add a sale window" }).click();
	await page.getByLabel("Window name").first().fill("Fan club");
	await page.getByLabel("Window id").first().fill("club");
	await page.getByLabel("Window opens at (the drop's time zone)").first().fill(await localIn(page, 2 * MIN));
	// Past the general sale's opening: the engine refuses it, by this field.
	await page.getByLabel("Window closes at").first().fill(await localIn(page, 30 * MIN));
	await page.getByLabel("Window’s tickets (optional)").first().fill("40");
	await page.getByRole("button", { name: "Add a sale window" }).click();
	await page.getByLabel("Window name").nth(1).fill("Card holders");
	await page.getByLabel("Window id").nth(1).fill("cards");
	await page.getByLabel("Window opens at (the drop's time zone)").nth(1).fill(await localIn(page, 10 * MIN));
	await page.getByLabel("Window closes at").nth(1).fill(await localIn(page, 15 * MIN));
	await page.getByLabel("Who may join").nth(1).selectOption("list");
	await page.getByRole("button", { name: "Create the drop" }).click();
	await page.locator("#create-summary").getByText("The drop was not saved").waitFor();
	const refused = page.getByLabel("Window closes at").first();
	assert.equal(await refused.getAttribute("aria-invalid"), "true", "the refused window field is marked");
	await page.locator("#w1-closesAt-error").getByText("general sale").waitFor();
	await assertAccessible(page, "presale: a window refused by its field", { log });
	log("a window closing after the general sale opens is refused by its field");

	await refused.fill(await localIn(page, 5 * MIN));
	await page.getByRole("button", { name: "Create the drop" }).click();
	await page.getByRole("heading", { name: "Browser test: presale windows" }).waitFor();
	const dropId = decodeURIComponent(new URL(page.url()).hash.slice(1));
	const made = (await api.call("GET", `/api/admin/drops/${dropId}`, { token: adminToken, expect: 200 })).data;
	assert.deepEqual(made.presales.map((w) => [w.id, w.access, w.capacity]), [["club", "code", 40], ["cards", "list", null]]);
	const windows = page.locator("#windows-rows");
	await windows.locator('tr[data-window="club"]').getByText("codes").waitFor();
	await windows.locator('tr[data-window="cards"]').getByText("a list of fans").waitFor();
	log("the drop made with its two windows, each shown with its line");

	// Unique codes: the CSV is the one answer that carries them.
	await page.getByLabel("Window", { exact: true }).selectOption("club");
	await page.getByLabel("Kind").selectOption("unique");
	await page.getByLabel("Group name").fill("Club members");
	await page.getByLabel("Codes to make").fill("5");
	const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Create the group" }).click()]);
	const file = join(downloadsDir, download.suggestedFilename());
	await download.saveAs(file);
	const lines = readFileSync(file, "utf8").trim().split(/\r?\n/);
	assert.equal(lines[0], "code");
	assert.equal(lines.length, 6, "five codes in the CSV");
	await page.locator("#groups-status").getByText("cannot show them again").waitFor();
	await page.locator("#groups-rows tr", { hasText: "Club members" }).waitFor();

	// A shared code with a cap, shown once; a list of fans for the list window.
	await page.getByLabel("Kind").selectOption("shared");
	await page.getByLabel("Group name").fill("Card partner");
	await page.getByLabel("Fans the code lets in").fill("3");
	await page.getByRole("button", { name: "Create the group" }).click();
	await page.locator("#groups-status").getByText("the shared code is").waitFor();
	await page.getByLabel("Window", { exact: true }).selectOption("cards");
	assert.deepEqual(await page.getByLabel("Kind").locator("option").evaluateAll((o) => o.map((x) => x.value)), ["list"], "a list window takes lists only");
	await page.getByLabel("Group name").fill("Card holders list");
	await page.getByLabel("A file of fan ids (CSV or text, one a line)").setInputFiles({ name: "club-list.csv", mimeType: "text/csv", buffer: Buffer.from("fanId\nfan-a\nfan-b\nfan-c\n") });
	await page.locator("#groups-status").getByText("3 fan ids read from club-list.csv.").waitFor();
	assert.equal(await page.getByLabel("Fan ids, one a line").inputValue(), "fan-a\nfan-b\nfan-c");
	await page.getByRole("button", { name: "Create the group" }).click();
	await page.locator("#groups-rows tr", { hasText: "Card holders list" }).getByText("3 fans").waitFor();
	log("unique codes downloaded once as CSV, a shared code with a cap, a list uploaded");

	// A fan joins with one of the codes: the group counts it.
	const code = lines[1];
	await api.call("POST", `/api/drops/${dropId}/join`, { body: { fanId: "club-fan-1", fanSecret: "s".repeat(43), code }, expect: 201 });
	await page.locator("#groups-rows tr", { hasText: "Club members" }).locator("td").nth(2).getByText("1", { exact: true }).waitFor({ timeout: 20_000 });
	await shot(page, "presale-5-promoter-groups", { fullPage: true });
	await assertAccessible(page, "presale: the windows and code groups", { log });
	log("a code used by a fan is counted in its group");

	// Revoke, asked first.
	await page.getByRole("button", { name: "Revoke Card partner" }).click();
	const dialog = page.getByRole("dialog", { name: "Revoke the group Card partner?" });
	await dialog.waitFor();
	await assertAccessible(page, "presale: the revoke confirm step", { log });
	await dialog.getByRole("button", { name: "Revoke the group" }).click();
	await page.locator("#groups-rows tr", { hasText: "Card partner" }).getByText("revoked").waitFor();
	const { data } = await api.call("GET", `/api/admin/drops/${dropId}/code-groups`, { token: adminToken, expect: 200 });
	assert.deepEqual(data.groups.map((g) => [g.name, g.used, g.revokedAt !== null]), [["Club members", 1, false], ["Card partner", 0, true], ["Card holders list", 0, false]]);
	log("a group revoked after a confirm step, as the engine says");
	checkProblems(problems.filter((p) => !/status of 403/.test(p)), "promoter presale windows and codes");
	await context.close();
}
