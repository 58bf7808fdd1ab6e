// A change committed while the order's previous event is still being published is published by the
// relay in flight; its span must still join the trace of the change (the PUT that made it), not the
// trace of the relay it joined. Real OpenTelemetry SDK with an in-memory exporter.
import { context, SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { afterAll, describe, expect, it } from "vitest";
import { createdEvent } from "../../src/domain/events.js";
import { InProcessEventFeed } from "../../src/events/in-process-feed.js";
import { MemoryEventLog } from "../../src/events/memory-log.js";
import type { LoggedEvent } from "../../src/events/port.js";
import { EventPublisher } from "../../src/events/publisher.js";
import { enableTracing, inSpan } from "../../src/observability/tracing.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";
import { applyStatusChange } from "../../src/usecases/apply-status-change.js";

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
enableTracing();
afterAll(() => provider.shutdown());

/** A feed whose send takes as long as a topic send, so the next change joins the relay in flight. */
class SlowFeed extends InProcessEventFeed {
	override async send(logged: LoggedEvent): Promise<void> {
		await new Promise((resolve) => setTimeout(resolve, 30));
		await super.send(logged);
	}
}

describe("EventPublisher and traces", () => {
	it("publishes a change that joined a relay in flight in the change's own trace", async () => {
		const store = new MemoryOrderStore({ recordEvents: true, eventHolder: "a" });
		const feed = new SlowFeed();
		const sent: LoggedEvent[] = [];
		feed.start((logged) => sent.push(logged));
		const publisher = new EventPublisher(store, new MemoryEventLog(), feed, { holder: "a" });
		const created = await store.create({ partitionKey: "P", customerName: "C", productName: "X" });
		if (created.kind !== "created") throw new Error("not created");
		const { orderId } = created.order;

		// The create's relay, in a trace of its own, still sending when the change is committed.
		const createRelay = inSpan("create", SpanKind.SERVER, {}, async () => {
			const relay = publisher.relay(orderId, createdEvent(created.order));
			return relay;
		});
		await new Promise((resolve) => setTimeout(resolve, 5));
		let changeTrace = "";
		await inSpan("change", SpanKind.CONSUMER, {}, async () => {
			changeTrace = trace.getSpan(context.active())?.spanContext().traceId ?? "";
			const outcome = await applyStatusChange(store, {
				orderId,
				status: "Shipped",
				messageId: "m1",
				occurredAt: new Date().toISOString(),
			});
			if (outcome.kind !== "applied") throw new Error(`not applied: ${outcome.kind}`);
			await publisher.relay(orderId, outcome.event);
		});
		await createRelay;

		expect(sent.map((s) => s.event.type)).toEqual(["OrderCreated", "ReceiveOrderUpdate"]);
		const publishes = exporter.getFinishedSpans().filter((s) => s.name === "publish order event");
		const ofChange = publishes.find((s) => s.attributes["order.event.type"] === "ReceiveOrderUpdate");
		expect(ofChange?.spanContext().traceId).toBe(changeTrace);
	});
});
