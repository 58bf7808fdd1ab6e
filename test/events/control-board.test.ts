// SignalR control messages in the event log's table (src/events/azure-control.ts), on Azurite:
// read back by the time they were posted, whatever their size, and removed once old.
import { odata } from "@azure/data-tables";
import { describe, expect, inject, it } from "vitest";
import { AzureTablesControlBoard } from "../../src/events/azure-control.js";
import { createAzureTablesEventLog } from "../../src/events/azure-log.js";
import { uniqueTableName } from "../support/tables.js";

async function board(now: () => number) {
	const log = createAzureTablesEventLog(inject("azuriteConnectionString"), uniqueTableName("K"));
	await log.epoch(); // the table exists
	return { board: new AzureTablesControlBoard(log.client, 5000, now), client: log.client };
}

describe("AzureTablesControlBoard", () => {
	it("answers the messages of the last seconds, oldest first, and removes old ones", async () => {
		let now = 1_800_000_000_000;
		const { board: b, client } = await board(() => now);
		await b.post("old", { connectionId: "c0", close: true });
		now += 61_000;
		// Larger than one string property holds (the 100 invocation ids of a 64 KB POST, escaped).
		const refuse = Array.from({ length: 100 }, (_, i) => `${i}-${"\u00e9".repeat(400)}`);
		await b.post("big", { connectionId: "c1", refuse });
		now += 10;
		await b.post("next", { connectionId: "c2", handshakeError: "no" });

		expect(await b.recent(30_000)).toEqual([
			{ id: "big", message: { connectionId: "c1", refuse } },
			{ id: "next", message: { connectionId: "c2", handshakeError: "no" } },
		]);
		expect(await b.removeOld(60_000)).toBe(1);
		const left: string[] = [];
		for await (const r of client.listEntities({
			queryOptions: { filter: odata`PartitionKey eq ${"control"}` },
		}))
			left.push(r.rowKey as string);
		expect(left.map((k) => k.slice(16))).toEqual(["big", "next"]);
		await expect(b.post("a/b", {})).rejects.toThrow(/id is/);
	});
});
