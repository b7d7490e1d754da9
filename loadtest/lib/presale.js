// A code presale under load, shared by loadtest/presale.js (k6) and the Node
// runner (`npm run loadtest -- --scenario presale`). Plain JavaScript; the only
// import is the journey module beside it.
//
// One drop with a code window before its general sale: a group of unique codes
// and a shared code with a cap. Its fans, all at once: each unique code's owner;
// bots who reuse the first unique codes (racing their owners); more fans with the
// shared code than its cap; bots guessing codes of the right form. Every fan let
// in waits in the window's pre-queue, is admitted at its opening and tries to buy
// one ticket. The rules the run checks: each unique code let in exactly one fan
// (so its accepts are exactly the group's size), the shared code exactly its cap,
// no guessed code anyone, no window past its capacity, and the audit clean (its
// window part too). With `registered` above 0 a registered window follows the code
// window, with its registration, draw and emails (lib/presale-draw.js).
import { adminHeaders, auditFailures, createDrop, errorCode, json, newFanSecret, pause, request, waitForDrain } from "./journey.js";
import { drawPlan, drawVerdict, drawnWindow } from "./presale-draw.js";

/** Crockford's base32, the codes' alphabet: a guess has the right form and length, so only the engine's check refuses it. */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The run's shape from its fan count: the roles and the window's capacity (below what its fans would buy, so it sells out). */
export function presalePlan(knobs) {
	const fans = Math.max(40, knobs.fans);
	const unique = Math.round(fans * 0.4);
	const sharedCap = Math.round(fans * 0.2);
	const plan = {
		unique: unique,
		reusers: Math.round(fans * 0.1),
		sharedCap: sharedCap,
		sharedFans: Math.round(fans * 0.3),
		bots: Math.max(4, Math.round(fans * 0.05)),
		guessesPerBot: 5,
		windowCapacity: Math.round((unique + sharedCap) * 0.75),
		/** The window opens this long after the drop is made: every join lands in its pre-queue first. */
		leadSeconds: Math.max(20, knobs.leadSeconds),
		windowSeconds: 180,
		shards: knobs.shards,
		drainSeconds: knobs.drainSeconds,
	};
	plan.total = plan.unique + plan.reusers + plan.sharedFans + plan.bots;
	plan.draw = drawPlan(knobs, plan.leadSeconds + plan.windowSeconds);
	return plan;
}

/** What fan `index` is: a unique code's owner, a bot reusing one, a shared code's fan, or a guessing bot. */
export function presaleRole(plan, index) {
	if (index < plan.unique) return { role: "unique", code: index };
	let i = index - plan.unique;
	if (i < plan.reusers) return { role: "reuser", code: i };
	i -= plan.reusers;
	if (i < plan.sharedFans) return { role: "shared" };
	return { role: "guesser" };
}

function guessCode() {
	let s = "";
	for (let i = 0; i < 20; i++) s += CROCKFORD[Math.floor(Math.random() * 32)] + (i % 5 === 4 && i < 19 ? "-" : "");
	return s;
}

function* makeGroup(client, cfg, dropId, body) {
	const res = yield request("POST", cfg.baseUrl + "/api/admin/drops/" + dropId + "/code-groups", { headers: adminHeaders(cfg), json: body, step: "admin" });
	if (res.status !== 201) throw new Error("creating a code group failed: " + res.status + " " + String(res.body).slice(0, 300));
	return json(res);
}

