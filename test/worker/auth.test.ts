// Auth:Mode Jwt in workerd (the real entry under `wrangler dev`): tokens of the tests' own OpenID
// provider verified in the isolate (jose, JWKS fetched from the provider), the same refusals as on
// Node, and the hub object applying each caller's scope to what it streams.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { authContract, CUSTOMER } from "../auth/contract.js";
import { AUDIENCE, TestOidcProvider } from "../support/oidc-provider.js";
import { RecordingHubConnection } from "../support/signalr-client.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { type RunningWorker, startWorker } from "../support/workerd.js";

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
	authContract(() => ({ baseUrl: worker.baseUrl, idp }));

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

	it("gives a SignalR client (access_token on its stream) only its customer's orders; none without a token", async () => {
		const anonymous = new RecordingHubConnection(`${worker.baseUrl}/orderHub`);
		await expect(anonymous.start()).rejects.toThrow(/401/);
		const carol = await idp.sign("carol-w", CUSTOMER);
		const hub = new RecordingHubConnection(`${worker.baseUrl}/orderHub`, { accessTokenFactory: () => carol });
		await hub.start();
		try {
			const mine = (await (
				await call("POST", "/api/orders/create", carol, { customerName: "Carol W", productName: "P" })
			).json()) as Order;
			await call("POST", "/api/orders/create", await idp.sign("dan-w", CUSTOMER), {
				customerName: "Dan W",
				productName: "P",
			});
			const marker = (await (
				await call("POST", "/api/orders/create", carol, { customerName: "Carol marker", productName: "P" })
			).json()) as Order;
			await vi.waitFor(() => expect(hub.statusesOf(marker.orderId)).toEqual(["Pending"]), {
				timeout: 10_000,
			});
			expect(hub.received.map((r) => r.order.orderId)).toEqual([mine.orderId, marker.orderId]);
		} finally {
			await hub.stop();
		}
	}, 60_000);
});
