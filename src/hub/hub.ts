// The order event hub: fans events out to SSE subscribers, keeps a bounded history for replay,
// and never lets one slow subscriber hold memory or the others. Runtime-neutral.
//
// Event ids are `<epoch>-<seq>`. Alone (no event log), the epoch is random per hub (per process
// start), so an id from an earlier run or another instance is answered with `event: reset`. Fed
// from the event log (src/hub/sequencer.ts), the epoch is the log's and seq its position: the same
// ids on every instance and across restarts, and a replay reads what memory no longer holds from
// the log.
import type { OrderEvent, OrderEvents } from "../domain/events.js";
import type { EventLog } from "../events/port.js";

export interface HubOptions {
	/** Events kept for replay. */
	historySize?: number;
	/** Heartbeat comment interval (keeps proxies from closing idle streams). */
	heartbeatMs?: number;
	/** The reconnect delay suggested to EventSource clients (`retry:`). */
	retryMs?: number;
	/** Concurrent subscribers beyond this are refused (503). */
	maxSubscribers?: number;
	/** A subscriber whose unsent backlog passes this many bytes is disconnected. */
	maxBufferedBytes?: number;
	/**
	 * Nagle for SSE: an event published within this many ms of the last write waits for the end
	 * of that window and goes out with the others in one write per subscriber. An idle hub writes
	 * at once. Each write is a syscall per subscriber, so under load this is what keeps a busy
	 * hub from spending its CPU in the kernel. 0 writes every event at once.
	 */
	coalesceMs?: number;
	/** The epoch of event ids: the event log's, or random per hub when there is none. */
	instanceId?: string;
	/** Fed from this event log: positions start after `startSeq`, and old replays read it. */
	eventLog?: EventLog;
	startSeq?: number;
}

/** How far before a client's position a replay from the log looks, to recognise repeated events. */
const REPLAY_LOOKBACK = 200;

export interface SubscriberFilter {
	orderIds?: string[];
	partitionKey?: string;
	customerName?: string;
}

/** Where a subscriber's bytes go: a Node response or a web stream. */
export interface SseSink {
	write(chunk: Uint8Array): void;
	/** Bytes written but not yet sent to the client. */
	buffered(): number;
	/** Ends the stream (idempotent); "abort" drops unsent bytes (for a client too slow to read them). */
	close(mode?: "end" | "abort"): void;
}

interface StoredEvent {
	seq: number;
	bytes: Uint8Array;
	orderId: string;
	version?: number;
	partitionKey: string;
	customerName: string;
	messageId?: string;
}

interface Subscriber {
	sink: SseSink;
	/** Events up to this sequence number reached it by replay; a pending batch skips them. */
	afterSeq: number;
	/** While a replay is read from the event log: the live events that arrive meanwhile. */
	held?: StoredEvent[];
	orderIds?: Set<string>;
	partitionKey?: string;
	customerName?: string;
}

/** The hub cannot take a subscriber now: at its cap, or shutting down. */
export class HubUnavailableError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "HubUnavailableError";
	}
}

export interface HubStats {
	instanceId: string;
	subscribers: number;
	maxSubscribers: number;
	historySize: number;
	historyCapacity: number;
	newestEventId: string;
	published: number;
	slowDisconnects: number;
}

const encoder = new TextEncoder();
/** Orders whose newest update time is remembered, to drop late older updates. */
const NEWEST_UPDATE_CAPACITY = 10_000;
const HEARTBEAT = encoder.encode(": heartbeat\n\n");

function randomInstanceId(): string {
	return Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(36).padStart(2, "0")).join(
		"",
	);
}

export class OrderHub implements OrderEvents {
	readonly instanceId: string;
	private readonly opts: Required<Omit<HubOptions, "instanceId" | "eventLog" | "startSeq">>;
	private readonly eventLog?: EventLog;
	private readonly subscribers = new Set<Subscriber>();
	/** Ring buffer of the newest events, oldest at `head`. */
	private readonly history: (StoredEvent | undefined)[];
	private head = 0;
	private count = 0;
	private seq = 0;
	private readonly recentMessageIds = new Map<string, number>();
	/** The newest `updatedAt` (and version) published per recently changed order (bounded), see isStale(). */
	private readonly newestUpdate = new Map<string, { updatedAt: string; version?: number }>();
	private heartbeat: ReturnType<typeof setInterval> | undefined;
	private pending: StoredEvent[] = [];
	private flushTimer: ReturnType<typeof setTimeout> | undefined;
	private lastFlush = Number.NEGATIVE_INFINITY;
	private published = 0;
	private slowDisconnects = 0;
	private closed = false;

