// An import killed midway completes on the next run, never leaving a half-written order; and
// imported orders are broadcast on /orderHub only with --publish (a real service, `node src/node.ts`,
// on the same store, and a real EventSource).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { createOrder } from "../support/orders-client.js";
import { type Service, startService } from "../support/process.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { uniqueTableName } from "../support/tables.js";
import {
	countRows,
	destinationEnv,
	fromLegacy,
	ordinaryOrders,
	runCli,
	seedLegacyTable,
	startCli,
} from "./support.js";

describe("an import killed midway", () => {
	it("is completed by the next run, and no order is half-written", async () => {
		const ORDERS = 5000;
		const legacy = await seedLegacyTable(ordinaryOrders(ORDERS, 50));
		const table = uniqueTableName("Resumed");
		const source = fromLegacy(legacy);
		const env = { ...destinationEnv(table), ...source.env };

		const first = startCli(source.args, env);
		// Killed (SIGKILL: no clean-up at all) once a tenth of the orders are in.
		await vi.waitFor(
			async () => {
				const firstDone = await Promise.race([first.done, new Promise((r) => setTimeout(r, 0, "running"))]);
				if (firstDone !== "running")
					throw new Error(`the import ended before it was killed: ${JSON.stringify(firstDone)}`);
				expect(await countRows(table, "order")).toBeGreaterThanOrEqual(ORDERS / 10);
			},
			{ timeout: 90_000, interval: 50 },
		);
		first.child.kill("SIGKILL");
		expect((await first.done).code).toBe(null);
		await new Promise((r) => setTimeout(r, 500)); // writes the killed process had sent land
		const written = await countRows(table, "order");
		expect(written).toBeLessThan(ORDERS);
		expect(await countRows(table, "h~0000000000")).toBe(written); // each order with its history entry

		const second = await runCli(source.args, env);
		expect(second.code, second.stderr).toBe(0);
		expect(second.stdout).toContain(`  imported:  ${ORDERS - written}\n`);
		expect(second.stdout).toContain(`  here already, left alone: ${written}\n`);
		expect(await countRows(table, "order")).toBe(ORDERS);
		expect(await countRows(table, "h~0000000000")).toBe(ORDERS);
	}, 240_000);
});

