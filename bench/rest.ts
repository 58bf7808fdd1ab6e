// REST benchmark: order-tracker over the in-memory store and over Azurite, beside bare Hono routes
// answering the same JSON from a Map, in the same run. Load from autocannon in another process.
import { fmt, startNode } from "./lib.js";

const SCENARIOS = ["create", "get", "list", "update"] as const;
export type Scenario = (typeof SCENARIOS)[number];
type Target =
	| "bare Hono + Map"
	| "order-tracker, memory"
	| "bare Hono + Azure Tables"
	| "order-tracker, Azurite";

export interface RestResult {
	target: string;
	scenario: Scenario;
	rps: number;
	p50: number;
	p99: number;
	requests: number;
	errors: number;
	non2xx: number;
	/** req/s as a share of the bare Hono + Map baseline's, same scenario, same run */
	ofBare?: number;
	/** req/s as a share of the bare Hono + Azure Tables baseline's (targets over Azurite) */
	ofBareTables?: number;
}

/** Runs the scenarios in one load generator process against a server already listening at `baseUrl`. */
export async function loadScenarios(
	target: string,
	baseUrl: string,
	scenarios: readonly Scenario[],
	opts: { seconds: number; connections: number; updates: number; seed?: number },
): Promise<RestResult[]> {
	const load = startNode("bench/rest-load.ts", [
		baseUrl,
		scenarios.join(","),
		String(opts.seconds),
		String(opts.connections),
		String(opts.updates),
		String(opts.seed ?? 1000),
	]);
	const out = (await load.first) as unknown as Omit<RestResult, "target">[];
	await load.stop();
	return out.map((r) => ({ target, ...r }));
}

async function runTarget(
	target: Target,
	script: string,
	env: Record<string, string>,
	opts: { seconds: number; connections: number; updates: number; seed?: number },
): Promise<RestResult[]> {
	const server = startNode(script, [], env);
	try {
		const { port } = (await server.first) as { port: number };
		return await loadScenarios(target, `http://127.0.0.1:${port}`, SCENARIOS, opts);
	} finally {
		await server.stop();
	}
}

export async function benchRest(quick: boolean): Promise<RestResult[]> {
	const opts = {
		seconds: quick ? 1 : 5,
		connections: 20,
		updates: quick ? 500 : 5000,
		seed: quick ? 200 : 1000,
	};
	const azurite = startNode("bench/servers/azurite.ts");
	try {
		const { connectionString } = (await azurite.first) as { connectionString: string };
		const onAzurite = { ...opts, updates: quick ? 100 : 2000 };
		const tables = (name: string) => ({
			BENCH_TABLES_CONNECTION_STRING: connectionString,
			BENCH_TABLE_NAME: `${name}${Date.now()}`,
		});
		return withRatios([
			...(await runTarget("bare Hono + Map", "bench/servers/bare-hono.ts", {}, opts)),
			...(await runTarget("order-tracker, memory", "bench/servers/app.ts", {}, opts)),
			...(await runTarget(
				"bare Hono + Azure Tables",
				"bench/servers/bare-tables.ts",
				tables("Bare"),
				onAzurite,
			)),
			...(await runTarget("order-tracker, Azurite", "bench/servers/app.ts", tables("Rest"), onAzurite)),
		]);
	} finally {
		await azurite.stop();
	}
}

/** Each result's req/s as a share of the baselines' in the same scenario (fields for scripts and tables). */
function withRatios(results: RestResult[]): RestResult[] {
	const rps = (target: string, scenario: Scenario) =>
		results.find((r) => r.target === target && r.scenario === scenario)?.rps;
	return results.map((r) => {
		const bare = rps("bare Hono + Map", r.scenario);
		const bareTables = rps("bare Hono + Azure Tables", r.scenario);
		return {
			...r,
			...(bare && r.target !== "bare Hono + Map" ? { ofBare: r.rps / bare } : {}),
			...(bareTables && r.target === "order-tracker, Azurite" ? { ofBareTables: r.rps / bareTables } : {}),
		};
	});
}

/** A Markdown table of `results`, each beside the same scenario of the `baseline` target. */
export function ratioTable(title: string, results: RestResult[], baseline: string): string {
	const bare = new Map(results.filter((r) => r.target === baseline).map((r) => [r.scenario, r]));
	const rows = results.map((r) => {
		const base = bare.get(r.scenario);
		const ratio = base && r.target !== baseline ? `${fmt((r.rps / base.rps) * 100, 0)}%` : "";
		return `| ${r.scenario} | ${r.target} | ${fmt(r.rps, 0)} | ${ratio} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.requests} | ${r.errors + r.non2xx} |`;
	});
	return [
		`| ${title} | server | req/s | of bare | p50 ms | p99 ms | requests | errors |`,
		"|---|---|---|---|---|---|---|---|",
		...rows,
	].join("\n");
}

export function restTable(results: RestResult[]): string {
	const rows = results.map(
		(r) =>
			`| ${r.scenario} | ${r.target} | ${fmt(r.rps, 0)} | ${r.ofBare === undefined ? "" : fmt(r.ofBare, 2)} | ${r.ofBareTables === undefined ? "" : fmt(r.ofBareTables, 2)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.requests} | ${r.errors + r.non2xx} |`,
	);
	return [
		"| REST | server | req/s | of bare Hono + Map | of bare Hono + Azure Tables | p50 ms | p99 ms | requests | errors |",
		"|---|---|---|---|---|---|---|---|---|",
		...rows,
	].join("\n");
}
