// An index of the outbox: one row per pending event in one partition of the orders table,
//   PartitionKey = "~pending"   RowKey = "<orderId>~<version, 10 digits>"   at
// so that the sweep for events a stopped instance left behind reads one partition instead of
// scanning every order's rows. Rows are marked BEFORE the commit that writes the outbox row (a
// stopped instance leaves the index row behind with it; a commit that then fails leaves an index
// row without an event, which the sweep drops) and unmarked after the outbox row is cleared.
//
// Every change marks and unmarks a row: the writes of one moment go together, up to 100 in one
// transaction (one partition), one transaction at a time — under load one request carries many
// changes' index rows. A mark is written at once (its commit waits for it); an unmark waits to ride
// with the next mark, or for UNMARK_DELAY_MS when no mark comes: a row left a little longer only
// costs the sweep a point read.
//
// The sweep drops an index row whose outbox row is missing only when the row is older than the
// event lease (≥ 2× the store's deadline): a younger one may be a mark whose commit is still on its
// way, and dropping it would leave that event unfindable if its instance then stopped. The drop is
// conditional on the row's ETag, so a row marked again meanwhile is kept.
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import { submitTransaction } from "./table-transaction.js";

export const PENDING_PARTITION = "~pending";
const MAX_BATCH = 100;
/** How long an unmark waits for a mark to ride with before it is written on its own. */
export const UNMARK_DELAY_MS = 1000;

export const pendingRowKey = (orderId: string, version: number) =>
	`${orderId}~${version.toString().padStart(10, "0")}`;

export function parsePendingRowKey(rowKey: string): { orderId: string; version: number } {
	const at = rowKey.lastIndexOf("~");
	return { orderId: rowKey.slice(0, at), version: Number(rowKey.slice(at + 1)) };
}

/** An index row as the sweep lists it: which event, when it was marked, its ETag. */
export type IndexedEvent = { orderId: string; version: number; markedAt: number; etag: string };

type Op = { kind: "mark" | "unmark"; rowKey: string; resolve(): void; reject(err: unknown): void };

export class PendingIndex {
	private readonly waiting: Op[] = [];
	private writing = false;
	/** Writes the unmarks no mark took along. */
	private unmarkTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(
		private readonly client: TableClient,
		/** Runs one storage call with the store's deadline and error mapping. */
		private readonly call: <T>(what: string, fn: (abortSignal: AbortSignal) => Promise<T>) => Promise<T>,
		private readonly now: () => number,
	) {}

	/** Resolves once the row is written (the caller commits the event after). */
	mark(orderId: string, version: number): Promise<void> {
		return this.enqueue("mark", pendingRowKey(orderId, version));
	}

	/** Resolves once the row is gone (or was already): with the next mark, or within UNMARK_DELAY_MS. */
	unmark(orderId: string, version: number): Promise<void> {
		return this.enqueue("unmark", pendingRowKey(orderId, version));
	}

	private enqueue(kind: Op["kind"], rowKey: string): Promise<void> {
		return new Promise((resolve, reject) => {
			this.waiting.push({ kind, rowKey, resolve, reject });
			if (kind === "mark") this.writeNow();
			else this.writeUnmarksSoon();
		});
	}

	private writeUnmarksSoon(): void {
		if (this.unmarkTimer !== undefined) return;
		this.unmarkTimer = setTimeout(() => this.writeNow(true), UNMARK_DELAY_MS);
		// It must not keep a stopping process alive: an index row left behind is the sweep's to drop.
		(this.unmarkTimer as { unref?: () => void }).unref?.();
	}

	/** Writes what waits: marks and the unmarks riding with them (`all`: unmarks alone too). */
	private writeNow(all = false): void {
		if (all) this.unmarkTimer = undefined;
		if (!this.writing) void this.writeWaiting(all);
	}

	private async writeWaiting(all: boolean): Promise<void> {
		this.writing = true;
		try {
			while (this.waiting.some((op) => all || op.kind === "mark")) {
				// One transaction names each row once: a row marked and unmarked in one moment keeps
				// its last operation only.
				const batch = new Map<string, Op[]>();
				while (this.waiting.length > 0 && batch.size < MAX_BATCH) {
					const op = this.waiting.shift() as Op;
					batch.set(op.rowKey, [...(batch.get(op.rowKey) ?? []), op]);
				}
				const last = [...batch.values()].map((ops) => ops[ops.length - 1] as Op);
				try {
					await this.write(last);
					for (const ops of batch.values()) for (const op of ops) op.resolve();
				} catch (err) {
					for (const ops of batch.values()) for (const op of ops) op.reject(err);
				}
			}
		} finally {
			this.writing = false;
			// Unmarks left without a mark to ride with: written on their own shortly.
			if (this.waiting.length > 0) this.writeUnmarksSoon();
		}
	}

	private async write(ops: Op[]): Promise<void> {
		const at = this.now();
		const actions = ops.map(
			(op): TransactionAction =>
				op.kind === "mark"
					? ["upsert", { partitionKey: PENDING_PARTITION, rowKey: op.rowKey, at }, "Replace"]
					: ["delete", { partitionKey: PENDING_PARTITION, rowKey: op.rowKey }],
		);
		try {
			await this.call("pending index", (abortSignal) =>
				submitTransaction(this.client, actions, { abortSignal }),
			);
		} catch (err) {
			// A delete of a row already gone fails the whole transaction: write them one by one.
			if ((err as { statusCode?: number }).statusCode !== 404) throw err;
			for (const op of ops) {
				await this.call("pending index", async (abortSignal) => {
					try {
						// Stamped now, not when the batch began: a mark must not look older than it is.
						if (op.kind === "mark")
							await this.client.upsertEntity(
								{ partitionKey: PENDING_PARTITION, rowKey: op.rowKey, at: this.now() },
								"Replace",
								{
									abortSignal,
								},
							);
						else await this.client.deleteEntity(PENDING_PARTITION, op.rowKey, { abortSignal });
					} catch (e) {
						if ((e as { statusCode?: number }).statusCode !== 404) throw e;
					}
				});
			}
		}
	}

	/** Up to `limit` pending events the index names, oldest orders first by id. */
	async list(limit: number): Promise<IndexedEvent[]> {
		return this.call("pending index", async (abortSignal) => {
			const out: IndexedEvent[] = [];
			const rows = this.client.listEntities<{ at?: number }>({
				queryOptions: { filter: odata`PartitionKey eq ${PENDING_PARTITION}`, select: ["RowKey", "at"] },
				abortSignal,
			});
			for await (const row of rows) {
				const rowKey = row.rowKey as string;
				if (rowKey.startsWith("~")) continue; // the partition's own markers
				out.push({ ...parsePendingRowKey(rowKey), markedAt: Number(row.at ?? 0), etag: row.etag });
				if (out.length >= limit) break;
			}
			return out;
		});
	}

	/** Removes a listed row whose event is gone, unless it was marked again since it was listed. */
	async drop(listed: IndexedEvent): Promise<void> {
		await this.call("pending index", async (abortSignal) => {
			try {
				await this.client.deleteEntity(PENDING_PARTITION, pendingRowKey(listed.orderId, listed.version), {
					etag: listed.etag,
					abortSignal,
				});
			} catch (err) {
				const status = (err as { statusCode?: number }).statusCode;
				if (status !== 404 && status !== 412) throw err; // gone already, or marked again: kept
			}
		});
	}
}
