// With no TableStorage:ConnectionString the import writes where `npm start` keeps its orders: the
// embedded Azurite's data folder. While a service has that folder open the import refuses (two
// embedded Azurites on one file overwrite each other's writes); stopped, the import goes in, and the
// service started again serves the imported orders. Ctrl-C stops a run cleanly.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { Order } from "../../src/domain/order.js";
import { startService } from "../support/process.js";
import { fromLegacy, ordinaryOrders, runCli, seedLegacyTable, startCli } from "./support.js";

it("imports into the embedded store's folder, never while a service has it open", async () => {
	const dir = mkdtempSync(join(tmpdir(), "import-embedded-"));
	const env = {
		APPSETTINGS_PATH: join(dir, "none.json"),
		TableStorage__ConnectionString: "",
		Embedded__DataDir: join(dir, "data"),
	};
	const orders = ordinaryOrders(5, 1);
	const legacy = await seedLegacyTable(orders);
	const source = fromLegacy(legacy);

	let service = await startService(env);
	const refused = await runCli(source.args, { ...env, ...source.env });
	expect(refused.code).toBe(1);
	expect(refused.stderr).toMatch(/is in use by process \d+ \(npm start, or npm run import-legacy\)/);
	service.child.kill("SIGINT");
	expect(await service.exited).toBe(0);

	const imported = await runCli(source.args, { ...env, ...source.env });
	expect(imported.code, imported.stderr).toBe(0);
	expect(imported.stdout).toContain(`into: embedded Azurite, data in ${env.Embedded__DataDir}/`);
	expect(imported.stdout).toContain("  imported:  5\n");

	service = await startService(env);
	try {
		for (const o of orders) {
			const res = await fetch(`${service.baseUrl}/api/orders/${o.RowKey}`);
			expect(res.status).toBe(200);
			expect(((await res.json()) as Order).customerName).toBe(o.CustomerName);
		}
	} finally {
		service.child.kill("SIGINT");
		await service.exited;
	}
}, 120_000);

it("stops on Ctrl-C after the writes in flight, saying how to go on", async () => {
	const legacy = await seedLegacyTable(ordinaryOrders(2000, 10));
	const source = fromLegacy(legacy);
	const dir = mkdtempSync(join(tmpdir(), "import-interrupted-"));
	const env = {
		APPSETTINGS_PATH: join(dir, "none.json"),
		TableStorage__ConnectionString: "",
		Embedded__DataDir: join(dir, "data"),
	};
	const run = startCli(source.args, { ...env, ...source.env });
	// Interrupted while it writes (its first line comes after the first pass).
	await new Promise<void>((resolve) =>
		run.child.stdout?.on("data", (d: Buffer) => d.toString().includes("entities in") && resolve()),
	);
	await new Promise((resolve) => setTimeout(resolve, 1500)); // some writes under way (counted below)
	run.child.kill("SIGINT");
	const result = await run.done;
	expect(result.code).toBe(130);
	expect(result.stdout).toContain("Interrupted. Run the same command again to go on from where it stopped.");
	const done = Number(/ {2}imported: {2}(\d+)\n/.exec(result.stdout)?.[1]);
	expect(done).toBeGreaterThan(0);
	expect(done).toBeLessThan(2000);

	const again = await runCli(source.args, { ...env, ...source.env });
	expect(again.code, again.stderr).toBe(0);
	expect(again.stdout).toContain(`  imported:  ${2000 - done}\n`);
	expect(again.stdout).toContain(`  here already, left alone: ${done}\n`);
}, 180_000);
