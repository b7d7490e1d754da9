// The promoter's sales from D1: JSON pages with a cursor, and the CSV export
// (header, one record per order, RFC 4180 quoting, streamed page by page).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CSV_HEADER, salesCsvStream } from "../../src/sales/store";
import { createDrop } from "../support/drops";
import { errorCode } from "../support/errors";
import { buy, recordSales, saleMessage, storeSales, waitForOrders } from "../support/sales";
import { adminFetch } from "../support/worker";

interface SalesPage {
	dropId: string;
	sales: { orderId: string; createdAt: string; fanId: string; quantity: number; tickets: string[]; totalCents: number }[];
	nextCursor: string | null;
}

async function page(dropId: string, query: string): Promise<SalesPage> {
	const res = await adminFetch(`/api/admin/drops/${dropId}/sales${query}`);
	expect(res.status).toBe(200);
	return (await res.json()) as SalesPage;
}

/** Follows nextCursor to the end; bounded so a cursor that never ends fails the test. */
async function allPages(dropId: string, limit: number): Promise<SalesPage[]> {
	const pages: SalesPage[] = [];
	let cursor: string | null = null;
	do {
		pages.push(await page(dropId, `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`));
		cursor = pages.at(-1)!.nextCursor;
	} while (cursor !== null && pages.length < 100);
	expect(cursor).toBeNull();
	return pages;
}

async function csv(dropId: string): Promise<Response> {
	return adminFetch(`/api/admin/drops/${dropId}/sales`, { headers: { accept: "text/csv" } });
}

