// Cloudflare Workers entry: the same app as on Node (src/app.ts), composed from what Workers allow
// (src/worker/service.ts), with the SSE hub in a Durable Object (src/worker/hub-object.ts).
// Configure and deploy with wrangler.example.toml (see docs/workers.md).
import { type Config, ConfigError } from "./config.js";
import { problem, problemResponse } from "./problem.js";
import type { DurableObjectNamespaceLike, ExecutionContextLike, WorkerEnv } from "./worker/cloudflare.js";
import { DurableObjectHubClient } from "./worker/hub-client.js";
import { runInRequest } from "./worker/request-scope.js";
import {
	createWorkerService,
	serveRequest,
	WorkerConfigError,
	type WorkerService,
} from "./worker/service.js";
import { configFromEnv } from "./worker/settings.js";

export { OrderHubObject } from "./worker/hub-object.js";

let service: WorkerService | undefined;

/**
 * A misconfigured deployment answers every request with a fixed 500 (the settings' names and values
 * are the operator's business, not the caller's) and logs the problem naming the setting.
 */
function configurationProblem(err: unknown): Response | undefined {
	if (!(err instanceof ConfigError || err instanceof WorkerConfigError)) return undefined;
	console.error(err.message);
	return problemResponse(
		problem(500, "This deployment is misconfigured; its log names the setting.", { reason: "misconfigured" }),
	);
}

export default {
	/**
	 * Cron trigger (wrangler.example.toml): wakes the hub object, so its Service Bus receiver starts
	 * without waiting for the first request and restarts if its alarm chain ever broke.
	 */
	async scheduled(_controller: unknown, env: WorkerEnv, ctx: ExecutionContextLike): Promise<void> {
		let config: Config;
		try {
			config = configFromEnv(env);
		} catch (err) {
			console.error((err as Error).message);
			return;
		}
		if (!config.ServiceBus.ConnectionString || !env.HUB) return;
		runInRequest(ctx, () => new DurableObjectHubClient(env.HUB as DurableObjectNamespaceLike).wake());
	},

	async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContextLike): Promise<Response> {
		if (!service) {
			try {
				const built = await createWorkerService(env, configFromEnv(env));
				service ??= built; // two first requests may race: both use the first one finished
			} catch (err) {
				const answer = configurationProblem(err);
				if (answer) return answer;
				throw err;
			}
		}
		return serveRequest(service, request, env, ctx);
	},
};
