// Moves committed events from the outbox (recorded with each create and change, see OrderStore)
// into the event log, then onto the feed. Claims each pending event for a lease first, so two
// instances relaying the same order do not log it twice; takes an order's events oldest first and
// stops at one another instance holds (that instance goes on to the later ones), so one order's
// events are logged in the order they were committed.
//
// It is the app's OrderEvents: publish(event) means "an event of this order was committed" — the
// event itself is already in the outbox. A sweep picks up what a stopped instance left behind.
import { type Context, context, SpanKind } from "@opentelemetry/api";
import type { OrderEvent, OrderEvents } from "../domain/events.js";
import { type Logger, silentLogger } from "../observability/log.js";
import { activeTraceparent, inSpan } from "../observability/tracing.js";
import type { OrderStore, PendingEvent } from "../storage/port.js";
import { BoundedMap } from "../util/bounded-map.js";
import { ClaimExpiredError, type EventFeed, type EventLog } from "./port.js";

/** How soon an instance looks again when an older event of the order is being published by another. */
const WAIT_FOR_HOLDER_MS = 50;
/**
 * After a failed relay (storage or the log timed out), this instance tries the order again after
 * about 1 s, 2 s and 4 s (each try claims the order's events afresh, as any relay does): an event
 * should not wait for the sweep (every Events:SweepSeconds, after the lease) when storage comes back
 * within seconds. Each delay is spread by ±50%, so the orders of one failed append (up to 100) do not
 * come back to a recovering store all at once.
 */
const RETRY_DELAYS_MS = [1000, 2000, 4000];

export interface EventPublisherOptions {
	/** This instance's name in claims. */
	holder: string;
	/** How long a claim holds; another instance takes over a pending event after it. Default 10 s. */
	leaseMs?: number;
	/**
	 * The store's TimeoutMs: a commit's claim was stamped at most this long before the commit
	 * answered, so the claim of an event just committed ends no earlier than now + lease − this.
	 */
	storageTimeoutMs?: number;
	log?: Logger;
	now?: () => number;
}

/** A relay in flight for one order. */
interface RelayState {
	/** A relay of this order joined (a later change was committed meanwhile): look once more. */
	again: boolean;
	/**
	 * The trace context of the newest joiner: the events it committed are published in its trace
	 * (the PUT that changed the order), not in the trace of the relay it joined.
	 */
	joinedFrom?: Context;
	done: Promise<void>;
}

export class EventPublisher implements OrderEvents {
	private readonly leaseMs: number;
	private readonly storageTimeoutMs: number;
	private readonly logger: Logger;
	private readonly now: () => number;
	/** One relay per order at a time in this process; a request during one runs once more after it. */
	private readonly running = new Map<string, RelayState>();
	private published = 0;
	/** The newest version of each recently published order this instance cleared from the outbox. */
	private readonly lastCleared = new BoundedMap<string, number>(10_000);
	/** Retries of failed relays waiting for their moment, by order. */
	private readonly retries = new Map<string, ReturnType<typeof setTimeout>>();
	private stopped = false;

	constructor(
		private readonly store: OrderStore,
		private readonly log: EventLog,
		private readonly feed: EventFeed,
		private readonly options: EventPublisherOptions,
	) {
		this.leaseMs = options.leaseMs ?? 10_000;
		this.storageTimeoutMs = options.storageTimeoutMs ?? 5000;
		this.logger = options.log ?? silentLogger;
		this.now = options.now ?? Date.now;
	}

	/** Events logged and sent by this instance since start. */
	get publishedCount(): number {
		return this.published;
	}

	publish(event: OrderEvent): void {
		void this.relay(event.order.orderId, event);
	}

	/**
	 * Logs and sends the order's pending events; resolves when this instance has nothing more to do.
	 * `committed` is the event this instance just committed (its outbox row claimed for it).
	 */
	relay(orderId: string, committed?: OrderEvent, attempt = 0): Promise<void> {
		const current = this.running.get(orderId);
		if (current) {
			current.again = true;
			current.joinedFrom = context.active();
			return current.done;
		}
		// `again` is set by a relay of this order that joins while this one runs (a later change
		// committed meanwhile): it must survive every await below, so it is only ever cleared right
		// before the pending events are read.
		const state: RelayState = { again: committed === undefined, done: Promise.resolve() };
		state.done = (async () => {
			try {
				if (committed && !(await this.relayCommitted(orderId, committed))) state.again = true;
				while (state.again) {
					state.again = false;
					const trace = state.joinedFrom ?? context.active();
					state.joinedFrom = undefined;
					if ((await context.with(trace, () => this.relayOnce(orderId))) === "wait") {
						await new Promise((resolve) => setTimeout(resolve, WAIT_FOR_HOLDER_MS));
						state.again = true;
					}
				}
				this.cancelRetry(orderId); // everything of this order is out: a retry would find nothing
			} catch (err) {
				// Left in the outbox: a retry here shortly, the next change of this order, a redelivery
				// or the sweep moves it.
				this.logger.warn(
					`publishing the events of order ${orderId} failed, left for a retry: ${(err as Error).message}`,
				);
				this.retryLater(orderId, attempt);
			} finally {
				this.running.delete(orderId);
			}
		})();
		this.running.set(orderId, state);
		return state.done;
	}

