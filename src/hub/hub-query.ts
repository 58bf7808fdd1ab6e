// The /orderHub filters, one schema for the EventSource stream and SignalR's negotiate.
import { z } from "@hono/zod-openapi";
import { CustomerNameFilter, PartitionKeyFilter, tableKey } from "../orders/schemas.js";
import type { SubscriberFilter } from "./hub.js";

export const HubFilterQuery = z.object({
	orderId: z
		.union([tableKey("orderId"), z.array(tableKey("orderId")).max(100, "at most 100 orderId filters")])
		.optional()
		.openapi({ param: { name: "orderId", in: "query" }, description: "Only these orders (repeatable)" }),
	partitionKey: PartitionKeyFilter,
	customerName: CustomerNameFilter,
});

/** The hub's filter from validated query filters (the caller's owner scope is added by the route). */
export function filterOf(query: z.infer<typeof HubFilterQuery>): SubscriberFilter {
	const orderIds = query.orderId === undefined ? undefined : [query.orderId].flat();
	return {
		...(orderIds ? { orderIds } : {}),
		...(query.partitionKey !== undefined ? { partitionKey: query.partitionKey } : {}),
		...(query.customerName !== undefined ? { customerName: query.customerName } : {}),
	};
}
