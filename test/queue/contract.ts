// The StatusQueue port's contract: what the receiver loop relies on, whichever queue carries the
// messages. test/queue/adapters.test.ts runs it against every adapter.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { StatusChange } from "../../src/domain/order.js";
import {
	QueueUnavailableError,
	type ReceivedStatusMessage,
	type Settlement,
	type StatusQueue,
} from "../../src/queue/port.js";
import { parseStatusMessage } from "../../src/queue/receiver.js";

/** A fresh, empty queue; `dispose` ends whatever it runs on (close() may have been called). */
export type MakeQueue = () => Promise<{ queue: StatusQueue; dispose(): Promise<void> }>;

let counter = 0;
const change = (status: StatusChange["status"] = "Shipped"): StatusChange => ({
	orderId: `order-${++counter}`,
	status,
	messageId: `message-${counter}`,
	occurredAt: "2026-11-25T10:00:00.000Z",
	source: "api",
});

/**
 * `deadLetters: false` for an adapter that cannot set a message aside (Service Bus over REST has no
 * dead-letter operation): its own tests check what it does instead.
 */
export function describeStatusQueueContract(
	name: string,
	makeQueue: MakeQueue,
	capabilities: { deadLetters: boolean } = { deadLetters: true },
): void {
	describe(`StatusQueue contract: ${name}`, () => {
		let dispose: (() => Promise<void>) | undefined;
		afterEach(async () => {
			await dispose?.();
			dispose = undefined;
		});

		/** Starts the queue's receiver with `answer` deciding each settlement; records deliveries. */
		async function started(answer: (m: ReceivedStatusMessage) => Settlement = () => ({ kind: "complete" })) {
			const made = await makeQueue();
			dispose = made.dispose;
			const deliveries: ReceivedStatusMessage[] = [];
			made.queue.start(async (m) => {
				deliveries.push(m);
				return answer(m);
			});
			return { queue: made.queue, deliveries };
		}

		it("delivers what was sent, with its messageId and a body that parses back to the change", async () => {
			const { queue, deliveries } = await started();
			const sent = change();
			await queue.send(sent);
			await vi.waitFor(() => expect(deliveries).toHaveLength(1), { timeout: 5000 });
			const [delivered] = deliveries as [ReceivedStatusMessage];
			expect(delivered.messageId).toBe(sent.messageId);
			expect(delivered.deliveryCount).toBe(1);
			expect(parseStatusMessage(delivered)).toEqual({ ok: true, change: sent });
			await expect(queue.ping()).resolves.toBeUndefined();
		});

		it("redelivers an abandoned message with a higher delivery count, until it completes", async () => {
			const { queue, deliveries } = await started((m) =>
				m.deliveryCount < 2 ? { kind: "abandon", reason: "storage down" } : { kind: "complete" },
			);
			const sent = change();
			await queue.send(sent);
			await vi.waitFor(() => expect(deliveries).toHaveLength(2), { timeout: 8000 });
			expect(deliveries.map((d) => [d.messageId, d.deliveryCount])).toEqual([
				[sent.messageId, 1],
				[sent.messageId, 2],
			]);
			await new Promise((resolve) => setTimeout(resolve, 300));
			expect(deliveries).toHaveLength(2);
		});

		// Registered only where the adapter can dead-letter (see describeStatusQueueContract).
		if (capabilities.deadLetters)
			it("does not deliver a dead-lettered message again", async () => {
				const { queue, deliveries } = await started(() => ({
					kind: "dead-letter",
					reason: "OrderNotFound",
					description: "no such order",
				}));
				await queue.send(change());
				await vi.waitFor(() => expect(deliveries).toHaveLength(1), { timeout: 5000 });
				await new Promise((resolve) => setTimeout(resolve, 500));
				expect(deliveries).toHaveLength(1);
			});

		it("refuses to send once closed, and reports itself unavailable", async () => {
			const { queue } = await started();
			await queue.close();
			await expect(queue.send(change())).rejects.toBeInstanceOf(QueueUnavailableError);
			await expect(queue.ping()).rejects.toBeInstanceOf(QueueUnavailableError);
			await queue.close(); // idempotent
		});
	});
}
