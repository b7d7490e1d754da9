// verify-fairness's draw part (--draw): a registered sale window's draw checked from
// its public answer alone (GET /api/drops/:id/draw): the seed hashes to the
// commitment published before the draw, the invited ids are the ones the rule
// (loadtest/lib/draw.js) picks from the published registration ids, and their number
// is what was asked; then the rule itself, by a chi-square test of how often each
// of 40 registrations is invited over 2,000 seeds. A fan's own registration id
// (--registration) is looked up: listed, and invited or not.
import { checkDraw, drawInvited, drawUniformity, runSeeds } from "../../loadtest/lib/draw.js";

/** Below this p-value the rule is called not uniform: with fixed seeds the run is the same every time. */
export const UNIFORMITY_ALPHA = 0.001;

/** The rule's uniformity over `seeds` seeds (n registrations, k invited each): the same for every drop, from the label's seeds. */
export function ruleUniformity(sha256Hex, draw = drawInvited, { n = 40, k = 10, seeds = 2000 } = {}) {
	return drawUniformity(draw, runSeeds(sha256Hex, "verify-draw", seeds), n, k);
}

/**
 * Prints the verdict on `draw` (the answer's JSON) with `out`; answers the exit code:
 * 0 verified or not drawn yet, 1 something does not verify.
 */
export function verifyDraw(draw, { sha256Hex, out, registrations = [] }) {
	out(`window      ${draw.window} (a registered window's draw; ${draw.invites} invite(s) asked)`);
	out(`register   ${draw.registrationOpensAt} .. ${draw.registrationClosesAt}`);
	out(`commitment  ${draw.seedCommitment} (committed ${draw.committedAt})`);
	if (draw.seed === null) {
		out(`seed        not revealed yet: the draw reveals it once registration closes, and it must then hash to the commitment above`);
		return 0;
	}
	const { failures, derived } = checkDraw(draw, sha256Hex);
	out(`seed        ${draw.seed}`);
	out(`            ${sha256Hex(draw.seed) === draw.seedCommitment ? "✓ sha256(seed) equals the commitment" : "✗ sha256(seed) is NOT the commitment"}`);
	out(`drawn       ${draw.drawn} of ${draw.registered} verified registration(s); the rule derives ${derived.length}`);
	const invited = new Set(derived);
	const listed = new Set(draw.registrations);
	for (const id of registrations) {
		out(`registration ${id}: ${!listed.has(id) ? "✗ not in the published list" : invited.has(id) ? "✓ listed, invited" : "✓ listed, not invited"}`);
		if (!listed.has(id)) failures.push(`registration ${id} is not in the published list`);
	}
	const rule = ruleUniformity(sha256Hex);
	const uniform = rule.p >= UNIFORMITY_ALPHA;
	out(`rule        chi-square ${rule.chi2.toFixed(1)} on ${rule.df} df over 2000 seeds, p = ${rule.p.toFixed(3)}: ${uniform ? "✓ uniform" : "✗ NOT uniform"}`);
	if (!uniform) failures.push(`the rule's draws are not uniform (p = ${rule.p})`);
	out();
	for (const f of failures) out(`✗ ${f}`);
	if (failures.length > 0) return 1;
	out(`✓ verified`);
	return 0;
}
