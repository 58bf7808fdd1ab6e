// The order hub on Cloudflare Workers: a Durable Object holding the same OrderHub as on Node,
// serving /orderHub through web streams. Why an object: a Worker isolate cannot write to a stream
// that belongs to another request (bytes enqueued from request B into request A's stream never
// arrive, and workerd then cancels A as hung), and a deployment runs many isolates. One object
// holds every subscriber and receives every event, so replay ids and filters work as on Node.
//
// With Service Bus and Azure Tables configured, the object is also the receiver loop Workers
// otherwise lack: an alarm receives status changes over the REST API (peek-lock), applies them
// with the same receiver code as Node and publishes them into this hub, then re-arms itself.
import { createProblemApp } from "../app.js";
import { trustForwardedCaller } from "../auth/http.js";
import { type Config, hubOptions, storeOptions } from "../config.js";
import type { OrderEvent } from "../domain/events.js";
import { appCorsPolicy } from "../http/cors.js";
import { REQUEST_ID_HEADER } from "../http/request-telemetry.js";
import { OrderHub } from "../hub/hub.js";
import { type ReceiverStatus, registerHubRoutes, webStreamTransport } from "../hub/sse.js";
import { currentLogContext, withLogContext } from "../observability/context.js";
import { jsonLineLogger, type Logger } from "../observability/log.js";
import type { StatusMessageHandler } from "../queue/port.js";
import { createStatusMessageHandler } from "../queue/receiver.js";
import { ServiceBusRestEntity } from "../queue/service-bus-rest.js";
import { ServiceBusRestReceiver } from "../queue/service-bus-rest-receiver.js";
import { unavailableReasonOf } from "../unavailable.js";
import type { DurableObjectStateLike, WorkerEnv } from "./cloudflare.js";
import { PUBLISH_PATH, WAKE_PATH } from "./hub-client.js";
import { configFromEnv } from "./settings.js";

/** One alarm receives for about this long, then the next alarm is set at once. */
const RECEIVE_ROUND_MS = 25_000;
/**
 * Receive loops per round. REST locks one message per call, so parallel loops are how several
 * messages are in flight (the Node receiver has 16); the handler still applies one order's
 * messages one after another, in the order they were received.
 */
const CONCURRENT_RECEIVES = 4;
const RETRY_AFTER_FAILURE_MS = 5_000;

export class OrderHubObject {
	private readonly app;
	private readonly hub: OrderHub;
	private readonly config: Config;
	private readonly log: Logger;
	private receiving?: Promise<{ receiver: ServiceBusRestReceiver; handler: StatusMessageHandler }>;
	private readonly receiverStatus: ReceiverStatus = { healthy: true, received: 0 };

	constructor(
		private readonly state: DurableObjectStateLike,
		env: WorkerEnv,
	) {
		this.config = configFromEnv(env);
		this.hub = new OrderHub(hubOptions(this.config.Hub));
		this.log = jsonLineLogger(
			(line) => console.log(line),
			this.config.Logging.Level,
			() => ({
				...currentLogContext(),
				component: "order-hub",
			}),
		);
		this.app = createProblemApp(this.log);
		// The Worker in front decided who is calling; the object applies that caller's scope.
		this.app.use("*", trustForwardedCaller());
		registerHubRoutes(
			this.app,
			this.hub,
			webStreamTransport(this.hub.maxBufferedBytes),
			appCorsPolicy(this.config.Cors.AllowedOrigins),
			{
				receiverStatus: () => (this.receives ? this.receiverStatus : undefined),
				maxPerPrincipal: this.config.Hub.MaxSubscribersPerPrincipal,
			},
		);
		this.app.post(PUBLISH_PATH, async (c) => {
			for (const event of (await c.req.json()) as OrderEvent[]) this.hub.publish(event);
			return c.body(null, 204);
		});
		// The Worker calls this once per isolate and from its cron trigger (a watchdog).
		this.app.post(WAKE_PATH, async (c) => {
			await this.ensureReceiving();
			return c.body(null, 204);
		});
		void state.blockConcurrencyWhile(() => this.ensureReceiving());
	}

	/** Starts the receiver's alarm chain unless it is already scheduled. */
	private async ensureReceiving(): Promise<void> {
		if (this.receives && (await this.state.storage.getAlarm()) === null) {
			await this.state.storage.setAlarm(Date.now());
		}
	}

	private get receives(): boolean {
		return Boolean(this.config.ServiceBus.ConnectionString && this.config.TableStorage.ConnectionString);
	}

	/** Requests come from the Worker in front, which set their X-Request-Id: the lines they cause carry it. */
	fetch(request: Request): Promise<Response> | Response {
		const requestId = request.headers.get(REQUEST_ID_HEADER);
		if (!requestId) return this.app.fetch(request);
		return withLogContext({ requestId }, () => this.app.fetch(request));
	}

	/** One round of the receiver loop; always sets the next alarm. */
	async alarm(): Promise<void> {
		if (!this.receives) return;
		let next = 0;
		try {
			const { receiver, handler } = await this.receiver();
			const status = this.receiverStatus;
			const counted: StatusMessageHandler = async (message) => {
				status.received++;
				return handler(message);
			};
			const onReceive = () => {
				status.healthy = true; // Service Bus answered
			};
			const loops = Array.from({ length: CONCURRENT_RECEIVES }, () =>
				receiver.run(counted, { budgetMs: RECEIVE_ROUND_MS, onReceive }),
			);
			const failed = (await Promise.allSettled(loops)).find((r) => r.status === "rejected");
			if (failed) throw failed.reason;
		} catch (err) {
			const message = (err as Error).message;
			this.log.warn(`receiving from Service Bus failed, retrying in 5 s: ${message}`);
			Object.assign(this.receiverStatus, {
				healthy: false,
				lastErrorReason: unavailableReasonOf(err),
				lastErrorAt: new Date().toISOString(),
			});
			this.receiving = undefined; // built again next round, in case building it was what failed
			next = RETRY_AFTER_FAILURE_MS;
		} finally {
			await this.state.storage.setAlarm(Date.now() + next);
		}
	}

	private receiver() {
		this.receiving ??= (async () => {
			const { TableStorage, ServiceBus } = this.config;
			// Imported here, not at the top: the SDK cannot load in workerd's global scope.
			const { createAzureTablesStore } = await import("../storage/azure-tables.js");
			const store = createAzureTablesStore(
				TableStorage.ConnectionString as string,
				TableStorage.TableName,
				storeOptions(this.config),
			);
			const entity = new ServiceBusRestEntity(ServiceBus.ConnectionString as string, ServiceBus.QueueName);
			this.log.info(`receiving status changes from Service Bus ${ServiceBus.QueueName} over REST`);
			return {
				receiver: new ServiceBusRestReceiver(entity, this.log),
				handler: createStatusMessageHandler({ store, events: this.hub, log: this.log }),
			};
		})();
		return this.receiving;
	}
}
