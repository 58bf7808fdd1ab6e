// SignalR clients without sticky sessions in front of replicas from one configuration: three real
// Node processes started with one identical environment (one shared ServiceBus:SubscriptionName,
// so the test broker hands each topic message to one of them; or no topic at all), behind a proxy
// that sends every request to the next instance in turn. A POST or DELETE that lands on an instance
// other than the stream's reaches the holder through the event log's table (src/events/control.ts):
// every invocation of the real @microsoft/signalr client is answered, and a DELETE ends the stream.
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed, vi } from "vitest";
import { createOrder } from "../support/orders-client.js";
import { type Service, startService } from "../support/process.js";
import { RoundRobinProxy } from "../support/round-robin-proxy.js";
import { TestServiceBusBroker } from "../support/service-bus-broker.js";
import { RecordingHubConnection } from "../support/signalr-client.js";
import { uniqueTableName } from "../support/tables.js";

const TOPIC = "order-events";

let broker: TestServiceBusBroker;
const services: Service[] = [];
const proxies: RoundRobinProxy[] = [];
const connections: RecordingHubConnection[] = [];

beforeAll(async () => {
	broker = await TestServiceBusBroker.start({ lockDurationMs: 5000 });
	broker.createSubscription(TOPIC, "replicas");
}, 30_000);

afterAll(async () => {
	await Promise.all(connections.map((c) => c.stop()));
	for (const p of proxies) await p.close();
	for (const s of services) {
		if (s.child.exitCode !== null || s.child.signalCode !== null) continue;
		s.child.kill("SIGTERM");
		await s.exited;
	}
	await broker?.close();
});

async function readiness(service: Service): Promise<Record<string, unknown>> {
	const body = (await (await fetch(`${service.baseUrl}/health/ready`)).json()) as {
		checks: { events: Record<string, unknown> };
	};
	return body.checks.events;
}

async function subscribers(group: Service[]): Promise<number> {
	const counts = await Promise.all(
		group.map(
			async (s) =>
				((await (await fetch(`${s.baseUrl}/orderHub/stats`)).json()) as { subscribers: number }).subscribers,
		),
	);
	return counts.reduce((a, b) => a + b, 0);
}

/** Rejects when `promise` has not settled within `ms` (an unanswered invocation hangs forever). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
	return Promise.race([
		promise,
		new Promise<T>((_, reject) =>
			setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref(),
		),
	]);
}

const configurations: { name: string; feed: Record<string, string> }[] = [
	{
		name: "one shared subscription",
		feed: { ServiceBus__TopicName: TOPIC, ServiceBus__SubscriptionName: "replicas" },
	},
	{ name: "no topic", feed: {} },
];

describe.each(configurations)(
	"SignalR through a round-robin proxy, three replicas with $name",
	({ feed }) => {
		let group: Service[];
		let proxy: RoundRobinProxy;

		beforeAll(async () => {
			const table = uniqueTableName("C");
			const env = {
				TableStorage__ConnectionString: inject("azuriteConnectionString"),
				TableStorage__TableName: table,
				ServiceBus__ConnectionString: broker.connectionString,
				ServiceBus__QueueName: `${table}-status`,
				Hub__CoalesceMs: "0",
				...feed,
			};
			group = await Promise.all([env, env, env].map((e) => startService(e, { timeoutMs: 60_000 })));
			services.push(...group);
			// Each knows the others (their heartbeat rows) and that its feed is partial.
			for (const s of group) {
				await vi.waitFor(
					async () => expect(await readiness(s)).toMatchObject({ instances: 3, fastTail: true }),
					{
						timeout: 30_000,
						interval: 200,
					},
				);
			}
			proxy = await RoundRobinProxy.start(group.map((s) => s.baseUrl));
			proxies.push(proxy);
		}, 120_000);

		it("answers every invocation, wherever it lands, with an error, and stays connected", async () => {
			onTestFailed(() => console.error(proxy.routed, ...group.map((s) => s.output())));
			const from = proxy.routed.length;
			const c = new RecordingHubConnection(`${proxy.baseUrl}/orderHub`);
			connections.push(c);
			await c.start();
			const holder = proxy.routed[from + 1];
			expect(holder?.method).toBe("GET");
			const holding = group[holder?.backend ?? -1] as Service;
			// The holder reads the table while it holds a SignalR stream (and only then).
			await vi.waitFor(
				async () => expect(await readiness(holding)).toMatchObject({ controlFromTable: true }),
				{
					timeout: 10_000,
				},
			);

			const invocationsFrom = proxy.routed.length;
			const answeredInMs: number[] = [];
			for (let i = 0; i < 5; i++) {
				const sent = performance.now();
				await expect(within(c.connection.invoke("Broadcast", i), 15_000)).rejects.toThrow(
					/no methods a client may call/,
				);
				answeredInMs.push(Math.round(performance.now() - sent));
			}
			console.log(`invocations answered in (ms): ${answeredInMs.join(", ")}`);
			const elsewhere = proxy.routed
				.slice(invocationsFrom)
				.filter((r) => r.method === "POST" && r.backend !== holder?.backend);
			expect(elsewhere.length).toBeGreaterThanOrEqual(3);

			const marker = await createOrder((group[0] as Service).baseUrl, {
				customerName: "marker",
				productName: "p",
			});
			await vi.waitFor(() => expect(c.statusesOf(marker.orderId)).toEqual(["Pending"]), { timeout: 15_000 });
			expect(c.connected).toBe(true);
			expect(c.closes).toEqual([]);

			// stop() sends a DELETE (to whichever instance is next): the stream is released.
			await c.stop();
			await vi.waitFor(async () => expect(await subscribers(group)).toBe(0), { timeout: 15_000 });
			// Holding no SignalR stream, the holder stops reading the table.
			await vi.waitFor(async () => expect(await readiness(holding)).not.toHaveProperty("controlFromTable"), {
				timeout: 10_000,
			});
		}, 120_000);

		it("ends a stream held elsewhere on DELETE", async () => {
			// Raw protocol: negotiate, the stream, then the DELETE land on three different instances.
			const negotiated = (await (
				await fetch(`${proxy.baseUrl}/orderHub/negotiate?negotiateVersion=1`, { method: "POST" })
			).json()) as { connectionToken: string };
			const stream = await fetch(`${proxy.baseUrl}/orderHub?id=${negotiated.connectionToken}`);
			expect(stream.status).toBe(200);
			await vi.waitFor(async () => expect(await subscribers(group)).toBe(1), { timeout: 10_000 });
			const from = proxy.routed.length;
			const ended = await fetch(`${proxy.baseUrl}/orderHub?id=${negotiated.connectionToken}`, {
				method: "DELETE",
			});
			expect(ended.status).toBe(202);
			const streamRoute = proxy.routed.findLast((r) => r.method === "GET" && r.url.includes("id="));
			expect(proxy.routed[from]?.backend).not.toBe(streamRoute?.backend);
			await vi.waitFor(async () => expect(await subscribers(group)).toBe(0), { timeout: 15_000 });
			// The stream itself ended (the client sees its end, not only the count).
			const rest = await within(new Response(stream.body).text(), 10_000);
			expect(rest).toContain("{}\u001e");
		}, 60_000);
	},
);
