// SSE load generator, run in its own process: opens N raw subscriber connections to a server,
// then triggers R updates and records when each subscriber sees each one.
// Usage: sse-load.ts <baseUrl> <n> <app|bare> <token1,token2,...> [sse|signalr]   (one token = one round)
// signalr: each subscriber negotiates first, then opens the SignalR stream (GET /orderHub?id=…).
// Prints one JSON line with memory and latency figures. Bounded: gives up after 60 s per round.
import { connect, type Socket } from "node:net";

const [baseUrl = "", nArg = "1000", target = "app", tokensArg = "", format = "sse"] = process.argv.slice(2);
const n = Number(nArg);
const tokens = tokensArg.split(",").filter(Boolean);
const url = new URL(baseUrl);

const memory = async () => (await (await fetch(`${baseUrl}/__bench/memory`)).json()) as { rss: number };

/** The stream's path: /orderHub, or for SignalR the connection negotiated for it. */
async function streamPath(): Promise<string> {
	if (format !== "signalr") return "/orderHub";
	const res = await fetch(`${baseUrl}/orderHub/negotiate?negotiateVersion=1`, { method: "POST" });
	const { connectionToken } = (await res.json()) as { connectionToken: string };
	return `/orderHub?id=${connectionToken}`;
}

function open(path: string): Promise<Socket> {
	return new Promise((resolve, reject) => {
		const socket = connect(Number(url.port), url.hostname);
		socket.setNoDelay(true);
		socket.once("error", reject);
		socket.once("connect", () =>
			socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`),
		);
		socket.once("data", () => resolve(socket)); // headers + retry hint (or handshake response): subscribed
	});
}

function percentile(sorted: number[], p: number): number {
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function trigger(token: string): Promise<void> {
	const res =
		target === "app"
			? await fetch(`${baseUrl}/api/orders/update-status/${token}`, {
					method: "PUT",
					headers: { "content-type": "application/json" },
					body: '"Processing"',
				})
			: await fetch(`${baseUrl}/publish`, {
					method: "POST",
					body: JSON.stringify({
						orderId: token,
						status: "Processing",
						partitionKey: "Orders",
						customerName: "Bench Customer",
						productName: "Bench Product",
						createdAt: new Date().toISOString(),
						updatedAt: new Date().toISOString(),
						previousStatus: "Pending",
						messageId: crypto.randomUUID(),
					}),
				});
	if (res.status !== 202) throw new Error(`trigger answered ${res.status}: ${await res.text()}`);
}

async function main() {
	// Negotiated before the memory is measured: what is measured is what the streams hold.
	const paths: string[] = [];
	for (let i = 0; i < n; i += 250) {
		paths.push(...(await Promise.all(Array.from({ length: Math.min(250, n - i) }, streamPath))));
	}
	const before = await memory();
	const sockets: Socket[] = [];
	for (let i = 0; i < n; i += 250) {
		sockets.push(...(await Promise.all(paths.slice(i, i + 250).map(open))));
	}
	await new Promise((r) => setTimeout(r, 500));
	const after = await memory();

	const rounds = [];
	for (const token of tokens) {
		const needle = Buffer.from(token);
		const latencies: number[] = [];
		let t0 = 0n;
		let done: () => void = () => {};
		const all = new Promise<void>((resolve) => {
			done = resolve;
		});
		const listeners = sockets.map((s) => {
			let seen = false;
			const onData = (chunk: Buffer) => {
				if (!seen && chunk.indexOf(needle) !== -1) {
					seen = true;
					latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
					if (latencies.length === n) done();
				}
			};
			s.on("data", onData);
			return () => s.off("data", onData);
		});
		t0 = process.hrtime.bigint();
		await trigger(token);
		const timeout = new Promise<void>((r) => setTimeout(r, 60_000).unref());
		await Promise.race([all, timeout]);
		for (const off of listeners) off();
		latencies.sort((a, b) => a - b);
		rounds.push({
			received: latencies.length,
			p50: percentile(latencies, 50),
			p99: percentile(latencies, 99),
			last: latencies[latencies.length - 1] ?? Number.NaN,
		});
		await new Promise((r) => setTimeout(r, 300));
	}
	for (const s of sockets) s.destroy();
	console.log(JSON.stringify({ n, rssBefore: before.rss, rssAfter: after.rss, rounds }));
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
