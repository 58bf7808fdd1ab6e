// SignalR clients across several instances, no sticky sessions: three real Node processes (as
// `npm start` runs them) share one table (Azurite) and one Service Bus namespace (the test broker),
// behind a proxy that sends every request to the next instance in turn. The real
// @microsoft/signalr client's negotiate, stream and POSTs land on different instances, and it
// must work as against one.
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { createOrder, putStatus } from "../support/orders-client.js";
import { type Service, startService } from "../support/process.js";
import { RoundRobinProxy } from "../support/round-robin-proxy.js";
import { TestServiceBusBroker } from "../support/service-bus-broker.js";
import { RecordingHubConnection } from "../support/signalr-client.js";
import { uniqueTableName } from "../support/tables.js";

const QUEUE = "orders";
const TOPIC = "order-events";
const NAMES = ["a", "b", "c"] as const;
type Name = (typeof NAMES)[number];

let broker: TestServiceBusBroker;
let proxy: RoundRobinProxy;
const table = uniqueTableName("R");
const instances = new Map<Name, Service>();
const connections: RecordingHubConnection[] = [];

async function start(name: Name): Promise<Service> {
	const service = await startService({
		TableStorage__ConnectionString: inject("azuriteConnectionString"),
		TableStorage__TableName: table,
		ServiceBus__ConnectionString: broker.connectionString,
		ServiceBus__QueueName: QUEUE,
		ServiceBus__TopicName: TOPIC,
		ServiceBus__SubscriptionName: name,
		TableStorage__TimeoutMs: "1000",
		Events__LeaseSeconds: "2",
		Events__SweepSeconds: "1",
		Hub__CoalesceMs: "0",
	});
	instances.set(name, service);
	return service;
}

const url = (name: Name) => (instances.get(name) as Service).baseUrl;
const backends = () => NAMES.map(url);

async function connect(
	path = "/orderHub",
	options: ConstructorParameters<typeof RecordingHubConnection>[1] = {},
) {
	const c = new RecordingHubConnection(`${proxy.baseUrl}${path}`, options);
	connections.push(c);
	await c.start();
	return c;
}

/** SignalR subscribers on every instance together. */
async function signalRSubscribers(): Promise<number> {
	const counts = await Promise.all(
		NAMES.map(
			async (n) =>
				((await (await fetch(`${url(n)}/orderHub/stats`)).json()) as { subscribers: number }).subscribers,
		),
	);
	return counts.reduce((a, b) => a + b, 0);
}

beforeAll(async () => {
	broker = await TestServiceBusBroker.start({ lockDurationMs: 5000 });
	for (const name of NAMES) broker.createSubscription(TOPIC, name);
	await Promise.all(NAMES.map((n) => start(n)));
	proxy = await RoundRobinProxy.start(backends());
}, 60_000);

afterAll(async () => {
	await Promise.all(connections.map((c) => c.stop()));
	await proxy?.close();
	for (const s of instances.values()) {
		s.child.kill("SIGTERM");
		await s.exited;
	}
	await broker?.close();
});

describe("SignalR behind a round-robin proxy of three instances", () => {
	it("connects with its requests spread over the instances and receives changes applied on any of them", async () => {
		onTestFailed(() => console.error(proxy.routed));
		const from = proxy.routed.length;
		const byDefault = await connect();
		const sse = await connect("/orderHub", { transport: "sse" });
		// Negotiate, the stream and the handshake of one connection went to different instances.
		const first = proxy.routed.slice(from, from + 3);
		expect(first.map((r) => r.method)).toEqual(["POST", "GET", "POST"]);
		expect(new Set(first.map((r) => r.backend)).size).toBe(3);

		const orders: Order[] = [];
		for (const name of NAMES)
			orders.push(await createOrder(url(name), { customerName: name, productName: "p" }));
		for (const [i, o] of orders.entries()) {
			expect((await putStatus(url(NAMES[(i + 1) % 3] as Name), o.orderId, "Processing")).status).toBe(202);
		}
		for (const c of [byDefault, sse]) {
			await vi.waitFor(
				() => {
					for (const o of orders) expect(c.statusesOf(o.orderId)).toEqual(["Pending", "Processing"]);
				},
				{ timeout: 20_000, interval: 100 },
			);
			expect(c.received.filter((r) => r.target === "ReceiveOrderUpdate")).toHaveLength(3);
		}
	}, 60_000);

	it("answers an invocation posted to another instance than the stream's with an error, and stays connected", async () => {
		const c = await connect();
		// Three invocations: whichever instance holds the stream, two of them land elsewhere.
		for (let i = 0; i < 3; i++) {
			await expect(c.connection.invoke("Broadcast", i)).rejects.toThrow(/no methods a client may call/);
		}
		const marker = await createOrder(url("b"), { customerName: "marker", productName: "p" });
		await vi.waitFor(() => expect(c.statusesOf(marker.orderId)).toEqual(["Pending"]), { timeout: 15_000 });
		expect(c.connected).toBe(true);
		expect(c.closes).toEqual([]);
	}, 60_000);

	it("releases the server side on stop(), and ends a stream held elsewhere on DELETE", async () => {
		const before = await signalRSubscribers();
		const c = await connect();
		await vi.waitFor(async () => expect(await signalRSubscribers()).toBe(before + 1));
		await c.stop();
		await vi.waitFor(async () => expect(await signalRSubscribers()).toBe(before), { timeout: 10_000 });

		// Raw protocol: negotiate, open the stream, then DELETE through the proxy (another instance).
		const negotiated = (await (
			await fetch(`${proxy.baseUrl}/orderHub/negotiate?negotiateVersion=1`, { method: "POST" })
		).json()) as { connectionToken: string };
		const stream = await fetch(`${proxy.baseUrl}/orderHub?id=${negotiated.connectionToken}`);
		expect(stream.status).toBe(200);
		await vi.waitFor(async () => expect(await signalRSubscribers()).toBe(before + 1));
		const ended = await fetch(`${proxy.baseUrl}/orderHub?id=${negotiated.connectionToken}`, {
			method: "DELETE",
		});
		expect(ended.status).toBe(202);
		await vi.waitFor(async () => expect(await signalRSubscribers()).toBe(before), { timeout: 10_000 });
		await stream.body?.cancel();
	}, 60_000);

	it("stays connected through 40 s of silence", async () => {
		const c = await connect();
		await new Promise((r) => setTimeout(r, 40_000));
		expect(c.reconnecting).toEqual([]);
		const marker = await createOrder(url("c"), { customerName: "quiet", productName: "p" });
		await vi.waitFor(() => expect(c.statusesOf(marker.orderId)).toEqual(["Pending"]), { timeout: 15_000 });
	}, 70_000);

	it("reconnects on its own after every instance restarts", async () => {
		const c = await connect();
		for (const name of NAMES) {
			const s = instances.get(name) as Service;
			s.child.kill("SIGTERM");
			await s.exited;
		}
		await vi.waitFor(() => expect(c.reconnecting.length).toBe(1), { timeout: 15_000 });
		await Promise.all(NAMES.map((n) => start(n)));
		proxy.setBackends(backends());
		await vi.waitFor(() => expect(c.reconnected.length).toBe(1), { timeout: 60_000, interval: 200 });
		const marker = await createOrder(url("a"), { customerName: "back", productName: "p" });
		await vi.waitFor(() => expect(c.statusesOf(marker.orderId)).toEqual(["Pending"]), { timeout: 15_000 });
		expect(c.closes).toEqual([]);
	}, 120_000);
});
