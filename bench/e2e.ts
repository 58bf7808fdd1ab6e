// End to end: status changes through Service Bus (the test broker, own process) and Azurite (own
// process) to N SSE subscribers, at a steady rate, from a load generator in another process.
// The service runs as `npm start` runs it (src/node.ts, its defaults: request log on, outbox, event
// log); beside it, in the same run, the naive pipeline (bench/servers/naive.ts) on the same Azurite
// and broker. Each shape measures latency from PUT to each subscriber's arrival and the server's
// CPU per change. Then the rate is stepped at 1,000 subscribers to find the highest rate whose p99
// stays within 250 ms. BENCH_BASELINE_DIR=<another build's directory> runs that build's service
// beside them (a "before" row).
import { fmt, startNode, startService } from "./lib.js";

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
	/** The server process's CPU time per change, ms (from /proc), from the first PUT to the last arrival. */
	cpuPerChange?: number;
}

export interface E2eShape {
	subscribers: number;
	rate: number;
	seconds: number;
	service: E2eResult;
	naive?: E2eResult;
	/** Another build of the service (BENCH_BASELINE_DIR), same shape, same run. */
	baseline?: E2eResult;
}

export interface E2eBench {
	shapes: E2eShape[];
	/** Rate stepping at 1,000 subscribers: each step's result, and the highest rate with p99 ≤ 250 ms. */
	steps: E2eResult[];
	highestRateWithinP99: number | undefined;
}

const P99_BUDGET_MS = 250;

async function load(url: string, pid: number | undefined, subs: number, rate: number, seconds: number) {
	const run = startNode("bench/e2e-load.ts", [
		url,
		String(subs),
		String(rate),
		String(seconds),
		String(pid ?? ""),
	]);
	const result = (await run.first) as unknown as E2eResult;
	await run.stop();
	return result;
}

export async function benchE2e(quick: boolean): Promise<E2eBench> {
	const azurite = startNode("bench/servers/azurite.ts");
	const broker = startNode("bench/servers/broker.ts");
	let service: ReturnType<typeof startService> | undefined;
	let naive: ReturnType<typeof startNode> | undefined;
	let baseline: ReturnType<typeof startService> | undefined;
	try {
		const tables = (await azurite.first).connectionString as string;
		const bus = (await broker.first).connectionString as string;
		const stamp = Date.now();
		service = startService({
			TableStorage__ConnectionString: tables,
			TableStorage__TableName: `E2e${stamp}`,
			ServiceBus__ConnectionString: bus,
			ServiceBus__QueueName: `e2e-${stamp}`,
			Hub__MaxSubscribers: "50000",
		});
		naive = startNode("bench/servers/naive.ts", [], {
			BENCH_TABLES_CONNECTION_STRING: tables,
			BENCH_TABLE_NAME: `Naive${stamp}`,
			BENCH_SERVICE_BUS_CONNECTION_STRING: bus,
			BENCH_QUEUE_NAME: `naive-${stamp}`,
		});
		const baselineDir = process.env.BENCH_BASELINE_DIR;
		baseline = baselineDir
			? startService(
					{
						TableStorage__ConnectionString: tables,
						TableStorage__TableName: `Before${stamp}`,
						ServiceBus__ConnectionString: bus,
						ServiceBus__QueueName: `before-${stamp}`,
						Hub__MaxSubscribers: "50000",
					},
					baselineDir,
				)
			: undefined;
		const baselineUrl = await baseline?.url;
		const serviceUrl = await service.url;
		const naivePort = (await naive.first).port as number;
		const naiveUrl = `http://127.0.0.1:${naivePort}`;
		const servicePid = service.child.pid;
		const naivePid = naive.proc.pid;

		// BENCH_E2E="subscribers,rate,seconds" runs that one shape (for exploring where time goes).
		const override = process.env.BENCH_E2E?.split(",").map(Number) as [number, number, number] | undefined;
		const shapes: [number, number, number, boolean][] = override
			? [[...override, true]]
			: quick
				? [
						[10, 100, 4, true],
						[1000, 100, 4, false],
					]
				: [
						[10, 100, 10, true],
						[1000, 20, 10, false],
						[1000, 100, 15, true],
					];
		// Warm both up first (JIT, connections, the queue's links), off the record.
		await load(serviceUrl, undefined, 1, 50, 1);
		await load(naiveUrl, undefined, 1, 50, 1);
		if (baselineUrl) await load(baselineUrl, undefined, 1, 50, 1);
		const results: E2eShape[] = [];
		for (const [subs, rate, seconds, withNaive] of shapes) {
			const ours = await load(serviceUrl, servicePid, subs, rate, seconds);
			const theirs = withNaive ? await load(naiveUrl, naivePid, subs, rate, seconds) : undefined;
			const before =
				baselineUrl && withNaive
					? await load(baselineUrl, baseline?.child.pid, subs, rate, seconds)
					: undefined;
			results.push({
				subscribers: subs,
				rate,
				seconds,
				service: ours,
				...(theirs ? { naive: theirs } : {}),
				...(before ? { baseline: before } : {}),
			});
		}
		// Rate stepping at 1,000 subscribers (full run only): up while p99 stays within budget.
		const steps: E2eResult[] = [];
		if (!quick && !override) {
			for (const rate of [150, 200, 250, 300, 400, 500]) {
				const step = await load(serviceUrl, servicePid, 1000, rate, 10);
				steps.push(step);
				if (!(step.p99 <= P99_BUDGET_MS) || step.lost > 0) break;
			}
		}
		const within = [...results.filter((r) => r.subscribers === 1000).map((r) => r.service), ...steps]
			.filter((r) => r.p99 <= P99_BUDGET_MS && r.lost === 0)
			.map((r) => r.targetRate);
		return {
			shapes: results,
			steps,
			highestRateWithinP99: within.length ? Math.max(...within) : undefined,
		};
	} finally {
		await service?.stop();
		await baseline?.stop();
		await naive?.stop();
		await broker.stop();
		await azurite.stop();
	}
}

