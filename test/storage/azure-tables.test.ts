import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, inject, it } from "vitest";
import { createAzureTablesStore, tableClient } from "../../src/storage/azure-tables.js";
import { PENDING_PARTITION, pendingRowKey } from "../../src/storage/pending-index.js";
import { applyStatusChange } from "../../src/usecases/apply-status-change.js";
import { azuriteStore, uniqueTableName } from "../support/tables.js";
import { orderStoreContract } from "./contract.js";

describe("AzureTablesOrderStore against Azurite", () =>
	orderStoreContract((options) => azuriteStore(options)));

describe("AzureTablesOrderStore: the order rows an instance read or wrote recently", () => {
	// Two instances on one table: each remembers the rows it saw, which the other then changes.
	const twoInstances = () => {
		const table = uniqueTableName();
		const cs = inject("azuriteConnectionString");
		return [createAzureTablesStore(cs, table), createAzureTablesStore(cs, table)] as const;
	};
	const change = (orderId: string, status: "Processing" | "Shipped", messageId: string) => ({
		orderId,
		status,
		messageId,
		occurredAt: new Date().toISOString(),
	});

	it("answers load({ recent }) from the row it just read, marked recent; a plain load reads", async () => {
		const [a] = twoInstances();
		const created = await a.create({ customerName: "C", productName: "P", partitionKey: "Orders" });
		if (created.kind !== "created") throw new Error("not created");
		const read = await a.load(created.order.orderId);
		expect(read?.recent).toBeUndefined();
		expect(await a.load(created.order.orderId, { recent: true })).toMatchObject({ ...read, recent: true });
	});

	it("remembers the row its own commit wrote, with the ETag storage gave it", async () => {
		const [a] = twoInstances();
		const created = await a.create({ customerName: "C", productName: "P", partitionKey: "Orders" });
		if (created.kind !== "created") throw new Error("not created");
		const { orderId } = created.order;
		await a.get(orderId);
		expect((await applyStatusChange(a, change(orderId, "Processing", "m1"))).kind).toBe("applied");
		const remembered = await a.load(orderId, { recent: true });
		const { recent, ...read } = remembered ?? {};
		expect(recent).toBe(true);
		expect(read).toEqual(await a.load(orderId));
	});

	it("commits a change on a fresh read when another instance changed the order since", async () => {
		const [a, b] = twoInstances();
		const created = await a.create({ customerName: "C", productName: "P", partitionKey: "Orders" });
		if (created.kind !== "created") throw new Error("not created");
		const { orderId } = created.order;
		expect((await a.get(orderId))?.status).toBe("Pending"); // a remembers Pending
		expect((await applyStatusChange(b, change(orderId, "Processing", "m1"))).kind).toBe("applied");
		const outcome = await applyStatusChange(a, change(orderId, "Shipped", "m2"));
		expect(outcome).toMatchObject({ kind: "applied", previous: "Processing" });
		expect((await b.history(orderId))?.map((h) => h.status)).toEqual(["Pending", "Processing", "Shipped"]);
	});

	it("answers a redelivery through a stale row as a duplicate, from a fresh read", async () => {
		const [a, b] = twoInstances();
		const created = await a.create({ customerName: "C", productName: "P", partitionKey: "Orders" });
		if (created.kind !== "created") throw new Error("not created");
		const { orderId } = created.order;
		await a.get(orderId); // a remembers Pending
		await applyStatusChange(b, change(orderId, "Processing", "m1"));
		await applyStatusChange(b, change(orderId, "Shipped", "m2"));
		// To a, m1 looks new (Pending -> Processing); the commit's ETag check says otherwise.
		expect((await applyStatusChange(a, change(orderId, "Processing", "m1"))).kind).toBe("duplicate");
		expect(await a.history(orderId)).toHaveLength(3);
	});

	it("answers noop from a fresh read, never from a remembered row", async () => {
		const [a, b] = twoInstances();
		const created = await a.create({ customerName: "C", productName: "P", partitionKey: "Orders" });
		if (created.kind !== "created") throw new Error("not created");
		const { orderId } = created.order;
		await applyStatusChange(a, change(orderId, "Processing", "m1")); // a remembers Processing
		await applyStatusChange(b, change(orderId, "Shipped", "m2"));
		// Remembered, Processing -> Processing is a noop; the order is Shipped: moving back is refused.
		const outcome = await applyStatusChange(a, change(orderId, "Processing", "m3"));
		expect(outcome).toMatchObject({ kind: "rejected", order: { status: "Shipped" } });
	});
});

