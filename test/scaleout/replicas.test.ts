// Replicas from one configuration: three real Node processes (`node --import tsx src/node.ts`, as
// `npm start` runs it) started with one identical environment, as Container Apps, App Service and
// AKS start replicas: the same ServiceBus:SubscriptionName (so the test broker hands each topic
// message to one of them), or no topic at all. Real EventSource clients on each. Every subscriber
// must get every event once, in per-order order, and the delay they add over an instance with a
// subscription of its own is measured (printed, and bounded for a busy machine).
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { createOrder, putStatus } from "../support/orders-client.js";
import { type Service, startService } from "../support/process.js";
import { TestServiceBusBroker } from "../support/service-bus-broker.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { uniqueTableName } from "../support/tables.js";

const TOPIC = "order-events";
const EVENT_TYPES = ["OrderCreated", "ReceiveOrderUpdate"];

let broker: TestServiceBusBroker;
const services: Service[] = [];
const clients: RecordingEventSource[] = [];

/** A subscriber that also notes when each event arrived (ms, this process's clock). */
function subscribe(service: Service): { client: RecordingEventSource; arrivedAt: Map<string, number> } {
	const client = new RecordingEventSource(`${service.baseUrl}/orderHub`);
	const arrivedAt = new Map<string, number>();
	for (const type of EVENT_TYPES) {
		client.source.addEventListener(type, (e) => {
			if (!arrivedAt.has(e.lastEventId)) arrivedAt.set(e.lastEventId, performance.now());
		});
	}
	clients.push(client);
	return { client, arrivedAt };
}
type Subscriber = ReturnType<typeof subscribe>;

async function startAll(envs: Record<string, string>[]): Promise<Service[]> {
	const started = await Promise.all(envs.map((env) => startService(env, { timeoutMs: 60_000 })));
	services.push(...started);
	return started;
}

async function stop(group: Service[]): Promise<void> {
	for (const s of group) {
		s.child.kill("SIGTERM");
		await s.exited;
	}
}

async function ready(service: Service): Promise<Record<string, unknown>> {
	const body = (await (await fetch(`${service.baseUrl}/health/ready`)).json()) as {
		checks: { events: Record<string, unknown> };
	};
	return body.checks.events;
}

/** One group's environment: its own table and status queue (a group left running harms no other). */
function envOf(table: string, feed: { topic?: string; subscription?: string }): Record<string, string> {
	return {
		TableStorage__ConnectionString: inject("azuriteConnectionString"),
		TableStorage__TableName: table,
		ServiceBus__ConnectionString: broker.connectionString,
		ServiceBus__QueueName: `${table}-status`,
		...(feed.topic ? { ServiceBus__TopicName: feed.topic } : {}),
		...(feed.subscription ? { ServiceBus__SubscriptionName: feed.subscription } : {}),
	};
}

const statusOf = async (service: Service, orderId: string) =>
	((await (await fetch(`${service.baseUrl}/api/orders/${orderId}`)).json()) as Order).status;

/**
 * Traffic as a user makes it: creates through every replica in turn with pauses of 0-400 ms (so
 * the log is tailed both in bursts and after idle moments), then two changes of some orders, each
 * waited for.
 */
async function traffic(replicas: Service[], creates: number, changed: number): Promise<Order[]> {
	const orders: Order[] = [];
	for (let i = 0; i < creates; i++) {
		const via = replicas[i % replicas.length] as Service;
		orders.push(await createOrder(via.baseUrl, { customerName: `r${i}`, productName: "p" }));
		await new Promise((r) => setTimeout(r, Math.random() * 400));
	}
	for (const [i, o] of orders.slice(0, changed).entries()) {
		for (const [k, status] of ["Processing", "Shipped"].entries()) {
			const via = replicas[(i + k + 1) % replicas.length] as Service;
			expect((await putStatus(via.baseUrl, o.orderId, status)).status).toBe(202);
			await vi.waitFor(async () => expect(await statusOf(via, o.orderId)).toBe(status), {
				timeout: 15_000,
				interval: 20,
			});
		}
	}
	return orders;
}

/** Every subscriber got every event once, the same ids, each order's events in the order applied. */
function expectEveryEventOnce(subs: Subscriber[], orders: Order[], changed: number, total: number) {
	const reference = subs[0]?.client.events.map((e) => e.id).sort();
	for (const { client } of subs) {
		const events = client.events.filter((e) => e.type !== "reset");
		expect(events).toHaveLength(total);
		expect(new Set(events.map((e) => e.id)).size).toBe(total);
		expect(events.map((e) => e.id).sort()).toEqual(reference);
		for (const [i, o] of orders.entries()) {
			const statuses = events.filter((e) => e.data.orderId === o.orderId).map((e) => e.data.status);
			expect(statuses).toEqual(i < changed ? ["Pending", "Processing", "Shipped"] : ["Pending"]);
		}
		const positions = events.map((e) => Number(e.id.split("-")[1]));
		expect(positions).toEqual([...positions].sort((x, y) => x - y)); // in log order
	}
}

