// A Map that keeps at most `capacity` entries, forgetting the least recently set one first. The
// hub's stale-update filter, its recent message ids and the in-memory queues' duplicate detection
// all need "remember the newest N", and none may grow without bound.
export class BoundedMap<K, V> {
	private readonly entries = new Map<K, V>();

	constructor(private readonly capacity: number) {}

	get size(): number {
		return this.entries.size;
	}

	get(key: K): V | undefined {
		return this.entries.get(key);
	}

	has(key: K): boolean {
		return this.entries.has(key);
	}

	/** Sets `key` as the most recent; forgets the oldest entry beyond the capacity. */
	set(key: K, value: V): void {
		this.entries.delete(key); // re-inserted: a Map's order is insertion order, here recency
		this.entries.set(key, value);
		if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
	}

	delete(key: K): void {
		this.entries.delete(key);
	}

	clear(): void {
		this.entries.clear();
	}
}
