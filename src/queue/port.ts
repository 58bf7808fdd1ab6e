import type { StatusChange } from "../domain/order.js";
import type { ReceiverState } from "../observability/metrics.js";
import { type UnavailableReason, unavailableReasonOf } from "../unavailable.js";

/** A message as the receiver loop sees it, whoever produced it. */
export interface ReceivedStatusMessage {
	messageId: string;
	/** A parsed JSON object, or a string (JSON text or the original's `Order:{id},Status:{status}`). */
	body: unknown;
	deliveryCount: number;
	/**
	 * The message's application properties: where the change came from (`requestId`) and the trace
	 * it belongs to (`traceparent`, or `Diagnostic-Id` as the Azure SDKs write it).
	 */
	properties?: Record<string, unknown>;
	/** When the queue took the message (ms since the epoch), for the queue lag metric. */
	enqueuedAt?: number;
}

export type Settlement =
	| { kind: "complete" }
	/** Transient failure: put it back to be retried. */
	| { kind: "abandon"; reason: string }
	/** Can never apply: set aside with a reason. */
	| { kind: "dead-letter"; reason: string; description: string };

export type StatusMessageHandler = (message: ReceivedStatusMessage) => Promise<Settlement>;

/** The single inbox of status changes. Adapters: in-process, Azure Service Bus. */
export interface StatusQueue {
	/** Short name for logs and health: "in-process", "service-bus". */
	readonly kind: string;
	/** Throws QueueUnavailableError when the message could not be durably handed to the queue. */
	send(change: StatusChange): Promise<void>;
	/** Starts the receiver loop; each message is settled according to what the handler answers. */
	start(handler: StatusMessageHandler): void;
	/** Throws QueueUnavailableError when the queue cannot be reached. */
	ping(): Promise<void>;
	/** Stops receiving and returns once in-flight messages are settled. Idempotent. */
	close(): Promise<void>;
	/** Counters for operators (readiness detail), where the adapter keeps any. */
	stats?(): QueueStats;
	/** Whether the receiver loop is receiving, reconnecting after an error, or stopped. */
	receiverState?(): ReceiverState;
}

export interface QueueStats {
	/** Messages dead-lettered since start. */
	deadLettered: number;
	/** Of those, how many are kept in memory for inspection. */
	deadLettersKept: number;
}

export class QueueUnavailableError extends Error {
	readonly reason: UnavailableReason;
	constructor(message: string, options?: { cause?: unknown; reason?: UnavailableReason }) {
		super(message, options);
		this.name = "QueueUnavailableError";
		this.reason = options?.reason ?? unavailableReasonOf(options?.cause);
	}
}

/** The message's subject (`Label` over REST), as the AMQP and REST senders both set it. */
export const STATUS_MESSAGE_SUBJECT = "OrderStatusChanged";

/** The JSON body we put on the queue (other producers may send the same shape, or the legacy string). */
export function statusMessageBody(change: StatusChange): Record<string, unknown> {
	return {
		orderId: change.orderId,
		status: change.status,
		occurredAt: change.occurredAt,
		...(change.source ? { source: change.source } : {}),
	};
}
