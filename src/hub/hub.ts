// The order event hub: fans events out to SSE subscribers, keeps a bounded history for replay,
// and never lets one slow subscriber hold memory or the others. Runtime-neutral.
//
// Event ids are `<instanceId>-<seq>`. The instance id is random per hub (per process start), so an
// id from an earlier run or another instance is recognised and answered with `event: reset`.
import type { OrderEvent, OrderEvents } from "../domain/events.js";

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
	instanceId?: string;
}

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
	partitionKey: string;
	customerName: string;
	messageId?: string;
}

interface Subscriber {
	sink: SseSink;
	/** Events up to this sequence number reached it by replay; a pending batch skips them. */
	afterSeq: number;
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
	private readonly opts: Required<Omit<HubOptions, "instanceId">>;
	private readonly subscribers = new Set<Subscriber>();
	/** Ring buffer of the newest events, oldest at `head`. */
	private readonly history: (StoredEvent | undefined)[];
	private head = 0;
	private count = 0;
	private seq = 0;
	private readonly recentMessageIds = new Map<string, number>();
	/** The newest `updatedAt` published per recently changed order (bounded), see publish(). */
	private readonly newestUpdate = new Map<string, string>();
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

	publish(event: OrderEvent): void {
		if (event.messageId !== undefined && this.recentMessageIds.has(event.messageId)) return; // republished
		if (this.isStale(event)) return;
		const seq = ++this.seq;
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
		// Serialised once; the same bytes go to every subscriber and into the replay history.
		const stored: StoredEvent = {
			seq,
			bytes: encoder.encode(`id: ${id}\nevent: ${event.type}\ndata: ${data}\n\n`),
			orderId: order.orderId,
			partitionKey: order.partitionKey,
			customerName: order.customerName,
			...(event.messageId ? { messageId: event.messageId } : {}),
		};
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

	/**
	 * An update older than one already published for the same order is dropped: a client applies
	 * events as they come, and must never be moved back to a state the order has left. On Node the
	 * receiver publishes one order's changes in order; on Workers they reach the hub object from
	 * separate requests, which may overtake each other.
	 */
	private isStale({ order }: OrderEvent): boolean {
		const newest = this.newestUpdate.get(order.orderId);
		if (newest !== undefined && order.updatedAt < newest) return true;
		this.newestUpdate.delete(order.orderId); // re-inserted: the map's order is recency
		this.newestUpdate.set(order.orderId, order.updatedAt);
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
			} else {
				const data = JSON.stringify({ reason: replay.reason, lastEventId: lastEventId.slice(0, 200) });
				sink.write(encoder.encode(`id: ${this.newestEventId}\nevent: reset\ndata: ${data}\n\n`));
			}
		}
		this.subscribers.add(s);
		this.startHeartbeat();
		return () => this.unsubscribe(s);
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

	/** The stored events after `lastEventId`, or why they cannot be replayed. */
	eventsAfter(lastEventId: string): { ok: true; events: StoredEvent[] } | { ok: false; reason: string } {
		const m = /^([0-9a-z]+)-(\d{1,15})$/.exec(lastEventId.trim());
		if (!m) return { ok: false, reason: "invalid-event-id" };
		if (m[1] !== this.instanceId) return { ok: false, reason: "unknown-instance" };
		const last = Number(m[2]);
		if (last > this.seq) return { ok: false, reason: "unknown-event-id" };
		const oldest = this.count === 0 ? this.seq + 1 : (this.history[this.head] as StoredEvent).seq;
		if (last < oldest - 1) return { ok: false, reason: "evicted" };
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
