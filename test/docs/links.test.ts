// Every relative link and #anchor in README.md, ARCHITECTURE.md and docs/*.md resolves: the file
// exists, and the heading the anchor names is in it (GitHub's heading ids, via github-slugger).
// remark parses the Markdown and remark-validate-links checks the links; unified-engine runs them
// over all the files at once, which is what lets the plugin check anchors into other files.
// Web links (https://…) are not fetched.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { remark } from "remark";
import remarkValidateLinks from "remark-validate-links";
import { type Options as EngineOptions, engine } from "unified-engine";
import type { VFile } from "vfile";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

const markdownFiles = (): string[] => [
	"README.md",
	"ARCHITECTURE.md",
	...readdirSync(join(ROOT, "docs"))
		.filter((name) => name.endsWith(".md"))
		.map((name) => `docs/${name}`),
];

/** Runs the link check over `files` (relative to `cwd`); one line per broken link. */
async function brokenLinks(cwd: string, files: string[]): Promise<string[]> {
	const checked: VFile[] = await new Promise((resolve, reject) => {
		engine(
			{
				processor: remark(),
				cwd,
				files,
				// No git remote lookup: links are checked as files of this folder, never against a host.
				// The engine hands each plugin the file set (its second argument); its type asks for a
				// plugin of unknown options, hence the cast.
				plugins: [
					[remarkValidateLinks, { repository: false, root: cwd }],
				] as unknown as EngineOptions["plugins"],
				detectConfig: false,
				detectIgnore: false,
				ignoreName: ".remarkignore",
				rcName: ".remarkrc",
				packageField: "remarkConfig",
				out: false,
				output: false,
				silent: true,
				quiet: true,
				reporter: () => "",
			},
			(error, _code, context) => (error ? reject(error) : resolve(context?.files ?? [])),
		);
	});
	return checked.flatMap((file) =>
		file.messages.map((m) => `${file.path}:${m.line ?? "?"}:${m.column ?? "?"} ${m.reason}`),
	);
}

describe("Markdown links", () => {
	it("checks the front page, ARCHITECTURE.md and every page of docs/", () => {
		const files = markdownFiles();
		expect(files).toContain("docs/configuration.md");
		expect(files.length).toBeGreaterThan(10);
	});

	it("reports a missing file, a missing heading in the same file and one in another file", async () => {
		const dir = mkdtempSync(join(tmpdir(), "docs-links-"));
		try {
			mkdirSync(join(dir, "docs"));
			writeFileSync(join(dir, "docs/page.md"), "# Page\n\n## A section\n");
			writeFileSync(
				join(dir, "README.md"),
				[
					"# Front",
					"[fine](docs/page.md#a-section) [fine too](#front)",
					"[no file](docs/gone.md) [no heading](#nowhere) [no heading there](docs/page.md#b-section)",
				].join("\n\n"),
			);
			const broken = await brokenLinks(dir, ["README.md", "docs/page.md"]);
			expect(broken).toHaveLength(3);
			expect(broken).toEqual(
				expect.arrayContaining([
					expect.stringMatching(/Cannot find file `docs\/gone\.md`/),
					expect.stringMatching(/Cannot find heading for `#nowhere`/),
					expect.stringMatching(/Cannot find heading for `#b-section` in `docs\/page\.md`/),
				]),
			);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("every relative link and #anchor resolves", async () => {
		expect(await brokenLinks(ROOT, markdownFiles())).toEqual([]);
	});
});
