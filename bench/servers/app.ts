// order-tracker as the Node entry wires it (Node SSE transport, receiver loop), over the in-memory
// store or Azurite (BENCH_TABLES_CONNECTION_STRING), the in-process queue or Service Bus
// (BENCH_SERVICE_BUS_CONNECTION_STRING), plus GET /__bench/memory for the harness.
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { OrderHub } from "../../src/hub/hub.js";
import { createNodeService } from "../../src/node-service.js";
import { InProcessStatusQueue } from "../../src/queue/in-process.js";
import type { StatusMessageHandler } from "../../src/queue/port.js";
import { ServiceBusStatusQueue } from "../../src/queue/service-bus.js";
import { createAzureTablesStore } from "../../src/storage/azure-tables.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";

const tableCs = process.env.BENCH_TABLES_CONNECTION_STRING;
const store = tableCs
	? createAzureTablesStore(tableCs, process.env.BENCH_TABLE_NAME ?? "Bench")
	: new MemoryOrderStore();
const hub = new OrderHub({
	maxSubscribers: 50_000,
	historySize: 1000,
	...(process.env.BENCH_COALESCE_MS ? { coalesceMs: Number(process.env.BENCH_COALESCE_MS) } : {}),
});
const busCs = process.env.BENCH_SERVICE_BUS_CONNECTION_STRING;
const queue = busCs
	? new ServiceBusStatusQueue({ connectionString: busCs, queueName: "bench" })
	: new InProcessStatusQueue();
const trace = process.env.BENCH_TRACE ? { n: 0, toHandler: 0, inHandler: 0 } : undefined;
if (trace) {
	process.on("SIGTERM", () =>
		console.error(
			`trace: ${trace.n} messages, PUT->handler ${(trace.toHandler / trace.n).toFixed(1)} ms, in handler ${(trace.inHandler / trace.n).toFixed(1)} ms`,
		),
	);
}
const app = createNodeService({
	store,
	queue,
	hub,
	corsOrigins: ["*"],
	// BENCH_TRACE=1: where a status change spends its time between PUT (occurredAt) and publish.
	...(trace
		? {
				wrapHandler:
					(handler: StatusMessageHandler): StatusMessageHandler =>
					async (message) => {
						const t0 = Date.now();
						const occurredAt = Date.parse((message.body as { occurredAt?: string })?.occurredAt ?? "");
						const settlement = await handler(message);
						if (Number.isFinite(occurredAt)) {
							trace.n++;
							trace.toHandler += t0 - occurredAt;
							trace.inHandler += Date.now() - t0;
						}
						return settlement;
					},
			}
		: {}),
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
