// The @microsoft/signalr client's protocol on /orderHub, over Server-Sent Events only: beside the
// plain EventSource stream, on the same hub (src/hub/hub.ts: one serialisation per event per
// format, the same caps and slow-client cut-off).
//
//   POST /orderHub/negotiate        a connection id and a signed, self-contained connection token
//   GET  /orderHub?id=<token>       the stream (src/hub/sse.ts hands it here): handshake response,
//                                   ReceiveOrderUpdate / OrderCreated invocations, pings, close
//   POST /orderHub?id=<token>       the client's handshake, pings and invocations
//   DELETE /orderHub?id=<token>     ends the connection
//
// No sticky sessions: every request of a connection may reach another instance. The token carries
// what a later request needs (src/hub/signalr-token.ts); a POST or DELETE that reaches an instance
// that does not hold the stream is carried to the one that does as a control message (every
// instance receives it; the holder acts on it): on the event feed, and through the event log's
// table while the feed does not reach every instance (src/events/control.ts).
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requirePermission } from "../auth/http.js";
import { BEARER, SESSION } from "../auth/openapi.js";
import { budgetKey, type Principal } from "../auth/principal.js";
import { jsonNestingExceeds, MAX_JSON_DEPTH, readLimited } from "../http/json-body.js";
import { ProblemSchema } from "../orders/schemas.js";
import { ProblemError, problem } from "../problem.js";
import { RateBudget } from "../util/rate-budget.js";
import type { SseSink, SubscriberFilter, SubscriberFormat } from "./hub.js";
import { filterOf, HubFilterQuery } from "./hub-query.js";
import {
	completionErrorFrame,
	HubProtocolError,
	handshakeErrorFrame,
	negotiateAnswer,
	parseClientMessages,
} from "./signalr-protocol.js";
import { type ConnectionClaims, ConnectionTokens, randomSecret } from "./signalr-token.js";

/**
 * What one instance asks the holder of a stream to do: one message per client request (a POST's
 * refused invocations together), in this order: refuse invocations, refuse the handshake, close.
 */
export interface SignalRControl {
	connectionId: string;
	/** Invocations to answer with a completion carrying REFUSED_INVOCATION. */
	refuse?: string[];
	/** The handshake's error (then the stream ends). */
	handshakeError?: string;
	close?: boolean;
}

/** Carries control messages to every instance (on Node: src/events/control.ts). */
export interface SignalRControlChannel {
	send(message: SignalRControl): Promise<void>;
	/** Control messages from every instance, this one's included, go to `handler`. */
	listen(handler: (message: unknown) => void): void;
	/** How many streams this instance holds, on every change (a channel may listen only while some). */
	holding?(streams: number): void;
}

export interface SignalROptions {
	/** The secret every instance shares (EventLog.sharedSecret); default random per process. */
	sharedSecret?: () => Promise<string>;
	/** Reaches the other instances; absent, this instance is alone. */
	control?: SignalRControlChannel;
}

/** Opens a stream on the hub (src/hub/sse.ts: caps, CORS, token expiry, the transport). */
export type OpenStream = (
	c: Context,
	caller: Principal,
	filter: SubscriberFilter,
	stream: {
		format: SubscriberFormat;
		/** The stream is open: `end` ends it (as the server, in order). */
		onOpen?: (sink: SseSink, end: () => void) => void;
		onClose?: () => void;
	},
) => Response;

/** A stream may open this long after its negotiate (the client opens it at once). */
const STREAM_OPENS_WITHIN_MS = 5 * 60_000;
/** Largest POST body (the client sends one message at a time: a handshake, a ping, an invocation). */
const MAX_POST_BYTES = 64 * 1024;
/** Invocations one POST may carry (each is answered on the stream). */
const MAX_INVOCATIONS_PER_POST = 100;
/**
 * Control messages one caller may send to other instances per minute (a token bucket): each POST
 * or DELETE for a stream held elsewhere becomes a topic send or a table write, so without a bound
 * one caller could multiply its requests into work for every instance. A frontend needs a few per
 * connection (a refused invocation, the close), far below this.
 */
