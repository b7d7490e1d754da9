// The shard's alarm as one sequence: holds past their time back to stock, endings owed
// to other shards delivered, transfers cut short completed, acks sent, open charges
// settled, unsent sales sent, old rows pruned, and the next alarm set from stored state.
// The shard object (inventory-shard.ts) and the simulator (sim/shard.ts) both run this
// code over their instance's own parts, so the order they run in cannot drift apart.
import type { AlarmSchedule } from "./alarm-schedule";
import { CHARGE_SETTLE_MS, type Charges } from "./charges";
import type { Ledger } from "./ledger";
import { KEEP_MS } from "./ledger-store";
import type { NamedClaims } from "./named-claims";
import { OUTBOX_RETRY_MS, type OutboxSender } from "./outbox-sender";
import { ACK_AFTER_MS, type StockTransfers, TRANSFER_RETRY_MS } from "./stock-transfers";
import type { UnitLedger } from "./unit-ledger";

/** How often the alarm comes back to prune when nothing else needs it sooner. */
export const PRUNE_RETRY_MS = 60 * 60 * 1000;

/** The parts of a shard's instance its alarm works through. */
export interface ShardAlarmParts {
	clock(): number;
	ledger: Ledger;
	schedule: AlarmSchedule;
	transfers: StockTransfers;
	charges: Charges;
	outbox: OutboxSender;
	/** The named units kept here and the claims' endings owed to their shards; null for a drop with none (the simulator's). */
	named: { units: UnitLedger; claims: NamedClaims } | null;
	/** Tells a pacer watching a dry drop that stock freed or sold here (stock-watch.ts). */
	toldIfMoved(): Promise<void>;
}

/** Expired holds back to stock, cut-short transfers completed, open charges settled, unsent sales re-sent. Idempotent. */
export async function runShardAlarm(s: ShardAlarmParts): Promise<void> {
	if (s.ledger.meta() === null) return;
	s.schedule.running();
	s.ledger.holds.expireDue(s.clock());
	// Holds that ran out are stock again: told before the peer calls below, which may take seconds.
	await s.toldIfMoved();
	if (s.named !== null) await s.named.claims.deliverNotices();
	await s.transfers.completePendingTransfers();
	await s.transfers.sendAcks();
	await s.charges.reconcile();
	await s.outbox.flush();
	s.ledger.prune(s.clock());
	s.named?.units.prune(s.clock(), KEEP_MS);
	s.schedule.fromStoredState();
	await s.toldIfMoved();
}

/** When stored state next needs the alarm: the earliest hold expiry, or a retry of what is still open. `units`: null for a drop without named units. */
export function nextAlarmNeeded(ledger: Ledger, units: UnitLedger | null, now: number): number | null {
	const stored = ledger.nextAlarm(now, { outboxMs: OUTBOX_RETRY_MS, transferMs: TRANSFER_RETRY_MS, ackMs: ACK_AFTER_MS, chargeMs: CHARGE_SETTLE_MS, pruneMs: PRUNE_RETRY_MS });
	const prune = units === null ? null : units.nextPrune(KEEP_MS);
	return prune === null ? stored : Math.min(stored ?? Infinity, Math.max(now + PRUNE_RETRY_MS, prune));
}