	constructor(options: HubOptions = {}) {
		this.opts = {
			historySize: options.historySize ?? 1000,
			heartbeatMs: options.heartbeatMs ?? 15_000,
			retryMs: options.retryMs ?? 2000,
			maxSubscribers: options.maxSubscribers ?? 10_000,
			maxBufferedBytes: options.maxBufferedBytes ?? 256 * 1024,
			coalesceMs: options.coalesceMs ?? 25,
		};
		this.instanceId = options.instanceId ?? randomInstanceId();
		this.history = new Array(this.opts.historySize);
		if (options.eventLog) this.eventLog = options.eventLog;
		this.seq = options.startSeq ?? 0;
	}

	get newestEventId(): string {
		return `${this.instanceId}-${this.seq}`;
	}

	get maxBufferedBytes(): number {
		return this.opts.maxBufferedBytes;
	}

	get subscriberCount(): number {
		return this.subscribers.size;
	}

	/** True while the hub runs a timer: heartbeat (only while someone is subscribed) or a pending flush. */
	get hasTimers(): boolean {
		return this.heartbeat !== undefined || this.flushTimer !== undefined;
	}

	stats(): HubStats {
		return {
			instanceId: this.instanceId,
			subscribers: this.subscribers.size,
			maxSubscribers: this.opts.maxSubscribers,
			historySize: this.count,
			historyCapacity: this.opts.historySize,
			newestEventId: this.newestEventId,
			published: this.published,
			slowDisconnects: this.slowDisconnects,
		};
	}

	/** Alone: publishes at the next position of its own. */
	publish(event: OrderEvent): void {
		this.deliver({ seq: this.seq + 1, event });
	}

	/**
	 * Fed from the event log: publishes the event at its position (positions only grow; the
	 * sequencer hands them over in order). A repeated or outdated event moves the position on and
	 * reaches nobody.
	 */
	deliver({ seq, event }: { seq: number; event: OrderEvent }): void {
		if (seq <= this.seq && this.eventLog) return;
		const repeated = event.messageId !== undefined && this.recentMessageIds.has(event.messageId);
		if (repeated || this.isStale(event)) {
			if (this.eventLog) this.seq = seq;
			return;
		}
		this.seq = seq;
		const stored = this.serialize(seq, event);
		this.remember(stored);
		this.published++;
		this.pending.push(stored);
		if (this.flushTimer !== undefined) return;
		const wait = this.lastFlush + this.opts.coalesceMs - Date.now();
		if (wait <= 0) this.flush();
		else {
			this.flushTimer = setTimeout(() => {
				this.flushTimer = undefined;
				this.flush();
			}, wait);
		}
	}

	/** The event as SSE bytes, once: the same bytes go to every subscriber and into the history. */
	private serialize(seq: number, event: OrderEvent): StoredEvent {
		const id = `${this.instanceId}-${seq}`;
		const { order } = event;
		const data = JSON.stringify({
			orderId: order.orderId,
			status: order.status,
			partitionKey: order.partitionKey,
			customerName: order.customerName,
			productName: order.productName,
			createdAt: order.createdAt,
			updatedAt: order.updatedAt,
			...(event.previousStatus ? { previousStatus: event.previousStatus } : {}),
			...(event.messageId ? { messageId: event.messageId } : {}),
		});
		return {
			seq,
			bytes: encoder.encode(`id: ${id}\nevent: ${event.type}\ndata: ${data}\n\n`),
			orderId: order.orderId,
			partitionKey: order.partitionKey,
			customerName: order.customerName,
			...(event.version !== undefined ? { version: event.version } : {}),
			...(event.messageId ? { messageId: event.messageId } : {}),
		};
	}

	/**
	 * An update older than one already published for the same order is dropped: a client applies
	 * events as they come, and must never be moved back to a state the order has left. On Node the
	 * receiver publishes one order's changes in order; on Workers they reach the hub object from
	 * separate requests, which may overtake each other.
	 */
	private isStale({ order, version }: OrderEvent): boolean {
		const newest = this.newestUpdate.get(order.orderId);
		if (newest !== undefined) {
			if (order.updatedAt < newest.updatedAt) return true;
			// The same version again: an event logged twice (after a publisher stopped mid-way).
			if (version !== undefined && newest.version !== undefined && version <= newest.version) return true;
		}
		this.newestUpdate.delete(order.orderId); // re-inserted: the map's order is recency
		this.newestUpdate.set(order.orderId, {
			updatedAt: order.updatedAt,
			...(version !== undefined ? { version } : {}),
		});
		if (this.newestUpdate.size > NEWEST_UPDATE_CAPACITY) {
			this.newestUpdate.delete(this.newestUpdate.keys().next().value as string);
		}
		return false;
	}

