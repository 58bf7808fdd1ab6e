// Hands the hub the event log's events in position order, each once, whatever order the feed
// brings them in (a topic does not keep order across senders, may repeat, may lose a message while
// a connection drops). The log has no gaps, so a position missing from the feed is read from the
// log at once; a poll of the log's tail catches what the feed lost when nothing follows it.
import { type EventLog, LOG_PAGE, type LoggedEvent } from "../events/port.js";
import { type Logger, silentLogger } from "../observability/log.js";

/**
 * How long a hub waits for a missing position to arrive on the feed before reading it from the
 * log. Senders on several instances (and concurrent receives) reorder the feed by a few ms; a log
 * read for every such gap would cost more than the events themselves.
 */
const GAP_GRACE_MS = 100;
/** At most this many positions are read by point reads at a time (and a queue of early ones). */
const SMALL_READ = 8;
const MAX_EARLY = 10_000;
/**
 * The fast tail (setFastTail): while other instances take part of this one's feed (a shared
 * subscription) or none of it reaches this one (no topic), the log's next position is read this
 * often after an event, backing off to FAST_TAIL_IDLE_MS while nothing comes: one point read each,
 * so an event the feed does not bring waits at most about FAST_TAIL_IDLE_MS (docs/scale-out.md).
 */
const FAST_TAIL_MS = 100;
const FAST_TAIL_IDLE_MS = 150;

export interface SequencerOptions {
	/** How often the log's tail is read for events the feed did not bring. Default 1 s. */
	pollMs?: number;
	log?: Logger;
	/**
	 * The log this sequencer followed is gone (recreated: a new epoch) or purged past its position:
	 * what it delivered cannot be continued. It goes on from `head` of `epoch`; subscribers must be
	 * told (their ids are of the old log, or they missed what was purged).
	 */
	onRestart?: (epoch: string, head: number, reason: "log-recreated" | "fell-behind-retention") => void;
}

export class EventSequencer {
	private delivered: number;
	private readonly early = new Map<number, LoggedEvent>();
	private catchingUp?: Promise<void>;
	private again = false;
	private timer?: ReturnType<typeof setInterval>;
	private readonly logger: Logger;
	private lastFailure = 0;
	private gapTimer?: ReturnType<typeof setTimeout>;
	private epoch: string;
	private fastTail?: { timer?: ReturnType<typeof setTimeout>; everyMs: number };

	constructor(
		private readonly log: EventLog,
		private readonly deliver: (logged: LoggedEvent) => void,
		/** The position already delivered (the log's head when the hub started). */
		startSeq: number,
		/** The log's epoch: feed messages of another log, or of none, are dropped. */
		epoch: string,
		private readonly options: SequencerOptions = {},
	) {
		this.epoch = epoch;
		this.delivered = startSeq;
		this.logger = options.log ?? silentLogger;
	}

	get position(): number {
		return this.delivered;
	}

	/** Starts the tail poll. */
	start(): void {
		this.timer ??= setInterval(() => void this.poll(), this.options.pollMs ?? 1000);
		(this.timer as { unref?: () => void }).unref?.();
	}

	stop(): void {
		clearInterval(this.timer);
		clearTimeout(this.gapTimer);
		this.timer = undefined;
		this.gapTimer = undefined;
		this.setFastTail(false);
	}

	get tailingFast(): boolean {
		return this.fastTail !== undefined;
	}

	/**
	 * Tails the log fast (on) or only by the poll (off). On while the feed brings only part of the
	 * events: other instances share this one's subscription (each message reaches one of them), or
	 * there is no topic and other instances log events. A feed message that shows a gap then has the
	 * missing positions read at once: they went to another instance and will not come.
	 */
	setFastTail(on: boolean): void {
		if (!on) {
			clearTimeout(this.fastTail?.timer);
			this.fastTail = undefined;
			return;
		}
		if (this.fastTail) return;
		this.fastTail = { everyMs: FAST_TAIL_MS };
		this.scheduleTail();
	}

