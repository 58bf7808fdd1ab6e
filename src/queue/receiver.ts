// The receiver loop's logic, independent of which queue delivers the message:
// parse -> apply to the store (idempotent, ETag-checked) -> publish -> tell the queue how to settle.
import { ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import type { OrderEvents } from "../domain/events.js";
import { keyProblem } from "../domain/keys.js";
import type { StatusChange } from "../domain/order.js";
import { parseStatus } from "../domain/status.js";
import { messageLogContext, withLogContext, withOwnLogContext } from "../observability/context.js";
import { errorFields, type Logger, silentLogger } from "../observability/log.js";
import { type Metrics, noMetrics, type StatusChangeOutcome } from "../observability/metrics.js";
import { contextOfMessage, inSpan } from "../observability/tracing.js";
import { type OrderStore, StoreUnavailableError } from "../storage/port.js";
import { applyStatusChange } from "../usecases/apply-status-change.js";
import type { ReceivedStatusMessage, Settlement, StatusMessageHandler } from "./port.js";

const LEGACY = /^\s*Order:\s*(?<orderId>[^,]+?)\s*,\s*Status:\s*(?<status>\S+?)\s*$/i;

export type ParsedMessage =
	| { ok: true; change: StatusChange }
	| { ok: false; reason: string; description: string };

function propertyCaseInsensitive(obj: Record<string, unknown>, name: string): unknown {
	const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
	return key === undefined ? undefined : obj[key];
}

/** Accepts JSON `{orderId, status, ...}` (any property case) or the original's `Order:{id},Status:{status}`. */
export function parseStatusMessage(message: ReceivedStatusMessage): ParsedMessage {
	let body = message.body;
	if (body instanceof Uint8Array) body = new TextDecoder().decode(body);
	let orderId: unknown;
	let status: unknown;
	let occurredAt: unknown;
	let source: unknown;
	if (typeof body === "string") {
		const text = body;
		const legacy = LEGACY.exec(text);
		if (legacy?.groups) {
			orderId = legacy.groups.orderId;
			status = legacy.groups.status;
			source = "legacy";
		} else {
			try {
				body = JSON.parse(text);
			} catch {
				return {
					ok: false,
					reason: "UnparseableMessage",
					description: `Body is neither JSON nor "Order:{id},Status:{status}": ${text.slice(0, 200)}`,
				};
			}
		}
	}
	if (orderId === undefined) {
		if (typeof body !== "object" || body === null || Array.isArray(body)) {
			return { ok: false, reason: "UnparseableMessage", description: "Body is not a JSON object" };
		}
		const obj = body as Record<string, unknown>;
		orderId = propertyCaseInsensitive(obj, "orderId");
		status = propertyCaseInsensitive(obj, "status");
		occurredAt = propertyCaseInsensitive(obj, "occurredAt");
		source = propertyCaseInsensitive(obj, "source");
	}
	if (typeof orderId !== "string" || keyProblem(orderId) !== undefined) {
		return {
			ok: false,
			reason: "InvalidOrderId",
			description: `orderId is missing or invalid: ${JSON.stringify(orderId) ?? "undefined"}`,
		};
	}
	const parsed = parseStatus(status);
	if (!parsed) {
		return {
			ok: false,
			reason: "UnknownStatus",
			description: `Unknown status ${JSON.stringify(status) ?? "undefined"}`,
		};
	}
	return {
		ok: true,
		change: {
			orderId,
			status: parsed,
			messageId: message.messageId,
			occurredAt: typeof occurredAt === "string" ? occurredAt : new Date().toISOString(),
			...(typeof source === "string" && source ? { source } : { source: "queue" }),
		},
	};
}

export interface ReceiverDeps {
	store: OrderStore;
	events: OrderEvents;
	log?: Logger;
	/**
	 * While storage is unavailable, keep retrying the message in hand for this long before
	 * abandoning it. An abandoned message comes straight back and each delivery counts towards the
	 * queue's max delivery count, so a short storage outage must not burn them. Default 10 s.
	 */
	transientRetryWindowMs?: number;
	/** Aborted on shutdown: stop waiting for storage and abandon at once. */
	signal?: AbortSignal;
	metrics?: Metrics;
	/** The queue's name, for span names. */
	queueName?: string;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve) => {
		const timer = setTimeout(done, ms);
		function done() {
			clearTimeout(timer);
			signal?.removeEventListener("abort", done);
			resolve();
		}
		signal?.addEventListener("abort", done, { once: true });
	});
}

/** What became of a message: how the queue settles it, and what the metrics count. */
interface Handled {
	settlement: Settlement;
	outcome: StatusChangeOutcome;
	metricReason?: string;
}
const deadLetter = (reason: string, description: string): Handled => ({
	settlement: { kind: "dead-letter", reason, description },
	outcome: "dead_lettered",
	metricReason: reason,
});

