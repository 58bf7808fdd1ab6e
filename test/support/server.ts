// The real app on a real HTTP server (@hono/node-server on 127.0.0.1, a free port), wired as the
// Node entry wires it: memory or Azure store, in-process queue + receiver loop, the hub with the
// Node SSE transport.
import type { AddressInfo, Socket } from "node:net";
import { serve } from "@hono/node-server";
import type { JwtVerifier } from "../../src/auth/jwt.js";
import { type HubOptions, OrderHub } from "../../src/hub/hub.js";
import { createNodeService } from "../../src/node-service.js";
import type { Logger } from "../../src/observability/log.js";
import type { PrometheusMetrics } from "../../src/observability/prometheus.js";
import { InProcessStatusQueue } from "../../src/queue/in-process.js";
import type { StatusQueue } from "../../src/queue/port.js";
import { instrumentStore } from "../../src/storage/instrumented.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";
import type { OrderStore } from "../../src/storage/port.js";

export interface RunningServer {
	baseUrl: string;
	hub: OrderHub;
	queue: StatusQueue;
	store: OrderStore;
	/** Drops every open connection from the server side (a network blip). */
	dropConnections(): void;
	close(): Promise<void>;
}

export async function startServer(
	options: {
		hub?: HubOptions;
		store?: OrderStore;
		queue?: StatusQueue;
		transport?: "node" | "web";
		log?: Logger;
		/** Counts into these (the store, the receiver, the hub, the requests) and serves them at /metrics. */
		metrics?: PrometheusMetrics;
		/** Metrics:Token. */
		metricsToken?: string;
		/** Listen on this port (to restart a server where clients expect it); default a free one. */
		port?: number;
		boardFiles?: (path: string) => Promise<Response | undefined>;
		auth?: { verifier: JwtVerifier; maxSubscribersPerPrincipal?: number };
		/** Http:TrustForwardedHeaders. */
		trustForwardedHeaders?: boolean;
		/** More routes (a test's own page). */
		extend?: (app: import("@hono/zod-openapi").OpenAPIHono) => void;
		/** SignalR across instances (a control channel): default none, as for one instance alone. */
		signalR?: import("../../src/hub/signalr.js").SignalROptions;
	} = {},
): Promise<RunningServer> {
	const { metrics } = options;
	const plainStore = options.store ?? new MemoryOrderStore();
	const store = metrics ? instrumentStore(plainStore, metrics, "memory") : plainStore;
	const queue = options.queue ?? new InProcessStatusQueue({ retryDelayMs: 20 });
	const hub = new OrderHub({ ...options.hub, ...(metrics ? { metrics } : {}) });
	const app = createNodeService({
		store,
		queue,
		hub,
		...(options.transport ? { transport: options.transport } : {}),
		...(options.log ? { log: options.log } : {}),
		...(metrics ? { metrics } : {}),
		...(options.metricsToken ? { metricsToken: options.metricsToken } : {}),
		corsOrigins: ["http://localhost:3000"],
		...(options.boardFiles ? { boardFiles: options.boardFiles } : {}),
		...(options.auth ? { auth: options.auth } : {}),
		...(options.trustForwardedHeaders ? { trustForwardedHeaders: true } : {}),
		...(options.extend ? { extend: options.extend } : {}),
		...(options.signalR ? { signalR: options.signalR } : {}),
	});
	const sockets = new Set<Socket>();
	const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
		const s = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: "127.0.0.1" }, () => resolve(s));
	});
	server.on("connection", (socket: Socket) => {
		sockets.add(socket);
		socket.on("close", () => sockets.delete(socket));
	});
	const { port } = server.address() as AddressInfo;
	return {
		baseUrl: `http://127.0.0.1:${port}`,
		hub,
		queue,
		store,
		dropConnections: () => {
			for (const s of sockets) s.destroy();
		},
		close: async () => {
			hub.close();
			await queue.close();
			const http = server as unknown as import("node:http").Server;
			http.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}
