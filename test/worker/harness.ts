// The Worker as the tests run it in workerd: the real entry (src/worker.ts) until a test resets it,
// then the same composition (createWorkerService + serveRequest) with fresh storage and a recorder
// on the events port, plus hooks under /__test/. Never deployed: wrangler.example.toml's main is
// src/worker.ts; tests pass this file as `wrangler dev <script>`.
import type { OrderEvent, OrderEvents } from "../../src/domain/events.js";
import type { ExecutionContextLike, WorkerEnv } from "../../src/worker/cloudflare.js";
import { createWorkerService, serveRequest, type WorkerService } from "../../src/worker/service.js";
import { configFromEnv } from "../../src/worker/settings.js";
import worker from "../../src/worker.js";

export { OrderHubObject } from "../../src/worker.js";

export interface ResetOptions {
	maxBodyBytes?: number;
	/** Azure Tables (Azurite) instead of the memory store. */
	tableConnectionString?: string;
	tableName?: string;
	tableTimeoutMs?: number;
	/** Send status changes to this Service Bus (REST) instead of the in-isolate queue. */
	serviceBusConnectionString?: string;
}

let service: WorkerService | undefined;
let published: OrderEvent[] = [];

async function reset(env: WorkerEnv, options: ResetOptions): Promise<void> {
	published = [];
	const config = configFromEnv({
		...env,
		...(options.tableConnectionString
			? { TableStorage__ConnectionString: options.tableConnectionString }
			: {}),
		...(options.tableTimeoutMs ? { TableStorage__TimeoutMs: String(options.tableTimeoutMs) } : {}),
		...(options.serviceBusConnectionString
			? { ServiceBus__ConnectionString: options.serviceBusConnectionString }
			: {}),
	});
	const recording = (events: OrderEvents): OrderEvents => ({
		publish(event) {
			published.push(event);
			events.publish(event);
		},
	});
	service = await createWorkerService(env, config, {
		...(options.tableName ? { tableName: options.tableName } : {}),
		...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
		wrapEvents: recording,
	});
}

export default {
	async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContextLike): Promise<Response> {
		const { pathname } = new URL(request.url);
		if (pathname === "/__test/reset") {
			await reset(env, (await request.json()) as ResetOptions);
			return new Response(null, { status: 204 });
		}
		if (pathname === "/__test/events") return Response.json(published);
		if (pathname === "/__test/close-queue") {
			await service?.queue.close();
			return new Response(null, { status: 204 });
		}
		return service ? serveRequest(service, request, env, ctx) : worker.fetch(request, env, ctx);
	},
};
