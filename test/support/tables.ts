import { inject } from "vitest";
import { type AzureTablesOptions, createAzureTablesStore } from "../../src/storage/azure-tables.js";

let counter = 0;

/** A fresh, empty table in the run's Azurite, so test files never see each other's orders. */
export function uniqueTableName(prefix = "T"): string {
	counter++;
	return `${prefix}${process.pid}x${Date.now().toString(36)}x${counter}`.replace(/[^A-Za-z0-9]/g, "");
}

export function azuriteStore(options: AzureTablesOptions = {}) {
	return createAzureTablesStore(inject("azuriteConnectionString"), uniqueTableName(), options);
}
