// The publisher on Azure Tables (Azurite): every change of an order reaches the log and the feed on
// the normal path, however quickly the next one follows.
import { describe, expect, inject, it } from "vitest";
import { createAzureTablesEventLog } from "../../src/events/azure-log.js";
import { InProcessEventFeed } from "../../src/events/in-process-feed.js";
import type { LoggedEvent } from "../../src/events/port.js";
import { EventPublisher } from "../../src/events/publisher.js";
import { silentLogger } from "../../src/observability/log.js";
import { applyStatusChange } from "../../src/usecases/apply-status-change.js";
import { startHangProxy } from "../support/hang-proxy.js";
import { azuriteStore, uniqueTableName } from "../support/tables.js";

/** A feed whose send takes as long as a Service Bus topic send does. */
class SlowFeed extends InProcessEventFeed {
	override async send(logged: LoggedEvent): Promise<void> {
		await new Promise((resolve) => setTimeout(resolve, 15));
		await super.send(logged);
	}
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
	const until = Date.now() + ms;
	while (!(await check())) {
		if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

describe("EventPublisher on Azure Tables", () => {
	it("logs and sends a second change that is committed while the first is being sent", async () => {
		const store = azuriteStore({ recordEvents: true, eventHolder: "a", eventLeaseMs: 60_000 });
		const log = createAzureTablesEventLog(inject("azuriteConnectionString"), uniqueTableName("P"));
		const feed = new SlowFeed();
		const sent: LoggedEvent[] = [];
		feed.start((logged) => sent.push(logged));
		const publisher = new EventPublisher(store, log, feed, { holder: "a", leaseMs: 60_000 });
		for (let round = 0; round < 5; round++) {
			const created = await store.create({ partitionKey: "P", customerName: "C", productName: "X" });
			if (created.kind !== "created") throw new Error("not created");
			const { orderId } = created.order;
			await publisher.relay(orderId); // its OrderCreated, out of the way
			sent.length = 0;
			for (const [i, status] of (["Processing", "Shipped"] as const).entries()) {
				const outcome = await applyStatusChange(store, {
					orderId,
					status,
					messageId: `m${round}-${i}`,
					occurredAt: new Date().toISOString(),
				});
				if (outcome.kind !== "applied") throw new Error(`not applied: ${outcome.kind}`);
				publisher.publish(outcome.event); // as the receiver does, without waiting
			}
			// Both within the normal path's latency: no lease to run out, no sweep.
			await waitFor(`order ${orderId}'s two changes on the feed`, () =>
				sent.some((s) => s.event.order.orderId === orderId && s.event.order.status === "Shipped"),
			);
			expect(await store.isPending(orderId, 2)).toBe(false);
			expect(sent.filter((s) => s.event.order.orderId === orderId).map((s) => s.event.order.status)).toEqual([
				"Processing",
				"Shipped",
			]);
		}
	});

	it("tries a failed relay again within seconds, not only at the next sweep", async () => {
		// The event log stops answering while a change is relayed (an append past its deadline), then
		// answers again: the event reaches the feed within the retries' few seconds, with no sweep.
		const connection = inject("azuriteConnectionString");
		const port = Number(/127\.0\.0\.1:(\d+)/.exec(connection)?.[1]);
		const proxy = await startHangProxy(port);
		try {
			const store = azuriteStore({ recordEvents: true, eventHolder: "a", eventLeaseMs: 60_000 });
			const log = createAzureTablesEventLog(
				connection.replace(`127.0.0.1:${port}`, `127.0.0.1:${proxy.port}`),
				uniqueTableName("R"),
				{ timeoutMs: 300 },
			);
			const feed = new InProcessEventFeed();
			const sent: LoggedEvent[] = [];
			feed.start((logged) => sent.push(logged));
			const warnings: string[] = [];
			const publisher = new EventPublisher(store, log, feed, {
				holder: "a",
				leaseMs: 60_000,
				log: { ...silentLogger, warn: (message: string) => warnings.push(message) },
			});
			const created = await store.create({ partitionKey: "P", customerName: "C", productName: "X" });
			if (created.kind !== "created") throw new Error("not created");
			const { orderId } = created.order;
			await publisher.relay(orderId); // its OrderCreated, out of the way (and the log's table made)
			expect(sent).toHaveLength(1);

			proxy.hang = true;
			const outcome = await applyStatusChange(store, {
				orderId,
				status: "Processing",
				messageId: "m1",
				occurredAt: new Date().toISOString(),
			});
			if (outcome.kind !== "applied") throw new Error(`not applied: ${outcome.kind}`);
			publisher.publish(outcome.event);
			await waitFor("the relay to fail", () => warnings.some((w) => w.includes("left for a retry")));
			proxy.hang = false;
			await waitFor(
				"the change on the feed",
				() => sent.some((s) => s.event.order.status === "Processing"),
				15_000,
			);
			await waitFor("the outbox cleared", async () => !(await store.isPending(orderId, 1)), 15_000);
			await publisher.drain();
		} finally {
			await proxy.close();
		}
	});
});
