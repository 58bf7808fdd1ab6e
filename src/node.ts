// Node composition root: reads configuration, picks the adapters, starts the receiver loop,
// serves on PORT, and shuts down gracefully (idempotently: npm may deliver a signal twice).
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { serve } from "@hono/node-server";
import { JwtVerifier } from "./auth/jwt.js";
import { defaultAzureCredential, type TokenCredential } from "./azure-identity.js";
import { boardFilesFromDisk } from "./board/files.js";
import { ConfigError, hubOptions, jwtOptions, storeOptions } from "./config.js";
import { AzureTablesControlBoard } from "./events/azure-control.js";
import { AzureTablesInstanceRegistry } from "./events/azure-instances.js";
import { createAzureTablesEventLog } from "./events/azure-log.js";
import { InProcessEventFeed } from "./events/in-process-feed.js";
import { ServiceBusTopicFeed } from "./events/service-bus-feed.js";
import { loadConfig } from "./node-config.js";
import { createNodeService, startEventFanOut } from "./node-service.js";
import { retryWhileStorageUnavailable, type StartingState, startingApp } from "./node-starting.js";
import { errorFields, type Logger } from "./observability/log.js";
import { createNodeLogger } from "./observability/node-logger.js";
import { startNodeTracing } from "./observability/node-tracing.js";
import { createPrometheusMetrics } from "./observability/prometheus.js";
import { InProcessStatusQueue } from "./queue/in-process.js";
import type { StatusQueue } from "./queue/port.js";
import { ServiceBusStatusQueue } from "./queue/service-bus.js";
import type { ServiceBusConnection } from "./service-bus-connection.js";
import { createAzureTablesStore, type TableConnection } from "./storage/azure-tables.js";
import { type EmbeddedAzurite, startEmbeddedAzurite } from "./storage/embedded-azurite.js";
import { instrumentStore } from "./storage/instrumented.js";
import { swaggerAssetsFromPackage } from "./swagger-assets.js";

/**
 * Runs `job` every hour, the first time a random few minutes after start: a process that restarts
 * more often than hourly still purges, and instances started together do not purge at once.
 */
function everyHour(job: () => void): void {
	const first = setTimeout(
		() => {
			job();
			setInterval(job, 3600_000).unref();
		},
		60_000 + Math.random() * 240_000,
	);
	first.unref();
}
/** Until the configuration says the level: start-up problems are errors, always written. */
let log: Logger = createNodeLogger("info");

/** Loopback addresses: reachable only from this machine. */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

