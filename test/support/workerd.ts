// Runs the Worker in workerd the way a developer does: `wrangler dev` with wrangler.example.toml,
// offline, on 127.0.0.1 and a free port, its state in a temp dir. Started in its own process group
// so stop() ends wrangler and the workerd it started, and nothing else.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What keeps wrangler offline and quiet (docs/facts.md), plus the build conditions the Azure SDK needs. */
export function wranglerEnv(configHome: string): Record<string, string> {
	return {
		WRANGLER_SEND_METRICS: "false",
		WRANGLER_HIDE_BANNER: "true",
		CLOUDFLARE_CF_FETCH_ENABLED: "false",
		WRANGLER_SEND_ERROR_REPORTS: "false",
		XDG_CONFIG_HOME: configHome,
		WRANGLER_BUILD_PLATFORM: "node",
		WRANGLER_BUILD_CONDITIONS: "workerd,worker,import,default",
	};
}

export const wranglerBin = join(
	createRequire(import.meta.url).resolve("wrangler/package.json"),
	"..",
	"bin",
	"wrangler.js",
);

export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolve(port));
		});
	});
}

export interface RunningWorker {
	baseUrl: string;
	output(): string;
	stop(): Promise<void>;
}

/**
 * `wrangler dev [script]`: the real entry by default, or a test entry built on it. `config: null`
 * runs a standalone script without wrangler.example.toml (the benchmark's bare baseline).
 */
export async function startWorker(
	options: {
		script?: string;
		config?: string | null;
		vars?: Record<string, string>;
		/** More `wrangler dev` arguments (e.g. --test-scheduled). */
		args?: string[];
		/** false: ready when wrangler says so, without a request (a request wakes the hub object). */
		probe?: boolean;
		timeoutMs?: number;
	} = {},
): Promise<RunningWorker> {
	const dir = mkdtempSync(join(tmpdir(), "order-tracker-workerd-"));
	const [port, inspectorPort] = [await freePort(), await freePort()];
	const args = [wranglerBin, "dev", ...(options.script ? [options.script] : [])];
	if (options.config === null) args.push("--compatibility-date", "2026-04-01");
	else args.push("--config", options.config ?? "wrangler.example.toml");
	args.push("--ip", "127.0.0.1", "--port", String(port));
	args.push("--inspector-port", String(inspectorPort), "--persist-to", join(dir, "state"));
	args.push("--show-interactive-dev-session=false", "--live-reload=false");
	for (const [name, value] of Object.entries(options.vars ?? {})) args.push("--var", `${name}:${value}`);
	args.push(...(options.args ?? []));
	const child: ChildProcess = spawn(process.execPath, args, {
		env: { ...process.env, ...wranglerEnv(join(dir, "config")) },
		stdio: ["ignore", "pipe", "pipe"],
		detached: true,
	});
	let out = "";
	child.stdout?.on("data", (d) => {
		out += d;
	});
	child.stderr?.on("data", (d) => {
		out += d;
	});
	const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
	const stop = async () => {
		try {
			process.kill(-(child.pid as number), "SIGTERM");
		} catch {
			// already gone
		}
		const force = setTimeout(() => {
			try {
				process.kill(-(child.pid as number), "SIGKILL");
			} catch {
				// already gone
			}
		}, 5000);
		await exited;
		clearTimeout(force);
		rmSync(dir, { recursive: true, force: true });
	};
	const baseUrl = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + (options.timeoutMs ?? 30_000);
	for (;;) {
		if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${out}`);
		if (Date.now() > deadline) {
			await stop();
			throw new Error(`wrangler dev did not get ready:\n${out}`);
		}
		if (out.includes("Ready on") && options.probe === false) break;
		if (out.includes("Ready on")) {
			try {
				await (await fetch(`${baseUrl}/health/live`)).body?.cancel(); // any answer: it serves
				break;
			} catch {
				// not accepting yet
			}
		}
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	return { baseUrl, output: () => out, stop };
}
