// Reads a JSON request body before the route's validator sees it, so that every way a body can
// be wrong gets its own clear 4xx (wrong content type 415, too large 413, empty or malformed 400),
// and so that property names match in any case, as ASP.NET Core model binding does.
import type { MiddlewareHandler } from "hono";
import { ProblemError, problem, validationProblem } from "../problem.js";

const CANONICAL = ["orderId", "partitionKey", "customerName", "productName", "status"];
const BY_LOWER = new Map(CANONICAL.map((k) => [k.toLowerCase(), k]));

/**
 * How deeply a request body's arrays and objects may nest. The bodies of this API are one level
 * deep; the size limit alone does not bound structure (64 KiB of `[` nests 65,536 deep, which
 * overflows the stack of the code that walks the parsed value).
 */
export const MAX_JSON_DEPTH = 32;

/**
 * The deepest nesting of arrays and objects in a JSON text, stopping as soon as it passes `limit`.
 * A linear scan that skips strings, run before JSON.parse so no recursive code sees a deep value.
 */
export function jsonNestingExceeds(text: string, limit: number): boolean {
	let depth = 0;
	let inString = false;
	for (let i = 0; i < text.length; i++) {
		const ch = text.charCodeAt(i);
		if (inString) {
			if (ch === 0x5c)
				i++; // backslash: skip the escaped character
			else if (ch === 0x22) inString = false;
		} else if (ch === 0x22) inString = true;
		else if (ch === 0x5b || ch === 0x7b) {
			if (++depth > limit) return true;
		} else if (ch === 0x5d || ch === 0x7d) depth--;
	}
	return false;
}

/** `CustomerName` / `CUSTOMERNAME` / `customername` -> `customerName`; unknown keys get a lower-case first letter. */
export function normalizePropertyNames(value: unknown): unknown {
	if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
	const out: Record<string, unknown> = {};
	for (const [k, v] of Object.entries(value)) {
		const name = BY_LOWER.get(k.toLowerCase()) ?? k.charAt(0).toLowerCase() + k.slice(1);
		// defineProperty, not assignment: a body key "__proto__" must stay a plain (ignored) property.
		Object.defineProperty(out, name, { value: v, enumerable: true, writable: true, configurable: true });
	}
	return out;
}

export async function readLimited(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
	const reader = body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > maxBytes) {
			await reader.cancel();
			throw new ProblemError(problem(413, `The request body is larger than ${maxBytes} bytes.`));
		}
		chunks.push(value);
	}
	const all = new Uint8Array(size);
	let offset = 0;
	for (const c of chunks) {
		all.set(c, offset);
		offset += c.byteLength;
	}
	return all;
}

export function jsonBody(maxBytes: number): MiddlewareHandler {
	return async (c, next) => {
		const type = c.req.header("content-type") ?? "";
		const mediaType = type.split(";")[0]?.trim().toLowerCase() ?? "";
		if (mediaType !== "application/json" && !mediaType.endsWith("+json")) {
			throw new ProblemError(
				problem(415, `Content-Type must be application/json (got ${type ? `'${type}'` : "none"}).`),
			);
		}
		const declared = Number(c.req.header("content-length") ?? Number.NaN);
		if (declared > maxBytes) {
			throw new ProblemError(problem(413, `The request body is larger than ${maxBytes} bytes.`));
		}
		// With a declared length within the limit, read it whole (@hono/node-server reads that straight
		// from the socket); without one, stream it and stop at the limit.
		const bytes = Number.isFinite(declared)
			? new Uint8Array(await c.req.raw.arrayBuffer())
			: c.req.raw.body
				? await readLimited(c.req.raw.body, maxBytes)
				: new Uint8Array();
		if (bytes.byteLength > maxBytes) {
			throw new ProblemError(problem(413, `The request body is larger than ${maxBytes} bytes.`));
		}
		let text: string;
		try {
			text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
		} catch {
			throw new ProblemError(validationProblem({ body: ["The request body is not valid UTF-8."] }));
		}
		if (text.trim() === "") {
			throw new ProblemError(validationProblem({ body: ["A non-empty JSON request body is required."] }));
		}
		if (jsonNestingExceeds(text, MAX_JSON_DEPTH)) {
			throw new ProblemError(
				validationProblem({
					body: [`The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`],
				}),
			);
		}
		let parsed: unknown;
		try {
			parsed = JSON.parse(text);
		} catch (err) {
			throw new ProblemError(
				validationProblem({ body: [`The request body is not valid JSON: ${(err as Error).message}`] }),
			);
		}
		// Hand the normalised body to the route's json validator: c.req.json() parses this cached text.
		// (Hono stores the pending body promise there at run time, though its type says string.)
		(c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(
			JSON.stringify(normalizePropertyNames(parsed)),
		);
		await next();
	};
}
