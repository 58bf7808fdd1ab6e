// The runner over a legacy table in Azurite and the in-memory store: what it reports while it runs
// and at the end (the CLI prints these lines; test/legacy-import/import.test.ts runs the CLI itself).
import { describe, expect, it } from "vitest";
import { formatDuration, runImport, summaryLines } from "../../src/legacy-import/runner.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";
import { ordinaryOrders, seedLegacyTable } from "./support.js";

describe("runImport", () => {
	it("reports progress with count, rate and time left, then a summary by outcome and reason", async () => {
		const orders = ordinaryOrders(40, 4);
		const source = await seedLegacyTable([
			...orders,
			{ PartitionKey: "x", RowKey: "not-a-guid", CustomerName: "A", ProductName: "B", Status: "Pending" },
		]);
		const store = new MemoryOrderStore();
		let clock = 0;
		const progress: string[] = [];
		const lines: string[] = [];
		const summary = await runImport(
			{ concurrency: 4 },
			{
				source,
				store,
				say: (l) => lines.push(l),
				progress: (p) => progress.push(p),
				now: () => (clock += 250),
			},
		);
		expect(summary.outcomes).toMatchObject({ imported: 40, exists: 0, failed: 0 });
		expect(summary.skipped).toEqual(new Map([["RowKey is not a GUID", 1]]));
		expect(progress.length).toBeGreaterThan(2);
		expect(progress[0]).toMatch(/^\d+\/41 \(\d+%\) {2}\d+\/s {2}about \d+ s left$/);
		expect(progress.at(-1)).toMatch(/^41\/41 \(100%\) {2}\d+\/s {2}about 0 s left$/);
		expect(lines[0]).toBe(
			`41 entities in ${source.tableName}; order ids from RowKey (no entity has an OrderId property)`,
		);
		expect(summaryLines(summary)).toEqual([
			expect.stringMatching(/^Done \(41 entities in [\d.]+ s\)\.$/),
			"  imported:  40",
			"  here already, left alone: 0",
			"  skipped (not orders): 1",
			"    1  RowKey is not a GUID",
			"  failed:    0",
		]);
		for (const o of orders) expect((await store.get(o.RowKey))?.customerName).toBe(o.CustomerName);

		const again = await runImport({ dryRun: true, update: true }, { source, store, say: () => {} });
		expect(again.outcomes).toMatchObject({ imported: 0, unchanged: 40 });
	}, 60_000);

	it("formats time left", () => {
		expect([5, 65, 3725].map(formatDuration)).toEqual(["5 s", "1 min 5 s", "1 h 2 min"]);
	});
});
