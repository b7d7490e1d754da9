// The fan's language reaches their receipt: the purchase names it (en, de, fr, es
// or ja; anything else is refused and changes nothing), the hold's charge keeps it
// and the receipt's address (so an order made by the alarm or the webhook, with no
// request, keeps both),
// the sale message carries it to D1, and the receipt's subject and text are written
// in it, numbers, prices and dates by Intl. A sale message older than the field, or
// with a language the engine does not write in, is still recorded, and its receipt
// is in English. The catalogues each have English's keys, placeholders and every
// plural form their language needs.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAIL_WORDS, type MailKey, mailLocale } from "../../src/after-sale/mail-words";
import { receiptMail } from "../../src/after-sale/receipts";
import { LOCALES } from "../../src/contract/requests";
import { SaleMessage, salesOf } from "../../src/contract/sale-message";
import type { InventoryShard } from "../../src/inventory/inventory-shard";
import { buyWith, orderReaches, purchaseWith, statusInD1 } from "../support/after-sale";
import { WIDE_OPEN, createDrop } from "../support/drops";
import { admittedFan, newHold } from "../support/fans";
import { holdState, moveShardClock, rowCount, shardStub } from "../support/shards";
import { recordSales, saleMessage } from "../support/sales";
import { waitUntil } from "../support/wait";
import { adminFetch } from "../support/worker";

/** Intl puts no-break and narrow no-break spaces in prices and dates: compared as plain spaces. */
const spaced = (s: string) => s.replace(/[\u00a0\u202f]/g, " ");

async function receiptOf(orderId: string): Promise<{ subject: string; body: string }> {
	const res = await adminFetch(`/api/admin/dev/mail?orderId=${orderId}`);
	expect(res.status).toBe(200);
	const { mail } = (await res.json()) as { mail: { subject: string; body: string }[] };
	expect(mail).toHaveLength(1);
	return { subject: mail[0]!.subject, body: spaced(mail[0]!.body) };
}

const localeInD1 = async (orderId: string) =>
	(await env.DB.prepare(`SELECT locale FROM orders WHERE order_id = ?`).bind(orderId).first<{ locale: string | null }>())?.locale;

