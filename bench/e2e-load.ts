// End-to-end load generator, run in its own process. Usage:
//   e2e-load.ts <baseUrl[,baseUrl…]> <subscribers> <changesPerSecond> <seconds> [serverPid]
// With a server pid, also the CPU time that process spent (from /proc/<pid>/stat) from the first
// PUT until every event arrived, per change.
// With several base URLs (instances), subscribers and PUTs are spread over them round-robin.
// Seeds one order per change, opens N raw SSE subscribers, then sends status changes (PUT) at a
// steady rate and records when each subscriber sees each change. Prints one JSON line: the rate
// achieved, latency from PUT to the event at the last subscriber, and lost / doubled counts.
// "Lost" is an event of an accepted change that had not reached a subscriber 30 s after the last
// PUT (an event left to the sweep can come later); a refused PUT (503) is counted as rejected,
// and no event is expected for it.
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { seedOrders } from "./lib.js";

const [baseUrl = "", subsArg = "1000", rateArg = "100", secondsArg = "20", pidArg] = process.argv.slice(2);
const subscribers = Number(subsArg);
const rate = Number(rateArg);
const total = rate * Number(secondsArg);
const baseUrls = baseUrl.split(",");
const urls = baseUrls.map((u) => new URL(u));
const json = { "content-type": "application/json" };

/** CPU time (user + system) the process has used, in ms; NaN when unknown. */
function cpuMs(pid: string | undefined): number {
	if (!pid) return Number.NaN;
	try {
		// Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
	} catch {
		return Number.NaN;
	}
}

const percentile = (xs: number[], p: number) => {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

async function main() {
	const ids = await seedOrders(baseUrls[0] as string, total);
	const index = new Map(ids.map((id, i) => [id, i]));
	const sentAt = new Float64Array(total);
	const lastAt = new Float64Array(total);
	const received = new Uint32Array(total);
	let doubled = 0;
	const NEEDLE = '"orderId":"';

	function open(n: number): Promise<Socket> {
		const url = urls[n % urls.length] as URL;
		return new Promise((resolve, reject) => {
			const socket = connect(Number(url.port), url.hostname);
			const seen = new Uint8Array(total);
			let carry = "";
			socket.setEncoding("latin1");
			socket.once("error", reject);
			socket.once("connect", () =>
				socket.write(`GET /orderHub HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`),
			);
			socket.once("data", () => resolve(socket));
			socket.on("data", (chunk: string) => {
				const text = carry + chunk;
				const end = text.lastIndexOf("\n\n");
				if (end < 0) {
					carry = text;
					return;
				}
				carry = text.slice(end + 2);
				const now = performance.now();
				for (let at = text.indexOf("event: ReceiveOrderUpdate"); at !== -1 && at < end; ) {
					const idAt = text.indexOf(NEEDLE, at) + NEEDLE.length;
					const i = index.get(text.slice(idAt, text.indexOf('"', idAt)));
					if (i !== undefined) {
						if (seen[i]) doubled++;
						else {
							seen[i] = 1;
							received[i] = (received[i] ?? 0) + 1;
							if (now > (lastAt[i] ?? 0)) lastAt[i] = now;
						}
					}
					at = text.indexOf("event: ReceiveOrderUpdate", idAt);
				}
			});
		});
	}

	const sockets: Socket[] = [];
	for (let i = 0; i < subscribers; i += 250) {
		sockets.push(
			...(await Promise.all(Array.from({ length: Math.min(250, subscribers - i) }, (_, j) => open(i + j)))),
		);
	}
	await new Promise((r) => setTimeout(r, 500));

	// Steady rate: change i is due at start + i / rate; each PUT is awaited concurrently.
	const cpuAtStart = cpuMs(pidArg);
	const started = performance.now();
	let rejected = 0;
	/** Changes the service refused (503 while storage timed out): no event is due for them. */
	const refused = new Uint8Array(total);
	const puts: Promise<void>[] = [];
	for (let i = 0; i < total; i++) {
		const due = started + (i * 1000) / rate;
		const wait = due - performance.now();
		if (wait > 1) await new Promise((r) => setTimeout(r, wait));
		sentAt[i] = performance.now();
		puts.push(
			fetch(`${baseUrls[i % baseUrls.length]}/api/orders/update-status/${ids[i]}`, {
				method: "PUT",
				headers: { ...json, "Idempotency-Key": `e2e-${i}` },
				body: '"Processing"',
			}).then(async (res) => {
				if (res.status !== 202) {
					rejected++;
					refused[i] = 1;
				}
				await res.arrayBuffer();
			}),
		);
	}
	await Promise.all(puts);
	const sendSeconds = (performance.now() - started) / 1000;
	const deadline = Date.now() + 30_000;
	while (Date.now() < deadline && received.some((n, i) => n < subscribers && !refused[i]))
		await new Promise((r) => setTimeout(r, 100));
	const cpuPerChange = (cpuMs(pidArg) - cpuAtStart) / total;

	const latencies: number[] = [];
	let lost = 0;
	for (let i = 0; i < total; i++) {
		if (refused[i]) continue;
		lost += subscribers - (received[i] ?? 0);
		if (received[i] === subscribers) latencies.push((lastAt[i] ?? 0) - (sentAt[i] ?? 0));
	}
	for (const s of sockets) s.destroy();
	console.log(
		JSON.stringify({
			subscribers,
			changes: total,
			targetRate: rate,
			achievedRate: total / sendSeconds,
			p50: percentile(latencies, 50),
			p99: percentile(latencies, 99),
			max: percentile(latencies, 100),
			expectedEvents: (total - rejected) * subscribers,
			lost,
			doubled,
			rejected,
			cpuPerChange,
		}),
	);
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
