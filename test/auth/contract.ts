// The auth contract: what every caller sees on every route, shared by the Node server
// (test/auth/auth.test.ts) and the Worker in workerd (test/worker/auth.test.ts).
import { expect, it } from "vitest";
import type { Order } from "../../src/domain/order.js";
import type { TestOidcProvider } from "../support/oidc-provider.js";

export const CUSTOMER = ["Orders.Create", "Orders.Read"];
export const OPERATOR = ["Orders.ReadAll", "Orders.UpdateStatus"];

/** A running service with Auth:Mode Jwt trusting `idp`. */
export interface AuthTarget {
	baseUrl: string;
	idp: TestOidcProvider;
}

export const bearer = (token?: string): Record<string, string> =>
	token ? { authorization: `Bearer ${token}` } : {};

/** A client of the service at `baseUrl()`: any call with a token, and a create that must succeed. */
export function authClient(baseUrl: () => string) {
	const call = (method: string, path: string, token?: string, body?: unknown) =>
		fetch(`${baseUrl()}${path}`, {
			method,
			headers: { ...bearer(token), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
			...(body !== undefined ? { body: JSON.stringify(body) } : {}),
		});
	async function createAs(token: string, customerName: string): Promise<Order> {
		const res = await call("POST", "/api/orders/create", token, { customerName, productName: "P" });
		expect(res.status).toBe(201);
		return res.json();
	}
	return { call, createAs, url: (path: string) => `${baseUrl()}${path}` };
}

export function authContract(target: () => AuthTarget): void {
	const { call, createAs, url } = authClient(() => target().baseUrl);

	it("answers every route by the token: 401 without or with a bad one, 403 without the permission, else 2xx", async () => {
		const { idp } = target();
		const good = await idp.sign("alice", [...CUSTOMER, ...OPERATOR]);
		const order = await createAs(good, "Alice");
		const refused: [string, string | undefined][] = [
			["no token", undefined],
			["expired", await idp.sign("alice", CUSTOMER, { expiresIn: -120 })],
			["not yet valid", await idp.sign("alice", CUSTOMER, { notBeforeIn: 600 })],
			["wrong audience", await idp.sign("alice", CUSTOMER, { audience: "api://someone-else" })],
			["wrong issuer", await idp.sign("alice", CUSTOMER, { issuer: "https://evil.example" })],
			["alg none", idp.unsigned("alice", CUSTOMER)],
			["HS256 with the public key", await idp.confused("alice", CUSTOMER)],
			["unknown signer", await idp.sign("alice", CUSTOMER, { foreignKey: true })],
			["garbage", "not.a.token"],
		];
		const routes: [string, string, unknown?][] = [
			["POST", "/api/orders/create", { customerName: "X", productName: "Y" }],
			["GET", "/api/orders"],
			["GET", `/api/orders/${order.orderId}`],
			["GET", `/api/orders/${order.orderId}/history`],
			["PUT", `/api/orders/update-status/${order.orderId}`, "Processing"],
			["GET", "/orderHub/stats"],
		];
		for (const [label, token] of refused) {
			for (const [method, path, body] of routes) {
				const res = await call(method, path, token, body);
				expect(res.status, `${label}: ${method} ${path}`).toBe(401);
				expect(res.headers.get("content-type")).toBe("application/problem+json");
				const challenge = res.headers.get("www-authenticate") ?? "";
				expect(challenge).toMatch(/^Bearer/);
				if (token) expect(challenge, label).toMatch(/error="invalid_token"/);
			}
			const hub = await fetch(url("/orderHub"), { headers: bearer(token) });
			expect(hub.status, `${label}: /orderHub`).toBe(401);
		}
		// A valid token without the permission each route needs: 403.
		const none = await idp.sign("mallory", []);
		for (const [method, path, body] of routes) {
			const res = await call(method, path, none, body);
			expect(res.status, `no permission: ${method} ${path}`).toBe(403);
			expect(res.headers.get("www-authenticate")).toMatch(/insufficient_scope/);
		}
		expect((await fetch(url("/orderHub"), { headers: bearer(none) })).status).toBe(403);
		// The right permission: through.
		const statuses = [];
		for (const [method, path, body] of routes) statuses.push((await call(method, path, good, body)).status);
		expect(statuses).toEqual([201, 200, 200, 200, 202, 200]);
		// Open to all: liveness, the document, Swagger UI; readiness without its detail.
		expect((await call("GET", "/health/live")).status).toBe(200);
		expect((await call("GET", "/doc")).status).toBe(200);
		const ready = await (await call("GET", "/health/ready")).json();
		expect(ready).toEqual({ status: "ok" });
		expect(Object.keys((await (await call("GET", "/health/ready", good)).json()).checks)).toContain("store");
	});

	it("scopes a customer to their own orders on every read route, an operator to all", async () => {
		const { idp } = target();
		const alice = await idp.sign("alice-2", CUSTOMER);
		const bob = await idp.sign("bob-2", CUSTOMER);
		const operator = await idp.sign("ops", OPERATOR);
		const a = await createAs(alice, "Alice Two");
		const b = await createAs(bob, "Bob Two");
		const ids = async (token: string) =>
			((await (await call("GET", "/api/orders?limit=1000", token)).json()) as Order[]).map((o) => o.orderId);
		expect(await ids(alice)).toEqual([a.orderId]);
		expect(await ids(bob)).toEqual([b.orderId]);
		expect(await ids(operator)).toEqual(expect.arrayContaining([a.orderId, b.orderId]));
		// Someone else's order is not found (not 403): ids leak nothing.
		expect((await call("GET", `/api/orders/${b.orderId}`, alice)).status).toBe(404);
		expect((await call("GET", `/api/orders/${b.orderId}/history`, alice)).status).toBe(404);
		expect((await call("GET", `/api/orders/${a.orderId}`, alice)).status).toBe(200);
		expect((await call("GET", `/api/orders/${b.orderId}`, operator)).status).toBe(200);
		// A customer may not change a status; the operator may.
		expect((await call("PUT", `/api/orders/update-status/${a.orderId}`, alice, "Cancelled")).status).toBe(
			403,
		);
		expect((await call("PUT", `/api/orders/update-status/${a.orderId}`, operator, "Cancelled")).status).toBe(
			202,
		);
	});
}
