// The test broker itself (test infrastructure), through the unmodified SDK: the behaviours the
// adapter's tests rely on but do not show directly.
import { ServiceBusClient } from "@azure/service-bus";
import { afterEach, describe, expect, it } from "vitest";
import { TestServiceBusBroker } from "../support/service-bus-broker.js";

let broker: TestServiceBusBroker | undefined;
let client: ServiceBusClient | undefined;
afterEach(async () => {
	await client?.close();
	await broker?.close();
});

describe("test Service Bus broker", () => {
	it("redelivers a message whose lock expired, with a higher delivery count", async () => {
		broker = await TestServiceBusBroker.start({ lockDurationMs: 400 });
		client = new ServiceBusClient(broker.connectionString, { retryOptions: { retryDelayInMs: 200 } });
		await client.createSender("q").sendMessages({ body: "x", messageId: "m1" });
		const receiver = client.createReceiver("q", { maxAutoLockRenewalDurationInMs: 0 });
		const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
		expect(first?.deliveryCount).toBe(0);
		await new Promise((r) => setTimeout(r, 700)); // not settled: the lock runs out
		const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
		expect(again?.messageId).toBe("m1");
		expect(again?.deliveryCount).toBe(1);
		await expect(receiver.completeMessage(first as NonNullable<typeof first>)).rejects.toThrow();
		await receiver.completeMessage(again as NonNullable<typeof again>);
		expect(broker.pendingCount("q")).toBe(0);
	});

	it("dead-letters after the max delivery count and serves peek and renew-lock", async () => {
		broker = await TestServiceBusBroker.start({ maxDeliveryCount: 2 });
		client = new ServiceBusClient(broker.connectionString, { retryOptions: { retryDelayInMs: 200 } });
		await client.createSender("q").sendMessages([
			{ body: { n: 1 }, messageId: "a" },
			{ body: { n: 2 }, messageId: "b" },
		]);
		const receiver = client.createReceiver("q", { maxAutoLockRenewalDurationInMs: 0 });
		expect((await receiver.peekMessages(5)).map((m) => m.messageId)).toEqual(["a", "b"]);
		const [a] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
		const before = a?.lockedUntilUtc?.getTime() ?? 0;
		await new Promise((r) => setTimeout(r, 20));
		const renewed = await receiver.renewMessageLock(a as NonNullable<typeof a>);
		expect(renewed.getTime()).toBeGreaterThan(before);
		await receiver.abandonMessage(a as NonNullable<typeof a>);
		const [a2] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
		expect(a2?.messageId).toBe("a");
		await receiver.abandonMessage(a2 as NonNullable<typeof a2>); // second delivery: dead-lettered
		const dlq = client.createReceiver("q", { subQueueType: "deadLetter" });
		const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
		expect(dead).toMatchObject({ messageId: "a", deadLetterReason: "MaxDeliveryCountExceeded" });
	});

	it("hands the messages of one subscription to its competing receivers in turn (instances sharing it)", async () => {
		broker = await TestServiceBusBroker.start();
		broker.createSubscription("t", "shared");
		client = new ServiceBusClient(broker.connectionString, { retryOptions: { retryDelayInMs: 200 } });
		const got: string[][] = [[], [], []];
		const subscriptions = got.map((mine) =>
			(client as ServiceBusClient).createReceiver("t", "shared").subscribe(
				{
					processMessage: async (m) => {
						mine.push(String(m.messageId));
					},
					processError: async () => {},
				},
				{ maxConcurrentCalls: 8 },
			),
		);
		// Every receiver has attached and granted credit before anything is sent.
		await expect.poll(() => broker?.entity("t/Subscriptions/shared").receivers.size).toBe(3);
		const sender = client.createSender("t");
		for (let i = 0; i < 30; i++) await sender.sendMessages({ body: i, messageId: `m${i}` });
		await expect.poll(() => got.flat().length, { timeout: 5000 }).toBe(30);
		expect(new Set(got.flat()).size).toBe(30); // each message to one receiver
		for (const mine of got) expect(mine.length).toBeGreaterThanOrEqual(5); // each got a share
		await Promise.all(subscriptions.map((s) => s.close()));
	});
});
