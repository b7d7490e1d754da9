// The audit's comparison of order ids, shard by shard against D1: exact whatever
// the page size, bounded in what it reads at once, and never calling a sale made
// during the walk a row that no shard sold.
import { env } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type IdSources, compareDropOrderIds, compareOrderIds } from "../../src/sales/order-ids";
import type { RecordedId } from "../../src/sales/store";
import { createDrop } from "../support/drops";
import { buy, deleteFromD1, recordSales, saleMessage, waitForOrders } from "../support/sales";

/** A drop seen from outside: each shard's ids (and which are recent), and D1's rows. */
interface World {
	shards: { ids: Set<string>; recent: Set<string> }[];
	recorded: RecordedId[];
}

const byKey = (a: RecordedId, b: RecordedId) => a.shard - b.shard || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Sources over a world, checking every read stays within its page; `between` runs before each read. */
function sourcesOver(world: World, reads: { d1: number; shard: number; largest: number }, between: () => void = () => {}): IdSources {
	return {
		async recordedPage(after, limit) {
			between();
			reads.d1++;
			const rows = [...world.recorded].sort(byKey).filter((r) => after === null || byKey(r, after) > 0).slice(0, limit);
			reads.largest = Math.max(reads.largest, rows.length);
			return rows;
		},
		async shardPage(shard, { after, through, limit }) {
			between();
			reads.shard++;
			const s = world.shards[shard]!;
			const ids = [...s.ids].sort().filter((id) => (after === null || id > after) && (through === null || id <= through)).slice(0, limit);
			reads.largest = Math.max(reads.largest, ids.length);
			return { ids, recent: ids.filter((id) => s.recent.has(id)), next: ids.length === limit ? ids[ids.length - 1]! : null };
		},
	};
}

/** What the comparison must find, from whole sets. */
function expected(world: World) {
	return {
		shards: world.shards.map((s, shard) => {
			const inD1 = new Set(world.recorded.filter((r) => r.shard === shard).map((r) => r.id));
			const absent = [...s.ids].filter((id) => !inD1.has(id)).sort();
			return {
				shard,
				missingInD1: absent.filter((id) => !s.recent.has(id)),
				inTransit: absent.filter((id) => s.recent.has(id)),
				unknownInD1: [...inD1].filter((id) => !s.ids.has(id)).sort(),
			};
		}),
		otherShards: world.recorded.filter((r) => r.shard < 0 || r.shard >= world.shards.length).sort(byKey).map((r) => r.id),
	};
}

const id = (shard: number, n: number) => `o_${shard}_${String(n).padStart(16, "A")}`;

const worlds = fc
	.record({
		shards: fc.integer({ min: 1, max: 4 }),
		orders: fc.array(fc.record({ shard: fc.integer({ min: 0, max: 3 }), n: fc.integer({ min: 0, max: 60 }), inD1: fc.boolean(), recent: fc.boolean() }), { maxLength: 80 }),
		forged: fc.array(fc.record({ shard: fc.integer({ min: -1, max: 5 }), n: fc.integer({ min: 0, max: 60 }) }), { maxLength: 10 }),
	})
	.map(({ shards, orders, forged }): World => {
		const world: World = { shards: Array.from({ length: shards }, () => ({ ids: new Set<string>(), recent: new Set<string>() })), recorded: [] };
		const seen = new Set<string>();
		for (const o of orders) {
			const shard = o.shard % shards;
			const oid = id(shard, o.n);
			if (seen.has(oid)) continue;
			seen.add(oid);
			world.shards[shard]!.ids.add(oid);
			if (o.recent) world.shards[shard]!.recent.add(oid);
			if (o.inD1) world.recorded.push({ shard, id: oid });
		}
		for (const f of forged) {
			const oid = `${id(Math.abs(f.shard), f.n)}x`;
			if (seen.has(oid)) continue;
			seen.add(oid);
			world.recorded.push({ shard: f.shard, id: oid });
		}
		return world;
	});

