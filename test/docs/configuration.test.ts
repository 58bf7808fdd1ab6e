// docs/configuration.md and the code name the same configuration keys.
//
// What the service reads comes from the code, never from a list kept by hand:
// - the settings: every leaf of ConfigSchema (src/config.ts), walked through zod's wrappers
//   (default, prefault, optional, preprocess/transform pipes), as `Section:Key`, plus top-level
//   `PORT`. (The original's `Logging:LogLevel:Default` is read inside the Logging section's
//   preprocess rather than as a schema key; the page names it in the `Logging:Level` row.)
// - the environment variables read under their own names: every `env.NAME` in src/ (HOST,
//   APPSETTINGS_PATH, the OTEL_* the Node tracing reads). Workers' entry is left out: its `env` holds
//   bindings (HUB) as well as the settings, which it passes through the same schema.
// What the page names: the `inline code` in the first column of its tables headed `key`
// (remark + remark-gfm parse the Markdown). An `OTEL_*` variable the page lists but our code does not
// read itself is accepted when the OpenTelemetry packages the service loads read it.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { InlineCode, Root, Table } from "mdast";
import { remark } from "remark";
import remarkGfm from "remark-gfm";
import { visit } from "unist-util-visit";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigSchema } from "../../src/config.js";

const ROOT = join(import.meta.dirname, "../..");
const SRC = join(ROOT, "src");

/** The object inside defaults, prefaults, optionals and pipes, if there is one. */
function objectInside(schema: z.core.$ZodType): z.ZodObject | undefined {
	if (schema instanceof z.ZodObject) return schema;
	if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodOptional)
		return objectInside(schema.def.innerType);
	if (schema instanceof z.ZodPipe) return objectInside(schema.def.out) ?? objectInside(schema.def.in);
	return undefined;
}

/** `Section:Key` for every setting below `schema`. */
function settingKeys(schema: z.ZodObject, prefix = ""): string[] {
	return Object.entries(schema.shape).flatMap(([name, field]) => {
		const inner = objectInside(field as z.core.$ZodType);
		return inner ? settingKeys(inner, `${prefix}${name}:`) : [`${prefix}${name}`];
	});
}

function sourceFiles(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
		const path = join(dir, e.name);
		if (e.isDirectory()) return sourceFiles(path);
		return e.name.endsWith(".ts") ? [path] : [];
	});
}

/** Environment variables src/ reads by name (`env.NAME`, `process.env.NAME`), Workers' entry aside. */
function environmentVariablesRead(): string[] {
	const names = new Set<string>();
	for (const file of sourceFiles(SRC)) {
		const path = relative(SRC, file);
		if (path === "worker.ts" || path.startsWith("worker/")) continue;
		for (const m of readFileSync(file, "utf8").matchAll(/\benv\??\.([A-Z][A-Z0-9_]*)\b/g))
			names.add(m[1] as string);
	}
	return [...names];
}

/** The code of the OpenTelemetry packages the service depends on (and theirs), to find OTEL_* names. */
function openTelemetrySource(): string {
	const deps = (dir: string): string[] =>
		Object.keys(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).dependencies ?? {}).filter((d) =>
			d.startsWith("@opentelemetry/"),
		);
	const direct = deps(ROOT);
	const packages = new Set([...direct, ...direct.flatMap((d) => deps(join(ROOT, "node_modules", d)))]);
	return [...packages]
		.flatMap((p) => {
			const dir = join(ROOT, "node_modules", p);
			return readdirSync(dir, { recursive: true, encoding: "utf8" })
				.filter((f) => f.endsWith(".js") && !f.includes("node_modules"))
				.map((f) => readFileSync(join(dir, f), "utf8"));
		})
		.join("\n");
}

/** The keys in the first column of docs/configuration.md's tables headed `key`. */
function documentedKeys(): string[] {
	const tree = remark()
		.use(remarkGfm)
		.parse(readFileSync(join(ROOT, "docs/configuration.md"), "utf8")) as Root;
	const keys: string[] = [];
	visit(tree, "table", (table: Table) => {
		const [header, ...rows] = table.children;
		const firstHeading = header?.children[0]?.children[0];
		if (firstHeading?.type !== "text" || firstHeading.value.trim() !== "key") return;
		for (const row of rows) {
			visit(row.children[0] as NonNullable<(typeof row.children)[0]>, "inlineCode", (code: InlineCode) => {
				keys.push(code.value);
			});
		}
	});
	return keys;
}

describe("docs/configuration.md", () => {
	const settings = settingKeys(ConfigSchema);
	const variables = environmentVariablesRead();
	const read = new Set([...settings, ...variables]);
	const documented = documentedKeys();

	it("finds what the code reads (the walk and the scan see the keys at all)", () => {
		expect(settings).toContain("TableStorage:ConnectionString");
		expect(settings).toContain("Hub:CoalesceMs");
		expect(settings).toContain("PORT");
		expect(variables).toContain("HOST");
		expect(variables).toContain("OTEL_EXPORTER_OTLP_ENDPOINT");
		expect(documented.length).toBeGreaterThan(30);
	});

	it("names every key the service reads", () => {
		expect([...read].filter((key) => !documented.includes(key)).sort()).toEqual([]);
	});

	it("names only keys the service reads", () => {
		const otel = openTelemetrySource();
		const notRead = documented.filter(
			(key) =>
				!read.has(key) &&
				!(key.startsWith("OTEL_") && new RegExp(`(?<![A-Z0-9_])${key}(?![A-Z0-9_])`).test(otel)),
		);
		expect(notRead).toEqual([]);
	});
});
