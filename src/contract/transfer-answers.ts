// What the transfer routes answer: a transfer as the holder, the recipient and
// the promoter read it, the recipient's ticket after accepting, and a drop's
// transfer rules. The routes type their answers with these (`satisfies`);
// src/http/openapi.ts renders them into the document. Built on first use. Pure.
import * as z from "zod";
import { instant, nullable } from "./answer-parts";
import { onFirstUse } from "../shared/on-first-use";

function build() {
	const Transfer = z.strictObject({
		transferId: z.string(),
		dropId: z.string(),
		orderId: z.string(),
		ticket: z.string().meta({ description: "The ticket's code while its buyer held it." }),
		newTicket: nullable(z.string()).optional().meta({ description: "The promoter's view only: the recipient's new ticket code once accepted." }),
		state: z.enum(["pending", "cancelled", "accepted"]),
		createdAt: instant(),
		cancelledAt: nullable(instant()),
		acceptedAt: nullable(instant()),
	});

	const TransferMade = z.strictObject({
		transfer: Transfer,
		acceptPath: z.string().meta({
			description: "The accept link's path, `/transfer#<transferId>.<secret>`: the secret rides in the fragment (never sent in a request line) and is answered once; the engine keeps only its hash.",
		}),
		secret: z.string().meta({ description: "The accept link's secret (256 random bits, base64url): the recipient's Bearer for reading and accepting." }),
	});

	const TransferOffer = z.strictObject({
		transfer: Transfer.omit({ newTicket: true }),
		drop: z.strictObject({ id: z.string(), name: z.string(), opensAt: instant() }),
		seat: z.string().optional().meta({ description: "A seated ticket's seat id." }),
		open: z.boolean().meta({ description: "Whether the promoter's rules let it be accepted now." }),
	});

	const HeldTicket = z.strictObject({
		transferId: z.string(),
		dropId: z.string(),
		ticket: z.strictObject({
			code: z.string().meta({ description: "The recipient's own ticket code: new, so its rotating-code secret is new too." }),
			token: nullable(z.string()).meta({ description: "The ticket's signed token; null once refunded (the buyer's refund voids it)." }),
			secret: z.string().optional().meta({ description: "Its rotating-code secret, while it may admit." }),
			state: z.enum(["valid", "used", "refunded"]),
			seat: z.string().optional(),
		}),
		gate: z.strictObject({ stepSeconds: z.int(), staticQr: z.boolean() }),
	});

	const TransferAccepted = HeldTicket.extend({
		holderKey: z.string().meta({ description: "The recipient's key to read this ticket again (GET /api/transfers/:transferId/ticket), answered once; the accept link's secret no longer shows it." }),
	});

	const TransferRules = z.strictObject({
		dropId: z.string(),
		enabled: z.boolean().meta({ description: "false: no transfer may be made or accepted." }),
		deadline: nullable(instant()).meta({ description: "After it no transfer may be made or accepted; null: none." }),
		updatedAt: nullable(instant()).meta({ description: "null: never changed (the default: on, no deadline)." }),
	});

	const OrderTransfers = z.strictObject({ orderId: z.string(), transfers: z.array(Transfer) });

	return { Transfer, TransferMade, TransferOffer, HeldTicket, TransferAccepted, TransferRules, OrderTransfers };
}

/** The transfer answer schemas by their names in the OpenAPI document. */
export const transferAnswers = onFirstUse(build);

type Answer<K extends keyof ReturnType<typeof build>> = z.output<ReturnType<typeof build>[K]>;

export type TransferAnswer = Answer<"Transfer">;
export type TransferMade = Answer<"TransferMade">;
export type TransferOffer = Answer<"TransferOffer">;
export type HeldTicketAnswer = Answer<"HeldTicket">;
export type TransferAccepted = Answer<"TransferAccepted">;
export type TransferRulesAnswer = Answer<"TransferRules">;
export type OrderTransfers = Answer<"OrderTransfers">;
