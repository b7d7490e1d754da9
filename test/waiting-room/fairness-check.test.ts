// The public check of a drop's fairness (loadtest/lib/fairness.js, used by
// `npm run verify-fairness`, the Node runner and k6) against the engine's own
// placement code and a real drop's published data: an auditor's copy that
// disagreed with the engine would be worse than none.
import { describe, expect, it } from "vitest";
import { checkFairness, prequeuePosition as publicPosition, prequeueOrder as publicOrder } from "../../loadtest/lib/fairness.js";
import { prequeueOrder, prequeuePosition } from "../../src/waiting-room/placement";
import { createDrop } from "../support/drops";
import { join, status } from "../support/fans";
import { openRoom } from "../support/room";
import { callWorker } from "../support/worker";
import { sha256Hex } from "../../src/shared/crypto";

const seeds = ["00000000000000000000000000000000", "ffffffffffffffffffffffffffffffff", "0123456789abcdef0123456789abcdef", "9e3779b97f4a7c15f39cc0605cedc834"];

describe("the public re-derivation", () => {
	it("draws exactly the engine's order for any seed and any spread over lines", () => {
		for (const seed of seeds) {
			for (const size of [0, 1, 2, 17, 1000]) expect(Array.from(publicOrder(seed, size))).toEqual(Array.from(prequeueOrder(seed, size)));
			const counts = [5, 0, 12, 1, 7];
			counts.forEach((n, line) => {
				for (let place = 1; place <= n; place++) expect(publicPosition(seed, counts, line, place)).toBe(prequeuePosition(seed, counts, line, place));
			});
		}
	});

	it("checks a real drop's published data and every fan's position, and flags a position or seed that is not the derived one", async () => {
		const opensAt = Date.now() + 3600_000;
		const drop = await createDrop({ capacity: 50, lines: 3, opensAt: new Date(opensAt).toISOString() });
		const fans = await Promise.all(Array.from({ length: 30 }, (_, i) => join(drop.id, `audited-${i}`)));
		await openRoom(drop.id, opensAt);
		const told = await Promise.all(
			fans.map(async (f) => {
				const s = await status(drop.id, f.queueToken);
				const j = f as unknown as { line: number; prequeuePlace: number };
				return { line: j.line, prequeuePlace: j.prequeuePlace, position: s.position as number };
			}),
		);
		const fairness = await (await callWorker(`/api/drops/${drop.id}/fairness`)).json();
		const hex = await sha256Hex((fairness as { seed: string }).seed);
		const clean = checkFairness(fairness, told, { sha256Hex: () => hex, publishedCommitment: (drop as unknown as { seedCommitment: string }).seedCommitment });
		expect(clean.failures).toEqual([]);
		expect(clean.stats).toMatchObject({ prequeueChecked: 30, commitmentOk: true });

		// One fan told the wrong place, and a seed that is not the committed one: both caught.
		const swapped = told.map((t, i) => (i === 0 ? { ...t, position: told[1]!.position } : t));
		expect(checkFairness(fairness, swapped, { sha256Hex: () => hex }).failures.length).toBeGreaterThan(0);
		const forged = { ...(fairness as object), seed: seeds[2] };
		expect(checkFairness(forged, told, { sha256Hex: () => "00".repeat(32) }).faults.commitment).toBe(1);
	});
});