export function createStatusMessageHandler({
	store,
	events,
	log = silentLogger,
	transientRetryWindowMs = 10_000,
	signal,
	metrics = noMetrics,
	queueName = "status queue",
}: ReceiverDeps): StatusMessageHandler {
	/** Applies, retrying with back-off while storage is unavailable, within the window. */
	async function apply(change: StatusChange) {
		const giveUpAt = Date.now() + transientRetryWindowMs;
		for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
			try {
				return await applyStatusChange(store, change);
			} catch (err) {
				const retry =
					err instanceof StoreUnavailableError && Date.now() + delay <= giveUpAt && !signal?.aborted;
				if (!retry) throw err;
				log.warn(`status message ${change.messageId} waits for storage: ${(err as Error).message}`);
				await pause(delay, signal);
			}
		}
	}

	// Messages for one order are applied one after another, in the order they arrived, even when
	// the queue hands several messages over at once; different orders proceed in parallel.
	const inFlightByOrder = new Map<string, Promise<unknown>>();
	function inOrder<T>(orderId: string, work: () => Promise<T>): Promise<T> {
		const previous = inFlightByOrder.get(orderId) ?? Promise.resolve();
		const next = previous.then(work, work);
		inFlightByOrder.set(orderId, next);
		const forget = () => {
			if (inFlightByOrder.get(orderId) === next) inFlightByOrder.delete(orderId);
		};
		next.then(forget, forget);
		return next;
	}

	// Each message in the context of the request that queued it (its log lines carry its request id)
	// and, when tracing, in a span joined to the sender's trace.
	return (message): Promise<Settlement> => {
		return withOwnLogContext(messageLogContext(message.messageId, message.properties), () =>
			inSpan(
				`process ${queueName}`,
				SpanKind.CONSUMER,
				{ "messaging.operation.type": "process", "messaging.message.id": message.messageId },
				async (span) => {
					const settlement = await receive(message);
					span?.setAttribute("order.settlement", settlement.kind);
					return settlement;
				},
				// A message without a trace starts its own, not whichever was active.
				contextOfMessage(message.properties) ?? ROOT_CONTEXT,
			),
		);
	};

	async function receive(message: ReceivedStatusMessage): Promise<Settlement> {
		const parsed = parseStatusMessage(message);
		if (!parsed.ok) {
			settled("dead_lettered", parsed.reason, { description: parsed.description });
			return { kind: "dead-letter", reason: parsed.reason, description: parsed.description };
		}
		const { orderId, status } = parsed.change;
		return withLogContext({ orderId }, () =>
			inOrder(orderId, async () => {
				const settlement = await handle(message, parsed.change);
				if (settlement.outcome === "applied" && message.enqueuedAt !== undefined) {
					metrics.changeLag((Date.now() - message.enqueuedAt) / 1000);
				}
				settled(settlement.outcome, settlement.metricReason, {
					status,
					deliveryCount: message.deliveryCount,
				});
				return settlement.settlement;
			}),
		);
	}

	/** One line and one count per message taken, whatever became of it. */
	function settled(
		outcome: StatusChangeOutcome,
		reason: string | undefined,
		fields: Record<string, unknown>,
	) {
		metrics.statusChange(outcome, reason);
		const line = { outcome, ...(reason ? { reason } : {}), ...fields };
		if (outcome === "dead_lettered" || outcome === "abandoned") log.warn("status message not applied", line);
		else log.info(`status message ${outcome}`, line);
	}

	async function handle(message: ReceivedStatusMessage, change: StatusChange): Promise<Handled> {
		const complete = (outcome: StatusChangeOutcome): Handled => ({
			settlement: { kind: "complete" },
			outcome,
		});
		try {
			const result = await apply(change);
			switch (result.kind) {
				case "applied":
					events.publish(result.event);
					return complete("applied");
				case "duplicate":
					// Applied before, but we may have stopped before publishing: publish again while it
					// is still the latest state (the hub drops an event it has already sent).
					if (result.order.status === change.status)
						events.publish({ type: "ReceiveOrderUpdate", order: result.order, messageId: change.messageId });
					return complete("duplicate");
				case "noop":
					return complete("noop");
				case "not-found":
					return deadLetter("OrderNotFound", `No order ${change.orderId}`);
				case "rejected":
					return deadLetter("IllegalTransition", result.reason);
			}
		} catch (err) {
			if (err instanceof StoreUnavailableError) {
				log.warn(`status message ${message.messageId} abandoned for a retry: ${err.message}`);
				return {
					settlement: { kind: "abandon", reason: err.message },
					outcome: "abandoned",
					metricReason: "storage",
				};
			}
			// Not an outage: a defect. Said loudly, with its stack; the message goes back to the queue,
			// whose max delivery count dead-letters it if the defect repeats, so it is kept, not lost.
			log.error(
				`DEFECT applying status message ${message.messageId} (delivery ${message.deliveryCount})`,
				errorFields(err, true),
			);
			return {
				settlement: { kind: "abandon", reason: `defect: ${(err as Error)?.message ?? String(err)}` },
				outcome: "abandoned",
				metricReason: "defect",
			};
		}
	}
}
