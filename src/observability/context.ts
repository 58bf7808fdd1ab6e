// What a log line was caused by: the request (its id), the status change (order and message ids)
// and the trace. Kept in an AsyncLocalStorage so every line a request or a message causes carries
// it, whichever component writes the line. `node:async_hooks` is available on Node and in workerd
// with the nodejs_compat flag (wrangler.example.toml sets it).
import { AsyncLocalStorage } from "node:async_hooks";
import { isSpanContextValid, trace } from "@opentelemetry/api";

// A type, not an interface: it must fit Record<string, unknown> (a log line's fields).
export type LogContext = {
	requestId?: string;
	orderId?: string;
	messageId?: string;
};

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `fields` added to the context of every line it logs. */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
	return storage.run({ ...storage.getStore(), ...fields }, fn);
}

/** The current context, with the active trace's id when a trace is being recorded. */
export function currentLogContext(): (LogContext & { traceId?: string }) | undefined {
	const store = storage.getStore();
	const span = trace.getActiveSpan()?.spanContext();
	if (span && isSpanContextValid(span)) return { ...store, traceId: span.traceId };
	return store;
}
