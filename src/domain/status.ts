// Order statuses and the rules for moving between them. Pure logic, shared by the
// PUT route (early answer to the caller) and the receiver loop (the authority).

export const ORDER_STATUSES = ["Pending", "Processing", "Shipped", "Delivered", "Cancelled"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

const BY_LOWER = new Map(ORDER_STATUSES.map((s) => [s.toLowerCase(), s]));

/** Case-insensitive match, answered in the canonical spelling; undefined when unknown. */
export function parseStatus(value: unknown): OrderStatus | undefined {
	return typeof value === "string" ? BY_LOWER.get(value.trim().toLowerCase()) : undefined;
}

const FORWARD: readonly OrderStatus[] = ["Pending", "Processing", "Shipped", "Delivered"];

export type Transition = "apply" | "noop" | "illegal";

export function checkTransition(from: OrderStatus, to: OrderStatus): Transition {
	if (from === to) return "noop";
	if (from === "Delivered" || from === "Cancelled") return "illegal";
	if (to === "Cancelled") return from === "Pending" || from === "Processing" ? "apply" : "illegal";
	return FORWARD.indexOf(to) > FORWARD.indexOf(from) ? "apply" : "illegal";
}

export function describeIllegal(from: OrderStatus, to: OrderStatus): string {
	if (from === "Delivered" || from === "Cancelled")
		return `The order is ${from}, which is final; it cannot become ${to}.`;
	if (to === "Cancelled") return `An order that is ${from} can no longer be cancelled.`;
	return `An order cannot move back from ${from} to ${to}.`;
}
