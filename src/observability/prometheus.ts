// Metrics in the Prometheus text format (prom-client), on a registry of the app's own: several apps
// in one process (the tests) keep separate counts. Names follow Prometheus conventions: a unit
// suffix, `_total` on counters, snake_case labels.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type {
	DisconnectReason,
	Metrics,
	ReceiverState,
	StatusChangeOutcome,
	StoreCallOutcome,
} from "./metrics.js";

const RECEIVER_STATES: readonly ReceiverState[] = ["receiving", "reconnecting", "stopped"];

export interface PrometheusMetrics extends Metrics {
	readonly registry: Registry;
	/** Gauges read when scraped (subscribers now): no bookkeeping on the hot path. */
	observeSubscribers(read: () => number): void;
	observeReceiver(read: () => ReceiverState): void;
	/** The exposition: body and its content type. */
	render(): Promise<{ body: string; contentType: string }>;
}

export function createPrometheusMetrics(options: { processMetrics?: boolean } = {}): PrometheusMetrics {
	const registry = new Registry();
	if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
	const registers = [registry];

	const httpDuration = new Histogram({
		name: "http_request_duration_seconds",
		help: "HTTP requests by route pattern, method and status (an /orderHub stream counts until its headers are sent)",
		labelNames: ["method", "route", "status"],
		buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
		registers,
	});
	let readSubscribers: () => number = () => 0;
	new Gauge({
		name: "orderhub_subscribers",
		help: "Event streams open on this instance now",
		registers,
		collect() {
			this.set(readSubscribers());
		},
	});
	const published = new Counter({
		name: "order_events_published_total",
		help: "Order events this instance's hub published to its subscribers (every instance publishes every event), by type",
		labelNames: ["type"],
		registers,
	});
	const delivered = new Counter({
		name: "orderhub_events_delivered_total",
		help: "Events written to subscribers (one per subscriber reached, replays included)",
		registers,
	});
	const replays = new Counter({
		name: "orderhub_replays_total",
		help: "Reconnections with Last-Event-ID, by outcome: replayed (what was missed was sent) or reset (the client must refetch)",
		labelNames: ["outcome"],
		registers,
	});
	const disconnects = new Counter({
		name: "orderhub_disconnects_total",
		help: "Event streams ended, by reason (over_cap: refused at a subscriber cap)",
		labelNames: ["reason"],
		registers,
	});
	const changes = new Counter({
		name: "order_status_changes_total",
		help: "Status messages the receiver took, by outcome (and reason, for dead_lettered and abandoned)",
		labelNames: ["outcome", "reason"],
		registers,
	});
	const lag = new Histogram({
		name: "order_status_change_lag_seconds",
		help: "From a status change being queued to it being applied",
		buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
		registers,
	});
	const storeCalls = new Histogram({
		name: "order_store_call_duration_seconds",
		help: "Order store calls by operation and outcome (ok, unavailable, error)",
		labelNames: ["operation", "outcome"],
		buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
		registers,
	});
	let readReceiver: () => ReceiverState = () => "stopped";
	new Gauge({
		name: "order_queue_receiver_state",
		help: "The status queue receiver's state: 1 for the current one (receiving, reconnecting, stopped)",
		labelNames: ["state"],
		registers,
		collect() {
			const now = readReceiver();
			for (const state of RECEIVER_STATES) this.set({ state }, state === now ? 1 : 0);
		},
	});

	return {
		registry,
		httpRequest: (method, route, status, seconds) =>
			httpDuration.observe({ method, route, status: String(status) }, seconds),
		statusChange: (outcome: StatusChangeOutcome, reason?: string) =>
			changes.inc({ outcome, reason: reason ?? "" }),
		changeLag: (seconds) => lag.observe(Math.max(0, seconds)),
		storeCall: (operation: string, outcome: StoreCallOutcome, seconds: number) =>
			storeCalls.observe({ operation, outcome }, seconds),
		eventPublished: (type) => published.inc({ type }),
		eventsDelivered: (count) => delivered.inc(count),
		replay: (outcome) => replays.inc({ outcome }),
		subscriberDisconnected: (reason: DisconnectReason) => disconnects.inc({ reason }),
		observeSubscribers: (read) => {
			readSubscribers = read;
		},
		observeReceiver: (read) => {
			readReceiver = read;
		},
		render: async () => ({ body: await registry.metrics(), contentType: registry.contentType }),
	};
}
