// Heartbeat rows of the instances on one event log, in the log's own table (partition "instances",
// beside the positions and the meta row; the log never lists this partition). One upsert and one
// query of this small partition per heartbeat. Whether a row is fresh is judged by the storage
// service's own Timestamp of each row against that of the row just written, so the instances'
// clocks do not matter.
import { odata, RestError, type TableClient } from "@azure/data-tables";
import type { InstanceRegistry, InstanceRow } from "./replicas.js";

const PARTITION = "instances";
/** Characters Azure refuses in keys, and control characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: those are the ones refused
const REFUSED_IN_KEYS = /[/\\#?\u0000-\u001f\u007f-\u009f]/g;

type Row = { rowKey: string; topic?: string; subscription?: string; timestamp?: string; etag?: string };

const keyOf = (id: string) => id.replace(REFUSED_IN_KEYS, "_").slice(0, 200);

export class AzureTablesInstanceRegistry implements InstanceRegistry {
	constructor(
		private readonly client: TableClient,
		private readonly timeoutMs = 5000,
	) {}

	async beat(self: InstanceRow, expiryMs: number): Promise<InstanceRow[]> {
		const rowKey = keyOf(self.id);
		await this.client.upsertEntity(
			{ partitionKey: PARTITION, rowKey, topic: self.topic, subscription: self.subscription },
			"Replace",
			{ abortSignal: AbortSignal.timeout(this.timeoutMs) },
		);
		const rows: Row[] = [];
		for await (const r of this.client.listEntities<Row>({
			queryOptions: { filter: odata`PartitionKey eq ${PARTITION}` },
			abortSignal: AbortSignal.timeout(this.timeoutMs),
		}))
			rows.push(r as Row);
		const writtenAt = (r: Row | undefined) => (r?.timestamp ? Date.parse(r.timestamp) : Number.NaN);
		const now = writtenAt(rows.find((r) => r.rowKey === rowKey));
		const live: InstanceRow[] = [];
		for (const r of rows) {
			const age = now - writtenAt(r);
			if (!(age > expiryMs)) {
				const id = r.rowKey === rowKey ? self.id : r.rowKey;
				live.push({
					id,
					topic: r.topic ?? "",
					subscription: r.subscription ?? "",
					...(Number.isFinite(writtenAt(r)) ? { writtenAt: writtenAt(r) } : {}),
				});
				continue;
			}
			// A stopped instance's row: removed, unless it was written again meanwhile (its etag).
			await this.client
				.deleteEntity(PARTITION, r.rowKey, { etag: r.etag, abortSignal: AbortSignal.timeout(this.timeoutMs) })
				.catch((err) => {
					if (!(err instanceof RestError && (err.statusCode === 404 || err.statusCode === 412))) throw err;
				});
		}
		if (!live.some((r) => r.id === self.id)) live.push(self);
		return live;
	}

	async leave(id: string): Promise<void> {
		try {
			await this.client.deleteEntity(PARTITION, keyOf(id), {
				abortSignal: AbortSignal.timeout(this.timeoutMs),
			});
		} catch (err) {
			if (!(err instanceof RestError && err.statusCode === 404)) throw err;
		}
	}
}
