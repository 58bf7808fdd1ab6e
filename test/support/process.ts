import { type ChildProcess, spawn } from "node:child_process";

// Exactly what `npm start` runs: one node process with tsx as a loader (no tsx CLI parent,
// whose signal relay is not safe for a second signal during shutdown).
const NODE_ARGS = ["--import", "tsx", "src/node.ts"];

export interface Service {
	child: ChildProcess;
	baseUrl: string;
	output: () => string;
	exited: Promise<number | null>;
}

/**
 * Starts the service on a free port and waits until it listens: the node entry directly, or
 * through `npm start` in its own process group (so a test can send Ctrl-C to the group).
 */
export async function startService(
	env: Record<string, string>,
	options: {
		viaNpm?: boolean;
		timeoutMs?: number;
		/** Another command than `npm start`'s (the production build's, for one), run in `cwd`. */
		command?: string[];
		cwd?: string;
	} = {},
): Promise<Service> {
	const timeoutMs = options.timeoutMs ?? 20_000;
	const [cmd, args] = options.command
		? [options.command[0] as string, options.command.slice(1)]
		: options.viaNpm
			? ["npm", ["start", "--silent"]]
			: [process.execPath, NODE_ARGS];
	const child = spawn(cmd, args, {
		...(options.cwd ? { cwd: options.cwd } : {}),
		env: { ...process.env, PORT: "0", ...env },
		stdio: ["ignore", "pipe", "pipe"],
		detached: options.viaNpm === true,
	});
	let out = "";
	child.stdout?.on("data", (d) => {
		out += d;
	});
	child.stderr?.on("data", (d) => {
		out += d;
	});
	// "close": the process has exited and its output is complete (npm may exit before node does).
	const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
	const baseUrl = await new Promise<string>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`service did not start:\n${out}`)), timeoutMs);
		const check = () => {
			const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
			if (m?.[1]) {
				clearTimeout(timer);
				resolve(m[1]);
			}
		};
		child.stdout?.on("data", check);
		exited.then((code) => {
			clearTimeout(timer);
			reject(new Error(`service exited with ${code}:\n${out}`));
		});
	});
	return { child, baseUrl, output: () => out, exited };
}

/** Runs the entry to completion (for start-up failures). */
export function runService(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, NODE_ARGS, {
			env: { ...process.env, PORT: "0", ...env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let output = "";
		child.stdout?.on("data", (d) => {
			output += d;
		});
		child.stderr?.on("data", (d) => {
			output += d;
		});
		child.on("exit", (code) => resolve({ code, output }));
	});
}