describe("--publish", () => {
	const table = uniqueTableName("Published");
	let service: Service;
	let events: RecordingEventSource;

	beforeAll(async () => {
		service = await startService({ ...destinationEnv(table), Hub__CoalesceMs: "0" });
		events = new RecordingEventSource(`${service.baseUrl}/orderHub`);
		await events.opened();
	}, 60_000);

	afterAll(async () => {
		events?.close();
		service?.child.kill("SIGINT");
		await service?.exited;
	});

	const created = () => events.of("OrderCreated").map((e) => e.data.orderId as string);

	it("without it, imported orders are not broadcast (a marker created after them is)", async () => {
		const orders = ordinaryOrders(3, 1);
		const legacy = await seedLegacyTable(orders);
		const result = await runCli(fromLegacy(legacy).args, {
			...destinationEnv(table),
			...fromLegacy(legacy).env,
		});
		expect(result.code, result.stderr).toBe(0);
		expect(result.stdout).toContain("  imported:  3\n");
		const imported = orders.map((o) => o.RowKey);
		for (const id of imported) expect((await fetch(`${service.baseUrl}/api/orders/${id}`)).status).toBe(200);

		// Had they been published, they would be in the event log before the marker, and arrive first.
		const marker = await createOrder(service.baseUrl, { customerName: "Marker", productName: "Flag" });
		await vi.waitFor(() => expect(created()).toContain(marker.orderId), { timeout: 30_000, interval: 50 });
		expect(created().filter((id) => imported.includes(id))).toEqual([]);
	}, 120_000);

	it("with it, each imported order is broadcast as OrderCreated to a running service's subscribers", async () => {
		const orders = ordinaryOrders(3, 1);
		const legacy = await seedLegacyTable(orders);
		const result = await runCli([...fromLegacy(legacy).args, "--publish"], {
			...destinationEnv(table),
			...fromLegacy(legacy).env,
		});
		expect(result.code, result.stderr).toBe(0);
		expect(result.stdout).toContain("  imported:  3\n");
		expect(result.stdout).toContain("published: 3 event(s)");
		const imported = orders.map((o) => o.RowKey);
		await vi.waitFor(() => expect(created()).toEqual(expect.arrayContaining(imported)), {
			timeout: 30_000,
			interval: 50,
		});
		const first = events.of("OrderCreated").find((e) => e.data.orderId === imported[0]);
		const order = (await (await fetch(`${service.baseUrl}/api/orders/${imported[0]}`)).json()) as Order;
		expect(first?.data).toEqual({
			orderId: order.orderId,
			status: order.status,
			partitionKey: order.partitionKey,
			customerName: order.customerName,
			productName: order.productName,
			createdAt: order.createdAt,
			updatedAt: order.updatedAt,
		});
		expect(created().filter((id) => imported.includes(id))).toHaveLength(3); // once each
	}, 120_000);

	it("with --update, each order changed on the old side is broadcast as ReceiveOrderUpdate, once; the rest not", async () => {
		const orders = ordinaryOrders(3, 1).map((o) => ({ ...o, Status: "Pending" }));
		const legacy = await seedLegacyTable(orders);
		const source = fromLegacy(legacy);
		const env = { ...destinationEnv(table), ...source.env };
		expect((await runCli(source.args, env)).code).toBe(0);
		const [changed] = orders as [(typeof orders)[0]];
		await legacy.updateEntity(
			{ partitionKey: changed.PartitionKey, rowKey: changed.RowKey, Status: "Shipped" },
			"Merge",
		);

		const result = await runCli([...source.args, "--update", "--publish"], env);
		expect(result.code, result.stderr).toBe(0);
		expect(result.stdout).toContain("  updated:   1\n");
		expect(result.stdout).toContain("  unchanged: 2\n");
		expect(result.stdout).toContain("published: 1 event(s)");
		// A marker created after the run comes after anything the run logged.
		const marker = await createOrder(service.baseUrl, { customerName: "Marker", productName: "Flag" });
		await vi.waitFor(() => expect(created()).toContain(marker.orderId), { timeout: 30_000, interval: 50 });
		const ids = new Set(orders.map((o) => o.RowKey));
		const updates = events.of("ReceiveOrderUpdate").filter((e) => ids.has(e.data.orderId as string));
		expect(updates.map((e) => [e.data.orderId, e.data.status])).toEqual([[changed.RowKey, "Shipped"]]);
		expect(created().filter((id) => ids.has(id))).toEqual([]); // the first run was without --publish
	}, 120_000);

	it("a run killed midway leaves nothing unpublished: the next run publishes what it left, each order once", async () => {
		const ORDERS = 1000;
		const orders = ordinaryOrders(ORDERS, 10);
		const legacy = await seedLegacyTable(orders);
		const source = fromLegacy(legacy);
		// A short lease, so the killed run's claims run out soon (it must be at least 2× TimeoutMs).
		const env = {
			...destinationEnv(table),
			...source.env,
			TableStorage__TimeoutMs: "1000",
			Events__LeaseSeconds: "2",
		};
		const before = await countRows(table, "order");

		const first = startCli([...source.args, "--publish"], env);
		await vi.waitFor(
			async () => {
				const firstDone = await Promise.race([first.done, new Promise((r) => setTimeout(r, 0, "running"))]);
				if (firstDone !== "running")
					throw new Error(`the import ended before it was killed: ${JSON.stringify(firstDone)}`);
				expect(await countRows(table, "order")).toBeGreaterThanOrEqual(before + ORDERS / 10);
			},
			{ timeout: 90_000, interval: 50 },
		);
		first.child.kill("SIGKILL");
		expect((await first.done).code).toBe(null);
		await new Promise((r) => setTimeout(r, 2500)); // the killed run's claims (2 s) run out

		const second = await runCli([...source.args, "--publish"], env);
		expect(second.code, second.stderr).toBe(0);
		const ids = new Set(orders.map((o) => o.RowKey));
		const arrived = () => created().filter((id) => ids.has(id));
		await vi.waitFor(() => expect(new Set(arrived()).size).toBe(ORDERS), { timeout: 60_000, interval: 100 });
		// Once each: a marker created now arrives after anything either run logged.
		const marker = await createOrder(service.baseUrl, { customerName: "Marker", productName: "Flag" });
		await vi.waitFor(() => expect(created()).toContain(marker.orderId), { timeout: 30_000, interval: 50 });
		expect(arrived()).toHaveLength(ORDERS);
	}, 240_000);
});
