// The `access_token` query parameter: the @microsoft/signalr client puts its bearer token there on
// the Server-Sent Events stream (a browser's EventSource cannot send headers). A token in a URL
// leaks into logs and traces, so this middleware runs before anything records the request (the
// trace span, the request line): it takes the parameter off every request's URL, and keeps its
// value for authenticate(), which accepts it only on the SignalR stream (GET /orderHub?id=…).
import type { MiddlewareHandler } from "hono";

declare module "hono" {
	interface ContextVariableMap {
		/** The `access_token` query parameter, taken off the URL (see stripAccessToken). */
		queryAccessToken?: string;
	}
}

export const ACCESS_TOKEN_PARAM = "access_token";

/** First middleware: the request that every later one sees has no `access_token` in its URL. */
export function stripAccessToken(): MiddlewareHandler {
	return async (c, next) => {
		// A cheap test first: nearly every request has none. Any `%` may spell the name encoded
		// (`%61ccess_token`), which URLSearchParams decodes: those are parsed too.
		const url0 = c.req.url;
		if (url0.includes("access") || url0.includes("%")) {
			const url = new URL(url0);
			const token = url.searchParams.get(ACCESS_TOKEN_PARAM);
			if (token !== null) {
				url.searchParams.delete(ACCESS_TOKEN_PARAM);
				c.req.raw = new Request(url, c.req.raw);
				c.set("queryAccessToken", token);
			}
		}
		return next();
	};
}