export const CONTROL_MESSAGES_PER_MINUTE = 120;
const REFUSED_INVOCATION =
	"This hub has no methods a client may call: it only sends ReceiveOrderUpdate and OrderCreated.";

const ConnectionQuery = z.object({
	id: z
		.string()
		.min(1)
		.max(4100)
		.openapi({ param: { name: "id", in: "query" }, description: "The connectionToken from negotiate" }),
});

const NegotiateQuery = HubFilterQuery.extend({
	negotiateVersion: z
		.string()
		.max(10)
		.optional()
		.openapi({ param: { name: "negotiateVersion", in: "query" }, description: "1 (current clients) or 0" }),
});

const NegotiateSchema = z
	.object({
		negotiateVersion: z.number().int().optional(),
		connectionId: z.string(),
		connectionToken: z.string().optional(),
		availableTransports: z.array(
			z.object({ transport: z.literal("ServerSentEvents"), transferFormats: z.array(z.literal("Text")) }),
		),
	})
	.openapi("SignalRNegotiation");

const problems = {
	400: {
		description: "A bad filter or message",
		content: { "application/problem+json": { schema: ProblemSchema } },
	},
	401: {
		description: "No or a refused token (with Auth:Mode Jwt)",
		content: { "application/problem+json": { schema: ProblemSchema } },
	},
	403: {
		description: "Without Orders.Read or Orders.ReadAll, or another caller's connection",
		content: { "application/problem+json": { schema: ProblemSchema } },
	},
};

const negotiateRoute = createRoute({
	method: "post",
	path: "/orderHub/negotiate",
	operationId: "negotiateSignalR",
	tags: ["Events"],
	security: [BEARER, SESSION],
	summary: "Start a SignalR connection (the @microsoft/signalr client calls this)",
	description:
		"Answers a connection id and token, with Server-Sent Events as the only transport. The filters of " +
		'/orderHub apply (`withUrl("/orderHub?orderId=…")`). The client then opens GET /orderHub?id=<token>.',
	request: { query: NegotiateQuery },
	responses: {
		200: { description: "The negotiation", content: { "application/json": { schema: NegotiateSchema } } },
		...problems,
	},
});

const tooManyControlMessages = {
	description: `More than ${CONTROL_MESSAGES_PER_MINUTE} requests a minute from this caller for streams another instance holds (Retry-After says when to try again)`,
	content: { "application/problem+json": { schema: ProblemSchema } },
};

