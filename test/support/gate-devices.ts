// Gate devices as a test drives them: a P-256 key pair made here, registered
// through the Worker, scans signed with it and uploaded, an online scan that
// names the device, and the promoter's reads of devices and double entries.
import { env } from "cloudflare:test";
import { expect } from "vitest";
import type { DeviceRegistered, DoubleEntries, GateDeviceList, TicketListAnswer } from "../../src/contract/gate-answers";
import { adminFetch, callWorker } from "./worker";

export const GATE = { authorization: `Bearer ${env.GATE_TOKEN}`, "content-type": "application/json" };

export interface Device {
	id: string;
	dropId: string;
	keys: CryptoKeyPair;
	list: TicketListAnswer;
}

const b64url = (bytes: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Registers a device with a key pair made here; `gate` left out when undefined. */
export async function registerAt(dropId: string, name: string, gate?: string): Promise<Device> {
	const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
	const jwk = (await crypto.subtle.exportKey("jwk", keys.publicKey)) as JsonWebKey;
	const body = { name, ...(gate === undefined ? {} : { gate }), publicKey: { kty: "EC", crv: "P-256", x: jwk.x!, y: jwk.y! } };
	const res = await callWorker(`/api/admin/drops/${dropId}/gate/devices`, { method: "POST", headers: GATE, body: JSON.stringify(body) });
	expect(res.status, await res.clone().text()).toBe(201);
	const made = (await res.json()) as DeviceRegistered;
	return { id: made.device.id, dropId, keys, list: made.list };
}

/** A scan as the device signs it. */
export async function signedScan(device: Device, ticket: string, result: "admitted" | "refused", at = new Date().toISOString()) {
	const scanId = `scan-${crypto.randomUUID()}`;
	const message = ["gate-scan", device.dropId, device.id, scanId, ticket, at, result].join("\n");
	const signature = b64url(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, device.keys.privateKey, new TextEncoder().encode(message)));
	return { scanId, ticket, at, result, signature };
}

export function uploadScans(device: Device, scans: unknown[]): Promise<Response> {
	return callWorker(`/api/admin/drops/${device.dropId}/gate/devices/${device.id}/scans`, { method: "POST", headers: GATE, body: JSON.stringify({ scans }) });
}

/** The online scan, naming the device that asks. */
export function scanAs(dropId: string, ticket: string, device: string): Promise<Response> {
	return callWorker(`/api/admin/drops/${dropId}/scan`, { method: "POST", headers: GATE, body: JSON.stringify({ ticket, device }) });
}

export async function listOf(device: Device): Promise<TicketListAnswer> {
	const res = await callWorker(`/api/admin/drops/${device.dropId}/gate/devices/${device.id}/list`, { headers: GATE });
	expect(res.status).toBe(200);
	return (await res.json()) as TicketListAnswer;
}

export async function gateDevices(dropId: string): Promise<GateDeviceList> {
	const res = await adminFetch(`/api/admin/drops/${dropId}/gate/devices`);
	expect(res.status).toBe(200);
	return (await res.json()) as GateDeviceList;
}

export async function doubleEntriesOf(dropId: string): Promise<DoubleEntries["doubleEntries"]> {
	const res = await adminFetch(`/api/admin/drops/${dropId}/gate/double-entries`);
	expect(res.status).toBe(200);
	return ((await res.json()) as DoubleEntries).doubleEntries;
}
