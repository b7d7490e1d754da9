// The sales dead-letter queue and its consumer, simulated. A sales message the consumer
// retried past max_retries (D1 down for minutes) lands here, and the engine's own
// consumeDeadSales (src/sales/dead-letters.ts) runs on it as wrangler.toml sets it (100
// messages or 5 s a batch, 100 retries): for each sale D1 still lacks it asks the sale's
// shard, over the simulated network, to send it again from its outbox (the shard object's
// resendSales: OutboxSender.resend, the same code), and while D1 does not answer the
// message waits 1, 2, 4, 8 then 10 minutes. A message retried past its 100 is given up
// (only the reconcile, not simulated, would find its sales): the end's check calls a sale
// lost if D1 lacks it then.
import { consumeDeadSales, DEAD_SALES_QUEUE } from "../src/sales/dead-letters";
import type { EventQueue } from "./events";
import { Batching, invokeConsumer, type Queued, type SalesConsumer } from "./provider";

/** The dead-letter queue's consumer as wrangler.toml sets it. */
export const DLQ_BATCH_SIZE = 100;
export const DLQ_BATCH_TIMEOUT_MS = 5_000;
export const DLQ_MAX_RETRIES = 100;

export class DeadLetterQueue {
	/** Messages taken, consumer invocations, messages acked, and those retried past max_retries. */
	taken = 0;
	batches = 0;
	acked = 0;
	readonly givenUp: Queued[] = [];
	/** The consumer: the engine's, or a test's planted one. */
	consumer: SalesConsumer = consumeDeadSales;
	private readonly batching: Batching;
	/** Messages waiting out a retry's delay, and invocations running. */
	private waiting = 0;
	private running = 0;

	constructor(
		private readonly events: EventQueue,
		private readonly envFor: () => Env,
	) {
		this.batching = new Batching(events, DLQ_BATCH_SIZE, DLQ_BATCH_TIMEOUT_MS, (messages) => this.consume(messages));
	}

	/** A message the sales Queue dead-lettered: delivered to this queue's consumer afresh (its attempts its own). */
	take(message: Queued): void {
		this.taken++;
		this.batching.add({ ...message, attempts: 0 });
	}

	/** Whether anything is still to happen here: a batch filling, an invocation running, a retry waiting. */
	pending(): boolean {
		return this.batching.filling || this.running > 0 || this.waiting > 0;
	}

	private consume(messages: Queued[]): void {
		this.batches++;
		this.running++;
		this.events.touched = true;
		invokeConsumer(DEAD_SALES_QUEUE, messages, this.consumer, this.envFor()).then(
			(decided) => {
				this.running--;
				for (const [m, d] of decided) {
					if (d.ack) {
						this.acked++;
						continue;
					}
					if (m.attempts > DLQ_MAX_RETRIES) {
						this.givenUp.push(m);
						continue;
					}
					this.waiting++;
					this.events.after(d.delaySeconds * 1000, () => {
						this.waiting--;
						this.batching.add(m);
					});
				}
			},
			(err: Error) => (this.events.failure ??= err),
		);
	}
}