/** The drop, its window opening `leadSeconds` from now, a group of unique codes and a shared code with its cap. */
export function* preparePresale(client, cfg, plan) {
	const now = client.now();
	const windowOpens = now + plan.leadSeconds * 1000;
	const windowCloses = windowOpens + plan.windowSeconds * 1000;
	const drawn = plan.draw === null ? null : drawnWindow(plan.draw, now);
	const presales = [{ id: "club", name: "Fan club", opensAt: new Date(windowOpens).toISOString(), closesAt: new Date(windowCloses).toISOString(), access: "code", maxPerFan: 1, capacity: plan.windowCapacity }];
	if (drawn !== null) presales.push(drawn);
	const drop = yield* createDrop(client, cfg, {
		name: "presale load " + now.toString(36),
		capacity: plan.windowCapacity + (drawn === null ? 0 : drawn.capacity) + 100,
		maxPerFan: 2,
		shards: plan.shards,
		opensAt: drawn === null ? new Date(windowCloses).toISOString() : drawn.closesAt,
		holdSeconds: 120,
		admission: { batchSize: 500, intervalMs: 500, activeMultiple: 4 },
		presales: presales,
	});
	const unique = yield* makeGroup(client, cfg, drop.id, { windowId: "club", kind: "unique", name: "Club members", count: plan.unique });
	const shared = yield* makeGroup(client, cfg, drop.id, { windowId: "club", kind: "shared", name: "Card partner", cap: plan.sharedCap });
	// Miniflare fires no cron: on an engine on this machine the promoter's side runs the draw's minute cron itself.
	const localCron = /^https?:\/\/(127\.0\.0\.1|localhost)(:|\/|$)/.test(cfg.baseUrl);
	return { dropId: drop.id, capacity: drop.capacity, windowOpens: windowOpens, windowCloses: windowCloses, codes: unique.codes, sharedCode: shared.codes[0], uniqueGroup: unique.id, sharedGroup: shared.id, plan: plan, draw: plan.draw, drawnWindow: drawn, localCron: localCron };
}

function joinReq(cfg, dropId, fanId, code) {
	return request("POST", cfg.baseUrl + "/api/drops/" + dropId + "/join", {
		headers: { "content-type": "application/json" },
		json: { fanId: fanId, fanSecret: newFanSecret(), code: code },
		step: "join",
	});
}

/**
 * Sends `req`, again while the answer is the transport's and not the engine's (no answer, or a
 * 503 without the contract's JSON error: `wrangler dev`'s proxy when a connection drops). Every
 * request here is safe to repeat: a join by its fan id and secret, a hold by its key, a purchase by its hold.
 */
export function* send(req, result) {
	for (let attempt = 0; ; attempt++) {
		const res = yield req;
		if (!(res.status === 0 || (res.status === 503 && errorCode(res) === null)) || attempt === 5) return res;
		result.retries++;
		yield pause(300 + attempt * 300);
	}
}

function randomKey() {
	return "k-" + newFanSecret().slice(0, 24);
}

/**
 * One fan of the presale. Answers { role, accepted, refusals: {code: n}, outcome } where
 * `accepted` counts joins let in (a guessing bot makes several, each must be refused) and
 * `outcome` is bought, window_sold_out, sold_out, not_admitted or refused.
 */
export function* presaleFan(client, cfg, setup, index) {
	const who = presaleRole(setup.plan, index);
	const fanId = "pre-" + index + "-" + setup.dropId.slice(-6);
	const result = { role: who.role, accepted: 0, refusals: {}, outcome: "refused", tickets: 0, retries: 0 };
	const refused = function (res) {
		const code = errorCode(res) || String(res.status);
		result.refusals[code] = (result.refusals[code] || 0) + 1;
		return code;
	};
	if (who.role === "guesser") {
		for (let g = 0; g < setup.plan.guessesPerBot; g++) {
			const res = yield* send(joinReq(cfg, setup.dropId, fanId + "-" + g, guessCode()), result);
			if (res.status === 200 || res.status === 201) result.accepted++;
			else refused(res);
			if (client.check) client.check("a guessed code is refused", res.status === 403 || res.status === 429, { status: res.status, code: errorCode(res) });
		}
		return result;
	}
	const code = who.role === "shared" ? setup.sharedCode : setup.codes[who.code];
	const res = yield* send(joinReq(cfg, setup.dropId, fanId, code), result);
	if (res.status !== 200 && res.status !== 201) {
		const why = refused(res);
		const expected = who.role === "shared" ? why === "code_exhausted" : why === "code_used";
		if (client.check) client.check("a code refused only as its rule says", expected, { role: who.role, status: res.status, code: why });
		return result;
	}
	result.accepted = 1;
	yield* admitAndBuy(client, cfg, setup, json(res).queueToken, result, setup.windowCloses, setup.windowOpens);
	return result;
}

