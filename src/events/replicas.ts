// Replicas from one configuration: instances started alike (Container Apps, App Service, AKS) have
// the same ServiceBus:SubscriptionName, or no topic at all. Then the feed brings an instance only
// part of the events (a shared subscription hands each message to one of its receivers) or none of
// the others' (no topic). Each instance keeps a heartbeat row in the event log's table; from the
// rows it sees who else runs, says when its subscription is shared, and has its sequencer tail the
// log fast while the feed is not enough (src/hub/sequencer.ts, setFastTail). No Manage rights needed.
import { type Logger, silentLogger } from "../observability/log.js";

/** One live instance, as its heartbeat row says. */
export interface InstanceRow {
	id: string;
	/** ServiceBus:TopicName, empty without a topic. */
	topic: string;
	/** ServiceBus:SubscriptionName, empty without a topic. */
	subscription: string;
	/** When storage last wrote the row (its own clock), in ms. */
	writtenAt?: number;
}

/** Heartbeat rows of the instances that share one event log. */
export interface InstanceRegistry {
	/**
	 * Writes this instance's row (its heartbeat) and answers the rows of every live instance, this
	 * one included; rows not written for `expiryMs` are of stopped instances and are left out.
	 */
	beat(self: InstanceRow, expiryMs: number): Promise<InstanceRow[]>;
	/** Removes this instance's row (on shutdown: the others need not wait for it to expire). */
	leave(id: string): Promise<void>;
}

/** How often an instance writes its row and reads the others'. */
export const HEARTBEAT_MS = 5000;
/** A row not written for this long is of a stopped instance (four missed heartbeats). */
export const INSTANCE_EXPIRY_MS = 20_000;

/** What an instance knows of the others, for readiness and the sequencer. */
export interface ReplicaState {
	/** Live instances on this event log, this one included. */
	instances: number;
	/** Set while other live instances receive from this instance's subscription. */
	sharedSubscription?: { name: string; instances: number };
	/** Whether the feed misses events that others log (so the log is tailed fast). */
	feedIsPartial: boolean;
	/**
	 * Whether any live instance's feed is partial, this one's or another's (then SignalR control
	 * messages go through the log's table too: src/events/control.ts).
	 */
	someFeedIsPartial: boolean;
}

/**
 * What the rows say for `self`. `beating` tells a row seen written again since it was first seen:
 * only those are counted and reported (a row left by an instance killed a moment ago, before it
 * could remove it, is not another instance), while any fresh row already makes the feed partial
 * (tailing fast for a few seconds too many costs little, too few costs delay).
 */
export function replicaState(
	self: InstanceRow,
	live: InstanceRow[],
	beating: (row: InstanceRow) => boolean = () => true,
): ReplicaState {
	const others = live.filter((r) => r.id !== self.id);
	const sharedWith = others.filter((r) => sharesSubscription(self, r) && beating(r)).length;
	const everyone = live.some((r) => r.id === self.id) ? live : [self, ...live];
	return {
		instances: others.filter(beating).length + 1,
		...(sharedWith > 0 ? { sharedSubscription: { name: self.subscription, instances: sharedWith + 1 } } : {}),
		feedIsPartial: feedIsPartial(self, live),
		someFeedIsPartial: everyone.some((r) => feedIsPartial(r, everyone)),
	};
}

/** Service Bus entity names are case-insensitive: "Orders" and "orders" are one subscription. */
const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Whether `other` receives from the same topic subscription as `self` (they compete for its messages). */
function sharesSubscription(self: InstanceRow, other: InstanceRow): boolean {
	return (
		self.topic !== "" && sameName(other.topic, self.topic) && sameName(other.subscription, self.subscription)
	);
}

/** Whether `self`'s feed misses some of what the other `live` instances send. */
function feedIsPartial(self: InstanceRow, live: InstanceRow[]): boolean {
	// Events of an instance without a topic (or with another) never reach this one's subscription.
	const unseen = (r: InstanceRow) => !self.topic || !sameName(r.topic, self.topic);
	return live.some((r) => r.id !== self.id && (sharesSubscription(self, r) || unseen(r)));
}

