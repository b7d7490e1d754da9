// Hostile and broken input on every endpoint of the contract. Each answer is
// the contract's JSON error with a precise code, shows nothing internal, and
// leaves the engine's state exactly as it was (checked through the admin
// stats and audit, and D1, before and after).
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { audit } from "../support/audit";
import { type DropJson, createDrop, dropsInD1, getDrop } from "../support/drops";
import { expectError } from "../support/errors";
import { admittedFan, join, newHold, newKey, purchase } from "../support/fans";
import { waitUntil } from "../support/wait";
import { callWorker } from "../support/worker";

const LIMIT = 16 * 1024;

interface Fixture {
	drop: DropJson;
	other: DropJson;
	accessA: string;
	accessB: string;
	accessOther: string;
	queueA: string;
	liveHoldA: string;
	liveHoldB: string;
	orderA: string;
}

let f: Fixture;

/** Everything a bad request could have changed. */
async function snapshot() {
	const state = async (id: string) => {
		const view = await getDrop(id);
		// A wide grace period keeps the audit's "recently sent" figures still while the tests run.
		// (The objects' request counters are left out: they count every request, reads and refusals too.)
		const { load: _load, ...checks } = await audit(id, 3600);
		const orders = await env.DB.prepare(`SELECT COUNT(*) AS n FROM orders WHERE drop_id = ?`).bind(id).first<number>("n");
		return { view, audit: checks, orders };
	};
	return { drops: await dropsInD1(), main: await state(f.drop.id), other: await state(f.other.id) };
}

/** Runs `fn` (the bad requests) and proves nothing changed. */
async function unchanged(fn: () => Promise<void>): Promise<void> {
	const before = await snapshot();
	await fn();
	expect(await snapshot()).toEqual(before);
}

function raw(method: string, path: string, init: { body?: BodyInit; type?: string | null; token?: string | null; headers?: Record<string, string> } = {}) {
	const headers = new Headers(init.headers);
	if (init.token) headers.set("authorization", `Bearer ${init.token}`);
	if (init.type !== null) headers.set("content-type", init.type ?? "application/json");
	return callWorker(`${path}`, { method, headers, body: init.body });
}

const admin = () => env.ADMIN_TOKEN;

/** A body that streams in chunks with no Content-Length, so only the reader can see its size. */
function streamed(bytes: number): ReadableStream<Uint8Array> {
	let sent = 0;
	return new ReadableStream({
		pull(controller) {
			if (sent >= bytes) return controller.close();
			const n = Math.min(4096, bytes - sent);
			controller.enqueue(new TextEncoder().encode(sent === 0 ? `{"x":"${"a".repeat(n - 6)}` : "a".repeat(n)));
			sent += n;
		},
	});
}

/**
 * The body-level attacks every JSON endpoint must refuse the same way. Join's
 * body is optional (identity mode may carry everything), so there an empty
 * body is an empty object, and the fan id is what is missing.
 */
function bodyAttacks(emptyBody = "missing_body"): [string, { body?: BodyInit; type?: string | null }, number, string][] {
	return [
		["malformed JSON", { body: '{"a": ' }, 400, "invalid_json"],
		["trailing garbage", { body: '{"a": 1} x' }, 400, "invalid_json"],
		["single quotes", { body: "{'a': 1}" }, 400, "invalid_json"],
		["NaN literal", { body: '{"a": NaN}' }, 400, "invalid_json"],
		["invalid UTF-8", { body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) }, 400, "invalid_json"],
		["an empty body", { body: "" }, 400, emptyBody],
		["no body and no content type", { type: null }, 400, emptyBody],
		["whitespace only", { body: "   " }, 400, "invalid_json"],
		["an array", { body: "[1,2]" }, 400, "invalid_type"],
		["a string", { body: '"hello"' }, 400, "invalid_type"],
		["null", { body: "null" }, 400, "invalid_type"],
		["deep nesting", { body: "[".repeat(8_000) + "]".repeat(8_000) }, 400, "invalid_type"],
		["no content type", { body: "{}", type: null }, 415, "unsupported_media_type"],
		["text/plain", { body: "{}", type: "text/plain" }, 415, "unsupported_media_type"],
		["a form", { body: "a=1", type: "application/x-www-form-urlencoded" }, 415, "unsupported_media_type"],
		["multipart", { body: "--x--", type: "multipart/form-data; boundary=x" }, 415, "unsupported_media_type"],
		["a JSON look-alike type", { body: "{}", type: "application/jsonp" }, 415, "unsupported_media_type"],
		["over 16 KiB", { body: JSON.stringify({ x: "a".repeat(LIMIT) }) }, 413, "body_too_large"],
		["over 16 KiB by one byte", { body: "{" + " ".repeat(LIMIT - 1) + "}" }, 413, "body_too_large"],
		["1 MiB", { body: JSON.stringify({ x: "a".repeat(1 << 20) }) }, 413, "body_too_large"],
		["streamed past 16 KiB with no length", { body: streamed(LIMIT + 4096) }, 413, "body_too_large"],
	];
}

