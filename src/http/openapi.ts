// The API as an OpenAPI 3.1 document, served at GET /api/openapi.json. Every
// route is one entry of an operations table (openapi-engine.ts, openapi-admin.ts,
// openapi-fan.ts, openapi-after-sale.ts, openapi-registrations.ts, in the shape of openapi-operation.ts);
// its bodies, queries and answers are the zod schemas the routes parse and type
// with (src/contract/requests.ts, src/drops/rules.ts and src/contract/answers.ts),
// rendered here by `z.toJSONSchema` into JSON Schema 2020-12, which is OpenAPI
// 3.1's own dialect. test/http/openapi.test.ts checks that every route the router
// knows is here and that the answers the engine really gives match what this
// document says.
import * as z from "zod";
import { answerSchemas } from "../contract/answers";
import { DROP_ID } from "../drops/rules";
import { MAX_BODY_BYTES } from "../shared/request";
import { ADMIN_OPERATIONS } from "./openapi-admin";
import { CODE_GROUP_OPERATIONS, WEBHOOK_OPERATIONS } from "./openapi-webhooks";
import { AFTER_SALE_OPERATIONS } from "./openapi-after-sale";
import { GATE_DEVICE_OPERATIONS } from "./openapi-gate";
import { TRANSFER_OPERATIONS } from "./openapi-transfers";
import { RESALE_OPERATIONS } from "./openapi-resale";
import { ENGINE_OPERATIONS } from "./openapi-engine";
import { FAN_OPERATIONS } from "./openapi-fan";
import { REGISTRATION_OPERATIONS } from "./openapi-registrations";
import { type Operation, REQUEST_SCHEMAS } from "./openapi-operation";
import { onFirstUse } from "../shared/on-first-use";

/** Every route of the API, in the order a drop lives through them. */
export const OPERATIONS: Operation[] = [...ENGINE_OPERATIONS, ...ADMIN_OPERATIONS, ...FAN_OPERATIONS, ...AFTER_SALE_OPERATIONS, ...GATE_DEVICE_OPERATIONS, ...TRANSFER_OPERATIONS, ...RESALE_OPERATIONS, ...WEBHOOK_OPERATIONS, ...CODE_GROUP_OPERATIONS, ...REGISTRATION_OPERATIONS];

const BODY_ERRORS = {
	400: "invalid_json, missing_body, invalid_type, missing_field, unknown_field",
	413: `body_too_large: over ${MAX_BODY_BYTES} bytes`,
	415: "unsupported_media_type: not application/json",
};

const PATH_PARAMS: Record<string, { description: string; pattern?: string }> = {
	id: { description: "The drop's id.", pattern: DROP_ID.source },
	promoterId: { description: "A promoter's id (p_...)." },
	keyId: { description: "An API key's id (k_...), as listed; never the key itself." },
	holdId: { description: "A hold's id, as the hold answered it." },
	orderId: { description: "An order's id, as the purchase answered it." },
	typeId: { description: "A ticket type's id, as the drop lists it." },
	webhookId: { description: "A webhook endpoint's id (wh_...), as listed." },
	deliveryId: { description: "A webhook delivery's id (wd_...), as its endpoint's deliveries list it." },
	deviceId: { description: "A gate device's id (gd_...), as its registration answered it." },
	code: { description: "A ticket's code, as the order lists it." },
	transferId: { description: "A transfer's id (tr_...), as its making answered it." },
	groupId: { description: "A code group's id (cg_...), as its creation answered it." },
	windowId: { description: "A sale window's id, as the drop's presales name it." },
	listingId: { description: "A resale listing's id (rs_...), as its listing answered it." },
};

type JsonSchema = Record<string, unknown>;

/** The router's path in OpenAPI's form: `/api/drops/:id` is `/api/drops/{id}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");

/** A schema as a component's or a parameter's JSON Schema: no `$schema` or `$id` of its own. */
function bare(schema: JsonSchema): JsonSchema {
	const { $schema: _dialect, $id: _id, ...rest } = schema;
	return rest;
}

function components(): Record<string, JsonSchema> {
	const uri = (id: string) => `#/components/schemas/${id}`;
	const out: Record<string, JsonSchema> = {};
	for (const [named, io] of [
		[REQUEST_SCHEMAS, "input"],
		[answerSchemas(), "output"],
	] as const) {
		const registry = z.registry<{ id: string }>();
		for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
		const { schemas } = z.toJSONSchema(registry, { io, uri });
		for (const [id, schema] of Object.entries(schemas)) out[id] = bare(schema as JsonSchema);
	}
	return out;
}

const refTo = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const retryAfter = { "Retry-After": { description: "Whole seconds to wait, at least 1.", schema: { type: "integer", minimum: 1 } } };

