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
		logged.push({ seq: await log.append(createdEvent(order(i))), event: createdEvent(order(i)) });
	return { log, logged };
}

describe("EventSequencer", () => {
	it("hands over in position order, once, whatever order and repeats the feed brings", async () => {
		const { log, logged } = await logWith(5);
		const out: number[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 0);
		for (const i of [0, 2, 1, 1, 0, 3]) sequencer.accept(logged[i] as LoggedEvent);
		await vi.waitFor(() => expect(out).toEqual([1, 2, 3, 4]));
		sequencer.accept(logged[4] as LoggedEvent);
		sequencer.accept(logged[4] as LoggedEvent);
		expect(out).toEqual([1, 2, 3, 4, 5]);
	});

	it("reads a position the feed skipped from the log at once", async () => {
		const { log, logged } = await logWith(3);
		const out: number[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 0, { pollMs: 60_000 });
		sequencer.accept(logged[2] as LoggedEvent); // 1 and 2 never come on the feed
		await vi.waitFor(() => expect(out).toEqual([1, 2, 3]));
	});

	it("finds what the feed lost at the tail by polling the log", async () => {
		const { log } = await logWith(2);
		const out: number[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 0, { pollMs: 50 });
		sequencer.start();
		await vi.waitFor(() => expect(out).toEqual([1, 2]));
		await log.append(createdEvent(order(3)));
		await vi.waitFor(() => expect(out).toEqual([1, 2, 3]));
	});

	it("starts after the position it is given (what came before is replay, not live)", async () => {
		const { log, logged } = await logWith(3);
		const out: number[] = [];
		sequencer = new EventSequencer(log, (l) => out.push(l.seq), 2);
		sequencer.accept(logged[1] as LoggedEvent);
		sequencer.accept(logged[2] as LoggedEvent);
		expect(out).toEqual([3]);
	});
});
