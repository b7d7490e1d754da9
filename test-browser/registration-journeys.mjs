// A registered presale on the fan page. Before registration opens the page says when
// it does. On a drop with a registered window, a code window and the general sale:
// the fan registers an email, reads the mailed code in the dev mailbox, is refused in
// words for a mistyped address and a wrong code first, verifies, reads "you are
// registered" and still reads it after a reload; once registration has closed the
// page says the draw is coming, and after the promoter's draw it shows the draw as
// anyone can check it and that this fan was drawn; the fan joins the registered
// window with the code the draw mailed, is admitted at its opening, and buys.
// axe-core clean at each step, at phone and desktop size.
import assert from "node:assert/strict";
import { assertAccessible } from "./axe.mjs";
import { DESKTOP, PHONE, checkProblems, openPage, sleep } from "./journeys.mjs";

/** axe at the phone's size the journey runs at, then at a desktop's, then back. */
async function accessibleAtBothSizes(page, label, log) {
	await assertAccessible(page, `${label} (phone)`, { log });
	await page.setViewportSize(DESKTOP.viewport);
	await assertAccessible(page, `${label} (desktop)`, { log });
	await page.setViewportSize(PHONE.viewport);
	const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
	assert.ok(scroll <= width + 1, `${label}: the phone page scrolls sideways (${scroll} > ${width})`);
}

/** The newest mail to `to` in the dev mailbox whose subject or body `pattern` matches: the match's first group. */
async function mailed(api, adminToken, to, pattern) {
	const deadline = Date.now() + 15_000;
	for (;;) {
		const { data } = await api.call("GET", "/api/admin/dev/mail?limit=100", { token: adminToken, expect: 200 });
		for (const mail of data.mail.filter((m) => m.to === to)) {
			const found = pattern.exec(`${mail.subject}\n${mail.body}`);
			if (found) return { value: found[1], mail };
		}
		assert.ok(Date.now() < deadline, `a mail to ${to} matching ${pattern}`);
		await sleep(300);
	}
}

