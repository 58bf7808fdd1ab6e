// OrderStore on Azure Table Storage (@azure/data-tables). Table layout (see docs/table-layout.md):
//   PartitionKey = orderId   RowKey = "order"          the order itself (+ version)
//   PartitionKey = orderId   RowKey = "h~0000000001"   one row per status change, oldest first (the
//                                                      creation entry is derived from the order row)
//   PartitionKey = orderId   RowKey = "m~<messageId>"  marker: this queue message was applied
//   PartitionKey = orderId   RowKey = "o~0000000001"   outbox: an event waiting for the event log
//   PartitionKey = "~idem~<key>"  RowKey = "idem"     Idempotency-Key of a create -> orderId, claimedAt
//   PartitionKey = "~pending"  RowKey = "<orderId>~<version>"   index of the outbox (pending-index.ts)
// Everything about one order shares a partition, so reading it, its history, and applying a
// change (order + history row + marker, one atomic transaction with an ETag check) are point
// operations whatever the table's size.
import {
	odata,
	RestError,
	TableClient,
	type TableEntityResult,
	type TransactionAction,
} from "@azure/data-tables";
import { AZURE_ROLES, isCredentialError, MissingRoleError, type TokenCredential } from "../azure-identity.js";
import { createdEvent, type OrderEvent, updatedEvent } from "../domain/events.js";
import { newOrderId } from "../domain/ids.js";
import { keyProblem } from "../domain/keys.js";
import type { HistoryEntry, NewOrder, Order } from "../domain/order.js";
import type { OrderStatus } from "../domain/status.js";
import type { UnavailableReason } from "../unavailable.js";
import { BoundedMap } from "../util/bounded-map.js";
import { deadlineSignal } from "../util/deadline-signal.js";
import { ClaimStamps } from "./claim-stamps.js";
import { PENDING_PARTITION, PendingIndex } from "./pending-index.js";
import {
	base64url,
	type ChangeToCommit,
	type CreateOptions,
	type CreateResult,
	DEFAULT_IDEMPOTENCY_RETENTION_MS,
	decodeToken,
	encodeToken,
	IMPORT_SOURCE,
	type ImportOptions,
	type ImportResult,
	InvalidContinuationTokenError,
	importedFields,
	importMessageId,
	type ListPage,
	type ListQuery,
	type LoadOptions,
	type OrderStore,
	type PendingEvent,
	type StoredOrder,
	type StoreOptions,
	StoreUnavailableError,
	sameImportedFields,
} from "./port.js";
import { submitTransaction } from "./table-transaction.js";

const ORDER_ROW = "order";
const OUTBOX_PREFIX = "o~";
const HISTORY_PREFIX = "h~";
const MARKER_PREFIX = "m~";
const IDEMPOTENCY_PREFIX = "~idem~";
const IDEMPOTENCY_ROW = "idem";
/** In the pending index's partition: a pass over the whole table found no unindexed outbox row. */
const LEGACY_SCANNED_ROW = "~scanned";
/**
 * How long load({ recent }) may answer from a row this instance read or wrote: long enough for a
 * PUT's read to serve its change's commit, short enough that a row another instance changes since
 * costs a failed commit rarely.
 */
const RECENT_ROW_MS = 5000;
/** The event lease when none is configured (Events:LeaseSeconds sets it in npm start). */
const DEFAULT_EVENT_LEASE_MS = 10_000;
/** Expired Idempotency-Key rows deleted per purge call (the next call takes the rest). */
const PURGE_BATCH = 1000;

type OrderEntity = {
	partitionKey: string;
	rowKey: string;
	orderPartitionKey: string;
	customerName: string;
	productName: string;
	status: string;
	createdAt: string;
	updatedAt: string;
	version: number;
	ownerId?: string;
};

type IdempotencyEntity = {
	partitionKey: string;
	rowKey: string;
	orderId: string;
	fingerprint: string;
	/** ms since the epoch */
	claimedAt?: number;
	timestamp?: string;
	etag: string;
};

type OutboxEntity = {
	partitionKey: string;
	rowKey: string;
	/** The event as JSON. */
	event: string;
	claimedBy?: string;
	claimedUntil?: number;
	etag: string;
};

type HistoryEntity = {
	partitionKey: string;
	rowKey: string;
	status: string;
	at: string;
	messageId?: string;
	source?: string;
};

export interface AzureTablesOptions extends StoreOptions {
	/** Upper bound for one storage call, retries included. */
	timeoutMs?: number;
	/** How long a list call may keep fetching pages to fill `limit` before answering with a token. */
	listBudgetMs?: number;
}

