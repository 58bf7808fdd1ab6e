// The real @microsoft/signalr client (its Node build, unmodified) recording what it receives, for
// the tests of SignalR on /orderHub. The package is a devDependency; its Node build needs
// tough-cookie 4, which the project pins at the top of node_modules (docs/live-events.md).
import {
	HttpTransportType,
	type HubConnection,
	HubConnectionBuilder,
	HubConnectionState,
	type IHttpConnectionOptions,
	LogLevel,
} from "@microsoft/signalr";
import type { Order } from "../../src/domain/order.js";

export interface RecordedInvocation {
	target: "OrderCreated" | "ReceiveOrderUpdate";
	order: Order;
}

export class RecordingHubConnection {
	readonly connection: HubConnection;
	readonly received: RecordedInvocation[] = [];
	/** Each time the connection closed for good (onclose), with its error. */
	readonly closes: (Error | undefined)[] = [];
	readonly reconnecting: (Error | undefined)[] = [];
	readonly reconnected: (string | undefined)[] = [];

	constructor(
		url: string,
		options: {
			/** Default: the client picks (negotiate offers only ServerSentEvents). */
			transport?: "default" | "sse";
			accessTokenFactory?: () => string;
			headers?: Record<string, string>;
			/** Reconnect delays (ms); default immediate retries for 60 s. */
			reconnectDelays?: number[];
		} = {},
	) {
		const http: IHttpConnectionOptions = {
			...(options.transport === "sse" ? { transport: HttpTransportType.ServerSentEvents } : {}),
			...(options.accessTokenFactory ? { accessTokenFactory: options.accessTokenFactory } : {}),
			...(options.headers ? { headers: options.headers } : {}),
		};
		this.connection = new HubConnectionBuilder()
			.withUrl(url, http)
			.withAutomaticReconnect(options.reconnectDelays ?? Array.from({ length: 120 }, () => 500))
			.configureLogging(LogLevel.None)
			.build();
		for (const target of ["OrderCreated", "ReceiveOrderUpdate"] as const) {
			this.connection.on(target, (order: Order) => this.received.push({ target, order }));
		}
		this.connection.onclose((e) => this.closes.push(e));
		this.connection.onreconnecting((e) => this.reconnecting.push(e));
		this.connection.onreconnected((id) => this.reconnected.push(id));
	}

	start(): Promise<void> {
		return this.connection.start();
	}

	get state(): HubConnectionState {
		return this.connection.state;
	}

	get connected(): boolean {
		return this.connection.state === HubConnectionState.Connected;
	}

	/** The statuses received for `orderId`, in order. */
	statusesOf(orderId: string): string[] {
		return this.received.filter((r) => r.order.orderId === orderId).map((r) => r.order.status);
	}

	stop(): Promise<void> {
		return this.connection.stop();
	}
}
