// The presale scenario's registered window (loadtest/lib/presale-draw.js, run by the
// Node runner and loadtest/presale.js under k6) against a scripted engine: the plan
// keeps the registration open past the code window; a fan registers (twice for
// some), reads its code from the dev mailbox by address and verifies (a wrong code
// first for some); the promoter draws at the close and runs the local cron until
// every registration is told; a fan drawn joins with its mailed code (a friend with
// the same code must be refused) and buys, a fan not drawn is refused the window;
// and the verdict passes a clean run and fails each way the registered window can
// break (a draw that does not re-derive, a count not asked, an invited fan not
// mailed, a code let in twice, a stranger let in, a window or the drop past capacity).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { drawInvited, drawOrder } from "../loadtest/lib/draw.js";
import { DEFAULTS, knobsFrom, runAsync } from "../loadtest/lib/journey.js";
import { presalePlan, presaleVerdict, send, windowAdmit } from "../loadtest/lib/presale.js";
import { drawEmail, drawNews, drawPlan, drawTotals, drawnFan, drawnWindow, promoterDraw, registrant, verificationMails, wrongCode } from "../loadtest/lib/presale-draw.js";

const sha256Hex = (text) => createHash("sha256").update(text, "utf8").digest("hex");
const plan = presalePlan(knobsFrom({ ...DEFAULTS, fans: 200, registered: 40, invites: 10 }));
const draw = plan.draw;
const cfg = { baseUrl: "http://127.0.0.1:8871", adminToken: "t" };
const answer = (status, body) => ({ status, body: JSON.stringify(body), headers: {} });
const refusal = (status, code) => answer(status, { error: { code, message: code } });

/** A client whose requests `handle` answers, recording each; its clock starts at `start` and moves with its pauses. */
function scripted(handle, start = 0) {
	const sent = [];
	let now = start;
	const client = {
		request: async (e) => {
			sent.push(e);
			return handle(e, sent);
		},
		batch: async (list) => Promise.all(list.map((e) => handle(e, sent))),
		sleep: async (ms) => {
			now += ms;
		},
		now: () => now,
	};
	return { sent, client };
}

const t0 = Date.parse("2026-12-07T10:00:00Z");
const window = drawnWindow(draw, t0);
const setup = { dropId: "d_test123456", capacity: plan.windowCapacity + draw.capacity + 100, windowOpens: t0 + 20_000, windowCloses: t0 + 200_000, codes: [], sharedCode: "S", uniqueGroup: "g1", sharedGroup: "g2", plan, draw, drawnWindow: window, localCron: true };
const mail = (orderId, subject, body) => ({ id: 1, orderId, to: "x", subject, body, createdAt: "2026-12-07T10:00:00.000Z" });
const REG = "r_AbCdEfGh12345-_x";
const CODE = "7K2M9-QX4TR-0B8HN-ZW3VD";

test("the plan: none without registrations; the registration open past the code window; the window sells fewer than it invites", () => {
	assert.equal(presalePlan(knobsFrom({ ...DEFAULTS, fans: 200, registered: 0 })).draw, null);
	assert.ok(draw.registrationSeconds >= plan.leadSeconds + plan.windowSeconds, "an invited fan's code must not meet the code window open");
	assert.ok(draw.capacity < draw.invites);
	assert.equal(drawPlan({ registered: 30, invites: 100, registrationSeconds: 0 }, 10).invites, 30, "never more invites than registrations");
	assert.deepEqual(drawPlan({ registered: 20000, invites: 5000, registrationSeconds: 0 }, 200).registrationSeconds, 667, "one second per 30 registrations");
	assert.ok(Date.parse(window.registration.closesAt) < Date.parse(window.opensAt));
	assert.equal(window.registration.invites, draw.invites);
	assert.equal(window.access, "registered");
});

