// The Workers queue's delivery rules (pure logic: the handler is a plain function here; the
// workerd tests run it with the real receiver, store and hub).
import { describe, expect, it } from "vitest";
import type { StatusChange } from "../../src/domain/order.js";
import { InIsolateStatusQueue } from "../../src/queue/in-isolate.js";
import { QueueUnavailableError, type Settlement } from "../../src/queue/port.js";

const change = (messageId: string): StatusChange => ({
	orderId: "o1",
	status: "Shipped",
	messageId,
	occurredAt: "2026-11-25T10:00:00.000Z",
});

/** `answers`: what the handler says to each delivery in turn, or per message. */
function queueWith(answers: Settlement[] | ((messageId: string) => Settlement), maxDeliveryCount = 3) {
	const deferred: Promise<unknown>[] = [];
	const deliveries: number[] = [];
	const queue = new InIsolateStatusQueue({
		defer: (work) => deferred.push(work),
		maxDeliveryCount,
		retryDelayMs: 5,
	});
	queue.start(async (message) => {
		deliveries.push(message.deliveryCount);
		if (typeof answers === "function") return answers(message.messageId);
		return answers.shift() ?? { kind: "complete" };
	});
	return { queue, deferred, deliveries, settled: () => Promise.all(deferred) };
}

describe("InIsolateStatusQueue", () => {
	it("hands each delivery to defer and redelivers an abandoned message until it completes", async () => {
		const t = queueWith([
			{ kind: "abandon", reason: "storage down" },
			{ kind: "abandon", reason: "storage down" },
		]);
		await t.queue.send(change("m1"));
		expect(t.deferred).toHaveLength(1);
		await t.settled();
		expect(t.deliveries).toEqual([1, 2, 3]);
		expect(t.queue.deadLetters).toEqual([]);
	});

	it("dead-letters after maxDeliveryCount, and at once when the handler says so", async () => {
		const t = queueWith(
			(id): Settlement =>
				id === "m1"
					? { kind: "abandon", reason: "storage down" }
					: { kind: "dead-letter", reason: "OrderNotFound", description: "No order o1" },
			3,
		);
		await t.queue.send(change("m1"));
		await t.queue.send(change("m2"));
		await t.settled();
		expect(t.queue.deadLetters.map((d) => [d.messageId, d.reason, d.deliveryCount])).toEqual([
			["m2", "OrderNotFound", 1],
			["m1", "MaxDeliveryCountExceeded", 3],
		]);
	});

	it("drops a duplicate messageId, and refuses messages once closed", async () => {
		const t = queueWith([]);
		await t.queue.send(change("m1"));
		await t.queue.send(change("m1"));
		await t.settled();
		expect(t.deliveries).toEqual([1]);
		await t.queue.close();
		await expect(t.queue.send(change("m2"))).rejects.toBeInstanceOf(QueueUnavailableError);
		await expect(t.queue.ping()).rejects.toBeInstanceOf(QueueUnavailableError);
	});
});
