// The OpenAPI document (GET /api/openapi.json) held against the engine itself:
// every route the router knows is in it, and what a whole drop's journey really
// answers, successes and refusals, matches the schema it documents for that
// route and status (checked with a JSON Schema 2020-12 validator, not with zod).
import { rotatingCode } from "../../src/after-sale/rotating-codes";
import { type Schema, Validator } from "@cfworker/json-schema";
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { adminRouter } from "../../src/http/admin-routes";
import { fanRouter } from "../../src/http/fan-routes";
import { openApiPath } from "../../src/http/openapi";
import { router } from "../../src/http/router";
import { fanSecretOf, newKey } from "../support/fans";
import { admitBatch, tickRoom } from "../support/room";
import { createDropAs, createPromoter } from "../support/tenants";
import { waitUntil } from "../support/wait";
import { callWorker } from "../support/worker";
import { stripeSignature } from "../../scripts/lib/fake-stripe.mjs";

interface DocumentedAnswer {
	description: string;
	content?: Record<string, { schema: Schema }>;
}
interface DocumentedOperation {
	operationId: string;
	security: Record<string, string[]>[];
	responses: Record<string, DocumentedAnswer>;
}
interface OpenApi {
	openapi: string;
	paths: Record<string, Record<string, DocumentedOperation>>;
	components: { schemas: Record<string, Schema> };
}

let doc: OpenApi;

beforeAll(async () => {
	const res = await callWorker("/api/openapi.json");
	expect(res.status).toBe(200);
	doc = (await res.json()) as OpenApi;
});

/** Every route of the Worker as [METHOD, path], with the fan and promoter routers' routes in place of their mounts. */
function routerRoutes(): [string, string][] {
	const mounted = new Map<unknown, typeof fanRouter>([
		[fanRouter.fetch, fanRouter],
		[adminRouter.fetch, adminRouter],
	]);
	const out: [string, string][] = [];
	for (const [method, , handlers, path] of router.routes) {
		const group = handlers.map((h) => mounted.get(h)).find((g) => g !== undefined);
		if (group) for (const [m, , , p] of group.routes) out.push([m, p!]);
		else out.push([method, path!]);
	}
	return out;
}

/** What the router knows that is not an API operation, and why. */
const NOT_OPERATIONS: [string, string, string][] = [
	["OPTIONS", "/api/*", "the CORS preflight of every API path (the document's description says so)"],
	["ALL", "/api/admin*", "the admin token check in front of every promoter route"],
	["ALL", "/api/*", "the JSON 404 of an unknown API path"],
	["GET", "/drops/:id", "the fan page (HTML)"],
	["GET", "/admin", "the promoter page (HTML)"],
	["GET", "/gate", "the gate scanner (HTML)"],
	["GET", "/transfer", "a transfer's accept page (HTML)"],
	["GET", "*", "static assets"],
];

const operationsInDocument = () =>
	Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));

const validators = new Map<string, Validator>();

/** Whether `body` matches the document's schema for that answer; refs resolve within the document. */
function check(body: unknown, schema: Schema, key: string) {
	let validator = validators.get(key);
	if (validator === undefined) {
		validator = new Validator({ ...structuredClone(schema), components: structuredClone(doc.components) } as Schema, "2020-12", false);
		validators.set(key, validator);
	}
	return validator.validate(body);
}

function expectMatches(body: unknown, schema: Schema, what: string): void {
	const result = check(body, schema, what);
	expect(result.valid, `${what} does not match its documented schema: ${JSON.stringify(result.errors.slice(-4))}\nbody: ${JSON.stringify(body).slice(0, 1500)}`).toBe(true);
}

/** Every (method, route, status) the journey saw, each checked against the document. */
const seen = new Set<string>();

interface Answer {
	status: number;
	// The body as the client parses it: the assertions after each call read its fields.
	body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
	headers: Headers;
}

/**
 * Calls the Worker on a route (`/api/drops/:id`, params filled in) and checks the answer
 * against the document: the route and its status are documented, and the body matches
 * the schema documented for them (JSON), or is the documented CSV, or is empty (204).
 */
async function api(
	method: string,
	route: string,
	{ params = {}, search = "", init = {}, overrides }: { params?: Record<string, string>; search?: string; init?: RequestInit; overrides?: Record<string, unknown> } = {},
): Promise<Answer> {
	const path = route.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name]!));
	const request = { ...init, method };
	const res = await callWorker(`${path}${search}`, request, { env: overrides });
	const what = `${method} ${route} ${res.status}`;
	const operation = doc.paths[openApiPath(route)]?.[method.toLowerCase()];
	expect(operation, `${method} ${route} is in the document`).toBeDefined();
	const answer = operation!.responses[String(res.status)];
	expect(answer, `${what} is documented`).toBeDefined();
	const type = res.headers.get("content-type") ?? "";
	let body: unknown = null;
	if (res.status === 204) {
		expect(answer!.content, what).toBeUndefined();
		expect(await res.text(), what).toBe("");
	} else if (type.startsWith("text/csv")) {
		expect(answer!.content?.["text/csv"], `${what} documents CSV`).toBeDefined();
		body = await res.text();
	} else {
		expect(type, what).toMatch(/^application\/json/);
		const schema = answer!.content?.["application/json"]?.schema;
		expect(schema, `${what} documents a JSON body`).toBeDefined();
		body = await res.json();
		expectMatches(body, schema!, what);
	}
	seen.add(`${method} ${route} ${res.status}`);
	return { status: res.status, body, headers: res.headers };
}

const adminHeaders = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" });
const jsonBody = (value: unknown, headers: Record<string, string> = { "content-type": "application/json" }): RequestInit => ({
	headers,
	body: JSON.stringify(value),
});