test("mail is read in every language: the verification code from its subject, the draw's news by the registration id it carries", () => {
	const subjects = ["Your code for Verified fans: 01234567", "Dein Code für Verified fans: 01234567", "Votre code pour Verified fans : 01234567", "Tu código para Verified fans: 01234567", "Verified fansの確認コード:01234567"];
	for (const subject of subjects) assert.equal(verificationMails([mail(REG, subject, "Your code is 01234567.")]).length, 1, subject);
	const invited = mail(REG, "Du bist zu Verified fans eingeladen", `Deine Registrierung: ${REG}.\n\nDein persönlicher Code: ${CODE}. Tritt damit bei.`);
	const notDrawn = mail(REG, "Verified fansの抽選", `登録:${REG}。`);
	assert.deepEqual(drawNews([invited]), { registrationId: REG, code: CODE });
	assert.deepEqual(drawNews([notDrawn]), { registrationId: REG, code: null });
	assert.equal(drawNews([mail(REG, subjects[0], "Your code is 01234567.")]), null, "the verification mail is not the draw's");
	assert.equal(verificationMails([invited]).length, 0);
	assert.equal(wrongCode("99999999"), "00000000");
});

/** An engine's registration side: a code per address, mailed once, verified by it alone. */
function registrationEngine() {
	const codes = {};
	return scripted((e) => {
		if (e.url.endsWith("/registrations")) {
			const { email } = JSON.parse(e.body);
			codes[email] ??= String(10000000 + Object.keys(codes).length);
			return answer(202, { status: "verification_sent" });
		}
		if (e.url.includes("/dev/mail")) {
			const to = decodeURIComponent(/to=([^&]*)/.exec(e.url)[1]);
			return answer(200, { mail: [mail("r", `Your code for Verified fans: ${codes[to]}`, "Code.")] });
		}
		const { email, code } = JSON.parse(e.body);
		return code === codes[email] ? answer(200, { registrationId: REG, status: "verified" }) : refusal(403, "verification_invalid");
	});
}

test("a fan registers (every tenth twice), reads its code by address, verifies (every tenth a wrong code first)", async () => {
	for (const [index, posts, wrong] of [
		[0, 1, 0],
		[1, 2, 0],
		[2, 1, 1],
	]) {
		const { sent, client } = registrationEngine();
		const r = await runAsync(registrant(client, cfg, setup, index, send), client);
		assert.deepEqual([r.verified, r.registrationId, r.mails, r.earlyMails, r.wrongAccepted], [true, REG, 1, 0, 0], `fan ${index}`);
		assert.equal(sent.filter((e) => e.url.endsWith("/registrations")).length, posts);
		assert.equal(r.refusals.verification_invalid ?? 0, wrong);
		const read = sent.find((e) => e.url.includes("/dev/mail"));
		assert.match(read.url, new RegExp(`to=${encodeURIComponent(drawEmail(setup, index)).replace(/\./g, "\\.")}`));
		const body = JSON.parse(sent.find((e) => e.url.endsWith("/registrations")).body);
		assert.deepEqual([body.window, body.locale], ["drawn", ["en", "de", "fr", "es", "ja"][index % 5]]);
	}
});

test("a mail read the transport dropped is read again (a long run's local proxy), by a registrant and by a drawn fan alike", async () => {
	const dropping = (engine, start) => {
		let reads = 0;
		return scripted(async (e, log) => {
			if (e.url.includes("/dev/mail") && ++reads === 1) return { status: 0, body: null, headers: {} };
			return engine.client.request(e, log);
		}, start);
	};
	const reg = dropping(registrationEngine());
	const r = await runAsync(registrant(reg.client, cfg, setup, 0, send), reg.client);
	assert.deepEqual([r.verified, r.retries], [true, 1]);
	assert.equal(reg.sent.filter((e) => e.url.includes("/dev/mail")).length, 2, "one read dropped, the same read again");
	const fan = dropping(drawnEngine(mail(REG, "Invited", `Your registration: ${REG}.\n\nYour personal code: ${CODE}.`), () => answer(201, { queueToken: "q", window: "drawn" })), Date.parse(window.opensAt) + 1000);
	const f = await runAsync(drawnFan(fan.client, cfg, setup, 0, send, windowAdmit(fan.client, cfg, setup)), fan.client);
	assert.deepEqual([f.told, f.invited, f.outcome, f.retries], [true, true, "bought", 1]);
	assert.equal(fan.sent.filter((e) => e.url.includes("/dev/mail")).length, 2);
});