describe("order ids set against D1", () => {
	it("finds exactly the missing, in-transit and unknown ids whatever the page size, reading at most a page at a time", async () => {
		await fc.assert(
			fc.asyncProperty(worlds, fc.integer({ min: 1, max: 7 }), async (world, pageSize) => {
				const reads = { d1: 0, shard: 0, largest: 0 };
				const result = await compareOrderIds(sourcesOver(world, reads), world.shards.length, { pageSize, sample: 1_000 });
				const want = expected(world);
				expect(result.shards.map((s) => ({ shard: s.shard, missingInD1: s.missingInD1.ids, inTransit: s.inTransit.ids, unknownInD1: s.unknownInD1.ids }))).toEqual(want.shards);
				expect(result.otherShards.ids).toEqual(want.otherShards);
				expect(reads.largest).toBeLessThanOrEqual(pageSize);
				// Paged, not one read: D1 is read about once per page of its rows (plus one per shard boundary at most).
				expect(reads.d1).toBeLessThanOrEqual(Math.ceil(world.recorded.length / pageSize) + 1);
			}),
			{ numRuns: 300 },
		);
	});

	it("counts every id but names at most the sample", async () => {
		const world: World = { shards: [{ ids: new Set(), recent: new Set() }], recorded: [] };
		for (let n = 0; n < 120; n++) world.shards[0]!.ids.add(id(0, n));
		for (let n = 0; n < 70; n++) world.recorded.push({ shard: 0, id: `${id(0, n)}z` });
		const result = await compareOrderIds(sourcesOver(world, { d1: 0, shard: 0, largest: 0 }), 1, { pageSize: 8 });
		expect(result.shards[0]!.missingInD1.count).toBe(120);
		expect(result.shards[0]!.missingInD1.ids).toEqual([...world.shards[0]!.ids].sort().slice(0, 50));
		expect(result.shards[0]!.unknownInD1.count).toBe(70);
		expect(result.shards[0]!.unknownInD1.ids).toHaveLength(50);
	});

	it("a sale made while the walk runs is never a row that no shard sold, nor lost", async () => {
		let seenInTransit = 0;
		await fc.assert(
			fc.asyncProperty(worlds, fc.integer({ min: 1, max: 5 }), fc.array(fc.nat({ max: 60 }), { maxLength: 30 }), async (generated, pageSize, arrivals) => {
				// A copy: sales arrive in it, and fast-check may run the generated world again while shrinking.
				const world: World = {
					shards: generated.shards.map((s) => ({ ids: new Set(s.ids), recent: new Set(s.recent) })),
					recorded: [...generated.recorded],
				};
				// Before each read, maybe a new sale: in its shard at once (recent), and in D1 at once too,
				// so it may be seen on one side of a boundary and not the other.
				const before = expected(world);
				let step = 0;
				const between = () => {
					const n = arrivals[step++];
					if (n === undefined) return;
					const shard = n % world.shards.length;
					const oid = `${id(shard, n)}new${step}`;
					world.shards[shard]!.ids.add(oid);
					world.shards[shard]!.recent.add(oid);
					world.recorded.push({ shard, id: oid });
				};
				const result = await compareOrderIds(sourcesOver(world, { d1: 0, shard: 0, largest: 0 }, between), world.shards.length, { pageSize, sample: 1_000 });
				result.shards.forEach((s, k) => {
					expect(s.unknownInD1.ids).toEqual(before.shards[k]!.unknownInD1);
					expect(s.missingInD1.ids).toEqual(before.shards[k]!.missingInD1);
					for (const t of s.inTransit.ids) expect(t.includes("new") || before.shards[k]!.inTransit.includes(t)).toBe(true);
					seenInTransit += s.inTransit.ids.filter((t) => t.includes("new")).length;
				});
			}),
			{ numRuns: 300 },
		);
		// The race happened: some sales were read in their shard after D1 had been read past them.
		expect(seenInTransit).toBeGreaterThan(0);
	});

	it("pages through real shards and D1 to the same answer as one big page", async () => {
		const drop = await createDrop({ capacity: 40, shards: 3, maxPerFan: 2 });
		const bought = [];
		for (let i = 0; i < 9; i++) bought.push(await buy(drop.id, `fan-pages-${i}`, 1));
		await waitForOrders(drop.id, 9);
		// Two sales lost from D1, three invented rows (on shards 0 and 2, and on a shard the drop does not have).
		for (const b of bought.slice(0, 2)) await deleteFromD1(b.orderId);
		const forged = [saleMessage({ dropId: drop.id, shard: 0, quantity: 1 }), saleMessage({ dropId: drop.id, shard: 2, quantity: 1 }), saleMessage({ dropId: drop.id, shard: 7, quantity: 1 })];
		await recordSales(forged, "forged");

		const whole = await compareDropOrderIds(env, drop, 0);
		expect(whole.shards.reduce((n, s) => n + s.missingInD1.count, 0)).toBe(2);
		expect(whole.shards.flatMap((s) => s.missingInD1.ids).sort()).toEqual(bought.slice(0, 2).map((b) => b.orderId).sort());
		expect(whole.shards.flatMap((s) => s.unknownInD1.ids).sort()).toEqual([forged[0]!.orderId, forged[1]!.orderId].sort());
		expect(whole.otherShards).toEqual({ count: 1, ids: [forged[2]!.orderId] });
		for (const pageSize of [1, 2, 3]) expect(await compareDropOrderIds(env, drop, 0, { pageSize })).toEqual(whole);
	});
});
