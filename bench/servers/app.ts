// order-tracker as the Node entry wires it (Node SSE transport, receiver loop, every event through
// the outbox and the event log to the hub), over the in-memory store or Azurite
// (BENCH_TABLES_CONNECTION_STRING), the in-process queue or Service Bus
// (BENCH_SERVICE_BUS_CONNECTION_STRING), plus GET /__bench/memory for the harness.
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { JwtVerifier } from "../../src/auth/jwt.js";
import { createAzureTablesEventLog } from "../../src/events/azure-log.js";
import { InProcessEventFeed } from "../../src/events/in-process-feed.js";
import { MemoryEventLog } from "../../src/events/memory-log.js";
import { createNodeService, startEventFanOut } from "../../src/node-service.js";
import { InProcessStatusQueue } from "../../src/queue/in-process.js";
import type { StatusMessageHandler } from "../../src/queue/port.js";
import { ServiceBusStatusQueue } from "../../src/queue/service-bus.js";
import { createAzureTablesStore } from "../../src/storage/azure-tables.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";

const tableCs = process.env.BENCH_TABLES_CONNECTION_STRING;
const tableName = process.env.BENCH_TABLE_NAME ?? "Bench";
const holder = `bench-${process.pid}`;
const events = { recordEvents: true, eventHolder: holder };
const store = tableCs ? createAzureTablesStore(tableCs, tableName, events) : new MemoryOrderStore(events);
const fanOut = await startEventFanOut({
	store,
	log: tableCs ? createAzureTablesEventLog(tableCs, tableName) : new MemoryEventLog(),
	feed: new InProcessEventFeed(),
	holder,
	hub: {
		maxSubscribers: 50_000,
		historySize: 1000,
		...(process.env.BENCH_COALESCE_MS ? { coalesceMs: Number(process.env.BENCH_COALESCE_MS) } : {}),
	},
});
const { hub } = fanOut;
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
// BENCH_AUTH_AUTHORITY: Auth:Mode Jwt against that OpenID provider (bench/servers/oidc.ts).
const authority = process.env.BENCH_AUTH_AUTHORITY;
const auth = authority
	? {
			verifier: new JwtVerifier({
				authority,
				audience: process.env.BENCH_AUTH_AUDIENCE as string,
				algorithms: ["RS256"],
				ownerClaim: "sub",
			}),
		}
	: undefined;
const app = createNodeService({
	store,
	queue,
	hub,
	...(auth ? { auth } : {}),
	events: fanOut.publisher,
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
	await fanOut.close();
	(server as unknown as import("node:http").Server).closeAllConnections();
	server.close(() => process.exit(0));
});
