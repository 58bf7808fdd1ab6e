import { createdEvent, type OrderEvent, updatedEvent } from "../domain/events.js";
import { newOrderId } from "../domain/ids.js";
import type { HistoryEntry, NewOrder, Order } from "../domain/order.js";
import { ClaimStamps } from "./claim-stamps.js";
import {
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
	type OrderStore,
	type PendingEvent,
	type StoredOrder,
	type StoreOptions,
	sameImportedFields,
} from "./port.js";

interface Record_ {
	order: Order;
	history: HistoryEntry[];
	appliedMessageIds: Set<string>;
	/** The outbox: events recorded with their change, oldest first (recordEvents only). */
	pending: PendingEvent[];
}

/**
 * In-memory OrderStore: for fast tests and the edge build's development mode.
 * Same semantics as the Azure Tables adapter; data lives only as long as the process (or isolate).
 */
export class MemoryOrderStore implements OrderStore {
	private readonly records = new Map<string, Record_>();
	/** Order ids, sorted (as Azure Tables sorts keys), so a page starts with a binary search. */
	private readonly sortedIds: string[] = [];
	/** In the order the keys were claimed, so the expired ones are at the front. */
	private readonly idempotency = new Map<
		string,
		{ fingerprint?: string; orderId: string; claimedAt: number }
	>();
	private readonly retentionMs: number;
	private readonly now: () => number;
	private readonly recordEvents: boolean;
	private etags = 0;

	constructor(private readonly options: StoreOptions = {}) {
		this.recordEvents = options.recordEvents ?? false;
		this.retentionMs = options.idempotencyRetentionMs ?? DEFAULT_IDEMPOTENCY_RETENTION_MS;
		this.now = options.now ?? Date.now;
	}

	async create(input: NewOrder, options: CreateOptions = {}): Promise<CreateResult> {
		const { idempotencyKey, fingerprint } = options;
		if (idempotencyKey !== undefined) {
			await this.purgeExpiredIdempotencyKeys();
			const seen = this.idempotency.get(idempotencyKey);
			if (seen) {
				if (seen.fingerprint !== fingerprint) return { kind: "key-reused" };
				const existing = this.records.get(seen.orderId);
				if (existing) return { kind: "replayed", order: { ...existing.order } };
			}
		}
		const now = new Date().toISOString();
		const order: Order = {
			orderId: newOrderId(),
			...input,
			status: "Pending",
			createdAt: now,
			updatedAt: now,
		};
		this.insertSorted(order.orderId);
		this.records.set(order.orderId, {
			order,
			history: [{ status: "Pending", at: now, source: "api" }],
			appliedMessageIds: new Set(),
			pending: this.recordEvents ? [this.pendingOf(order.orderId, 0, createdEvent({ ...order }))] : [],
		});
		if (idempotencyKey !== undefined) {
			this.idempotency.delete(idempotencyKey); // re-inserted at the back: claimed now
			this.idempotency.set(idempotencyKey, { fingerprint, orderId: order.orderId, claimedAt: this.now() });
		}
		return { kind: "created", order: { ...order } };
	}

	async importOrder(order: Order, options: ImportOptions = {}): Promise<ImportResult> {
		const r = this.records.get(order.orderId);
		if (!r) {
			const imported = { ...order };
			const event = this.recordEvents ? createdEvent({ ...imported }) : undefined;
			this.insertSorted(order.orderId);
			this.records.set(order.orderId, {
				order: imported,
				history: [
					{
						status: order.status,
						at: order.updatedAt,
						messageId: importMessageId(order.orderId, 0),
						source: IMPORT_SOURCE,
					},
				],
				appliedMessageIds: new Set(),
				pending: event ? [this.pendingOf(order.orderId, 0, event)] : [],
			});
			return { kind: "imported", order: { ...imported }, ...(event ? { event } : {}) };
		}
		const previous = { ...r.order };
		if (!options.update) return { kind: "exists", order: previous };
		if (sameImportedFields(previous, order)) return { kind: "unchanged", order: previous };
		if (previous.updatedAt > order.updatedAt) return { kind: "newer-here", order: previous };
		const version = r.history.length;
		const messageId = importMessageId(order.orderId, version);
		r.order = { ...previous, ...importedFields(order) };
		r.history.push({ status: order.status, at: order.updatedAt, messageId, source: IMPORT_SOURCE });
		const event = this.recordEvents
			? updatedEvent({ ...r.order }, version, messageId, previous.status)
			: undefined;
		if (event) r.pending.push(this.pendingOf(order.orderId, version, event));
		return { kind: "updated", order: { ...r.order }, previous, ...(event ? { event } : {}) };
	}

	async get(orderId: string): Promise<Order | undefined> {
		const r = this.records.get(orderId);
		return r ? { ...r.order } : undefined;
	}