beforeAll(async () => {
	// Batches far apart: only the test admits anyone, so nothing moves between snapshots.
	const admission = { batchSize: 1_000, intervalMs: 600_000, activeMultiple: 20 };
	const drop = await createDrop({ name: "Bad input", capacity: 20, maxPerFan: 4, shards: 2, admission });
	const other = await createDrop({ name: "Other drop", capacity: 5, maxPerFan: 2, admission });
	const accessA = await admittedFan(drop.id, "fan-a");
	const accessB = await admittedFan(drop.id, "fan-b");
	const accessOther = await admittedFan(other.id, "fan-a");
	const queueA = (await join(drop.id, "fan-a")).queueToken;

	const bought = await newHold(drop.id, accessA, 1);
	const order = (await (await purchase(drop.id, accessA, bought.holdId)).json()) as { orderId: string };
	const liveA = await newHold(drop.id, accessA, 1);
	const liveB = await newHold(drop.id, accessB, 2);
	f = { drop, other, accessA, accessB, accessOther, queueA, liveHoldA: liveA.holdId, liveHoldB: liveB.holdId, orderA: order.orderId };

	// Let the sale settle in D1 so the snapshots see a still pipeline.
	await waitUntil(
		async () => {
			const a = await audit(drop.id, 3600);
			return a.recorded === 1 && a.outboxPending === 0;
		},
		20_000,
		"the sale to settle in D1",
		100,
	);
	expect((await getDrop(drop.id)).stats).toMatchObject({ joined: 2, admitted: 2, held: 3, sold: 1, remaining: 16, recorded: 1 });
});

describe("POST /api/admin/drops", () => {
	const path = "/api/admin/drops";

	it("refuses broken bodies", async () => {
		await unchanged(async () => {
			for (const [what, init, status, code] of bodyAttacks()) {
				await expectError(await raw("POST", path, { ...init, token: admin() }), status, code, what);
			}
		});
	});

	it("refuses numbers and keys that only the JSON text can carry", async () => {
		// (Every rule of a drop's fields is in support/drop-rules.ts, run through HTTP by drops-api.test.ts.)
		const opensAt = new Date(Date.now() + 3_600_000).toISOString();
		await unchanged(async () => {
			// A number too large for a double, written as JSON text.
			const huge = `{"name":"x","capacity":1e400,"maxPerFan":2,"opensAt":"${opensAt}"}`;
			await expectError(await raw("POST", path, { body: huge, token: admin() }), 422, "out_of_range");
			await expectError(await raw("POST", path, { body: `{"__proto__":{"capacity":5},"name":"x"}`, token: admin() }), 400, "unknown_field");
		});
	});

	it("takes a body of exactly 16 KiB to the schema (the limit is not off by one)", async () => {
		const opensAt = new Date(Date.now() + 3_600_000).toISOString();
		const head = `{"capacity":10,"maxPerFan":2,"opensAt":"${opensAt}","name":"`;
		const body = head + "n".repeat(LIMIT - head.length - 2) + '"}';
		expect(new TextEncoder().encode(body).byteLength).toBe(LIMIT);
		await unchanged(async () => {
			await expectError(await raw("POST", path, { body, token: admin() }), 422, "too_long");
		});
	});
});

