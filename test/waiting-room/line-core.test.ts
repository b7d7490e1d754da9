// A line's synchronous core on its own: join order in the pre-queue, the proof
// a rejoin needs, the close of the sale, slots after the opening and what a
// seal reports, and when a join owes the pacer a wake. No Worker, no RPC: each
// test hands a fresh core the SQLite of a fresh line object and the time as a number.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type JoinInput, type LineConfig, LineCore } from "../../src/waiting-room/line-core";
import { slotOf } from "../../src/waiting-room/placement";
import { SLOT_MS, WAKE_AFTER_MS } from "../../src/waiting-room/timing";
import { Sql } from "../../src/shared/sql";
import { lineStub } from "../support/room";
import { DAY } from "../support/time";

const T0 = Math.ceil((Date.now() + DAY) / SLOT_MS) * SLOT_MS;
const FIRST_SLOT = slotOf(T0);
const CLOSES_AT = T0 + 3_600_000;
const SECRET_HASH = "a".repeat(64);

const lineConfig = (): LineConfig => ({ dropId: "line-core-drop", line: 0, lines: 2, opensAt: new Date(T0).toISOString(), closesAt: new Date(CLOSES_AT).toISOString() });

const joinAs = (fanId: string, over: Partial<JoinInput> = {}): JoinInput => ({
	fanId,
	ip: null,
	limits: { perIp: 0, perFan: 0, loopbackExempt: false },
	acceptNew: true,
	proof: { kind: "secret", offered: null, fresh: SECRET_HASH },
	...over,
});

/** Runs `test` inside a fresh line object with a fresh, configured core over its SQLite. */
function onLine<T>(test: (core: LineCore) => T): Promise<T> {
	return runInDurableObject(lineStub(`line-core-${crypto.randomUUID()}`, 0), (_line, state) => {
		const core = new LineCore(new Sql(state.storage.sql), (fn) => state.storage.transactionSync(fn));
		core.configure(lineConfig());
		return test(core);
	});
}

