// The order store, observed: every call timed by operation and outcome (the store call duration
// metric) and, when tracing, a client span. One decorator for every adapter (Azure Tables, memory)
// instead of hooks into the Azure SDK: the app runs as ES modules (tsx), where the SDK
// instrumentation's module hooks need a loader flag, and this covers the in-memory store too.
import { SpanKind } from "@opentelemetry/api";
import type { Metrics } from "../observability/metrics.js";
import { inSpan } from "../observability/tracing.js";
import { type OrderStore, StoreUnavailableError } from "./port.js";

export function instrumentStore<S extends OrderStore>(
	store: S,
	metrics: Metrics,
	system = "azure.tables",
): S {
	// Each method wrapped once, on first use (not a new closure on every call).
	const wrapped = new Map<string, (...args: unknown[]) => Promise<unknown>>();
	const wrap = (operation: string, method: (...args: unknown[]) => Promise<unknown>) => {
		const attributes = { "db.system": system, "db.operation.name": operation };
		return (...args: unknown[]) => {
			const started = performance.now();
			return inSpan(`store ${operation}`, SpanKind.CLIENT, attributes, async () => {
				try {
					const result = await method.apply(store, args);
					metrics.storeCall(operation, "ok", (performance.now() - started) / 1000);
					return result;
				} catch (err) {
					const outcome = err instanceof StoreUnavailableError ? "unavailable" : "error";
					metrics.storeCall(operation, outcome, (performance.now() - started) / 1000);
					throw err;
				}
			});
		};
	};
	return new Proxy(store, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (typeof value !== "function" || typeof property !== "string" || property === "constructor")
				return value;
			// Answers from memory, synchronously: nothing to time.
			if (property === "claimStampedUntil") return (value as (...a: unknown[]) => unknown).bind(target);
			let method = wrapped.get(property);
			if (!method) {
				method = wrap(property, value as (...args: unknown[]) => Promise<unknown>);
				wrapped.set(property, method);
			}
			return method;
		},
	});
}
