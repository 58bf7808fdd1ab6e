// The Node entry as `npm start` runs it: a real process, a real HTTP server, embedded Azurite
// persisted to disk, graceful and idempotent shutdown.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it, vi } from "vitest";
import type { Order } from "../src/domain/order.js";
import { createOrder, putStatus } from "./support/orders-client.js";
import { runService, startService } from "./support/process.js";
import { TestServiceBusBroker } from "./support/service-bus-broker.js";
import { RecordingEventSource } from "./support/sse-client.js";
import { uniqueTableName } from "./support/tables.js";

const dataDir = mkdtempSync(join(tmpdir(), "order-tracker-node-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("node entry (npm start)", () => {
	it("keeps acknowledged writes across Ctrl-C, a double signal and a restart, with embedded Azurite", async () => {
		const first = await startService({ Embedded__DataDir: dataDir }, { viaNpm: true });
		expect(first.output()).toMatch(/storage: embedded Azurite/);
		expect(first.output()).toMatch(/\/swagger/);
		const created = await createOrder(first.baseUrl, { CustomerName: "Ada", ProductName: "Engine" });
		expect((await putStatus(first.baseUrl, created.orderId, "Shipped")).status).toBe(202);
		// Ctrl-C in a terminal: SIGINT to the whole process group, and npm forwards it to node
		// again, so node may see it twice. Then a SIGTERM on top: none may cut shutdown short.
		const stopping = Date.now();
		process.kill(-(first.child.pid as number), "SIGINT");
		first.child.kill("SIGTERM");
		await first.exited; // npm itself ends by re-raising the signal; node's own exit is logged below
		expect(Date.now() - stopping).toBeLessThan(5000);
		expect(first.output()).toMatch(/SIGINT: shutting down/);
		expect(first.output()).toMatch(/stopped/);

		// Second run: node directly; SIGTERM and SIGINT back to back (distinct signals both arrive).
		const second = await startService({ Embedded__DataDir: dataDir });
		try {
			const order = (await (await fetch(`${second.baseUrl}/api/orders/${created.orderId}`)).json()) as Order;
			expect(order.status).toBe("Shipped");
			const history = await (await fetch(`${second.baseUrl}/api/orders/${created.orderId}/history`)).json();
			expect(history.map((h: { status: string }) => h.status)).toEqual(["Pending", "Shipped"]);
		} finally {
			second.child.kill("SIGTERM");
			second.child.kill("SIGINT");
			expect(await second.exited).toBe(0);
			expect(second.output()).toMatch(/stopped/);
		}
		const third = await startService({ Embedded__DataDir: dataDir });
		try {
			expect(
				((await (await fetch(`${third.baseUrl}/api/orders`)).json()) as Order[]).map((o) => o.orderId),
			).toEqual([created.orderId]);
		} finally {
			third.child.kill("SIGTERM");
			await third.exited;
		}
	});

	it("uses a configured Table Storage connection string and starts no emulator", async () => {
		const svc = await startService({
			TableStorage__ConnectionString: inject("azuriteConnectionString"),
			TableStorage__TableName: uniqueTableName(),
		});
		try {
			expect(svc.output()).toMatch(/storage: Azure Table Storage/);
			expect(svc.output()).not.toMatch(/embedded Azurite/);
			expect((await fetch(`${svc.baseUrl}/health/ready`)).status).toBe(200);
		} finally {
			svc.child.kill("SIGTERM");
			expect(await svc.exited).toBe(0);
		}
	});

	it("uses Service Bus when ServiceBus:ConnectionString is set, on ServiceBus:QueueName", async () => {
		const broker = await TestServiceBusBroker.start();
		const svc = await startService({
			Embedded__DataDir: dataDir,
			ServiceBus__ConnectionString: broker.connectionString,
			ServiceBus__QueueName: "warehouse-status",
		});
		try {
			expect(svc.output()).toMatch(/status queue: Azure Service Bus queue warehouse-status/);
			// Without a topic other instances' events come through the event log: said at start.
			expect(svc.output()).toMatch(/ServiceBus:TopicName is not set: the events other instances log reach/);
			const created = await createOrder(svc.baseUrl, { customerName: "A", productName: "B" });
			expect((await putStatus(svc.baseUrl, created.orderId, "Processing")).status).toBe(202);
			await vi.waitFor(async () => {
				const order = (await (await fetch(`${svc.baseUrl}/api/orders/${created.orderId}`)).json()) as Order;
				expect(order.status).toBe("Processing");
			});
			expect(broker.entity("warehouse-status").received).toHaveLength(1);
			const ready = await (await fetch(`${svc.baseUrl}/health/ready`)).json();
			expect(ready.checks.queue).toEqual({ status: "ok", kind: "service-bus" });
			expect(ready.checks.events).toMatchObject({ status: "ok", feed: "in-process" });
		} finally {
			svc.child.kill("SIGTERM");
			expect(await svc.exited).toBe(0);
			await broker.close();
		}
	});

	it("lets a client resume across a restart from the durable event log, without reset", async () => {
		const dir = mkdtempSync(join(tmpdir(), "order-tracker-resume-"));
		let svc = await startService({ Embedded__DataDir: dir });
		try {
			const client = new RecordingEventSource(`${svc.baseUrl}/orderHub`);
			await client.opened();
			const first = await createOrder(svc.baseUrl, { customerName: "Before", productName: "P" });
			await vi.waitFor(() => expect(client.of("OrderCreated")).toHaveLength(1));
			const lastId = client.events.at(-1)?.id as string;
			client.close();
			const missed = await createOrder(svc.baseUrl, { customerName: "Missed", productName: "P" });
			svc.child.kill("SIGTERM");
			await svc.exited;

			svc = await startService({ Embedded__DataDir: dir });
			const resumed = new RecordingEventSource(`${svc.baseUrl}/orderHub`, {
				headers: { "Last-Event-ID": lastId },
			});
			await resumed.opened();
			const marker = await createOrder(svc.baseUrl, { customerName: "Marker", productName: "P" });
			await vi.waitFor(() =>
				expect(resumed.of("OrderCreated").map((e) => e.data.customerName)).toContain("Marker"),
			);
			expect(resumed.of("reset")).toEqual([]);
			expect(resumed.events.map((e) => e.data.orderId)).toEqual([missed.orderId, marker.orderId]);
			expect(first.orderId).not.toBe(missed.orderId);
			resumed.close();
		} finally {
			svc.child.kill("SIGTERM");
			await svc.exited;
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("refuses to serve other machines without auth, saying why (it never listens)", async () => {
		const { code, output } = await runService({ HOST: "0.0.0.0", Embedded__DataDir: dataDir });
		expect(code).toBe(1);
		expect(output).toMatch(/HOST 0\.0\.0\.0 is reachable from other machines, and Auth:Mode is None/);
		expect(output).not.toMatch(/listening on/);
	});

	it("refuses to start on a bad setting, naming it", async () => {
		const { code, output } = await runService({ TableStorage__TableName: "x!", Embedded__DataDir: dataDir });
		expect(code).toBe(1);
		expect(output).toMatch(/TableStorage:TableName: must be 3-63 letters/);
	});
});

describe("node entry with open event streams", () => {
	it("ends 2,000 open SSE streams and exits promptly on SIGTERM", async () => {
		const svc = await startService({ Embedded__DataDir: dataDir, Hub__MaxSubscribers: "5000" });
		const streams = await Promise.all(Array.from({ length: 2000 }, () => fetch(`${svc.baseUrl}/orderHub`)));
		expect(streams.every((r) => r.status === 200)).toBe(true);
		const stats = await (await fetch(`${svc.baseUrl}/orderHub/stats`)).json();
		expect(stats.subscribers).toBe(2000);
		const ended = streams.map(async (r) => {
			const reader = (r.body as ReadableStream<Uint8Array>).getReader();
			try {
				while (!(await reader.read()).done) {}
				return "ended";
			} catch {
				return "ended";
			}
		});
		const started = Date.now();
		svc.child.kill("SIGTERM");
		expect(await svc.exited).toBe(0);
		expect(Date.now() - started).toBeLessThan(5000);
		expect(new Set(await Promise.all(ended))).toEqual(new Set(["ended"]));
	});
});
