// The import with no key at all: the legacy table read with --from-service-uri and the service's
// store reached through TableStorage:ServiceUri, both with tokens from the tests' managed-identity
// endpoint, against Azurite with OAuth over HTTPS (a certificate the test makes).
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedAzurite, startEmbeddedAzurite } from "../../src/storage/embedded-azurite.js";
import { TestManagedIdentityEndpoint } from "../support/managed-identity.js";
import { uniqueTableName } from "../support/tables.js";
import { makeTestCertificate, type TestCertificate } from "../support/tls.js";
import { runCli } from "./support.js";

let tls: TestCertificate;
let azurite: EmbeddedAzurite;
let endpoint: TestManagedIdentityEndpoint;
const dataDir = mkdtempSync(join(tmpdir(), "order-tracker-import-identity-"));

beforeAll(async () => {
	tls = await makeTestCertificate();
	azurite = await startEmbeddedAzurite({
		dataDir,
		https: { cert: tls.certPath, key: tls.keyPath },
		oauth: true,
	});
	endpoint = await TestManagedIdentityEndpoint.start();
});
afterAll(async () => {
	await endpoint?.close();
	await azurite?.close();
	tls?.remove();
	rmSync(dataDir, { recursive: true, force: true });
});

/**
 * Writes legacy-shaped orders over HTTPS, in a child that trusts the test's certificate as a machine
 * would (asynchronously: Azurite runs in this process and must go on answering).
 */
async function seedOverHttps(table: string, ids: string[]): Promise<void> {
	const script = `
		import { TableClient } from "@azure/data-tables";
		const client = TableClient.fromConnectionString(process.env.CS, process.env.TABLE);
		await client.createTable();
		for (const id of JSON.parse(process.env.IDS))
			await client.createEntity({ partitionKey: "shop", rowKey: id, CustomerName: "Ada", ProductName: "Tea", Status: "shipped" });
	`;
	await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
		env: {
			...process.env,
			NODE_EXTRA_CA_CERTS: tls.certPath,
			CS: azurite.connectionString,
			TABLE: table,
			IDS: JSON.stringify(ids),
		},
	});
}

describe("import-legacy with a managed identity", () => {
	it("reads the legacy table with --from-service-uri and writes to TableStorage:ServiceUri, no key anywhere", async () => {
		const legacy = uniqueTableName("Legacy");
		const ids = [randomUUID(), randomUUID(), randomUUID()];
		await seedOverHttps(legacy, ids);
		const env = {
			...endpoint.environment,
			NODE_EXTRA_CA_CERTS: tls.certPath,
			APPSETTINGS_PATH: join(dataDir, "none.json"),
			TableStorage__ServiceUri: azurite.serviceUri,
			TableStorage__TableName: uniqueTableName("Into"),
			Embedded__DataDir: join(dataDir, "unused"), // nothing may start embedded Azurite
		};
		for (const value of Object.values(env)) expect(value).not.toMatch(/AccountKey/);
		const args = ["--from-service-uri", azurite.serviceUri, "--from-table", legacy];

		const first = await runCli(args, env);
		expect(first.stderr).toBe("");
		expect(first.code).toBe(0);
		expect(first.stdout).toMatch(
			/into: Azure Table Storage at https:\/\/127\.0\.0\.1:\d+\/\S+ with a managed identity/,
		);
		expect(first.stdout).not.toMatch(/embedded Azurite/);
		expect(first.stdout).toMatch(/imported: +3/);
		// The orders are in the store: a second run finds every one of them there.
		const second = await runCli(args, env);
		expect(second.code).toBe(0);
		expect(second.stdout).toMatch(/imported: +0/);
		expect(second.stdout).toMatch(/here already, left alone: 3/);
		expect(endpoint.requests.length).toBeGreaterThan(0);
		for (const r of endpoint.requests)
			expect(r).toEqual({ resource: "https://storage.azure.com", clientId: endpoint.clientId });
		for (const token of endpoint.issued)
			expect(first.stdout + second.stdout).not.toContain(token.split(".")[2]);
	}, 120_000);

	it("refuses both source forms at once, naming them", async () => {
		const run = await runCli(
			["--from-service-uri", azurite.serviceUri, "--from-connection-string", "UseDevelopmentStorage=true"],
			{ APPSETTINGS_PATH: join(dataDir, "none.json") },
		);
		expect(run.code).toBe(2);
		expect(run.stderr).toMatch(/--from-service-uri and --from-connection-string .* both given/);
	});
});
