// The live order board's files (index.html, board.css, board.js), read from this folder (Node).
// No build step: they are served as written.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const DIR = dirname(fileURLToPath(import.meta.url));
const FILES: Record<string, [string, string]> = {
	"/": ["index.html", "text/html; charset=utf-8"],
	"/board.css": ["board.css", "text/css; charset=utf-8"],
	"/board.js": ["board.js", "text/javascript; charset=utf-8"],
};

export function boardFilesFromDisk(): (path: string) => Promise<Response | undefined> {
	return async (path) => {
		const file = FILES[path];
		if (!file) return undefined;
		return new Response(await readFile(join(DIR, file[0])), {
			headers: { "content-type": file[1], "cache-control": "no-cache" },
		});
	};
}