const outboxRowKey = (version: number) => `${OUTBOX_PREFIX}${version.toString().padStart(10, "0")}`;
const outboxVersion = (rowKey: string) => Number(rowKey.slice(OUTBOX_PREFIX.length));
const historyRowKey = (version: number) => `${HISTORY_PREFIX}${version.toString().padStart(10, "0")}`;
const markerRowKey = (messageId: string) => `${MARKER_PREFIX}${base64url(messageId)}`;

/** Key material longer than this (base64url) is hashed: Azure keys hold 1 KiB, Azurite's 512 characters. */
const PLAIN_KEY_MAX = 256;

/**
 * The row of an Idempotency-Key. The key material is the caller's id and their key (an `email` or
 * `upn` owner claim plus a 200-character key outgrows Azure's key size): long material is named
 * by its SHA-256 (`~idem~.` + hash; `.` is not a base64url character, so the two forms never
 * meet). Short material keeps the readable form earlier versions wrote, so keys remembered before
 * an upgrade still match.
 */
async function idempotencyPartitionKey(key: string): Promise<string> {
	const plain = base64url(key);
	if (plain.length <= PLAIN_KEY_MAX) return `${IDEMPOTENCY_PREFIX}${plain}`;
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
	const hash = btoa(String.fromCharCode(...digest))
		.replaceAll("+", "-")
		.replaceAll("/", "_")
		.replace(/=+$/, "");
	return `${IDEMPOTENCY_PREFIX}.${hash}`;
}

/**
 * Whether `token` is what the SDK issues for the next page (base64 of JSON with string
 * nextPartitionKey and optional nextRowKey): the SDK parses it without checking, and a forged one
 * would fail inside it as a TypeError (a 500) or reach Azure as a bad query.
 */
function isAzureToken(token: string): boolean {
	try {
		const parsed = JSON.parse(atob(token)) as Record<string, unknown>;
		if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return false;
		const { nextPartitionKey, nextRowKey, ...rest } = parsed;
		return (
			Object.keys(rest).length === 0 &&
			typeof nextPartitionKey === "string" &&
			keyProblem(nextPartitionKey) === undefined &&
			(nextRowKey === undefined || (typeof nextRowKey === "string" && keyProblem(nextRowKey) === undefined))
		);
	} catch {
		return false;
	}
}

function statusCode(err: unknown): number | undefined {
	return err instanceof RestError ? err.statusCode : undefined;
}

/**
 * Whether an error from the SDK means "storage cannot serve right now", and why: a timeout, a
 * request that never got an answer (refused, reset, DNS), 408, 429, a 5xx, or credentials storage
 * refuses (401/403). Everything else (other 4xx, a TypeError) is not an outage: it is ours to
 * interpret, or a defect. The event log (src/events/azure-log.ts) classifies with this too.
 */
export function unavailableReason(err: unknown): UnavailableReason | undefined {
	if (err instanceof StoreUnavailableError) return err.reason;
	if (!(err instanceof Error)) return undefined;
	// No token (the identity endpoint refused or is absent), or a token without the role.
	if (err instanceof MissingRoleError || isCredentialError(err)) return "unauthorized";
	if (err.name === "AbortError" || err.name === "TimeoutError") return "timeout";
	if (err instanceof RestError) {
		const status = err.statusCode;
		// No status: the request was sent and no response came back (REQUEST_SEND_ERROR and friends).
		if (status === undefined || status >= 500 || status === 408 || status === 429) return "unreachable";
		// A rotated key or an expired SAS: the service cannot serve until an operator acts.
		if (status === 401 || status === 403) return "unauthorized";
		return undefined;
	}
	const code = (err as { code?: unknown }).code;
	return typeof code === "string" && NETWORK_ERROR_CODES.has(code) ? "unreachable" : undefined;
}

/**
 * One line saying what storage answered. An error answer's message is the service's XML body: its
 * Code, the first line of its Message and, for a refused token, AuthenticationErrorDetail (the
 * reason, such as the audience or an expired token) are what an operator needs.
 */
export function errorSummary(err: unknown): string {
	const message = String((err as Error)?.message ?? err);
	// DefaultAzureCredential lists every credential it tried; the managed identity's line says why.
	const identity = message.split("\n").find((line) => line.includes("ManagedIdentityCredential"));
	if (identity) return identity;
	if (!message.startsWith("<?xml")) return message.split("\n")[0] as string;
	const field = (name: string) =>
		new RegExp(`<${name}>([^<]*)</${name}>`).exec(message)?.[1]?.split("\n")[0]?.trim();
	return [field("Code"), field("Message"), field("AuthenticationErrorDetail")].filter(Boolean).join(": ");
}

