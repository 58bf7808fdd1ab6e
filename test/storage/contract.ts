// The OrderStore contract: every adapter runs this same suite.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { updatedEvent } from "../../src/domain/events.js";
import type { Order, StatusChange } from "../../src/domain/order.js";
import type { OrderStatus } from "../../src/domain/status.js";
import {
	InvalidContinuationTokenError,
	type OrderStore,
	type PendingEvent,
	type StoreOptions,
} from "../../src/storage/port.js";
import { applyStatusChange } from "../../src/usecases/apply-status-change.js";

const newOrder = (
	over: Partial<{ partitionKey: string; customerName: string; productName: string }> = {},
) => ({
	partitionKey: "Orders",
	customerName: "Ada",
	productName: "Engine",
	...over,
});

let seq = 0;
const change = (orderId: string, status: OrderStatus, messageId = `m-${++seq}`): StatusChange => ({
	orderId,
	status,
	messageId,
	occurredAt: new Date().toISOString(),
	source: "test",
});

export function orderStoreContract(
	makeStore: (options?: StoreOptions) => OrderStore | Promise<OrderStore>,
): void {
	let store: OrderStore;
	beforeEach(async () => {
		store = await makeStore();
	});

	/** A change applied through the one use case that applies changes, over this adapter. */
	const apply = (c: StatusChange) => applyStatusChange(store, c);

	async function create(over = {}) {
		const r = await store.create(newOrder(over));
		if (r.kind !== "created") throw new Error(`expected created, got ${r.kind}`);
		return r.order;
	}

	describe("create and get", () => {
		it("creates a Pending order with an id and timestamps, readable by id", async () => {
			const order = await create({ customerName: "O'Brien", productName: "Tea" });
			expect(order).toMatchObject({
				partitionKey: "Orders",
				customerName: "O'Brien",
				productName: "Tea",
				status: "Pending",
			});
			expect(order.orderId).toMatch(/^[0-9a-f-]{36}$/);
			expect(Date.parse(order.createdAt)).not.toBeNaN();
			expect(order.updatedAt).toBe(order.createdAt);
			expect(await store.get(order.orderId)).toEqual(order);
		});

		it("answers undefined for an unknown id", async () => {
			expect(await store.get("no-such-order")).toBeUndefined();
		});

		it("replays a create with the same idempotency key and refuses the key for a different body", async () => {
			const first = await store.create(newOrder(), { idempotencyKey: "k-1", fingerprint: "A" });
			const again = await store.create(newOrder(), { idempotencyKey: "k-1", fingerprint: "A" });
			expect(first.kind).toBe("created");
			expect(again).toEqual({ kind: "replayed", order: (first as { order: unknown }).order });
			expect(await store.create(newOrder(), { idempotencyKey: "k-1", fingerprint: "B" })).toEqual({
				kind: "key-reused",
			});
			expect((await store.list({ limit: 100 })).items).toHaveLength(1);
		});

		it("forgets an Idempotency-Key after its retention: the key is new again, and purging removes expired ones", async () => {
			let now = Date.parse("2026-01-01T00:00:00Z");
			const hour = 3600_000;
			const s = await makeStore({ idempotencyRetentionMs: 24 * hour, now: () => now });
			const first = await s.create(newOrder(), { idempotencyKey: "daily", fingerprint: "A" });
			const other = await s.create(newOrder(), { idempotencyKey: "other", fingerprint: "A" });
			now += 23 * hour;
			expect((await s.create(newOrder(), { idempotencyKey: "daily", fingerprint: "A" })).kind).toBe(
				"replayed",
			);
			expect(await s.purgeExpiredIdempotencyKeys()).toBe(0);
			now += 2 * hour;
			expect(await s.purgeExpiredIdempotencyKeys()).toBe(2);
			expect(await s.purgeExpiredIdempotencyKeys()).toBe(0);
			// Expired: a new order, even for another body (the old claim is gone).
			const later = await s.create(newOrder(), { idempotencyKey: "daily", fingerprint: "B" });
			expect(later.kind).toBe("created");
			expect((later as { order: { orderId: string } }).order.orderId).not.toBe(
				(first as { order: { orderId: string } }).order.orderId,
			);
			// ...and the new claim is remembered from now on.
			expect((await s.create(newOrder(), { idempotencyKey: "daily", fingerprint: "B" })).kind).toBe(
				"replayed",
			);
			expect(other.kind).toBe("created");
			expect((await s.list({ limit: 100 })).items).toHaveLength(3);
		});

		it("takes over an expired Idempotency-Key that was never purged", async () => {
			let now = Date.parse("2026-01-01T00:00:00Z");
			const s = await makeStore({ idempotencyRetentionMs: 1000, now: () => now });
			const first = await s.create(newOrder(), { idempotencyKey: "stale", fingerprint: "A" });
			now += 1001;
			const second = await s.create(newOrder(), { idempotencyKey: "stale", fingerprint: "A" });
			expect([first.kind, second.kind]).toEqual(["created", "created"]);
			expect(await s.create(newOrder(), { idempotencyKey: "stale", fingerprint: "A" })).toEqual({
				kind: "replayed",
				order: (second as { order: unknown }).order,
			});
			expect(second).not.toEqual(first);
		});

		it("creates one order when the same key is sent concurrently", async () => {
			const results = await Promise.all(
				Array.from({ length: 5 }, () =>
					store.create(newOrder(), { idempotencyKey: "k/2?#", fingerprint: "A" }),
				),
			);
			const ids = new Set(results.map((r) => (r.kind === "key-reused" ? "" : r.order.orderId)));
			expect(ids.size).toBe(1);
			expect((await store.list({ limit: 100 })).items).toHaveLength(1);
		});
	});

	describe("importOrder (orders brought over from another system)", () => {
		const legacy = (over: Partial<Order> = {}): Order => ({
			orderId: "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
			partitionKey: "EU",
			customerName: "Ada",
			productName: "Engine",
			status: "Shipped",
			createdAt: "2024-05-01T10:00:00.000Z",
			updatedAt: "2024-05-01T10:00:00.000Z",
			...over,
		});

		it("writes the order with its own id, status and timestamps and one history entry saying it was imported", async () => {
			const order = legacy();
			expect(await store.importOrder(order)).toEqual({ kind: "imported", order });
			expect(await store.get(order.orderId)).toEqual(order);
			expect(await store.history(order.orderId)).toEqual([
				{
					status: "Shipped",
					at: order.updatedAt,
					messageId: `import:${order.orderId}:0`,
					source: "import",
				},
			]);
			expect((await store.list({ limit: 10, status: "Shipped", partitionKey: "EU" })).items).toEqual([order]);
			expect(await store.load(order.orderId)).toMatchObject({ order, version: 0 });
		});

		it("leaves an existing id alone, so importing again changes nothing", async () => {
			const order = legacy();
			await store.importOrder(order);
			const again = legacy({ status: "Delivered", updatedAt: "2024-06-01T00:00:00.000Z" });
			expect(await store.importOrder(again)).toEqual({ kind: "exists", order });
			expect(await store.get(order.orderId)).toEqual(order);
			expect(await store.history(order.orderId)).toHaveLength(1);
		});

		it("with update: overwrites what changed and records it, keeps what is the same or newer here", async () => {
			const order = legacy();
			await store.importOrder(order);
			expect(await store.importOrder(legacy(), { update: true })).toEqual({ kind: "unchanged", order });
			const later = legacy({
				status: "Delivered",
				customerName: "Ada L.",
				updatedAt: "2024-06-01T00:00:00.000Z",
			});
			expect(await store.importOrder(later, { update: true })).toEqual({
				kind: "updated",
				order: { ...later, createdAt: order.createdAt },
				previous: order,
			});
			expect(await store.get(order.orderId)).toEqual(later);
			expect(await store.history(order.orderId)).toEqual([
				expect.objectContaining({ status: "Shipped", source: "import" }),
				{
					status: "Delivered",
					at: later.updatedAt,
					messageId: `import:${order.orderId}:1`,
					source: "import",
				},
			]);
			expect(await store.load(order.orderId)).toMatchObject({ version: 1 });
			// A change applied here after the import is not undone by an older copy.
			const mine = await create();
			await apply(change(mine.orderId, "Processing"));
			const here = await store.get(mine.orderId);
			const older = { ...(here as Order), status: "Pending" as const, updatedAt: mine.createdAt };
			expect(await store.importOrder(older, { update: true })).toEqual({ kind: "newer-here", order: here });
			// ...and an order changed here after import still takes changes through the queue.
			expect((await apply(change(order.orderId, "Delivered"))).kind).toBe("noop");
		});

		it("records the imported order's OrderCreated event (and an update's) only when recording events", async () => {
			const s = await makeStore({ recordEvents: true });
			const order = legacy();
			await s.importOrder(order);
			const pending = await s.pendingEvents(order.orderId);
			expect(pending.map((p) => p.event)).toEqual([{ type: "OrderCreated", order, version: 0 }]);
			await s.importOrder(legacy({ status: "Delivered", updatedAt: "2024-06-01T00:00:00.000Z" }), {
				update: true,
			});
			expect((await s.pendingEvents(order.orderId)).map((p) => [p.version, p.event.type])).toEqual([
				[0, "OrderCreated"],
				[1, "ReceiveOrderUpdate"],
			]);
			await store.importOrder(order);
			expect(await store.pendingEvents(order.orderId)).toEqual([]);
		});

		it("imports many orders at once, each whole", async () => {
			const orders = Array.from({ length: 30 }, (_, i) =>
				legacy({
					orderId: `3f2504e0-4f89-41d3-9a0c-${String(i).padStart(12, "0")}`,
					partitionKey: `p${i % 3}`,
				}),
			);
			const results = await Promise.all([...orders, ...orders].map((o) => store.importOrder(o)));
			expect(results.filter((r) => r.kind === "imported")).toHaveLength(30);
			expect(results.filter((r) => r.kind === "exists")).toHaveLength(30);
			for (const o of orders) expect(await store.history(o.orderId)).toHaveLength(1);
			expect((await store.list({ limit: 100 })).items).toHaveLength(30);
		});
	});

	describe("recorded events (the outbox)", () => {
		it("records nothing unless asked to", async () => {
			const order = await create();
			await apply(change(order.orderId, "Processing"));
			expect(await store.pendingEvents(order.orderId)).toEqual([]);
			expect(await store.ordersWithUnclaimedEvents()).toEqual([]);
		});

		it("records each create's and change's event with it, hands them out once per claim, forgets them when cleared", async () => {
			let now = Date.parse("2026-01-01T00:00:00Z");
			const s = await makeStore({ recordEvents: true, now: () => now });
			const created = await s.create(newOrder());
			if (created.kind !== "created") throw new Error(created.kind);
			const { order } = created;
			const applied = await applyStatusChange(s, change(order.orderId, "Processing", "m-out"));
			if (applied.kind !== "applied") throw new Error(applied.kind);
			const pending = await s.pendingEvents(order.orderId);
			expect(pending.map((p) => [p.version, p.event.type])).toEqual([
				[0, "OrderCreated"],
				[1, "ReceiveOrderUpdate"],
			]);
			expect(pending[0]?.event).toEqual({ type: "OrderCreated", order, version: 0 });
			expect(pending[1]?.event).toEqual({
				type: "ReceiveOrderUpdate",
				order: applied.order,
				version: 1,
				messageId: "m-out",
				previousStatus: "Pending",
			});
			expect(await s.ordersWithUnclaimedEvents()).toEqual([order.orderId]);

			const [first, second] = pending as [PendingEvent, PendingEvent];
			const mine = await s.claimPendingEvent(first, "a", now + 1000);
			expect(mine).toMatchObject({ claimedBy: "a", claimedUntil: now + 1000 });
			expect(await s.claimPendingEvent(first, "b", now + 1000)).toBeUndefined(); // stale: a has it
			const claimedSecond = await s.claimPendingEvent(second, "a", now + 1000);
			expect(await s.ordersWithUnclaimedEvents()).toEqual([]);
			now += 2000; // the claims expired: someone else may take over
			expect(await s.ordersWithUnclaimedEvents()).toEqual([order.orderId]);
			await s.clearPendingEvent(mine as PendingEvent);
			await s.clearPendingEvent(claimedSecond as PendingEvent);
			await s.clearPendingEvent(claimedSecond as PendingEvent); // twice is fine
			expect(await s.pendingEvents(order.orderId)).toEqual([]);
			expect(await s.ordersWithUnclaimedEvents()).toEqual([]);
		});
	});

	describe("list", () => {
		it("answers an empty page without a token when there are no orders", async () => {
			expect(await store.list({ limit: 100 })).toEqual({ items: [] });
		});

		it("pages through every order exactly once, oldest first", async () => {
			const created = [];
			for (let i = 0; i < 7; i++) created.push(await create({ customerName: `c${i}` }));
			const seen: string[] = [];
			let token: string | undefined;
			let pages = 0;
			do {
				const page = await store.list({ limit: 3, continuationToken: token });
				expect(page.items.length).toBeLessThanOrEqual(3);
				seen.push(...page.items.map((o) => o.orderId));
				token = page.continuationToken;
				pages++;
			} while (token && pages < 10);
			expect(seen).toEqual(created.map((o) => o.orderId));
		});

		it("filters by status, partitionKey and customerName, also across pages", async () => {
			const a = await create({ partitionKey: "EU", customerName: "O'Brien" });
			await create({ partitionKey: "US", customerName: "O'Brien" });
			const c = await create({ partitionKey: "EU", customerName: "Zed" });
			await create({ partitionKey: "EU", customerName: "O'Brien" });
			await apply(change(a.orderId, "Shipped"));
			await apply(change(c.orderId, "Shipped"));

			const eu = await store.list({ limit: 100, partitionKey: "EU" });
			expect(eu.items.map((o) => o.partitionKey)).toEqual(["EU", "EU", "EU"]);
			const shipped = await store.list({ limit: 100, status: "Shipped" });
			expect(shipped.items.map((o) => o.orderId)).toEqual([a.orderId, c.orderId]);
			const both = await store.list({
				limit: 100,
				partitionKey: "EU",
				customerName: "O'Brien",
				status: "Shipped",
			});
			expect(both.items.map((o) => o.orderId)).toEqual([a.orderId]);

			const first = await store.list({ limit: 1, partitionKey: "EU" });
			expect(first.items).toHaveLength(1);
			expect(first.continuationToken).toBeTypeOf("string");
			const rest = await store.list({
				limit: 10,
				partitionKey: "EU",
				continuationToken: first.continuationToken,
			});
			expect(rest.items.map((o) => o.partitionKey)).toEqual(["EU", "EU"]);
			expect(rest.continuationToken).toBeUndefined();
		});

		it("rejects a continuation token it did not issue", async () => {
			await expect(store.list({ limit: 10, continuationToken: "garbage!" })).rejects.toBeInstanceOf(
				InvalidContinuationTokenError,
			);
			await expect(store.list({ limit: 10, continuationToken: "eyJ4IjoxfQ" })).rejects.toBeInstanceOf(
				InvalidContinuationTokenError,
			);
			// Tokens that decode as this service's wrapper around a token Azure's SDK never issued.
			const wrap = (az: unknown) => Buffer.from(JSON.stringify({ az })).toString("base64url");
			const b64 = (s: string) => Buffer.from(s).toString("base64");
			for (const forged of [
				wrap("zzz"),
				wrap(b64("hello")),
				wrap(b64('{"nextPartitionKey":5}')),
				wrap(b64('{"nextPartitionKey":"a/b"}')),
				wrap(b64('{"nextPartitionKey":"a","nextRowKey":"r","x":1}')),
				wrap(5),
			]) {
				await expect(store.list({ limit: 10, continuationToken: forged }), forged).rejects.toBeInstanceOf(
					InvalidContinuationTokenError,
				);
			}
		});

		it("remembers an Idempotency-Key of any accepted length, under however long an owner id", async () => {
			// As the route names a key: the caller's id (here a long upn claim) and their key.
			const material = `${"someone.with.a.very.long.name".repeat(20)}@example.com\n${"k".repeat(200)}`;
			const first = await store.create(newOrder(), { idempotencyKey: material, fingerprint: "f" });
			expect(first.kind).toBe("created");
			const again = await store.create(newOrder(), { idempotencyKey: material, fingerprint: "f" });
			expect(again).toMatchObject({ kind: "replayed" });
			if (first.kind === "created" && again.kind === "replayed")
				expect(again.order.orderId).toBe(first.order.orderId);
			const other = await store.create(newOrder(), { idempotencyKey: `${material}2`, fingerprint: "f" });
			expect(other.kind).toBe("created");
		});
	});

	describe("status changes and history", () => {
		it("applies a change once per message id and records it in the history", async () => {
			const order = await create();
			const c = change(order.orderId, "Processing");
			const applied = await apply(c);
			expect(applied).toMatchObject({
				kind: "applied",
				previous: "Pending",
				order: { status: "Processing" },
			});
			expect((await apply(c)).kind).toBe("duplicate");
			const after = await store.get(order.orderId);
			expect(after?.status).toBe("Processing");
			expect(after && after.updatedAt >= order.updatedAt).toBe(true);

			const history = await store.history(order.orderId);
			expect(history).toEqual([
				{ status: "Pending", at: order.createdAt, source: "api" },
				{ status: "Processing", at: expect.any(String), messageId: c.messageId, source: "test" },
			]);
		});

		it("moves updatedAt forward even when this clock is behind the one that wrote the last change", async () => {
			const order = await create();
			vi.useFakeTimers({ toFake: ["Date"] });
			try {
				vi.setSystemTime(Date.parse(order.updatedAt) - 60_000); // another machine, a minute behind
				const applied = await apply(change(order.orderId, "Processing"));
				expect(applied.kind).toBe("applied");
				const after = await store.get(order.orderId);
				expect(after && after.updatedAt > order.updatedAt).toBe(true);
			} finally {
				vi.useRealTimers();
			}
		});

		it("treats a redelivered message as a duplicate even after the order moved on", async () => {
			const order = await create();
			const first = change(order.orderId, "Processing");
			await apply(first);
			await apply(change(order.orderId, "Shipped"));
			expect((await apply(first)).kind).toBe("duplicate");
			expect(await store.history(order.orderId)).toHaveLength(3);
		});

		it("answers noop for the current status, illegal for a forbidden move, not-found for no order", async () => {
			const order = await create();
			expect((await apply(change(order.orderId, "Pending"))).kind).toBe("noop");
			await apply(change(order.orderId, "Delivered"));
			expect((await apply(change(order.orderId, "Cancelled"))).kind).toBe("rejected");
			expect((await apply(change("missing", "Shipped"))).kind).toBe("not-found");
			expect(await store.history(order.orderId)).toHaveLength(2);
		});

		it("commits a change only while the order is as loaded, and says whether a message was applied", async () => {
			const order = await create();
			const loaded = await store.load(order.orderId);
			expect(loaded).toMatchObject({ order, version: 0, etag: expect.any(String) });
			expect(await store.wasApplied(order.orderId, "m-x")).toBe(false);
			if (!loaded) throw new Error("not loaded");
			const at = new Date(Date.parse(order.updatedAt) + 1).toISOString();
			expect(
				await store.commitChange(loaded, {
					status: "Processing",
					at,
					messageId: "m-x",
					event: updatedEvent({ ...order, status: "Processing", updatedAt: at }, 1, "m-x", "Pending"),
				}),
			).toBe("committed");
			// The same loaded state again: something changed it since, so nothing is written.
			expect(
				await store.commitChange(loaded, {
					status: "Shipped",
					at,
					messageId: "m-y",
					event: updatedEvent({ ...order, status: "Shipped", updatedAt: at }, 1, "m-y", "Pending"),
				}),
			).toBe("conflict");
			expect(await store.load(order.orderId)).toMatchObject({
				version: 1,
				order: { status: "Processing", updatedAt: at },
			});
			expect(await store.wasApplied(order.orderId, "m-x")).toBe(true);
			expect(await store.wasApplied(order.orderId, "m-y")).toBe(false);
			expect(await store.load("missing")).toBeUndefined();
			expect(await store.history(order.orderId)).toHaveLength(2);
		});

		it("answers undefined history for an unknown order", async () => {
			expect(await store.history("missing")).toBeUndefined();
		});

		it("loses no update when changes race on one order", async () => {
			const order = await create();
			const targets: OrderStatus[] = [
				"Processing",
				"Shipped",
				"Delivered",
				"Processing",
				"Shipped",
				"Cancelled",
			];
			const results = await Promise.all(targets.map((t) => apply(change(order.orderId, t))));
			const applied = results.filter((r) => r.kind === "applied");
			const history = (await store.history(order.orderId)) ?? [];
			expect(history).toHaveLength(applied.length + 1);
			const final = await store.get(order.orderId);
			expect(final?.status).toBe(history[history.length - 1]?.status);
			// Each applied step was a legal forward move from the one before it.
			for (let i = 1; i < history.length; i++) {
				expect(history[i]?.status).not.toBe(history[i - 1]?.status);
			}
		});
	});

	it("answers ping when reachable", async () => {
		await expect(store.ping()).resolves.toBeUndefined();
	});
}