export function e2eTable(r: E2eBench): string {
	const row = (label: string, x: E2eResult, ofNaive = "") =>
		`| ${label} | ${x.subscribers} | ${x.targetRate} | ${fmt(x.achievedRate, 1)} | ${fmt(x.p50, 1)} | ${fmt(x.p99, 1)} | ${fmt(x.max, 1)} | ${fmt(x.cpuPerChange ?? Number.NaN, 2)} | ${ofNaive} | ${x.expectedEvents - x.lost}/${x.expectedEvents} | ${x.lost} | ${x.doubled} |`;
	const lines = [
		"| end to end (PUT → Service Bus → Azurite → SSE) | subscribers | changes/s | achieved/s | p50 ms | p99 ms | max ms | CPU ms per change | CPU of naive | events delivered | lost | doubled |",
		"|---|---|---|---|---|---|---|---|---|---|---|---|",
	];
	for (const s of r.shapes) {
		const ratio =
			s.naive?.cpuPerChange && s.service.cpuPerChange
				? `${fmt(s.service.cpuPerChange / s.naive.cpuPerChange, 2)}×`
				: "";
		lines.push(row("order-tracker (`npm start`)", s.service, ratio));
		if (s.naive) lines.push(row("naive pipeline", s.naive));
		if (s.baseline) {
			const ratio =
				s.naive?.cpuPerChange && s.baseline.cpuPerChange
					? `${fmt(s.baseline.cpuPerChange / s.naive.cpuPerChange, 2)}×`
					: "";
			lines.push(row("order-tracker, baseline build (before)", s.baseline, ratio));
		}
	}
	for (const s of r.steps) lines.push(row("order-tracker, rate step", s));
	lines.push(
		"",
		`highest rate at 1,000 subscribers with p99 ≤ ${P99_BUDGET_MS} ms: ${r.highestRateWithinP99 ?? "none of the rates tried"}${r.steps.length ? "" : " (no rate steps in this run)"}`,
	);
	return lines.join("\n");
}
