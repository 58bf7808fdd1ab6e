import type { OrderEvent } from "../domain/events.js";
import type { HistoryEntry, NewOrder, Order } from "../domain/order.js";
import type { OrderStatus } from "../domain/status.js";
import type { UnavailableReason } from "../unavailable.js";

export interface ListQuery {
	limit: number;
	continuationToken?: string;
	status?: OrderStatus;
	partitionKey?: string;
	customerName?: string;
	/** Only this owner's orders. */
	ownerId?: string;
}

export interface ListPage {
	items: Order[];
	/** Present when there may be more results; pass it back to get the next page. */
	continuationToken?: string;
}

export interface CreateOptions {
	/** A retried create with the same key returns the first order and creates nothing. */
	idempotencyKey?: string;
	/** Identifies the request body, so a key reused for a different order is refused. */
	fingerprint?: string;
}

export type CreateResult =
	| { kind: "created"; order: Order }
	| { kind: "replayed"; order: Order }
	| { kind: "key-reused" };

/** An order as stored, with what a conditional write of its next change needs. */
export interface StoredOrder {
	order: Order;
	/** Changes applied since creation (0 for a new order); numbers its history. */
	version: number;
	/** Opaque: commitChange succeeds only while the order is still at this state. */
	etag: string;
	/**
	 * Answered from the row this instance read or wrote recently (load({ recent: true })), without a
	 * request: it may be stale. A commit's ETag check catches that; any other outcome must be
	 * decided on a fresh load.
	 */
	recent?: boolean;
}

export interface LoadOptions {
	/**
	 * May answer from the order row this instance read or wrote in the last few seconds (no
	 * request). Only for a load that leads to commitChange, which refuses a stale one.
	 */
	recent?: boolean;
}

/** One status change to write: the order's new status, and a history entry saying why. */
export interface ChangeToCommit {
	status: OrderStatus;
	at: string;
	messageId: string;
	source?: string;
	/** The event this change makes, recorded with it when the store records events. */
	event: OrderEvent;
}

/**
 * An event recorded in the same transaction as the change that caused it (an outbox row), kept
 * until it is in the event log. Claimed by one publisher at a time, for a lease.
 */
export interface PendingEvent {
	orderId: string;
	version: number;
	event: OrderEvent;
	/** Who holds it, until when (ms since the epoch); free when absent or expired. */
	claimedBy?: string;
	claimedUntil?: number;
	etag: string;
}

/** How importOrder treats an order whose id is here already. */
export interface ImportOptions {
	/**
	 * Overwrite it with the imported one (names, partitionKey, status, updatedAt), recording the
	 * change in its history; unless it is the same, or was changed here after the imported one was.
	 * Off: it is left alone ("exists").
	 */
	update?: boolean;
}

/**
 * What importOrder did; `order` is the order as it now is here. `event` is the event recorded with
 * the write (recordEvents only), for the publisher.
 */
export type ImportResult =
	| { kind: "imported"; order: Order; event?: OrderEvent }
	| { kind: "exists"; order: Order }
	| { kind: "unchanged"; order: Order }
	| { kind: "updated"; order: Order; previous: Order; event?: OrderEvent }
	/** --update, but the order here was changed after the imported one's updatedAt: kept. */
	| { kind: "newer-here"; order: Order };

/** The history entry of an imported order, and of an order updated by an import. */
export const IMPORT_SOURCE = "import";

/** What an import with `update` overwrites (the id, createdAt and owner stay). */
export function importedFields(order: Order) {
	const { partitionKey, customerName, productName, status, updatedAt } = order;
	return { partitionKey, customerName, productName, status, updatedAt };
}

/** Whether an import would change nothing of `here` (updatedAt aside: it moves on every change). */
export function sameImportedFields(here: Order, imported: Order): boolean {
	return (
		here.partitionKey === imported.partitionKey &&
		here.customerName === imported.customerName &&
		here.productName === imported.productName &&
		here.status === imported.status
	);
}

/** The message id of an import's history entry at `version` (unique per order and version). */
export const importMessageId = (orderId: string, version: number) => `import:${orderId}:${version}`;

/** What every store adapter is built with, beside its connection. */
export interface StoreOptions {
	/**
	 * Record each created order's and applied change's event with it (the outbox), for a publisher
	 * to move to the event log (several instances). Off: the caller publishes events itself.
	 */
	recordEvents?: boolean;
	/**
	 * Outbox rows are written already claimed by this publisher, for this long: the instance that
	 * commits a change publishes its event without claiming it first.
	 */
	eventHolder?: string;
	eventLeaseMs?: number;
	/** How long a create's Idempotency-Key is remembered; an expired key is a new key. Default 24 h. */
	idempotencyRetentionMs?: number;
	/** The clock (ms since the epoch); tests move it instead of sleeping. */
	now?: () => number;
}

