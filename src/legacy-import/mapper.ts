// From an entity of the table the .NET original wrote to an order of this service, or the reason it
// is not one. Pure: no I/O, so every rule is tested on plain objects (test/legacy-import/mapper.test.ts).
//
// The original's entity: PartitionKey (the client's partitionKey), RowKey (the order id it answered,
// a GUID), CustomerName, ProductName, Status as free text, the table's Timestamp; possibly an
// OrderId property too. Property names are matched in any case, as the API matches body fields.
import { keyProblem } from "../domain/keys.js";
import type { Order } from "../domain/order.js";
import { ORDER_STATUSES, type OrderStatus, parseStatus } from "../domain/status.js";

/** An entity as @azure/data-tables lists it (partitionKey, rowKey, timestamp, then its properties). */
export type LegacyEntity = Record<string, unknown> & { partitionKey: string; rowKey: string };

/** Where an entity's order id is. */
export type IdSource = "RowKey" | "OrderId";

export type Mapped = { kind: "order"; order: Order } | { kind: "skip"; reason: string };

export interface MapOptions {
	idFrom: IdSource;
	/** Legacy status (lower case) → this service's, from --map-status; checked before the built-in names. */
	statusMap?: ReadonlyMap<string, OrderStatus>;
	/** Ids more than one entity carries: none of them is imported (which one is right is a guess). */
	duplicateIds?: ReadonlySet<string>;
}

/** As the API takes names (see CreateOrderBody in src/orders/schemas.ts). */
const MAX_NAME_LENGTH = 256;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A property by name in any case; an Edm-typed value ({ value, type }) gives its value. */
export function property(entity: LegacyEntity, name: string): unknown {
	const lower = name.toLowerCase();
	for (const [key, value] of Object.entries(entity)) {
		if (key.toLowerCase() !== lower || value === undefined) continue;
		if (typeof value === "object" && value !== null && "value" in value)
			return (value as { value: unknown }).value;
		return value;
	}
	return undefined;
}

/** The entity's order id from `idFrom`, as stored (undefined when it has none). */
export function legacyId(entity: LegacyEntity, idFrom: IdSource): string | undefined {
	const value = idFrom === "RowKey" ? entity.rowKey : property(entity, "OrderId");
	return typeof value === "string" && value !== "" ? value : undefined;
}

/** The entity's Timestamp as ISO 8601, or undefined. */
function timestampOf(entity: LegacyEntity): string | undefined {
	const value = property(entity, "Timestamp");
	const ms =
		value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : Number.NaN;
	return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function name(entity: LegacyEntity, field: "CustomerName" | "ProductName"): string | { problem: string } {
	const value = property(entity, field);
	if (value === undefined || value === null) return { problem: `no ${field}` };
	if (typeof value !== "string") return { problem: `${field} is not text` };
	const trimmed = value.trim();
	if (trimmed === "") return { problem: `${field} is empty` };
	if (trimmed.length > MAX_NAME_LENGTH)
		return { problem: `${field} is longer than ${MAX_NAME_LENGTH} characters` };
	return trimmed;
}

/** The status `raw` names: --map-status first, then this service's names in any case. */
export function mapStatus(
	raw: string,
	statusMap?: ReadonlyMap<string, OrderStatus>,
): OrderStatus | undefined {
	return statusMap?.get(raw.trim().toLowerCase()) ?? parseStatus(raw);
}

export function mapLegacyEntity(entity: LegacyEntity, options: MapOptions): Mapped {
	const skip = (reason: string): Mapped => ({ kind: "skip", reason });
	const orderId = legacyId(entity, options.idFrom);
	if (orderId === undefined) return skip(`no ${options.idFrom}`);
	if (!GUID.test(orderId)) return skip(`${options.idFrom} is not a GUID`);
	if (options.duplicateIds?.has(orderId)) return skip(`duplicate id (more than one entity has it)`);
	const partitionProblem = keyProblem(entity.partitionKey);
	if (partitionProblem) return skip(`PartitionKey ${partitionProblem}`);
	const customerName = name(entity, "CustomerName");
	if (typeof customerName !== "string") return skip(customerName.problem);
	const productName = name(entity, "ProductName");
	if (typeof productName !== "string") return skip(productName.problem);
	const rawStatus = property(entity, "Status");
	if (typeof rawStatus !== "string" || rawStatus.trim() === "") return skip("no Status");
	const status = mapStatus(rawStatus, options.statusMap);
	if (!status) return skip(`unknown status '${rawStatus.trim().slice(0, 60)}' (map it with --map-status)`);
	const at = timestampOf(entity);
	if (!at) return skip("no Timestamp");
	return {
		kind: "order",
		order: {
			orderId,
			partitionKey: entity.partitionKey,
			customerName,
			productName,
			status,
			createdAt: at,
			updatedAt: at,
		},
	};
}

/**
 * `--map-status "In transit=Shipped"` values → a map of legacy names (lower case) to statuses, or
 * the problems with them.
 */
export function parseStatusMap(values: readonly string[]): {
	map: Map<string, OrderStatus>;
	problems: string[];
} {
	const map = new Map<string, OrderStatus>();
	const problems: string[] = [];
	for (const value of values) {
		const eq = value.lastIndexOf("=");
		const from = value.slice(0, Math.max(eq, 0)).trim();
		const to = parseStatus(value.slice(eq + 1));
		if (eq < 0 || from === "") problems.push(`--map-status "${value}": expected "Legacy name=Status"`);
		else if (!to)
			problems.push(
				`--map-status "${value}": '${value.slice(eq + 1).trim()}' is not one of ${ORDER_STATUSES.join(", ")}`,
			);
		else map.set(from.toLowerCase(), to);
	}
	return { map, problems };
}

/** What a first pass over the table learned: how many entities, which have an OrderId, repeated ids. */
export class IdSurvey {
	entities = 0;
	withOrderId = 0;
	private readonly seen: Record<IdSource, Map<string, number>> = { RowKey: new Map(), OrderId: new Map() };

	add(entity: LegacyEntity): void {
		this.entities++;
		for (const source of ["RowKey", "OrderId"] as const) {
			const id = legacyId(entity, source);
			if (id === undefined) continue;
			if (source === "OrderId") this.withOrderId++;
			const ids = this.seen[source];
			ids.set(id, (ids.get(id) ?? 0) + 1);
		}
	}

	/**
	 * The id source to use: the one asked for, else OrderId when every entity has one (the original
	 * stored it for a reason), else RowKey (which every entity has). With why, for the user.
	 */
	choose(asked?: IdSource): { idFrom: IdSource; why: string } {
		if (asked) return { idFrom: asked, why: "as asked (--id-from)" };
		if (this.entities > 0 && this.withOrderId === this.entities)
			return { idFrom: "OrderId", why: "every entity has an OrderId property" };
		return {
			idFrom: "RowKey",
			why:
				this.withOrderId === 0
					? "no entity has an OrderId property"
					: `${this.entities - this.withOrderId} of ${this.entities} entities have no OrderId property`,
		};
	}

	duplicates(idFrom: IdSource): Set<string> {
		return new Set([...this.seen[idFrom]].filter(([, n]) => n > 1).map(([id]) => id));
	}
}
