// The newest events a hub keeps for replay to reconnecting clients: a ring buffer, oldest first.
import type { StoredEvent } from "./sse-event.js";

export class ReplayHistory {
	private readonly ring: (StoredEvent | undefined)[];
	private head = 0;
	private count = 0;

	constructor(readonly capacity: number) {
		this.ring = new Array(capacity);
	}

	get size(): number {
		return this.count;
	}

	/** Keeps `event` as the newest, forgetting the oldest when full. */
	remember(event: StoredEvent): void {
		if (this.capacity === 0) return;
		if (this.count === this.capacity) {
			this.ring[this.head] = event;
			this.head = (this.head + 1) % this.capacity;
			return;
		}
		this.ring[(this.head + this.count) % this.capacity] = event;
		this.count++;
	}

	/** Forgets everything (the positions were of a log that is gone). */
	clear(): void {
		this.ring.fill(undefined);
		this.head = 0;
		this.count = 0;
	}

	/** The oldest position kept; undefined when empty. */
	oldestSeq(): number | undefined {
		return this.count === 0 ? undefined : (this.ring[this.head] as StoredEvent).seq;
	}

	/** The kept events after position `seq`, oldest first. */
	after(seq: number): StoredEvent[] {
		const out: StoredEvent[] = [];
		for (let i = 0; i < this.count; i++) {
			const e = this.ring[(this.head + i) % this.capacity] as StoredEvent;
			if (e.seq > seq) out.push(e);
		}
		return out;
	}
}
