// Workers: JSON log lines through console (what Workers Logs collects), one per request with the
// request id the response echoes, and the in-isolate receiver's line for a change carrying the id
// of the request that queued it.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { type RunningWorker, startWorker } from "../support/workerd.js";

let worker: RunningWorker;
beforeAll(async () => {
	worker = await startWorker();
}, 60_000);
afterAll(async () => {
	await worker?.stop();
});

/** The JSON lines in wrangler's output (it prints console.log lines as they are, among its own). */
const jsonLines = () =>
	worker
		.output()
		.split("\n")
		.filter((l) => l.trimStart().startsWith('{"time"'))
		.map((l) => JSON.parse(l.trim()) as Record<string, unknown>);

describe("logs on Workers", () => {
	it("writes a JSON request line per request with the echoed request id, and the receiver's line carries it", async () => {
		const created = await fetch(`${worker.baseUrl}/api/orders/create`, {
			method: "POST",
			headers: { "content-type": "application/json", "x-request-id": "w-create-1" },
			body: JSON.stringify({ customerName: "Ann", productName: "Tea" }),
		});
		expect(created.headers.get("x-request-id")).toBe("w-create-1");
		const order = (await created.json()) as Order;
		const put = await fetch(`${worker.baseUrl}/api/orders/update-status/${order.orderId}`, {
			method: "PUT",
			headers: { "content-type": "application/json", "x-request-id": "w-put-2" },
			body: JSON.stringify("Shipped"),
		});
		expect(put.status).toBe(202);
		expect(put.headers.get("x-request-id")).toBe("w-put-2");
		const made = await fetch(`${worker.baseUrl}/health/live`);
		const madeId = made.headers.get("x-request-id") as string;
		expect(madeId).toMatch(/^[0-9a-f-]{36}$/);

		await vi.waitFor(
			() => {
				const lines = jsonLines();
				expect(lines.filter((l) => l.msg === "request").map((l) => l.requestId)).toEqual(
					expect.arrayContaining(["w-create-1", "w-put-2", madeId]),
				);
				expect(lines.find((l) => l.msg === "status message applied")).toMatchObject({
					requestId: "w-put-2",
					orderId: order.orderId,
					level: "info",
				});
			},
			{ timeout: 30_000 },
		);
		const requestLines = jsonLines().filter((l) => l.msg === "request");
		expect(requestLines.filter((l) => l.requestId === "w-put-2")).toEqual([
			expect.objectContaining({ method: "PUT", route: "/api/orders/update-status/{orderId}", status: 202 }),
		]);
	}, 90_000);
});
