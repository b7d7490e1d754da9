// The safety net under the dead-letter consumer: a sale a shard sent long ago
// that D1 still lacks is sent again from the shard's outbox. It catches what the
// dead-letter path missed (its own retries used up, a message lost), on a cron
// trigger for the drops opened lately, and on demand for one drop.
import type { DropConfig } from "../drops/rules";
import { recentlyOpenedDrops } from "../drops/store";
import { shardStats } from "../inventory/drop-shards";
import { compareDropOrderIds } from "./order-ids";
import { recordedByShard } from "./store";
import { shardStub } from "../shared/names";

/**
 * A sale sent this long ago and still not in D1 is sent again: longer than the sales
 * consumer's retries (about 4 minutes) plus the dead-letter consumer's first try, so
 * a sale still on its way is left to it.
 */
export const RESEND_AFTER_MS = 10 * 60_000;
/** The cron looks at the drops opened within this many days, the latest opening first. */
export const RECONCILE_WINDOW_DAYS = 7;
/** At most this many drops a run, so a run stays inside one invocation's D1 query budget. */
export const RECONCILE_DROPS_PER_RUN = 20;

export interface Reconciled {
	dropId: string;
	/** Sales marked unsent and sent again by their shards. */
	resent: number;
	/** Sales missing from D1 and sent more than RESEND_AFTER_MS ago (each is re-sent). */
	missingInD1: number;
	/** Sales missing from D1 that are newer: left to the pipeline. */
	inTransit: number;
	/** Rows in D1 that no shard sold (never touched here; the audit reports them). */
	unknownInD1: number;
}

/** Compares the drop's order ids with D1 and has the shards re-send what D1 lacks. */
export async function reconcileDrop(env: Env, drop: Pick<DropConfig, "id" | "shards">): Promise<Reconciled> {
	let resent = 0;
	const ids = await compareDropOrderIds(env, drop, RESEND_AFTER_MS, {
		onMissing: async (shard, orderIds) => {
			// The shard checks the age again on its own clock.
			resent += await shardStub(env, drop.id, shard).resendSales({ orderIds, minAgeMs: RESEND_AFTER_MS });
		},
	});
	const total = (kind: "missingInD1" | "inTransit" | "unknownInD1") => ids.shards.reduce((n, s) => n + s[kind].count, 0);
	return {
		dropId: drop.id,
		resent,
		missingInD1: total("missingInD1"),
		inTransit: total("inTransit"),
		unknownInD1: total("unknownInD1") + ids.otherShards.count,
	};
}

/**
 * The cron's run: each drop opened lately whose shards have more orders than D1
 * (a cheap count first) is reconciled. A drop that fails is logged and skipped.
 */
export async function reconcileRecentDrops(env: Env): Promise<Reconciled[]> {
	const now = Date.now();
	const since = new Date(now - RECONCILE_WINDOW_DAYS * 86_400_000).toISOString();
	const drops = await recentlyOpenedDrops(env.DB, since, new Date(now).toISOString(), RECONCILE_DROPS_PER_RUN);
	const done: Reconciled[] = [];
	for (const drop of drops) {
		try {
			if (!(await fewerInD1(env, drop))) continue;
			const result = await reconcileDrop(env, drop);
			if (result.resent > 0) console.warn(`reconcile: drop ${drop.id}: ${result.resent} sale(s) missing from D1 sent again`);
			done.push(result);
		} catch (err) {
			console.error(`reconcile: drop ${drop.id} failed`, err);
		}
	}
	return done;
}

/** Whether any shard has more orders than D1 has for it. */
async function fewerInD1(env: Env, drop: DropConfig): Promise<boolean> {
	const [stats, recorded] = await Promise.all([shardStats(env, drop.id, drop.shards), recordedByShard(env.DB, drop.id)]);
	return stats.some((s) => s.orders > (recorded.get(s.shard)?.orders ?? 0));
}
