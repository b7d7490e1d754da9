// Promoters and their keys, as the operator and the promoters make them through the admin API.
import { expect } from "vitest";
import type { DropJson } from "./drops";
import { adminFetch } from "./worker";

export interface PromoterJson {
	id: string;
	name: string;
	apiKey: string;
	key: { id: string; label: string; role: string };
	limits: Record<string, number | null>;
}

/** A new promoter made by the operator: its id and its first owner key. */
export async function createPromoter(name = "Promoter", limits?: Record<string, number | null>): Promise<PromoterJson> {
	const res = await adminFetch("/api/admin/promoters", { method: "POST", body: JSON.stringify({ name, ...(limits ? { limits } : {}) }) });
	expect(res.status, await res.clone().text()).toBe(201);
	return (await res.json()) as PromoterJson;
}

/** A request made with a promoter's key instead of the operator's token. */
export function keyFetch(apiKey: string, path: string, init: RequestInit = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	headers.set("authorization", `Bearer ${apiKey}`);
	if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
	return adminFetch(path, { ...init, headers });
}

/** A new key minted by an owner key (or the operator's token, naming the promoter). */
export async function mintKey(ownerKey: string, role: "owner" | "staff" | "gate", label = `${role} key`): Promise<{ id: string; apiKey: string }> {
	const res = await keyFetch(ownerKey, "/api/admin/keys", { method: "POST", body: JSON.stringify({ label, role }) });
	expect(res.status, await res.clone().text()).toBe(201);
	return (await res.json()) as { id: string; apiKey: string };
}

/** A drop made with a promoter's key: it belongs to that promoter. */
export async function createDropAs(apiKey: string, overrides: Record<string, unknown> = {}): Promise<DropJson> {
	const res = await keyFetch(apiKey, "/api/admin/drops", {
		method: "POST",
		body: JSON.stringify({
			name: "Promoter drop",
			capacity: 10,
			maxPerFan: 2,
			opensAt: new Date(Date.now() - 1000).toISOString(),
			shards: 1,
			admission: { batchSize: 1000, intervalMs: 250, activeMultiple: 20 },
			...overrides,
		}),
	});
	expect(res.status, await res.clone().text()).toBe(201);
	return (await res.json()) as DropJson;
}