const sendRoute = createRoute({
	method: "post",
	path: "/orderHub",
	operationId: "sendSignalRMessages",
	tags: ["Events"],
	security: [BEARER, SESSION],
	summary: "A SignalR client's messages: handshake, pings, invocations",
	description:
		"JSON hub protocol messages, each ended by 0x1E. Clients may not call server methods: an invocation " +
		"with an id gets a completion with an error on the stream, and the connection stays up.",
	request: {
		query: ConnectionQuery,
		body: { content: { "text/plain": { schema: z.string() } }, required: true },
	},
	responses: {
		200: { description: "Taken" },
		...problems,
		404: {
			description: "Not a connection token of this service",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
		413: { description: "Too large", content: { "application/problem+json": { schema: ProblemSchema } } },
		429: tooManyControlMessages,
		503: {
			description: "The instance holding the stream cannot be reached now",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
	},
});

const endRoute = createRoute({
	method: "delete",
	path: "/orderHub",
	operationId: "endSignalRConnection",
	tags: ["Events"],
	security: [BEARER, SESSION],
	summary: "End a SignalR connection",
	request: { query: ConnectionQuery },
	responses: {
		202: { description: "The stream ends" },
		...problems,
		404: {
			description: "Not a connection token of this service",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
		429: tooManyControlMessages,
		503: {
			description: "The instance holding the stream cannot be reached now",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
	},
});

/** The routes of the protocol besides GET /orderHub, for a Worker that forwards them to its hub object. */
export const signalRRoutes = { negotiate: negotiateRoute, send: sendRoute, end: endRoute };

function isControl(m: unknown): m is SignalRControl {
	if (typeof m !== "object" || m === null) return false;
	const { connectionId, refuse, handshakeError } = m as Record<string, unknown>;
	return (
		typeof connectionId === "string" &&
		(refuse === undefined || (Array.isArray(refuse) && refuse.every((id) => typeof id === "string"))) &&
		(handshakeError === undefined || typeof handshakeError === "string")
	);
}

/** The SignalR streams this instance holds, and the routes of the protocol. */
export class SignalRConnections {
	private readonly held = new Map<string, { sink: SseSink; end: () => void }>();
	private readonly tokens: ConnectionTokens;
	private readonly control: SignalRControlChannel | undefined;
	/** What each caller may still send to other instances (see CONTROL_MESSAGES_PER_MINUTE). */
	private readonly controlBudget = new RateBudget(CONTROL_MESSAGES_PER_MINUTE);

	constructor(options: SignalROptions = {}) {
		const secret = randomSecret();
		this.tokens = new ConnectionTokens(options.sharedSecret ?? (async () => secret));
		this.control = options.control;
		this.control?.listen((m) => {
			if (isControl(m)) this.apply(m);
		});
	}

	/** SignalR streams open on this instance. */
	get count(): number {
		return this.held.size;
	}

	/** Acts on a control message if this instance holds its stream; true if it did. */
	private apply(m: SignalRControl): boolean {
		const stream = this.held.get(m.connectionId);
		if (!stream) return false;
		for (const invocationId of m.refuse ?? []) {
			stream.sink.write(completionErrorFrame(invocationId, REFUSED_INVOCATION));
		}
		if (m.handshakeError !== undefined) stream.sink.write(handshakeErrorFrame(m.handshakeError));
		if (m.handshakeError !== undefined || m.close) stream.end();
		return true;
	}

	/** Here if the stream is here, else to every instance (the holder acts), within `sender`'s budget. */
	private async deliver(m: SignalRControl, sender: string): Promise<void> {
		if (this.apply(m) || !this.control) return;
		if (!this.controlBudget.take(sender, 1)) {
			throw new ProblemError(
				problem(
					429,
					`Too many requests for SignalR streams held by another instance: at most ${CONTROL_MESSAGES_PER_MINUTE} a minute per caller.`,
				),
				{ "Retry-After": String(Math.ceil(60 / CONTROL_MESSAGES_PER_MINUTE)) },
			);
		}
		try {
			await this.control.send(m);
		} catch {
			throw new ProblemError(problem(503, "The connection's stream cannot be reached now; retry shortly."), {
				"Retry-After": "5",
			});
		}
	}

	/** The claims of the connection `token` names, checked for this caller: 404 or 403 otherwise. */
	private async claimsFor(token: string, caller: Principal): Promise<ConnectionClaims> {
		const claims = await this.tokens.verify(token);
		if (!claims) {
			throw new ProblemError(problem(404, "No SignalR connection has this id; negotiate a new one."));
		}
		if (claims.principalId !== caller.id) {
			throw new ProblemError(problem(403, "This SignalR connection was negotiated by another caller."));
		}
		return claims;
	}

	/** GET /orderHub?id=<token>: the connection's stream, with the filters negotiated. */
	async openStream(c: Context, caller: Principal, token: string, open: OpenStream): Promise<Response> {
		const claims = await this.claimsFor(token, caller);
		if (Date.now() - claims.issuedAt > STREAM_OPENS_WITHIN_MS) {
			throw new ProblemError(
				problem(404, "This SignalR connection was never opened in time; negotiate again."),
			);
		}
		const { connectionId } = claims;
		if (this.held.has(connectionId)) {
			throw new ProblemError(problem(409, "This SignalR connection has a stream already."));
		}
		return open(
			c,
			caller,
			{
				...(claims.orderIds ? { orderIds: claims.orderIds } : {}),
				...(claims.partitionKey !== undefined ? { partitionKey: claims.partitionKey } : {}),
				...(claims.customerName !== undefined ? { customerName: claims.customerName } : {}),
			},
			{
				format: "signalr",
				onOpen: (sink, end) => {
					this.held.set(connectionId, { sink, end });
					this.control?.holding?.(this.held.size);
				},
				onClose: () => {
					this.held.delete(connectionId);
					this.control?.holding?.(this.held.size);
				},
			},
		);
	}

	/** Registers negotiate, the POST and the DELETE (the GET is /orderHub's, in src/hub/sse.ts). */
	registerRoutes(app: OpenAPIHono): void {
		app.openapi(negotiateRoute, async (c) => {
			const caller = requirePermission(c, "Orders.Read", "Orders.ReadAll");
			const query = c.req.valid("query");
			const version = Number(query.negotiateVersion ?? "0") >= 1 ? 1 : 0;
			const connectionId = randomId();
			const token = await this.tokens.issue({
				connectionId,
				...filterOf(query),
				...(caller.id !== undefined ? { principalId: caller.id } : {}),
				issuedAt: Date.now(),
			});
			// Filters that would make a token the stream request cannot carry: say so now, not at the stream.
			if (token === undefined)
				throw new ProblemError(
					problem(
						400,
						"The hub URL's filters are too long for one SignalR connection; subscribe to fewer orders.",
					),
				);
			return c.json(negotiateAnswer(version, connectionId, token) as z.infer<typeof NegotiateSchema>, 200);
		});

		// The body is read here (its own limit and errors): the route declares no validator for it.
		app.openapi(sendRoute, async (c) => {
			const caller = requirePermission(c, "Orders.Read", "Orders.ReadAll");
			const { connectionId } = await this.claimsFor(c.req.valid("query").id, caller);
			const bytes = c.req.raw.body ? await readLimited(c.req.raw.body, MAX_POST_BYTES) : new Uint8Array();
			const body = new TextDecoder().decode(bytes);
			if (jsonNestingExceeds(body, MAX_JSON_DEPTH)) {
				throw new ProblemError(problem(400, `A message nests deeper than ${MAX_JSON_DEPTH} levels.`));
			}
			let messages: ReturnType<typeof parseClientMessages>;
			try {
				messages = parseClientMessages(body);
			} catch (err) {
				if (err instanceof HubProtocolError) throw new ProblemError(problem(400, err.message));
				throw err;
			}
			const control: SignalRControl = { connectionId };
			const refuse: string[] = [];
			for (const m of messages) {
				if (m.kind === "handshake" && (m.protocol !== "json" || m.version !== 1)) {
					control.handshakeError = `The protocol '${String(m.protocol).slice(0, 40)}' version ${String(m.version).slice(0, 10)} is not supported: use json version 1.`;
				} else if (m.kind === "invocation" && m.invocationId !== undefined) {
					refuse.push(m.invocationId);
				} else if (m.kind === "close") {
					control.close = true;
				}
				// The handshake (json v1: answered when the stream opened), pings, and invocations
				// without an id (nothing to answer) need nothing.
			}
			if (refuse.length > MAX_INVOCATIONS_PER_POST) {
				throw new ProblemError(problem(400, `At most ${MAX_INVOCATIONS_PER_POST} invocations per request.`));
			}
			if (refuse.length > 0) control.refuse = refuse;
			// One message for the whole request, and none when there is nothing to do (pings).
			if (control.refuse || control.handshakeError !== undefined || control.close)
				await this.deliver(control, budgetKey(caller, c.get("clientAddress")));
			return c.body(null, 200);
		});

		app.openapi(endRoute, async (c) => {
			const caller = requirePermission(c, "Orders.Read", "Orders.ReadAll");
			const { connectionId } = await this.claimsFor(c.req.valid("query").id, caller);
			await this.deliver({ connectionId, close: true }, budgetKey(caller, c.get("clientAddress")));
			return c.body(null, 202);
		});
	}
}

/** A connection id: 128 random bits, URL-safe. */
function randomId(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	return btoa(String.fromCharCode(...bytes))
		.replaceAll("+", "-")
		.replaceAll("/", "_")
		.replace(/=+$/, "");
}
