// SignalR clients on Workers: the real @microsoft/signalr client (Node build) against the Worker in
// workerd (wrangler dev, offline), whose hub object serves the protocol beside EventSource.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createOrder, putStatus } from "../support/orders-client.js";
import { RecordingHubConnection } from "../support/signalr-client.js";
import { type RunningWorker, startWorker } from "../support/workerd.js";

let worker: RunningWorker;
const connections: RecordingHubConnection[] = [];
beforeAll(async () => {
	// A 1 s heartbeat: workerd notices a client that went away at the next write.
	worker = await startWorker({ script: "test/worker/harness.ts", vars: { Hub__HeartbeatMs: "1000" } });
}, 60_000);
afterAll(async () => {
	await Promise.all(connections.map((c) => c.stop()));
	await worker?.stop();
});

const url = (path: string) => `${worker.baseUrl}${path}`;
async function connect(
	path = "/orderHub",
	options: ConstructorParameters<typeof RecordingHubConnection>[1] = {},
) {
	const c = new RecordingHubConnection(url(path), options);
	connections.push(c);
	await c.start();
	return c;
}
async function subscribers(): Promise<number> {
	return ((await (await fetch(url("/orderHub/stats"))).json()) as { subscribers: number }).subscribers;
}

describe("SignalR clients in workerd (the hub object)", () => {
	it("connect, receive ReceiveOrderUpdate with the URL's filters, are refused an invocation and stay up, and stop() releases them", async () => {
		const all = await connect();
		const sse = await connect("/orderHub?partitionKey=EU", { transport: "sse" });
		const o = await createOrder(worker.baseUrl, { customerName: "W", productName: "P" });
		const eu = await createOrder(worker.baseUrl, { customerName: "W", productName: "P", partitionKey: "EU" });
		expect((await putStatus(worker.baseUrl, eu.orderId, "Shipped")).status).toBe(202);
		await vi.waitFor(() => expect(sse.statusesOf(eu.orderId)).toEqual(["Pending", "Shipped"]), {
			timeout: 15_000,
		});
		await vi.waitFor(() => expect(all.statusesOf(eu.orderId)).toEqual(["Pending", "Shipped"]), {
			timeout: 15_000,
		});
		expect(all.statusesOf(o.orderId)).toEqual(["Pending"]);
		expect(sse.received.map((r) => r.order.orderId)).toEqual([eu.orderId, eu.orderId]);

		await expect(all.connection.invoke("Broadcast")).rejects.toThrow(/no methods a client may call/);
		const marker = await createOrder(worker.baseUrl, { customerName: "marker", productName: "P" });
		await vi.waitFor(() => expect(all.statusesOf(marker.orderId)).toEqual(["Pending"]), { timeout: 15_000 });
		expect(all.connected).toBe(true);

		const before = await subscribers();
		await all.stop();
		await sse.stop();
		await vi.waitFor(async () => expect(await subscribers()).toBe(before - 2), { timeout: 15_000 });
	}, 60_000);
});
