// The production build and image (issue #24): the Dockerfile follows the rules below, and its own
// steps (every COPY, RUN, ENV and the CMD, in order) run here in a temp copy of the repository:
// `npm ci` + `npm run build`, then a stage with `npm ci --omit=dev` and the build output only, whose
// CMD serves a create, a status change and the SSE event of that change. No tsx, no TypeScript.
import { spawnSync } from "node:child_process";
import {
	chmodSync,
	cpSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	readFileSync,
	statSync,
	writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, posix } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { expectCreateChangeAndEvent } from "../support/orders-client.js";
import { startService } from "../support/process.js";
import { uniqueTableName } from "../support/tables.js";
import { readDockerfile, type Stage, type Step } from "./dockerfile.js";

const repo = join(import.meta.dirname, "..", "..");
const stages = readDockerfile(join(repo, "Dockerfile"));
const final = stages.at(-1) as Stage;
const stepsOf = <K extends Step["kind"]>(stage: Stage, kind: K) =>
	stage.steps.filter((s): s is Extract<Step, { kind: K }> => s.kind === kind);

/** What a connection string's or a private key's secret looks like. */
const SECRET_TEXT =
	/(AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{20,}|SharedAccessSignature=SharedAccessSignature sr=|-----BEGIN [A-Z ]*PRIVATE KEY/;
/** Azurite's well-known development key: public, printed in Microsoft's docs, no secret. */
const AZURITE_KEY =
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

describe("Dockerfile", () => {
	it("builds in one stage and runs from another, both on the same exactly pinned Node 22", () => {
		expect(stages.length).toBeGreaterThanOrEqual(2);
		for (const stage of stages)
			expect(stage.image).toMatch(/^node:22\.\d+\.\d+-[a-z]+(-slim)?(@sha256:[0-9a-f]{64})?$/);
		expect(new Set(stages.map((s) => s.image)).size).toBe(1);
		// The final stage takes only the build output from the build stage.
		const fromBuild = stepsOf(final, "COPY").filter((c) => c.from !== undefined);
		expect(fromBuild.map((c) => c.sources)).toEqual([["/app/dist/node"]]);
	});

	it("runs the compiled service as a non-root user, NODE_ENV=production, with node as PID 1", () => {
		const env = Object.assign({}, ...stepsOf(final, "ENV").map((e) => e.values));
		expect(env.NODE_ENV).toBe("production");
		const users = stepsOf(final, "USER").map((u) => u.user);
		expect(users.length).toBeGreaterThan(0);
		expect(["root", "0", "0:0"]).not.toContain(users.at(-1));
		// Exec form, no shell and no npm in between: SIGTERM from the platform reaches node itself.
		expect(stepsOf(final, "ENTRYPOINT")).toEqual([]);
		const cmds = stepsOf(final, "CMD");
		expect(cmds).toHaveLength(1);
		const exec = cmds[0]?.exec;
		expect(exec, "CMD in exec (JSON) form").toBeDefined();
		expect(exec?.[0]).toBe("node");
		expect(exec?.at(-1)).toBe("dist/node/node.js");
		expect(exec?.join(" ")).not.toMatch(/tsx|\.ts\b/);
		const runs = stepsOf(final, "RUN").map((r) => r.command);
		expect(runs.filter((r) => /\bnpm ci\b/.test(r))).toEqual(["npm ci --omit=dev"]);
	});

	it("puts no secret in any layer: no secret-like ARG or ENV, no whole-context COPY, a .dockerignore for secrets", () => {
		for (const stage of stages) {
			for (const step of stage.steps) {
				const names = step.kind === "ENV" ? Object.keys(step.values) : step.kind === "ARG" ? [step.name] : [];
				for (const name of names)
					expect(name).not.toMatch(/key|secret|password|token|connectionstring|credential/i);
				if (step.kind === "ENV")
					for (const v of Object.values(step.values)) expect(v).not.toMatch(SECRET_TEXT);
				if (step.kind === "COPY" && !step.from)
					for (const s of step.sources) {
						expect(s).not.toMatch(/^\.\/?$/);
						// Settings files are where keys get written: settings come from the environment.
						expect(s).not.toMatch(/appsettings/i);
					}
				// The npm cache is a build-time mount, never a layer.
				if (step.kind === "RUN")
					for (const f of step.flags) expect(f).toBe("mount=type=cache,target=/root/.npm");
			}
		}
		const ignored = readFileSync(join(repo, ".dockerignore"), "utf8").split("\n");
		for (const entry of [".git", "node_modules", ".data", ".env", ".dev.vars", "wrangler.toml"]) {
			expect(ignored).toContain(entry);
		}
	});
});

/** Every file the repository has (tracked, or new and not ignored): the build context. */
function copyRepository(to: string): void {
	const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
		cwd: repo,
		encoding: "utf8",
	});
	expect(listed.status).toBe(0);
	for (const file of listed.stdout.split("\0").filter(Boolean)) {
		if (!existsSync(join(repo, file))) continue; // deleted in the work tree, not yet committed
		mkdirSync(dirname(join(to, file)), { recursive: true });
		cpSync(join(repo, file), join(to, file));
	}
}

