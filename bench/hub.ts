// Hub benchmark: one server process holding N SSE subscribers, a load generator in another
// process. order-tracker (Node SSE transport) beside a bare node:http broadcaster in the same run;
// and order-tracker's SignalR subscribers beside its EventSource subscribers, same run.
import { fmt, median, startNode } from "./lib.js";

export interface HubResult {
	target: "bare" | "order-tracker" | "order-tracker SignalR";
	subscribers: number;
	kbPerConnection: number;
	p50: number;
	p99: number;
	last: number;
	received: number;
	/** order-tracker's figures as a share of the bare broadcaster's, same run */
	ofBare?: { kbPerConnection: number; p50: number; p99: number; last: number };
	/** SignalR subscribers' figures as a share of EventSource subscribers', same run */
	ofEventSource?: { kbPerConnection: number; p50: number; p99: number; last: number };
}

async function runOne(
	target: "bare" | "app",
	n: number,
	rounds: number,
	format: "sse" | "signalr" = "sse",
): Promise<HubResult> {
	const server = startNode(target === "bare" ? "bench/servers/bare-sse.ts" : "bench/servers/app.ts");
	try {
		const { port } = (await server.first) as { port: number };
		const baseUrl = `http://127.0.0.1:${port}`;
		const tokens: string[] = [];
		for (let i = 0; i < rounds; i++) {
			if (target === "app") {
				const res = await fetch(`${baseUrl}/api/orders/create`, {
					method: "POST",
					headers: { "content-type": "application/json" },
					body: JSON.stringify({ customerName: "Bench Customer", productName: "Bench Product" }),
				});
				tokens.push(((await res.json()) as { orderId: string }).orderId);
			} else {
				tokens.push(crypto.randomUUID());
			}
		}
		const load = startNode("bench/sse-load.ts", [baseUrl, String(n), target, tokens.join(","), format]);
		const out = (await load.first) as {
			rssBefore: number;
			rssAfter: number;
			rounds: { p50: number; p99: number; last: number; received: number }[];
		};
		await load.stop();
		return {
			target: target === "bare" ? "bare" : format === "signalr" ? "order-tracker SignalR" : "order-tracker",
			subscribers: n,
			kbPerConnection: (out.rssAfter - out.rssBefore) / n / 1024,
			p50: median(out.rounds.map((r) => r.p50)),
			p99: median(out.rounds.map((r) => r.p99)),
			last: median(out.rounds.map((r) => r.last)),
			received: Math.min(...out.rounds.map((r) => r.received)),
		};
	} finally {
		await server.stop();
	}
}

export async function benchHub(n: number, rounds: number): Promise<HubResult[]> {
	// Alternate the order so neither side always runs on a warmer machine.
	const bare = await runOne("bare", n, rounds);
	const app = await runOne("app", n, rounds);
	// The ratios the table prints, as fields (a script reads "p99 of bare: 0.68" without recomputing).
	return [
		bare,
		{
			...app,
			ofBare: {
				kbPerConnection: app.kbPerConnection / bare.kbPerConnection,
				p50: app.p50 / bare.p50,
				p99: app.p99 / bare.p99,
				last: app.last / bare.last,
			},
		},
	];
}

/** EventSource subscribers, then SignalR subscribers, `n` each, on the same build in the same run. */
export async function benchHubSignalR(n: number, rounds: number): Promise<HubResult[]> {
	const eventSource = await runOne("app", n, rounds, "sse");
	const signalR = await runOne("app", n, rounds, "signalr");
	return [
		eventSource,
		{
			...signalR,
			ofEventSource: {
				kbPerConnection: signalR.kbPerConnection / eventSource.kbPerConnection,
				p50: signalR.p50 / eventSource.p50,
				p99: signalR.p99 / eventSource.p99,
				last: signalR.last / eventSource.last,
			},
		},
	];
}

export function hubSignalRTable(results: HubResult[]): string {
	const [es, sr] = results as [HubResult, HubResult];
	const rows = results.map(
		(r) =>
			`| ${r.target === "order-tracker" ? "EventSource" : "SignalR"} | ${r.subscribers} | ${fmt(r.kbPerConnection)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.last)} | ${r.received}/${r.subscribers} |`,
	);
	rows.push(
		`| ratio SignalR / EventSource | | ${fmt(sr.kbPerConnection / es.kbPerConnection, 2)}× | ${fmt(sr.p50 / es.p50, 2)}× | ${fmt(sr.p99 / es.p99, 2)}× | ${fmt(sr.last / es.last, 2)}× | |`,
	);
	return [
		"| /orderHub subscribers | subscribers | KB RSS / connection | p50 ms | p99 ms | last ms | delivered |",
		"|---|---|---|---|---|---|---|",
		...rows,
	].join("\n");
}

export function hubTable(results: HubResult[]): string {
	const [bare, app] = results as [HubResult, HubResult];
	const rows = results.map(
		(r) =>
			`| ${r.target} | ${r.subscribers} | ${fmt(r.kbPerConnection)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.last)} | ${r.received}/${r.subscribers} |`,
	);
	rows.push(
		`| ratio order-tracker / bare | | ${fmt(app.kbPerConnection / bare.kbPerConnection, 2)}× | ${fmt(app.p50 / bare.p50, 2)}× | ${fmt(app.p99 / bare.p99, 2)}× | ${fmt(app.last / bare.last, 2)}× | |`,
	);
	return [
		"| SSE hub | subscribers | KB RSS / connection | p50 ms | p99 ms | last ms | delivered |",
		"|---|---|---|---|---|---|---|",
		...rows,
	].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const n = Number(process.argv[2] ?? 2000);
	if (process.argv[3] === "signalr") console.log(hubSignalRTable(await benchHubSignalR(n, 5)));
	else console.log(hubTable(await benchHub(n, 5)));
}
