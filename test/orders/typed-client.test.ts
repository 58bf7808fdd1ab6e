// The app's own type (AppType) drives hono/client against a real server: what a TypeScript
// frontend in the same repository would write, checked by tsc with the rest of the tests.
import { hc } from "hono/client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AppType } from "../../src/app.js";
import { type RunningServer, startServer } from "../support/server.js";

let server: RunningServer;
beforeAll(async () => {
	server = await startServer();
});
afterAll(() => server?.close());

describe("hono/client over AppType", () => {
	it("creates, changes, reads and lists an order with typed requests and responses", async () => {
		const client = hc<AppType>(server.baseUrl);
		const created = await client.api.orders.create.$post({
			json: { customerName: "Typed", productName: "Client" },
			header: {},
		});
		expect(created.status).toBe(201);
		const order = await created.json();
		if (!("orderId" in order)) throw new Error("not an order");
		const accepted = await client.api.orders["update-status"][":orderId"].$put({
			param: { orderId: order.orderId },
			json: "Shipped",
			header: {},
		});
		expect(accepted.status).toBe(202);
		await vi.waitFor(async () => {
			const got = await client.api.orders[":orderId"].$get({ param: { orderId: order.orderId } });
			const body = await got.json();
			expect("status" in body && body.status).toBe("Shipped");
		});
		const history = await client.api.orders[":orderId"].history.$get({ param: { orderId: order.orderId } });
		expect((await history.json()) as unknown[]).toHaveLength(2);
		const list = await client.api.orders.$get({ query: { limit: "10" } });
		expect(list.status).toBe(200);
	});
});
