// Several instances, one stream: three real Node processes (`node --import tsx src/node.ts`, as
// `npm start` runs it) share one table (Azurite) and one Service Bus namespace (the test broker:
// a status queue, and an events topic with a subscription per instance). Real EventSource clients
// on each. Every subscriber must get every event once, in per-order order, and resume anywhere.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { createOrder, putStatus } from "../support/orders-client.js";
import { type Service, startService } from "../support/process.js";
import { TestServiceBusBroker } from "../support/service-bus-broker.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { uniqueTableName } from "../support/tables.js";

const QUEUE = "orders";
const TOPIC = "order-events";
const NAMES = ["a", "b", "c"] as const;
type Name = (typeof NAMES)[number];

let broker: TestServiceBusBroker;
const table = uniqueTableName("S");
const instances = new Map<Name, Service>();
const clients: RecordingEventSource[] = [];

function envFor(name: Name): Record<string, string> {
	return {
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
	};
}

async function start(name: Name): Promise<Service> {
	const service = await startService(envFor(name));
	instances.set(name, service);
	return service;
}

const url = (name: Name) => (instances.get(name) as Service).baseUrl;

function subscribe(name: Name, lastEventId?: string): RecordingEventSource {
	const c = new RecordingEventSource(
		`${url(name)}/orderHub`,
		lastEventId ? { headers: { "Last-Event-ID": lastEventId } } : {},
	);
	clients.push(c);
	return c;
}

async function statusOf(name: Name, orderId: string): Promise<string> {
	return ((await (await fetch(`${url(name)}/api/orders/${orderId}`)).json()) as Order).status;
}

/** PUT through `via`, then wait until the change is applied (by whichever instance took it). */
async function change(via: Name, orderId: string, status: string): Promise<void> {
	expect((await putStatus(url(via), orderId, status)).status).toBe(202);
	await vi.waitFor(async () => expect(await statusOf(via, orderId)).toBe(status), {
		timeout: 15_000,
		interval: 50,
	});
}

/** Each client got each event once: no id twice, no (order, status) twice. */
function expectNoDuplicates(c: RecordingEventSource) {
	const events = c.events.filter((e) => e.type !== "reset");
	expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
	const keys = events.map((e) => `${e.data.orderId}:${e.data.status}`);
	expect(new Set(keys).size).toBe(keys.length);
}

/** The statuses a client saw for `orderId`, in the order it saw them. */
const seen = (c: RecordingEventSource, orderId: string) =>
	c.events.filter((e) => e.data.orderId === orderId).map((e) => e.data.status);

beforeAll(async () => {
	broker = await TestServiceBusBroker.start({ lockDurationMs: 5000 });
	for (const name of NAMES) broker.createSubscription(TOPIC, name);
	await Promise.all(NAMES.map((n) => start(n)));
}, 60_000);

afterAll(async () => {
	for (const c of clients) c.close();
	for (const s of instances.values()) {
		s.child.kill("SIGTERM");
		await s.exited;
	}
	await broker?.close();
});

