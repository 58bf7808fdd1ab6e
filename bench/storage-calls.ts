// Storage round trips per create, per status change and per delivered event (`--only=calls`):
// `src/node.ts` as `npm start` runs it (Service Bus test broker, Azurite), with a small counting
// HTTP proxy between the service and Azurite, so every request the SDK sends is counted whatever
// code sent it. The hub's tail poll and other timers run in the background: their rate is measured
// in a quiet window first and taken off each phase.
//
// BENCH_BASELINE_DIR=<dir holding another build's src/ and node_modules> measures that build too,
// in the same run (the "before" column), e.g. `git archive main | tar -x -C /tmp/before` plus a
// node_modules symlink.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fmt, startNode, startService } from "./lib.js";

export interface CallsResult {
	build: string;
	orders: number;
	/** Requests per second while idle (tail poll, timers), taken off every phase below. */
	idlePerSecond: number;
	perCreate: number;
	perChange: number;
	/** Of perChange: requests to the event log's table. */
	perChangeLog: number;
	/** Storage requests per event delivered to a subscriber (10 subscribers). */
	perDeliveredEvent: number;
	/** Per change, by request kind (GET, $batch, PUT/MERGE/PATCH, DELETE, POST). */
	changeByKind: Record<string, number>;
}

/** Forwards every request to `target`, counting them by kind and table. */
class CountingProxy {
	private server?: Server;
	counts = new Map<string, number>();
	total = 0;
	lastAt = performance.now();

	constructor(private readonly target: URL) {}

	async start(): Promise<number> {
		this.server = createServer((req, res) => this.forward(req, res));
		this.server.keepAliveTimeout = 60_000;
		await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
		return (this.server.address() as AddressInfo).port;
	}

	private forward(req: IncomingMessage, res: import("node:http").ServerResponse): void {
		const path = req.url ?? "";
		this.lastAt = performance.now();
		if (!path.includes("$batch")) {
			const table = /^\/[^/]+\/([A-Za-z0-9]+)/.exec(path)?.[1] ?? "";
			this.count(`${table.endsWith("Events") ? "log" : "orders"} ${req.method ?? "?"}`);
			this.send(req, res, path);
			return;
		}
		// A transaction names its table inside the body.
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => {
			const body = Buffer.concat(chunks);
			const table = /\/devstoreaccount1\/([A-Za-z0-9]+)/.exec(body.toString("latin1"))?.[1] ?? "";
			this.count(`${table.endsWith("Events") ? "log" : "orders"} $batch`);
			this.send(req, res, path, body);
		});
	}

	private count(key: string): void {
		this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
		this.total++;
	}

	private send(
		req: IncomingMessage,
		res: import("node:http").ServerResponse,
		path: string,
		body?: Buffer,
	): void {
		const upstream = httpRequest(
			{
				host: this.target.hostname,
				port: this.target.port,
				method: req.method,
				path,
				headers: req.headers,
			},
			(up) => {
				res.writeHead(up.statusCode ?? 502, up.headers);
				up.pipe(res);
			},
		);
		upstream.on("error", () => res.destroy());
		if (body) upstream.end(body);
		else req.pipe(upstream);
	}

	snapshot(): { total: number; counts: Map<string, number> } {
		return { total: this.total, counts: new Map(this.counts) };
	}

	/** Resolves once no request came for `quietMs` (or after 10 s of steady traffic). */
	async quiet(quietMs = 400): Promise<void> {
		const giveUp = performance.now() + 10_000;
		while (performance.now() - this.lastAt < quietMs && performance.now() < giveUp)
			await new Promise((r) => setTimeout(r, 50));
	}

	close(): Promise<void> {
		return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
	}
}

/** Raw SSE subscribers counting `ReceiveOrderUpdate` / `OrderCreated` events. */
async function subscribe(baseUrl: string, n: number) {
	const { connect } = await import("node:net");
	const url = new URL(baseUrl);
	const counts = { created: 0, updated: 0 };
	const sockets = await Promise.all(
		Array.from(
			{ length: n },
			() =>
				new Promise<import("node:net").Socket>((resolve, reject) => {
					const s = connect(Number(url.port), url.hostname);
					s.setEncoding("latin1");
					s.once("error", reject);
					s.once("connect", () =>
						s.write(`GET /orderHub HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`),
					);
					s.once("data", () => resolve(s));
					s.on("data", (chunk: string) => {
						counts.created += chunk.split("event: OrderCreated").length - 1;
						counts.updated += chunk.split("event: ReceiveOrderUpdate").length - 1;
					});
				}),
		),
	);
	return {
		counts,
		close: () => {
			for (const s of sockets) s.destroy();
		},
	};
}

async function until(check: () => boolean, timeoutMs = 60_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) throw new Error("timed out waiting for events");
		await new Promise((r) => setTimeout(r, 20));
	}
}

/** Runs `n` calls of `fn`, `inFlight` at a time. */
async function inParallel(n: number, inFlight: number, fn: (i: number) => Promise<void>): Promise<void> {
	let next = 0;
	await Promise.all(
		Array.from({ length: inFlight }, async () => {
			while (next < n) await fn(next++);
		}),
	);
}