function parameters(op: Operation): JsonSchema[] {
	const out: JsonSchema[] = [];
	for (const [, name] of op.path.matchAll(/:(\w+)/g)) {
		const param = PATH_PARAMS[name!];
		if (param === undefined) throw new Error(`no description of the path parameter ${name}`);
		out.push({ name, in: "path", required: true, description: param.description, schema: { type: "string", ...(param.pattern ? { pattern: param.pattern } : {}) } });
	}
	for (const [name, schema] of Object.entries(op.query?.shape ?? {})) {
		const rendered = bare(z.toJSONSchema(schema as z.ZodType, { io: "input" }) as JsonSchema);
		out.push({ name, in: "query", required: !(schema as z.ZodType).safeParse(undefined).success, description: rendered.description, schema: rendered });
	}
	for (const header of op.headers ?? []) {
		const rendered = bare(z.toJSONSchema(header.schema, { io: "input" }) as JsonSchema);
		out.push({ name: header.name, in: "header", required: header.required, description: rendered.description, schema: rendered });
	}
	return out;
}

function operation(op: Operation): JsonSchema {
	const responses: Record<string, JsonSchema> = {};
	for (const [status, answer] of Object.entries(op.answers)) {
		const content: JsonSchema = {};
		if (answer.body) content["application/json"] = { schema: refTo(answer.body) };
		if (answer.csv) content["text/csv"] = { schema: { type: "string" } };
		responses[status] = {
			description: answer.description,
			...(answer.headers ? { headers: answer.headers } : {}),
			...(Object.keys(content).length > 0 ? { content } : {}),
		};
	}
	const errors: Record<number, string> = { ...op.errors };
	if (op.body) {
		for (const [status, codes] of Object.entries(BODY_ERRORS)) {
			const n = Number(status);
			errors[n] = errors[n] ? `${codes}, ${errors[n]}` : codes;
		}
	}
	if (op.security?.includes("admin")) {
		errors[401] = "unauthorized: no valid admin token or API key, or a revoked one (with WWW-Authenticate)";
		errors[403] = "forbidden: the key's role may not do this (staff only reads, gate only scans, promoters are the operator's)";
		errors[429] = "rate_limited: the promoter's admin requests a minute";
	}
	errors[500] = "internal: never a stack or an internal message";
	for (const [status, codes] of Object.entries(errors)) {
		responses[status] = {
			description: codes,
			...(status === "429" || status === "503" ? { headers: retryAfter } : {}),
			content: { "application/json": { schema: refTo("ApiError") } },
		};
	}
	const params = parameters(op);
	return {
		operationId: op.operationId,
		tags: [op.tag],
		summary: op.summary,
		...(op.description ? { description: op.description } : {}),
		security: (op.security ?? []).map((name) => ({ [name]: [] })),
		...(params.length > 0 ? { parameters: params } : {}),
		...(op.body
			? { requestBody: { required: op.body.required, content: { "application/json": { schema: refTo(op.body.schema) } } } }
			: {}),
		...(op.csvBody ? { requestBody: { required: true, description: op.csvBody, content: { "text/csv": { schema: { type: "string" } } } } } : {}),
		responses,
	};
}

function render(): JsonSchema {
	const paths: Record<string, Record<string, JsonSchema>> = {};
	for (const op of OPERATIONS) {
		const path = (paths[openApiPath(op.path)] ??= {});
		path[op.method.toLowerCase()] = operation(op);
	}
	const bearer = (description: string) => ({ type: "http", scheme: "bearer", bearerFormat: "JWT", description });
	return {
		openapi: "3.1.0",
		info: {
			title: "Ticket-drop engine",
			version: "1",
			description:
				"A ticket drop with a virtual waiting room. JSON everywhere; every refusal is {\"error\": {\"code\", \"message\", \"field\"?}}: " +
				"400 malformed input, 422 a well-formed value that breaks a rule, 429 and 503 with Retry-After. " +
				"CORS preflights (OPTIONS) answer for the configured origins on every /api path.",
		},
		tags: [
			{ name: "fan", description: "Public, or with the fan's queue, access or order token." },
			{ name: "promoter", description: "Authorization: Bearer <ADMIN_TOKEN> (the operator) or a promoter's API key (tdk_...)." },
			{ name: "engine", description: "Health, keys, this document and the payment provider's webhook." },
			{ name: "gate", description: "Authorization: Bearer <a gate credential> (a gate or owner key of the drop's promoter, or the deployment's GATE_TOKEN), never the admin token." },
		],
		paths,
		components: {
			schemas: components(),
			securitySchemes: {
				admin: {
					type: "http",
					scheme: "bearer",
					description: "The deployment's ADMIN_TOKEN (the operator: every drop), or a promoter's API key (tdk_...: that promoter's drops, as its role allows).",
				},
				queueToken: bearer("The queueToken a join answered (or the newer one a status poll answered)."),
				accessToken: bearer("The accessToken a status poll answered once the fan was admitted; good until the end of their turn."),
				orderToken: bearer("The orderToken a purchase answered; reads that one order for a year."),
				gate: { type: "http", scheme: "bearer", description: "The gate's credential (GATE_TOKEN), not the admin token." },
				transferSecret: { type: "http", scheme: "bearer", description: "A transfer's accept-link secret, as its making answered it (the fragment of the link)." },
				holderKey: { type: "http", scheme: "bearer", description: "The recipient's key, as accepting the transfer answered it." },
			},
		},
	};
}

/** Rendered once per isolate, on the first request for it: no cost at start-up. */
export const openApiDocument = onFirstUse(render);
