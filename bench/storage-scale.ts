// Storage scale: get-by-id and update-status latency against Azurite with 1,000 and with 100,000
// orders in the table. Both are point operations in our layout, so they should stay flat.
// Azurite runs in its own process; this process seeds the table and times the store's calls.

import { newOrderId } from "../src/domain/ids.js";
import { createAzureTablesStore, tableClient } from "../src/storage/azure-tables.js";
import { applyStatusChange } from "../src/usecases/apply-status-change.js";
import { fmt, startNode } from "./lib.js";

export interface ScaleResult {
	orders: number;
	seedSeconds: number;
	getP50: number;
	getP99: number;
	updateP50: number;
	updateP99: number;
	/** Finding 10 events left pending: through the pending index (ms), and by the table-wide scan it replaced */
	sweepIndexMs: number;
	sweepScanMs: number;
	/** sweepScanMs / sweepIndexMs */
	sweepSpeedup: number;
	/** On the larger table: its figures as a share of the smaller table's, same run */
	ofSmaller?: { getP50: number; getP99: number; updateP50: number; updateP99: number };
}

const percentile = (xs: number[], p: number) => {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

async function measure(connectionString: string, orders: number, samples: number): Promise<ScaleResult> {
	const tableName = `Scale${orders}x${Date.now()}`;
	const store = createAzureTablesStore(connectionString, tableName, { timeoutMs: 30_000 });
	const ids: string[] = [];
	const started = Date.now();
	let next = 0;
	// Every order is its own partition (see docs/table-layout.md), so seeding cannot batch across
	// orders: 64 creates in flight instead.
	await Promise.all(
		Array.from({ length: 64 }, async () => {
			while (next < orders) {
				next++;
				const r = await store.create({ partitionKey: "Orders", customerName: "Bench", productName: "Seed" });
				if (r.kind === "created") ids.push(r.order.orderId);
			}
		}),
	);
	const seedSeconds = (Date.now() - started) / 1000;
	const pick = () => ids[Math.floor(Math.random() * ids.length)] as string;
	const gets: number[] = [];
	for (let i = 0; i < samples; i++) {
		const t = performance.now();
		await store.get(pick());
		gets.push(performance.now() - t);
	}
	const updates: number[] = [];
	const targets = [...ids].sort(() => Math.random() - 0.5).slice(0, samples);
	for (const orderId of targets) {
		const t = performance.now();
		const r = await applyStatusChange(store, {
			orderId,
			status: "Processing",
			messageId: newOrderId(),
			occurredAt: "",
		});
		updates.push(performance.now() - t);
		if (r.kind !== "applied") throw new Error(`expected applied, got ${r.kind}`);
	}
	// The outbox sweep: 10 events left behind (recorded, nobody holds them) among all these orders,
	// found by the pending index, and by a full pass of the scan the index replaced (same table).
	const recording = createAzureTablesStore(connectionString, tableName, {
		timeoutMs: 30_000,
		recordEvents: true,
	});
	const left = targets.slice(0, 10);
	for (const orderId of left) {
		await applyStatusChange(recording, {
			orderId,
			status: "Shipped",
			messageId: newOrderId(),
			occurredAt: "",
		});
	}
	// Timed as it runs once the old scan is done (its marker row written): the index alone. The
	// marker is taken away again for the scan's own pass below.
	const marker = { partitionKey: "~pending", rowKey: "~scanned" };
	const markers = tableClient(connectionString, tableName);
	await markers.upsertEntity(marker);
	let t = performance.now();
	const viaIndex = await recording.ordersWithUnclaimedEvents();
	const sweepIndexMs = performance.now() - t;
	await markers.deleteEntity(marker.partitionKey, marker.rowKey);
	const scanner = createAzureTablesStore(connectionString, tableName, {
		timeoutMs: 30_000,
		recordEvents: true,
	});
	t = performance.now();
	const viaScan = new Set<string>();
	while (scanner.scanPasses === 0) {
		for (const id of await scanner.scanForUnindexedEvents()) viaScan.add(id);
	}
	const sweepScanMs = performance.now() - t;
	if (viaIndex.length !== left.length || viaScan.size !== left.length)
		throw new Error(`sweep found ${viaIndex.length} (index) and ${viaScan.size} (scan) of ${left.length}`);
	return {
		orders,
		seedSeconds,
		sweepIndexMs,
		sweepScanMs,
		sweepSpeedup: sweepScanMs / sweepIndexMs,
		getP50: percentile(gets, 50),
		getP99: percentile(gets, 99),
		updateP50: percentile(updates, 50),
		updateP99: percentile(updates, 99),
	};
}

export async function benchStorageScale(quick: boolean): Promise<ScaleResult[]> {
	const azurite = startNode("bench/servers/azurite.ts");
	try {
		const { connectionString } = (await azurite.first) as { connectionString: string };
		const samples = quick ? 200 : 500;
		const small = await measure(connectionString, 1000, samples);
		const large = await measure(connectionString, quick ? 10_000 : 100_000, samples);
		// The ratios the table prints, as fields.
		const ofSmaller = {
			getP50: large.getP50 / small.getP50,
			getP99: large.getP99 / small.getP99,
			updateP50: large.updateP50 / small.updateP50,
			updateP99: large.updateP99 / small.updateP99,
		};
		return [small, { ...large, ofSmaller }];
	} finally {
		await azurite.stop();
	}
}

export function scaleTable(results: ScaleResult[]): string {
	const [small, large] = results as [ScaleResult, ScaleResult];
	const rows = results.map(
		(r) =>
			`| ${r.orders} | ${fmt(r.seedSeconds, 1)} | ${fmt(r.getP50, 2)} | ${fmt(r.getP99, 2)} | ${fmt(r.updateP50, 2)} | ${fmt(r.updateP99, 2)} | ${fmt(r.sweepIndexMs, 1)} | ${fmt(r.sweepScanMs, 0)} (${fmt(r.sweepSpeedup, 0)}×) |`,
	);
	rows.push(
		`| ratio ${large.orders} / ${small.orders} | | ${fmt(large.getP50 / small.getP50, 2)}× | ${fmt(large.getP99 / small.getP99, 2)}× | ${fmt(large.updateP50 / small.updateP50, 2)}× | ${fmt(large.updateP99 / small.updateP99, 2)}× | ${fmt(large.sweepIndexMs / small.sweepIndexMs, 2)}× | ${fmt(large.sweepScanMs / small.sweepScanMs, 2)}× |`,
	);
	return [
		"| Azurite table size (orders) | seed s | get p50 ms | get p99 ms | update-status p50 ms | update-status p99 ms | sweep via index ms | sweep by scan ms (index ×faster) |",
		"|---|---|---|---|---|---|---|---|",
		...rows,
	].join("\n");
}