/** System error codes of a connection that failed or broke (Node's net and dns). */
const NETWORK_ERROR_CODES = new Set([
	"ECONNREFUSED",
	"ECONNRESET",
	"ECONNABORTED",
	"EPIPE",
	"ETIMEDOUT",
	"ENOTFOUND",
	"EAI_AGAIN",
	"EHOSTUNREACH",
	"ENETUNREACH",
]);

function toOrder(e: OrderEntity | TableEntityResult<Record<string, unknown>>): Order {
	const x = e as unknown as OrderEntity;
	return {
		orderId: x.partitionKey,
		partitionKey: x.orderPartitionKey,
		customerName: x.customerName,
		productName: x.productName,
		status: x.status as OrderStatus,
		createdAt: x.createdAt,
		updatedAt: x.updatedAt,
		...(x.ownerId ? { ownerId: x.ownerId } : {}),
	};
}

export class AzureTablesOrderStore implements OrderStore {
	private readonly timeoutMs: number;
	private readonly listBudgetMs: number;
	private readonly retentionMs: number;
	private readonly now: () => number;
	private readonly recordEvents: boolean;
	/** How long a publisher's claim on an event holds (Events:LeaseSeconds). */
	private readonly eventLeaseMs: number;
	private tableReady?: Promise<void>;

	constructor(
		private readonly client: TableClient,
		private readonly options: AzureTablesOptions = {},
	) {
		this.timeoutMs = options.timeoutMs ?? 5000;
		this.eventLeaseMs = options.eventLeaseMs ?? DEFAULT_EVENT_LEASE_MS;
		this.listBudgetMs = options.listBudgetMs ?? 2000;
		this.retentionMs = options.idempotencyRetentionMs ?? DEFAULT_IDEMPOTENCY_RETENTION_MS;
		this.now = options.now ?? Date.now;
		this.recordEvents = options.recordEvents ?? false;
		this.pendingIndex = new PendingIndex(this.client, (what, fn) => this.call(what, fn), this.now);
	}

	/** Where the sweep finds pending events without scanning the table (see pending-index.ts). */
	private readonly pendingIndex: PendingIndex;

	/** Claims this store stamped on outbox rows it wrote (see OrderStore.claimStampedUntil). */
	private readonly stampedClaims = new ClaimStamps(() => this.now());

	/**
	 * The order rows this instance read or wrote last (with their ETags), for load({ recent }): the
	 * receiver applying a change usually finds the row the PUT read a moment ago, and skips a read.
	 */
	private readonly recentRows = new BoundedMap<string, { stored: StoredOrder; at: number }>(10_000);

	private remember(stored: StoredOrder): void {
		this.recentRows.set(stored.order.orderId, { stored, at: this.now() });
	}

	claimStampedUntil(orderId: string, version: number): number | undefined {
		return this.stampedClaims.get(orderId, version);
	}

	/** The outbox row recording `event` in its order's partition (in the change's transaction). */
	private outboxRow(orderId: string, version: number, event: OrderEvent) {
		const { eventHolder } = this.options;
		return {
			partitionKey: orderId,
			rowKey: outboxRowKey(version),
			event: JSON.stringify(event),
			...(eventHolder
				? {
						claimedBy: eventHolder,
						claimedUntil: this.stampedClaims.stamp(orderId, version, this.eventLeaseMs),
					}
				: {}),
		};
	}

	/** Runs one storage call with a deadline; maps "cannot reach storage" to StoreUnavailableError. */
	private async call<T>(what: string, fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
		await this.ensureTable();
		return this.raw(what, fn);
	}

	private async raw<T>(what: string, fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
		const deadline = deadlineSignal(this.timeoutMs);
		try {
			return await fn(deadline.signal);
		} catch (err) {
			// The SDK may report an aborted call as some other error: the deadline says what happened.
			const reason = deadline.signal.aborted ? "timeout" : unavailableReason(err);
			if (reason)
				throw new StoreUnavailableError(
					`Table Storage unavailable (${what}, ${reason}): ${errorSummary(err)}`,
					{ cause: err, reason },
				);
			throw err;
		} finally {
			deadline.clear();
		}
	}

	/** Creates the table on first use; retried on the next call if storage was down. */
	private ensureTable(): Promise<void> {
		this.tableReady ??= this.raw("create table", (abortSignal) =>
			this.client.createTable({ abortSignal }),
		).catch((err) => {
			this.tableReady = undefined;
			throw err;
		});
		return this.tableReady;
	}

	private async getEntity<T extends object>(
		pk: string,
		rk: string,
	): Promise<(T & { etag: string }) | undefined> {
		try {
			return (await this.call("read", (abortSignal) =>
				this.client.getEntity<T>(pk, rk, { abortSignal }),
			)) as T & { etag: string };
		} catch (err) {
			if (statusCode(err) === 404) return undefined;
			throw err;
		}
	}

