// Work that must outlive a Workers response (a queued status change being applied, an event on its
// way to the hub object) is handed to that request's ExecutionContext.waitUntil. The code that
// starts such work (the queue, the hub client) sits below the app and never sees the context, so
// the entry runs each request inside an AsyncLocalStorage scope that carries it.
import { AsyncLocalStorage } from "node:async_hooks";
import type { ExecutionContextLike } from "./cloudflare.js";

const scope = new AsyncLocalStorage<ExecutionContextLike>();

export function runInRequest<T>(ctx: ExecutionContextLike, work: () => T): T {
	return scope.run(ctx, work);
}

/** Keeps `work` running after the response; outside a request it simply runs on its own. */
export function defer(work: Promise<unknown>): void {
	const ctx = scope.getStore();
	if (ctx) ctx.waitUntil(work);
	else work.catch(() => {});
}
