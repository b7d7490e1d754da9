// Drops with ticket types: seats to list, holds of a type's units,
// and a look at a seat's state on the shard that decides it.
import { env, runInDurableObject } from "cloudflare:test";
import { poolKey, poolShard } from "../../src/drops/ticket-types";
import { newKey } from "./fans";
import { shardStub } from "./shards";
import { adminFetch, fanFetch } from "./worker";

export interface SeatJson {
	id: string;
	section: string;
	row: string;
	number: number;
}

/** Seats `<section>-<row>-<n>`: `rows` rows (1, 2, ...) of `perRow` seats numbered 1..perRow. */
export function seatsOf(section: string, rows: number, perRow: number): SeatJson[] {
	const out: SeatJson[] = [];
	for (let r = 1; r <= rows; r++) for (let n = 1; n <= perRow; n++) out.push({ id: `${section}-${r}-${n}`, section, row: String(r), number: n });
	return out;
}

/** The same seats as the promoter's CSV. */
export const seatsCsv = (seats: SeatJson[]) => ["id,section,row,number", ...seats.map((s) => `${s.id},${s.section},${s.row},${s.number}`)].join("\n");

/** A hold of named units (or any hold body). */
export function holdUnits(dropId: string, accessToken: string, body: Record<string, unknown>, key = newKey()): Promise<Response> {
	return fanFetch(`/api/drops/${dropId}/holds`, accessToken, { method: "POST", headers: { "idempotency-key": key }, body: JSON.stringify(body) });
}

/** A seated type's seats uploaded as CSV. */
export function uploadSeats(dropId: string, typeId: string, csv: string, type = "text/csv"): Promise<Response> {
	return adminFetch(`/api/admin/drops/${dropId}/ticket-types/${typeId}/seats`, { method: "PUT", headers: { "content-type": type }, body: csv });
}

/** A section's seats on the shard that decides them: id → state ("free", "held", "sold"). */
export async function seatStates(dropId: string, shards: number, typeId: string, section: string): Promise<Map<string, string>> {
	const shard = poolShard(typeId, poolKey.section(section), shards);
	return runInDurableObject(shardStub(dropId, shard), (_s, state) => {
		const rows = state.storage.sql.exec<{ seat_id: string; state: string }>(`SELECT seat_id, state FROM seats WHERE type_id = ?`, typeId).toArray();
		return new Map(rows.map((r) => [r.seat_id, r.state]));
	});
}

/** Rows in D1's seat directory for a drop. */
export async function seatsInD1(dropId: string): Promise<number> {
	return (await env.DB.prepare(`SELECT COUNT(*) AS n FROM seats WHERE drop_id = ?`).bind(dropId).first<number>("n")) ?? 0;
}

/** Section names whose pools land on different shards of a `shards`-shard drop (for the limit attacks). */
export function sectionsOnDifferentShards(typeId: string, shards: number, count: number): string[] {
	const out: string[] = [];
	const used = new Set<number>();
	for (let i = 0; out.length < count && i < 1000; i++) {
		const name = `S${i}`;
		const shard = poolShard(typeId, poolKey.section(name), shards);
		if (!used.has(shard)) {
			used.add(shard);
			out.push(name);
		}
	}
	return out;
}