	async create(input: NewOrder, options: CreateOptions = {}): Promise<CreateResult> {
		let orderId = newOrderId();
		let resumed = false;
		if (options.idempotencyKey !== undefined) {
			const claim = await this.claimIdempotencyKey(
				options.idempotencyKey,
				options.fingerprint ?? "",
				orderId,
			);
			if (claim.kind === "key-reused") return claim;
			if (claim.orderId !== orderId) {
				const existing = await this.get(claim.orderId);
				if (existing) return { kind: "replayed", order: existing };
				// The first attempt claimed the key but never wrote the order: finish it now.
				orderId = claim.orderId;
				resumed = true;
			}
		}
		const now = new Date().toISOString();
		const entity: OrderEntity = {
			partitionKey: orderId,
			rowKey: ORDER_ROW,
			orderPartitionKey: input.partitionKey,
			customerName: input.customerName,
			productName: input.productName,
			status: "Pending",
			createdAt: now,
			updatedAt: now,
			version: 0,
			...(input.ownerId ? { ownerId: input.ownerId } : {}),
		};
		// No history row for the creation: history() derives it from the order row (one write less).
		if (this.recordEvents) await this.pendingIndex.mark(orderId, 0);
		try {
			await this.call("create order", async (abortSignal) => {
				if (!this.recordEvents) await this.client.createEntity(entity, { abortSignal });
				else {
					const event = createdEvent(toOrder(entity));
					await submitTransaction(
						this.client,
						[
							["create", entity],
							["create", this.outboxRow(orderId, 0, event)],
						],
						{ abortSignal },
					);
				}
			});
		} catch (err) {
			if (statusCode(err) === 409) {
				const existing = await this.get(orderId);
				// A fresh id is nobody else's: the SDK's retry of this very write met the row its first
				// attempt wrote (the answer was lost). This request created it, and its caller publishes it.
				if (existing && !resumed) return { kind: "created", order: existing };
				// Resuming a claimed key: the first request (or a concurrent retry) wrote it.
				if (existing) return { kind: "replayed", order: existing };
			}
			throw err;
		}
		return { kind: "created", order: toOrder(entity) };
	}

	/**
	 * The order row, its h~0000000000 history row (source "import", so history() shows it instead of
	 * a derived creation entry) and, when recording events, its outbox row: one transaction. A 409
	 * means the order is here already (imported before, or a run killed after its commit).
	 */
	async importOrder(order: Order, options: ImportOptions = {}): Promise<ImportResult> {
		const orderId = order.orderId;
		const entity: OrderEntity = {
			partitionKey: orderId,
			rowKey: ORDER_ROW,
			orderPartitionKey: order.partitionKey,
			customerName: order.customerName,
			productName: order.productName,
			status: order.status,
			createdAt: order.createdAt,
			updatedAt: order.updatedAt,
			version: 0,
			...(order.ownerId ? { ownerId: order.ownerId } : {}),
		};
		const imported = toOrder(entity);
		// A point read first: cheap, and what a re-run meets for most orders (a transaction refused
		// with 409 costs Azurite several times more).
		let stored = await this.load(orderId);
		if (!stored) {
			const event = this.recordEvents ? createdEvent(imported) : undefined;
			if (event) await this.pendingIndex.mark(orderId, 0);
			try {
				await this.call("import order", (abortSignal) =>
					submitTransaction(
						this.client,
						[
							["create", entity],
							["create", this.importHistoryRow(imported, 0)],
							...(event ? [["create", this.outboxRow(orderId, 0, event)] as TransactionAction] : []),
						],
						{ abortSignal },
					),
				);
				return { kind: "imported", order: imported, ...(event ? { event } : {}) };
			} catch (err) {
				if (statusCode(err) !== 409) throw err;
			}
		}
		// Here already. (An SDK retry of the transaction above, after a lost answer, lands here too:
		// reported as "exists", which is what a re-run would say of it.)
		for (;;) {
			stored ??= await this.load(orderId);
			if (!stored) throw new StoreUnavailableError(`order ${orderId} exists and then does not; retry`);
			const previous = stored.order;
			if (!options.update) return { kind: "exists", order: previous };
			if (sameImportedFields(previous, order)) return { kind: "unchanged", order: previous };
			if (previous.updatedAt > order.updatedAt) return { kind: "newer-here", order: previous };
			const { etag } = stored;
			const version = stored.version + 1;
			const updated: Order = { ...previous, ...importedFields(order) };
			const { partitionKey, ...fields } = importedFields(order);
			const event = this.recordEvents
				? updatedEvent(updated, version, importMessageId(orderId, version), previous.status)
				: undefined;
			if (event) await this.pendingIndex.mark(orderId, version);
			try {
				await this.call("import update", (abortSignal) =>
					submitTransaction(
						this.client,
						[
							[
								"update",
								{
									partitionKey: orderId,
									rowKey: ORDER_ROW,
									orderPartitionKey: partitionKey,
									...fields,
									version,
								},
								"Merge",
								{ etag },
							],
							["create", this.importHistoryRow(updated, version)],
							...(event ? [["create", this.outboxRow(orderId, version, event)] as TransactionAction] : []),
						],
						{ abortSignal },
					),
				);
				return { kind: "updated", order: updated, previous, ...(event ? { event } : {}) };
			} catch (err) {
				// Changed meanwhile (a status change applied): look again.
				if (statusCode(err) !== 412 && statusCode(err) !== 409) throw err;
				stored = undefined;
			}
		}
	}

