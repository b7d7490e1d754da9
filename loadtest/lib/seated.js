// The seated scenario (issue 14), shared by loadtest/drop.js (SCENARIO=seated)
// and the Node runner (--scenario seated --seats M): a drop of one seated type,
// M seats in sections of rows of 20, where many fans ask for the SAME best seats
// at once (the first seats of the first row), and, when those are taken, for the
// best available. The run fails if any seat is sold twice, a type is oversold,
// or D1 disagrees with the shards. Plain JavaScript that k6 v0.48 parses: no
// `??`, no `?.`, no imports.

export const SEATED_TYPE = "seat";
/** Seats per row and rows per section: 20 × 25 = 500 seats a section. */
export const SEATS_PER_ROW = 20;
export const ROWS_PER_SECTION = 25;

/** The seats of the drop: `S<s>-<row>-<n>`, section `S<s>`, rows 1.., numbers 1..20. */
export function seatList(count) {
	const out = [];
	for (let i = 0; i < count; i++) {
		const perSection = SEATS_PER_ROW * ROWS_PER_SECTION;
		const section = "S" + Math.floor(i / perSection);
		const inSection = i % perSection;
		const row = String(1 + Math.floor(inSection / SEATS_PER_ROW));
		const number = 1 + (inSection % SEATS_PER_ROW);
		out.push({ id: section + "-" + row + "-" + number, section: section, row: row, number: number });
	}
	return out;
}

/** The number of seats: the `seats` knob, or `tickets` when it is 0. */
export function seatCount(knobs) {
	return knobs.seats > 0 ? knobs.seats : knobs.tickets;
}

/** The body of the seated drop: the journey's drop, its capacity given by the seats instead. */
export function seatedDropBody(base, knobs) {
	const body = Object.assign({}, base);
	delete body.capacity;
	const seats = seatCount(knobs);
	body.shards = Math.min(knobs.shards, seats);
	body.ticketTypes = [{ id: SEATED_TYPE, name: "Seated", kind: "seated", priceCents: knobs.priceCents, seats: seatList(seats) }];
	return body;
}

/**
 * What a fan's hold asks for: its first hold (a share of fans, by index) names the
 * very best seats, the first `quantity` of row 1 in section S0, so they race each
 * other for them; every other hold asks for the best available anywhere.
 */
export function seatedHoldBody(index) {
	return function (quantity, holdNo) {
		if (holdNo === 1 && index % 2 === 0) {
			const seats = [];
			for (let n = 1; n <= quantity; n++) seats.push("S0-1-" + n);
			return { ticketType: SEATED_TYPE, section: "S0", seats: seats };
		}
		return { ticketType: SEATED_TYPE, quantity: quantity };
	};
}

/** The seated scenario's own verdict on the final audit, as sentences. */
export function seatedFailures(audit) {
	const failures = [];
	const named = audit.named;
	if (!named) return ["the audit has no named section: is the engine older than ticket types?"];
	if (named.seatsSoldTwice > 0) failures.push("seats sold twice: " + named.seatsSoldTwice);
	if (named.seatsRecorded !== named.seatsSold) failures.push("D1 has " + named.seatsRecorded + " seats sold; the shards " + named.seatsSold);
	for (const t of named.types) {
		if (t.oversold > 0) failures.push("type " + t.ticketType + " oversold by " + t.oversold);
		if (!t.consistent) failures.push("type " + t.ticketType + ": units sold " + t.sold + ", fans' orders " + t.soldToFans + ", D1 " + t.recorded);
	}
	if (named.noticesPending > 0) failures.push(named.noticesPending + " hold ending(s) never reached their seats' shard");
	if (!named.ok && failures.length === 0) failures.push("the audit's named check failed");
	return failures;
}
