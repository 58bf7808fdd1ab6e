import type { Order } from "./order.js";
import type { OrderStatus } from "./status.js";

export type OrderEventType = "OrderCreated" | "ReceiveOrderUpdate";

export interface OrderEvent {
	type: OrderEventType;
	order: Order;
	/** The order's version this event made (0 for its creation): with orderId, the event's identity. */
	version?: number;
	/** The queue message that caused an update; the hub uses it to drop a republished event. */
	messageId?: string;
	previousStatus?: OrderStatus;
}

/** Where order events go once they are durable (the SSE hub; a no-op in some tests). */
export interface OrderEvents {
	publish(event: OrderEvent): void;
}

/** The event of an order's creation. */
export function createdEvent(order: Order): OrderEvent {
	return { type: "OrderCreated", order, version: 0 };
}

/** The event of a status change that made `order` (as it now is) at `version`. */
export function updatedEvent(
	order: Order,
	version: number,
	messageId: string,
	previousStatus: OrderStatus,
): OrderEvent {
	return { type: "ReceiveOrderUpdate", order, version, messageId, previousStatus };
}