	private importHistoryRow(order: Order, version: number): HistoryEntity {
		return {
			partitionKey: order.orderId,
			rowKey: historyRowKey(version),
			status: order.status,
			at: order.updatedAt,
			messageId: importMessageId(order.orderId, version),
			source: IMPORT_SOURCE,
		};
	}

	/**
	 * Claims `key` for `orderId`, or answers who holds it. A claim past the retention is taken over
	 * (replaced under its ETag, so of two racing takers one wins and the other sees its claim).
	 */
	private async claimIdempotencyKey(
		key: string,
		fingerprint: string,
		orderId: string,
	): Promise<{ kind: "claimed"; orderId: string } | { kind: "key-reused" }> {
		const partitionKey = await idempotencyPartitionKey(key);
		const claim = { partitionKey, rowKey: IDEMPOTENCY_ROW, orderId, fingerprint, claimedAt: this.now() };
		for (let attempt = 0; attempt < 3; attempt++) {
			try {
				await this.call("claim idempotency key", (abortSignal) =>
					this.client.createEntity(claim, { abortSignal }),
				);
				return { kind: "claimed", orderId };
			} catch (err) {
				if (statusCode(err) !== 409) throw err;
			}
			const seen = await this.getEntity<IdempotencyEntity>(partitionKey, IDEMPOTENCY_ROW);
			if (!seen) continue; // purged in between: claim again
			if (!this.expired(seen)) {
				if (seen.fingerprint !== fingerprint) return { kind: "key-reused" };
				return { kind: "claimed", orderId: seen.orderId };
			}
			try {
				await this.call("renew idempotency key", (abortSignal) =>
					this.client.updateEntity(claim, "Replace", { etag: seen.etag, abortSignal }),
				);
				return { kind: "claimed", orderId };
			} catch (err) {
				if (statusCode(err) !== 412 && statusCode(err) !== 404) throw err;
			}
		}
		throw new StoreUnavailableError("the Idempotency-Key is being claimed concurrently; retry");
	}

	private expired(claim: IdempotencyEntity): boolean {
		// Rows written before claimedAt existed fall back to the service's own timestamp.
		const claimedAt =
			typeof claim.claimedAt === "number" ? claim.claimedAt : Date.parse(claim.timestamp ?? "");
		return !(claimedAt > this.now() - this.retentionMs);
	}

	async purgeExpiredIdempotencyKeys(): Promise<number> {
		const cutoff = this.now() - this.retentionMs;
		const expired = await this.call("list expired idempotency keys", async (abortSignal) => {
			const out: IdempotencyEntity[] = [];
			const rows = this.client.listEntities<IdempotencyEntity>({
				queryOptions: {
					filter: odata`PartitionKey ge ${IDEMPOTENCY_PREFIX} and PartitionKey lt ${`${IDEMPOTENCY_PREFIX}~`} and claimedAt lt ${cutoff}`,
					select: ["PartitionKey", "RowKey", "claimedAt"],
				},
				abortSignal,
			});
			for await (const row of rows) {
				out.push(row);
				if (out.length >= PURGE_BATCH) break;
			}
			return out;
		});
		let purged = 0;
		for (const row of expired) {
			try {
				await this.call("purge idempotency key", (abortSignal) =>
					this.client.deleteEntity(row.partitionKey, row.rowKey, { etag: row.etag, abortSignal }),
				);
				purged++;
			} catch (err) {
				if (statusCode(err) !== 404 && statusCode(err) !== 412) throw err; // gone or renewed meanwhile
			}
		}
		return purged;
	}

	async get(orderId: string): Promise<Order | undefined> {
		return (await this.load(orderId))?.order;
	}

