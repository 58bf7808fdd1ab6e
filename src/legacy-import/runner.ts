// The import itself: a first pass over the legacy table counts the entities and finds the ids
// (which property holds them, which repeat), a second maps each entity and writes it with
// OrderStore.importOrder, a few at a time. Each order is written whole in one transaction, so a run
// killed midway leaves no half-written order, and the next run skips what is there and goes on.
import type { TableClient } from "@azure/data-tables";
import type { OrderEvent } from "../domain/events.js";
import type { Order } from "../domain/order.js";
import type { OrderStatus } from "../domain/status.js";
import {
	type ImportResult,
	type OrderStore,
	StoreUnavailableError,
	sameImportedFields,
} from "../storage/port.js";
import { type IdSource, IdSurvey, mapLegacyEntity } from "./mapper.js";
import { legacyEntities } from "./reader.js";

export interface LegacyImportOptions {
	/** Where the ids are; default: OrderId when every entity has one, else RowKey. */
	idFrom?: IdSource;
	statusMap?: ReadonlyMap<string, OrderStatus>;
	/** Overwrite orders that are here already (see OrderStore.importOrder). */
	update?: boolean;
	/** Read and compare only: write nothing. */
	dryRun?: boolean;
	/** Writes in flight at once. Default 16. */
	concurrency?: number;
	/** Aborted (Ctrl-C): no new writes; the ones in flight finish, and the summary says so. */
	signal?: AbortSignal;
}

export interface ImportDeps {
	source: TableClient;
	store: OrderStore;
	/** With --publish: told of each order written (its event is in the store's outbox). */
	events?: { publish(event: OrderEvent): void };
	/** A line for the user (the log of the run: which ids, each skipped entity, the summary). */
	say: (line: string) => void;
	/** Progress (count, percentage, rate, time left), at most every 200 ms and once at the end. */
	progress?: (text: string) => void;
	now?: () => number;
}

export type Outcome = ImportResult["kind"] | "failed";

export interface ImportSummary {
	entities: number;
	idFrom: IdSource;
	/** How many orders each outcome had (with dryRun: would have). */
	outcomes: Record<Outcome, number>;
	/** Entities that are not orders, counted by reason. */
	skipped: Map<string, number>;
	/** The first failures' messages. */
	failures: string[];
	/** Stopped early: too many writes in a row failed. */
	stoppedEarly: boolean;
	/** Stopped by the signal (Ctrl-C). */
	interrupted: boolean;
	/** How long the run took, both passes. */
	seconds: number;
}

/** Writes that fail in a row before the run stops (storage is down: run again later to resume). */
const MAX_FAILURES_IN_A_ROW = 20;
const FAILURES_KEPT = 10;

const describeEntity = (e: { partitionKey: string; rowKey: string }) =>
	`PartitionKey ${JSON.stringify(e.partitionKey)} RowKey ${JSON.stringify(e.rowKey)}`;

