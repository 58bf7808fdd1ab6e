// A typed client for the orders API as a frontend would write it: openapi-fetch over the types that
// openapi-typescript generates from /doc (./schema.d.ts, `npm run clients:typescript`). Paths,
// parameters, bodies and responses all come from the document, so when it changes incompatibly this
// file stops compiling. test/openapi/typescript-client.test.ts compiles it against types generated
// from a live server's /doc and runs it against that server.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type Order = components["schemas"]["Order"];
export type OrderStatus = Order["status"];
export type HistoryEntry = components["schemas"]["HistoryEntry"];
export type StatusAccepted = components["schemas"]["StatusAccepted"];
export type ProblemDetails = components["schemas"]["ProblemDetails"];

/** An error answer of the API (application/problem+json). */
export class ApiProblem extends Error {
	constructor(readonly problem: ProblemDetails) {
		super(`${problem.status} ${problem.title}: ${problem.detail}`);
		this.name = "ApiProblem";
	}
}

function unwrap<T>(result: { data?: T; error?: ProblemDetails }): T {
	if (result.error !== undefined) throw new ApiProblem(result.error);
	if (result.data === undefined) throw new Error("the response had no body");
	return result.data;
}

export function createOrdersClient(baseUrl: string) {
	const api = createClient<paths>({ baseUrl });
	return {
		api,
		/** partitionKey may be left out: the server defaults it to "Orders". */
		async createOrder(
			order: { customerName: string; productName: string; partitionKey?: string },
			idempotencyKey?: string,
		): Promise<Order> {
			return unwrap(
				await api.POST("/api/orders/create", {
					body: order,
					params: { header: idempotencyKey ? { "idempotency-key": idempotencyKey } : {} },
				}),
			);
		},
		/** One page of orders and the token for the next one (undefined on the last page). */
		async listOrders(query: { status?: OrderStatus; limit?: number; continuationToken?: string } = {}) {
			const result = await api.GET("/api/orders", { params: { query } });
			const orders: Order[] = unwrap(result);
			const continuationToken = result.response.headers.get("X-Continuation-Token") ?? undefined;
			return { orders, continuationToken };
		},
		async getOrder(orderId: string): Promise<Order> {
			return unwrap(await api.GET("/api/orders/{orderId}", { params: { path: { orderId } } }));
		},
		async getOrderHistory(orderId: string): Promise<HistoryEntry[]> {
			return unwrap(await api.GET("/api/orders/{orderId}/history", { params: { path: { orderId } } }));
		},
		/** Queues the change (202); the receiver applies it shortly after. */
		async updateOrderStatus(orderId: string, status: OrderStatus): Promise<StatusAccepted> {
			return unwrap(
				await api.PUT("/api/orders/update-status/{orderId}", {
					params: { path: { orderId } },
					body: { status },
				}),
			);
		},
	};
}

export type OrdersClient = ReturnType<typeof createOrdersClient>;