describe("the line's core", () => {
	it("numbers the pre-queue in join order; a rejoin with the secret finds the same place, a wrong one is refused", async () => {
		const seen = await onLine((core) => {
			const joins = ["a", "b", "c"].map((fan, i) => core.join(joinAs(fan), T0 - 1_000 + i));
			const rejoin = core.join(joinAs("b", { proof: { kind: "secret", offered: SECRET_HASH, fresh: "f".repeat(64) } }), T0 - 10);
			const impostor = core.join(joinAs("b", { proof: { kind: "secret", offered: "0".repeat(64), fresh: "f".repeat(64) } }), T0 - 5);
			return { joins, rejoin, impostor, joined: core.joined(), audit: core.audit() };
		});
		expect(seen.joins.map((j) => j.outcome.ok && j.outcome.value.status === "joined" && j.outcome.value.entry.prequeueSeq)).toEqual([1, 2, 3]);
		// Before the opening nobody wakes the pacer: the opening is its own alarm.
		expect(seen.joins.map((j) => j.wakePacer)).toEqual([false, false, false]);
		expect(seen.rejoin.outcome).toMatchObject({ ok: true, value: { status: "joined", rejoined: true, entry: { prequeueSeq: 2 } } });
		expect(seen.impostor.outcome).toMatchObject({ ok: false, status: 409, code: "fan_id_taken" });
		expect(seen.joined).toBe(3);
		expect(seen.audit).toMatchObject({ joined: 3, prequeue: 3, consistent: true });
	});

	it("refuses every join from the moment the drop closes", async () => {
		const seen = await onLine((core) => {
			core.open(FIRST_SLOT);
			return { before: core.join(joinAs("early"), CLOSES_AT - 1).outcome, at: core.join(joinAs("late"), CLOSES_AT).outcome, joined: core.joined() };
		});
		expect(seen.before.ok).toBe(true);
		expect(seen.at).toMatchObject({ ok: false, status: 409, code: "drop_closed" });
		expect(seen.joined).toBe(1);
	});

	it("after the opening a join takes the present slot, never one already sealed, and a seal reports each slot's count", async () => {
		const seen = await onLine((core) => {
			const prequeue = core.open(FIRST_SLOT);
			const first = [core.join(joinAs("x"), T0 + 10), core.join(joinAs("y"), T0 + 20)];
			const report = core.seal({ from: FIRST_SLOT, through: FIRST_SLOT, placements: [], prequeue: null }, T0 + 30);
			// Still the first slot by this line's clock, but sealed: the join goes into the next.
			const late = core.join(joinAs("z"), T0 + 40);
			const repeated = core.seal({ from: FIRST_SLOT, through: FIRST_SLOT, placements: [{ slot: FIRST_SLOT, start: 7 }], prequeue: null }, T0 + 50);
			return { prequeue, first, report, late, repeated, located: core.locate("y") };
		});
		expect(seen.prequeue).toEqual({ prequeue: 0 });
		expect(seen.first.map((j) => j.outcome)).toMatchObject([
			{ ok: true, value: { entry: { slot: FIRST_SLOT, slotIndex: 0, position: null } } },
			{ ok: true, value: { entry: { slot: FIRST_SLOT, slotIndex: 1, position: null } } },
		]);
		expect(seen.report).toEqual({ line: 0, slots: [{ slot: FIRST_SLOT, count: 2 }] });
		expect(seen.late.outcome).toMatchObject({ ok: true, value: { entry: { slot: FIRST_SLOT + 1, slotIndex: 0 } } });
		// The same seal asked again answers the same, and brings where the slot was placed.
		expect(seen.repeated).toEqual(seen.report);
		expect(seen.located).toMatchObject({ ok: true, value: { slot: FIRST_SLOT, slotIndex: 1, position: 8 } });
	});

	it("while the line count changes: an empty line closes itself in one step and refuses joins until its new settings come; a line with a fan stays open", async () => {
		const seen = await onLine((core) => {
			const closed = core.closeForLineChange(T0 - 500);
			const refused = core.join(joinAs("during-change"), T0 - 800).outcome;
			const stored = core.joined();
			// The pacer's new settings open it again; a pacer that never sends them costs at most until `until`.
			core.configure({ ...lineConfig(), lines: 3 });
			const after = core.join(joinAs("after-change", { lines: 3 }), T0 - 700).outcome;
			const secondClose = core.closeForLineChange(T0 - 100);
			const stillOpen = core.join(joinAs("later", { lines: 3 }), T0 - 600).outcome;
			return { closed, refused, stored, after, secondClose, stillOpen };
		});
		expect(seen.closed).toBe(true);
		expect(seen.refused).toMatchObject({ ok: false, status: 503, code: "try_again" });
		expect(seen.stored).toBe(0);
		expect(seen.after).toMatchObject({ ok: true, value: { status: "joined" } });
		expect(seen.secondClose).toBe(false);
		expect(seen.stillOpen).toMatchObject({ ok: true, value: { status: "joined" } });

		const lapsed = await onLine((core) => {
			core.closeForLineChange(T0 - 500);
			return core.join(joinAs("after-until"), T0 - 499).outcome;
		});
		expect(lapsed).toMatchObject({ ok: true, value: { status: "joined" } });
	});

	it("refuses a join routed by another line count than its own and stores nothing (a Worker's copy of the settings from before a change)", async () => {
		const seen = await onLine((core) => {
			const stale = core.join(joinAs("routed-by-three", { lines: 3 }), T0 - 100).outcome;
			const current = core.join(joinAs("routed-by-two", { lines: 2 }), T0 - 90).outcome;
			return { stale, current, joined: core.joined(), locate: core.locate("routed-by-three") };
		});
		expect(seen.stale).toMatchObject({ ok: false, status: 503, code: "lines_changed" });
		expect(seen.current).toMatchObject({ ok: true, value: { status: "joined" } });
		expect(seen.joined).toBe(1);
		expect(seen.locate).toMatchObject({ ok: false, code: "not_in_queue" });
	});

	it("tells a newcomer of a sold-out drop so and stores nothing; a fan already in line keeps their place", async () => {
		const seen = await onLine((core) => {
			core.join(joinAs("in-line"), T0 - 100);
			const newcomer = core.join(joinAs("newcomer", { acceptNew: false }), T0 - 50).outcome;
			const back = core.join(joinAs("in-line", { acceptNew: false, proof: { kind: "identity" } }), T0 - 40).outcome;
			return { newcomer, back, joined: core.joined(), locate: core.locate("newcomer") };
		});
		expect(seen.newcomer).toEqual({ ok: true, value: { status: "sold_out" } });
		expect(seen.back).toMatchObject({ ok: true, value: { status: "joined", rejoined: true } });
		expect(seen.joined).toBe(1);
		expect(seen.locate).toMatchObject({ ok: false, status: 404, code: "not_in_queue" });
	});

	it("owes the pacer a wake once per quiet spell, and at most one per WAKE_AFTER_MS", async () => {
		const seen = await onLine((core) => {
			core.open(FIRST_SLOT);
			const woke = (fan: string, at: number) => core.join(joinAs(fan), at).wakePacer;
			const first = [woke("a", T0 + 10), woke("b", T0 + 20)];
			// A seal that finds joins: the pacer is awake and ticking.
			core.seal({ from: FIRST_SLOT, through: FIRST_SLOT, placements: [], prequeue: null }, T0 + 100);
			const ticking = woke("c", T0 + 100 + WAKE_AFTER_MS);
			// A seal that finds nobody new: the pacer may go to sleep after it.
			core.seal({ from: FIRST_SLOT + 1, through: FIRST_SLOT + 10, placements: [], prequeue: null }, T0 + 5_000);
			core.seal({ from: FIRST_SLOT + 11, through: FIRST_SLOT + 12, placements: [], prequeue: null }, T0 + 6_000);
			return { first, ticking, quiet: [woke("d", T0 + 6_010), woke("e", T0 + 6_010 + WAKE_AFTER_MS), woke("f", T0 + 6_011 + WAKE_AFTER_MS)] };
		});
		expect(seen.first).toEqual([true, false]);
		expect(seen.ticking).toBe(false);
		// Woken once, then not again within WAKE_AFTER_MS, then again (no seal since).
		expect(seen.quiet).toEqual([true, false, true]);
	});
});
