// CORS for the configured origins: one policy computes the allowed origin and the headers, for the
// app's middleware and for the SSE stream, which writes its head itself (see the hub routes).
//
// Not hono/cors: that middleware sets headers on c.res *before* the handler runs, so the handler's
// response replaces an existing one and Hono copies it into a new Response — which on
// @hono/node-server turns every response into a full web Response with a ReadableStream body
// (measured: a GET at ~30% of a bare Hono route's throughput). Here nothing touches the response
// until the handler has produced it.
//
// Access-Control-Allow-Credentials only with auth on (the session cookie), and never for "*".
import type { MiddlewareHandler } from "hono";

export interface CorsOptions {
	origins: string[];
	allowHeaders: string[];
	allowMethods: string[];
	exposeHeaders: string[];
	maxAgeSeconds: number;
	/** Send Access-Control-Allow-Credentials (never with "*"). */
	credentials?: boolean;
}

export interface CorsPolicy {
	/** The CORS headers of a response to a request from `origin` (always `Vary: Origin` unless "*"). */
	headersFor(origin: string | undefined): Record<string, string>;
	middleware: MiddlewareHandler;
}

/**
 * The app's policy: the headers its routes read and the ones a browser may read back. With
 * `credentials` (auth on: the session cookie), Access-Control-Allow-Credentials for the configured
 * origins — the configuration refuses "*" then.
 */
export function appCorsPolicy(origins: string[], credentials = false): CorsPolicy {
	return corsPolicy({
		origins,
		allowHeaders: [
			"Content-Type",
			"Idempotency-Key",
			"Last-Event-ID",
			"Cache-Control",
			"Authorization",
			"X-Request-Id",
			"traceparent",
			"tracestate",
			// Sent by the @microsoft/signalr client on negotiate and its POSTs.
			"X-Requested-With",
			"X-SignalR-User-Agent",
		],
		allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
		exposeHeaders: [
			"Location",
			"X-Continuation-Token",
			"Retry-After",
			"Idempotent-Replayed",
			"WWW-Authenticate",
			"X-Request-Id",
		],
		maxAgeSeconds: 600,
		credentials,
	});
}

/** Set by @hono/node-server's RESPONSE_ALREADY_SENT: the handler wrote its own head (the SSE stream). */
const ALREADY_SENT = "x-hono-already-sent";

export function corsPolicy(options: CorsOptions): CorsPolicy {
	const any = options.origins.includes("*");
	const credentials = options.credentials === true && !any;
	const allowed = new Set(options.origins);
	const expose = options.exposeHeaders.join(",");
	const allowOrigin = (origin: string | undefined) =>
		any ? "*" : origin !== undefined && allowed.has(origin) ? origin : undefined;

	const headersFor = (origin: string | undefined): Record<string, string> => {
		const headers: Record<string, string> = any ? {} : { vary: "Origin" };
		const allow = allowOrigin(origin);
		if (allow) {
			headers["access-control-allow-origin"] = allow;
			headers["access-control-expose-headers"] = expose;
			if (credentials) headers["access-control-allow-credentials"] = "true";
		}
		return headers;
	};

	const middleware: MiddlewareHandler = async (c, next) => {
		const origin = c.req.header("origin");
		if (c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined) {
			const headers = new Headers({ vary: "Origin, Access-Control-Request-Headers" });
			const allow = allowOrigin(origin);
			if (allow) {
				headers.set("access-control-allow-origin", allow);
				headers.set("access-control-allow-methods", options.allowMethods.join(","));
				headers.set("access-control-allow-headers", options.allowHeaders.join(","));
				headers.set("access-control-max-age", String(options.maxAgeSeconds));
				if (credentials) headers.set("access-control-allow-credentials", "true");
			}
			return new Response(null, { status: 204, headers });
		}
		await next();
		// A response whose head is already on the wire (or shared) must not be touched.
		if (c.res.headers.has(ALREADY_SENT)) return;
		let headers = c.res.headers; // cheap on @hono/node-server's lightweight responses
		if (headers.has("access-control-allow-origin") || (!any && headers.get("vary")?.includes("Origin"))) {
			return; // the handler applied this policy itself (the SSE stream)
		}
		const extra = headersFor(origin);
		try {
			for (const [k, v] of Object.entries(extra)) headers.set(k, v);
		} catch {
			// Immutable headers (a response forwarded from a Durable Object): copy it once.
			c.res = new Response(c.res.body, c.res);
			headers = c.res.headers;
			for (const [k, v] of Object.entries(extra)) headers.set(k, v);
		}
	};
	return { headersFor, middleware };
}
