// Control messages in the event log's own table (partition "control", beside the positions, the
// meta row and the instances' heartbeat rows; the log never lists this partition):
//   PartitionKey = "control"   RowKey = <ms since the epoch, 15 digits>-<message id>   data0, data1…
// Rows are read by a range of RowKey (the last few seconds) and removed a minute after they were
// written, by whichever instance posts or reads next (src/events/control.ts).
import { odata, RestError, type TableClient } from "@azure/data-tables";
import type { ControlBoard, ControlMessage } from "./port.js";

const PARTITION = "control";
/** A string property holds at most 64 KiB (32 K UTF-16 characters): the JSON is split into parts. */
const PART_CHARS = 30_000;
/** Message ids become part of a RowKey: only these characters, this long at most. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

type Row = { rowKey: string } & Record<string, unknown>;

/**
 * JSON with every non-ASCII character escaped (\u00e9): the stored text is plain ASCII. A request
 * body over 64 KiB with multi-byte UTF-8 characters came back from Azurite with the character that
 * straddled byte 65,536 mangled (test/events/control-board.test.ts); ASCII cannot be split so.
 */
const asciiJson = (value: unknown) =>
	JSON.stringify(value).replace(
		/[\u007f-\uffff]/g,
		(c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
	);

const timeKey = (ms: number) => Math.max(0, Math.floor(ms)).toString().padStart(15, "0");

export class AzureTablesControlBoard implements ControlBoard {
	constructor(
		private readonly client: TableClient,
		private readonly timeoutMs = 5000,
		private readonly now: () => number = Date.now,
	) {}

	async post(id: string, message: ControlMessage): Promise<void> {
		if (!ID.test(id)) throw new Error("a control message id is 1-64 letters, digits, - or _");
		const json = asciiJson(message);
		const parts: Record<string, string> = {};
		for (let i = 0; i * PART_CHARS < json.length; i++)
			parts[`data${i}`] = json.slice(i * PART_CHARS, (i + 1) * PART_CHARS);
		await this.client.createEntity(
			{ partitionKey: PARTITION, rowKey: `${timeKey(this.now())}-${id}`, ...parts },
			{ abortSignal: AbortSignal.timeout(this.timeoutMs) },
		);
	}

	async recent(withinMs: number): Promise<{ id: string; message: ControlMessage }[]> {
		const from = timeKey(this.now() - withinMs);
		const out: { id: string; message: ControlMessage }[] = [];
		for await (const row of this.client.listEntities<Row>({
			queryOptions: { filter: odata`PartitionKey eq ${PARTITION} and RowKey ge ${from}` },
			abortSignal: AbortSignal.timeout(this.timeoutMs),
		})) {
			const r = row as Row;
			let json = "";
			for (let i = 0; typeof r[`data${i}`] === "string"; i++) json += r[`data${i}`] as string;
			try {
				const message: unknown = JSON.parse(json);
				if (typeof message === "object" && message !== null && !Array.isArray(message))
					out.push({ id: r.rowKey.slice(16), message: message as ControlMessage });
			} catch {
				// Not one of ours (or cut short): nothing to act on.
			}
		}
		return out;
	}

	async removeOld(olderThanMs: number): Promise<number> {
		const before = timeKey(this.now() - olderThanMs);
		const old: string[] = [];
		for await (const row of this.client.listEntities<Row>({
			queryOptions: {
				filter: odata`PartitionKey eq ${PARTITION} and RowKey lt ${before}`,
				select: ["RowKey"],
			},
			abortSignal: AbortSignal.timeout(this.timeoutMs),
		}))
			old.push((row as Row).rowKey);
		for (const rowKey of old) {
			await this.client
				.deleteEntity(PARTITION, rowKey, { abortSignal: AbortSignal.timeout(this.timeoutMs) })
				.catch((err) => {
					// Another instance removed it first.
					if (!(err instanceof RestError && err.statusCode === 404)) throw err;
				});
		}
		return old.length;
	}
}
