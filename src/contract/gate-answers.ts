// What the gate's promoter routes answer: a drop's gate settings (rotating codes,
// the static QR fallback). The routes type their answers with these (`satisfies`);
// src/http/openapi.ts renders them into the document. Built on first use (see
// answer-parts.ts). Pure.
import * as z from "zod";
import { instant } from "./answer-parts";
import { onFirstUse } from "../shared/on-first-use";

function build() {
	const GateSettings = z.strictObject({
		dropId: z.string(),
		staticQr: z.boolean().meta({ description: "true (the default): a ticket's bare token, its static QR code, still admits; false: only its rotating code." }),
		stepSeconds: z.int().meta({ description: "Seconds per rotating-code window; one window of clock difference is allowed either way." }),
		updatedAt: instant(),
	});

	return { GateSettings };
}

/** The gate's answer schemas by their names in the OpenAPI document. */
export const gateAnswers = onFirstUse(build);

type Answer<K extends keyof ReturnType<typeof build>> = z.output<ReturnType<typeof build>[K]>;

export type GateSettings = Answer<"GateSettings">;
