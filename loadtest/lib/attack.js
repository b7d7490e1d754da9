// Hostile fans, shared by loadtest/attack.js (k6) and the Node runner
// (`npm run loadtest -- --scenario attack`). Plain JavaScript; the only import
// is the journey module beside it.
//
// Each attacker is admitted honestly, then tries everything a fan should not
// get away with: concurrent holds under different keys past maxPerFan,
// replayed and concurrent Idempotency-Keys, a key reused with another body,
// concurrent purchases of one hold, other fans' holds, joining under another
// fan's id, tampered, `alg: none`, swapped and cross-drop tokens; one of them
// also lets a hold and an access token expire. Every attacker ends having bought exactly maxPerFan tickets,
// so the drop must end with exactly attackers × maxPerFan sold: one more is an
// extra sale and fails the run.
import {
	BASE64URL,
	auditFailures,
	concurrently,
	createDrop,
	errorCode,
	header,
	json,
	newFanSecret,
	pause,
	request,
	ticketsByFan,
	waitForDrain,
} from "./journey.js";

export function attackPlan(knobs, attackers) {
	const n = attackers || Math.min(20, knobs.fans);
	return {
		attackers: n,
		maxPerFan: 2,
		// Spare stock, so "sold out" never hides an extra sale.
		capacity: n * 2 + 50,
		shards: Math.min(knobs.shards, n * 2 + 50),
		holdSeconds: 10,
		/** Wait at most this long for an access token to expire (the engine's ACCESS_TOKEN_SECONDS; 60 suits). */
		expiryWaitLimitSeconds: 75,
		drainSeconds: knobs.drainSeconds,
	};
}

const JSON_TYPE = { "content-type": "application/json" };

function joinReq(cfg, dropId, body) {
	return request("POST", cfg.baseUrl + "/api/drops/" + dropId + "/join", { headers: JSON_TYPE, json: body, step: "join" });
}

/** Joins fans (each {dropId, fanId}) at once, each with a secret of its own, and polls until all are admitted; returns their tokens in order. */
function* admitAll(client, cfg, wanted) {
	const secrets = wanted.map(() => newFanSecret());
	const joins = yield concurrently(wanted.map((w, i) => joinReq(cfg, w.dropId, { fanId: w.fanId, fanSecret: secrets[i] })));
	const fans = wanted.map((w, i) => {
		if (joins[i].status !== 201 && joins[i].status !== 200) throw new Error("attacker join failed: " + joins[i].status + " " + joins[i].body);
		return { dropId: w.dropId, fanId: w.fanId, fanSecret: secrets[i], queueToken: json(joins[i]).queueToken, accessToken: null };
	});
	const deadline = client.now() + 120000;
	for (;;) {
		const waiting = fans.filter((f) => f.accessToken === null);
		if (waiting.length === 0) return fans;
		if (client.now() > deadline) throw new Error("attackers were not admitted within 120 s");
		yield pause(300);
		const polls = yield concurrently(
			waiting.map((f) => request("GET", cfg.baseUrl + "/api/drops/" + f.dropId + "/status", { headers: { authorization: "Bearer " + f.queueToken }, step: "status" })),
		);
		for (let i = 0; i < waiting.length; i++) {
			const s = polls[i].status === 200 ? json(polls[i]) : null;
			if (s && s.queueToken) waiting[i].queueToken = s.queueToken;
			if (s && s.status === "admitted") waiting[i].accessToken = s.accessToken;
		}
	}
}

/**
 * Two drops: the target and a bystander. Attackers are admitted when they
 * start, so their access tokens are fresh however long the setup took.
 */
export function* prepareAttack(client, cfg, plan) {
	const now = client.now();
	const stamp = now.toString(36);
	const common = {
		maxPerFan: plan.maxPerFan,
		opensAt: new Date(now - 1000).toISOString(),
		priceCents: 1000,
		currency: "USD",
		admission: { batchSize: 1000, intervalMs: 250, activeMultiple: 20 },
		holdSeconds: plan.holdSeconds,
	};
	const target = yield* createDrop(client, cfg, Object.assign({ name: "Attack target " + stamp, capacity: plan.capacity, shards: plan.shards }, common));
	const other = yield* createDrop(client, cfg, Object.assign({ name: "Attack bystander " + stamp, capacity: 10, shards: 2 }, common));
	return { dropId: target.id, otherDropId: other.id, stamp: stamp, plan: plan };
}

// Base64url without imports (k6 and Node both run this), enough for JWT parts.
const B64 = BASE64URL;

