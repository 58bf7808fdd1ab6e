// Swagger UI's CSS and JS served from the installed swagger-ui-dist package (Node only), so
// /swagger works offline instead of loading them from a CDN.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const FILES: Record<string, string> = {
	"swagger-ui.css": "text/css; charset=utf-8",
	"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

export function swaggerAssetsFromPackage(): (file: string) => Promise<Response | undefined> {
	const dir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
	const cache = new Map<string, Promise<Buffer>>();
	return async (file) => {
		const type = FILES[file];
		if (!type) return undefined;
		let body = cache.get(file);
		if (!body) {
			body = readFile(join(dir, file));
			cache.set(file, body);
		}
		return new Response(new Uint8Array(await body), {
			headers: { "content-type": type, "cache-control": "public, max-age=86400" },
		});
	};
}
