// The payment provider and the sales Queue as the simulation's services. The provider
// behaves as the engine's `test` provider (token "ok" approved, anything else declined;
// a charge under a key it has seen answers as it did), but keeps its record per run, so
// money can be checked against the orders at the end, and under the `provider` fault it
// answers late (past the charge's settling time) or never, the charge made or not. The
// Queue takes the outbox's sales (the consumer stores a sale sent twice once) and is
// down in the windows the `d1` fault draws: the send fails, and the outbox keeps them.
import type { ActionResult, ChargeRequest, ChargeResult, PaymentProvider } from "../src/payments/provider";
import type { SalesMessage } from "../src/contract/sale-message";
import type { EventQueue } from "./events";
import { FAULT_RATES, type Faults } from "./faults";

export interface SimPayment {
	paymentId: string;
	key: string;
	amountCents: number;
	refunded: boolean;
}

export class SimProvider {
	readonly payments = new Map<string, SimPayment>();
	private readonly declines = new Map<string, string>();

	constructor(
		private readonly events: EventQueue,
		private readonly faults: Faults,
	) {}

	private charged(request: ChargeRequest): ChargeResult {
		const paymentId = `pay_sim_${request.idempotencyKey.replace(/[^A-Za-z0-9_-]/g, "_")}`;
		if (this.payments.has(paymentId)) return { status: "approved", paymentId };
		const declined = this.declines.get(request.idempotencyKey);
		if (declined !== undefined) return { status: "declined", reason: declined };
		if (request.token !== "ok") {
			this.declines.set(request.idempotencyKey, "The test card was declined.");
			return { status: "declined", reason: "The test card was declined." };
		}
		this.payments.set(paymentId, { paymentId, key: request.idempotencyKey, amountCents: request.amountCents, refunded: false });
		return { status: "approved", paymentId };
	}

	/** The provider as a shard sees it; `note` tells the trace what the provider did to this charge. */
	port(note: (what: string) => void): PaymentProvider {
		const events = this.events;
		return {
			keyLifeMs: 120_000,
			charge: (request) => {
				if (this.faults.strikes("provider", FAULT_RATES.providerSilent, "provider never answered")) {
					// Half of the silent ones made the charge: the shard's alarm must find it by its key.
					const made = this.faults.draw("provider") < 0.5;
					if (made) this.charged(request);
					note(`provider never answers ${request.idempotencyKey.split("\n")[1]} (charge ${made ? "made" : "not made"})`);
					return new Promise<ChargeResult>(() => undefined);
				}
				const result = this.charged(request);
				if (this.faults.strikes("provider", FAULT_RATES.providerLate, "provider answered late")) {
					const late = Math.floor(this.faults.draw("provider") * FAULT_RATES.providerLateMaxMs);
					note(`provider answers ${request.idempotencyKey.split("\n")[1]} ${late} ms late`);
					return new Promise<ChargeResult>((resolve) => events.after(late, () => ((events.touched = true), resolve(result))));
				}
				return Promise.resolve(result);
			},
			lookup: async (key, repeat) => {
				const paymentId = `pay_sim_${key.replace(/[^A-Za-z0-9_-]/g, "_")}`;
				if (this.payments.has(paymentId)) return { status: "approved", paymentId };
				const declined = this.declines.get(key);
				if (declined !== undefined) return { status: "declined", reason: declined };
				return repeat === null ? { status: "none" } : this.charged(repeat);
			},
			paymentStatus: async (paymentId): Promise<ChargeResult | ActionResult> =>
				this.payments.has(paymentId) ? { status: "approved", paymentId } : { status: "declined", reason: "Unknown payment." },
			cancel: async (paymentId) => (this.payments.has(paymentId) ? { status: "approved", paymentId } : { status: "declined", reason: "Unknown payment." }),
			refund: async (paymentId) => {
				const payment = this.payments.get(paymentId);
				if (payment) payment.refunded = true;
			},
			confirm: async (paymentId) => (this.payments.get(paymentId)?.refunded === false ? "confirmed" : "missing"),
		};
	}

	/** Payments taken and not refunded. */
	live(): SimPayment[] {
		return [...this.payments.values()].filter((p) => !p.refunded);
	}
}

/** The sales consumer's batching (wrangler.toml: max_batch_size, max_batch_timeout). */
export const SALES_BATCH_SIZE = 100;
export const SALES_BATCH_TIMEOUT_MS = 1000;

export class SimQueue {
	/** Sales that reached the Queue, by order id, and how often (the consumer stores each once). */
	readonly delivered = new Map<string, number>();
	/** When each sale was first handed to the sales consumer (simulated ms): the Queue's batching, as wrangler.toml sets it. */
	readonly consumedAt = new Map<string, number>();
	/** Sales in the batch the Queue is filling: handed over at BATCH_SIZE of them, or BATCH_TIMEOUT_MS after the first. */
	private batch: string[] = [];
	private batchNumber = 0;
	private readonly outages: { from: number; to: number }[] = [];
	failedSends = 0;

	constructor(
		private readonly events: EventQueue,
		faults: Faults,
		opensAt: number,
	) {
		if (!faults.on("d1")) return;
		for (let i = 0; i < FAULT_RATES.outages; i++) {
			const from = opensAt + Math.floor(faults.draw("d1") * 600_000);
			const to = from + Math.floor(faults.draw("d1") * FAULT_RATES.outageMaxMs);
			this.outages.push({ from, to });
			faults.injected.set("sales Queue outage", (faults.injected.get("sales Queue outage") ?? 0) + 1);
		}
	}

	/** A sale enters the batch: the first starts its timer, the last of a full batch hands it over. */
	private queued(orderId: string): void {
		this.batch.push(orderId);
		if (this.batch.length === 1) {
			const number = this.batchNumber;
			this.events.after(SALES_BATCH_TIMEOUT_MS, () => {
				if (this.batchNumber === number) this.consume();
			});
		}
		if (this.batch.length >= SALES_BATCH_SIZE) this.consume();
	}

	private consume(): void {
		for (const id of this.batch) this.consumedAt.set(id, this.events.now);
		this.batch = [];
		this.batchNumber++;
	}

	down(): boolean {
		const now = this.events.now;
		return this.outages.some((o) => now >= o.from && now < o.to);
	}

	async send(messages: { body: SalesMessage }[]): Promise<void> {
		if (this.down()) {
			this.failedSends++;
			throw new Error("the sales Queue is unavailable");
		}
		for (const m of messages)
			for (const sale of m.body.sales) {
				const before = this.delivered.get(sale.orderId);
				this.delivered.set(sale.orderId, (before ?? 0) + 1);
				if (before === undefined) this.queued(sale.orderId);
			}
	}
}
