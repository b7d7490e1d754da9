// Receipts: the sender is chosen by configuration: Cloudflare's
// send_email binding, the dev mailbox in D1, or none.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/shared/config";
import { receiptMail, receiptSender } from "../../src/after-sale/receipts";

const receipt = { orderId: "o_0_receiptreceipt1", to: "fan@example.test", subject: "Your tickets", text: "two tickets" };

describe("receipts", () => {
	it("sends through the send_email binding from RECEIPT_FROM when the sender is email", async () => {
		const sent: unknown[] = [];
		const fakeBinding = { send: async (message: unknown) => void sent.push(message) };
		const sender = receiptSender({ ...env, RECEIPT_SENDER: "email", RECEIPT_FROM: "tickets@promoter.test", RECEIPTS: fakeBinding } as unknown as Env);
		await sender!.send(receipt);
		expect(sent).toEqual([{ from: "tickets@promoter.test", to: "fan@example.test", subject: "Your tickets", text: "two tickets", headers: { "X-Order-Id": receipt.orderId } }]);
	});

	it("keeps the message in the dev mailbox when the sender is dev, where the admin route reads it", async () => {
		await receiptSender(env)!.send(receipt);
		const row = await env.DB.prepare(`SELECT to_address, subject, body FROM dev_mail WHERE order_id = ?`).bind(receipt.orderId).first();
		expect(row).toEqual({ to_address: "fan@example.test", subject: "Your tickets", body: "two tickets" });
	});

	it("sends nothing when receipts are off, or email has no sender address", () => {
		expect(receiptSender({ ...env, RECEIPT_SENDER: "off" } as Env)).toBeNull();
		expect(parseConfig({ RECEIPT_SENDER: "email" }).receipts).toEqual({ sender: "off" });
		expect(parseConfig({ RECEIPT_SENDER: "carrier-pigeon" }).receipts).toEqual({ sender: "off" });
		expect(parseConfig({}).receipts).toEqual({ sender: "off" });
	});

	it("lists the order, what was paid and every ticket", () => {
		const { text } = receiptMail({ orderId: "o_1_x", dropId: "d_1", quantity: 2, totalCents: 5000, currency: "EUR", tickets: ["AAAA-BBBB", "CCCC-DDDD"], createdAt: "2025-03-12T14:05:00.000Z" });
		expect(text).toContain("o_1_x");
		// The price as English writes it (Intl): the currency's sign before the amount.
		expect(text).toContain("€50.00");
		expect(text).toContain("Ticket 1: AAAA-BBBB");
		expect(text).toContain("Ticket 2: CCCC-DDDD");
	});
});

describe("the after-sale settings", () => {
	it("turns Stripe on with its key, at Stripe's API unless told, and the gate with its token", () => {
		expect(parseConfig({}).stripe).toBeNull();
		expect(parseConfig({}).gateToken).toBeNull();
		expect(parseConfig({ STRIPE_SECRET_KEY: "sk_test_1" }).stripe).toEqual({ secretKey: "sk_test_1", apiBase: "https://api.stripe.com" });
		expect(parseConfig({ STRIPE_SECRET_KEY: "sk_test_1", STRIPE_API_BASE: "http://127.0.0.1:9999/" }).stripe?.apiBase).toBe("http://127.0.0.1:9999");
		expect(parseConfig({ GATE_TOKEN: " gate " }).gateToken).toBe("gate");
		expect(parseConfig({ STRIPE_WEBHOOK_SECRET: "whsec_1" }).stripeWebhookSecret).toBe("whsec_1");
	});
});