/**
 * A fan let into a window: waits in its line until admitted (before `deadline`: else
 * not_admitted), then holds and buys one ticket. Sets the result's outcome and tickets.
 */
export function* admitAndBuy(client, cfg, setup, queueToken, result, deadline, opensAt) {
	let access = null;
	while (access === null) {
		if (client.now() > deadline) {
			result.outcome = "not_admitted";
			return;
		}
		yield pause(500 + Math.random() * 500);
		const s = yield request("GET", cfg.baseUrl + "/api/drops/" + setup.dropId + "/status", { headers: { authorization: "Bearer " + queueToken }, step: "status" });
		if (s.status !== 200) continue;
		const view = json(s);
		if (view.queueToken) queueToken = view.queueToken;
		if (view.status === "admitted" && view.accessToken) access = view.accessToken;
		else if (view.status !== "waiting") {
			result.outcome = view.status;
			return;
		}
	}
	if (client.now() < opensAt - 1000 && client.check) client.check("admitted no earlier than the window's opening", false, { dropId: setup.dropId });
	const auth = { authorization: "Bearer " + access, "content-type": "application/json" };
	const hold = yield* send(request("POST", cfg.baseUrl + "/api/drops/" + setup.dropId + "/holds", { headers: Object.assign({ "idempotency-key": randomKey() }, auth), json: { quantity: 1 }, step: "hold" }), result);
	if (hold.status !== 201) {
		const code = errorCode(hold) || String(hold.status);
		result.refusals[code] = (result.refusals[code] || 0) + 1;
		result.outcome = code;
		if (client.check) client.check("a hold refused only as sold out", code === "window_sold_out" || code === "sold_out", { status: hold.status, code: code });
		return;
	}
	const holdId = json(hold).holdId;
	const paid = yield* send(request("POST", cfg.baseUrl + "/api/drops/" + setup.dropId + "/holds/" + holdId + "/purchase", { headers: auth, json: { payment: { method: "test", token: "ok" } }, step: "purchase" }), result);
	if (client.check) client.check("a held ticket is bought", paid.status === 201, { status: paid.status, code: errorCode(paid) });
	if (paid.status === 201) {
		result.outcome = "bought";
		result.tickets = 1;
	} else {
		const code = errorCode(paid) || String(paid.status);
		result.refusals[code] = (result.refusals[code] || 0) + 1;
		result.outcome = code;
	}
}

/** Totals over the fans' results, by role: what the verdict counts. */
export function presaleTotals(results) {
	const t = { uniqueAccepts: 0, sharedAccepts: 0, guessAccepts: 0, guesses: 0, bought: 0, windowSoldOut: 0, notAdmitted: 0, retries: 0, refusals: {} };
	for (const r of results) {
		if (r.role === "unique" || r.role === "reuser") t.uniqueAccepts += r.accepted;
		if (r.role === "shared") t.sharedAccepts += r.accepted;
		if (r.role === "guesser") {
			t.guessAccepts += r.accepted;
			t.guesses += r.accepted;
		}
		if (r.outcome === "bought") t.bought += r.tickets;
		if (r.outcome === "window_sold_out") t.windowSoldOut++;
		if (r.outcome === "not_admitted") t.notAdmitted++;
		t.retries += r.retries;
		for (const k of Object.keys(r.refusals)) {
			t.refusals[k] = (t.refusals[k] || 0) + r.refusals[k];
			if (r.role === "guesser") t.guesses += r.refusals[k];
		}
	}
	return t;
}

/**
 * The verdict: the audit (its window part too) after the drain, the groups' own counts,
 * and the code rules from the fans' totals. `totals` null: the engine's side only (k6's
 * teardown cannot read its VUs' counters, whose thresholds hold the fans' side there).
 * With a registered window, `totals.draw` is its fans' (drawTotals) and `drawSide`
 * { made, sha256Hex } the promoter's draw answer (null in k6) and the hash to check it with.
 */
