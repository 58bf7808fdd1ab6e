// The feed of one instance alone (no Service Bus topic): what this instance logs goes to its own hub.
import type { ControlMessage, EventFeed, LoggedEvent } from "./port.js";

export class InProcessEventFeed implements EventFeed {
	readonly kind = "in-process";
	private onEvent?: (logged: LoggedEvent) => void;
	private onControl?: (message: ControlMessage) => void;

	async send(logged: LoggedEvent): Promise<void> {
		this.onEvent?.(logged);
	}

	async sendControl(message: ControlMessage): Promise<void> {
		this.onControl?.(message);
	}

	start(onEvent: (logged: LoggedEvent) => void, onControl?: (message: ControlMessage) => void): void {
		this.onEvent = onEvent;
		this.onControl = onControl;
	}

	async ping(): Promise<void> {}

	async close(): Promise<void> {
		this.onEvent = undefined;
		this.onControl = undefined;
	}
}
