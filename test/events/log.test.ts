import { describe, inject } from "vitest";
import { type AzureTablesEventLog, createAzureTablesEventLog } from "../../src/events/azure-log.js";
import { MemoryEventLog } from "../../src/events/memory-log.js";
import { uniqueTableName } from "../support/tables.js";
import { eventLogContract } from "./log-contract.js";

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