describe("AzureTablesOrderStore: the outbox's index", () => {
	const newOrder = { customerName: "C", productName: "P", partitionKey: "Orders" };
	const setUp = () => {
		const table = uniqueTableName();
		const cs = inject("azuriteConnectionString");
		const store = createAzureTablesStore(cs, table, { recordEvents: true });
		const client = tableClient(cs, table);
		const indexed = async (orderId: string) => {
			try {
				await client.getEntity(PENDING_PARTITION, pendingRowKey(orderId, 0));
				return true;
			} catch {
				return false;
			}
		};
		return { store, indexed };
	};
	const createAndClear = async (store: ReturnType<typeof setUp>["store"]) => {
		const created = await store.create(newOrder);
		if (created.kind !== "created") throw new Error(created.kind);
		const [pending] = await store.pendingEvents(created.order.orderId);
		if (!pending) throw new Error("not recorded");
		await store.clearPendingEvent(pending);
		return created.order.orderId;
	};

	it("removes a published event's index row with the next event's mark, in its transaction", async () => {
		const { store, indexed } = setUp();
		const first = await createAndClear(store);
		expect(await indexed(first)).toBe(true); // waiting to ride with the next mark
		const created = await store.create(newOrder); // its mark is written before it answers
		if (created.kind !== "created") throw new Error(created.kind);
		expect(await indexed(first)).toBe(false);
		expect(await indexed(created.order.orderId)).toBe(true);
	});

	it("removes it on its own shortly when no other event follows", async () => {
		const { store, indexed } = setUp();
		const orderId = await createAndClear(store);
		const deadline = Date.now() + 15_000;
		while ((await indexed(orderId)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
		expect(await indexed(orderId)).toBe(false);
		expect(await store.ordersWithUnclaimedEvents()).toEqual([]);
	});

	it("brings the outbox rows the old scan sees into the index, held ones too, before it marks the table scanned", async () => {
		// Outbox rows from before the index are found by a scan of the whole table, a page of 1,000
		// at a time; once a pass is over, a marker tells every instance to stop scanning. What the
		// pass saw must be in the index by then, or a row whose holder stops is never found again.
		const table = uniqueTableName();
		const cs = inject("azuriteConnectionString");
		const client = tableClient(cs, table);
		await client.createTable();
		const held = Date.now() + 3_600_000;
		const rows = Array.from({ length: 1001 }, (_, i) => ({
			partitionKey: `p-${i.toString().padStart(4, "0")}`,
			rowKey: "o~0000000001",
			event: "{}",
			claimedUntil: i === 0 ? 0 : held, // one nobody holds; the others held by a publisher
		}));
		for (let i = 0; i < rows.length; i += 50)
			await Promise.all(rows.slice(i, i + 50).map((r) => client.createEntity(r)));
		const exists = (partitionKey: string, rowKey: string) =>
			client.getEntity(partitionKey, rowKey).then(
				() => true,
				() => false,
			);

		const store = createAzureTablesStore(cs, table, { recordEvents: true });
		const found: string[] = [];
		while (store.scanPasses === 0) found.push(...(await store.scanForUnindexedEvents()));
		expect(found).toEqual(["p-0000"]); // the held ones are their holders' to publish …
		expect(await exists(PENDING_PARTITION, "~scanned")).toBe(true);
		// … and in the index now, on the first page and on the last, should their holders stop.
		for (const orderId of ["p-0000", "p-0500", "p-1000"])
			expect(await exists(PENDING_PARTITION, pendingRowKey(orderId, 1))).toBe(true);
	}, 60_000);

	it("keeps a fresh mark whose commit has not landed yet; drops an old one whose event never came", async () => {
		// Another instance marked an event and is about to commit it (mark first, then the commit's
		// transaction): a sweep running in between must not take the index row away, or the event
		// would be unfindable should that instance stop before publishing it.
		const table = uniqueTableName();
		const cs = inject("azuriteConnectionString");
		// A lease far longer than this test takes on any machine.
		const sweeper = createAzureTablesStore(cs, table, { recordEvents: true, eventLeaseMs: 600_000 });
		const client = tableClient(cs, table);
		await sweeper.ordersWithUnclaimedEvents(); // creates the table
		const row = (orderId: string, at: number) => ({
			partitionKey: PENDING_PARTITION,
			rowKey: pendingRowKey(orderId, 1),
			at,
		});
		const exists = (orderId: string) =>
			client.getEntity(PENDING_PARTITION, pendingRowKey(orderId, 1)).then(
				() => true,
				() => false,
			);
		await client.createEntity(row("fresh-mark", Date.now()));
		await client.createEntity(row("failed-commit", Date.now() - 3_600_000)); // older than the lease

		expect(await sweeper.ordersWithUnclaimedEvents()).toEqual([]);
		// The old row is dropped (the marker that the sweep's drops are done) …
		const deadline = Date.now() + 10_000;
		while ((await exists("failed-commit")) && Date.now() < deadline)
			await new Promise((r) => setTimeout(r, 100));
		expect(await exists("failed-commit")).toBe(false);
		// … and the fresh one is there; its commit now lands, and the next sweep finds the event.
		expect(await exists("fresh-mark")).toBe(true);
		await client.createEntity({ partitionKey: "fresh-mark", rowKey: "o~0000000001", event: "{}" });
		expect(await sweeper.ordersWithUnclaimedEvents()).toEqual(["fresh-mark"]);
	});
});

describe("AzureTablesOrderStore: no status change committed without its index row", () => {
	// The in-process queue does not redeliver after a kill, and a Service Bus message may be
	// delivered for the last time: whatever the queue does, the sweep must be able to find every
	// event that was committed. So the index row is written first, and a change whose index write
	// fails is not committed. Storage here refuses (503) every write to the index partition.
	it("leaves the order as it was when the index cannot be written, and applies it once it can", async () => {
		const cs = inject("azuriteConnectionString");
		const azuritePort = Number(/TableEndpoint=http:\/\/127\.0\.0\.1:(\d+)/.exec(cs)?.[1]);
		let refuseIndex = false;
		const proxy = createServer((req, res) => {
			const chunks: Buffer[] = [];
			req.on("data", (c: Buffer) => chunks.push(c));
			req.on("end", () => {
				const body = Buffer.concat(chunks);
				if (refuseIndex && body.toString().includes(`PartitionKey='${PENDING_PARTITION}'`)) {
					res.writeHead(503, { "content-type": "application/json" });
					res.end('{"odata.error":{"code":"ServerBusy","message":{"value":"refused by the test"}}}');
					return;
				}
				const upstream = httpRequest(
					{ host: "127.0.0.1", port: azuritePort, method: req.method, path: req.url, headers: req.headers },
					(answer) => {
						res.writeHead(answer.statusCode ?? 502, answer.headers);
						answer.pipe(res);
					},
				);
				upstream.on("error", () => res.destroy());
				upstream.end(body);
			});
		});
		await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
		try {
			const { port } = proxy.address() as AddressInfo;
			const table = uniqueTableName();
			const store = createAzureTablesStore(cs.replace(`:${azuritePort}/`, `:${port}/`), table, {
				recordEvents: true,
				timeoutMs: 3_000,
			});
			const created = await store.create({ customerName: "C", productName: "P", partitionKey: "Orders" });
			if (created.kind !== "created") throw new Error(created.kind);
			const { orderId } = created.order;
			const change = {
				orderId,
				status: "Processing" as const,
				messageId: "m1",
				occurredAt: new Date().toISOString(),
			};

			refuseIndex = true;
			await expect(applyStatusChange(store, change)).rejects.toThrow();
			const reader = createAzureTablesStore(cs, table);
			expect((await reader.get(orderId))?.status).toBe("Pending");
			expect((await reader.history(orderId))?.map((h) => h.status)).toEqual(["Pending"]);

			refuseIndex = false;
			expect((await applyStatusChange(store, change)).kind).toBe("applied");
			await expect(
				tableClient(cs, table).getEntity(PENDING_PARTITION, pendingRowKey(orderId, 1)),
			).resolves.toBeTruthy();
		} finally {
			await new Promise<void>((resolve) => proxy.close(() => resolve()));
		}
	}, 60_000);
});
