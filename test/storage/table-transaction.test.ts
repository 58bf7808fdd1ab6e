// The hand-built $batch (src/storage/table-transaction.ts) against Azurite, beside the SDK's own
// submitTransaction on the same table: the same rows written, the same answers, the same errors.
import {
	AzureNamedKeyCredential,
	generateAccountSas,
	RestError,
	TableClient,
	type TransactionAction,
} from "@azure/data-tables";
import { describe, expect, inject, it } from "vitest";
import { tableClient } from "../../src/storage/azure-tables.js";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "../../src/storage/embedded-azurite.js";
import { submitTransaction } from "../../src/storage/table-transaction.js";
import { uniqueTableName } from "../support/tables.js";

const setUp = async () => {
	const client = tableClient(inject("azuriteConnectionString"), uniqueTableName("Tx"));
	await client.createTable();
	return client;
};

/** What a failed transaction says, to compare ours with the SDK's. */
const failure = async (attempt: Promise<unknown>) => {
	const err = await attempt.then(
		() => undefined,
		(e: unknown) => e,
	);
	expect(err).toBeInstanceOf(RestError);
	const { statusCode, code } = err as RestError;
	return { statusCode, code };
};

// Keys with what needs escaping in an entity's address: a quote (doubled), spaces, %, !, é, +.
const KEYS = ["plain", "o'neil", "a b%20c!d", "é+ü", "''"];

