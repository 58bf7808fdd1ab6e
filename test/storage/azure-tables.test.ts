import { describe } from "vitest";
import { azuriteStore } from "../support/tables.js";
import { orderStoreContract } from "./contract.js";

describe("AzureTablesOrderStore against Azurite", () =>
	orderStoreContract((options) => azuriteStore(options)));