	async list(query: ListQuery): Promise<ListPage> {
		let azureToken: string | undefined;
		if (query.continuationToken !== undefined) {
			const decoded = decodeToken(query.continuationToken) as { az?: unknown };
			if (typeof decoded?.az !== "string" || !isAzureToken(decoded.az))
				throw new InvalidContinuationTokenError();
			azureToken = decoded.az;
		}
		let filter = odata`RowKey eq ${ORDER_ROW}`;
		if (query.status !== undefined) filter += ` and ${odata`status eq ${query.status}`}`;
		if (query.partitionKey !== undefined)
			filter += ` and ${odata`orderPartitionKey eq ${query.partitionKey}`}`;
		if (query.customerName !== undefined) filter += ` and ${odata`customerName eq ${query.customerName}`}`;
		if (query.ownerId !== undefined) filter += ` and ${odata`ownerId eq ${query.ownerId}`}`;

		// A filtered query may answer short (or empty) pages with a token; keep reading until the
		// page is full, the table ends, or the time budget is spent (then the client follows the token).
		const items: Order[] = [];
		const deadline = Date.now() + this.listBudgetMs;
		do {
			const pageSize = query.limit - items.length;
			const pageToken = azureToken;
			let page: { value: OrderEntity[]; token?: string };
			try {
				page = await this.call("list", async (abortSignal) => {
					const pages = this.client
						.listEntities<OrderEntity>({ queryOptions: { filter }, abortSignal })
						.byPage({ maxPageSize: pageSize, continuationToken: pageToken });
					const result = await pages.next();
					const value = (result.value ?? []) as OrderEntity[] & { continuationToken?: string };
					return { value, token: value.continuationToken };
				});
			} catch (err) {
				if (statusCode(err) === 400 && azureToken !== undefined) throw new InvalidContinuationTokenError();
				throw err;
			}
			for (const e of page.value) items.push(toOrder(e));
			azureToken = page.token;
		} while (azureToken !== undefined && items.length < query.limit && Date.now() < deadline);
		return azureToken === undefined
			? { items }
			: { items, continuationToken: encodeToken({ az: azureToken }) };
	}

	async history(orderId: string): Promise<HistoryEntry[] | undefined> {
		// The order row and its history rows in one query. The creation entry is the order row's
		// (orders created before this layout have an h~0000000000 row instead).
		const rows = await this.call("history", async (abortSignal) => {
			const out: (HistoryEntity & Partial<OrderEntity>)[] = [];
			const iter = this.client.listEntities<HistoryEntity & Partial<OrderEntity>>({
				queryOptions: {
					filter: odata`PartitionKey eq ${orderId} and (RowKey eq ${ORDER_ROW} or (RowKey ge ${HISTORY_PREFIX} and RowKey lt ${`${HISTORY_PREFIX}~`}))`,
				},
				abortSignal,
			});
			for await (const row of iter) out.push(row);
			return out;
		});
		const order = rows.find((r) => r.rowKey === ORDER_ROW);
		if (!order) return undefined;
		const changes = rows.filter((r) => r.rowKey.startsWith(HISTORY_PREFIX));
		const entries: HistoryEntry[] = changes.map((r) => ({
			status: r.status as OrderStatus,
			at: r.at,
			...(r.messageId ? { messageId: r.messageId } : {}),
			...(r.source ? { source: r.source } : {}),
		}));
		if (changes[0]?.rowKey !== historyRowKey(0)) {
			entries.unshift({ status: "Pending", at: order.createdAt as string, source: "api" });
		}
		return entries;
	}

	async load(orderId: string, options: LoadOptions = {}): Promise<StoredOrder | undefined> {
		if (options.recent) {
			const seen = this.recentRows.get(orderId);
			if (seen && this.now() - seen.at < RECENT_ROW_MS) return { ...seen.stored, recent: true };
		}
		// A point read: the cheapest request (a query scans, in Azurite even the whole table).
		const row = await this.getEntity<OrderEntity>(orderId, ORDER_ROW);
		if (!row) return undefined;
		const stored = { order: toOrder(row), version: row.version ?? 0, etag: row.etag };
		this.remember(stored);
		return stored;
	}

	async wasApplied(orderId: string, messageId: string): Promise<boolean> {
		return (await this.getEntity(orderId, markerRowKey(messageId))) !== undefined;
	}

	/** Whether the order's event of `version` is still waiting in the outbox (one point read). */
	async isPending(orderId: string, version: number): Promise<boolean> {
		if (!this.recordEvents) return false;
		return (await this.getEntity(orderId, outboxRowKey(version))) !== undefined;
	}

