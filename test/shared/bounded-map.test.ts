// The one bounded map every per-isolate cache and memo uses: never more than its
// limit, the oldest set goes first, and setting a key again makes it the newest.
import { describe, expect, it } from "vitest";
import { BoundedMap } from "../../src/shared/bounded-map";

describe("BoundedMap", () => {
	it("keeps at most its limit, dropping the oldest set first", () => {
		const map = new BoundedMap<string, number>(3);
		for (let i = 0; i < 10; i++) map.set(`k${i}`, i);
		expect(map.size).toBe(3);
		expect([...map.entries()]).toEqual([
			["k7", 7],
			["k8", 8],
			["k9", 9],
		]);
	});

	it("a key set again becomes the newest, so it outlives keys set after it the first time", () => {
		const map = new BoundedMap<string, number>(2);
		map.set("a", 1).set("b", 2).set("a", 3).set("c", 4);
		expect([...map.entries()]).toEqual([
			["a", 3],
			["c", 4],
		]);
		expect(map.has("b")).toBe(false);
	});

	it("is a Map for readers: get, has, delete and iteration behave as Map's", () => {
		const map = new BoundedMap<number, string>(5);
		map.set(1, "one").set(2, "two");
		expect(map).toBeInstanceOf(Map);
		expect(map.get(2)).toBe("two");
		expect(map.delete(1)).toBe(true);
		expect([...map.keys()]).toEqual([2]);
	});
});
