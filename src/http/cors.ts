// CORS for the configured origins. Not hono/cors: that middleware sets headers on c.res *before*
// the handler runs, so the handler's response replaces an existing one and Hono copies it into a
// new Response — which on @hono/node-server turns every response into a full web Response with a
// ReadableStream body (measured: a GET at ~30% of a bare Hono route's throughput). Here nothing
// touches the response until the handler has produced it.
import type { MiddlewareHandler } from "hono";

export interface CorsOptions {
	origins: string[];
	allowHeaders: string[];
	allowMethods: string[];
	exposeHeaders: string[];
	maxAgeSeconds: number;
}

export function cors(options: CorsOptions): MiddlewareHandler {
	const any = options.origins.includes("*");
	const allowed = new Set(options.origins);
	const expose = options.exposeHeaders.join(",");
	return async (c, next) => {
		const origin = c.req.header("origin");
		const allowOrigin = any ? "*" : origin !== undefined && allowed.has(origin) ? origin : undefined;
		if (c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined) {
			const headers = new Headers({ vary: "Origin, Access-Control-Request-Headers" });
			if (allowOrigin) {
				headers.set("access-control-allow-origin", allowOrigin);
				if (!any) headers.set("access-control-allow-credentials", "true");
				headers.set("access-control-allow-methods", options.allowMethods.join(","));
				headers.set("access-control-allow-headers", options.allowHeaders.join(","));
				headers.set("access-control-max-age", String(options.maxAgeSeconds));
			}
			return new Response(null, { status: 204, headers });
		}
		await next();
		const headers = c.res.headers; // cheap on @hono/node-server's lightweight responses
		if (!any) headers.append("vary", "Origin");
		if (allowOrigin) {
			headers.set("access-control-allow-origin", allowOrigin);
			if (!any) headers.set("access-control-allow-credentials", "true");
			headers.set("access-control-expose-headers", expose);
		}
	};
}
