// What held admission below the configured pace in a run, from its timeline
// (lib/timeline.js): the pacer lets a batch in every interval only while the
// admitted fans still shopping number fewer than activeMultiple × tickets
// remaining, so a chart flat at 100 against a configured 300 is that cap at
// work, not a slow pacer. Plain JavaScript with no imports, for report-html.js.

/**
 * The configured pace and the seconds the cap held admission below it:
 * {perSecond, batchSize, intervalMs, activeMultiple, heldFromS, heldToS,
 * heldSeconds, drySeconds}. A bucket counts as held where the watermark was read, the
 * configured pace allowed more, fans were still waiting (joined beyond the
 * watermark) and tickets were left: then only the cap (or a pause) stops a
 * batch. `x` are the buckets' seconds after the opening, `joinedSoFar` and
 * `pace` per bucket as the chart draws them. Buckets with fans waiting and no
 * ticket free before the sell-out (`soldOutS`, null if none) count as `drySeconds`.
 */
export function admissionHeldBack(t, x, joinedSoFar, pace, soldOutS) {
	const p = t.pace || {};
	let from = null;
	let to = null;
	let held = 0;
	let dry = 0;
	for (let i = 0; i < x.length; i++) {
		const w = t.observed.watermark[i];
		const remaining = t.observed.remaining[i];
		if (x[i] < 0 || typeof w !== "number" || typeof remaining !== "number") continue;
		if (!(pace[i] > w && joinedSoFar[i] > w)) continue;
		if (remaining === 0) {
			// Nothing free: every ticket held or sold, and the pacer admits no one until a hold comes back.
			if (!(soldOutS !== null && x[i] >= soldOutS)) dry++;
			continue;
		}
		held++;
		if (from === null) from = x[i];
		to = x[i];
	}
	return {
		perSecond: p.intervalMs > 0 ? Math.round((p.batchSize * 1000 * 10) / p.intervalMs) / 10 : null,
		batchSize: p.batchSize,
		intervalMs: p.intervalMs,
		activeMultiple: typeof p.activeMultiple === "number" ? p.activeMultiple : null,
		heldFromS: from,
		heldToS: to,
		heldSeconds: held * t.bucketSeconds,
		drySeconds: dry * t.bucketSeconds,
	};
}

/** The note under the admission chart: the configured pace, and when the cap held admission below it. */
export function admissionText(a, pausedInRun) {
	const pace = "Configured: " + a.batchSize + " fans every " + a.intervalMs + " ms" + (a.perSecond === null ? "" : " (" + a.perSecond + " a second)") + ". ";
	const dry =
		a.drySeconds > 0 ? " For " + a.drySeconds + " s before the sell-out no ticket was free (every one held or sold) while fans waited: the pacer admits no one until a hold comes back." : "";
	if (a.heldFromS === null) return pace + "Admission kept up with it whenever fans were waiting and tickets were free." + dry;
	const cap =
		a.activeMultiple === null
			? "the shoppers-per-ticket cap (activeMultiple × tickets remaining)"
			: "the shoppers-per-ticket cap: at most " + a.activeMultiple + " × tickets remaining fans shop at once (activeMultiple " + a.activeMultiple + ")";
	return (
		pace + "For " + a.heldSeconds + " s " + (a.heldFromS === a.heldToS ? "at +" + a.heldFromS + " s" : "between +" + a.heldFromS + " s and +" + a.heldToS + " s") + " admission stayed below it while fans waited and tickets were free: " +
		cap + (pausedInRun ? ", or the pause," : "") + " held it back; a fan counts until it buys, gives up or its turn ends." + dry
	);
}
