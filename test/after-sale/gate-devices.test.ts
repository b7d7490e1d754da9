// Gate devices: registered with a key pair they made, handed the drop's ticket
// list (each ticket's own secret, never the drop's gate key), uploading scans
// they signed. The same ticket admitted offline on two devices is one double
// entry once both have synced; an upload repeated counts once; a revoked device's
// uploads are refused and write nothing; a refunded ticket reads refunded in the
// next list; bad input is a 4xx that writes nothing.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DeviceRegistered, DoubleEntries, GateDeviceList, ScansUploaded, TicketListAnswer } from "../../src/contract/gate-answers";
import { dropGate } from "../../src/after-sale/gate-store";
import { buyWith, orderReaches, refund, scan } from "../support/after-sale";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { createDropAs, createPromoter, keyFetch, mintKey } from "../support/tenants";
import { adminFetch, callWorker } from "../support/worker";

const GATE = { authorization: `Bearer ${env.GATE_TOKEN}`, "content-type": "application/json" };

function b64url(bytes: ArrayBuffer): string {
	return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

interface Device {
	id: string;
	dropId: string;
	keys: CryptoKeyPair;
	list: TicketListAnswer;
}

async function keyPair(): Promise<{ keys: CryptoKeyPair; publicKey: { kty: string; crv: string; x: string; y: string } }> {
	const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
	const jwk = (await crypto.subtle.exportKey("jwk", keys.publicKey)) as JsonWebKey;
	return { keys, publicKey: { kty: "EC", crv: "P-256", x: jwk.x!, y: jwk.y! } };
}

function registerRequest(dropId: string, body: unknown, headers: Record<string, string> = GATE): Promise<Response> {
	return callWorker(`/api/admin/drops/${dropId}/gate/devices`, { method: "POST", headers, body: JSON.stringify(body) });
}

async function register(dropId: string, name: string): Promise<Device> {
	const { keys, publicKey } = await keyPair();
	const res = await registerRequest(dropId, { name, publicKey });
	expect(res.status, await res.clone().text()).toBe(201);
	const body = (await res.json()) as DeviceRegistered;
	return { id: body.device.id, dropId, keys, list: body.list };
}

let scanSeq = 0;
/** A scan as the device signs it. */
async function signed(device: Device, ticket: string, result: "admitted" | "refused", at = new Date().toISOString(), scanId = `scan-${++scanSeq}-${crypto.randomUUID()}`) {
	const message = ["gate-scan", device.dropId, device.id, scanId, ticket, at, result].join("\n");
	const signature = b64url(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, device.keys.privateKey, new TextEncoder().encode(message)));
	return { scanId, ticket, at, result, signature };
}

function upload(device: Device, scans: unknown[]): Promise<Response> {
	return callWorker(`/api/admin/drops/${device.dropId}/gate/devices/${device.id}/scans`, { method: "POST", headers: GATE, body: JSON.stringify({ scans }) });
}

async function listOf(device: Device): Promise<Response> {
	return callWorker(`/api/admin/drops/${device.dropId}/gate/devices/${device.id}/list`, { headers: GATE });
}

async function doubles(dropId: string): Promise<DoubleEntries["doubleEntries"]> {
	const res = await adminFetch(`/api/admin/drops/${dropId}/gate/double-entries`);
	expect(res.status).toBe(200);
	return ((await res.json()) as DoubleEntries).doubleEntries;
}

const scansIn = async (dropId: string) => (await env.DB.prepare(`SELECT COUNT(*) AS n FROM gate_scans WHERE drop_id = ?`).bind(dropId).first<number>("n"))!;

async function ticketedDrop(fanId: string, quantity = 2) {
	const drop = await createDrop({ admission: WIDE_OPEN });
	const bought = await buyWith(drop.id, fanId, { quantity });
	await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
	return { drop, bought };
}

