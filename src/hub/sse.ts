// GET /orderHub (Server-Sent Events) and GET /orderHub/stats. The bytes reach the client through
// an SseTransport: web streams by default (any runtime), or the Node transport that writes to the
// socket directly (src/hub/node-transport.ts), chosen by the runtime entry.
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { FORWARDED_CALLER, forwardedCaller, requirePermission } from "../auth/http.js";
import { BEARER, SESSION } from "../auth/openapi.js";
import { budgetKey, ownerScope, type Permission, type Principal } from "../auth/principal.js";
import type { CorsPolicy } from "../http/cors.js";
import { REQUEST_ID_HEADER } from "../http/request-telemetry.js";
import { currentLogContext } from "../observability/context.js";
import type { DisconnectReason } from "../observability/metrics.js";
import { ProblemSchema } from "../orders/schemas.js";
import { ProblemError, problem } from "../problem.js";
import { UNAVAILABLE_REASONS, type UnavailableReason } from "../unavailable.js";
import { setTimeoutAt, type TimerAt } from "../util/timeout-at.js";
import { type HubStats, HubUnavailableError, type OrderHub, type SseSink } from "./hub.js";
import { filterOf, HubFilterQuery } from "./hub-query.js";
import { type OpenStream, SignalRConnections, type SignalROptions, signalRRoutes } from "./signalr.js";
import { closeFrame } from "./signalr-protocol.js";

export interface SseTransport {
	/** Starts a response with `headers`; `onClose` runs once when the client goes away. */
	open(c: Context, headers: Headers, onClose: () => void): { sink: SseSink; response: Response };
}

/** How a receiver loop that lives beside the hub is doing (the Workers hub object's Service Bus receiver). */
export interface ReceiverStatus {
	/** False after a failed receive or settle, until Service Bus answers a receive again. */
	healthy: boolean;
	/** Messages received since the hub object started. */
	received: number;
	/** Why the last failure happened, in a fixed word (the detail is in the log). */
	lastErrorReason?: UnavailableReason;
	lastErrorAt?: string;
}

export type HubStatsReport = HubStats & { receiver?: ReceiverStatus };

/** Anything that can report the hub's statistics (the hub itself, or a hub in another process/object). */
export interface HubStatsSource {
	stats(): HubStatsReport | Promise<HubStatsReport>;
}

/** A hub served elsewhere (on Workers, a Durable Object) that answers /orderHub requests itself. */
export interface RemoteHub extends HubStatsSource {
	fetch(request: Request): Promise<Response>;
}

export const SSE_HEADERS: Record<string, string> = {
	"content-type": "text/event-stream; charset=utf-8",
	"cache-control": "no-cache, no-transform",
	"x-accel-buffering": "no",
	"content-encoding": "identity",
};

/** Web-streams transport: works wherever Hono does (Node, workerd, app.request in tests). */
export function webStreamTransport(maxBufferedBytes: number): SseTransport {
	return {
		open(c, headers, onClose) {
			let controller!: ReadableStreamDefaultController<Uint8Array>;
			let closed = false;
			const finish = () => {
				if (closed) return;
				closed = true;
				onClose();
			};
			// The queue bound is slightly above the hub's, so the hub sees the backlog and cuts off first.
			const stream = new ReadableStream<Uint8Array>(
				{
					start(ctrl) {
						controller = ctrl;
					},
					cancel: finish,
				},
				new ByteLengthQueuingStrategy({ highWaterMark: maxBufferedBytes * 2 }),
			);
			c.req.raw.signal?.addEventListener("abort", finish, { once: true });
			const sink: SseSink = {
				write(chunk) {
					if (!closed) controller.enqueue(chunk);
				},
				buffered: () => (closed ? 0 : maxBufferedBytes * 2 - (controller.desiredSize ?? 0)),
				close(mode = "end") {
					if (closed) return;
					try {
						if (mode === "abort") controller.error(new Error("subscriber too slow"));
						else controller.close();
					} catch {
						// already errored or cancelled by the client
					}
					finish();
				},
			};
			return { sink, response: new Response(stream, { status: 200, headers }) };
		},
	};
}

const HubQuery = HubFilterQuery.extend({
	id: z
		.string()
		.min(1)
		.max(4100)
		.optional()
		.openapi({
			param: { name: "id", in: "query" },
			description:
				"A SignalR connection token (from POST /orderHub/negotiate): the stream speaks the SignalR hub protocol " +
				"(see docs/live-events.md#signalr-clients). Its client may pass its bearer token as `access_token` here, and only here.",
		}),
	lastEventId: z
		.string()
		.max(200)
		.optional()
		.openapi({
			param: { name: "lastEventId", in: "query" },
			description:
				"Resume after this event id on a first connect (browsers send the Last-Event-ID header on reconnect)",
		}),
});

