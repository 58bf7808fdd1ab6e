// Telemetry's cost: REST get and create on the service as `npm start` runs it (src/node.ts, over
// Azurite), with traces off, beside the same build before telemetry was added (#16; extracted from
// git into a temporary directory), and with traces exported over OTLP/HTTP to a collector stand-in,
// sampled at 100% and at 10%. Rounds alternate the targets so drift on a shared machine spreads
// over all of them; each figure is the median of its rounds.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fmt, median, startNode, startService } from "./lib.js";
import { loadScenarios, type RestResult } from "./rest.js";

/** The last commit before telemetry (#16): the baseline build. */
export const BEFORE_TELEMETRY = "f9ccd7e";

const BEFORE = "before #16 (same scenario, old build)";
const OFF = "traces off";
const ALL = "traces on, 100% sampled";
const TENTH = "traces on, 10% sampled";

export type TelemetryResult = RestResult & { ofBefore?: number; ofOff?: number; rounds: number };

/** The baseline's src/ and package.json in a temporary directory, using this checkout's node_modules. */
function checkoutBaseline(): { dir: string; remove(): void } {
	const dir = mkdtempSync(join(tmpdir(), "order-tracker-baseline-"));
	const archive = execFileSync("git", [
		"archive",
		BEFORE_TELEMETRY,
		"src",
		"package.json",
		"appsettings.json",
	]);
	execFileSync("tar", ["-x", "-C", dir], { input: archive });
	symlinkSync(resolve("node_modules"), join(dir, "node_modules"));
	return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `withBefore`: also the build before #16. Since #16 that build lacks the pending index, the log's
 * fencing and SignalR too, so its ratio no longer isolates telemetry: only `--only=telemetry` runs
 * it (for the history in docs/performance.md); traces off against on is the measure.
 */
export async function benchTelemetry(quick: boolean, withBefore = false): Promise<TelemetryResult[]> {
	const opts = { seconds: quick ? 1 : 5, connections: 20, updates: 0, seed: quick ? 200 : 1000 };
	const rounds = quick ? 1 : 2;
	const azurite = startNode("bench/servers/azurite.ts");
	const sink = startNode("bench/servers/otlp-sink.ts");
	const baseline = quick || !withBefore ? undefined : checkoutBaseline();
	try {
		const { connectionString } = (await azurite.first) as { connectionString: string };
		const { endpoint } = (await sink.first) as { endpoint: string };
		const traces = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: "order-tracker-bench" };
		const all: [string, Record<string, string>, string | undefined][] = [
			[BEFORE, {}, baseline?.dir],
			[OFF, {}, undefined],
			[ALL, { ...traces, OTEL_TRACES_SAMPLER: "parentbased_always_on" }, undefined],
			[
				TENTH,
				{ ...traces, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" },
				undefined,
			],
		];
		// The quick run compares traces off and on only (each target is a service start).
		const targets = all.filter(([t]) => (quick ? t === OFF || t === ALL : t !== BEFORE || baseline));
		const runs: RestResult[] = [];
		for (let round = 0; round < rounds; round++) {
			// Each round in another order: no target always runs first or last.
			const order = targets.map((_, i) => targets[(i + round) % targets.length] as (typeof targets)[number]);
			for (const [target, env, cwd] of order) {
				const service = startService(
					{
						...env,
						TableStorage__ConnectionString: connectionString,
						TableStorage__TableName: `Telemetry${round}${targets.findIndex((t) => t[0] === target)}${Date.now()}`,
					},
					cwd,
				);
				try {
					runs.push(...(await loadScenarios(target, await service.url, ["get", "create"], opts)));
				} finally {
					await service.stop();
				}
			}
		}
		const results: TelemetryResult[] = [];
		for (const [target] of targets) {
			for (const scenario of ["get", "create"] as const) {
				const mine = runs.filter((r) => r.target === target && r.scenario === scenario);
				const sum = (f: (r: RestResult) => number) => mine.reduce((n, r) => n + f(r), 0);
				results.push({
					target,
					scenario,
					rps: median(mine.map((r) => r.rps)),
					p50: median(mine.map((r) => r.p50)),
					p99: median(mine.map((r) => r.p99)),
					requests: sum((r) => r.requests),
					errors: sum((r) => r.errors),
					non2xx: sum((r) => r.non2xx),
					rounds: mine.length,
				});
			}
		}
		return results.map((r) => {
			const before = results.find((b) => b.target === BEFORE && b.scenario === r.scenario);
			const off = results.find((b) => b.target === OFF && b.scenario === r.scenario);
			return {
				...r,
				...(before && r.target !== BEFORE ? { ofBefore: r.rps / before.rps } : {}),
				...(off && r.target !== OFF && r.target !== BEFORE ? { ofOff: r.rps / off.rps } : {}),
			};
		});
	} finally {
		baseline?.remove();
		await Promise.all([azurite.stop(), sink.stop()]);
	}
}

export function telemetryTable(results: TelemetryResult[]): string {
	return [
		"| telemetry | server (npm start, Azurite) | req/s | of traces off | of before #16 | p50 ms | p99 ms | rounds |",
		"|---|---|---|---|---|---|---|---|",
		...results.map(
			(r) =>
				`| ${r.scenario} | ${r.target} | ${fmt(r.rps, 0)} | ${r.ofOff === undefined ? "" : fmt(r.ofOff, 2)} | ${r.ofBefore === undefined ? "" : fmt(r.ofBefore, 2)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.rounds} |`,
		),
	].join("\n");
}
