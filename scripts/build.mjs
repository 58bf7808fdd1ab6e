// `npm run build`: compiles the Node service (src/, without the Workers entry) to JavaScript in
// dist/node/, file for file, so that `npm run start:prod` (node dist/node/node.js) runs it with only
// production dependencies: no tsx, no TypeScript at run time. Types are checked by `npm run
// typecheck`; this step only strips them (esbuild, the transpiler tsx itself uses). The board's
// static files are copied beside their module, which reads them relative to itself.
import { cp, readdir, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const out = join(root, "dist", "node");

/** Runs only on Workers (built by wrangler, see docs/workers.md). */
const workerOnly = (path) => path === "worker.ts" || path.startsWith("worker/");

const entries = [];
const assets = [];
for (const entry of await readdir(src, { recursive: true, withFileTypes: true })) {
	if (!entry.isFile()) continue;
	const path = relative(src, join(entry.parentPath, entry.name)).split("\\").join("/");
	if (workerOnly(path) || path.endsWith(".d.ts")) continue;
	if (path.endsWith(".ts")) entries.push(join(src, path));
	else assets.push(path);
}

await rm(out, { recursive: true, force: true });
await build({
	entryPoints: entries,
	outbase: src,
	outdir: out,
	bundle: false, // one module per source file: imports keep resolving as in src/
	platform: "node",
	format: "esm",
	target: "node20",
	sourcemap: true, // stack traces name the TypeScript lines
	logLevel: "warning",
});
for (const path of assets) await cp(join(src, path), join(out, path));
console.log(`built ${entries.length} modules and ${assets.length} static files into ${relative(root, out)}/`);
