// Generated bad input against every route of a real server over Azurite (seeded, so a failure
// reproduces): bodies of any structure, depth and encoding, odd headers, paths and query strings.
// Whatever comes in: never a 5xx, every 4xx is problem+json, the service stays ready, and the only
// orders that exist are the ones a 201 answered for.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { createOrder } from "../support/orders-client.js";
import { type RunningServer, startServer } from "../support/server.js";
import { azuriteStore } from "../support/tables.js";

const SEED = 20261129;
const RUNS = 400;

let server: RunningServer;
let existing: Order;
let created = 0;
beforeAll(async () => {
	server = await startServer({ store: azuriteStore() });
	existing = await createOrder(server.baseUrl, { customerName: "Known", productName: "Order" });
	created = 1;
});
afterAll(() => server?.close());

/** Percent-encodes any string, lone surrogates included (as U+FFFD, which is what a client sends). */
const enc = (s: string) =>
	Array.from(new TextEncoder().encode(s), (b) =>
		/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
			? String.fromCharCode(b)
			: `%${b.toString(16).padStart(2, "0")}`,
	).join("");

const KNOWN_KEYS = [
	"customerName",
	"CustomerName",
	"productName",
	"PRODUCTNAME",
	"partitionKey",
	"status",
	"Status",
	"__proto__",
	"constructor",
];

/** Text that stresses parsers: control characters, lone surrogates, the characters Azure keys refuse. */
const nastyText = fc.oneof(
	fc.string({ maxLength: 40 }),
	fc.string({ unit: "binary", maxLength: 40 }),
	fc.constantFrom(
		"",
		" ",
		"/",
		"\\",
		"#",
		"?",
		"%",
		"%2F",
		"..",
		"\u0000",
		"\u007f",
		"\ud800",
		"'",
		'"',
		"<script>",
		"x".repeat(600),
		"Pending",
		"shipped",
	),
);

const jsonish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
	value: fc.oneof(
		{ depthSize: "small", withCrossShrink: true },
		nastyText,
		fc.integer(),
		fc.double(),
		fc.boolean(),
		fc.constant(null),
		fc.array(tie("value"), { maxLength: 4 }),
		fc.dictionary(fc.oneof(fc.constantFrom(...KNOWN_KEYS), nastyText), tie("value"), { maxKeys: 5 }),
	),
})).value;

/** A body as bytes on the wire: JSON of generated values, broken JSON, deep nesting, raw bytes. */
const body = fc.oneof(
	jsonish.map((v) => JSON.stringify(v) ?? ""),
	fc
		.record({ customerName: jsonish, productName: jsonish, status: jsonish }, { requiredKeys: [] })
		.map((v) => JSON.stringify(v)),
	fc.string({ maxLength: 200 }),
	fc.integer({ min: 1, max: 5000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
	fc.integer({ min: 1, max: 3000 }).map((n) => `{"customerName":${'{"a":'.repeat(n)}1${"}".repeat(n)}}`),
	fc.uint8Array({ maxLength: 200 }),
	fc.constant(`"${"a".repeat(70_000)}"`),
);

const contentType = fc.option(
	fc.constantFrom(
		"application/json",
		"application/json; charset=utf-8",
		"APPLICATION/JSON",
		"application/problem+json",
		"text/plain",
		"application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x",
		"application/json; charset=latin1",
		";;;",
	),
	{ nil: undefined },
);

/** Header values a fetch client can send (visible ASCII and spaces). */
const headerValue = fc.oneof(
	fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,60}$/),
	fc.constantFrom("", "x".repeat(200), "x".repeat(300), "0", "-1", "999999999999999999999"),
	fc.stringMatching(/^[\x21-\x7e]{150,200}$/), // long Idempotency-Keys
);

const segment = fc.oneof(
	nastyText.map(enc),
	fc.constantFrom("%", "%zz", "%00", "..", "%2e%2e", "%C0%AF", "a%2Fb"),
	fc.constant("EXISTING"),
);

const b64url = (s: string) => Buffer.from(s).toString("base64url");
/**
 * Continuation tokens that decode but were never issued: this service's wrapper around forged
 * Azure tokens (wrong types, extra fields, keys Azure refuses, not base64, not JSON).
 */
