// The wiring every Node host of the service shares (src/node.ts, the test server, the benchmark
// server): the receiver loop applies queue messages to the store and hands their events on (to the
// outbox publisher, or straight to a hub that is alone), the app serves /orderHub through the Node
// socket transport, and startEventFanOut wires the outbox, event log, feed, sequencer and hub.
import { getConnInfo } from "@hono/node-server/conninfo";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type AppDeps, createApp } from "./app.js";
import type { OrderEvents } from "./domain/events.js";
import { ControlRelay } from "./events/control.js";
import type { ControlBoard, EventFeed, EventLog } from "./events/port.js";
import { EventPublisher } from "./events/publisher.js";
import { type InstanceRegistry, ReplicaWatch } from "./events/replicas.js";
import { type HubOptions, OrderHub } from "./hub/hub.js";
import { nodeSseTransport } from "./hub/node-transport.js";
import { EventSequencer } from "./hub/sequencer.js";
import type { SignalROptions } from "./hub/signalr.js";
import { webStreamTransport } from "./hub/sse.js";
import { type Logger, silentLogger } from "./observability/log.js";
import type { PrometheusMetrics } from "./observability/prometheus.js";
import type { StatusMessageHandler } from "./queue/port.js";
import { createStatusMessageHandler } from "./queue/receiver.js";
import type { OrderStore } from "./storage/port.js";

export interface NodeServiceOptions
	extends Omit<AppDeps, "events" | "hub" | "sseTransport" | "metrics" | "metricsEndpoint"> {
	hub: OrderHub;
	/** Where committed events go: the event publisher (see startEventFanOut); default the hub itself. */
	events?: OrderEvents;
	/** Aborted on shutdown: a message waiting for storage is abandoned at once. */
	signal?: AbortSignal;
	/** "web" serves SSE through web streams instead of the socket transport (for comparison). */
	transport?: "node" | "web";
	/** Counts the requests and the receiver's work, reads the hub and the queue, serves /metrics. */
	metrics?: PrometheusMetrics;
	/** Metrics:Token (with auth on, a scraper's bearer secret for /metrics). */
	metricsToken?: string;
	/** Wraps the receiver's handler (the benchmark times it). */
	wrapHandler?: (handler: StatusMessageHandler) => StatusMessageHandler;
}

/** Starts the receiver loop on `queue` and builds the app. */
export function createNodeService(options: NodeServiceOptions): OpenAPIHono {
	const { hub, signal, transport, wrapHandler, events = hub, metrics, metricsToken, ...deps } = options;
	const handler = createStatusMessageHandler({
		store: deps.store,
		events,
		...(deps.log ? { log: deps.log } : {}),
		...(metrics ? { metrics } : {}),
		...(signal ? { signal } : {}),
	});
	deps.queue.start(wrapHandler ? wrapHandler(handler) : handler);
	const web = webStreamTransport(hub.maxBufferedBytes);
	metrics?.observeSubscribers(() => hub.subscriberCount);
	metrics?.observeReceiver(() => deps.queue.receiverState?.() ?? "stopped");
	return createApp({
		// The peer's address, from the socket (@hono/node-server keeps the incoming message in env).
		socketAddress: (c) => getConnInfo(c).remote.address,
		...deps,
		...(metrics
			? {
					metrics,
					metricsEndpoint: { render: metrics.render, ...(metricsToken ? { token: metricsToken } : {}) },
				}
			: {}),
		events,
		hub,
		sseTransport: transport === "web" ? web : nodeSseTransport(web),
	});
}

export interface EventFanOutOptions {
	/** A store that records events (recordEvents: true). */
	store: OrderStore;
	log: EventLog;
	feed: EventFeed;
	hub?: HubOptions;
	/** This instance's name in outbox claims. */
	holder: string;
	leaseMs?: number;
	/** The store's TimeoutMs (the publisher's fence allows for a commit this slow). */
	storageTimeoutMs?: number;
	/** How often pending events left by a stopped instance are looked for. Default 30 s. */
	sweepMs?: number;
	/** How often the log's tail is read for events the feed did not bring. Default 1 s. */
	pollMs?: number;
	logger?: Logger;
	/**
	 * Heartbeat rows of the instances on this log (src/events/replicas.ts): a shared subscription,
	 * or other instances without a topic, are told in the log and readiness, and the log is tailed
	 * fast. Without it the instance assumes its subscription is its own.
	 */
	replicas?: {
		registry: InstanceRegistry;
		topic: string;
		subscription: string;
		/** SignalR control messages in the log's table, while some instance's feed is partial. */
		control?: ControlBoard;
	};
}

