// The event log in Azure Table Storage, in a table of its own (`<TableName>Events`, so order
// listings never scan it):
//   PartitionKey = "s" + floor(seq / 1000) (12 digits)   RowKey = seq (15 digits)   the event, loggedAt
//   PartitionKey = "meta"  RowKey = "meta"                 epoch, firstRetained
//   PartitionKey = "meta"  RowKey = "secret"               the secret instances share (sharedSecret)
// Partitions "instances" (heartbeat rows: src/events/azure-instances.ts) and "control" (SignalR
// control messages: src/events/azure-control.ts) share the table; the log never lists them.
// A position is taken by creating its row: of two instances aiming at the same position one gets
// 409 and tries the next, so the log is gapless and numbered alike for everyone.
import { odata, RestError, type TableClient, type TransactionAction } from "@azure/data-tables";
import type { OrderEvent } from "../domain/events.js";
import {
	errorSummary,
	type TableConnection,
	tableClient,
	unavailableReason,
} from "../storage/azure-tables.js";
import { StoreUnavailableError } from "../storage/port.js";
import { submitTransaction } from "../storage/table-transaction.js";
import { deadlineSignal } from "../util/deadline-signal.js";
import { ClaimExpiredError, type EventLog, LOG_PAGE, type LoggedEvent } from "./port.js";

const META = { partitionKey: "meta", rowKey: "meta" };
const SECRET = { partitionKey: "meta", rowKey: "secret" };
/** Appends that meet this many taken positions in a row read the head instead of stepping by one. */
const STEPS_BEFORE_RESYNC = 3;
/** Reads of up to this many positions use point reads instead of a range query. */
const POINT_READS = 8;
/** Most events written in one transaction (Azure's limit is 100 operations, one is the tail guard). */
const MAX_BATCH = 99;
/**
 * A fenced append is written only while its claim outlasts the write's deadline by this part of
 * the deadline more (clocks of instances differ a little; the instance that takes the event over
 * judges by its own). Within Events:LeaseSeconds ≥ 2 × TimeoutMs, with room for the commit.
 */
const FENCE_MARGIN = 0.25;

type EventRow = { partitionKey: string; rowKey: string; data: string; loggedAt: number };
type MetaRow = { epoch: string; firstRetained?: number; etag?: string };

const partitionOf = (seq: number) =>
	`s${Math.floor(seq / LOG_PAGE)
		.toString()
		.padStart(12, "0")}`;
const rowKeyOf = (seq: number) => seq.toString().padStart(15, "0");
const status = (err: unknown) => (err instanceof RestError ? err.statusCode : undefined);

/** The log's table for an orders table: its name plus "Events", within Azure's 63 characters. */
export function eventTableName(tableName: string): string {
	return `${tableName.slice(0, 57)}Events`;
}

export class AzureTablesEventLog implements EventLog {
	private meta?: Promise<MetaRow>;
	/** The newest position known to exist: appends aim just past it. */
	private known = 0;
	private knownLoaded?: Promise<void>;

	constructor(
		/** The log's table (the instances' heartbeat rows live in it too: src/events/azure-instances.ts). */
		readonly client: TableClient,
		readonly timeoutMs = 5000,
		private readonly now: () => number = Date.now,
	) {}

	/** One storage call with a deadline; what cannot reach storage becomes StoreUnavailableError. */
	private async call<T>(what: string, fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
		const deadline = deadlineSignal(this.timeoutMs);
		try {
			return await fn(deadline.signal);
		} catch (err) {
			const reason = deadline.signal.aborted ? "timeout" : unavailableReason(err);
			if (reason) {
				throw new StoreUnavailableError(`event log unavailable (${what}, ${reason}): ${errorSummary(err)}`, {
					cause: err,
					reason,
				});
			}
			throw err;
		} finally {
			deadline.clear();
		}
	}

	/** The table and its meta row (epoch) exist: made on first use, read once. */
	private loadMeta(): Promise<MetaRow> {
		this.meta ??= (async () => {
			await this.call("create table", (abortSignal) => this.client.createTable({ abortSignal }));
			try {
				await this.call("create epoch", (abortSignal) =>
					this.client.createEntity(
						{ ...META, epoch: crypto.randomUUID().slice(0, 8), firstRetained: 1 },
						{ abortSignal },
					),
				);
			} catch (err) {
				if (status(err) !== 409) throw err;
			}
			return this.call("read epoch", (abortSignal) =>
				this.client.getEntity<MetaRow>(META.partitionKey, META.rowKey, { abortSignal }),
			);
		})().catch((err) => {
			this.meta = undefined;
			throw err;
		});
		return this.meta;
	}

