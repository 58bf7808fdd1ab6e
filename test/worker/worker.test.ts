// The Worker in workerd (wrangler dev, offline): /orderHub through the Durable Object hub with a
// real EventSource client, Azure Tables from workerd, and the Service Bus REST send checked by a
// local endpoint that verifies the SAS signature.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { ServiceBusRestEntity, ServiceBusRestQueue } from "../../src/queue/service-bus-rest.js";
import { createAzureTablesStore } from "../../src/storage/azure-tables.js";
import { createOrder, putStatus } from "../support/orders-client.js";
import { type RestBroker, startRestBroker } from "../support/service-bus-rest-broker.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { uniqueTableName } from "../support/tables.js";
import { freePort, type RunningWorker, startWorker } from "../support/workerd.js";
import type { ResetOptions } from "./harness.js";

let worker: RunningWorker;
let broker: RestBroker;
const clients: RecordingEventSource[] = [];
beforeAll(async () => {
	[worker, broker] = await Promise.all([
		// A 1 s heartbeat: workerd notices a client that went away at the next write.
		startWorker({ script: "test/worker/harness.ts", vars: { Hub__HeartbeatMs: "1000" } }),
		startRestBroker(),
	]);
}, 60_000);
afterAll(async () => {
	for (const c of clients.splice(0)) c.close();
	await worker?.stop();
	await broker?.close();
});

const url = (path: string) => `${worker.baseUrl}${path}`;

/** Vars for a Worker on Azurite and the REST test broker: its hub object receives from `queueName`. */
function serviceBusVars(tableName: string, queueName: string, key?: string): Record<string, string> {
	return {
		TableStorage__ConnectionString: inject("azuriteConnectionString"),
		TableStorage__TableName: tableName,
		ServiceBus__ConnectionString: broker.connectionString(key),
		ServiceBus__QueueName: queueName,
	};
}
function subscribe(path: string, headers?: Record<string, string>) {
	const c = new RecordingEventSource(url(path), headers ? { headers } : {});
	clients.push(c);
	return c;
}
const create = (body: Record<string, string>) => createOrder(worker.baseUrl, body);
const setStatus = (orderId: string, status: string) => putStatus(worker.baseUrl, orderId, status);
async function subscribers(): Promise<number> {
	return ((await (await fetch(url("/orderHub/stats"))).json()) as { subscribers: number }).subscribers;
}
async function reset(options: ResetOptions) {
	const res = await fetch(url("/__test/reset"), { method: "POST", body: JSON.stringify(options) });
	expect(res.status).toBe(204);
}

