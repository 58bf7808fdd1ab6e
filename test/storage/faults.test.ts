// Storage that is down or hangs: bounded 503s with Retry-After, the service keeps running,
// and everything recovers when storage returns. Real Azurite, stopped and restarted.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import type { Order } from "../../src/orders/model.js";
import { createAzureTablesStore } from "../../src/storage/azure-tables.js";
import { type EmbeddedAzurite, startEmbeddedAzurite } from "../../src/storage/embedded-azurite.js";
import { makeTestApp } from "../support/app.js";
import { uniqueTableName } from "../support/tables.js";

const dataDir = mkdtempSync(join(tmpdir(), "order-tracker-faults-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("Table Storage faults", () => {
	let azurite: EmbeddedAzurite | undefined;
	let t: ReturnType<typeof makeTestApp> | undefined;
	afterEach(async () => {
		await t?.queue.close();
		await azurite?.close();
	});

	it("answers 503 + Retry-After quickly while Azurite is down, and recovers when it is back", async () => {
		azurite = await startEmbeddedAzurite({ dataDir });
		const port = azurite.port;
		t = makeTestApp(createAzureTablesStore(azurite.connectionString, uniqueTableName(), { timeoutMs: 1500 }));
		const created = await t.request("/api/orders/create", {
			method: "POST",
			json: { customerName: "A", productName: "B" },
		});
		const order = (await created.json()) as Order;

		await azurite.close();
		for (const [path, init] of [
			[`/api/orders/${order.orderId}`, {}],
			["/api/orders", {}],
			[`/api/orders/${order.orderId}/history`, {}],
			["/api/orders/create", { method: "POST", json: { customerName: "C", productName: "D" } }],
			[`/api/orders/update-status/${order.orderId}`, { method: "PUT", json: "Shipped" }],
		] as const) {
			const started = Date.now();
			const res = await t.request(path, init);
			expect(res.status, path).toBe(503);
			expect(res.headers.get("retry-after")).toBe("5");
			expect(res.headers.get("content-type")).toBe("application/problem+json");
			expect(Date.now() - started).toBeLessThan(3000);
		}
		const ready = await t.request("/health/ready");
		expect(ready.status).toBe(503);
		expect(await ready.json()).toMatchObject({
			checks: { store: { status: "unavailable" }, queue: { status: "ok" } },
		});

		azurite = await startEmbeddedAzurite({ dataDir, port });
		expect(await (await t.request(`/api/orders/${order.orderId}`)).json()).toEqual(order);
		expect((await t.request("/health/ready")).status).toBe(200);
		// Nothing half-written: the create refused while down left no order behind.
		expect(await (await t.request("/api/orders")).json()).toEqual([order]);
	});

	it("keeps queued status changes while storage is down and applies them all when it returns", async () => {
		azurite = await startEmbeddedAzurite({ dataDir });
		const port = azurite.port;
		t = makeTestApp(createAzureTablesStore(azurite.connectionString, uniqueTableName(), { timeoutMs: 1000 }));
		const orders: Order[] = [];
		for (let i = 0; i < 5; i++) {
			const res = await t.request("/api/orders/create", {
				method: "POST",
				json: { customerName: `c${i}`, productName: "p" },
			});
			orders.push(await res.json());
		}
		await azurite.close();
		for (const [i, o] of orders.entries()) {
			t.queue.sendRaw(
				`down-${i}`,
				i % 2 ? `Order:${o.orderId},Status:Shipped` : { orderId: o.orderId, status: "Shipped" },
			);
		}
		await new Promise((r) => setTimeout(r, 1500));
		expect(t.queue.deadLetters).toEqual([]);
		azurite = await startEmbeddedAzurite({ dataDir, port });
		await vi.waitFor(
			async () => {
				const list = (await (await t?.request("/api/orders?status=Shipped"))?.json()) as Order[];
				expect(list).toHaveLength(5);
			},
			{ timeout: 15_000, interval: 200 },
		);
		expect(t.queue.deadLetters).toEqual([]);
		expect(t.events.events.filter((e) => e.type === "ReceiveOrderUpdate")).toHaveLength(5);
	});

	describe("a store that accepts connections and never answers", () => {
		let server: Server;
		afterEach(() => new Promise<void>((r) => server.close(() => r())));

		it("answers 503 within the configured timeout instead of hanging", async () => {
			const sockets = new Set<import("node:net").Socket>();
			server = createServer((s) => {
				sockets.add(s);
				s.on("close", () => sockets.delete(s));
			});
			await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
			const { port } = server.address() as import("node:net").AddressInfo;
			const cs = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${btoa("k")};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
			t = makeTestApp(createAzureTablesStore(cs, "Hanging", { timeoutMs: 500 }));
			const started = Date.now();
			const res = await t.request("/api/orders/some-id");
			expect(res.status).toBe(503);
			expect(Date.now() - started).toBeLessThan(2500);
			for (const s of sockets) s.destroy();
		});
	});
});
