// The order event hub: fans events out to SSE subscribers, keeps a bounded history for replay,
// and never lets one slow subscriber hold memory or the others. Runtime-neutral.
//
// Event ids are `<epoch>-<seq>`. Alone (no event log), the epoch is random per hub (per process
// start), so an id from an earlier run or another instance is answered with `event: reset`. Fed
// from the event log (src/hub/sequencer.ts), the epoch is the log's and seq its position: the same
// ids on every instance and across restarts, and a replay reads what memory no longer holds from
// the log.
import { SpanKind } from "@opentelemetry/api";
import type { OrderEvent, OrderEvents } from "../domain/events.js";
import type { EventLog, LoggedEvent } from "../events/port.js";
import { type DisconnectReason, type Metrics, noMetrics } from "../observability/metrics.js";
import { contextOfMessage, recordSpan } from "../observability/tracing.js";
import { BoundedMap } from "../util/bounded-map.js";
import { RateBudget } from "../util/rate-budget.js";
import { Coalescer } from "./coalescer.js";
import { ReplayHistory } from "./history.js";
import { MAX_REPLAY, REPLAY_LOOKBACK, replayFromLog } from "./log-replay.js";
import { closeFrame, HANDSHAKE_OK, PING, signalRBytesOf } from "./signalr-protocol.js";
import { concat, type StoredEvent, toSseEvent } from "./sse-event.js";
import { StaleFilter } from "./stale-filter.js";

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
	 * hub from spending its CPU in the kernel. 0 writes every event at once. The whole window from
	 * FULL_WINDOW_SUBSCRIBERS subscribers up, proportionally less below (coalesceWindowMs).
	 */
	coalesceMs?: number;
	/** The epoch of event ids: the event log's, or random per hub when there is none. */
	instanceId?: string;
	/** Fed from this event log: positions start after `startSeq`, and old replays read it. */
	eventLog?: EventLog;
	startSeq?: number;
	/** Counts deliveries, replays and disconnects (the subscriber gauge reads subscriberCount). */
	metrics?: Metrics;
	/**
	 * Event log rows one caller's replays may read per minute (Hub:MaxReplayReadsPerMinute); past
	 * it a replay is answered with `reset` (the client refetches). Anyone with Orders.Read may ask for
	 * replays, and the owner filter applies only after the rows are read.
	 */
	maxReplayReadsPerMinute?: number;
}

export interface SubscriberFilter {
	orderIds?: string[];
	partitionKey?: string;
	customerName?: string;
	/** Only this owner's orders (a caller who may read its own orders only). */
	ownerId?: string;
}

/** Where a subscriber's bytes go: a Node response or a web stream. */
export interface SseSink {
	write(chunk: Uint8Array): void;
	/** Bytes written but not yet sent to the client. */
	buffered(): number;
	/** Ends the stream (idempotent); "abort" drops unsent bytes (for a client too slow to read them). */
	close(mode?: "end" | "abort"): void;
}

/**
 * What a subscriber's stream speaks: plain SSE for EventSource (`event:`/`id:` frames, replay), or
 * the SignalR hub protocol over SSE (src/hub/signalr.ts: invocation frames, pings, no replay).
 */
export type SubscriberFormat = "sse" | "signalr";

interface Subscriber {
	sink: SseSink;
	format: SubscriberFormat;
	/** Events up to this sequence number reached it by replay; a pending batch skips them. */
	afterSeq: number;
	/** While a replay is read from the event log: the live events that arrive meanwhile. */
	held?: StoredEvent[];
	orderIds?: Set<string>;
	partitionKey?: string;
	customerName?: string;
	ownerId?: string;
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
const HEARTBEAT = encoder.encode(": heartbeat\n\n");

/** The bytes of `e` in the subscriber's format, each serialised once per event. */
const bytesFor = (s: Subscriber, e: StoredEvent) => (s.format === "signalr" ? signalRBytesOf(e) : e.bytes);
const concatFor = (s: Subscriber, events: StoredEvent[]) => concat(events.map((e) => bytesFor(s, e)));

function randomInstanceId(): string {
	return Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(36).padStart(2, "0")).join(
		"",
	);
}