function b64urlEncode(text) {
	const bytes = [];
	for (let i = 0; i < text.length; i++) {
		let c = text.charCodeAt(i);
		if (c < 0x80) bytes.push(c);
		else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
		else bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
	}
	let out = "";
	for (let i = 0; i < bytes.length; i += 3) {
		const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
		out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
		if (i + 1 < bytes.length) out += B64[(n >> 6) & 63];
		if (i + 2 < bytes.length) out += B64[n & 63];
	}
	return out;
}

function b64urlDecode(text) {
	const bytes = [];
	let buffer = 0;
	let bits = 0;
	for (let i = 0; i < text.length; i++) {
		buffer = (buffer << 6) | B64.indexOf(text[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bytes.push((buffer >> bits) & 255);
		}
	}
	let out = "";
	for (let i = 0; i < bytes.length; i++) {
		const b = bytes[i];
		if (b < 0x80) out += String.fromCharCode(b);
		else if (b < 0xe0) out += String.fromCharCode(((b & 31) << 6) | (bytes[++i] & 63));
		else out += String.fromCharCode(((b & 15) << 12) | ((bytes[++i] & 63) << 6) | (bytes[++i] & 63));
	}
	return out;
}

export function jwtParts(token) {
	const p = token.split(".");
	return { header: JSON.parse(b64urlDecode(p[0])), payload: JSON.parse(b64urlDecode(p[1])), signature: p[2] };
}

/** The same signature over a payload with some claims changed (also used by lib/bots.js). */
export function tampered(token, changes) {
	const p = token.split(".");
	const payload = Object.assign(JSON.parse(b64urlDecode(p[1])), changes);
	return p[0] + "." + b64urlEncode(JSON.stringify(payload)) + "." + p[2];
}

export function unsigned(token) {
	const p = token.split(".");
	const header = Object.assign(JSON.parse(b64urlDecode(p[0])), { alg: "none" });
	delete header.kid;
	return b64urlEncode(JSON.stringify(header)) + "." + p[1] + ".";
}

function holdReq(cfg, dropId, token, key, quantity) {
	return request("POST", cfg.baseUrl + "/api/drops/" + dropId + "/holds", {
		headers: { authorization: "Bearer " + token, "content-type": "application/json", "idempotency-key": key },
		json: { quantity: quantity },
		step: "hold",
	});
}

function purchaseReq(cfg, dropId, token, holdId, payToken) {
	return request("POST", cfg.baseUrl + "/api/drops/" + dropId + "/holds/" + holdId + "/purchase", {
		headers: { authorization: "Bearer " + token, "content-type": "application/json" },
		json: { payment: { method: "test", token: payToken || "ok" } },
		step: "purchase",
	});
}

function expect(client, name, good, detail) {
	if (client.check) client.check(name, !!good, good ? undefined : detail);
	return !!good;
}

function statusOf(res) {
	return { status: res.status, code: errorCode(res) };
}

/** Attacker `i` of the setup: returns what it managed to buy. */
export function* attacker(client, cfg, setup, i) {
	// Me, another fan of the same drop, and me on the bystander drop, all admitted now.
	const admitted = yield* admitAll(client, cfg, [
		{ dropId: setup.dropId, fanId: "atk" + setup.stamp + "-" + i },
		{ dropId: setup.dropId, fanId: "atk" + setup.stamp + "-" + i + "-other" },
		{ dropId: setup.otherDropId, fanId: "atk" + setup.stamp + "-" + i },
	]);
	const me = admitted[0];
	const neighbour = admitted[1];
	const meThere = admitted[2];
	const drop = setup.dropId;
	const max = setup.plan.maxPerFan;
	const tag = me.fanId;
	const result = { fanId: me.fanId, orders: [], tickets: 0 };

	// 1. Concurrent holds under different keys, from zero: exactly maxPerFan succeed.
	const burst = [];
	for (let k = 0; k < 4 * max; k++) burst.push(holdReq(cfg, drop, me.accessToken, tag + "-burst-" + k, 1));
	const answers = yield concurrently(burst);
	const won = [];
	const wonKeys = [];
	for (let k = 0; k < answers.length; k++) {
		if (answers[k].status === 201) {
			won.push(json(answers[k]));
			wonKeys.push(tag + "-burst-" + k);
		}
	}
	const refused = answers.filter((r) => r.status === 422 && errorCode(r) === "limit_exceeded").length;
	expect(client, "concurrent holds past maxPerFan: exactly maxPerFan granted", won.length === max, { granted: won.length, max: max });
	expect(client, "concurrent holds past maxPerFan: the rest refused 422", refused === answers.length - won.length, answers.map(statusOf));
	if (won.length === 0) return result;

	// 2. A granted key replayed: the same hold, marked as a replay, nothing new.
	for (let r = 0; r < 3; r++) {
		const again = yield holdReq(cfg, drop, me.accessToken, wonKeys[0], 1);
		const body = json(again);
		expect(client, "replayed Idempotency-Key returns the first hold", again.status === 201 && body && body.holdId === won[0].holdId, statusOf(again));
		expect(client, "replayed Idempotency-Key is marked Idempotent-Replayed", header(again, "idempotent-replayed") === "true");
	}
	// 3. The same key with another body is refused.
	const conflict = yield holdReq(cfg, drop, me.accessToken, wonKeys[0], 2);
	expect(client, "a key reused with another body is refused 409", conflict.status === 409 && errorCode(conflict) === "idempotency_key_conflict", statusOf(conflict));

	// 4. A fresh key sent many times at once while at the limit: one answer for all, never a hold.
	const same = yield concurrently([0, 1, 2, 3, 4, 5].map(() => holdReq(cfg, drop, me.accessToken, tag + "-same", 1)));
	expect(client, "concurrent same key at the limit: every copy refused 422", same.every((r) => r.status === 422), same.map(statusOf));
	// 5. More than maxPerFan in one hold.
	const big = yield holdReq(cfg, drop, me.accessToken, tag + "-big", max + 1);
	expect(client, "a hold above maxPerFan is refused 422", big.status === 422, statusOf(big));

	// 6. Someone else's hold: the neighbour cannot buy or release it.
	const stolen = yield purchaseReq(cfg, drop, neighbour.accessToken, won[0].holdId);
	expect(client, "another fan's hold cannot be bought", stolen.status === 404, statusOf(stolen));
	const unheld = yield request("DELETE", cfg.baseUrl + "/api/drops/" + drop + "/holds/" + won[0].holdId, {
		headers: { authorization: "Bearer " + neighbour.accessToken },
		step: "release",
	});
	expect(client, "another fan's hold cannot be released", unheld.status === 404, statusOf(unheld));

	// 6b. Joining under my id: the neighbour knows it, but not my secret. Refused, with nothing to use.
	const asMe = yield concurrently([
		joinReq(cfg, drop, { fanId: me.fanId }),
		joinReq(cfg, drop, { fanId: me.fanId, fanSecret: neighbour.fanSecret }),
	]);
	for (let k = 0; k < asMe.length; k++) {
		const body = json(asMe[k]);
		expect(client, "joining under another fan's id is refused 409 fan_id_taken", asMe[k].status === 409 && errorCode(asMe[k]) === "fan_id_taken", statusOf(asMe[k]));
		expect(client, "a refused join under another fan's id carries no token", !body || (body.queueToken === undefined && body.accessToken === undefined), statusOf(asMe[k]));
	}

	// 7. Forged tokens, on hold and purchase.
	const forged = [
		["tampered subject", tampered(me.accessToken, { sub: neighbour.fanId })],
		["tampered expiry", tampered(me.accessToken, { exp: jwtParts(me.accessToken).payload.exp + 86400 })],
		["tampered drop", tampered(me.accessToken, { aud: "drop:" + setup.otherDropId })],
		["alg none", unsigned(me.accessToken)],
		["queue token as access token", me.queueToken],
		["garbage", "not.a.token"],
	];
	for (let f = 0; f < forged.length; f++) {
		const h = yield holdReq(cfg, drop, forged[f][1], tag + "-forged-" + f, 1);
		expect(client, "forged token refused 401 on hold: " + forged[f][0], h.status === 401, statusOf(h));
		const p = yield purchaseReq(cfg, drop, forged[f][1], won[0].holdId);
		expect(client, "forged token refused 401 on purchase: " + forged[f][0], p.status === 401, statusOf(p));
	}

	// 8. Other drops: this drop's token there, that drop's token here, this hold bought through there.
	const there = yield holdReq(cfg, setup.otherDropId, me.accessToken, tag + "-there", 1);
	expect(client, "an access token is refused on another drop (403)", there.status === 403, statusOf(there));
	const here = yield holdReq(cfg, drop, meThere.accessToken, tag + "-outsider", 1);
	expect(client, "another drop's access token is refused here (403)", here.status === 403, statusOf(here));
	const crossHold = yield purchaseReq(cfg, setup.otherDropId, meThere.accessToken, won[0].holdId);
	expect(client, "this drop's hold cannot be bought through another drop", crossHold.status === 404 || crossHold.status === 403, statusOf(crossHold));

	// 9. Buy the first hold five times at once: one order.
	const buys = yield concurrently([0, 1, 2, 3, 4].map(() => purchaseReq(cfg, drop, me.accessToken, won[0].holdId)));
	const orderIds = {};
	for (const b of buys) if (b.status === 201) orderIds[json(b).orderId] = true;
	expect(client, "concurrent purchases of one hold make one order", Object.keys(orderIds).length === 1 && buys.every((b) => b.status === 201), buys.map(statusOf));
	// A declined card does not sell, and then the good card does.
	const others = won.slice(1);
	for (const h of others) {
		const declined = yield purchaseReq(cfg, drop, me.accessToken, h.holdId, "decline");
		expect(client, "a declined payment answers 402", declined.status === 402, statusOf(declined));
		const paid = yield purchaseReq(cfg, drop, me.accessToken, h.holdId, "ok");
		if (expect(client, "the same hold then sells", paid.status === 201, statusOf(paid))) orderIds[json(paid).orderId] = true;
	}
	// Replays after the fact, and releasing what was bought.
	const replay = yield purchaseReq(cfg, drop, me.accessToken, won[0].holdId);
	expect(client, "a repeated purchase returns the same order", replay.status === 201 && orderIds[json(replay).orderId] === true, statusOf(replay));
	const undo = yield request("DELETE", cfg.baseUrl + "/api/drops/" + drop + "/holds/" + won[0].holdId, {
		headers: { authorization: "Bearer " + me.accessToken },
		step: "release",
	});
	expect(client, "a bought hold cannot be released", undo.status === 409, statusOf(undo));
	const more = yield holdReq(cfg, drop, me.accessToken, tag + "-after", 1);
	expect(client, "no more holds after buying maxPerFan", more.status === 422, statusOf(more));
	const rejoin = yield joinReq(cfg, drop, { fanId: me.fanId, fanSecret: me.fanSecret });
	expect(client, "joining again (with the fan's secret) keeps the same place", rejoin.status === 200 && json(rejoin).rejoined === true, statusOf(rejoin));

	result.orders = Object.keys(orderIds);
	result.tickets = won.length;

	// 10. Expiry (one attacker): a hold bought after it expired, then an expired access token.
	if (i === 0) yield* expiryAttack(client, cfg, setup);
	return result;
}

function* expiryAttack(client, cfg, setup) {
	const o = (yield* admitAll(client, cfg, [{ dropId: setup.otherDropId, fanId: "atk" + setup.stamp + "-expiry" }]))[0];
	const held = yield holdReq(cfg, setup.otherDropId, o.accessToken, o.fanId + "-expiring", 1);
	if (!expect(client, "the bystander's hold is granted", held.status === 201, statusOf(held))) return;
	yield pause((setup.plan.holdSeconds + 1.5) * 1000);
	const late = yield purchaseReq(cfg, setup.otherDropId, o.accessToken, json(held).holdId);
	expect(client, "buying an expired hold answers 410", late.status === 410, statusOf(late));
	const exp = jwtParts(o.accessToken).payload.exp * 1000;
	const wait = exp - client.now() + 1500;
	if (wait > setup.plan.expiryWaitLimitSeconds * 1000) {
		if (client.check) client.check("expired access token (skipped: the engine's tokens last longer than the wait limit)", true);
		return;
	}
	if (wait > 0) yield pause(wait);
	const expired = yield holdReq(cfg, setup.otherDropId, o.accessToken, o.fanId + "-after-expiry", 1);
	expect(client, "an expired access token is refused 401", expired.status === 401 && errorCode(expired) === "token_expired", statusOf(expired));
}

/** After the attack: exactly attackers × maxPerFan sold, nobody past the limit, nothing sold on the other drop. */
export function* attackVerdict(client, cfg, setup, drainMs) {
	const expectedSold = setup.plan.attackers * setup.plan.maxPerFan;
	const audit = yield* waitForDrain(client, cfg, setup.dropId, drainMs);
	const otherAudit = yield* waitForDrain(client, cfg, setup.otherDropId, drainMs);
	const byFan = yield* ticketsByFan(client, cfg, setup.dropId);
	const failures = auditFailures(audit, { maxPerFan: setup.plan.maxPerFan, byFan: byFan }).concat(
		auditFailures(otherAudit, {}).map((f) => "other drop: " + f),
	);
	if (audit.totals.sold > expectedSold) failures.push("extra sale: " + audit.totals.sold + " tickets sold, the attackers could buy " + expectedSold);
	if (audit.totals.sold < expectedSold) failures.push("only " + audit.totals.sold + " of the " + expectedSold + " tickets the attackers were entitled to were sold");
	if (otherAudit.totals.sold !== 0) failures.push("extra sale: " + otherAudit.totals.sold + " ticket(s) sold on the other drop, where nobody bought");
	return { audit: audit, otherAudit: otherAudit, expectedSold: expectedSold, failures: failures };
}

