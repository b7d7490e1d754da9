// The payment provider and the sales Queue as the simulation's services. The provider
// behaves as the engine's `test` provider (token "ok" approved, anything else declined;
// a charge under a key it has seen answers as it did), but keeps its record per run, so
// money can be checked against the orders at the end, and under the `provider` fault it
// answers late (past the charge's settling time) or never, the charge made or not. The
// Queue takes the outbox's sales and hands them in batches, as wrangler.toml sets its
// consumer, to the engine's own consumer (consumeSales) over the simulated D1, honouring
// each message's ack and retry on the simulated clock and sending a message retried past
// max_retries to the dead-letter queue. In the windows the `d1` fault draws the Queue
// refuses sends (the outbox keeps them) and D1 refuses the consumer's calls (its retry
// path); under the `message` fault a batch is delivered twice (the Queue is at least once).
import type { ActionResult, ChargeRequest, ChargeResult, PaymentProvider } from "../src/payments/provider";
import { type SaleMessage, type SalesMessage, salesOf } from "../src/contract/sale-message";
import { EPOCH, type EventQueue } from "./events";
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

/** The sales consumer as wrangler.toml sets it: max_batch_size, max_batch_timeout (1 s), max_retries, then the dead-letter queue. */
export const SALES_BATCH_SIZE = 100;
export const SALES_BATCH_TIMEOUT_MS = 1000;
export const SALES_MAX_RETRIES = 10;
/** Under the `message` fault: a batch the consumer acked is delivered again, this often, up to this much later. */
export const SALES_BATCH_TWICE = 0.05;
export const SALES_BATCH_TWICE_MAX_MS = 3_000;
/** The Queue's limits on what it takes: 128 KB a message, 100 messages and 256 KB a sendBatch. */
export const QUEUE_MESSAGE_BYTES = 128 * 1024;
export const QUEUE_BATCH_MESSAGES = 100;
export const QUEUE_BATCH_BYTES = 256 * 1024;

/** The Queue's consumer: the engine's consumeSales, or a test's planted one. */
export type SalesConsumer = (batch: MessageBatch<unknown>, env: Env) => Promise<void>;

/** A message on the Queue: its body as the shard sent it, when, and how often it has been delivered. */
export interface Queued {
	id: string;
	body: SalesMessage;
	sentAt: number;
	attempts: number;
}

/** What the consumer decided for a message: acked, or retried after so many seconds. */
export type Decision = { ack: true } | { ack: false; delaySeconds: number };

/**
 * One invocation of a Queue's consumer with these messages, as the platform runs it: each
 * message's attempts counted, the first of ack() and retry() a message gets is what happens to
 * it, and a consumer that throws has every message it left alone retried at once, one that
 * returns has them acked. Answers each message's decision.
 */
export async function invokeConsumer(queue: string, messages: Queued[], consumer: SalesConsumer, env: Env): Promise<Map<Queued, Decision>> {
	const decided = new Map<Queued, Decision>();
	const decide = (m: Queued, d: Decision) => {
		if (!decided.has(m)) decided.set(m, d);
	};
	for (const m of messages) m.attempts++;
	const batch = {
		queue,
		messages: messages.map((m) => ({
			id: m.id,
			timestamp: new Date(EPOCH + m.sentAt),
			body: m.body as unknown,
			attempts: m.attempts,
			ack: () => decide(m, { ack: true }),
			retry: (options?: { delaySeconds?: number }) => decide(m, { ack: false, delaySeconds: options?.delaySeconds ?? 0 }),
		})),
		ackAll: () => messages.forEach((m) => decide(m, { ack: true })),
		retryAll: (options?: { delaySeconds?: number }) => messages.forEach((m) => decide(m, { ack: false, delaySeconds: options?.delaySeconds ?? 0 })),
	} as unknown as MessageBatch<unknown>;
	let threw = false;
	try {
		await consumer(batch, env);
	} catch {
		threw = true;
	}
	return new Map(messages.map((m) => [m, decided.get(m) ?? (threw ? { ack: false, delaySeconds: 0 } : { ack: true })]));
}

/**
 * A Queue's consumer batching, as wrangler.toml sets it: messages gather until `size` of them,
 * or `timeoutMs` after the first, and are handed over together (`hand`).
 */
export class Batching {
	private batch: Queued[] = [];
	private number = 0;

	constructor(
		private readonly events: EventQueue,
		private readonly size: number,
		private readonly timeoutMs: number,
		private readonly hand: (messages: Queued[]) => void,
	) {}

	/** Whether a batch is filling. */
	get filling(): boolean {
		return this.batch.length > 0;
	}