const forgedToken = fc
	.oneof(
		fc.constantFrom("zzz", btoa("hello"), btoa('{"nextPartitionKey":5}'), btoa("[]"), btoa("null")),
		fc
			.record(
				{
					nextPartitionKey: fc.oneof(nastyText, fc.integer(), fc.constant(null)),
					nextRowKey: fc.oneof(nastyText, fc.boolean()),
					extra: fc.string(),
				},
				{ requiredKeys: [] },
			)
			.map((o) => Buffer.from(JSON.stringify(o)).toString("base64")),
	)
	.map((az) => b64url(JSON.stringify({ az })));

const query = fc.array(
	fc.tuple(
		fc.oneof(
			fc.constantFrom(
				"limit",
				"continuationToken",
				"status",
				"partitionKey",
				"customerName",
				"orderId",
				"lastEventId",
			),
			nastyText,
		),
		fc.oneof(nastyText, forgedToken),
	),
	{ maxLength: 5 },
);

const ROUTES: [string, (id: string) => string][] = [
	["POST", () => "/api/orders/create"],
	["GET", () => "/api/orders"],
	["GET", (id) => `/api/orders/${id}`],
	["GET", (id) => `/api/orders/${id}/history`],
	["PUT", (id) => `/api/orders/update-status/${id}`],
	["GET", () => "/orderHub"],
	["GET", () => "/orderHub/stats"],
	["GET", () => "/health/ready"],
	["OPTIONS", () => "/api/orders/create"],
	["DELETE", (id) => `/api/orders/${id}`],
	["PATCH", () => "/api/orders/create"],
];

const request = fc.record({
	route: fc.constantFrom(...ROUTES),
	id: segment,
	query,
	contentType,
	body,
	headers: fc.dictionary(
		fc.constantFrom(
			"Idempotency-Key",
			"Last-Event-ID",
			"Origin",
			"Accept",
			"Accept-Encoding",
			"X-Request-Id",
			"Access-Control-Request-Method",
			"If-Match",
			"Cookie",
		),
		headerValue,
		{ maxKeys: 4 },
	),
});

describe("generated bad input on every route", () => {
	it(`never answers 5xx; every 4xx is problem+json; orders only from 201s (seed ${SEED}, ${RUNS} runs)`, async () => {
		await fc.assert(
			fc.asyncProperty(request, async (r) => {
				const [method, path] = r.route;
				const id = r.id === "EXISTING" ? existing.orderId : r.id;
				const qs = r.query.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&");
				const url = `${server.baseUrl}${path(id)}${qs ? `?${qs}` : ""}`;
				const headers = new Headers();
				for (const [k, v] of Object.entries(r.headers)) headers.set(k, v);
				if (r.contentType) headers.set("content-type", r.contentType);
				const withBody = method === "POST" || method === "PUT" || method === "PATCH";
				const res = await fetch(url, { method, headers, ...(withBody ? { body: r.body } : {}) });
				const type = res.headers.get("content-type") ?? "";
				let text = "";
				if (type.startsWith("text/event-stream")) await res.body?.cancel();
				else text = await res.text();
				expect(res.status, `${method} ${url} -> ${text.slice(0, 300)}`).toBeLessThan(500);
				if (res.status >= 400 && method !== "OPTIONS") {
					expect(type, `${method} ${url}`).toBe("application/problem+json");
					const problem = JSON.parse(text);
					expect(problem).toMatchObject({
						status: res.status,
						title: expect.any(String),
						detail: expect.any(String),
					});
				}
				if (res.status === 201) created++;
			}),
			{ seed: SEED, numRuns: RUNS, endOnFailure: true },
		);
		const ready = await fetch(`${server.baseUrl}/health/ready`);
		expect(ready.status).toBe(200);
		const orders = (await (await fetch(`${server.baseUrl}/api/orders?limit=1000`)).json()) as Order[];
		expect(orders).toHaveLength(created);
		for (const o of orders) {
			expect(o.status === "Pending" || o.orderId === existing.orderId).toBe(true);
			expect(o.customerName.trim().length).toBeGreaterThan(0);
		}
	}, 120_000);
});