	async commitChange(stored: StoredOrder, change: ChangeToCommit): Promise<"committed" | "conflict"> {
		const orderId = stored.order.orderId;
		const version = stored.version + 1;
		const history: HistoryEntity = {
			partitionKey: orderId,
			rowKey: historyRowKey(version),
			status: change.status,
			at: change.at,
			messageId: change.messageId,
			...(change.source ? { source: change.source } : {}),
		};
		if (this.recordEvents) await this.pendingIndex.mark(orderId, version);
		try {
			const result = await this.call("commit change", (abortSignal) =>
				submitTransaction(
					this.client,
					[
						[
							"update",
							{
								partitionKey: orderId,
								rowKey: ORDER_ROW,
								status: change.status,
								updatedAt: change.at,
								version,
							},
							"Merge",
							{ etag: stored.etag },
						],
						["create", history],
						[
							"create",
							{ partitionKey: orderId, rowKey: markerRowKey(change.messageId), appliedAt: change.at },
						],
						...(this.recordEvents
							? [["create", this.outboxRow(orderId, version, change.event)] as TransactionAction]
							: []),
					],
					{ abortSignal },
				),
			);
			// Sub-responses come in the order of the actions; an update's names no row key.
			const etag = result.subResponses[0]?.etag?.trim();
			if (etag) {
				const order = { ...stored.order, status: change.status, updatedAt: change.at };
				this.remember({ order, version, etag });
			} else this.recentRows.delete(orderId);
			return "committed";
		} catch (err) {
			this.recentRows.delete(orderId); // whatever happened, the row is read afresh next time
			// 412: the order changed since it was loaded; 409: its next history row or this message's
			// marker exists already. Either way another writer was first.
			const status = statusCode(err);
			if (status === 412 || status === 409) return "conflict";
			throw err;
		}
	}

	async pendingEvents(orderId: string): Promise<PendingEvent[]> {
		if (!this.recordEvents) return [];
		const rows = await this.call("pending events", async (abortSignal) => {
			const out: OutboxEntity[] = [];
			const iter = this.client.listEntities<OutboxEntity>({
				queryOptions: {
					filter: odata`PartitionKey eq ${orderId} and RowKey ge ${OUTBOX_PREFIX} and RowKey lt ${`${OUTBOX_PREFIX}~`}`,
				},
				abortSignal,
			});
			for await (const row of iter) out.push(row as OutboxEntity);
			return out;
		});
		return rows.map((r) => ({
			orderId,
			version: outboxVersion(r.rowKey),
			event: JSON.parse(r.event) as OrderEvent,
			...(r.claimedBy !== undefined ? { claimedBy: r.claimedBy } : {}),
			...(r.claimedUntil !== undefined ? { claimedUntil: Number(r.claimedUntil) } : {}),
			etag: r.etag,
		}));
	}

	async claimPendingEvent(
		pending: PendingEvent,
		holder: string,
		untilMs: number,
	): Promise<PendingEvent | undefined> {
		try {
			const res = await this.call("claim pending event", (abortSignal) =>
				this.client.updateEntity(
					{
						partitionKey: pending.orderId,
						rowKey: outboxRowKey(pending.version),
						claimedBy: holder,
						claimedUntil: untilMs,
					},
					"Merge",
					{ etag: pending.etag, abortSignal },
				),
			);
			return { ...pending, claimedBy: holder, claimedUntil: untilMs, etag: res.etag ?? "" };
		} catch (err) {
			if (statusCode(err) === 412 || statusCode(err) === 404) return undefined; // taken, or done already
			throw err;
		}
	}

	async clearPendingEvent(pending: PendingEvent): Promise<void> {
		try {
			await this.call("clear pending event", (abortSignal) =>
				this.client.deleteEntity(pending.orderId, outboxRowKey(pending.version), { abortSignal }),
			);
		} catch (err) {
			if (statusCode(err) !== 404) throw err;
		}
		// Not waited for: an index row left behind is dropped by the sweep.
		this.pendingIndex.unmark(pending.orderId, pending.version).catch(() => {});
	}

	/**
	 * Orders with pending events nobody holds, found through the pending index (one partition). An
	 * index row whose event is gone (published, or its commit failed) is dropped. Outbox rows written before the index
	 * existed are found by the old scan of the whole table, one page per call, until one pass over
	 * the table is done (then a marker row tells every later instance to skip it).
	 */
	async ordersWithUnclaimedEvents(): Promise<string[]> {
		if (!this.recordEvents) return [];
		const now = this.now();
		const orders = new Set<string>();
		// The index holds only events not yet cleared: a handful in flight, plus what stopped
		// instances left. One point read of each tells whether it is there and held.
		// A row without its event is dropped only once it is older than the lease: a younger one may
		// be a mark whose commit has not landed yet (see pending-index.ts).
		for (const listed of await this.pendingIndex.list(1000)) {
			const row = await this.getEntity<OutboxEntity>(listed.orderId, outboxRowKey(listed.version));
			if (!row) {
				// Not waited for: a drop that fails is tried again by the next sweep.
				if (now - listed.markedAt > this.eventLeaseMs) this.pendingIndex.drop(listed).catch(() => {});
			} else if (Number(row.claimedUntil ?? 0) < now) orders.add(listed.orderId);
		}
		for (const orderId of await this.scanForUnindexedEvents(now)) orders.add(orderId);
		return [...orders];
	}

