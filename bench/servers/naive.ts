// The naive pipeline, the end-to-end baseline: the same SDKs written the obvious way with Hono. A PUT reads
// the order and sends the change to the Service Bus queue; a receiver reads the order, updates it
// and writes one SSE frame to every open stream (`streamSSE`). No outbox, event log, replay, auth, request log
// or telemetry: what the guarantees of src/node.ts are measured against.
import type { AddressInfo } from "node:net";
import { TableClient } from "@azure/data-tables";
import { ServiceBusClient } from "@azure/service-bus";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";

const tables = TableClient.fromConnectionString(
	process.env.BENCH_TABLES_CONNECTION_STRING as string,
	process.env.BENCH_TABLE_NAME ?? "Naive",
	{ allowInsecureConnection: true },
);
await tables.createTable();
const bus = new ServiceBusClient(process.env.BENCH_SERVICE_BUS_CONNECTION_STRING as string);
const queueName = process.env.BENCH_QUEUE_NAME ?? "naive";
const sender = bus.createSender(queueName);
const receiver = bus.createReceiver(queueName, { receiveMode: "peekLock" });
const subscribers = new Set<SSEStreamingApi>();

type OrderRow = { partitionKey: string; customerName: string; productName: string; status: string };
const toOrder = (e: OrderRow & Record<string, unknown>) => ({
	orderId: e.partitionKey,
	customerName: e.customerName,
	productName: e.productName,
	status: e.status,
	createdAt: e.createdAt,
	updatedAt: e.updatedAt,
});

receiver.subscribe(
	{
		async processMessage(message) {
			const { orderId, status } = message.body as { orderId: string; status: string };
			const row = await tables.getEntity<OrderRow>(orderId, "order");
			const updatedAt = new Date().toISOString();
			await tables.updateEntity({ partitionKey: orderId, rowKey: "order", status, updatedAt }, "Merge", {
				etag: row.etag,
			});
			const data = JSON.stringify(toOrder({ ...row, status, updatedAt }));
			await Promise.all([...subscribers].map((s) => s.writeSSE({ event: "ReceiveOrderUpdate", data })));
			await receiver.completeMessage(message);
		},
		async processError() {},
	},
	{ autoCompleteMessages: false, maxConcurrentCalls: 16 },
);

const app = new Hono();
app.get("/orderHub", (c) =>
	streamSSE(c, async (stream) => {
		subscribers.add(stream);
		await stream.write(": connected\n\n");
		await new Promise<void>((resolve) => stream.onAbort(resolve));
		subscribers.delete(stream);
	}),
);
app.post("/api/orders/create", async (c) => {
	const body = await c.req.json<{ customerName: string; productName: string }>();
	const now = new Date().toISOString();
	const entity = {
		partitionKey: crypto.randomUUID(),
		rowKey: "order",
		customerName: body.customerName,
		productName: body.productName,
		status: "Pending",
		createdAt: now,
		updatedAt: now,
	};
	await tables.createEntity(entity);
	return c.json(toOrder(entity), 201);
});
app.put("/api/orders/update-status/:orderId", async (c) => {
	const orderId = c.req.param("orderId");
	const status = await c.req.json<string>();
	await tables.getEntity(orderId, "order");
	await sender.sendMessages({ body: { orderId, status } });
	return c.json({ orderId, status }, 202);
});
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => {
	console.log(JSON.stringify({ port: info.port, pid: process.pid }));
});
process.on("SIGTERM", async () => {
	(server as unknown as import("node:http").Server).closeAllConnections();
	server.close();
	await receiver.close();
	await sender.close();
	await bus.close();
	process.exit(0);
});
