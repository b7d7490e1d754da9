// The drop's audit (GET /api/admin/drops/:id/audit), and the verdict every
// inventory test ends with.
import { expect } from "vitest";
import type { Audit } from "../../src/sales/audit";
import { adminFetch } from "./worker";

/** The audit; `graceSeconds` 0 counts every sale missing from D1 as lost, however recent. */
export async function audit(dropId: string, graceSeconds?: number): Promise<Audit> {
	const res = await adminFetch(`/api/admin/drops/${dropId}/audit${graceSeconds === undefined ? "" : `?graceSeconds=${graceSeconds}`}`);
	if (res.status !== 200) throw new Error(`audit: ${res.status} ${await res.text()}`);
	return (await res.json()) as Audit;
}

/** The audit finds nothing oversold, lost or unaccounted for, and the totals add up to capacity. */
export async function expectCleanAudit(dropId: string, graceSeconds?: number): Promise<Audit> {
	const a = await audit(dropId, graceSeconds);
	expect(a.oversold).toBe(0);
	expect(a.lost).toBe(0);
	expect(a.phantom).toBe(0);
	expect(a.balanced).toBe(true);
	expect(a.totals.sold + a.totals.held + a.totals.remaining + a.totals.inFlight).toBe(a.capacity);
	expect(a.totals.sold).toBeLessThanOrEqual(a.capacity);
	for (const s of a.shards) {
		expect(s.sold + s.held + s.remaining).toBe(s.accountable);
		expect(s.remaining).toBeGreaterThanOrEqual(0);
	}
	return a;
}
