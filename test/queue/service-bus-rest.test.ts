// The Service Bus REST sender and receiver on Node against the local REST broker (which verifies
// every SAS token): the same code the Worker and its hub object run.
import { createServer } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StatusChange } from "../../src/domain/order.js";
import { OrderHub } from "../../src/hub/hub.js";
import { QueueUnavailableError } from "../../src/queue/port.js";
import { createStatusMessageHandler, parseStatusMessage } from "../../src/queue/receiver.js";
import {
	createSasToken,
	parseServiceBusConnectionString,
	ServiceBusRestEntity,
	ServiceBusRestQueue,
} from "../../src/queue/service-bus-rest.js";
import { type LockedRestMessage, ServiceBusRestReceiver } from "../../src/queue/service-bus-rest-receiver.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";
import { linesLogger } from "../support/log.js";
import { type RestBroker, startRestBroker } from "../support/service-bus-rest-broker.js";

const change = (messageId: string): StatusChange => ({
	orderId: "order-1",
	status: "Shipped",
	messageId,
	occurredAt: "2026-11-25T10:00:00.000Z",
	source: "api",
});

let broker: RestBroker;
beforeEach(async () => {
	broker = await startRestBroker();
});
afterEach(async () => {
	await broker.close();
});

describe("ServiceBusRestQueue", () => {
	it("posts the JSON body with the MessageId, signed; the Node receiver parses what it sent", async () => {
		const queue = new ServiceBusRestQueue({
			connectionString: broker.connectionString(),
			queueName: "orders",
		});
		await queue.send(change("m-1"));
		await queue.send(change("m-2"));
		expect(broker.refusals).toEqual([]);
		expect(broker.messages.map((m) => [m.queue, m.messageId, m.label, m.contentType])).toEqual([
			["orders", "m-1", "OrderStatusChanged", "application/json"],
			["orders", "m-2", "OrderStatusChanged", "application/json"],
		]);
		const received = { messageId: "m-1", body: broker.messages[0]?.body, deliveryCount: 1 };
		expect(parseStatusMessage(received)).toEqual({ ok: true, change: change("m-1") });
		await expect(queue.ping()).resolves.toBeUndefined();
	});

	it("is refused with a wrong key or an expired token, and reports itself unavailable", async () => {
		const wrong = new ServiceBusRestQueue({
			connectionString: broker.connectionString("bm90LXRoZS1rZXk="),
			queueName: "orders",
		});
		await expect(wrong.send(change("m-1"))).rejects.toThrow(/Service Bus answered 401/);
		expect(broker.refusals).toEqual(["signature does not match"]);
		await expect(wrong.ping()).rejects.toBeInstanceOf(QueueUnavailableError);

		const expired = await createSasToken(`${broker.baseUrl}/orders`, "sender", "c2VjcmV0LWtleQ==", 1000);
		const stale = new ServiceBusRestQueue({
			connectionString: `Endpoint=sb://${new URL(broker.baseUrl).host}/;SharedAccessSignature=${expired};UseDevelopmentEmulator=true`,
			queueName: "orders",
		});
		await expect(stale.send(change("m-2"))).rejects.toThrow(/401/);
		expect(broker.refusals.at(-1)).toBe("token expired");
		expect(broker.messages).toEqual([]);
	});

	it("retries one transient failure, and gives up on a second", async () => {
		const queue = new ServiceBusRestQueue({
			connectionString: broker.connectionString(),
			queueName: "orders",
		});
		broker.failNext(503);
		await queue.send(change("m-1"));
		expect(broker.messages).toHaveLength(1);
		broker.failNext(500, 2);
		await expect(queue.send(change("m-2"))).rejects.toThrow(/answered 500/);
		expect(broker.messages).toHaveLength(1);
	});

	it("gives up within the send timeout when the endpoint never answers", async () => {
		const silent = createServer(() => {}); // accepts and never responds
		await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
		const { port } = silent.address() as { port: number };
		const queue = new ServiceBusRestQueue({
			connectionString: `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true`,
			queueName: "orders",
			sendTimeoutMs: 500,
		});
		const started = Date.now();
		await expect(queue.send(change("m-1"))).rejects.toThrow(/no answer from Service Bus within 500 ms/);
		expect(Date.now() - started).toBeLessThan(1500);
		silent.closeAllConnections();
		silent.close();
	});

	it("parses connection strings: https for Azure, http for the emulator, EntityPath, clear errors", () => {
		expect(
			parseServiceBusConnectionString(
				"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=;EntityPath=q1",
			),
		).toEqual({
			baseUrl: "https://ns.servicebus.windows.net",
			keyName: "send",
			key: "abc=",
			entityPath: "q1",
		});
		expect(
			parseServiceBusConnectionString(
				"Endpoint=sb://localhost:5672;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=true",
			).baseUrl,
		).toBe("http://localhost:5672");
		expect(() => parseServiceBusConnectionString("SharedAccessKeyName=a;SharedAccessKey=b")).toThrow(
			/no Endpoint/,
		);
		expect(() => parseServiceBusConnectionString("Endpoint=sb://ns/;SharedAccessKeyName=a")).toThrow(
			/SharedAccessKey/,
		);
	});
});

