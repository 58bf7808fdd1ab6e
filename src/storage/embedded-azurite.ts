// Azurite's Table service run inside this process (Node only). The package's `main` is a
// VS Code extension, so we load the table server directly; this is internal API, which is
// why package.json pins azurite to an exact version. In-process means no orphaned child
// holding the port, and close() flushes disk persistence (a SIGTERM'd Azurite CLI does not).
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
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

/** Another live process on this machine has the data folder open (npm start, or an import). */
export class DataDirInUseError extends Error {
	constructor(dir: string, pid: number) {
		super(
			`${dir} is in use by process ${pid} (npm start, or npm run import-legacy): two embedded Azurites on one folder overwrite each other's writes. Stop it first, or give this one another Embedded:DataDir (if no such process uses it, delete ${join(dir, LOCK_FILE)}).`,
		);
		this.name = "DataDirInUseError";
	}
}

const LOCK_FILE = "azurite.lock";
/** How long a start waits for the holder to let go (a restart while the last run still flushes). */
const LOCK_WAIT_MS = 15_000;

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

/** What a lock file says: undefined when there is none, "" when it cannot be read. */
function readLock(path: string): string | undefined {
	try {
		return readFileSync(path, "utf8");
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "ENOENT" ? undefined : "";
	}
}

/** The live process on this machine that a lock file's text names, if any. */
function liveHolder(text: string | undefined): number | undefined {
	let held: { pid?: unknown; host?: unknown } | undefined;
	try {
		held = JSON.parse(text ?? "");
	} catch {
		return undefined; // none, or unreadable: free
	}
	const pid = held?.pid;
	return typeof pid === "number" && held?.host === hostname() && pid !== process.pid && isAlive(pid)
		? pid
		: undefined;
}

/**
 * Creates `path` holding `text` only if there is none: written to a file of this process's first,
 * then linked in (a link never replaces a file), so no process ever reads it half-written and of
 * two processes starting at once one wins. On a file system without hard links, created in place.
 */
function tryCreate(path: string, text: string): boolean {
	const own = `${path}.${process.pid}.tmp`;
	writeFileSync(own, text);
	try {
		linkSync(own, path);
		return true;
	} catch (err) {
		const code = (err as NodeJS.ErrnoException).code;
		if (code === "EEXIST") return false;
		if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw err;
		try {
			writeFileSync(path, text, { flag: "wx" });
			return true;
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
			throw e;
		}
	} finally {
		unlinkSync(own);
	}
}

/**
 * Removes a lock file whose holder is gone, if it still says what was judged stale. One process at a
 * time does this, under a guard file naming it: a lock another process took meanwhile could only
 * have been created after the stale one was removed, so what is removed here is never a live lock.
 * A guard whose process is gone (it died right there) is removed the same way. False when another
 * process holds the guard (try again shortly) or the lock changed.
 */
function removeStale(path: string, judged: string): boolean {
	const guard = `${path}.break`;
	const mine = JSON.stringify({ pid: process.pid, host: hostname() });
	if (!tryCreate(guard, mine)) {
		const holder = readLock(guard);
		if (holder !== undefined && liveHolder(holder) === undefined && readLock(guard) === holder) {
			try {
				unlinkSync(guard);
			} catch {
				// gone already
			}
		}
		return false;
	}
	try {
		if (readLock(path) !== judged) return false;
		unlinkSync(path);
		return true;
	} finally {
		if (readLock(guard) === mine) unlinkSync(guard);
	}
}

/**
 * Marks `dir` as this process's until the returned release is called. Each embedded Azurite keeps
 * the whole database in memory and saves it over the file, so a second process on the same folder
 * would silently lose one side's writes (or read the file before the last one flushed it). A holder
 * still shutting down is waited for, up to `waitMs`; a mark left by a process that is gone (a crash,
 * a kill, or another machine or container: another host name) does not count, and is removed by
 * one process at a time. The mark is created only where there is none, whole, so two processes
 * starting at once cannot both hold it.
 */
export async function lockDataDir(dir: string, waitMs = LOCK_WAIT_MS): Promise<() => void> {
	const path = join(dir, LOCK_FILE);
	const mine = JSON.stringify({ pid: process.pid, host: hostname() });
	const until = Date.now() + waitMs;
	while (!tryCreate(path, mine)) {
		const text = readLock(path);
		const pid = liveHolder(text);
		if (text === undefined || (pid === undefined && removeStale(path, text))) continue; // try again at once
		if (Date.now() >= until) {
			// The stale lock may have been replaced by a live one while another process removed it.
			const holder = pid ?? liveHolder(readLock(path));
			if (holder !== undefined) throw new DataDirInUseError(dir, holder);
			throw new Error(`${path} exists and cannot be replaced: delete it, or give this process the right to.`);
		}
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	return () => {
		if (readLock(path) === mine) unlinkSync(path);
	};
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
	let release = () => {};
	if (options.dataDir !== undefined) {
		const dir = resolve(options.dataDir);
		mkdirSync(dir, { recursive: true });
		release = await lockDataDir(dir);
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
	try {
		await server.start();
	} catch (err) {
		release();
		throw err;
	}
	const address = server.httpServer.address() as AddressInfo;
	let closing: Promise<void> | undefined;
	return {
		port: address.port,
		connectionString: options.https
			? azuriteConnectionString(address.port).replaceAll("http", "https")
			: azuriteConnectionString(address.port),
		serviceUri: `${options.https ? "https" : "http"}://127.0.0.1:${address.port}/${AZURITE_ACCOUNT}`,
		close: () => {
			closing ??= server.close().finally(release);
			return closing;
		},
	};
}
