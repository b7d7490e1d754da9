// Rotating ticket codes: the order read hands the holder each ticket's secret;
// the gate admits the code of the current window (one window of skew either
// way), refuses an older one and one made with another ticket's secret, and,
// once the promoter switches the static QR off, refuses the bare token. Every
// refusal changes nothing: the ticket still admits afterwards.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ROTATION_STEP_SECONDS, checkRotating, counterCode, readRotating, rotatingCode, ticketSecret, windowOf } from "../../src/after-sale/rotating-codes";
import { buyWith, orderReaches, scan } from "../support/after-sale";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { createDropAs, createPromoter, keyFetch, mintKey } from "../support/tenants";
import { adminFetch } from "../support/worker";

const STEP_MS = ROTATION_STEP_SECONDS * 1000;

async function ticketed(dropId: string, fanId: string, quantity = 2) {
	const bought = await buyWith(dropId, fanId, { quantity });
	const order = await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
	return { bought, order, passes: order.passes.map((p) => ({ code: p.code, token: p.token!, secret: p.secret! })) };
}

/** Waits out the last 2 s of a window, so a code made now for the previous window is still within skew when scanned. */
async function awayFromWindowEdge(): Promise<void> {
	const left = STEP_MS - (Date.now() % STEP_MS);
	if (left < 2000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string; field?: string } }).error;

describe("rotating codes, computed", () => {
	it("match a fixed vector (the fan page's public/rotating-code.js is checked against the same one in test-node)", async () => {
		const seven = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";
		expect(await counterCode(seven, 0)).toBe("26048460");
		expect(await counterCode(seven, 178000000)).toBe("16844368");
		expect(await ticketSecret("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", "ABCD-EFGH-JKLM-NPQR")).toBe("LxeTPZZ7Dy9vd-0zWwgppNjNmIqPnQ0K33v7tSkACiA");
	});

	it("a window within one of now passes; two away either way is stale; another secret's code is wrong", async () => {
		const secret = await ticketSecret("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", "ABCD-EFGH-JKLM-NPQR");
		const other = await ticketSecret("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", "ABCD-EFGH-JKLM-NPQS");
		const now = 1_800_000_000_000;
		const at = async (offsetWindows: number, s = secret) => readRotating(await rotatingCode("t.o.k", s, now + offsetWindows * STEP_MS));
		for (const w of [-1, 0, 1]) expect(await checkRotating((await at(w)) as never, secret, now)).toBe("ok");
		for (const w of [-2, 2, -100]) expect(await checkRotating((await at(w)) as never, secret, now)).toBe("stale");
		expect(await checkRotating((await at(0, other)) as never, secret, now)).toBe("wrong_code");
		expect(readRotating("t.o.k")).toBeNull();
		for (const bad of ["t~1~2", "t~x~12345678", "~1~12345678", "t~1~12345678~9"]) expect(readRotating(bad)).toBe("malformed");
	});
});

