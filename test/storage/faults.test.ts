// Storage that is down or hangs: bounded 503s with Retry-After, the service keeps running,
// and everything recovers when storage returns. Real Azurite, stopped and restarted.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RestError } from "@azure/data-tables";
import { afterAll, afterEach, describe, expect, inject, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { createAzureTablesStore, unavailableReason } from "../../src/storage/azure-tables.js";
import { type EmbeddedAzurite, startEmbeddedAzurite } from "../../src/storage/embedded-azurite.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";
import { type OrderStore, StoreUnavailableError } from "../../src/storage/port.js";
import { applyStatusChange } from "../../src/usecases/apply-status-change.js";
import { makeTestApp } from "../support/app.js";
import { type HangProxy, startHangProxy } from "../support/hang-proxy.js";
import { linesLogger } from "../support/log.js";
import { uniqueTableName } from "../support/tables.js";

const dataDir = mkdtempSync(join(tmpdir(), "order-tracker-faults-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Every orders route answers 503 problem+json with Retry-After, each within `withinMs`. */
async function expectEveryRouteUnavailable(
	app: ReturnType<typeof makeTestApp>,
	order: Order,
	withinMs: number,
) {
	for (const [path, init] of [
		[`/api/orders/${order.orderId}`, {}],
		["/api/orders", {}],
		[`/api/orders/${order.orderId}/history`, {}],
		["/api/orders/create", { method: "POST", json: { customerName: "C", productName: "D" } }],
		[`/api/orders/update-status/${order.orderId}`, { method: "PUT", json: "Shipped" }],
	] as const) {
		const started = Date.now();
		const res = await app.request(path, init);
		expect(res.status, path).toBe(503);
		expect(res.headers.get("retry-after")).toBe("5");
		expect(res.headers.get("content-type")).toBe("application/problem+json");
		expect(Date.now() - started, path).toBeLessThan(withinMs);
	}
}

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
		await expectEveryRouteUnavailable(t, order, 3000);
		const ready = await t.request("/health/ready");
		expect(ready.status).toBe(503);
		const readyText = await ready.text();
		expect(JSON.parse(readyText)).toMatchObject({
			checks: { store: { status: "unavailable", reason: "unreachable" }, queue: { status: "ok" } },
		});
		expect(readyText).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|devstoreaccount/);

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

	describe("a store that accepts requests and never answers", () => {
		let proxy: HangProxy;
		afterEach(async () => {
			await proxy?.close();
		});

		/** A store through a proxy to the run's Azurite, with one order in it, then frozen. */
		async function frozenStore(timeoutMs: number) {
			const port = Number(/127\.0\.0\.1:(\d+)/.exec(inject("azuriteConnectionString"))?.[1]);
			proxy = await startHangProxy(port);
			const cs = inject("azuriteConnectionString").replace(`127.0.0.1:${port}`, `127.0.0.1:${proxy.port}`);
			const store = createAzureTablesStore(cs, uniqueTableName(), { timeoutMs });
			const created = await store.create({ partitionKey: "Orders", customerName: "A", productName: "B" });
			if (created.kind !== "created") throw new Error(created.kind);
			proxy.hang = true;
			return { store, order: created.order };
		}

		it("a create whose answer was lost is created, not replayed, when the SDK's retry meets the row (so the route publishes OrderCreated)", async () => {
			const { store } = await frozenStore(5000);
			proxy.hang = false;
			for (const recordEvents of [false, true]) {
				const s = recordEvents
					? createAzureTablesStore(
							inject("azuriteConnectionString").replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${proxy.port}`),
							uniqueTableName(),
							{ timeoutMs: 5000, recordEvents: true, eventHolder: "a" },
						)
					: store;
				await s.ping(); // the table exists: the next request is the create itself
				proxy.loseNextAnswer = true;
				const result = await s.create({
					partitionKey: "Orders",
					customerName: "Lost",
					productName: "Answer",
				});
				expect(result.kind).toBe("created");
				expect(proxy.loseNextAnswer).toBe(false); // the answer was indeed lost, and retried
			}
		});

		const calls: [string, (store: OrderStore, order: Order) => Promise<unknown>][] = [
			["get", (s, o) => s.get(o.orderId)],
			["list", (s) => s.list({ limit: 10 })],
			["list with filters", (s) => s.list({ limit: 10, status: "Pending", customerName: "A" })],
			["history", (s, o) => s.history(o.orderId)],
			["create", (s) => s.create({ partitionKey: "Orders", customerName: "C", productName: "D" })],
			[
				"create with an Idempotency-Key",
				(s) =>
					s.create({ partitionKey: "Orders", customerName: "C", productName: "D" }, { idempotencyKey: "k" }),
			],
			[
				"applyStatus",
				(s, o) =>
					applyStatusChange(s, { orderId: o.orderId, status: "Shipped", messageId: "m", occurredAt: "" }),
			],
			["ping", (s) => s.ping()],
		];
		it.each(calls)(
			"%s gives up with StoreUnavailableError (timeout) within TimeoutMs",
			async (_name, call) => {
				const { store, order } = await frozenStore(400);
				const started = Date.now();
				const err = await call(store, order).then(
					() => undefined,
					(e: unknown) => e,
				);
				expect(err).toBeInstanceOf(StoreUnavailableError);
				expect((err as StoreUnavailableError).reason).toBe("timeout");
				expect(Date.now() - started).toBeLessThan(400 + 600);
			},
		);

		it("answers every route with 503 + Retry-After within the timeout, and /health/ready says timeout", async () => {
			const { store, order } = await frozenStore(400);
			t = makeTestApp(store);
			await expectEveryRouteUnavailable(t, order, 1500);
			const ready = await t.request("/health/ready");
			expect(ready.status).toBe(503);
			expect(await ready.json()).toMatchObject({
				checks: { store: { status: "unavailable", reason: "timeout" } },
			});
		});
	});

	it("answers a defect in storage code as a 500 problem (logged with its stack), not as an outage", async () => {
		const store = new MemoryOrderStore();
		store.get = async () => {
			throw new TypeError("x is not a function");
		};
		const lines: string[] = [];
		t = makeTestApp(store, { log: linesLogger((l) => lines.push(l)) });
		const res = await t.request("/api/orders/some-id");
		expect(res.status).toBe(500);
		expect(res.headers.get("retry-after")).toBeNull();
		expect(res.headers.get("content-type")).toBe("application/problem+json");
		expect(await res.text()).not.toMatch(/x is not a function/);
		expect(lines.join("\n")).toMatch(/"stack":"TypeError: x is not a function\\n\s+at /);
	});

	it("tells an outage from a defect by the error the SDK gave", () => {
		expect(unavailableReason(new RestError("refused", { code: "REQUEST_SEND_ERROR" }))).toBe("unreachable");
		for (const statusCode of [500, 503, 408, 429]) {
			expect(unavailableReason(new RestError("busy", { statusCode }))).toBe("unreachable");
		}
		expect(unavailableReason(Object.assign(new Error("connect"), { code: "ECONNREFUSED" }))).toBe(
			"unreachable",
		);
		expect(unavailableReason(new DOMException("aborted", "AbortError"))).toBe("timeout");
		for (const statusCode of [401, 403]) {
			expect(unavailableReason(new RestError("key rotated", { statusCode }))).toBe("unauthorized");
		}
		for (const statusCode of [400, 404, 409, 412]) {
			expect(unavailableReason(new RestError("no", { statusCode }))).toBeUndefined();
		}
		expect(unavailableReason(new TypeError("x is not a function"))).toBeUndefined();
		expect(unavailableReason(new RangeError("Maximum call stack size exceeded"))).toBeUndefined();
	});
});
