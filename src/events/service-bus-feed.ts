// The feed of several instances: logged events are sent to a Service Bus topic, and every instance
// receives all of them on its own subscription (the pattern of ASP.NET SignalR's Service Bus
// backplane: one subscription per node). The feed is only the fast path: a message lost or late is
// read from the event log by the sequencer, so receiving completes at once and never retries.
import type { ServiceBusClient, ServiceBusReceiver, ServiceBusSender } from "@azure/service-bus";
import type { OrderEvent } from "../domain/events.js";
import { type Logger, silentLogger } from "../observability/log.js";
import {
	createProbeClient,
	createServiceBusClient,
	type ServiceBusConnection,
	serviceBusError,
} from "../service-bus-connection.js";
import { withDeadlineSignal } from "../util/deadline-signal.js";
import type { ControlMessage, EventFeed, LoggedEvent } from "./port.js";

export interface ServiceBusTopicFeedOptions {
	/** A connection string, or the namespace and a credential (managed identity). */
	connectionString: ServiceBusConnection;
	topicName: string;
	subscriptionName: string;
	/** Upper bound for one send. Default 3 s. */
	sendTimeoutMs?: number;
	log?: Logger;
}

/** The message's subject, so a subscription rule could select order events. */
export const ORDER_EVENT_SUBJECT = "OrderEvent";
/** The subject of a control message (src/hub/signalr.ts): for every instance, not an order event. */
export const CONTROL_SUBJECT = "SignalRControl";

export class ServiceBusTopicFeed implements EventFeed {
	readonly kind = "service-bus-topic";
	private readonly client: ServiceBusClient;
	private readonly sender: ServiceBusSender;
	private receiver?: ServiceBusReceiver;
	private peeker?: ServiceBusReceiver;
	private probe?: ServiceBusClient;
	private subscription?: { close(): Promise<void> };
	private readonly log: Logger;

	constructor(private readonly options: ServiceBusTopicFeedOptions) {
		this.log = options.log ?? silentLogger;
		// Short, explicit retries (docs/facts.md): a receiver resumes within about a second.
		this.client = createServiceBusClient(options.connectionString, {
			retryOptions: { retryDelayInMs: 500, maxRetryDelayInMs: 2000, maxRetries: 3, timeoutInMs: 10_000 },
		});
		this.sender = this.client.createSender(options.topicName);
	}

	async send({ seq, event, epoch, traceparent }: LoggedEvent): Promise<void> {
		// One send per event: a deadline whose timer goes with the answer (src/util/deadline-signal.ts).
		await withDeadlineSignal(this.options.sendTimeoutMs ?? 3000, (abortSignal) =>
			this.sender.sendMessages(
				{
					body: { seq, event, epoch },
					contentType: "application/json",
					messageId: `${event.order.orderId}:${event.version ?? seq}:${seq}`,
					subject: ORDER_EVENT_SUBJECT,
					...(traceparent ? { applicationProperties: { traceparent, "Diagnostic-Id": traceparent } } : {}),
				},
				{ abortSignal },
			),
		);
	}

	async sendControl(message: ControlMessage): Promise<void> {
		await this.sender.sendMessages(
			{
				body: message,
				contentType: "application/json",
				subject: CONTROL_SUBJECT,
				// Worth nothing after a few seconds: the client has given up or moved on by then.
				timeToLive: 30_000,
			},
			{ abortSignal: AbortSignal.timeout(this.options.sendTimeoutMs ?? 3000) },
		);
	}

	start(onEvent: (logged: LoggedEvent) => void, onControl?: (message: ControlMessage) => void): void {
		if (this.receiver) throw new Error("feed already started");
		const receiver = this.client.createReceiver(this.options.topicName, this.options.subscriptionName, {
			receiveMode: "peekLock",
		});
		this.receiver = receiver;
		this.subscription = receiver.subscribe(
			{
				processMessage: async (message) => {
					if (message.subject === CONTROL_SUBJECT) {
						if (typeof message.body === "object" && message.body !== null) onControl?.(message.body);
						return;
					}
					const body = message.body as { seq?: unknown; event?: unknown; epoch?: unknown } | undefined;
					if (typeof body?.seq !== "number" || typeof body.event !== "object" || body.event === null) {
						this.log.warn(`ignoring a message on ${this.options.topicName} that is not an order event`);
						return;
					}
					onEvent({
						seq: body.seq,
						event: body.event as OrderEvent,
						...(typeof body.epoch === "string" ? { epoch: body.epoch } : {}),
						...(typeof message.applicationProperties?.traceparent === "string"
							? { traceparent: message.applicationProperties.traceparent }
							: {}),
					});
				},
				processError: async ({ error, errorSource }) => {
					this.log.warn(`service bus topic ${errorSource}: ${error.message.split("\n")[0]}`);
				},
			},
			// Many at once: order does not matter here, the sequencer restores it.
			{ autoCompleteMessages: true, maxConcurrentCalls: 32 },
		);
	}

	/** The subscription answers a peek (it exists and this instance may read it). */
	async ping(): Promise<void> {
		// With a managed identity a client without retries, so a missing Listen right is named (readiness).
		this.probe ??= createProbeClient(this.options.connectionString, this.client);
		this.peeker ??= this.probe.createReceiver(this.options.topicName, this.options.subscriptionName, {
			receiveMode: "peekLock",
		});
		await this.peeker
			.peekMessages(1, { abortSignal: AbortSignal.timeout(2000) })
			.catch((err) => Promise.reject(serviceBusError(err, this.options.connectionString)));
	}

	async close(): Promise<void> {
		await this.subscription?.close();
		if (this.probe !== this.client) await this.probe?.close();
		await this.client.close();
	}
}
