// Nagle for SSE: an item that arrives within `windowMs` of the last flush waits for the end of that
// window and goes out with the others in one flush; an idle coalescer flushes at once. For the hub,
// each flush is one socket write per subscriber, so under load this is what keeps a busy hub from
// spending its CPU in the kernel (measured: see the end-to-end figures in docs/performance.md).
// The window may change from one flush to the next (the hub scales it with its subscribers).
export class Coalescer<T> {
	private pending: T[] = [];
	private timer: ReturnType<typeof setTimeout> | undefined;
	private lastFlush = Number.NEGATIVE_INFINITY;

	constructor(
		/** The window now, in ms (0: every item at once). */
		private readonly windowMs: () => number,
		private readonly flush: (batch: T[]) => void,
	) {}

	/** True while a flush is scheduled. */
	get scheduled(): boolean {
		return this.timer !== undefined;
	}

	push(item: T): void {
		this.pending.push(item);
		if (this.timer !== undefined) return;
		const wait = this.lastFlush + this.windowMs() - Date.now();
		if (wait <= 0) this.flushNow();
		else {
			this.timer = setTimeout(() => {
				this.timer = undefined;
				this.flushNow();
			}, wait);
		}
	}

	/** Flushes what is pending now (shutdown, or the window's end). */
	flushNow(): void {
		clearTimeout(this.timer);
		this.timer = undefined;
		const batch = this.pending;
		this.pending = [];
		this.lastFlush = Date.now();
		if (batch.length > 0) this.flush(batch);
	}
}
