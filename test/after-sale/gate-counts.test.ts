// Counts per gate: each device registers at a named gate; what a device admitted
// (its synced scans and the online scans it asked for) counts toward it and its
// gate, once however often an upload is repeated, a revoked device's past scans
// too; the device's list carries its gate's count; an online scan names the device
// that asked, in the counts and in a double entry; a revoked or unknown device's
// online scan admits nothing.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buyWith, orderReaches, scan } from "../support/after-sale";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { doubleEntriesOf, gateDevices, listOf, registerAt, scanAs, signedScan, uploadScans } from "../support/gate-devices";
import { adminFetch } from "../support/worker";

async function ticketedDrop(fanId: string, quantity: number) {
	const drop = await createDrop({ admission: WIDE_OPEN, maxPerFan: quantity });
	const bought = await buyWith(drop.id, fanId, { quantity });
	const order = await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
	const token = (code: string) => order.passes.find((p) => p.code === code)!.token!;
	return { drop, tickets: bought.tickets, token };
}

const scannedAt = (code: string) => env.DB.prepare(`SELECT scanned_at FROM tickets WHERE code = ?`).bind(code).first<string | null>("scanned_at");

describe("counts per gate", () => {
	it("each device's and each gate's admissions count synced and online scans once, a revoked device's too; the list carries its gate's count", async () => {
		const { drop, tickets, token } = await ticketedDrop("fan-gate-counts", 5);
		const [a, b, c, d, e] = tickets as [string, string, string, string, string];
		const north1 = await registerAt(drop.id, "North phone 1", "North entrance");
		const north2 = await registerAt(drop.id, "North phone 2", "North entrance");
		const south = await registerAt(drop.id, "South phone", "South entrance");
		const plain = await registerAt(drop.id, "Box office");
		expect(north1.list.gate).toEqual({ name: "North entrance", admitted: 0 });

		// North 1 is online: the engine's scan admits, naming it.
		const online = await scanAs(drop.id, token(a), north1.id);
		expect(online.status, await online.clone().text()).toBe(200);
		// North 2 and South were offline: they sync later, South twice.
		expect((await uploadScans(north2, [await signedScan(north2, b, "admitted"), await signedScan(north2, e, "refused")])).status).toBe(200);
		const southScans = [await signedScan(south, c, "admitted")];
		for (let i = 0; i < 2; i++) expect((await uploadScans(south, southScans)).status).toBe(200);
		// A scanner with the deployment's gate token, naming no device.
		expect((await scan(drop.id, token(d))).status).toBe(200);

		const seen = await gateDevices(drop.id);
		expect(seen.devices.map((x) => [x.name, x.gate, x.admitted, x.refused, x.lastSyncAt !== null])).toEqual([
			["North phone 1", "North entrance", 1, 0, true],
			["North phone 2", "North entrance", 1, 1, true],
			["South phone", "South entrance", 1, 0, true],
			["Box office", "Main gate", 0, 0, false],
		]);
		const latestNorth = [seen.devices[0]!.lastSyncAt!, seen.devices[1]!.lastSyncAt!].sort().at(-1);
		expect(seen.gates).toEqual([
			{ gate: "North entrance", devices: 2, active: 2, admitted: 2, refused: 1, lastSyncAt: latestNorth },
			{ gate: "South entrance", devices: 1, active: 1, admitted: 1, refused: 0, lastSyncAt: seen.devices[2]!.lastSyncAt },
			{ gate: "Main gate", devices: 1, active: 1, admitted: 0, refused: 0, lastSyncAt: null },
		]);
		expect(seen.onlineWithoutDevice).toBe(1);
		expect((await listOf(north2)).gate).toEqual({ name: "North entrance", admitted: 2 });
		expect((await listOf(plain)).gate).toEqual({ name: "Main gate", admitted: 0 });
		// None of these is a double entry: the online admission with its device's row is one admission.
		expect(await doubleEntriesOf(drop.id)).toEqual([]);

		// Revoked, North 2's past admissions still count toward it and its gate; it is no longer active.
		expect((await adminFetch(`/api/admin/drops/${drop.id}/gate/devices/${north2.id}/revoke`, { method: "POST" })).status).toBe(200);
		const after = await gateDevices(drop.id);
		expect(after.gates[0]).toMatchObject({ gate: "North entrance", devices: 2, active: 1, admitted: 2 });
	});

	it("an online scan that names its device is a double entry naming that device when another device admitted the ticket offline", async () => {
		const { drop, tickets, token } = await ticketedDrop("fan-gate-online-double", 1);
		const [ticket] = tickets as [string];
		const door = await registerAt(drop.id, "Door phone", "West entrance");
		const offline = await registerAt(drop.id, "Offline phone", "East entrance");
		expect((await scanAs(drop.id, token(ticket), door.id)).status).toBe(200);
		expect((await uploadScans(offline, [await signedScan(offline, ticket, "admitted")])).status).toBe(200);
		const found = await doubleEntriesOf(drop.id);
		expect(found).toHaveLength(1);
		expect(found[0]!.admissions.map((x) => [x.deviceId, x.deviceName, x.via])).toEqual([
			[door.id, "Door phone", "online"],
			[offline.id, "Offline phone", "device"],
		]);
		const { gates } = await gateDevices(drop.id);
		expect(gates.map((g) => [g.gate, g.admitted])).toEqual([
			["West entrance", 1],
			["East entrance", 1],
		]);
	});

	it("an online scan naming a revoked, unknown or another drop's device admits nothing", async () => {
		const { drop, tickets, token } = await ticketedDrop("fan-gate-online-refused", 1);
		const other = await ticketedDrop("fan-gate-online-other", 1);
		const [ticket] = tickets as [string];
		const lost = await registerAt(drop.id, "Lost phone", "North entrance");
		const elsewhere = await registerAt(other.drop.id, "Elsewhere", "North entrance");
		expect((await adminFetch(`/api/admin/drops/${drop.id}/gate/devices/${lost.id}/revoke`, { method: "POST" })).status).toBe(200);
		const revoked = await scanAs(drop.id, token(ticket), lost.id);
		expect(revoked.status).toBe(403);
		expect(((await revoked.json()) as { error: { code: string } }).error.code).toBe("device_revoked");
		for (const id of ["gd_nosuchdevice", elsewhere.id]) {
			const res = await scanAs(drop.id, token(ticket), id);
			expect(res.status).toBe(404);
		}
		expect(await scannedAt(ticket)).toBeNull();
		const rows = await env.DB.prepare(`SELECT COUNT(*) AS n FROM gate_scans WHERE drop_id = ?`).bind(drop.id).first<number>("n");
		expect(rows).toBe(0);
		const registered = await env.DB.prepare(`SELECT gate FROM gate_devices WHERE device_id = ?`).bind(lost.id).first<string>("gate");
		expect(registered).toBe("North entrance");
	});

	it("an online admission whose answer the device lost, uploaded again as its own signed scan, counts once and is no double entry", async () => {
		const { drop, tickets, token } = await ticketedDrop("fan-gate-lost-answer", 1);
		const [a] = tickets as [string];
		const door = await registerAt(drop.id, "Door phone", "West entrance");
		// The online scan is admitted, but its answer never reaches the device, which keeps its own offline admission.
		expect((await scanAs(drop.id, token(a), door.id)).status).toBe(200);
		const kept = await signedScan(door, a, "admitted");
		expect(await (await uploadScans(door, [kept])).json()).toMatchObject({ accepted: 0, duplicates: 1 });
		expect(await doubleEntriesOf(drop.id)).toEqual([]);
		const { devices } = await gateDevices(drop.id);
		expect(devices.map((d) => [d.name, d.admitted])).toEqual([["Door phone", 1]]);
	});
});
