// Who is calling, for every route: a bearer token (Authorization header), or on GET /orderHub the
// HttpOnly session cookie a page gets from POST /api/auth/session (a browser's EventSource cannot
// send headers). A token in a URL only on the SignalR stream (GET /orderHub?id=…), where the
// @microsoft/signalr client puts it: src/http/query-token.ts takes it off the URL before anything
// logs or traces the request. Runtime-neutral: the same on Node and Workers.
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { publicUrlOf } from "../http/forwarded.js";
import { ProblemError, problem } from "../problem.js";
import { InvalidTokenError, type JwtVerifier } from "./jwt.js";
import { ANONYMOUS, type Permission, type Principal } from "./principal.js";

declare module "hono" {
	interface ContextVariableMap {
		/** Set by authenticate(): ANONYMOUS when auth is off, undefined when no credentials came. */
		principal?: Principal;
	}
}

export const SESSION_COOKIE = "order_tracker_session";

/** 401 with the header RFC 6750 asks for; `reason` set when a token came and was refused. */
function unauthorized(reason?: string): ProblemError {
	const header = reason
		? `Bearer error="invalid_token", error_description="${reason.replaceAll('"', "'")}"`
		: "Bearer";
	return new ProblemError(
		problem(401, reason ? `The bearer token was refused: ${reason}.` : "A bearer token is required."),
		{ "WWW-Authenticate": header },
	);
}

/** The bearer token of the Authorization header; 401 when the header is not `Bearer <token>`. */
export function bearerOf(c: Context): string | undefined {
	const header = c.req.header("authorization");
	if (header === undefined) return undefined;
	const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
	if (!m) throw unauthorized("the Authorization header is not 'Bearer <token>'");
	return m[1];
}

/**
 * Sets c.var.principal. Without a verifier (Auth:Mode None) everyone is ANONYMOUS, who may do
 * everything. A token that fails verification answers 401 at once; no credentials leaves the
 * principal unset, and requirePermission() answers 401 where one is needed.
 */
export function authenticate(verifier: JwtVerifier | undefined): MiddlewareHandler {
	return async (c, next) => {
		if (!verifier) {
			c.set("principal", ANONYMOUS);
			return next();
		}
		// The cookie only for the event streams: a cookie is sent by the browser on its own, so it
		// must not authorise changes (no CSRF surface). Nothing under /orderHub changes anything:
		// GET streams, and the SignalR client's negotiate, POSTs and DELETE only concern its own
		// connection (a client may not call or broadcast anything).
		const fromCookie = c.req.path === "/orderHub" || c.req.path.startsWith("/orderHub/");
		// The SignalR client's token on its stream URL (never accepted anywhere else).
		const fromQuery = c.req.method === "GET" && c.req.path === "/orderHub" && c.req.query("id") !== undefined;
		const token =
			bearerOf(c) ??
			(fromQuery ? c.get("queryAccessToken") : undefined) ??
			(fromCookie ? getCookie(c, SESSION_COOKIE) : undefined);
		if (token !== undefined) {
			try {
				c.set("principal", await verifier.verify(token));
			} catch (err) {
				if (err instanceof InvalidTokenError) throw unauthorized(err.reason);
				throw err; // the provider unreachable: an outage, not the caller's fault
			}
		}
		return next();
	};
}

/** Compares two secrets in time independent of where they differ (a timing side channel reveals nothing). */
export function sameSecret(given: string, expected: string): boolean {
	let diff = given.length ^ expected.length;
	for (let i = 0; i < expected.length; i++) diff |= (given.charCodeAt(i) | 0) ^ expected.charCodeAt(i);
	return diff === 0;
}

/** The caller, who must hold one of `anyOf`: 401 without credentials, 403 without the permission. */
export function requirePermission(c: Context, ...anyOf: Permission[]): Principal {
	const principal = c.get("principal");
	if (!principal) throw unauthorized();
	if (!anyOf.some((p) => principal.permissions.has(p))) {
		throw new ProblemError(problem(403, `This needs the ${anyOf.join(" or ")} permission.`), {
			"WWW-Authenticate": `Bearer error="insufficient_scope", scope="${anyOf.join(" ")}"`,
		});
	}
	return principal;
}

/**
 * The header that carries the caller from the Worker to the hub's Durable Object, which serves
 * /orderHub for every isolate. Always set by the Worker (a client's own is overwritten), and the
 * object is reachable only through the Worker, so the object may trust it.
 */
export const FORWARDED_CALLER = "x-order-tracker-caller";

export function forwardedCaller(principal: Principal | undefined): string {
	const p = principal ?? { permissions: new Set<Permission>() };
	return JSON.stringify({
		...(p.id !== undefined ? { id: p.id } : {}),
		permissions: [...p.permissions],
		...(p.expiresAt !== undefined ? { expiresAt: p.expiresAt } : {}),
	});
}

/** In the hub object: the caller the Worker forwarded (none: the Worker has auth off). */
export function trustForwardedCaller(): MiddlewareHandler {
	return async (c, next) => {
		const header = c.req.header(FORWARDED_CALLER);
		if (header === undefined) c.set("principal", ANONYMOUS);
		else {
			const p = JSON.parse(header) as { id?: string; permissions: Permission[]; expiresAt?: number };
			c.set("principal", {
				...(p.id !== undefined ? { id: p.id } : {}),
				permissions: new Set(p.permissions),
				...(p.expiresAt !== undefined ? { expiresAt: p.expiresAt } : {}),
			});
		}
		return next();
	};
}

/** POST /api/auth/session (bearer token -> HttpOnly cookie for EventSource) and DELETE (ends it). */
export function sessionHandlers() {
	return {
		start: (c: Context) => {
			const token = bearerOf(c);
			const principal = c.get("principal");
			if (token === undefined || !principal) throw unauthorized();
			const maxAge = Math.max(0, Math.floor(((principal.expiresAt ?? Date.now()) - Date.now()) / 1000));
			setCookie(c, SESSION_COOKIE, token, {
				httpOnly: true,
				sameSite: "Lax",
				// As the client reached us: behind a TLS-terminating proxy (trusted), https.
				secure: publicUrlOf(c).protocol === "https:",
				path: "/",
				maxAge,
			});
			return c.body(null, 204);
		},
		end: (c: Context) => {
			deleteCookie(c, SESSION_COOKIE, { path: "/" });
			return c.body(null, 204);
		},
	};
}
