// The orders API contract (./contract.ts) against the app on Node, over both stores.
import { MemoryOrderStore } from "../../src/storage/memory.js";
import type { OrderStore } from "../../src/storage/port.js";
import { makeTestApp } from "../support/app.js";
import { azuriteStore } from "../support/tables.js";
import { describeOrderRoutes, type MakeTarget } from "./contract.js";

function onNode(makeStore: () => OrderStore): MakeTarget {
	return async ({ maxBodyBytes }) => {
		const t = makeTestApp(makeStore(), { maxBodyBytes });
		return {
			request: async (path, init) => t.request(path, init),
			events: async () => t.events.events,
			closeQueue: () => t.queue.close(),
			queueKind: t.queue.kind,
			dispose: () => t.queue.close(),
		};
	};
}

describeOrderRoutes(
	"on Node over the memory store",
	onNode(() => new MemoryOrderStore()),
);
describeOrderRoutes(
	"on Node over Azure Tables (Azurite)",
	onNode(() => azuriteStore()),
);
