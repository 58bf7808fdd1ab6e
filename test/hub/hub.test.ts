// OrderHub's own logic, through its SseSink interface (pure: no network).
import { describe, expect, it, vi } from "vitest";
import { createdEvent, updatedEvent } from "../../src/domain/events.js";
import type { Order } from "../../src/domain/order.js";
import { MemoryEventLog } from "../../src/events/memory-log.js";
import { type HubOptions, OrderHub, type SseSink } from "../../src/hub/hub.js";

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

/** A hub fed from a fresh memory log that keeps only 10 events in memory: older replays read the log. */
async function logFedHub(options: HubOptions = {}) {
	const log = new MemoryEventLog();
	const epoch = await log.epoch();
	const hub = new OrderHub({
		instanceId: epoch,
		eventLog: log,
		startSeq: 0,
		coalesceMs: 0,
		historySize: 10,
		...options,
	});
	return { log, epoch, hub };
}

describe("OrderHub fed from the event log", () => {
	const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

	it("replays no outdated copy of an order's event, however far back the newer version was logged", async () => {
		const { log, epoch, hub } = await logFedHub();
		const events = [
			updatedEvent(order("o1", "Processing"), 1, "m1", "Pending"),
			updatedEvent(order("o1", "Shipped"), 2, "m2", "Processing"),
			...Array.from({ length: 300 }, (_, i) => createdEvent(order(`f${i}`))),
			updatedEvent(order("o1", "Processing"), 1, "m1", "Pending"), // logged late, by a slow publisher
			updatedEvent(order("o1", "Delivered"), 3, "m3", "Shipped"),
		];
		for (const event of events) hub.deliver({ seq: await log.append(event), event, epoch });
		const sink = new BufferSink();
		hub.subscribe(sink, { orderIds: ["o1"] }, `${epoch}-280`); // older than memory: from the log
		await vi.waitFor(() => expect(sink.text).toContain("Delivered"));
		const statuses = [...sink.text.matchAll(/"status":"(\w+)"/g)].map((m) => m[1]);
		expect(statuses).toEqual(["Delivered"]);
	});

	it("resets every subscriber when its log is gone, and goes on with the new log's ids", async () => {
		const hub = new OrderHub({
			instanceId: "old",
			eventLog: new MemoryEventLog(),
			startSeq: 7,
			coalesceMs: 0,
		});
		const sink = new BufferSink();
		hub.subscribe(sink);
		hub.restart("new", 2, "log-recreated");
		await tick();
		expect(sink.text).toContain(
			'id: new-2\nevent: reset\ndata: {"reason":"log-recreated","lastEventId":"old-7"}',
		);
		hub.deliver({ seq: 3, event: createdEvent(order("o9")), epoch: "new" });
		expect(sink.text).toContain("id: new-3\nevent: OrderCreated");
		expect(hub.eventsAfter("old-7")).toEqual({ ok: false, reason: "unknown-instance" });
	});
});

describe("OrderHub replay budget", () => {
	it("bounds the log rows one caller's replays read per minute: past it, reset; another caller is not charged", async () => {
		// One replay of 300 positions (+200 look-back), not two.
		const { log, epoch, hub } = await logFedHub({ maxReplayReadsPerMinute: 600 });
		for (let i = 0; i < 300; i++) {
			const event = createdEvent(order(`o${i}`));
			hub.deliver({ seq: await log.append(event), event, epoch });
		}
		const replay = async (who: string) => {
			const sink = new BufferSink();
			hub.subscribe(sink, {}, `${epoch}-1`, who);
			await vi.waitFor(() => expect(sink.text).toMatch(/"orderId":"o299"|event: reset/));
			return sink.text;
		};
		expect(await replay("mallory")).toContain('"orderId":"o299"');
		const refused = await replay("mallory");
		expect(refused).toContain('event: reset\ndata: {"reason":"replay-rate-limited"');
		expect(refused).not.toContain('"orderId"');
		expect(await replay("alice")).toContain('"orderId":"o299"');
	});

	it("serves SignalR subscribers beside EventSource ones: invocation frames made once per event, pings, the same cut-off, a close on a log restart and on shutdown", () => {
		vi.useFakeTimers();
		try {
			const hub = new OrderHub({
				instanceId: "abc",
				coalesceMs: 0,
				heartbeatMs: 1000,
				maxBufferedBytes: 1000,
			});
			const es = new BufferSink();
			const sr = new BufferSink();
			const sr2 = new BufferSink();
			const slow = new BufferSink();
			hub.subscribe(es);
			hub.subscribe(sr, {}, undefined, "anonymous", "signalr");
			hub.subscribe(sr2, { orderIds: ["o1"] }, "abc-0", "anonymous", "signalr"); // no replay for SignalR
			hub.subscribe(slow, {}, undefined, "anonymous", "signalr");
			expect(sr.text).toBe("data: {}\u001e\n\n"); // the handshake response first, no retry hint
			slow.pending = 1001;
			hub.publish({ type: "OrderCreated", order: order("o1") });
			hub.publish({ type: "OrderCreated", order: order("o2") });
			const invocation = (id: string) =>
				`data: {"type":1,"target":"OrderCreated","arguments":[{"orderId":"${id}","status":"Pending","partitionKey":"Orders","customerName":"A","productName":"P","createdAt":"t","updatedAt":"t"}]}\u001e\n\n`;
			expect(sr.text).toBe(`data: {}\u001e\n\n${invocation("o1")}${invocation("o2")}`);
			expect(sr2.text).toBe(`data: {}\u001e\n\n${invocation("o1")}`);
			expect(es.text).toContain('id: abc-1\nevent: OrderCreated\ndata: {"orderId":"o1"');
			expect(slow.closed).toBe("abort");
			vi.advanceTimersByTime(1000);
			expect(sr.text.endsWith('data: {"type":6}\u001e\n\n')).toBe(true);
			expect(es.text.endsWith(": heartbeat\n\n")).toBe(true);
			// Events were skipped: EventSource gets `reset`, a SignalR client (no event ids) a close with
			// leave to reconnect, so its onreconnected refetches.
			hub.restart("def", 10, "log-recreated");
			expect(es.text).toContain("event: reset");
			expect(sr.text).not.toContain("reset");
			expect(sr.text.endsWith('data: {"type":7,"allowReconnect":true}\u001e\n\n')).toBe(true);
			expect(sr.closed).toBe("end");
			const after = new BufferSink();
			hub.subscribe(after, {}, undefined, "anonymous", "signalr");
			hub.close();
			expect(after.text.endsWith('data: {"type":7,"allowReconnect":true}\u001e\n\n')).toBe(true);
			expect(after.closed).toBe("end");
		} finally {
			vi.useRealTimers();
		}
	});
});