/** A strict RFC 4180 reader: records of fields, quoted fields may hold commas, quotes and line breaks. */
function parseCsv(text: string): string[][] {
	const records: string[][] = [];
	let field = "";
	let record: string[] = [];
	let i = 0;
	let quoted = false;
	while (i < text.length) {
		const c = text[i]!;
		if (quoted) {
			if (c === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
			else if (c === '"') (quoted = false), i++;
			else (field += c), i++;
		} else if (c === '"' && field === "") (quoted = true), i++;
		else if (c === '"') throw new Error(`stray quote at ${i}`);
		else if (c === ",") record.push(field), (field = ""), i++;
		else if (c === "\r" && text[i + 1] === "\n") record.push(field), records.push(record), (field = ""), (record = []), (i += 2);
		else if (c === "\n" || c === "\r") throw new Error(`bare line break at ${i}`);
		else (field += c), i++;
	}
	if (field !== "" || record.length > 0) throw new Error("last record not terminated by CRLF");
	return records;
}

describe("sales export", () => {
	it("pages JSON with a cursor, every order exactly once, in time order", async () => {
		const drop = await createDrop({ capacity: 20, shards: 2 });
		const bought = [];
		for (let i = 0; i < 5; i++) bought.push(await buy(drop.id, `fan-page-${i}`, 1 + (i % 2)));
		await waitForOrders(drop.id, 5);

		const pages = await allPages(drop.id, 2);
		expect(pages.map((p) => p.sales.length)).toEqual([2, 2, 1]);
		const sales = pages.flatMap((p) => p.sales);
		expect(sales.map((s) => s.orderId).sort()).toEqual(bought.map((b) => b.orderId).sort());
		const times = sales.map((s) => s.createdAt);
		expect(times).toEqual([...times].sort());
		for (const b of bought) {
			const s = sales.find((x) => x.orderId === b.orderId)!;
			expect(s).toMatchObject({ fanId: b.fanId, quantity: b.quantity, tickets: b.tickets });
		}
		// One page big enough for all, and no cursor after it.
		const whole = await page(drop.id, "?limit=100");
		expect(whole.sales.map((s) => s.orderId)).toEqual(sales.map((s) => s.orderId));
		expect(whole.nextCursor).toBeNull();
	});

	it("pages correctly through orders made in the same millisecond", async () => {
		const drop = await createDrop({ capacity: 100 });
		const createdAt = new Date().toISOString();
		const sales = Array.from({ length: 7 }, (_, i) => saleMessage({ dropId: drop.id, fanId: `fan-tie-${i}`, quantity: 1, createdAt }));
		await recordSales(sales);
		const pages = await allPages(drop.id, 3);
		expect(pages.map((p) => p.sales.length)).toEqual([3, 3, 1]);
		const ids = pages.flatMap((p) => p.sales.map((s) => s.orderId));
		expect(ids).toEqual(sales.map((s) => s.orderId).sort());
	});

	it("refuses a cursor it did not give out, and a limit out of range", async () => {
		const drop = await createDrop({ capacity: 10 });
		const bad = await adminFetch(`/api/admin/drops/${drop.id}/sales?cursor=not-a-cursor`);
		expect(bad.status).toBe(400);
		expect(await errorCode(bad)).toBe("invalid_cursor");
		expect((await adminFetch(`/api/admin/drops/${drop.id}/sales?limit=0`)).status).toBe(422);
		expect((await adminFetch(`/api/admin/drops/${drop.id}/sales?limit=1001`)).status).toBe(422);
	});

	it("finds orders by buyer email (part, any case), order id or ticket code, and pages what it finds", async () => {
		const drop = await createDrop({ capacity: 20, shards: 2 });
		const bought: Awaited<ReturnType<typeof buy>>[] = [];
		for (let i = 0; i < 4; i++) bought.push(await buy(drop.id, `fan-search-${i}`, 1 + (i % 2)));
		await waitForOrders(drop.id, 4);
		// Two buyers gave an email at the purchase; the others gave none.
		await env.DB.prepare(`UPDATE orders SET receipt_to = ? WHERE order_id = ?`).bind("Ana.Fan@example.com", bought[1]!.orderId).run();
		await env.DB.prepare(`UPDATE orders SET receipt_to = ? WHERE order_id = ?`).bind("ana.fan@example.org", bought[3]!.orderId).run();
		const found = async (q: string, extra = "") => (await page(drop.id, `?q=${encodeURIComponent(q)}${extra}`)).sales;

		const byEmail = await found("ANA.FAN@example");
		expect(byEmail.map((s) => s.orderId).sort()).toEqual([bought[1]!.orderId, bought[3]!.orderId].sort());
		expect(byEmail.find((s) => s.orderId === bought[1]!.orderId)).toMatchObject({ email: "Ana.Fan@example.com" });
		expect((await found("example.com")).map((s) => s.orderId)).toEqual([bought[1]!.orderId]);
		expect((await found(bought[2]!.orderId)).map((s) => s.orderId)).toEqual([bought[2]!.orderId]);
		expect((await found(bought[0]!.tickets[0]!)).map((s) => s.orderId)).toEqual([bought[0]!.orderId]);
		// A % is looked for as itself, not as a wildcard; nothing found is an empty page.
		expect(await found("%")).toEqual([]);
		expect(await found("nobody@nowhere.test")).toEqual([]);
		// Orders without an email read null.
		expect((await page(drop.id, "")).sales.filter((s) => (s as { email?: string | null }).email === null)).toHaveLength(2);

		// Paged one at a time, the search still gives each order it finds exactly once.
		const first = await page(drop.id, `?q=example&limit=1`);
		expect(first.sales).toHaveLength(1);
		expect(first.nextCursor).not.toBeNull();
		const second = await page(drop.id, `?q=example&limit=1&cursor=${encodeURIComponent(first.nextCursor!)}`);
		expect([...first.sales, ...second.sales].map((s) => s.orderId).sort()).toEqual([bought[1]!.orderId, bought[3]!.orderId].sort());
		const third = await page(drop.id, `?q=example&limit=1&cursor=${encodeURIComponent(second.nextCursor!)}`);
		expect(third).toMatchObject({ sales: [], nextCursor: null });
	});

	it("finds an order id or a ticket code by its key before any email, and only then looks through the emails", async () => {
		const drop = await createDrop({ capacity: 10 });
		const bought: Awaited<ReturnType<typeof buy>>[] = [];
		for (let i = 0; i < 3; i++) bought.push(await buy(drop.id, `fan-key-${i}`, 1));
		await waitForOrders(drop.id, 3);
		// Emails that happen to hold the other orders' id and ticket code as text.
		await env.DB.prepare(`UPDATE orders SET receipt_to = ? WHERE order_id = ?`).bind(`${bought[0]!.orderId}@example.com`, bought[2]!.orderId).run();
		await env.DB.prepare(`UPDATE orders SET receipt_to = ? WHERE order_id = ?`).bind(`${bought[1]!.tickets[0]!}@example.com`, bought[0]!.orderId).run();
		const found = async (q: string) => (await page(drop.id, `?q=${encodeURIComponent(q)}`)).sales.map((s) => s.orderId);

		expect(await found(bought[0]!.orderId)).toEqual([bought[0]!.orderId]);
		expect(await found(bought[1]!.tickets[0]!)).toEqual([bought[1]!.orderId]);
		// Text that is neither key still finds the emails holding it.
		expect(await found(`${bought[0]!.orderId}@example`)).toEqual([bought[2]!.orderId]);
		// Another drop's order id is no key here: nothing of this drop's is found by it.
		const other = await createDrop({ capacity: 2 });
		const elsewhere = await buy(other.id, "fan-key-other", 1);
		await waitForOrders(other.id, 1);
		expect(await found(elsewhere.orderId)).toEqual([]);
	});

	it("exports the buyer's email, and with q exports only the orders the search finds", async () => {
		const drop = await createDrop({ capacity: 10 });
		const bought: Awaited<ReturnType<typeof buy>>[] = [];
		for (let i = 0; i < 3; i++) bought.push(await buy(drop.id, `fan-csv-q-${i}`, 1));
		await waitForOrders(drop.id, 3);
		await env.DB.prepare(`UPDATE orders SET receipt_to = ? WHERE order_id = ?`).bind("Bo@Example.com", bought[1]!.orderId).run();
		const col = (name: string) => CSV_HEADER.indexOf(name);
		expect(col("email")).toBeGreaterThan(-1);

		const whole = parseCsv(await (await csv(drop.id)).text()).slice(1);
		expect(whole).toHaveLength(3);
		const emails = new Map(whole.map((r) => [r[col("order_id")], r[col("email")]]));
		expect(emails.get(bought[1]!.orderId)).toBe("Bo@Example.com");
		expect(emails.get(bought[0]!.orderId)).toBe("");

		for (const q of ["bo@example", bought[1]!.orderId]) {
			const res = await adminFetch(`/api/admin/drops/${drop.id}/sales?format=csv&q=${encodeURIComponent(q)}`);
			expect(res.status).toBe(200);
			expect(res.headers.get("content-disposition")).toContain(`sales-${drop.id}-search.csv`);
			const records = parseCsv(await res.text());
			expect(records[0]).toEqual(CSV_HEADER);
			expect(records.slice(1).map((r) => r[col("order_id")])).toEqual([bought[1]!.orderId]);
		}
		// The CSV's search is checked as the pages' is.
		const bad = await adminFetch(`/api/admin/drops/${drop.id}/sales?format=csv&q=`);
		expect(bad.status).toBe(422);
		expect(await errorCode(bad)).toBe("empty");
	});

	it("refuses a search that is empty, too long or not plain text with a 422 JSON error", async () => {
		const drop = await createDrop({ capacity: 5 });
		for (const [q, code] of [["", "empty"], ["x".repeat(255), "too_long"], ["a\u0001b", "invalid_format"]] as const) {
			const res = await adminFetch(`/api/admin/drops/${drop.id}/sales?q=${encodeURIComponent(q)}`);
			expect(res.status).toBe(422);
			expect(await errorCode(res)).toBe(code);
		}
	});

	it("exports CSV with a header and one line per order", async () => {
		const drop = await createDrop({ capacity: 20, shards: 2 });
		const bought = [];
		for (let i = 0; i < 4; i++) bought.push(await buy(drop.id, `fan-csv-${i}`, 1 + (i % 3)));
		await waitForOrders(drop.id, 4);

		const res = await csv(drop.id);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
		expect(res.headers.get("content-disposition")).toContain(`sales-${drop.id}.csv`);
		const text = await res.text();
		const lines = text.split("\r\n");
		expect(lines.pop()).toBe("");
		expect(lines).toHaveLength(1 + bought.length);
		expect(lines[0]).toBe(CSV_HEADER.join(","));

		const records = parseCsv(text);
		const col = (name: string) => CSV_HEADER.indexOf(name);
		for (const b of bought) {
			const r = records.find((rec) => rec[col("order_id")] === b.orderId)!;
			expect(r).toHaveLength(CSV_HEADER.length);
			expect(r[col("fan_id")]).toBe(b.fanId);
			expect(Number(r[col("quantity")])).toBe(b.quantity);
			expect(r[col("tickets")]!.split(" ")).toEqual(b.tickets);
		}
	});

	it("quotes commas, quotes and line breaks, and defuses spreadsheet formulas", async () => {
		const drop = await createDrop({ capacity: 10 });
		const awkward = [
			saleMessage({ dropId: drop.id, fanId: 'Smith, "Jo"', paymentId: "pay,1" }),
			saleMessage({ dropId: drop.id, fanId: "two\r\nlines", paymentId: 'say "hi"' }),
			saleMessage({ dropId: drop.id, fanId: '=HYPERLINK("http://evil.test","x")', paymentId: "+1-555" }),
			saleMessage({ dropId: drop.id, fanId: "@SUM(A1)", paymentId: "-2+3" }),
		];
		await recordSales(awkward);

		const text = await (await csv(drop.id)).text();
		const records = parseCsv(text);
		expect(records).toHaveLength(1 + awkward.length);
		expect(records[0]).toEqual(CSV_HEADER);
		const col = (name: string) => CSV_HEADER.indexOf(name);
		const byOrder = new Map(records.slice(1).map((r) => [r[col("order_id")], r]));
		const cell = (i: number, name: string) => byOrder.get(awkward[i]!.orderId)![col(name)];

		expect(cell(0, "fan_id")).toBe('Smith, "Jo"');
		expect(cell(0, "payment_id")).toBe("pay,1");
		expect(cell(1, "fan_id")).toBe("two\r\nlines");
		expect(cell(1, "payment_id")).toBe('say "hi"');
		// A cell a spreadsheet would evaluate starts with a quote mark, so it is shown as text.
		expect(cell(2, "fan_id")).toBe(`'=HYPERLINK("http://evil.test","x")`);
		expect(cell(2, "payment_id")).toBe("'+1-555");
		expect(cell(3, "fan_id")).toBe("'@SUM(A1)");
		expect(cell(3, "payment_id")).toBe("'-2+3");
		for (const r of records) expect(r).toHaveLength(CSV_HEADER.length);
	});

	it("streams a large drop page by page, every order once", async () => {
		const drop = await createDrop({ capacity: 5000 });
		// 2,000 orders: two full pages of the export, then an empty read that ends it.
		const sales = Array.from({ length: 2000 }, (_, i) => saleMessage({ dropId: drop.id, fanId: `fan-big-${i}`, quantity: 1 }));
		await storeSales(sales);
		const records = parseCsv(await (await csv(drop.id)).text());
		expect(records).toHaveLength(2001);
		const ids = records.slice(1).map((r) => r[0]);
		expect(new Set(ids).size).toBe(2000);
		expect([...ids].sort()).toEqual(sales.map((s) => s.orderId).sort());
	});

	it("the stream reads D1 a page at a time and ends cleanly on a short or empty page", async () => {
		const drop = await createDrop({ capacity: 100 });
		const sales = Array.from({ length: 5 }, (_, i) => saleMessage({ dropId: drop.id, fanId: `fan-small-${i}`, quantity: 1 }));
		await recordSales(sales);
		for (const pageSize of [1, 2, 5, 6]) {
			const records = parseCsv(await new Response(salesCsvStream(env.DB, drop.id, pageSize)).text());
			expect(records.slice(1).map((r) => r[0]).sort()).toEqual(sales.map((s) => s.orderId).sort());
		}
		const empty = await createDrop({ capacity: 10 });
		expect(parseCsv(await (await csv(empty.id)).text())).toEqual([CSV_HEADER]);
	});
});