describe("ServiceBusRestReceiver (peek-lock over REST)", () => {
	async function setup(lockMs?: number) {
		await broker.close();
		broker = await startRestBroker(lockMs ? { lockMs } : {});
		const store = new MemoryOrderStore();
		const events = new OrderHub(); // what the hub object publishes into
		const handler = createStatusMessageHandler({ store, events });
		const entity = new ServiceBusRestEntity(broker.connectionString(), "orders");
		const logs: string[] = [];
		const receiver = new ServiceBusRestReceiver(
			entity,
			linesLogger((line) => logs.push(line)),
		);
		const sender = new ServiceBusRestQueue({
			connectionString: broker.connectionString(),
			queueName: "orders",
		});
		const created = await store.create({ partitionKey: "Orders", customerName: "A", productName: "B" });
		if (created.kind !== "created") throw new Error("not created");
		const order = created.order;
		return { store, events, handler, receiver, sender, order, logs };
	}

	it("applies what it receives, completes it, and publishes once even when a message comes twice", async () => {
		const t = await setup();
		await t.sender.send({ ...change("m-1"), orderId: t.order.orderId, status: "Processing" });
		await t.sender.send({ ...change("m-1"), orderId: t.order.orderId, status: "Processing" });
		expect(await t.receiver.run(t.handler, { budgetMs: 1200, waitSeconds: 1 })).toBe(2);
		expect((await t.store.get(t.order.orderId))?.status).toBe("Processing");
		expect(t.events.stats().published).toBe(1); // the redelivery republishes; the hub drops it by messageId
		expect(broker.pending()).toBe(0);
		expect(broker.refusals).toEqual([]);
	});

	it("unlocks what can never apply until the queue dead-letters it, logging the real reason", async () => {
		const t = await setup();
		await t.sender.send({ ...change("m-lost"), orderId: "no-such-order" });
		await t.receiver.run(t.handler, { budgetMs: 1500, waitSeconds: 1 });
		expect(broker.deadLetters).toEqual([{ messageId: "m-lost", reason: "MaxDeliveryCountExceeded" }]);
		expect(t.logs[0]).toMatch(/m-lost can never apply \(OrderNotFound: No order no-such-order\)/);
		expect(broker.pending()).toBe(0);
	});

	it("survives a lost lock: the late settle is ignored, the redelivery applies nothing twice", async () => {
		const t = await setup(200);
		await t.sender.send({ ...change("m-slow"), orderId: t.order.orderId, status: "Shipped" });
		const first = await t.receiver.receive(1);
		await new Promise((resolve) => setTimeout(resolve, 300)); // the lock expires meanwhile
		await t.receiver.settle(first as LockedRestMessage, await t.handler(first as LockedRestMessage));
		expect(broker.pending()).toBe(1);
		const again = (await t.receiver.receive(1)) as LockedRestMessage;
		expect(again.deliveryCount).toBe(2);
		await t.receiver.settle(again, await t.handler(again));
		expect(broker.pending()).toBe(0);
		expect(await t.store.history(t.order.orderId)).toHaveLength(2);
	});

	it("throws when the broker cannot be reached, so the caller retries the round later", async () => {
		const t = await setup();
		await broker.close();
		await expect(t.receiver.run(t.handler, { budgetMs: 500, waitSeconds: 1 })).rejects.toThrow();
	});
});
