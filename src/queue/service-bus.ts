// The StatusQueue on Azure Service Bus (@azure/service-bus): one ServiceBusClient for the process,
// a sender used by PUT, and a peek-lock receiver loop in the same process. Node only (AMQP over TCP).
import type {
	ServiceBusClient,
	ServiceBusReceivedMessage,
	ServiceBusReceiver,
	ServiceBusSender,
} from "@azure/service-bus";
import { MissingRoleError } from "../azure-identity.js";
import { withDeadline } from "../deadline.js";
import type { StatusChange } from "../domain/order.js";
import { messageLogContext, withOwnLogContext } from "../observability/context.js";
import { type Logger, silentLogger } from "../observability/log.js";
import type { ReceiverState } from "../observability/metrics.js";
import { originProperties } from "../observability/tracing.js";
import {
	createProbeClient,
	createServiceBusClient,
	type ServiceBusConnection,
	serviceBusError,
} from "../service-bus-connection.js";
import { withDeadlineSignal } from "../util/deadline-signal.js";
import {
	QueueUnavailableError,
	type Settlement,
	STATUS_MESSAGE_SUBJECT,
	type StatusMessageHandler,
	type StatusQueue,
	statusMessageBody,
} from "./port.js";

export interface ServiceBusQueueOptions {
	/** A connection string, or the namespace and a credential (managed identity). */
	connectionString: ServiceBusConnection;
	queueName: string;
	/** Upper bound for one send, the SDK's retries included; past it PUT answers 503. Default 3 s. */
	sendTimeoutMs?: number;
	/** Messages applied at once (different orders in parallel; one order's in arrival order). Default 16. */
	maxConcurrentCalls?: number;
	/**
	 * How long to wait for the broker to confirm a settlement before moving on. Default 5 s.
	 * Settling a message received on a connection that has since dropped can otherwise hang for the
	 * SDK's timeout x retries (docs/facts.md); the broker redelivers it when its lock expires, and the
	 * store's idempotency makes that delivery change nothing.
	 */
	settleTimeoutMs?: number;
	/** Lock renewal while a message is being applied (the SDK renews automatically up to this). */
	maxAutoLockRenewalDurationInMs?: number;
	log?: Logger;
}

export class ServiceBusStatusQueue implements StatusQueue {
	readonly kind = "service-bus";
	private readonly client: ServiceBusClient;
	private readonly sender: ServiceBusSender;
	private receiver?: ServiceBusReceiver;
	private peeker?: ServiceBusReceiver;
	private subscription?: { close(): Promise<void> };
	private readonly inFlight = new Set<Promise<void>>();
	private readonly sendTimeoutMs: number;
	private readonly settleTimeoutMs: number;
	private readonly log: Logger;
	private closing?: Promise<void>;
	/** When the receiver last reported an error, until a message arrives again. */
	private lastErrorAt: number | undefined;
	/** The receiver's last error when it says the identity lacks a role (a MissingRoleError). */
	private missingRole: MissingRoleError | undefined;
	private roleLoggedAt = 0;
	/** The send link's last check (readiness), and its refusal for want of a role. */
	private sendCheck: Promise<void> | undefined;
	private probe: ServiceBusClient | undefined;
	private sendRefused: MissingRoleError | undefined;
	private probeSender?: ServiceBusSender;

	constructor(private readonly options: ServiceBusQueueOptions) {
		this.sendTimeoutMs = options.sendTimeoutMs ?? 3000;
		this.settleTimeoutMs = options.settleTimeoutMs ?? 5000;
		this.log = options.log ?? silentLogger;
		// The SDK's default retry waits 30 s between attempts: a receiver would resume ~27 s after the
		// broker returns (docs/facts.md). 500 ms fixed resumes within about a second. timeoutInMs is
		// explicit because settling a message received before a reconnect can otherwise hang.
		this.client = createServiceBusClient(options.connectionString, {
			retryOptions: { retryDelayInMs: 500, maxRetryDelayInMs: 2000, maxRetries: 3, timeoutInMs: 10_000 },
		});
		this.sender = this.client.createSender(options.queueName);
	}

	async send(change: StatusChange): Promise<void> {
		if (this.closing) throw new QueueUnavailableError("the status queue is shutting down");
		try {
			await withDeadlineSignal(this.sendTimeoutMs, (abortSignal) =>
				this.sender.sendMessages(
					{
						body: statusMessageBody(change),
						contentType: "application/json",
						messageId: change.messageId,
						subject: STATUS_MESSAGE_SUBJECT,
						applicationProperties: originProperties(),
					},
					{ abortSignal },
				),
			);
		} catch (err) {
			throw new QueueUnavailableError(`Service Bus send failed: ${(err as Error).message}`, { cause: err });
		}
	}

	/** Reconnecting: an error within the SDK's retry window (about 10 s) and no message since. */
	receiverState(): ReceiverState {
		if (!this.receiver || this.closing) return "stopped";
		return this.lastErrorAt !== undefined && Date.now() - this.lastErrorAt < 10_000
			? "reconnecting"
			: "receiving";
	}