test("a second code mail within the minute is counted against the rule; one after it is a renewal, and the newest code is used", async () => {
	const twoMails = (apartMs) => {
		let verifiedWith = null;
		const newest = Date.parse("2026-12-07T10:05:00Z");
		const { client } = scripted((e) => {
			if (e.url.endsWith("/registrations")) return answer(202, { status: "verification_sent" });
			if (e.url.includes("/dev/mail")) {
				const at = (ms) => new Date(ms).toISOString();
				return answer(200, { mail: [{ ...mail("r", "Your code for Verified fans: 22222222", "Code."), createdAt: at(newest) }, { ...mail("r", "Your code for Verified fans: 11111111", "Code."), createdAt: at(newest - apartMs) }] });
			}
			verifiedWith = JSON.parse(e.body).code;
			return answer(200, { registrationId: REG, status: "verified" });
		});
		return { client, used: () => verifiedWith };
	};
	const late = twoMails(70_000);
	const renewed = await runAsync(registrant(late.client, cfg, setup, 1, send), late.client);
	assert.deepEqual([renewed.mails, renewed.earlyMails, late.used()], [2, 0, "22222222"]);
	const soon = twoMails(5_000);
	const early = await runAsync(registrant(soon.client, cfg, setup, 1, send), soon.client);
	assert.deepEqual([early.mails, early.earlyMails], [2, 1]);
	assert.equal(drawTotals([renewed, early], []).earlyMails, 1);
	assert.equal(drawTotals([renewed, early], []).renewedMails, 1);
});

test("the promoter draws after the close (again while the engine says registration is open) and runs the local cron until every registration had its turn", async () => {
	let draws = 0;
	const left = [500, 200, 0];
	const { sent, client } = scripted((e) => {
		if (e.url.endsWith("/draw")) return ++draws === 1 ? refusal(409, "registration_open") : answer(201, { window: "drawn", made: true, registered: 1200, drawn: 10, groupId: "cg" });
		return answer(200, { drawn: 0, told: left.shift() });
	}, t0);
	const d = await runAsync(promoterDraw(client, cfg, setup), client);
	assert.ok(client.now() > Date.parse(window.registration.closesAt), "not before the close");
	assert.deepEqual([d.made.drawn, d.cronRuns, d.told, draws], [10, 3, 700, 2], "1,200 told: 500 by the draw, 700 by the runs, the last finding none");
	assert.deepEqual(sent.filter((e) => e.url.endsWith("/api/admin/dev/draw-cron")).map((e) => e.method), ["POST", "POST", "POST"]);
	const remote = scripted((e) => (e.url.endsWith("/draw") ? answer(200, { made: false, registered: 1200, drawn: 10 }) : refusal(404, "not_found")), t0);
	const far = await runAsync(promoterDraw(remote.client, cfg, { ...setup, localCron: false }), remote.client);
	assert.equal(far.cronRuns, 0, "a deployment's own cron tells");
	const stuck = scripted((e) => (e.url.endsWith("/draw") ? answer(201, { made: true, registered: 1200, drawn: 10 }) : answer(200, { drawn: 0, told: 500 })), t0);
	await assert.rejects(runAsync(promoterDraw(stuck.client, cfg, setup), stuck.client), /still tells after 13 runs/);
});

