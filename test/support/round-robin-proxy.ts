// A load balancer without sticky sessions, for the tests: every request goes to the next backend
// in turn (whatever connection it came on), and its response streams back as it comes (SSE).
// It records which backend answered what, so a test can show a connection's requests were spread.
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface Routed {
	method: string;
	/** The path and query as the client sent it. */
	url: string;
	/** Index of the backend that got it. */
	backend: number;
}

export class RoundRobinProxy {
	readonly routed: Routed[] = [];
	private next = 0;
	private readonly sockets = new Set<Socket>();

	private constructor(
		private readonly server: Server,
		private backends: string[],
	) {}

	static async start(backends: string[]): Promise<RoundRobinProxy> {
		let proxy: RoundRobinProxy | undefined;
		const server = createServer((req, res) => proxy?.forward(req, res));
		proxy = new RoundRobinProxy(server, backends);
		server.on("connection", (s: Socket) => {
			proxy?.sockets.add(s);
			s.on("close", () => proxy?.sockets.delete(s));
		});
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		return proxy;
	}

	get baseUrl(): string {
		return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
	}

	/** New backends (instances restarted on other ports). */
	setBackends(backends: string[]): void {
		this.backends = backends;
	}

	private forward(req: IncomingMessage, res: import("node:http").ServerResponse): void {
		const backend = this.next++ % this.backends.length;
		this.routed.push({ method: req.method ?? "GET", url: req.url ?? "/", backend });
		const target = new URL(req.url ?? "/", this.backends[backend]);
		const upstream = request(
			target,
			{ method: req.method, headers: { ...req.headers, host: target.host } },
			(answer) => {
				res.writeHead(answer.statusCode ?? 502, answer.headers);
				res.flushHeaders();
				answer.pipe(res);
			},
		);
		upstream.on("error", () => {
			if (!res.headersSent) res.writeHead(502).end();
			else res.destroy();
		});
		res.on("close", () => upstream.destroy());
		req.pipe(upstream);
	}

	async close(): Promise<void> {
		for (const s of this.sockets) s.destroy();
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}
}