	start(handler: StatusMessageHandler): void {
		if (this.receiver) throw new Error("receiver already started");
		const receiver = this.client.createReceiver(this.options.queueName, {
			receiveMode: "peekLock",
			maxAutoLockRenewalDurationInMs: this.options.maxAutoLockRenewalDurationInMs ?? 5 * 60_000,
		});
		this.receiver = receiver;
		this.subscription = receiver.subscribe(
			{
				processMessage: (message) => {
					this.lastErrorAt = undefined;
					this.missingRole = undefined;
					return this.track(this.process(receiver, handler, message));
				},
				processError: async ({ error, errorSource }) => {
					this.lastErrorAt = Date.now();
					const refused = serviceBusError(error, this.options.connectionString);
					this.missingRole = refused instanceof MissingRoleError ? refused : undefined;
					// The SDK retries a refused link several times a second: the missing role is said
					// once per 30 s, not with every retry.
					if (this.missingRole) {
						if (Date.now() - this.roleLoggedAt < 30_000) return;
						this.roleLoggedAt = Date.now();
					}
					const hint = this.missingRole
						? `grant the service's identity the role "${this.missingRole.missingRole}": `
						: "";
					this.log.warn(`service bus ${errorSource}: ${hint}${error.message.split("\n")[0]}`);
				},
			},
			// Several messages in flight; the handler keeps those for one order in arrival order.
			{ autoCompleteMessages: false, maxConcurrentCalls: this.options.maxConcurrentCalls ?? 16 },
		);
	}

	private track(work: Promise<void>): Promise<void> {
		this.inFlight.add(work);
		return work.finally(() => this.inFlight.delete(work));
	}

	private async process(
		receiver: ServiceBusReceiver,
		handler: StatusMessageHandler,
		message: ServiceBusReceivedMessage,
	): Promise<void> {
		const messageId = String(message.messageId ?? `seq-${message.sequenceNumber?.toString()}`);
		// The settling's lines too carry the message's (and its request's) id.
		return withOwnLogContext(messageLogContext(messageId, message.applicationProperties), () =>
			this.processInContext(receiver, handler, message, messageId),
		);
	}

	private async processInContext(
		receiver: ServiceBusReceiver,
		handler: StatusMessageHandler,
		message: ServiceBusReceivedMessage,
		messageId: string,
	): Promise<void> {
		const settlement: Settlement = await handler({
			messageId,
			body: message.body,
			// The SDK counts earlier deliveries (0 on the first); the handler counts this one too.
			deliveryCount: (message.deliveryCount ?? 0) + 1,
			...(message.applicationProperties ? { properties: message.applicationProperties } : {}),
			...(message.enqueuedTimeUtc ? { enqueuedAt: message.enqueuedTimeUtc.getTime() } : {}),
		});
		try {
			if (settlement.kind === "dead-letter") {
				this.log.warn(
					`dead-lettering ${message.messageId}: ${settlement.reason} — ${settlement.description}`,
				);
			}
			await withDeadline(this.settleTimeoutMs, `settling ${message.messageId}`, () =>
				settlement.kind === "complete"
					? receiver.completeMessage(message)
					: settlement.kind === "abandon"
						? receiver.abandonMessage(message)
						: receiver.deadLetterMessage(message, {
								deadLetterReason: settlement.reason,
								deadLetterErrorDescription: settlement.description,
							}),
			);
		} catch (err) {
			// Typically the lock was lost with a dropped connection: the broker redelivers the message
			// and the store's idempotency (by message id) makes the second delivery change nothing.
			this.log.warn(
				`could not settle ${message.messageId} (${settlement.kind}): ${(err as Error).message.split("\n")[0]}`,
			);
		}
	}

	async ping(): Promise<void> {
		if (this.closing) throw new QueueUnavailableError("the status queue is shutting down");
		// With a managed identity, a send link is opened in the background (on the probe client), so
		// an identity without the Send right shows here, not only at the first PUT.
		if (typeof this.options.connectionString !== "string") {
			// One sender for every check: each createSender opens an AMQP link that lives until closed.
			this.probeSender ??= this.probeClient().createSender(this.options.queueName);
			this.sendCheck ??= this.probeSender
				.createMessageBatch()
				.then(
					() => {
						this.sendRefused = undefined;
					},
					(err) => {
						const refused = serviceBusError(err, this.options.connectionString);
						this.sendRefused = refused instanceof MissingRoleError ? refused : undefined;
					},
				)
				.finally(() => setTimeout(() => (this.sendCheck = undefined), 10_000).unref());
		}
		if (this.sendRefused)
			throw new QueueUnavailableError(`Service Bus refused the sender: ${this.sendRefused.message}`, {
				cause: this.sendRefused,
			});
		// The receiver was just refused for want of a role: say so (a peek would be refused the same way).
		if (this.missingRole && this.lastErrorAt !== undefined && Date.now() - this.lastErrorAt < 10_000)
			throw new QueueUnavailableError(`Service Bus refused the receiver: ${this.missingRole.message}`, {
				cause: this.missingRole,
			});
		this.peeker ??= this.probeClient().createReceiver(this.options.queueName, { receiveMode: "peekLock" });
		try {
			await this.peeker.peekMessages(1, { abortSignal: AbortSignal.timeout(2000) });
		} catch (err) {
			throw new QueueUnavailableError(`Service Bus unreachable: ${(err as Error).message.split("\n")[0]}`, {
				cause: serviceBusError(err, this.options.connectionString),
			});
		}
	}

	/** The client readiness checks use (src/service-bus-connection.ts). */
	private probeClient(): ServiceBusClient {
		this.probe ??= createProbeClient(this.options.connectionString, this.client);
		return this.probe;
	}

	/** Stops receiving, lets in-flight messages apply and settle, then closes the client. */
	close(): Promise<void> {
		this.closing ??= (async () => {
			await this.subscription?.close();
			// In-flight work is bounded (storage timeouts, settleTimeoutMs); this is a last guard.
			await withDeadline(this.settleTimeoutMs * 2, "in-flight messages", () =>
				Promise.allSettled([...this.inFlight]),
			).catch((err) => this.log.warn(`closing with unsettled messages: ${(err as Error).message}`));
			if (this.probe !== this.client) await this.probe?.close();
			await this.client.close();
		})();
		return this.closing;
	}
}
