// Builds the Hono app from its ports. Runtime-neutral on purpose: Web Standards only (and
// node:async_hooks, which workerd has with nodejs_compat, for the log context), no I/O at import
// time — the same app runs on Node and on Cloudflare Workers.

import { httpInstrumentationMiddleware } from "@hono/otel";
import { swaggerUI } from "@hono/swagger-ui";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { authenticate, sessionHandlers } from "./auth/http.js";
import type { JwtVerifier } from "./auth/jwt.js";
import { registerSecuritySchemes } from "./auth/openapi.js";
import type { OrderEvents } from "./domain/events.js";
import { type HealthCheck, registerHealthRoutes } from "./health.js";
import { appCorsPolicy } from "./http/cors.js";
import { forwardedHeaders } from "./http/forwarded.js";
import { jsonBody } from "./http/json-body.js";
import { stripAccessToken } from "./http/query-token.js";
import { requestTelemetry } from "./http/request-telemetry.js";
import { validationHook } from "./http/validation.js";
import type { OrderHub } from "./hub/hub.js";
import type { SignalROptions } from "./hub/signalr.js";
import {
	type HubStatsSource,
	type RemoteHub,
	registerHubRoutes,
	registerRemoteHubRoutes,
	type SseTransport,
	webStreamTransport,
} from "./hub/sse.js";
import { type MetricsEndpoint, registerMetricsRoute } from "./metrics-route.js";
import { errorFields, type Logger, silentLogger } from "./observability/log.js";
import { type Metrics, noMetrics } from "./observability/metrics.js";
import { orderRoutes } from "./orders/routes.js";

/** The typed API for hono/client: `hc<AppType>(baseUrl).api.orders.create.$post(...)`. */
export type { OrderRoutes as AppType } from "./orders/routes.js";

import { ProblemError, problem, problemResponse, validationProblem } from "./problem.js";
import { QueueUnavailableError, type StatusQueue } from "./queue/port.js";
import { InvalidContinuationTokenError, type OrderStore, StoreUnavailableError } from "./storage/port.js";

export interface AppDeps {
	store: OrderStore;
	queue: StatusQueue;
	events: OrderEvents;
	/** The SSE hub behind /orderHub (usually the same object as `events`). */
	hub?: OrderHub;
	/**
	 * The hub lives elsewhere (a Durable Object on Workers): /orderHub is validated here and
	 * forwarded to it. Used instead of `hub`.
	 */
	remoteHub?: RemoteHub;
	/**
	 * SignalR on /orderHub across instances: the secret they share and the channel between them
	 * (src/hub/signalr.ts). Absent, connection tokens are signed with a secret of this process.
	 */
	signalR?: SignalROptions;
	/** How SSE bytes reach clients; web streams unless the runtime entry gives a faster one. */
	sseTransport?: SseTransport;
	corsOrigins: string[];
	/** Largest accepted request body (default 64 KiB). */
	maxBodyBytes?: number;
	/** Serves Swagger UI's files (swagger-ui.css, swagger-ui-bundle.js) so /swagger works offline. */
	swaggerAssets?: (file: string) => Promise<Response | undefined>;
	/** Serves the live order board's files at /, /board.css and /board.js. */
	boardFiles?: (path: string) => Promise<Response | undefined>;
	/** Bearer-token verification (Auth:Mode Jwt); absent, everyone may do everything. */
	auth?: { verifier: JwtVerifier; maxSubscribersPerPrincipal?: number };
	/** More readiness checks of the runtime entry's parts (the event log and feed on Node). */
	readiness?: HealthCheck[];
	/** Extra routes mounted by the runtime entry before the 404 handler. */
	extend?: (app: OpenAPIHono) => void;
	log?: Logger;
	/** Where the app's counts go (request durations here; the runtime entry gives the rest theirs). */
	metrics?: Metrics;
	/** Serves GET /metrics; absent, the route is not there. */
	metricsEndpoint?: MetricsEndpoint;
	/** Makes a server span of each request (OpenTelemetry); off, the middleware is not mounted at all. */
	tracing?: boolean;
	/** Http:TrustForwardedHeaders: X-Forwarded-Proto/-Host/-For from the proxy in front are believed. */
	trustForwardedHeaders?: boolean;
	/** The connection peer's address, from the runtime (the request line's client without a proxy). */
	socketAddress?: (c: Context) => string | undefined;
}

const RETRY_AFTER_SECONDS = "5";

async function hubHealth(hub: HubStatsSource): Promise<Record<string, unknown>> {
	const { subscribers, maxSubscribers, historySize, historyCapacity } = await hub.stats();
	return { subscribers, maxSubscribers, historySize, historyCapacity };
}

/**
 * An OpenAPIHono that answers validation failures, unknown routes and errors as problem+json.
 * The app is built on it; so is the Workers hub object (src/worker/hub-object.ts).
 */
