// The claims a store stamped on the outbox rows it wrote for its eventHolder, remembered for recent
// writes (see OrderStore.claimStampedUntil): one place for both adapters.
import { BoundedMap } from "../util/bounded-map.js";

export class ClaimStamps {
	private readonly until = new BoundedMap<string, number>(10_000);

	constructor(private readonly now: () => number) {}

	/** The claim's end for the row being written now; remembered. */
	stamp(orderId: string, version: number, leaseMs: number): number {
		const until = this.now() + leaseMs;
		this.until.set(`${orderId}/${version}`, until);
		return until;
	}

	get(orderId: string, version: number): number | undefined {
		return this.until.get(`${orderId}/${version}`);
	}
}
