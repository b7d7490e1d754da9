// The shapes of a drop the load tests rehearse, shared by loadtest/drop.js
// (k6, `SCENARIO`) and the Node runner (`--scenario`). Each scenario says when
// fan `i` arrives and whether that fan is hostile; every fan runs the one
// journey of lib/journey.js. A new scenario is one entry in SCENARIOS.
import { arrivalOffsetMs, fanRandom } from "./journey.js";
import { botProbes } from "./bots.js";

/** A fifth of a drop's fans come early and wait in the pre-queue; this many arrive in its lead, at most. */
function early(rnd, knobs) {
	return Math.round(rnd() * knobs.leadSeconds * 1000 * 0.9);
}

/**
 * @typedef {{
 *   about: string,
 *   arrivalSeconds: (knobs: any) => number,
 *   arrivalOffsetMs: (index: number, knobs: any) => number,
 *   isBot?: (index: number, knobs: any) => boolean,
 *   seated?: boolean,
 *   returns?: boolean,
 * }} Scenario
 */

/** @type {Record<string, Scenario>} */
export const SCENARIOS = {
	spike: {
		about: "everyone within seconds of the opening: a fifth early in the pre-queue, most around the opening, a tail over SPREAD_SECONDS",
		arrivalSeconds: function (knobs) {
			return knobs.spreadSeconds;
		},
		arrivalOffsetMs: arrivalOffsetMs,
	},
	ramp: {
		about: "arrivals growing steadily over RAMP_SECONDS after the opening (a tenth early)",
		arrivalSeconds: function (knobs) {
			return knobs.rampSeconds;
		},
		arrivalOffsetMs: function (index, knobs) {
			const rnd = fanRandom(knobs.seed + 7919, index);
			if (rnd() < 0.1) return early(rnd, knobs);
			// Density growing linearly with time: the square root of a uniform draw.
			return Math.round(knobs.leadSeconds * 1000 + Math.sqrt(rnd()) * knobs.rampSeconds * 1000);
		},
	},
	soak: {
		about: "steady arrivals over SOAK_SECONDS after the opening, fans polling all along: a long drop",
		arrivalSeconds: function (knobs) {
			return knobs.soakSeconds;
		},
		arrivalOffsetMs: function (index, knobs) {
			const rnd = fanRandom(knobs.seed + 7919, index);
			return Math.round(knobs.leadSeconds * 1000 + rnd() * knobs.soakSeconds * 1000);
		},
	},
	bots: {
		about: "the spike, with a BOT_SHARE of hostile fans who also try forged tokens, someone else's id and holds past maxPerFan",
		arrivalSeconds: function (knobs) {
			return knobs.spreadSeconds;
		},
		arrivalOffsetMs: arrivalOffsetMs,
		isBot: function (index, knobs) {
			return fanRandom(knobs.seed + 104729, index)() < knobs.botShare;
		},
	},
	seated: {
		about: "the spike on a drop of reserved seats (SEATS, default TICKETS) where many fans ask for the same best seats at once (lib/seated.js); also fails on a seat sold twice or D1 disagreeing with the shards",
		arrivalSeconds: function (knobs) {
			return knobs.spreadSeconds;
		},
		arrivalOffsetMs: arrivalOffsetMs,
		seated: true,
	},
	returns: {
		about: "the spike until the drop sells out; then RETURN_SHARE of the orders come back (half listed for resale by their buyers, half refunded with restock by the promoter) while the fans left wait in line, and every returned ticket must go to them in line order (lib/returns.js)",
		arrivalSeconds: function (knobs) {
			return knobs.spreadSeconds;
		},
		arrivalOffsetMs: arrivalOffsetMs,
		returns: true,
	},
};

/** The scenario a drop run uses by default (and `drop`, its name before there were others). */
export const DEFAULT_SCENARIO = "spike";

/** The scenario called `name` (empty: the default); throws on an unknown name. */
export function scenarioNamed(name) {
	const key = !name || name === "drop" ? DEFAULT_SCENARIO : name;
	const s = SCENARIOS[key];
	if (!s) throw new Error("unknown scenario " + name + ": one of " + Object.keys(SCENARIOS).join(", "));
	return { name: key, about: s.about, arrivalSeconds: s.arrivalSeconds, arrivalOffsetMs: s.arrivalOffsetMs, isBot: s.isBot || null, seated: s.seated === true, returns: s.returns === true };
}

/**
 * What the journey of fan `index` needs from the scenario: when it arrives
 * (epoch ms) and, for a hostile fan, its probes.
 */
export function fanPlan(scenario, index, knobs, createdAt) {
	const bot = scenario.isBot !== null && scenario.isBot(index, knobs);
	return { startAt: createdAt + scenario.arrivalOffsetMs(index, knobs), probes: bot ? botProbes : null, bot: bot };
}