	/** Writes the pending events: one write per subscriber, the same bytes for all unfiltered ones. */
	private flush(): void {
		const batch = this.pending;
		this.pending = [];
		this.lastFlush = Date.now();
		if (batch.length === 0) return;
		const first = (batch[0] as StoredEvent).seq;
		const all = batch.length === 1 ? (batch[0] as StoredEvent).bytes : concat(batch.map((e) => e.bytes));
		for (const s of this.subscribers) {
			if (s.held) {
				for (const e of batch) if (e.seq > s.afterSeq && matches(s, e)) s.held.push(e);
				continue;
			}
			if (isUnfiltered(s) && s.afterSeq < first) {
				this.send(s, all);
				continue;
			}
			const mine = batch.filter((e) => e.seq > s.afterSeq && matches(s, e));
			if (mine.length === batch.length) this.send(s, all);
			else if (mine.length > 0) this.send(s, concat(mine.map((e) => e.bytes)));
		}
	}

	private remember(event: StoredEvent): void {
		const capacity = this.opts.historySize;
		if (capacity === 0) return;
		if (this.count === capacity) {
			const evicted = this.history[this.head];
			if (evicted?.messageId !== undefined) this.recentMessageIds.delete(evicted.messageId);
			this.history[this.head] = event;
			this.head = (this.head + 1) % capacity;
		} else {
			this.history[(this.head + this.count) % capacity] = event;
			this.count++;
		}
		if (event.messageId !== undefined) this.recentMessageIds.set(event.messageId, event.seq);
	}

	/**
	 * Writes, unless the subscriber still holds more than the bound from earlier writes: then it is
	 * too slow and is cut off (it reconnects and replays). Checked before writing, so one large
	 * batch does not cut off a client that keeps up; memory stays under the bound plus one batch.
	 */
	private send(s: Subscriber, bytes: Uint8Array): void {
		if (s.sink.buffered() > this.opts.maxBufferedBytes) {
			this.slowDisconnects++;
			this.unsubscribe(s);
			s.sink.close("abort");
			return;
		}
		s.sink.write(bytes);
	}

	/**
	 * Registers a subscriber: writes the retry hint, replays what it missed since `lastEventId`
	 * (or sends `reset` when that is impossible), then it receives live events.
	 * Returns the function to call when the client goes away.
	 */
	subscribe(sink: SseSink, filter: SubscriberFilter = {}, lastEventId?: string): () => void {
		this.assertCanSubscribe();
		const s: Subscriber = {
			sink,
			afterSeq: this.seq,
			...(filter.orderIds?.length ? { orderIds: new Set(filter.orderIds) } : {}),
			...(filter.partitionKey !== undefined ? { partitionKey: filter.partitionKey } : {}),
			...(filter.customerName !== undefined ? { customerName: filter.customerName } : {}),
		};
		sink.write(encoder.encode(`retry: ${this.opts.retryMs}\n: connected to ${this.instanceId}\n\n`));
		if (lastEventId !== undefined && lastEventId !== "") {
			const replay = this.eventsAfter(lastEventId);
			if (replay.ok) {
				for (const e of replay.events) if (matches(s, e)) sink.write(e.bytes);
			} else if (replay.reason === "in-log" || replay.reason === "ahead") {
				// Older than memory holds, or past what this hub has seen yet: the log decides. Live
				// events are held meanwhile and follow the replay.
				s.held = [];
				void this.replayFromLog(s, Number(/-(\d+)$/.exec(lastEventId.trim())?.[1]), lastEventId);
			} else {
				this.sendReset(sink, replay.reason, lastEventId);
			}
		}
		this.subscribers.add(s);
		this.startHeartbeat();
		return () => this.unsubscribe(s);
	}

	private sendReset(sink: SseSink, reason: string, lastEventId: string): void {
		const data = JSON.stringify({ reason, lastEventId: lastEventId.slice(0, 200) });
		sink.write(encoder.encode(`id: ${this.newestEventId}\nevent: reset\ndata: ${data}\n\n`));
	}

