// A drop's order ids in its shards set against those in D1, shard by shard, a
// page at a time on both sides, so a large drop never comes back in one reply.
// Ids, not counts: a sale missing from D1 and a row no shard sold on the same
// shard do not cancel out.
import { type RecordedId, recordedIdsPage } from "./store";
import { shardStub } from "../shared/names";

/** How many of one kind of id the audit names; `count` says how many there are. */
export const ID_SAMPLE = 50;
/** Ids read per page, from D1 and from a shard: about 75 KB each. */
export const ID_PAGE = 2_500;

export interface IdSample {
	count: number;
	/** The first ids in id order, at most ID_SAMPLE. */
	ids: string[];
}

export interface ShardIds {
	shard: number;
	/** Sold here, sent before the grace period, absent from D1: lost. */
	missingInD1: IdSample;
	/** Sold here, absent from D1, and not sent yet or sent within the grace period: on its way. */
	inTransit: IdSample;
	/** In D1 under this shard, not sold by it: phantom. */
	unknownInD1: IdSample;
}

export interface IdComparison {
	shards: ShardIds[];
	/** Rows in D1 that name a shard the drop does not have: phantom too. */
	otherShards: IdSample;
}

/** Where the ids come from. Both sides answer in SQLite's order of the ids (BINARY). */
export interface IdSources {
	/** D1's ids of the drop in (shard, id) order, after `after`, at most `limit`. */
	recordedPage(after: RecordedId | null, limit: number): Promise<RecordedId[]>;
	/** A shard's ids in id order after `after` and up to `through` (null: no bound); `next` is set when more may follow. */
	shardPage(shard: number, page: { after: string | null; through: string | null; limit: number }): Promise<{ ids: string[]; recent: string[]; next: string | null }>;
}

export interface CompareOptions {
	pageSize?: number;
	sample?: number;
	/** Called with each page's ids that are missing from D1 past the grace period (the reconcile re-sends them). */
	onMissing?: (shard: number, ids: string[]) => Promise<void>;
}

class Sample {
	count = 0;
	readonly ids: string[] = [];
	constructor(private readonly max: number) {}
	add(id: string): void {
		this.count++;
		if (this.ids.length < this.max) this.ids.push(id);
	}
	view(): IdSample {
		return { count: this.count, ids: this.ids };
	}
}

/** D1's side as one stream over every shard, read a page at a time and only when it runs out. */
class RecordedStream {
	private rows: RecordedId[] = [];
	private pos = 0;
	private last: RecordedId | null = null;
	done = false;
	constructor(
		private readonly read: IdSources["recordedPage"],
		private readonly pageSize: number,
	) {}

	/** The next row already read, without reading more; undefined when the page is used up. */
	peek(): RecordedId | undefined {
		return this.rows[this.pos];
	}
	take(): void {
		this.pos++;
	}
	async readPage(): Promise<void> {
		this.rows = await this.read(this.last, this.pageSize);
		this.pos = 0;
		if (this.rows.length > 0) this.last = this.rows[this.rows.length - 1]!;
		if (this.rows.length < this.pageSize) this.done = true;
	}
}

/**
 * Walks each shard's ids and D1's together in id order. D1 is read ahead of the
 * shard: a shard page is asked only up to the last D1 id already read (or without
 * bound once D1 has nothing more for that shard). A sale made meanwhile is then at
 * most missing from a D1 read that came first, and it is recent (in transit), never
 * a row in D1 that the shard seems not to have sold.
 *
 * Here ids are only ever compared a shard's with D1's. A shard's ids are ASCII
 * (src/shared/ids.ts), and against an ASCII string JavaScript's string order is SQLite's
 * BINARY (UTF-8 byte) order, whatever the other holds.
 */
export async function compareOrderIds(sources: IdSources, shards: number, options: CompareOptions = {}): Promise<IdComparison> {
	const pageSize = options.pageSize ?? ID_PAGE;
	const sampleSize = options.sample ?? ID_SAMPLE;
	const recorded = new RecordedStream(sources.recordedPage, pageSize);
	const otherShards = new Sample(sampleSize);
	const result: ShardIds[] = [];

	for (let shard = 0; shard < shards; shard++) {
		const missing = new Sample(sampleSize);
		const inTransit = new Sample(sampleSize);
		const unknown = new Sample(sampleSize);
		/** D1's ids of this shard read and not yet compared, in order; at most a page. */
		let inD1: string[] = [];
		/** D1 has nothing more for this shard beyond `inD1`. */
		let d1Complete = false;

		const readD1 = async () => {
			while (!d1Complete) {
				const row = recorded.peek();
				if (row === undefined) {
					if (recorded.done) d1Complete = true;
					else if (inD1.length > 0) return;
					else await recorded.readPage();
				} else if (row.shard < shard) {
					otherShards.add(row.id);
					recorded.take();
				} else if (row.shard > shard) {
					d1Complete = true;
				} else {
					inD1.push(row.id);
					recorded.take();
				}
			}
		};

		let after: string | null = null;
		for (;;) {
			await readD1();
			const through = d1Complete ? null : inD1[inD1.length - 1]!;
			const page = await sources.shardPage(shard, { after, through, limit: pageSize });
			const recent = new Set(page.recent);
			const lost: string[] = [];
			let j = 0;
			for (const id of page.ids) {
				while (j < inD1.length && inD1[j]! < id) unknown.add(inD1[j++]!);
				if (j < inD1.length && inD1[j] === id) {
					j++;
				} else if (recent.has(id)) {
					inTransit.add(id);
				} else {
					missing.add(id);
					lost.push(id);
				}
			}
			// Compared up to the page's last id when the shard may have more, else up to the bound:
			// every D1 id read so far (all of them are within it).
			while (j < inD1.length && (page.next === null || inD1[j]! <= page.next)) unknown.add(inD1[j++]!);
			inD1 = inD1.slice(j);
			if (lost.length > 0 && options.onMissing) await options.onMissing(shard, lost);
			if (page.next === null && through === null) break;
			after = page.next ?? through;
		}
		result.push({ shard, missingInD1: missing.view(), inTransit: inTransit.view(), unknownInD1: unknown.view() });
	}

	// Whatever D1 holds beyond the last shard names a shard the drop does not have.
	for (;;) {
		const row = recorded.peek();
		if (row !== undefined) {
			otherShards.add(row.id);
			recorded.take();
		} else if (recorded.done) {
			break;
		} else {
			await recorded.readPage();
		}
	}
	return { shards: result, otherShards: otherShards.view() };
}

/** The comparison for a drop, from its shards and D1; `graceMs` decides what counts as in transit. */
export function compareDropOrderIds(env: Env, drop: { id: string; shards: number }, graceMs: number, options: CompareOptions = {}): Promise<IdComparison> {
	return compareOrderIds(
		{
			recordedPage: (after, limit) => recordedIdsPage(env.DB, drop.id, after, limit),
			shardPage: (shard, page) => shardStub(env, drop.id, shard).orderIdsPage({ ...page, graceMs }),
		},
		drop.shards,
		options,
	);
}
