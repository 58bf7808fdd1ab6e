// The receiver loop over the in-process queue and a real store: what other producers put on
// the queue is applied, what can never apply is dead-lettered with a reason, nothing twice.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InProcessStatusQueue } from "../../src/queue/in-process.js";
import { createStatusMessageHandler, parseStatusMessage } from "../../src/queue/receiver.js";
import { MemoryOrderStore } from "../../src/storage/memory.js";
import { type OrderStore, StoreUnavailableError } from "../../src/storage/port.js";
import { applyStatusChange } from "../../src/usecases/apply-status-change.js";
import { RecordingEvents } from "../support/app.js";
import { linesLogger } from "../support/log.js";
import { azuriteStore } from "../support/tables.js";

const msg = (body: unknown, messageId = "m1") => ({ messageId, body, deliveryCount: 1 });

describe("parseStatusMessage", () => {
	it("reads our JSON, foreign JSON in any case, JSON text and bytes, and the original's string", () => {
		const expected = { orderId: "o-1", status: "Shipped" };
		expect(parseStatusMessage(msg({ orderId: "o-1", status: "Shipped", extra: 1 }))).toMatchObject({
			ok: true,
			change: expected,
		});
		expect(parseStatusMessage(msg({ OrderId: "o-1", Status: "shipped" }))).toMatchObject({
			ok: true,
			change: expected,
		});
		expect(parseStatusMessage(msg('{"orderId":"o-1","status":"SHIPPED"}'))).toMatchObject({
			ok: true,
			change: expected,
		});
		expect(
			parseStatusMessage(msg(new TextEncoder().encode('{"orderId":"o-1","status":"Shipped"}'))),
		).toMatchObject({
			ok: true,
			change: expected,
		});
		expect(parseStatusMessage(msg("Order:o-1,Status:Shipped"))).toMatchObject({
			ok: true,
			change: { ...expected, source: "legacy", messageId: "m1" },
		});
		expect(parseStatusMessage(msg(" Order: o-1 , Status: shipped "))).toMatchObject({
			ok: true,
			change: expected,
		});
	});

	it("names what is wrong with a message that can never apply", () => {
		expect(parseStatusMessage(msg("hello"))).toMatchObject({ ok: false, reason: "UnparseableMessage" });
		expect(parseStatusMessage(msg("[1]"))).toMatchObject({ ok: false, reason: "UnparseableMessage" });
		expect(parseStatusMessage(msg({ status: "Shipped" }))).toMatchObject({
			ok: false,
			reason: "InvalidOrderId",
		});
		expect(parseStatusMessage(msg({ orderId: "a/b", status: "Shipped" }))).toMatchObject({
			ok: false,
			reason: "InvalidOrderId",
		});
		expect(parseStatusMessage(msg("Order:o-1,Status:Lost"))).toMatchObject({
			ok: false,
			reason: "UnknownStatus",
		});
	});
});