describe("gate devices", () => {
	it("a device is handed every ticket with its own secret and the engine's keys, never the drop's gate key", async () => {
		const { drop, bought } = await ticketedDrop("fan-device-list");
		const device = await register(drop.id, "North door");
		expect(device.list.tickets.map((t) => t.code).sort()).toEqual([...bought.tickets].sort());
		expect(device.list.tickets.every((t) => t.state === "valid" && /^[A-Za-z0-9_-]{43}$/.test(t.secret!))).toBe(true);
		expect(device.list.keys.length).toBeGreaterThan(0);
		const gateKey = (await dropGate(env.DB, drop.id)).gateKey;
		expect(JSON.stringify(device.list)).not.toContain(gateKey);
		const log = await env.DB.prepare(`SELECT action, detail FROM activity WHERE drop_id = ? AND action = 'gate.device_registered'`).bind(drop.id).all<{ detail: string }>();
		expect(log.results.map((r) => JSON.parse(r.detail).deviceId)).toEqual([device.id]);
	});

	it("the same ticket admitted offline on two devices is one double entry, once, after both sync; repeated uploads count once", async () => {
		const { drop, bought } = await ticketedDrop("fan-device-double");
		const [ticket, other] = bought.tickets as [string, string];
		const north = await register(drop.id, "North door");
		const south = await register(drop.id, "South door");
		const northScan = await signed(north, ticket, "admitted", new Date(Date.now() - 60_000).toISOString());
		const southScan = await signed(south, ticket, "admitted", new Date(Date.now() - 30_000).toISOString());
		const northOther = await signed(north, other, "admitted");

		const first = await upload(north, [northScan, northOther]);
		expect(first.status, await first.clone().text()).toBe(200);
		expect(await first.json()).toMatchObject({ accepted: 2, duplicates: 0 });
		expect(await doubles(drop.id)).toEqual([]);
		// The online scan now refuses the ticket the device admitted: the engine knows it is used.
		const online = await scan(drop.id, (await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"])).passes.find((p) => p.code === ticket)!.token!);
		expect(online.status).toBe(409);

		for (let i = 0; i < 2; i++) {
			const res = await upload(south, [southScan]);
			expect(res.status).toBe(200);
			expect(((await res.json()) as ScansUploaded).accepted).toBe(i === 0 ? 1 : 0);
		}
		const again = (await (await upload(north, [northScan, northOther])).json()) as ScansUploaded;
		expect(again).toMatchObject({ accepted: 0, duplicates: 2 });
		expect(await scansIn(drop.id)).toBe(3);

		const found = await doubles(drop.id);
		expect(found).toEqual([
			{
				ticket,
				admissions: [
					{ code: ticket, deviceId: north.id, deviceName: "North door", via: "device", at: northScan.at },
					{ code: ticket, deviceId: south.id, deviceName: "South door", via: "device", at: southScan.at },
				],
			},
		]);
		const devices = ((await (await adminFetch(`/api/admin/drops/${drop.id}/gate/devices`)).json()) as GateDeviceList).devices;
		expect(devices.map((d) => [d.name, d.admitted, d.lastSyncAt !== null])).toEqual([
			["North door", 2, true],
			["South door", 1, true],
		]);
		const list = (await (await listOf(south)).json()) as TicketListAnswer;
		expect(list.tickets.find((t) => t.code === ticket)!.state).toBe("used");
	});

	it("a ticket admitted online and then by a device offline is a double entry naming the online scan", async () => {
		const { drop, bought } = await ticketedDrop("fan-device-online", 1);
		const order = await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		expect((await scan(drop.id, order.passes[0]!.token!)).status).toBe(200);
		const device = await register(drop.id, "Side door");
		expect(device.list.tickets[0]!.state).toBe("used");
		expect((await upload(device, [await signed(device, bought.tickets[0]!, "admitted")])).status).toBe(200);
		const found = await doubles(drop.id);
		expect(found).toHaveLength(1);
		expect(found[0]!.admissions.map((a) => a.deviceId)).toEqual([null, device.id]);
	});

	it("a revoked device's uploads and list downloads are refused with 403 and nothing is written; its earlier scans stay", async () => {
		const { drop, bought } = await ticketedDrop("fan-device-revoked");
		const device = await register(drop.id, "Lost phone");
		expect((await upload(device, [await signed(device, bought.tickets[0]!, "admitted")])).status).toBe(200);
		const revoked = await adminFetch(`/api/admin/drops/${drop.id}/gate/devices/${device.id}/revoke`, { method: "POST" });
		expect(revoked.status).toBe(200);
		expect(await revoked.json()).toMatchObject({ changed: true, device: { id: device.id } });
		const before = await scansIn(drop.id);
		const refused = await upload(device, [await signed(device, bought.tickets[1]!, "admitted")]);
		expect(refused.status).toBe(403);
		expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("device_revoked");
		expect(await scansIn(drop.id)).toBe(before);
		const ticket = await env.DB.prepare(`SELECT scanned_at FROM tickets WHERE code = ?`).bind(bought.tickets[1]).first<string | null>("scanned_at");
		expect(ticket).toBeNull();
		expect((await listOf(device)).status).toBe(403);
		const repeat = await adminFetch(`/api/admin/drops/${drop.id}/gate/devices/${device.id}/revoke`, { method: "POST" });
		expect(await repeat.json()).toMatchObject({ changed: false });
		const log = await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE drop_id = ? AND action = 'gate.device_revoked'`).bind(drop.id).first<number>("n");
		expect(log).toBe(1);
	});

	it("a revoke that lands between the device check and the write leaves nothing of the upload", async () => {
		const { drop, bought } = await ticketedDrop("fan-device-race", 1);
		const device = await register(drop.id, "Racing phone");
		const { mergeScans } = await import("../../src/after-sale/gate-scans");
		const { deviceOf } = await import("../../src/after-sale/gate-devices");
		const seen = (await deviceOf(env.DB, drop.id, device.id))!;
		expect(seen.revokedAt).toBeNull();
		await env.DB.prepare(`UPDATE gate_devices SET revoked_at = ? WHERE device_id = ?`).bind(new Date().toISOString(), device.id).run();
		const scanOf = await signed(device, bought.tickets[0]!, "admitted");
		await expect(mergeScans(env.DB, seen, [scanOf], new Date().toISOString())).rejects.toMatchObject({ status: 403, code: "device_revoked" });
		expect(await scansIn(drop.id)).toBe(0);
	});

	it("a refunded ticket reads refunded, without its secret, in the next list download", async () => {
		const { drop, bought } = await ticketedDrop("fan-device-refund");
		const device = await register(drop.id, "Box office");
		expect(device.list.tickets.find((t) => t.code === bought.tickets[0])!.state).toBe("valid");
		expect((await refund(drop.id, bought.orderId, { tickets: [bought.tickets[0]] })).status).toBe(200);
		const list = (await (await listOf(device)).json()) as TicketListAnswer;
		const refunded = list.tickets.find((t) => t.code === bought.tickets[0])!;
		expect(refunded.state).toBe("refunded");
		expect(refunded.secret).toBeUndefined();
		expect(list.tickets.find((t) => t.code === bought.tickets[1])!.state).toBe("valid");
	});

	it("bad uploads are refused whole with a 4xx and write nothing", async () => {
		const { drop, bought } = await ticketedDrop("fan-device-bad");
		const device = await register(drop.id, "Careful phone");
		const other = await register(drop.id, "Other phone");
		const good = await signed(device, bought.tickets[0]!, "admitted");
		const cases: [unknown[], number, string][] = [
			[[good, { ...(await signed(device, bought.tickets[1]!, "admitted")), result: "refused" }], 422, "invalid_signature"],
			[[good, await signed(other, bought.tickets[1]!, "admitted")], 422, "invalid_signature"],
			[[good, await signed(device, "NOTA-TICK-ET00-0000", "admitted")], 422, "unknown_ticket"],
			[[good, await signed(device, bought.tickets[1]!, "admitted", new Date(Date.now() + 3_600_000).toISOString())], 422, "invalid_time"],
			[[{ ...good, extra: 1 }], 400, ""],
			[[], 422, ""],
		];
		for (const [scans, status, code] of cases) {
			const res = await upload(device, scans);
			expect(res.status, JSON.stringify(scans).slice(0, 80)).toBe(status);
			const body = (await res.json()) as { error: { code: string } };
			if (code) expect(body.error.code).toBe(code);
		}
		expect(await scansIn(drop.id)).toBe(0);
		const synced = await env.DB.prepare(`SELECT COUNT(*) AS n FROM gate_devices WHERE drop_id = ? AND last_sync_at IS NOT NULL`).bind(drop.id).first<number>("n");
		expect(synced).toBe(0);
		// A refused scan of a ticket the device could not read as this drop's is kept: it happened at the door.
		expect((await upload(device, [await signed(device, "NOTA-TICK-ET00-0000", "refused")])).status).toBe(200);
		expect(await scansIn(drop.id)).toBe(1);
	});

	it("registering: a bad key is 422 and writes nothing; a gate key of the drop's promoter registers, a staff key may not, nor anyone without the gate's credential", async () => {
		const { drop } = await ticketedDrop("fan-device-register", 1);
		const devices = async (id: string) => (await env.DB.prepare(`SELECT COUNT(*) AS n FROM gate_devices WHERE drop_id = ?`).bind(id).first<number>("n"))!;
		const { publicKey } = await keyPair();
		const notOnCurve = { ...publicKey, y: publicKey.x };
		const bad = await registerRequest(drop.id, { name: "Bad", publicKey: notOnCurve });
		expect(bad.status).toBe(422);
		expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_key");
		expect((await registerRequest(drop.id, { name: "Bad", publicKey: { ...publicKey, d: publicKey.x } })).status).toBe(400);
		expect((await registerRequest(drop.id, { name: "", publicKey })).status).toBe(422);
		expect((await registerRequest(drop.id, { name: "No credential", publicKey }, { "content-type": "application/json" })).status).toBe(401);
		expect((await registerRequest(drop.id, { name: "Admin token", publicKey }, { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" })).status).toBe(401);
		expect(await devices(drop.id)).toBe(0);

		const promoter = await createPromoter("Gate devices promoter");
		const own = await createDropAs(promoter.apiKey, { admission: WIDE_OPEN });
		const gateKey = await mintKey(promoter.apiKey, "gate");
		const staffKey = await mintKey(promoter.apiKey, "staff");
		const asKey = (key: string) => ({ authorization: `Bearer ${key}`, "content-type": "application/json" });
		expect((await registerRequest(own.id, { name: "Staff", publicKey }, asKey(staffKey.apiKey))).status).toBe(403);
		expect((await registerRequest(drop.id, { name: "Not theirs", publicKey }, asKey(gateKey.apiKey))).status).toBe(404);
		const made = await registerRequest(own.id, { name: "Gate phone", publicKey }, asKey(gateKey.apiKey));
		expect(made.status).toBe(201);
		expect(((await made.json()) as DeviceRegistered).device.registeredBy).toBe(`key:${gateKey.id}`);
		// A gate key reads neither the device list nor the double entries, and revokes nothing: those are the promoter's.
		expect((await keyFetch(gateKey.apiKey, `/api/admin/drops/${own.id}/gate/devices`)).status).toBe(403);
		expect((await keyFetch(staffKey.apiKey, `/api/admin/drops/${own.id}/gate/devices`)).status).toBe(200);
		expect((await keyFetch(staffKey.apiKey, `/api/admin/drops/${own.id}/gate/double-entries`)).status).toBe(200);
		const [listed] = ((await (await keyFetch(promoter.apiKey, `/api/admin/drops/${own.id}/gate/devices`)).json()) as GateDeviceList).devices;
		expect((await keyFetch(staffKey.apiKey, `/api/admin/drops/${own.id}/gate/devices/${listed!.id}/revoke`, { method: "POST" })).status).toBe(403);
		// Another drop's device id names no device here.
		expect((await callWorker(`/api/admin/drops/${drop.id}/gate/devices/${listed!.id}/list`, { headers: GATE })).status).toBe(404);
	});
});
