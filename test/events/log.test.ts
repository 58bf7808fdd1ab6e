import { TableClient } from "@azure/data-tables";
import { describe, expect, inject, it } from "vitest";
import { createdEvent } from "../../src/domain/events.js";
import {
	type AzureTablesEventLog,
	createAzureTablesEventLog,
	eventTableName,
} from "../../src/events/azure-log.js";
import { MemoryEventLog } from "../../src/events/memory-log.js";
import { ClaimExpiredError } from "../../src/events/port.js";
import { uniqueTableName } from "../support/tables.js";
import { eventLogContract, order } from "./log-contract.js";

describe("MemoryEventLog", () =>
	eventLogContract((handles, now) => {
		const log = new MemoryEventLog(now);
		return Array.from({ length: handles }, () => log);
	}));

describe("AzureTablesEventLog against Azurite", () =>
	eventLogContract((handles, now) => {
		const table = uniqueTableName("L");
		return Array.from(
			{ length: handles },
			(): AzureTablesEventLog => createAzureTablesEventLog(inject("azuriteConnectionString"), table, { now }),
		);
	}));

describe("AzureTablesEventLog's fences", () => {
	const connection = () => inject("azuriteConnectionString");

	it("does not start a write that could land after the claim ends (the claim must outlast the deadline)", async () => {
		const log = createAzureTablesEventLog(connection(), uniqueTableName("L"), { timeoutMs: 5000 });
		await log.append(createdEvent(order(1)));
		// 3 s of claim left is less than a 5 s write deadline: another instance may take over first.
		await expect(log.append(createdEvent(order(2)), Date.now() + 3000)).rejects.toBeInstanceOf(
			ClaimExpiredError,
		);
		expect(await log.append(createdEvent(order(3)), Date.now() + 10_000)).toBe(2);
		expect(await log.head()).toBe(2);
	});

	it("appends at a recreated log's positions, not past them, and adopts its epoch", async () => {
		const table = uniqueTableName("L");
		const old = createAzureTablesEventLog(connection(), table);
		for (let i = 1; i <= 5; i++) await old.append(createdEvent(order(i)));
		const oldEpoch = await old.epoch();
		await TableClient.fromConnectionString(connection(), eventTableName(table), {
			allowInsecureConnection: true,
		}).deleteTable();
		const fresh = createAzureTablesEventLog(connection(), table);
		expect(await fresh.append(createdEvent(order(10)))).toBe(1);
		expect(await fresh.append(createdEvent(order(11)))).toBe(2);
		// The old handle still aims at 6: it finds position 5 gone and appends at 3.
		expect(await old.append(createdEvent(order(12)))).toBe(3);
		expect(await old.epoch()).toBe(await fresh.epoch());
		expect(await old.epoch()).not.toBe(oldEpoch);
		expect((await fresh.read(0, 10)).map((e) => e.event.order.orderId)).toEqual(["o-10", "o-11", "o-12"]);
	});
});
