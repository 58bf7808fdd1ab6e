// How the OpenAPI document declares auth: a bearer token (JWT) on the API, and on /orderHub the
// session cookie too (POST /api/auth/session). The requirements hold with Auth:Mode Jwt; with
// Auth:Mode None (the default, loopback only) no credentials are needed. Swagger UI's Authorize
// button uses the bearer scheme.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { SESSION_COOKIE } from "./http.js";

export const BEARER = { bearerAuth: [] };
export const SESSION = { sessionCookie: [] };

export function registerSecuritySchemes(app: OpenAPIHono): void {
	app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
		type: "http",
		scheme: "bearer",
		bearerFormat: "JWT",
		description: "An access token of the configured issuer (Auth:Authority) for Auth:Audience",
	});
	app.openAPIRegistry.registerComponent("securitySchemes", "sessionCookie", {
		type: "apiKey",
		in: "cookie",
		name: SESSION_COOKIE,
		description:
			"From POST /api/auth/session, for browsers; accepted under /orderHub only (the EventSource stream, and the SignalR client's negotiate, stream, POSTs and DELETE), never on the API",
	});
}