describe("GET /api/admin/drops and a drop's sales and audit", () => {
	it("refuses bad query parameters and unknown drops", async () => {
		await unchanged(async () => {
			const paging: [string, number, string][] = [
				["limit=abc", 400, "invalid_type"],
				["limit=ten", 400, "invalid_type"],
				["limit=0", 422, "out_of_range"],
				["limit=201", 422, "out_of_range"],
				["limit=-1", 400, "invalid_type"],
				["limit=1.5", 400, "invalid_type"],
				["limit=1e3", 400, "invalid_type"],
				["limit=99999999999", 400, "invalid_type"],
				["cursor=!!", 400, "invalid_cursor"],
				["cursor=%%%", 400, "invalid_cursor"],
				[`cursor=${"A".repeat(5_000)}`, 400, "invalid_cursor"],
				[`cursor=${btoa("[1,2]")}`, 400, "invalid_cursor"],
				[`cursor=${btoa('["a"]')}`, 400, "invalid_cursor"],
				[`cursor=${btoa("not json")}`, 400, "invalid_cursor"],
			];
			for (const [query, status, code] of paging) {
				await expectError(await raw("GET", `/api/admin/drops?${query}`, { token: admin(), type: null }), status, code, query);
			}
			for (const suffix of ["", "/sales", "/audit"]) {
				await expectError(await raw("GET", `/api/admin/drops/d_AAAAAAAAAAAAAAAA${suffix}`, { token: admin(), type: null }), 404, "not_found");
				await expectError(await raw("GET", `/api/admin/drops/bad.id${suffix}`, { token: admin(), type: null }), 404, "not_found");
			}
			const sales = `/api/admin/drops/${f.drop.id}/sales`;
			await expectError(await raw("GET", `${sales}?limit=1001`, { token: admin(), type: null }), 422, "out_of_range");
			await expectError(await raw("GET", `${sales}?limit=-5`, { token: admin(), type: null }), 400, "invalid_type");
			await expectError(await raw("GET", `${sales}?cursor=${btoa('{"a":1}')}`, { token: admin(), type: null }), 400, "invalid_cursor");
			const auditPath = `/api/admin/drops/${f.drop.id}/audit`;
			await expectError(await raw("GET", `${auditPath}?graceSeconds=3601`, { token: admin(), type: null }), 422, "out_of_range");
			await expectError(await raw("GET", `${auditPath}?graceSeconds=0.5`, { token: admin(), type: null }), 400, "invalid_type");
		});
	});
});

describe("PATCH /api/admin/drops/:id", () => {
	it("refuses broken bodies, bad fields and unknown drops", async () => {
		const path = () => `/api/admin/drops/${f.drop.id}`;
		await unchanged(async () => {
			for (const [what, init, status, code] of bodyAttacks()) {
				await expectError(await raw("PATCH", path(), { ...init, token: admin() }), status, code, what);
			}
			const cases: [unknown, number, string][] = [
				[{}, 400, "empty_patch"],
				[{ paused: 1 }, 400, "invalid_type"],
				[{ name: 5 }, 400, "invalid_type"],
				[{ holdSeconds: 60.5 }, 400, "invalid_type"],
				[{ admission: "x" }, 400, "invalid_type"],
				[{ surprise: true }, 400, "unknown_field"],
				[{ admission: { batchSize: 5, speed: 2 } }, 400, "unknown_field"],
				[{ name: "" }, 422, "empty"],
				[{ name: "x".repeat(500) }, 422, "too_long"],
				[{ holdSeconds: 4_000 }, 422, "out_of_range"],
				[{ admission: { intervalMs: 0 } }, 422, "out_of_range"],
				[{ capacity: 1_000 }, 422, "immutable_field"],
				[{ maxPerFan: 20 }, 422, "immutable_field"],
				[{ opensAt: new Date(Date.now() + 3_600_000).toISOString() }, 422, "already_open"],
				[{ closesAt: "2000-01-01T00:00:00Z" }, 422, "invalid_time"],
				[{ closesAt: "not a time" }, 422, "invalid_time"],
			];
			for (const [body, status, code] of cases) {
				await expectError(await raw("PATCH", path(), { body: JSON.stringify(body), token: admin() }), status, code);
			}
			await expectError(await raw("PATCH", "/api/admin/drops/d_AAAAAAAAAAAAAAAA", { body: '{"paused":true}', token: admin() }), 404, "not_found");
			await expectError(await raw("PATCH", "/api/admin/drops/no$such", { body: '{"paused":true}', token: admin() }), 404, "not_found");
		});
	});
});

describe("GET /api/drops/:id", () => {
	it("404 for unknown and malformed ids", async () => {
		await unchanged(async () => {
			for (const id of ["d_AAAAAAAAAAAAAAAA", "x".repeat(65), "a b", "<script>", "d_%00"]) {
				await expectError(await raw("GET", `/api/drops/${encodeURIComponent(id)}`, { type: null }), 404, "not_found");
			}
		});
	});
});