describe("/orderHub in workerd (the real entry, hub in a Durable Object)", () => {
	it("streams OrderCreated and ReceiveOrderUpdate to matching subscribers, with ids and CORS", async () => {
		const all = subscribe("/orderHub", { Origin: "http://localhost:3000" });
		const eu = subscribe("/orderHub?partitionKey=EU");
		await Promise.all([all.opened(), eu.opened()]);
		const a = await create({ customerName: "Ann", productName: "Tea", partitionKey: "EU" });
		const b = await create({ customerName: "Bob", productName: "Ink", partitionKey: "US" });
		expect((await setStatus(a.orderId, "Shipped")).status).toBe(202);

		await vi.waitFor(() => expect(all.events).toHaveLength(3), { timeout: 5000 });
		expect(all.events.map((e) => [e.type, e.data.orderId, e.data.status])).toEqual([
			["OrderCreated", a.orderId, "Pending"],
			["OrderCreated", b.orderId, "Pending"],
			["ReceiveOrderUpdate", a.orderId, "Shipped"],
		]);
		expect(all.events[2]?.data).toMatchObject({ previousStatus: "Pending", messageId: expect.any(String) });
		expect(new Set(all.events.map((e) => e.id)).size).toBe(3);
		await vi.waitFor(() => expect(eu.events).toHaveLength(2), { timeout: 5000 });
		expect(eu.events.every((e) => e.data.orderId === a.orderId)).toBe(true);

		const head = await fetch(url("/orderHub"), { headers: { Origin: "http://localhost:3000" } });
		expect(head.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
		expect(head.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
		expect(head.headers.get("access-control-allow-credentials")).toBeNull();
		await head.body?.cancel();
		// The hub object's other answers reach a browser on an allowed origin too.
		for (const [path, status] of [
			["/orderHub/stats", 200],
			["/orderHub?partitionKey=a%2Fb", 400],
		] as const) {
			const res = await fetch(url(path), { headers: { Origin: "http://localhost:3000" } });
			expect(res.status, path).toBe(status);
			expect(res.headers.get("access-control-allow-origin"), path).toBe("http://localhost:3000");
			await res.body?.cancel();
		}
	});

	it("replays what a client missed after Last-Event-ID, and sends reset for an unknown id", async () => {
		const first = subscribe("/orderHub");
		await first.opened();
		const a = await create({ customerName: "Cy", productName: "Pen" });
		await vi.waitFor(() => expect(first.events).toHaveLength(1), { timeout: 5000 });
		const lastSeen = first.events[0]?.id as string;
		first.close();
		expect((await setStatus(a.orderId, "Processing")).status).toBe(202);
		expect((await setStatus(a.orderId, "Shipped")).status).toBe(202);
		await vi.waitFor(async () => {
			const order = (await (await fetch(url(`/api/orders/${a.orderId}`))).json()) as Order;
			expect(order.status).toBe("Shipped");
		});

		const resumed = subscribe("/orderHub", { "Last-Event-ID": lastSeen });
		await vi.waitFor(() => expect(resumed.events).toHaveLength(2), { timeout: 5000 });
		expect(resumed.events.map((e) => e.data.status)).toEqual(["Processing", "Shipped"]);

		const stranger = subscribe("/orderHub", { "Last-Event-ID": "zzzzzz-1" });
		await vi.waitFor(() => expect(stranger.of("reset")).toHaveLength(1), { timeout: 5000 });
		expect(stranger.of("reset")[0]?.data).toMatchObject({ reason: "unknown-instance" });
	});

	it("ends every order's stream on its stored state when changes race in from concurrent requests", async () => {
		const watcher = subscribe("/orderHub");
		await watcher.opened();
		const orders = await Promise.all(
			Array.from({ length: 10 }, (_, i) => create({ customerName: `Race${i}`, productName: "Kit" })),
		);
		await Promise.all(
			orders.flatMap((o) => ["Processing", "Shipped", "Delivered"].map((s) => setStatus(o.orderId, s))),
		);
		const stored = async (id: string) =>
			((await (await fetch(url(`/api/orders/${id}`))).json()) as Order).status;
		await vi.waitFor(
			async () => {
				for (const o of orders) {
					const last = watcher.events.filter((e) => e.data.orderId === o.orderId).at(-1);
					expect(last?.data.status).toBe(await stored(o.orderId));
				}
			},
			{ timeout: 10_000, interval: 200 },
		);
	});

	it("drops a subscriber whose client went away (request signal), so none are left", async () => {
		for (const c of clients.splice(0)) c.close();
		const c = subscribe("/orderHub");
		await c.opened();
		expect(await subscribers()).toBeGreaterThanOrEqual(1);
		c.close();
		await vi.waitFor(async () => expect(await subscribers()).toBe(0), { timeout: 6000, interval: 250 });
	});

	it("refuses a bad filter with a 400 problem naming it, before reaching the hub", async () => {
		const res = await fetch(url("/orderHub?orderId=a%23b"));
		expect(res.status).toBe(400);
		expect(res.headers.get("content-type")).toBe("application/problem+json");
		expect(Object.keys((await res.json()).errors)).toEqual(["orderId"]);
	});

	it("documents /orderHub in /doc and reports the hub in /health/ready", async () => {
		const doc = await (await fetch(url("/doc"))).json();
		expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/orderHub", "/orderHub/stats"]));
		// As on Node (test/openapi/document.test.ts): generated clients see the same operations.
		expect([doc.paths["/orderHub"].get.operationId, doc.paths["/orderHub/stats"].get.operationId]).toEqual([
			"subscribeOrderEvents",
			"getHubStats",
		]);
		const ready = await (await fetch(url("/health/ready"))).json();
		expect(ready).toMatchObject({
			status: "ok",
			checks: { queue: { kind: "in-isolate" }, hub: { status: "ok", subscribers: expect.any(Number) } },
		});
	});
});

describe("the board in workerd", () => {
	it("serves the live order board's files from the bundle, as on Node", async () => {
		const page = await fetch(url("/"));
		expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
		const html = await page.text();
		expect(html).toContain('src="/board.js"');
		for (const [path, type] of [
			["/board.js", "text/javascript; charset=utf-8"],
			["/board.css", "text/css; charset=utf-8"],
		] as const) {
			const res = await fetch(url(path));
			expect([res.status, res.headers.get("content-type")]).toEqual([200, type]);
			expect((await res.text()).length).toBeGreaterThan(500);
		}
	});
});

describe("Azure Tables from workerd", () => {
	it("stores what the Worker accepts in Azurite, where Node reads it back", async () => {
		const tableName = uniqueTableName("WA");
		await reset({ tableConnectionString: inject("azuriteConnectionString"), tableName });
		const made = await create({ customerName: "Dee", productName: "Lamp" });
		expect((await setStatus(made.orderId, "Processing")).status).toBe(202);
		const fromNode = createAzureTablesStore(inject("azuriteConnectionString"), tableName);
		await vi.waitFor(async () => expect((await fromNode.get(made.orderId))?.status).toBe("Processing"));
		expect((await fromNode.history(made.orderId))?.map((h) => h.status)).toEqual(["Pending", "Processing"]);
	});
});

describe("storage faults in workerd", () => {
	it("answers 503 with Retry-After within TimeoutMs when Azure Tables cannot be reached, never a 500", async () => {
		const port = await freePort(); // nothing listens there
		await reset({
			tableConnectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`,
			tableName: uniqueTableName("WF"),
			tableTimeoutMs: 1000,
		});
		const started = Date.now();
		const res = await fetch(url("/api/orders/create"), {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ customerName: "Hal", productName: "Map" }),
		});
		expect(res.status).toBe(503);
		expect(res.headers.get("retry-after")).toBe("5");
		expect((await res.json()).detail).toMatch(/Order storage is unavailable/);
		expect(Date.now() - started).toBeLessThan(3000);
		const ready = await fetch(url("/health/ready"));
		expect(ready.status).toBe(503);
		expect((await ready.json()).checks.store).toMatchObject({ status: "unavailable" });
	});
});

describe("Service Bus over REST from workerd", () => {
	/** Sends go to the test REST broker; storage is Azurite (the receiver in the hub object needs it). */
	const withServiceBus = (key?: string) =>
		reset({
			serviceBusConnectionString: broker.connectionString(key),
			tableConnectionString: inject("azuriteConnectionString"),
			tableName: uniqueTableName("WS"),
		});

	it("sends a status change signed with a SAS token the endpoint verifies", async () => {
		await withServiceBus();
		const made = await create({ customerName: "Eve", productName: "Desk" });
		broker.messages.length = 0;
		const res = await setStatus(made.orderId, "Shipped");
		expect(res.status).toBe(202);
		const accepted = (await res.json()) as { messageId: string };
		expect(broker.refusals).toEqual([]);
		expect(broker.messages).toHaveLength(1);
		expect(broker.messages[0]).toMatchObject({
			queue: "OrderTracker",
			messageId: accepted.messageId,
			label: "OrderStatusChanged",
			contentType: "application/json",
		});
		expect(JSON.parse(broker.messages[0]?.body as string)).toEqual({
			orderId: made.orderId,
			status: "Shipped",
			occurredAt: expect.any(String),
			source: "api",
		});
		expect((await (await fetch(url("/health/ready"))).json()).checks.queue).toEqual({
			status: "ok",
			kind: "service-bus-rest",
		});
	});

	it("retries a transient 503 once, and answers 503 with Retry-After when the key is wrong", async () => {
		await withServiceBus();
		const made = await create({ customerName: "Fay", productName: "Rug" });
		broker.messages.length = 0;
		broker.failNext(503);
		expect((await setStatus(made.orderId, "Processing")).status).toBe(202);
		expect(broker.messages).toHaveLength(1);

		await withServiceBus("d3Jvbmcta2V5");
		const other = await create({ customerName: "Gus", productName: "Cup" });
		const refused = await setStatus(other.orderId, "Processing");
		expect(refused.status).toBe(503);
		expect(refused.headers.get("retry-after")).toBe("5");
		expect((await refused.json()).detail).toMatch(/status queue is unavailable/);
		expect(broker.refusals.at(-1)).toBe("signature does not match");
		const ready = await fetch(url("/health/ready"));
		expect(ready.status).toBe(503);
		expect((await ready.json()).checks.queue).toMatchObject({ status: "unavailable" });
	});
});

describe("the whole path on Workers with Service Bus: PUT -> queue -> hub object's receiver -> Azurite -> SSE", () => {
	it("applies changes sent by the Worker and by other producers, and streams them", async () => {
		const tableName = uniqueTableName("WE");
		const e2e = await startWorker({
			vars: serviceBusVars(tableName, "orders-e2e"),
		});
		try {
			const live = new RecordingEventSource(`${e2e.baseUrl}/orderHub`);
			clients.push(live);
			await live.opened();
			const made = await createOrder(e2e.baseUrl, { customerName: "Ivy", productName: "Bike" });
			expect((await putStatus(e2e.baseUrl, made.orderId, "Processing")).status).toBe(202);
			await vi.waitFor(() => expect(live.of("ReceiveOrderUpdate")).toHaveLength(1), { timeout: 15_000 });
			// Later, another producer (a warehouse system) puts the original's string on the queue.
			const queue = new ServiceBusRestEntity(broker.connectionString(), "orders-e2e");
			const sent = await fetch(`${queue.resourceUri}/messages`, {
				method: "POST",
				headers: {
					authorization: await queue.authorization(),
					"content-type": "text/plain",
					brokerproperties: JSON.stringify({ MessageId: "warehouse-1" }),
				},
				body: `Order:${made.orderId},Status:Shipped`,
			});
			expect(sent.status).toBe(201);
			await vi.waitFor(() => expect(live.of("ReceiveOrderUpdate")).toHaveLength(2), { timeout: 15_000 });
			expect(live.of("ReceiveOrderUpdate").map((e) => e.data.status)).toEqual(["Processing", "Shipped"]);
			const stored = createAzureTablesStore(inject("azuriteConnectionString"), tableName);
			expect((await stored.history(made.orderId))?.map((h) => [h.status, h.source])).toEqual([
				["Pending", "api"],
				["Processing", "api"],
				["Shipped", "legacy"],
			]);
			await vi.waitFor(() => expect(broker.pending("orders-e2e")).toBe(0));

			// A burst across the object's concurrent receive loops: each change applied and streamed once.
			const burst = await Promise.all(
				Array.from({ length: 30 }, (_, i) =>
					createOrder(e2e.baseUrl, { customerName: `B${i}`, productName: "Box" }),
				),
			);
			const accepted = await Promise.all(burst.map((o) => putStatus(e2e.baseUrl, o.orderId, "Shipped")));
			expect(accepted.map((r) => r.status)).toEqual(burst.map(() => 202));
			await vi.waitFor(() => expect(live.of("ReceiveOrderUpdate")).toHaveLength(32), { timeout: 20_000 });
			const streamed = live
				.of("ReceiveOrderUpdate")
				.slice(2)
				.map((e) => e.data.orderId);
			expect(new Set(streamed)).toEqual(new Set(burst.map((o) => o.orderId)));
			await vi.waitFor(() => expect(broker.pending("orders-e2e")).toBe(0));
			expect(broker.deadLetters).toEqual([]);
			const ready = await (await fetch(`${e2e.baseUrl}/health/ready`)).json();
			expect(ready.checks.receiver).toEqual({ status: "ok", received: 32 });
		} finally {
			await e2e.stop();
		}
	}, 60_000);
});

describe("the hub object's receiver in /health/ready", () => {
	it("reports a receiver Service Bus refuses with a fixed reason, the detail only in the log", async () => {
		const worker = await startWorker({
			vars: serviceBusVars(uniqueTableName("WH"), "orders-refused", "d3Jvbmcta2V5"),
		});
		try {
			await vi.waitFor(
				async () => {
					const ready = await fetch(`${worker.baseUrl}/health/ready`);
					expect(ready.status).toBe(503);
					const { receiver } = (await ready.json()).checks;
					expect(receiver).toEqual({ status: "unavailable", reason: "unauthorized" });
					const stats = await (await fetch(`${worker.baseUrl}/orderHub/stats`)).json();
					expect(stats.receiver).toMatchObject({ healthy: false, lastErrorReason: "unauthorized" });
					expect(JSON.stringify(stats)).not.toMatch(/127\.0\.0\.1|401|signature/);
				},
				{ timeout: 10_000, interval: 250 },
			);
		} finally {
			await worker.stop();
		}
	}, 60_000);
});

describe("the cron trigger", () => {
	it("starts the hub object's receiver after a deploy, before any request", async () => {
		const tableName = uniqueTableName("WC");
		const store = createAzureTablesStore(inject("azuriteConnectionString"), tableName);
		const created = await store.create({ partitionKey: "Orders", customerName: "Cy", productName: "Van" });
		if (created.kind !== "created") throw new Error("not created");
		const worker = await startWorker({
			vars: serviceBusVars(tableName, "orders-cron"),
			args: ["--test-scheduled"],
			probe: false,
		});
		try {
			const queue = new ServiceBusRestQueue({
				connectionString: broker.connectionString(),
				queueName: "orders-cron",
			});
			await queue.send({
				orderId: created.order.orderId,
				status: "Shipped",
				messageId: "courier-1",
				occurredAt: new Date().toISOString(),
				source: "courier",
			});
			await new Promise((resolve) => setTimeout(resolve, 1500));
			expect(broker.pending("orders-cron")).toBe(1); // no request yet: nothing receives
			const tick = await fetch(`${worker.baseUrl}/__scheduled?cron=*/5+*+*+*+*`);
			expect(tick.status).toBe(200);
			await vi.waitFor(async () => expect((await store.get(created.order.orderId))?.status).toBe("Shipped"), {
				timeout: 15_000,
			});
			await vi.waitFor(() => expect(broker.pending("orders-cron")).toBe(0));
		} finally {
			await worker.stop();
		}
	}, 60_000);
});

describe("the real entry (src/worker.ts) with bad settings", () => {
	it.each([
		[
			"an invalid value",
			{ TableStorage__TableName: "no spaces allowed" },
			/TableStorage:TableName: must be 3-63 letters or digits/,
		],
		[
			"Service Bus without Azure Tables (the hub object could not reach an isolate's memory)",
			{ ServiceBus__ConnectionString: "Endpoint=sb://127.0.0.1:1/;SharedAccessKeyName=k;SharedAccessKey=v" },
			/ServiceBus:ConnectionString on Workers needs TableStorage:ConnectionString too/,
		],
	])(
		"answers every request for %s with a fixed 500 problem, and names the setting in the log",
		async (_label, vars, detail) => {
			const bad = await startWorker({ vars });
			try {
				const res = await fetch(`${bad.baseUrl}/api/orders`);
				expect(res.status).toBe(500);
				expect(res.headers.get("content-type")).toBe("application/problem+json");
				const body = await res.json();
				expect(body).toMatchObject({
					reason: "misconfigured",
					detail: expect.stringMatching(/misconfigured/),
				});
				expect(JSON.stringify(body)).not.toMatch(detail);
				await vi.waitFor(() => expect(bad.output()).toMatch(detail));
			} finally {
				await bad.stop();
			}
		},
		60_000,
	);
});
