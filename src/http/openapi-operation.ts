// What one entry of the OpenAPI document's operations table says: a route, who
// may call it, what it takes and what it answers. The tables (openapi-engine.ts,
// openapi-admin.ts, openapi-fan.ts, openapi-after-sale.ts, openapi-gate.ts, openapi-transfers.ts) are written in this
// shape; openapi.ts renders them. Pure.
import type * as z from "zod";
import type { AnswerSchemas } from "../contract/answers";
import { AcceptTransferBody, CancelBody, CreateCodeGroupBody, CreatePromoterBody, CreateWebhookBody, HoldBody, JoinBody, MintKeyBody, PatchGateBody, PatchTransfersBody, PatchResaleBody, PatchPromoterBody, PurchaseBody, RefundBody, RegisterDeviceBody, ScanBody, UploadScansBody } from "../contract/requests";
import { CreateDropBody, PatchDropBody } from "../drops/rules";
import { RegisterBody, VerifyRegistrationBody } from "../contract/registrations";
import { NoticeBody } from "../contract/turn-notices";

/** The request bodies, by their names in the document. */
export const REQUEST_SCHEMAS = { CreateDropBody, PatchDropBody, JoinBody, HoldBody, PurchaseBody, ScanBody, RefundBody, CancelBody, CreatePromoterBody, PatchPromoterBody, MintKeyBody, CreateWebhookBody, PatchGateBody, RegisterDeviceBody, UploadScansBody, PatchTransfersBody, AcceptTransferBody, CreateCodeGroupBody, RegisterBody, VerifyRegistrationBody, PatchResaleBody, NoticeBody };

type Security = "admin" | "queueToken" | "accessToken" | "orderToken" | "gate" | "transferSecret" | "holderKey";

export interface Answer {
	description: string;
	/** A JSON body, by its schema's name; an answer without one (204) has none. */
	body?: keyof AnswerSchemas;
	/** The sales export's other form. */
	csv?: boolean;
	headers?: Record<string, { description: string; schema: { type: string; minimum?: number } }>;
}

export interface Operation {
	operationId: string;
	method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
	/** As the router has it: `/api/drops/:id`. */
	path: string;
	tag: "fan" | "promoter" | "engine" | "gate";
	summary: string;
	description?: string;
	/** Any one of these bearer tokens; none: public. */
	security?: Security[];
	query?: z.ZodObject;
	headers?: { name: string; schema: z.ZodType; required: boolean }[];
	/** A JSON body (at most 16 KiB, `Content-Type: application/json`). */
	body?: { schema: keyof typeof REQUEST_SCHEMAS; required: boolean };
	/** A CSV body (`Content-Type: text/csv`): what its lines are. */
	csvBody?: string;
	/** Successful answers. */
	answers: Record<number, Answer>;
	/** Refusals, each `ApiErrorBody`: the status and the codes it carries here. */
	errors: Record<number, string>;
}

export const json = (body: keyof AnswerSchemas, description: string): Answer => ({ body, description });

/** The refusals of a route that takes a fan's token for one drop. */
export const AUTH_ERRORS = {
	401: "missing_token, invalid_token, token_expired (with WWW-Authenticate: Bearer)",
	403: "wrong_drop: the token is for another drop",
};
