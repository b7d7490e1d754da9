// Seeds for seeded trials and the chi-square statistic, for the tests that
// check a shuffle is uniform.

/** `count` 128-bit hex seeds from splitmix32, an independent generator, so the seeds look like random ones. */
export function seedsFrom(master: number, count: number): string[] {
	let s = master >>> 0;
	const next = () => {
		s = (s + 0x9e3779b9) >>> 0;
		let z = s;
		z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
		z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
		return (z ^ (z >>> 16)) >>> 0;
	};
	return Array.from({ length: count }, () => Array.from({ length: 4 }, () => next().toString(16).padStart(8, "0")).join(""));
}

/** Pearson's chi-square of observed counts against one expected count per cell. */
export const chiSquare = (observed: number[], expected: number) => observed.reduce((sum, o) => sum + (o - expected) ** 2 / expected, 0);
