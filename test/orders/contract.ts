// The orders API contract: every route and every bad-input case, as a client sees them. Shared,
// not copied: test/orders/routes.test.ts runs it against the app on Node (memory and Azurite) and
// test/worker/routes.test.ts against the same app inside workerd.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { OrderEvent } from "../../src/domain/events.js";
import type { Order } from "../../src/domain/order.js";

/** One running instance of the app, however it is hosted. */
export interface RoutesTarget {
	request(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
	/** Every event the app published so far, in order. */
	events(): Promise<OrderEvent[]>;
	/** Makes the status queue refuse messages (as a broker outage would). */
	closeQueue(): Promise<void>;
	/** What /health/ready reports as the queue's kind. */
	queueKind: string;
	dispose(): Promise<void>;
}

/** A fresh target with empty storage for each test. */
export type MakeTarget = (options: { maxBodyBytes: number }) => Promise<RoutesTarget>;

async function expectProblem(res: Response, status: number, field?: string, detail?: RegExp) {
	expect(res.status).toBe(status);
	expect(res.headers.get("content-type")).toBe("application/problem+json");
	const body = await res.json();
	expect(body).toMatchObject({
		status,
		type: expect.any(String),
		title: expect.any(String),
		detail: expect.any(String),
	});
	if (field) expect(Object.keys(body.errors ?? {})).toContain(field);
	if (detail) expect(JSON.stringify(body)).toMatch(detail);
	return body;
}

export function describeOrderRoutes(name: string, makeTarget: MakeTarget): void {
	describe(`orders API ${name}`, () => {
		let t: RoutesTarget;
		beforeEach(async () => {
			t = await makeTarget({ maxBodyBytes: 2048 });
		});
		afterEach(async () => {
			await t.dispose();
		});

		async function createOrder(body: unknown = { customerName: "Ada", productName: "Engine" }, headers = {}) {
			const res = await t.request("/api/orders/create", { method: "POST", json: body, headers });
			expect(res.status).toBe(201);
			return (await res.json()) as Order;
		}

		async function putStatus(orderId: string, body: unknown, headers: Record<string, string> = {}) {
			return t.request(`/api/orders/update-status/${encodeURIComponent(orderId)}`, {
				method: "PUT",
				json: body,
				headers,
			});
		}

		async function statusOf(orderId: string) {
			return ((await (await t.request(`/api/orders/${orderId}`)).json()) as Order).status;
		}

		describe("POST /api/orders/create", () => {
			it("accepts the original's PascalCase body and answers camelCase with 201 and Location", async () => {
				const res = await t.request("/api/orders/create", {
					method: "POST",
					json: { CustomerName: "Ada", PRODUCTNAME: "Engine", Status: "pending", RowKey: "ignored" },
				});
				expect(res.status).toBe(201);
				const order = await res.json();
				expect(order).toEqual({
					orderId: expect.any(String),
					partitionKey: "Orders",
					customerName: "Ada",
					productName: "Engine",
					status: "Pending",
					createdAt: expect.any(String),
					updatedAt: expect.any(String),
				});
				expect(res.headers.get("location")).toBe(`/api/orders/${order.orderId}`);
				const fetched = await t.request(res.headers.get("location") as string);
				expect(await fetched.json()).toEqual(order);
				expect(await t.events()).toEqual([{ type: "OrderCreated", order, version: 0 }]);
			});

			it("refuses a create that names a status other than Pending, naming status, and creates nothing", async () => {
				for (const status of ["Teleported", "Shipped", 0, null, { status: "Pending" }]) {
					const res = await t.request("/api/orders/create", {
						method: "POST",
						json: { CustomerName: "X", ProductName: "Y", Status: status },
					});
					await expectProblem(res, 400, "status", /Orders start Pending/);
				}
				expect((await (await t.request("/api/orders")).json()) as Order[]).toEqual([]);
				expect(await t.events()).toEqual([]);
			});

			it("refuses a body nested deeper than the limit with 400 naming the body, well under the size limit", async () => {
				for (const body of [
					`${"[".repeat(600)}${"]".repeat(600)}`,
					`{"customerName":"a","productName":"b","x":${'{"a":'.repeat(200)}1${"}".repeat(200)}}`,
				]) {
					const res = await t.request("/api/orders/create", {
						method: "POST",
						body,
						headers: { "content-type": "application/json" },
					});
					await expectProblem(res, 400, "body", /nests arrays and objects more than 32 levels/);
				}
				// Nesting within the limit in an ignored property is fine.
				const ok = await t.request("/api/orders/create", {
					method: "POST",
					body: `{"customerName":"a","productName":"b","x":${"[".repeat(20)}${"]".repeat(20)}}`,
					headers: { "content-type": "application/json" },
				});
				expect(ok.status).toBe(201);
			});

			it("treats a __proto__ property as an ordinary ignored property", async () => {
				const res = await t.request("/api/orders/create", {
					method: "POST",
					body: '{"__proto__":{"customerName":"Mallory"},"customerName":"Ada","productName":"B"}',
					headers: { "content-type": "application/json" },
				});
				expect(res.status).toBe(201);
				expect((await res.json()).customerName).toBe("Ada");
			});

			it("keeps a given partitionKey", async () => {
				expect(
					(await createOrder({ partitionKey: "EU", customerName: "A", productName: "B" })).partitionKey,
				).toBe("EU");
			});

			it("names every missing or wrong field", async () => {
				const res = await t.request("/api/orders/create", { method: "POST", json: { customerName: 42 } });
				const body = await expectProblem(res, 400);
				expect(body.errors).toEqual({
					customerName: ["customerName must be a string"],
					productName: ["productName is required"],
				});
			});

			it.each([
				["a slash", "a/b", "'/'"],
				["a backslash", "a\\b", "'\\\\\\\\'"],
				["a hash", "a#b", "'#'"],
				["a question mark", "a?b", "'\\?'"],
				["a control character", "a\u0001b", "U\\+0001"],
				["DEL", "a\u007fb", "U\\+007F"],
				["513 characters", "x".repeat(513), "at most 512"],
				["an empty string", "", "empty"],
			])("refuses a partitionKey with %s before it reaches Azure", async (_label, partitionKey, message) => {
				const res = await t.request("/api/orders/create", {
					method: "POST",
					json: { partitionKey, customerName: "A", productName: "B" },
				});
				await expectProblem(res, 400, "partitionKey", new RegExp(message));
				expect(await (await t.request("/api/orders")).json()).toEqual([]);
			});

			it("refuses blank and over-long names", async () => {
				await expectProblem(
					await t.request("/api/orders/create", {
						method: "POST",
						json: { customerName: "  ", productName: "B" },
					}),
					400,
					"customerName",
				);
				await expectProblem(
					await t.request("/api/orders/create", {
						method: "POST",
						json: { customerName: "A", productName: "x".repeat(257) },
					}),
					400,
					"productName",
				);
			});

			it("answers malformed JSON, wrong content type, empty, non-object and oversized bodies with a 4xx", async () => {
				const post = (body: string | undefined, type?: string) =>
					t.request("/api/orders/create", {
						method: "POST",
						...(body !== undefined ? { body } : {}),
						headers: type ? { "content-type": type } : {},
					});
				await expectProblem(
					await post('{"customerName":', "application/json"),
					400,
					"body",
					/not valid JSON/,
				);
				await expectProblem(
					await post("customerName=A", "application/x-www-form-urlencoded"),
					415,
					undefined,
					/application\/json/,
				);
				await expectProblem(await post('{"customerName":"A"}'), 415);
				await expectProblem(await post("", "application/json"), 400, "body", /non-empty/);
				await expectProblem(await post("[1,2]", "application/json"), 400);
				await expectProblem(await post('"just a string"', "application/json"), 400);
				await expectProblem(
					await post(
						JSON.stringify({ customerName: "A".repeat(3000), productName: "B" }),
						"application/json",
					),
					413,
				);
				expect(await (await t.request("/api/orders")).json()).toEqual([]);
			});

			it("creates nothing new when retried with the same Idempotency-Key", async () => {
				const headers = { "Idempotency-Key": "create-1" };
				const first = await createOrder({ customerName: "A", productName: "B" }, headers);
				const res = await t.request("/api/orders/create", {
					method: "POST",
					json: { CustomerName: "A", ProductName: "B" },
					headers,
				});
				expect(res.status).toBe(201);
				expect(res.headers.get("idempotent-replayed")).toBe("true");
				expect(await res.json()).toEqual(first);
				expect(await (await t.request("/api/orders")).json()).toHaveLength(1);
				expect(await t.events()).toHaveLength(1);

				const reused = await t.request("/api/orders/create", {
					method: "POST",
					json: { customerName: "Other", productName: "B" },
					headers,
				});
				await expectProblem(reused, 422, "Idempotency-Key");
				await expectProblem(
					await t.request("/api/orders/create", {
						method: "POST",
						json: { customerName: "A", productName: "B" },
						headers: { "Idempotency-Key": "k".repeat(201) },
					}),
					400,
					"idempotency-key",
				);
			});
		});

		describe("GET /api/orders", () => {
			it("answers 200 [] with no continuation header when empty", async () => {
				const res = await t.request("/api/orders");
				expect(res.status).toBe(200);
				expect(await res.json()).toEqual([]);
				expect(res.headers.get("x-continuation-token")).toBeNull();
			});

			it("pages with limit and X-Continuation-Token, and filters", async () => {
				const made: Order[] = [];
				for (let i = 0; i < 5; i++) {
					made.push(
						await createOrder({
							partitionKey: i % 2 ? "US" : "EU",
							customerName: `c${i % 2}`,
							productName: "p",
						}),
					);
				}
				const seen: string[] = [];
				let url = "/api/orders?limit=2";
				for (let n = 0; n < 5; n++) {
					const res = await t.request(url);
					seen.push(...((await res.json()) as Order[]).map((o) => o.orderId));
					const token = res.headers.get("x-continuation-token");
					if (!token) break;
					url = `/api/orders?limit=2&continuationToken=${encodeURIComponent(token)}`;
				}
				expect(seen).toEqual(made.map((o) => o.orderId));

				const eu = (await (await t.request("/api/orders?partitionKey=EU")).json()) as Order[];
				expect(eu.map((o) => o.orderId)).toEqual([made[0], made[2], made[4]].map((o) => o?.orderId));
				const c1 = (await (await t.request("/api/orders?customerName=c1")).json()) as Order[];
				expect(c1).toHaveLength(2);

				expect((await putStatus(made[1]?.orderId as string, "Shipped")).status).toBe(202);
				await vi.waitFor(async () => expect(await statusOf(made[1]?.orderId as string)).toBe("Shipped"));
				const shipped = (await (await t.request("/api/orders?status=shipped")).json()) as Order[];
				expect(shipped.map((o) => o.orderId)).toEqual([made[1]?.orderId]);
			});

			it.each([
				["limit=0", "limit"],
				["limit=1001", "limit"],
				["limit=abc", "limit"],
				["limit=1.5", "limit"],
				["status=Lost", "status"],
				["partitionKey=a%23b", "partitionKey"],
				["continuationToken=not-a-token", "continuationToken"],
			])("refuses ?%s naming %s", async (query, field) => {
				await expectProblem(await t.request(`/api/orders?${query}`), 400, field);
			});
		});

		describe("GET /api/orders/{orderId} and /history", () => {
			it("answers the order, and 404 problem for an unknown id", async () => {
				const order = await createOrder();
				expect(await (await t.request(`/api/orders/${order.orderId}`)).json()).toEqual(order);
				await expectProblem(await t.request("/api/orders/does-not-exist"), 404, undefined, /does-not-exist/);
				await expectProblem(await t.request("/api/orders/does-not-exist/history"), 404);
			});

			it.each([
				["#", "a%23b"],
				["?", "a%3Fb"],
				["\\", "a%5Cb"],
				["U+0001", "a%01b"],
				["513 characters", "x".repeat(513)],
			])("refuses an id with %s with 400, never 500", async (_label, id) => {
				await expectProblem(await t.request(`/api/orders/${id}`), 400, "orderId");
				await expectProblem(await t.request(`/api/orders/${id}/history`), 400, "orderId");
				await expectProblem(await putStatus(decodeURIComponent(id), "Shipped"), 400, "orderId");
			});

			it("answers the history oldest first, creation first, with the message that caused each change", async () => {
				const order = await createOrder();
				const res = await putStatus(order.orderId, { status: "Processing" }, { "Idempotency-Key": "move-1" });
				const accepted = await res.json();
				expect(accepted).toEqual({
					orderId: order.orderId,
					status: "Processing",
					messageId: expect.stringMatching(
						/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
					),
				});
				await vi.waitFor(async () => expect(await statusOf(order.orderId)).toBe("Processing"));
				const history = await (await t.request(`/api/orders/${order.orderId}/history`)).json();
				expect(history).toEqual([
					{ status: "Pending", at: order.createdAt, source: "api" },
					{ status: "Processing", at: expect.any(String), messageId: accepted.messageId, source: "api" },
				]);
			});
		});

		describe("PUT /api/orders/update-status/{orderId}", () => {
			it("accepts the original's JSON string body and any casing, answers 202, and the loop applies it", async () => {
				const order = await createOrder();
				for (const [body, status] of [
					['"processing"', "Processing"],
					['{"Status":"SHIPPED"}', "Shipped"],
					['{"status":"Delivered"}', "Delivered"],
				] as const) {
					const res = await t.request(`/api/orders/update-status/${order.orderId}`, {
						method: "PUT",
						body,
						headers: { "content-type": "application/json; charset=utf-8" },
					});
					expect(res.status).toBe(202);
					const accepted = await res.json();
					expect(accepted).toEqual({ orderId: order.orderId, status, messageId: expect.any(String) });
					await vi.waitFor(async () => expect(await statusOf(order.orderId)).toBe(status));
				}
				const updates = (await t.events()).filter((e) => e.type === "ReceiveOrderUpdate");
				expect(updates.map((e) => [e.previousStatus, e.order.status])).toEqual([
					["Pending", "Processing"],
					["Processing", "Shipped"],
					["Shipped", "Delivered"],
				]);
			});

			it("checks shape, then existence, then the transition", async () => {
				await expectProblem(await putStatus("missing", "Lost"), 400, "status", /Unknown status 'Lost'/);
				await expectProblem(await putStatus("missing", {}), 400, "status", /status is required/);
				await expectProblem(await putStatus("missing", 7), 400, "status");
				await expectProblem(await putStatus("missing", "Shipped"), 404, undefined, /missing/);
				const order = await createOrder();
				expect((await putStatus(order.orderId, "Delivered")).status).toBe(202);
				await vi.waitFor(async () => expect(await statusOf(order.orderId)).toBe("Delivered"));
				const conflict = await expectProblem(
					await putStatus(order.orderId, "Cancelled"),
					409,
					undefined,
					/final/,
				);
				expect(conflict).toMatchObject({ currentStatus: "Delivered", requestedStatus: "Cancelled" });
				await expectProblem(await putStatus(order.orderId, "Pending"), 409);
			});

			it("refuses to cancel a shipped order and allows cancelling a processing one", async () => {
				const a = await createOrder();
				await putStatus(a.orderId, "Shipped");
				await vi.waitFor(async () => expect(await statusOf(a.orderId)).toBe("Shipped"));
				await expectProblem(
					await putStatus(a.orderId, "Cancelled"),
					409,
					undefined,
					/can no longer be cancelled/,
				);
				const b = await createOrder();
				await putStatus(b.orderId, "Processing");
				await vi.waitFor(async () => expect(await statusOf(b.orderId)).toBe("Processing"));
				expect((await putStatus(b.orderId, "cancelled")).status).toBe(202);
				await vi.waitFor(async () => expect(await statusOf(b.orderId)).toBe("Cancelled"));
			});

			it("answers the same status again with 202, sends nothing and publishes nothing", async () => {
				const order = await createOrder();
				const res = await putStatus(order.orderId, "Pending");
				expect(res.status).toBe(202);
				expect(await res.json()).toEqual({ orderId: order.orderId, status: "Pending" });
				await new Promise((r) => setTimeout(r, 50));
				expect(await (await t.request(`/api/orders/${order.orderId}/history`)).json()).toHaveLength(1);
				expect((await t.events()).map((e) => e.type)).toEqual(["OrderCreated"]);
			});

			it("applies a change retried with the same Idempotency-Key once", async () => {
				const order = await createOrder();
				const headers = { "Idempotency-Key": "ship-once" };
				const [a, b] = await Promise.all([
					putStatus(order.orderId, "Shipped", headers),
					putStatus(order.orderId, "Shipped", headers),
				]);
				expect([a.status, b.status]).toEqual([202, 202]);
				await vi.waitFor(async () => expect(await statusOf(order.orderId)).toBe("Shipped"));
				await new Promise((r) => setTimeout(r, 50));
				expect(await (await t.request(`/api/orders/${order.orderId}/history`)).json()).toHaveLength(2);
				expect((await t.events()).filter((e) => e.type === "ReceiveOrderUpdate")).toHaveLength(1);
			});

			it("scopes an Idempotency-Key to its order: the same key on two orders is two changes, both applied and published", async () => {
				const [a, b] = [await createOrder(), await createOrder()];
				const headers = { "Idempotency-Key": "ship-1" };
				const ra = await (await putStatus(a.orderId, "Shipped", headers)).json();
				const rb = await (await putStatus(b.orderId, "Shipped", headers)).json();
				expect(ra.messageId).not.toBe(rb.messageId);
				await vi.waitFor(async () => {
					expect(await statusOf(a.orderId)).toBe("Shipped");
					expect(await statusOf(b.orderId)).toBe("Shipped");
				});
				await vi.waitFor(async () => {
					const updates = (await t.events()).filter((e) => e.type === "ReceiveOrderUpdate");
					expect(updates.map((e) => e.order.orderId).sort()).toEqual([a.orderId, b.orderId].sort());
				});
			});

			it("answers 503 with Retry-After when the queue is unavailable, and nothing changes", async () => {
				const order = await createOrder();
				await t.closeQueue();
				const res = await putStatus(order.orderId, "Shipped");
				await expectProblem(res, 503, undefined, /queue/);
				expect(res.headers.get("retry-after")).toBe("5");
				expect(await statusOf(order.orderId)).toBe("Pending");
			});

			it("answers wrong content type, malformed JSON and oversized bodies with a 4xx", async () => {
				const order = await createOrder();
				const put = (body: string, type?: string) =>
					t.request(`/api/orders/update-status/${order.orderId}`, {
						method: "PUT",
						body,
						headers: type ? { "content-type": type } : {},
					});
				await expectProblem(await put("Shipped", "text/plain"), 415);
				await expectProblem(await put('{"status":', "application/json"), 400, "body");
				await expectProblem(await put(JSON.stringify({ status: "x".repeat(5000) }), "application/json"), 413);
			});
		});

		describe("health, docs, CORS and unknown routes", () => {
			it("reports liveness and readiness of store and queue", async () => {
				expect(await (await t.request("/health/live")).json()).toEqual({ status: "ok" });
				const ready = await t.request("/health/ready");
				expect(ready.status).toBe(200);
				expect(await ready.json()).toMatchObject({
					status: "ok",
					checks: { store: { status: "ok" }, queue: { status: "ok", kind: t.queueKind } },
				});
				await t.closeQueue();
				const notReady = await t.request("/health/ready");
				expect(notReady.status).toBe(503);
				expect(await notReady.json()).toMatchObject({
					status: "unavailable",
					checks: { queue: { status: "unavailable" } },
				});
			});

			it("serves the OpenAPI 3.1 document with every route, and Swagger UI from local assets", async () => {
				const doc = await (await t.request("/doc")).json();
				expect(doc.openapi).toBe("3.1.0");
				expect(Object.keys(doc.paths)).toEqual(
					expect.arrayContaining([
						"/api/orders",
						"/api/orders/create",
						"/api/orders/update-status/{orderId}",
						"/api/orders/{orderId}",
						"/api/orders/{orderId}/history",
						"/health/live",
						"/health/ready",
					]),
				);
				const html = await (await t.request("/swagger")).text();
				expect(html).toContain("/swagger/assets/swagger-ui-dist/swagger-ui-bundle.js");
				expect(html).not.toMatch(/https?:\/\//);
				const js = await t.request("/swagger/assets/swagger-ui-dist/swagger-ui-bundle.js");
				expect(js.status).toBe(200);
				expect((await js.text()).length).toBeGreaterThan(100_000);
				expect((await t.request("/swagger/assets/swagger-ui-dist/..%2Fpackage.json")).status).toBe(404);
			});

			it("allows the configured origin and not others", async () => {
				const preflight = (origin: string) =>
					t.request("/api/orders/create", {
						method: "OPTIONS",
						headers: { Origin: origin, "Access-Control-Request-Method": "POST" },
					});
				expect((await preflight("http://localhost:3000")).headers.get("access-control-allow-origin")).toBe(
					"http://localhost:3000",
				);
				expect(
					(await preflight("http://evil.example")).headers.get("access-control-allow-origin"),
				).toBeNull();
				// No cookies are used, so none are invited.
				expect(
					(await preflight("http://localhost:3000")).headers.get("access-control-allow-credentials"),
				).toBeNull();
				const list = await t.request("/api/orders", { headers: { Origin: "http://localhost:3000" } });
				expect(list.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
				expect(list.headers.get("access-control-expose-headers")).toMatch(/X-Continuation-Token/);
				// A browser may send its own request id and trace context, and read the id back.
				expect(list.headers.get("access-control-expose-headers")).toMatch(/X-Request-Id/);
				expect(list.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
				const allowed = (await preflight("http://localhost:3000")).headers.get(
					"access-control-allow-headers",
				);
				expect(allowed).toMatch(/X-Request-Id/);
				expect(allowed).toMatch(/traceparent/);
				expect(list.headers.get("access-control-allow-credentials")).toBeNull();
				const bad = await t.request("/api/orders?limit=0", { headers: { Origin: "http://localhost:3000" } });
				expect(bad.status).toBe(400);
				expect(bad.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
			});

			it("answers an unknown route with a 404 problem", async () => {
				await expectProblem(await t.request("/api/nothing"), 404);
			});
		});
	});
}
