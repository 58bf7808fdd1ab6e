// One entity group transaction's CPU: the SDK's TableClient.submitTransaction beside the hand-built
// $batch of src/storage/table-transaction.ts, in this process, against Azurite in its own process
// (so its CPU is not counted), one transaction at a time, the two alternating round by round. The
// shapes are the service's: a status change's commit (the order row's update on its ETag, history,
// marker and outbox rows), a pending-index mark (one upsert) and an event log append of a few rows.
import { randomUUID } from "node:crypto";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { tableClient } from "../src/storage/azure-tables.js";
import { submitTransaction } from "../src/storage/table-transaction.js";
import { fmt, median, startNode } from "./lib.js";

export interface TransactionsResult {
	shape: string;
	actions: number;
	transactions: number;
	sdkCpuUs: number;
	oursCpuUs: number;
	sdkWallMs: number;
	oursWallMs: number;
	/** Our CPU per transaction as a share of the SDK's. */
	cpuRatio: number;
}

type Shape = { name: string; actions: (partition: string, i: number) => TransactionAction[] };

const payload = JSON.stringify({
	orderId: randomUUID(),
	status: "Shipped",
	customerName: "Ada",
	at: new Date(),
});
const SHAPES: Shape[] = [
	{
		name: "status change commit",
		actions: (p, i) => [
			["update", { partitionKey: p, rowKey: "order", status: "Shipped", version: i }, "Merge", { etag: "*" }],
			["create", { partitionKey: p, rowKey: `h~${i}`, status: "Shipped", at: new Date().toISOString() }],
			["create", { partitionKey: p, rowKey: `m~${i}`, appliedAt: new Date().toISOString() }],
			["create", { partitionKey: p, rowKey: `o~${i}`, event: payload }],
		],
	},
	{
		name: "pending-index mark",
		actions: (_p, i) => [["upsert", { partitionKey: "~pending", rowKey: `${i}`, at: Date.now() }, "Replace"]],
	},
	{
		name: "event log append (3 events)",
		actions: (p, i) =>
			[0, 1, 2].map(
				(k): TransactionAction => ["create", { partitionKey: p, rowKey: `${i}-${k}`, data: payload }],
			),
	},
];

export async function benchTransactions(quick: boolean): Promise<TransactionsResult[]> {
	const perRound = quick ? 100 : 400;
	const rounds = quick ? 2 : 4;
	const azurite = startNode("bench/servers/azurite.ts");
	try {
		const { connectionString } = (await azurite.first) as { connectionString: string };
		const client = tableClient(connectionString, `Tx${Date.now()}`);
		await client.createTable();
		const ways: Record<"sdk" | "ours", (actions: TransactionAction[]) => Promise<unknown>> = {
			sdk: (actions) => client.submitTransaction(actions),
			ours: (actions) => submitTransaction(client, actions),
		};
		const results: TransactionsResult[] = [];
		for (const shape of SHAPES) {
			const cpu = { sdk: [] as number[], ours: [] as number[] };
			const wall = { sdk: [] as number[], ours: [] as number[] };
			for (let round = 0; round < rounds; round++) {
				for (const way of round % 2 ? (["ours", "sdk"] as const) : (["sdk", "ours"] as const)) {
					const partition = `${way}${round}${shape.name.length}`;
					await prepare(client, partition);
					await prepare(client, `${partition}w`);
					for (let i = 0; i < 20; i++) await ways[way](shape.actions(`${partition}w`, i)); // warm-up
					const cpuBefore = process.cpuUsage();
					const wallBefore = performance.now();
					for (let i = 0; i < perRound; i++) await ways[way](shape.actions(partition, i));
					const used = process.cpuUsage(cpuBefore);
					cpu[way].push((used.user + used.system) / perRound);
					wall[way].push((performance.now() - wallBefore) / perRound);
				}
			}
			const sdkCpuUs = median(cpu.sdk);
			const oursCpuUs = median(cpu.ours);
			results.push({
				shape: shape.name,
				actions: shape.actions("p", 0).length,
				transactions: perRound * rounds,
				sdkCpuUs,
				oursCpuUs,
				sdkWallMs: median(wall.sdk),
				oursWallMs: median(wall.ours),
				cpuRatio: oursCpuUs / sdkCpuUs,
			});
		}
		return results;
	} finally {
		await azurite.stop();
	}
}

/** The order row a commit's update needs. */
async function prepare(client: TableClient, partition: string): Promise<void> {
	await client.upsertEntity({ partitionKey: partition, rowKey: "order", status: "Pending" }, "Replace");
}

export function transactionsTable(results: TransactionsResult[]): string {
	const rows = results.map(
		(r) =>
			`| ${r.shape} | ${r.actions} | ${r.transactions} | ${fmt(r.sdkCpuUs, 0)} | ${fmt(r.oursCpuUs, 0)} | ${fmt(r.cpuRatio, 2)} | ${fmt(r.sdkWallMs, 2)} | ${fmt(r.oursWallMs, 2)} |`,
	);
	return [
		"| transaction | actions | transactions each | SDK µs CPU | hand-built µs CPU | of SDK | SDK ms wall | hand-built ms wall |",
		"|---|---|---|---|---|---|---|---|",
		...rows,
	].join("\n");
}
