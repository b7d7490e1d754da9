// The registered window of the presale load scenario (lib/presale.js), shared by
// loadtest/presale.js (k6) and the Node runner. Plain JavaScript k6 v0.48 parses.
//
// Before the code window's fans are let in, `registered` fans register for the
// `drawn` window (email and language) and verify the code mailed to them, read
// from the dev mailbox by address (GET /api/admin/dev/mail?to=, the engine's
// stand-in for an inbox where RECEIPT_SENDER is "dev"); every tenth registers
// twice (the second answer the same, no second mail) and another tenth sends a
// wrong code first (refused 403 verification_invalid). At the registration's
// close the promoter draws (POST .../windows/drawn/draw) and, on an engine on
// this machine (wrangler dev fires no cron, and its scheduled trigger reaches the
// assets router, not the Worker), runs the draw's minute cron through the dev-only
// POST /api/admin/dev/draw-cron until it tells no one more.
// Then each registered fan reads its draw mail: an invited fan joins the window
// with its code (every tenth hands it to a friend, who must be refused 409
// code_used) and buys one ticket; every fourth fan not drawn tries the open
// window without a code (403 code_required) or with a guessed one (403
// code_invalid). The verdict re-derives the draw from its public answer
// (lib/draw.js, as `npm run verify-fairness -- --draw`) and holds the fans'
// side against it.
import { checkDraw } from "./draw.js";
import { adminHeaders, errorCode, json, newFanSecret, pause, request } from "./journey.js";

/** The languages a fan registers in, in turn: every catalogue the emails are written in. */
export const DRAW_LOCALES = ["en", "de", "fr", "es", "ja"];
/** A registration id in a draw mail (randomId("r_")): the verification mail carries none. */
const REGISTRATION_ID = /(?:^|[^A-Za-z0-9_-])(r_[A-Za-z0-9_-]{16})(?![A-Za-z0-9_-])/;
/** An access code as the engine issues it: 20 symbols of Crockford's base32 in fives. */
const ACCESS_CODE = /[0-9A-HJKMNP-TV-Z]{5}(?:-[0-9A-HJKMNP-TV-Z]{5}){3}/;
/** A verification code: eight digits, in the subject in every language. */
const VERIFICATION_CODE = /(?:^|\D)(\d{8})(?!\d)/;
/**
 * The engine mails an address a new code at most once a minute (RESEND_AFTER_MS in
 * src/waiting-room/registrations.ts): two code mails closer than this, less the few
 * seconds a send may take under load, are a second code the rule should not have sent.
 */
export const RESEND_WITHIN_MS = 50000;
/** Registrations the engine tells per cron run and per draw (src/after-sale/draw-mail.ts TELL_PER_RUN). */
export const TELL_PER_RUN = 500;

/**
 * The registered part of the plan, beside the code window's: how many register, how many
 * the draw invites, and the times (seconds after the drop is made) its phases take. The
 * registration stays open at least until the code window closes: a join that brings a code
 * goes to the window open at the time, so an invited fan joins only after the code window.
 */
export function drawPlan(knobs, codeWindowEndsSeconds) {
	const registered = Math.max(0, Math.floor(knobs.registered));
	if (registered === 0) return null;
	const invites = Math.max(1, Math.min(Math.floor(knobs.invites), registered));
	const registrationSeconds = Math.max(knobs.registrationSeconds > 0 ? knobs.registrationSeconds : Math.ceil(registered / 30), codeWindowEndsSeconds + 5);
	const runs = Math.ceil(registered / TELL_PER_RUN);
	return {
		registered: registered,
		invites: invites,
		/** The drawn window sells fewer than it invites, so it sells out. */
		capacity: Math.max(1, Math.round(invites * 0.8)),
		registrationSeconds: registrationSeconds,
		/** From the registration's close to the window's opening: the draw and its first emails. */
		drawSeconds: 30,
		/**
		 * The window stays open while the cron tells the rest (a run every minute on a deployment), and then long
		 * enough for the last told to join, wait their turn and buy (a tenth of a second per invite).
		 */
		windowSeconds: Math.max(240, 60 + runs * 10 + Math.ceil(invites / 10)),
		twiceEvery: 10,
		wrongFirstEvery: 10,
		shareEvery: 10,
		tryEvery: 4,
	};
}

