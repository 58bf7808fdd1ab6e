// The wiring every Node host of the service shares (src/node.ts, the test server, the benchmark
// server): the receiver loop applies queue messages to the store and publishes to the hub, and the
// app serves /orderHub through the Node socket transport.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type AppDeps, createApp } from "./app.js";
import type { OrderHub } from "./hub/hub.js";
import { nodeSseTransport } from "./hub/node-transport.js";
import { webStreamTransport } from "./hub/sse.js";
import type { StatusMessageHandler } from "./queue/port.js";
import { createStatusMessageHandler } from "./queue/receiver.js";

export interface NodeServiceOptions extends Omit<AppDeps, "events" | "hub" | "sseTransport"> {
	hub: OrderHub;
	/** Aborted on shutdown: a message waiting for storage is abandoned at once. */
	signal?: AbortSignal;
	/** "web" serves SSE through web streams instead of the socket transport (for comparison). */
	transport?: "node" | "web";
	/** Wraps the receiver's handler (the benchmark times it). */
	wrapHandler?: (handler: StatusMessageHandler) => StatusMessageHandler;
}

/** Starts the receiver loop on `queue` and builds the app. */
export function createNodeService(options: NodeServiceOptions): OpenAPIHono {
	const { hub, signal, transport, wrapHandler, ...deps } = options;
	const handler = createStatusMessageHandler({
		store: deps.store,
		events: hub,
		...(deps.log ? { log: deps.log } : {}),
		...(signal ? { signal } : {}),
	});
	deps.queue.start(wrapHandler ? wrapHandler(handler) : handler);
	const web = webStreamTransport(hub.maxBufferedBytes);
	return createApp({
		...deps,
		events: hub,
		hub,
		sseTransport: transport === "web" ? web : nodeSseTransport(web),
	});
}