	async epoch(): Promise<string> {
		return (await this.loadMeta()).epoch;
	}

	async state(): Promise<{ epoch: string; firstRetained: number }> {
		const read = () =>
			this.call("read meta", async (abortSignal): Promise<MetaRow | undefined> => {
				try {
					return await this.client.getEntity<MetaRow>(META.partitionKey, META.rowKey, { abortSignal });
				} catch (err) {
					if (status(err) === 404) return undefined; // the table (or its meta row) is gone
					throw err;
				}
			});
		const current = await this.loadMeta();
		let fresh: MetaRow | undefined = await read();
		if (!fresh) {
			this.meta = undefined; // made anew: a new epoch (or the one another instance made first)
			fresh = await this.loadMeta();
		}
		if (fresh.epoch !== current.epoch) {
			// Recreated: positions of the old log mean nothing here, appends aim at the new head.
			this.meta = Promise.resolve(fresh);
			this.known = 0;
			this.knownLoaded = undefined;
		}
		return { epoch: fresh.epoch, firstRetained: Number(fresh.firstRetained ?? 1) };
	}

	async firstRetained(): Promise<number> {
		await this.loadMeta();
		const meta = await this.call("read meta", (abortSignal) =>
			this.client.getEntity<MetaRow>(META.partitionKey, META.rowKey, { abortSignal }),
		);
		return Number(meta.firstRetained ?? 1);
	}

	observe(seq: number): void {
		if (seq > this.known) this.known = seq;
	}

	/**
	 * Appends waiting to be written. Appends from this process are written together: up to 100 at
	 * consecutive positions in one transaction (one partition), one batch at a time, so they neither
	 * race each other for a position nor cost a request each.
	 */
	private readonly waiting: {
		event: OrderEvent;
		validUntil?: number;
		resolve(seq: number): void;
		reject(err: unknown): void;
	}[] = [];
	private writing = false;

	append(event: OrderEvent, validUntil?: number): Promise<number> {
		return new Promise((resolve, reject) => {
			this.waiting.push({ event, ...(validUntil !== undefined ? { validUntil } : {}), resolve, reject });
			if (!this.writing) void this.writeWaiting();
		});
	}

	private async writeWaiting(): Promise<void> {
		this.writing = true;
		try {
			while (this.waiting.length > 0) {
				const first = this.known + 1;
				// A batch stays in one partition: it ends at the partition's last position.
				const room = LOG_PAGE - (first % LOG_PAGE);
				const taken = this.waiting.splice(0, Math.min(MAX_BATCH, room));
				// The fence, judged now that the write is about to start (an append may have waited
				// behind others): one that could land after its claim ran out is not written at all.
				const latest = this.now() + this.timeoutMs * (1 + FENCE_MARGIN);
				const batch = taken.filter((b) => b.validUntil === undefined || b.validUntil > latest);
				for (const b of taken) if (!batch.includes(b)) b.reject(new ClaimExpiredError());
				if (batch.length === 0) continue;
				try {
					const seqs = await this.appendBatch(batch.map((b) => b.event));
					for (const [i, b] of batch.entries()) b.resolve(seqs[i] as number);
				} catch (err) {
					for (const b of batch) b.reject(err);
				}
			}
		} finally {
			this.writing = false;
		}
	}