/** The window as the drop's body takes it, `t0` the drop's making (ms). */
export function drawnWindow(draw, t0) {
	const closes = t0 + draw.registrationSeconds * 1000;
	const opens = closes + draw.drawSeconds * 1000;
	return {
		id: "drawn",
		name: "Verified fans",
		opensAt: new Date(opens).toISOString(),
		closesAt: new Date(opens + draw.windowSeconds * 1000).toISOString(),
		access: "registered",
		maxPerFan: 1,
		capacity: draw.capacity,
		registration: { opensAt: new Date(t0).toISOString(), closesAt: new Date(closes).toISOString(), invites: draw.invites },
	};
}

/** Fan `index`'s address: one per fan and drop. */
export function drawEmail(setup, index) {
	return "fan" + index + "." + setup.dropId.slice(-8).toLowerCase().replace(/[^a-z0-9]/g, "x") + "@load.test";
}

/** An address's mail, newest first; read again as every request here is when the answer is the transport's (`send`). */
function* mailTo(cfg, to, send, result) {
	const url = cfg.baseUrl + "/api/admin/dev/mail?to=" + encodeURIComponent(to) + "&limit=10";
	const res = yield* send(request("GET", url, { headers: adminHeaders(cfg), step: "mail" }), result);
	if (res.status !== 200) throw new Error("reading the dev mailbox failed: " + res.status + " " + String(res.body).slice(0, 200) + " (the engine needs RECEIPT_SENDER = \"dev\")");
	return json(res).mail;
}

/** The verification mails among an address's mail (the ones that carry no registration id), newest first. */
export function verificationMails(mail) {
	return mail.filter(function (m) {
		return !REGISTRATION_ID.test(m.body) && VERIFICATION_CODE.test(m.subject);
	});
}

/** The draw's mail among an address's mail: { registrationId, code } (code null: not drawn), or null before it came. */
export function drawNews(mail) {
	for (const m of mail) {
		const id = REGISTRATION_ID.exec(m.body);
		if (id === null) continue;
		const code = ACCESS_CODE.exec(m.body);
		return { registrationId: id[1], code: code === null ? null : code[0] };
	}
	return null;
}

function post(cfg, path, body, step) {
	return request("POST", cfg.baseUrl + path, { headers: { "content-type": "application/json" }, json: body, step: step });
}

/** A wrong code of the right form: the right one's neighbour. */
export function wrongCode(code) {
	return String((Number(code) + 1) % 100000000).padStart(8, "0");
}

/**
 * One fan's registration: registers (twice for every `twiceEvery`th), reads the code from
 * its mail, verifies (a wrong code first for every `wrongFirstEvery`th). Answers
 * { index, email, registrationId, verified, refusals, mails } where `mails` counts the
 * verification mails the address got and `earlyMails` those sent within the minute of the one
 * before (a fan's second registration waits for a socket behind every other fan's first, so
 * under load it may come after the minute, when a new code is the rule).
 */
