// Receipts: the email a buyer gets once their tickets are issued, through a
// pluggable sender chosen by RECEIPT_SENDER: "email" sends with Cloudflare's
// send_email binding (RECEIPTS) from RECEIPT_FROM; "dev" keeps the message in
// D1's dev_mail table, where GET /api/admin/dev/mail shows it; "off" (the
// default) sends nothing. A receipt is written in the buyer's language
// (mail-words.ts), as their purchase named it.
import { config } from "../shared/config";
import type { SaleMessage } from "../contract/sale-message";
import { mailLocale, mailWriter } from "./mail-words";

export interface Receipt {
	orderId: string;
	to: string;
	subject: string;
	text: string;
}

export interface ReceiptSender {
	send(receipt: Receipt): Promise<void>;
}

/** The deployment's sender, or null when receipts are off. */
export function receiptSender(env: Env): ReceiptSender | null {
	const settings = config(env).receipts;
	if (settings.sender === "dev") return devMailbox(env.DB);
	if (settings.sender === "email") {
		const from = settings.from;
		return {
			async send(receipt) {
				await env.RECEIPTS.send({ from, to: receipt.to, subject: receipt.subject, text: receipt.text, headers: { "X-Order-Id": receipt.orderId } });
			},
		};
	}
	return null;
}

/** The drop's time zone for its emails: one primary-key read, made only when a receipt is about to go. */
export async function dropTimeZone(db: D1Database, dropId: string): Promise<string> {
	const row = await db.prepare(`SELECT time_zone FROM drops WHERE id = ?`).bind(dropId).first<{ time_zone: string }>();
	return row?.time_zone ?? "UTC";
}

export function devMailbox(db: D1Database): ReceiptSender {
	return {
		async send(receipt) {
			await db
				.prepare(`INSERT INTO dev_mail (order_id, to_address, subject, body, created_at) VALUES (?, ?, ?, ?, ?)`)
				.bind(receipt.orderId, receipt.to, receipt.subject, receipt.text, new Date().toISOString())
				.run();
		},
	};
}

export interface DevMail {
	id: number;
	orderId: string;
	to: string;
	subject: string;
	body: string;
	createdAt: string;
}

/** The dev mailbox, newest first, optionally for one order or one address (or both). */
export async function devMail(db: D1Database, filter: { orderId: string | null; to: string | null }, limit: number): Promise<DevMail[]> {
	const where: string[] = [];
	const binds: (string | number)[] = [];
	if (filter.orderId !== null) {
		where.push("order_id = ?");
		binds.push(filter.orderId);
	}
	if (filter.to !== null) {
		where.push("to_address = ?");
		binds.push(filter.to);
	}
	const clause = where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`;
	const { results } = await db
		.prepare(`SELECT id, order_id AS orderId, to_address AS "to", subject, body, created_at AS createdAt FROM dev_mail ${clause} ORDER BY id DESC LIMIT ?`)
		.bind(...binds, limit)
		.all<DevMail>();
	return results;
}

/** What a receipt tells: the sale, as its message carries it (its language among it). */
export type ReceiptSale = Pick<SaleMessage, "orderId" | "dropId" | "quantity" | "totalCents" | "currency" | "tickets" | "createdAt" | "locale">;

/**
 * The receipt's subject and text, in the buyer's language (English when the purchase named none, or one
 * the engine does not write in): the order, what was paid and when (in the drop's time zone, named), and
 * each ticket's code (the QR codes are on the order page).
 */
export function receiptMail(sale: ReceiptSale, timeZone = "UTC"): Pick<Receipt, "subject" | "text"> {
	const say = mailWriter(mailLocale(sale.locale), timeZone);
	const paid = { n: say.number(sale.quantity), amount: say.money(sale.totalCents, sale.currency), date: say.date(sale.createdAt) };
	return {
		subject: say.t("receipt.subject", { orderId: sale.orderId }),
		text: [
			say.t("receipt.thanks", { orderId: sale.orderId, dropId: sale.dropId }),
			``,
			say.t("receipt.paid", paid, sale.quantity),
			``,
			...sale.tickets.map((code, i) => say.t("receipt.ticket", { n: say.number(i + 1), code })),
			``,
			say.t("receipt.gate"),
		].join("\n"),
	};
}
