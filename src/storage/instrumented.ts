// The order store, observed: every call timed by operation and outcome (the store call duration
// metric) and, when tracing, a client span. One decorator for every adapter (Azure Tables, memory)
// instead of hooks into the Azure SDK: the app runs as ES modules (tsx), where the SDK
// instrumentation's module hooks need a loader flag, and this covers the in-memory store too.
import { SpanKind } from "@opentelemetry/api";
import type { Metrics } from "../observability/metrics.js";
import { inSpan, tracingEnabled } from "../observability/tracing.js";
import { type OrderStore, StoreUnavailableError } from "./port.js";

export function instrumentStore<S extends OrderStore>(
	store: S,
	metrics: Metrics,
	system = "azure.tables",
): S {
	return new Proxy(store, {
		get(target, property, receiver) {
			const value = Reflect.get(target, property, receiver);
			if (typeof value !== "function" || typeof property !== "string" || property === "constructor")
				return value;
			return (...args: unknown[]) => {
				const started = performance.now();
				const call = () => value.apply(target, args) as Promise<unknown>;
				const timed = async () => {
					try {
						const result = await call();
						metrics.storeCall(property, "ok", (performance.now() - started) / 1000);
						return result;
					} catch (err) {
						const outcome = err instanceof StoreUnavailableError ? "unavailable" : "error";
						metrics.storeCall(property, outcome, (performance.now() - started) / 1000);
						throw err;
					}
				};
				if (!tracingEnabled()) return timed();
				return inSpan(
					`store ${property}`,
					SpanKind.CLIENT,
					{ "db.system": system, "db.operation.name": property },
					timed,
				);
			};
		},
	});
}
