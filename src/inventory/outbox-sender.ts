// Sends a shard's outbox to the sales Queue. Every sale is stored in the outbox in
// the same transaction as its order (ledger-outbox.ts), so sending is only ever a
// delay: a send that fails is tried again by the alarm, and the consumer stores a
// sale sent twice once. One flush runs at a time. Handed only what it needs of its shard.
import { SALES_PER_MESSAGE, type SalesMessage } from "../contract/sale-message";
import type { AlarmScheduling } from "./alarm-schedule";
import type { OutboxLedger } from "./ledger-outbox";
import { SerialJob } from "./serial-job";

/** The alarm comes back this soon while a sale waits in the outbox. */
export const OUTBOX_RETRY_MS = 5_000;
/** Sales per sendBatch: packed 25 a message, about 150 KB, inside the Queue's 256 KB per batch. */
const SEND_SALES_LIMIT = 200;

/** What the sender needs of its shard. */
export interface OutboxHost {
	clock(): number;
	outbox: OutboxLedger;
	alarm: Pick<AlarmScheduling, "fromStoredState">;
	/** Sends to the sales Queue. */
	send(messages: { body: SalesMessage; contentType: "json" }[]): Promise<unknown>;
}

export class OutboxSender {
	private readonly sending: SerialJob;

	constructor(private readonly host: OutboxHost) {
		this.sending = new SerialJob(() => this.sendUnsent(), "outbox send failed; the alarm will retry", () => this.host.alarm.fromStoredState());
	}

	/** Sends unsent outbox rows to the Queue, a batch at a time; one flush runs at once, again while more came meanwhile. */
	flush(): Promise<void> {
		return this.sending.run();
	}

	/**
	 * Sales D1 lacks (the dead-letter consumer's ask, the reconcile's): those sent at or before
	 * `sentBy` are marked unsent and sent again now (the alarm sends them if this send fails).
	 * Answers how many were marked; ids not sold here, or not sent yet, are left alone.
	 */
	async resend(orderIds: string[], sentBy: number): Promise<number> {
		const marked = this.host.outbox.markUnsent(orderIds, sentBy);
		if (marked > 0) {
			this.host.alarm.fromStoredState();
			await this.flush();
		}
		return marked;
	}

	/**
	 * Sales waiting here go out packed, up to SALES_PER_MESSAGE in a Queue message:
	 * while one send is on its way the next purchases wait in the outbox, so a busy
	 * shard sends many sales a message and the Queue's message rate is not the limit.
	 */
	private async sendUnsent(): Promise<void> {
		for (;;) {
			const { orderIds, sales } = this.host.outbox.takeUnsent(SEND_SALES_LIMIT);
			if (orderIds.length === 0) return;
			const messages: { body: SalesMessage; contentType: "json" }[] = [];
			for (let i = 0; i < sales.length; i += SALES_PER_MESSAGE) {
				messages.push({ body: { v: 2, sales: sales.slice(i, i + SALES_PER_MESSAGE) }, contentType: "json" });
			}
			await this.host.send(messages);
			this.host.outbox.markSent(orderIds, this.host.clock());
			if (orderIds.length < SEND_SALES_LIMIT) return;
		}
	}
}
