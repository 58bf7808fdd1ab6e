// Azurite's Table service run inside this process (Node only). The package's `main` is a
// VS Code extension, so we load the table server directly; this is internal API, which is
// why package.json pins azurite to an exact version. In-process means no orphaned child
// holding the port, and close() flushes disk persistence (a SIGTERM'd Azurite CLI does not).
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";

const require = createRequire(import.meta.url);

export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY =
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface EmbeddedAzurite {
	readonly port: number;
	readonly connectionString: string;
	/** The account's URL, for a token credential (with `oauth`, over `https`). */
	readonly serviceUri: string;
	close(): Promise<void>;
}

interface AzuriteTableServer {
	start(): Promise<void>;
	close(): Promise<void>;
	getHttpServerAddress(): string;
	httpServer: { address(): AddressInfo | string | null };
}

export function azuriteConnectionString(port: number, host = "127.0.0.1"): string {
	return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};TableEndpoint=http://${host}:${port}/${AZURITE_ACCOUNT};`;
}

/**
 * Starts Azurite Tables on 127.0.0.1. `dataDir` persists to disk; omit it to keep everything in memory.
 * `https` (PEM file paths) serves TLS; `oauth` also accepts bearer tokens (Azurite's `--oauth basic`:
 * it checks their issuer, audience and lifetime), which Azurite allows over HTTPS only.
 */
export async function startEmbeddedAzurite(
	options: { dataDir?: string; port?: number; https?: { cert: string; key: string }; oauth?: boolean } = {},
): Promise<EmbeddedAzurite> {
	const { AzuriteTelemetryClient } = require("azurite/dist/src/common/Telemetry");
	AzuriteTelemetryClient.enableTelemetry = false;
	const TableConfiguration = require("azurite/dist/src/table/TableConfiguration").default;
	const TableServer = require("azurite/dist/src/table/TableServer").default;

	const inMemory = options.dataDir === undefined;
	let dbPath = "__azurite_db_table__.json";
	if (options.dataDir !== undefined) {
		const dir = resolve(options.dataDir);
		mkdirSync(dir, { recursive: true });
		dbPath = join(dir, "__azurite_db_table__.json");
	}
	// The constructor's 16 positional arguments: host, port, keepAliveTimeout, metadataDBPath,
	// enableDebugLog, enableAccessLog, accessLogWriteStream, debugLogFilePath, loose,
	// skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, isMemoryPersistence.
	const config = new TableConfiguration(
		"127.0.0.1",
		options.port ?? 0,
		5,
		dbPath,
		false,
		false,
		undefined,
		undefined,
		false,
		true,
		options.https?.cert ?? "",
		options.https?.key ?? "",
		"",
		options.oauth ? "basic" : undefined, // the CLI's --oauth basic
		false,
		inMemory,
	);
	const server: AzuriteTableServer = new TableServer(config);
	await server.start();
	const address = server.httpServer.address() as AddressInfo;
	let closing: Promise<void> | undefined;
	return {
		port: address.port,
		connectionString: options.https
			? azuriteConnectionString(address.port).replaceAll("http", "https")
			: azuriteConnectionString(address.port),
		serviceUri: `${options.https ? "https" : "http"}://127.0.0.1:${address.port}/${AZURITE_ACCOUNT}`,
		close: () => {
			closing ??= server.close();
			return closing;
		},
	};
}
