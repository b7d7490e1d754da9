// Race tests prove that every side of the race happened. A test that accepts
// either outcome per trial could otherwise pass having only ever seen one.

/**
 * Runs `round` (one batch of concurrent trials, each checked by the round itself,
 * answering each trial's outcome) until every one of `outcomes` has been seen,
 * at most `maxRounds` times. Returns how often each was seen; fails naming the
 * outcomes never seen, or an outcome not in the list.
 */
export async function untilEveryOutcome<O extends string>(outcomes: readonly O[], maxRounds: number, round: (n: number) => Promise<O[]>): Promise<Record<O, number>> {
	const seen = Object.fromEntries(outcomes.map((o) => [o, 0])) as Record<O, number>;
	for (let n = 0; n < maxRounds; n++) {
		for (const outcome of await round(n)) {
			if (!outcomes.includes(outcome)) throw new Error(`a trial ended in "${outcome}", not one of ${outcomes.join(", ")}`);
			seen[outcome]++;
		}
		if (outcomes.every((o) => seen[o] > 0)) return seen;
	}
	const missing = outcomes.filter((o) => seen[o] === 0);
	throw new Error(`after ${maxRounds} round(s) the race never ended in ${missing.join(", ")} (seen: ${JSON.stringify(seen)})`);
}
