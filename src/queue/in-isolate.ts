// The status queue on Cloudflare Workers when no Service Bus is configured (development).
// Workers have no resident loop, so a message is delivered by the request that sent it: the
// delivery is handed to `defer` (the runtime's waitUntil), the response does not wait for it, and
// the isolate keeps running it after the response. Same rules as the in-process queue on Node:
// redelivery with back-off, dead-letter after maxDeliveryCount, duplicate detection by messageId.
// Memory is per isolate and nothing survives an eviction: development only.
import type { StatusChange } from "../domain/order.js";
import { messageLogContext } from "../observability/context.js";
import { type Logger, silentLogger } from "../observability/log.js";
import { originProperties } from "../observability/tracing.js";
import {
	type DeadLetter,
	DeadLetterShelf,
	deliverOnce,
	type InMemoryQueueOptions,
	RecentMessageIds,
} from "./delivery.js";
import {
	type QueueStats,
	QueueUnavailableError,
	type ReceivedStatusMessage,
	type StatusMessageHandler,
	type StatusQueue,
	statusMessageBody,
} from "./port.js";

export interface InIsolateQueueOptions extends InMemoryQueueOptions {
	/** Keeps the delivery running after the response (ExecutionContext.waitUntil). */
	defer: (work: Promise<unknown>) => void;
}

export class InIsolateStatusQueue implements StatusQueue {
	readonly kind = "in-isolate";
	private readonly deadLetterShelf: DeadLetterShelf;
	private handler?: StatusMessageHandler;
	private closed = false;
	private readonly recentIds: RecentMessageIds;
	private readonly policy: { maxDeliveryCount: number; retryDelayMs: number };
	private readonly log: Logger;

	constructor(private readonly options: InIsolateQueueOptions) {
		this.policy = {
			maxDeliveryCount: options.maxDeliveryCount ?? 10,
			retryDelayMs: options.retryDelayMs ?? 100,
		};
		this.recentIds = new RecentMessageIds(options.duplicateWindow ?? 10_000);
		this.deadLetterShelf = new DeadLetterShelf(options.deadLettersKept ?? 1000, options.metrics);
		this.log = options.log ?? silentLogger;
	}

	async send(change: StatusChange): Promise<void> {
		if (this.closed) throw new QueueUnavailableError("the status queue is closed");
		if (!this.handler) throw new QueueUnavailableError("the status queue has no receiver");
		if (this.recentIds.seenBefore(change.messageId)) return;
		const message = {
			messageId: change.messageId,
			body: statusMessageBody(change),
			deliveryCount: 0,
			properties: originProperties(),
			enqueuedAt: Date.now(),
		};
		this.options.defer(this.deliver(this.handler, message));
	}

	private async deliver(handler: StatusMessageHandler, message: ReceivedStatusMessage): Promise<void> {
		let next = await deliverOnce(handler, message, this.policy);
		while (next.kind === "retry") {
			const { delayMs, message: again } = next;
			await new Promise((resolve) => setTimeout(resolve, delayMs));
			next = await deliverOnce(handler, again, this.policy);
		}
		if (next.kind === "dead-letter") {
			this.log.warn(
				`dead-lettered ${next.letter.messageId}: ${next.letter.reason} — ${next.letter.description}`,
				messageLogContext(message.messageId, message.properties),
			);
			this.deadLetterShelf.add(next.letter);
		}
	}

	start(handler: StatusMessageHandler): void {
		if (this.handler) throw new Error("receiver already started");
		this.handler = handler;
	}

	/** The newest dead letters, oldest first (at most `deadLettersKept`). */
	get deadLetters(): readonly DeadLetter[] {
		return this.deadLetterShelf.letters;
	}

	stats(): QueueStats {
		return this.deadLetterShelf.stats();
	}

	async ping(): Promise<void> {
		if (this.closed) throw new QueueUnavailableError("the status queue is closed");
	}

	/** Refuses new messages; deliveries already handed to the runtime finish on their own. */
	async close(): Promise<void> {
		this.closed = true;
	}
}
