// OrderHub's own logic, through its SseSink interface (pure: no network).
import { describe, expect, it } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { OrderHub, type SseSink } from "../../src/hub/hub.js";

class BufferSink implements SseSink {
	text = "";
	closed: string | undefined;
	pending = 0;
	write(chunk: Uint8Array) {
		this.text += new TextDecoder().decode(chunk);
	}
	buffered() {
		return this.pending;
	}
	close(mode: "end" | "abort" = "end") {
		this.closed = mode;
	}
}

const order = (orderId: string, status: Order["status"] = "Pending"): Order => ({
	orderId,
	partitionKey: "Orders",
	customerName: "A",
	productName: "P",
	status,
	createdAt: "t",
	updatedAt: "t",
});

describe("OrderHub", () => {
	it("drops an update older than one already published for the order (late arrival)", () => {
		const hub = new OrderHub({ instanceId: "abc", coalesceMs: 0 });
		const sink = new BufferSink();
		hub.subscribe(sink);
		const at = (status: Order["status"], updatedAt: string) => ({ ...order("o1", status), updatedAt });
		hub.publish({
			type: "ReceiveOrderUpdate",
			order: at("Shipped", "2026-01-01T00:00:02.000Z"),
			messageId: "b",
		});
		hub.publish({
			type: "ReceiveOrderUpdate",
			order: at("Processing", "2026-01-01T00:00:01.000Z"),
			messageId: "a",
		});
		hub.publish({
			type: "ReceiveOrderUpdate",
			order: at("Delivered", "2026-01-01T00:00:03.000Z"),
			messageId: "c",
		});
		hub.publish({ type: "ReceiveOrderUpdate", order: { ...order("o2", "Shipped"), updatedAt: "2025" } });
		const statuses = [...sink.text.matchAll(/"status":"(\w+)"/g)].map((m) => m[1]);
		expect(statuses).toEqual(["Shipped", "Delivered", "Shipped"]);
		expect(hub.stats().published).toBe(3);
	});

	it("serialises an event once into the SSE wire format", () => {
		const hub = new OrderHub({ instanceId: "abc" });
		const sink = new BufferSink();
		hub.subscribe(sink);
		hub.publish({
			type: "ReceiveOrderUpdate",
			order: order("o1", "Shipped"),
			previousStatus: "Pending",
			messageId: "m",
		});
		expect(sink.text).toBe(
			"retry: 2000\n: connected to abc\n\n" +
				'id: abc-1\nevent: ReceiveOrderUpdate\ndata: {"orderId":"o1","status":"Shipped","partitionKey":"Orders","customerName":"A","productName":"P","createdAt":"t","updatedAt":"t","previousStatus":"Pending","messageId":"m"}\n\n',
		);
		hub.close();
	});

	it("drops a republished event (same message id) among the newest 1,000, whatever the history holds", () => {
		const hub = new OrderHub({ instanceId: "abc", historySize: 2 });
		const sink = new BufferSink();
		hub.subscribe(sink);
		hub.publish({ type: "ReceiveOrderUpdate", order: order("o1", "Shipped"), messageId: "m1" });
		hub.publish({ type: "ReceiveOrderUpdate", order: order("o1", "Shipped"), messageId: "m1" });
		expect(hub.stats().published).toBe(1);
		hub.publish({ type: "OrderCreated", order: order("o2") });
		hub.publish({ type: "OrderCreated", order: order("o3") });
		// m1 has left the 2-event history, but its id is still remembered: not sent twice.
		hub.publish({ type: "ReceiveOrderUpdate", order: order("o1", "Shipped"), messageId: "m1" });
		expect(hub.stats().published).toBe(3);
		hub.close();
	});

	it("replays exactly the events after an id while they are in the bounded history", () => {
		const hub = new OrderHub({ instanceId: "abc", historySize: 3 });
		for (let i = 1; i <= 5; i++) hub.publish({ type: "OrderCreated", order: order(`o${i}`) });
		const seqs = (id: string) => {
			const r = hub.eventsAfter(id);
			return r.ok ? r.events.map((e) => e.seq) : r.reason;
		};
		expect(seqs("abc-5")).toEqual([]);
		expect(seqs("abc-2")).toEqual([3, 4, 5]);
		expect(seqs("abc-4")).toEqual([5]);
		expect(seqs("abc-1")).toBe("evicted");
		expect(seqs("abc-6")).toBe("unknown-event-id");
		expect(seqs("xyz-3")).toBe("unknown-instance");
		expect(seqs("3")).toBe("invalid-event-id");
		expect(hub.stats()).toMatchObject({ historySize: 3, historyCapacity: 3, newestEventId: "abc-5" });
	});

	it("aborts a subscriber whose backlog passes the bound, and only that one", () => {
		const hub = new OrderHub({ maxBufferedBytes: 1000 });
		const slow = new BufferSink();
		const fast = new BufferSink();
		hub.subscribe(slow);
		hub.subscribe(fast);
		slow.pending = 1001;
		hub.publish({ type: "OrderCreated", order: order("o1") });
		expect(slow.closed).toBe("abort");
		expect(fast.closed).toBeUndefined();
		expect(hub.stats()).toMatchObject({ subscribers: 1, slowDisconnects: 1 });
		hub.close();
		expect(fast.closed).toBe("end");
	});

	it("runs its one heartbeat timer only while someone is subscribed", () => {
		const hub = new OrderHub();
		expect(hub.hasTimers).toBe(false);
		const off = hub.subscribe(new BufferSink());
		const off2 = hub.subscribe(new BufferSink());
		expect(hub.hasTimers).toBe(true);
		off();
		expect(hub.hasTimers).toBe(true);
		off2();
		expect(hub.hasTimers).toBe(false);
	});

	it("refuses subscribers after close", () => {
		const hub = new OrderHub();
		hub.close();
		expect(() => hub.subscribe(new BufferSink())).toThrow(/shutting down/);
	});
});
