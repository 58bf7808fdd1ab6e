// Reads the table the .NET original wrote, page by page (never the whole table in memory).
import { RestError, type TableClient } from "@azure/data-tables";
import type { LegacyEntity } from "./mapper.js";

const PAGE_SIZE = 1000;

export class LegacyTableError extends Error {
	constructor(message: string, options?: { cause?: unknown }) {
		super(message, options);
		this.name = "LegacyTableError";
	}
}

/** Every entity of the legacy table, in the table's order; only `select` properties when given. */
export async function* legacyEntities(client: TableClient, select?: string[]): AsyncGenerator<LegacyEntity> {
	const pages = client
		.listEntities<Record<string, unknown>>(select ? { queryOptions: { select } } : {})
		.byPage({ maxPageSize: PAGE_SIZE });
	try {
		for await (const page of pages) for (const entity of page) yield entity as LegacyEntity;
	} catch (err) {
		if (err instanceof RestError && err.statusCode === 404)
			throw new LegacyTableError(`the table ${client.tableName} does not exist in the source account`, {
				cause: err,
			});
		if (err instanceof RestError && (err.statusCode === 401 || err.statusCode === 403))
			throw new LegacyTableError(
				`the source account refused the credentials (${err.statusCode}): check --from-connection-string`,
				{ cause: err },
			);
		throw err;
	}
}
