// Receives status changes from Azure Service Bus over its HTTP REST API in peek-lock mode, for
// Cloudflare Workers where the SDK's AMQP receiver cannot run: the hub's Durable Object drives it
// from an alarm (src/worker/hub-object.ts). Same settlement rules as the AMQP receiver, except
// that REST has no dead-letter operation: a message that can never apply is unlocked each time,
// and the queue's max delivery count moves it to the dead-letter queue (reason
// MaxDeliveryCountExceeded; the real reason is logged).

import { type Logger, silentLogger } from "../observability/log.js";
import type { ReceivedStatusMessage, Settlement, StatusMessageHandler } from "./port.js";
import type { ServiceBusRestEntity } from "./service-bus-rest-entity.js";

/** A message locked for us: `location` is where to complete (DELETE) or abandon (PUT) it. */
export interface LockedRestMessage extends ReceivedStatusMessage {
	location: string;
}

interface BrokerProperties {
	MessageId?: string;
	DeliveryCount?: number;
	LockToken?: string;
	SequenceNumber?: number;
}

export interface ReceiveRoundOptions {
	budgetMs: number;
	/** Long-poll wait of each receive (default 5 s). */
	waitSeconds?: number;
	signal?: AbortSignal;
	onReceive?: () => void;
}

export class ServiceBusRestReceiver {
	constructor(
		private readonly entity: ServiceBusRestEntity,
		private readonly log: Logger = silentLogger,
	) {}

	private async call(
		method: string,
		url: string,
		timeoutMs: number,
		signal?: AbortSignal,
	): Promise<Response> {
		const timeout = AbortSignal.timeout(timeoutMs);
		return this.entity.fetch(url, {
			method,
			headers: { authorization: await this.entity.authorization(), "content-length": "0" },
			signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
		});
	}

	/** Locks the next message, waiting up to `waitSeconds` for one; undefined when none came. */
	async receive(waitSeconds: number, signal?: AbortSignal): Promise<LockedRestMessage | undefined> {
		const url = `${this.entity.resourceUri}/messages/head?timeout=${waitSeconds}`;
		const res = await this.call("POST", url, (waitSeconds + 10) * 1000, signal);
		if (res.status === 204) return undefined;
		const body = await res.text();
		if (res.status !== 201)
			throw Object.assign(
				new Error(`Service Bus answered ${res.status} to a receive: ${body.slice(0, 200)}`),
				{
					statusCode: res.status,
				},
			);
		const props = JSON.parse(res.headers.get("brokerproperties") ?? "{}") as BrokerProperties;
		const location =
			res.headers.get("location") ??
			`${this.entity.resourceUri}/messages/${encodeURIComponent(props.MessageId ?? String(props.SequenceNumber))}/${props.LockToken}`;
		return {
			messageId: props.MessageId ?? `sequence-${props.SequenceNumber}`,
			body,
			// The queue counts this delivery already; the handler sees it as the AMQP receiver does.
			deliveryCount: props.DeliveryCount ?? 1,
			location,
		};
	}

	/** complete -> DELETE; abandon and dead-letter -> PUT (unlock), see the file comment. */
	async settle(message: LockedRestMessage, settlement: Settlement): Promise<void> {
		if (settlement.kind === "dead-letter") {
			this.log.warn(
				`status message ${message.messageId} can never apply (${settlement.reason}: ${settlement.description}); ` +
					"unlocked for the queue's max delivery count to dead-letter it",
			);
		}
		const res = await this.call(settlement.kind === "complete" ? "DELETE" : "PUT", message.location, 10_000);
		await res.body?.cancel();
		// 404/410: the lock expired and the message went back to the queue; it will come again.
		if (!res.ok && res.status !== 404 && res.status !== 410) {
			throw Object.assign(new Error(`Service Bus answered ${res.status} to settling ${message.messageId}`), {
				statusCode: res.status,
			});
		}
	}

	/**
	 * Receives, handles and settles messages one at a time for about `budgetMs`, or until `signal`
	 * aborts (a wait for the next message is cut short). Returns how many it settled. A failed
	 * receive or settle ends the round (the caller schedules the next one). `onReceive` runs after
	 * every receive that reached Service Bus, message or not (a sign of health).
	 */
	async run(handler: StatusMessageHandler, options: ReceiveRoundOptions): Promise<number> {
		const { budgetMs, waitSeconds = 5, signal, onReceive } = options;
		const until = Date.now() + budgetMs;
		let settled = 0;
		while (Date.now() < until && !signal?.aborted) {
			const wait = Math.max(1, Math.min(waitSeconds, Math.floor((until - Date.now()) / 1000)));
			let message: LockedRestMessage | undefined;
			try {
				message = await this.receive(wait, signal);
			} catch (err) {
				if (signal?.aborted) break;
				throw err;
			}
			onReceive?.();
			if (!message) continue;
			await this.settle(message, await handler(message));
			settled++;
		}
		return settled;
	}
}
