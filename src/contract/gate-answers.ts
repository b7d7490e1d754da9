// What the gate's routes answer: a drop's gate settings (rotating codes, the static
// QR fallback), its devices, their ticket lists, their uploads and the double entries. The routes type their answers with these (`satisfies`);
// src/http/openapi.ts renders them into the document. Built on first use (see
// answer-parts.ts). Pure.
import * as z from "zod";
import { count, instant, nullable } from "./answer-parts";
import { onFirstUse } from "../shared/on-first-use";

function build() {
	const GateSettings = z.strictObject({
		dropId: z.string(),
		staticQr: z.boolean().meta({ description: "true (the default): a ticket's bare token, its static QR code, still admits; false: only its rotating code." }),
		stepSeconds: z.int().meta({ description: "Seconds per rotating-code window; one window of clock difference is allowed either way." }),
		updatedAt: instant(),
	});

	const GateDevice = z.strictObject({
		id: z.string(),
		dropId: z.string(),
		name: z.string(),
		gate: z.string().meta({ description: "The gate (an entrance) it scans at; its admissions count toward it." }),
		publicKey: z.strictObject({ kty: z.literal("EC"), crv: z.literal("P-256"), x: z.string(), y: z.string() }),
		registeredAt: instant(),
		registeredBy: z.string().meta({ description: "`key:<key id>`, or `operator` (the deployment's gate token)." }),
		lastSyncAt: nullable(instant()).meta({ description: "When it last uploaded scans; null: never." }),
		revokedAt: nullable(instant()),
	});

	const TicketList = z.strictObject({
		dropId: z.string(),
		deviceId: z.string(),
		generatedAt: instant(),
		stepSeconds: z.int(),
		skewWindows: z.int().meta({ description: "Windows of clock difference allowed either way." }),
		staticQr: z.boolean().meta({ description: "Whether a bare token (a static QR code) admits." }),
		gate: z.strictObject({
			name: z.string(),
			admitted: count().meta({ description: "What the gate's devices had admitted at download (synced scans and online ones): the device counts on from it." }),
		}),
		keys: z.array(z.record(z.string(), z.string())).meta({ description: "The engine's public ES256 keys (the JWKS): a ticket token is checked with them offline." }),
		tickets: z.array(
			z.strictObject({
				code: z.string(),
				orderId: z.string(),
				state: z.enum(["valid", "used", "refunded", "transferred", "listed"]).meta({ description: "refunded also for a ticket whose payment was not taken: it admits nobody. used: admitted as far as the engine knew at download. transferred: a ticket's old code after an accepted transfer (the recipient's new code is listed as its own ticket); it admits nobody. listed: on offer for resale, with no secret; it admits nobody while listed." }),
				secret: z.string().optional().meta({ description: "The ticket's own rotating-code secret; left out for a refunded ticket. Never the drop's gate key." }),
			}),
		),
	});

	const DeviceRegistered = z.strictObject({ device: GateDevice, list: TicketList });

	const ScansUploaded = z.strictObject({
		deviceId: z.string(),
		accepted: count().meta({ description: "Scans written by this upload." }),
		duplicates: count().meta({ description: "Scans this device had uploaded before (same scanId): counted once." }),
		lastSyncAt: instant(),
	});

	const GateDeviceList = z.strictObject({
		devices: z.array(
			GateDevice.extend({
				admitted: count().meta({ description: "Its synced admissions and the online ones it asked the scan for." }),
				refused: count().meta({ description: "Its synced refusals (an online refusal writes nothing)." }),
			}),
		),
		gates: z
			.array(
				z.strictObject({
					gate: z.string(),
					devices: count(),
					active: count().meta({ description: "Devices not revoked." }),
					admitted: count().meta({ description: "Its devices' admissions, a revoked device's past ones too." }),
					refused: count(),
					lastSyncAt: nullable(instant()).meta({ description: "The latest sync or online scan of any of its devices; null: none yet." }),
				}),
			)
			.meta({ description: "The devices' counts by gate, in the order each gate's first device registered." }),
		onlineWithoutDevice: count().meta({ description: "Tickets the online scan admitted for a credential that named no device: counted toward no gate." }),
	});

	const DoubleEntries = z.strictObject({
		doubleEntries: z.array(
			z.strictObject({
				ticket: z.string().meta({ description: "The ticket's code now (after every accepted transfer)." }),
				admissions: z.array(
					z.strictObject({
						code: z.string().meta({ description: "The code admitted: the ticket's own, or an earlier code of it before a transfer was accepted." }),
						deviceId: nullable(z.string()).meta({ description: "null: the online scan, for a credential that named no device." }),
						deviceName: nullable(z.string()),
						via: z.enum(["device", "online"]).meta({ description: "device: checked and signed on the device, synced later; online: the engine's scan admitted it." }),
						at: instant(),
					}),
				),
			}),
		),
	});

	const DeviceRevoked = z.strictObject({ device: GateDevice, changed: z.boolean() });

	return { GateSettings, GateDevice, TicketList, DeviceRegistered, ScansUploaded, GateDeviceList, DoubleEntries, DeviceRevoked };
}

/** The gate's answer schemas by their names in the OpenAPI document. */
export const gateAnswers = onFirstUse(build);

type Answer<K extends keyof ReturnType<typeof build>> = z.output<ReturnType<typeof build>[K]>;

export type GateSettings = Answer<"GateSettings">;
export type TicketListAnswer = Answer<"TicketList">;
export type DeviceRegistered = Answer<"DeviceRegistered">;
export type ScansUploaded = Answer<"ScansUploaded">;
export type GateDeviceList = Answer<"GateDeviceList">;
export type DoubleEntries = Answer<"DoubleEntries">;
export type DeviceRevoked = Answer<"DeviceRevoked">;
