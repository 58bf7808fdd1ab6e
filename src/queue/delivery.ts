// What the in-memory queues (in-process on Node, in-isolate on Workers) share: duplicate detection
// by messageId and the Service Bus-like rules for what happens after one delivery.

import type { Logger } from "../observability/log.js";
import { type Metrics, noMetrics } from "../observability/metrics.js";
import { BoundedMap } from "../util/bounded-map.js";
import type { QueueStats, ReceivedStatusMessage, StatusMessageHandler } from "./port.js";

export interface DeadLetter {
	messageId: string;
	body: unknown;
	reason: string;
	description: string;
	deliveryCount: number;
}

/**
 * The dead letters an in-memory queue keeps for inspection: the newest `capacity` of them, and a
 * count of all (a process that runs for months must not keep every poison message it ever saw).
 */
/** The dead-letter reason after too many deliveries, as Service Bus names it. */
export const MAX_DELIVERIES_EXCEEDED = "MaxDeliveryCountExceeded";

export class DeadLetterShelf {
	private readonly kept: DeadLetter[] = [];
	private count = 0;
	constructor(
		private readonly capacity: number,
		private readonly metrics: Metrics = noMetrics,
	) {}

	add(letter: DeadLetter): void {
		this.count++;
		// The receiver counts what it dead-letters itself; this one is the queue's own decision.
		if (letter.reason === MAX_DELIVERIES_EXCEEDED) this.metrics.statusChange("dead_lettered", letter.reason);
		this.kept.push(letter);
		if (this.kept.length > this.capacity) this.kept.shift();
	}

	/** The newest dead letters, oldest first. */
	get letters(): readonly DeadLetter[] {
		return this.kept;
	}

	/** Every message dead-lettered since start, kept or not. */
	get total(): number {
		return this.count;
	}

	/** What an in-memory queue reports (readiness detail). */
	stats(): QueueStats {
		return { deadLettered: this.count, deadLettersKept: this.kept.length };
	}
}

/** Options both in-memory queues take. */
export interface InMemoryQueueOptions {
	/** How many dead letters are kept for inspection (the newest). Default 1,000. */
	deadLettersKept?: number;
	maxDeliveryCount?: number;
	/** First redelivery delay after an abandon; doubles up to 5 s. */
	retryDelayMs?: number;
	/** How many recent message ids are remembered for duplicate detection. */
	duplicateWindow?: number;
	log?: Logger;
	/** Counts what the queue dead-letters after too many deliveries. */
	metrics?: Metrics;
}

export interface RedeliveryPolicy {
	maxDeliveryCount: number;
	/** First redelivery delay after an abandon; doubles up to 5 s. */
	retryDelayMs: number;
}

/** The last `capacity` message ids, for Service Bus-style duplicate detection. */
export class RecentMessageIds {
	private readonly ids: BoundedMap<string, true>;
	constructor(capacity: number) {
		this.ids = new BoundedMap(capacity);
	}

	/** True when `id` was seen before; otherwise remembers it. */
	seenBefore(id: string): boolean {
		if (this.ids.has(id)) return true;
		this.ids.set(id, true);
		return false;
	}
}

export type NextStep =
	| { kind: "done" }
	| { kind: "retry"; message: ReceivedStatusMessage; delayMs: number }
	| { kind: "dead-letter"; letter: DeadLetter };

/** Delivers once (counting the delivery) and says what the queue does next. */
export async function deliverOnce(
	handler: StatusMessageHandler,
	message: ReceivedStatusMessage,
	policy: RedeliveryPolicy,
): Promise<NextStep> {
	const delivery = { ...message, deliveryCount: message.deliveryCount + 1 };
	let settlement: Awaited<ReturnType<StatusMessageHandler>>;
	try {
		settlement = await handler(delivery);
	} catch (err) {
		settlement = { kind: "abandon", reason: (err as Error).message };
	}
	const letter = (reason: string, description: string): NextStep => ({
		kind: "dead-letter",
		letter: {
			messageId: delivery.messageId,
			body: delivery.body,
			reason,
			description,
			deliveryCount: delivery.deliveryCount,
		},
	});
	if (settlement.kind === "dead-letter") return letter(settlement.reason, settlement.description);
	if (settlement.kind === "complete") return { kind: "done" };
	if (delivery.deliveryCount >= policy.maxDeliveryCount) {
		return letter(MAX_DELIVERIES_EXCEEDED, settlement.reason);
	}
	const delayMs = Math.min(policy.retryDelayMs * 2 ** (delivery.deliveryCount - 1), 5000);
	return { kind: "retry", message: delivery, delayMs };
}