function percentile(sorted: number[], p: number): number {
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Added delay of `subs` per event over `baseline(id)`, as p50/p99/max in ms. */
function addedDelay(subs: Subscriber[], baseline: (id: string) => number) {
	const added: number[] = [];
	for (const { arrivedAt } of subs) for (const [id, at] of arrivedAt) added.push(at - baseline(id));
	added.sort((a, b) => a - b);
	const round = (n: number) => Math.round(n);
	return {
		samples: added.length,
		p50: round(percentile(added, 50)),
		p99: round(percentile(added, 99)),
		max: round(added.at(-1) as number),
	};
}

beforeAll(async () => {
	broker = await TestServiceBusBroker.start({ lockDurationMs: 5000 });
	broker.createSubscription(TOPIC, "replicas");
	broker.createSubscription(TOPIC, "own");
}, 30_000);

afterAll(async () => {
	for (const c of clients) c.close();
	await stop(services.filter((s) => s.child.exitCode === null && s.child.signalCode === null));
	await broker?.close();
});

const CREATES = 120;
const CHANGED = 10;
const TOTAL = CREATES + 2 * CHANGED;

describe("three replicas with one identical configuration", () => {
	it("one shared subscription: detected, and every event reaches every subscriber once, at most ~150 ms (plus a read) after an instance with its own", async () => {
		const table = uniqueTableName("R");
		const same = envOf(table, { topic: TOPIC, subscription: "replicas" });
		const group = await startAll([same, same, same, envOf(table, { topic: TOPIC, subscription: "own" })]);
		const replicas = group.slice(0, 3);
		const own = group[3] as Service;

		// Detected: readiness says so on each replica (within a few heartbeats), and the log once.
		for (const r of replicas) {
			await vi.waitFor(
				async () =>
					expect(await ready(r)).toMatchObject({
						status: "ok",
						feed: "service-bus-topic",
						instances: 4,
						fastTail: true,
						sharedSubscription: { name: "replicas", instances: 3 },
					}),
				{ timeout: 30_000, interval: 200 },
			);
			expect(r.output()).toMatch(/3 instances share subscription replicas of topic order-events/);
		}
		await vi.waitFor(async () => expect(await ready(own)).toMatchObject({ status: "ok", instances: 4 }), {
			timeout: 20_000,
			interval: 200,
		});
		const ownReadiness = await ready(own);
		expect(ownReadiness).toMatchObject({ fastTail: false });
		expect(ownReadiness).not.toHaveProperty("sharedSubscription");
		expect(own.output()).not.toMatch(/share subscription/);

		const ownSub = subscribe(own);
		const subs = replicas.flatMap((r) => [subscribe(r), subscribe(r)]);
		await Promise.all([ownSub, ...subs].map((s) => s.client.opened()));
		const orders = await traffic(replicas, CREATES, CHANGED);
		for (const s of [ownSub, ...subs]) {
			await vi.waitFor(() => expect(s.client.events.length).toBeGreaterThanOrEqual(TOTAL), {
				timeout: 20_000,
			});
		}
		expectEveryEventOnce([ownSub, ...subs], orders, CHANGED, TOTAL);

		const delay = addedDelay(subs, (id) => ownSub.arrivedAt.get(id) as number);
		console.log(
			`shared subscription, added delay over an instance with its own (ms): ${JSON.stringify(delay)}`,
		);
		// The goal is p99 <= 300 ms (docs/scale-out.md has the figures: p99 ~160-340 ms here); the
		// bound leaves room for a machine busy with other work. Without the fast tail it measured
		// p50 183 ms, p99 832 ms.
		expect(delay.p50).toBeLessThanOrEqual(150);
		expect(delay.p99).toBeLessThanOrEqual(500);

		for (const c of clients) c.close();
		await stop(group);
		// A stopped replica removes its heartbeat row: the others would see one less at once.
	}, 240_000);

	it("no topic: every event reaches every subscriber once, at most ~150 ms (plus a read) after the instance that logged it", async () => {
		const table = uniqueTableName("N");
		const same = envOf(table, {});
		const replicas = await startAll([same, same, same]);
		for (const r of replicas) {
			expect(r.output()).toMatch(/ServiceBus:TopicName is not set/);
			await vi.waitFor(
				async () =>
					expect(await ready(r)).toMatchObject({
						status: "ok",
						feed: "in-process",
						instances: 3,
						fastTail: true,
					}),
				{ timeout: 30_000, interval: 200 },
			);
			expect(await ready(r)).not.toHaveProperty("sharedSubscription");
		}
		const subs = replicas.map((r) => subscribe(r));
		await Promise.all(subs.map((s) => s.client.opened()));
		const orders = await traffic(replicas, CREATES, CHANGED);
		for (const s of subs) {
			await vi.waitFor(() => expect(s.client.events.length).toBeGreaterThanOrEqual(TOTAL), {
				timeout: 20_000,
			});
		}
		expectEveryEventOnce(subs, orders, CHANGED, TOTAL);

		// Baseline: the first arrival of each event, which is at the instance that logged it (its
		// in-process feed hands it over at once, faster than a topic would); the others add to it.
		const first = (id: string) => Math.min(...subs.map((s) => s.arrivedAt.get(id) as number));
		const delays = addedDelay(subs, first);
		// Each event counts once per subscriber, the logging instance's own 0 included: the 2/3 that
		// came through the log tail are the rest.
		console.log(`no topic, added delay over the instance that logged it (ms): ${JSON.stringify(delays)}`);
		// Measured p99 ~170-180 ms; without the fast tail 634 ms (the own events' gap reads find some
		// of the others' events before the 1 s poll does).
		expect(delays.p99).toBeLessThanOrEqual(500);
		await stop(replicas);
	}, 240_000);
});