export async function fanRegistersIsDrawnAndJoins({ browser, base, api, adminToken, shot, log }) {
	const problems = [];
	const registrationCloses = Date.now() + 45_000;
	// Room between the close and the window's opening for the draw, its poll and the join, on a loaded machine.
	const windowOpens = registrationCloses + 45_000;
	const windowCloses = windowOpens + 60_000;
	const codeCloses = windowCloses + 5 * 60_000;
	const iso = (ms) => new Date(ms).toISOString();
	const drop = await api.createDrop({
		name: "Browser test: registered presale",
		capacity: 20,
		maxPerFan: 2,
		opensAt: iso(codeCloses),
		admission: { batchSize: 10, intervalMs: 500, activeMultiple: 2 },
		presales: [
			{ id: "verified", name: "Verified fans", opensAt: iso(windowOpens), closesAt: iso(windowCloses), access: "registered", capacity: 5, maxPerFan: 1, registration: { opensAt: iso(Date.now() - 60_000), closesAt: iso(registrationCloses), invites: 3 } },
			{ id: "club", name: "Fan club", opensAt: iso(windowCloses), closesAt: iso(codeCloses), access: "code", capacity: 5 },
		],
	});
	const email = `reg-${drop.id.slice(-8).toLowerCase()}@fans.test`;

	// Registration not open yet: the page says when it opens, and asks for nothing.
	const soon = Date.now() + 10 * 60_000;
	const later = await api.createDrop({
		name: "Browser test: registration later",
		capacity: 5,
		maxPerFan: 2,
		opensAt: iso(soon + 30 * 60_000),
		presales: [{ id: "verified", name: "Verified fans", opensAt: iso(soon + 10 * 60_000), closesAt: iso(soon + 20 * 60_000), access: "registered", registration: { opensAt: iso(soon), closesAt: iso(soon + 5 * 60_000), invites: 10 } }],
	});
	const fan = await openPage(browser, PHONE, problems);
	await fan.page.goto(`${base}/drops/${later.id}`);
	await fan.page.getByRole("heading", { name: "Register for Verified fans" }).waitFor();
	await fan.page.locator("#reg-status").getByText("Registration opens").waitFor();
	assert.ok(await fan.page.locator("#reg-email-form").isHidden(), "no address asked for before registration opens");
	await accessibleAtBothSizes(fan.page, "registration: not open yet", log);
	log("before registration opens the page says when it does");

	// Registration open: the fan gives an address.
	await fan.page.goto(`${base}/drops/${drop.id}`);
	await fan.page.getByRole("heading", { name: "Register for Verified fans" }).waitFor();
	await fan.page.locator("#reg-status").getByText("3 fans are drawn at random").waitFor();
	// A mistyped address is said by its field before anything is sent.
	const address = fan.page.locator("#reg-block").getByLabel("Your email address");
	await address.fill("not an address");
	await fan.page.getByRole("button", { name: "Register" }).click();
	await fan.page.locator("#reg-error").getByText("Type an email address").waitFor();
	assert.equal(await address.getAttribute("aria-invalid"), "true", "the address is marked");
	assert.equal(await fan.page.evaluate(() => document.activeElement?.id), "reg-email", "the address has the focus");
	await shot(fan.page, "registration-1-email");
	await accessibleAtBothSizes(fan.page, "registration: the address refused", log);
	await address.fill(email);
	await fan.page.getByRole("button", { name: "Register" }).click();
	await fan.page.locator("#reg-sent").getByText(`We sent an 8-digit code to ${email}`).waitFor();
	assert.equal(await fan.page.evaluate(() => document.activeElement?.id), "reg-code", "the code field has the focus");
	await accessibleAtBothSizes(fan.page, "registration: the code asked for", log);
	log("the fan registers an address and is asked for the mailed code");

	// The code from the dev mailbox (the verification mail names it in its subject); a wrong one first.
	const { value: code } = await mailed(api, adminToken, email, /\b(\d{8})\b/);
	const wrong = String((Number(code) + 1) % 100_000_000).padStart(8, "0");
	const codeField = fan.page.getByLabel("The 8-digit code from the email");
	await codeField.fill(wrong);
	await fan.page.getByRole("button", { name: "Confirm" }).click();
	await fan.page.getByRole("alert").getByText("This code does not confirm this address.").waitFor();
	assert.equal(await codeField.getAttribute("aria-invalid"), "true", "the refused code is marked");
	assert.equal(await fan.page.evaluate(() => document.activeElement?.id), "reg-code", "the refused code has the focus");
	await shot(fan.page, "registration-2-wrong-code");
	await accessibleAtBothSizes(fan.page, "registration: a wrong code refused", log);
	log("a wrong code is refused in words");

	await codeField.fill(code);
	await fan.page.getByRole("button", { name: "Confirm" }).click();
	await fan.page.getByText("You are registered for Verified fans.").waitFor();
	const registrationId = (await fan.page.locator("#reg-id").textContent())?.trim() ?? "";
	assert.match(registrationId, /\S{8,}/, "the registration id is shown");
	await fan.page.locator("#reg-draw-at").getByText("The draw is at").waitFor();
	await shot(fan.page, "registration-3-registered");
	await accessibleAtBothSizes(fan.page, "registration: registered", log);
	await fan.page.reload();
	await fan.page.getByText("You are registered for Verified fans.").waitFor();
	assert.equal((await fan.page.locator("#reg-id").textContent())?.trim(), registrationId, "the same registration id after a reload");
	assert.ok(await fan.page.locator("#reg-email-form").isHidden(), "no address asked for again after a reload");
	log(`verified: registration ${registrationId}, kept across a reload`);

	// Registration closes: the draw is coming (the page reads the drop again at the close).
	await sleep(Math.max(0, registrationCloses - Date.now()) + 500);
	await fan.page.locator("#reg-status").getByText("The draw is coming").waitFor({ timeout: 15_000 });
	await accessibleAtBothSizes(fan.page, "registration: closed, the draw coming", log);

	// The promoter draws at once; the page shows the draw within its poll, and that this fan was drawn.
	const made = await api.call("POST", `/api/admin/drops/${drop.id}/windows/verified/draw`, { token: adminToken, expect: [200, 201] });
	assert.equal(made.data.drawn, 1, "one fan registered, so one drawn");
	const { data: draw } = await api.call("GET", `/api/drops/${drop.id}/draw`, { expect: 200 });
	assert.deepEqual(draw.invited, [registrationId], "the engine's draw invited this fan");
	await fan.page.locator("#reg-result").getByText("You were drawn!").waitFor({ timeout: 20_000 });
	assert.equal((await fan.page.locator("#reg-commitment").textContent())?.trim(), draw.seedCommitment, "the commitment shown is the engine's");
	assert.equal((await fan.page.locator("#reg-seed").textContent())?.trim(), draw.seed, "the seed shown is the engine's");
	assert.equal((await fan.page.locator("#reg-registered").textContent())?.trim(), "1");
	assert.equal((await fan.page.locator("#reg-drawn").textContent())?.trim(), "1");
	assert.equal(await fan.page.getByRole("link", { name: "the draw’s public record" }).getAttribute("href"), `/api/drops/${encodeURIComponent(drop.id)}/draw?window=verified`);
	await shot(fan.page, "registration-4-drawn", { fullPage: true });
	await accessibleAtBothSizes(fan.page, "registration: the draw, drawn", log);
	log("after the draw the page shows it, checkable, and that the fan was drawn");

	// The code the draw mailed lets the fan into the registered window, admitted at its opening.
	const { value: invite } = await mailed(api, adminToken, email, /\b([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5})\b/);
	const field = fan.page.getByLabel("Presale code, if you have one for Verified fans");
	await field.fill(invite);
	const joinedAt = Date.now();
	await fan.page.getByRole("button", { name: "Join the queue" }).click();
	// Joined before the window's opening (as the timing gives, unless the machine ran very late): its pre-queue.
	if (joinedAt < windowOpens - 3_000) {
		await fan.page.getByText("You’re in the pre-queue of Verified fans.").waitFor();
		await accessibleAtBothSizes(fan.page, "registration: in the registered window's pre-queue", log);
	} else log("the window had opened before the join: the fan's place is in its line, after the opening");
	await fan.page.getByRole("heading", { name: "It’s your turn" }).waitFor({ timeout: 45_000 });
	assert.ok(Date.now() >= windowOpens - 1_000, "admitted no earlier than the window's opening");
	await fan.page.getByRole("button", { name: "Hold tickets" }).click();
	await fan.page.getByRole("heading", { name: "Your tickets are held" }).waitFor();
	await fan.page.getByRole("button", { name: /^Pay|^Confirm/ }).click();
	await fan.page.getByRole("heading", { name: "You’re going!" }).waitFor({ timeout: 20_000 });
	await shot(fan.page, "registration-5-bought");
	await accessibleAtBothSizes(fan.page, "registration: bought in the registered window", log);
	log("the drawn fan joined with the mailed code, was admitted at the window's opening and bought");

	// The engine agrees: the draw's code group counts one use, the window sold one, the audit clean.
	const { data: groups } = await api.call("GET", `/api/admin/drops/${drop.id}/code-groups`, { token: adminToken, expect: 200 });
	const issued = groups.groups.find((g) => g.issuedBy === "engine");
	assert.equal(issued?.used, 1, "the draw's code let in one fan");
	const deadline = Date.now() + 15_000;
	let audit;
	for (;;) {
		({ data: audit } = await api.call("GET", `/api/admin/drops/${drop.id}/audit?graceSeconds=0`, { token: adminToken, expect: 200 }));
		if (audit.ok && audit.windows?.find((w) => w.id === "verified")?.sold === 1) break;
		assert.ok(Date.now() < deadline, `the audit is clean with the registered window's one sale (${JSON.stringify(audit.windows)})`);
		await sleep(500);
	}
	checkProblems(problems.filter((p) => !/status of 403/.test(p)), "fan registers, is drawn and joins");
	await fan.context.close();
}
