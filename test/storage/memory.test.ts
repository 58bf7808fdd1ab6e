import { describe } from "vitest";
import { MemoryOrderStore } from "../../src/storage/memory.js";
import { orderStoreContract } from "./contract.js";

describe("MemoryOrderStore", () => orderStoreContract((options) => new MemoryOrderStore(options)));
