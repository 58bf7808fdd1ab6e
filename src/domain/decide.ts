// The one decision a status change needs, made in one place for every adapter and runtime:
// given the order as stored and whether this message was applied to it before, what happens.
import { checkTransition, describeIllegal, type OrderStatus } from "./status.js";

export type Decision =
	| { kind: "apply" }
	/** This message was applied before (a redelivery): nothing changes; its event may be published again. */
	| { kind: "duplicate" }
	/** The order already has this status: nothing changes, nothing is published. */
	| { kind: "noop" }
	/** The change can never apply; `reason` says why, for the dead-letter queue. */
	| { kind: "reject"; reason: string };

export function decide(current: OrderStatus, requested: OrderStatus, alreadyApplied: boolean): Decision {
	// The marker comes first: a redelivery is a duplicate whether or not the order moved on since.
	if (alreadyApplied) return { kind: "duplicate" };
	const transition = checkTransition(current, requested);
	if (transition === "illegal") return { kind: "reject", reason: describeIllegal(current, requested) };
	return { kind: transition };
}
