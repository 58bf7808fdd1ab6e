// openapi-typescript 7 builds its output with TypeScript 5's compiler API (ts.factory, the printer).
// The typescript 7.0.2 this repository compiles with has none (its main export is lib/version.cjs),
// and openapi-typescript's peer range (^5.x) conflicts with it at the root. Installed as this local
// package, openapi-typescript gets its own TypeScript 5 in tools/openapi-typescript/node_modules and
// `npm ci` needs no flags.
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";

/**
 * What `npx openapi-typescript <source> --default-non-nullable false -o <file>` writes. Properties
 * with a default (CreateOrder.partitionKey) stay optional: the server fills them in, so clients may
 * omit them.
 */
export async function generateTypes(source) {
	return `${COMMENT_HEADER}${astToString(await openapiTS(source, { defaultNonNullable: false, silent: true }))}`;
}