export function* registrant(client, cfg, setup, index, send) {
	const draw = setup.draw;
	const email = drawEmail(setup, index);
	const result = { index: index, email: email, registrationId: null, verified: false, refusals: {}, mails: 0, earlyMails: 0, wrongAccepted: 0, retries: 0 };
	const refused = function (res) {
		const code = errorCode(res) || String(res.status);
		result.refusals[code] = (result.refusals[code] || 0) + 1;
		return code;
	};
	const body = { window: "drawn", email: email, locale: DRAW_LOCALES[index % DRAW_LOCALES.length] };
	const twice = index % draw.twiceEvery === 1;
	const first = yield* send(post(cfg, "/api/drops/" + setup.dropId + "/registrations", body, "register"), result);
	if (first.status !== 202) {
		refused(first);
		if (client.check) client.check("a registration is taken", false, { status: first.status, code: errorCode(first) });
		return result;
	}
	if (twice) {
		const again = yield* send(post(cfg, "/api/drops/" + setup.dropId + "/registrations", body, "register"), result);
		if (client.check) client.check("registering twice answers the same", again.status === 202 && json(again).status === "verification_sent", { status: again.status, code: errorCode(again) });
	}
	const mails = verificationMails(yield* mailTo(cfg, email, send, result));
	result.mails = mails.length;
	for (let i = 1; i < mails.length; i++) if (Date.parse(mails[i - 1].createdAt) - Date.parse(mails[i].createdAt) < RESEND_WITHIN_MS) result.earlyMails++;
	if (client.check) client.check("no second code mail within the minute", mails.length >= 1 && result.earlyMails === 0, { email: email, mails: mails.length });
	if (mails.length === 0) return result;
	// Newest first: a renewed code is the one that works.
	const code = VERIFICATION_CODE.exec(mails[0].subject)[1];
	const verifyPath = "/api/drops/" + setup.dropId + "/registrations/verify";
	if (index % draw.wrongFirstEvery === 2) {
		const wrong = yield* send(post(cfg, verifyPath, { window: "drawn", email: email, code: wrongCode(code) }, "verify"), result);
		if (wrong.status === 200) result.wrongAccepted++;
		else refused(wrong);
		if (client.check) client.check("a wrong verification code is refused", wrong.status === 403 && errorCode(wrong) === "verification_invalid", { status: wrong.status, code: errorCode(wrong) });
	}
	const ok = yield* send(post(cfg, verifyPath, { window: "drawn", email: email, code: code }, "verify"), result);
	if (ok.status !== 200) {
		refused(ok);
		if (client.check) client.check("the mailed code verifies the address", false, { status: ok.status, code: errorCode(ok) });
		return result;
	}
	result.verified = true;
	result.registrationId = json(ok).registrationId;
	return result;
}

/**
 * The promoter's side at the registration's close: the draw, then (on an engine on this
 * machine, `setup.localCron`) the minute's cron until every registration has had its turn
 * to be told. Answers the draw as made (DrawMade), and the cron runs made.
 */
export function* promoterDraw(client, cfg, setup) {
	const closes = Date.parse(setup.drawnWindow.registration.closesAt);
	const wait = closes + 1000 - client.now();
	if (wait > 0) yield pause(wait);
	let made = null;
	for (let attempt = 0; made === null; attempt++) {
		const res = yield request("POST", cfg.baseUrl + "/api/admin/drops/" + setup.dropId + "/windows/drawn/draw", { headers: adminHeaders(cfg), step: "admin" });
		if (res.status === 200 || res.status === 201) made = json(res);
		else if (attempt >= 10) throw new Error("the draw failed: " + res.status + " " + String(res.body).slice(0, 300));
		else yield pause(1000);
	}
	let runs = 0;
	let told = 0;
	if (setup.localCron) {
		// The draw told the first TELL_PER_RUN; each run tells as many more, until one tells none. Bounded:
		// a run that keeps telling past every registration (and a few other drops') is a broken engine.
		const bound = Math.ceil(made.registered / TELL_PER_RUN) + 10;
		for (;;) {
			const res = yield request("POST", cfg.baseUrl + "/api/admin/dev/draw-cron", { headers: adminHeaders(cfg), step: "admin" });
			if (res.status !== 200) throw new Error("the dev draw cron answered " + res.status + " (it needs RECEIPT_SENDER = \"dev\"): " + String(res.body).slice(0, 200));
			runs++;
			const ran = json(res);
			told += ran.told;
			if (ran.told === 0) break;
			if (runs >= bound) throw new Error("the dev draw cron still tells after " + runs + " runs");
		}
	}
	return { made: made, cronRuns: runs, told: told };
}

function guessCode() {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	let s = "";
	for (let i = 0; i < 20; i++) s += alphabet[Math.floor(Math.random() * 32)] + (i % 5 === 4 && i < 19 ? "-" : "");
	return s;
}

/**
 * One registered fan after the draw: waits for its draw mail (bounded by the window's
 * close), then as above. `admit(queueToken, result)` is the code window's own wait in line,
 * hold and purchase (lib/presale.js). Answers { index, registrationId, told, invited,
 * accepted, friendAccepts, strangerAccepts, outcome, tickets, refusals }.
 */