	private retryLater(orderId: string, attempt: number): void {
		const delay = RETRY_DELAYS_MS[attempt];
		if (delay === undefined || this.stopped || this.retries.has(orderId)) return;
		const timer = setTimeout(
			() => {
				this.retries.delete(orderId);
				void this.relay(orderId, undefined, attempt + 1);
			},
			delay * (0.5 + Math.random()),
		);
		// A retry never keeps a stopping process alive: the sweep of another instance takes over.
		(timer as { unref?: () => void }).unref?.();
		this.retries.set(orderId, timer);
	}

	private cancelRetry(orderId: string): void {
		const timer = this.retries.get(orderId);
		if (timer === undefined) return;
		clearTimeout(timer);
		this.retries.delete(orderId);
	}

	/**
	 * The common case, in fewer requests: the event this instance just committed, when no older event
	 * of the order is still waiting (events leave the outbox oldest first, so looking at the one just
	 * before is enough). Its outbox row was written claimed by this instance. False: take the long way.
	 */
	private async relayCommitted(orderId: string, event: OrderEvent): Promise<boolean> {
		const version = event.version;
		if (version === undefined) return false;
		// The claim's end as the store stamped it; unknown, the earliest it can be.
		const claimedUntil =
			this.store.claimStampedUntil?.(orderId, version) ?? this.now() + this.leaseMs - this.storageTimeoutMs;
		// The one before was cleared by this instance (usual with one instance): no need to look.
		const clearedHere = this.lastCleared.get(orderId) === version - 1;
		if (version > 0 && !clearedHere && (await this.store.isPending(orderId, version - 1))) return false;
		try {
			await this.logAndSend(event, claimedUntil);
		} catch (err) {
			if (err instanceof ClaimExpiredError) return false; // the long way claims it afresh
			throw err;
		}
		await this.clear({ orderId, version, event, etag: "" });
		return true;
	}

	private async clear(pending: PendingEvent): Promise<void> {
		await this.store.clearPendingEvent(pending);
		this.lastCleared.set(pending.orderId, pending.version);
	}

	/** Logs `event` while this instance's claim on it (until `claimedUntil`) holds, then sends it. */
	private logAndSend(event: OrderEvent, claimedUntil: number): Promise<void> {
		return inSpan(
			"publish order event",
			SpanKind.PRODUCER,
			{ "order.id": event.order.orderId, "order.event.type": event.type },
			async (span) => {
				const seq = await this.log.append(event, claimedUntil);
				span?.setAttribute("order.event.position", seq);
				this.published++;
				try {
					const traceparent = activeTraceparent();
					await this.feed.send({
						seq,
						event,
						epoch: await this.log.epoch(),
						...(traceparent ? { traceparent } : {}),
					});
				} catch (err) {
					// Logged is what counts: hubs read what the feed did not bring from the log.
					this.logger.warn(
						`sending event ${seq} on the ${this.feed.kind} feed failed: ${(err as Error).message}`,
					);
				}
			},
		);
	}

	/**
	 * Takes the order's pending events oldest first. Answers "wait" when an older one is held by
	 * another instance while a later one is this instance's: it tries again shortly (the holder is
	 * publishing it, or its claim runs out), so this instance's event is not left behind.
	 */
	private async relayOnce(orderId: string): Promise<"done" | "wait"> {
		const pending = await this.store.pendingEvents(orderId);
		for (const [i, p] of pending.entries()) {
			const now = this.now();
			const held = (p.claimedUntil ?? 0) > now;
			if (held && p.claimedBy !== this.options.holder) {
				const mineLater = pending.slice(i + 1).some((q) => q.claimedBy === this.options.holder);
				return mineLater ? "wait" : "done"; // otherwise the holder goes on to the later ones
			}
			// Claimed afresh even when this instance holds it: the append needs a whole lease ahead of it.
			const mine = await this.store.claimPendingEvent(p, this.options.holder, now + this.leaseMs);
			if (!mine) return "wait"; // taken or published by another just now: look again
			await this.logAndSend(p.event, mine.claimedUntil ?? now + this.leaseMs);
			await this.clear(mine);
		}
		return "done";
	}

	/** Relays every order with pending events that no live claim covers (after an instance stopped). */
	async sweep(): Promise<number> {
		const orders = await this.store.ordersWithUnclaimedEvents();
		for (const orderId of orders) await this.relay(orderId);
		return orders.length;
	}

	/** Waits for the relays in flight (graceful shutdown); retries not yet due are dropped. */
	async drain(): Promise<void> {
		this.stopped = true;
		for (const timer of this.retries.values()) clearTimeout(timer);
		this.retries.clear();
		while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
	}
}