	/** A message enters the batch: the first starts its timer, the last of a full batch hands it over. */
	add(message: Queued): void {
		this.batch.push(message);
		if (this.batch.length === 1) {
			const number = this.number;
			this.events.after(this.timeoutMs, () => {
				if (this.number === number) this.flush();
			});
		}
		if (this.batch.length >= this.size) this.flush();
	}

	private flush(): void {
		const batch = this.batch;
		this.batch = [];
		this.number++;
		this.hand(batch);
	}
}

/** A queue the consumer only sends to (the dead-letter queue, the follow-up, the webhooks): what it was given, kept. */
export class SentQueue {
	readonly bodies: unknown[] = [];
	readonly binding = {
		send: async (body: unknown) => void this.bodies.push(body),
		sendBatch: async (messages: Iterable<{ body: unknown }>) => {
			for (const m of messages) this.bodies.push(m.body);
		},
	};
}

export class SimQueue {
	/** Sales that reached the Queue, by order id, and how often. */
	readonly delivered = new Map<string, number>();
	/** When each sale was first handed to the sales consumer (simulated ms): the Queue's batching, as wrangler.toml sets it. */
	readonly consumedAt = new Map<string, number>();
	/** The consumer, and the env each invocation is given with a count of its D1 queries (sim/sales.ts sets them: consumeSales over the simulated D1). */
	consumer: SalesConsumer | null = null;
	envFor: (() => { env: Env; queries(): number }) | null = null;
	/** The most D1 queries one invocation made, and D1's limit on them. */
	mostQueries = 0;
	queryLimit = Infinity;
	/** The run's invariant broken (sim/sales.ts sets it). */
	fail: (what: string) => never = (what) => {
		throw new Error(what);
	};
	/** Messages retried past max_retries: the Queue's own dead letters (the consumer's malformed ones are in env.SALES_DLQ). */
	readonly deadLetters: Queued[] = [];
	/** Told each message dead-lettered: the dead-letter queue's consumer takes it (sim/dead-letters.ts). */
	onDeadLetter: ((m: Queued) => void) | null = null;
	/** The batch the Queue is filling: handed over at SALES_BATCH_SIZE messages, or SALES_BATCH_TIMEOUT_MS after the first. */
	private readonly batching: Batching;
	private messages = 0;
	private readonly outages: { from: number; to: number }[] = [];
	/** Windows when D1 alone is down (the Queue takes sends). */
	private readonly d1Outages: { from: number; to: number }[] = [];
	failedSends = 0;
	/** Messages waiting out a retry's delay, or a batch's second delivery. */
	private waiting = 0;
	/** Consumer invocations, messages retried, batches delivered twice, invocations still running. */
	batches = 0;
	retries = 0;
	twice = 0;
	running = 0;
	/** Messages taken each simulated second (the Queue takes about 5,000 a second). */
	readonly perSecond: number[] = [];

	constructor(
		private readonly events: EventQueue,
		private readonly faults: Faults,
		readonly opensAt: number,
	) {
		this.batching = new Batching(events, SALES_BATCH_SIZE, SALES_BATCH_TIMEOUT_MS, (batch) => this.consume(batch));
		if (!faults.on("d1")) return;
		for (let i = 0; i < FAULT_RATES.outages; i++) {
			const from = opensAt + Math.floor(faults.draw("d1") * 600_000);
			const to = from + Math.floor(faults.draw("d1") * FAULT_RATES.outageMaxMs);
			this.outages.push({ from, to });
			faults.injected.set("sales Queue outage", (faults.injected.get("sales Queue outage") ?? 0) + 1);
		}
		// Now and then D1 alone goes down while the sales are made, the Queue taking them all along, for longer than the
		// consumer's retries last (about 4 minutes of them): its messages are dead-lettered, and come back through the
		// dead-letter queue's consumer once D1 answers again.
		if (faults.strikes("d1", FAULT_RATES.longOutage, "D1 long outage")) {
			const from = opensAt + Math.floor(faults.draw("d1") * 120_000);
			this.d1Outages.push({ from, to: from + FAULT_RATES.longOutageMinMs + Math.floor(faults.draw("d1") * (FAULT_RATES.longOutageMaxMs - FAULT_RATES.longOutageMinMs)) });
		}
	}

	private consume(batch: Queued[]): void {
		for (const m of batch) for (const sale of m.body.sales) if (!this.consumedAt.has(sale.orderId)) this.consumedAt.set(sale.orderId, this.events.now);
		this.deliver(batch);
	}

	/** Whether the Queue still has work: a batch filling, an invocation running, a message waiting to come back. */
	busy(): boolean {
		return this.batching.filling || this.running > 0 || this.waiting > 0;
	}

