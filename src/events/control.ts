// Control messages to every instance (a SignalR request handled by one instance for a stream
// another holds: src/hub/signalr.ts). The feed carries them when it reaches every instance. While
// it does not (replicas sharing one subscription, or no topic: src/events/replicas.ts), they are
// also posted on the event log's table (a ControlBoard), and an instance whose own feed is partial
// reads the board at the fast tail's pace, only while it holds SignalR streams to act for. A
// message that comes both ways is acted on once (its id).
import { type Logger, silentLogger } from "../observability/log.js";
import type { ControlBoard, ControlMessage, EventFeed } from "./port.js";

/** How often the board is read while needed (the sequencer's fast tail reads the log as often). */
export const CONTROL_READ_MS = 150;
/** Messages posted this long ago are still read (the instances' clocks may differ by this much). */
export const CONTROL_READ_WITHIN_MS = 30_000;
/** Messages are removed from the board this long after they were posted. */
export const CONTROL_KEPT_MS = 60_000;
/** The field a message's id travels in (receivers ignore fields they do not know). */
const ID_FIELD = "controlId";
/** Ids acted on, remembered this long (beyond what the board still answers) and this many at most. */
const SEEN_MS = 2 * CONTROL_READ_WITHIN_MS;
const MAX_SEEN = 20_000;

export interface ControlRelayOptions {
	feed: EventFeed;
	/** Absent: the feed alone (one instance, or the in-memory setups). */
	board?: ControlBoard;
	/** Whether some instance on the log misses feed messages (then messages go on the board too). */
	someFeedIsPartial?: () => boolean;
	log?: Logger;
	/** Tests: a faster pace. */
	readMs?: number;
}

export class ControlRelay {
	private readonly listeners: ((message: ControlMessage) => void)[] = [];
	/** Ids of messages acted on, with when they were seen (insertion order is time order). */
	private readonly seen = new Map<string, number>();
	private feedIsPartial = false;
	private streams = 0;
	private reader?: ReturnType<typeof setTimeout>;
	private reading = false;
	private lastRemoval = 0;
	private removalTimer?: ReturnType<typeof setTimeout>;
	private lastFailure = 0;
	private closed = false;
	private readonly log: Logger;

	constructor(private readonly options: ControlRelayOptions) {
		this.log = options.log ?? silentLogger;
	}

	/** What the feed brings (its onControl). */
	receive(message: ControlMessage): void {
		const id = message[ID_FIELD];
		if (typeof id === "string") {
			if (this.seen.has(id)) return;
			this.remember(id);
		}
		for (const listen of this.listeners) listen(message);
	}

	listen(handler: (message: ControlMessage) => void): void {
		this.listeners.push(handler);
	}

	/** To every instance: on the feed, and on the board while some instance's feed is partial. */
	async send(message: ControlMessage): Promise<void> {
		const id = randomId();
		const tagged = { ...message, [ID_FIELD]: id };
		const { board, feed } = this.options;
		const onBoard = board !== undefined && (this.options.someFeedIsPartial?.() ?? false);
		// Both must take it: the holder may be reached by either way only.
		await Promise.all([feed.sendControl(tagged), onBoard ? board.post(id, tagged) : undefined]);
		if (onBoard) this.scheduleRemoval();
	}

	/** Whether this instance's own feed is partial (from src/events/replicas.ts). */
	setFeedPartial(partial: boolean): void {
		this.feedIsPartial = partial;
		this.updateReader();
	}

	/** How many SignalR streams this instance holds (the board is read only while some are). */
	holding(streams: number): void {
		this.streams = streams;
		this.updateReader();
	}

	/** Whether the board is being read now (readiness, tests). */
	get readingBoard(): boolean {
		return this.reader !== undefined;
	}

	close(): void {
		this.closed = true;
		this.updateReader();
		clearTimeout(this.removalTimer);
	}

	private updateReader(): void {
		const wanted = !this.closed && this.options.board !== undefined && this.feedIsPartial && this.streams > 0;
		if (!wanted) {
			clearTimeout(this.reader);
			this.reader = undefined;
		} else if (!this.reader) {
			this.scheduleRead(0);
		}
	}

	private scheduleRead(afterMs: number): void {
		this.reader = setTimeout(() => void this.readOnce(), afterMs);
		this.reader.unref?.();
	}

	private async readOnce(): Promise<void> {
		const board = this.options.board;
		if (!board || this.reading) return;
		this.reading = true;
		try {
			for (const { id, message } of await board.recent(CONTROL_READ_WITHIN_MS)) {
				if (this.seen.has(id)) continue;
				this.remember(id);
				for (const listen of this.listeners) listen(message);
			}
			if (Date.now() - this.lastRemoval > CONTROL_KEPT_MS / 2) void this.removeOld();
		} catch (err) {
			this.failed("reading control messages from the event log's table", err);
		} finally {
			this.reading = false;
			// Still wanted (not stopped meanwhile): the next read.
			if (this.reader) this.scheduleRead(this.options.readMs ?? CONTROL_READ_MS);
		}
	}

	/** Once a while after posting: the board is emptied by its posters even when nobody reads it. */
	private scheduleRemoval(): void {
		if (this.removalTimer || this.closed) return;
		this.removalTimer = setTimeout(() => {
			this.removalTimer = undefined;
			void this.removeOld();
		}, CONTROL_KEPT_MS + 5000);
		this.removalTimer.unref?.();
	}

	private async removeOld(): Promise<void> {
		const board = this.options.board;
		if (!board) return;
		this.lastRemoval = Date.now();
		try {
			await board.removeOld(CONTROL_KEPT_MS);
		} catch (err) {
			this.failed("removing old control messages from the event log's table", err);
		}
	}

	private remember(id: string): void {
		const now = Date.now();
		this.seen.set(id, now);
		for (const [old, at] of this.seen) {
			if (now - at < SEEN_MS && this.seen.size <= MAX_SEEN) break;
			this.seen.delete(old);
		}
	}

	/** Said once a minute at most. */
	private failed(what: string, err: unknown): void {
		if (Date.now() - this.lastFailure < 60_000) return;
		this.lastFailure = Date.now();
		this.log.warn(`${what} failed: ${(err as Error).message.split("\n")[0]}`);
	}
}

/** 96 random bits, URL-safe (a RowKey part). */
function randomId(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(12));
	return btoa(String.fromCharCode(...bytes))
		.replaceAll("+", "-")
		.replaceAll("/", "_");
}