describe("three instances, one table, one namespace", () => {
	it("delivers every create and change made through any instance to every subscriber once, in per-order order", async () => {
		const subs = NAMES.map((n) => subscribe(n));
		await Promise.all(subs.map((s) => s.opened()));
		const orders: Order[] = [];
		for (const [i, name] of [...NAMES, ...NAMES].entries()) {
			orders.push(await createOrder(url(name), { customerName: `c${i}`, productName: "p" }));
		}
		// Two changes per order, each through another instance than the last.
		for (const [i, o] of orders.entries()) {
			await change(NAMES[(i + 1) % 3] as Name, o.orderId, "Processing");
			await change(NAMES[(i + 2) % 3] as Name, o.orderId, "Shipped");
		}
		for (const s of subs) {
			await vi.waitFor(() => expect(s.events).toHaveLength(18), { timeout: 15_000 });
		}
		for (const s of subs) {
			expectNoDuplicates(s);
			for (const o of orders) expect(seen(s, o.orderId)).toEqual(["Pending", "Processing", "Shipped"]);
		}
		// The ids mean the same everywhere: every subscriber saw the same id for the same event.
		const idsOf = (s: RecordingEventSource) =>
			s.events.map((e) => `${e.id}=${e.data.orderId}:${e.data.status}`).sort();
		expect(idsOf(subs[1] as RecordingEventSource)).toEqual(idsOf(subs[0] as RecordingEventSource));
		expect(idsOf(subs[2] as RecordingEventSource)).toEqual(idsOf(subs[0] as RecordingEventSource));
		for (const s of subs) s.close();
	}, 120_000);

	it("resumes a client on another instance with Last-Event-ID: exactly what it missed, no reset", async () => {
		const first = subscribe("a");
		await first.opened();
		const before = await createOrder(url("b"), { customerName: "moving", productName: "p" });
		await vi.waitFor(() => expect(seen(first, before.orderId)).toEqual(["Pending"]));
		const lastId = first.events.at(-1)?.id as string;
		first.close(); // the client's instance goes away; meanwhile things happen

		const missed = await createOrder(url("c"), { customerName: "missed", productName: "p" });
		await change("a", before.orderId, "Cancelled");

		const moved = subscribe("b", lastId);
		await vi.waitFor(() => expect(moved.events.length).toBeGreaterThanOrEqual(2));
		// A marker after the replay, to know nothing more is coming from it.
		const marker = await createOrder(url("a"), { customerName: "marker", productName: "p" });
		await vi.waitFor(() => expect(seen(moved, marker.orderId)).toEqual(["Pending"]));
		expect(moved.of("reset")).toEqual([]);
		expect(moved.events.map((e) => [e.data.orderId, e.data.status])).toEqual([
			[missed.orderId, "Pending"],
			[before.orderId, "Cancelled"],
			[marker.orderId, "Pending"],
		]);
		moved.close();
	}, 60_000);

	it("resumes a client on a restarted instance from the durable log, no reset", async () => {
		const client = subscribe("c");
		await client.opened();
		const o = await createOrder(url("c"), { customerName: "restart", productName: "p" });
		await vi.waitFor(() => expect(seen(client, o.orderId)).toEqual(["Pending"]));
		const lastId = client.events.at(-1)?.id as string;
		client.close();

		const c = instances.get("c") as Service;
		c.child.kill("SIGTERM");
		await c.exited;
		await change("a", o.orderId, "Processing"); // while c is down
		await start("c");

		const resumed = subscribe("c", lastId);
		const marker = await createOrder(url("b"), { customerName: "marker2", productName: "p" });
		await vi.waitFor(() => expect(seen(resumed, marker.orderId)).toEqual(["Pending"]), { timeout: 15_000 });
		expect(resumed.of("reset")).toEqual([]);
		expect(resumed.events.map((e) => [e.data.orderId, e.data.status])).toEqual([
			[o.orderId, "Processing"],
			[marker.orderId, "Pending"],
		]);
		resumed.close();
	}, 60_000);

	it("loses nothing when the instance that accepted a change is killed with SIGKILL", async () => {
		const survivors = (["a", "b"] as const).map((n) => subscribe(n));
		await Promise.all(survivors.map((s) => s.opened()));
		const orders = await Promise.all(
			[0, 1, 2, 3].map((i) => createOrder(url("a"), { customerName: `k${i}`, productName: "p" })),
		);
		// Changes accepted by c, which is killed at once: some are still on the queue, some applied.
		const accepted = await Promise.all(orders.map((o) => putStatus(url("c"), o.orderId, "Shipped")));
		expect(accepted.map((r) => r.status)).toEqual([202, 202, 202, 202]);
		const c = instances.get("c") as Service;
		c.child.kill("SIGKILL");
		await c.exited;
		for (const s of survivors) {
			await vi.waitFor(
				() => {
					for (const o of orders) expect(seen(s, o.orderId)).toEqual(["Pending", "Shipped"]);
				},
				{ timeout: 30_000, interval: 100 },
			);
			expectNoDuplicates(s);
		}
		for (const s of survivors) s.close();
		await start("c");
	}, 90_000);

	it("loses and doubles nothing when the broker drops every connection mid-stream", async () => {
		const subs = NAMES.map((n) => subscribe(n));
		await Promise.all(subs.map((s) => s.opened()));
		const orders: Order[] = [];
		for (let i = 0; i < 12; i++) {
			orders.push(await createOrder(url(NAMES[i % 3] as Name), { customerName: `d${i}`, productName: "p" }));
			if (i === 5) broker.dropConnections();
		}
		for (const [i, o] of orders.entries()) {
			expect((await putStatus(url(NAMES[(i + 1) % 3] as Name), o.orderId, "Processing")).status).toBe(202);
			if (i === 6) broker.dropConnections();
		}
		for (const s of subs) {
			await vi.waitFor(
				() => {
					for (const o of orders) expect(seen(s, o.orderId)).toEqual(["Pending", "Processing"]);
				},
				{ timeout: 30_000, interval: 100 },
			);
			expectNoDuplicates(s);
		}
		for (const s of subs) s.close();
	}, 90_000);

	it("delivers every event once to a client whose replay races live publishing", async () => {
		const anchor = subscribe("a");
		await anchor.opened();
		const first = await createOrder(url("a"), { customerName: "race", productName: "p" });
		await vi.waitFor(() => expect(seen(anchor, first.orderId)).toEqual(["Pending"]));
		const lastId = anchor.events.at(-1)?.id as string;
		anchor.close();
		// A burst on all three instances while the client reconnects mid-way.
		const burst: Promise<Order>[] = [];
		let racer: RecordingEventSource | undefined;
		for (let i = 0; i < 30; i++) {
			burst.push(createOrder(url(NAMES[i % 3] as Name), { customerName: `r${i}`, productName: "p" }));
			if (i === 10) racer = subscribe("b", lastId);
		}
		const created = await Promise.all(burst);
		const client = racer as RecordingEventSource;
		await vi.waitFor(
			() => {
				for (const o of created) expect(seen(client, o.orderId)).toEqual(["Pending"]);
			},
			{ timeout: 20_000 },
		);
		expect(client.of("reset")).toEqual([]);
		expectNoDuplicates(client);
		const positions = client.events.map((e) => Number(e.id.split("-")[1]));
		expect(positions).toEqual([...positions].sort((x, y) => x - y)); // in log order
		client.close();
	}, 60_000);
});
