// Helpers for the /doc tests: temporary folders and the command-line tools they run.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** A fresh folder under the OS temp dir, and its removal. */
export function tempDir(prefix: string): { path: string; remove(): void } {
	const path = mkdtempSync(join(tmpdir(), `order-tracker-${prefix}-`));
	return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Runs a Node script to completion; a non-zero exit is a result, not an exception. */
export function runNode(
	script: string,
	args: string[],
	options: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		execFile(
			process.execPath,
			[script, ...args],
			{ cwd: options.cwd, env: { ...process.env, ...options.env }, maxBuffer: 16 * 1024 * 1024 },
			(error, stdout, stderr) => {
				const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
				resolve({ code, stdout, stderr });
			},
		);
	});
}
