// The event log in memory: for tests and a Node process without Table Storage. Lost with the
// process, so its epoch is new every start (a client's old ids get `reset`).
import type { OrderEvent } from "../domain/events.js";
import { ClaimExpiredError, type EventLog, type LoggedEvent } from "./port.js";

export class MemoryEventLog implements EventLog {
	private readonly events: { event: OrderEvent; at: number }[] = [];
	/** Position of events[0]. */
	private first = 1;
	private id = crypto.randomUUID().slice(0, 8);
	private readonly secret = `${crypto.randomUUID()}${crypto.randomUUID()}`;

	constructor(private readonly now: () => number = Date.now) {}

	async epoch(): Promise<string> {
		return this.id;
	}

	async append(event: OrderEvent, validUntil?: number): Promise<number> {
		// In memory a write cannot outlive its claim; a claim already over is refused as on Azure.
		if (validUntil !== undefined && validUntil <= this.now()) throw new ClaimExpiredError();
		this.events.push({ event, at: this.now() });
		return this.first + this.events.length - 1;
	}

	async read(after: number, limit: number): Promise<LoggedEvent[]> {
		const start = Math.max(after + 1, this.first) - this.first;
		return this.events
			.slice(start, start + limit)
			.map((e, i) => ({ seq: this.first + start + i, event: e.event }));
	}

	async head(): Promise<number> {
		return this.first + this.events.length - 1;
	}

	async firstRetained(): Promise<number> {
		return this.first;
	}

	async state(): Promise<{ epoch: string; firstRetained: number }> {
		return { epoch: this.id, firstRetained: this.first };
	}

	/** Loses every event and starts a new epoch, as a deleted and recreated table does (tests). */
	recreate(): void {
		this.events.length = 0;
		this.first = 1;
		this.id = crypto.randomUUID().slice(0, 8);
	}

	async purge(retentionMs: number): Promise<number> {
		const cutoff = this.now() - retentionMs;
		let n = 0;
		// Keep the newest event: the head's position must stay known.
		while (this.events.length > 1 && (this.events[0]?.at ?? Number.POSITIVE_INFINITY) < cutoff) {
			this.events.shift();
			this.first++;
			n++;
		}
		return n;
	}

	observe(): void {}

	/** Random per log: in memory, only this process shares it. */
	async sharedSecret(): Promise<string> {
		return this.secret;
	}

	async ping(): Promise<void> {}
}
