// Regenerates clients/typescript/schema.d.ts from a running server's /doc (`npm start` first):
//   npm run clients:typescript [-- <url of /doc> <output file>]
import { writeFileSync } from "node:fs";
import { generateTypes } from "./index.js";

const [source = "http://127.0.0.1:5080/doc", output = "clients/typescript/schema.d.ts"] =
	process.argv.slice(2);
writeFileSync(output, await generateTypes(new URL(source)));
console.log(`${output} written from ${source}`);