	/** The Queue and D1 behind it are down now (the `d1` fault's windows). */
	down(): boolean {
		const now = this.events.now;
		return this.outages.some((o) => now >= o.from && now < o.to);
	}

	/** D1 is down now: with the Queue, or alone (the `d1` fault's long outage). */
	d1Down(): boolean {
		const now = this.events.now;
		return this.down() || this.d1Outages.some((o) => now >= o.from && now < o.to);
	}

	async send(messages: { body: SalesMessage }[]): Promise<void> {
		if (this.down()) {
			this.failedSends++;
			throw new Error("the sales Queue is unavailable");
		}
		// Past its limits the Queue refuses the send, and the outbox would try the same again for good: an invariant broken.
		let bytes = 0;
		for (const m of messages) {
			const size = JSON.stringify(m.body).length;
			if (size > QUEUE_MESSAGE_BYTES) this.fail(`a sales message of ${size} bytes, past the Queue's ${QUEUE_MESSAGE_BYTES}`);
			bytes += size;
		}
		if (messages.length > QUEUE_BATCH_MESSAGES || bytes > QUEUE_BATCH_BYTES) this.fail(`a sendBatch of ${messages.length} messages, ${bytes} bytes, past the Queue's ${QUEUE_BATCH_MESSAGES} and ${QUEUE_BATCH_BYTES}`);
		const second = Math.floor(this.events.now / 1000);
		while (this.perSecond.length <= second) this.perSecond.push(0);
		for (const m of messages) {
			this.perSecond[second]! += 1;
			for (const sale of m.body.sales) this.delivered.set(sale.orderId, (this.delivered.get(sale.orderId) ?? 0) + 1);
			this.batching.add({ id: `sales-msg-${++this.messages}`, body: m.body, sentAt: this.events.now, attempts: 0 });
		}
	}

	/** One invocation of the consumer with these messages: its own work, on the simulated clock through D1's answers. */
	private deliver(messages: Queued[]): void {
		if (this.consumer === null || this.envFor === null) return;
		this.batches++;
		this.running++;
		this.events.touched = true;
		this.invoke(messages, this.consumer, this.envFor()).then(
			() => this.running--,
			(err: Error) => (this.events.failure ??= err),
		);
	}

	private async invoke(messages: Queued[], consumer: SalesConsumer, { env, queries }: { env: Env; queries(): number }): Promise<void> {
		const decided = await invokeConsumer("ticket-sales", messages, consumer, env);
		this.mostQueries = Math.max(this.mostQueries, queries());
		if (queries() > this.queryLimit) this.fail(`a sales consumer invocation made ${queries()} D1 queries, past the ${this.queryLimit} one invocation may make`);
		const acked: Queued[] = [];
		for (const [m, d] of decided) {
			if (d.ack) {
				acked.push(m);
				continue;
			}
			this.retries++;
			if (m.attempts > SALES_MAX_RETRIES) {
				this.deadLetters.push(m);
				this.faults.note(this.events.now, [], `sales message ${m.id} retried past max_retries: to the dead-letter queue (${m.body.sales.length} sales)`);
				this.onDeadLetter?.(m);
			} else {
				this.waiting++;
				this.events.after(d.delaySeconds * 1000, () => {
					this.waiting--;
					this.batching.add(m);
				});
			}
		}
		if (acked.length > 0 && this.faults.strikes("message", SALES_BATCH_TWICE, "sales batch delivered twice")) {
			this.twice++;
			const copies = acked.map((m) => ({ ...m }));
			this.waiting += copies.length;
			this.events.after(Math.floor(this.faults.draw("message") * SALES_BATCH_TWICE_MAX_MS), () => {
				this.waiting -= copies.length;
				this.deliver(copies);
			});
		}
	}

	/** Sales in the Queue's dead letters and in what the consumer sent to env.SALES_DLQ. */
	deadSales(sentToDlq: SentQueue): { sales: SaleMessage[]; unreadable: number } {
		const sales = this.deadLetters.flatMap((m) => m.body.sales);
		let unreadable = 0;
		for (const body of sentToDlq.bodies) {
			const carried = salesOf((body as { body?: unknown }).body ?? body);
			if (carried === null) unreadable++;
			else sales.push(...carried);
		}
		return { sales, unreadable };
	}

	/** The Queue's busiest second: messages taken (its limit is about 5,000 a second). */
	peak(): { messages: number; at: number } {
		let best = { messages: 0, at: 0 };
		this.perSecond.forEach((n, s) => {
			if (n > best.messages) best = { messages: n, at: s * 1000 };
		});
		return best;
	}
}
