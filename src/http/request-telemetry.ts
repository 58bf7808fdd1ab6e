// One middleware for what every request leaves behind: its request id (kept from X-Request-Id, or
// the trace id of an incoming W3C traceparent, else made), echoed in X-Request-Id and carried by
// every log line the request causes; one request line; the request duration metric.
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { isRequestId, withLogContext } from "../observability/context.js";
import type { Logger } from "../observability/log.js";
import type { Metrics } from "../observability/metrics.js";

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export const REQUEST_ID_HEADER = "X-Request-Id";

export function requestIdOf(headers: Headers): string {
	const given = headers.get("x-request-id")?.trim();
	if (isRequestId(given)) return given;
	const traceId = TRACEPARENT.exec(headers.get("traceparent")?.trim() ?? "")?.[1];
	if (traceId && !/^0+$/.test(traceId)) return traceId;
	return crypto.randomUUID();
}

/**
 * The route pattern that answered (`/api/orders/{id}` style, never the raw path: ids would make
 * every request its own series), or "unmatched" when no route did.
 */
export function routePattern(c: Context): string {
	const routes = matchedRoutes(c);
	for (let i = routes.length - 1; i >= 0; i--) {
		const r = routes[i];
		if (r && r.method !== "ALL" && !r.path.endsWith("*")) return r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
	}
	return "unmatched";
}

export function requestTelemetry(logger: Logger, metrics: Metrics): MiddlewareHandler {
	return async (c, next) => {
		const started = performance.now();
		const requestId = requestIdOf(c.req.raw.headers);
		await withLogContext({ requestId }, async () => {
			await next();
			const status = c.res.status;
			const seconds = (performance.now() - started) / 1000;
			const route = routePattern(c);
			metrics.httpRequest(c.req.method, route, status, seconds);
			const client = c.get("clientAddress");
			const line = {
				method: c.req.method,
				route,
				status,
				durationMs: Math.round(seconds * 10_000) / 10,
				...(client ? { client } : {}),
			};
			if (status >= 500) logger.error("request", line);
			else logger.info("request", line);
		});
		// A response whose head is already on the wire (the Node SSE transport) set the id itself.
		if (c.res.headers.has("x-hono-already-sent")) return;
		try {
			c.res.headers.set(REQUEST_ID_HEADER, requestId);
		} catch {
			// A response whose headers are immutable (one fetched from elsewhere): copy it to add ours.
			c.res = new Response(c.res.body, c.res);
			c.res.headers.set(REQUEST_ID_HEADER, requestId);
		}
	};
}
