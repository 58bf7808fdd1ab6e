// A budget per key that refills continuously: `perMinute` units a minute, never more than a
// minute's worth saved up (a token bucket). The hub charges log replays to it, per caller.
import { BoundedMap } from "./bounded-map.js";

export class RateBudget {
	private readonly buckets: BoundedMap<string, { units: number; at: number }>;

	constructor(
		private readonly perMinute: number,
		private readonly now: () => number = Date.now,
		/** Callers remembered; the least recent is forgotten (and starts full again). */
		keys = 10_000,
	) {
		this.buckets = new BoundedMap(keys);
	}

	/** Takes `units` from `key`'s budget: false (and nothing taken) when there are not that many left. */
	take(key: string, units: number): boolean {
		const now = this.now();
		const bucket = this.buckets.get(key) ?? { units: this.perMinute, at: now };
		const units0 = Math.min(this.perMinute, bucket.units + ((now - bucket.at) * this.perMinute) / 60_000);
		const ok = units0 >= units;
		this.buckets.set(key, { units: ok ? units0 - units : units0, at: now });
		return ok;
	}
}
