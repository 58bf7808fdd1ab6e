// The EventLog contract: every adapter runs this same suite.
import { beforeEach, expect, it } from "vitest";
import { createdEvent } from "../../src/domain/events.js";
import type { Order } from "../../src/domain/order.js";
import { ClaimExpiredError, type EventLog } from "../../src/events/port.js";

/** A Pending order `o-<n>` for event fixtures. */
export const order = (n: number): Order => ({
	orderId: `o-${n}`,
	partitionKey: "Orders",
	customerName: "C",
	productName: "P",
	status: "Pending",
	createdAt: "2026-01-01T00:00:00.000Z",
	updatedAt: "2026-01-01T00:00:00.000Z",
});

/** `handles` views of one fresh log (several instances sharing it), and a clock the test moves. */
export type MakeLog = (handles: number, now: () => number) => EventLog[] | Promise<EventLog[]>;

export function eventLogContract(makeLog: MakeLog): void {
	let now = Date.parse("2026-01-01T00:00:00Z");
	let logs: EventLog[];
	beforeEach(async () => {
		now = Date.parse("2026-01-01T00:00:00Z");
		logs = await makeLog(3, () => now);
	});

	it("numbers appends 1, 2, 3…, reads them back in order from any position, and knows its head", async () => {
		const [log] = logs as [EventLog];
		expect(await log.head()).toBe(0);
		expect(await log.read(0, 10)).toEqual([]);
		for (let i = 1; i <= 3; i++) expect(await log.append(createdEvent(order(i)))).toBe(i);
		expect((await log.read(0, 10)).map((e) => [e.seq, e.event.order.orderId])).toEqual([
			[1, "o-1"],
			[2, "o-2"],
			[3, "o-3"],
		]);
		expect((await log.read(1, 1)).map((e) => e.seq)).toEqual([2]);
		expect(await log.read(3, 10)).toEqual([]);
		expect(await log.head()).toBe(3);
		expect(await log.read(0, 10)).toEqual(await logs[1]?.read(0, 10)); // every instance reads the same
		expect(await log.epoch()).toBe(await logs[2]?.epoch());
	});

	it("gives instances appending at once distinct positions without gaps", async () => {
		const appended = await Promise.all(
			Array.from({ length: 30 }, (_, i) =>
				(logs[i % logs.length] as EventLog).append(createdEvent(order(i))),
			),
		);
		expect([...appended].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
		const read = await (logs[0] as EventLog).read(0, 100);
		expect(read.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
		expect(new Set(read.map((e) => e.event.order.orderId)).size).toBe(30);
	});

	it("reads across its storage pages, and purges what is past retention", async () => {
		const [log] = logs as [EventLog];
		for (let i = 0; i < 1100; i += 50) {
			await Promise.all(Array.from({ length: 50 }, (_, j) => log.append(createdEvent(order(i + j)))));
		}
		const all = await log.read(0, 2000);
		expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 1100 }, (_, i) => i + 1));
		expect((await log.read(990, 20)).map((e) => e.seq)).toEqual(
			Array.from({ length: 20 }, (_, i) => 991 + i),
		);
		expect(await log.head()).toBe(1100);
		expect(await log.firstRetained()).toBe(1);

		now += 2 * 3600_000;
		await log.append(createdEvent(order(9999))); // a fresh one, to keep
		expect(await log.purge(3600_000)).toBeGreaterThan(0);
		const first = await log.firstRetained();
		expect(first).toBeGreaterThan(1);
		expect(first).toBeLessThanOrEqual(1101);
		expect((await log.read(first - 1, 1))[0]?.seq).toBe(first);
		// A read that starts among purged positions starts at the first kept one.
		expect((await log.read(0, 2000))[0]?.seq).toBe(first);
		expect(await log.head()).toBe(1101);
		expect(await (logs[1] as EventLog).append(createdEvent(order(10_000)))).toBe(1102);
	}, 60_000);

	it("refuses an append whose claim is over, and writes nothing", async () => {
		const [log] = logs as [EventLog];
		await log.append(createdEvent(order(1)));
		await expect(log.append(createdEvent(order(2)), now - 1)).rejects.toBeInstanceOf(ClaimExpiredError);
		expect(await log.append(createdEvent(order(3)), now + 3600_000)).toBe(2);
		expect((await log.read(0, 10)).map((e) => e.event.order.orderId)).toEqual(["o-1", "o-3"]);
	});

	it("tells its epoch and first kept position as stored now", async () => {
		const [log] = logs as [EventLog];
		expect(await log.state()).toEqual({ epoch: await log.epoch(), firstRetained: 1 });
	});

	it("keeps one shared secret for every instance, made once even when they ask at once", async () => {
		const secrets = await Promise.all(logs.map((l) => l.sharedSecret()));
		expect(secrets[0]?.length).toBeGreaterThanOrEqual(32);
		expect(new Set(secrets).size).toBe(1);
		expect(await (logs[1] as EventLog).sharedSecret()).toBe(secrets[0]);
		expect(await (logs[0] as EventLog).head()).toBe(0); // not an event
	});
}
