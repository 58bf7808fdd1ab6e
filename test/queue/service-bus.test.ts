// The Service Bus adapter through the app, with the unmodified @azure/service-bus SDK over real
// AMQP against the test broker (test/support/service-bus-broker.ts), and Azure Tables in Azurite.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { HistoryEntry, Order } from "../../src/domain/order.js";
import { ServiceBusStatusQueue } from "../../src/queue/service-bus.js";
import { createAzureTablesStore } from "../../src/storage/azure-tables.js";
import { type EmbeddedAzurite, startEmbeddedAzurite } from "../../src/storage/embedded-azurite.js";
import type { OrderStore } from "../../src/storage/port.js";
import { linesLogger } from "../support/log.js";
import { createOrder, putStatus } from "../support/orders-client.js";
import { type RunningServer, startServer } from "../support/server.js";
import { TestServiceBusBroker } from "../support/service-bus-broker.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { azuriteStore, uniqueTableName } from "../support/tables.js";

let broker: TestServiceBusBroker;
let server: RunningServer | undefined;
let producer: ServiceBusClient | undefined;
const clients: RecordingEventSource[] = [];
let queueName: string;
let counter = 0;

beforeEach(async () => {
	broker = await TestServiceBusBroker.start({ maxDeliveryCount: 5, lockDurationMs: 10_000 });
	queueName = `orders-${++counter}`;
});
afterEach(async () => {
	for (const c of clients.splice(0)) c.close();
	await server?.close();
	server = undefined;
	await producer?.close();
	producer = undefined;
	await broker.close();
});

async function start(store: OrderStore = azuriteStore()) {
	const queue = new ServiceBusStatusQueue({
		connectionString: broker.connectionString,
		queueName,
		...(process.env.DEBUG_SB ? { log: linesLogger((l) => console.log(new Date().toISOString(), l)) } : {}),
	});
	server = await startServer({ store, queue });
	return server;
}

function subscribe(path = "/orderHub") {
	const c = new RecordingEventSource(`${server?.baseUrl}${path}`);
	clients.push(c);
	return c;
}

const create = (customerName = "Ann") =>
	createOrder(server?.baseUrl as string, { customerName, productName: "Tea" });
const put = (orderId: string, status: string, key?: string) =>
	putStatus(server?.baseUrl as string, orderId, status, key);

async function history(orderId: string): Promise<HistoryEntry[]> {
	return (await fetch(`${server?.baseUrl}/api/orders/${orderId}/history`)).json();
}

async function statusOf(orderId: string): Promise<string> {
	return ((await (await fetch(`${server?.baseUrl}/api/orders/${orderId}`)).json()) as Order).status;
}

/** Another system putting messages on the queue with its own SDK client. */
function foreignSender() {
	producer ??= new ServiceBusClient(broker.connectionString, { retryOptions: { retryDelayInMs: 200 } });
	return producer.createSender(queueName);
}

