// The mapping rules from the original's entities to orders, on plain objects.
import { describe, expect, it } from "vitest";
import {
	IdSurvey,
	type LegacyEntity,
	mapLegacyEntity,
	parseStatusMap,
} from "../../src/legacy-import/mapper.js";

const ID = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";
const entity = (over: Record<string, unknown> = {}): LegacyEntity => ({
	partitionKey: "EU",
	rowKey: ID,
	timestamp: "2024-05-01T10:00:00.1234567Z",
	CustomerName: " Ada ",
	ProductName: "Engine",
	Status: "shipped",
	...over,
});

describe("mapLegacyEntity", () => {
	it("maps the original's entity: same id, partitionKey, trimmed names, canonical status, times from Timestamp", () => {
		expect(mapLegacyEntity(entity(), { idFrom: "RowKey" })).toEqual({
			kind: "order",
			order: {
				orderId: ID,
				partitionKey: "EU",
				customerName: "Ada",
				productName: "Engine",
				status: "Shipped",
				createdAt: "2024-05-01T10:00:00.123Z",
				updatedAt: "2024-05-01T10:00:00.123Z",
			},
		});
	});

	it("matches property names in any case and takes typed values (an Edm.Guid OrderId)", () => {
		const other = "9b2c1a52-8a0e-4b7e-9d55-0c7f3e2a9b14";
		const mapped = mapLegacyEntity(
			entity({ CustomerName: undefined, customerName: "Bo", orderId: { value: other, type: "Guid" } }),
			{ idFrom: "OrderId" },
		);
		expect(mapped).toMatchObject({ kind: "order", order: { orderId: other, customerName: "Bo" } });
	});

	it.each([
		[{ CustomerName: undefined }, "no CustomerName"],
		[{ ProductName: "   " }, "ProductName is empty"],
		[{ ProductName: 5 }, "ProductName is not text"],
		[{ CustomerName: "x".repeat(257) }, "CustomerName is longer than 256 characters"],
		[{ Status: "In transit" }, "unknown status 'In transit' (map it with --map-status)"],
		[{ Status: undefined }, "no Status"],
		[{ rowKey: "order-17" }, "RowKey is not a GUID"],
		[{ partitionKey: "" }, "PartitionKey must not be empty"],
		[{ timestamp: undefined }, "no Timestamp"],
	])("skips %o: %s", (over, reason) => {
		expect(mapLegacyEntity(entity(over), { idFrom: "RowKey" })).toEqual({ kind: "skip", reason });
	});

	it("skips every entity of an id that more than one entity has, and one without the chosen id", () => {
		expect(mapLegacyEntity(entity(), { idFrom: "RowKey", duplicateIds: new Set([ID]) })).toEqual({
			kind: "skip",
			reason: "duplicate id (more than one entity has it)",
		});
		expect(mapLegacyEntity(entity(), { idFrom: "OrderId" })).toEqual({ kind: "skip", reason: "no OrderId" });
	});

	it("maps statuses with --map-status first, case-insensitively, and refuses a mapping to an unknown status", () => {
		const { map, problems } = parseStatusMap([
			"In transit=Shipped",
			"Lost=Gone",
			"nothing",
			"Back=ordered=cancelled",
		]);
		expect(problems).toEqual([
			`--map-status "Lost=Gone": 'Gone' is not one of Pending, Processing, Shipped, Delivered, Cancelled`,
			`--map-status "nothing": expected "Legacy name=Status"`,
		]);
		expect(
			mapLegacyEntity(entity({ Status: "IN TRANSIT " }), { idFrom: "RowKey", statusMap: map }),
		).toMatchObject({
			order: { status: "Shipped" },
		});
		expect(map.get("back=ordered")).toBe("Cancelled");
	});
});

describe("IdSurvey", () => {
	it("takes OrderId when every entity has one, else RowKey, and says why", () => {
		const all = new IdSurvey();
		all.add(entity({ OrderId: "a" }));
		all.add(entity({ OrderId: "b" }));
		expect(all.choose()).toEqual({ idFrom: "OrderId", why: "every entity has an OrderId property" });
		expect(all.choose("RowKey")).toEqual({ idFrom: "RowKey", why: "as asked (--id-from)" });
		expect(all.duplicates("RowKey")).toEqual(new Set([ID]));
		expect(all.duplicates("OrderId")).toEqual(new Set());

		const some = new IdSurvey();
		some.add(entity({ OrderId: "a" }));
		some.add(entity({ rowKey: "other" }));
		expect(some.choose()).toEqual({ idFrom: "RowKey", why: "1 of 2 entities have no OrderId property" });
		expect(new IdSurvey().choose()).toEqual({ idFrom: "RowKey", why: "no entity has an OrderId property" });
	});
});
