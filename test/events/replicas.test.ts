// Replicas from one configuration: each instance's heartbeat row in the event log's table, on
// Azurite, and what an instance makes of the others' rows (src/events/replicas.ts): a shared
// subscription is told once and in its state, a row left by a killed instance is not another
// instance and expires, and the feed counts as partial while others' events do not all reach it.
import { odata } from "@azure/data-tables";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { AzureTablesInstanceRegistry } from "../../src/events/azure-instances.js";
import { createAzureTablesEventLog } from "../../src/events/azure-log.js";
import { type InstanceRow, ReplicaWatch, replicaState } from "../../src/events/replicas.js";
import { linesLogger } from "../support/log.js";
import { uniqueTableName } from "../support/tables.js";

const HEARTBEAT = 150;
const EXPIRY = 1500;
const watches: ReplicaWatch[] = [];
afterEach(async () => {
	await Promise.all(watches.splice(0).map((w) => w.stop()));
});

async function registry() {
	const log = createAzureTablesEventLog(inject("azuriteConnectionString"), uniqueTableName("I"));
	await log.epoch(); // the table exists
	return { registry: new AzureTablesInstanceRegistry(log.client), client: log.client };
}

function watch(reg: AzureTablesInstanceRegistry, self: InstanceRow, expiryMs = EXPIRY) {
	const lines: string[] = [];
	const partial: boolean[] = [];
	const w = new ReplicaWatch({
		registry: reg,
		self,
		onFeedPartial: (p) => partial.push(p),
		log: linesLogger((l) => lines.push(l)),
		heartbeatMs: HEARTBEAT,
		expiryMs,
	});
	watches.push(w);
	return { w, lines, partial };
}

const row = (id: string, topic = "t", subscription = "s"): InstanceRow => ({ id, topic, subscription });

describe("replicaState", () => {
	it("a shared subscription, another subscription of the same topic, no topic", () => {
		const self = row("a");
		expect(replicaState(self, [self, row("b"), row("c", "t", "other")])).toEqual({
			instances: 3,
			sharedSubscription: { name: "s", instances: 2 },
			feedIsPartial: true,
			someFeedIsPartial: true,
		});
		expect(replicaState(self, [self, row("c", "t", "other")])).toEqual({
			instances: 2,
			feedIsPartial: false,
			someFeedIsPartial: false,
		});
		// Its own subscription, beside two that share one: its feed is whole, theirs are not.
		const own = row("o", "t", "own");
		expect(replicaState(own, [own, row("b"), row("c")])).toEqual({
			instances: 3,
			feedIsPartial: false,
			someFeedIsPartial: true,
		});
		// Service Bus names are case-insensitive: "T"/"S" is the same subscription.
		expect(replicaState(self, [self, row("e", "T", "S")])).toEqual({
			instances: 2,
			sharedSubscription: { name: "s", instances: 2 },
			feedIsPartial: true,
			someFeedIsPartial: true,
		});
		// An instance without a topic sends nothing to it: this one's feed misses its events.
		expect(replicaState(self, [self, row("d", "", "")])).toEqual({
			instances: 2,
			feedIsPartial: true,
			someFeedIsPartial: true,
		});
		const alone = row("a", "", "");
		expect(replicaState(alone, [alone])).toEqual({
			instances: 1,
			feedIsPartial: false,
			someFeedIsPartial: false,
		});
		expect(replicaState(alone, [alone, row("b", "", "")])).toEqual({
			instances: 2,
			feedIsPartial: true,
			someFeedIsPartial: true,
		});
	});
});

describe("ReplicaWatch over Azurite", () => {
	it("two instances on one subscription see each other, say so once, and the survivor says when it ends", async () => {
		const { registry: reg } = await registry();
		const a = watch(reg, row("host-1-aaaa"));
		const b = watch(reg, row("host-2-bbbb"));
		await Promise.all([a.w.start(), b.w.start()]);
		for (const x of [a, b]) {
			await vi.waitFor(() => expect(x.w.current.sharedSubscription).toEqual({ name: "s", instances: 2 }), {
				timeout: 5000,
			});
			expect(x.partial.at(-1)).toBe(true);
		}
		await vi.waitFor(() => expect(a.lines.filter((l) => l.includes("share subscription s"))).toHaveLength(1));
		expect(a.lines.find((l) => l.includes("share subscription s"))).toMatch(
			/^warn events: 2 instances share/,
		);
		// b stops (its row is removed): a tails normally again and says so.
		await b.w.stop();
		watches.splice(watches.indexOf(b.w), 1);
		await vi.waitFor(
			() => expect(a.w.current).toEqual({ instances: 1, feedIsPartial: false, someFeedIsPartial: false }),
			{
				timeout: 5000,
			},
		);
		expect(a.partial.at(-1)).toBe(false);
		expect(a.lines.some((l) => l.includes("subscription s is no longer shared"))).toBe(true);
		// Each said it once, however many heartbeats passed.
		expect(a.lines.filter((l) => l.includes("share subscription s"))).toHaveLength(1);
	});

	it("a row left by a killed instance is not reported as sharing, and is removed once expired", async () => {
		const { registry: reg, client } = await registry();
		// Room for a busy machine: the row must still be fresh when the next instance first looks.
		const expiry = 4000;
		await reg.beat(row("killed-1"), expiry); // its last heartbeat; it never removes its row
		const a = watch(reg, row("restarted-2"), expiry);
		await a.w.start();
		// Fresh, so it might be running: the log is tailed fast meanwhile, but nothing says "shared".
		expect(a.partial).toEqual([true]);
		expect(a.w.current).toEqual({ instances: 1, feedIsPartial: true, someFeedIsPartial: true });
		await vi.waitFor(() => expect(a.partial).toEqual([true, false]), { timeout: 15_000 });
		expect(a.lines.filter((l) => l.includes("share"))).toEqual([]);
		const rows = [];
		for await (const r of client.listEntities({
			queryOptions: { filter: odata`PartitionKey eq ${"instances"}` },
		}))
			rows.push(r.rowKey);
		expect(rows).toEqual(["restarted-2"]);
	});

	it("an instance without a topic beside others: the feed is partial, nothing is shared", async () => {
		const { registry: reg } = await registry();
		const a = watch(reg, row("n-1", "", ""));
		const b = watch(reg, row("n-2", "", ""));
		await Promise.all([a.w.start(), b.w.start()]);
		await vi.waitFor(
			() => expect(a.w.current).toEqual({ instances: 2, feedIsPartial: true, someFeedIsPartial: true }),
			{
				timeout: 5000,
			},
		);
		expect(a.lines.some((l) => /2 instance\(s\) on this event log without a topic/.test(l))).toBe(true);
	});
});
