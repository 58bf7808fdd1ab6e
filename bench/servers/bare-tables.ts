// The baseline a user would write: bare Hono routes over @azure/data-tables on the same Azurite —
// one createEntity per create, one getEntity per get (a query page for list, a merge for update).
// No validation, no problem details, no history, no events, no queue.
import type { AddressInfo } from "node:net";
import { TableClient } from "@azure/data-tables";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const client = TableClient.fromConnectionString(
	process.env.BENCH_TABLES_CONNECTION_STRING as string,
	process.env.BENCH_TABLE_NAME ?? "Bare",
	{ allowInsecureConnection: true },
);
await client.createTable();

type Row = {
	orderId: string;
	partitionKey: string;
	customerName: string;
	productName: string;
	status: string;
	createdAt: string;
	updatedAt: string;
};
const toRow = (e: Record<string, unknown>): Row => ({
	orderId: e.partitionKey as string,
	partitionKey: e.orderPartitionKey as string,
	customerName: e.customerName as string,
	productName: e.productName as string,
	status: e.status as string,
	createdAt: e.createdAt as string,
	updatedAt: e.updatedAt as string,
});

const app = new Hono();
app.post("/api/orders/create", async (c) => {
	const body = await c.req.json<{ customerName: string; productName: string; partitionKey?: string }>();
	const now = new Date().toISOString();
	const orderId = crypto.randomUUID();
	const entity = {
		partitionKey: orderId,
		rowKey: "order",
		orderPartitionKey: body.partitionKey ?? "Orders",
		customerName: body.customerName,
		productName: body.productName,
		status: "Pending",
		createdAt: now,
		updatedAt: now,
	};
	await client.createEntity(entity);
	c.header("Location", `/api/orders/${orderId}`);
	return c.json(toRow(entity), 201);
});
app.get("/api/orders", async (c) => {
	const limit = Number(c.req.query("limit") ?? 100);
	const page = await client
		.listEntities({ queryOptions: { filter: "RowKey eq 'order'" } })
		.byPage({ maxPageSize: limit })
		.next();
	return c.json(((page.value ?? []) as Record<string, unknown>[]).map(toRow));
});
app.get("/api/orders/:id", async (c) => {
	try {
		return c.json(toRow(await client.getEntity(c.req.param("id"), "order")));
	} catch {
		return c.json({ status: 404 }, 404);
	}
});
app.put("/api/orders/update-status/:id", async (c) => {
	const status = await c.req.json<string>();
	const orderId = c.req.param("id");
	await client.updateEntity(
		{ partitionKey: orderId, rowKey: "order", status, updatedAt: new Date().toISOString() },
		"Merge",
	);
	return c.json({ orderId, status, messageId: crypto.randomUUID() }, 202);
});

serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => {
	console.log(JSON.stringify({ port: info.port }));
});
process.on("SIGTERM", () => process.exit(0));