	async list(query: ListQuery): Promise<ListPage> {
		let after = "";
		if (query.continuationToken !== undefined) {
			const decoded = decodeToken(query.continuationToken) as { after?: unknown };
			if (typeof decoded?.after !== "string") throw new InvalidContinuationTokenError();
			after = decoded.after;
		}
		const items: Order[] = [];
		for (let i = this.firstAfter(after); i < this.sortedIds.length; i++) {
			const id = this.sortedIds[i] as string;
			const o = (this.records.get(id) as Record_).order;
			if (query.status !== undefined && o.status !== query.status) continue;
			if (query.partitionKey !== undefined && o.partitionKey !== query.partitionKey) continue;
			if (query.customerName !== undefined && o.customerName !== query.customerName) continue;
			if (query.ownerId !== undefined && o.ownerId !== query.ownerId) continue;
			if (items.length === query.limit) {
				const last = items[items.length - 1] as Order;
				return { items, continuationToken: encodeToken({ after: last.orderId }) };
			}
			items.push({ ...o });
		}
		return { items };
	}

	/** Index of the first id greater than `after`. */
	private firstAfter(after: string): number {
		let lo = 0;
		let hi = this.sortedIds.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if ((this.sortedIds[mid] as string) <= after) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	}

	private insertSorted(id: string): void {
		const last = this.sortedIds[this.sortedIds.length - 1];
		if (last === undefined || last < id)
			this.sortedIds.push(id); // the usual case: v7 ids grow
		else this.sortedIds.splice(this.firstAfter(id), 0, id);
	}

	async history(orderId: string): Promise<HistoryEntry[] | undefined> {
		return this.records.get(orderId)?.history.map((h) => ({ ...h }));
	}

	async load(orderId: string): Promise<StoredOrder | undefined> {
		const r = this.records.get(orderId);
		if (!r) return undefined;
		const version = r.history.length - 1;
		return { order: { ...r.order }, version, etag: String(version) };
	}

	async wasApplied(orderId: string, messageId: string): Promise<boolean> {
		return this.records.get(orderId)?.appliedMessageIds.has(messageId) ?? false;
	}

	async commitChange(stored: StoredOrder, change: ChangeToCommit): Promise<"committed" | "conflict"> {
		const r = this.records.get(stored.order.orderId);
		if (!r) return "conflict";
		if (String(r.history.length - 1) !== stored.etag || r.appliedMessageIds.has(change.messageId)) {
			return "conflict";
		}
		r.order = { ...r.order, status: change.status, updatedAt: change.at };
		r.history.push({
			status: change.status,
			at: change.at,
			messageId: change.messageId,
			...(change.source ? { source: change.source } : {}),
		});
		r.appliedMessageIds.add(change.messageId);
		if (this.recordEvents)
			r.pending.push(this.pendingOf(r.order.orderId, r.history.length - 1, change.event));
		return "committed";
	}

	/** Claims this store stamped on outbox rows it wrote (see OrderStore.claimStampedUntil). */
	private readonly stampedClaims = new ClaimStamps(() => this.now());

	claimStampedUntil(orderId: string, version: number): number | undefined {
		return this.stampedClaims.get(orderId, version);
	}

	private pendingOf(orderId: string, version: number, event: OrderEvent): PendingEvent {
		const { eventHolder, eventLeaseMs = 10_000 } = this.options;
		return {
			orderId,
			version,
			event,
			...(eventHolder
				? { claimedBy: eventHolder, claimedUntil: this.stampedClaims.stamp(orderId, version, eventLeaseMs) }
				: {}),
			etag: String(++this.etags),
		};
	}

	async isPending(orderId: string, version: number): Promise<boolean> {
		return (this.records.get(orderId)?.pending ?? []).some((p) => p.version === version);
	}

	async pendingEvents(orderId: string): Promise<PendingEvent[]> {
		return (this.records.get(orderId)?.pending ?? []).map((p) => ({ ...p }));
	}

	async claimPendingEvent(
		pending: PendingEvent,
		holder: string,
		untilMs: number,
	): Promise<PendingEvent | undefined> {
		const list = this.records.get(pending.orderId)?.pending ?? [];
		const i = list.findIndex((p) => p.version === pending.version);
		const current = list[i];
		if (!current || current.etag !== pending.etag) return undefined;
		const claimed = { ...current, claimedBy: holder, claimedUntil: untilMs, etag: String(++this.etags) };
		list[i] = claimed;
		return { ...claimed };
	}

	async clearPendingEvent(pending: PendingEvent): Promise<void> {
		const r = this.records.get(pending.orderId);
		if (r) r.pending = r.pending.filter((p) => p.version !== pending.version);
	}

	async ordersWithUnclaimedEvents(): Promise<string[]> {
		const now = this.now();
		return [...this.records.values()]
			.filter((r) => r.pending.some((p) => (p.claimedUntil ?? 0) < now))
			.map((r) => r.order.orderId);
	}

	async ping(): Promise<void> {}

	async purgeExpiredIdempotencyKeys(): Promise<number> {
		const cutoff = this.now() - this.retentionMs;
		let purged = 0;
		for (const [key, claim] of this.idempotency) {
			if (claim.claimedAt > cutoff) break;
			this.idempotency.delete(key);
			purged++;
		}
		return purged;
	}
}