/** Docker's COPY: a directory's contents into the destination; files into it when it ends with "/". */
function copyStep(sources: string[], from: string, destination: string): void {
	for (const source of sources) {
		const path = join(from, source);
		if (statSync(path).isDirectory()) cpSync(path, destination, { recursive: true });
		else {
			const into = destination.endsWith("/") || sources.length > 1;
			const target = into ? join(destination, basename(source)) : destination;
			mkdirSync(dirname(target), { recursive: true });
			cpSync(path, target);
		}
	}
}

function secretFiles(dir: string): string[] {
	const listed = spawnSync("grep", ["-rlE", SECRET_TEXT.source, dir, "--exclude-dir=node_modules"], {
		encoding: "utf8",
	});
	return listed.stdout
		.split("\n")
		.filter(Boolean)
		.filter((file) => {
			const text = readFileSync(file, "utf8").replaceAll(`AccountKey=${AZURITE_KEY}`, "");
			return SECRET_TEXT.test(text);
		});
}

describe("the image's steps, run in a temp copy of the repository", () => {
	const work = mkdtempSync(join(tmpdir(), "order-tracker-image-"));
	// Two node_modules trees: removing them takes a while on a busy machine.
	afterAll(() => rm(work, { recursive: true, force: true }), 180_000);

	it("npm ci + npm run build, then npm ci --omit=dev and the CMD: serves a create, a change and its SSE event", {
		timeout: 420_000,
	}, async () => {
		const context = join(work, "context");
		copyRepository(context);
		// This machine has no `node` user (the base image does): a chown to it is accepted and a no-op.
		const shims = join(work, "shims");
		mkdirSync(shims);
		writeFileSync(
			join(shims, "chown"),
			'#!/bin/sh\n[ "$1" = "node:node" ] || { echo "chown to $1: the image runs as node" >&2; exit 1; }\n',
		);
		chmodSync(join(shims, "chown"), 0o755);

		const roots = new Map<string, string>();
		let command: string[] = [];
		let serviceEnv: Record<string, string> = {};
		for (const [index, stage] of stages.entries()) {
			const root = join(work, `stage-${index}`);
			if (stage.name) roots.set(stage.name, root);
			let cwd = root;
			// The base image sets no NODE_ENV; each stage's ENV steps add to this.
			const env: Record<string, string> = {
				PATH: `${shims}:${dirname(process.execPath)}:${process.env.PATH}`,
				HOME: process.env.HOME ?? work,
				// The cache mount (/root/.npm) is this machine's npm cache; offline when it can be.
				npm_config_cache: spawnSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).stdout.trim(),
				npm_config_prefer_offline: "true",
				npm_config_audit: "false",
				npm_config_fund: "false",
				npm_config_update_notifier: "false",
			};
			for (const step of stage.steps) {
				if (step.kind === "WORKDIR") {
					cwd = join(root, posix.resolve("/", step.path));
					mkdirSync(cwd, { recursive: true });
				} else if (step.kind === "COPY") {
					const from = step.from ? (roots.get(step.from) as string) : context;
					const sources = step.from ? step.sources.map((s) => s.replace(/^\//, "")) : step.sources;
					copyStep(sources, from, join(cwd, step.destination) + (step.destination.endsWith("/") ? "/" : ""));
				} else if (step.kind === "ENV") {
					Object.assign(env, step.values);
				} else if (step.kind === "RUN") {
					const run = spawnSync("sh", ["-c", step.command], { cwd, env, encoding: "utf8" });
					expect(run.status, `RUN ${step.command}\n${run.stdout}\n${run.stderr}`).toBe(0);
				} else if (step.kind === "CMD" && step.exec) {
					command = step.exec;
					serviceEnv = { ...env };
				}
			}
			expect(secretFiles(root)).toEqual([]);
		}
		const app = join(work, `stage-${stages.length - 1}`, "app");
		// Only production dependencies: neither tsx nor TypeScript is there to run anything.
		expect(existsSync(join(app, "node_modules", "tsx"))).toBe(false);
		expect(existsSync(join(app, "node_modules", "typescript"))).toBe(false);
		expect(existsSync(join(app, "node_modules", "esbuild"))).toBe(false);
		expect(existsSync(join(app, "src"))).toBe(false);
		// The legacy import runs from the build as well (npm run import-legacy:prod).
		const importHelp = spawnSync(process.execPath, ["dist/node/legacy-import/cli.js", "--help"], {
			cwd: app,
			encoding: "utf8",
			env: { ...process.env, NODE_OPTIONS: "" },
		});
		expect(importHelp.status, importHelp.stderr).toBe(0);
		expect(importHelp.stdout).toContain("--from-service-uri");

		expect(command[0]).toBe("node");
		const svc = await startService(
			{
				...serviceEnv,
				NODE_OPTIONS: "", // nothing loaded but what the CMD names
				HOST: "127.0.0.1", // the image's 0.0.0.0 would need Auth:Mode Jwt; tests listen on loopback
				PORT: "0",
				TableStorage__ConnectionString: inject("azuriteConnectionString"),
				TableStorage__TableName: uniqueTableName("Image"),
			},
			{ command: [process.execPath, ...command.slice(1)], cwd: app, timeoutMs: 60_000 },
		);
		try {
			await expectCreateChangeAndEvent(svc.baseUrl);
		} finally {
			svc.child.kill("SIGTERM");
			expect(await svc.exited).toBe(0);
		}
		expect(svc.output()).toMatch(/SIGTERM: shutting down/);
		expect(svc.output()).toMatch(/stopped/);
	});
});