describe("submitTransaction (hand-built $batch) against Azurite", () => {
	it("writes the rows the SDK writes, values and keys alike, and answers an ETag per action", async () => {
		const client = await setUp();
		const values = {
			s: 'line\nbreak "quoted" é 😀',
			n: 42,
			big: 2 ** 40,
			x: 1.5,
			t: true,
			f: false,
			empty: "",
		};
		for (const [i, partitionKey] of KEYS.entries()) {
			const ours = await submitTransaction(client, [
				["create", { partitionKey, rowKey: `ours'${i}`, ...values }],
				["create", { partitionKey, rowKey: `ours ${i}!`, ...values }],
			]);
			await client.submitTransaction([
				["create", { partitionKey, rowKey: `sdk'${i}`, ...values }],
				["create", { partitionKey, rowKey: `sdk ${i}!`, ...values }],
			]);
			expect(ours.subResponses.map((r) => r.status)).toEqual([204, 204]);
			for (const r of ours.subResponses) expect(r.etag).toMatch(/^W\/"datetime'/);
			const { etag: _a, timestamp: _b, ...oursRow } = await client.getEntity(partitionKey, `ours'${i}`);
			const { etag: _c, timestamp: _d, ...sdkRow } = await client.getEntity(partitionKey, `sdk'${i}`);
			expect({ ...oursRow, rowKey: "" }).toEqual({ ...sdkRow, rowKey: "" });
		}
	});

	it("updates on an ETag, merges, replaces, upserts and deletes, in one partition, atomically", async () => {
		const client = await setUp();
		const partitionKey = "o'neil é";
		const created = await submitTransaction(client, [
			["create", { partitionKey, rowKey: "a", v: 1, keep: "yes" }],
			["create", { partitionKey, rowKey: "b", v: 1, keep: "yes" }],
			["create", { partitionKey, rowKey: "gone'", v: 1 }],
		]);
		await submitTransaction(client, [
			["update", { partitionKey, rowKey: "a", v: 2 }, "Merge", { etag: created.subResponses[0]?.etag }],
			["update", { partitionKey, rowKey: "b", v: 2 }, "Replace"],
			["upsert", { partitionKey, rowKey: "c", v: 2 }, "Merge"],
			["delete", { partitionKey, rowKey: "gone'" }],
		]);
		const rows = new Map<string, Record<string, unknown>>();
		for await (const e of client.listEntities({ queryOptions: { filter: `PartitionKey eq 'o''neil é'` } }))
			rows.set(e.rowKey as string, { v: e.v, keep: e.keep });
		expect(Object.fromEntries(rows)).toEqual({
			a: { v: 2, keep: "yes" }, // merged
			b: { v: 2, keep: undefined }, // replaced
			c: { v: 2, keep: undefined },
		});
	});

	it("fails as the SDK fails: 409 for a row that exists, 412 for a stale ETag, 404 for a missing row; nothing written", async () => {
		const client = await setUp();
		const first = await submitTransaction(client, [["create", { partitionKey: "p", rowKey: "a", v: 1 }]]);
		const stale = first.subResponses[0]?.etag;
		await submitTransaction(client, [
			["update", { partitionKey: "p", rowKey: "a", v: 2 }, "Merge", { etag: stale }],
		]);
		const cases: TransactionAction[][] = [
			[
				["create", { partitionKey: "p", rowKey: "new", v: 1 }],
				["create", { partitionKey: "p", rowKey: "a", v: 1 }],
			],
			[
				["create", { partitionKey: "p", rowKey: "new", v: 1 }],
				["update", { partitionKey: "p", rowKey: "a", v: 3 }, "Merge", { etag: stale }],
			],
			[
				["create", { partitionKey: "p", rowKey: "new", v: 1 }],
				["delete", { partitionKey: "p", rowKey: "missing" }],
			],
		];
		const expected = [409, 412, 404];
		for (const [i, actions] of cases.entries()) {
			const ours = await failure(submitTransaction(client, actions));
			const sdk = await failure(client.submitTransaction(actions));
			expect(ours).toEqual(sdk);
			expect(ours.statusCode).toBe(expected[i]);
		}
		await expect(client.getEntity("p", "new")).rejects.toMatchObject({ statusCode: 404 });
		expect((await client.getEntity("p", "a")).v).toBe(2);
	});

	it("refuses what it would not write as the SDK does, before sending: other types, mixed partitions, nothing", async () => {
		const client = await setUp();
		await expect(
			submitTransaction(client, [["create", { partitionKey: "p", rowKey: "a", at: new Date() }]]),
		).rejects.toThrow(/property at/);
		await expect(
			submitTransaction(client, [
				["create", { partitionKey: "p", rowKey: "a" }],
				["create", { partitionKey: "q", rowKey: "b" }],
			]),
		).rejects.toThrow(/same partitionKey/);
		await expect(submitTransaction(client, [])).rejects.toThrow(/at least one action/);
		await expect(client.getEntity("p", "a")).rejects.toMatchObject({ statusCode: 404 });
	});

	it("works with a SAS connection string (the SAS on the batch request, not on its parts)", async () => {
		const owner = await setUp();
		// An account SAS: a batch request names no table, so a table SAS does not cover it (nor the SDK's).
		const sas = generateAccountSas(new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY), {
			permissions: { add: true, query: true, update: true, delete: true, write: true },
			resourceTypes: "sco",
		});
		const endpoint = owner.url.replace(/\/$/, "");
		const client = TableClient.fromConnectionString(
			`TableEndpoint=${endpoint};SharedAccessSignature=${sas}`,
			owner.tableName,
			{ allowInsecureConnection: true },
		);
		await client.submitTransaction([["create", { partitionKey: "p", rowKey: "sdk", v: 1 }]]);
		await submitTransaction(client, [["create", { partitionKey: "p", rowKey: "a", v: 1 }]]);
		expect((await owner.getEntity("p", "a")).v).toBe(1);
	});

	it("gives up when its abort signal fires, as every storage call does", async () => {
		const client = await setUp();
		const controller = new AbortController();
		controller.abort();
		const err = await submitTransaction(client, [["create", { partitionKey: "p", rowKey: "a" }]], {
			abortSignal: controller.signal,
		}).catch((e: unknown) => e as Error);
		expect(err).toMatchObject({ name: "AbortError" });
	});
});