describe("the OpenAPI document", () => {
	it("is served publicly, cacheable, as OpenAPI 3.1 whose every $ref resolves", async () => {
		const res = await callWorker("/api/openapi.json");
		expect(res.status).toBe(200);
		expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
		expect(res.headers.get("content-type")).toMatch(/^application\/json/);
		expect(doc.openapi).toBe("3.1.0");
		const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
		expect(refs.length).toBeGreaterThan(20);
		for (const ref of new Set(refs)) {
			const target = ref.slice('"$ref":"#/'.length, -1).split("/");
			let node: unknown = doc;
			for (const part of target) node = (node as Record<string, unknown>)[part];
			expect(node, ref).toBeTypeOf("object");
		}
	});

	it("names every route the router knows, and no route it does not", () => {
		const routes = routerRoutes();
		const outside = NOT_OPERATIONS.map(([method, path]) => `${method} ${path}`);
		// The list of what is left out is itself checked: each entry is a route the router has.
		const known = routes.map(([method, path]) => `${method} ${path}`);
		for (const entry of outside) expect(known, entry).toContain(entry);
		const operations = routes.filter(([method, path]) => !outside.includes(`${method} ${path}`)).map(([method, path]) => `${method} ${openApiPath(path)}`);
		expect(operations.length).toBeGreaterThanOrEqual(18);
		expect(new Set(operations).size).toBe(operations.length);
		expect(operationsInDocument().sort()).toEqual([...operations].sort());
	});

	it("its schemas refuse what does not match (the checks below are not vacuous)", () => {
		const hold = doc.paths["/api/drops/{id}/holds"]!.post!.responses["201"]!.content!["application/json"]!.schema;
		const valid = { holdId: "h_0_AAAAAAAAAAAAAAAA", quantity: 1, expiresAt: "2026-06-01T12:00:00.000Z" };
		expect(check(valid, hold, "hold").valid).toBe(true);
		expect(check({ ...valid, extra: 1 }, hold, "hold").valid).toBe(false);
		expect(check({ holdId: valid.holdId, quantity: 1 }, hold, "hold").valid).toBe(false);
		expect(check({ ...valid, quantity: "1" }, hold, "hold").valid).toBe(false);
		expect(check({ ...valid, expiresAt: "tomorrow" }, hold, "hold").valid).toBe(false);
		const refusal = doc.paths["/api/drops/{id}/holds"]!.post!.responses["409"]!.content!["application/json"]!.schema;
		expect(check({ error: { code: "sold_out", message: "Gone." } }, refusal, "409").valid).toBe(true);
		expect(check({ error: { code: "sold_out" } }, refusal, "409").valid).toBe(false);
		expect(check({ code: "sold_out", message: "Gone." }, refusal, "409").valid).toBe(false);
	});

	it("promoters, their keys and the activity log answer as the document says", async () => {
		const made = await api("POST", "/api/admin/promoters", { init: jsonBody({ name: "Contract promoter", limits: { openDrops: 5 } }, adminHeaders) });
		expect(made.status).toBe(201);
		const promoterId: string = made.body.id;
		const owner = bearer(made.body.apiKey);
		expect((await api("POST", "/api/admin/promoters", { init: jsonBody({ name: "" }, adminHeaders) })).body.error.code).toBe("empty");
		expect((await api("POST", "/api/admin/promoters", { init: jsonBody({ name: "x" }, owner) })).body.error.code).toBe("forbidden");
		expect((await api("GET", "/api/admin/promoters", { search: "?limit=1", init: { headers: adminHeaders } })).body.promoters).toHaveLength(1);
		const patched = await api("PATCH", "/api/admin/promoters/:promoterId", { params: { promoterId }, init: jsonBody({ limits: { joinsPerMinute: 1000 } }, adminHeaders) });
		expect(patched.body.limits.joinsPerMinute).toBe(1000);
		expect((await api("PATCH", "/api/admin/promoters/:promoterId", { params: { promoterId }, init: jsonBody({}, adminHeaders) })).body.error.code).toBe("empty_patch");
		expect((await api("PATCH", "/api/admin/promoters/:promoterId", { params: { promoterId: "p_AAAAAAAAAAAAAAAA" }, init: jsonBody({ name: "x" }, adminHeaders) })).status).toBe(404);
		expect((await api("GET", "/api/admin/me", { init: { headers: owner } })).body.key.role).toBe("owner");
		const staff = await api("POST", "/api/admin/keys", { init: jsonBody({ label: "staff", role: "staff" }, owner) });
		expect(staff.status).toBe(201);
		expect((await api("POST", "/api/admin/keys", { init: jsonBody({ label: "x", role: "boss" }, owner) })).body.error).toMatchObject({ code: "invalid_value", field: "role" });
		expect((await api("POST", "/api/admin/keys", { init: jsonBody({ label: "x", role: "staff" }, bearer(staff.body.apiKey)) })).status).toBe(403);
		expect((await api("GET", "/api/admin/keys", { init: { headers: owner } })).body.keys).toHaveLength(2);
		expect((await api("GET", "/api/admin/keys", { init: { headers: adminHeaders } })).body.error.code).toBe("missing_field");
		expect((await api("DELETE", "/api/admin/keys/:keyId", { params: { keyId: staff.body.id }, init: { headers: owner } })).body.revokedAt).toEqual(expect.any(String));
		expect((await api("DELETE", "/api/admin/keys/:keyId", { params: { keyId: "k_AAAAAAAAAAAAAAAA" }, init: { headers: owner } })).status).toBe(404);
		expect((await api("GET", "/api/admin/me", { init: { headers: bearer(staff.body.apiKey) } })).body.error.code).toBe("unauthorized");
		const log = await api("GET", "/api/admin/activity", { search: "?limit=2", init: { headers: owner } });
		expect(log.body.entries).toHaveLength(2);
		expect((await api("GET", "/api/admin/activity", { search: `?cursor=${log.body.nextCursor}`, init: { headers: owner } })).status).toBe(200);
		expect((await api("GET", "/api/admin/activity", { search: "?limit=0", init: { headers: owner } })).status).toBe(422);
		expect((await api("GET", "/api/admin/activity", { search: `?promoterId=${promoterId}`, init: { headers: adminHeaders } })).status).toBe(200);
		const limited = await api("POST", "/api/admin/promoters", { init: jsonBody({ name: "Full", limits: { openDrops: 0 } }, adminHeaders) });
		const full = await api("POST", "/api/admin/drops", { init: jsonBody({ name: "x", capacity: 1, maxPerFan: 1, opensAt: new Date().toISOString() }, bearer(limited.body.apiKey)) });
		expect([full.status, full.body.error.code]).toEqual([409, "open_drops_limit"]);
	});

	it("a drop's whole journey, successes and refusals, answers as the document says", async () => {
		const opensAt = new Date(Date.now() - 1_000).toISOString();
		const dropBody = { name: "Contract", capacity: 3, maxPerFan: 2, priceCents: 500, opensAt, shards: 1, lines: 1, admission: { batchSize: 100, intervalMs: 250, activeMultiple: 20 } };

		await api("GET", "/api/health");
		await api("GET", "/.well-known/jwks.json");
		await api("GET", "/api/openapi.json");

		// The promoter schedules drops; malformed ones are refused.
		const created = await api("POST", "/api/admin/drops", { init: jsonBody(dropBody, adminHeaders) });
		expect(created.status).toBe(201);
		const id: string = created.body.id;
		const other = await api("POST", "/api/admin/drops", { init: jsonBody({ ...dropBody, name: "Other" }, adminHeaders) });
		expect(other.status).toBe(201);
		const otherId: string = other.body.id;
		expect((await api("POST", "/api/admin/drops", { init: { headers: adminHeaders, body: "{" } })).body.error.code).toBe("invalid_json");
		expect((await api("POST", "/api/admin/drops", { init: jsonBody({ ...dropBody, colour: "red" }, adminHeaders) })).body.error).toMatchObject({ code: "unknown_field", field: "colour" });
		const range = await api("POST", "/api/admin/drops", { init: jsonBody({ ...dropBody, admission: { batchSize: 0 } }, adminHeaders) });
		expect([range.status, range.body.error.code, range.body.error.field]).toEqual([422, "out_of_range", "admission.batchSize"]);
		expect((await api("POST", "/api/admin/drops", { init: { headers: { ...adminHeaders, "content-type": "text/plain" }, body: "{}" } })).status).toBe(415);
		expect((await api("POST", "/api/admin/drops", { init: jsonBody({ name: "x".repeat(17_000) }, adminHeaders) })).status).toBe(413);
		expect((await api("POST", "/api/admin/drops", { init: jsonBody(dropBody) })).status).toBe(401);

		expect((await api("GET", "/api/admin/drops", { search: "?limit=1", init: { headers: adminHeaders } })).body.nextCursor).toEqual(expect.any(String));
		expect((await api("GET", "/api/admin/drops", { search: "?limit=abc", init: { headers: adminHeaders } })).body.error.code).toBe("invalid_type");
		expect((await api("GET", "/api/admin/drops", { search: "?limit=0", init: { headers: adminHeaders } })).body.error.code).toBe("out_of_range");
		expect((await api("GET", "/api/admin/drops", { search: "?cursor=nope", init: { headers: adminHeaders } })).body.error.code).toBe("invalid_cursor");
		expect((await api("GET", "/api/admin/drops/:id", { params: { id }, init: { headers: adminHeaders } })).body.stats.remaining).toBe(3);
		expect((await api("GET", "/api/admin/drops/:id", { params: { id: "d_AAAAAAAAAAAAAAAA" }, init: { headers: adminHeaders } })).status).toBe(404);
		expect((await api("PATCH", "/api/admin/drops/:id", { params: { id }, init: jsonBody({ name: "Contract tour" }, adminHeaders) })).body.name).toBe("Contract tour");
		expect((await api("PATCH", "/api/admin/drops/:id", { params: { id }, init: jsonBody({ capacity: 9 }, adminHeaders) })).body.error.code).toBe("immutable_field");
		expect((await api("PATCH", "/api/admin/drops/:id", { params: { id }, init: jsonBody({}, adminHeaders) })).body.error.code).toBe("empty_patch");

		// Fans look, join, and are refused where they should be.
		expect((await api("GET", "/api/drops/:id", { params: { id } })).body.status).toBe("open");
		expect((await api("GET", "/api/drops/:id", { params: { id: "d_AAAAAAAAAAAAAAAA" } })).status).toBe(404);
		const failingDb = { prepare: () => { throw new Error("D1 is down"); } };
		expect((await api("GET", "/api/drops/:id", { params: { id: "d_BBBBBBBBBBBBBBBB" }, overrides: { DB: failingDb } })).status).toBe(503);
		expect((await api("GET", "/api/drops/:id/fairness", { params: { id } })).body.seed).toEqual(expect.any(String));

		const joinAs = (fanId: string, secret = fanSecretOf(id, fanId)) => api("POST", "/api/drops/:id/join", { params: { id }, init: jsonBody({ fanId, fanSecret: secret }) });
		const a = await joinAs("fan-a");
		expect(a.status).toBe(201);
		expect((await joinAs("fan-a")).status).toBe(200);
		expect((await joinAs("fan-a", "x".repeat(43))).body.error).toMatchObject({ code: "fan_id_taken", field: "fanSecret" });
		expect((await api("POST", "/api/drops/:id/join", { params: { id }, init: jsonBody({}) })).body.error).toMatchObject({ code: "missing_field", field: "fanId" });
		expect((await api("POST", "/api/drops/:id/join", { params: { id }, init: jsonBody({ fanId: "a b" }) })).body.error).toMatchObject({ code: "invalid_format", field: "fanId" });
		const limited = await api("POST", "/api/drops/:id/join", {
			params: { id },
			init: jsonBody({ fanId: "fan-limited" }, { "content-type": "application/json", "cf-connecting-ip": "203.0.113.9" }),
			overrides: { JOIN_LIMITER: { limit: async () => ({ success: false }) } },
		});
		expect([limited.status, limited.headers.get("retry-after")]).toEqual([429, String(limited.body.error.retryAfter)]);
		const b = await joinAs("fan-b");
		const c = await joinAs("fan-c");

		expect((await api("GET", "/api/drops/:id/status", { params: { id } })).body.error.code).toBe("missing_token");
		expect((await api("GET", "/api/drops/:id/status", { params: { id: otherId }, init: { headers: bearer(a.body.queueToken) } })).body.error.code).toBe("wrong_drop");
		await admitBatch(id);
		const admitted = async (joined: Answer) => {
			const polled = await api("GET", "/api/drops/:id/status", { params: { id }, init: { headers: bearer(joined.body.queueToken) } });
			expect(polled.body.status).toBe("admitted");
			return polled.body.accessToken as string;
		};
		const [accessA, accessB, accessC] = [await admitted(a), await admitted(b), await admitted(c)];

		// Holds and purchases.
		const holdAs = (access: string, quantity: unknown, key: string | null = newKey(), drop = id) =>
			api("POST", "/api/drops/:id/holds", { params: { id: drop }, init: jsonBody({ quantity }, { ...bearer(access), ...(key === null ? {} : { "idempotency-key": key }) }) });
		expect((await holdAs(accessA, 1, null)).body.error.code).toBe("missing_idempotency_key");
		expect((await holdAs(accessA, 0)).body.error).toMatchObject({ code: "out_of_range", field: "quantity" });
		expect((await holdAs(accessA, 3)).body.error).toMatchObject({ code: "limit_exceeded", maxPerFan: 2, alreadyHeldOrBought: 0 });
		expect((await holdAs(accessA, 1, newKey(), otherId)).body.error.code).toBe("wrong_drop");
		const key = newKey();
		const held = await holdAs(accessA, 1, key);
		expect(held.status).toBe(201);
		expect((await holdAs(accessA, 1, key)).headers.get("idempotent-replayed")).toBe("true");
		const holdId: string = held.body.holdId;

		const buy = (access: string, hold: string, token = "ok") =>
			api("POST", "/api/drops/:id/holds/:holdId/purchase", { params: { id, holdId: hold }, init: jsonBody({ payment: { method: "test", token } }, bearer(access)) });
		expect((await buy(accessA, holdId, "decline")).body.error).toMatchObject({ code: "payment_declined", holdKept: true });
		expect((await api("POST", "/api/drops/:id/holds/:holdId/purchase", { params: { id, holdId }, init: jsonBody({ payment: { method: "cash", token: "ok" } }, bearer(accessA)) })).body.error).toMatchObject({ code: "invalid_value", field: "payment.method" });
		const bought = await buy(accessA, holdId);
		expect(bought.status).toBe(201);
		expect((await buy(accessA, holdId)).body.orderId).toBe(bought.body.orderId);

		const orderId: string = bought.body.orderId;
		expect((await api("GET", "/api/orders/:orderId", { params: { orderId }, init: { headers: bearer(bought.body.orderToken) } })).body.tickets).toHaveLength(1);
		expect((await api("GET", "/api/orders/:orderId", { params: { orderId }, init: { headers: bearer(a.body.queueToken) } })).status).toBe(401);
		expect((await api("GET", "/api/orders/:orderId", { params: { orderId: "o_0_AAAAAAAAAAAAAAAA" }, init: { headers: bearer(accessA) } })).status).toBe(404);

		const second = await holdAs(accessA, 1);
		expect(second.status).toBe(201);
		expect((await api("DELETE", "/api/drops/:id/holds/:holdId", { params: { id, holdId: second.body.holdId }, init: { headers: bearer(accessA) } })).status).toBe(204);
		expect((await buy(accessA, second.body.holdId)).body.error.code).toBe("hold_released");
		expect((await api("DELETE", "/api/drops/:id/holds/:holdId", { params: { id, holdId }, init: { headers: bearer(accessA) } })).body.error.code).toBe("already_purchased");
		// A card that needs the fan's bank (3-D Secure): 202 with what the fan page finishes it with; given back, its payment is cancelled.
		const third = await holdAs(accessA, 1);
		const waiting = await api("POST", "/api/drops/:id/holds/:holdId/purchase", { params: { id, holdId: third.body.holdId }, init: jsonBody({ payment: { method: "stripe", token: "pm_card_threeDSecure2Required" } }, bearer(accessA)) });
		expect(waiting.status).toBe(202);
		expect(waiting.body).toMatchObject({ holdId: third.body.holdId, status: "requires_action" });
		expect((await api("DELETE", "/api/drops/:id/holds/:holdId", { params: { id, holdId: third.body.holdId }, init: { headers: bearer(accessA) } })).status).toBe(204);

		// The last two tickets go to fan-b; fan-c finds none, and a later fan hears the drop sold out and waits in line for returns.
		const heldB = await holdAs(accessB, 2);
		expect(heldB.status).toBe(201);
		expect((await holdAs(accessC, 1)).body.error.code).toBe("sold_out");
		const boughtB = await buy(accessB, heldB.body.holdId);
		expect(boughtB.status).toBe(201);
		await tickRoom(id);
		const late = await joinAs("fan-late");
		expect([late.status, late.body.status, typeof late.body.queueToken, late.body.returns]).toEqual([201, "sold_out", "string", { ticketsBack: 0, offered: 0 }]);
		expect((await api("GET", "/api/drops/:id", { params: { id } })).body.status).toBe("sold_out");
		// The late fan leaves an address for the mail when a returned ticket's turn comes to them (once placed).
		await tickRoom(id);
		const notice = await api("POST", "/api/drops/:id/notify", { params: { id }, init: jsonBody({ email: "late@x.test", locale: "ja" }, bearer(late.body.queueToken)) });
		expect([notice.status, notice.body.email, typeof notice.body.position]).toEqual([200, "late@x.test", "number"]);
		expect((await api("POST", "/api/drops/:id/notify", { params: { id }, init: jsonBody({ email: "not an address" }, bearer(late.body.queueToken)) })).body.error.code).toBe("invalid_format");

		// The promoter's views once both sales are in D1.
		await waitUntil(
			async () => (await api("GET", "/api/admin/drops/:id", { params: { id }, init: { headers: adminHeaders } })).body.stats.recorded === 2,
			30_000,
			"both sales to reach D1",
		);
		const sales = await api("GET", "/api/admin/drops/:id/sales", { params: { id }, init: { headers: adminHeaders } });
		expect(sales.body.sales.map((s: { orderId: string }) => s.orderId)).toContain(orderId);
		// A ticket handed on and back: a transfer made and cancelled, another made, read and accepted, the recipient's
		// ticket read with its key; the promoter's rules and the order's transfers.
		const transferPath = { params: { orderId: boughtB.body.orderId, code: boughtB.body.tickets[0] }, init: { headers: bearer(boughtB.body.orderToken) } };
		const cancelledOne = await api("POST", "/api/orders/:orderId/tickets/:code/transfer", transferPath);
		expect(cancelledOne.status).toBe(201);
		expect((await api("DELETE", "/api/orders/:orderId/transfers/:transferId", { params: { orderId: boughtB.body.orderId, transferId: cancelledOne.body.transfer.transferId }, init: { headers: bearer(boughtB.body.orderToken) } })).body.state).toBe("cancelled");
		const handed = await api("POST", "/api/orders/:orderId/tickets/:code/transfer", transferPath);
		expect((await api("POST", "/api/orders/:orderId/tickets/:code/transfer", transferPath)).body.error.code).toBe("transfer_pending");
		const transferId: string = handed.body.transfer.transferId;
		expect((await api("GET", "/api/transfers/:transferId", { params: { transferId }, init: { headers: bearer(handed.body.secret) } })).body.open).toBe(true);
		expect((await api("GET", "/api/transfers/:transferId", { params: { transferId }, init: { headers: bearer("wrong") } })).status).toBe(404);
		const taken = await api("POST", "/api/transfers/:transferId/accept", { params: { transferId }, init: { headers: bearer(handed.body.secret) } });
		expect(taken.status).toBe(201);
		expect((await api("POST", "/api/transfers/:transferId/accept", { params: { transferId }, init: { headers: bearer(handed.body.secret) } })).body.error.code).toBe("transfer_accepted");
		// The accept repeated with the key it answered (the device kept it; the answer was lost): the same ticket, 200.
		const again = await api("POST", "/api/transfers/:transferId/accept", {
			params: { transferId },
			init: { method: "POST", headers: { ...bearer(handed.body.secret), "content-type": "application/json" }, body: JSON.stringify({ holderKey: taken.body.holderKey }) },
		});
		expect({ status: again.status, code: again.body.ticket.code }).toEqual({ status: 200, code: taken.body.ticket.code });
		expect((await api("GET", "/api/transfers/:transferId/ticket", { params: { transferId }, init: { headers: bearer(taken.body.holderKey) } })).body.ticket.state).toBe("valid");
		expect((await api("GET", "/api/admin/drops/:id/orders/:orderId/transfers", { params: { id, orderId: boughtB.body.orderId }, init: { headers: adminHeaders } })).body.transfers).toHaveLength(2);
		expect((await api("GET", "/api/admin/drops/:id/transfers", { params: { id }, init: { headers: adminHeaders } })).body.enabled).toBe(true);
		expect((await api("PATCH", "/api/admin/drops/:id/transfers", { params: { id }, init: jsonBody({ deadline: "soon" }, adminHeaders) })).status).toBe(422);
		expect((await api("PATCH", "/api/admin/drops/:id/transfers", { params: { id }, init: jsonBody({ enabled: false }, adminHeaders) })).body.enabled).toBe(false);
		// A ticket listed for resale and withdrawn: the promoter's rules, the listing, the order's listings, the withdraw.
		expect((await api("GET", "/api/admin/drops/:id/resale", { params: { id }, init: { headers: adminHeaders } })).body.enabled).toBe(false);
		expect((await api("PATCH", "/api/admin/drops/:id/resale", { params: { id }, init: jsonBody({ feeCents: 1, feePercent: 1 }, adminHeaders) })).body.error.code).toBe("fee_conflict");
		expect((await api("PATCH", "/api/admin/drops/:id/resale", { params: { id }, init: jsonBody({ enabled: true, feePercent: 10 }, adminHeaders) })).body.enabled).toBe(true);
		const resalePath = { params: { orderId: boughtB.body.orderId, code: boughtB.body.tickets[1] }, init: { headers: bearer(boughtB.body.orderToken) } };
		const listing = await api("POST", "/api/orders/:orderId/tickets/:code/resale", resalePath);
		expect(listing.body.state).toBe("open");
		expect((await api("POST", "/api/orders/:orderId/tickets/:code/resale", resalePath)).body.error.code).toBe("ticket_listed");
		expect((await api("GET", "/api/orders/:orderId/listings", { params: { orderId: boughtB.body.orderId }, init: { headers: bearer(boughtB.body.orderToken) } })).body.listings).toHaveLength(1);
		expect((await api("GET", "/api/admin/drops/:id/orders/:orderId/listings", { params: { id, orderId: boughtB.body.orderId }, init: { headers: adminHeaders } })).body.listings).toHaveLength(1);
		const listingPath = { params: { orderId: boughtB.body.orderId, listingId: listing.body.listingId }, init: { headers: bearer(boughtB.body.orderToken) } };
		expect((await api("DELETE", "/api/orders/:orderId/listings/:listingId", listingPath)).body.state).toBe("withdrawn");
		expect((await api("GET", "/api/admin/drops/:id/sales", { params: { id }, init: { headers: { ...adminHeaders, accept: "text/csv" } } })).body).toContain(orderId);
		expect((await api("GET", "/api/admin/drops/:id/sales", { params: { id }, search: "?limit=0", init: { headers: adminHeaders } })).status).toBe(422);
		expect((await api("GET", "/api/admin/drops/:id/sales", { params: { id }, search: "?cursor=%25", init: { headers: adminHeaders } })).body.error.code).toBe("invalid_cursor");
		const queue = await api("GET", "/api/admin/drops/:id/queue-stats", { params: { id }, init: { headers: adminHeaders } });
		expect(queue.body.totals.buyers).toBeGreaterThan(0);
		expect((await api("GET", "/api/admin/drops/:id/queue-stats", { params: { id }, search: "?format=csv", init: { headers: adminHeaders } })).body).toContain("minute,arrivals");
		expect((await api("GET", "/api/admin/drops/:id/queue-stats", { params: { id }, search: "?format=xml", init: { headers: adminHeaders } })).body.error.code).toBe("invalid_value");
		expect((await api("GET", "/api/admin/drops/:id/audit", { params: { id }, init: { headers: adminHeaders } })).body.ok).toBe(true);
		expect((await api("GET", "/api/admin/drops/:id/audit", { params: { id }, search: "?graceSeconds=soon", init: { headers: adminHeaders } })).status).toBe(400);
		expect((await api("GET", "/api/admin/drops/:id/audit", { params: { id }, search: "?graceSeconds=3601", init: { headers: adminHeaders } })).status).toBe(422);
		expect((await api("POST", "/api/admin/drops/:id/reconcile", { params: { id }, init: { headers: adminHeaders } })).body).toMatchObject({ dropId: id, resent: 0 });
		expect((await api("PATCH", "/api/admin/drops/:id", { params: { id }, init: jsonBody({ lines: 2 }, adminHeaders) })).body.error.code).toBe("already_open");

		// After the sale: signed tickets at the gate, refunds, a failed order retried, the dev mailbox, cancellation, the webhook.
		const orderToken: string = bought.body.orderToken;
		await waitUntil(
			async () => (await api("GET", "/api/orders/:orderId", { params: { orderId }, init: { headers: bearer(orderToken) } })).body.status === "ticketed",
			30_000,
			"the order to be ticketed",
		);
		const ticketed = await api("GET", "/api/orders/:orderId", { params: { orderId }, init: { headers: bearer(orderToken) } });
		const gate = { authorization: `Bearer ${env.GATE_TOKEN}`, "content-type": "application/json" };
		const scanIt = (ticket: string, headers: Record<string, string> = gate) => api("POST", "/api/admin/drops/:id/scan", { params: { id }, init: jsonBody({ ticket }, headers) });
		expect((await scanIt(ticketed.body.passes[0].token)).status).toBe(200);
		expect((await scanIt(ticketed.body.passes[0].token)).body.error.code).toBe("already_used");
		expect((await scanIt(ticketed.body.passes[0].token, adminHeaders)).status).toBe(401);
		expect((await scanIt("not.a.ticket")).body.error).toMatchObject({ code: "invalid_ticket", field: "ticket" });
		// The drop's gate settings: the static QR switched off, a bare token is refused, a stale rotating code too.
		expect((await api("GET", "/api/admin/drops/:id/gate", { params: { id }, init: { headers: adminHeaders } })).body).toMatchObject({ staticQr: true });
		const gateTo = (staticQr: unknown) => api("PATCH", "/api/admin/drops/:id/gate", { params: { id }, init: { method: "PATCH", body: JSON.stringify({ staticQr }), headers: adminHeaders } });
		expect((await gateTo("off")).body.error).toMatchObject({ code: "invalid_type", field: "staticQr" });
		expect((await gateTo(false)).body).toMatchObject({ staticQr: false });
		expect((await scanIt(ticketed.body.passes[0].token)).body.error).toMatchObject({ code: "rotating_code_required", field: "ticket" });
		const stale = await rotatingCode(ticketed.body.passes[0].token, ticketed.body.passes[0].secret, Date.now() - 60_000);
		expect((await scanIt(stale)).body.error).toMatchObject({ code: "code_expired", field: "ticket" });
		expect((await gateTo(true)).body).toMatchObject({ staticQr: true });
		// A gate device: registered with its own key, its list, a signed scan uploaded, the promoter's views, revoked.
		const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
		const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
		const registered = await api("POST", "/api/admin/drops/:id/gate/devices", { params: { id }, init: jsonBody({ name: "Door", gate: "North entrance", publicKey: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y } }, gate) });
		const deviceId: string = registered.body.device.id;
		expect((await api("GET", "/api/admin/drops/:id/gate/devices/:deviceId/list", { params: { id, deviceId }, init: { headers: gate } })).body.tickets.length).toBeGreaterThan(0);
		const at = new Date().toISOString();
		const message = new TextEncoder().encode(["gate-scan", id, deviceId, "scan-0001", "NOPE-CODE", at, "refused"].join("\n"));
		const signature = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, message)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
		const uploadIt = (scan: Record<string, unknown>) => api("POST", "/api/admin/drops/:id/gate/devices/:deviceId/scans", { params: { id, deviceId }, init: jsonBody({ scans: [scan] }, gate) });
		const scan0 = { scanId: "scan-0001", ticket: "NOPE-CODE", at, result: "refused", signature };
		expect((await uploadIt({ ...scan0, result: "admitted" })).body.error).toMatchObject({ code: "invalid_signature", field: "scans[0].signature" });
		expect((await uploadIt(scan0)).body).toMatchObject({ accepted: 1, duplicates: 0 });
		const listed = (await api("GET", "/api/admin/drops/:id/gate/devices", { params: { id }, init: { headers: adminHeaders } })).body;
		expect(listed.devices[0]).toMatchObject({ id: deviceId, gate: "North entrance", refused: 1 });
		expect(listed.gates).toEqual([{ gate: "North entrance", devices: 1, active: 1, admitted: 0, refused: 1, lastSyncAt: listed.devices[0].lastSyncAt }]);
		expect((await api("GET", "/api/admin/drops/:id/gate/double-entries", { params: { id }, init: { headers: adminHeaders } })).body).toEqual({ doubleEntries: [] });
		expect((await api("POST", "/api/admin/drops/:id/gate/devices/:deviceId/revoke", { params: { id, deviceId }, init: { headers: adminHeaders } })).body).toMatchObject({ changed: true });
		expect((await uploadIt(scan0)).body.error.code).toBe("device_revoked");
		// The online scan naming a device: a revoked one is 403, one the drop does not have 404, each admitting nothing.
		const scanAs = (device: string) => api("POST", "/api/admin/drops/:id/scan", { params: { id }, init: jsonBody({ ticket: ticketed.body.passes[0].token, device }, gate) });
		expect((await scanAs(deviceId)).body.error.code).toBe("device_revoked");
		expect((await scanAs("gd_nosuchdevice")).status).toBe(404);
		const refundIt = (body: unknown) => api("POST", "/api/admin/drops/:id/orders/:orderId/refund", { params: { id, orderId }, init: jsonBody(body, adminHeaders) });
		expect((await refundIt({ tickets: ["NOPE"] })).body.error).toMatchObject({ code: "unknown_ticket", field: "tickets" });
		expect((await refundIt({})).body).toMatchObject({ status: "refunded", changed: true });
		expect((await api("GET", "/api/admin/drops/:id/refunds", { params: { id }, init: { headers: adminHeaders } })).body.totals.refunds).toBe(1);
		expect((await api("POST", "/api/admin/drops/:id/orders/:orderId/retry", { params: { id, orderId }, init: { headers: adminHeaders } })).body.error.code).toBe("not_failed");
		const otherOrder: string = sales.body.sales.find((s: { orderId: string }) => s.orderId !== orderId).orderId;
		await env.DB.prepare(`UPDATE orders SET status = 'failed', status_detail = 'send receipt failed' WHERE order_id = ?`).bind(otherOrder).run();
		expect((await api("POST", "/api/admin/drops/:id/orders/:orderId/retry", { params: { id, orderId: otherOrder }, init: { headers: adminHeaders } })).body).toMatchObject({ orderId: otherOrder, restarted: true });
		expect((await api("GET", "/api/admin/dev/mail", { init: { headers: adminHeaders } })).body.mail).toEqual(expect.any(Array));
		expect((await api("GET", "/api/admin/dev/mail", { search: "?limit=0", init: { headers: adminHeaders } })).status).toBe(422);
		expect((await api("GET", "/api/admin/dev/mail", { search: "?to=" + "x".repeat(255), init: { headers: adminHeaders } })).status).toBe(422);
		expect((await api("POST", "/api/admin/dev/draw-cron", { init: { headers: adminHeaders } })).body).toEqual({ drawn: expect.any(Number), told: expect.any(Number) });
		expect((await api("POST", "/api/admin/drops/:id/cancel", { params: { id }, init: { headers: adminHeaders } })).body).toMatchObject({ dropId: id, ordersLeft: 0 });
		const webhook = await api("POST", "/api/payments/stripe/webhook", {
			init: { headers: { "content-type": "application/json", "stripe-signature": `t=${Math.floor(Date.now() / 1000)},v1=${"0".repeat(64)}` }, body: "{}" },
		});
		expect(webhook.body.error.code).toBe("invalid_signature");
		const event = JSON.stringify({ id: "evt_contract_1", object: "event", type: "payment_intent.succeeded", data: { object: { id: "pi_contract" } } });
		const signed = await api("POST", "/api/payments/stripe/webhook", {
			init: { headers: { "content-type": "application/json", "stripe-signature": await stripeSignature(env.STRIPE_WEBHOOK_SECRET!, event) }, body: event },
		});
		expect(signed.body).toEqual({ received: true, duplicate: false });
		// Webhooks (an owner key's): an endpoint, its delivery of a cancel, pause, resume and a resend.
		const owner = await createPromoter("Contract hooks");
		const ownerHeaders = { authorization: `Bearer ${owner.apiKey}`, "content-type": "application/json" };
		const hook = await api("POST", "/api/admin/webhooks", { init: jsonBody({ url: "https://hooks.test/contract", events: ["drop.cancelled"] }, ownerHeaders) });
		expect(hook.status).toBe(201);
		expect((await api("POST", "/api/admin/webhooks", { init: jsonBody({ url: "http://hooks.test/", events: ["drop.cancelled"] }, ownerHeaders) })).body.error.code).toBe("invalid_url");
		expect((await api("POST", "/api/admin/webhooks", { init: jsonBody({ url: "https://hooks.test/", events: ["drop.cancelled"] }, adminHeaders) })).body.error.code).toBe("forbidden");
		expect((await api("GET", "/api/admin/webhooks", { init: { headers: ownerHeaders } })).body.endpoints).toHaveLength(1);
		const ownDrop = await createDropAs(owner.apiKey);
		expect((await api("POST", "/api/admin/drops/:id/cancel", { params: { id: ownDrop.id }, init: { headers: ownerHeaders } })).status).toBe(200);
		const webhookId: string = hook.body.id;
		const hookDeliveries = () => api("GET", "/api/admin/webhooks/:webhookId/deliveries", { params: { webhookId }, init: { headers: ownerHeaders } });
		await waitUntil(async () => (await hookDeliveries()).body.deliveries[0]?.status === "delivered", 60_000, "the cancel's webhook delivered", 50);
		expect((await api("GET", "/api/admin/webhooks/:webhookId/deliveries", { params: { webhookId }, search: "?cursor=%25", init: { headers: ownerHeaders } })).body.error.code).toBe("invalid_cursor");
		expect((await api("POST", "/api/admin/webhooks/:webhookId/pause", { params: { webhookId }, init: { headers: ownerHeaders } })).body.state).toBe("paused");
		expect((await api("POST", "/api/admin/webhooks/:webhookId/resume", { params: { webhookId }, init: { headers: ownerHeaders } })).body.state).toBe("active");
		const deliveryId: string = (await hookDeliveries()).body.deliveries[0].id;
		expect((await api("POST", "/api/admin/webhooks/:webhookId/deliveries/:deliveryId/resend", { params: { webhookId, deliveryId }, init: { headers: ownerHeaders } })).body.status).toBe("pending");
		expect((await api("POST", "/api/admin/webhooks/:webhookId/deliveries/:deliveryId/resend", { params: { webhookId, deliveryId: "wd_000000000000000000000000" }, init: { headers: ownerHeaders } })).status).toBe(404);

		// Named inventory: a seated drop, its seats as CSV before the opening, and what fans see is left.
		const later = new Date(Date.now() + 3_600_000).toISOString();
		const seatList = [{ id: "A-1", section: "A", row: "1", number: 1 }];
		const seated = await api("POST", "/api/admin/drops", {
			init: jsonBody({ name: "Seated", maxPerFan: 2, opensAt: later, shards: 1, lines: 1, ticketTypes: [{ id: "seat", name: "Seat", kind: "seated", seats: seatList }] }, adminHeaders),
		});
		expect(seated.status).toBe(201);
		const csv = (body: string) => ({ params: { id: seated.body.id, typeId: "seat" }, init: { headers: { ...adminHeaders, "content-type": "text/csv" }, body } });
		expect((await api("PUT", "/api/admin/drops/:id/ticket-types/:typeId/seats", csv("id,section,row,number\nA-1,A,1,1\nA-2,A,1,2"))).body.capacity).toBe(2);
		expect((await api("PUT", "/api/admin/drops/:id/ticket-types/:typeId/seats", csv("id,section,row,number\nA-1,A,1,1\nA-1,A,1,2"))).body.error).toMatchObject({ code: "duplicate_seat", line: 3 });
		const left = await api("GET", "/api/drops/:id/availability", { params: { id: seated.body.id } });
		expect(left.body.ticketTypes).toEqual([{ id: "seat", kind: "seated", remaining: 2, sections: [{ name: "A", remaining: 2, rows: [{ row: "1", free: "1-2" }] }] }]);
		expect((await api("GET", "/api/drops/:id/availability", { params: { id: "d_AAAAAAAAAAAAAAAA" } })).status).toBe(404);
		const map = await api("GET", "/api/drops/:id/seats", { params: { id: seated.body.id }, search: "?section=A" });
		expect(map.body.ticketTypes).toEqual([{ id: "seat", sections: [{ name: "A", rows: [{ row: "1", seats: [[1, "A-1"], [2, "A-2"]] }] }] }]);

		// Sale windows: a drop with a code window open now, its codes made, used, listed and revoked.
		const soon = (ms: number) => new Date(Date.now() + ms).toISOString();
		const presale = await api("POST", "/api/admin/drops", {
			init: jsonBody({ name: "Presale", capacity: 10, maxPerFan: 2, opensAt: soon(3_600_000), shards: 1, lines: 1, presales: [{ id: "club", name: "Club", opensAt: soon(-60_000), closesAt: soon(600_000), access: "code", capacity: 5 }] }, adminHeaders),
		});
		expect(presale.status).toBe(201);
		const codeGroup = await api("POST", "/api/admin/drops/:id/code-groups", { params: { id: presale.body.id }, init: jsonBody({ windowId: "club", kind: "unique", name: "Club", count: 2 }, adminHeaders) });
		expect(codeGroup.body.codes).toHaveLength(2);
		expect((await api("POST", "/api/drops/:id/join", { params: { id: presale.body.id }, init: jsonBody({ fanId: "coded-fan", code: codeGroup.body.codes[0] }) })).status).toBe(201);
		expect((await api("POST", "/api/drops/:id/join", { params: { id: presale.body.id }, init: jsonBody({ fanId: "codeless-fan" }) })).body.error.code).toBe("code_required");
		expect((await api("GET", "/api/admin/drops/:id/code-groups", { params: { id: presale.body.id }, init: { headers: adminHeaders } })).body.groups[0].used).toBe(1);
		expect((await api("POST", "/api/admin/drops/:id/code-groups/:groupId/revoke", { params: { id: presale.body.id, groupId: codeGroup.body.id }, init: { headers: adminHeaders } })).body.revokedAt).not.toBeNull();

		// A registered window: a fan registers and verifies, the draw is committed, then made by the promoter once registration has closed.
		const closesIn = 4_000;
		const registeredDrop = await api("POST", "/api/admin/drops", {
			init: jsonBody({ name: "Registered", capacity: 10, maxPerFan: 2, opensAt: soon(3_600_000), shards: 1, lines: 1, presales: [{ id: "verified", name: "Verified", opensAt: soon(600_000), closesAt: soon(1_200_000), access: "registered", registration: { opensAt: soon(-60_000), closesAt: soon(closesIn), invites: 1 } }] }, adminHeaders),
		});
		expect(registeredDrop.status).toBe(201);
		const regClosesAt = Date.now() + closesIn;
		const rid = registeredDrop.body.id;
		expect((await api("POST", "/api/drops/:id/registrations", { params: { id: rid }, init: jsonBody({ email: "contract@x.test", locale: "fr" }) })).body.status).toBe("verification_sent");
		expect((await api("POST", "/api/drops/:id/registrations", { params: { id: rid }, init: jsonBody({ email: "not an address" }) })).body.error.code).toBe("invalid_format");
		const mailed = await env.DB.prepare(`SELECT subject FROM dev_mail WHERE to_address = 'contract@x.test' ORDER BY id DESC`).first<{ subject: string }>();
		const mailedCode = /\b(\d{8})\b/.exec(mailed!.subject)![1]!;
		expect((await api("POST", "/api/drops/:id/registrations/verify", { params: { id: rid }, init: jsonBody({ email: "contract@x.test", code: mailedCode === "00000000" ? "00000001" : "00000000" }) })).body.error.code).toBe("verification_invalid");
		expect((await api("POST", "/api/drops/:id/registrations/verify", { params: { id: rid }, init: jsonBody({ email: "contract@x.test", code: mailedCode }) })).body.status).toBe("verified");
		expect((await api("GET", "/api/drops/:id/draw", { params: { id: rid } })).body.seed).toBeNull();
		expect((await api("POST", "/api/admin/drops/:id/windows/:windowId/draw", { params: { id: rid, windowId: "verified" }, init: { headers: adminHeaders } })).body.error.code).toBe("registration_open");
		await new Promise((resolve) => setTimeout(resolve, Math.max(0, regClosesAt - Date.now()) + 200));
		expect((await api("POST", "/api/admin/drops/:id/windows/:windowId/draw", { params: { id: rid, windowId: "verified" }, init: { headers: adminHeaders } })).body).toMatchObject({ made: true, registered: 1, drawn: 1 });
		expect((await api("POST", "/api/admin/drops/:id/windows/:windowId/draw", { params: { id: rid, windowId: "verified" }, init: { headers: adminHeaders } })).body.made).toBe(false);
		expect((await api("GET", "/api/drops/:id/draw", { params: { id: rid } })).body.invited).toHaveLength(1);

		// Every success the document promises was seen, and checked, at least once.
		for (const [path, ops] of Object.entries(doc.paths)) {
			for (const [method, op] of Object.entries(ops)) {
				const route = path.replace(/\{(\w+)\}/g, ":$1");
				for (const status of Object.keys(op.responses).filter((s) => s.startsWith("2"))) {
					expect(seen, `${op.operationId} ${status}`).toContain(`${method.toUpperCase()} ${route} ${status}`);
				}
			}
		}
	}, 180_000); // every route the journey covers, one after another: longer than one test on a loaded machine
});
