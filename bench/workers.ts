// Workers benchmark: order-tracker's Worker (src/worker.ts, memory store, hub object) in workerd
// beside the bare Hono app as a Worker, both under `wrangler dev` on this machine, in the same run.
// Absolute numbers say little about Cloudflare's edge (a local proxy, one workerd, 2 shared cores);
// the ratio says what the app's validation, problem details and ports cost in workerd.
import { startWorker } from "../test/support/workerd.js";
import { fmt, startNode } from "./lib.js";

const SCENARIOS = ["create", "get"] as const;
type Target = "bare Hono Worker + Map" | "order-tracker Worker, memory";

export interface WorkersResult {
	target: Target;
	scenario: (typeof SCENARIOS)[number];
	rps: number;
	p50: number;
	p99: number;
	requests: number;
	errors: number;
	non2xx: number;
}

async function runTarget(
	target: Target,
	worker: Parameters<typeof startWorker>[0],
	seconds: number,
): Promise<WorkersResult[]> {
	const running = await startWorker(worker);
	const results: WorkersResult[] = [];
	try {
		for (const scenario of SCENARIOS) {
			const load = startNode("bench/rest-load.ts", [running.baseUrl, scenario, String(seconds), "20", "0"]);
			const out = (await load.first) as Omit<WorkersResult, "target">;
			await load.stop();
			results.push({ target, ...out });
		}
	} finally {
		await running.stop();
	}
	return results;
}

export async function benchWorkers(quick: boolean): Promise<WorkersResult[]> {
	const seconds = quick ? 1 : 8;
	return [
		...(await runTarget(
			"bare Hono Worker + Map",
			{ script: "bench/servers/bare-worker.ts", config: null },
			seconds,
		)),
		...(await runTarget("order-tracker Worker, memory", {}, seconds)),
	];
}

export function workersTable(results: WorkersResult[]): string {
	const bare = new Map(
		results.filter((r) => r.target === "bare Hono Worker + Map").map((r) => [r.scenario, r]),
	);
	const rows = results.map((r) => {
		const base = bare.get(r.scenario);
		const ratio = base && r.target !== "bare Hono Worker + Map" ? `${fmt((r.rps / base.rps) * 100, 0)}%` : "";
		return `| ${r.scenario} | ${r.target} | ${fmt(r.rps, 0)} | ${ratio} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.requests} | ${r.errors + r.non2xx} |`;
	});
	return [
		"| REST in workerd | server | req/s | of bare | p50 ms | p99 ms | requests | errors |",
		"|---|---|---|---|---|---|---|---|",
		...rows,
	].join("\n");
}
