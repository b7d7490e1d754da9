// A code presale before the general sale, on the fan page at phone size: the page
// says which window opens next, who it is for and when the general sale opens; a
// wrong code is refused in words under the code field, the right code puts the fan
// in the window's pre-queue, the window admits them at its opening and they buy; a
// fan who comes while the window is open without a code is asked for one, and buys
// in the general sale once it opens. axe-core clean at each step.
import assert from "node:assert/strict";
import { assertAccessible } from "./axe.mjs";
import { PHONE, checkProblems, openPage, sleep } from "./journeys.mjs";

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

