// The embedded Azurite's data folder is held by one process at a time (src/storage/embedded-azurite.ts):
// processes that try to take it at the same moment — released together by a barrier — must not both
// get it, whether the folder was free or its lock was left by a process that is gone.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const modulePath = fileURLToPath(new URL("../../src/storage/embedded-azurite.ts", import.meta.url));

// Each contender loads the module, says "ready", waits for "go", tries for 1 s, says how it went,
// and holds what it got until its stdin ends.
const contender = `
import { createInterface } from "node:readline";
import { lockDataDir } from ${JSON.stringify(modulePath)};
const lines = createInterface({ input: process.stdin });
console.log("ready");
for await (const line of lines) {
	if (line !== "go") continue;
	try {
		await lockDataDir(process.env.LOCK_DIR, 1000);
		console.log("held");
	} catch (err) {
		console.log(err.name);
	}
}
`;

async function contend(dir: string, count: number): Promise<string[]> {
	const children: ChildProcess[] = [];
	try {
		const answers = Array.from({ length: count }, () => {
			const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", contender], {
				env: { ...process.env, LOCK_DIR: dir },
				stdio: ["pipe", "pipe", "inherit"],
			});
			children.push(child);
			const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
			return { child, next: async () => (await lines.next()).value as string };
		});
		for (const a of answers) expect(await a.next()).toBe("ready");
		for (const a of answers) a.child.stdin?.write("go\n");
		return await Promise.all(answers.map((a) => a.next()));
	} finally {
		for (const child of children) child.stdin?.end();
		await Promise.all(children.map((c) => c.exitCode === null && new Promise((r) => c.once("exit", r))));
	}
}

it("gives a free folder to one of several processes starting at once", async () => {
	for (let round = 0; round < 3; round++) {
		const dir = mkdtempSync(join(tmpdir(), "azurite-lock-"));
		const answers = await contend(dir, 5);
		expect(answers.filter((a) => a === "held")).toHaveLength(1);
		expect(answers.filter((a) => a === "DataDirInUseError")).toHaveLength(4);
	}
}, 60_000);

it("gives a folder whose holder is gone to one of several processes starting at once", async () => {
	for (let round = 0; round < 3; round++) {
		const dir = mkdtempSync(join(tmpdir(), "azurite-lock-"));
		// A pid no process has (above Linux's pid_max) stands for a holder that crashed.
		writeFileSync(join(dir, "azurite.lock"), JSON.stringify({ pid: 4_194_304 + 1, host: hostname() }));
		const answers = await contend(dir, 5);
		expect(answers.filter((a) => a === "held")).toHaveLength(1);
		expect(answers.filter((a) => a === "DataDirInUseError")).toHaveLength(4);
	}
}, 90_000);