/** An engine after the draw: `news` per fan's address, joins answered by `join(body)`, admitted and sold at once. */
function drawnEngine(news, join) {
	return scripted((e) => {
		if (e.url.includes("/dev/mail")) return answer(200, { mail: news === null ? [] : [news] });
		if (e.url.endsWith("/join")) return join(JSON.parse(e.body));
		if (e.url.endsWith("/status")) return answer(200, { status: "admitted", accessToken: "a" });
		if (e.url.endsWith("/holds")) return answer(201, { holdId: "h1" });
		return answer(201, { orderId: "o1" });
	}, Date.parse(window.opensAt) + 1000);
}

test("a fan drawn joins with its mailed code and buys; the friend it hands the code to is refused code_used", async () => {
	const used = new Set();
	const { sent, client } = drawnEngine(mail(REG, "Invited", `Your registration: ${REG}.\n\nYour personal code: ${CODE}.`), (b) => {
		if (b.code !== CODE) return refusal(403, "code_invalid");
		if (used.has(b.code)) return refusal(409, "code_used");
		used.add(b.code);
		return answer(201, { queueToken: "q", window: "drawn" });
	});
	const r = await runAsync(drawnFan(client, cfg, setup, 0, send, windowAdmit(client, cfg, setup)), client);
	assert.deepEqual([r.told, r.invited, r.accepted, r.friendAccepts, r.refusals.code_used, r.outcome, r.tickets], [true, true, 1, 0, 1, "bought", 1]);
	assert.deepEqual(sent.filter((e) => e.url.endsWith("/join")).map((e) => JSON.parse(e.body).code), [CODE, CODE]);
});

test("a fan not drawn tries the open window without a code or with a guessed one, and is refused; most do not try", async () => {
	const notDrawn = mail(REG, "The draw", `Your registration: ${REG}; anyone can check the draw.`);
	const refuse = (b) => (b.code === undefined ? refusal(403, "code_required") : refusal(403, "code_invalid"));
	for (const [index, expected] of [
		[4, "code_invalid"],
		[8, "code_required"],
		[3, null],
	]) {
		const { sent, client } = drawnEngine(notDrawn, refuse);
		const r = await runAsync(drawnFan(client, cfg, setup, index, send, windowAdmit(client, cfg, setup)), client);
		assert.deepEqual([r.told, r.invited, r.tried, r.strangerAccepts], [true, false, expected === null ? 0 : 1, 0], `fan ${index}`);
		if (expected !== null) assert.equal(r.refusals[expected], 1, `fan ${index}`);
		else assert.equal(sent.filter((e) => e.url.endsWith("/join")).length, 0);
	}
});

test("a join the general sale took (the window closed first) is no code rule broken: an invited fan's counts as late, a stranger's and a friend's as not let in", async () => {
	const invitedMail = mail(REG, "Invited", `Your registration: ${REG}.\n\nYour personal code: ${CODE}.`);
	const general = () => answer(201, { queueToken: "q" });
	const late = drawnEngine(invitedMail, general);
	const r = await runAsync(drawnFan(late.client, cfg, setup, 0, send, windowAdmit(late.client, cfg, setup)), late.client);
	assert.deepEqual([r.invited, r.accepted, r.friendAccepts, r.outcome, r.tickets], [true, 0, 0, "after_close", 0]);
	assert.equal(late.sent.filter((e) => e.url.endsWith("/join")).length, 1, "no friend is sent once the window is gone");
	assert.equal(drawTotals([], [r]).afterClose, 1);
	// The window's line took the fan; the friend's join came as the window closed and the general sale took it.
	let joins = 0;
	const racing = drawnEngine(invitedMail, () => (++joins === 1 ? answer(201, { queueToken: "q", window: "drawn" }) : general()));
	const raced = await runAsync(drawnFan(racing.client, cfg, setup, 0, send, windowAdmit(racing.client, cfg, setup)), racing.client);
	assert.deepEqual([raced.accepted, raced.friendAccepts], [1, 0]);
	const stranger = drawnEngine(mail(REG, "The draw", `Your registration: ${REG}.`), general);
	const s = await runAsync(drawnFan(stranger.client, cfg, setup, 4, send, windowAdmit(stranger.client, cfg, setup)), stranger.client);
	assert.deepEqual([s.tried, s.strangerAccepts], [1, 0]);
	// A stranger whose mail came after the window closed does not try it.
	const after = scripted(stranger.client.request, Date.parse(window.closesAt) + 1000);
	const gone = await runAsync(drawnFan(after.client, cfg, setup, 4, send, windowAdmit(after.client, cfg, setup)), after.client);
	assert.deepEqual([gone.told, gone.tried, after.sent.filter((e) => e.url.endsWith("/join")).length], [true, 0, 0]);
});

