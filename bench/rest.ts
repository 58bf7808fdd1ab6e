// REST benchmark: order-tracker over the in-memory store and over Azurite, beside bare Hono routes
// answering the same JSON from a Map, in the same run. Load from autocannon in another process.
import { fmt, startNode } from "./lib.js";

const SCENARIOS = ["create", "get", "list", "update"] as const;
type Scenario = (typeof SCENARIOS)[number];
type Target = "bare Hono + Map" | "order-tracker, memory" | "order-tracker, Azurite";

export interface RestResult {
	target: Target;
	scenario: Scenario;
	rps: number;
	p50: number;
	p99: number;
	requests: number;
	errors: number;
	non2xx: number;
}

async function runTarget(
	target: Target,
	script: string,
	env: Record<string, string>,
	opts: { seconds: number; connections: number; updates: number },
): Promise<RestResult[]> {
	const server = startNode(script, [], env);
	const results: RestResult[] = [];
	try {
		const { port } = (await server.first) as { port: number };
		for (const scenario of SCENARIOS) {
			const load = startNode("bench/rest-load.ts", [
				`http://127.0.0.1:${port}`,
				scenario,
				String(opts.seconds),
				String(opts.connections),
				String(opts.updates),
			]);
			const out = (await load.first) as Omit<RestResult, "target">;
			await load.stop();
			results.push({ target, ...out });
		}
	} finally {
		await server.stop();
	}
	return results;
}

export async function benchRest(quick: boolean): Promise<RestResult[]> {
	const opts = { seconds: quick ? 1 : 8, connections: 20, updates: quick ? 500 : 5000 };
	const azurite = startNode("bench/servers/azurite.ts");
	try {
		const { connectionString } = (await azurite.first) as { connectionString: string };
		return [
			...(await runTarget("bare Hono + Map", "bench/servers/bare-hono.ts", {}, opts)),
			...(await runTarget("order-tracker, memory", "bench/servers/app.ts", {}, opts)),
			...(await runTarget(
				"order-tracker, Azurite",
				"bench/servers/app.ts",
				{ BENCH_TABLES_CONNECTION_STRING: connectionString, BENCH_TABLE_NAME: `Rest${Date.now()}` },
				{ ...opts, updates: quick ? 200 : 2000 },
			)),
		];
	} finally {
		await azurite.stop();
	}
}

export function restTable(results: RestResult[]): string {
	const bare = new Map(results.filter((r) => r.target === "bare Hono + Map").map((r) => [r.scenario, r]));
	const rows = results.map((r) => {
		const base = bare.get(r.scenario);
		const ratio = base && r.target !== "bare Hono + Map" ? `${fmt((r.rps / base.rps) * 100, 0)}%` : "";
		return `| ${r.scenario} | ${r.target} | ${fmt(r.rps, 0)} | ${ratio} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.requests} | ${r.errors + r.non2xx} |`;
	});
	return [
		"| REST | server | req/s | of bare | p50 ms | p99 ms | requests | errors |",
		"|---|---|---|---|---|---|---|---|",
		...rows,
	].join("\n");
}