// Documented, not restricted: the handler reads the header as before, whatever its length.
const HubHeaders = z.object({
	"last-event-id": z.string().optional().openapi({
		description:
			"Last-Event-ID, sent by EventSource on reconnect: the events after this id are replayed (wins over lastEventId)",
	}),
});

const HubStatsSchema = z
	.object({
		instanceId: z.string(),
		subscribers: z.number().int(),
		maxSubscribers: z.number().int(),
		historySize: z.number().int(),
		historyCapacity: z.number().int(),
		newestEventId: z.string(),
		published: z.number().int(),
		slowDisconnects: z.number().int(),
		receiver: z
			.object({
				healthy: z.boolean(),
				received: z.number().int(),
				lastErrorReason: z.enum(UNAVAILABLE_REASONS).optional(),
				lastErrorAt: z.string().optional(),
			})
			.optional()
			.openapi({ description: "On Workers with Service Bus: the receiver loop in the hub object" }),
	})
	.openapi("HubStats");

const orderHubRoute = createRoute({
	method: "get",
	path: "/orderHub",
	operationId: "subscribeOrderEvents",
	tags: ["Events"],
	security: [BEARER, SESSION],
	summary: "Server-Sent Events stream of order events",
	description:
		"`event: OrderCreated` and `event: ReceiveOrderUpdate`, data = the order as JSON, every event with an `id`. " +
		"On reconnect the browser sends Last-Event-ID and missed events are replayed; when they cannot be, " +
		"`event: reset` tells the client to refetch. A `retry:` hint on connect, a heartbeat comment every 15 s. " +
		"With `id` (a SignalR connection token), the same events as SignalR invocations for the @microsoft/signalr client.",
	request: { query: HubQuery, headers: HubHeaders },
	responses: {
		200: { description: "The event stream", content: { "text/event-stream": { schema: z.string() } } },
		400: { description: "A bad filter", content: { "application/problem+json": { schema: ProblemSchema } } },
		401: {
			description: "No or a refused token (with Auth:Mode Jwt)",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
		403: {
			description: "Without Orders.Read or Orders.ReadAll",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
		404: {
			description: "`id` is not a SignalR connection token of this service, or too old to open",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
		409: {
			description: "The SignalR connection has a stream already",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
		429: {
			description: "The caller holds Hub:MaxSubscribersPerPrincipal streams already",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
		503: {
			description: "At the subscriber cap, or shutting down",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
	},
});

const statsRoute = createRoute({
	method: "get",
	path: "/orderHub/stats",
	operationId: "getHubStats",
	tags: ["Events"],
	security: [BEARER],
	summary: "Subscribers and replay history of the event hub",
	responses: {
		200: { description: "Hub statistics", content: { "application/json": { schema: HubStatsSchema } } },
		401: {
			description: "No or a refused token (with Auth:Mode Jwt)",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
		403: {
			description: "Without Orders.ReadAll",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
	},
});

/**
 * Registers /orderHub and /orderHub/stats. The stream's head carries its CORS headers from `cors`
 * (the same policy as the app's middleware): the Node transport writes that head to the socket
 * itself (RESPONSE_ALREADY_SENT), so no middleware may add to it afterwards.
 */
export function registerHubRoutes(
	app: OpenAPIHono,
	hub: OrderHub,
	transport: SseTransport,
	cors: CorsPolicy,
	options: {
		receiverStatus?: () => ReceiverStatus | undefined;
		/** Streams one principal may hold (with auth on). */
		maxPerPrincipal?: number;
		/** The SignalR protocol's shared secret and control channel (several instances). */
		signalR?: SignalROptions;
	} = {},
): void {
	const { receiverStatus, maxPerPrincipal = 10 } = options;
	/** Open streams per principal (with auth on), EventSource and SignalR alike. */
	const streamsOf = new Map<string, number>();
	/** Every stream, of either format: the caps, the CORS head, the end at token expiry. */
	const open = (
		c: Context,
		caller: Principal,
		filter: Parameters<OpenStream>[2],
		stream: Parameters<OpenStream>[3] & { lastEventId?: string },
	): Response => {
		const owner = ownerScope(caller);
		try {
			hub.assertCanSubscribe(); // before any byte of a 200 is written
		} catch (err) {
			if (err instanceof HubUnavailableError) {
				throw new ProblemError(problem(503, err.message), { "Retry-After": "5" });
			}
			throw err;
		}
		if (caller.id !== undefined && (streamsOf.get(caller.id) ?? 0) >= maxPerPrincipal) {
			hub.refusedOverCap();
			throw new ProblemError(
				problem(429, `At most ${maxPerPrincipal} event streams per caller; close one first.`),
				{ "Retry-After": "5" },
			);
		}
		// Do not touch c.res here (see registerHubRoutes).
		const headers = new Headers({ ...SSE_HEADERS, ...cors.headersFor(c.req.header("origin")) });
		// The Node transport writes the headers itself, past the request middleware: the id goes here.
		const requestId = currentLogContext()?.requestId;
		if (requestId) headers.set(REQUEST_ID_HEADER, requestId);
		let unsubscribe: ((reason?: DisconnectReason) => void) | undefined;
		let gone = false;
		const id = caller.id;
		if (id !== undefined) streamsOf.set(id, (streamsOf.get(id) ?? 0) + 1);
		let expiry: TimerAt | undefined;
		const { sink, response } = transport.open(c, headers, () => {
			gone = true;
			unsubscribe?.();
			expiry?.clear();
			stream.onClose?.();
			if (id !== undefined) {
				const left = (streamsOf.get(id) ?? 1) - 1;
				if (left > 0) streamsOf.set(id, left);
				else streamsOf.delete(id);
			}
		});
		// The stream ends with its token: the client reconnects with a fresh one (and an EventSource resumes).
		if (caller.expiresAt !== undefined) {
			expiry = setTimeoutAt(caller.expiresAt, () => {
				unsubscribe?.("token_expired");
				if (stream.format === "signalr") sink.write(closeFrame(true, "The access token expired."));
				sink.close();
			});
		}
		unsubscribe = hub.subscribe(
			sink,
			{ ...filter, ...(owner !== undefined ? { ownerId: owner } : {}) },
			stream.lastEventId,
			budgetKey(caller, c.get("clientAddress")),
			stream.format,
		);
		if (gone) unsubscribe();
		else stream.onOpen?.(sink, () => sink.close());
		return response;
	};

	const signalR = new SignalRConnections(options.signalR);
	app.openapi(orderHubRoute, async (c) => {
		const caller = requirePermission(c, "Orders.Read", "Orders.ReadAll");
		const query = c.req.valid("query");
		if (query.id !== undefined) return signalR.openStream(c, caller, query.id, open);
		const lastEventId = c.req.header("last-event-id") ?? query.lastEventId;
		return open(c, caller, filterOf(query), {
			format: "sse",
			...(lastEventId !== undefined ? { lastEventId } : {}),
		});
	});
	signalR.registerRoutes(app);

	app.openapi(statsRoute, (c) => {
		requirePermission(c, "Orders.ReadAll");
		const receiver = receiverStatus?.();
		return c.json({ ...hub.stats(), ...(receiver ? { receiver } : {}) }, 200);
	});
}

/**
 * /orderHub and /orderHub/stats for a hub that lives elsewhere: the query is validated here (a bad
 * filter gets its 400 without a round trip) and the request is forwarded as it came, so the hub
 * sees Last-Event-ID, Origin and the client's abort signal. Documented in /doc like the local routes.
 */
export function registerRemoteHubRoutes(app: OpenAPIHono, hub: RemoteHub): void {
	// The handler answers with the hub's own response (stream, stats or problem), which the typed
	// route signature cannot express.
	// Who may call is decided here (401/403 at once); the object applies the caller's scope.
	const forward =
		(...anyOf: Permission[]) =>
		(c: Context) => {
			const caller = requirePermission(c, ...anyOf);
			const headers = new Headers(c.req.raw.headers);
			headers.set(FORWARDED_CALLER, forwardedCaller(caller));
			// The hub's lines for this request carry its id too.
			const requestId = currentLogContext()?.requestId;
			if (requestId) headers.set(REQUEST_ID_HEADER, requestId);
			return hub.fetch(new Request(c.req.raw, { headers }));
		};
	app.openapi(orderHubRoute, forward("Orders.Read", "Orders.ReadAll") as never);
	app.openapi(statsRoute, forward("Orders.ReadAll") as never);
	// SignalR: the object holds every stream, so its own tokens and no control channel suffice.
	for (const route of Object.values(signalRRoutes)) {
		app.openapi(route, forward("Orders.Read", "Orders.ReadAll") as never);
	}
}
