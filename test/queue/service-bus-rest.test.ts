// ServiceBusRestQueue on Node against the local verifying endpoint: the same code the Worker runs.
import { createServer } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StatusChange } from "../../src/orders/model.js";
import { QueueUnavailableError } from "../../src/queue/port.js";
import { parseStatusMessage } from "../../src/queue/receiver.js";
import {
	createSasToken,
	parseServiceBusConnectionString,
	ServiceBusRestQueue,
} from "../../src/queue/service-bus-rest.js";
import { type RestVerifier, startRestVerifier } from "../support/service-bus-rest-verifier.js";

const change = (messageId: string): StatusChange => ({
	orderId: "order-1",
	status: "Shipped",
	messageId,
	occurredAt: "2026-11-25T10:00:00.000Z",
	source: "api",
});

let verifier: RestVerifier;
beforeEach(async () => {
	verifier = await startRestVerifier();
});
afterEach(async () => {
	await verifier.close();
});

describe("ServiceBusRestQueue", () => {
	it("posts the JSON body with the MessageId, signed; the Node receiver parses what it sent", async () => {
		const queue = new ServiceBusRestQueue({
			connectionString: verifier.connectionString(),
			queueName: "orders",
		});
		await queue.send(change("m-1"));
		await queue.send(change("m-2"));
		expect(verifier.refusals).toEqual([]);
		expect(verifier.messages.map((m) => [m.queue, m.messageId, m.label, m.contentType])).toEqual([
			["orders", "m-1", "OrderStatusChanged", "application/json"],
			["orders", "m-2", "OrderStatusChanged", "application/json"],
		]);
		const received = { messageId: "m-1", body: verifier.messages[0]?.body, deliveryCount: 1 };
		expect(parseStatusMessage(received)).toEqual({ ok: true, change: change("m-1") });
		await expect(queue.ping()).resolves.toBeUndefined();
	});

	it("is refused with a wrong key or an expired token, and reports itself unavailable", async () => {
		const wrong = new ServiceBusRestQueue({
			connectionString: verifier.connectionString("bm90LXRoZS1rZXk="),
			queueName: "orders",
		});
		await expect(wrong.send(change("m-1"))).rejects.toThrow(/Service Bus answered 401/);
		expect(verifier.refusals).toEqual(["signature does not match"]);
		await expect(wrong.ping()).rejects.toBeInstanceOf(QueueUnavailableError);

		const expired = await createSasToken(`${verifier.baseUrl}/orders`, "sender", "c2VjcmV0LWtleQ==", 1000);
		const stale = new ServiceBusRestQueue({
			connectionString: `Endpoint=sb://${new URL(verifier.baseUrl).host}/;SharedAccessSignature=${expired};UseDevelopmentEmulator=true`,
			queueName: "orders",
		});
		await expect(stale.send(change("m-2"))).rejects.toThrow(/401/);
		expect(verifier.refusals.at(-1)).toBe("token expired");
		expect(verifier.messages).toEqual([]);
	});

	it("retries one transient failure, and gives up on a second", async () => {
		const queue = new ServiceBusRestQueue({
			connectionString: verifier.connectionString(),
			queueName: "orders",
		});
		verifier.failNext(503);
		await queue.send(change("m-1"));
		expect(verifier.messages).toHaveLength(1);
		verifier.failNext(500, 2);
		await expect(queue.send(change("m-2"))).rejects.toThrow(/answered 500/);
		expect(verifier.messages).toHaveLength(1);
	});

	it("gives up within the send timeout when the endpoint never answers", async () => {
		const silent = createServer(() => {}); // accepts and never responds
		await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
		const { port } = silent.address() as { port: number };
		const queue = new ServiceBusRestQueue({
			connectionString: `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true`,
			queueName: "orders",
			sendTimeoutMs: 500,
		});
		const started = Date.now();
		await expect(queue.send(change("m-1"))).rejects.toThrow(/no answer from Service Bus within 500 ms/);
		expect(Date.now() - started).toBeLessThan(1500);
		silent.closeAllConnections();
		silent.close();
	});

	it("parses connection strings: https for Azure, http for the emulator, EntityPath, clear errors", () => {
		expect(
			parseServiceBusConnectionString(
				"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=;EntityPath=q1",
			),
		).toEqual({
			baseUrl: "https://ns.servicebus.windows.net",
			keyName: "send",
			key: "abc=",
			entityPath: "q1",
		});
		expect(
			parseServiceBusConnectionString(
				"Endpoint=sb://localhost:5672;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=true",
			).baseUrl,
		).toBe("http://localhost:5672");
		expect(() => parseServiceBusConnectionString("SharedAccessKeyName=a;SharedAccessKey=b")).toThrow(
			/no Endpoint/,
		);
		expect(() => parseServiceBusConnectionString("Endpoint=sb://ns/;SharedAccessKeyName=a")).toThrow(
			/SharedAccessKey/,
		);
	});
});