	/**
	 * Replays (last, P] from the event log, P = this hub's position when the client subscribed, then
	 * the live events held since. An event the log holds twice (a publisher stopped between logging
	 * and clearing it) is sent once: the replay reads a little before `last` to know what was sent.
	 */
	private async replayFromLog(s: Subscriber, last: number, lastEventId: string): Promise<void> {
		const log = this.eventLog as EventLog;
		const upTo = s.afterSeq;
		try {
			if (last > upTo) {
				// The client saw events this hub has not yet: fine if the log has them.
				if (last > (await log.head())) this.sendReset(s.sink, "unknown-event-id", lastEventId);
				else s.afterSeq = last;
			} else if (last + 1 < (await log.firstRetained())) {
				this.sendReset(s.sink, "evicted", lastEventId);
			} else {
				const seen = new Map<string, number>();
				for (let after = Math.max(0, last - REPLAY_LOOKBACK); after < upTo; ) {
					const page = await log.read(after, Math.min(1000, upTo - after));
					if (page.length === 0) break;
					for (const { seq, event } of page) {
						if (seq > upTo) break;
						const { orderId } = event.order;
						const version = event.version ?? Number.POSITIVE_INFINITY;
						const repeated = (seen.get(orderId) ?? -1) >= version;
						if (!repeated) seen.set(orderId, version);
						if (seq <= last || repeated) continue;
						const stored = this.serialize(seq, event);
						if (matches(s, stored) && this.subscribers.has(s)) s.sink.write(stored.bytes);
					}
					after = (page[page.length - 1] as { seq: number }).seq;
				}
			}
		} catch {
			// The log cannot be read now: the client refetches instead of missing events silently.
			this.sendReset(s.sink, "replay-unavailable", lastEventId);
		}
		const held = s.held ?? [];
		s.held = undefined;
		if (!this.subscribers.has(s)) return;
		const mine = held.filter((e) => e.seq > s.afterSeq);
		if (mine.length > 0) this.send(s, concat(mine.map((e) => e.bytes)));
		s.afterSeq = Math.max(s.afterSeq, held[held.length - 1]?.seq ?? 0);
	}

	/** Throws HubUnavailableError at the subscriber cap or while shutting down. */
	assertCanSubscribe(): void {
		if (this.closed) throw new HubUnavailableError("The event hub is shutting down; reconnect shortly.");
		if (this.subscribers.size >= this.opts.maxSubscribers) {
			throw new HubUnavailableError(
				`The event hub is at its limit of ${this.opts.maxSubscribers} subscribers; retry shortly.`,
			);
		}
	}

	private unsubscribe(s: Subscriber): void {
		this.subscribers.delete(s);
		if (this.subscribers.size === 0) this.stopHeartbeat();
	}

	/**
	 * The stored events after `lastEventId`, or why memory cannot replay them: a reset reason, or
	 * "in-log" / "ahead" when the event log can answer (older than memory, or newer than this hub).
	 */
	eventsAfter(lastEventId: string): { ok: true; events: StoredEvent[] } | { ok: false; reason: string } {
		const m = /^([0-9a-z]+)-(\d{1,15})$/.exec(lastEventId.trim());
		if (!m) return { ok: false, reason: "invalid-event-id" };
		if (m[1] !== this.instanceId) return { ok: false, reason: "unknown-instance" };
		const last = Number(m[2]);
		if (last > this.seq) return { ok: false, reason: this.eventLog ? "ahead" : "unknown-event-id" };
		const oldest = this.count === 0 ? this.seq + 1 : (this.history[this.head] as StoredEvent).seq;
		if (last < oldest - 1) return { ok: false, reason: this.eventLog ? "in-log" : "evicted" };
		const events: StoredEvent[] = [];
		const capacity = this.opts.historySize;
		for (let i = 0; i < this.count; i++) {
			const e = this.history[(this.head + i) % capacity] as StoredEvent;
			if (e.seq > last) events.push(e);
		}
		return { ok: true, events };
	}

	private startHeartbeat(): void {
		if (this.heartbeat !== undefined) return;
		this.heartbeat = setInterval(() => {
			for (const s of this.subscribers) this.send(s, HEARTBEAT);
		}, this.opts.heartbeatMs);
		// Never keep a process alive just to send heartbeats.
		(this.heartbeat as { unref?: () => void }).unref?.();
	}

	private stopHeartbeat(): void {
		if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
		this.heartbeat = undefined;
	}

	/** Ends every stream and refuses new subscribers (graceful shutdown). */
	close(): void {
		this.closed = true;
		clearTimeout(this.flushTimer);
		this.flushTimer = undefined;
		this.flush(); // what was published still goes out before the streams end
		for (const s of [...this.subscribers]) {
			this.unsubscribe(s);
			s.sink.close();
		}
		this.stopHeartbeat();
	}
}

const isUnfiltered = (s: Subscriber) =>
	s.orderIds === undefined && s.partitionKey === undefined && s.customerName === undefined;

function concat(chunks: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
	let at = 0;
	for (const c of chunks) {
		out.set(c, at);
		at += c.byteLength;
	}
	return out;
}

function matches(s: Subscriber, e: StoredEvent): boolean {
	if (s.orderIds !== undefined && !s.orderIds.has(e.orderId)) return false;
	if (s.partitionKey !== undefined && s.partitionKey !== e.partitionKey) return false;
	if (s.customerName !== undefined && s.customerName !== e.customerName) return false;
	return true;
}
