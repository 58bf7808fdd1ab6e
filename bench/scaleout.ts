// Several instances, one stream: the same end-to-end load (PUT -> Service Bus queue -> apply ->
// event log -> topic -> every instance's hub -> SSE) against one instance and against three, in the
// same run, each a real `src/node.ts` process on one Azurite and one test broker (own processes).
// Latency is from the PUT to the event at the last subscriber, on whichever instance it is.
import type { E2eResult } from "./e2e.js";
import { fmt, startNode, startService } from "./lib.js";

export interface ScaleoutResult {
	single: E2eResult;
	three: E2eResult;
	/** three / single, for the table in docs/performance.md */
	p50Ratio: number;
	p99Ratio: number;
}

const TOPIC = "order-events";
const NAMES = ["a", "b", "c"];

async function runWith(instances: number, quick: boolean, tables: string, bus: string): Promise<E2eResult> {
	const table = `Scale${instances}x${Date.now()}`;
	const services = NAMES.slice(0, instances).map((name) =>
		startService({
			TableStorage__ConnectionString: tables,
			TableStorage__TableName: table,
			ServiceBus__ConnectionString: bus,
			ServiceBus__QueueName: `bench-${instances}`,
			ServiceBus__TopicName: TOPIC,
			ServiceBus__SubscriptionName: `${name}${instances}`,
			Hub__MaxSubscribers: "50000",
		}),
	);
	try {
		const urls = await Promise.all(services.map((s) => s.url));
		const [subs, rate, seconds] = quick ? [200, 50, 5] : [1000, 100, 12];
		const load = startNode("bench/e2e-load.ts", [
			urls.join(","),
			String(subs),
			String(rate),
			String(seconds),
		]);
		const result = (await load.first) as unknown as E2eResult;
		await load.stop();
		return result;
	} finally {
		await Promise.all(services.map((s) => s.stop()));
	}
}

export async function benchScaleout(quick: boolean): Promise<ScaleoutResult> {
	const azurite = startNode("bench/servers/azurite.ts");
	const subscriptions = [1, 3].flatMap((n) => NAMES.slice(0, n).map((name) => `${name}${n}`));
	const broker = startNode("bench/servers/broker.ts", [], {
		BENCH_SUBSCRIPTIONS: `${TOPIC}:${subscriptions.join(",")}`,
	});
	try {
		const tables = (await azurite.first).connectionString as string;
		const bus = (await broker.first).connectionString as string;
		const single = await runWith(1, quick, tables, bus);
		const three = await runWith(3, quick, tables, bus);
		return { single, three, p50Ratio: three.p50 / single.p50, p99Ratio: three.p99 / single.p99 };
	} finally {
		await broker.stop();
		await azurite.stop();
	}
}

export function scaleoutTable(r: ScaleoutResult): string {
	const row = (label: string, x: E2eResult, ratio = "") =>
		`| ${label} | ${x.subscribers} | ${x.changes} | ${fmt(x.achievedRate, 1)} | ${fmt(x.p50, 1)} | ${fmt(x.p99, 1)} | ${fmt(x.max, 1)} | ${x.expectedEvents - x.lost}/${x.expectedEvents} | ${x.lost} | ${x.doubled} | ${x.rejected} | ${ratio} |`;
	return [
		"| instances (PUT → queue → apply → log → topic → SSE) | subscribers | changes | achieved/s | p50 ms | p99 ms | max ms | events delivered | lost (not there 30 s after the last PUT) | doubled | PUTs refused (503) | p50 / p99 of one instance |",
		"|---|---|---|---|---|---|---|---|---|---|---|---|",
		row("one", r.single),
		row("three", r.three, `${fmt(r.p50Ratio, 2)} / ${fmt(r.p99Ratio, 2)}`),
	].join("\n");
}
