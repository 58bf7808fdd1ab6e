// The feed of one instance alone (no Service Bus topic): what this instance logs goes to its own hub.
import type { EventFeed, LoggedEvent } from "./port.js";

export class InProcessEventFeed implements EventFeed {
	readonly kind = "in-process";
	private onEvent?: (logged: LoggedEvent) => void;

	async send(logged: LoggedEvent): Promise<void> {
		this.onEvent?.(logged);
	}

	start(onEvent: (logged: LoggedEvent) => void): void {
		this.onEvent = onEvent;
	}

	async ping(): Promise<void> {}

	async close(): Promise<void> {
		this.onEvent = undefined;
	}
}
