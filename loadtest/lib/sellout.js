// Why a sell-out took as long as it did, from the run's own figures: the last
// tickets of a drop often wait for holds that fans walked away from to run
// out, so "90 % sold at +1.9 s" and "sold out at +62.6 s" sit side by side
// with a reason. Plain JavaScript with no imports (the Node runner gathers the
// figures; report-html.js says them); a k6 run has no per-hold times, so its
// report says nothing here rather than guess.

/**
 * The figures: `sales` and `lapses` are [atMs, tickets] pairs (a purchase's
 * answer; a walked-away hold's expiry), `opensAt` the opening in ms,
 * `capacity` the tickets on sale. What is explained is the tail past 90 %
 * sold (the moment the runner's milestones give): the walked-away holds that
 * ran out in it, before the last sale, gave their tickets back then, and the
 * tail's tickets that waited for them are at most those tickets.
 * Answers {lapsedHolds, lapsedTickets, firstLapseS, lastLapseS,
 * waitedTickets, tailTickets, lastSaleS, holdSeconds}.
 */
export function selloutStats({ sales, lapses, opensAt, capacity, holdSeconds }) {
	const sorted = sales.slice().sort((a, b) => a[0] - b[0]);
	let sold = 0;
	let ninety = null;
	let lastSale = null;
	let tailTickets = 0;
	for (const [at, n] of sorted) {
		if (ninety !== null) tailTickets += n;
		sold += n;
		if (ninety === null && sold >= capacity * 0.9) ninety = at;
		lastSale = at;
	}
	const inTail = ninety === null ? [] : lapses.filter(([at]) => at > ninety && at <= lastSale);
	let lapsedTickets = 0;
	let first = null;
	let last = null;
	for (const [at, n] of inTail) {
		lapsedTickets += n;
		if (first === null || at < first) first = at;
		if (last === null || at > last) last = at;
	}
	let soldAfter = 0;
	if (first !== null) for (const [at, n] of sorted) if (at >= first) soldAfter += n;
	const seconds = (ms) => (ms === null ? null : Math.round((ms - opensAt) / 100) / 10);
	return {
		lapsedHolds: inTail.length,
		lapsedTickets,
		firstLapseS: seconds(first),
		lastLapseS: seconds(last),
		waitedTickets: Math.min(lapsedTickets, soldAfter),
		tailTickets,
		lastSaleS: seconds(lastSale),
		holdSeconds,
	};
}

const plural = (n, one, many) => n + " " + (n === 1 ? one : many);

/**
 * The sentence beside the time to sell out, or null when there is nothing to
 * explain (not sold out, no figures, or no ticket waited for a lapsed hold).
 */
export function selloutText(report) {
	const s = report.sellout;
	if (!s || typeof report.timeToSellOutSeconds !== "number" || !(s.waitedTickets > 0)) return null;
	const sold = report.soldAfterOpenSeconds || {};
	const ninety = typeof sold["90%"] === "number" ? "90 % sold at +" + sold["90%"] + " s, sold out at +" + round(report.timeToSellOutSeconds) + " s: " : "";
	const window =
		s.firstLapseS === s.lastLapseS ? "at +" + s.firstLapseS + " s" : "between +" + s.firstLapseS + " s and +" + s.lastLapseS + " s";
	return (
		ninety + "the last " + plural(s.waitedTickets, "ticket", "tickets") + " waited for holds that ran out: fans had walked away from " +
		plural(s.lapsedHolds, "hold", "holds") + " of " + plural(s.lapsedTickets, "ticket", "tickets") + ", which ran out (" + s.holdSeconds + " s holds) " + window + "."
	);
}

function round(v) {
	return Math.round(v * 10) / 10;
}
