// Who the client is and how it reached us, as a TLS-terminating proxy in front (Azure Container
// Apps, App Service, Front Door) tells it: the proxy talks plain http to the app and says in
// X-Forwarded-Proto/-Host/-For what the client used. Trusted only with Http:TrustForwardedHeaders:
// without a proxy that overwrites them, any client could claim to be anyone.
import type { Context, MiddlewareHandler } from "hono";

declare module "hono" {
	interface ContextVariableMap {
		/** The URL as the client sent it (scheme and host from the proxy when trusted). */
		publicUrl: URL;
		/** The client's address (from the proxy when trusted), when known. */
		clientAddress: string | undefined;
	}
}

export interface ForwardedOptions {
	/** Http:TrustForwardedHeaders. */
	trust: boolean;
	/** The address of the connection's peer (the proxy itself, behind one), from the runtime. */
	socketAddress?: (c: Context) => string | undefined;
}

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;
const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

/** The first of a comma-separated header (the value the first proxy, nearest the client, set). */
const first = (v: string | undefined) => v?.split(",")[0]?.trim();

export function forwardedHeaders(options: ForwardedOptions): MiddlewareHandler {
	return async (c, next) => {
		const url = new URL(c.req.url);
		let client = options.socketAddress?.(c);
		if (options.trust) {
			const proto = first(c.req.header("x-forwarded-proto"))?.toLowerCase();
			if (proto === "https" || proto === "http") url.protocol = `${proto}:`;
			const host = first(c.req.header("x-forwarded-host"));
			if (host && HOST.test(host)) url.host = host;
			// The right-most address is the one the proxy itself appended (the peer it saw); those
			// to its left came from the client's own header and prove nothing.
			const forwardedFor = c.req
				.header("x-forwarded-for")
				?.split(",")
				.map((a) => a.trim())
				.filter((a) => ADDRESS.test(a));
			if (forwardedFor?.length) client = forwardedFor[forwardedFor.length - 1];
		}
		c.set("publicUrl", url);
		c.set("clientAddress", client);
		await next();
	};
}

/** The URL as the client used it: `c.req.url` when no forwardedHeaders middleware ran. */
export function publicUrlOf(c: Context): URL {
	return c.get("publicUrl") ?? new URL(c.req.url);
}