async function main(): Promise<void> {
	const config = loadConfig();
	log = createNodeLogger(config.Logging.Level);
	const tracing = await startNodeTracing(process.env);
	log.info(tracing?.description ?? "traces: off (set OTEL_EXPORTER_OTLP_ENDPOINT to export them)");
	const metrics = createPrometheusMetrics();
	const host = process.env.HOST ?? "127.0.0.1";
	const jwt = jwtOptions(config.Auth);
	if (!jwt && !LOOPBACK.test(host)) {
		if (!config.Auth.AllowAnonymous) {
			throw new ConfigError([
				`HOST ${host} is reachable from other machines, and Auth:Mode is None: anyone could read and change every order. Set Auth:Mode Jwt (see docs/auth.md), or Auth:AllowAnonymous=true to serve without auth anyway.`,
			]);
		}
		log.warn(
			`serving on ${host} without authentication (Auth:AllowAnonymous=true): anyone who reaches it may read and change every order`,
		);
	}

	// One credential for every Azure client, made only when a setting asks for an identity.
	let credential: Promise<TokenCredential> | undefined;
	const identity = () => {
		credential ??= defaultAzureCredential(process.env);
		return credential;
	};

	let azurite: EmbeddedAzurite | undefined;
	let connection: TableConnection;
	const { ConnectionString, ServiceUri, TableName } = config.TableStorage;
	if (ServiceUri) {
		connection = { serviceUri: ServiceUri, credential: await identity() };
		log.info(`storage: Azure Table Storage at ${ServiceUri} with a managed identity (table ${TableName})`);
	} else if (ConnectionString) {
		connection = ConnectionString;
		log.info(`storage: Azure Table Storage (table ${TableName})`);
	} else {
		azurite = await startEmbeddedAzurite({ dataDir: config.Embedded.DataDir });
		connection = azurite.connectionString;
		log.info(`storage: embedded Azurite on 127.0.0.1:${azurite.port}, data in ${config.Embedded.DataDir}/`);
	}
	// This instance's name in the claims on events it publishes.
	const holder = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
	const leaseMs = config.Events.LeaseSeconds * 1000;
	const store = instrumentStore(
		createAzureTablesStore(connection, config.TableStorage.TableName, {
			...storeOptions(config),
			recordEvents: true, // the outbox: every event reaches the event log, whatever happens after the commit
			eventHolder: holder,
			eventLeaseMs: leaseMs,
		}),
		metrics,
	);
	// Expired Idempotency-Key records are taken over when their key comes back; this removes the rest.
	everyHour(() =>
		store.purgeExpiredIdempotencyKeys().then(
			(n) => n > 0 && log.info(`purged ${n} expired Idempotency-Key record(s)`),
			(err) => log.warn(`purging expired Idempotency-Key records failed: ${(err as Error).message}`),
		),
	);

	// Service Bus: a connection string, or the namespace reached with the managed identity.
	const { FullyQualifiedNamespace } = config.ServiceBus;
	const serviceBus: ServiceBusConnection | undefined = FullyQualifiedNamespace
		? { fullyQualifiedNamespace: FullyQualifiedNamespace, credential: await identity() }
		: config.ServiceBus.ConnectionString;
	const queue: StatusQueue = serviceBus
		? new ServiceBusStatusQueue({ connectionString: serviceBus, queueName: config.ServiceBus.QueueName, log })
		: new InProcessStatusQueue({ log, metrics });
	log.info(
		queue.kind === "service-bus"
			? `status queue: Azure Service Bus queue ${config.ServiceBus.QueueName}${FullyQualifiedNamespace ? ` on ${FullyQualifiedNamespace} with a managed identity` : ""}`
			: "status queue: in-process (not durable across a crash; set ServiceBus:ConnectionString for Service Bus)",
	);
	const { TopicName, SubscriptionName } = config.ServiceBus;
	const feed =
		serviceBus && TopicName && SubscriptionName
			? new ServiceBusTopicFeed({
					connectionString: serviceBus,
					topicName: TopicName,
					subscriptionName: SubscriptionName,
					log,
				})
			: new InProcessEventFeed();
	if (feed.kind === "in-process" && queue.kind === "service-bus") {
		log.warn(
			"events: ServiceBus:TopicName is not set: the events other instances log reach this one's subscribers through the event log, read every 100-150 ms while others run; a topic with a subscription per instance is faster (docs/scale-out.md)",
		);
	} else {
		log.info(
			feed.kind === "in-process"
				? "events: this instance alone"
				: `events: fan-out through topic ${TopicName}, subscription ${SubscriptionName}`,
		);
	}
	const eventLog = createAzureTablesEventLog(connection, config.TableStorage.TableName, {
		timeoutMs: config.TableStorage.TimeoutMs,
	});
	// Listen at once; until storage answers (src/node-starting.ts) only the probes are served.
	const stopping = new AbortController();
	let app: { fetch: (request: Request, env?: object) => Response | Promise<Response> } | undefined;
	let notReady: StartingState | undefined;
	const starting = startingApp(() => notReady);
	const server = serve(
		{ fetch: (request, env) => (app ?? starting).fetch(request, env), port: config.PORT, hostname: host },
		(info) => {
			port = info.port;
		},
	);
	let port = config.PORT;
	server.on("error", (err) => {
		log.error(`cannot listen on ${host}:${config.PORT}: ${err.message}`);
		process.exit(1);
	});
	const base = () => `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
	let fanOut: Awaited<ReturnType<typeof startEventFanOut>> | undefined;
	const onSignal = (signal: string) => {
		// Stopped before it was ready: nothing was accepted, nothing is in flight.
		if (fanOut) return;
		log.info(`${signal}: stopping before start-up finished`);
		stopping.abort();
		server.close();
		void Promise.resolve(azurite?.close()).finally(() => process.exit(0));
	};
	process.once("SIGINT", onSignal);
	process.once("SIGTERM", onSignal);
	fanOut = await retryWhileStorageUnavailable(
		() =>
			startEventFanOut({
				store,
				log: eventLog,
				feed,
				hub: { ...hubOptions(config.Hub), metrics },
				holder,
				leaseMs,
				storageTimeoutMs: config.TableStorage.TimeoutMs,
				sweepMs: config.Events.SweepSeconds * 1000,
				logger: log,
				replicas: {
					registry: new AzureTablesInstanceRegistry(eventLog.client, eventLog.timeoutMs),
					control: new AzureTablesControlBoard(eventLog.client, eventLog.timeoutMs),
					topic: (feed.kind !== "in-process" && TopicName) || "",
					subscription: (feed.kind !== "in-process" && SubscriptionName) || "",
				},
			}),
		{
			log,
			signal: stopping.signal,
			onFailure: (state) => {
				if (!notReady)
					log.info(
						`order-tracker listening on ${base()}, not ready: only /health answers until storage does`,
					);
				notReady = state;
			},
		},
	);
	process.off("SIGINT", onSignal);
	process.off("SIGTERM", onSignal);
	const { hub } = fanOut;
	const events = fanOut;
	const retentionMs = config.Events.RetentionHours * 3600_000;
	everyHour(() =>
		eventLog.purge(retentionMs).then(
			(n) => n > 0 && log.info(`purged ${n} event(s) older than Events:RetentionHours from the event log`),
			(err) => log.warn(`purging the event log failed: ${(err as Error).message}`),
		),
	);

	app = createNodeService({
		store,
		queue,
		hub,
		signalR: fanOut.signalR,
		events: fanOut.publisher,
		readiness: [{ name: "events", check: () => events.ping() }],
		signal: stopping.signal,
		corsOrigins: config.Cors.AllowedOrigins,
		trustForwardedHeaders: config.Http.TrustForwardedHeaders,
		...(jwt
			? {
					auth: {
						verifier: new JwtVerifier(jwt),
						maxSubscribersPerPrincipal: config.Hub.MaxSubscribersPerPrincipal,
					},
				}
			: {}),
		swaggerAssets: swaggerAssetsFromPackage(),
		boardFiles: boardFilesFromDisk(),
		log,
		metrics,
		...(config.Metrics.Token ? { metricsToken: config.Metrics.Token } : {}),
		tracing: tracing !== undefined,
	});

	notReady = undefined;
	log.info(
		`order-tracker listening on ${base()}  board ${base()}/  API ${base()}/api/orders  OpenAPI ${base()}/doc  Swagger UI ${base()}/swagger`,
	);

	let shuttingDown: Promise<void> | undefined;
	const shutdown = (signal: string) => {
		if (shuttingDown) {
			log.info(`${signal} again: already shutting down, still settling in-flight work`);
			return;
		}
		log.info(`${signal}: shutting down`);
		const force = setTimeout(() => {
			log.error("shutdown took over 15 s; exiting");
			process.exit(1);
		}, 15_000);
		force.unref();
		shuttingDown = (async () => {
			const http = server as unknown as import("node:http").Server;
			const closed = new Promise<void>((resolve) => server.close(() => resolve())); // stop accepting
			hub.close(); // end every SSE stream; EventSource clients reconnect elsewhere or later
			stopping.abort(); // a message waiting for storage is abandoned now (the queue redelivers it)
			http.closeIdleConnections();
			const straggler = setTimeout(() => http.closeAllConnections(), 2000); // requests still open after 2 s
			await closed; // requests in flight answered (their creates committed)
			clearTimeout(straggler);
			await queue.close(); // settles in-flight and queued status changes
			await events.close(); // publishes what those requests and changes committed
			await azurite?.close(); // flushes embedded storage to disk
			await tracing?.shutdown().catch(() => {}); // exports the last spans
			log.info("stopped");
			process.exit(0);
		})();
	};
	process.on("SIGINT", () => shutdown("SIGINT"));
	process.on("SIGTERM", () => shutdown("SIGTERM"));
}

main().catch((err) => {
	if (err instanceof ConfigError) log.error(err.message, { problems: err.problems });
	else log.error(`cannot start: ${(err as Error)?.message ?? String(err)}`, errorFields(err, true));
	process.exit(1);
});
