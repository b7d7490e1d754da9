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
		keys: z.array(z.record(z.string(), z.string())).meta({ description: "The engine's public ES256 keys (the JWKS): a ticket token is checked with them offline." }),
		tickets: z.array(
			z.strictObject({
				code: z.string(),
				orderId: z.string(),
				state: z.enum(["valid", "used", "refunded", "transferred"]).meta({ description: "refunded also for a ticket whose payment was not taken: it admits nobody. used: admitted as far as the engine knew at download. transferred: a ticket's old code after an accepted transfer (the recipient's new code is listed as its own ticket); it admits nobody." }),
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
		devices: z.array(GateDevice.extend({ admitted: count(), refused: count() })),
	});

	const DoubleEntries = z.strictObject({
		doubleEntries: z.array(
			z.strictObject({
				ticket: z.string(),
				admissions: z.array(
					z.strictObject({
						deviceId: nullable(z.string()).meta({ description: "null: the online scan." }),
						deviceName: nullable(z.string()),
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
