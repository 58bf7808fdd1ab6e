// GET /metrics: the Prometheus text exposition. Open with Auth:Mode None (which only serves on
// loopback unless told otherwise); with auth, a token with Orders.ReadAll or the Metrics:Token
// secret (a scraper cannot fetch tokens from an OpenID provider).
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bearerOf, requirePermission, sameSecret } from "./auth/http.js";
import { BEARER } from "./auth/openapi.js";
import { ProblemSchema } from "./orders/schemas.js";

export interface MetricsEndpoint {
	render(): Promise<{ body: string; contentType: string }>;
	/** Metrics:Token: a bearer secret that may read /metrics (and nothing else). */
	token?: string;
}

const metricsRoute = createRoute({
	method: "get",
	path: "/metrics",
	operationId: "getMetrics",
	tags: ["Health"],
	summary: "Metrics in the Prometheus text format",
	description:
		"HTTP durations, hub subscribers, events published and delivered, replays, disconnects by reason, status changes by outcome, queue lag, store call durations, receiver state. With Auth:Mode Jwt: a token with Orders.ReadAll, or the Metrics:Token secret as the bearer token.",
	security: [BEARER],
	responses: {
		200: { description: "The metrics", content: { "text/plain": { schema: z.string() } } },
		401: {
			description: "No or an invalid token",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
		403: {
			description: "The token lacks Orders.ReadAll",
			content: { "application/problem+json": { schema: ProblemSchema } },
		},
	},
});

export function registerMetricsRoute(
	app: OpenAPIHono,
	endpoint: MetricsEndpoint,
	authenticated: MiddlewareHandler,
	authOn: boolean,
): void {
	app.openapi(metricsRoute, async (c) => {
		// Only with auth on does the Authorization header mean anything here.
		const scraper = authOn && endpoint.token !== undefined && sameSecret(bearerOf(c) ?? "", endpoint.token);
		if (authOn && !scraper) {
			await authenticated(c, async () => {});
			requirePermission(c, "Orders.ReadAll");
		}
		const { body, contentType } = await endpoint.render();
		return c.body(body, 200, { "Content-Type": contentType, "Cache-Control": "no-store" }) as never;
	});
}
