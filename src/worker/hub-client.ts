// The Worker's side of the hub: events go to the OrderHubObject Durable Object, and /orderHub
// requests are forwarded to it. One object ("order-hub") holds every subscriber, so an event
// published by any isolate reaches every stream, wherever its request landed.
import type { OrderEvent, OrderEvents } from "../domain/events.js";
import type { HubStatsReport, RemoteHub } from "../hub/sse.js";
import { type Logger, silentLogger } from "../observability/log.js";
import type { DurableObjectNamespaceLike } from "./cloudflare.js";
import { defer } from "./request-scope.js";

/** Internal to the object: the Worker never routes a client request here. */
export const PUBLISH_PATH = "/internal/publish";
export const WAKE_PATH = "/internal/wake";
const ATTEMPTS = 3;

export class DurableObjectHubClient implements OrderEvents, RemoteHub {
	constructor(
		private readonly namespace: DurableObjectNamespaceLike,
		private readonly log: Logger = silentLogger,
	) {}

	private stub() {
		return this.namespace.get(this.namespace.idFromName("order-hub"));
	}

	/**
	 * Forwards a client's request as it came (its abort signal included): when the client goes
	 * away, workerd cancels the object's stream at the next write (a heartbeat at the latest) and
	 * the hub drops the subscriber.
	 */
	fetch(request: Request): Promise<Response> {
		return this.stub().fetch(request);
	}

	async stats(): Promise<HubStatsReport> {
		const res = await this.stub().fetch("https://hub/orderHub/stats");
		if (!res.ok) throw new Error(`the hub object answered ${res.status}`);
		return (await res.json()) as HubStatsReport;
	}

	/** Makes sure the object exists (and so runs its Service Bus receiver when configured). */
	wake(): void {
		defer(
			this.stub()
				.fetch(`https://hub${WAKE_PATH}`, { method: "POST" })
				.then((res) => res.body?.cancel())
				.catch((err) => this.log.warn(`could not wake the hub object: ${(err as Error).message}`)),
		);
	}

	/** Sent after the response (waitUntil), retried briefly: the change itself is already durable. */
	publish(event: OrderEvent): void {
		defer(this.send(event));
	}

	private async send(event: OrderEvent): Promise<void> {
		for (let attempt = 1; ; attempt++) {
			try {
				const res = await this.stub().fetch(`https://hub${PUBLISH_PATH}`, {
					method: "POST",
					headers: { "content-type": "application/json" },
					body: JSON.stringify([event]),
				});
				if (res.ok) return;
				throw new Error(`the hub object answered ${res.status}`);
			} catch (err) {
				if (attempt >= ATTEMPTS) {
					this.log.warn(
						`event for order ${event.order.orderId} not delivered to the hub: ${(err as Error).message}`,
					);
					return;
				}
				await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
			}
		}
	}
}
