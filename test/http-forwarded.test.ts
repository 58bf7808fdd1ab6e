// Http:TrustForwardedHeaders on a real server: behind a TLS-terminating proxy the session cookie
// keeps Secure and the request line names the client; without it the headers are ignored.
import { afterEach, describe, expect, it } from "vitest";
import { bearer, CUSTOMER } from "./auth/contract.js";
import { linesLogger } from "./support/log.js";
import { TestOidcProvider } from "./support/oidc-provider.js";
import { type RunningServer, startServer } from "./support/server.js";

let idp: TestOidcProvider | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
	await server?.close();
	await idp?.close();
});

async function behindProxy(trust: boolean) {
	idp = await TestOidcProvider.start();
	const lines: string[] = [];
	server = await startServer({
		auth: { verifier: idp.verifier() },
		log: linesLogger((l) => lines.push(l)),
		trustForwardedHeaders: trust,
	});
	const token = await idp.sign("fiona", CUSTOMER);
	const res = await fetch(`${server.baseUrl}/api/auth/session`, {
		method: "POST",
		headers: {
			...bearer(token),
			// What Azure Container Apps' ingress sends after terminating TLS (the client claimed an
			// address of its own first: the proxy appends the one it saw).
			"x-forwarded-proto": "https",
			"x-forwarded-host": "orders.example.com",
			"x-forwarded-for": "10.9.9.9, 203.0.113.7",
		},
	});
	expect(res.status).toBe(204);
	const requestLine = lines.find((l) => l.includes('"route":"/api/auth/session"')) ?? "";
	return { cookie: res.headers.get("set-cookie") ?? "", requestLine };
}

describe("Http:TrustForwardedHeaders", () => {
	it("true: the cookie is Secure when the client used https, and the request line names the client", async () => {
		const { cookie, requestLine } = await behindProxy(true);
		expect(cookie).toMatch(/;\s*Secure/i);
		expect(requestLine).toContain('"client":"203.0.113.7"');
	});

	it("false (the default): the headers are ignored — no Secure over plain http, the peer's address", async () => {
		const { cookie, requestLine } = await behindProxy(false);
		expect(cookie).not.toMatch(/;\s*Secure/i);
		expect(requestLine).toContain('"client":"127.0.0.1"');
	});
});
