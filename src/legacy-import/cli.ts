// `npm run import-legacy`: brings the orders of the table the .NET original wrote into the store
// this service is configured with (the same configuration `npm start` reads: src/node-config.ts).
// A second composition root beside src/node.ts: it reads the configuration, builds the store (and,
// with --publish, the event publisher), runs src/legacy-import/runner.ts and says what it did.
// See docs/switching-from-dotnet.md.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import type { TableClient } from "@azure/data-tables";
import { ConfigError, storeOptions } from "../config.js";
import { createAzureTablesEventLog } from "../events/azure-log.js";
import { InProcessEventFeed } from "../events/in-process-feed.js";
import { EventPublisher } from "../events/publisher.js";
import { loadConfig } from "../node-config.js";
import { createAzureTablesStore, tableClient } from "../storage/azure-tables.js";
import { type EmbeddedAzurite, startEmbeddedAzurite } from "../storage/embedded-azurite.js";
import { type IdSource, parseStatusMap } from "./mapper.js";
import { LegacyTableError } from "./reader.js";
import { runImport, summaryLines } from "./runner.js";

const USAGE = `Usage: npm run import-legacy -- --from-connection-string '<connection string>' [options]

Imports the orders of the table the .NET order tracker wrote into this service's store (the one
npm start uses: TableStorage:ConnectionString, or embedded Azurite under Embedded:DataDir).

  --from-connection-string S  the storage account the .NET service wrote to (or set
                              LEGACY_CONNECTION_STRING, which keeps it out of shell history)
  --from-table NAME           its table (default OrderTracking)
  --id-from RowKey|OrderId    where the order ids are (default: OrderId when every entity has one,
                              else RowKey)
  --map-status "Old=New"      import the legacy status Old as New (repeatable), e.g. "In transit=Shipped"
  --update                    overwrite orders already here with the legacy values (default: leave them)
  --dry-run                   read and compare, write nothing
  --publish                   broadcast an OrderCreated event for each imported order (default: none)
  --help                      this text

Exit code 0 when every order was imported or was here already; 1 when a write failed; 2 for bad
usage; 130 when interrupted (Ctrl-C: the writes in flight finish; run again to go on).`;

class UsageError extends Error {}

function parse(argv: string[]) {
	let values: ReturnType<typeof parseOptions>["values"];
	try {
		values = parseOptions(argv).values;
	} catch (err) {
		throw new UsageError((err as Error).message);
	}
	const problems: string[] = [];
	const connectionString = values["from-connection-string"] ?? process.env.LEGACY_CONNECTION_STRING;
	if (!values.help && !connectionString?.trim())
		problems.push("--from-connection-string (or LEGACY_CONNECTION_STRING) is required");
	const idFrom = values["id-from"];
	if (idFrom !== undefined && idFrom !== "RowKey" && idFrom !== "OrderId")
		problems.push(`--id-from must be RowKey or OrderId, not '${idFrom}'`);
	const table = values["from-table"];
	if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(table))
		problems.push(
			`--from-table '${table}' is not a table name (3-63 letters or digits, starting with a letter)`,
		);
	const statusMap = parseStatusMap(values["map-status"] ?? []);
	problems.push(...statusMap.problems);
	if (problems.length > 0) throw new UsageError(problems.join("\n"));
	return {
		help: values.help ?? false,
		connectionString: connectionString?.trim() ?? "",
		table,
		idFrom: idFrom as IdSource | undefined,
		statusMap: statusMap.map,
		update: values.update ?? false,
		dryRun: values["dry-run"] ?? false,
		publish: values.publish ?? false,
	};
}

function parseOptions(argv: string[]) {
	return parseArgs({
		args: argv,
		strict: true,
		allowPositionals: false,
		options: {
			"from-connection-string": { type: "string" },
			"from-table": { type: "string", default: "OrderTracking" },
			"id-from": { type: "string" },
			"map-status": { type: "string", multiple: true },
			update: { type: "boolean" },
			"dry-run": { type: "boolean" },
			publish: { type: "boolean" },
			help: { type: "boolean", short: "h" },
		},
	});
}

/** A client of the legacy table; a connection string the SDK cannot parse is a usage error (never echoed: it holds a key). */
function legacyClient(connectionString: string, table: string): TableClient {
	try {
		return tableClient(connectionString, table);
	} catch (err) {
		const why = err instanceof TypeError ? "" : ` (${(err as Error).message})`;
		throw new UsageError(
			`the legacy connection string is not a Table Storage connection string${why}: expected DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net, a SAS form, or UseDevelopmentStorage=true`,
		);
	}
}

