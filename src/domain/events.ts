import type { Order } from "./order.js";
import type { OrderStatus } from "./status.js";

export type OrderEventType = "OrderCreated" | "ReceiveOrderUpdate";

export interface OrderEvent {
	type: OrderEventType;
	order: Order;
	/** The queue message that caused an update; the hub uses it to drop a republished event. */
	messageId?: string;
	previousStatus?: OrderStatus;
}

/** Where order events go once they are durable (the SSE hub; a no-op in some tests). */
export interface OrderEvents {
	publish(event: OrderEvent): void;
}