describe("receiver loop on the in-process queue", () => {
	let store: MemoryOrderStore;
	let queue: InProcessStatusQueue;
	let events: RecordingEvents;
	beforeEach(() => {
		store = new MemoryOrderStore();
		queue = new InProcessStatusQueue({ retryDelayMs: 10, maxDeliveryCount: 3 });
		events = new RecordingEvents();
		queue.start(createStatusMessageHandler({ store, events }));
	});
	afterEach(() => queue.close());

	async function newOrder() {
		const r = await store.create({ partitionKey: "Orders", customerName: "A", productName: "B" });
		if (r.kind !== "created") throw new Error(r.kind);
		return r.order;
	}

	it("applies foreign and legacy messages, and dead-letters poison with reasons", async () => {
		const a = await newOrder();
		const b = await newOrder();
		queue.sendRaw("foreign", { OrderId: a.orderId, Status: "Processing", warehouse: "W1" });
		queue.sendRaw("legacy", `Order:${b.orderId},Status:Shipped`);
		queue.sendRaw("poison", "}{");
		queue.sendRaw("unknown-order", { orderId: "nope", status: "Shipped" });
		queue.sendRaw("illegal", `Order:${b.orderId},Status:Pending`);
		await vi.waitFor(() => expect(queue.deadLetters).toHaveLength(3));
		expect((await store.get(a.orderId))?.status).toBe("Processing");
		expect((await store.get(b.orderId))?.status).toBe("Shipped");
		expect(queue.deadLetters.map((d) => [d.messageId, d.reason])).toEqual([
			["poison", "UnparseableMessage"],
			["unknown-order", "OrderNotFound"],
			["illegal", "IllegalTransition"],
		]);
		expect(queue.deadLetters[2]?.description).toMatch(/cannot move back from Shipped to Pending/);
		expect(events.events.map((e) => e.order.orderId)).toEqual([a.orderId, b.orderId]);
	});

	it("completes a redelivered, already-applied message without changing anything", async () => {
		const a = await newOrder();
		const handler = createStatusMessageHandler({ store, events });
		const body = { orderId: a.orderId, status: "Processing" };
		expect(await handler(msg(body, "once"))).toEqual({ kind: "complete" });
		await applyStatusChange(store, {
			orderId: a.orderId,
			status: "Shipped",
			messageId: "later",
			occurredAt: "",
		});
		expect(await handler({ ...msg(body, "once"), deliveryCount: 2 })).toEqual({ kind: "complete" });
		expect(await store.history(a.orderId)).toHaveLength(3);
		expect((await store.get(a.orderId))?.status).toBe("Shipped");
	});

	it("drops a message id it has already accepted (duplicate detection)", async () => {
		const a = await newOrder();
		await queue.send({ orderId: a.orderId, status: "Processing", messageId: "dup", occurredAt: "" });
		await queue.send({ orderId: a.orderId, status: "Processing", messageId: "dup", occurredAt: "" });
		await vi.waitFor(async () => expect((await store.get(a.orderId))?.status).toBe("Processing"));
		expect(events.events).toHaveLength(1);
	});

	it("abandons while storage is unavailable and dead-letters after the max delivery count", async () => {
		const broken = new MemoryOrderStore();
		broken.load = async () => {
			throw new StoreUnavailableError("storage exploded");
		};
		const q = new InProcessStatusQueue({ retryDelayMs: 5, maxDeliveryCount: 3 });
		const seen: number[] = [];
		const handler = createStatusMessageHandler({ store: broken, events, transientRetryWindowMs: 0 });
		q.start(async (m) => {
			seen.push(m.deliveryCount);
			return handler(m);
		});
		q.sendRaw("flaky", { orderId: "o", status: "Shipped" });
		await vi.waitFor(() => expect(q.deadLetters).toHaveLength(1));
		expect(seen).toEqual([1, 2, 3]);
		expect(q.deadLetters[0]).toMatchObject({
			reason: "MaxDeliveryCountExceeded",
			description: "storage exploded",
			deliveryCount: 3,
		});
		await q.close();
	});

	it("reports a defect (not an outage) loudly with its stack, without retrying it as one", async () => {
		const broken = new MemoryOrderStore();
		let calls = 0;
		broken.load = async () => {
			calls++;
			throw new TypeError("cannot read properties of undefined (reading 'status')");
		};
		const lines: string[] = [];
		// A long outage window: a defect must not wait in it.
		const handler = createStatusMessageHandler({
			store: broken,
			events,
			log: linesLogger((l) => lines.push(l)),
			transientRetryWindowMs: 60_000,
		});
		const started = Date.now();
		const settlement = await handler(msg({ orderId: "o", status: "Shipped" }, "bug"));
		expect(Date.now() - started).toBeLessThan(1000);
		expect(calls).toBe(1);
		expect(settlement).toMatchObject({ kind: "abandon", reason: expect.stringMatching(/^defect: /) });
		expect(lines.join("\n")).toMatch(/DEFECT applying status message bug .*TypeError: cannot read/s);
		expect(lines.join("\n")).toMatch(/at .*receiver\.test\.ts/); // the stack
	});

	it("keeps only the newest dead letters in memory, and counts them all", async () => {
		const q = new InProcessStatusQueue({ retryDelayMs: 5, deadLettersKept: 3 });
		q.start(createStatusMessageHandler({ store, events }));
		for (let i = 0; i < 10; i++) q.sendRaw(`poison-${i}`, "}{");
		q.sendRaw("marker", { orderId: (await newOrder()).orderId, status: "Shipped" });
		await vi.waitFor(() => expect(events.events).toHaveLength(1)); // everything before it was handled
		expect(q.deadLetters.map((d) => d.messageId)).toEqual(["poison-7", "poison-8", "poison-9"]);
		expect(q.stats()).toEqual({ deadLettered: 10, deadLettersKept: 3 });
		await q.close();
	});

	it("drains queued messages on close, then refuses new ones", async () => {
		const a = await newOrder();
		for (const [i, s] of (["Processing", "Shipped", "Delivered"] as const).entries()) {
			await queue.send({ orderId: a.orderId, status: s, messageId: `d${i}`, occurredAt: "" });
		}
		await queue.close();
		expect((await store.get(a.orderId))?.status).toBe("Delivered");
		await expect(
			queue.send({ orderId: a.orderId, status: "Delivered", messageId: "late", occurredAt: "" }),
		).rejects.toThrow(/shutting down/);
	});
});

describe.each([
	["memory", (): OrderStore => new MemoryOrderStore()],
	["Azure Tables (Azurite)", (): OrderStore => azuriteStore()],
] as const)(
	"a redelivered, already-applied message on the %s store",
	(_name, makeStore: () => OrderStore) => {
		it("is published again (the process stopped between commit and publish), and changes nothing", async () => {
			const store = makeStore();
			const events = new RecordingEvents();
			const handler = createStatusMessageHandler({ store, events });
			const created = await store.create({ partitionKey: "Orders", customerName: "A", productName: "B" });
			if (created.kind !== "created") throw new Error(created.kind);
			const { orderId } = created.order;
			// The first delivery was committed, then the process died before publishing.
			await applyStatusChange(store, { orderId, status: "Processing", messageId: "crash", occurredAt: "" });
			expect(await handler({ ...msg({ orderId, status: "Processing" }, "crash"), deliveryCount: 2 })).toEqual(
				{
					kind: "complete",
				},
			);
			expect(events.events).toEqual([
				expect.objectContaining({
					type: "ReceiveOrderUpdate",
					messageId: "crash",
					order: expect.objectContaining({ orderId, status: "Processing" }),
				}),
			]);
			expect(await store.history(orderId)).toHaveLength(2);
		});
	},
);
