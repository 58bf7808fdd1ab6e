// `npm run import-legacy` against Azurite: a table in the original's shape (5,000 orders across
// 50 partition keys, lower-case statuses, and entities that are not orders), imported by the CLI in
// its own process, read back through the API of a real service (`node src/node.ts`) on the same
// store. A second run changes nothing; --dry-run writes nothing; --update and --map-status.
import { randomUUID } from "node:crypto";
import type { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { HistoryEntry, Order } from "../../src/domain/order.js";
import { type Service, startService } from "../support/process.js";
import { uniqueTableName } from "../support/tables.js";
import {
	countRows,
	destinationEnv,
	fromLegacy,
	type LegacyOrder,
	ordinaryOrders,
	runCli,
	seedLegacyTable,
} from "./support.js";

const ORDERS = 5000;
const PARTITIONS = 50;
const table = uniqueTableName("Imported");
const env = destinationEnv(table);
const ordinary = ordinaryOrders(ORDERS, PARTITIONS);
const duplicateId = randomUUID();
const odd = {
	unknownStatus: {
		PartitionKey: "shop-1",
		RowKey: randomUUID(),
		CustomerName: "Ian",
		ProductName: "Van",
		Status: "In transit",
	},
	noCustomer: { PartitionKey: "shop-2", RowKey: randomUUID(), ProductName: "Kite", Status: "Pending" },
	notAGuid: {
		PartitionKey: "shop-3",
		RowKey: "order-17",
		CustomerName: "Nina",
		ProductName: "Net",
		Status: "Pending",
	},
	duplicateA: {
		PartitionKey: "shop-4",
		RowKey: duplicateId,
		CustomerName: "Dot",
		ProductName: "Dice",
		Status: "Pending",
	},
	duplicateB: {
		PartitionKey: "shop-5",
		RowKey: duplicateId,
		CustomerName: "Dot",
		ProductName: "Dice",
		Status: "Shipped",
	},
} satisfies Record<string, LegacyOrder>;

let legacy: TableClient;
let service: Service;
let source: { args: string[]; env: Record<string, string> };
const run = (...args: string[]) => runCli([...source.args, ...args], { ...env, ...source.env });

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
	const res = await fetch(`${service.baseUrl}${path}`);
	return { status: res.status, body: (await res.json()) as T };
}

/** Every order of a partition key through the API, following continuation tokens. */
async function listPartition(partitionKey: string): Promise<Order[]> {
	const all: Order[] = [];
	let token: string | null = null;
	do {
		const query = new URLSearchParams({
			partitionKey,
			limit: "30",
			...(token ? { continuationToken: token } : {}),
		});
		const res = await fetch(`${service.baseUrl}/api/orders?${query}`);
		expect(res.status).toBe(200);
		all.push(...((await res.json()) as Order[]));
		token = res.headers.get("x-continuation-token");
	} while (token);
	return all;
}

beforeAll(async () => {
	legacy = await seedLegacyTable([...ordinary, ...Object.values(odd)]);
	source = fromLegacy(legacy);
	service = await startService(env);
}, 120_000);

afterAll(async () => {
	service?.child.kill("SIGINT");
	await service?.exited;
});