export function* drawnFan(client, cfg, setup, index, send, admit) {
	const draw = setup.draw;
	const email = drawEmail(setup, index);
	const result = { index: index, role: "drawn", registrationId: null, told: false, invited: false, accepted: 0, friendAccepts: 0, strangerAccepts: 0, tried: 0, outcome: "not_invited", tickets: 0, refusals: {}, retries: 0 };
	const refused = function (res) {
		const code = errorCode(res) || String(res.status);
		result.refusals[code] = (result.refusals[code] || 0) + 1;
		return code;
	};
	const opens = Date.parse(setup.drawnWindow.opensAt);
	const closes = Date.parse(setup.drawnWindow.closesAt);
	let news = null;
	for (let wait = 500; news === null; wait = Math.min(wait * 2, 5000)) {
		news = drawNews(yield* mailTo(cfg, email, send, result));
		if (news !== null) break;
		if (client.now() > closes - 30000) return result;
		yield pause(wait + Math.random() * 500);
	}
	result.told = true;
	result.registrationId = news.registrationId;
	const join = function (fanId, code) {
		const body = { fanId: fanId, fanSecret: newFanSecret() };
		if (code !== null) body.code = code;
		return post(cfg, "/api/drops/" + setup.dropId + "/join", body, "join");
	};
	const fanId = "drawn-" + index + "-" + setup.dropId.slice(-6);
	if (news.code === null) {
		if (index % draw.tryEvery !== 0) return result;
		// Without a code, only an open window refuses: before it or after it, a join goes to the general sale's line.
		if (client.now() < opens) yield pause(opens - client.now() + 500);
		if (client.now() > closes - 5000) return result;
		result.tried = 1;
		const guessing = (index / draw.tryEvery) % 2 === 1;
		const res = yield* send(join(fanId, guessing ? guessCode() : null), result);
		if (inWindow(res)) result.strangerAccepts++;
		const why = refused(res);
		if (client.check) client.check("a fan not drawn is refused the window", res.status === 403 && why === (guessing ? "code_invalid" : "code_required"), { status: res.status, code: why, guessing: guessing });
		return result;
	}
	result.invited = true;
	const res = yield* send(join(fanId, news.code), result);
	if (res.status !== 200 && res.status !== 201) {
		result.outcome = refused(res);
		if (client.check) client.check("an invited fan's code lets them in", false, { status: res.status, code: result.outcome });
		return result;
	}
	if (!inWindow(res)) {
		// Taken by the general sale: the window had closed when this fan came (the run fell behind its plan).
		result.outcome = "after_close";
		return result;
	}
	result.accepted = 1;
	if (index % draw.shareEvery === 0) {
		const friend = yield* send(join("friend-" + fanId, news.code), result);
		if (inWindow(friend)) result.friendAccepts++;
		const why = refused(friend);
		if (client.check) client.check("an invited code handed on is refused", friend.status === 409 && why === "code_used", { status: friend.status, code: why });
	}
	yield* admit(json(res).queueToken, result, closes, opens);
	return result;
}

/**
 * Whether a join was placed in the drawn window's line. A code names the window open at the join's time, so a
 * join the window closed before (a slow client) is the general sale's, a place any fan may take: only a place in
 * the window is one a code rule could have been broken for.
 */
function inWindow(res) {
	return (res.status === 200 || res.status === 201) && json(res).window === "drawn";
}

