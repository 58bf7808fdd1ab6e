// One status change is one trace: `npm start`'s process with the OTEL_* variables set exports to a
// real OTLP/HTTP receiver of the tests, with the Service Bus test broker (queue and topic) and
// Azurite in between, and an EventSource subscribed.
import { randomBytes } from "node:crypto";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, onTestFailed, vi } from "vitest";
import { createOrder, putStatus } from "../support/orders-client.js";
import { OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.js";
import { type Service, startService } from "../support/process.js";
import { TestServiceBusBroker } from "../support/service-bus-broker.js";
import { RecordingEventSource } from "../support/sse-client.js";
import { uniqueTableName } from "../support/tables.js";

const QUEUE = "order-status";
const TOPIC = "order-events";

let broker: TestServiceBusBroker;
let otlp: OtlpReceiver;
let service: Service | undefined;
const clients: RecordingEventSource[] = [];

beforeAll(async () => {
	broker = await TestServiceBusBroker.start();
	broker.createSubscription(TOPIC, "a");
});
afterAll(async () => {
	await broker.close();
});
afterEach(async () => {
	for (const c of clients.splice(0)) c.close();
	if (service) {
		service.child.kill("SIGTERM");
		await service.exited;
		service = undefined;
	}
	await otlp?.close();
});

async function start(env: Record<string, string>): Promise<Service> {
	// On a failure, the service's own account of it.
	onTestFailed(() => console.error(`service output:\n${service?.output().slice(-6000)}`));
	otlp = await OtlpReceiver.start();
	service = await startService({
		TableStorage__ConnectionString: inject("azuriteConnectionString"),
		TableStorage__TableName: uniqueTableName("T"),
		ServiceBus__ConnectionString: broker.connectionString,
		ServiceBus__QueueName: QUEUE,
		ServiceBus__TopicName: TOPIC,
		ServiceBus__SubscriptionName: "a",
		Hub__CoalesceMs: "0",
		OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
		OTEL_BSP_SCHEDULE_DELAY: "100",
		...env,
	});
	// Ready: the queue's receiver and the topic's subscription are attached (a user's probe waits so).
	await vi.waitFor(async () => expect((await fetch(`${service?.baseUrl}/health/ready`)).status).toBe(200), {
		timeout: 30_000,
		interval: 200,
	});
	return service;
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

function only(spans: ReceivedSpan[], match: (s: ReceivedSpan) => boolean, what: string): ReceivedSpan {
	const found = spans.filter(match);
	expect(
		found.map((s) => s.name),
		what,
	).toHaveLength(1);
	return found[0] as ReceivedSpan;
}

describe("traces (OpenTelemetry, OTLP/HTTP)", () => {
	it("follows a PUT through the queue, the receiver, the store and the publish to the hub, in one trace (http/json)", async () => {
		const svc = await start({
			OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
			OTEL_SERVICE_NAME: "tracked-orders",
		});
		const order = await createOrder(svc.baseUrl, { customerName: "Ann", productName: "Tea" });
		const es = new RecordingEventSource(`${svc.baseUrl}/orderHub?orderId=${order.orderId}`);
		clients.push(es);
		await es.opened();

		// The caller's own trace: the service joins it.
		const traceId = hex(16);
		const callerSpan = hex(8);
		const put = await fetch(`${svc.baseUrl}/api/orders/update-status/${order.orderId}`, {
			method: "PUT",
			headers: { "content-type": "application/json", traceparent: `00-${traceId}-${callerSpan}-01` },
			body: JSON.stringify("Shipped"),
		});
		expect(put.status).toBe(202);
		expect(put.headers.get("x-request-id")).toBe(traceId); // no X-Request-Id given: the trace id
		// Generous: the whole suite shares two cores with this process, Azurite and the broker.
		await vi.waitFor(() => expect(es.of("ReceiveOrderUpdate")).toHaveLength(1), { timeout: 30_000 });

		await otlp.waitFor((s) => s.traceId === traceId && s.name === "publish order event");
		const spans = otlp.spans.filter((s) => s.traceId === traceId);
		expect(new Set(spans.map((s) => s.service))).toEqual(new Set(["tracked-orders"]));
		const server = only(spans, (s) => s.kind === SERVER, "one server span");
		expect(server.parentSpanId).toBe(callerSpan);
		expect(server.name).toMatch(/^PUT \/api\/orders\/update-status\//);
		expect(server.attributes["http.response.status_code"]).toBe(202);
		const send = only(spans, (s) => s.kind === PRODUCER && s.name.startsWith("send "), "one queue send");
		expect(send.parentSpanId).toBe(server.spanId);
		const process = only(spans, (s) => s.kind === CONSUMER, "one receiver span");
		expect(process.parentSpanId).toBe(send.spanId); // the context travelled in the message
		expect(process.attributes["order.settlement"]).toBe("complete");
		const storeCalls = spans.filter((s) => s.kind === CLIENT && s.parentSpanId === process.spanId);
		expect(storeCalls.map((s) => s.name)).toEqual(
			expect.arrayContaining(["store load", "store commitChange"]),
		);
		const publish = only(spans, (s) => s.name === "publish order event", "one publish");
		expect(publish.parentSpanId).toBe(process.spanId);
		expect(publish.attributes["order.event.type"]).toBe("ReceiveOrderUpdate");
		// The hub's span joins the trace when the event came on the topic; when the hub read it from the
		// event log first (its gap read or tail poll won the race), there is no hub span, and no orphan.
		await new Promise((r) => setTimeout(r, 500)); // the exporter's next batch (OTEL_BSP_SCHEDULE_DELAY 100)
		const hubSpans = otlp.spans.filter(
			(s) => s.name === "orderhub publish" && s.attributes["order.id"] === order.orderId,
		);
		for (const reached of hubSpans.filter(
			(s) => s.attributes["orderhub.event.position"] === publish.attributes["order.event.position"],
		)) {
			expect(reached.traceId).toBe(traceId);
			expect(reached.parentSpanId).toBe(publish.spanId); // across the topic
			expect(reached.attributes["orderhub.subscribers_reached"]).toBe(1);
		}
		expect(otlp.contentTypes).toEqual(new Set(["application/json"]));
	}, 90_000);

	it("exports http/protobuf by default, samples by OTEL_TRACES_SAMPLER, and joins a message another system sent with Diagnostic-Id", async () => {
		// Parent-based at ratio 0: only what arrives already sampled is recorded.
		const svc = await start({
			OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
			OTEL_TRACES_SAMPLER_ARG: "0",
		});
		const order = await createOrder(svc.baseUrl, { customerName: "Bo", productName: "Jam" });
		expect((await putStatus(svc.baseUrl, order.orderId, "Processing")).status).toBe(202); // not sampled

		// A warehouse system sends on the queue with the Azure SDK convention: Diagnostic-Id.
		const traceId = hex(16);
		const warehouseSpan = hex(8);
		const client = new ServiceBusClient(broker.connectionString);
		try {
			await client.createSender(QUEUE).sendMessages({
				body: { orderId: order.orderId, status: "Shipped" },
				messageId: `warehouse-${hex(4)}`,
				applicationProperties: { "Diagnostic-Id": `00-${traceId}-${warehouseSpan}-01` },
			});
		} finally {
			await client.close();
		}
		const process = await otlp.waitFor((s) => s.traceId === traceId && s.kind === CONSUMER);
		expect(process.parentSpanId).toBe(warehouseSpan);
		await otlp.waitFor((s) => s.traceId === traceId && s.name === "publish order event");
		expect(otlp.contentTypes).toEqual(new Set(["application/x-protobuf"]));
		// The unsampled PUT (sent before, exported before if at all) left nothing.
		expect(new Set(otlp.spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
	}, 90_000);
});
