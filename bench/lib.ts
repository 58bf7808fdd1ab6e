// Shared helpers for the benchmark harness: child processes that print one JSON line.
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";

export interface Child {
	proc: ChildProcess;
	/** The first JSON line the process printed. */
	first: Promise<Record<string, unknown>>;
	stop(): Promise<void>;
}

export function startNode(script: string, args: string[] = [], env: Record<string, string> = {}): Child {
	// BENCH_CPU_PROF=<script substring> profiles matching processes (node --cpu-prof) into bench/results/profiles.
	const profile = process.env.BENCH_CPU_PROF && script.includes(process.env.BENCH_CPU_PROF);
	const flags = profile ? ["--cpu-prof", "--cpu-prof-dir=bench/results/profiles"] : [];
	const proc = spawn(process.execPath, [...flags, "--expose-gc", "--import", "tsx", script, ...args], {
		env: { ...process.env, ...env },
		stdio: ["ignore", "pipe", "inherit"],
	});
	const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
	const first = new Promise<Record<string, unknown>>((resolve, reject) => {
		lines.on("line", (line) => {
			try {
				resolve(JSON.parse(line));
			} catch {
				// not ours
			}
		});
		proc.on("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
	});
	first.catch(() => {});
	return {
		proc,
		first,
		stop: () =>
			new Promise((resolve) => {
				if (proc.exitCode !== null) return resolve();
				proc.once("exit", () => resolve());
				proc.kill("SIGTERM");
			}),
	};
}

export const median = (xs: number[]) => {
	const s = [...xs].sort((a, b) => a - b);
	return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : Number.NaN;
};

export const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");

/** BENCH_TOKEN (a bearer token, for a server with Auth:Mode Jwt) as a header, or nothing. */
export const authHeader = (): Record<string, string> =>
	process.env.BENCH_TOKEN ? { authorization: `Bearer ${process.env.BENCH_TOKEN}` } : {};

/** Creates `n` orders through the API, 20 requests in flight; answers their ids. */
export async function seedOrders(
	baseUrl: string,
	n: number,
	customerName = "Bench Customer",
): Promise<string[]> {
	const ids: string[] = [];
	const body = JSON.stringify({ customerName, productName: "Bench Product" });
	let next = 0;
	await Promise.all(
		Array.from({ length: 20 }, async () => {
			while (next < n) {
				next++;
				const res = await fetch(`${baseUrl}/api/orders/create`, {
					method: "POST",
					headers: { "content-type": "application/json", ...authHeader() },
					body,
				});
				ids.push(((await res.json()) as { orderId: string }).orderId);
			}
		}),
	);
	return ids;
}

/** The service as `npm start` runs it (src/node.ts), configured by `env`; resolves with its base URL. */
export function startService(
	env: Record<string, string>,
	/** Run another build of the service (a directory holding its src/ and node_modules). */
	cwd?: string,
): {
	child: ChildProcess;
	url: Promise<string>;
	stop(): Promise<void>;
} {
	const profile = process.env.BENCH_CPU_PROF && "src/node.ts".includes(process.env.BENCH_CPU_PROF);
	const flags = profile ? ["--cpu-prof", "--cpu-prof-dir=bench/results/profiles"] : [];
	const proc = spawn(process.execPath, [...flags, "--import", "tsx", "src/node.ts"], {
		env: { ...process.env, PORT: "0", ...env },
		stdio: ["ignore", "pipe", "inherit"],
		...(cwd ? { cwd } : {}),
	});
	const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
	// BENCH_SERVICE_LOGS=<dir>: the service's warnings and errors into <dir>/service-<pid>.log.
	const logDir = process.env.BENCH_SERVICE_LOGS;
	if (logDir)
		lines.on("line", (line) => {
			if (/"level":"(warn|error|fatal)"/.test(line))
				appendFileSync(`${logDir}/service-${proc.pid}.log`, `${line}\n`);
		});
	const url = new Promise<string>((resolve, reject) => {
		lines.on("line", (line) => {
			const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
			if (m?.[1]) resolve(m[1]);
		});
		proc.on("exit", (code) => reject(new Error(`src/node.ts exited with ${code}`)));
	});
	url.catch(() => {});
	return {
		child: proc,
		url,
		stop: () =>
			new Promise((resolve) => {
				if (proc.exitCode !== null) return resolve();
				proc.once("exit", () => resolve());
				proc.kill("SIGTERM");
			}),
	};
}