/** Hub:CoalesceMs's default: the window with FULL_WINDOW_SUBSCRIBERS subscribers or more. */
export const DEFAULT_COALESCE_MS = 50;

/** Subscribers from which the hub holds events for the whole Hub:CoalesceMs window. */
export const FULL_WINDOW_SUBSCRIBERS = 400;

/**
 * The coalescing window for `subscribers`: `coalesceMs` from FULL_WINDOW_SUBSCRIBERS up, in
 * proportion below. A write to a few subscribers costs little, while holding an event costs every
 * subscriber up to the whole window of latency: with 10 subscribers at 100 events a second the full
 * window added about 8 ms to the median (81 against 73 ms). With 1,000 subscribers the writes are
 * what the CPU spends most on, and a 50 ms window beat 25 ms in latency too (docs/performance.md).
 */
export function coalesceWindowMs(coalesceMs: number, subscribers: number): number {
	return coalesceMs * Math.min(1, subscribers / FULL_WINDOW_SUBSCRIBERS);
}

export class OrderHub implements OrderEvents {
	private id: string;
	private readonly opts: Required<
		Omit<HubOptions, "instanceId" | "eventLog" | "startSeq" | "metrics" | "maxReplayReadsPerMinute">
	>;
	private readonly replayBudget: RateBudget;
	private readonly metrics: Metrics;
	private readonly eventLog?: EventLog;
	private readonly subscribers = new Set<Subscriber>();
	private readonly history: ReplayHistory;
	private seq = 0;
	/** Queue message ids of recent updates: a republished update (a redelivery) is dropped. */
	private readonly recentMessageIds: BoundedMap<string, true>;
	private readonly staleFilter = new StaleFilter();
	/**
	 * Positions of the log this hub dropped as outdated (a version of the order at or below one
	 * delivered before): a replay skips them too, however far back the newer version was logged.
	 */
	private readonly stalePositions = new BoundedMap<number, true>(10_000);
	private heartbeat: ReturnType<typeof setInterval> | undefined;
	private readonly coalescer: Coalescer<StoredEvent>;
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
			coalesceMs: options.coalesceMs ?? DEFAULT_COALESCE_MS,
		};
		this.id = options.instanceId ?? randomInstanceId();
		this.history = new ReplayHistory(this.opts.historySize);
		this.recentMessageIds = new BoundedMap(Math.max(this.opts.historySize, 1000));
		this.coalescer = new Coalescer(
			() => coalesceWindowMs(this.opts.coalesceMs, this.subscribers.size),
			(batch) => this.fanOut(batch),
		);
		if (options.eventLog) this.eventLog = options.eventLog;
		this.seq = options.startSeq ?? 0;
		this.metrics = options.metrics ?? noMetrics;
		this.replayBudget = new RateBudget(options.maxReplayReadsPerMinute ?? 20_000);
	}

	/** Names this hub's event ids (the event log's epoch when fed from it). */
	get instanceId(): string {
		return this.id;
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
		return this.heartbeat !== undefined || this.coalescer.scheduled;
	}

	stats(): HubStats {
		return {
			instanceId: this.instanceId,
			subscribers: this.subscribers.size,
			maxSubscribers: this.opts.maxSubscribers,
			historySize: this.history.size,
			historyCapacity: this.opts.historySize,
			newestEventId: this.newestEventId,
			published: this.published,
			slowDisconnects: this.slowDisconnects,
		};
	}

	/** Alone: publishes at the next position of its own. */
	publish(event: OrderEvent): void {
		if (this.eventLog) throw new Error("a hub fed from the event log takes events through deliver()");
		this.deliver({ seq: this.seq + 1, event });
	}

	/**
	 * Fed from the event log: publishes the event at its position (positions only grow; the
	 * sequencer hands them over in order). A repeated or outdated event moves the position on and
	 * reaches nobody.
	 */
	deliver({ seq, event, traceparent }: LoggedEvent): void {
		if (seq <= this.seq && this.eventLog) return;
		// Alone, a republished update (a redelivery) comes with the same message id; fed from the log,
		// the order's version tells a repeat (and one message id may change several orders).
		const repeated =
			!this.eventLog && event.messageId !== undefined && this.recentMessageIds.has(event.messageId);
		if (repeated || this.staleFilter.isStale(event)) {
			if (this.eventLog) {
				this.seq = seq;
				this.stalePositions.set(seq, true);
			}
			return;
		}
		this.seq = seq;
		const stored = this.serialize(seq, event);
		this.history.remember(stored);
		if (stored.messageId !== undefined) this.recentMessageIds.set(stored.messageId, true);
		this.published++;
		this.metrics.eventPublished(event.type);
		this.traceDelivery(stored, traceparent);
		this.coalescer.push(stored);
	}

	/**
	 * A span in the change's trace: the event reached this hub and this many subscribers (counted
	 * only for a sampled trace: it walks every subscriber).
	 */
	private traceDelivery(stored: StoredEvent, traceparent: string | undefined): void {
		// Fed from the log, an event read from the log itself (the feed was slower than a gap read or
		// the tail poll) carries no trace: a span then would be an orphan in a trace of its own.
		if (traceparent === undefined && this.eventLog) return;
		recordSpan(
			"orderhub publish",
			SpanKind.PRODUCER,
			{ "orderhub.event.position": stored.seq, "order.id": stored.orderId },
			traceparent ? contextOfMessage({ traceparent }) : undefined,
			() => {
				let reached = 0;
				for (const s of this.subscribers) if (matches(s, stored)) reached++;
				return { "orderhub.subscribers_reached": reached };
			},
		);
	}

	/** The event as SSE bytes, once: the same bytes go to every subscriber and into the history. */
	private serialize(seq: number, event: OrderEvent): StoredEvent {
		return toSseEvent(`${this.instanceId}-${seq}`, seq, event);
	}

	/** Writes a batch of events: one write per subscriber, the same bytes for all unfiltered ones. */
	private fanOut(batch: StoredEvent[]): void {
		const first = (batch[0] as StoredEvent).seq;
		// The whole batch in each format, made once (SignalR's only when a SignalR client is there).
		const whole: Partial<Record<SubscriberFormat, Uint8Array>> = {};
		const all = (s: Subscriber) => {
			whole[s.format] ??= batch.length === 1 ? bytesFor(s, batch[0] as StoredEvent) : concatFor(s, batch);
			return whole[s.format] as Uint8Array;
		};
		let delivered = 0;
		for (const s of this.subscribers) {
			if (s.held) {
				for (const e of batch) if (e.seq > s.afterSeq && matches(s, e)) s.held.push(e);
				continue;
			}
			if (isUnfiltered(s) && s.afterSeq < first) {
				if (this.send(s, all(s))) delivered += batch.length;
				continue;
			}
			const mine = batch.filter((e) => e.seq > s.afterSeq && matches(s, e));
			if (mine.length === batch.length) {
				if (this.send(s, all(s))) delivered += batch.length;
			} else if (mine.length > 0 && this.send(s, concatFor(s, mine))) delivered += mine.length;
		}
		if (delivered > 0) this.metrics.eventsDelivered(delivered);
	}

	/**
	 * Writes, unless the subscriber still holds more than the bound from earlier writes: then it is
	 * too slow and is cut off (it reconnects and replays). Checked before writing, so one large
	 * batch does not cut off a client that keeps up; memory stays under the bound plus one batch.
	 */
	private send(s: Subscriber, bytes: Uint8Array): boolean {
		if (s.sink.buffered() > this.opts.maxBufferedBytes) {
			this.slowDisconnects++;
			this.unsubscribe(s, "too_slow");
			s.sink.close("abort");
			return false;
		}
		s.sink.write(bytes);
		return true;
	}

	/**
	 * Registers a subscriber: writes the retry hint, replays what it missed since `lastEventId`
	 * (or sends `reset` when that is impossible), then it receives live events. A SignalR
	 * subscriber gets the handshake response instead, and no replay (its protocol has no resume).
	 * Returns the function to call when the stream ends (the client went away, unless told otherwise).
	 */
	subscribe(
		sink: SseSink,
		filter: SubscriberFilter = {},
		lastEventId?: string,
		/** Who is asking (the caller's id, else their address): log replays are charged to them. */
		replayer = "anonymous",
		format: SubscriberFormat = "sse",
	): (reason?: DisconnectReason) => void {
		this.assertCanSubscribe();
		const s: Subscriber = {
			sink,
			format,
			afterSeq: this.seq,
			...(filter.orderIds?.length ? { orderIds: new Set(filter.orderIds) } : {}),
			...(filter.partitionKey !== undefined ? { partitionKey: filter.partitionKey } : {}),
			...(filter.customerName !== undefined ? { customerName: filter.customerName } : {}),
			...(filter.ownerId !== undefined ? { ownerId: filter.ownerId } : {}),
		};
		if (format === "signalr") {
			sink.write(HANDSHAKE_OK);
			this.subscribers.add(s);
			this.startHeartbeat();
			return (reason = "client_gone") => this.unsubscribe(s, reason);
		}
		sink.write(encoder.encode(`retry: ${this.opts.retryMs}\n: connected to ${this.instanceId}\n\n`));
		if (lastEventId !== undefined && lastEventId !== "") {
			const replay = this.eventsAfter(lastEventId);
			if (replay.ok) {
				let replayed = 0;
				for (const e of replay.events) {
					if (!matches(s, e)) continue;
					sink.write(e.bytes);
					replayed++;
				}
				this.metrics.replay("replayed");
				if (replayed > 0) this.metrics.eventsDelivered(replayed);
			} else if (replay.reason === "in-log" || replay.reason === "ahead") {
				// Older than memory holds, or past what this hub has seen yet: the log decides. Live
				// events are held meanwhile and follow the replay.
				const last = Number(/-(\d+)$/.exec(lastEventId.trim())?.[1]);
				// What the replay may read: the positions missed and the look-back before them.
				const reads = Math.min(Math.max(s.afterSeq - last, 0), MAX_REPLAY) + REPLAY_LOOKBACK;
				if (this.replayBudget.take(replayer, reads)) {
					s.held = [];
					void this.replayFromLog(s, last, lastEventId);
				} else {
					this.sendReset(sink, "replay-rate-limited", lastEventId);
				}
			} else {
				this.sendReset(sink, replay.reason, lastEventId);
			}
		}
		this.subscribers.add(s);
		this.startHeartbeat();
		return (reason = "client_gone") => this.unsubscribe(s, reason);
	}

	private sendReset(sink: SseSink, reason: string, lastEventId: string): void {
		this.metrics.replay("reset");
		const data = JSON.stringify({ reason, lastEventId: lastEventId.slice(0, 200) });
		sink.write(encoder.encode(`id: ${this.newestEventId}\nevent: reset\ndata: ${data}\n\n`));
	}

	/**
	 * Replays (last, P] from the event log, P = this hub's position when the client subscribed, then
	 * the live events held since. An event the log holds twice (a publisher stopped between logging
	 * and clearing it) is sent once: the replay reads a little before `last` to know what was sent.
	 */
	private async replayFromLog(s: Subscriber, last: number, lastEventId: string): Promise<void> {
		try {
			const replay = await replayFromLog(
				this.eventLog as EventLog,
				last,
				s.afterSeq,
				(seq, event) => this.serialize(seq, event),
				(e) => matches(s, e) && !this.stalePositions.has(e.seq),
			);
			if (!this.subscribers.has(s)) return;
			if (replay.kind === "reset") this.sendReset(s.sink, replay.reason, lastEventId);
			else if (replay.kind === "ahead") {
				s.afterSeq = last; // nothing missed: this hub had not seen that far yet
				this.metrics.replay("replayed");
			} else {
				this.metrics.replay("replayed");
				if (replay.events.length > 0 && this.send(s, concat(replay.events.map((e) => e.bytes)))) {
					this.metrics.eventsDelivered(replay.events.length);
				}
			}
		} catch {
			// The log cannot be read now: the client refetches instead of missing events silently.
			if (this.subscribers.has(s)) this.sendReset(s.sink, "replay-unavailable", lastEventId);
		}
		// Then what arrived live meanwhile, past what the replay covered.
		const held = s.held ?? [];
		s.held = undefined;
		if (!this.subscribers.has(s)) return;
		const mine = held.filter((e) => e.seq > s.afterSeq);
		if (mine.length > 0 && this.send(s, concat(mine.map((e) => e.bytes))))
			this.metrics.eventsDelivered(mine.length);
		s.afterSeq = Math.max(s.afterSeq, held[held.length - 1]?.seq ?? 0);
	}

	/** Throws HubUnavailableError at the subscriber cap or while shutting down. */
	assertCanSubscribe(): void {
		if (this.closed) throw new HubUnavailableError("The event hub is shutting down; reconnect shortly.");
		if (this.subscribers.size >= this.opts.maxSubscribers) {
			this.refusedOverCap();
			throw new HubUnavailableError(
				`The event hub is at its limit of ${this.opts.maxSubscribers} subscribers; retry shortly.`,
			);
		}
	}

	/** Counts a stream refused at a cap (this hub's, or the route's per caller). */
	refusedOverCap(): void {
		this.metrics.subscriberDisconnected("over_cap");
	}

	private unsubscribe(s: Subscriber, reason: DisconnectReason): void {
		if (!this.subscribers.delete(s)) return;
		this.metrics.subscriberDisconnected(reason);
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
		const oldest = this.history.oldestSeq() ?? this.seq + 1;
		if (last < oldest - 1) return { ok: false, reason: this.eventLog ? "in-log" : "evicted" };
		return { ok: true, events: this.history.after(last) };
	}

	private startHeartbeat(): void {
		if (this.heartbeat !== undefined) return;
		this.heartbeat = setInterval(() => {
			// A SignalR client ignores SSE comments: its keep-alive is a ping message.
			for (const s of this.subscribers) this.send(s, s.format === "signalr" ? PING : HEARTBEAT);
		}, this.opts.heartbeatMs);
		// Never keep a process alive just to send heartbeats.
		(this.heartbeat as { unref?: () => void }).unref?.();
	}

	private stopHeartbeat(): void {
		if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
		this.heartbeat = undefined;
	}

	/**
	 * The event log this hub followed was recreated, or purged past its position: its ids mean
	 * nothing any more. Goes on at `seq` of the log `epoch`, and tells every subscriber to refetch
	 * (`reset` with the new newest id, so the next reconnect resumes from here).
	 */
	restart(epoch: string, seq: number, reason: string): void {
		this.coalescer.flushNow();
		const lastEventId = this.newestEventId;
		this.id = epoch;
		this.seq = seq;
		this.history.clear();
		this.stalePositions.clear();
		for (const s of [...this.subscribers]) {
			s.afterSeq = seq;
			if (s.held) s.held = [];
			if (s.format === "sse") this.sendReset(s.sink, reason, lastEventId);
			else {
				// A SignalR client has no `reset` event, and events it should have had were skipped: it is
				// closed with leave to reconnect, so its onreconnected runs and the frontend refetches.
				this.unsubscribe(s, "reset");
				s.sink.write(SHUTDOWN_CLOSE);
				s.sink.close();
			}
		}
	}

	/** Ends every stream and refuses new subscribers (graceful shutdown). */
	close(): void {
		this.closed = true;
		this.coalescer.flushNow(); // what was published still goes out before the streams end
		for (const s of [...this.subscribers]) {
			this.unsubscribe(s, "shutdown");
			// EventSource reconnects by itself; a SignalR client reconnects when told it may.
			if (s.format === "signalr") s.sink.write(SHUTDOWN_CLOSE);
			s.sink.close();
		}
		this.stopHeartbeat();
	}
}

const SHUTDOWN_CLOSE = closeFrame(true);

const isUnfiltered = (s: Subscriber) =>
	s.orderIds === undefined &&
	s.partitionKey === undefined &&
	s.customerName === undefined &&
	s.ownerId === undefined;

function matches(s: Subscriber, e: StoredEvent): boolean {
	if (s.orderIds !== undefined && !s.orderIds.has(e.orderId)) return false;
	if (s.partitionKey !== undefined && s.partitionKey !== e.partitionKey) return false;
	if (s.customerName !== undefined && s.customerName !== e.customerName) return false;
	if (s.ownerId !== undefined && s.ownerId !== e.ownerId) return false;
	return true;
}
