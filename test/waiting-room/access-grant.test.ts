// A fan's turn as the Worker grants and checks it (src/waiting-room/access-grant.ts), the
// code the status and hold routes and the simulator's fans share: where the batch's time is
// found, when the turn ends (an offer's longer, a window's with the window), the expiry's
// edge, the position a token carries, and what the Worker refuses of a hold.
import { describe, expect, it } from "vitest";
import { accessGrant, admissionSource, holdRefusal } from "../../src/waiting-room/access-grant";
import type { Watermark } from "../../src/waiting-room/watermark";

const T0 = Date.UTC(2030, 0, 1, 12);
const ACCESS = 300;

describe("where the time the fan's batch went in is found", () => {
	const w = { batches: [[100, T0], [200, T0 + 1000]], batchesFrom: 50, batchesComplete: true };
	it("in the listed batches: the first that reaches the fan", () => {
		expect(admissionSource(w, 51)).toEqual({ kind: "listed", at: T0 });
		expect(admissionSource(w, 101)).toEqual({ kind: "listed", at: T0 + 1000 });
		expect(admissionSource(w, 200)).toEqual({ kind: "listed", at: T0 + 1000 });
	});
	it("nowhere, before every listed batch of a whole list; at the pacer when the list was cut short", () => {
		expect(admissionSource(w, 50)).toEqual({ kind: "gone" });
		expect(admissionSource({ ...w, batchesComplete: false }, 50)).toEqual({ kind: "ask" });
		expect(admissionSource({ ...w, batchesComplete: false }, 51)).toEqual({ kind: "listed", at: T0 });
	});
});

describe("an admitted fan's turn", () => {
	const general = { returnsFrom: null, offerSeconds: 900, closesAt: null };

	it("runs a turn's length from the batch, not from the poll that saw it, and is the same on every poll", () => {
		const first = accessGrant(general, { position: 7, at: T0 + 250, window: undefined }, T0 + 1000, ACCESS);
		const later = accessGrant(general, { position: 7, at: T0 + 250, window: undefined }, T0 + 200_000, ACCESS);
		expect(first).toEqual({ kind: "granted", admittedAt: T0 + 250, exp: Math.floor((T0 + 250 + ACCESS * 1000) / 1000), offer: false, tokenPosition: 7 });
		expect(later).toEqual(first);
	});

	it("is over once the clock reaches its expiry (whole seconds), and unknown batches grant nothing", () => {
		const exp = (T0 + ACCESS * 1000) / 1000;
		expect(accessGrant(general, { position: 7, at: T0, window: undefined }, exp * 1000 - 1, ACCESS).kind).toBe("granted");
		expect(accessGrant(general, { position: 7, at: T0, window: undefined }, exp * 1000, ACCESS)).toEqual({ kind: "expired" });
		expect(accessGrant(general, { position: 7, at: null, window: undefined }, T0, ACCESS)).toEqual({ kind: "expired" });
	});

	it("after a sell-out, a fan placed after it is offered a returned ticket: the offer's longer turn; a fan before it keeps a turn's length", () => {
		const sold = { ...general, returnsFrom: 100 };
		const offer = accessGrant(sold, { position: 101, at: T0, window: undefined }, T0, ACCESS);
		expect(offer).toMatchObject({ kind: "granted", offer: true, exp: (T0 + 900_000) / 1000, tokenPosition: 101 });
		expect(accessGrant(sold, { position: 100, at: T0, window: undefined }, T0, ACCESS)).toMatchObject({ offer: false, exp: (T0 + ACCESS * 1000) / 1000 });
		// An offer is never shorter than a turn.
		expect(accessGrant({ ...sold, offerSeconds: 60 }, { position: 101, at: T0, window: undefined }, T0, ACCESS)).toMatchObject({ exp: (T0 + ACCESS * 1000) / 1000 });
	});

	it("a sale window's turn ends with the window at the latest, and its token carries no place in the general sale's line", () => {
		const closes = T0 + 60_000;
		const windowed = { ...general, closesAt: new Date(closes).toISOString() };
		expect(accessGrant(windowed, { position: 5, at: T0, window: "fan-club" }, T0, ACCESS)).toEqual({ kind: "granted", admittedAt: T0, exp: closes / 1000, offer: false, tokenPosition: 0 });
		// The drop's own close does not cut a general-sale turn here: the hold route refuses a closed drop.
		expect(accessGrant(windowed, { position: 5, at: T0, window: undefined }, T0, ACCESS)).toMatchObject({ exp: (T0 + ACCESS * 1000) / 1000, tokenPosition: 5 });
		expect(accessGrant(windowed, { position: 5, at: T0, window: "fan-club" }, closes, ACCESS)).toEqual({ kind: "expired" });
	});
});

describe("what the Worker refuses of a hold before any shard", () => {
	const open = { opensAt: new Date(T0 - 60_000).toISOString(), closesAt: null, paused: false, cancelledAt: null, returnsFrom: null, lastPosition: 500 } as unknown as Watermark;

	it("takes a hold of an open drop, and of a paused one (the fans in their turn keep it)", () => {
		expect(holdRefusal(open, 7, T0)).toEqual({ ok: true, value: null });
		expect(holdRefusal({ ...open, paused: true }, 7, T0).ok).toBe(true);
	});

	it("refuses a cancelled drop and a closed one", () => {
		expect(holdRefusal({ ...open, cancelledAt: new Date(T0 - 1).toISOString() } as Watermark, 7, T0)).toMatchObject({ ok: false, status: 409, code: "drop_cancelled" });
		expect(holdRefusal({ ...open, closesAt: new Date(T0).toISOString() }, 7, T0)).toMatchObject({ ok: false, status: 409, code: "drop_closed" });
		expect(holdRefusal({ ...open, closesAt: new Date(T0 + 1).toISOString() }, 7, T0).ok).toBe(true);
	});

	it("after a sell-out, refuses a turn from before it while anyone is in the line for returned tickets, and takes an offer's", () => {
		const sold = { ...open, returnsFrom: 400 };
		expect(holdRefusal(sold, 400, T0)).toMatchObject({ ok: false, status: 409, code: "returns_in_line" });
		// A token that carries no position reads as a turn from before any sell-out.
		expect(holdRefusal(sold, 0, T0)).toMatchObject({ code: "returns_in_line" });
		expect(holdRefusal(sold, 401, T0).ok).toBe(true);
		// Nobody placed after the sell-out: nobody waits for returns, and the earlier turn holds again.
		expect(holdRefusal({ ...sold, lastPosition: 400 }, 400, T0).ok).toBe(true);
	});
});
