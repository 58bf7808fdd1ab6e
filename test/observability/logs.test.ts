// The log as `npm start` writes it (stdout, not a terminal): JSON lines, one per request with the
// request id the response carries, the receiver's line for a change carrying the id of the request
// that queued it, and nothing secret, whatever the requests carried.
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { AUDIENCE, TestOidcProvider } from "../support/oidc-provider.js";
import { type Service, startService } from "../support/process.js";
import { TestServiceBusBroker } from "../support/service-bus-broker.js";
import { uniqueTableName } from "../support/tables.js";

let idp: TestOidcProvider;
let broker: TestServiceBusBroker;
let service: Service;
const METRICS_TOKEN = "metrics-secret-7f3a9c2e1b8d4f60a5e7c9b1d3f5a7c9";
// The test broker takes any key: give it one that would be a real secret.
const SAS_KEY = "sb-key-5d41402abc4b2a76b9719d911017c592";
const serviceBus = () =>
	broker.connectionString.replace(/SharedAccessKey=[^;]*/, `SharedAccessKey=${SAS_KEY}`);

beforeAll(async () => {
	idp = await TestOidcProvider.start();
	broker = await TestServiceBusBroker.start();
	service = await startService({
		TableStorage__ConnectionString: inject("azuriteConnectionString"),
		TableStorage__TableName: uniqueTableName("L"),
		ServiceBus__ConnectionString: serviceBus(),
		ServiceBus__QueueName: "status",
		Auth__Mode: "Jwt",
		Auth__Authority: idp.issuer,
		Auth__Audience: AUDIENCE,
		Metrics__Token: METRICS_TOKEN,
	});
});
afterAll(async () => {
	service.child.kill("SIGTERM");
	await service.exited;
	await broker.close();
	await idp.close();
});

type Line = Record<string, unknown> & { time: string; level: string; msg: string };
const lines = (): Line[] =>
	service
		.output()
		.split("\n")
		.filter((l) => l.trim() !== "")
		.map((l) => JSON.parse(l) as Line);

describe("logs", () => {
	it("writes JSON lines: one per request with its request id, which the receiver's lines for the change carry too", async () => {
		const base = service.baseUrl;
		const operator = await idp.sign("ops", ["Orders.Create", "Orders.ReadAll", "Orders.UpdateStatus"]);
		const auth = { authorization: `Bearer ${operator}` };
		const json = { ...auth, "content-type": "application/json" };
		const sent: { res: Response; given?: string }[] = [];
		const call = async (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) => {
			const res = await fetch(`${base}${path}`, init);
			await res.arrayBuffer();
			sent.push({ res, ...(init.headers?.["x-request-id"] ? { given: init.headers["x-request-id"] } : {}) });
			return res;
		};

		const create = await fetch(`${base}/api/orders/create`, {
			method: "POST",
			headers: { ...json, "x-request-id": "create-1" },
			body: JSON.stringify({ customerName: "Ann", productName: "Tea" }),
		});
		const order = (await create.json()) as Order;
		sent.push({ res: create, given: "create-1" });
		await call(`/api/orders/update-status/${order.orderId}`, {
			method: "PUT",
			headers: { ...json, "x-request-id": "put-2" },
			body: JSON.stringify("Shipped"),
		});
		// A second change, of another request, and a third from another system (no request id): each
		// applied line must name its own request, not one that happened to run at the same time.
		await call(`/api/orders/update-status/${order.orderId}`, {
			method: "PUT",
			headers: { ...json, "x-request-id": "put-3" },
			body: JSON.stringify("Delivered"),
		});
		await vi.waitFor(
			() => expect(lines().some((l) => l.requestId === "put-3" && l.status === "Delivered")).toBe(true),
			{
				timeout: 30_000,
			},
		);
		const other = new ServiceBusClient(serviceBus());
		try {
			await other.createSender("status").sendMessages({
				body: `Order:${order.orderId},Status:Cancelled`,
				messageId: "warehouse-9",
			});
		} finally {
			await other.close();
		}
		await call(`/api/orders/${order.orderId}`, { headers: auth });
		await call("/nothing/here", { headers: { ...auth, "x-request-id": "has spaces and is not kept" } });
		await call("/api/orders/create", { method: "POST", headers: json, body: "{" }); // 400
		await call("/api/orders", { headers: { authorization: "Bearer not-a-token" } }); // 401
		await call("/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
		const stream = new AbortController();
		const sse = await fetch(`${base}/orderHub`, {
			headers: { ...auth, "x-request-id": "stream-3" },
			signal: stream.signal,
		});
		sent.push({ res: sse, given: "stream-3" });
		stream.abort();

		// A line may follow its answer by a moment (a stream's is written once its headers are out).
		await vi.waitFor(
			() => {
				expect(lines().filter((l) => l.msg.startsWith("status message")).length).toBe(3);
				expect(lines().filter((l) => l.msg === "request").length).toBeGreaterThanOrEqual(sent.length);
			},
			{ timeout: 30_000 },
		);
		const all = lines();
		for (const l of all) {
			expect(Number.isNaN(Date.parse(l.time))).toBe(false);
			expect(["debug", "info", "warn", "error"]).toContain(l.level);
			expect(typeof l.msg).toBe("string");
		}
		const requestLines = all.filter((l) => l.msg === "request");
		expect(requestLines).toHaveLength(sent.length);
		for (const { res, given } of sent) {
			const id = res.headers.get("x-request-id");
			expect(id).toBeTruthy();
			if (given && !given.includes(" ")) expect(id).toBe(given);
			const mine = requestLines.filter((l) => l.requestId === id);
			expect(mine, `one request line for ${id}`).toHaveLength(1);
			expect(mine[0]?.status).toBe(res.status);
			expect(typeof mine[0]?.durationMs).toBe("number");
		}
		const put = requestLines.find((l) => l.requestId === "put-2");
		expect(put).toMatchObject({ method: "PUT", route: "/api/orders/update-status/{orderId}", status: 202 });
		expect(requestLines.find((l) => l.status === 404)?.route).toBe("unmatched");
		// The receiver, on the other side of Service Bus, says which request queued each change.
		const received = all.filter((l) => l.msg.startsWith("status message"));
		expect(received.find((l) => l.status === "Shipped")).toMatchObject({
			msg: "status message applied",
			requestId: "put-2",
			orderId: order.orderId,
		});
		expect(received.find((l) => l.status === "Delivered")).toMatchObject({
			msg: "status message applied",
			requestId: "put-3",
		});
		// Delivered is final: the warehouse's Cancelled is dead-lettered, and names no request.
		const warehouse = received.find((l) => l.messageId === "warehouse-9");
		expect(warehouse).toMatchObject({ outcome: "dead_lettered", reason: "IllegalTransition" });
		expect(warehouse?.requestId).toBeUndefined();
		for (const l of received) expect(typeof l.messageId).toBe("string");

		// Nothing secret: not the storage or Service Bus keys, not a token, not the metrics secret.
		const text = service.output();
		const accountKey = /AccountKey=([^;]+)/.exec(inject("azuriteConnectionString"))?.[1] as string;
		for (const secret of [accountKey, SAS_KEY, operator, METRICS_TOKEN, "not-a-token"]) {
			expect(secret.length).toBeGreaterThan(5);
			expect(text).not.toContain(secret);
		}
	}, 90_000);
});
