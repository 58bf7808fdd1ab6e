// Sends status changes to Azure Service Bus through its HTTP REST API, for runtimes that cannot
// open the SDK's AMQP socket (Cloudflare Workers). Web Standards only: fetch + Web Crypto.
// Receiving over REST: src/queue/service-bus-rest-receiver.ts (start() runs it as a resident loop).

import type { StatusChange } from "../domain/order.js";
import { type Logger, silentLogger } from "../observability/log.js";
import { type UnavailableReason, unavailableReasonOf } from "../unavailable.js";
import {
	QueueUnavailableError,
	STATUS_MESSAGE_SUBJECT,
	type StatusMessageHandler,
	type StatusQueue,
	statusMessageBody,
} from "./port.js";
import { ServiceBusRestEntity } from "./service-bus-rest-entity.js";
import { ServiceBusRestReceiver } from "./service-bus-rest-receiver.js";

export {
	createSasToken,
	parseServiceBusConnectionString,
	ServiceBusRestEntity,
} from "./service-bus-rest-entity.js";

export interface ServiceBusRestQueueOptions {
	connectionString: string;
	queueName: string;
	/** Per send, including one retry of a transient failure (default 3 s, as on Node). */
	sendTimeoutMs?: number;
	/** Token lifetime (default 1 h). */
	tokenTtlSeconds?: number;
	/** Long-poll wait of each receive in the resident loop (default 5 s). */
	receiveWaitSeconds?: number;
	fetch?: typeof fetch;
	log?: Logger;
}

const UNHEALTHY_AFTER_FAILURE_MS = 30_000;

export class ServiceBusRestQueue implements StatusQueue {
	readonly kind = "service-bus-rest";
	private readonly entity: ServiceBusRestEntity;
	private lastFailure?: { at: number; message: string; reason: UnavailableReason };
	private closed = false;
	private receiving?: Promise<void>;
	private readonly stopReceiving = new AbortController();
	private readonly log: Logger;

	constructor(private readonly options: ServiceBusRestQueueOptions) {
		this.entity = new ServiceBusRestEntity(
			options.connectionString,
			options.queueName,
			options.tokenTtlSeconds,
			options.fetch,
		);
		this.log = options.log ?? silentLogger;
	}

	async send(change: StatusChange): Promise<void> {
		if (this.closed) throw new QueueUnavailableError("the status queue is closed");
		const timeoutMs = this.options.sendTimeoutMs ?? 3000;
		try {
			await this.post(change, AbortSignal.timeout(timeoutMs), timeoutMs);
			this.lastFailure = undefined;
		} catch (err) {
			const message = (err as Error).message;
			this.lastFailure = { at: Date.now(), message, reason: unavailableReasonOf(err) };
			this.log.warn(`Service Bus send of ${change.messageId} failed: ${message}`);
			throw err instanceof QueueUnavailableError ? err : new QueueUnavailableError(message, { cause: err });
		}
	}

	/** POST /<queue>/messages; one retry when the failure is transient (network, 429, 5xx). */
	private async post(change: StatusChange, signal: AbortSignal, timeoutMs: number): Promise<void> {
		for (let attempt = 1; ; attempt++) {
			let status: number;
			let detail: string;
			try {
				const res = await this.entity.fetch(`${this.entity.resourceUri}/messages`, {
					method: "POST",
					signal,
					headers: {
						authorization: await this.entity.authorization(),
						"content-type": "application/json",
						// Service Bus duplicate detection and the receiver's idempotency both key on it.
						brokerproperties: JSON.stringify({ MessageId: change.messageId, Label: STATUS_MESSAGE_SUBJECT }),
					},
					body: JSON.stringify(statusMessageBody(change)),
				});
				if (res.status === 201 || res.status === 200) {
					await res.body?.cancel();
					return;
				}
				status = res.status;
				detail = `Service Bus answered ${res.status}: ${(await res.text()).slice(0, 200)}`;
			} catch (err) {
				if (signal.aborted)
					throw new QueueUnavailableError(`no answer from Service Bus within ${timeoutMs} ms`, {
						reason: "timeout",
					});
				status = 0;
				detail = `Service Bus unreachable: ${(err as Error).message}`;
			}
			const transient = status === 0 || status === 429 || status >= 500;
			if (!transient || attempt >= 2)
				throw new QueueUnavailableError(detail, { reason: unavailableReasonOf({ statusCode: status }) });
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
	}

	/**
	 * A resident receive loop over REST, for hosts that keep running (Node behind a firewall that
	 * only lets HTTPS out). Workers do not call it: their hub object drives ServiceBusRestReceiver
	 * from an alarm instead.
	 */
	start(handler: StatusMessageHandler): void {
		if (this.receiving) throw new Error("receiver already started");
		const receiver = new ServiceBusRestReceiver(this.entity, this.log);
		const signal = this.stopReceiving.signal;
		this.receiving = (async () => {
			while (!signal.aborted) {
				try {
					await receiver.run(handler, {
						budgetMs: 30_000,
						waitSeconds: this.options.receiveWaitSeconds ?? 5,
						signal,
					});
				} catch (err) {
					this.log.warn(`receiving from Service Bus failed, retrying in 1 s: ${(err as Error).message}`);
					await new Promise((resolve) => setTimeout(resolve, 1000));
				}
			}
		})();
	}

	/** Unavailable for 30 s after a failed send; the REST API has no cheap reachability check. */
	async ping(): Promise<void> {
		if (this.closed) throw new QueueUnavailableError("the status queue is closed");
		const failure = this.lastFailure;
		if (failure && Date.now() - failure.at < UNHEALTHY_AFTER_FAILURE_MS) {
			throw new QueueUnavailableError(`the last send failed: ${failure.message}`, { reason: failure.reason });
		}
	}

	/** Refuses new sends, stops receiving and waits for the message in hand to settle. */
	async close(): Promise<void> {
		this.closed = true;
		this.stopReceiving.abort();
		await this.receiving;
	}
}