export const DEFAULT_IDEMPOTENCY_RETENTION_MS = 24 * 3600_000;

/**
 * Where orders live. Every adapter passes test/storage/contract.ts.
 * Methods throw StoreUnavailableError when the backing store cannot be reached in time,
 * and InvalidContinuationTokenError for a token they did not issue.
 */
export interface OrderStore {
	create(input: NewOrder, options?: CreateOptions): Promise<CreateResult>;
	get(orderId: string): Promise<Order | undefined>;
	list(query: ListQuery): Promise<ListPage>;
	/** Oldest first, creation first; undefined when the order does not exist. */
	history(orderId: string): Promise<HistoryEntry[] | undefined>;
	/** The order with its version; undefined when there is none. */
	load(orderId: string, options?: LoadOptions): Promise<StoredOrder | undefined>;
	/** Whether the queue message `messageId` was applied to the order. */
	wasApplied(orderId: string, messageId: string): Promise<boolean>;
	/**
	 * Atomically, and only while the order is as `stored` says: sets its status and updatedAt, appends
	 * the history entry and records the message id as applied. "conflict" when something changed it
	 * first (or this message was recorded meanwhile): load again. No rules here: see applyStatusChange.
	 */
	commitChange(stored: StoredOrder, change: ChangeToCommit): Promise<"committed" | "conflict">;
	/**
	 * Writes an order brought over from another system with its own id, status and timestamps, and
	 * one history entry at its updatedAt saying it was imported (source "import"): in one
	 * transaction, so it is whole or absent. An id that exists is left alone, or updated with
	 * `update` (see ImportOptions), so importing again changes nothing. With recordEvents the
	 * OrderCreated (or, for an update, ReceiveOrderUpdate) event is recorded with it. No checks of
	 * the values here: the caller validates them as the API would.
	 */
	importOrder(order: Order, options?: ImportOptions): Promise<ImportResult>;
	/** Throws StoreUnavailableError when the store is not reachable. */
	ping(): Promise<void>;
	/**
	 * Whether the event of `version` is still recorded (not yet published). Events leave the outbox
	 * oldest first, so when version v-1 is not pending, no older one is either.
	 */
	isPending(orderId: string, version: number): Promise<boolean>;
	/** The order's recorded, not yet published events, oldest first (empty unless recordEvents). */
	pendingEvents(orderId: string): Promise<PendingEvent[]>;
	/** Takes `pending` for `holder` until `untilMs`, if it is free; undefined when another holds it. */
	claimPendingEvent(
		pending: PendingEvent,
		holder: string,
		untilMs: number,
	): Promise<PendingEvent | undefined>;
	/**
	 * Until when this store stamped the claim on the outbox row of (orderId, version) it wrote for
	 * its eventHolder: the stamp is taken before the commit's request, so the publisher's fence knows
	 * the claim's true end, not a guess of how long the commit took. Remembered for recent writes
	 * only; no I/O. Undefined when unknown.
	 */
	claimStampedUntil?(orderId: string, version: number): number | undefined;
	/** Forgets a pending event once it is in the event log. */
	clearPendingEvent(pending: PendingEvent): Promise<void>;
	/** Orders with a pending event nobody holds (left behind by a stopped publisher). */
	ordersWithUnclaimedEvents(): Promise<string[]>;
	/** Deletes Idempotency-Key records past their retention; answers how many. */
	purgeExpiredIdempotencyKeys(): Promise<number>;
	close?(): Promise<void>;
}

/**
 * The store cannot serve right now (connection failure, timeout, throttling, a 5xx): worth a retry.
 * Anything else a store throws is a defect and must not be reported as an outage.
 */
export class StoreUnavailableError extends Error {
	readonly reason: UnavailableReason;
	constructor(message: string, options?: { cause?: unknown; reason?: UnavailableReason }) {
		super(message, options);
		this.name = "StoreUnavailableError";
		this.reason = options?.reason ?? "unreachable";
	}
}

export class InvalidContinuationTokenError extends Error {
	constructor() {
		super("continuationToken is not a token this service issued");
		this.name = "InvalidContinuationTokenError";
	}
}

/** base64url (RFC 4648 §5, unpadded) of a string's UTF-8 bytes. */
export function base64url(value: string): string {
	let bin = "";
	for (const b of new TextEncoder().encode(value)) bin += String.fromCharCode(b);
	return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Continuation tokens are opaque to clients: base64url of JSON. */
export function encodeToken(value: unknown): string {
	return base64url(JSON.stringify(value));
}

export function decodeToken(token: string): unknown {
	try {
		const bin = atob(token.replaceAll("-", "+").replaceAll("_", "/"));
		const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
		return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
	} catch {
		throw new InvalidContinuationTokenError();
	}
}
