import type { OrderStatus } from "./status.js";

export const DEFAULT_PARTITION_KEY = "Orders";

export interface Order {
	orderId: string;
	partitionKey: string;
	customerName: string;
	productName: string;
	status: OrderStatus;
	createdAt: string;
	updatedAt: string;
	/** Who created it (the token's owner claim) when auth is on: they may read it. */
	ownerId?: string;
}

export interface NewOrder {
	partitionKey: string;
	customerName: string;
	productName: string;
	ownerId?: string;
}

export interface HistoryEntry {
	status: OrderStatus;
	at: string;
	messageId?: string;
	source?: string;
}

/** A status change as it travels through the queue and is applied by the receiver loop. */
export interface StatusChange {
	orderId: string;
	status: OrderStatus;
	messageId: string;
	occurredAt: string;
	source?: string;
}

/**
 * The time of a change to an order: now, or 1 ms after its previous change when this clock is
 * behind the one that wrote it (changes to one order can be applied on different machines, e.g.
 * Workers isolates). So `updatedAt` only moves forward, and orders an order's events.
 */
export function nextUpdatedAt(previous: string, now = Date.now()): string {
	const justAfter = Date.parse(previous) + 1;
	return new Date(Number.isNaN(justAfter) ? now : Math.max(now, justAfter)).toISOString();
}