test("a fan whose draw mail never comes is counted untold, not left waiting", async () => {
	const { client } = drawnEngine(null, () => answer(201, { queueToken: "q", window: "drawn" }));
	const r = await runAsync(drawnFan(client, cfg, setup, 1, send, windowAdmit(client, cfg, setup)), client);
	assert.deepEqual([r.told, r.invited], [false, false]);
	assert.ok(client.now() >= Date.parse(window.closesAt) - 30_000);
});

// A clean run of the whole scenario: 40 registered, 10 drawn by the real rule, each mailed, let in once, 8 sold.
const seed = "0123456789abcdef0123456789abcdef";
const ids = Array.from({ length: draw.registered }, (_, i) => `r_${String(i).padStart(16, "0")}`);
const invited = drawInvited(seed, ids, draw.invites);
function publicDraw(over = {}) {
	return { dropId: setup.dropId, window: "drawn", seedCommitment: sha256Hex(seed), seed, registered: ids.length, drawn: invited.length, invites: draw.invites, registrations: drawOrder(ids), invited, ...over };
}
const cleanDrawTotals = () =>
	drawTotals(
		ids.map((id, i) => ({ index: i, registrationId: id, verified: true, mails: 1, earlyMails: 0, wrongAccepted: 0, refusals: {}, retries: 0 })),
		ids.map((id) => {
			const inv = invited.includes(id);
			return { registrationId: id, told: true, invited: inv, accepted: inv ? 1 : 0, friendAccepts: 0, strangerAccepts: 0, tried: 0, outcome: inv ? "bought" : "not_invited", tickets: inv ? 1 : 0, refusals: {}, retries: 0 };
		}),
	);
function cleanTotals(drawOver = {}) {
	const d = cleanDrawTotals();
	d.bought = draw.capacity;
	return { uniqueAccepts: plan.unique, sharedAccepts: plan.sharedCap, guessAccepts: 0, notAdmitted: 0, bought: 3, draw: { ...d, ...drawOver } };
}
function engineAfter({ club = { id: "club", sold: 3, held: 0, oversold: 0, ok: true }, drawnPart = { id: "drawn", sold: draw.capacity, held: 0, oversold: 0, ok: true }, totals = { held: 0, sold: 3 + draw.capacity }, published = publicDraw() } = {}) {
	const audit = { ok: true, oversold: 0, lost: 0, phantom: 0, balanced: true, outboxPending: 0, recorded: 3 + draw.capacity, recordedTickets: 3 + draw.capacity, totals: { inFlight: 0, orders: totals.sold, ...totals }, windows: [club, drawnPart].filter((w) => w !== null) };
	return scripted((e) => {
		if (e.url.includes("/audit")) return answer(200, audit);
		if (e.url.includes("/draw?window=drawn")) return answer(200, published);
		return answer(200, { groups: [{ id: "g1", used: plan.unique }, { id: "g2", used: plan.sharedCap }] });
	});
}
const made = { window: "drawn", made: true, registered: ids.length, drawn: invited.length, groupId: "cg" };
const verdictOf = async (engine, totals, side = { made, sha256Hex }) => {
	const { client } = engineAfter(engine);
	return (await runAsync(presaleVerdict(client, cfg, setup, totals, 0, side), client)).failures;
};

