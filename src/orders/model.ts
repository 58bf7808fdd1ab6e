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
}

export interface NewOrder {
	partitionKey: string;
	customerName: string;
	productName: string;
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
