// A Map that never grows past its limit: what an isolate keeps in memory for
// many drops, fans or payments (caches, memos, the test provider's ledger)
// must stay bounded however long the isolate lives.

/** A Map of at most `limit` entries: `set` makes its key the newest, and past the limit the oldest go. */
export class BoundedMap<K, V> extends Map<K, V> {
	constructor(readonly limit: number) {
		super();
	}

	override set(key: K, value: V): this {
		super.delete(key);
		super.set(key, value);
		while (this.size > this.limit) super.delete(this.keys().next().value as K);
		return this;
	}
}
