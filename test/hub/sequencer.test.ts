// The sequencer between the feed and the hub: positions in order, each once, gaps read from the
// log, the tail polled for what the feed never brought. Over the memory event log (its contract
// is in test/events/).
import { afterEach, describe, expect, it, vi } from "vitest";
import { createdEvent } from "../../src/domain/events.js";
import { MemoryEventLog } from "../../src/events/memory-log.js";
import type { LoggedEvent } from "../../src/events/port.js";
import { EventSequencer } from "../../src/hub/sequencer.js";
import { order } from "../events/log-contract.js";

let sequencer: EventSequencer | undefined;
afterEach(() => sequencer?.stop());

async function logWith(n: number) {
	const log = new MemoryEventLog();
	const logged: LoggedEvent[] = [];
	for (let i = 1; i <= n; i++)
		logged.push({
			seq: await log.append(createdEvent(order(i))),
			event: createdEvent(order(i)),
			epoch: await log.epoch(),
		});
	return { log, logged };
}

describe("EventSequencer", () => {
	it("hands over in position order, once, whatever order and repeats the feed brings", async () => {
		const { log, logged } = await logWith(5);
		const out: number[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 0, await log.epoch());
		for (const i of [0, 2, 1, 1, 0, 3]) sequencer.accept(logged[i] as LoggedEvent);
		await vi.waitFor(() => expect(out).toEqual([1, 2, 3, 4]));
		sequencer.accept(logged[4] as LoggedEvent);
		sequencer.accept(logged[4] as LoggedEvent);
		expect(out).toEqual([1, 2, 3, 4, 5]);
	});

	it("reads a position the feed skipped from the log at once", async () => {
		const { log, logged } = await logWith(3);
		const out: number[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 0, await log.epoch(), { pollMs: 60_000 });
		sequencer.accept(logged[2] as LoggedEvent); // 1 and 2 never come on the feed
		await vi.waitFor(() => expect(out).toEqual([1, 2, 3]));
	});

	it("finds what the feed lost at the tail by polling the log", async () => {
		const { log } = await logWith(2);
		const out: number[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 0, await log.epoch(), { pollMs: 50 });
		sequencer.start();
		await vi.waitFor(() => expect(out).toEqual([1, 2]));
		await log.append(createdEvent(order(3)));
		await vi.waitFor(() => expect(out).toEqual([1, 2, 3]));
	});

	it("reads just the positions a gap on the feed is missing (they exist), then one past them", async () => {
		const { log, logged } = await logWith(20);
		const reads: [number, number][] = [];
		const read = log.read.bind(log);
		log.read = (after, limit) => {
			reads.push([after, limit]);
			return read(after, limit);
		};
		const out: number[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 0, await log.epoch(), { pollMs: 60_000 });
		sequencer.accept(logged[14] as LoggedEvent); // 15 came; 1-14 went elsewhere
		await vi.waitFor(() => expect(out).toHaveLength(20));
		expect(out).toEqual(logged.map((l) => l.seq));
		// 14 known to exist in one read; past them one, then eight (16-20 never came on the feed;
		// fewer than asked for ends the pass).
		expect(reads).toEqual([
			[0, 14],
			[15, 1],
			[16, 8],
		]);
	});

	it("tails the log fast while the feed brings only part of the events (replicas on one subscription)", async () => {
		const { log } = await logWith(1);
		const out: number[] = [];
		// The poll would take a minute: only the fast tail can find what others logged.
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 1, await log.epoch(), { pollMs: 60_000 });
		sequencer.start();
		sequencer.setFastTail(true);
		expect(sequencer.tailingFast).toBe(true);
		const appended = Date.now();
		await log.append(createdEvent(order(2)));
		await log.append(createdEvent(order(3)));
		await vi.waitFor(() => expect(out).toEqual([2, 3]), { timeout: 5000, interval: 5 });
		// Within its idle pace (150 ms), with room for a busy machine.
		expect(Date.now() - appended).toBeLessThan(2000);
		sequencer.setFastTail(false);
		expect(sequencer.tailingFast).toBe(false);
	});

	it("starts after the position it is given (what came before is replay, not live)", async () => {
		const { log, logged } = await logWith(3);
		const out: number[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 2, await log.epoch());
		sequencer.accept(logged[1] as LoggedEvent);
		sequencer.accept(logged[2] as LoggedEvent);
		expect(out).toEqual([3]);
	});

	it("takes no feed message without this log's epoch, and reads the log's real event at that position", async () => {
		const { log, logged } = await logWith(2);
		const out: string[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.event.order.orderId), 0, await log.epoch(), {
			pollMs: 60_000,
		});
		// From an older build or another producer on a shared topic: no epoch, or another one.
		const { epoch: _, ...noEpoch } = logged[0] as LoggedEvent;
		sequencer.accept({ ...noEpoch, event: createdEvent(order(666)) });
		sequencer.accept({ ...(logged[0] as LoggedEvent), event: createdEvent(order(667)), epoch: "other" });
		expect(out).toEqual([]);
		sequencer.accept(logged[1] as LoggedEvent); // position 2: position 1 is read from the log
		await vi.waitFor(() => expect(out).toEqual(["o-1", "o-2"]));
	});

	it("goes on from the head of a recreated log, and says so", async () => {
		const { log, logged } = await logWith(3);
		const restarts: unknown[] = [];
		const out: string[] = [];
		sequencer = new EventSequencer(
			log,
			(l) => out.push(`${l.seq}:${l.event.order.orderId}`),
			0,
			await log.epoch(),
			{
				pollMs: 60_000,
				onRestart: (epoch, head, reason) => restarts.push({ epoch, head, reason }),
			},
		);
		for (const l of logged) sequencer.accept(l);
		log.recreate();
		await log.append(createdEvent(order(10)));
		await sequencer.poll();
		expect(restarts).toEqual([{ epoch: await log.epoch(), head: 1, reason: "log-recreated" }]);
		const seq = await log.append(createdEvent(order(11)));
		sequencer.accept({ seq, event: createdEvent(order(11)), epoch: await log.epoch() });
		expect(out).toEqual(["1:o-1", "2:o-2", "3:o-3", "2:o-11"]);
	});

	it("goes on from the head when the log was purged past its position", async () => {
		let now = 0;
		const log = new MemoryEventLog(() => now);
		for (let i = 1; i <= 3; i++) await log.append(createdEvent(order(i)));
		const restarts: string[] = [];
		sequencer = new EventSequencer(log, () => {}, 0, await log.epoch(), {
			pollMs: 60_000,
			onRestart: (_epoch, head, reason) => restarts.push(`${reason}@${head}`),
		});
		now = 10_000;
		await log.append(createdEvent(order(4)));
		await log.purge(1000);
		await sequencer.poll();
		expect(restarts).toEqual(["fell-behind-retention@4"]);
	});
});
