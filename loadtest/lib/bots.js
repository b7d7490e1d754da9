// Hostile fans mixed into a normal drop (the `bots` scenario of
// lib/scenarios.js). A bot runs the ordinary fan journey of lib/journey.js and,
// at two points of it, tries what a fan must not get away with, with the
// tricks of lib/attack.js: after joining, its own id under another secret and
// a queue token signed with `alg: none`; once admitted, forged access tokens
// and a burst of holds past maxPerFan (whatever it wins it releases, then it
// goes on as a fan). Each refusal is a check; anything that gets through is a
// `breach` event, which fails the run.
import { tampered, unsigned } from "./attack.js";
import { concurrently, errorCode, json, newFanSecret, request } from "./journey.js";

/** Answers a hold may get in a burst on a busy drop, none of them a win. */
function refusedHold(res) {
	const code = errorCode(res);
	return (
		(res.status === 422 && code === "limit_exceeded") ||
		(res.status === 409 && (code === "sold_out" || code === "not_enough_left" || code === "drop_closed")) ||
		(res.status === 503 && code === "try_again") ||
		res.status === 429
	);
}

function verdict(client, name, good, detail) {
	if (client.check) client.check("bot: " + name, good, good ? undefined : detail);
	if (!good && client.event) client.event("breach", { check: name, detail: detail });
}

function shape(res) {
	return { status: res.status, code: errorCode(res) };
}

/** The probes the journey runs for a hostile fan (ctx.probes). */
export const botProbes = {
	/** s: {base, fanId, fanSecret, queueToken} */
	afterJoin: function* (client, s) {
		const join = yield request("POST", s.base + "/join", {
			headers: { "content-type": "application/json" },
			json: { fanId: s.fanId, fanSecret: newFanSecret() },
			step: "bot",
		});
		verdict(client, "its own id under another secret is refused 409 fan_id_taken", join.status === 409 && errorCode(join) === "fan_id_taken", shape(join));
		const forged = yield request("GET", s.base + "/status", { headers: { authorization: "Bearer " + unsigned(s.queueToken) }, step: "bot" });
		verdict(client, "a queue token with alg none is refused 401", forged.status === 401, shape(forged));
	},
	/** s: {base, fanId, queueToken, accessToken, maxPerFan} */
	afterAdmit: function* (client, s) {
		const forgedTokens = [
			["queue token as access token", s.queueToken],
			["access token with alg none", unsigned(s.accessToken)],
			["access token for another fan", tampered(s.accessToken, { sub: s.fanId + "-x" })],
		];
		for (let i = 0; i < forgedTokens.length; i++) {
			const res = yield request("POST", s.base + "/holds", {
				headers: { authorization: "Bearer " + forgedTokens[i][1], "content-type": "application/json", "idempotency-key": s.fanId + "-forged-" + i },
				json: { quantity: 1 },
				step: "bot",
			});
			verdict(client, forgedTokens[i][0] + " is refused 401", res.status === 401, shape(res));
		}
		// Holds of one ticket under different keys, all at once: at most maxPerFan are granted.
		const burst = [];
		for (let i = 0; i < s.maxPerFan + 2; i++) {
			burst.push(
				request("POST", s.base + "/holds", {
					headers: { authorization: "Bearer " + s.accessToken, "content-type": "application/json", "idempotency-key": s.fanId + "-burst-" + i },
					json: { quantity: 1 },
					step: "bot",
				}),
			);
		}
		const answers = yield concurrently(burst);
		const won = [];
		let odd = null;
		for (let i = 0; i < answers.length; i++) {
			if (answers[i].status === 201) won.push(json(answers[i]));
			else if (!refusedHold(answers[i]) && odd === null) odd = shape(answers[i]);
		}
		verdict(client, "a burst of holds past maxPerFan is granted at most maxPerFan", won.length <= s.maxPerFan, { granted: won.length, maxPerFan: s.maxPerFan });
		verdict(client, "the rest of the burst is refused as the contract says", odd === null, odd);
		// Give the stock back, so the bot then shops as any fan (and nothing it won is left to expire).
		for (let i = 0; i < won.length; i++) {
			const rel = yield request("DELETE", s.base + "/holds/" + won[i].holdId, { headers: { authorization: "Bearer " + s.accessToken }, step: "bot" });
			verdict(client, "a won hold is released", rel.status === 204, shape(rel));
		}
	},
};
