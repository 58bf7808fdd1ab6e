// /orderHub through a real HTTP server and a real EventSource client.
import { connect } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { createOrder, putStatus } from "../support/orders-client.js";
import { type RunningServer, startServer } from "../support/server.js";
import { RecordingEventSource } from "../support/sse-client.js";

let server: RunningServer | undefined;
const clients: RecordingEventSource[] = [];
afterEach(async () => {
	for (const c of clients.splice(0)) c.close();
	await server?.close();
	server = undefined;
});

function subscribe(path: string, headers?: Record<string, string>) {
	const c = new RecordingEventSource(`${server?.baseUrl}${path}`, headers ? { headers } : {});
	clients.push(c);
	return c;
}

const create = (body: Record<string, string>) => createOrder(server?.baseUrl as string, body);
async function setStatus(orderId: string, status: string) {
	expect((await putStatus(server?.baseUrl as string, orderId, status)).status).toBe(202);
}

const order = (orderId: string, over: Partial<Order> = {}): Order => ({
	orderId,
	partitionKey: "Orders",
	customerName: "A",
	productName: "P",
	status: "Pending",
	createdAt: "2026-01-01T00:00:00.000Z",
	updatedAt: "2026-01-01T00:00:00.000Z",
	...over,
});

describe("GET /orderHub", () => {
	it("streams OrderCreated and ReceiveOrderUpdate to every matching subscriber, with ids", async () => {
		server = await startServer();
		const all = subscribe("/orderHub");
		const eu = subscribe("/orderHub?partitionKey=EU");
		const bob = subscribe("/orderHub?customerName=Bob");
		await Promise.all([all.opened(), eu.opened(), bob.opened()]);

		const a = await create({ customerName: "Ann", productName: "Tea", partitionKey: "EU" });
		const b = await create({ customerName: "Bob", productName: "Cake" });
		const byId = subscribe(`/orderHub?orderId=${a.orderId}&orderId=${b.orderId}&orderId=other`);
		const onlyA = subscribe(`/orderHub?orderId=${a.orderId}`);
		await Promise.all([byId.opened(), onlyA.opened()]);
		await setStatus(a.orderId, "Processing");
		await setStatus(b.orderId, "Shipped");

		await vi.waitFor(() => expect(all.events).toHaveLength(4));
		expect(all.events.map((e) => [e.type, e.data.orderId, e.data.status])).toEqual([
			["OrderCreated", a.orderId, "Pending"],
			["OrderCreated", b.orderId, "Pending"],
			["ReceiveOrderUpdate", a.orderId, "Processing"],
			["ReceiveOrderUpdate", b.orderId, "Shipped"],
		]);
		expect(all.events[2]?.data).toMatchObject({
			orderId: a.orderId,
			status: "Processing",
			previousStatus: "Pending",
			partitionKey: "EU",
			customerName: "Ann",
			productName: "Tea",
			updatedAt: expect.any(String),
		});
		const ids = all.events.map((e) => e.id);
		expect(new Set(ids).size).toBe(4);
		for (const id of ids) expect(id).toMatch(/^[0-9a-z]+-\d+$/);

		await vi.waitFor(() => expect(byId.events).toHaveLength(2));
		expect(eu.events.map((e) => e.data.orderId)).toEqual([a.orderId, a.orderId]);
		expect(bob.events.map((e) => e.data.orderId)).toEqual([b.orderId, b.orderId]);
		expect(byId.events.map((e) => e.type)).toEqual(["ReceiveOrderUpdate", "ReceiveOrderUpdate"]);
		expect(onlyA.events.map((e) => e.data.orderId)).toEqual([a.orderId]);
	});

	it("replays what a client missed while its connection was down, in order, once", async () => {
		server = await startServer({ hub: { retryMs: 200 } });
		const c = subscribe("/orderHub");
		await c.opened();
		server.hub.publish({ type: "OrderCreated", order: order("o-1") });
		await vi.waitFor(() => expect(c.events).toHaveLength(1));

		server.dropConnections(); // the network blips; the browser reconnects with Last-Event-ID
		await vi.waitFor(() => expect(server?.hub.subscriberCount).toBe(0));
		for (const s of ["Processing", "Shipped", "Delivered"] as const) {
			server.hub.publish({ type: "ReceiveOrderUpdate", order: order("o-1", { status: s }) });
		}
		await vi.waitFor(() => expect(c.events).toHaveLength(4), { timeout: 5000 });
		expect(c.opens).toBe(2);
		expect(c.events.map((e) => e.data.status)).toEqual(["Pending", "Processing", "Shipped", "Delivered"]);
		expect(c.of("reset")).toEqual([]);

		server.hub.publish({ type: "ReceiveOrderUpdate", order: order("o-2", { status: "Shipped" }) });
		await vi.waitFor(() => expect(c.events).toHaveLength(5));
	});

	it("resumes from a lastEventId query parameter on a first connect, only with matching events", async () => {
		server = await startServer();
		server.hub.publish({ type: "OrderCreated", order: order("x") });
		const first = server.hub.newestEventId;
		server.hub.publish({ type: "OrderCreated", order: order("y") });
		server.hub.publish({ type: "OrderCreated", order: order("x", { status: "Processing" }) });
		const c = subscribe(`/orderHub?orderId=x&lastEventId=${first}`);
		await vi.waitFor(() => expect(c.events).toHaveLength(1));
		expect(c.events[0]?.data).toMatchObject({ orderId: "x", status: "Processing" });
	});

	it.each([
		["garbage", () => "not an id", "invalid-event-id"],
		["an id from another instance or an earlier run", () => "zzzzzzzzzzzz-3", "unknown-instance"],
		["an id from the future", (s: RunningServer) => `${s.hub.instanceId}-999`, "unknown-event-id"],
		["an evicted id", (s: RunningServer) => `${s.hub.instanceId}-1`, "evicted"],
	])("sends reset for %s, then continues live", async (_label, idOf, reason) => {
		server = await startServer({ hub: { historySize: 3 } });
		for (let i = 0; i < 6; i++) server.hub.publish({ type: "OrderCreated", order: order(`o-${i}`) });
		const c = subscribe("/orderHub", { "Last-Event-ID": idOf(server) });
		await vi.waitFor(() => expect(c.of("reset")).toHaveLength(1));
		expect(c.of("reset")[0]).toMatchObject({ id: server.hub.newestEventId, data: { reason } });
		expect(c.events).toHaveLength(1);
		server.hub.publish({ type: "OrderCreated", order: order("live") });
		await vi.waitFor(() => expect(c.events).toHaveLength(2));
		expect(c.events[1]?.data.orderId).toBe("live");
	});

	it("sends reset after a server restart: the old ids belong to another run", async () => {
		server = await startServer({ hub: { retryMs: 100 } });
		server.hub.publish({ type: "OrderCreated", order: order("before") });
		const staleId = server.hub.newestEventId;
		await server.close();
		server = await startServer();
		const c = subscribe("/orderHub", { "Last-Event-ID": staleId });
		await vi.waitFor(() => expect(c.of("reset")).toHaveLength(1));
		expect(c.of("reset")[0]?.data.reason).toBe("unknown-instance");
	});

	it("answers with retry, SSE headers, CORS, uncompressed, and heartbeats", async () => {
		// The Node transport writes the head itself: nothing may try to write a second one.
		const consoleErrors = vi.spyOn(console, "error");
		server = await startServer({ hub: { heartbeatMs: 100, retryMs: 1234 } });
		const controller = new AbortController();
		const res = await fetch(`${server.baseUrl}/orderHub`, {
			signal: controller.signal,
			headers: { Origin: "http://localhost:3000", "Accept-Encoding": "gzip, br" },
		});
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
		expect(res.headers.get("cache-control")).toBe("no-cache, no-transform");
		expect(res.headers.get("x-accel-buffering")).toBe("no");
		expect(res.headers.get("content-encoding")).toBe("identity");
		expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
		const reader = (res.body as ReadableStream<Uint8Array>).getReader();
		let text = "";
		const decoder = new TextDecoder();
		const deadline = Date.now() + 3000;
		while (!/: heartbeat\n\n[\s\S]*: heartbeat\n\n/.test(text) && Date.now() < deadline) {
			const { value, done } = await reader.read();
			if (done) break;
			text += decoder.decode(value);
		}
		expect(text.startsWith("retry: 1234\n")).toBe(true);
		expect(text.match(/: heartbeat/g)?.length).toBeGreaterThanOrEqual(2);
		controller.abort();
		expect(consoleErrors).not.toHaveBeenCalled();
		consoleErrors.mockRestore();
	});

	it("refuses subscribers beyond the cap with 503 problem+json", async () => {
		server = await startServer({ hub: { maxSubscribers: 2 } });
		const a = subscribe("/orderHub");
		const b = subscribe("/orderHub");
		await Promise.all([a.opened(), b.opened()]);
		const res = await fetch(`${server.baseUrl}/orderHub`);
		expect(res.status).toBe(503);
		expect(res.headers.get("content-type")).toBe("application/problem+json");
		expect(res.headers.get("retry-after")).toBe("5");
		expect((await res.json()).detail).toMatch(/limit of 2 subscribers/);
		a.close();
		await vi.waitFor(() => expect(server?.hub.subscriberCount).toBe(1));
		const again = subscribe("/orderHub");
		await again.opened();
	});

	it("refuses a bad filter with 400", async () => {
		server = await startServer();
		const res = await fetch(`${server.baseUrl}/orderHub?partitionKey=a%2Fb`);
		expect(res.status).toBe(400);
		expect((await res.json()).errors).toHaveProperty("partitionKey");
	});

	it("gives every hub answer (stream, stats, 400, 503) the CORS headers of an allowed origin, without credentials", async () => {
		server = await startServer({ hub: { maxSubscribers: 1 } });
		const origin = { Origin: "http://localhost:3000" };
		const get = (path: string, headers: Record<string, string> = origin) =>
			fetch(`${server?.baseUrl}${path}`, { headers });
		const stream = await get("/orderHub");
		expect(stream.status).toBe(200);
		const answers = [
			stream,
			await get("/orderHub"),
			await get("/orderHub/stats"),
			await get("/orderHub?partitionKey=a%2Fb"),
		];
		expect(answers.map((r) => r.status)).toEqual([200, 503, 200, 400]);
		for (const res of answers) {
			expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
			expect(res.headers.get("access-control-allow-credentials")).toBeNull();
			expect(res.headers.get("vary")).toMatch(/Origin/);
		}
		await stream.body?.cancel();
		for (const res of answers.slice(1)) await res.body?.cancel();
		// A stranger's origin is not allowed, and the stream's answer did not leak into later ones.
		await vi.waitFor(() => expect(server?.hub.subscriberCount).toBe(0));
		const other = await get("/orderHub/stats", { Origin: "http://evil.example" });
		expect(other.headers.get("access-control-allow-origin")).toBeNull();
		const plain = await get("/orderHub", {});
		expect(plain.headers.get("access-control-allow-origin")).toBeNull();
		await plain.body?.cancel();
	});

	it("cuts off a client that stops reading, without slowing the others or growing memory", async () => {
		server = await startServer({ hub: { maxBufferedBytes: 64 * 1024, historySize: 100 } });
		const fast = subscribe("/orderHub");
		await fast.opened();
		// A raw client that sends the request and then never reads.
		const { port } = new URL(server.baseUrl);
		const stalled = connect(Number(port), "127.0.0.1");
		await new Promise<void>((r) => stalled.on("connect", () => r()));
		stalled.write("GET /orderHub HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
		await vi.waitFor(() => expect(server?.hub.subscriberCount).toBe(2));
		stalled.pause();

		// ~40 KB a millisecond: the reading client keeps up, the stalled one fills the kernel's
		// socket buffers and then its backlog in the server passes the 64 KiB bound.
		const padding = "x".repeat(2000);
		let sent = 0;
		const deadline = Date.now() + 15_000;
		while (server.hub.stats().slowDisconnects === 0 && Date.now() < deadline) {
			for (let i = 0; i < 20; i++) {
				server.hub.publish({ type: "OrderCreated", order: order(`o-${sent++}`, { productName: padding }) });
			}
			await new Promise((r) => setTimeout(r, 1));
		}
		expect(server.hub.stats().slowDisconnects).toBe(1);
		expect(server.hub.subscriberCount).toBe(1);
		await vi.waitFor(() => expect(fast.events).toHaveLength(sent), { timeout: 10_000 });
		expect(fast.events.at(-1)?.data.orderId).toBe(`o-${sent - 1}`);
		stalled.destroy();
	});

	it("leaves nothing behind when 1,000 streams open and drop", async () => {
		server = await startServer({ hub: { maxSubscribers: 2000 } });
		const timersBefore = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
		const controllers = Array.from({ length: 1000 }, () => new AbortController());
		const responses = await Promise.all(
			controllers.map((c) => fetch(`${server?.baseUrl}/orderHub`, { signal: c.signal })),
		);
		expect(responses.every((r) => r.status === 200)).toBe(true);
		expect(server.hub.subscriberCount).toBe(1000);
		expect(server.hub.hasTimers).toBe(true);
		for (const c of controllers) c.abort();
		await vi.waitFor(() => expect(server?.hub.subscriberCount).toBe(0), { timeout: 10_000 });
		expect(server.hub.hasTimers).toBe(false);
		server.hub.publish({ type: "OrderCreated", order: order("after") });
		const stats = await (await fetch(`${server.baseUrl}/orderHub/stats`)).json();
		expect(stats).toMatchObject({ subscribers: 0, historySize: 1, published: 1 });
		const timersAfter = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
		expect(timersAfter).toBeLessThanOrEqual(timersBefore);
	});

	it("reports subscribers and history in /health/ready", async () => {
		server = await startServer({ hub: { historySize: 50 } });
		const c = subscribe("/orderHub");
		await c.opened();
		server.hub.publish({ type: "OrderCreated", order: order("h") });
		const ready = await (await fetch(`${server.baseUrl}/health/ready`)).json();
		expect(ready.checks.hub).toEqual({
			status: "ok",
			subscribers: 1,
			maxSubscribers: 10_000,
			historySize: 1,
			historyCapacity: 50,
		});
	});
});