describe("the gate with rotating codes", () => {
	it("the order read gives each ticket a secret of its own, the same at every read, and says how the gate shows it", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const { bought, order, passes } = await ticketed(drop.id, "fan-rotating-read");
		expect(order.gate).toEqual({ stepSeconds: ROTATION_STEP_SECONDS, staticQr: true });
		expect(passes[0]!.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(passes[0]!.secret).not.toBe(passes[1]!.secret);
		const again = await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"]);
		expect(again.passes.map((p) => p.secret)).toEqual(passes.map((p) => p.secret));
		// Another drop's same ticket code would have another secret: the key is the drop's.
		const row = await env.DB.prepare(`SELECT gate_key FROM drop_gates WHERE drop_id = ?`).bind(drop.id).first<string>("gate_key");
		expect(await ticketSecret(row!, passes[0]!.code)).toBe(passes[0]!.secret);
	});

	it("admits the current code once; a code one window old passes (clock skew), two windows old is refused and changes nothing", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const { passes } = await ticketed(drop.id, "fan-rotating-window");
		const [first, second] = passes as [(typeof passes)[0], (typeof passes)[0]];
		const stale = await scan(drop.id, await rotatingCode(first.token, first.secret, Date.now() - 2 * STEP_MS));
		expect(stale.status).toBe(422);
		expect(await errorCode(stale)).toMatchObject({ code: "code_expired", field: "ticket" });
		const ahead = await scan(drop.id, await rotatingCode(first.token, first.secret, Date.now() + 3 * STEP_MS));
		expect((await errorCode(ahead)).code).toBe("code_expired");
		const scannedAt = await env.DB.prepare(`SELECT scanned_at FROM tickets WHERE code = ?`).bind(first.code).first<string | null>("scanned_at");
		expect(scannedAt).toBeNull();
		const now = await scan(drop.id, await rotatingCode(first.token, first.secret, Date.now()));
		expect(now.status).toBe(200);
		expect(await now.json()).toMatchObject({ admitted: true, ticket: first.code });
		expect((await errorCode(await scan(drop.id, await rotatingCode(first.token, first.secret, Date.now())))).code).toBe("already_used");
		await awayFromWindowEdge();
		const lagging = await scan(drop.id, await rotatingCode(second.token, second.secret, Date.now() - STEP_MS));
		expect(lagging.status).toBe(200);
	});

	it("refuses a code made with another ticket's secret, and one whose code was altered; the ticket still admits after", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const { passes } = await ticketed(drop.id, "fan-rotating-swap");
		const [first, second] = passes as [(typeof passes)[0], (typeof passes)[0]];
		const swapped = await scan(drop.id, await rotatingCode(first.token, second.secret, Date.now()));
		expect(swapped.status).toBe(422);
		expect(await errorCode(swapped)).toMatchObject({ code: "invalid_code", field: "ticket" });
		const good = await rotatingCode(first.token, first.secret, Date.now());
		const last = good.at(-1) === "0" ? "1" : "0";
		expect((await errorCode(await scan(drop.id, good.slice(0, -1) + last))).code).toBe("invalid_code");
		expect((await errorCode(await scan(drop.id, `${first.token}~12~34`))).code).toBe("invalid_ticket");
		expect((await scan(drop.id, good)).status).toBe(200);
	});

	it("with the static QR switched off, a bare token is refused and the rotating code admits; switched on again, the bare token admits", async () => {
		const promoter = await createPromoter("Rotating only");
		const drop = await createDropAs(promoter.apiKey, { admission: WIDE_OPEN, capacity: 10, maxPerFan: 4 });
		const { bought, passes } = await ticketed(drop.id, "fan-rotating-static-off", 3);
		const gatePath = `/api/admin/drops/${drop.id}/gate`;
		const staff = await mintKey(promoter.apiKey, "staff");
		const gate = await mintKey(promoter.apiKey, "gate");
		expect((await keyFetch(staff.apiKey, gatePath, { method: "PATCH", body: JSON.stringify({ staticQr: false }) })).status).toBe(403);
		expect((await keyFetch(gate.apiKey, gatePath, { method: "PATCH", body: JSON.stringify({ staticQr: false }) })).status).toBe(403);
		const badBody = await keyFetch(promoter.apiKey, gatePath, { method: "PATCH", body: JSON.stringify({ staticQr: "no" }) });
		expect(badBody.status).toBe(400);
		expect(await errorCode(badBody)).toMatchObject({ code: "invalid_type", field: "staticQr" });
		expect(await (await keyFetch(staff.apiKey, gatePath)).json()).toMatchObject({ dropId: drop.id, staticQr: true, stepSeconds: ROTATION_STEP_SECONDS });

		const off = await keyFetch(promoter.apiKey, gatePath, { method: "PATCH", body: JSON.stringify({ staticQr: false }) });
		expect(off.status).toBe(200);
		expect(await off.json()).toMatchObject({ staticQr: false });
		// The same value again changes and logs nothing.
		expect((await keyFetch(promoter.apiKey, gatePath, { method: "PATCH", body: JSON.stringify({ staticQr: false }) })).status).toBe(200);
		const logged = await env.DB.prepare(`SELECT COUNT(*) AS n FROM activity WHERE drop_id = ? AND action = 'drop.gate_changed'`).bind(drop.id).first<number>("n");
		expect(logged).toBe(1);

		const bare = await scan(drop.id, passes[0]!.token, `Bearer ${gate.apiKey}`);
		expect(bare.status).toBe(422);
		expect(await errorCode(bare)).toMatchObject({ code: "rotating_code_required", field: "ticket" });
		expect((await scan(drop.id, await rotatingCode(passes[0]!.token, passes[0]!.secret, Date.now()), `Bearer ${gate.apiKey}`)).status).toBe(200);
		// The fan page hears it with the order, and draws no fixed code.
		expect((await orderReaches(bought.orderId, bought.orderToken, ["ticketed", "receipt_sent"])).gate).toEqual({ stepSeconds: ROTATION_STEP_SECONDS, staticQr: false });

		expect((await adminFetch(gatePath, { method: "PATCH", body: JSON.stringify({ staticQr: true }) })).status).toBe(200);
		expect((await scan(drop.id, passes[1]!.token, `Bearer ${gate.apiKey}`)).status).toBe(200);
	});
});
