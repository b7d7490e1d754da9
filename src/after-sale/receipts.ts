// Receipts: the email a buyer gets once their tickets are issued, through a
// pluggable sender chosen by RECEIPT_SENDER: "email" sends with Cloudflare's
// send_email binding (RECEIPTS) from RECEIPT_FROM; "dev" keeps the message in
// D1's dev_mail table, where GET /api/admin/dev/mail shows it; "off" (the
// default) sends nothing.
import { config } from "../shared/config";

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

/** The dev mailbox, newest first, optionally for one order. */
export async function devMail(db: D1Database, orderId: string | null, limit: number): Promise<DevMail[]> {
	const where = orderId === null ? "" : "WHERE order_id = ?";
	const stmt = db.prepare(`SELECT id, order_id AS orderId, to_address AS "to", subject, body, created_at AS createdAt FROM dev_mail ${where} ORDER BY id DESC LIMIT ?`);
	const { results } = await (orderId === null ? stmt.bind(limit) : stmt.bind(orderId, limit)).all<DevMail>();
	return results;
}

/** The receipt's text: the order, its price and each ticket's code (the QR codes are on the order page). */
export function receiptText(order: { orderId: string; dropId: string; quantity: number; totalCents: number; currency: string; tickets: string[] }): Receipt["text"] {
	const amount = `${(order.totalCents / 100).toFixed(2)} ${order.currency}`;
	return [
		`Thank you for your order ${order.orderId} (drop ${order.dropId}).`,
		``,
		`${order.quantity} ticket(s), ${amount} paid.`,
		``,
		...order.tickets.map((code, i) => `Ticket ${i + 1}: ${code}`),
		``,
		`Show the QR codes on your order page at the gate; each ticket is admitted once.`,
	].join("\n");
}
