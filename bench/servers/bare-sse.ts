// Baseline: the barest node:http SSE broadcaster (no framework). Serialises each event once and
// writes the same bytes to every response. GET /orderHub subscribes, POST /publish broadcasts
// its body as an event, GET /__bench/memory answers process memory after a GC.
import { createServer, type ServerResponse } from "node:http";

const clients = new Set<ServerResponse>();
let seq = 0;

const server = createServer((req, res) => {
	if (req.method === "GET" && req.url?.startsWith("/orderHub")) {
		res.writeHead(200, {
			"content-type": "text/event-stream; charset=utf-8",
			"cache-control": "no-cache, no-transform",
			"x-accel-buffering": "no",
		});
		res.write("retry: 2000\n\n");
		clients.add(res);
		res.on("close", () => clients.delete(res));
		return;
	}
	if (req.method === "POST" && req.url === "/publish") {
		let body = "";
		req.on("data", (d) => {
			body += d;
		});
		req.on("end", () => {
			const bytes = Buffer.from(`id: bare-${++seq}\nevent: ReceiveOrderUpdate\ndata: ${body}\n\n`);
			for (const c of clients) c.write(bytes);
			res.writeHead(202).end();
		});
		return;
	}
	if (req.url === "/__bench/memory") {
		(globalThis as { gc?: () => void }).gc?.();
		res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(process.memoryUsage()));
		return;
	}
	res.writeHead(404).end();
});
server.listen(0, "127.0.0.1", () => {
	const address = server.address();
	console.log(JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 }));
});
process.on("SIGTERM", () => {
	for (const c of clients) c.destroy();
	server.close(() => process.exit(0));
});