export interface ReplicaWatchOptions {
	registry: InstanceRegistry;
	self: InstanceRow;
	/** Called when whether the feed is partial changes (and once with the first answer). */
	onFeedPartial: (partial: boolean) => void;
	log?: Logger;
	heartbeatMs?: number;
	expiryMs?: number;
}

/** Beats every HEARTBEAT_MS; says in the log when the subscription becomes shared and when not. */
export class ReplicaWatch {
	private state: ReplicaState = { instances: 1, feedIsPartial: false, someFeedIsPartial: false };
	private timer?: ReturnType<typeof setInterval>;
	private lastFailure = 0;
	private beating?: Promise<void>;
	private started = false;
	/** When each live row was first seen written (storage's clock). */
	private readonly firstSeen = new Map<string, number>();
	private readonly log: Logger;

	constructor(private readonly options: ReplicaWatchOptions) {
		this.log = options.log ?? silentLogger;
	}

	get current(): ReplicaState {
		return this.state;
	}

	/** The first beat (awaited: an instance knows at once whether it shares), then every few seconds. */
	async start(): Promise<void> {
		await this.beat();
		this.timer ??= setInterval(() => void this.beat(), this.options.heartbeatMs ?? HEARTBEAT_MS);
		this.timer.unref?.();
	}

	beat(): Promise<void> {
		this.beating ??= this.beatOnce().finally(() => {
			this.beating = undefined;
		});
		return this.beating;
	}

	private async beatOnce(): Promise<void> {
		const { registry, self } = this.options;
		let live: InstanceRow[];
		try {
			live = await registry.beat(self, this.options.expiryMs ?? INSTANCE_EXPIRY_MS);
		} catch (err) {
			// Keeps what it knew; the next beat tries again. Said once a minute at most.
			if (Date.now() - this.lastFailure > 60_000) {
				this.lastFailure = Date.now();
				this.log.warn(
					`writing this instance's heartbeat row failed: ${(err as Error).message.split("\n")[0]}`,
				);
			}
			return;
		}
		// Rows seen written again since first seen are of running instances.
		for (const id of this.firstSeen.keys()) if (!live.some((r) => r.id === id)) this.firstSeen.delete(id);
		for (const r of live) if (!this.firstSeen.has(r.id)) this.firstSeen.set(r.id, r.writtenAt ?? 0);
		const beating = (r: InstanceRow) =>
			r.writtenAt === undefined || r.writtenAt > (this.firstSeen.get(r.id) ?? Number.POSITIVE_INFINITY);
		const before = this.state;
		const next = replicaState(self, live, beating);
		this.state = next;
		const first = !this.started;
		this.started = true;
		const wasShared = before.sharedSubscription?.instances ?? 0;
		const isShared = next.sharedSubscription?.instances ?? 0;
		if (isShared !== wasShared) {
			if (isShared > 0) {
				this.log.warn(
					`events: ${isShared} instances share subscription ${self.subscription} of topic ${self.topic}: each receives part of the topic's messages and reads the rest from the event log (every 100-150 ms, up to about 150 ms later); give each instance its own ServiceBus:SubscriptionName for the fastest delivery (docs/scale-out.md)`,
				);
			} else {
				this.log.info(`events: subscription ${self.subscription} is no longer shared with another instance`);
			}
		}
		if (!self.topic && next.instances !== before.instances) {
			this.log.info(
				`events: ${next.instances} instance(s) on this event log without a topic${next.instances > 1 ? ": the others' events are read from the log every 100-150 ms" : ""}`,
			);
		}
		if (first || next.feedIsPartial !== before.feedIsPartial) this.options.onFeedPartial(next.feedIsPartial);
	}

	/** Stops beating and removes this instance's row. */
	async stop(): Promise<void> {
		clearInterval(this.timer);
		this.timer = undefined;
		await this.beating;
		try {
			await this.options.registry.leave(this.options.self.id);
		} catch (err) {
			this.log.warn(
				`removing this instance's heartbeat row failed: ${(err as Error).message.split("\n")[0]}`,
			);
		}
	}
}
