// The event log and the feed: how an event committed on one instance reaches the hubs of all.
//
//   commit (order + outbox row) -> publisher: claim, append to the EventLog (a global position),
//   send on the EventFeed -> every instance's sequencer -> its hub, in position order.
//
// The log is the stream: gapless, durable, the same positions for every instance, and what a
// reconnecting client replays from. The feed only makes delivery fast; a hub that misses a feed
// message reads the log (see src/hub/sequencer.ts).
import type { OrderEvent } from "../domain/events.js";

/** An event at its position in the log. */
export interface LoggedEvent {
	seq: number;
	event: OrderEvent;
	/** The log's epoch, on the feed: a hub drops positions of another log (a shared or old topic). */
	epoch?: string;
	/** The trace of the change that made it (W3C traceparent), on the feed when tracing. */
	traceparent?: string;
}

export interface EventLog {
	/** Names this log; a different epoch means the positions of an earlier log mean nothing here. */
	epoch(): Promise<string>;
	/**
	 * Writes `event` at the next free position and answers it. Positions are taken by creating them,
	 * so the log has no gaps: every position below an existing one exists (or was purged).
	 * `validUntil` (ms since the epoch) fences the write: when the caller's claim on the event would
	 * run out before the write's deadline, it is refused with ClaimExpiredError and nothing is written
	 * (another instance may take the event over once the claim ends: a late copy would land after
	 * newer versions of the order).
	 */
	append(event: OrderEvent, validUntil?: number): Promise<number>;
	/** Up to `limit` events after position `after`, oldest first. */
	read(after: number, limit: number): Promise<LoggedEvent[]>;
	/** The newest position (0 for an empty log). */
	head(): Promise<number>;
	/** The oldest position still kept; replay from before it is impossible. */
	firstRetained(): Promise<number>;
	/**
	 * The log's epoch and first kept position as storage has them now (read, not remembered). A
	 * different epoch than before means the log was recreated: this handle adopts it, and its
	 * appends aim at the new log's positions.
	 */
	state(): Promise<{ epoch: string; firstRetained: number }>;
	/** Deletes events logged more than `retentionMs` ago; answers how many. */
	purge(retentionMs: number): Promise<number>;
	/** A position known to exist (seen on the feed): the next append aims past it. */
	observe(seq: number): void;
	/** Throws when the log cannot be reached (readiness). */
	ping(): Promise<void>;
	/**
	 * A random secret made once and the same for every instance that shares this log (SignalR
	 * connection tokens are signed with it, so any instance can check what another issued).
	 */
	sharedSecret(): Promise<string>;
}

/**
 * A message for every instance that is not an order event: a SignalR client's request handled by
 * one instance for a stream another holds (src/hub/signalr.ts). Plain JSON; receivers check it.
 */
export type ControlMessage = Record<string, unknown>;

/** Carries logged events to every instance (one Service Bus topic subscription each, or in-process). */
export interface EventFeed {
	/** "in-process" or "service-bus-topic", for logs and readiness. */
	readonly kind: string;
	send(logged: LoggedEvent): Promise<void>;
	/** Sends a control message to every instance (this one included); not logged, not retried. */
	sendControl(message: ControlMessage): Promise<void>;
	/**
	 * Starts delivering what arrives (in any order, possibly twice) to `onEvent`, and control
	 * messages to `onControl`.
	 */
	start(onEvent: (logged: LoggedEvent) => void, onControl?: (message: ControlMessage) => void): void;
	ping(): Promise<void>;
	close(): Promise<void>;
}

/**
 * Control messages kept a short while in the event log's storage, for the instances a feed does
 * not reach (a shared subscription hands each message to one receiver; without a topic the feed
 * reaches no other instance): src/events/control.ts reads it only then.
 */
export interface ControlBoard {
	/** Keeps `message` for the others to read (under `id`, unique per message). */
	post(id: string, message: ControlMessage): Promise<void>;
	/** The messages posted in the last `withinMs` (by the poster's clock), oldest first. */
	recent(withinMs: number): Promise<{ id: string; message: ControlMessage }[]>;
	/** Removes messages posted more than `olderThanMs` ago; answers how many. */
	removeOld(olderThanMs: number): Promise<number>;
}

/** An append refused because the caller's claim on the event would run out while it is written. */
export class ClaimExpiredError extends Error {
	constructor(message = "the claim on this event runs out before it could be logged") {
		super(message);
		this.name = "ClaimExpiredError";
	}
}

/** How far apart positions are stored per partition (Azure) and read per request. */
export const LOG_PAGE = 1000;
