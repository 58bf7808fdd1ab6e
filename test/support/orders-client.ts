// What a client of the running service does over HTTP, for the tests that talk to a real server
// (Node or workerd): create an order, ask for a status change.
import { expect } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { RecordingEventSource } from "./sse-client.js";

/** POST /api/orders/create; expects 201 and answers the order. */
export async function createOrder(baseUrl: string, body: Record<string, string>): Promise<Order> {
	const res = await fetch(`${baseUrl}/api/orders/create`, {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify(body),
	});
	expect(res.status).toBe(201);
	return res.json();
}

/** PUT /api/orders/update-status/{orderId} with the original's JSON string body. */
export function putStatus(baseUrl: string, orderId: string, status: string, idempotencyKey?: string) {
	return fetch(`${baseUrl}/api/orders/update-status/${orderId}`, {
		method: "PUT",
		headers: {
			"content-type": "application/json",
			...(idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {}),
		},
		body: JSON.stringify(status),
	});
}

/**
 * What a deployment must do on its first request: an EventSource on /orderHub gets the created
 * order's OrderCreated and its status change's ReceiveOrderUpdate.
 */
export async function expectCreateChangeAndEvent(baseUrl: string): Promise<void> {
	const stream = new RecordingEventSource(`${baseUrl}/orderHub`);
	try {
		await stream.opened();
		const order = await createOrder(baseUrl, { CustomerName: "Ada", ProductName: "Engine" });
		expect((await putStatus(baseUrl, order.orderId, "Shipped")).status).toBe(202);
		await expect
			.poll(() => stream.of("ReceiveOrderUpdate").map((e) => [e.data.orderId, e.data.status]), {
				timeout: 20_000,
			})
			.toContainEqual([order.orderId, "Shipped"]);
		expect(stream.of("OrderCreated").map((e) => e.data.orderId)).toContain(order.orderId);
	} finally {
		stream.close();
	}
}
