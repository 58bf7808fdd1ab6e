// A table in the shape the .NET original wrote, in the run's Azurite, and `npm run import-legacy`
// run as a user runs it (the CLI in its own process).
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { odata, TableClient, type TransactionAction } from "@azure/data-tables";
import { inject } from "vitest";
import { tableClient } from "../../src/storage/azure-tables.js";
import { uniqueTableName } from "../support/tables.js";

export interface LegacyOrder {
	PartitionKey: string;
	RowKey: string;
	CustomerName?: string;
	ProductName?: string;
	Status?: string;
	OrderId?: string;
}

/** The statuses as the original let clients write them: any case. */
const STATUSES = ["Pending", "processing", "SHIPPED", "Delivered", "cancelled"];

/** `count` ordinary orders spread over `partitions` partition keys, every status in each. */
export function ordinaryOrders(count: number, partitions: number): LegacyOrder[] {
	return Array.from({ length: count }, (_, i) => ({
		PartitionKey: `shop-${i % partitions}`,
		RowKey: randomUUID(),
		CustomerName: `Customer ${i}`,
		ProductName: `Product ${i % 7}`,
		Status: STATUSES[Math.floor(i / partitions) % STATUSES.length] as string,
	}));
}

/** Creates a legacy table holding `orders` (batches of 100 per partition). */
export async function seedLegacyTable(orders: LegacyOrder[]): Promise<TableClient> {
	const client = tableClient(inject("azuriteConnectionString"), uniqueTableName("Legacy"));
	await client.createTable();
	const byPartition = new Map<string, LegacyOrder[]>();
	for (const o of orders) byPartition.set(o.PartitionKey, [...(byPartition.get(o.PartitionKey) ?? []), o]);
	await Promise.all(
		[...byPartition.values()].map(async (rows) => {
			for (let i = 0; i < rows.length; i += 100) {
				const actions: TransactionAction[] = rows
					.slice(i, i + 100)
					.map(({ PartitionKey, RowKey, ...props }) => [
						"create",
						{ partitionKey: PartitionKey, rowKey: RowKey, ...props },
					]);
				await client.submitTransaction(actions);
			}
		}),
	);
	return client;
}

export interface CliRun {
	code: number | null;
	stdout: string;
	stderr: string;
}

/** The environment of a run importing into `table` of the run's Azurite (no appsettings.json). */
export function destinationEnv(table: string): Record<string, string> {
	return {
		APPSETTINGS_PATH: join(mkdtempSync(join(tmpdir(), "import-")), "none.json"),
		TableStorage__ConnectionString: inject("azuriteConnectionString"),
		TableStorage__TableName: table,
	};
}

/** Starts `npm run import-legacy -- …args` (as its script runs it: node with tsx). */
export function startCli(
	args: string[],
	env: Record<string, string>,
): { child: ChildProcess; done: Promise<CliRun> } {
	const child = spawn(process.execPath, ["--import", "tsx", "src/legacy-import/cli.ts", ...args], {
		env: { ...process.env, ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let stdout = "";
	let stderr = "";
	child.stdout?.on("data", (d) => {
		stdout += d;
	});
	child.stderr?.on("data", (d) => {
		stderr += d;
	});
	const done = new Promise<CliRun>((resolve) =>
		child.on("close", (code) => resolve({ code, stdout, stderr })),
	);
	return { child, done };
}

export const runCli = (args: string[], env: Record<string, string>) => startCli(args, env).done;

/** The source of a legacy table, for --from-table, and its account through the environment. */
export function fromLegacy(client: TableClient): { args: string[]; env: Record<string, string> } {
	return {
		args: ["--from-table", client.tableName],
		env: { LEGACY_CONNECTION_STRING: inject("azuriteConnectionString") },
	};
}

/** A count of the rows of `table` whose RowKey is `rowKey` (the order rows, or their first history rows). */
export async function countRows(table: string, rowKey: string): Promise<number> {
	const client = TableClient.fromConnectionString(inject("azuriteConnectionString"), table, {
		allowInsecureConnection: true,
	});
	let n = 0;
	for await (const _ of client.listEntities({
		queryOptions: { filter: odata`RowKey eq ${rowKey}`, select: ["RowKey"] },
	}))
		n++;
	return n;
}
