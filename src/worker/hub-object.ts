// The order hub on Cloudflare Workers: a Durable Object holding the same OrderHub as on Node,
// serving /orderHub through web streams. Why an object: a Worker isolate cannot write to a stream
// that belongs to another request (bytes enqueued from request B into request A's stream never
// arrive, and workerd then cancels A as hung), and a deployment runs many isolates. One object
// holds every subscriber and receives every event, so replay ids and filters work as on Node.
import { createProblemApp } from "../app.js";
import { hubOptions } from "../config.js";
import { OrderHub } from "../hub/hub.js";
import type { OrderEvent } from "../hub/port.js";
import { registerHubRoutes, webStreamTransport } from "../hub/sse.js";
import type { WorkerEnv } from "./cloudflare.js";
import { PUBLISH_PATH } from "./hub-client.js";
import { configFromEnv } from "./settings.js";

export class OrderHubObject {
	private readonly app;

	constructor(_state: unknown, env: WorkerEnv) {
		const config = configFromEnv(env);
		const hub = new OrderHub(hubOptions(config.Hub));
		const log = (line: string) => console.log(`order-hub: ${line}`);
		this.app = createProblemApp(log);
		registerHubRoutes(this.app, hub, webStreamTransport(hub.maxBufferedBytes), config.Cors.AllowedOrigins);
		this.app.post(PUBLISH_PATH, async (c) => {
			for (const event of (await c.req.json()) as OrderEvent[]) hub.publish(event);
			return c.body(null, 204);
		});
	}

	fetch(request: Request): Promise<Response> | Response {
		return this.app.fetch(request);
	}
}
