// Drops as the promoter makes and reads them through the admin API.
import { env } from "cloudflare:test";
import { expect } from "vitest";
import type { DropConfig } from "../../src/drops/rules";
import { adminFetch } from "./worker";

/** Admission that lets every fan in at once: for tests about holds and sales, not the queue. */
export const WIDE_OPEN = { batchSize: 10_000, intervalMs: 250, activeMultiple: 20 };

/** A drop as the admin API answers it: its configuration and the commitment to its seed. */
export type DropJson = DropConfig & { seedCommitment: string };

export type DropView = DropJson & { stats: Record<string, number> };

/** A drop that opened a second ago, 100 tickets on one shard, unless `overrides` say otherwise. */
export async function createDrop(overrides: Record<string, unknown> = {}): Promise<DropJson> {
	const res = await adminFetch("/api/admin/drops", {
		method: "POST",
		body: JSON.stringify({
			name: "Test drop",
			capacity: 100,
			maxPerFan: 4,
			opensAt: new Date(Date.now() - 1000).toISOString(),
			shards: 1,
			admission: { batchSize: 1000, intervalMs: 250, activeMultiple: 20 },
			...overrides,
		}),
	});
	if (res.status !== 201) throw new Error(`createDrop: ${res.status} ${await res.text()}`);
	return (await res.json()) as DropJson;
}

/** The promoter's view of a drop, with its live stats. */
export async function getDrop(dropId: string): Promise<DropView> {
	const res = await adminFetch(`/api/admin/drops/${dropId}`);
	expect(res.status).toBe(200);
	return (await res.json()) as DropView;
}

export function patchDropRequest(dropId: string, body: unknown): Promise<Response> {
	return adminFetch(`/api/admin/drops/${dropId}`, { method: "PATCH", body: JSON.stringify(body) });
}

/** A change the promoter makes that must be accepted; the drop as it is after. */
export async function patchDrop(dropId: string, body: Record<string, unknown>): Promise<DropView> {
	const res = await patchDropRequest(dropId, body);
	expect(res.status).toBe(200);
	return (await res.json()) as DropView;
}

/** How many drops D1 holds: a refused request must not change it. */
export async function dropsInD1(): Promise<number> {
	return (await env.DB.prepare(`SELECT COUNT(*) AS n FROM drops`).first<number>("n")) ?? 0;
}