describe("POST /api/drops/:id/join", () => {
	const path = () => `/api/drops/${f.drop.id}/join`;

	it("refuses broken bodies", async () => {
		await unchanged(async () => {
			for (const [what, init, status, code] of bodyAttacks("missing_field")) {
				await expectError(await raw("POST", path(), init), status, code, what);
			}
		});
	});

	it("refuses bad fan ids and fields, and unknown drops; no fan is added", async () => {
		const cases: [unknown, number, string][] = [
			[{}, 400, "missing_field"],
			[{ fanId: 42 }, 400, "invalid_type"],
			[{ fanId: null }, 400, "invalid_type"],
			[{ fanId: ["fan-x"] }, 400, "invalid_type"],
			[{ fanId: "fan-x", extra: 1 }, 400, "unknown_field"],
			[{ fanId: "fan-x", position: 1 }, 400, "unknown_field"],
			[{ fanId: "" }, 422, "empty"],
			[{ fanId: "   " }, 422, "empty"],
			[{ fanId: "f".repeat(129) }, 422, "too_long"],
			[{ fanId: "f".repeat(10_000) }, 422, "too_long"],
			[{ fanId: "fan x" }, 422, "invalid_format"],
			[{ fanId: "fan/../x" }, 422, "invalid_format"],
			[{ fanId: "fan\u0000x" }, 422, "invalid_format"],
			[{ fanId: "fän" }, 422, "invalid_format"],
			[{ fanId: "fan-x", turnstileToken: "" }, 422, "empty"],
			[{ fanId: "fan-x", turnstileToken: 1 }, 400, "invalid_type"],
			[{ fanId: "fan-x", identityToken: "t".repeat(8_193) }, 422, "too_long"],
			[{ fanId: "fan-x", fanSecret: 1 }, 400, "invalid_type"],
			[{ fanId: "fan-x", fanSecret: "too-short-to-be-a-secret" }, 422, "too_short"],
			[{ fanId: "fan-x", fanSecret: "s".repeat(129) }, 422, "too_long"],
			[{ fanId: "fan-x", fanSecret: "not+base64url/".repeat(4) }, 422, "invalid_format"],
		];
		await unchanged(async () => {
			for (const [body, status, code] of cases) {
				await expectError(await raw("POST", path(), { body: JSON.stringify(body) }), status, code);
			}
			// No body at all: the fan id is still required.
			await expectError(await raw("POST", path(), { type: null }), 400, "missing_field");
			await expectError(await raw("POST", "/api/drops/d_AAAAAAAAAAAAAAAA/join", { body: '{"fanId":"fan-x"}' }), 404, "not_found");
			await expectError(await raw("POST", "/api/drops/bad.id/join", { body: '{"fanId":"fan-x"}' }), 404, "not_found");
		});
	});
});

