// What the engine answers outside the fan and promoter APIs: its health, the
// public keys that verify its tokens, the OpenAPI document itself, a ticket
// admitted at the gate and a payment provider's webhook. The routes type their
// answers with these (`satisfies`); src/http/openapi.ts renders them into the
// document. Built on first use (see answer-parts.ts). Pure.
import * as z from "zod";
import { instant } from "./answer-parts";
import { onFirstUse } from "../shared/on-first-use";

function build() {
	const Health = z.strictObject({ ok: z.literal(true), time: instant() });

	const Jwks = z.strictObject({
		keys: z.array(
			z.strictObject({
				kty: z.literal("EC"),
				crv: z.literal("P-256"),
				x: z.string(),
				y: z.string(),
				kid: z.string(),
				alg: z.literal("ES256"),
				use: z.literal("sig"),
			}),
		),
	});

	const OpenApiDocument = z.looseObject({
		openapi: z.literal("3.1.0"),
		info: z.looseObject({ title: z.string(), version: z.string() }),
		paths: z.record(z.string(), z.unknown()),
	});

	const ScanAnswer = z.strictObject({
		admitted: z.literal(true),
		dropId: z.string(),
		orderId: z.string(),
		ticket: z.string(),
		unit: z.string().optional(),
		scannedAt: instant(),
	});

	const WebhookAnswer = z.strictObject({ received: z.literal(true), duplicate: z.boolean() });

	return { Health, Jwks, OpenApiDocument, ScanAnswer, WebhookAnswer };
}

/** The engine's own answer schemas by their names in the OpenAPI document. */
export const engineAnswers = onFirstUse(build);

type Answer<K extends keyof ReturnType<typeof build>> = z.output<ReturnType<typeof build>[K]>;

export type Health = Answer<"Health">;
export type ScanAnswer = Answer<"ScanAnswer">;
export type WebhookAnswer = Answer<"WebhookAnswer">;