describe("npm run import-legacy", () => {
	it("--dry-run says what it would do and writes nothing", async () => {
		const result = await run("--dry-run");
		expect(result.stderr).toBe("");
		expect(result.code).toBe(0);
		expect(result.stdout).toMatch(/Dry run: nothing was written \(5005 entities in [\d.]+ s\)\./);
		expect(result.stdout).toContain(`would be imported:  ${ORDERS}\n`);
		expect((await getJson<Order[]>("/api/orders")).body).toEqual([]);
		expect(await countRows(table, "order")).toBe(0);
	}, 120_000);

	it("imports every order with its id, names, canonical status and Timestamp, and lists what is not an order", async () => {
		const result = await run();
		expect(result.code, result.stderr).toBe(0);
		const out = result.stdout;
		expect(out).toContain(
			`${ORDERS + 5} entities in ${legacy.tableName}; order ids from RowKey (no entity has an OrderId property)`,
		);
		expect(out).toContain(`  imported:  ${ORDERS}\n`);
		expect(out).toContain("  skipped (not orders): 5\n");
		expect(out).toContain("    2  duplicate id (more than one entity has it)\n");
		expect(out).toContain(`    1  unknown status 'In transit' (map it with --map-status)\n`);
		expect(out).toContain("    1  no CustomerName\n");
		expect(out).toContain("    1  RowKey is not a GUID\n");
		expect(out).toContain(`skipped  PartitionKey "shop-3" RowKey "order-17": RowKey is not a GUID`);
		expect(out).toContain("  failed:    0\n");

		// Read back through the API: a partition key's orders, one by one, and their history.
		const legacyTimes = new Map<string, string>();
		for await (const e of legacy.listEntities({ queryOptions: { filter: "PartitionKey eq 'shop-7'" } }))
			legacyTimes.set(e.rowKey as string, new Date(e.timestamp as string).toISOString());
		const expected = ordinary.filter((o) => o.PartitionKey === "shop-7");
		const listed = await listPartition("shop-7");
		expect(listed).toHaveLength(ORDERS / PARTITIONS);
		expect(new Set(listed.map((o) => o.orderId))).toEqual(new Set(expected.map((o) => o.RowKey)));
		for (const o of expected.slice(0, 20)) {
			const at = legacyTimes.get(o.RowKey);
			const { status, body } = await getJson<Order>(`/api/orders/${o.RowKey}`);
			expect(status).toBe(200);
			expect(body).toEqual({
				orderId: o.RowKey,
				partitionKey: "shop-7",
				customerName: o.CustomerName,
				productName: o.ProductName,
				status: {
					pending: "Pending",
					processing: "Processing",
					shipped: "Shipped",
					delivered: "Delivered",
					cancelled: "Cancelled",
				}[(o.Status as string).toLowerCase()],
				createdAt: at,
				updatedAt: at,
			});
			expect((await getJson<HistoryEntry[]>(`/api/orders/${o.RowKey}/history`)).body).toEqual([
				{ status: body.status, at, messageId: `import:${o.RowKey}:0`, source: "import" },
			]);
		}
		for (const skipped of [odd.unknownStatus, odd.noCustomer, odd.duplicateA])
			expect((await getJson(`/api/orders/${skipped.RowKey}`)).status).toBe(404);
		// Imported orders take status changes like any other.
		const delivered = expected.find((o) => o.Status === "Delivered") as LegacyOrder;
		const put = await fetch(`${service.baseUrl}/api/orders/update-status/${delivered.RowKey}`, {
			method: "PUT",
			headers: { "content-type": "application/json" },
			body: JSON.stringify("Pending"),
		});
		expect(put.status).toBe(409);
	}, 180_000);

	it("a second run changes nothing, not even what changed in the legacy table since (that takes --update)", async () => {
		const changed = ordinary[42] as LegacyOrder;
		await legacy.updateEntity(
			{ partitionKey: changed.PartitionKey, rowKey: changed.RowKey, Status: "Delivered" },
			"Merge",
		);
		const before = await listPartition(changed.PartitionKey);
		const result = await run();
		expect(result.code, result.stderr).toBe(0);
		expect(result.stdout).toContain("  imported:  0\n");
		expect(result.stdout).toContain(`  here already, left alone: ${ORDERS}\n`);
		expect(await listPartition(changed.PartitionKey)).toEqual(before);
		expect((await getJson<Order>(`/api/orders/${changed.RowKey}`)).body.status).toBe("Pending");
		expect(await countRows(table, "order")).toBe(ORDERS);
		expect(await countRows(table, "h~0000000000")).toBe(ORDERS);
		expect(await countRows(table, "h~0000000001")).toBe(0);
	}, 180_000);

	it("--update brings over what changed, with a history entry; --map-status imports a status this service does not know", async () => {
		const changed = ordinary[42] as LegacyOrder; // made Delivered in the legacy table by the test before
		const result = await run("--update", "--map-status", "in TRANSIT=shipped");
		expect(result.code, result.stderr).toBe(0);
		expect(result.stdout).toContain("  imported:  1\n");
		expect(result.stdout).toContain("  updated:   1\n");
		expect(result.stdout).toContain(`  unchanged: ${ORDERS - 1}\n`);
		expect((await getJson<Order>(`/api/orders/${odd.unknownStatus.RowKey}`)).body.status).toBe("Shipped");
		expect((await getJson<Order>(`/api/orders/${changed.RowKey}`)).body.status).toBe("Delivered");
		const history = (await getJson<HistoryEntry[]>(`/api/orders/${changed.RowKey}/history`)).body;
		expect(history.map((h) => [h.status, h.source])).toEqual([
			["Pending", "import"],
			["Delivered", "import"],
		]);
	}, 180_000);

	it("exits non-zero when writes fail, and refuses to import a table into itself", async () => {
		const small = await seedLegacyTable(ordinaryOrders(3, 1));
		const closed = inject("azuriteConnectionString").replace(/:(\d+)\//, ":9/");
		const failed = await runCli([...fromLegacy(small).args], {
			...destinationEnv(table),
			...source.env,
			TableStorage__ConnectionString: closed,
			TableStorage__TimeoutMs: "500",
		});
		expect(failed.code).toBe(1);
		expect(failed.stdout).toContain("  failed:    3\n");

		const badUsage = await runCli(["--id-from", "Guid", "--map-status", "Lost=Gone"], {
			...env,
			...source.env,
		});
		expect(badUsage.code).toBe(2);
		expect(badUsage.stderr).toContain("--id-from must be RowKey or OrderId, not 'Guid'");
		expect(badUsage.stderr).toContain(`--map-status "Lost=Gone": 'Gone' is not one of`);
		const garbled = await runCli([], { ...env, LEGACY_CONNECTION_STRING: "AccountName=x;AccountKey=S3cr3t" });
		expect(garbled.code).toBe(2);
		expect(garbled.stderr).toContain("the legacy connection string is not a Table Storage connection string");
		expect(garbled.stdout + garbled.stderr).not.toContain("S3cr3t");

		const itself = await runCli(["--from-table", table], { ...env, ...source.env });
		expect(itself.code).toBe(2);
		expect(itself.stderr).toContain(
			`the legacy table is the table this service is configured to use (${table})`,
		);
	}, 120_000);
});
