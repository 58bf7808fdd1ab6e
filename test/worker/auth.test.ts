// Auth:Mode Jwt in workerd (the real entry under `wrangler dev`): tokens of the tests' own OpenID
// provider verified in the isolate (jose, JWKS fetched from the provider), the same refusals as on
// Node, and the hub object applying each caller's scope to what it streams.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { AUDIENCE, TestOidcProvider } from "../support/oidc-provider.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { type RunningWorker, startWorker } from "../support/workerd.js";

const CUSTOMER = ["Orders.Create", "Orders.Read"];
let idp: TestOidcProvider;
let worker: RunningWorker;
const clients: RecordingEventSource[] = [];

beforeAll(async () => {
	idp = await TestOidcProvider.start();
	worker = await startWorker({
		vars: { Auth__Mode: "Jwt", Auth__Authority: idp.issuer, Auth__Audience: AUDIENCE },
	});
}, 60_000);
afterAll(async () => {
	for (const c of clients) c.close();
	await worker?.stop();
	await idp?.close();
});

const call = (method: string, path: string, token?: string, body?: unknown) =>
	fetch(`${worker.baseUrl}${path}`, {
		method,
		headers: {
			...(token ? { authorization: `Bearer ${token}` } : {}),
			...(body !== undefined ? { "content-type": "application/json" } : {}),
		},
		...(body !== undefined ? { body: JSON.stringify(body) } : {}),
	});

describe("Auth:Mode Jwt on Workers", () => {
	it("refuses missing and bad tokens with 401, a missing permission with 403, and lets the right one through", async () => {
		const good = await idp.sign("alice", CUSTOMER);
		for (const token of [
			undefined,
			await idp.sign("alice", CUSTOMER, { expiresIn: -120 }),
			await idp.sign("alice", CUSTOMER, { audience: "api://other" }),
			idp.unsigned("alice", CUSTOMER),
			await idp.confused("alice", CUSTOMER),
			await idp.sign("alice", CUSTOMER, { foreignKey: true }),
		]) {
			const res = await call("GET", "/api/orders", token);
			expect(res.status).toBe(401);
			expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
			expect(
				(
					await fetch(`${worker.baseUrl}/orderHub`, {
						headers: token ? { authorization: `Bearer ${token}` } : {},
					})
				).status,
			).toBe(401);
		}
		expect((await call("PUT", "/api/orders/update-status/x", good, "Shipped")).status).toBe(403);
		expect((await call("GET", "/orderHub/stats", good)).status).toBe(403);
		expect(
			(await call("POST", "/api/orders/create", good, { customerName: "A", productName: "B" })).status,
		).toBe(201);
	}, 60_000);

	it("streams a customer only their own orders through the hub object", async () => {
		const alice = await idp.sign("alice-w", CUSTOMER);
		const bob = await idp.sign("bob-w", CUSTOMER);
		const stream = new RecordingEventSource(`${worker.baseUrl}/orderHub`, {
			headers: { authorization: `Bearer ${alice}` },
		});
		clients.push(stream);
		await stream.opened();
		const mine = (await (
			await call("POST", "/api/orders/create", alice, { customerName: "Alice W", productName: "P" })
		).json()) as Order;
		await call("POST", "/api/orders/create", bob, { customerName: "Bob W", productName: "P" });
		const marker = (await (
			await call("POST", "/api/orders/create", alice, { customerName: "Alice marker", productName: "P" })
		).json()) as Order;
		await vi.waitFor(() => expect(stream.events.some((e) => e.data.orderId === marker.orderId)).toBe(true), {
			timeout: 10_000,
		});
		expect(stream.events.map((e) => e.data.orderId)).toEqual([mine.orderId, marker.orderId]);
		// A client's own caller header is overwritten by the Worker: no way to widen the scope.
		const spoof = new RecordingEventSource(`${worker.baseUrl}/orderHub`, {
			headers: {
				authorization: `Bearer ${alice}`,
				"x-order-tracker-caller": JSON.stringify({ permissions: ["Orders.ReadAll"] }),
			},
		});
		clients.push(spoof);
		await spoof.opened();
		const bobs = (await (
			await call("POST", "/api/orders/create", bob, { customerName: "Bob again", productName: "P" })
		).json()) as Order;
		const marker2 = (await (
			await call("POST", "/api/orders/create", alice, { customerName: "Alice marker 2", productName: "P" })
		).json()) as Order;
		await vi.waitFor(() => expect(spoof.events.some((e) => e.data.orderId === marker2.orderId)).toBe(true), {
			timeout: 10_000,
		});
		expect(spoof.events.some((e) => e.data.orderId === bobs.orderId)).toBe(false);
	}, 60_000);
});
