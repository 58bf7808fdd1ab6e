// An OTLP/HTTP collector stand-in for the benchmarks: takes every export (any protocol), answers
// 200 and counts what it got. Prints {"endpoint"} and, on SIGTERM, nothing more: it just stops.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

let exports = 0;
let bytes = 0;
const server = createServer((req, res) => {
	req.on("data", (c: Buffer) => {
		bytes += c.length;
	});
	req.on("end", () => {
		exports++;
		res.writeHead(200, { "content-type": String(req.headers["content-type"] ?? "application/json") });
		res.end();
	});
});
server.listen(0, "127.0.0.1", () => {
	const { port } = server.address() as AddressInfo;
	console.log(JSON.stringify({ endpoint: `http://127.0.0.1:${port}` }));
});
process.on("SIGTERM", () => {
	console.error(`otlp sink: ${exports} exports, ${bytes} bytes`);
	process.exit(0);
});