/** The account and table a client points at, to tell whether two clients are the same table. */
const tableIdentity = (client: { url: string; tableName: string }) =>
	`${client.url.replace(/\/+$/, "").toLowerCase()}|${client.tableName.toLowerCase()}`;

async function main(): Promise<number> {
	const args = parse(process.argv.slice(2));
	if (args.help) {
		process.stdout.write(`${USAGE}\n`);
		return 0;
	}
	const config = loadConfig();
	// Ctrl-C: the writes in flight finish and the store is closed (embedded: flushed to disk); again: at once.
	const interrupt = new AbortController();
	process.on("SIGINT", () => {
		if (interrupt.signal.aborted) process.exit(130);
		interrupt.abort();
	});
	const source = legacyClient(args.connectionString, args.table);
	const say = (line: string) => process.stdout.write(`${line}\n`);
	const tty = process.stderr.isTTY === true;
	// On a terminal one line rewritten in place; in a log (a pipeline, a container) a line every 10 s.
	let lastLogged = Date.now();
	const progress = tty
		? (text: string) => process.stderr.write(`\r\x1b[K${text}`)
		: (text: string) => {
				if (Date.now() - lastLogged < 10_000) return;
				lastLogged = Date.now();
				say(`progress ${text}`);
			};

	let azurite: EmbeddedAzurite | undefined;
	let connectionString = config.TableStorage.ConnectionString;
	const tableName = config.TableStorage.TableName;
	if (!connectionString) {
		// The store npm start uses with no connection string: its data folder (stop npm start first).
		azurite = await startEmbeddedAzurite({ dataDir: config.Embedded.DataDir });
		connectionString = azurite.connectionString;
		say(`into: embedded Azurite, data in ${config.Embedded.DataDir}/, table ${tableName}`);
	} else say(`into: Azure Table Storage, table ${tableName}`);
	try {
		const destination = tableClient(connectionString, tableName);
		if (tableIdentity(source) === tableIdentity(destination))
			throw new UsageError(
				`the legacy table is the table this service is configured to use (${tableName}): set TableStorage:TableName (e.g. TableStorage__TableName=Orders) to import into another table`,
			);
		const holder = `import-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
		const store = createAzureTablesStore(connectionString, tableName, {
			...storeOptions(config),
			// Only with --publish is each order's OrderCreated event recorded (and then logged).
			...(args.publish && !args.dryRun
				? { recordEvents: true, eventHolder: holder, eventLeaseMs: config.Events.LeaseSeconds * 1000 }
				: {}),
		});
		// Running instances read the event log's new positions (about every second) and broadcast them.
		const publisher =
			args.publish && !args.dryRun
				? new EventPublisher(
						store,
						createAzureTablesEventLog(connectionString, tableName, {
							timeoutMs: config.TableStorage.TimeoutMs,
						}),
						new InProcessEventFeed(),
						{
							holder,
							leaseMs: config.Events.LeaseSeconds * 1000,
							storageTimeoutMs: config.TableStorage.TimeoutMs,
						},
					)
				: undefined;
		say(`from: table ${args.table}${args.dryRun ? " (dry run: nothing is written)" : ""}`);
		if (publisher) {
			const left = await publisher.sweep(); // events a killed earlier run recorded and did not log
			if (left > 0) say(`published the events a previous run left of ${left} order(s)`);
		}
		const summary = await runImport(
			{
				...(args.idFrom ? { idFrom: args.idFrom } : {}),
				statusMap: args.statusMap,
				update: args.update,
				dryRun: args.dryRun,
				signal: interrupt.signal,
			},
			{ source, store, say, progress, ...(publisher ? { events: publisher } : {}) },
		);
		await publisher?.drain();
		if (tty) process.stderr.write("\n");
		for (const line of summaryLines(summary, args.dryRun)) say(line);
		if (publisher) say(`published: ${publisher.publishedCount} event(s)`);
		if (summary.interrupted) return 130;
		return summary.outcomes.failed > 0 || summary.stoppedEarly ? 1 : 0;
	} finally {
		await azurite?.close(); // flushes the embedded store to disk
	}
}

main().then(
	(code) => process.exit(code),
	(err) => {
		if (err instanceof UsageError) {
			process.stderr.write(`import-legacy: ${err.message}\n\nRun with --help for the options.\n`);
			process.exit(2);
		}
		if (err instanceof ConfigError) process.stderr.write(`import-legacy: ${err.message}\n`);
		else if (err instanceof LegacyTableError) process.stderr.write(`import-legacy: ${err.message}\n`);
		else process.stderr.write(`import-legacy: cannot import: ${(err as Error)?.message ?? String(err)}\n`);
		process.exit(1);
	},
);
