// The project's metrics port: what operators count, named once. Components call these methods;
// the runtime entry picks the implementation (Prometheus on Node, src/observability/prometheus.ts;
// nothing on Workers, where docs/observability.md says what to use instead).

/** Why a subscriber's stream ended (or was refused, for over_cap). */
export type DisconnectReason =
	| "client_gone"
	| "too_slow"
	| "over_cap"
	| "token_expired"
	| "shutdown"
	| "reset";

/** What became of a status message the receiver took. */
export type StatusChangeOutcome = "applied" | "duplicate" | "noop" | "dead_lettered" | "abandoned";

export type StoreCallOutcome = "ok" | "unavailable" | "error";

/** The receiver loop's state: receiving, or why not. */
export type ReceiverState = "receiving" | "reconnecting" | "stopped";

export interface Metrics {
	httpRequest(method: string, route: string, status: number, seconds: number): void;
	/** `reason` for dead_lettered (the dead-letter reason) and abandoned (storage, defect). */
	statusChange(outcome: StatusChangeOutcome, reason?: string): void;
	/** From a change being queued to it being applied. */
	changeLag(seconds: number): void;
	storeCall(operation: string, outcome: StoreCallOutcome, seconds: number): void;
	eventPublished(type: string): void;
	/** Events written to subscribers (one per subscriber reached). */
	eventsDelivered(count: number): void;
	replay(outcome: "replayed" | "reset"): void;
	subscriberDisconnected(reason: DisconnectReason): void;
}

const noop = () => {};
export const noMetrics: Metrics = {
	httpRequest: noop,
	statusChange: noop,
	changeLag: noop,
	storeCall: noop,
	eventPublished: noop,
	eventsDelivered: noop,
	replay: noop,
	subscriberDisconnected: noop,
};