	private scheduleTail(): void {
		const tail = this.fastTail;
		if (!tail) return;
		tail.timer = setTimeout(async () => {
			const before = this.delivered;
			await this.catchUp();
			// Something came: soon again (a burst goes on); nothing: back off to the idle pace.
			tail.everyMs = this.delivered > before ? FAST_TAIL_MS : Math.min(tail.everyMs * 1.5, FAST_TAIL_IDLE_MS);
			if (this.fastTail === tail) this.scheduleTail();
		}, tail.everyMs);
		(tail.timer as { unref?: () => void }).unref?.();
	}

	/** An event from the feed. */
	accept(logged: LoggedEvent): void {
		// Only positions of this log: a message without an epoch (an older build, another producer
		// on a shared topic) is no position of it, however well it fits.
		if (logged.epoch !== this.epoch) return;
		if (logged.seq <= this.delivered) return; // delivered already
		if (logged.seq === this.delivered + 1) {
			this.hand(logged);
			this.drainEarly();
			return;
		}
		if (this.early.size < MAX_EARLY) this.early.set(logged.seq, logged);
		if (this.fastTail) {
			void this.catchUp(); // the missing positions went to another instance
			return;
		}
		// The positions before it exist: give the feed a moment to bring them, then read them.
		this.gapTimer ??= setTimeout(() => {
			this.gapTimer = undefined;
			if (this.early.size > 0) void this.catchUp();
		}, GAP_GRACE_MS);
	}

	private hand(logged: LoggedEvent): void {
		this.delivered = logged.seq;
		this.log.observe(logged.seq); // known to exist: this instance's next append aims past it
		this.deliver(logged);
	}

	private drainEarly(): void {
		for (let next = this.early.get(this.delivered + 1); next; next = this.early.get(this.delivered + 1)) {
			this.early.delete(next.seq);
			this.hand(next);
		}
		for (const seq of this.early.keys()) if (seq <= this.delivered) this.early.delete(seq);
	}

	/**
	 * The tail poll: first whether the log is still the one followed (one point read of its meta
	 * row), then what the feed did not bring.
	 */
	async poll(): Promise<void> {
		try {
			const { epoch, firstRetained } = await this.log.state();
			const reason =
				epoch !== this.epoch
					? "log-recreated"
					: firstRetained > this.delivered + 1
						? "fell-behind-retention"
						: undefined;
			if (reason) {
				const head = await this.log.head();
				this.logger.warn(
					reason === "log-recreated"
						? `the event log was recreated (epoch ${this.epoch} -> ${epoch}): subscribers reset, going on from its head ${head}`
						: `the event log was purged past this hub's position ${this.delivered}: subscribers reset, going on from its head ${head}`,
				);
				this.epoch = epoch;
				this.delivered = head;
				this.early.clear();
				this.options.onRestart?.(epoch, head, reason);
			}
		} catch (err) {
			this.sayFailure(err);
			return;
		}
		await this.catchUp();
	}

	private sayFailure(err: unknown): void {
		// The next poll tries again; say so once a minute at most.
		if (Date.now() - this.lastFailure > 60_000) {
			this.lastFailure = Date.now();
			this.logger.warn(`reading the event log failed: ${(err as Error).message}`);
		}
	}

	/** How many positions lie between the delivered one and the first the feed brought early. */
	private missingBeforeEarly(): number {
		if (this.early.size === 0) return 0;
		return Math.max(0, Math.min(...this.early.keys()) - this.delivered - 1);
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
					// The positions before the first one the feed brought early exist: just those. Past
					// them one position first (usually nothing is missing: one point read), then a few,
					// then big pages while far behind.
					for (let step = 1; ; ) {
						const known = this.missingBeforeEarly();
						const want = known > 0 ? Math.min(known, LOG_PAGE) : step;
						const from = this.delivered;
						const page = await this.log.read(from, want);
						for (const logged of page) {
							if (logged.seq === this.delivered + 1) this.hand(logged);
						}
						this.drainEarly();
						// No progress: the log does not hold the next position (purged; the poll sees to that).
						if (page.length < want || this.delivered === from) break;
						if (known === 0) step = step === 1 ? SMALL_READ : LOG_PAGE;
					}
				} while (this.again);
			} catch (err) {
				this.sayFailure(err);
			} finally {
				this.catchingUp = undefined;
			}
		})();
		return this.catchingUp;
	}
}
