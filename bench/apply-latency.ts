// One status change's apply (applyStatusChange on the Azure store, events recorded) on an idle
// Azurite, one change at a time: the round trips a change waits for, without load. With
// BENCH_BASELINE_DIR, another build's store is measured beside this one, the two alternating
// round by round. Not part of `npm run bench`: run it by hand,
//   node --import tsx bench/apply-latency.ts
// and it writes bench/results/apply-latency.json.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { startNode } from "./lib.js";

type Build = { name: string; dir: string };
const builds: Build[] = [{ name: "this build", dir: resolve("src") }];
if (process.env.BENCH_BASELINE_DIR)
	builds.push({ name: "baseline build", dir: resolve(process.env.BENCH_BASELINE_DIR, "src") });

const ROUNDS = 6;
const ORDERS = 100;
const azurite = startNode("bench/servers/azurite.ts");
try {
	const { connectionString } = (await azurite.first) as { connectionString: string };
	const latencies = new Map<string, number[]>(builds.map((b) => [b.name, []]));
	const loaded = await Promise.all(
		builds.map(async (b) => ({
			...b,
			store: await import(`${b.dir}/storage/azure-tables.ts`),
			apply: await import(`${b.dir}/usecases/apply-status-change.ts`),
		})),
	);
	for (let round = 0; round < ROUNDS; round++) {
		const order = round % 2 ? [...loaded].reverse() : loaded;
		for (const b of order) {
			const store = b.store.createAzureTablesStore(
				connectionString,
				`Apply${round}${b.name.length}${Date.now()}`,
				{
					recordEvents: true,
				},
			);
			const ids: string[] = [];
			for (let i = 0; i < ORDERS; i++) {
				const created = await store.create({ customerName: "C", productName: "P", partitionKey: "Orders" });
				ids.push(created.order.orderId);
			}
			for (const orderId of ids) {
				const started = performance.now();
				const outcome = await b.apply.applyStatusChange(store, {
					orderId,
					status: "Processing",
					messageId: `m-${orderId}`,
					occurredAt: new Date().toISOString(),
				});
				latencies.get(b.name)?.push(performance.now() - started);
				if (outcome.kind !== "applied") throw new Error(`not applied: ${outcome.kind}`);
			}
		}
	}
	const quantile = (xs: number[], q: number) =>
		[...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))] ?? 0;
	const results = [...latencies].map(([build, xs]) => ({
		build,
		changes: xs.length,
		p50: quantile(xs, 0.5),
		p90: quantile(xs, 0.9),
		p99: quantile(xs, 0.99),
	}));
	console.log("| apply on idle Azurite | changes | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|");
	for (const r of results)
		console.log(
			`| ${r.build} | ${r.changes} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} |`,
		);
	writeFileSync(
		"bench/results/apply-latency.json",
		`${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`,
	);
} finally {
	await azurite.stop();
}
