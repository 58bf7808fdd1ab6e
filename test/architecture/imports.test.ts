// Which way imports go in src/ (see ARCHITECTURE.md): the domain imports nothing of the project,
// and neither the folders (and top-level modules) nor the files import each other in a circle.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "../../src");

function sourceFiles(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
		const path = join(dir, e.name);
		if (e.isDirectory()) return sourceFiles(path);
		return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
	});
}

/** file (relative to src) -> the project files it imports (static and dynamic). */
function importGraph(): Map<string, string[]> {
	const graph = new Map<string, string[]>();
	for (const file of sourceFiles(SRC)) {
		const text = readFileSync(file, "utf8");
		const specs = [...text.matchAll(/(?:from\s+|import\()\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1] as string);
		const targets = specs.map((s) =>
			relative(SRC, normalize(join(dirname(file), s))).replace(/\.js$/, ".ts"),
		);
		graph.set(relative(SRC, file), targets);
	}
	return graph;
}

/** The first cycle found in `graph`, as the path around it; undefined when there is none. */
function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
	const state = new Map<string, "open" | "done">();
	const stack: string[] = [];
	const visit = (node: string): string[] | undefined => {
		state.set(node, "open");
		stack.push(node);
		for (const next of graph.get(node) ?? []) {
			if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
			if (!state.has(next)) {
				const found = visit(next);
				if (found) return found;
			}
		}
		stack.pop();
		state.set(node, "done");
		return undefined;
	};
	for (const node of graph.keys()) {
		if (!state.has(node)) {
			const found = visit(node);
			if (found) return found;
		}
	}
	return undefined;
}

/** A folder under src/, or a top-level module by its own name. */
const unitOf = (file: string) => file.split("/")[0] as string;

describe("imports in src/", () => {
	const graph = importGraph();

	it("src/domain imports nothing from the rest of the project", () => {
		const outside = [...graph].flatMap(([file, targets]) =>
			file.startsWith("domain/")
				? targets.filter((t) => !t.startsWith("domain/")).map((t) => `${file} -> ${t}`)
				: [],
		);
		expect(outside).toEqual([]);
	});

	it("has no import cycle between files", () => {
		const files = new Map([...graph].map(([f, ts]) => [f, new Set(ts)]));
		expect(findCycle(files)).toBeUndefined();
	});

	it("has no import cycle between folders", () => {
		const units = new Map<string, Set<string>>();
		for (const [file, targets] of graph) {
			const from = unitOf(file);
			const set = units.get(from) ?? new Set<string>();
			for (const t of targets) if (unitOf(t) !== from) set.add(unitOf(t));
			units.set(from, set);
		}
		expect(findCycle(units)).toBeUndefined();
	});

	it("finds a cycle when there is one (the check itself works)", () => {
		const looped = new Map([
			["a", new Set(["b"])],
			["b", new Set(["c"])],
			["c", new Set(["a"])],
		]);
		expect(findCycle(looped)).toEqual(["a", "b", "c", "a"]);
	});
});
