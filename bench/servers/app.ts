// order-tracker as the Node entry wires it (Node SSE transport, in-process queue and receiver),
// over the in-memory store or Azurite, plus GET /__bench/memory for the harness.
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createApp } from "../../src/app.js";
import { OrderHub } from "../../src/hub/hub.js";
import { nodeSseTransport } from "../../src/hub/node-transport.js";
import { webStreamTransport } from "../../src/hub/sse.js";
import { InProcessStatusQueue } from "../../src/queue/in-process.js";
import { createStatusMessageHandler } from "../../src/queue/receiver.js";
import { createAzureTablesStore } from "../../src/storage/azure-tables.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";

const tableCs = process.env.BENCH_TABLES_CONNECTION_STRING;
const store = tableCs
	? createAzureTablesStore(tableCs, process.env.BENCH_TABLE_NAME ?? "Bench")
	: new MemoryOrderStore();
const hub = new OrderHub({ maxSubscribers: 50_000, historySize: 1000 });
const queue = new InProcessStatusQueue();
queue.start(createStatusMessageHandler({ store, events: hub }));
const app = createApp({
	store,
	queue,
	events: hub,
	hub,
	sseTransport: nodeSseTransport(webStreamTransport(hub.maxBufferedBytes)),
	corsOrigins: ["*"],
	extend: (a) => {
		a.get("/__bench/memory", (c) => {
			(globalThis as { gc?: () => void }).gc?.();
			return c.json(process.memoryUsage());
		});
	},
});
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => {
	console.log(JSON.stringify({ port: info.port }));
});
process.on("SIGTERM", async () => {
	hub.close();
	await queue.close();
	(server as unknown as import("node:http").Server).closeAllConnections();
	server.close(() => process.exit(0));
});