	/** Writes `events` at the next free consecutive positions; answers them. */
	private async appendBatch(events: OrderEvent[]): Promise<number[]> {
		await this.loadMeta();
		this.knownLoaded ??= this.head().then(
			(h) => this.observe(h),
			(err) => {
				this.knownLoaded = undefined; // tried again by the next append
				throw err;
			},
		);
		await this.knownLoaded;
		const data = events.map((e) => JSON.stringify(e));
		for (let taken = 0; ; taken++) {
			if (taken > 0 && taken % STEPS_BEFORE_RESYNC === 0) this.observe(await this.head());
			const first = this.known + 1;
			// Never across a partition boundary (a transaction holds one partition): fewer this time.
			const count = Math.min(data.length, LOG_PAGE - (first % LOG_PAGE));
			const loggedAt = this.now();
			const rows = data.slice(0, count).map((d, i) => ({
				partitionKey: partitionOf(first + i),
				rowKey: rowKeyOf(first + i),
				data: d,
				loggedAt,
			}));
			// The tail guard: the position before `first` must exist, checked in the same transaction
			// (a merge of nothing into it fails with 404 when it does not). An instance that still aims
			// at the positions of a log that was deleted and recreated finds out here, instead of
			// writing far past the new log's head, and appends at the new log's positions.
			const guardInTransaction = first > 1 && partitionOf(first - 1) === partitionOf(first);
			if (first > 1 && !guardInTransaction && !(await this.exists(first - 1))) {
				await this.lostTheTail();
				continue;
			}
			try {
				await this.call("append", (abortSignal) =>
					submitTransaction(
						this.client,
						[
							...rows.map((r): TransactionAction => ["create", r]),
							...(guardInTransaction
								? [
										[
											"update",
											{ partitionKey: partitionOf(first - 1), rowKey: rowKeyOf(first - 1) },
											"Merge",
										] as TransactionAction,
									]
								: []),
						],
						{ abortSignal },
					),
				);
				this.observe(first + count - 1);
				if (count === data.length) return rows.map((_, i) => first + i);
				// The rest go into the next partition.
				const rest = await this.appendBatch(events.slice(count));
				return [...rows.map((_, i) => first + i), ...rest];
			} catch (err) {
				if (status(err) === 404) {
					await this.lostTheTail();
					continue;
				}
				if (status(err) !== 409) throw err;
				this.observe(first); // a position was taken by another instance: aim past it
			}
		}
	}

	/** The position this handle aimed after does not exist: the log was recreated. Aim anew. */
	private async lostTheTail(): Promise<void> {
		await this.state(); // adopts a new epoch
		this.known = 0;
		this.observe(await this.head());
	}

	async read(after: number, limit: number): Promise<LoggedEvent[]> {
		await this.loadMeta();
		if (limit <= POINT_READS) return this.readByPoint(after, limit);
		const out: LoggedEvent[] = [];
		// Purged positions read as nothing: start at the first one kept.
		let next = Math.max(after + 1, await this.firstRetained());
		while (out.length < limit) {
			const want = Math.min(limit - out.length, LOG_PAGE);
			const rows = await this.call("read", async (abortSignal) => {
				const page = await this.client
					.listEntities<EventRow>({
						queryOptions: {
							filter: odata`PartitionKey eq ${partitionOf(next)} and RowKey ge ${rowKeyOf(next)}`,
						},
						abortSignal,
					})
					.byPage({ maxPageSize: want })
					.next();
				return (page.value ?? []) as EventRow[];
			});
			for (const row of rows)
				out.push({ seq: Number(row.rowKey), event: JSON.parse(row.data) as OrderEvent });
			const last = rows.length > 0 ? Number(rows[rows.length - 1]?.rowKey) : next - 1;
			const partitionEnd = (Math.floor(next / LOG_PAGE) + 1) * LOG_PAGE - 1;
			// Gapless: a partition that ends early ends the log; a full one may continue in the next.
			if (rows.length < want && last < partitionEnd) break;
			next = last + 1;
			if (rows.length === 0 && next > partitionEnd) break;
		}
		return out;
	}

	/**
	 * A few positions by point reads, side by side: what a hub catching up on the newest events asks
	 * for all the time. (A point read is the cheapest request; a range query scans, and in Azurite
	 * the whole table.) The log has no gaps, so the first missing position ends it.
	 */
	private async readByPoint(after: number, limit: number): Promise<LoggedEvent[]> {
		const rows = await Promise.all(
			Array.from({ length: limit }, (_, i) =>
				this.call("read", async (abortSignal) => {
					const seq = after + 1 + i;
					try {
						return await this.client.getEntity<EventRow>(partitionOf(seq), rowKeyOf(seq), { abortSignal });
					} catch (err) {
						if (status(err) === 404) return undefined;
						throw err;
					}
				}),
			),
		);
		const out: LoggedEvent[] = [];
		for (const row of rows) {
			if (!row) break;
			out.push({ seq: Number(row.rowKey), event: JSON.parse(row.data) as OrderEvent });
		}
		return out;
	}

