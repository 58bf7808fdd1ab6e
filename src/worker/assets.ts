// The board and Swagger UI's assets for the Workers bundle: imported as text modules (wrangler.toml
// `rules`), so /, /board.css, /board.js and /swagger work offline exactly as on Node. Swagger UI's
// files are imported by relative path: wrangler applies its text rules to relative imports only (a
// bare `swagger-ui-dist/...` import was bundled as JavaScript).

import swaggerCss from "../../node_modules/swagger-ui-dist/swagger-ui.css";
import swaggerBundle from "../../node_modules/swagger-ui-dist/swagger-ui-bundle.js";
import boardCss from "../board/board.css";
import boardJs from "../board/board.js";
import boardHtml from "../board/index.html";

type Files = Record<string, [body: string, contentType: string, cacheControl: string]>;

function serve(files: Files): (name: string) => Promise<Response | undefined> {
	return async (name) => {
		const file = files[name];
		if (!file) return undefined;
		return new Response(file[0], { headers: { "content-type": file[1], "cache-control": file[2] } });
	};
}

export const boardFilesFromBundle = serve({
	"/": [boardHtml, "text/html; charset=utf-8", "no-cache"],
	"/board.css": [boardCss, "text/css; charset=utf-8", "no-cache"],
	"/board.js": [boardJs, "text/javascript; charset=utf-8", "no-cache"],
});

export const swaggerAssetsFromBundle = serve({
	"swagger-ui.css": [swaggerCss, "text/css; charset=utf-8", "public, max-age=86400"],
	"swagger-ui-bundle.js": [swaggerBundle, "text/javascript; charset=utf-8", "public, max-age=86400"],
});
