// The Workers composition: settings from the Worker's env, a store (Azure Tables when configured,
// else memory), a queue (Service Bus over REST when configured — received by the hub object —
// else in-isolate with the same receiver code as Node) and the hub in its Durable Object, around
// the same app as on Node.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../app.js";
import { JwtVerifier } from "../auth/jwt.js";
import { type Config, jwtOptions, storeOptions } from "../config.js";
import type { OrderEvents } from "../domain/events.js";
import { jsonLineLogger } from "../observability/log.js";
import { InIsolateStatusQueue } from "../queue/in-isolate.js";
import { QueueUnavailableError, type StatusQueue } from "../queue/port.js";
import { createStatusMessageHandler } from "../queue/receiver.js";
import { ServiceBusRestQueue } from "../queue/service-bus-rest.js";
import { MemoryOrderStore } from "../storage/memory.js";
import type { OrderStore } from "../storage/port.js";
import { boardFilesFromBundle, swaggerAssetsFromBundle } from "./assets.js";
import type { ExecutionContextLike, WorkerEnv } from "./cloudflare.js";
import { DurableObjectHubClient } from "./hub-client.js";
import { defer, runInRequest } from "./request-scope.js";

export interface WorkerService {
	app: OpenAPIHono;
	/** The test harness closes it to simulate a broker outage. */
	queue: StatusQueue;
}

export interface WorkerServiceOptions {
	/** Overrides TableStorage:TableName (tests use a fresh table each time). */
	tableName?: string;
	maxBodyBytes?: number;
	/** Wraps the events port (tests record what is published). */
	wrapEvents?: (events: OrderEvents) => OrderEvents;
}

export class WorkerConfigError extends Error {}

/**
 * Builds the service for this isolate. Async only because the Azure Tables SDK must be imported
 * inside a request: it calls crypto.randomUUID() while loading, which workerd forbids at startup.
 */
export async function createWorkerService(
	env: WorkerEnv,
	config: Config,
	options: WorkerServiceOptions = {},
): Promise<WorkerService> {
	if (!env.HUB) {
		throw new WorkerConfigError(
			"The HUB Durable Object binding is missing: bind class OrderHubObject as HUB (see wrangler.example.toml).",
		);
	}
	if (config.ServiceBus.ConnectionString && !config.TableStorage.ConnectionString) {
		throw new WorkerConfigError(
			"ServiceBus:ConnectionString on Workers needs TableStorage:ConnectionString too: the changes are applied by the hub object's receiver, which cannot reach a Worker isolate's in-memory store.",
		);
	}
	// JSON lines through console: what Workers Logs collects (and `wrangler tail` shows).
	const log = jsonLineLogger((line) => console.log(line), config.Logging.Level);
	const tableName = options.tableName ?? config.TableStorage.TableName;
	let store: OrderStore;
	if (config.TableStorage.ConnectionString) {
		const { createAzureTablesStore } = await import("../storage/azure-tables.js");
		store = createAzureTablesStore(config.TableStorage.ConnectionString, tableName, storeOptions(config));
	} else {
		store = new MemoryOrderStore(storeOptions(config)); // per isolate: development only
	}
	const hub = new DurableObjectHubClient(env.HUB, log);
	const events = options.wrapEvents ? options.wrapEvents(hub) : hub;
	let queue: StatusQueue;
	if (config.ServiceBus.ConnectionString) {
		queue = new ServiceBusRestQueue({
			connectionString: config.ServiceBus.ConnectionString,
			queueName: config.ServiceBus.QueueName,
			log,
		});
		hub.wake(); // the hub object receives from the queue, applies and publishes
	} else {
		queue = new InIsolateStatusQueue({ defer, log });
		// A handler per message: one shared handler chains an order's messages into one promise
		// chain, which on Workers would link separate requests (each request's I/O ends with it).
		// Concurrent changes to one order are still serialised by the store's ETag check, and the
		// hub drops an update that reaches it after a newer one.
		queue.start((message) => createStatusMessageHandler({ store, events, log })(message));
	}
	log.info(
		`order-tracker on Workers: storage ${
			config.TableStorage.ConnectionString
				? `Azure Tables (table ${tableName})`
				: "in memory (per isolate, development only: set TableStorage__ConnectionString)"
		}; status queue ${
			queue.kind === "service-bus-rest"
				? `Service Bus ${config.ServiceBus.QueueName} over REST (received and applied by the hub object)`
				: "in-isolate (applied by the request that sent it)"
		}; hub in the OrderHubObject Durable Object`,
	);
	// One verifier per isolate: its JWKS and verified tokens are cached for the isolate's life.
	const jwt = jwtOptions(config.Auth);
	const app = createApp({
		store,
		queue,
		events,
		remoteHub: hub,
		corsOrigins: config.Cors.AllowedOrigins,
		trustForwardedHeaders: config.Http.TrustForwardedHeaders,
		// Cloudflare's edge sets it: the client as the edge saw it.
		socketAddress: (c) => c.req.header("cf-connecting-ip"),
		...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
		swaggerAssets: swaggerAssetsFromBundle,
		boardFiles: boardFilesFromBundle,
		log,
		...(jwt
			? {
					auth: {
						verifier: new JwtVerifier(jwt),
						maxSubscribersPerPrincipal: config.Hub.MaxSubscribersPerPrincipal,
					},
				}
			: {}),
		// Workers only: the hub object's Service Bus receiver (it runs beside the hub, not in the app).
		...(config.ServiceBus.ConnectionString
			? { readiness: [{ name: "receiver", check: () => receiverHealth(hub) }] }
			: {}),
	});
	return { app, queue };
}

/** The hub object's receiver: failing while Service Bus refuses it (a fixed reason; detail in its log). */
async function receiverHealth(hub: DurableObjectHubClient): Promise<Record<string, unknown> | undefined> {
	const { receiver } = await hub.stats();
	if (receiver && !receiver.healthy) {
		throw new QueueUnavailableError("the Service Bus receiver in the hub object is failing", {
			reason: receiver.lastErrorReason ?? "unreachable",
		});
	}
	return receiver ? { received: receiver.received } : undefined;
}

/** Serves one request, with its ExecutionContext available to work that outlives the response. */
export function serveRequest(
	service: WorkerService,
	request: Request,
	env: WorkerEnv,
	ctx: ExecutionContextLike,
): Promise<Response> {
	return runInRequest(ctx, async () => service.app.fetch(request, env, ctx as never));
}