const placeholders = (message: string) => [...message.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("the email catalogues", () => {
	it("has every language the purchase takes, each with English's keys, placeholders and its plural forms", () => {
		expect(Object.keys(MAIL_WORDS).sort()).toEqual([...LOCALES].sort());
		const keys = Object.keys(MAIL_WORDS.en).sort() as MailKey[];
		for (const locale of LOCALES) {
			const words = MAIL_WORDS[locale];
			expect(Object.keys(words).sort(), locale).toEqual(keys);
			const categories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories;
			for (const key of keys) {
				const english = MAIL_WORDS.en[key];
				const message = words[key];
				const wanted = placeholders(typeof english === "string" ? english : english.other);
				expect(typeof message === "string", `${locale} ${key}: plural where English is`).toBe(typeof english === "string");
				const forms = typeof message === "string" ? [message] : Object.values(message);
				if (typeof message !== "string") {
					for (const category of categories) expect(message[category], `${locale} ${key}: the "${category}" form`).toBeTypeOf("string");
					for (const form of Object.keys(message)) expect(categories, `${locale} ${key}: "${form}" is a form of ${locale}`).toContain(form);
				}
				for (const form of forms) {
					expect(form.trim().length, `${locale} ${key}`).toBeGreaterThan(0);
					expect(placeholders(form), `${locale} ${key}: placeholders`).toEqual(wanted);
				}
			}
		}
	});

	it("writes in a tag's language when it is one of the five, English otherwise", () => {
		expect(mailLocale("de")).toBe("de");
		expect(mailLocale("de-AT")).toBe("de");
		expect(mailLocale("JA_jp")).toBe("ja");
		for (const tag of ["it", "", null, undefined, "__proto__", "constructor"]) expect(mailLocale(tag)).toBe("en");
	});
});

describe("a receipt in the buyer's language", () => {
	const sale = { orderId: "o_3_lang", dropId: "d_lang", quantity: 2, totalCents: 5000, currency: "EUR", tickets: ["AAAA-BBBB", "CCCC-DDDD"], createdAt: "2025-03-12T14:05:00.000Z" };

	it("says the order, the price, the date and every ticket in German", () => {
		const mail = receiptMail({ ...sale, locale: "de" });
		expect(mail.subject).toBe("Deine Tickets: Bestellung o_3_lang");
		expect(spaced(mail.text).split("\n")).toEqual([
			"Danke für deine Bestellung o_3_lang (Verkauf d_lang).",
			"",
			"2 Tickets, 50,00 € bezahlt am 12. März 2025 um 14:05 UTC.",
			"",
			"Ticket 1: AAAA-BBBB",
			"Ticket 2: CCCC-DDDD",
			"",
			"Zeig die QR-Codes auf deiner Bestellseite am Eingang: Jedes Ticket wird einmal eingelassen.",
		]);
	});

	it("in Japanese, French and Spanish, each with its own numbers and dates; one ticket in the singular", () => {
		const ja = receiptMail({ ...sale, locale: "ja" });
		expect(ja.subject).toBe("チケットのご案内:注文 o_3_lang");
		expect(spaced(ja.text)).toContain("チケット2枚、2025年3月12日 14:05 UTCに€50.00をお支払いいただきました。");
		expect(ja.text).toContain("チケット1:AAAA-BBBB");
		const fr = receiptMail({ ...sale, quantity: 1, totalCents: 123456, tickets: ["AAAA-BBBB"], locale: "fr" });
		expect(fr.subject).toBe("Vos billets : commande o_3_lang");
		expect(spaced(fr.text)).toContain("1 billet, total payé : 1 234,56 €, le 12 mars 2025");
		const es = receiptMail({ ...sale, locale: "es" });
		expect(es.subject).toBe("Tus entradas: pedido o_3_lang");
		expect(spaced(es.text)).toContain("2 entradas, total pagado: 50,00 €, el 12 de marzo de 2025");
	});

	it("says the time in the drop's time zone, naming the zone as the fan's language names it", () => {
		// 14:05 UTC on 12 March 2025 is 15:05 in Berlin (winter time), 23:05 in Tokyo, 10:05 in New York (summer time from 9 March).
		expect(spaced(receiptMail({ ...sale, locale: "de" }, "Europe/Berlin").text)).toContain("2 Tickets, 50,00 € bezahlt am 12. März 2025 um 15:05 MEZ.");
		expect(spaced(receiptMail({ ...sale, locale: "ja" }, "Asia/Tokyo").text)).toContain("2025年3月12日 23:05 JSTに€50.00");
		expect(spaced(receiptMail({ ...sale, locale: "en" }, "America/New_York").text)).toContain("2 tickets, €50.00 paid on March 12, 2025 at 10:05 AM EDT.");
		// A zone the day has already turned in: the date is the zone's, not UTC's.
		expect(spaced(receiptMail({ ...sale, createdAt: "2025-03-12T20:30:00.000Z", locale: "fr" }, "Pacific/Auckland").text)).toContain("le 13 mars 2025 à 09:30 UTC+13");
		// Without a zone (or one Intl would refuse) the time is UTC's, said as such.
		expect(spaced(receiptMail({ ...sale, locale: "en" }).text)).toContain("at 02:05 PM UTC.");
		expect(spaced(receiptMail({ ...sale, locale: "en" }, "Nowhere/Else").text)).toContain("at 02:05 PM UTC.");
	});

	it("is in English with no language, or one the engine does not write in", () => {
		for (const locale of [undefined, "it"]) {
			const mail = receiptMail({ ...sale, ...(locale === undefined ? {} : { locale }) });
			expect(mail.subject).toBe("Your tickets: order o_3_lang");
			expect(spaced(mail.text)).toContain("2 tickets, €50.00 paid on March 12, 2025");
		}
	});
});

describe("the purchase's language, through to the receipt", () => {
	it("a purchase in German gets a German receipt, one in Japanese a Japanese one, one with none an English one", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 2500, currency: "EUR", maxPerFan: 2 });
		const de = await buyWith(drop.id, "fan-lang-de", { quantity: 2, email: "de@example.test", locale: "de" });
		const ja = await buyWith(drop.id, "fan-lang-ja", { quantity: 1, email: "ja@example.test", locale: "ja" });
		const none = await buyWith(drop.id, "fan-lang-none", { quantity: 2, email: "en@example.test" });
		for (const bought of [de, ja, none]) await orderReaches(bought.orderId, bought.orderToken, ["receipt_sent"]);

		const german = await receiptOf(de.orderId);
		expect(german.subject).toBe(`Deine Tickets: Bestellung ${de.orderId}`);
		expect(german.body).toContain(`Danke für deine Bestellung ${de.orderId}`);
		expect(german.body).toMatch(/^2 Tickets, 50,00 € bezahlt am \d{1,2}\. \S+ \d{4} um \d\d:\d\d UTC\.$/m);
		for (const [i, code] of de.tickets.entries()) expect(german.body).toContain(`Ticket ${i + 1}: ${code}`);
		expect(german.body).toContain("Zeig die QR-Codes");

		const japanese = await receiptOf(ja.orderId);
		expect(japanese.subject).toBe(`チケットのご案内:注文 ${ja.orderId}`);
		expect(japanese.body).toContain(`ご注文 ${ja.orderId}`);
		expect(japanese.body).toMatch(/^チケット1枚、\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d UTCに€25\.00をお支払いいただきました。$/m);
		expect(japanese.body).toContain(`チケット1:${ja.tickets[0]}`);

		const english = await receiptOf(none.orderId);
		expect(english.subject).toBe(`Your tickets: order ${none.orderId}`);
		expect(english.body).toMatch(/^2 tickets, €50\.00 paid on /m);

		expect([await localeInD1(de.orderId), await localeInD1(ja.orderId), await localeInD1(none.orderId)]).toEqual(["de", "ja", null]);
	});

	it("the receipt of a drop with a time zone tells the time in it", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 2500, currency: "EUR", maxPerFan: 2, timeZone: "Asia/Tokyo" });
		const ja = await buyWith(drop.id, "fan-zone-ja", { quantity: 1, email: "zone@example.test", locale: "ja" });
		await orderReaches(ja.orderId, ja.orderToken, ["receipt_sent"]);
		const { body } = await receiptOf(ja.orderId);
		const createdAt = (await env.DB.prepare(`SELECT created_at FROM orders WHERE order_id = ?`).bind(ja.orderId).first<{ created_at: string }>())!.created_at;
		const tokyo = new Date(Date.parse(createdAt) + 9 * 3_600_000);
		const wall = `${tokyo.getUTCFullYear()}年${tokyo.getUTCMonth() + 1}月${tokyo.getUTCDate()}日 ${String(tokyo.getUTCHours()).padStart(2, "0")}:${String(tokyo.getUTCMinutes()).padStart(2, "0")} JST`;
		expect(body).toContain(`チケット1枚、${wall}に€25.00をお支払いいただきました。`);
	});

	it("a language the engine does not take is 422 and writes nothing: no charge, the hold still held, and it buys afterwards", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 2500, shards: 1 });
		const accessToken = await admittedFan(drop.id, "fan-lang-bad");
		const h = await newHold(drop.id, accessToken, 1);
		for (const locale of ["it", "DE", "de-DE", "english"]) {
			const res = await purchaseWith(drop.id, accessToken, h.holdId, { payment: { method: "test", token: "ok" }, email: "bad@example.test", locale });
			expect(res.status, locale).toBe(422);
			expect(await res.json()).toMatchObject({ error: { code: "invalid_value", field: "locale" } });
		}
		expect(await rowCount(drop.id, 0, "charges")).toBe(0);
		expect(await rowCount(drop.id, 0, "orders")).toBe(0);
		expect(await rowCount(drop.id, 0, "outbox")).toBe(0);
		expect(await holdState(drop.id, h.holdId)).toBe("active");
		const res = await purchaseWith(drop.id, accessToken, h.holdId, { payment: { method: "test", token: "ok" }, locale: "es" });
		expect(res.status).toBe(201);
	});

	it("the hold's charge keeps the language and the address: an order the alarm makes after the purchase died carries both", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN, priceCents: 2500, shards: 1, holdSeconds: 300 });
		const accessToken = await admittedFan(drop.id, "fan-lang-alarm");
		const h = await newHold(drop.id, accessToken, 1);
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => {
			instance.afterCharge = () => {
				instance.afterCharge = null;
				throw new Error("crashed after the charge (test)");
			};
		});
		const crashed = await purchaseWith(drop.id, accessToken, h.holdId, { payment: { method: "test", token: "ok" }, email: "alarm@example.test", locale: "ja" });
		expect(crashed.status).toBe(500);
		expect(await rowCount(drop.id, 0, "orders")).toBe(0);
		// No request is left to say the language: the alarm's reconcile settles the charge into the order.
		await moveShardClock(drop.id, 0, 35_000);
		await runInDurableObject(shardStub(drop.id, 0), (instance: InventoryShard) => instance.alarm());
		await moveShardClock(drop.id, 0, 0);
		const payloads = await runInDurableObject(shardStub(drop.id, 0), (_s, state) =>
			state.storage.sql.exec<{ payload: string }>(`SELECT payload FROM outbox`).toArray().map((r) => JSON.parse(r.payload) as SaleMessage),
		);
		expect(payloads).toHaveLength(1);
		// The address goes with it: without it the order would get no receipt at all.
		expect(payloads[0]).toMatchObject({ holdId: h.holdId, email: "alarm@example.test", locale: "ja" });
	});
});