describe("GET /api/drops/:id/status", () => {
	it("refuses missing, forged and misused tokens", async () => {
		const path = (id = f.drop.id) => `/api/drops/${id}/status`;
		await unchanged(async () => {
			await expectError(await raw("GET", path(), { type: null }), 401, "missing_token");
			await expectError(await raw("GET", path(), { type: null, headers: { authorization: "Basic abc" } }), 401, "missing_token");
			await expectError(await raw("GET", path(), { type: null, headers: { authorization: `Bearer ${"x".repeat(5_000)}` } }), 401, "missing_token");
			await expectError(await raw("GET", path(), { type: null, token: "not.a.jwt" }), 401, "invalid_token");
			await expectError(await raw("GET", path(), { type: null, token: admin() }), 401, "invalid_token");
			// An access token is not a queue token.
			await expectError(await raw("GET", path(), { type: null, token: f.accessA }), 401, "invalid_token");
			// A tampered token: the payload changed, the signature kept.
			const [h, p, s] = f.queueA.split(".");
			const claims = JSON.parse(atob(p!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
			const forged = btoa(JSON.stringify({ ...claims, pos: 1, sub: "fan-b" })).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
			await expectError(await raw("GET", path(), { type: null, token: `${h}.${forged}.${s}` }), 401, "invalid_token");
			// Another drop's token; an unknown drop is not found, whatever the token.
			await expectError(await raw("GET", path(f.other.id), { type: null, token: f.queueA }), 403, "wrong_drop");
			await expectError(await raw("GET", path("d_AAAAAAAAAAAAAAAA"), { type: null, token: f.queueA }), 404, "not_found");
			await expectError(await raw("GET", path("d_AAAAAAAAAAAAAAAA"), { type: null }), 404, "not_found");
			await expectError(await raw("GET", path("bad.id"), { type: null, token: f.queueA }), 404, "not_found");
		});
	});
});

describe("POST /api/drops/:id/holds", () => {
	const path = (id = f.drop.id) => `/api/drops/${id}/holds`;
	const withKey = (init: { body?: BodyInit; type?: string | null } = {}, token = f.accessB) => ({ ...init, token, headers: { "idempotency-key": newKey() } });

	it("refuses broken bodies", async () => {
		await unchanged(async () => {
			for (const [what, init, status, code] of bodyAttacks()) {
				await expectError(await raw("POST", path(), withKey(init)), status, code, what);
			}
		});
	});

	it("refuses bad quantities, keys and tokens; no hold is made", async () => {
		const cases: [string, number, string][] = [
			["{}", 400, "missing_field"],
			['{"quantity":"1"}', 400, "invalid_type"],
			['{"quantity":null}', 400, "invalid_type"],
			['{"quantity":true}', 400, "invalid_type"],
			['{"quantity":1.5}', 400, "invalid_type"],
			['{"quantity":0.999999}', 400, "invalid_type"],
			['{"quantity":1,"price":0}', 400, "unknown_field"],
			['{"quantity":0}', 422, "out_of_range"],
			['{"quantity":-1}', 422, "out_of_range"],
			['{"quantity":21}', 422, "out_of_range"],
			['{"quantity":1e400}', 422, "out_of_range"],
			['{"quantity":9007199254740993}', 422, "out_of_range"],
			// Within the schema, over this fan's limit: fan-b holds 2 of 4.
			['{"quantity":3}', 422, "limit_exceeded"],
		];
		await unchanged(async () => {
			for (const [body, status, code] of cases) {
				await expectError(await raw("POST", path(), withKey({ body })), status, code);
			}
			const body = '{"quantity":1}';
			await expectError(await raw("POST", path(), { body, token: f.accessB }), 400, "missing_idempotency_key");
			for (const key of ["", "has space", "k".repeat(129), "a/b", "a\tb"]) {
				await expectError(await raw("POST", path(), { body, token: f.accessB, headers: { "idempotency-key": key } }), 400, "invalid_idempotency_key");
			}
			await expectError(await raw("POST", path(), { body, headers: { "idempotency-key": newKey() } }), 401, "missing_token");
			await expectError(await raw("POST", path(), withKey({ body }, f.queueA)), 401, "invalid_token");
			await expectError(await raw("POST", path(), withKey({ body }, "garbage")), 401, "invalid_token");
			await expectError(await raw("POST", path(f.other.id), withKey({ body }, f.accessB)), 403, "wrong_drop");
			await expectError(await raw("POST", path("d_AAAAAAAAAAAAAAAA"), withKey({ body }, f.accessB)), 403, "wrong_drop");
			await expectError(await raw("POST", path("bad.id"), withKey({ body }, f.accessB)), 404, "not_found");
		});
	});
});

describe("POST /api/drops/:id/holds/:holdId/purchase", () => {
	const path = (holdId = f.liveHoldA, id = f.drop.id) => `/api/drops/${id}/holds/${holdId}/purchase`;
	const good = JSON.stringify({ payment: { method: "test", token: "ok" } });

	it("refuses broken bodies; the hold stays held", async () => {
		await unchanged(async () => {
			for (const [what, init, status, code] of bodyAttacks()) {
				await expectError(await raw("POST", path(), { ...init, token: f.accessA }), status, code, what);
			}
		});
	});

	it("refuses bad payments, unknown and foreign holds, and bad tokens", async () => {
		const cases: [unknown, number, string][] = [
			[{}, 400, "missing_field"],
			[{ payment: "card" }, 400, "invalid_type"],
			[{ payment: null }, 400, "invalid_type"],
			[{ payment: { method: "test" } }, 400, "missing_field"],
			[{ payment: { method: 1, token: "ok" } }, 400, "invalid_type"],
			[{ payment: { method: "test", token: "ok", cvv: "123" } }, 400, "unknown_field"],
			[{ payment: { method: "test", token: "ok" }, amountCents: 0 }, 400, "unknown_field"],
			[{ payment: { method: "bitcoin", token: "ok" } }, 422, "invalid_value"],
			[{ payment: { method: "__proto__", token: "ok" } }, 422, "invalid_value"],
			[{ payment: { method: "toString", token: "ok" } }, 422, "invalid_value"],
			[{ payment: { method: "test", token: "" } }, 422, "empty"],
			[{ payment: { method: "test", token: "t".repeat(257) } }, 422, "too_long"],
			[{ payment: { method: "test", token: "ok" }, locale: "xx" }, 422, "invalid_value"],
			[{ payment: { method: "test", token: "ok" }, locale: "de-DE" }, 422, "invalid_value"],
			[{ payment: { method: "test", token: "ok" }, locale: "" }, 422, "invalid_value"],
			[{ payment: { method: "test", token: "ok" }, locale: 5 }, 400, "invalid_type"],
		];
		await unchanged(async () => {
			for (const [body, status, code] of cases) {
				await expectError(await raw("POST", path(), { body: JSON.stringify(body), token: f.accessA }), status, code);
			}
			for (const holdId of ["h_0_AAAAAAAAAAAAAAAA", "h_1_AAAAAAAAAAAAAAAA", "h_9_AAAAAAAAAAAAAAAA", "h_0_short", "nope", "o_0_AAAAAAAAAAAAAAAA"]) {
				await expectError(await raw("POST", path(holdId), { body: good, token: f.accessA }), 404, "not_found");
			}
			// Another fan's hold is not found for this fan, and stays theirs.
			await expectError(await raw("POST", path(f.liveHoldB), { body: good, token: f.accessA }), 404, "not_found");
			await expectError(await raw("POST", path(), { body: good }), 401, "missing_token");
			await expectError(await raw("POST", path(), { body: good, token: f.queueA }), 401, "invalid_token");
			await expectError(await raw("POST", path(f.liveHoldA, f.other.id), { body: good, token: f.accessA }), 403, "wrong_drop");
		});
	});
});

describe("DELETE /api/drops/:id/holds/:holdId", () => {
	it("refuses unknown and foreign holds and bad tokens; nothing is released", async () => {
		const path = (holdId: string, id = f.drop.id) => `/api/drops/${id}/holds/${holdId}`;
		await unchanged(async () => {
			for (const holdId of ["h_0_AAAAAAAAAAAAAAAA", "h_1_AAAAAAAAAAAAAAAA", "h_64_AAAAAAAAAAAAAAAA", "x"]) {
				await expectError(await raw("DELETE", path(holdId), { token: f.accessA, type: null }), 404, "not_found");
			}
			await expectError(await raw("DELETE", path(f.liveHoldB), { token: f.accessA, type: null }), 404, "not_found");
			await expectError(await raw("DELETE", path(f.liveHoldA), { type: null }), 401, "missing_token");
			await expectError(await raw("DELETE", path(f.liveHoldA), { token: f.queueA, type: null }), 401, "invalid_token");
			await expectError(await raw("DELETE", path(f.liveHoldA, f.other.id), { token: f.accessA, type: null }), 403, "wrong_drop");
		});
	});
});

describe("GET /api/orders/:orderId", () => {
	it("refuses unknown and foreign orders and bad tokens", async () => {
		const path = (orderId: string) => `/api/orders/${orderId}`;
		await unchanged(async () => {
			const mine = await raw("GET", path(f.orderA), { token: f.accessA, type: null });
			expect(mine.status).toBe(200);
			for (const orderId of ["o_0_AAAAAAAAAAAAAAAA", "o_1_AAAAAAAAAAAAAAAA", "o_7_AAAAAAAAAAAAAAAA", "h_0_AAAAAAAAAAAAAAAA", "x"]) {
				await expectError(await raw("GET", path(orderId), { token: f.accessA, type: null }), 404, "not_found");
			}
			await expectError(await raw("GET", path(f.orderA), { token: f.accessB, type: null }), 404, "not_found");
			// fan-a's token for the other drop cannot read this drop's order.
			await expectError(await raw("GET", path(f.orderA), { token: f.accessOther, type: null }), 404, "not_found");
			await expectError(await raw("GET", path(f.orderA), { type: null }), 401, "missing_token");
			await expectError(await raw("GET", path(f.orderA), { token: f.queueA, type: null }), 401, "invalid_token");
			await expectError(await raw("GET", path(f.orderA), { token: "a.b.c", type: null }), 401, "invalid_token");
			await expectError(await raw("GET", path(f.orderA), { token: admin(), type: null }), 401, "invalid_token");
		});
	});
});

describe("routes that do not exist", () => {
	it("answer the contract's JSON 404, never a page or an empty body", async () => {
		await unchanged(async () => {
			for (const [method, path] of [
				["GET", "/api/nope"],
				["GET", "/api/"],
				["GET", "/api/drops"],
				["POST", "/api/drops"],
				["PUT", `/api/admin/drops/${f.drop.id}`],
				["DELETE", `/api/admin/drops/${f.drop.id}`],
				["GET", `/api/drops/${f.drop.id}/holds`],
				["POST", "/api/health"],
				["GET", "/api/admin/"],
			] as const) {
				const init = path.startsWith("/api/admin") ? { token: admin(), type: null } : { type: null };
				await expectError(await raw(method, path, init), 404, "not_found");
			}
		});
	});
});

// Promoters, keys and the activity log: every refusal leaves the
// promoters, keys and log as they were, as well as the drops.
describe("promoters, keys and the activity log", () => {
	let owner: string;
	let promoterId: string;
	let keyId: string;

	beforeAll(async () => {
		const made = await (await raw("POST", "/api/admin/promoters", { body: JSON.stringify({ name: "Bad input promoter" }), token: admin() })).json();
		({ apiKey: owner, id: promoterId } = made as { apiKey: string; id: string });
		keyId = (made as { key: { id: string } }).key.id;
	});

	const tenantRows = async () => {
		const count = (table: string) => env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first<number>("n");
		const keys = await env.DB.prepare(`SELECT id, revoked_at FROM api_keys ORDER BY id`).all();
		const promoters = await env.DB.prepare(`SELECT * FROM promoters ORDER BY id`).all();
		return { activity: await count("activity"), keys: keys.results, promoters: promoters.results };
	};

	async function unchangedTenants(fn: () => Promise<void>): Promise<void> {
		const before = await tenantRows();
		await unchanged(fn);
		expect(await tenantRows()).toEqual(before);
	}

	it("POST /api/admin/promoters refuses broken bodies and bad fields", async () => {
		await unchangedTenants(async () => {
			for (const [what, init, status, code] of bodyAttacks()) {
				await expectError(await raw("POST", "/api/admin/promoters", { ...init, token: admin() }), status, code, what);
			}
			const cases: [unknown, number, string][] = [
				[{}, 400, "missing_field"],
				[{ name: 5 }, 400, "invalid_type"],
				[{ name: "x", owner: "me" }, 400, "unknown_field"],
				[{ name: "x", limits: { joinsPerMinute: "5" } }, 400, "invalid_type"],
				[{ name: "x", limits: { speed: 5 } }, 400, "unknown_field"],
				[{ name: "" }, 422, "empty"],
				[{ name: "x".repeat(121) }, 422, "too_long"],
				[{ name: "x", limits: { joinsPerMinute: 0 } }, 422, "out_of_range"],
				[{ name: "x", limits: { adminRequestsPerMinute: 100_001 } }, 422, "out_of_range"],
				[{ name: "x", limits: { openDrops: -1 } }, 422, "out_of_range"],
				[{ name: "x", limits: { openDrops: 1.5 } }, 400, "invalid_type"],
			];
			for (const [body, status, code] of cases) {
				await expectError(await raw("POST", "/api/admin/promoters", { body: JSON.stringify(body), token: admin() }), status, code, JSON.stringify(body));
			}
			// A promoter's key may not make promoters.
			await expectError(await raw("POST", "/api/admin/promoters", { body: '{"name":"x"}', token: owner }), 403, "forbidden");
		});
	});

	it("PATCH /api/admin/promoters/:promoterId refuses broken bodies, bad limits and unknown promoters", async () => {
		const path = `/api/admin/promoters/${promoterId}`;
		await unchangedTenants(async () => {
			for (const [what, init, status, code] of bodyAttacks()) {
				await expectError(await raw("PATCH", path, { ...init, token: admin() }), status, code, what);
			}
			for (const [body, status, code] of [
				[{}, 400, "empty_patch"],
				[{ limits: {} }, 400, "empty_patch"],
				[{ id: "p_x" }, 400, "unknown_field"],
				[{ limits: { joinsPerMinute: 10_000_001 } }, 422, "out_of_range"],
				[{ name: "" }, 422, "empty"],
			] as [unknown, number, string][]) {
				await expectError(await raw("PATCH", path, { body: JSON.stringify(body), token: admin() }), status, code);
			}
			for (const id of ["p_AAAAAAAAAAAAAAAA", "nope", "p_" + "A".repeat(100)]) {
				await expectError(await raw("PATCH", `/api/admin/promoters/${id}`, { body: '{"name":"x"}', token: admin() }), 404, "not_found");
			}
			await expectError(await raw("PATCH", path, { body: '{"limits":{"openDrops":1000}}', token: owner }), 403, "forbidden");
		});
	});

	it("POST /api/admin/keys refuses broken bodies, bad roles and labels, and other promoters", async () => {
		await unchangedTenants(async () => {
			for (const [what, init, status, code] of bodyAttacks()) {
				await expectError(await raw("POST", "/api/admin/keys", { ...init, token: owner }), status, code, what);
			}
			for (const [body, status, code] of [
				[{ role: "staff" }, 400, "missing_field"],
				[{ label: "x" }, 400, "missing_field"],
				[{ label: "x", role: 1 }, 400, "invalid_type"],
				[{ label: "x", role: "staff", secret: "mine" }, 400, "unknown_field"],
				[{ label: "x", role: "admin" }, 422, "invalid_value"],
				[{ label: "x", role: "__proto__" }, 422, "invalid_value"],
				[{ label: "", role: "staff" }, 422, "empty"],
				[{ label: "x".repeat(81), role: "staff" }, 422, "too_long"],
				[{ label: "x", role: "staff", promoterId: "p_AAAAAAAAAAAAAAAA" }, 404, "not_found"],
			] as [unknown, number, string][]) {
				await expectError(await raw("POST", "/api/admin/keys", { body: JSON.stringify(body), token: owner }), status, code, JSON.stringify(body));
			}
			await expectError(await raw("POST", "/api/admin/keys", { body: '{"label":"x","role":"staff"}', token: admin() }), 400, "missing_field");
			await expectError(await raw("POST", "/api/admin/keys", { body: '{"label":"x","role":"staff","promoterId":"nope"}', token: admin() }), 404, "not_found");
		});
	});

	it("DELETE /api/admin/keys/:keyId and GET /api/admin/keys refuse unknown keys and promoters", async () => {
		await unchangedTenants(async () => {
			for (const id of ["k_AAAAAAAAAAAAAAAA", "x", "k_" + "A".repeat(200), encodeURIComponent(owner)]) {
				await expectError(await raw("DELETE", `/api/admin/keys/${id}`, { token: owner, type: null }), 404, "not_found", id);
			}
			await expectError(await raw("GET", "/api/admin/keys", { token: admin(), type: null }), 400, "missing_field");
			await expectError(await raw("GET", "/api/admin/keys?promoterId=p_AAAAAAAAAAAAAAAA", { token: admin(), type: null }), 404, "not_found");
			await expectError(await raw("GET", "/api/admin/keys?promoterId=p_AAAAAAAAAAAAAAAA", { token: owner, type: null }), 404, "not_found");
			expect((await raw("GET", `/api/admin/keys?promoterId=${promoterId}`, { token: owner, type: null })).status).toBe(200);
			// The key is still good.
			expect((await raw("GET", "/api/admin/keys", { token: owner, type: null })).status).toBe(200);
			expect(keyId).toMatch(/^k_/);
		});
	});

	it("GET /api/admin/activity refuses bad paging and other promoters", async () => {
		await unchangedTenants(async () => {
			for (const [query, status, code] of [
				["limit=0", 422, "out_of_range"],
				["limit=201", 422, "out_of_range"],
				["limit=x", 400, "invalid_type"],
				["cursor=!!", 400, "invalid_cursor"],
				[`cursor=${btoa(JSON.stringify(["2026-01-01T00:00:00Z", "not a number"])).replace(/=+$/, "")}`, 400, "invalid_cursor"],
				["promoterId=p_AAAAAAAAAAAAAAAA", 404, "not_found"],
			] as [string, number, string][]) {
				await expectError(await raw("GET", `/api/admin/activity?${query}`, { token: owner, type: null }), status, code, query);
			}
			await expectError(await raw("GET", "/api/admin/activity?promoterId=nope", { token: admin(), type: null }), 404, "not_found");
		});
	});

	it("promoter keys that are malformed, unknown or revoked get 401 on every admin route", async () => {
		await unchangedTenants(async () => {
			for (const token of ["tdk_", `tdk_${"A".repeat(16)}_${"A".repeat(43)}`, `${owner.slice(0, -1)}${owner.endsWith("A") ? "B" : "A"}`, `${owner} ${owner}`]) {
				await expectError(await raw("GET", "/api/admin/drops", { token, type: null }), 401, "unauthorized", token);
				await expectError(await raw("POST", "/api/admin/drops", { body: "{}", token }), 401, "unauthorized", token);
			}
		});
	});
});
