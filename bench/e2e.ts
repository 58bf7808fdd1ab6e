// End to end: status changes through Service Bus (the test broker, own process) and Azurite (own
// process) to N SSE subscribers, at a steady rate, from a load generator in another process.
import { fmt, startNode } from "./lib.js";

export interface E2eResult {
	subscribers: number;
	changes: number;
	targetRate: number;
	achievedRate: number;
	p50: number;
	p99: number;
	max: number;
	expectedEvents: number;
	lost: number;
	doubled: number;
	rejected: number;
}

export async function benchE2e(quick: boolean): Promise<E2eResult> {
	const azurite = startNode("bench/servers/azurite.ts");
	const broker = startNode("bench/servers/broker.ts");
	let app: ReturnType<typeof startNode> | undefined;
	try {
		const tables = (await azurite.first).connectionString as string;
		const bus = (await broker.first).connectionString as string;
		app = startNode("bench/servers/app.ts", [], {
			BENCH_TABLES_CONNECTION_STRING: tables,
			BENCH_TABLE_NAME: `E2e${Date.now()}`,
			BENCH_SERVICE_BUS_CONNECTION_STRING: bus,
		});
		const { port } = (await app.first) as { port: number };
		// BENCH_E2E="subscribers,rate,seconds" overrides the shape (for exploring where time goes).
		const override = process.env.BENCH_E2E?.split(",").map(Number);
		const [subs, rate, seconds] = override ?? (quick ? [200, 50, 5] : [1000, 100, 20]);
		const load = startNode("bench/e2e-load.ts", [
			`http://127.0.0.1:${port}`,
			String(subs),
			String(rate),
			String(seconds),
		]);
		const result = (await load.first) as unknown as E2eResult;
		await load.stop();
		return result;
	} finally {
		await app?.stop();
		await broker.stop();
		await azurite.stop();
	}
}

export function e2eTable(r: E2eResult): string {
	return [
		"| end to end (PUT → Service Bus → Azurite → SSE) | subscribers | changes | target/s | achieved/s | p50 ms | p99 ms | max ms | events delivered | lost | doubled |",
		"|---|---|---|---|---|---|---|---|---|---|---|",
		`| test broker + Azurite | ${r.subscribers} | ${r.changes} | ${r.targetRate} | ${fmt(r.achievedRate, 1)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.max, 1)} | ${r.expectedEvents - r.lost}/${r.expectedEvents} | ${r.lost} | ${r.doubled} |`,
	].join("\n");
}
