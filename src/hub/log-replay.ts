// What a client that resumes after `last` missed, read from the event log up to `upTo` (the hub's
// position when it subscribed): the events, or why they cannot be replayed.
import type { OrderEvent } from "../domain/events.js";
import type { EventLog } from "../events/port.js";
import type { StoredEvent } from "./sse-event.js";

/** How far before the client's position the replay looks, to recognise events logged twice. */
export const REPLAY_LOOKBACK = 200;
/**
 * Most events one replay reads. Further behind, the client refetches (`reset`) instead: a replay
 * is held in memory while it is written, and anyone may ask for one.
 */
export const MAX_REPLAY = 10_000;

export type LogReplay =
	| { kind: "events"; events: StoredEvent[] }
	/** The client saw events this hub has not delivered yet, and the log has them: resume after `last`. */
	| { kind: "ahead" }
	| { kind: "reset"; reason: string };

export async function replayFromLog(
	log: EventLog,
	last: number,
	upTo: number,
	serialize: (seq: number, event: OrderEvent) => StoredEvent,
	matches: (e: StoredEvent) => boolean,
): Promise<LogReplay> {
	if (last > upTo)
		return last > (await log.head()) ? { kind: "reset", reason: "unknown-event-id" } : { kind: "ahead" };
	if (upTo - last > MAX_REPLAY) return { kind: "reset", reason: "too-far-behind" };
	const first = await log.firstRetained();
	if (last + 1 < first) return { kind: "reset", reason: "evicted" };
	// An order's version seen earlier in the log means this event was logged twice (a publisher
	// stopped between logging and clearing it): the client had it.
	const seenVersion = new Map<string, number>();
	const events: StoredEvent[] = [];
	for (let after = Math.max(0, first - 1, last - REPLAY_LOOKBACK); after < upTo; ) {
		const page = await log.read(after, Math.min(1000, upTo - after));
		// The log ends before the position the hub has delivered: purged meanwhile. Nothing is
		// replayed silently short.
		if (page.length === 0) return { kind: "reset", reason: "evicted" };
		for (const { seq, event } of page) {
			if (seq > upTo) break;
			const { orderId } = event.order;
			const version = event.version ?? Number.POSITIVE_INFINITY;
			const repeated = (seenVersion.get(orderId) ?? -1) >= version;
			if (!repeated) seenVersion.set(orderId, version);
			if (seq <= last || repeated) continue;
			const stored = serialize(seq, event);
			if (matches(stored)) events.push(stored);
		}
		after = (page[page.length - 1] as { seq: number }).seq;
	}
	return { kind: "events", events };
}
