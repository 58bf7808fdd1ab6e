// The baseline for the REST figures: bare Hono routes answering the same JSON from a Map — no
// validation, no problem details, no storage port, no queue. What any Hono service would cost.
// Runtime-neutral: served on Node by bare-hono.ts and as a Worker by bare-worker.ts.
import { Hono } from "hono";

interface Row {
	orderId: string;
	partitionKey: string;
	customerName: string;
	productName: string;
	status: string;
	createdAt: string;
	updatedAt: string;
}

const orders = new Map<string, Row>();
export const app = new Hono();
app.post("/api/orders/create", async (c) => {
	const body = await c.req.json<{ customerName: string; productName: string; partitionKey?: string }>();
	const now = new Date().toISOString();
	const order: Row = {
		orderId: crypto.randomUUID(),
		partitionKey: body.partitionKey ?? "Orders",
		customerName: body.customerName,
		productName: body.productName,
		status: "Pending",
		createdAt: now,
		updatedAt: now,
	};
	orders.set(order.orderId, order);
	c.header("Location", `/api/orders/${order.orderId}`);
	return c.json(order, 201);
});
app.get("/api/orders", (c) => {
	const limit = Number(c.req.query("limit") ?? 100);
	const page: Row[] = [];
	for (const order of orders.values()) {
		if (page.length === limit) break;
		page.push(order);
	}
	return c.json(page);
});
app.get("/api/orders/:id", (c) => {
	const order = orders.get(c.req.param("id"));
	return order ? c.json(order) : c.json({ status: 404 }, 404);
});
app.put("/api/orders/update-status/:id", async (c) => {
	const order = orders.get(c.req.param("id"));
	if (!order) return c.json({ status: 404 }, 404);
	const status = await c.req.json<string>();
	order.status = status;
	order.updatedAt = new Date().toISOString();
	return c.json({ orderId: order.orderId, status, messageId: crypto.randomUUID() }, 202);
});
