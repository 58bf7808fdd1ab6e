// A frontend's typed client, generated from a running server's /doc: openapi-typescript's types,
// openapi-fetch on top (clients/typescript/orders.ts). The client code is compiled by tsc against the
// types generated here, the checked-in types must equal them, and the client drives the API.
import { copyFileSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateTypes } from "@order-tracker/openapi-typescript";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiProblem, createOrdersClient } from "../../clients/typescript/orders.js";
import { createPrometheusMetrics } from "../../src/observability/prometheus.js";
import { repoRoot, runNode, tempDir } from "../support/openapi.js";
import { type RunningServer, startServer } from "../support/server.js";

const CLIENT_DIR = join(repoRoot, "clients/typescript");
const dirs: ReturnType<typeof tempDir>[] = [];

/** tsc (the repository's TypeScript, strict) over orders.ts next to the given generated types. */
async function compileClient(types: string): Promise<{ code: number; output: string }> {
	const dir = tempDir("ts-client");
	dirs.push(dir);
	writeFileSync(join(dir.path, "schema.d.ts"), types);
	copyFileSync(join(CLIENT_DIR, "orders.ts"), join(dir.path, "orders.ts"));
	writeFileSync(join(dir.path, "package.json"), JSON.stringify({ type: "module" }));
	writeFileSync(
		join(dir.path, "tsconfig.json"),
		JSON.stringify({
			compilerOptions: {
				target: "ES2022",
				module: "NodeNext",
				moduleResolution: "NodeNext",
				lib: ["ES2023", "DOM", "DOM.Iterable"],
				types: [],
				strict: true,
				noUncheckedIndexedAccess: true,
				skipLibCheck: true,
				noEmit: true,
			},
			files: ["orders.ts"],
		}),
	);
	symlinkSync(join(repoRoot, "node_modules"), join(dir.path, "node_modules"), "dir"); // openapi-fetch
	const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
	const run = await runNode(tsc, ["-p", dir.path, "--pretty", "false"], { cwd: dir.path });
	return { code: run.code, output: run.stdout + run.stderr };
}

let server: RunningServer;
let liveTypes: string;
beforeAll(async () => {
	// As `npm start` serves it: /metrics included.
	server = await startServer({ metrics: createPrometheusMetrics({ processMetrics: false }) });
	liveTypes = await generateTypes(new URL(`${server.baseUrl}/doc`));
});
afterAll(async () => {
	await server?.close();
	for (const d of dirs) d.remove();
});

describe("a TypeScript client generated from /doc (openapi-typescript + openapi-fetch)", () => {
	it("compiles against the types generated from the live document", async () => {
		expect(liveTypes).toContain('"/api/orders/update-status/{orderId}"');
		expect(await compileClient(liveTypes)).toEqual({ code: 0, output: "" });
	});

	it("stops compiling when the document changes under it", async () => {
		const doc = await (await fetch(`${server.baseUrl}/doc`)).json();
		delete doc.paths["/api/orders/{orderId}/history"];
		const create = doc.components.schemas.CreateOrder;
		create.properties.customer = create.properties.customerName;
		delete create.properties.customerName;
		create.required = ["customer", "productName"];
		const result = await compileClient(await generateTypes(doc));
		expect(result.code).not.toBe(0);
		expect(result.output).toContain('"/api/orders/{orderId}/history"');
		expect(result.output).toContain("customerName");
	});

	it("is checked in as clients/typescript/schema.d.ts, equal to what the live document generates", () => {
		const checkedIn = readFileSync(join(CLIENT_DIR, "schema.d.ts"), "utf8");
		expect(
			checkedIn === liveTypes,
			"clients/typescript/schema.d.ts is stale: run `npm start`, then `npm run clients:typescript`",
		).toBe(true);
	});

	it("creates an order, changes its status, and reads it and its history back", async () => {
		const client = createOrdersClient(server.baseUrl);
		const order = await client.createOrder({
			customerName: "Ada Lovelace",
			productName: "Analytical Engine",
		});
		expect(order).toMatchObject({ partitionKey: "Orders", status: "Pending" });

		const accepted = await client.updateOrderStatus(order.orderId, "Shipped");
		expect(accepted).toEqual({ orderId: order.orderId, status: "Shipped", messageId: expect.any(String) });
		// The receiver applies the change after the 202.
		await vi.waitFor(async () => expect((await client.getOrder(order.orderId)).status).toBe("Shipped"), {
			timeout: 5000,
			interval: 20,
		});

		const history = await client.getOrderHistory(order.orderId);
		expect(history.map((h) => [h.status, h.messageId])).toEqual([
			["Pending", undefined],
			["Shipped", accepted.messageId],
		]);
		const { orders, continuationToken } = await client.listOrders({ status: "Shipped" });
		expect([orders.map((o) => o.orderId), continuationToken]).toEqual([[order.orderId], undefined]);
	});

	it("surfaces problem+json answers as typed problems", async () => {
		const client = createOrdersClient(server.baseUrl);
		const missing = await client.getOrder("no-such-order").catch((e: unknown) => e);
		expect(missing).toBeInstanceOf(ApiProblem);
		expect((missing as ApiProblem).problem).toMatchObject({ status: 404, title: "Not Found" });

		const refused = await client.getOrder("a#b").catch((e: unknown) => e); // a key Azure Tables refuses
		expect(refused).toBeInstanceOf(ApiProblem);
		expect((refused as ApiProblem).problem).toMatchObject({
			status: 400,
			errors: { orderId: expect.any(Array) },
		});
	});
});