export interface EventFanOut {
	hub: OrderHub;
	/** SignalR across instances: the log's shared secret, control messages (src/events/control.ts). */
	signalR: SignalROptions;
	publisher: EventPublisher;
	sequencer: EventSequencer;
	/** Readiness of the log and the feed. */
	ping(): Promise<Record<string, unknown>>;
	/** Publishes what is in flight, then stops feeding the hub (the hub is closed by the caller). */
	close(): Promise<void>;
}

/**
 * Several instances, one stream: committed events go through the outbox into the event log and
 * out on the feed; this instance's hub is fed only from the feed (its own events included), in log
 * order, and replays from the log. Resolves once the hub knows the log's epoch and head.
 */
export async function startEventFanOut(options: EventFanOutOptions): Promise<EventFanOut> {
	const { store, log, feed } = options;
	const say = options.logger ?? silentLogger;
	const [epoch, head] = [await log.epoch(), await log.head()];
	const hub = new OrderHub({ ...options.hub, instanceId: epoch, eventLog: log, startSeq: head });
	const publisher = new EventPublisher(store, log, feed, {
		holder: options.holder,
		...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
		...(options.storageTimeoutMs !== undefined ? { storageTimeoutMs: options.storageTimeoutMs } : {}),
		log: say,
	});
	const sequencer = new EventSequencer(log, (logged) => hub.deliver(logged), head, epoch, {
		...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
		log: say,
		onRestart: (newEpoch, newHead, reason) => hub.restart(newEpoch, newHead, reason),
	});
	// Declared before the watch that feeds it; `replicas` is read only once messages are sent.
	let replicas: ReplicaWatch | undefined;
	const control = new ControlRelay({
		feed,
		...(options.replicas?.control ? { board: options.replicas.control } : {}),
		someFeedIsPartial: () => replicas?.current.someFeedIsPartial ?? false,
		log: say,
	});
	feed.start(
		(logged) => sequencer.accept(logged),
		(message) => control.receive(message),
	);
	sequencer.start();
	replicas =
		options.replicas &&
		new ReplicaWatch({
			registry: options.replicas.registry,
			self: {
				id: options.holder,
				topic: options.replicas.topic,
				subscription: options.replicas.subscription,
			},
			onFeedPartial: (partial) => {
				sequencer.setFastTail(partial);
				control.setFeedPartial(partial);
			},
			log: say,
		});
	await replicas?.start();
	const sweep = () =>
		publisher.sweep().then(
			(n) => n > 0 && say.info(`published the pending events of ${n} order(s) left by a stopped publisher`),
			(err) => say.warn(`looking for pending events failed: ${(err as Error).message}`),
		);
	void sweep();
	const sweeper = setInterval(sweep, options.sweepMs ?? 30_000);
	sweeper.unref();
	return {
		hub,
		signalR: {
			sharedSecret: () => log.sharedSecret(),
			control: {
				send: (m) => control.send({ ...m }),
				listen: (h) => control.listen(h),
				holding: (streams) => control.holding(streams),
			},
		},
		publisher,
		sequencer,
		async ping() {
			await Promise.all([log.ping(), feed.ping()]);
			const shared = replicas?.current.sharedSubscription;
			return {
				feed: feed.kind,
				position: sequencer.position,
				...(replicas
					? {
							instances: replicas.current.instances,
							fastTail: sequencer.tailingFast,
							...(control.readingBoard ? { controlFromTable: true } : {}),
						}
					: {}),
				...(shared ? { sharedSubscription: shared } : {}),
			};
		},
		async close() {
			// The hub is closed already; what is committed is published, then the feed stops.
			clearInterval(sweeper);
			sequencer.stop();
			control.close();
			// Meanwhile this instance's heartbeat row goes (the others stop counting it at once).
			await Promise.all([publisher.drain(), replicas?.stop()]);
			await feed.close();
		},
	};
}
