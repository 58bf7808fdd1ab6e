// A client applies events as they come and must never be moved back to a state an order has left.
// An update older (updatedAt) than one already published for the same order is dropped, and so is
// a version published before (an event logged twice). On Node one order's changes arrive in order
// anyway; on Workers they reach the hub object from separate requests, which may overtake each other.
import type { OrderEvent } from "../domain/events.js";
import { BoundedMap } from "../util/bounded-map.js";

/** Orders whose newest update is remembered. */
const CAPACITY = 10_000;

export class StaleFilter {
	private readonly newest = new BoundedMap<string, { updatedAt: string; version?: number }>(CAPACITY);

	/** True when `event` must not be published; otherwise remembers it as the order's newest. */
	isStale({ order, version }: OrderEvent): boolean {
		const newest = this.newest.get(order.orderId);
		if (newest !== undefined) {
			if (order.updatedAt < newest.updatedAt) return true;
			if (version !== undefined && newest.version !== undefined && version <= newest.version) return true;
		}
		this.newest.set(order.orderId, {
			updatedAt: order.updatedAt,
			...(version !== undefined ? { version } : {}),
		});
		return false;
	}
}
