// The default StatusQueue when no Service Bus is configured: a FIFO in this process with
// Service Bus semantics that matter to the loop (peek-lock style settle, redelivery with a
// delivery count, dead-letter after maxDeliveryCount, duplicate detection by messageId).
// Not durable across a crash: on a graceful stop it drains what it holds first.

import { withDeadline } from "../deadline.js";
import type { StatusChange } from "../domain/order.js";
import { messageLogContext } from "../observability/context.js";
import { type Logger, silentLogger } from "../observability/log.js";
import type { ReceiverState } from "../observability/metrics.js";
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

export interface InProcessQueueOptions extends InMemoryQueueOptions {
	/** How long close() keeps draining queued messages before giving up. */
	drainTimeoutMs?: number;
}

export class InProcessStatusQueue implements StatusQueue {
	readonly kind = "in-process";
	private readonly deadLetterShelf: DeadLetterShelf;
	private readonly pending: ReceivedStatusMessage[] = [];
	private readonly recentIds: RecentMessageIds;
	private handler?: StatusMessageHandler;
	private running = false;
	private closed = false;
	private wake?: () => void;
	private loop?: Promise<void>;
	private readonly timers = new Set<ReturnType<typeof setTimeout>>();
	private readonly opts: Required<Omit<InProcessQueueOptions, "log" | "deadLettersKept" | "metrics">>;
	private readonly log: Logger;

	constructor(options: InProcessQueueOptions = {}) {
		this.opts = {
			maxDeliveryCount: options.maxDeliveryCount ?? 10,
			retryDelayMs: options.retryDelayMs ?? 100,
			drainTimeoutMs: options.drainTimeoutMs ?? 5000,
			duplicateWindow: options.duplicateWindow ?? 10_000,
		};
		this.log = options.log ?? silentLogger;
		this.recentIds = new RecentMessageIds(this.opts.duplicateWindow);
		this.deadLetterShelf = new DeadLetterShelf(options.deadLettersKept ?? 1000, options.metrics);
	}

	async send(change: StatusChange): Promise<void> {
		this.enqueue({
			messageId: change.messageId,
			body: statusMessageBody(change),
			deliveryCount: 0,
			properties: originProperties(),
			enqueuedAt: Date.now(),
		});
	}

	/** What another producer would do: put any body on the queue (JSON object or string). */
	sendRaw(messageId: string, body: unknown, properties?: Record<string, unknown>): void {
		this.enqueue({
			messageId,
			body,
			deliveryCount: 0,
			enqueuedAt: Date.now(),
			...(properties ? { properties } : {}),
		});
	}

	private enqueue(message: ReceivedStatusMessage): void {
		if (this.closed) throw new QueueUnavailableError("the status queue is shutting down");
		if (this.recentIds.seenBefore(message.messageId)) return; // duplicate detection, as Service Bus offers
		this.pending.push(message);
		this.wake?.();
	}

	receiverState(): ReceiverState {
		return this.handler && !this.closed ? "receiving" : "stopped";
	}

	start(handler: StatusMessageHandler): void {
		if (this.running) throw new Error("receiver already started");
		this.handler = handler;
		this.running = true;
		this.loop = this.run();
	}

	private async run(): Promise<void> {
		while (this.running) {
			const message = this.pending.shift();
			if (!message) {
				if (this.closed && this.timers.size === 0) return;
				await new Promise<void>((resolve) => {
					this.wake = resolve;
				});
				this.wake = undefined;
				continue;
			}
			await this.deliver(message);
		}
	}

	private async deliver(message: ReceivedStatusMessage): Promise<void> {
		const next = await deliverOnce(this.handler as StatusMessageHandler, message, this.opts);
		if (next.kind === "dead-letter") {
			this.log.warn(
				`dead-lettered ${next.letter.messageId}: ${next.letter.reason} — ${next.letter.description}`,
				messageLogContext(message.messageId, message.properties),
			);
			this.deadLetterShelf.add(next.letter);
		} else if (next.kind === "retry") {
			const timer = setTimeout(() => {
				this.timers.delete(timer);
				this.pending.unshift(next.message);
				this.wake?.();
			}, next.delayMs);
			this.timers.add(timer);
		}
	}

	/** The newest dead letters, oldest first (at most `deadLettersKept`). */
	get deadLetters(): readonly DeadLetter[] {
		return this.deadLetterShelf.letters;
	}

	stats(): QueueStats {
		return this.deadLetterShelf.stats();
	}

	async ping(): Promise<void> {
		if (this.closed) throw new QueueUnavailableError("the status queue is shutting down");
	}

	/** Refuses new messages, then keeps delivering what it holds for up to drainTimeoutMs. */
	async close(): Promise<void> {
		if (!this.closed) {
			this.closed = true;
			this.wake?.();
		}
		if (!this.loop) return;
		const outcome = await withDeadline(
			this.opts.drainTimeoutMs,
			"draining",
			() => this.loop as Promise<void>,
		).then(
			() => "drained" as const,
			() => "timeout" as const,
		);
		if (outcome === "timeout") {
			this.running = false;
			for (const t of this.timers) clearTimeout(t);
			this.timers.clear();
			this.wake?.();
			await this.loop; // the message in hand settles (storage calls are bounded by their timeouts)
			this.log.warn(`status queue closed with ${this.pending.length} undelivered message(s)`);
		}
	}
}