/** Totals over the registrations and the drawn fans. */
export function drawTotals(registrations, drawnFans) {
	const t = { registered: 0, verified: 0, earlyMails: 0, renewedMails: 0, wrongAccepted: 0, told: 0, invitedMails: 0, invitedIds: [], accepted: 0, friendAccepts: 0, strangerTries: 0, strangerAccepts: 0, bought: 0, windowSoldOut: 0, notAdmitted: 0, afterClose: 0, untold: 0, retries: 0, refusals: {} };
	const add = function (r) {
		t.retries += r.retries;
		for (const k of Object.keys(r.refusals)) t.refusals[k] = (t.refusals[k] || 0) + r.refusals[k];
	};
	for (const r of registrations) {
		t.registered++;
		if (r.verified) t.verified++;
		t.earlyMails += r.earlyMails;
		if (r.mails > 1) t.renewedMails += r.mails - 1 - r.earlyMails;
		t.wrongAccepted += r.wrongAccepted;
		add(r);
	}
	for (const f of drawnFans) {
		if (f.told) t.told++;
		else t.untold++;
		if (f.invited) {
			t.invitedMails++;
			t.invitedIds.push(f.registrationId);
		}
		t.accepted += f.accepted;
		t.friendAccepts += f.friendAccepts;
		t.strangerTries += f.tried;
		t.strangerAccepts += f.strangerAccepts;
		t.bought += f.tickets;
		if (f.outcome === "window_sold_out") t.windowSoldOut++;
		if (f.outcome === "not_admitted") t.notAdmitted++;
		if (f.outcome === "after_close") t.afterClose++;
		add(f);
	}
	return t;
}

/**
 * The registered window's verdict: the public draw re-derived (lib/draw.js), exactly
 * `invites` drawn from every verified registration, and, with the fans' totals (null in
 * k6's teardown, whose thresholds hold them), every invited fan mailed a code that let them
 * in, no one else let in, no verification code accepted wrong, one mail per address.
 */
export function* drawVerdict(client, cfg, setup, made, totals, sha256Hex) {
	const draw = setup.draw;
	const failures = [];
	const res = yield request("GET", cfg.baseUrl + "/api/drops/" + setup.dropId + "/draw?window=drawn", { step: "admin" });
	if (res.status !== 200) return { failures: ["the public draw answered " + res.status], published: null };
	const published = json(res);
	if (published.seed === null) failures.push("the public draw has no seed: the draw was not made");
	else {
		const checked = checkDraw(published, sha256Hex);
		for (const f of checked.failures) failures.push("the draw does not verify: " + f);
	}
	if (published.drawn !== draw.invites) failures.push("the draw invited " + published.drawn + ", the window asked for " + draw.invites);
	if (made !== null && (made.drawn !== published.drawn || made.registered !== published.registered)) failures.push("the promoter's draw answer (" + made.registered + " registered, " + made.drawn + " drawn) is not the public one (" + published.registered + ", " + published.drawn + ")");
	if (totals !== null) {
		if (totals.verified !== draw.registered) failures.push(totals.verified + " of " + draw.registered + " fans verified their registration");
		if (published.registered !== totals.verified) failures.push("the draw drew from " + published.registered + " registrations, " + totals.verified + " fans verified");
		if (totals.wrongAccepted > 0) failures.push(totals.wrongAccepted + " wrong verification code(s) accepted");
		if (totals.earlyMails > 0) failures.push(totals.earlyMails + " verification mail(s) sent within the minute of the address's last");
		if (totals.untold > 0) failures.push(totals.untold + " registered fan(s) never got the draw's mail");
		const invited = {};
		for (const id of published.invited || []) invited[id] = true;
		const mailed = {};
		for (const id of totals.invitedIds) mailed[id] = true;
		const notMailed = (published.invited || []).filter(function (id) {
			return mailed[id] !== true;
		}).length;
		const wrongly = totals.invitedIds.filter(function (id) {
			return invited[id] !== true;
		}).length;
		if (totals.untold === 0 && notMailed > 0) failures.push(notMailed + " invited fan(s) got no code by mail");
		if (wrongly > 0) failures.push(wrongly + " fan(s) mailed a code the draw did not invite");
		if (totals.afterClose > 0) failures.push(totals.afterClose + " invited fan(s) joined only after the window closed (the run fell behind its plan: give the registration more time, --registration-seconds)");
		if (totals.accepted + totals.afterClose !== totals.invitedMails) failures.push("invited codes let in " + totals.accepted + " fans, " + totals.invitedMails + " were mailed one");
		if (totals.friendAccepts > 0) failures.push(totals.friendAccepts + " invited code(s) let in a second fan");
		if (totals.strangerAccepts > 0) failures.push(totals.strangerAccepts + " fan(s) not drawn let into the window");
		if (totals.notAdmitted > 0) failures.push(totals.notAdmitted + " invited fan(s) let in were never admitted");
	}
	return { failures: failures, published: published };
}