export async function runImport(options: LegacyImportOptions, deps: ImportDeps): Promise<ImportSummary> {
	const { source, store, say } = deps;
	const now = deps.now ?? Date.now;

	const runStarted = now();
	const survey = new IdSurvey();
	for await (const entity of legacyEntities(source)) {
		if (options.signal?.aborted) break; // the loop below reports it
		survey.add(entity);
	}
	const { idFrom, why } = survey.choose(options.idFrom);
	if (!options.signal?.aborted)
		say(`${survey.entities} entities in ${source.tableName}; order ids from ${idFrom} (${why})`);
	const duplicateIds = survey.duplicates(idFrom);

	const started = now();
	const summary: ImportSummary = {
		entities: survey.entities,
		idFrom,
		outcomes: { imported: 0, exists: 0, unchanged: 0, updated: 0, "newer-here": 0, failed: 0 },
		skipped: new Map(),
		failures: [],
		stoppedEarly: false,
		interrupted: false,
		seconds: 0,
	};
	let done = 0;
	let lastProgress = 0;
	const showProgress = (force = false) => {
		if (!deps.progress || (!force && now() - lastProgress < 200)) return;
		lastProgress = now();
		const seconds = Math.max((now() - started) / 1000, 0.001);
		const rate = done / seconds;
		const left = rate > 0 ? Math.ceil((survey.entities - done) / rate) : undefined;
		const percent = survey.entities > 0 ? Math.floor((done / survey.entities) * 100) : 100;
		deps.progress(
			`${done}/${survey.entities} (${percent}%)  ${Math.round(rate)}/s  ${left === undefined ? "" : `about ${formatDuration(left)} left`}`,
		);
	};

	let failuresInARow = 0;
	const writeOne = async (order: Order, what: string) => {
		try {
			const result = options.dryRun
				? await wouldImport(store, order, options.update)
				: await store.importOrder(order, { update: options.update ?? false });
			summary.outcomes[result.kind]++;
			failuresInARow = 0;
			// The event is in the store's outbox (written with the order): the publisher logs it.
			if (deps.events && (result.kind === "imported" || result.kind === "updated") && result.event)
				deps.events.publish(result.event);
		} catch (err) {
			summary.outcomes.failed++;
			failuresInARow++;
			const message = `${what}: ${err instanceof StoreUnavailableError ? err.message : String((err as Error)?.message ?? err)}`;
			if (summary.failures.length < FAILURES_KEPT) summary.failures.push(message);
			say(`failed   ${message}`);
		}
	};

	const inFlight = new Set<Promise<void>>();
	const concurrency = options.concurrency ?? 16;
	for await (const entity of legacyEntities(source)) {
		if (failuresInARow >= MAX_FAILURES_IN_A_ROW) {
			summary.stoppedEarly = true;
			break;
		}
		if (options.signal?.aborted) {
			summary.interrupted = true;
			break;
		}
		const mapped = mapLegacyEntity(entity, {
			idFrom,
			...(options.statusMap ? { statusMap: options.statusMap } : {}),
			duplicateIds,
		});
		if (mapped.kind === "skip") {
			summary.skipped.set(mapped.reason, (summary.skipped.get(mapped.reason) ?? 0) + 1);
			say(`skipped  ${describeEntity(entity)}: ${mapped.reason}`);
			done++;
			showProgress();
			continue;
		}
		const write = writeOne(mapped.order, describeEntity(entity)).then(() => {
			done++;
			inFlight.delete(write);
			showProgress();
		});
		inFlight.add(write);
		if (inFlight.size >= concurrency) await Promise.race(inFlight);
	}
	await Promise.all(inFlight);
	showProgress(true);
	summary.seconds = (now() - runStarted) / 1000;
	return summary;
}

/** What importOrder would answer, read without writing (--dry-run). */
async function wouldImport(store: OrderStore, order: Order, update?: boolean): Promise<ImportResult> {
	const here = await store.get(order.orderId);
	if (!here) return { kind: "imported", order };
	if (!update) return { kind: "exists", order: here };
	if (sameImportedFields(here, order)) return { kind: "unchanged", order: here };
	if (here.updatedAt > order.updatedAt) return { kind: "newer-here", order: here };
	return { kind: "updated", order: { ...here, ...order, createdAt: here.createdAt }, previous: here };
}

export function formatDuration(seconds: number): string {
	if (seconds < 60) return `${seconds} s`;
	const minutes = Math.floor(seconds / 60);
	if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
	return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The summary's lines, for the end of a run. */
export function summaryLines(summary: ImportSummary, dryRun = false): string[] {
	const { outcomes } = summary;
	const would = dryRun ? "would be " : "";
	const lines = [
		`${dryRun ? "Dry run: nothing was written" : "Done"} (${summary.entities} entities in ${summary.seconds.toFixed(1)} s).`,
		`  ${would}imported:  ${outcomes.imported}`,
		`  here already, left alone: ${outcomes.exists}`,
	];
	if (outcomes.updated || outcomes.unchanged || outcomes["newer-here"])
		lines.push(
			`  ${would}updated:   ${outcomes.updated}`,
			`  unchanged: ${outcomes.unchanged}`,
			`  changed here since, kept: ${outcomes["newer-here"]}`,
		);
	const skipped = [...summary.skipped.values()].reduce((a, b) => a + b, 0);
	lines.push(`  skipped (not orders): ${skipped}`);
	for (const [reason, count] of [...summary.skipped].sort((a, b) => b[1] - a[1]))
		lines.push(`    ${count}  ${reason}`);
	lines.push(`  failed:    ${outcomes.failed}`);
	for (const failure of summary.failures) lines.push(`    ${failure}`);
	if (summary.interrupted)
		lines.push("Interrupted. Run the same command again to go on from where it stopped.");
	if (summary.stoppedEarly)
		lines.push(
			`Stopped early: ${MAX_FAILURES_IN_A_ROW} writes in a row failed. Run the same command again to go on from where it stopped.`,
		);
	return lines;
}