describe("Service Bus status queue", () => {
	it("PUT -> Service Bus -> applied in Azurite -> SSE event", async () => {
		await start();
		const events = subscribe();
		await events.opened();
		const order = await create();
		const res = await put(order.orderId, "Shipped", "ship-1");
		expect(res.status).toBe(202);
		const { messageId } = await res.json();
		expect(messageId).toMatch(/^[0-9a-f-]{36}$/); // the key scoped to the order

		await vi.waitFor(() => expect(events.of("ReceiveOrderUpdate")).toHaveLength(1));
		expect(events.of("ReceiveOrderUpdate")[0]?.data).toMatchObject({
			orderId: order.orderId,
			status: "Shipped",
			previousStatus: "Pending",
			messageId,
		});
		expect(await statusOf(order.orderId)).toBe("Shipped");
		expect((await history(order.orderId)).map((h) => [h.status, h.messageId])).toEqual([
			["Pending", undefined],
			["Shipped", messageId],
		]);

		const [sent] = broker.entity(queueName).received;
		expect(sent).toMatchObject({
			message_id: messageId,
			content_type: "application/json",
			subject: "OrderStatusChanged",
		});
		const body = JSON.parse(
			(sent?.body as { content: Buffer } | undefined)?.content.toString("utf8") ?? "null",
		);
		expect(body).toEqual({
			orderId: order.orderId,
			status: "Shipped",
			occurredAt: expect.any(String),
			source: "api",
		});
		await vi.waitFor(() => expect(broker.pendingCount(queueName)).toBe(0));

		// The same Idempotency-Key on another order is another change: sent, applied and streamed.
		const other = await create();
		const again = await put(other.orderId, "Shipped", "ship-1");
		expect(again.status).toBe(202);
		expect((await again.json()).messageId).not.toBe(messageId);
		await vi.waitFor(() => expect(events.of("ReceiveOrderUpdate")).toHaveLength(2));
		expect(events.of("ReceiveOrderUpdate")[1]?.data).toMatchObject({
			orderId: other.orderId,
			status: "Shipped",
		});
		expect(await statusOf(other.orderId)).toBe("Shipped");
	});

	it("applies foreign JSON and the original's string, dead-letters what can never apply, and ignores a redelivery", async () => {
		await start();
		const a = await create("A");
		const b = await create("B");
		const sender = foreignSender();
		await sender.sendMessages([
			{ body: { OrderId: a.orderId, Status: "processing", warehouse: "W1" }, messageId: "wh-1" },
			{ body: `Order:${b.orderId},Status:Shipped`, messageId: "legacy-1" },
			{ body: "}{ not json", messageId: "poison-1" },
			{ body: { orderId: "no-such-order", status: "Shipped" }, messageId: "unknown-1" },
			{ body: `Order:${b.orderId},Status:Pending`, messageId: "illegal-1" },
			{ body: { orderId: a.orderId, status: "Teleported" }, messageId: "status-1" },
		]);
		// The same message again (a producer retry without duplicate detection): changes nothing.
		await sender.sendMessages({ body: { OrderId: a.orderId, Status: "processing" }, messageId: "wh-1" });

		const dlqReceiver = (producer as ServiceBusClient).createReceiver(queueName, {
			subQueueType: "deadLetter",
		});
		const dead: { id: unknown; reason?: string; description?: string }[] = [];
		await vi.waitFor(
			async () => {
				for (const m of await dlqReceiver.receiveMessages(10, { maxWaitTimeInMs: 200 })) {
					dead.push({
						id: m.messageId,
						reason: m.deadLetterReason,
						description: m.deadLetterErrorDescription,
					});
					await dlqReceiver.completeMessage(m);
				}
				expect(dead).toHaveLength(4);
			},
			{ timeout: 10_000 },
		);
		// Messages for different orders are applied concurrently: compare regardless of order.
		dead.sort((x, y) => String(x.id).localeCompare(String(y.id)));
		expect(dead).toEqual([
			{
				id: "illegal-1",
				reason: "IllegalTransition",
				description: expect.stringContaining("Shipped to Pending"),
			},
			{ id: "poison-1", reason: "UnparseableMessage", description: expect.stringContaining("neither JSON") },
			{ id: "status-1", reason: "UnknownStatus", description: expect.stringContaining("Teleported") },
			{ id: "unknown-1", reason: "OrderNotFound", description: expect.stringContaining("no-such-order") },
		]);
		await vi.waitFor(() => expect(broker.pendingCount(queueName)).toBe(0));
		expect(await statusOf(a.orderId)).toBe("Processing");
		expect(await statusOf(b.orderId)).toBe("Shipped");
		expect((await history(a.orderId)).filter((h) => h.messageId === "wh-1")).toHaveLength(1);
		expect((await history(b.orderId)).map((h) => h.source)).toEqual(["api", "legacy"]);
	});

	it("answers 503 while the broker is down, reports it in readiness, and resumes within 2 s of its return", async () => {
		await start();
		const order = await create();
		expect((await fetch(`${server?.baseUrl}/health/ready`)).status).toBe(200);
		await broker.stop();

		const started = Date.now();
		const refused = await put(order.orderId, "Processing");
		expect(refused.status).toBe(503);
		expect(refused.headers.get("retry-after")).toBe("5");
		expect((await refused.json()).detail).toMatch(/status queue is unavailable/);
		expect(Date.now() - started).toBeLessThan(6000);
		const ready = await fetch(`${server?.baseUrl}/health/ready`);
		expect(ready.status).toBe(503);
		const readyText = await ready.text();
		expect(JSON.parse(readyText).checks.queue).toEqual({ status: "unavailable", reason: "unreachable" });
		expect(readyText).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/); // the detail is for the log only
		expect(await statusOf(order.orderId)).toBe("Pending");

		await broker.restart();
		const back = Date.now();
		const events = subscribe();
		await events.opened();
		let res = await put(order.orderId, "Processing", "after-outage");
		while (res.status === 503 && Date.now() - back < 5000)
			res = await put(order.orderId, "Processing", "after-outage");
		expect(res.status).toBe(202);
		await vi.waitFor(() => expect(events.of("ReceiveOrderUpdate")).toHaveLength(1), { timeout: 5000 });
		expect(Date.now() - back).toBeLessThan(2000);
	});

	it("applies each of 200 changes exactly once across dropped connections and a broker restart", async () => {
		await start();
		const events = subscribe();
		await events.opened();
		const orders: Order[] = [];
		for (let i = 0; i < 200; i++) orders.push(await create(`c${i}`));
		let retries = 0;
		let accepted = 0;
		const messageIds: string[] = [];
		const sendAll = (async () => {
			for (const [i, o] of orders.entries()) {
				// A client that retries on 503 with the same Idempotency-Key, as a careful client does.
				for (;;) {
					const res = await put(o.orderId, "Processing", `change-${i}`);
					if (res.status === 202) {
						messageIds[i] = (await res.json()).messageId;
						break;
					}
					expect(res.status).toBe(503);
					retries++;
					await new Promise((r) => setTimeout(r, 100));
				}
				accepted++;
				await new Promise((r) => setTimeout(r, 5));
			}
		})();
		await vi.waitFor(() => expect(accepted).toBeGreaterThanOrEqual(50), { timeout: 30_000 });
		broker.dropConnections(); // everything cut mid-stream, including unsettled deliveries
		await vi.waitFor(() => expect(accepted).toBeGreaterThanOrEqual(100), { timeout: 30_000 });
		await broker.stop(); // down for 3 s: sends get 503 and are retried by the client
		await new Promise((r) => setTimeout(r, 3000));
		expect(accepted).toBeLessThan(200);
		await broker.restart();
		await sendAll;

		await vi.waitFor(() => expect(events.of("ReceiveOrderUpdate").length).toBe(200), { timeout: 60_000 });
		await vi.waitFor(() => expect(broker.pendingCount(queueName)).toBe(0), { timeout: 30_000 });
		expect(broker.deadLetters(queueName)).toEqual([]);
		expect(retries).toBeGreaterThan(0);
		const updated = new Set(events.of("ReceiveOrderUpdate").map((e) => e.data.orderId));
		expect(updated.size).toBe(200);
		for (const [i, o] of orders.entries()) {
			const h = await history(o.orderId);
			expect(h.map((x) => [x.status, x.messageId])).toEqual([
				["Pending", undefined],
				["Processing", messageIds[i]],
			]);
		}
	}, 180_000);

	it("lets messages wait while Azurite is down, renewing their locks, then applies them all once", async () => {
		await broker.close();
		// The SDK renews a lock halfway through (up to 10 s before expiry): with 3 s locks, the
		// message held through a 3.5 s outage must be renewed, or it would be redelivered.
		broker = await TestServiceBusBroker.start({ maxDeliveryCount: 5, lockDurationMs: 3000 });
		const dataDir = mkdtempSync(join(tmpdir(), "order-tracker-sb-"));
		let azurite: EmbeddedAzurite | undefined = await startEmbeddedAzurite({ dataDir });
		try {
			const port = azurite.port;
			await start(createAzureTablesStore(azurite.connectionString, uniqueTableName(), { timeoutMs: 1000 }));
			const orders: Order[] = [];
			for (let i = 0; i < 10; i++) orders.push(await create(`c${i}`));
			await azurite.close();
			azurite = undefined;
			const sender = foreignSender();
			await sender.sendMessages(
				orders.map((o, i) => ({ body: { orderId: o.orderId, status: "Shipped" }, messageId: `w-${i}` })),
			);
			await new Promise((r) => setTimeout(r, 3500));
			expect(broker.deadLetters(queueName)).toEqual([]);
			expect(broker.pendingCount(queueName)).toBe(10);
			azurite = await startEmbeddedAzurite({ dataDir, port });
			await vi.waitFor(() => expect(broker.pendingCount(queueName)).toBe(0), { timeout: 20_000 });
			for (const o of orders) expect(await statusOf(o.orderId)).toBe("Shipped");
			expect(broker.deadLetters(queueName)).toEqual([]);
			// The message in hand kept its lock through the outage (renew-lock), so nothing was redelivered.
			expect(broker.renewals).toBeGreaterThan(0);
			expect(broker.deliveries).toBe(10);
		} finally {
			await server?.close();
			server = undefined;
			await azurite?.close();
			rmSync(dataDir, { recursive: true, force: true });
		}
	});

	it("settles the message in hand before close() returns", async () => {
		await start();
		const orders: Order[] = [];
		for (let i = 0; i < 30; i++) orders.push(await create(`c${i}`));
		const sender = foreignSender();
		await sender.sendMessages(
			orders.map((o, i) => ({ body: { orderId: o.orderId, status: "Shipped" }, messageId: `s-${i}` })),
		);
		await vi.waitFor(() => expect(broker.pendingCount(queueName)).toBeLessThan(25));
		await server?.queue.close();
		expect(broker.lockedCount(queueName)).toBe(0);
		let applied = 0;
		for (const o of orders) if ((await statusOf(o.orderId)) === "Shipped") applied++;
		expect(applied + broker.pendingCount(queueName)).toBe(30);
	});
});

afterAll(() => producer?.close());
