/**
 * What `npx openapi-typescript <source> --default-non-nullable false -o <file>` writes: `source` is
 * the document's URL, or the parsed document.
 */
export function generateTypes(source: URL | string | object): Promise<string>;
