// An order event as the SSE bytes every subscriber receives, with what filters match it on.
import type { OrderEvent } from "../domain/events.js";

export interface StoredEvent {
	seq: number;
	/** `id:`, `event:` and `data:` lines, serialised once: the same bytes go to every subscriber. */
	bytes: Uint8Array;
	/** The event's name (`OrderCreated`, `ReceiveOrderUpdate`) and its data (the order as JSON). */
	type: string;
	data: string;
	/** The same event as a SignalR invocation frame, made on first use (src/hub/signalr-protocol.ts). */
	signalR?: Uint8Array;
	orderId: string;
	version?: number;
	partitionKey: string;
	customerName: string;
	ownerId?: string;
	messageId?: string;
}

const encoder = new TextEncoder();

export function toSseEvent(id: string, seq: number, event: OrderEvent): StoredEvent {
	const { order } = event;
	const data = JSON.stringify({
		orderId: order.orderId,
		status: order.status,
		partitionKey: order.partitionKey,
		customerName: order.customerName,
		productName: order.productName,
		createdAt: order.createdAt,
		updatedAt: order.updatedAt,
		...(event.previousStatus ? { previousStatus: event.previousStatus } : {}),
		...(event.messageId ? { messageId: event.messageId } : {}),
	});
	return {
		seq,
		bytes: encoder.encode(`id: ${id}\nevent: ${event.type}\ndata: ${data}\n\n`),
		type: event.type,
		data,
		orderId: order.orderId,
		partitionKey: order.partitionKey,
		customerName: order.customerName,
		...(order.ownerId !== undefined ? { ownerId: order.ownerId } : {}),
		...(event.version !== undefined ? { version: event.version } : {}),
		...(event.messageId ? { messageId: event.messageId } : {}),
	};
}

export function concat(chunks: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
	let at = 0;
	for (const c of chunks) {
		out.set(c, at);
		at += c.byteLength;
	}
	return out;
}