async function measure(
	build: string,
	tables: string,
	bus: string,
	orders: number,
	cwd?: string,
): Promise<CallsResult> {
	const azuriteUrl = new URL(/TableEndpoint=([^;]+)/.exec(tables)?.[1] as string);
	const proxy = new CountingProxy(azuriteUrl);
	const proxyPort = await proxy.start();
	const viaProxy = tables.replace(`:${azuriteUrl.port}/`, `:${proxyPort}/`);
	const service = startService(
		{
			TableStorage__ConnectionString: viaProxy,
			TableStorage__TableName: `Calls${build.replace(/\W/g, "")}${Date.now()}`,
			ServiceBus__ConnectionString: bus,
			ServiceBus__QueueName: `calls-${build.replace(/\W/g, "")}`,
		},
		cwd,
	);
	const subscribers = 10;
	try {
		const url = await service.url;
		const subs = await subscribe(url, subscribers);
		await proxy.quiet(1000);
		// The idle rate: the hub's tail poll and timers, over 3 s.
		const idleFrom = proxy.snapshot().total;
		const idleStarted = performance.now();
		await new Promise((r) => setTimeout(r, 3000));
		const idlePerMs = (proxy.snapshot().total - idleFrom) / (performance.now() - idleStarted);

		const phase = async (run: () => Promise<void>, arrived: () => boolean) => {
			const before = proxy.snapshot();
			const started = performance.now();
			await run();
			await until(arrived);
			await proxy.quiet();
			const after = proxy.snapshot();
			const idle = idlePerMs * (performance.now() - started);
			const byKind: Record<string, number> = {};
			for (const [k, v] of after.counts) {
				const d = v - (before.counts.get(k) ?? 0);
				if (d > 0) byKind[k] = d / orders;
			}
			return { perOrder: (after.total - before.total - idle) / orders, byKind };
		};

		const say = (what: string) => console.error(`storage calls (${build}): ${what}`);
		say(`idle ${fmt(idlePerMs * 1000, 1)} requests/s; creating ${orders} orders`);
		const ids: string[] = [];
		const body = JSON.stringify({ customerName: "Calls Customer", productName: "Calls Product" });
		const create = await phase(
			() =>
				inParallel(orders, 4, async () => {
					const res = await fetch(`${url}/api/orders/create`, {
						method: "POST",
						headers: { "content-type": "application/json" },
						body,
					});
					ids.push(((await res.json()) as { orderId: string }).orderId);
				}),
			() => subs.counts.created >= orders * subscribers,
		);
		say(`${fmt(create.perOrder, 2)} per create; changing them`);
		// Changes at a steady ~100/s, as the end-to-end bench sends them.
		const change = await phase(
			async () => {
				const started = performance.now();
				await inParallel(orders, 4, async (i) => {
					const wait = started + i * 10 - performance.now();
					if (wait > 0) await new Promise((r) => setTimeout(r, wait));
					const res = await fetch(`${url}/api/orders/update-status/${ids[i]}`, {
						method: "PUT",
						headers: { "content-type": "application/json", "Idempotency-Key": `calls-${i}` },
						body: '"Processing"',
					});
					await res.arrayBuffer();
				});
			},
			() => subs.counts.updated >= orders * subscribers,
		);
		subs.close();
		const log = Object.entries(change.byKind)
			.filter(([k]) => k.startsWith("log "))
			.reduce((s, [, v]) => s + v, 0);
		return {
			build,
			orders,
			idlePerSecond: idlePerMs * 1000,
			perCreate: create.perOrder,
			perChange: change.perOrder,
			perChangeLog: log,
			perDeliveredEvent: change.perOrder / subscribers,
			changeByKind: change.byKind,
		};
	} finally {
		await service.stop();
		await proxy.close();
	}
}

export async function benchStorageCalls(quick: boolean): Promise<CallsResult[]> {
	const orders = quick ? 100 : 500;
	const azurite = startNode("bench/servers/azurite.ts");
	const broker = startNode("bench/servers/broker.ts");
	try {
		const tables = (await azurite.first).connectionString as string;
		const bus = (await broker.first).connectionString as string;
		const results: CallsResult[] = [];
		const baseline = process.env.BENCH_BASELINE_DIR;
		if (baseline) results.push(await measure("before", tables, bus, orders, baseline));
		results.push(await measure(baseline ? "after" : "this build", tables, bus, orders));
		return results;
	} finally {
		await broker.stop();
		await azurite.stop();
	}
}

export function callsTable(results: CallsResult[]): string {
	const kinds = [...new Set(results.flatMap((r) => Object.keys(r.changeByKind)))].sort();
	return [
		"| storage round trips | build | per create | per status change | of which event log | per delivered event (10 subscribers) | per change by kind |",
		"|---|---|---|---|---|---|---|",
		...results.map(
			(r) =>
				`| ${r.orders} orders, idle ${fmt(r.idlePerSecond, 1)}/s taken off | ${r.build} | ${fmt(r.perCreate, 2)} | ${fmt(r.perChange, 2)} | ${fmt(r.perChangeLog, 2)} | ${fmt(r.perDeliveredEvent, 2)} | ${kinds.map((k) => `${k} ${fmt(r.changeByKind[k] ?? 0, 2)}`).join(", ")} |`,
		),
	].join("\n");
}
