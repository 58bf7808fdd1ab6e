// Workers benchmark: order-tracker's Worker (src/worker.ts, memory store, hub object) in workerd
// beside the bare Hono app as a Worker, both under `wrangler dev` on this machine, in the same run.
// Absolute numbers say little about Cloudflare's edge (a local proxy, one workerd, 2 shared cores);
// the ratio says what the app's validation, problem details and ports cost in workerd.
import { startWorker } from "../test/support/workerd.js";
import { loadScenarios, type RestResult, ratioTable } from "./rest.js";

const BARE = "bare Hono Worker + Map";

async function runTarget(target: string, worker: Parameters<typeof startWorker>[0], seconds: number) {
	const running = await startWorker(worker);
	try {
		return await loadScenarios(target, running.baseUrl, ["create", "get"], {
			seconds,
			connections: 20,
			updates: 0,
		});
	} finally {
		await running.stop();
	}
}

export async function benchWorkers(quick: boolean): Promise<RestResult[]> {
	const seconds = quick ? 1 : 5;
	const results = [
		...(await runTarget(BARE, { script: "bench/servers/bare-worker.ts", config: null }, seconds)),
		...(await runTarget("order-tracker Worker, memory", {}, seconds)),
		// Without the request line per request: under `wrangler dev` every console.log goes through
		// wrangler's terminal, which costs more than the request itself (docs/performance.md).
		...(quick
			? []
			: await runTarget(
					"order-tracker Worker, memory, Logging:Level warn",
					{ vars: { Logging__Level: "warn" } },
					seconds,
				)),
	];
	// The ratios the table prints, as fields.
	return results.map((r) => {
		const bare = results.find((b) => b.target === BARE && b.scenario === r.scenario);
		return bare && r.target !== BARE ? { ...r, ofBare: r.rps / bare.rps } : r;
	});
}

export const workersTable = (results: RestResult[]) => ratioTable("REST in workerd", results, BARE);
