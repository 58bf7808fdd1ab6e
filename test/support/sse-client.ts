import { EventSource } from "eventsource";

export interface ReceivedEvent {
	type: string;
	id: string;
	data: Record<string, unknown>;
}

const TYPES = ["OrderCreated", "ReceiveOrderUpdate", "reset"];

/** A real EventSource client (the `eventsource` package) that records what it receives. */
export class RecordingEventSource {
	readonly events: ReceivedEvent[] = [];
	readonly source: EventSource;
	opens = 0;
	errors = 0;

	constructor(url: string, init: { headers?: Record<string, string> } = {}) {
		this.source = new EventSource(url, {
			fetch: (input, options) =>
				fetch(input, { ...options, headers: { ...(options?.headers ?? {}), ...(init.headers ?? {}) } }),
		});
		this.source.addEventListener("open", () => this.opens++);
		this.source.addEventListener("error", () => this.errors++);
		for (const type of TYPES) {
			this.source.addEventListener(type, (e) => {
				this.events.push({ type, id: e.lastEventId, data: JSON.parse(e.data) });
			});
		}
	}

	opened(): Promise<void> {
		if (this.source.readyState === EventSource.OPEN) return Promise.resolve();
		return new Promise((resolve) => this.source.addEventListener("open", () => resolve(), { once: true }));
	}

	of(type: string): ReceivedEvent[] {
		return this.events.filter((e) => e.type === type);
	}

	close(): void {
		this.source.close();
	}
}
