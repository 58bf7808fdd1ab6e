// Applying one status change: load the order (and whether this message was applied to it), decide,
// commit atomically while the order is unchanged, retry when another change got there first, and
// say what happened so the caller can publish and settle. Every receiver (the Node loop, the
// Workers in-isolate delivery, the hub object's REST receiver) applies changes through here.
import { decide } from "../domain/decide.js";
import { type OrderEvent, updatedEvent } from "../domain/events.js";
import { nextUpdatedAt, type Order, type StatusChange } from "../domain/order.js";
import type { OrderStatus } from "../domain/status.js";
import { type OrderStore, StoreUnavailableError } from "../storage/port.js";

export type ApplyOutcome =
	| { kind: "applied"; order: Order; previous: OrderStatus; event: OrderEvent }
	| { kind: "duplicate"; order: Order }
	| { kind: "noop"; order: Order }
	| { kind: "not-found" }
	| { kind: "rejected"; order: Order; reason: string };

/** Conflicting writers on one order give up after this many tries (the queue retries later). */
const MAX_ATTEMPTS = 8;

export async function applyStatusChange(store: OrderStore, change: StatusChange): Promise<ApplyOutcome> {
	for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		// The first try may take the row this instance read or wrote a moment ago (the PUT that sent
		// this change read it): no request. Stale, it fails the commit's ETag check and is read again.
		const stored = await store.load(change.orderId, { recent: attempt === 0 });
		if (!stored) return { kind: "not-found" };
		const { order } = stored;
		// Statuses only move forward, so a change that would still apply cannot have been applied:
		// the applied-message marker is read only when the change would not apply (one read less).
		const applies = decide(order.status, change.status, false).kind === "apply";
		// Only a commit checks the row: any other answer is given on a fresh read.
		if (!applies && stored.recent) continue;
		const applied = !applies && (await store.wasApplied(change.orderId, change.messageId));
		const decision = decide(order.status, change.status, applied);
		if (decision.kind === "reject") return { kind: "rejected", order, reason: decision.reason };
		if (decision.kind !== "apply") return { kind: decision.kind, order };
		const at = nextUpdatedAt(order.updatedAt);
		const changed: Order = { ...order, status: change.status, updatedAt: at };
		const event = updatedEvent(changed, stored.version + 1, change.messageId, order.status);
		const committed = await store.commitChange(stored, {
			status: change.status,
			at,
			messageId: change.messageId,
			...(change.source ? { source: change.source } : {}),
			event,
		});
		if (committed === "committed") return { kind: "applied", order: changed, previous: order.status, event };
		// Another change (or another delivery of this one) committed first: load again and decide again.
	}
	throw new StoreUnavailableError(
		`order ${change.orderId} is changing too fast to apply ${change.messageId}; retry`,
	);
}