	/** Where the scan for unindexed outbox rows stopped (Azure's continuation token); done when true. */
	private scan: { token?: string; done?: boolean; passes: number } = { passes: 0 };

	/** Whole passes the scan for unindexed outbox rows has made over the table. */
	get scanPasses(): number {
		return this.scan.passes;
	}

	/**
	 * One page of the table-wide scan for outbox rows written before the pending index. Every outbox
	 * row it sees is marked in the index (held ones too: their holder may stop before publishing),
	 * so once a pass is over the index names them all and no instance need scan again.
	 */
	async scanForUnindexedEvents(now = this.now()): Promise<string[]> {
		if (this.scan.done) return [];
		if (this.scan.token === undefined && (await this.getEntity(PENDING_PARTITION, LEGACY_SCANNED_ROW))) {
			this.scan.done = true;
			return [];
		}
		const page = await this.call("find pending events", async (abortSignal) => {
			const result = await this.client
				.listEntities<OutboxEntity>({
					queryOptions: {
						filter: odata`RowKey ge ${OUTBOX_PREFIX} and RowKey lt ${`${OUTBOX_PREFIX}~`}`,
						select: ["PartitionKey", "RowKey", "claimedUntil"],
					},
					abortSignal,
				})
				.byPage({ maxPageSize: 1000, continuationToken: this.scan.token })
				.next();
			return (result.value ?? []) as OutboxEntity[] & { continuationToken?: string };
		});
		await Promise.all(page.map((r) => this.pendingIndex.mark(r.partitionKey, outboxVersion(r.rowKey))));
		const found = page.filter((r) => Number(r.claimedUntil ?? 0) < now).map((r) => r.partitionKey);
		this.scan.token = page.continuationToken;
		if (this.scan.token === undefined) {
			// A whole pass is over, and every outbox row it saw is in the index now.
			this.scan.passes++;
			await this.call("mark scanned", (abortSignal) =>
				this.client.upsertEntity(
					{ partitionKey: PENDING_PARTITION, rowKey: LEGACY_SCANNED_ROW, at: now },
					"Replace",
					{
						abortSignal,
					},
				),
			);
			this.scan.done = true;
		}
		return [...new Set(found)];
	}

	async ping(): Promise<void> {
		await this.getEntity("~ping", "~ping");
	}
}

/**
 * How to reach Table Storage: a connection string (with a key or a SAS), or the service's URL and a
 * token credential (a managed identity: see src/azure-identity.ts).
 */
export type TableConnection = string | { serviceUri: string; credential: TokenCredential };

const RETRY = { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1000 };

/** A client of `tableName`; SDK retries kept short so a dead store answers within ~timeoutMs. */
export function tableClient(connection: TableConnection, tableName: string): TableClient {
	if (typeof connection !== "string") {
		const client = new TableClient(connection.serviceUri, tableName, connection.credential, {
			retryOptions: RETRY,
		});
		// Azure Storage answers 403 AuthorizationPermissionMismatch to a valid token whose identity has
		// no data role on the account (docs/facts.md): say which role to grant.
		client.pipeline.addPolicy({
			name: "missingRole",
			async sendRequest(request, next) {
				const response = await next(request);
				if (
					response.status === 403 &&
					response.headers.get("x-ms-error-code") === "AuthorizationPermissionMismatch"
				)
					throw new MissingRoleError(AZURE_ROLES.tables, new URL(connection.serviceUri).host, {
						cause: new Error(`403 AuthorizationPermissionMismatch on ${request.method} ${tableName}`),
					});
				return response;
			},
		});
		return client;
	}
	const insecure = /UseDevelopmentStorage=true|Endpoint=http:\/\//i.test(connection);
	return TableClient.fromConnectionString(connection, tableName, {
		allowInsecureConnection: insecure,
		retryOptions: RETRY,
	});
}

/** A store over `connection` (a connection string, or the service URL and a credential). */
export function createAzureTablesStore(
	connection: TableConnection,
	tableName: string,
	options: AzureTablesOptions = {},
): AzureTablesOrderStore {
	return new AzureTablesOrderStore(tableClient(connection, tableName), options);
}