	/**
	 * The newest position, found with point reads: positions exist from the first kept one to the
	 * head without a gap, so "does position p exist" is a yes-then-no line to search — by doubling
	 * from the newest position known, then halving. About 2·log2(events) reads, however long the log.
	 */
	async head(): Promise<number> {
		const first = await this.firstRetained();
		let low = Math.max(this.known, first - 1); // exists (or is just before the log)
		if (!(await this.exists(low + 1))) return low;
		let step = 1;
		let high = low + 1;
		while (await this.exists(high)) {
			low = high;
			step *= 2;
			high = low + step;
		}
		// low exists, high does not
		while (high - low > 1) {
			const mid = Math.floor((low + high) / 2);
			if (await this.exists(mid)) low = mid;
			else high = mid;
		}
		return low;
	}

	private async exists(seq: number): Promise<boolean> {
		if (seq < 1) return true;
		return (await this.readByPoint(seq - 1, 1)).length === 1;
	}

	async purge(retentionMs: number): Promise<number> {
		const cutoff = this.now() - retentionMs;
		const head = await this.head();
		let first = await this.firstRetained();
		let purged = 0;
		// Whole partitions only, oldest first, never the head's.
		while (partitionOf(first) !== partitionOf(head)) {
			const partition = partitionOf(first);
			const rows = await this.call("read partition", async (abortSignal) => {
				const out: EventRow[] = [];
				for await (const r of this.client.listEntities<EventRow>({
					queryOptions: {
						filter: odata`PartitionKey eq ${partition}`,
						select: ["PartitionKey", "RowKey", "loggedAt"],
					},
					abortSignal,
				}))
					out.push(r as EventRow);
				return out;
			});
			if (rows.some((r) => Number(r.loggedAt) >= cutoff)) break;
			const nextFirst = (Math.floor(first / LOG_PAGE) + 1) * LOG_PAGE;
			// Move the boundary first, forward only (instances purge at the same time): a replay that
			// reads it will not trust rows being deleted.
			if (!(await this.moveFirstRetained(nextFirst))) return purged;
			for (const r of rows) {
				try {
					await this.call("purge", (abortSignal) =>
						this.client.deleteEntity(r.partitionKey, r.rowKey, { abortSignal }),
					);
				} catch (err) {
					if (status(err) !== 404) throw err; // another instance deleted it first
				}
			}
			purged += rows.length;
			first = nextFirst;
		}
		return purged;
	}

	/** Sets the first retained position to `to` if it is further on; false when another got there first. */
	private async moveFirstRetained(to: number): Promise<boolean> {
		const meta = await this.call("read meta", (abortSignal) =>
			this.client.getEntity<MetaRow>(META.partitionKey, META.rowKey, { abortSignal }),
		);
		if (Number(meta.firstRetained ?? 1) >= to) return false;
		try {
			await this.call("move first retained", (abortSignal) =>
				this.client.updateEntity({ ...META, firstRetained: to }, "Merge", { etag: meta.etag, abortSignal }),
			);
			return true;
		} catch (err) {
			if (status(err) === 412) return false;
			throw err;
		}
	}

	/** Made by the first instance that asks (of two at once, one gets 409 and reads the other's). */
	async sharedSecret(): Promise<string> {
		await this.loadMeta(); // the table exists
		const random = () => {
			const bytes = crypto.getRandomValues(new Uint8Array(32));
			return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
		};
		try {
			const secret = random();
			await this.call("create secret", (abortSignal) =>
				this.client.createEntity({ ...SECRET, secret }, { abortSignal }),
			);
			return secret;
		} catch (err) {
			if (status(err) !== 409) throw err;
		}
		const row = await this.call("read secret", (abortSignal) =>
			this.client.getEntity<{ secret: string }>(SECRET.partitionKey, SECRET.rowKey, { abortSignal }),
		);
		return row.secret;
	}

	async ping(): Promise<void> {
		await this.loadMeta();
		await this.firstRetained(); // a real read
	}
}

/** An event log beside the orders table, reached the same way (connection string or identity). */
export function createAzureTablesEventLog(
	connection: TableConnection,
	tableName: string,
	options: { timeoutMs?: number; now?: () => number } = {},
): AzureTablesEventLog {
	return new AzureTablesEventLog(
		tableClient(connection, eventTableName(tableName)),
		options.timeoutMs,
		options.now,
	);
}
