// Moves committed events from the outbox (recorded with each create and change, see OrderStore)
// into the event log, then onto the feed. Claims each pending event for a lease first, so two
// instances relaying the same order do not log it twice; takes an order's events oldest first and
// stops at one another instance holds (that instance goes on to the later ones), so one order's
// events are logged in the order they were committed.
//
// It is the app's OrderEvents: publish(event) means "an event of this order was committed" — the
// event itself is already in the outbox. A sweep picks up what a stopped instance left behind.
import type { OrderEvent, OrderEvents } from "../domain/events.js";
import type { OrderStore } from "../storage/port.js";
import type { EventFeed, EventLog } from "./port.js";

export interface EventPublisherOptions {
	/** This instance's name in claims. */
	holder: string;
	/** How long a claim holds; another instance takes over a pending event after it. Default 10 s. */
	leaseMs?: number;
	log?: (line: string) => void;
	now?: () => number;
}

export class EventPublisher implements OrderEvents {
	private readonly leaseMs: number;
	private readonly logLine: (line: string) => void;
	private readonly now: () => number;
	/** One relay per order at a time in this process; a request during one runs once more after it. */
	private readonly running = new Map<string, { again: boolean; done: Promise<void> }>();
	private published = 0;

	constructor(
		private readonly store: OrderStore,
		private readonly log: EventLog,
		private readonly feed: EventFeed,
		private readonly options: EventPublisherOptions,
	) {
		this.leaseMs = options.leaseMs ?? 10_000;
		this.logLine = options.log ?? (() => {});
		this.now = options.now ?? Date.now;
	}

	/** Events logged and sent by this instance since start. */
	get publishedCount(): number {
		return this.published;
	}

	publish(event: OrderEvent): void {
		void this.relay(event.order.orderId);
	}

	/** Logs and sends the order's pending events; resolves when this instance has nothing more to do. */
	relay(orderId: string): Promise<void> {
		const current = this.running.get(orderId);
		if (current) {
			current.again = true;
			return current.done;
		}
		const state = { again: true, done: Promise.resolve() };
		state.done = (async () => {
			try {
				while (state.again) {
					state.again = false;
					await this.relayOnce(orderId);
				}
			} catch (err) {
				// Left in the outbox: the next change of this order, a redelivery or the sweep moves it.
				this.logLine(
					`publishing the events of order ${orderId} failed, left for a retry: ${(err as Error).message}`,
				);
			} finally {
				this.running.delete(orderId);
			}
		})();
		this.running.set(orderId, state);
		return state.done;
	}

	private async relayOnce(orderId: string): Promise<void> {
		for (const pending of await this.store.pendingEvents(orderId)) {
			const now = this.now();
			const heldByOther =
				pending.claimedBy !== undefined &&
				pending.claimedBy !== this.options.holder &&
				(pending.claimedUntil ?? 0) > now;
			if (heldByOther) return; // that instance logs this one and the ones after it
			const mine = await this.store.claimPendingEvent(pending, this.options.holder, now + this.leaseMs);
			if (!mine) return; // claimed by another just now
			const seq = await this.log.append(pending.event);
			this.published++;
			try {
				await this.feed.send({ seq, event: pending.event });
			} catch (err) {
				// Logged is what counts: hubs read what the feed did not bring from the log.
				this.logLine(`sending event ${seq} on the ${this.feed.kind} feed failed: ${(err as Error).message}`);
			}
			await this.store.clearPendingEvent(mine);
		}
	}

	/** Relays every order with pending events that no live claim covers (after an instance stopped). */
	async sweep(): Promise<number> {
		const orders = await this.store.ordersWithUnclaimedEvents();
		for (const orderId of orders) await this.relay(orderId);
		return orders.length;
	}

	/** Waits for the relays in flight (graceful shutdown). */
	async drain(): Promise<void> {
		while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
	}
}