describe("sale messages and the language", () => {
	it("records a message older than the field, and one with a language the engine does not write in, each with an English receipt", async () => {
		const drop = await createDrop({ admission: WIDE_OPEN });
		const old = saleMessage({ dropId: drop.id, paymentId: "pay_test_lang_old", email: "old@example.test" });
		expect("locale" in old).toBe(false);
		const italian = saleMessage({ dropId: drop.id, paymentId: "pay_test_lang_it", email: "it@example.test", locale: "it" });
		expect(salesOf(old)).toEqual([old]);
		expect(salesOf({ v: 2, sales: [old, italian] })).toEqual([old, italian]);
		await recordSales([old, italian], "lang");
		expect(await localeInD1(old.orderId)).toBeNull();
		expect(await localeInD1(italian.orderId)).toBe("it");
		// Their follow-ups were queued as they were recorded.
		for (const s of [old, italian]) {
			await waitUntil(async () => (await statusInD1(s.orderId))?.status === "receipt_sent", 30_000, `${s.orderId}'s receipt`, 100);
			const receipt = await receiptOf(s.orderId);
			expect(receipt.subject).toBe(`Your tickets: order ${s.orderId}`);
			expect(receipt.body).toMatch(/^2 tickets, \$50\.00 paid on /m);
		}
	});

	it("still refuses a language that is not a short text: such a message is malformed", () => {
		expect(SaleMessage.safeParse(saleMessage({ locale: "" })).success).toBe(false);
		expect(SaleMessage.safeParse({ ...saleMessage(), locale: 5 }).success).toBe(false);
		expect(SaleMessage.safeParse(saleMessage({ locale: "x".repeat(36) })).success).toBe(false);
	});
});