test("the verdict passes a clean run with its draw, and the engine's side alone (k6's teardown)", async () => {
	assert.deepEqual(await verdictOf({}, cleanTotals()), []);
	assert.deepEqual(await verdictOf({}, null, { made: null, sha256Hex }), []);
});

test("the verdict fails each way the registered window breaks", async () => {
	const otherInvited = drawOrder([...invited.slice(1), ids.find((id) => !invited.includes(id))]);
	const strangerMailed = [...invited.slice(1), ids.find((id) => !invited.includes(id))];
	const cases = [
		[{ published: publicDraw({ seed: "f".repeat(32) }) }, {}, /sha256\(seed\) is not the commitment/],
		[{ published: publicDraw({ invited: otherInvited }) }, {}, /the draw does not verify: the published invited list/],
		[{ published: publicDraw({ seed: null }) }, {}, /no seed/],
		[{ published: publicDraw({ drawn: invited.length - 1 }) }, {}, /invited 9, the window asked for 10/],
		[{}, { verified: ids.length - 1 }, /39 of 40 fans verified/],
		[{}, { wrongAccepted: 1 }, /wrong verification code/],
		[{}, { earlyMails: 1 }, /within the minute/],
		[{}, { untold: 1 }, /never got the draw's mail/],
		[{}, { invitedIds: invited.slice(1), invitedMails: invited.length - 1, accepted: invited.length - 1 }, /invited fan\(s\) got no code by mail/],
		[{}, { invitedIds: strangerMailed }, /mailed a code the draw did not invite/],
		[{}, { accepted: invited.length - 1 }, /invited codes let in 9 fans, 10 were mailed one/],
		[{}, { friendAccepts: 1 }, /let in a second fan/],
		[{}, { strangerAccepts: 1 }, /not drawn let into the window/],
		[{}, { notAdmitted: 1 }, /never admitted/],
		[{}, { accepted: invited.length - 1, afterClose: 1 }, /1 invited fan\(s\) joined only after the window closed/],
		[{ drawnPart: { id: "drawn", sold: draw.capacity + 1, held: 0, oversold: 1, ok: false } }, { bought: draw.capacity + 1 }, /window drawn sold past its capacity/],
		[{}, { bought: draw.capacity - 1 }, /window drawn sold 8, its fans were sold 7/],
		[{ drawnPart: null }, {}, /no part for the window drawn/],
		[{ totals: { held: 1, sold: setup.capacity } }, {}, /the drop sold past its capacity/],
	];
	for (const [engine, drawOver, message] of cases) {
		const failures = await verdictOf(engine, cleanTotals(drawOver));
		assert.ok(failures.some((f) => message.test(f)), `${message}: ${JSON.stringify(failures)}`);
	}
	const differs = await verdictOf({}, cleanTotals(), { made: { ...made, drawn: 9 }, sha256Hex });
	assert.ok(differs.some((f) => /promoter's draw answer/.test(f)), JSON.stringify(differs));
});

test("the audit read is asked again when the transport dropped it (a long run's local proxy), not taken as the engine's answer", async () => {
	const { client: clean } = engineAfter();
	let audits = 0;
	const { client, sent } = scripted(async (e, log) => {
		if (e.url.includes("/audit") && ++audits === 2) return { status: 0, body: null, headers: {} };
		return clean.request(e, log);
	});
	assert.deepEqual((await runAsync(presaleVerdict(client, cfg, setup, cleanTotals(), 0, { made, sha256Hex }), client)).failures, []);
	assert.equal(sent.filter((e) => e.url.includes("/audit")).length, 3, "one read, one dropped, the same read again");
});
