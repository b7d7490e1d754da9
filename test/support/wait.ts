// Bounded waits. A test that waits for something names what it waits for and
// how long at most, so a regression fails at once saying so, instead of
// hanging until the test's own timeout.

/** Waits, `everyMs` at a time (default 1 ms), until `condition` holds; fails after `ms` saying what it waited for. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, ms: number, why: string, everyMs = 1): Promise<void> {
	const deadline = Date.now() + ms;
	while (!(await condition())) {
		if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${why}`);
		await new Promise((resolve) => setTimeout(resolve, everyMs));
	}
}
