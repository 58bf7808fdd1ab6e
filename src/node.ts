// Node composition root: reads configuration, picks the adapters, starts the receiver loop,
// serves on PORT, and shuts down gracefully (idempotently: npm may deliver a signal twice).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { serve } from "@hono/node-server";
import { JwtVerifier } from "./auth/jwt.js";
import { boardFilesFromDisk } from "./board/files.js";
import { type Config, ConfigError, hubOptions, jwtOptions, resolveConfig, storeOptions } from "./config.js";
import { createAzureTablesEventLog } from "./events/azure-log.js";
import { InProcessEventFeed } from "./events/in-process-feed.js";
import { ServiceBusTopicFeed } from "./events/service-bus-feed.js";
import { createNodeService, startEventFanOut } from "./node-service.js";
import { errorFields, type Logger } from "./observability/log.js";
import { createNodeLogger } from "./observability/node-logger.js";
import { startNodeTracing } from "./observability/node-tracing.js";
import { createPrometheusMetrics } from "./observability/prometheus.js";
import { InProcessStatusQueue } from "./queue/in-process.js";
import type { StatusQueue } from "./queue/port.js";
import { ServiceBusStatusQueue } from "./queue/service-bus.js";
import { createAzureTablesStore } from "./storage/azure-tables.js";
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

function loadConfig(): Config {
	let settings: unknown = {};
	try {
		settings = JSON.parse(readFileSync(process.env.APPSETTINGS_PATH ?? "appsettings.json", "utf8"));
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
			throw new ConfigError([`appsettings.json: ${(err as Error).message}`]);
		}
	}
	return resolveConfig(settings, process.env);
}

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

	let azurite: EmbeddedAzurite | undefined;
	let connectionString = config.TableStorage.ConnectionString;
	if (!connectionString) {
		azurite = await startEmbeddedAzurite({ dataDir: config.Embedded.DataDir });
		connectionString = azurite.connectionString;
		log.info(`storage: embedded Azurite on 127.0.0.1:${azurite.port}, data in ${config.Embedded.DataDir}/`);
	} else {
		log.info(`storage: Azure Table Storage (table ${config.TableStorage.TableName})`);
	}
	// This instance's name in the claims on events it publishes.
	const holder = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
	const leaseMs = config.Events.LeaseSeconds * 1000;
	const store = instrumentStore(
		createAzureTablesStore(connectionString, config.TableStorage.TableName, {
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

	const queue: StatusQueue = config.ServiceBus.ConnectionString
		? new ServiceBusStatusQueue({
				connectionString: config.ServiceBus.ConnectionString,
				queueName: config.ServiceBus.QueueName,
				log,
			})
		: new InProcessStatusQueue({ log, metrics });
	log.info(
		queue.kind === "service-bus"
			? `status queue: Azure Service Bus queue ${config.ServiceBus.QueueName}`
			: "status queue: in-process (not durable across a crash; set ServiceBus:ConnectionString for Service Bus)",
	);
	const { TopicName, SubscriptionName } = config.ServiceBus;
	const feed =
		config.ServiceBus.ConnectionString && TopicName && SubscriptionName
			? new ServiceBusTopicFeed({
					connectionString: config.ServiceBus.ConnectionString,
					topicName: TopicName,
					subscriptionName: SubscriptionName,
					log,
				})
			: new InProcessEventFeed();
	if (feed.kind === "in-process" && queue.kind === "service-bus") {
		log.warn(
			"events: ServiceBus:TopicName is not set, so live events reach only this instance's subscribers; with several instances set TopicName and SubscriptionName",
		);
	} else {
		log.info(
			feed.kind === "in-process"
				? "events: this instance alone"
				: `events: fan-out through topic ${TopicName}, subscription ${SubscriptionName}`,
		);
	}
	const eventLog = createAzureTablesEventLog(connectionString, config.TableStorage.TableName, {
		timeoutMs: config.TableStorage.TimeoutMs,
	});
	const fanOut = await startEventFanOut({
		store,
		log: eventLog,
		feed,
		hub: { ...hubOptions(config.Hub), metrics },
		holder,
		leaseMs,
		storageTimeoutMs: config.TableStorage.TimeoutMs,
		sweepMs: config.Events.SweepSeconds * 1000,
		logger: log,
	});
	const { hub } = fanOut;
	const retentionMs = config.Events.RetentionHours * 3600_000;
	everyHour(() =>
		eventLog.purge(retentionMs).then(
			(n) => n > 0 && log.info(`purged ${n} event(s) older than Events:RetentionHours from the event log`),
			(err) => log.warn(`purging the event log failed: ${(err as Error).message}`),
		),
	);

	const stopping = new AbortController();
	const app = createNodeService({
		store,
		queue,
		hub,
		signalR: fanOut.signalR,
		events: fanOut.publisher,
		readiness: [{ name: "events", check: () => fanOut.ping() }],
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

	const server = serve({ fetch: app.fetch, port: config.PORT, hostname: host }, (info) => {
		const base = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${info.port}`;
		log.info(
			`order-tracker listening on ${base}  board ${base}/  API ${base}/api/orders  OpenAPI ${base}/doc  Swagger UI ${base}/swagger`,
		);
	});
	server.on("error", (err) => {
		log.error(`cannot listen on ${host}:${config.PORT}: ${err.message}`);
		process.exit(1);
	});

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
			await fanOut.close(); // publishes what those requests and changes committed
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