export function* presaleVerdict(client, cfg, setup, totals, drainMs, drawSide) {
	const plan = setup.plan;
	const drawTotals = totals === null || !totals.draw ? null : totals.draw;
	const audit = yield* waitForDrain(client, cfg, setup.dropId, drainMs);
	const failures = auditFailures(audit, totals === null ? {} : { clientTickets: totals.bought + (drawTotals === null ? 0 : drawTotals.bought) });
	if (audit.ok !== true) failures.push("the audit is not ok");
	const t = audit.totals || { sold: 0, held: 0 };
	if (setup.capacity !== undefined && t.sold + t.held > setup.capacity) failures.push("the drop sold past its capacity: " + t.sold + " sold, " + t.held + " held, capacity " + setup.capacity);
	const windows = [{ id: "club", capacity: plan.windowCapacity, bought: totals === null ? null : totals.bought }];
	if (setup.draw) windows.push({ id: "drawn", capacity: setup.draw.capacity, bought: drawTotals === null ? null : drawTotals.bought });
	const parts = {};
	for (const want of windows) {
		const window = (audit.windows || []).filter(function (w) {
			return w.id === want.id;
		})[0];
		parts[want.id] = window || null;
		if (!window) {
			failures.push("the audit has no part for the window " + want.id);
			continue;
		}
		if (window.ok !== true) failures.push("the window " + want.id + "'s audit is not ok: " + JSON.stringify(window));
		if (window.oversold !== 0 || window.sold + window.held > want.capacity) failures.push("the window " + want.id + " sold past its capacity: " + window.sold + " sold, " + window.held + " held, capacity " + want.capacity);
		if (want.bought !== null && window.sold !== want.bought) failures.push("the window " + want.id + " sold " + window.sold + ", its fans were sold " + want.bought);
	}
	const window = parts.club;
	let draw = null;
	if (setup.draw) {
		draw = yield* drawVerdict(client, cfg, setup, drawSide ? drawSide.made : null, drawTotals, drawSide.sha256Hex);
		for (const f of draw.failures) failures.push(f);
	}
	if (totals !== null) {
		if (totals.uniqueAccepts !== plan.unique) failures.push("unique codes let in " + totals.uniqueAccepts + " fans for " + plan.unique + " codes: a code let in two fans, or an owner was refused");
		if (totals.sharedAccepts !== plan.sharedCap) failures.push("the shared code let in " + totals.sharedAccepts + " fans, its cap is " + plan.sharedCap);
		if (totals.guessAccepts !== 0) failures.push(totals.guessAccepts + " guessed code(s) let a bot in");
		if (totals.notAdmitted > 0) failures.push(totals.notAdmitted + " fan(s) let in by their code were never admitted");
	}
	const res = yield request("GET", cfg.baseUrl + "/api/admin/drops/" + setup.dropId + "/code-groups", { headers: adminHeaders(cfg), step: "admin" });
	const groups = res.status === 200 ? json(res).groups : [];
	const used = {};
	for (const g of groups) used[g.id] = g.used;
	if (used[setup.uniqueGroup] !== plan.unique) failures.push("the unique group counts " + used[setup.uniqueGroup] + " used, " + plan.unique + " codes were each let in once");
	if (used[setup.sharedGroup] !== plan.sharedCap) failures.push("the shared group counts " + used[setup.sharedGroup] + " used, its cap is " + plan.sharedCap);
	return { audit: audit, window: window, drawnWindow: parts.drawn || null, draw: draw === null ? null : draw.published, used: used, failures: failures };
}


/** The wait in line and purchase the registered window's fans share with the code window's (lib/presale-draw.js takes it as `admit`). */
export function windowAdmit(client, cfg, setup) {
	return function (queueToken, result, deadline, opensAt) {
		return admitAndBuy(client, cfg, setup, queueToken, result, deadline, opensAt);
	};
}
