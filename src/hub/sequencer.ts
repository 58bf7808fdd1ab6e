// Hands the hub the event log's events in position order, each once, whatever order the feed
// brings them in (a topic does not keep order across senders, may repeat, may lose a message while
// a connection drops). The log has no gaps, so a position missing from the feed is read from the
// log at once; a poll of the log's tail catches what the feed lost when nothing follows it.
import { type EventLog, LOG_PAGE, type LoggedEvent } from "../events/port.js";

/** Positions read at first when catching up: the feed usually lacks only the newest few. */
const SMALL_READ = 8;

export interface SequencerOptions {
	/** How often the log's tail is read for events the feed did not bring. Default 1 s. */
	pollMs?: number;
	log?: (line: string) => void;
}

export class EventSequencer {
	private delivered: number;
	private readonly early = new Map<number, LoggedEvent>();
	private catchingUp?: Promise<void>;
	private again = false;
	private timer?: ReturnType<typeof setInterval>;
	private readonly logLine: (line: string) => void;
	private lastFailure = 0;

	constructor(
		private readonly log: EventLog,
		private readonly deliver: (logged: LoggedEvent) => void,
		/** The position already delivered (the log's head when the hub started). */
		startSeq: number,
		private readonly options: SequencerOptions = {},
	) {
		this.delivered = startSeq;
		this.logLine = options.log ?? (() => {});
	}

	get position(): number {
		return this.delivered;
	}

	/** Starts the tail poll. */
	start(): void {
		this.timer ??= setInterval(() => void this.catchUp(), this.options.pollMs ?? 1000);
		(this.timer as { unref?: () => void }).unref?.();
	}

	stop(): void {
		clearInterval(this.timer);
		this.timer = undefined;
	}

	/** An event from the feed. */
	accept(logged: LoggedEvent): void {
		this.log.observe(logged.seq);
		if (logged.seq <= this.delivered) return; // delivered already
		if (logged.seq === this.delivered + 1) {
			this.hand(logged);
			this.drainEarly();
			return;
		}
		this.early.set(logged.seq, logged);
		void this.catchUp(); // the positions before it exist: read them
	}

	private hand(logged: LoggedEvent): void {
		this.delivered = logged.seq;
		this.deliver(logged);
	}

	private drainEarly(): void {
		for (let next = this.early.get(this.delivered + 1); next; next = this.early.get(this.delivered + 1)) {
			this.early.delete(next.seq);
			this.hand(next);
		}
		for (const seq of this.early.keys()) if (seq <= this.delivered) this.early.delete(seq);
	}

	/** Reads the log after the delivered position until it is exhausted; one reader at a time. */
	catchUp(): Promise<void> {
		if (this.catchingUp) {
			this.again = true;
			return this.catchingUp;
		}
		this.catchingUp = (async () => {
			try {
				do {
					this.again = false;
					// A few positions at first (what is usually missing), then big pages while far behind.
					for (let want = SMALL_READ; ; want = LOG_PAGE) {
						const page = await this.log.read(this.delivered, want);
						for (const logged of page) {
							if (logged.seq === this.delivered + 1) this.hand(logged);
						}
						this.drainEarly();
						if (page.length < want) break;
					}
				} while (this.again);
			} catch (err) {
				// The next poll tries again; say so once a minute at most.
				if (Date.now() - this.lastFailure > 60_000) {
					this.lastFailure = Date.now();
					this.logLine(`reading the event log failed: ${(err as Error).message}`);
				}
			} finally {
				this.catchingUp = undefined;
			}
		})();
		return this.catchingUp;
	}
}
