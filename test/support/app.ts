import { createApp } from "../../src/app.js";
import type { OrderEvent, OrderEvents } from "../../src/domain/events.js";
import type { Logger } from "../../src/observability/log.js";
import { InProcessStatusQueue } from "../../src/queue/in-process.js";
import { createStatusMessageHandler } from "../../src/queue/receiver.js";
import type { OrderStore } from "../../src/storage/port.js";
import { swaggerAssetsFromPackage } from "../../src/swagger-assets.js";

/** Records what the app publishes, in order. */
export class RecordingEvents implements OrderEvents {
	readonly events: OrderEvent[] = [];
	publish(event: OrderEvent): void {
		this.events.push(event);
	}
}

/** `{ json }` in a RequestInit becomes a JSON body with its content type (unless one is given). */
export function withJsonBody(init: RequestInit & { json?: unknown } = {}): RequestInit {
	const { json, ...rest } = init;
	const headers = new Headers(rest.headers);
	if (json !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
	return { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) };
}

/** The real app over a real store and the in-process queue with its receiver loop running. */
export function makeTestApp(store: OrderStore, options: { maxBodyBytes?: number; log?: Logger } = {}) {
	const queue = new InProcessStatusQueue({ retryDelayMs: 20 });
	const events = new RecordingEvents();
	queue.start(createStatusMessageHandler({ store, events }));
	const app = createApp({
		store,
		queue,
		events,
		corsOrigins: ["http://localhost:3000"],
		swaggerAssets: swaggerAssetsFromPackage(),
		...options,
	});
	const request = (path: string, init: RequestInit & { json?: unknown } = {}) =>
		app.request(path, withJsonBody(init));
	return { app, store, queue, events, request };
}
