// The orders API contract (test/orders/contract.ts) against the same app running inside workerd
// (wrangler dev), over the memory store and over Azure Tables in Azurite.
import { afterAll, beforeAll, inject } from "vitest";
import type { OrderEvent } from "../../src/domain/events.js";
import { describeOrderRoutes, type MakeTarget } from "../orders/contract.js";
import { withJsonBody } from "../support/app.js";
import { uniqueTableName } from "../support/tables.js";
import { type RunningWorker, startWorker } from "../support/workerd.js";
import type { ResetOptions } from "./harness.js";

let worker: RunningWorker;
beforeAll(async () => {
	worker = await startWorker({ script: "test/worker/harness.ts" });
}, 60_000);
afterAll(async () => {
	await worker?.stop();
});

function inWorkerd(storage: () => Omit<ResetOptions, "maxBodyBytes">): MakeTarget {
	return async ({ maxBodyBytes }) => {
		const post = (path: string, body?: unknown) =>
			fetch(`${worker.baseUrl}${path}`, {
				method: "POST",
				headers: { "content-type": "application/json" },
				body: JSON.stringify(body ?? {}),
			});
		const reset = await post("/__test/reset", { maxBodyBytes, ...storage() });
		if (reset.status !== 204) throw new Error(`reset failed: ${reset.status} ${await reset.text()}`);
		return {
			request: (path, init) => fetch(`${worker.baseUrl}${path}`, withJsonBody(init)),
			events: async () => (await (await fetch(`${worker.baseUrl}/__test/events`)).json()) as OrderEvent[],
			closeQueue: async () => {
				await post("/__test/close-queue");
			},
			queueKind: "in-isolate",
			dispose: async () => {},
		};
	};
}

describeOrderRoutes(
	"in workerd over the memory store",
	inWorkerd(() => ({})),
);
describeOrderRoutes(
	"in workerd over Azure Tables (Azurite)",
	inWorkerd(() => ({
		tableConnectionString: inject("azuriteConnectionString"),
		tableName: uniqueTableName("W"),
	})),
);