export function createProblemApp(log: Logger = silentLogger): OpenAPIHono {
	const app = new OpenAPIHono({
		// A route whose body is a bare value names its field with its own hook (see the orders routes).
		defaultHook: validationHook("body"),
	});
	app.notFound((c) => problemResponse(problem(404, `No route for ${c.req.method} ${c.req.path}.`)));
	app.onError((err, c: Context) => {
		if (err instanceof ProblemError) return problemResponse(err.problem, err.headers);
		if (err instanceof InvalidContinuationTokenError) {
			return problemResponse(validationProblem({ continuationToken: [err.message] }));
		}
		if (err instanceof StoreUnavailableError || err instanceof QueueUnavailableError) {
			log.warn(`${c.req.method} ${c.req.path}: ${err.message}`, { reason: err.reason });
			const what = err instanceof StoreUnavailableError ? "Order storage" : "The status queue";
			return problemResponse(problem(503, `${what} is unavailable right now; retry shortly.`), {
				"Retry-After": RETRY_AFTER_SECONDS,
			});
		}
		if (err instanceof HTTPException) {
			return problemResponse(problem(err.status, err.message || "The request could not be processed."));
		}
		log.error(`${c.req.method} ${c.req.path}: unexpected error`, errorFields(err, true));
		return problemResponse(problem(500, "An unexpected error occurred."));
	});
	return app;
}

export function createApp(deps: AppDeps): OpenAPIHono {
	const log = deps.log ?? silentLogger;
	const app = createProblemApp(log);

	// Before anything records the request: a token in its URL is taken off (src/http/query-token.ts).
	app.use("*", stripAccessToken());
	// Then the request's span (when tracing), then its id, log line and duration around all else.
	if (deps.tracing) app.use("*", httpInstrumentationMiddleware());
	app.use(
		"*",
		forwardedHeaders({
			trust: deps.trustForwardedHeaders ?? false,
			...(deps.socketAddress ? { socketAddress: deps.socketAddress } : {}),
		}),
	);
	app.use("*", requestTelemetry(log, deps.metrics ?? noMetrics));

	// With auth, the session cookie may come from the configured origins (never "*").
	const cors = appCorsPolicy(deps.corsOrigins, deps.auth !== undefined);
	app.use("*", cors.middleware); // first, so every answer (hub problems and stats too) carries CORS
	const authenticated = authenticate(deps.auth?.verifier);
	for (const path of ["/api/*", "/orderHub", "/orderHub/*", "/health/ready"]) app.use(path, authenticated);
	if (deps.hub) {
		const transport = deps.sseTransport ?? webStreamTransport(deps.hub.maxBufferedBytes);
		registerHubRoutes(app, deps.hub, transport, cors, {
			...(deps.signalR ? { signalR: deps.signalR } : {}),
			...(deps.auth?.maxSubscribersPerPrincipal
				? { maxPerPrincipal: deps.auth.maxSubscribersPerPrincipal }
				: {}),
		});
	} else if (deps.remoteHub) {
		registerRemoteHubRoutes(app, deps.remoteHub);
	}
	const hubStats: HubStatsSource | undefined = deps.hub ?? deps.remoteHub;
	const bodyLimit = deps.maxBodyBytes ?? 64 * 1024;
	app.on(["POST", "PUT"], "/api/orders/*", jsonBody(bodyLimit));
	if (deps.auth) {
		const session = sessionHandlers();
		app.post("/api/auth/session", session.start);
		app.delete("/api/auth/session", session.end);
	}

	app.route("/", orderRoutes(deps));
	registerHealthRoutes(
		app,
		[
			{
				name: "store",
				check: async () => {
					await deps.store.ping();
					return undefined;
				},
			},
			{
				name: "queue",
				check: async () => {
					await deps.queue.ping();
					return { kind: deps.queue.kind, ...deps.queue.stats?.() };
				},
			},
			...(hubStats ? [{ name: "hub", check: () => hubHealth(hubStats) }] : []),
			...(deps.readiness ?? []),
		],
		log,
		// Per-check detail only to operators when auth is on; the status to anyone.
		(c) => !deps.auth || (c.get("principal")?.permissions.has("Orders.ReadAll") ?? false),
	);
	if (deps.metricsEndpoint)
		registerMetricsRoute(app, deps.metricsEndpoint, authenticated, deps.auth !== undefined);
	deps.extend?.(app);

	registerSecuritySchemes(app);
	app.doc31("/doc", {
		openapi: "3.1.0",
		info: {
			title: "order-tracker",
			version: "1.0.0",
			description:
				"Real-time order tracking: REST over Azure Table Storage, status changes through a queue, events over SSE at /orderHub. " +
				"Errors are application/problem+json (RFC 9457). " +
				"The security requirements hold when the service runs with Auth:Mode Jwt; with Auth:Mode None (the default, loopback only) no credentials are needed.",
		},
		// Relative: the host that serves this document serves the API (`npm start`: http://127.0.0.1:5080).
		servers: [{ url: "/", description: "The server this document came from" }],
		// Each operation states its own requirement (with Auth:Mode Jwt); the rest are open.
		security: [],
		tags: [
			{ name: "Orders", description: "Create, list and read orders; request status changes" },
			{
				name: "Events",
				description:
					"Live order events over Server-Sent Events, for EventSource clients and for the @microsoft/signalr client",
			},
			{ name: "Health", description: "Liveness and readiness probes" },
		],
	});
	if (deps.swaggerAssets) {
		const assets = deps.swaggerAssets;
		app.get(
			"/swagger/assets/swagger-ui-dist/:file",
			async (c) => (await assets(c.req.param("file"))) ?? c.notFound(),
		);
	}
	app.get(
		"/swagger",
		swaggerUI({
			url: "/doc",
			title: "order-tracker API",
			...(deps.swaggerAssets ? { baseUrl: "/swagger/assets" } : {}),
		}),
	);

	if (deps.boardFiles) {
		const files = deps.boardFiles;
		for (const path of ["/", "/board.css", "/board.js"]) {
			app.get(path, async (c) => (await files(path)) ?? c.notFound());
		}
	}

	return app;
}
